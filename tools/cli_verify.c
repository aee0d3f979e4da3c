/*
 * tools/cli_verify.c — `layercast verify`: the promises of docs/numerics.md,
 * checked on this machine.  Parses the options, calls the library
 * (lc_verify_ops, lc_verify_model of layercast_experiment.h) and prints its
 * reports.
 *
 *   verify ops [--shapes small|model]
 *       every op of layercast.h on random inputs: CUDA strict against CPU
 *       strict bit for bit (the count of differing elements must be 0), and
 *       CPU reference against CPU strict within a bound derived from the two
 *       orders of operations (each bound's origin is written beside it in
 *       lib/verify_ops.c).
 *   verify model --model PATH [--tokens N]
 *       a batch of sequences (mixed chunked prefill and decode steps, teacher
 *       forced) through the whole model: CUDA strict against CPU strict bit
 *       for bit per position and per layer, CPU reference against CPU strict
 *       within a stated normwise bound.
 *   verify records A.jsonl B.jsonl   (tools/cli_records.c)
 *
 * Without a GPU (or a build without CUDA) the GPU half is reported as
 * SKIPPED, with the reason, and the CPU half runs; the final line then says
 * "PASS (CPU half only; ...)", never a bare PASS.  --require-gpu makes a
 * missing GPU fatal.  Exit status: 0 all checks that ran passed, 1 a check
 * failed or an error, 2 bad usage, 4 nothing was checked (--require-gpu
 * without a usable GPU).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layercast.h"
#include "layercast_experiment.h"
#include "tools/cli.h"
#include "tools/cli_common.h"

#define EXIT_NOTHING_CHECKED CLI_NOTHING

/* What ops and model share: the GPU half's options and the exit statuses. */
#define GPU_OPTS(p)                                                             \
  {"device",  CLI_I32, &(p).device, 0,                                          \
   INT32_MAX, NULL,    "D",         "CUDA device of the GPU half (default 0)"}, \
  {                                                                             \
    "require-gpu", CLI_FLAG, &(p).require_gpu, 0, 0, NULL, NULL,                \
        "a missing GPU is fatal (exit 4) instead of SKIPPED"                    \
  }
#define EXIT_TEXT                                                                 \
  "Exit status: 0 pass (the final line says when the GPU half was SKIPPED),\n"    \
  "1 a check failed or an error, 2 bad usage, 4 nothing checked (--require-gpu\n" \
  "and no usable GPU)."

/* The final line when every check that ran passed. */
static void print_pass(const lc_verify_gpu *g, const char *detail) {
  if (g->ran)
    printf("PASS%s%s\n", *detail ? ": " : "", detail);
  else
    printf("PASS (CPU half only; GPU half SKIPPED: %s)\n", g->skip_reason);
}

/* A failed call: exit 4 when it failed for want of the GPU that
 * --require-gpu asked for (nothing was checked), else 1. */
static int verify_error(const char *cmd, const char *what, lc_status st, int require_gpu) {
  cli_fail(cmd, what, st, CLI_FAIL);
  if (st != LC_ERR_NO_DEVICE || !require_gpu) return CLI_FAIL;
  fprintf(stderr, "layercast %s: nothing was checked (--require-gpu, and no usable GPU)\n", cmd);
  return EXIT_NOTHING_CHECKED;
}

static void print_gpu(const lc_verify_gpu *g) {
  if (g->ran)
    printf("  GPU: %s (sm_%d%d)\n", g->name, g->cc_major, g->cc_minor);
  else
    printf("  GPU half SKIPPED (no usable CUDA device: %s)\n", g->skip_reason);
}

/* ---- verify ops -------------------------------------------------------------------*/

static void print_op_row(const lc_verify_op_row *r) {
  char gpu[40], ref[40];
  if (r->gpu_ran) {
    snprintf(gpu, sizeof gpu, "%" PRId64 " of %" PRId64, r->gpu_ndiff, r->n);
    if (r->gpu_ndiff)
      fprintf(stderr, "  %s: first differing element %" PRId64 ": cuda %a, cpu %a\n", r->op,
              r->gpu_first_diff, (double)r->gpu_first_cuda, (double)r->gpu_first_cpu);
  } else {
    snprintf(gpu, sizeof gpu, "SKIPPED");
  }
  if (r->exact)
    snprintf(ref, sizeof ref, "%s", r->ratio == 0.0 ? "equal" : "DIFFER");
  else
    snprintf(ref, sizeof ref, "%.3g of bound", r->ratio);
  if (!(r->ratio <= 1.0) && r->worst >= 0)
    fprintf(stderr,
            "  %s: worst element %" PRId64 ": strict %.9g, reference %.9g, |d| %.3g, bound %.3g\n",
            r->op, r->worst, (double)r->worst_strict, (double)r->worst_ref,
            fabs((double)r->worst_strict - (double)r->worst_ref), r->worst_bound);
  printf("  %-22s %-30s %-20s %-13s %s%s\n", r->op, r->shape, gpu, ref, r->bound,
         r->fail ? "  FAIL" : "");
}

static int verify_ops(int argc, char **argv) {
  static const char cmd[] = "verify ops";
  lc_verify_ops_params p;
  lc_verify_ops_params_default(&p);
  int shapes = 0, rc;
  const cli_opt opts[] = {
      {"shapes", CLI_CHOICE, &shapes, 0, 0, "small|model", "S",
       "small: shapes that cross the segment and partition edges (default;\na second); model: "
       "Llama-3-8B layer shapes (dim 4096, d_ff 14336, vocab\n128256, 32/8 heads of 128); tens "
       "of seconds on the CPU"},
      {"seed", CLI_U64, &p.seed, 0, 0, NULL, "S", "input seed (default 1)"},
      GPU_OPTS(p),
      CLI_END};
  const cli_cmd c = {
      cmd, "[--shapes small|model] [--seed S] [--device D] [--require-gpu]",
      "Runs every op on random inputs on CPU strict, CPU reference and (when a GPU is\n"
      "present) CUDA strict.  CUDA strict must equal CPU strict bit for bit; CPU\n"
      "reference must lie within the stated bound of CPU strict (each bound is\n"
      "derived in lib/verify_ops.c from the two orders of operations).",
      opts, EXIT_TEXT};
  if ((rc = cli_parse(&c, argc, argv))) return rc < 0 ? 0 : rc;
  p.shapes = shapes ? LC_VERIFY_SHAPES_MODEL : LC_VERIFY_SHAPES_SMALL;
  lc_verify_ops_report *r = NULL;
  lc_status st = lc_verify_ops(&p, &r);
  if (st != LC_OK) return verify_error(cmd, "lc_verify_ops", st, p.require_gpu);
  printf("layercast verify ops (%s shapes, seed %" PRIu64 ")\n",
         r->shapes == LC_VERIFY_SHAPES_SMALL ? "small" : "model", r->seed);
  print_gpu(&r->gpu);
  printf("  %-22s %-30s %-20s %-13s %s\n", "op", "shape", "cuda vs cpu strict", "ref vs strict",
         "bound of |ref - strict|");
  int gpu_fail = 0, cpu_fail = 0;
  for (int32_t i = 0; i < r->n_rows; i++) {
    print_op_row(&r->rows[i]);
    gpu_fail |= r->rows[i].gpu_ndiff > 0;
    cpu_fail |= !(r->rows[i].ratio <= 1.0);
  }
  printf("\n");
  if (r->n_fail)
    printf("FAIL: CUDA strict vs CPU strict %s; CPU reference vs CPU strict %s\n",
           !r->gpu.ran ? "SKIPPED"
           : gpu_fail  ? "DIFFER (see the FAIL rows)"
                       : "bitwise on every op",
           cpu_fail ? "see the FAIL rows" : "within every bound");
  else
    print_pass(&r->gpu,
               "CUDA strict vs CPU strict bitwise on every op; CPU reference vs CPU "
               "strict within every bound");
  rc = r->n_fail ? 1 : 0;
  lc_verify_ops_report_free(r);
  return rc;
}

/* ---- verify model -----------------------------------------------------------------*/

static void print_model_report(const char *path, const lc_verify_model_report *r) {
  printf(
      "layercast verify model: %s\n  %d sequences (prompts of %d, %d, %d tokens, prefill in "
      "chunks of %d, then %d decode steps), one batch\n",
      path, LC_VERIFY_MODEL_SEQS, r->prompt_len[0], r->prompt_len[1], r->prompt_len[2], r->chunk,
      r->tokens);
  print_gpu(&r->gpu);
  printf("\n  %4s %-10s %-8s %-26s %-13s %s\n", "seq", "positions", "kind",
         "cuda vs cpu strict (bits)", "first layer", "ref vs strict (normwise)");
  for (int32_t i = 0; i < r->n_rows; i++) {
    const lc_verify_model_row *w = &r->rows[i];
    char posr[32], gpu[64], fls[16];
    snprintf(posr, sizeof posr, w->n_pos > 1 ? "%d-%d" : "%d", w->pos, w->pos + w->n_pos - 1);
    if (w->gpu_ran)
      snprintf(gpu, sizeof gpu, "%" PRId64 " of %" PRId64 " differ", w->gpu_ndiff, w->gpu_n);
    else
      snprintf(gpu, sizeof gpu, "SKIPPED");
    if (w->first_layer < 0)
      snprintf(fls, sizeof fls, "-");
    else if (w->first_layer == r->n_layers)
      snprintf(fls, sizeof fls, "norm");
    else
      snprintf(fls, sizeof fls, "%d", w->first_layer);
    printf("  %4d %-10s %-8s %-26s %-13s %.3g%s\n", w->seq, posr, w->prefill ? "prefill" : "decode",
           gpu, fls, w->rel, w->fail ? "  FAIL" : "");
  }
  printf("\n");
  if (!r->gpu.ran)
    printf("  CUDA strict vs CPU strict: SKIPPED (no GPU)\n");
  else if (r->gpu_differs)
    printf("  CUDA strict vs CPU strict: DIFFER; first at layer %d, sequence %d, position %d\n",
           r->first_layer, r->first_seq, r->first_pos);
  else
    printf("  CUDA strict vs CPU strict: bitwise equal (logits and all %d layer outputs)\n",
           r->n_layers + 1);
  printf("  CPU reference vs CPU strict: worst normwise relative difference %.3g (bound %.3g)\n",
         r->worst_rel, r->rtol);
  if (r->n_fail)
    printf("FAIL\n");
  else
    print_pass(&r->gpu, "");
}

static int verify_model(int argc, char **argv) {
  static const char cmd[] = "verify model";
  lc_verify_model_params p;
  lc_verify_model_params_default(&p);
  const char *rtol = NULL;
  int rc;
  const cli_opt opts[] = {
      {"model", CLI_STR, &p.model, 0, 0, NULL, "PATH",
       "llama2.c .bin, or a Hugging Face directory"},
      {"tokens", CLI_I32, &p.tokens, 0, 4096, NULL, "N",
       "decode steps after each prompt (default 8)"},
      {"chunk", CLI_I32, &p.chunk, 1, 4096, NULL, "C", "prefill chunk (default 16)"},
      {"seed", CLI_U64, &p.seed, 0, 0, NULL, "S", "prompt seed (default 1)"},
      {"rtol", CLI_STR, &rtol, 0, 0, NULL, "R",
       "the normwise bound (default 2^-10 = 0.0009765625)"},
      GPU_OPTS(p),
      CLI_END};
  const cli_cmd c = {
      cmd,
      "--model PATH [--tokens N] [--chunk C] [--seed S] [--rtol R] [--device D] [--require-gpu]",
      "Three sequences of different prompt lengths in one batch (chunked prefill\n"
      "mixed with decode steps, teacher-forced with random tokens) on CPU strict,\n"
      "CPU reference and (with a GPU) CUDA strict.  CUDA strict must equal CPU\n"
      "strict bit for bit at every position and every layer; CPU reference must\n"
      "be within ||ref - strict|| / ||strict|| <= 2^-10 per position (a stated,\n"
      "empirical bound: see LC_VERIFY_MODEL_RTOL in layercast_experiment.h).",
      opts, EXIT_TEXT};
  if ((rc = cli_parse(&c, argc, argv))) return rc < 0 ? 0 : rc;
  if (rtol) { /* a double: the bound is compared in double */
    char *end = NULL;
    p.rtol = strtod(rtol, &end);
    if (end == rtol || *end || !(p.rtol > 0) || !isfinite(p.rtol))
      return cli_usage_error(cmd, "--rtol: expected a positive number, got '%s'", rtol);
  }
  if (!p.model) return cli_usage_error(cmd, "--model PATH is required");
  lc_verify_model_report *r = NULL;
  lc_status st = lc_verify_model(&p, &r);
  if (st != LC_OK) return verify_error(cmd, "lc_verify_model", st, p.require_gpu);
  print_model_report(p.model, r);
  rc = r->n_fail ? 1 : 0;
  lc_verify_model_report_free(r);
  return rc;
}

/* ---- dispatch -------------------------------------------------------------------*/

static void usage(FILE *f) {
  fprintf(f,
          "usage: layercast verify ops [--shapes small|model] [--require-gpu]\n"
          "       layercast verify model --model PATH [--tokens N] [--require-gpu]\n"
          "       layercast verify records A.jsonl B.jsonl\n"
          "\n"
          "  ops      every op: CUDA strict == CPU strict bitwise, CPU reference within\n"
          "           derived bounds of CPU strict\n"
          "  model    a whole model, the same two checks per position and per layer\n"
          "  records  two sweep run records (maybe from two machines): strict runs must\n"
          "           match bitwise; other modes' agreement reported\n"
          "\n"
          "Without a GPU the GPU half of ops and model is reported as SKIPPED (the final\n"
          "line says \"PASS (CPU half only; ...)\"); --require-gpu makes that fatal.\n"
          "'layercast verify <what> --help' describes each.  Exit status 0 pass, 1 fail\n"
          "or error, 2 bad usage, 4 nothing checked (--require-gpu and no usable GPU).\n");
}

int cmd_verify(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *w = argv[1];
  if (!strcmp(w, "-h") || !strcmp(w, "--help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(w, "ops")) return verify_ops(argc - 1, argv + 1);
  if (!strcmp(w, "model")) return verify_model(argc - 1, argv + 1);
  if (!strcmp(w, "records")) return cli_verify_records(argc - 1, argv + 1);
  fprintf(stderr, "layercast verify: unknown check '%s'\n", w);
  usage(stderr);
  return 2;
}
