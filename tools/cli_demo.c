/*
 * tools/cli_demo.c — `layercast demo`, the README's main command: a small
 * reproducibility sweep on the embedded default synthetic model (CPU strict
 * and reference; on a GPU also CUDA strict and the vendor baselines), and
 * `demo --matmul`, one matmul row inside batches of many sizes.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lc_demo_data.h"     /* lc_demo_arith50: tests/data/arith50.jsonl, compiled in */
#include "lib/exp_internal.h" /* lc_file_write_atomic, lc_decode_output */
#include "tools/cli.h"
#include "tools/cli_common.h"

static const char *const CMD = "demo";

static int demo_matmul(int argc, char **argv) {
  int32_t k = 4096, n = 1024, threads = 1;
  uint64_t seed = 1;
  int dummy = 0;
  const cli_opt opts[] = {
      {"matmul", CLI_FLAG, &dummy, 0, 0, NULL, NULL, "this demo"},
      {"k", CLI_I32, &k, 1, 1 << 20, NULL, "K", "inner dimension (default 4096)"},
      {"n", CLI_I32, &n, 1, 1 << 20, NULL, "N", "output columns (default 1024)"},
      {"seed", CLI_U64, &seed, 0, 0, NULL, "S", "seed of the weights and rows (default 1)"},
      {"threads", CLI_I32, &threads, 1, 1024, NULL, "T",
       "CPU threads (big matmuls, small models' decode rows; reference: OpenBLAS; default 1)"},
      CLI_END};
  const cli_cmd cmd = {
      "demo", "--matmul [--k K] [--n N] [--seed S] [--threads T]",
      "Computes y = x W^T (W: N x K bf16, x fp32) for batches of many sizes M on the CPU,\n"
      "with a fixed probe row at the first and the last position of each batch and random\n"
      "other rows, in strict mode (canonical order) and reference mode (OpenBLAS sgemm),\n"
      "and reports how many distinct results the probe row got across all batches.",
      opts, NULL};
  int rc = cli_parse(&cmd, argc, argv);
  if (rc) return rc < 0 ? 0 : rc;
  static const lc_mode modes[2] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  lc_probe_params p = {k, n, seed, LC_BACKEND_CPU, 0, threads, modes, 2};
  lc_probe_result r;
  lc_status st = lc_matmul_probe(&p, &r);
  if (st != LC_OK) return cli_fail(CMD, "the matmul probe", st, CLI_FAIL);
  printf("layercast %s demo (CPU): one row of y = x W^T inside batches of %d sizes\n",
         lc_version_string(), LC_PROBE_SIZES);
  printf("  W: %d x %d bf16 (seed %" PRIu64
         "), probe row at the first and last position of "
         "batches M = 1 .. 257, other rows random; OpenBLAS threads: %d\n",
         (int)n, (int)k, seed, (int)threads);
  printf("\n  %-10s %26s %28s %12s\n", "mode", "distinct probe-row results",
         "max normwise diff vs strict", "matmul time");
  for (int mi = 0; mi < 2; mi++)
    printf("  %-10s %26d %28.3g %10.3f s\n", lc_mode_name(modes[mi]), r.modes[mi].distinct,
           r.modes[mi].max_normwise, r.modes[mi].seconds);
  printf(
      "\n  strict promises 1 distinct result (bitwise batch invariance); reference promises\n"
      "  nothing: its count is whatever OpenBLAS's blocking gives on this machine.\n");
  if (r.modes[0].distinct == 1) return CLI_OK;
  fprintf(stderr, "layercast demo: strict gave %d distinct results: a bug\n", r.modes[0].distinct);
  return CLI_BROKEN;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)ftw;
  return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* The demo's table: unique outputs and Div_Index per prompt, per group. */
static int print_demo(const lc_sweep_result *res) {
  printf("  %-5s %-12s %5s  %-22s %-22s %s\n", "back", "mode", "runs", "unique outputs/prompt",
         "Div_Index/prompt", "Avg_Std@top1_prob");
  /* the invariant modes: strict, fast, bf16 (index 0, 1, 2) */
  static const lc_mode inv[3] = {LC_MODE_STRICT, LC_MODE_FAST, LC_MODE_BF16};
  int ok = 1, cpu[3] = {-1, -1, -1}, cuda[3] = {-1, -1, -1};
  for (int32_t g = 0; g < res->n_groups; g++) {
    const lc_sweep_group *G = &res->groups[g];
    if (!G->have_metrics) continue;
    char u[128] = "", d[128] = "";
    size_t ul = 0, dl = 0;
    for (int32_t p = 0; p < res->n_prompts; p++) {
      if (ul < sizeof u)
        ul += (size_t)snprintf(u + ul, sizeof u - ul, "%s%d", p ? " " : "", (int)G->pm[p].n_unique);
      if (dl < sizeof d && G->pm[p].div_index < 0)
        dl += (size_t)snprintf(d + dl, sizeof d - dl, "%s-", p ? " " : "");
      else if (dl < sizeof d)
        dl +=
            (size_t)snprintf(d + dl, sizeof d - dl, "%s%d", p ? " " : "", (int)G->pm[p].div_index);
    }
    printf("  %-5s %-12s %5d  %-22s %-22s %.3g\n", lc_backend_name(G->backend),
           lc_mode_name(G->mode), (int)G->n_runs, u, d, G->gm.avg_std_top1);
    for (int i = 0; i < 3; i++) {
      if (G->mode != inv[i]) continue;
      ok &= G->gm.unique_max == 1;
      if (G->backend == LC_BACKEND_CPU) cpu[i] = g;
      if (G->backend == LC_BACKEND_CUDA) cuda[i] = g;
    }
  }
  printf(
      "\n  Div_Index: the first token index where a prompt's runs differ ('-': never);\n"
      "  Avg_Std@top1_prob: how much the top-1 probability moved across runs (docs/metrics.md).\n");
  for (int i = 0; i < 3; i++) {
    const char *mn = lc_mode_name(inv[i]);
    if (cpu[i] >= 0 && cuda[i] >= 0) {
      const int agree = lc_sweep_groups_agree(res, cpu[i], cuda[i]);
      printf("  CPU %s and CUDA %s: %s\n", mn, mn,
             agree ? "bitwise identical tokens and logits in every run"
                   : "DIFFERENT (a bug: the mode promises the same bits)");
      ok &= agree;
    } else {
      printf("  CPU %s vs CUDA %s: no GPU here, not compared (SKIPPED).\n", mn, mn);
    }
  }
  return ok;
}

/* Prints s on one line: newlines and other control bytes as '.', at most
 * max bytes (cut at a UTF-8 boundary). */
static void print_flat(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n > max) {
    n = max;
    while (n && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  }
  for (size_t i = 0; i < n; i++) putchar((unsigned char)s[i] < 0x20 ? '.' : s[i]);
  if (n < strlen(s)) fputs("...", stdout);
}

/* Text in, text out: the model takes a byte-level tokenizer
 * (lc_tokenizer_write_bytes), the first n questions of the compiled-in
 * tests/data/arith50.jsonl go in as ChatML user turns, each output is
 * decoded and its last number scored.  A random model answers none: the
 * point is the path, and that strict gives one output per prompt and the
 * same accuracy in every configuration.  Sets *ok to 0 when it does not. */
static int demo_text(const char *dir, const char *model, int have_gpu, int n, int *ok) {
  char file[4200];
  snprintf(file, sizeof file, "%s/arith.jsonl", dir);
  size_t len = 0;
  for (int lines = 0; lc_demo_arith50[len] && lines < n; len++)
    lines += lc_demo_arith50[len] == '\n';
  lc_tokenizer *tok = NULL;
  lc_chat_template *chat = NULL;
  lc_prompt_list ps = {NULL, 0};
  lc_sweep_result *res = NULL;
  lc_status st;
  int rc = 0;
  if ((st = lc_tokenizer_write_bytes(model)) != LC_OK ||
      (st = lc_file_write_atomic(file, lc_demo_arith50, len, "demo")) != LC_OK ||
      (st = lc_tokenizer_load(model, &tok)) != LC_OK ||
      (st = lc_chat_template_select(NULL, tok, &chat)) != LC_OK) {
    rc = cli_fail(CMD, "setting up the text demo", st, CLI_FAIL);
  } else {
    lc_prompt_text_params tp = {tok, chat, 1};
    if ((st = lc_prompt_list_read_text(file, &tp, &ps)) != LC_OK)
      rc = cli_fail(CMD, "reading the questions", st, CLI_FAIL);
  }
  if (!rc) {
    static const lc_backend backends[] = {LC_BACKEND_CPU, LC_BACKEND_CUDA};
    static const lc_mode modes[] = {LC_MODE_STRICT, LC_MODE_REFERENCE, LC_MODE_VENDOR_BF16};
    static const int32_t batches[] = {1, 8};
    static const char *const positions[] = {"first", "last"};
    lc_sweep_params sp;
    lc_sweep_params_default(&sp);
    sp.model = model;
    sp.backends = backends;
    sp.n_backends = have_gpu ? 2 : 1;
    sp.modes = modes;
    sp.n_modes = have_gpu ? 3 : 2;
    sp.batch_sizes = batches;
    sp.n_batch_sizes = 2;
    sp.positions = positions;
    sp.n_positions = 2;
    sp.prompts = &ps;
    sp.max_new = 16;
    sp.stop = lc_stop_set_one(257); /* <|im_end|> */
    sp.tokenizer = tok;
    sp.answer_kind = LC_ANSWER_NUMBER;
    if ((st = lc_sweep_run(&sp, &res)) != LC_OK) rc = cli_fail(CMD, "the text sweep", st, CLI_FAIL);
  }
  if (!rc) {
    printf(
        "\n  text: the first %d questions of tests/data/arith50.jsonl as ChatML user turns, "
        "through a\n  byte-level tokenizer (lc_tokenizer_write_bytes); each output decoded "
        "and its last number\n  compared with the answer; batches 1 and 8, first and last "
        "row, 16 new tokens\n",
        (int)ps.n);
    printf("  %-5s %-12s %5s %8s %8s %8s\n", "back", "mode", "runs", "accuracy", "Std@Acc",
           "uniq max");
    for (int32_t g = 0; g < res->n_groups; g++) {
      const lc_sweep_group *G = &res->groups[g];
      if (!G->have_metrics) continue;
      printf("  %-5s %-12s %5d %8.3f %8.3f %8d\n", lc_backend_name(G->backend),
             lc_mode_name(G->mode), (int)G->n_runs, G->gm.acc_mean, G->gm.std_at_acc,
             (int)G->gm.unique_max);
      if (G->mode == LC_MODE_STRICT) *ok &= G->gm.unique_max == 1 && G->gm.std_at_acc == 0.0;
    }
    char *out = NULL;
    if (lc_decode_output(tok, res->groups[0].out[0].tokens, res->groups[0].out[0].n, &out) ==
        LC_OK) {
      printf("  question 1: ");
      print_flat(ps.v[0].text, 120);
      printf("\n  CPU strict's answer: ");
      print_flat(out, 80);
      printf("  (expected %s: a random model)\n", ps.v[0].answer_text);
    }
    free(out);
  }
  lc_sweep_result_free(res);
  lc_prompt_list_free(&ps);
  lc_chat_template_free(chat);
  lc_tokenizer_free(tok);
  return rc;
}

int cmd_demo(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--matmul")) return demo_matmul(argc, argv);
  int32_t n_prompts = 4, max_new = 24;
  uint64_t seed = 1;
  const char *bs = "1,3,8,16", *keep = NULL;
  int cpu_only = 0, matmul = 0;
  const cli_opt opts[] = {
      {"prompts", CLI_I32, &n_prompts, 1, 10000, NULL, "N", "generated prompts (default 4)"},
      {"max-new", CLI_I32, &max_new, 1, 100000, NULL, "N", "tokens per row (default 24)"},
      {"batch-sizes", CLI_STR, &bs, 0, 0, NULL, "LIST", "(default 1,3,8,16)"},
      {"seed", CLI_U64, &seed, 0, 0, NULL, "S", "prompts' seed (default 1)"},
      {"cpu-only", CLI_FLAG, &cpu_only, 0, 0, NULL, NULL,
       "do not use a GPU even when one is present"},
      {"keep", CLI_STR, &keep, 0, 0, NULL, "DIR",
       "keep everything in DIR: model/, prompts.jsonl and the sweep's files\n(sweep/: runs.jsonl, "
       "summaries, plots)"},
      {"matmul", CLI_FLAG, &matmul, 0, 0, NULL, NULL,
       "the matmul demo instead ('demo --matmul --help')"},
      CLI_END};
  const cli_cmd cmd = {
      "demo",
      "[--prompts N] [--max-new N] [--batch-sizes LIST] [--seed S] [--cpu-only] [--keep DIR]",
      "Writes the default synthetic model (lc_synth_params_default) into a temporary\n"
      "directory and runs a small sweep: N generated prompts, each the target row of\n"
      "batches of several sizes at the first and the last position, greedy, on the CPU in\n"
      "strict, fast, bf16 and reference mode, and on a GPU (when one is present) in CUDA\n"
      "strict, fast, bf16, vendor-bf16 and vendor-fp32.  Prints the unique outputs per\n"
      "prompt per mode, the first divergence index, and whether CPU and CUDA agreed\n"
      "bitwise in strict, fast and bf16.",
      opts, "Exit status: 0, or 3 when strict, fast or bf16 was not reproducible (a bug)."};
  int rc = cli_parse(&cmd, argc, argv);
  if (rc) return rc < 0 ? 0 : rc;
  cli_list lb = {0};
  int32_t *batches = NULL;
  if ((rc = cli_split(CMD, "--batch-sizes", bs, &lb)) ||
      (rc = cli_list_i32(CMD, "--batch-sizes", &lb, 1, 4096, &batches))) {
    cli_list_free(&lb);
    return rc;
  }
  char tmpl[] = "/tmp/layercast-demo-XXXXXX", model[4200], pfile[4200], sdir[4200];
  const char *dir = keep;
  lc_status st = LC_OK;
  if (keep && mkdir(keep, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "layercast demo: --keep: cannot create '%s': %s\n", keep, strerror(errno));
    rc = CLI_FAIL;
  } else if (!keep && !(dir = mkdtemp(tmpl))) {
    fprintf(stderr, "layercast demo: cannot create a temporary directory: %s\n", strerror(errno));
    rc = CLI_FAIL;
  }
  lc_prompt_list ps = {NULL, 0};
  lc_sweep_result *res = NULL;
  lc_synth_params syn;
  lc_synth_params_default(&syn);
  double t0 = cli_now_s();
  if (!rc) {
    snprintf(model, sizeof model, "%s/model", dir);
    snprintf(pfile, sizeof pfile, "%s/prompts.jsonl", dir);
    snprintf(sdir, sizeof sdir, "%s/sweep", dir);
    if ((st = lc_synth_write(model, &syn)) != LC_OK ||
        (st = lc_prompt_list_random(&ps, seed, n_prompts, 4, 12, syn.config.vocab_size)) != LC_OK ||
        (keep && (st = lc_prompt_list_write(&ps, pfile)) != LC_OK))
      rc = cli_fail(CMD, "setting up", st, CLI_FAIL);
  }
  int have_gpu = 0;
  if (!rc && !cpu_only) {
    lc_context_params cp;
    lc_context_params_default(&cp);
    cp.backend = LC_BACKEND_CUDA;
    lc_context *g = NULL;
    have_gpu = lc_context_create(&cp, &g) == LC_OK;
    lc_context_free(g);
  }
  if (!rc) {
    static const lc_backend backends[] = {LC_BACKEND_CPU, LC_BACKEND_CUDA};
    /* the invariant modes, then the CPU reference, then the vendor baselines */
    static const lc_mode modes[] = {LC_MODE_STRICT,    LC_MODE_FAST,        LC_MODE_BF16,
                                    LC_MODE_REFERENCE, LC_MODE_VENDOR_BF16, LC_MODE_VENDOR_FP32};
    static const char *const positions[] = {"first", "last"};
    lc_sweep_params sp;
    lc_sweep_params_default(&sp);
    sp.model = model;
    sp.backends = backends;
    sp.n_backends = have_gpu ? 2 : 1;
    sp.modes = modes;
    sp.n_modes = have_gpu ? 6 : 4; /* combinations a backend lacks are skipped */
    sp.batch_sizes = batches;
    sp.n_batch_sizes = lb.n;
    sp.positions = positions;
    sp.n_positions = 2;
    sp.prompts = &ps;
    sp.max_new = max_new;
    sp.neighbour_seed = seed;
    sp.out_dir = keep ? sdir : NULL;
    cli_progress prog;
    cli_progress_start(&prog, "demo", 1);
    sp.progress = cli_progress_cb;
    sp.progress_user = &prog;
    st = lc_sweep_run(&sp, &res);
    cli_progress_end(&prog);
    if (st != LC_OK) rc = cli_fail(CMD, "the sweep", st, CLI_FAIL);
    if (!rc && keep) rc = cli_plot_sweep(CMD, res, sdir);
  }
  if (!rc) {
    const lc_model_config *mc = &syn.config;
    printf("layercast %s demo: synthetic %s model (dim %d, %d layers, vocab %d, seed %llu)\n",
           lc_version_string(), lc_arch_name(mc->arch), (int)mc->dim, (int)mc->n_layers,
           (int)mc->vocab_size, (unsigned long long)syn.seed);
    printf(
        "  %d prompts of 4-12 tokens, %d new tokens each (greedy); each prompt is the target "
        "row\n  at the first and the last position of batches of size %s whose other rows "
        "are\n  the other prompts; GPU: %s\n\n",
        (int)n_prompts, (int)max_new, bs,
        have_gpu ? "yes" : (cpu_only ? "not used (--cpu-only)" : "none found"));
    int ok = print_demo(res);
    rc = demo_text(dir, model, have_gpu, 8, &ok);
    printf(
        "  strict, fast and bf16 promise 1 unique output per prompt whatever the batch and\n"
        "  position; reference and the vendor modes promise nothing.  %.1f s in all.%s%s\n",
        cli_now_s() - t0, keep ? "  Files in " : "", keep ? keep : "");
    if (!rc && !ok) {
      fprintf(stderr, "layercast demo: an invariant mode was not reproducible: a bug\n");
      rc = CLI_BROKEN;
    }
  }
  lc_sweep_result_free(res);
  lc_prompt_list_free(&ps);
  cli_list_free(&lb);
  free(batches);
  if (!keep && dir) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return rc;
}
