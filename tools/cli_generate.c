/*
 * tools/cli_generate.c — `layercast generate`: token ids in, tokens out, on
 * any backend and mode, with the target row at a chosen position of a batch
 * whose other rows (neighbours) come from the prompt file or are generated.
 */
#define _GNU_SOURCE /* getopt_long */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/cli_common.h"

static const char *const CMD = "generate";

static void generate_usage(FILE *f) {
  fprintf(f,
          "usage: layercast generate --model PATH (--prompt \"1 2 3\" | --prompts FILE.jsonl)\n"
          "                          [options]\n"
          "\n"
          "Generates for each prompt (the target) as one row of a batch: the other rows are\n"
          "neighbours that generate beside it.  In strict mode the target's tokens and logits\n"
          "do not depend on the batch size, the target's position or the neighbours.\n"
          "\n"
          "model and numerics:\n"
          "  --model PATH         llama2.c .bin, or a Hugging Face directory / config.json\n"
          "  --backend B          cpu (default) | cuda\n"
          "  --mode M             strict (default) | reference | vendor-bf16 | vendor-fp32\n"
          "  --device N           CUDA device (default 0)\n"
          "  --threads N          OpenBLAS threads in reference mode (default 1)\n"
          "  --max-seq N          override the checkpoint's max_seq_len\n"
          "  --kv-dtype T         f32 (default) | bf16\n"
          "  --prefill-chunk N    prompt tokens per step (default 0: whole prompts)\n"
          "prompts and batch:\n"
          "  --prompt \"IDS\"       one prompt as token ids (spaces or commas)\n"
          "  --prompts FILE       JSONL, one {\"tokens\": [...], \"answer\": [...]?} per line;\n"
          "                       each prompt is the target in turn\n"
          "  --batch B            rows in the batch (default 1)\n"
          "  --position P         the target's row: a number < B, first, middle or last\n"
          "                       (default 0)\n"
          "  --neighbours SRC     file: the file's other prompts, cycled from the target's\n"
          "                       successor (default with --prompts of 2+ prompts); random:\n"
          "                       random ids, lengths uniform in [1, max(4, 2 x target length)]\n"
          "  --neighbour-seed S   seed of the random neighbours (default 1)\n"
          "generation:\n"
          "  --max-new N          tokens to generate per row (default 32)\n"
          "  --stop T             stop a row after token T (default: none)\n"
          "  --temperature X      0 (default): greedy; else sampling\n"
          "  --top-k K            (default 0: off)\n"
          "  --top-p P            (default 1: off)\n"
          "  --seed S             sampler seed (default 0)\n"
          "output:\n"
          "  --format F           text (default): one line of ids per prompt; json: one run\n"
          "                       record (docs/metrics.md); csv: prompt,index,token[,...]\n"
          "  --records            with per-token logit, top-1 probability, margin, top-k\n"
          "  --no-progress        no progress bar (it shows only on a terminal)\n"
          "  -h, --help           this text\n");
}

enum {
  O_MODEL = 256,
  O_BACKEND,
  O_MODE,
  O_DEVICE,
  O_THREADS,
  O_MAXSEQ,
  O_KV,
  O_CHUNK,
  O_PROMPT,
  O_PROMPTS,
  O_BATCH,
  O_POSITION,
  O_NEIGH,
  O_NSEED,
  O_MAXNEW,
  O_STOP,
  O_TEMP,
  O_TOPK,
  O_TOPP,
  O_SEED,
  O_FORMAT,
  O_RECORDS,
  O_NOPROG
};

int cmd_generate(int argc, char **argv) {
  static const struct option opts[] = {{"model", required_argument, 0, O_MODEL},
                                       {"backend", required_argument, 0, O_BACKEND},
                                       {"mode", required_argument, 0, O_MODE},
                                       {"device", required_argument, 0, O_DEVICE},
                                       {"threads", required_argument, 0, O_THREADS},
                                       {"max-seq", required_argument, 0, O_MAXSEQ},
                                       {"kv-dtype", required_argument, 0, O_KV},
                                       {"prefill-chunk", required_argument, 0, O_CHUNK},
                                       {"prompt", required_argument, 0, O_PROMPT},
                                       {"prompts", required_argument, 0, O_PROMPTS},
                                       {"batch", required_argument, 0, O_BATCH},
                                       {"position", required_argument, 0, O_POSITION},
                                       {"neighbours", required_argument, 0, O_NEIGH},
                                       {"neighbors", required_argument, 0, O_NEIGH},
                                       {"neighbour-seed", required_argument, 0, O_NSEED},
                                       {"max-new", required_argument, 0, O_MAXNEW},
                                       {"stop", required_argument, 0, O_STOP},
                                       {"temperature", required_argument, 0, O_TEMP},
                                       {"top-k", required_argument, 0, O_TOPK},
                                       {"top-p", required_argument, 0, O_TOPP},
                                       {"seed", required_argument, 0, O_SEED},
                                       {"format", required_argument, 0, O_FORMAT},
                                       {"records", no_argument, 0, O_RECORDS},
                                       {"no-progress", no_argument, 0, O_NOPROG},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  cli_model_opts mo;
  cli_model_opts_default(&mo);
  const char *prompt_s = NULL, *prompts_path = NULL, *pos_label = "0", *neigh = NULL,
             *format = "text";
  int32_t batch = 1, max_new = 32, stop = -1, chunk = 0, i32;
  uint64_t nseed = 1;
  lc_dtype kv = LC_DTYPE_F32;
  lc_gen_params gp;
  memset(&gp, 0, sizeof gp);
  lc_sampler_params_default(&gp.sampler);
  int records = 0, progress = -1, rc = 0, c;
  optind = 1;
  while (!rc && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'h':
        generate_usage(stdout);
        return 0;
      case O_MODEL:
        mo.model = optarg;
        break;
      case O_BACKEND:
        if (lc_backend_from_name(optarg, &mo.backend) != LC_OK)
          rc = cli_usage_error(CMD, "--backend: expected cpu or cuda, got '%s'", optarg);
        break;
      case O_MODE:
        if (lc_mode_from_name(optarg, &mo.mode) != LC_OK)
          rc = cli_usage_error(CMD,
                               "--mode: expected strict, reference, vendor-bf16 or vendor-fp32, "
                               "got '%s'",
                               optarg);
        break;
      case O_DEVICE:
        rc = cli_parse_i32(CMD, "--device", optarg, 0, 1024, &i32);
        mo.device = i32;
        break;
      case O_THREADS:
        rc = cli_parse_i32(CMD, "--threads", optarg, 1, 1024, &i32);
        mo.threads = i32;
        break;
      case O_MAXSEQ:
        rc = cli_parse_i32(CMD, "--max-seq", optarg, 1, INT32_MAX, &mo.max_seq_len);
        break;
      case O_KV:
        if (!strcmp(optarg, "f32"))
          kv = LC_DTYPE_F32;
        else if (!strcmp(optarg, "bf16"))
          kv = LC_DTYPE_BF16;
        else
          rc = cli_usage_error(CMD, "--kv-dtype: expected f32 or bf16, got '%s'", optarg);
        break;
      case O_CHUNK:
        rc = cli_parse_i32(CMD, "--prefill-chunk", optarg, 0, INT32_MAX, &chunk);
        break;
      case O_PROMPT:
        prompt_s = optarg;
        break;
      case O_PROMPTS:
        prompts_path = optarg;
        break;
      case O_BATCH:
        rc = cli_parse_i32(CMD, "--batch", optarg, 1, 1 << 16, &batch);
        break;
      case O_POSITION:
        pos_label = optarg;
        break;
      case O_NEIGH:
        if (strcmp(optarg, "file") && strcmp(optarg, "random"))
          rc = cli_usage_error(CMD, "--neighbours: expected file or random, got '%s'", optarg);
        neigh = optarg;
        break;
      case O_NSEED:
        rc = cli_parse_u64(CMD, "--neighbour-seed", optarg, &nseed);
        break;
      case O_MAXNEW:
        rc = cli_parse_i32(CMD, "--max-new", optarg, 0, 1 << 24, &max_new);
        break;
      case O_STOP:
        rc = cli_parse_i32(CMD, "--stop", optarg, -1, INT32_MAX, &stop);
        break;
      case O_TEMP:
        rc = cli_parse_f32(CMD, "--temperature", optarg, 0.0f, 1e6f, &gp.sampler.temperature);
        break;
      case O_TOPK:
        rc = cli_parse_i32(CMD, "--top-k", optarg, 0, INT32_MAX, &gp.sampler.top_k);
        break;
      case O_TOPP:
        rc = cli_parse_f32(CMD, "--top-p", optarg, 1e-9f, 1.0f, &gp.sampler.top_p);
        break;
      case O_SEED:
        rc = cli_parse_u64(CMD, "--seed", optarg, &gp.sampler.seed);
        break;
      case O_FORMAT:
        if (strcmp(optarg, "text") && strcmp(optarg, "json") && strcmp(optarg, "csv"))
          rc = cli_usage_error(CMD, "--format: expected text, json or csv, got '%s'", optarg);
        format = optarg;
        break;
      case O_RECORDS:
        records = 1;
        break;
      case O_NOPROG:
        progress = 0;
        break;
      default:
        generate_usage(stderr);
        return 2;
    }
  }
  if (rc) return rc;
  if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
  if (!mo.model) return cli_usage_error(CMD, "--model PATH is required");
  if (!prompt_s == !prompts_path)
    return cli_usage_error(CMD, "give exactly one of --prompt \"IDS\" and --prompts FILE");
  int32_t position = cli_resolve_position(pos_label, batch);
  if (position < 0)
    return cli_usage_error(CMD,
                           "--position: expected first, middle, last or a number below "
                           "--batch %d, got '%s'",
                           (int)batch, pos_label);
  gp.prefill_chunk = chunk;

  cli_prompts ps = {NULL, 0};
  if (prompt_s) {
    int32_t *t = NULL, n = 0;
    if ((rc = cli_parse_tokens(CMD, "--prompt", prompt_s, &t, &n))) return rc;
    rc = cli_prompts_add(CMD, &ps, t, n);
    free(t);
    if (rc) return rc;
  } else if ((rc = cli_read_prompts(CMD, prompts_path, &ps))) {
    return rc;
  }
  if (!neigh) neigh = ps.n > 1 ? "file" : "random";
  const int from_file = !strcmp(neigh, "file");
  if (from_file && ps.n < 2 && batch > 1)
    fprintf(stderr, "layercast %s: note: one prompt: its neighbours are copies of it\n", CMD);

  lc_context *ctx = NULL;
  lc_model *model = NULL;
  lc_session *sess = NULL;
  int32_t *toks = NULL;
  lc_token_record *recs = NULL;
  json_t *rec = NULL, *fp = NULL;
  if ((rc = cli_open(CMD, &mo, 0, &ctx, &model))) goto done;
  lc_model_info info;
  lc_status st = lc_model_get_info(model, &info);
  if (st != LC_OK) {
    rc = cli_fail(CMD, "lc_model_get_info", st, ctx);
    goto done;
  }
  const int32_t vocab = info.config.vocab_size;
  if ((rc = cli_check_vocab(CMD, &ps, vocab))) goto done;
  int32_t max_prompt = 0;
  for (int32_t p = 0; p < ps.n; p++) {
    int32_t need = from_file ? ps.v[p].n : cli_neighbour_max_len(ps.v[p].n);
    if (need > max_prompt) max_prompt = need;
  }
  if ((rc = cli_session_for(CMD, model, batch, max_prompt, max_new, chunk, kv, &sess))) goto done;
  toks = malloc((size_t)(max_new > 0 ? max_new : 1) * sizeof *toks);
  recs = malloc((size_t)(max_new > 0 ? max_new : 1) * sizeof *recs);
  if (!toks || !recs) {
    fprintf(stderr, "layercast %s: out of memory\n", CMD);
    rc = 1;
    goto done;
  }
  const int is_json = !strcmp(format, "json"), is_csv = !strcmp(format, "csv");
  if (is_json) {
    if (!(fp = cli_fingerprint(CMD, ctx)) ||
        !(rec = cli_record_new(CMD, "generate", ctx, mo.model, batch, position, pos_label, 0, &gp,
                               max_new, kv, neigh, nseed, fp))) {
      rc = 1;
      goto done;
    }
  }
  if (is_csv)
    printf(records ? "prompt,index,pos,token,logit,top1_prob,margin\n" : "prompt,index,token\n");
  cli_progress prog;
  cli_progress_start(&prog, "generate", ps.n, progress);
  for (int32_t p = 0; p < ps.n && !rc; p++) {
    cli_target_run tr;
    memset(&tr, 0, sizeof tr);
    tr.session = sess;
    tr.target = &ps.v[p];
    tr.target_index = p;
    tr.pool = from_file ? &ps : NULL;
    tr.neighbour_seed = nseed;
    tr.vocab = vocab;
    tr.batch = batch;
    tr.position = position;
    tr.max_new = max_new;
    tr.stop_token = stop;
    tr.gen = gp;
    int32_t n = 0;
    if ((rc = cli_run_target(CMD, &tr, toks, recs, &n))) break;
    cli_progress_add(&prog, 1);
    if (is_json) {
      json_t *s = cli_record_sequence(p, ps.v[p].tokens, ps.v[p].n, toks, n, recs, records);
      if (!s || json_array_append_new(json_object_get(rec, "sequences"), s)) {
        fprintf(stderr, "layercast %s: building the record failed (out of memory)\n", CMD);
        rc = 1;
      }
    } else if (is_csv) {
      for (int32_t i = 0; i < n; i++) {
        if (records)
          printf("%d,%d,%d,%d,%.9g,%.9g,%.9g\n", (int)p, (int)i, (int)recs[i].pos, (int)toks[i],
                 (double)recs[i].logit, (double)recs[i].top1_prob, (double)recs[i].margin);
        else
          printf("%d,%d,%d\n", (int)p, (int)i, (int)toks[i]);
      }
    } else {
      for (int32_t i = 0; i < n; i++) printf(i ? " %d" : "%d", (int)toks[i]);
      printf("\n");
      if (records)
        for (int32_t i = 0; i < n; i++)
          printf("#  pos %d token %d logit %.9g top1_prob %.9g margin %.9g\n", (int)recs[i].pos,
                 (int)toks[i], (double)recs[i].logit, (double)recs[i].top1_prob,
                 (double)recs[i].margin);
    }
  }
  cli_progress_end(&prog);
  if (!rc && is_json) rc = cli_json_write_line(CMD, stdout, rec);
  if (!rc && fflush(stdout) != 0) {
    fprintf(stderr, "layercast %s: writing the output failed\n", CMD);
    rc = 1;
  }
done:
  json_decref(rec);
  json_decref(fp);
  free(toks);
  free(recs);
  lc_session_free(sess);
  cli_close(ctx, model);
  cli_prompts_free(&ps);
  return rc;
}
