/*
 * tools/cli_compare.c — `layercast compare`: teacher-forced replay of one
 * configuration's tokens under another (lc_replay_*), printed as text, JSON
 * or CSV.  With -o the output is built in memory and written atomically.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/cli_common.h"

static const char *const CMD = "compare";

static void side_text(FILE *f, const char *label, const lc_replay_side *c) {
  fprintf(f, "  %s: %s %s, batch %d, row %d, tp %d\n", label, lc_backend_name(c->backend),
          lc_mode_name(c->mode), (int)c->batch, (int)c->position, c->tp > 1 ? (int)c->tp : 1);
}

static const char *layer_name(int32_t l, int32_t n_layers, char buf[16]) {
  if (l < 0) return "-";
  if (l == n_layers) return "norm";
  snprintf(buf, 16, "%d", (int)l);
  return buf;
}

static void print_text(FILE *f, const lc_replay_result *r, int32_t chunk) {
  char b[16];
  fprintf(f, "\nprompt %d: %d tokens + %d tokens %s; replay %s\n", r->prompt_index, r->prompt_len,
          r->n_generated, r->tokens_source, chunk > 0 ? "in chunks" : "in one prefill");
  fprintf(f, "  %5s %6s %7s %12s %7s %7s %5s %10s %10s %12s\n", "step", "pos", "token",
          "max|dlogit|", "top1 A", "top1 B", "flip", "margin A", "margin B", "first layer");
  for (int32_t i = 0; i < r->n_generated; i++) {
    const lc_replay_step *s = &r->steps[i];
    fprintf(f, "  %5d %6d %7d %12.4g %7d %7d %5s %10.4g %10.4g %12s\n", s->step, s->pos + 1,
            s->token, s->max_abs, s->top1_a, s->top1_b, s->top1_a != s->top1_b ? "FLIP" : "-",
            (double)s->margin_a, (double)s->margin_b, layer_name(s->first_layer, r->n_layers, b));
  }
  fprintf(f, "  per layer (the residual after each layer; 'norm' = final RMSNorm output):\n");
  fprintf(f, "  %6s %22s %15s\n", "layer", "positions that differ", "first position");
  for (int32_t l = 0; l <= r->n_layers; l++)
    fprintf(f, "  %6s %15d of %-4d %15d\n", layer_name(l, r->n_layers, b), r->layer_ndiff[l],
            r->prompt_len + r->n_generated, r->layer_first[l]);
  if (r->first_layer < 0 && r->logits_ndiff == 0)
    fprintf(f, "  no difference: every hidden state and every logit are bitwise equal\n");
  else if (r->first_layer < 0)
    fprintf(f, "  hidden states bitwise equal; logits differ at %d positions\n", r->logits_ndiff);
  else
    fprintf(f,
            "  first difference in bits: layer %d%s, position %d; logits differ at %d of %d "
            "positions\n",
            r->first_layer, r->first_layer == r->n_layers ? " (final norm)" : "", r->first_pos,
            r->logits_ndiff, r->prompt_len + r->n_generated);
  fprintf(f, "  top-1 flips: %d of %d generated positions; max |dlogit| %.4g\n", r->n_flips,
          r->n_generated, r->max_abs);
  if (r->replay_misses)
    fprintf(f,
            "  note: A's own replay picks another top-1 than A's generation at %d positions\n"
            "  (A's prefill and decode do not agree bitwise: expected outside strict, fast and\n"
            "  bf16)\n",
            r->replay_misses);
}

/* s as a JSON string. */
static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fprintf(f, "\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      fprintf(f, "\\u%04x", (unsigned)(unsigned char)*s);
    else
      fputc(*s, f);
  }
  fputc('"', f);
}

static void print_csv(FILE *f, const lc_replay_result *r) {
  for (int32_t i = 0; i < r->n_generated; i++) {
    const lc_replay_step *s = &r->steps[i];
    fprintf(f, "%d,%d,%d,%d,%.9g,%d,%d,%d,%.9g,%.9g,%d,%d\n", r->prompt_index, s->step, s->pos + 1,
            s->token, s->max_abs, s->top1_a, s->top1_b, s->top1_a != s->top1_b, (double)s->margin_a,
            (double)s->margin_b, s->first_layer, s->logits_equal);
  }
}

int cmd_compare(int argc, char **argv) {
  lc_replay_params rp;
  lc_replay_params_default(&rp);
  const char *prompt = NULL, *prompts = NULL, *tokens_s = NULL, *record = NULL, *out_path = NULL;
  int32_t limit = INT32_MAX, rec_index = 0, threads = 1, device = 0;
  uint64_t seed = 1;
  int fmt = 0, mode_b_set = 0;
  lc_mode mode_b = LC_MODE_REFERENCE;
  const cli_opt opts[] = {
      {"model", CLI_STR, &rp.model, 0, 0, NULL, "PATH",
       "llama2.c .bin, or a Hugging Face directory"},
      {"backend-a", CLI_BACKEND, &rp.a.backend, 0, 0, NULL, "B", "cpu (default) | cuda"},
      {"backend-b", CLI_BACKEND, &rp.b.backend, 0, 0, NULL, "B", "cpu (default) | cuda"},
      {"mode-a", CLI_MODE, &rp.a.mode, 0, 0, NULL, "M", "(default strict)"},
      {"mode-b", CLI_MODE, &mode_b, 0, 0, NULL, "M",
       "(default reference; strict with --backend-b cuda)"},
      {"batch-a", CLI_I32, &rp.a.batch, 1, 4096, NULL, "N", "rows in A's batch (default 1)"},
      {"batch-b", CLI_I32, &rp.b.batch, 1, 4096, NULL, "N", "rows in B's batch (default 1)"},
      {"tp-a", CLI_I32, &rp.a.tp, 1, 1024, NULL, "N",
       "A's tensor-parallel degree, emulated (default 1)"},
      {"tp-b", CLI_I32, &rp.b.tp, 1, 1024, NULL, "N",
       "B's tensor-parallel degree, emulated (default 1)"},
      {"position-a", CLI_I32, &rp.a.position, 0, 4095, NULL, "I",
       "A's row in its batch (default 0)"},
      {"position-b", CLI_I32, &rp.b.position, 0, 4095, NULL, "I",
       "B's row in its batch (default 0)"},
      {"prompt", CLI_STR, &prompt, 0, 0, NULL, "IDS", "token ids: \"1 2 3\" or \"1,2,3\""},
      {"prompts", CLI_STR, &prompts, 0, 0, NULL, "FILE",
       "JSONL: {\"tokens\": [ids], ...} per line"},
      {"limit", CLI_I32, &limit, 1, INT32_MAX, NULL, "N", "the first N prompts of FILE only"},
      {"max-new", CLI_I32, &rp.max_new, 1, 1 << 20, NULL, "N", "tokens A generates (default 32)"},
      {"stop", CLI_STOP, &rp.stop, 0, 0, NULL, "ID[,ID..]", "A stops after any of these tokens"},
      {"tokens", CLI_STR, &tokens_s, 0, 0, NULL, "IDS", "A's tokens, given (with --prompt)"},
      {"record", CLI_STR, &record, 0, 0, NULL, "FILE",
       "A's tokens from a run record: run --record-index (a line of\nruns.jsonl, default 0), "
       "each prompt's sequence"},
      {"record-index", CLI_I32, &rec_index, 0, INT32_MAX, NULL, "I", "(default 0)"},
      {"prefill-chunk", CLI_I32, &rp.prefill_chunk, 1, 1 << 20, NULL, "C",
       "replay (and A's generation) in chunks of C tokens\n(default: one prefill)"},
      {"seed", CLI_U64, &seed, 0, 0, NULL, "S", "seed of the neighbour rows (default 1; B: S + 1)"},
      {"format", CLI_CHOICE, &fmt, 0, 0, "text|json|csv", "F", "text (default) | json | csv"},
      {"output", CLI_STR, &out_path, 0, 0, NULL, "FILE", "write there (atomically), not to stdout"},
      {"threads", CLI_I32, &threads, 1, 1024, NULL, "N",
       "CPU threads (big matmuls, small models' decode rows; reference: OpenBLAS)"},
      {"device", CLI_I32, &device, 0, 1024, NULL, "N", "CUDA device (default 0)"},
      CLI_END};
  const cli_cmd cmd = {
      "compare", "--model PATH [configuration A] [configuration B] (--prompt IDS | --prompts FILE)",
      "Teacher-forced replay: A generates greedily (or its tokens are given), then prompt +\n"
      "tokens run again under A and under B (all logits, one prefill or chunks), and the two\n"
      "are compared position by position and layer by layer.",
      opts,
      "Layers: 0 .. n_layers-1 are the residual after each layer, 'norm' the final RMSNorm's\n"
      "output.  Exit status 0 when the comparison ran (differences are results, not\n"
      "failures), 1 on an error, 2 on bad usage."};
  for (int i = 1; i < argc; i++) /* -o FILE, the short form */
    if (!strcmp(argv[i], "-o")) argv[i] = "--output";
  int rc = cli_parse(&cmd, argc, argv);
  if (rc) return rc < 0 ? 0 : rc;
  for (int i = 1; i < argc; i++) mode_b_set |= !strncmp(argv[i], "--mode-b", 8);
  rp.b.mode = mode_b_set || rp.b.backend != LC_BACKEND_CUDA ? mode_b : LC_MODE_STRICT;
  rp.a.seed = seed;
  rp.b.seed = seed + 1;
  rp.cpu_threads = threads;
  rp.device = device;
  if (!rp.model) return cli_usage_error(CMD, "--model PATH is required");
  if (rp.a.position >= rp.a.batch || rp.b.position >= rp.b.batch)
    return cli_usage_error(CMD, "a row's position must be below its batch size");
  if (tokens_s && prompts) return cli_usage_error(CMD, "--tokens goes with one prompt (--prompt)");
  if (tokens_s && record) return cli_usage_error(CMD, "give --tokens or --record, not both");
  lc_prompt_list pl = {NULL, 0};
  int32_t *given = NULL, ngiven = 0;
  lc_replay *rep = NULL;
  char *buf = NULL;
  size_t len = 0;
  FILE *out = NULL;
  if ((rc = cli_load_prompts(CMD, prompt, prompts, &pl))) return rc;
  if (tokens_s && (rc = cli_parse_tokens(CMD, "--tokens", tokens_s, &given, &ngiven))) goto done;
  lc_status st = lc_replay_create(&rp, &rep);
  if (st != LC_OK) {
    rc = cli_fail(CMD, "opening the two configurations", st, cli_status_rc(st));
    goto done;
  }
  const lc_model_config *mc = lc_replay_model_config(rep);
  if (!(out = out_path ? open_memstream(&buf, &len) : stdout)) {
    rc = cli_usage_error(CMD, "out of memory");
    goto done;
  }
  if (fmt == 0) {
    fprintf(out, "layercast compare: %s (%s, dim %d, %d layers, vocab %d)\n", rp.model,
            lc_arch_name(mc->arch), mc->dim, mc->n_layers, mc->vocab_size);
    side_text(out, "A", &rp.a);
    side_text(out, "B", &rp.b);
    fprintf(out, "  neighbour rows: random, seed %llu (A) and %llu (B)\n", (unsigned long long)seed,
            (unsigned long long)seed + 1);
  } else if (fmt == 1) {
    fprintf(out, "{\"model\": ");
    json_str(out, rp.model);
    fprintf(out,
            ", \"config\": {\"arch\": \"%s\", \"dim\": %d, \"n_layers\": %d, "
            "\"vocab\": %d},\n \"a\": {\"backend\": \"%s\", \"mode\": \"%s\", \"batch\": %d, "
            "\"position\": %d, \"seed\": %llu, \"tp\": %d},\n \"b\": {\"backend\": \"%s\", "
            "\"mode\": \"%s\", \"batch\": %d, \"position\": %d, \"seed\": %llu, \"tp\": %d},\n "
            "\"prefill_chunk\": %d,\n \"prompts\": [",
            lc_arch_name(mc->arch), mc->dim, mc->n_layers, mc->vocab_size,
            lc_backend_name(rp.a.backend), lc_mode_name(rp.a.mode), rp.a.batch, rp.a.position,
            (unsigned long long)rp.a.seed, rp.a.tp > 1 ? rp.a.tp : 1, lc_backend_name(rp.b.backend),
            lc_mode_name(rp.b.mode), rp.b.batch, rp.b.position, (unsigned long long)rp.b.seed,
            rp.b.tp > 1 ? rp.b.tp : 1, rp.prefill_chunk);
  } else {
    fprintf(out,
            "prompt,step,pos,token,max_abs_dlogit,top1_a,top1_b,flip,margin_a,margin_b,"
            "first_diff_layer,logits_equal\n");
  }
  for (int32_t pi = 0; pi < pl.n && pi < limit && !rc; pi++) {
    if (record) {
      free(given);
      given = NULL;
      if ((st = lc_run_record_read_tokens(record, rec_index, pi, &given, &ngiven)) != LC_OK) {
        rc = cli_fail(CMD, "--record", st, cli_status_rc(st));
        break;
      }
    }
    lc_replay_result *r = NULL;
    if ((st = lc_replay_run(rep, &pl.v[pi], pi, given, ngiven, &r)) != LC_OK) {
      rc = cli_fail(CMD, "the replay", st, cli_status_rc(st));
      break;
    }
    if (record) r->tokens_source = "from the run record";
    if (fmt == 0) {
      print_text(out, r, rp.prefill_chunk);
    } else if (fmt == 1) {
      char *j = NULL;
      if ((st = lc_replay_result_json(r, &j)) != LC_OK)
        rc = cli_fail(CMD, "JSON", st, CLI_FAIL);
      else
        fprintf(out, "%s%s", pi ? ",\n" : "", j);
      lc_string_free(j);
    } else {
      print_csv(out, r);
    }
    lc_replay_result_free(r);
  }
  if (!rc && fmt == 1) fprintf(out, "]}\n");
  if (out_path) {
    fclose(out);
    out = NULL;
    if (!rc) rc = cli_write_file(CMD, out_path, buf, len);
  } else if (fflush(stdout) != 0 && !rc) {
    rc = cli_usage_error(CMD, "writing the output failed");
  }
done:
  free(buf);
  free(given);
  lc_replay_free(rep);
  lc_prompt_list_free(&pl);
  return rc;
}
