/*
 * tools/cli_generate.c — `layercast generate`: token ids or text in, tokens
 * (and, with a tokenizer, text) out, on
 * any backend and mode, the target row at a chosen position of a batch whose
 * other rows (neighbours) come from the prompt file or are generated
 * (lc_generate_target).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/exp_internal.h" /* lc_decode_output */
#include "tools/cli.h"
#include "tools/cli_common.h"

static const char *const CMD = "generate";

/* One generated sequence in the chosen format. */
static void print_text(int32_t p, const int32_t *t, const lc_token_record *r, int32_t n, int fmt,
                       int records) {
  for (int32_t i = 0; i < n; i++) {
    if (fmt == 0) {
      printf(i ? " %d" : "%d", (int)t[i]);
      continue;
    }
    if (!records) { /* csv */
      printf("%d,%d,%d", (int)p, (int)i, (int)t[i]);
    } else {
      printf("%d,%d,%d,%d,%.9g,%.9g,%.9g,", (int)p, (int)i, (int)r[i].pos, (int)t[i],
             (double)r[i].logit, (double)r[i].top1_prob, (double)r[i].margin);
      for (int k = 0; k < LC_CAPTURE_TOP_K; k++) printf(k ? " %d" : "%d", (int)r[i].top_ids[k]);
      printf(",");
      for (int k = 0; k < LC_CAPTURE_TOP_K; k++)
        printf(k ? " %.9g" : "%.9g", (double)r[i].top_logits[k]);
    }
    printf("\n");
  }
  if (fmt != 0) return;
  printf("\n");
  for (int32_t i = 0; records && i < n; i++) {
    printf("#  pos %d token %d logit %.9g top1_prob %.9g margin %.9g top", (int)r[i].pos, (int)t[i],
           (double)r[i].logit, (double)r[i].top1_prob, (double)r[i].margin);
    for (int k = 0; k < LC_CAPTURE_TOP_K; k++)
      printf(" %d:%.9g", (int)r[i].top_ids[k], (double)r[i].top_logits[k]);
    printf("\n");
  }
}

int cmd_generate(int argc, char **argv) {
  const char *model = NULL, *prompt = NULL, *prompts = NULL, *text = NULL, *pos_label = "0";
  cli_text tx = {NULL, NULL, 0, NULL, NULL};
  lc_context_params cp;
  lc_context_params_default(&cp);
  lc_model_load_params lp;
  lc_model_load_params_default(&lp);
  lc_gen_params gp;
  memset(&gp, 0, sizeof gp);
  lc_sampler_params_default(&gp.sampler);
  int32_t batch = 1, max_new = 32, threads = 1, device = 0, tp_degree = 1;
  lc_stop_set stop = {-1, {0}}; /* unset: cli_text_stop decides */
  uint64_t nseed = 1;
  int kv = 0, neigh = -1, fmt = 0, records = 0, no_progress = 0, stats = 0;
  const cli_opt opts[] = {
      {"model", CLI_STR, &model, 0, 0, NULL, "PATH", "llama2.c .bin, or a Hugging Face directory"},
      {"backend", CLI_BACKEND, &cp.backend, 0, 0, NULL, "B", "cpu (default) | cuda"},
      {"mode", CLI_MODE, &cp.mode, 0, 0, NULL, "M",
       "strict (default) | fast | bf16 | reference (cpu) | vendor-bf16 |\nvendor-fp32 (cuda)"},
      {"device", CLI_I32, &device, 0, 1024, NULL, "N", "CUDA device (default 0)"},
      {"threads", CLI_I32, &threads, 1, 1024, NULL, "N",
       "CPU threads (big matmuls, small models' decode rows; reference: OpenBLAS; default 1)"},
      {"max-seq", CLI_I32, &lp.max_seq_len, 1, 1 << 24, NULL, "N",
       "positions the model covers (default: the checkpoint's)"},
      {"kv-dtype", CLI_CHOICE, &kv, 0, 0, "f32|bf16", "T", "KV cache: f32 (default) | bf16"},
      {"tp", CLI_I32, &tp_degree, 1, 1024, NULL, "N",
       "tensor-parallel degree, emulated on the one backend (strict, fast,\nbf16; N <= the "
       "model's KV heads; default 1)"},
      {"prefill-chunk", CLI_I32, &gp.prefill_chunk, 0, INT32_MAX, NULL, "N",
       "prompt tokens per step (default 0: whole prompts)"},
      {"prompt", CLI_STR, &prompt, 0, 0, NULL, "IDS", "one prompt as token ids (\"1 2 3\")"},
      {"text", CLI_STR, &text, 0, 0, NULL, "S", "one prompt as text (needs a tokenizer)"},
      {"prompts", CLI_STR, &prompts, 0, 0, NULL, "FILE",
       "JSONL, one {\"tokens\": [...]}, {\"prompt\": \"text\"} or {\"messages\":\n[{\"role\", "
       "\"content\"}...]} per line; each prompt is the target in turn"},
      CLI_TEXT_OPTS(tx),
      {"batch", CLI_I32, &batch, 1, 1 << 16, NULL, "B", "rows in the batch (default 1)"},
      {"position", CLI_STR, &pos_label, 0, 0, NULL, "P",
       "the target's row: a number < B, first, middle or last (default 0)"},
      {"neighbours", CLI_CHOICE, &neigh, 0, 0, "file|random", "SRC",
       "file: the file's other prompts, cycled (default with 2+ prompts);\nrandom: random "
       "ids, lengths in [1, max(4, 2 x target length)]"},
      {"neighbour-seed", CLI_U64, &nseed, 0, 0, NULL, "S", "seed of random neighbours (default 1)"},
      {"max-new", CLI_I32, &max_new, 0, 1 << 24, NULL, "N", "tokens per row (default 32)"},
      {"stop", CLI_STOP, &stop, 0, 0, NULL, "T[,T..]",
       "stop a row after any of these tokens, or none (default: the\nmodel's eos_token_ids "
       "with a tokenizer, else none)"},
      CLI_SAMPLER_OPTS(gp),
      {"format", CLI_CHOICE, &fmt, 0, 0, "text|csv|json", "F",
       "text (default): per prompt a line of ids, or with a tokenizer the\ntext; csv: "
       "prompt,index,token[,...]; json: one run record\n(docs/metrics.md), with the text"},
      {"records", CLI_FLAG, &records, 0, 0, NULL, NULL,
       "with each token's logit, top-1 probability, margin and top-8 ids\nand logits (every "
       "format)"},
      {"no-progress", CLI_FLAG, &no_progress, 0, 0, NULL, NULL, "no progress bar"},
      {"stats", CLI_FLAG, &stats, 0, 0, NULL, NULL,
       "at the end, on stderr: tokens generated, seconds, tokens/s, and the\nsession's memory "
       "(weights, KV cache, temporaries, op scratch)"},
      CLI_END};
  const cli_cmd cmd = {
      "generate", "--model PATH (--prompt IDS | --text S | --prompts FILE) [options]",
      "Generates for each prompt (the target) as one row of a batch: the other rows are\n"
      "neighbours that generate beside it.  In strict mode the target's tokens and logits do\n"
      "not depend on the batch size, the target's position or the neighbours.",
      opts, NULL};
  int rc = cli_parse(&cmd, argc, argv);
  if (rc) return rc < 0 ? 0 : rc;
  if (!model) return cli_usage_error(CMD, "--model PATH is required");
  const int32_t position = lc_position_resolve(pos_label, batch);
  if (position < 0)
    return cli_usage_error(
        CMD, "--position: expected first, middle, last or a number below --batch %d, got '%s'",
        (int)batch, pos_label);
  cp.device = device;
  cp.cpu_threads = threads;
  lc_prompt_list ps = {NULL, 0};
  if ((rc = cli_text_open(CMD, &tx, model))) return rc;
  if ((rc = cli_load_prompts_text(CMD, prompt, text, prompts, &tx, &ps)) ||
      (rc = cli_text_stop(CMD, &tx, model, &stop))) {
    cli_text_close(&tx);
    return rc;
  }
  const int random_nb = neigh < 0 ? ps.n < 2 : neigh == 1;
  if (!random_nb && ps.n < 2 && batch > 1)
    fprintf(stderr, "layercast %s: note: one prompt: its neighbours are copies of it\n", CMD);

  lc_context *ctx = NULL;
  lc_model *m = NULL;
  lc_session *sess = NULL;
  lc_run_record *rec = NULL;
  int32_t *toks = malloc((size_t)(max_new > 0 ? max_new : 1) * sizeof *toks);
  lc_token_record *recs = malloc((size_t)(max_new > 0 ? max_new : 1) * sizeof *recs);
  lc_model_info info;
  lc_session_params sp;
  lc_status st = LC_OK;
  if (!toks || !recs) {
    fprintf(stderr, "layercast %s: out of memory\n", CMD);
    rc = CLI_FAIL;
  } else if ((st = lc_context_create(&cp, &ctx)) != LC_OK) {
    rc = cli_fail(CMD, "creating the context", st, cli_status_rc(st));
  } else if ((st = lc_model_load(ctx, model, &lp, &m)) != LC_OK) {
    rc = cli_fail(CMD, "loading the model", st, cli_status_rc(st));
  } else if ((st = lc_model_get_info(m, &info)) == LC_OK &&
             (st = lc_target_check(&info.config, &ps, random_nb, max_new, &stop)) != LC_OK) {
    rc = cli_fail(CMD, "the prompts and options do not fit the model", st, CLI_USAGE);
    if (strstr(lc_last_error(NULL), "positions"))
      fprintf(stderr, "  (--max-seq N gives the model more positions; or lower --max-new)\n");
    if (strstr(lc_last_error(NULL), "stop token"))
      fprintf(stderr, "  (--stop takes a token id of the model's vocabulary)\n");
  } else if (st == LC_OK &&
             ((st = lc_target_session_params(batch, lc_target_max_prompt(&ps, random_nb), max_new,
                                             gp.prefill_chunk, kv ? LC_DTYPE_BF16 : LC_DTYPE_F32,
                                             &sp)) != LC_OK ||
              (sp.tp = tp_degree, (st = lc_session_create(m, &sp, &sess)) != LC_OK))) {
    rc = cli_fail(CMD, "creating the session", st, CLI_FAIL);
  } else if (st != LC_OK) {
    rc = cli_fail(CMD, "starting", st, CLI_FAIL);
  }
  if (rc) goto done;
  if (fmt == 2) {
    lc_run_setup su = {model,     "",   "", max_new, stop, gp, kv ? LC_DTYPE_BF16 : LC_DTYPE_F32,
                       random_nb, nseed};
    memcpy(su.weights_hash, info.weights_hash, LC_HASH_HEX_LEN);
    lc_run_cell cell = {batch, position, pos_label, 0, tp_degree};
    if ((st = lc_prompt_list_hash(&ps, su.prompts_hash)) != LC_OK ||
        (st = lc_run_record_create("generate", ctx, &su, &cell, &rec)) != LC_OK) {
      rc = cli_fail(CMD, "the run record", st, CLI_FAIL);
      goto done;
    }
  }
  if (fmt == 1)
    printf(records ? "prompt,index,pos,token,logit,top1_prob,margin,top_ids,top_logits\n"
                   : "prompt,index,token\n");
  cli_progress prog;
  cli_progress_start(&prog, "generate", !no_progress);
  const double t0 = cli_now_s();
  int64_t generated = 0; /* over every row of every batch */
  for (int32_t p = 0; p < ps.n && !rc; p++) {
    lc_target_params tp;
    memset(&tp, 0, sizeof tp);
    tp.target = &ps.v[p];
    tp.target_index = p;
    tp.pool = random_nb ? NULL : &ps;
    tp.neighbour_seed = nseed;
    tp.batch = batch;
    tp.position = position;
    tp.max_new = max_new;
    tp.stop = stop;
    tp.gen = gp;
    int32_t n = 0;
    if ((st = lc_generate_target(sess, &tp, toks, recs, &n)) != LC_OK) {
      rc = cli_fail(CMD, "generating", st, CLI_FAIL);
      break;
    }
    generated += (int64_t)batch * n; /* neighbours may stop earlier: an upper bound */
    cli_progress_cb(&prog, p + 1, ps.n);
    char *out = NULL;
    if (tx.tok && (st = lc_decode_output(tx.tok, toks, n, &out)) != LC_OK) {
      rc = cli_fail(CMD, "decoding the output", st, CLI_FAIL);
    } else if (rec &&
               ((st = lc_run_record_add(rec, p, &ps.v[p], toks, n, recs, records)) != LC_OK ||
                (out && (st = lc_run_record_add_text(rec, out, NULL)) != LC_OK))) {
      rc = cli_fail(CMD, "the run record", st, CLI_FAIL);
    } else if (!rec && out && fmt == 0 && !records) {
      printf("%s\n", out); /* text in, text out */
    } else if (!rec) {
      print_text(p, toks, recs, n, fmt, records);
      if (out && fmt == 0) printf("# text: %s\n", out);
    }
    free(out);
  }
  cli_progress_end(&prog);
  lc_session_memory mem;
  if (!rc && stats && lc_session_get_memory(sess, &mem) == LC_OK) {
    const double dt = cli_now_s() - t0, mib = 1024.0 * 1024.0;
    fprintf(stderr,
            "layercast %s: %lld target tokens in %.2f s (%.1f target tokens/s; rows x target "
            "tokens: %lld, %.1f/s)\n"
            "layercast %s: memory: weights %.1f MiB, KV cache %.1f MiB, temporaries %.1f MiB, "
            "op scratch peak %.1f MiB\n",
            CMD, (long long)(generated / batch), dt, dt > 0 ? (double)generated / batch / dt : 0.0,
            (long long)generated, dt > 0 ? (double)generated / dt : 0.0, CMD,
            (double)mem.weights_bytes / mib, (double)mem.kv_cache_bytes / mib,
            (double)mem.temp_bytes / mib, (double)mem.workspace_peak_bytes / mib);
  }
  if (!rc && rec) {
    char *line = NULL;
    if ((st = lc_run_record_json(rec, &line)) != LC_OK)
      rc = cli_fail(CMD, "the run record", st, CLI_FAIL);
    else
      printf("%s\n", line);
    lc_string_free(line);
  }
  if (!rc && fflush(stdout) != 0) {
    fprintf(stderr, "layercast %s: writing the output failed\n", CMD);
    rc = CLI_FAIL;
  }
done:
  lc_run_record_free(rec);
  free(toks);
  free(recs);
  lc_session_free(sess);
  lc_model_free(m);
  lc_context_free(ctx);
  lc_prompt_list_free(&ps);
  cli_text_close(&tx);
  return rc;
}
