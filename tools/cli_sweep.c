/*
 * tools/cli_sweep.c — `layercast sweep`: the accuracy-variance study
 * (lc_sweep_run), its summary table and plots.
 *
 * Output directory: runs.jsonl (one run record per line), summary.json,
 * summary.csv, summary_prompts.csv (the library writes them),
 * div_index_<backend>-<mode>.svg and margins.svg (cli_plot.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/cli_common.h"

static const char *const CMD = "sweep";

static void fmt_num(char *buf, size_t n, double x, const char *f) {
  if (isnan(x))
    snprintf(buf, n, "-");
  else
    snprintf(buf, n, f, x);
}

void cli_print_sweep(FILE *f, const lc_sweep_result *res) {
  fprintf(f, "%-5s %-12s %5s %7s %9s %6s %8s %9s %13s %9s %7s %8s\n", "back", "mode", "runs",
          "prompts", "uniq mean", "max", "Div_%", "Div_Index", "Avg_Std@top1", "Std@len", "Acc",
          "Std@Acc");
  for (int32_t g = 0; g < res->n_groups; g++) {
    const lc_sweep_group *G = &res->groups[g];
    if (!G->have_metrics) {
      fprintf(f, "%-5s %-12s %s\n", lc_backend_name(G->backend), lc_mode_name(G->mode),
              G->available ? "(no runs)" : "(not available here: SKIPPED)");
      continue;
    }
    const lc_group_metrics *m = &G->gm;
    char di[32], a1[32], sa[32], ac[32];
    if (m->div_index_min < 0)
      snprintf(di, sizeof di, "none");
    else
      snprintf(di, sizeof di, "%d", (int)m->div_index_min);
    fmt_num(a1, sizeof a1, m->avg_std_top1, "%.3g");
    fmt_num(sa, sizeof sa, m->std_at_acc, "%.4f");
    fmt_num(ac, sizeof ac, m->acc_mean, "%.4f");
    fprintf(f, "%-5s %-12s %5d %7d %9.2f %6d %7.1f%% %9s %13s %9.3g %7s %8s\n",
            lc_backend_name(G->backend), lc_mode_name(G->mode), (int)m->n_runs, (int)m->n_prompts,
            m->unique_mean, (int)m->unique_max, m->div_percent, di, a1, m->len_std_mean, ac, sa);
  }
}

int cmd_sweep(int argc, char **argv) {
  lc_sweep_params sp;
  lc_sweep_params_default(&sp);
  const char *prompts = NULL, *bs = "1,8,32", *tps = "1", *pos = "first,last",
             *modes = "strict,reference", *backends = "cpu";
  int32_t device = 0, threads = 1;
  int kv = 0, neigh = 0, no_progress = 0, kind = 0;
  cli_text tx = {NULL, NULL, 0, NULL, NULL};
  sp.stop.n = -1; /* unset: cli_text_stop decides */
  const cli_opt opts[] = {
      {"model", CLI_STR, &sp.model, 0, 0, NULL, "PATH",
       "checkpoint (llama2.c .bin or Hugging Face directory)"},
      {"prompts", CLI_STR, &prompts, 0, 0, NULL, "FILE",
       "JSONL: {\"tokens\": [ids...]}, {\"prompt\": \"text\"} or {\"messages\":\n[...]} "
       "per line, each with an optional \"answer\": [ids...] (found\nin the output) or "
       "\"text\" (extracted, see --answer)"},
      CLI_TEXT_OPTS(tx),
      {"answer", CLI_CHOICE, &kind, 0, 0, "number|boxed|exact|choice", "K",
       "how a text answer is extracted from an output: the last number\n(default), the last "
       "\\boxed{}, the whole output, a choice letter"},
      {"out", CLI_STR, &sp.out_dir, 0, 0, NULL, "DIR",
       "runs.jsonl, summary.json, summary.csv, "
       "summary_prompts.csv,\ndiv_index_<backend>-<mode>.svg, "
       "margins.svg"},
      {"batch-sizes", CLI_STR, &bs, 0, 0, NULL, "LIST", "e.g. 1,8,32 (default 1,8,32)"},
      {"tp", CLI_STR, &tps, 0, 0, NULL, "LIST",
       "tensor-parallel degrees, emulated on each backend, e.g. 1,2,4\n(default 1; each <= the "
       "model's KV heads)"},
      {"positions", CLI_STR, &pos, 0, 0, NULL, "LIST",
       "first,middle,last or numbers (default first,last); a number\nnot below a batch size is "
       "skipped for that size"},
      {"modes", CLI_STR, &modes, 0, 0, NULL, "LIST",
       "strict, fast, bf16 (cpu and cuda), reference (cpu), vendor-bf16,\nvendor-fp32 (cuda); "
       "default strict,reference (on the cpu fast and\nbf16 emulate the tensor cores, hundreds "
       "of times slower than strict)"},
      {"backends", CLI_STR, &backends, 0, 0, NULL, "LIST", "cpu,cuda (default cpu)"},
      {"repeats", CLI_I32, &sp.repeats, 1, 1 << 20, NULL, "R", "runs per cell (default 1)"},
      {"max-new", CLI_I32, &sp.max_new, 0, 1 << 24, NULL, "N", "tokens per row (default 32)"},
      {"stop", CLI_STOP, &sp.stop, 0, 0, NULL, "T[,T..]",
       "stop a row after any of these tokens, or none (default: the\nmodel's eos_token_ids "
       "with a tokenizer, else none)"},
      {"neighbours", CLI_CHOICE, &neigh, 0, 0, "file|random", "SRC",
       "file (default): the other prompts, cycled from the target's\nsuccessor; random: random "
       "prompts"},
      {"neighbour-seed", CLI_U64, &sp.neighbour_seed, 0, 0, NULL, "S",
       "seed of the random neighbours (default 1)"},
      CLI_SAMPLER_OPTS(sp.gen),
      {"prefill-chunk", CLI_I32, &sp.gen.prefill_chunk, 0, INT32_MAX, NULL, "N",
       "prompt tokens per step (default 0: whole prompts)"},
      {"kv-dtype", CLI_CHOICE, &kv, 0, 0, "f32|bf16", "T", "f32 (default) | bf16"},
      {"device", CLI_I32, &device, 0, 1024, NULL, "N", "CUDA device (default 0)"},
      {"threads", CLI_I32, &threads, 1, 1024, NULL, "N",
       "CPU threads (big matmuls, small models' decode rows; reference: OpenBLAS)"},
      {"strict-grid", CLI_FLAG, &sp.require_all, 0, 0, NULL, NULL,
       "fail on an unavailable backend/mode instead of skipping it"},
      {"resume", CLI_FLAG, &sp.resume, 0, 0, NULL, NULL,
       "continue an interrupted sweep from DIR's records (the same\nsetup is checked); on a "
       "finished one, rewrite the summaries"},
      {"no-progress", CLI_FLAG, &no_progress, 0, 0, NULL, NULL, "no progress bar"},
      CLI_END};
  const cli_cmd cmd = {
      "sweep", "--model PATH --prompts FILE --out DIR [options]",
      "The accuracy-variance study: every prompt is run as the target row of batches of\n"
      "each size, at each position, in each mode and on each backend, repeats times; per\n"
      "backend and mode the runs of each prompt are compared (docs/metrics.md).",
      opts,
      "Exit status: 0 done (groups not available here are SKIPPED and named), 1 an error,\n"
      "2 bad usage or input, 4 nothing could run here (e.g. --backends cuda without a GPU)."};
  int rc = cli_parse(&cmd, argc, argv);
  if (rc) return rc < 0 ? 0 : rc;
  if (!sp.model || !prompts || !sp.out_dir)
    return cli_usage_error(CMD, "--model, --prompts and --out are required");
  sp.kv_dtype = kv ? LC_DTYPE_BF16 : LC_DTYPE_F32;
  sp.random_neighbours = neigh;
  sp.device = device;
  sp.cpu_threads = threads;
  cli_list lb = {0}, lp = {0}, lm = {0}, lk = {0}, lt = {0};
  int32_t *batches = NULL, *degrees = NULL;
  lc_backend *bv = NULL;
  lc_mode *mv = NULL;
  lc_prompt_list ps = {NULL, 0};
  lc_sweep_result *res = NULL;
  if ((rc = cli_split(CMD, "--batch-sizes", bs, &lb)) ||
      (rc = cli_list_i32(CMD, "--batch-sizes", &lb, 1, 1 << 16, &batches)) ||
      (rc = cli_split(CMD, "--tp", tps, &lt)) ||
      (rc = cli_list_i32(CMD, "--tp", &lt, 1, 1024, &degrees)) ||
      (rc = cli_split(CMD, "--positions", pos, &lp)) ||
      (rc = cli_split(CMD, "--modes", modes, &lm)) || (rc = cli_list_modes(CMD, &lm, &mv)) ||
      (rc = cli_split(CMD, "--backends", backends, &lk)) || (rc = cli_list_backends(CMD, &lk, &bv)))
    goto done;
  for (int32_t i = 0; i < lp.n; i++)
    if (lc_position_resolve(lp.v[i], INT32_MAX) < 0) {
      rc = cli_usage_error(CMD, "--positions: expected first, middle, last or numbers, got '%s'",
                           lp.v[i]);
      goto done;
    }
  if ((rc = cli_text_open(CMD, &tx, sp.model)) ||
      (rc = cli_load_prompts_text(CMD, NULL, NULL, prompts, &tx, &ps)) ||
      (rc = cli_text_stop(CMD, &tx, sp.model, &sp.stop)))
    goto done;
  sp.tokenizer = tx.tok;
  sp.answer_kind = (lc_answer_kind)(kind + 1);
  sp.batch_sizes = batches;
  sp.n_batch_sizes = lb.n;
  sp.tp_degrees = degrees;
  sp.n_tp_degrees = lt.n;
  sp.positions = (const char *const *)lp.v;
  sp.n_positions = lp.n;
  sp.modes = mv;
  sp.n_modes = lm.n;
  sp.backends = bv;
  sp.n_backends = lk.n;
  sp.prompts = &ps;
  cli_progress prog;
  cli_progress_start(&prog, "sweep", !no_progress);
  sp.progress = cli_progress_cb;
  sp.progress_user = &prog;
  lc_status st = lc_sweep_run(&sp, &res);
  cli_progress_end(&prog);
  if (st != LC_OK) {
    rc = cli_fail(CMD, NULL, st, cli_status_rc(st));
    if (rc == CLI_NOTHING) fprintf(stderr, "layercast %s: nothing was run\n", CMD);
    goto done;
  }
  if ((rc = cli_plot_sweep(CMD, res, sp.out_dir))) goto done;
  if (res->notes[0]) fprintf(stderr, "layercast %s: note: %s\n", CMD, res->notes);
  printf("sweep: %d prompts, %d tokens each, %.1f s; files in %s\n", (int)ps.n, (int)sp.max_new,
         res->seconds, sp.out_dir);
  if (res->n_resumed)
    printf("  %lld generations taken from the earlier records, %lld run now\n",
           (long long)res->n_resumed, (long long)res->n_generated);
  cli_print_sweep(stdout, res);
done:
  lc_sweep_result_free(res);
  lc_prompt_list_free(&ps);
  cli_list_free(&lb), cli_list_free(&lp), cli_list_free(&lm), cli_list_free(&lk);
  cli_list_free(&lt);
  free(batches), free(degrees), free(bv), free(mv);
  cli_text_close(&tx);
  return rc;
}
