/*
 * tools/cli_verify.c — `layercast verify`: the promises of docs/numerics.md,
 * checked on this machine.  Parses the options, calls the library
 * (lc_verify_ops, lc_verify_model of layercast_experiment.h) and prints its
 * reports.
 *
 *   verify ops [--shapes small|model] [--mode strict|fast|bf16]
 *       every op of layercast.h on random inputs: CUDA <mode> against CPU
 *       <mode> bit for bit (the count of differing elements must be 0), and
 *       CPU reference against CPU <mode> within a bound derived from the two
 *       orders of operations (each bound's origin is written beside it in
 *       lib/verify_ops.c).
 *   verify model --model PATH [--tokens N] [--mode strict|fast|bf16]
 *       a batch of sequences (mixed chunked prefill and decode steps, teacher
 *       forced) through the whole model: CUDA <mode> against CPU <mode> bit
 *       for bit per position and per layer, CPU reference against CPU <mode>
 *       within a stated normwise bound.
 *   The mode under test is strict by default; fast and bf16 change the
 *   matmul only (the other ops run the strict order in them).
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

/* What ops and model share: the mode under test, the GPU half's options and
 * the exit statuses. */
#define MODE_CHOICES "strict|fast|bf16"
static const lc_mode mode_of_choice[] = {LC_MODE_STRICT, LC_MODE_FAST, LC_MODE_BF16};
#define MODE_OPT(choice)                                                                       \
  {                                                                                            \
    "mode", CLI_CHOICE, &(choice), 0, 0, MODE_CHOICES, "M",                                    \
        "the mode under test: strict (default), fast (x as 3 bf16 parts on\ntensor cores) or " \
        "bf16 (x rounded to bf16); fast and bf16 change\nthe matmul only"                      \
  }
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

static void print_op_row(const lc_verify_op_row *r, const char *mode) {
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
            "  %s: worst element %" PRId64 ": %s %.9g, reference %.9g, |d| %.3g, bound %.3g\n",
            r->op, r->worst, mode, (double)r->worst_strict, (double)r->worst_ref,
            fabs((double)r->worst_strict - (double)r->worst_ref), r->worst_bound);
  printf("  %-22s %-30s %-20s %-13s %s%s\n", r->op, r->shape, gpu, ref, r->bound,
         r->fail ? "  FAIL" : "");
}

static int verify_ops(int argc, char **argv) {
  static const char cmd[] = "verify ops";
  lc_verify_ops_params p;
  lc_verify_ops_params_default(&p);
  int shapes = 0, choice = 0, rc;
  const cli_opt opts[] = {
      {"shapes", CLI_CHOICE, &shapes, 0, 0, "small|model", "S",
       "small: shapes that cross the segment and partition edges (default;\na second); model: "
       "Llama-3-8B layer shapes (dim 4096, d_ff 14336, vocab\n128256, 32/8 heads of 128); tens "
       "of seconds on the CPU"},
      {"seed", CLI_U64, &p.seed, 0, 0, NULL, "S", "input seed (default 1)"},
      MODE_OPT(choice),
      GPU_OPTS(p),
      CLI_END};
  const cli_cmd c = {
      cmd,
      "[--shapes small|model] [--seed S] [--mode strict|fast|bf16]\n"
      "       [--device D] [--require-gpu]",
      "Runs every op on random inputs on CPU <mode>, CPU reference and (when a GPU is\n"
      "present) CUDA <mode>; the mode is strict unless --mode says fast or bf16.\n"
      "CUDA <mode> must equal CPU <mode> bit for bit; CPU reference must lie within\n"
      "the stated bound of CPU <mode> (each bound is derived in lib/verify_ops.c\n"
      "from the two orders of operations; in fast and bf16 the matmul rows take\n"
      "the fast order's bound, the other ops run the strict order).",
      opts, EXIT_TEXT};
  if ((rc = cli_parse(&c, argc, argv))) return rc < 0 ? 0 : rc;
  p.shapes = shapes ? LC_VERIFY_SHAPES_MODEL : LC_VERIFY_SHAPES_SMALL;
  p.mode = mode_of_choice[choice];
  lc_verify_ops_report *r = NULL;
  lc_status st = lc_verify_ops(&p, &r);
  if (st != LC_OK) return verify_error(cmd, "lc_verify_ops", st, p.require_gpu);
  const char *mode = lc_mode_name(r->mode);
  printf("layercast verify ops (%s shapes, seed %" PRIu64 ", mode %s)\n",
         r->shapes == LC_VERIFY_SHAPES_SMALL ? "small" : "model", r->seed, mode);
  print_gpu(&r->gpu);
  char gcol[32], rcol[32], bcol[40];
  snprintf(gcol, sizeof gcol, "cuda vs cpu %s", mode);
  snprintf(rcol, sizeof rcol, "ref vs %s", mode);
  snprintf(bcol, sizeof bcol, "bound of |ref - %s|", mode);
  printf("  %-22s %-30s %-20s %-13s %s\n", "op", "shape", gcol, rcol, bcol);
  int gpu_fail = 0, cpu_fail = 0;
  for (int32_t i = 0; i < r->n_rows; i++) {
    print_op_row(&r->rows[i], mode);
    gpu_fail |= r->rows[i].gpu_ndiff > 0;
    cpu_fail |= !(r->rows[i].ratio <= 1.0);
  }
  printf("\n");
  if (r->n_fail) {
    printf("FAIL: CUDA %s vs CPU %s %s; CPU reference vs CPU %s %s\n", mode, mode,
           !r->gpu.ran ? "SKIPPED"
           : gpu_fail  ? "DIFFER (see the FAIL rows)"
                       : "bitwise on every op",
           mode, cpu_fail ? "see the FAIL rows" : "within every bound");
  } else {
    char detail[160];
    snprintf(detail, sizeof detail,
             "CUDA %s vs CPU %s bitwise on every op; CPU reference vs CPU %s within every bound",
             mode, mode, mode);
    print_pass(&r->gpu, detail);
  }
  rc = r->n_fail ? 1 : 0;
  lc_verify_ops_report_free(r);
  return rc;
}

/* ---- verify model -----------------------------------------------------------------*/

static void print_model_report(const char *path, int32_t tp, const lc_verify_model_report *r) {
  const char *mode = lc_mode_name(r->mode);
  printf(
      "layercast verify model: %s (mode %s)\n  %d sequences (prompts of %d, %d, %d tokens, "
      "prefill in chunks of %d, then %d decode steps), one batch\n",
      path, mode, LC_VERIFY_MODEL_SEQS, r->prompt_len[0], r->prompt_len[1], r->prompt_len[2],
      r->chunk, r->tokens);
  if (tp > 1)
    printf("  %s on both backends at tensor-parallel degree %d (emulated); the reference at 1\n",
           mode, (int)tp);
  print_gpu(&r->gpu);
  char gcol[40], rcol[40];
  snprintf(gcol, sizeof gcol, "cuda vs cpu %s (bits)", mode);
  snprintf(rcol, sizeof rcol, "ref vs %s (normwise)", mode);
  printf("\n  %4s %-10s %-8s %-26s %-13s %s\n", "seq", "positions", "kind", gcol, "first layer",
         rcol);
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
    printf("  CUDA %s vs CPU %s: SKIPPED (no GPU)\n", mode, mode);
  else if (r->gpu_differs)
    printf("  CUDA %s vs CPU %s: DIFFER; first at layer %d, sequence %d, position %d\n", mode, mode,
           r->first_layer, r->first_seq, r->first_pos);
  else
    printf("  CUDA %s vs CPU %s: bitwise equal (logits and all %d layer outputs)\n", mode, mode,
           r->n_layers + 1);
  printf("  CPU reference vs CPU %s: worst normwise relative difference %.3g (bound %.3g)\n", mode,
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
  int choice = 0, rc;
  const cli_opt opts[] = {
      {"model", CLI_STR, &p.model, 0, 0, NULL, "PATH",
       "llama2.c .bin, or a Hugging Face directory"},
      {"tokens", CLI_I32, &p.tokens, 0, 4096, NULL, "N",
       "decode steps after each prompt (default 8)"},
      {"chunk", CLI_I32, &p.chunk, 1, 4096, NULL, "C", "prefill chunk (default 16)"},
      {"tp", CLI_I32, &p.tp, 1, 1024, NULL, "N",
       "the mode's runs (CPU and CUDA) at this tensor-parallel degree,\nemulated; the reference "
       "at 1 (default 1)"},
      {"seed", CLI_U64, &p.seed, 0, 0, NULL, "S", "prompt seed (default 1)"},
      {"rtol", CLI_STR, &rtol, 0, 0, NULL, "R",
       "the normwise bound (default 2^-10 = 0.0009765625; with --mode bf16\n2^-1 = 0.5)"},
      MODE_OPT(choice),
      GPU_OPTS(p),
      CLI_END};
  const cli_cmd c = {
      cmd,
      "--model PATH [--tokens N] [--chunk C] [--seed S] [--rtol R]\n"
      "       [--mode strict|fast|bf16] [--device D] [--require-gpu]",
      "Three sequences of different prompt lengths in one batch (chunked prefill\n"
      "mixed with decode steps, teacher-forced with random tokens) on CPU <mode>,\n"
      "CPU reference and (with a GPU) CUDA <mode>; the mode is strict unless --mode\n"
      "says fast or bf16.  CUDA <mode> must equal CPU <mode> bit for bit at every\n"
      "position and every layer; CPU reference must be within ||ref - <mode>|| /\n"
      "||<mode>|| <= 2^-10 per position (a stated, empirical bound: see\n"
      "LC_VERIFY_MODEL_RTOL in layercast_experiment.h; fast's matmul differs from\n"
      "strict's by ~1e-7 relative, so the same bound serves it).  bf16 rounds every\n"
      "matmul's input to bf16 (2^-9 relative), so its default bound is 2^-1\n"
      "(LC_VERIFY_MODEL_RTOL_BF16: a wrong op still fails it, a subtle error does\n"
      "not; bf16's real check is the GPU half's bit for bit).",
      opts, EXIT_TEXT};
  if ((rc = cli_parse(&c, argc, argv))) return rc < 0 ? 0 : rc;
  p.mode = mode_of_choice[choice];
  if (p.mode == LC_MODE_BF16) p.rtol = LC_VERIFY_MODEL_RTOL_BF16;
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
  print_model_report(p.model, p.tp, r);
  rc = r->n_fail ? 1 : 0;
  lc_verify_model_report_free(r);
  return rc;
}

/* ---- dispatch -------------------------------------------------------------------*/

static void usage(FILE *f) {
  fprintf(f,
          "usage: layercast verify ops [--shapes small|model] [--mode M] [--require-gpu]\n"
          "       layercast verify model --model PATH [--tokens N] [--mode M] [--require-gpu]\n"
          "       layercast verify records A.jsonl B.jsonl\n"
          "\n"
          "  ops      every op: CUDA <mode> == CPU <mode> bitwise, CPU reference within\n"
          "           derived bounds of CPU <mode> (--mode strict (default), fast or bf16)\n"
          "  model    a whole model, the same two checks per position and per layer\n"
          "  records  two sweep run records (maybe from two machines): strict, fast and\n"
          "           bf16 runs must match bitwise; other modes' agreement reported\n"
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
