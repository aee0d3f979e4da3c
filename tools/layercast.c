/*
 * tools/layercast.c — the layercast command-line tool.
 *
 *   layercast demo            a small sweep on an embedded synthetic model: CPU
 *                             strict and reference, and on a GPU CUDA strict and
 *                             the vendor baselines (the README's main command)
 *   layercast demo --matmul   one matmul row inside batches of many sizes,
 *                             strict and reference side by side, on the CPU
 *   layercast version         library version and the canonical-order constants
 *
 * generate, sweep, compare, verify and synth live in tools/cli_<name>.c.
 */
#define _GNU_SOURCE /* getopt_long, mkdtemp */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "layercast.h"
#include "tools/cli.h"
#include "tools/cli_common.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64 + Box-Muller: reproducible inputs from a seed */
static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static float rng_normal(uint64_t *s) {
  double u1 = ((double)(rng_next(s) >> 11) + 1.0) * 0x1p-53;
  double u2 = (double)(rng_next(s) >> 11) * 0x1p-53;
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static int die(const char *what, lc_status st, const lc_context *ctx) {
  fprintf(stderr, "layercast: %s: %s\n  %s\n", what, lc_status_string(st), lc_last_error(ctx));
  return 1;
}

static void demo_matmul_usage(FILE *f) {
  fprintf(f,
          "usage: layercast demo --matmul [--k K] [--n N] [--seed S] [--threads T]\n"
          "\n"
          "Computes y = x W^T (W: N x K bf16, x fp32) for batches of many sizes M on the CPU,\n"
          "with a fixed probe row at the first and the last position of each batch and random\n"
          "other rows, in strict mode (canonical order) and reference mode (OpenBLAS sgemm),\n"
          "and reports how many distinct results the probe row got across all batches.\n"
          "\n"
          "  --k K        inner dimension (default 4096)\n"
          "  --n N        output columns (default 1024)\n"
          "  --seed S     seed for the weights and rows (default 1)\n"
          "  --threads T  OpenBLAS threads for reference mode (default 1)\n"
          "  -h, --help   this text\n");
}

typedef struct demo_stats {
  int distinct;        /* distinct bit patterns of the probe row */
  double max_normwise; /* max ||row - strict(M=1)|| / ||strict(M=1)|| */
  double seconds;      /* time in lc_matmul, all batches */
} demo_stats;

static double normwise(const float *a, const float *b, int64_t n) {
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)a[i] - (double)b[i];
    num += d * d;
    den += (double)b[i] * (double)b[i];
  }
  return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

static int demo_matmul(int argc, char **argv) {
  int64_t k = 4096, n = 1024;
  uint64_t seed = 1;
  int threads = 1;
  static const struct option opts[] = {
      {"k", required_argument, 0, 'k'},    {"n", required_argument, 0, 'n'},
      {"seed", required_argument, 0, 's'}, {"threads", required_argument, 0, 't'},
      {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
      case 'k':
        k = strtoll(optarg, &end, 10);
        break;
      case 'n':
        n = strtoll(optarg, &end, 10);
        break;
      case 's':
        seed = strtoull(optarg, &end, 10);
        break;
      case 't':
        threads = (int)strtol(optarg, &end, 10);
        break;
      case 'h':
        demo_matmul_usage(stdout);
        return 0;
      default:
        demo_matmul_usage(stderr);
        return 2;
    }
    if (end && *end) {
      fprintf(stderr, "layercast demo: '%s' is not a number\n", optarg);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "layercast demo: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  if (k < 1 || n < 1 || k > (1 << 20) || n > (1 << 20) || threads < 1) {
    fprintf(stderr, "layercast demo: need 1 <= K, N <= 2^20 and threads >= 1\n");
    return 2;
  }
  static const int64_t sizes[] = {1,  2,  3,  4,  5,  7,   8,   9,   15,  16,  17, 31,
                                  32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257};
  const int n_sizes = (int)(sizeof sizes / sizeof sizes[0]);
  const int64_t max_m = 257;

  int rc = 1;
  float *w = malloc((size_t)(n * k) * sizeof *w);
  float *x = malloc((size_t)(max_m * k) * sizeof *x);
  float *y = malloc((size_t)(max_m * n) * sizeof *y);
  float *probe = malloc((size_t)k * sizeof *probe);
  /* results[mode][size][first/last] rows of n floats */
  float *res = malloc((size_t)(2 * n_sizes * 2 * n) * sizeof *res);
  lc_context *ctx[2] = {NULL, NULL};
  lc_weights *wt[2] = {NULL, NULL};
  if (!w || !x || !y || !probe || !res) {
    fprintf(stderr, "layercast demo: out of memory\n");
    goto done;
  }
  uint64_t s = seed;
  const float wscale = 1.0f / sqrtf((float)k); /* keeps |y| near 1 */
  for (int64_t i = 0; i < n * k; i++) w[i] = wscale * rng_normal(&s);
  for (int64_t i = 0; i < k; i++) probe[i] = rng_normal(&s);

  const lc_mode modes[2] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  demo_stats st[2] = {{0, 0.0, 0.0}, {0, 0.0, 0.0}};
  for (int mi = 0; mi < 2; mi++) {
    lc_context_params p;
    lc_context_params_default(&p);
    p.mode = modes[mi];
    p.cpu_threads = threads;
    lc_status e = lc_context_create(&p, &ctx[mi]);
    if (e != LC_OK) {
      rc = die("creating the context", e, NULL);
      goto done;
    }
    e = lc_weights_create(ctx[mi], n, k, LC_DTYPE_F32, w, &wt[mi]);
    if (e != LC_OK) {
      rc = die("creating the weights", e, ctx[mi]);
      goto done;
    }
    for (int si = 0; si < n_sizes; si++) {
      int64_t m = sizes[si];
      uint64_t rs = seed * 1000003u + (uint64_t)m; /* other rows differ per batch */
      for (int64_t i = 0; i < m * k; i++) x[i] = rng_normal(&rs);
      memcpy(x, probe, (size_t)k * sizeof *x);               /* first position */
      memcpy(x + (m - 1) * k, probe, (size_t)k * sizeof *x); /* last position */
      double t0 = now_s();
      e = lc_matmul(ctx[mi], x, m, wt[mi], NULL, y);
      st[mi].seconds += now_s() - t0;
      if (e != LC_OK) {
        rc = die("lc_matmul", e, ctx[mi]);
        goto done;
      }
      float *r = res + ((size_t)(mi * n_sizes + si) * 2) * (size_t)n;
      memcpy(r, y, (size_t)n * sizeof *y);
      memcpy(r + n, y + (m - 1) * n, (size_t)n * sizeof *y);
    }
  }
  /* distinct results of the probe row per mode, and distance to strict M=1 */
  const float *base = res; /* strict, M = 1, first position */
  for (int mi = 0; mi < 2; mi++) {
    const float *rows = res + (size_t)mi * n_sizes * 2 * (size_t)n;
    int n_rows = n_sizes * 2, distinct = 0;
    for (int i = 0; i < n_rows; i++) {
      int seen = 0;
      for (int j = 0; j < i && !seen; j++)
        seen = memcmp(rows + (size_t)i * n, rows + (size_t)j * n, (size_t)n * sizeof(float)) == 0;
      if (!seen) distinct++;
      double d = normwise(rows + (size_t)i * n, base, n);
      if (d > st[mi].max_normwise) st[mi].max_normwise = d;
    }
    st[mi].distinct = distinct;
  }
  printf("layercast %s demo (CPU): one row of y = x W^T inside batches of %d sizes\n",
         lc_version_string(), n_sizes);
  printf("  W: %" PRId64 " x %" PRId64 " bf16 (seed %" PRIu64
         "), probe row at the first and last "
         "position of batches M = 1 .. 257, other rows random; OpenBLAS threads: %d\n",
         n, k, seed, threads);
  printf("\n  %-10s %26s %28s %12s\n", "mode", "distinct probe-row results",
         "max normwise diff vs strict", "matmul time");
  for (int mi = 0; mi < 2; mi++)
    printf("  %-10s %26d %28.3g %10.3f s\n", lc_mode_name(modes[mi]), st[mi].distinct,
           st[mi].max_normwise, st[mi].seconds);
  printf(
      "\n  strict promises 1 distinct result (bitwise batch invariance); reference promises\n"
      "  nothing: its count is whatever OpenBLAS's blocking gives on this machine.\n");
  rc = (st[0].distinct == 1) ? 0 : 3;
  if (rc)
    fprintf(stderr, "layercast demo: strict gave %d distinct results: a bug\n", st[0].distinct);
done:
  for (int mi = 0; mi < 2; mi++) {
    lc_weights_free(wt[mi]);
    lc_context_free(ctx[mi]);
  }
  free(w);
  free(x);
  free(y);
  free(probe);
  free(res);
  return rc;
}

/* ---- demo: a small sweep on the embedded default synthetic model ---------- */

static void demo_usage(FILE *f) {
  fprintf(f,
          "usage: layercast demo [--prompts N] [--max-new N] [--batch-sizes LIST] [--seed S]\n"
          "                      [--cpu-only] [--keep DIR]\n"
          "       layercast demo --matmul [--help | matmul options]\n"
          "\n"
          "Writes the default synthetic model (lc_synth_params_default) into a temporary\n"
          "directory and runs a small sweep: N generated prompts, each the target row of\n"
          "batches of several sizes at the first and the last position, greedy, on the CPU in\n"
          "strict and reference mode, and on a GPU (when one is present) in CUDA strict,\n"
          "vendor-bf16 and vendor-fp32.  Prints the unique outputs per prompt per mode, the\n"
          "first divergence index, and whether CPU strict and CUDA strict agreed bitwise.\n"
          "\n"
          "  --prompts N        generated prompts (default 4)\n"
          "  --max-new N        tokens per row (default 24)\n"
          "  --batch-sizes L    (default 1,3,8,16)\n"
          "  --seed S           prompts' seed (default 1)\n"
          "  --cpu-only         do not use a GPU even when one is present\n"
          "  --keep DIR         write the model and the sweep's files into DIR and keep them\n"
          "  --matmul           the matmul demo instead ('demo --matmul --help')\n"
          "  -h, --help         this text\n");
}

/* Removes the files of a flat directory, then the directory. */
static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char *p = cli_path_join(dir, e->d_name);
      if (p) remove(p);
      free(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

static int cmd_demo(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--matmul")) {
      /* the matmul demo with the remaining options */
      char **av = malloc((size_t)argc * sizeof *av);
      if (!av) return 1;
      int n = 0;
      for (int j = 0; j < argc; j++)
        if (j != i) av[n++] = argv[j];
      av[n] = NULL;
      int rc = demo_matmul(n, av);
      free(av);
      return rc;
    }
  static const char *const CMD = "demo";
  static const struct option opts[] = {{"prompts", required_argument, 0, 'p'},
                                       {"max-new", required_argument, 0, 'n'},
                                       {"batch-sizes", required_argument, 0, 'b'},
                                       {"seed", required_argument, 0, 's'},
                                       {"cpu-only", no_argument, 0, 'c'},
                                       {"keep", required_argument, 0, 'k'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  int32_t n_prompts = 4, max_new = 24;
  uint64_t seed = 1;
  const char *bs = "1,3,8,16", *keep = NULL;
  int cpu_only = 0, rc = 0, c;
  optind = 1;
  while (!rc && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'p':
        rc = cli_parse_i32(CMD, "--prompts", optarg, 1, 10000, &n_prompts);
        break;
      case 'n':
        rc = cli_parse_i32(CMD, "--max-new", optarg, 1, 100000, &max_new);
        break;
      case 'b':
        bs = optarg;
        break;
      case 's':
        rc = cli_parse_u64(CMD, "--seed", optarg, &seed);
        break;
      case 'c':
        cpu_only = 1;
        break;
      case 'k':
        keep = optarg;
        break;
      case 'h':
        demo_usage(stdout);
        return 0;
      default:
        demo_usage(stderr);
        return 2;
    }
  }
  if (rc) return rc;
  if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);

  sweep_config cfg;
  memset(&cfg, 0, sizeof cfg);
  sweep_result res;
  memset(&res, 0, sizeof res);
  cli_prompts ps = {NULL, 0};
  char **bsl = NULL;
  int nbs = 0;
  char tmpl[] = "/tmp/layercast-demo-XXXXXX";
  char *dir = NULL, *model_dir = NULL;
  if ((rc = cli_split_list(CMD, "--batch-sizes", bs, &bsl, &nbs))) return rc;
  cfg.batch_sizes = malloc((size_t)nbs * sizeof *cfg.batch_sizes);
  if (!cfg.batch_sizes) {
    cli_free_list(bsl, nbs);
    return 1;
  }
  cfg.n_batch_sizes = nbs;
  for (int i = 0; i < nbs && !rc; i++)
    rc = cli_parse_i32(CMD, "--batch-sizes", bsl[i], 1, 4096, &cfg.batch_sizes[i]);
  cli_free_list(bsl, nbs);
  if (rc) {
    free(cfg.batch_sizes);
    return rc;
  }
  if (keep) {
    if (cli_mkdir(CMD, keep)) {
      free(cfg.batch_sizes);
      return 1;
    }
    dir = (char *)keep;
  } else if (!(dir = mkdtemp(tmpl))) {
    fprintf(stderr, "layercast demo: cannot create a temporary directory: %s\n", strerror(errno));
    free(cfg.batch_sizes);
    return 1;
  }
  model_dir = cli_path_join(dir, "model");
  double t0 = now_s();
  lc_synth_params sp;
  lc_synth_params_default(&sp);
  lc_status st;
  if (!model_dir) {
    rc = 1;
    goto done;
  }
  if ((st = lc_synth_write(model_dir, &sp)) != LC_OK) {
    rc = cli_fail(CMD, "writing the synthetic model", st, NULL);
    goto done;
  }
  if ((rc = cli_random_prompts(CMD, seed, n_prompts, 4, 12, sp.config.vocab_size, &ps))) goto done;

  int have_gpu = 0;
  if (!cpu_only) {
    lc_context_params cp;
    lc_context_params_default(&cp);
    cp.backend = LC_BACKEND_CUDA;
    lc_context *g = NULL;
    have_gpu = lc_context_create(&cp, &g) == LC_OK;
    lc_context_free(g);
  }
  static char *backends[] = {"cpu", "cuda"};
  static char *modes[] = {"strict", "reference", "vendor-bf16", "vendor-fp32"};
  static char *positions[] = {"first", "last"};
  cfg.model = model_dir;
  cfg.backends = backends;
  cfg.n_backends = have_gpu ? 2 : 1;
  cfg.modes = modes;
  cfg.n_modes = have_gpu ? 4 : 2; /* combinations a backend lacks are skipped quietly */
  cfg.positions = positions;
  cfg.n_positions = 2;
  cfg.repeats = 1;
  cfg.prompts = &ps;
  cfg.max_new = max_new;
  cfg.stop_token = -1;
  lc_sampler_params_default(&cfg.gen.sampler);
  cfg.kv_dtype = LC_DTYPE_F32;
  cfg.neighbour_seed = seed;
  cfg.threads = 1;
  cfg.progress = -1;
  cfg.quiet = 1;
  cfg.out_dir = NULL;
  if ((rc = sweep_run(CMD, &cfg, &res))) goto done;

  const lc_model_config *mc = &sp.config;
  printf("layercast %s demo: synthetic %s model (dim %d, %d layers, vocab %d, seed %llu)\n",
         lc_version_string(), lc_arch_name(mc->arch), (int)mc->dim, (int)mc->n_layers,
         (int)mc->vocab_size, (unsigned long long)sp.seed);
  printf(
      "  %d prompts of 4-12 tokens, %d new tokens each (greedy); each prompt is the target "
      "row\n  at the first and the last position of batches of size %s whose other rows "
      "are\n  the other prompts; GPU: %s\n\n",
      (int)n_prompts, (int)max_new, bs,
      have_gpu ? "yes" : (cpu_only ? "not used (--cpu-only)" : "none found"));
  printf("  %-5s %-12s %5s  %-22s %-22s %s\n", "back", "mode", "runs", "unique outputs/prompt",
         "Div_Index/prompt", "Avg_Std@top1_prob");
  int strict_ok = 1, cpu_strict = -1, cuda_strict = -1;
  for (int g = 0; g < res.n_groups; g++) {
    const sweep_group *G = &res.groups[g];
    if (!G->available || !G->have_metrics) continue;
    char u[128] = "", d[128] = "";
    size_t ul = 0, dl = 0;
    for (int32_t p = 0; p < res.n_prompts; p++) {
      if (ul < sizeof u)
        ul += (size_t)snprintf(u + ul, sizeof u - ul, "%s%d", p ? " " : "", (int)G->pm[p].n_unique);
      if (dl < sizeof d) {
        if (G->pm[p].div_index < 0)
          dl += (size_t)snprintf(d + dl, sizeof d - dl, "%s-", p ? " " : "");
        else
          dl += (size_t)snprintf(d + dl, sizeof d - dl, "%s%d", p ? " " : "",
                                 (int)G->pm[p].div_index);
      }
    }
    printf("  %-5s %-12s %5d  %-22s %-22s %.3g\n", lc_backend_name(G->backend),
           lc_mode_name(G->mode), (int)G->n_runs, u, d, G->gm.avg_std_top1);
    if (G->mode == LC_MODE_STRICT) {
      if (G->gm.unique_max != 1) strict_ok = 0;
      if (G->backend == LC_BACKEND_CPU) cpu_strict = g;
      if (G->backend == LC_BACKEND_CUDA) cuda_strict = g;
    }
  }
  printf(
      "\n  Div_Index: the first token index where a prompt's runs differ ('-': never);\n"
      "  Avg_Std@top1_prob: how much the top-1 probability moved across runs (docs/metrics.md).\n");
  if (cpu_strict >= 0 && cuda_strict >= 0) {
    int agree = sweep_groups_agree(&res, cpu_strict, cuda_strict);
    printf("  CPU strict and CUDA strict: %s\n",
           agree ? "bitwise identical tokens and logits in every run"
                 : "DIFFERENT (a bug: strict promises the same bits)");
    if (!agree) strict_ok = 0;
  } else {
    printf("  CPU strict vs CUDA strict: no GPU here, not compared.\n");
  }
  printf(
      "  strict promises 1 unique output per prompt whatever the batch and position; the\n"
      "  other modes promise nothing.  %.1f s in all.\n",
      now_s() - t0);
  if (!strict_ok) {
    fprintf(stderr, "layercast demo: strict mode was not reproducible: a bug\n");
    rc = 3;
  }
done:
  sweep_result_free(&res);
  cli_prompts_free(&ps);
  free(cfg.batch_sizes);
  if (!keep && dir) {
    if (model_dir) remove_tree(model_dir);
    rmdir(dir);
  }
  free(model_dir);
  return rc;
}

static int cmd_version(void) {
  lc_canon_info ci;
  lc_canon_get_info(&ci);
  printf(
      "layercast %s (canonical order v%d: matmul segment %d, attention partition %d, "
      "%d reduction lanes, head_dim <= %d)\n",
      lc_version_string(), ci.version, ci.matmul_seg_len, ci.attn_partition, ci.reduce_lanes,
      ci.max_head_dim);
  return 0;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: layercast <command> [options]\n"
          "\n"
          "commands:\n"
          "  demo      a small reproducibility sweep on an embedded synthetic model\n"
          "            (CPU; and the GPU when present); demo --matmul: one matmul row\n"
          "  generate  run a model on token ids: any backend, mode, batch and row position\n"
          "  sweep     accuracy-variance study over batch sizes, positions, modes, backends\n"
          "  compare   teacher-forced replay of one configuration's tokens under another\n"
          "  verify    GPU vs CPU, op by op and whole model; or two run records\n"
          "  synth     write a synthetic Llama/Qwen checkpoint from a seed\n"
          "  version   library version and canonical-order constants\n"
          "\n"
          "'layercast <command> --help' describes a command.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "demo")) return cmd_demo(argc - 1, argv + 1);
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) return cmd_version();
  if (!strcmp(cmd, "generate")) return cmd_generate(argc - 1, argv + 1);
  if (!strcmp(cmd, "sweep")) return cmd_sweep(argc - 1, argv + 1);
  if (!strcmp(cmd, "compare")) return cmd_compare(argc - 1, argv + 1);
  if (!strcmp(cmd, "verify")) return cmd_verify(argc - 1, argv + 1);
  if (!strcmp(cmd, "synth")) return cmd_synth(argc - 1, argv + 1);
  fprintf(stderr, "layercast: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
