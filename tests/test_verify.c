/*
 * tests/test_verify.c — lc_verify_ops and lc_verify_model (lib/verify*.c),
 * through the public API only (layercast*.h): the CPU half passes, the GPU
 * half is reported SKIPPED without a GPU (and runs, bitwise equal, with
 * one), in strict, fast and bf16; require_gpu turns a missing GPU into
 * LC_ERR_NO_DEVICE, a failing check is a report, not an error, and bad
 * parameters (a mode verify does not check among them) are refused.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layercast.h"
#include "layercast_experiment.h"
#include "layercast_model.h"

/* ---- helpers -------------------------------------------------------------------*/

/* What *out holds before a call, to see that a failed call resets it. */
static lc_verify_ops_report sentinel_ops;
static lc_verify_model_report sentinel_model;

/* A tiny synthetic Llama (2 layers, vocab 64) in a fresh temp folder. */
static void synth_model(char *dir, size_t len) {
  lct_tmpdir_make(dir, len, "verify");
  lct_synth_tiny(dir, 11, LC_DTYPE_BF16, 1, 64);
}

/* The GPU half as lct_have_cuda() predicts: SKIPPED with a reason, or run. */
static void check_gpu_half(const lc_verify_gpu *g, int have_gpu) {
  assert_int_equal(g->ran, have_gpu);
  if (have_gpu) {
    assert_string_equal(g->skip_reason, "");
    assert_true(g->name[0] != '\0');
  } else {
    assert_true(g->skip_reason[0] != '\0');
    assert_string_equal(g->name, "");
  }
}

static lc_verify_ops_report *run_ops_mode(uint64_t seed, lc_mode mode) {
  lc_verify_ops_params p;
  lc_verify_ops_params_default(&p);
  p.seed = seed;
  p.mode = mode;
  lc_verify_ops_report *r = NULL;
  lc_status st = lc_verify_ops(&p, &r);
  if (st != LC_OK) fail_msg("lc_verify_ops: %s: %s", lc_status_name(st), lc_last_error(NULL));
  assert_non_null(r);
  assert_int_equal(r->mode, mode);
  return r;
}

static lc_verify_ops_report *run_ops(uint64_t seed) {
  return run_ops_mode(seed, LC_MODE_STRICT);
}

static lc_verify_model_report *run_model_mode(const char *dir, int32_t tokens, double rtol,
                                              lc_mode mode) {
  lc_verify_model_params p;
  lc_verify_model_params_default(&p);
  p.model = dir;
  p.tokens = tokens;
  p.rtol = rtol;
  p.mode = mode;
  lc_verify_model_report *r = NULL;
  lc_status st = lc_verify_model(&p, &r);
  if (st != LC_OK) fail_msg("lc_verify_model: %s: %s", lc_status_name(st), lc_last_error(NULL));
  assert_non_null(r);
  assert_int_equal(r->mode, mode);
  return r;
}

static lc_verify_model_report *run_model(const char *dir, int32_t tokens, double rtol) {
  return run_model_mode(dir, tokens, rtol, LC_MODE_STRICT);
}

/* Every row of an ops report passed, its GPU half as lct_have_cuda() says. */
static void check_ops_rows_pass(const lc_verify_ops_report *r, int have_gpu) {
  for (int32_t i = 0; i < r->n_rows; i++) {
    const lc_verify_op_row *w = &r->rows[i];
    if (w->fail || !(w->ratio <= 1.0))
      fail_msg(
          "%s %s %s: ratio %g (worst %lld: %s %.9g reference %.9g bound %g), gpu %lld "
          "differ",
          lc_mode_name(r->mode), w->op, w->shape, w->ratio, (long long)w->worst,
          lc_mode_name(r->mode), (double)w->worst_strict, (double)w->worst_ref, w->worst_bound,
          (long long)w->gpu_ndiff);
    assert_true(w->n > 0);
    assert_true(w->worst >= 0 && w->worst < w->n);
    assert_true(w->bound[0] != '\0');
    if (w->exact) assert_true(w->ratio == 0.0);
    assert_int_equal(w->gpu_ran, have_gpu);
    assert_int_equal(w->gpu_ndiff, 0);
    assert_int_equal(w->gpu_first_diff, -1);
  }
}

/* ---- ops -----------------------------------------------------------------------*/

/* Every op row passes on the CPU half (reference within its bound of
 * strict); the GPU half is SKIPPED without a GPU and bitwise equal with one. */
static void test_verify_ops_all_rows_pass(void **state) {
  (void)state;
  const int have_gpu = lct_have_cuda();
  lc_verify_ops_report *r = run_ops(1);
  check_gpu_half(&r->gpu, have_gpu);
  assert_int_equal(r->shapes, LC_VERIFY_SHAPES_SMALL);
  assert_int_equal(r->n_rows, 15);
  assert_int_equal(r->n_fail, 0);
  assert_string_equal(r->rows[0].op, "matmul");
  assert_string_equal(r->rows[0].shape, "M=7 K=600 N=65");
  assert_string_equal(r->rows[0].bound, "(gamma_258 + gamma_600) sum|x w|");
  assert_string_equal(r->rows[r->n_rows - 1].op, "argmax");
  check_ops_rows_pass(r, have_gpu);
  lc_verify_ops_report_free(r);
}

/* fast and bf16: every row passes (the GPU half SKIPPED without a GPU); they
 * change the matmul rows only, which take the fast order's bound, and every
 * other row is strict's to the bit (the same values, so the same ratio). */
static void test_verify_ops_fast_and_bf16_pass(void **state) {
  (void)state;
  const int have_gpu = lct_have_cuda();
  lc_verify_ops_report *s = run_ops(1);
  static const lc_mode modes[] = {LC_MODE_FAST, LC_MODE_BF16};
  for (size_t mi = 0; mi < sizeof modes / sizeof modes[0]; mi++) {
    lc_verify_ops_report *r = run_ops_mode(1, modes[mi]);
    check_gpu_half(&r->gpu, have_gpu);
    assert_int_equal(r->n_rows, s->n_rows);
    assert_int_equal(r->n_fail, 0);
    check_ops_rows_pass(r, have_gpu);
    char want[64];
    snprintf(want, sizeof want, "(c_%s + gamma_600) sum|x w| + a_%s", lc_mode_name(modes[mi]),
             lc_mode_name(modes[mi]));
    assert_string_equal(r->rows[0].bound, want);
    int matmuls = 0;
    for (int32_t i = 0; i < r->n_rows; i++) {
      const lc_verify_op_row *w = &r->rows[i], *ws = &s->rows[i];
      assert_string_equal(w->op, ws->op);
      assert_string_equal(w->shape, ws->shape);
      if (!strncmp(w->op, "matmul", 6)) {
        matmuls++;
        assert_non_null(strstr(w->bound, "c_"));
        assert_true(w->ratio > 0.0); /* another order than the reference's */
        continue;
      }
      assert_string_equal(w->bound, ws->bound);
      assert_memory_equal(&w->ratio, &ws->ratio, sizeof(double));
      assert_int_equal(w->worst, ws->worst);
    }
    assert_int_equal(matmuls, 3);
    lc_verify_ops_report_free(r);
  }
  lc_verify_ops_report_free(s);
}

/* The same seed gives the same report (ratios to the bit); another seed
 * other inputs. */
static void test_verify_ops_reproducible(void **state) {
  (void)state;
  lc_verify_ops_report *a = run_ops(5), *b = run_ops(5), *c = run_ops(6);
  assert_int_equal(a->n_rows, b->n_rows);
  int differ = 0;
  for (int32_t i = 0; i < a->n_rows; i++) {
    assert_memory_equal(&a->rows[i].ratio, &b->rows[i].ratio, sizeof(double));
    assert_int_equal(a->rows[i].worst, b->rows[i].worst);
    differ |= a->rows[i].ratio != c->rows[i].ratio;
  }
  assert_true(differ);
  lc_verify_ops_report_free(a);
  lc_verify_ops_report_free(b);
  lc_verify_ops_report_free(c);
}

/* ---- model ---------------------------------------------------------------------*/

/* One row per prefill chunk and decode step of each sequence, all within
 * rtol on the CPU half; the GPU half as for ops. */
static void test_verify_model_all_rows_pass(void **state) {
  (void)state;
  char dir[128];
  synth_model(dir, sizeof dir);
  const int have_gpu = lct_have_cuda();
  lc_verify_model_report *r = run_model(dir, 3, LC_VERIFY_MODEL_RTOL);
  check_gpu_half(&r->gpu, have_gpu);
  assert_int_equal(r->n_layers, 2);
  assert_int_equal(r->vocab, 64);
  assert_int_equal(r->chunk, 16);
  assert_int_equal(r->tokens, 3);
  assert_int_equal(r->prompt_len[0], 5);
  assert_int_equal(r->prompt_len[1], 23);
  assert_int_equal(r->prompt_len[2], 40);
  /* prompts of 5, 23, 40 in chunks of 16: 1 + 2 + 3 prefill rows, 3 decode each */
  assert_int_equal(r->n_rows, 15);
  assert_int_equal(r->n_fail, 0);
  static const int32_t seq[15] = {0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2};
  static const int32_t pos[15] = {0, 5, 6, 7, 0, 16, 23, 24, 25, 0, 16, 32, 40, 41, 42};
  static const int32_t npos[15] = {5, 1, 1, 1, 16, 7, 1, 1, 1, 16, 16, 8, 1, 1, 1};
  double worst = 0.0;
  for (int32_t i = 0; i < r->n_rows; i++) {
    const lc_verify_model_row *w = &r->rows[i];
    assert_int_equal(w->seq, seq[i]);
    assert_int_equal(w->pos, pos[i]);
    assert_int_equal(w->n_pos, npos[i]);
    assert_int_equal(w->prefill, w->pos < r->prompt_len[w->seq]);
    assert_false(w->fail);
    assert_true(w->rel <= r->rtol);
    assert_int_equal(w->gpu_ran, have_gpu);
    assert_int_equal(w->gpu_ndiff, 0);
    assert_int_equal(w->gpu_n, have_gpu ? (int64_t)w->n_pos * r->vocab : 0);
    assert_int_equal(w->first_layer, -1);
    if (w->rel > worst) worst = w->rel;
  }
  assert_true(r->worst_rel == worst);
  assert_true(worst > 0.0); /* reference and strict are two computations */
  assert_false(r->gpu_differs);
  assert_int_equal(r->first_layer, -1);
  lc_verify_model_report_free(r);
  assert_int_equal(lct_tmpdir_remove(dir), 0);
}

/* fast and bf16 through the whole model: every row passes, fast within
 * strict's bound (and at strict's scale: its matmul differs by ~1e-7
 * relative), bf16 within LC_VERIFY_MODEL_RTOL_BF16 (x rounded to bf16 moves
 * the logits far more than fast does); the GPU half as for ops. */
static void test_verify_model_fast_and_bf16_pass(void **state) {
  (void)state;
  char dir[128];
  synth_model(dir, sizeof dir);
  const int have_gpu = lct_have_cuda();
  lc_verify_model_report *s = run_model(dir, 2, LC_VERIFY_MODEL_RTOL);
  lc_verify_model_report *f = run_model_mode(dir, 2, LC_VERIFY_MODEL_RTOL, LC_MODE_FAST);
  lc_verify_model_report *b = run_model_mode(dir, 2, LC_VERIFY_MODEL_RTOL_BF16, LC_MODE_BF16);
  const lc_verify_model_report *rs[2] = {f, b};
  for (int k = 0; k < 2; k++) {
    const lc_verify_model_report *r = rs[k];
    check_gpu_half(&r->gpu, have_gpu);
    assert_int_equal(r->n_rows, s->n_rows);
    assert_int_equal(r->n_fail, 0);
    assert_false(r->gpu_differs);
    for (int32_t i = 0; i < r->n_rows; i++) {
      const lc_verify_model_row *w = &r->rows[i];
      assert_int_equal(w->seq, s->rows[i].seq);
      assert_int_equal(w->pos, s->rows[i].pos);
      assert_false(w->fail);
      assert_int_equal(w->gpu_ran, have_gpu);
      assert_int_equal(w->gpu_ndiff, 0);
      assert_int_equal(w->first_layer, -1);
    }
  }
  printf("verify model worst rel: strict %.3g, fast %.3g, bf16 %.3g\n", s->worst_rel, f->worst_rel,
         b->worst_rel);
  assert_true(f->worst_rel > 0.0 && f->worst_rel <= 10.0 * s->worst_rel);
  assert_true(b->worst_rel > f->worst_rel);
  lc_verify_model_report_free(s);
  lc_verify_model_report_free(f);
  lc_verify_model_report_free(b);
  assert_int_equal(lct_tmpdir_remove(dir), 0);
}

/* A check that fails is a report, not an error: with an rtol below every
 * difference each row fails, and the call returns LC_OK. */
static void test_verify_model_failure_is_reported(void **state) {
  (void)state;
  char dir[128];
  synth_model(dir, sizeof dir);
  lc_verify_model_report *ok = run_model(dir, 1, LC_VERIFY_MODEL_RTOL);
  lc_verify_model_report *r = run_model(dir, 1, 1e-300);
  assert_int_equal(r->n_rows, ok->n_rows);
  assert_true(r->worst_rel == ok->worst_rel);
  int32_t failing = 0;
  for (int32_t i = 0; i < r->n_rows; i++) {
    assert_int_equal(r->rows[i].fail, r->rows[i].rel > 1e-300);
    failing += r->rows[i].fail;
  }
  assert_int_equal(r->n_fail, failing);
  assert_true(r->n_fail > 0);
  lc_verify_model_report_free(ok);
  lc_verify_model_report_free(r);
  assert_int_equal(lct_tmpdir_remove(dir), 0);
}

/* ---- require_gpu and bad parameters ------------------------------------------------*/

/* require_gpu: without a GPU both calls fail with LC_ERR_NO_DEVICE (nothing
 * checked, *out NULL, the reason in the message); with one they run it. */
static void test_verify_require_gpu(void **state) {
  (void)state;
  char dir[128];
  synth_model(dir, sizeof dir);
  const int have_gpu = lct_have_cuda();
  lc_verify_ops_params op;
  lc_verify_ops_params_default(&op);
  op.require_gpu = 1;
  lc_verify_ops_report *ro = &sentinel_ops; /* must become NULL */
  lc_status st = lc_verify_ops(&op, &ro);
  lc_verify_model_params mp;
  lc_verify_model_params_default(&mp);
  mp.model = dir;
  mp.tokens = 1;
  mp.require_gpu = 1;
  lc_verify_model_report *rm = &sentinel_model;
  lc_status sm = lc_verify_model(&mp, &rm);
  if (have_gpu) {
    assert_int_equal(st, LC_OK);
    assert_int_equal(sm, LC_OK);
    assert_true(ro->gpu.ran && rm->gpu.ran);
    assert_int_equal(ro->n_fail, 0);
    assert_int_equal(rm->n_fail, 0);
  } else {
    assert_int_equal(st, LC_ERR_NO_DEVICE);
    assert_int_equal(sm, LC_ERR_NO_DEVICE);
    assert_null(ro);
    assert_null(rm);
    assert_non_null(strstr(lc_last_error(NULL), "require_gpu"));
  }
  lc_verify_ops_report_free(ro);
  lc_verify_model_report_free(rm);
  assert_int_equal(lct_tmpdir_remove(dir), 0);
}

/* NULLs and values out of range are LC_ERR_INVALID_ARGUMENT with *out NULL;
 * a missing model is the loader's error; the frees take NULL. */
static void test_verify_bad_params(void **state) {
  (void)state;
  lc_verify_ops_params op;
  lc_verify_ops_params_default(&op);
  lc_verify_ops_report *ro = &sentinel_ops;
  assert_int_equal(lc_verify_ops(NULL, &ro), LC_ERR_INVALID_ARGUMENT);
  assert_null(ro);
  assert_int_equal(lc_verify_ops(&op, NULL), LC_ERR_INVALID_ARGUMENT);
  op.shapes = (lc_verify_shapes)7;
  assert_int_equal(lc_verify_ops(&op, &ro), LC_ERR_INVALID_ARGUMENT);
  assert_null(ro);
  lc_verify_ops_params_default(&op);
  op.device = -1;
  assert_int_equal(lc_verify_ops(&op, &ro), LC_ERR_INVALID_ARGUMENT);
  assert_null(ro);
  /* the defaults test strict; only strict, fast and bf16 are verified (reference
   * is the CPU half's baseline, the vendor modes promise no bits) */
  lc_verify_ops_params_default(&op);
  assert_int_equal(op.mode, LC_MODE_STRICT);
  static const lc_mode bad_modes[] = {LC_MODE_REFERENCE, LC_MODE_VENDOR_BF16, LC_MODE_VENDOR_FP32,
                                      (lc_mode)42, (lc_mode)-1};
  for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
    op.mode = bad_modes[i];
    ro = &sentinel_ops;
    assert_int_equal(lc_verify_ops(&op, &ro), LC_ERR_INVALID_ARGUMENT);
    assert_null(ro);
    assert_non_null(strstr(lc_last_error(NULL), "expected strict, fast or bf16"));
  }

  lc_verify_model_params mp;
  lc_verify_model_params_default(&mp);
  assert_int_equal(mp.mode, LC_MODE_STRICT);
  mp.model = "/nonexistent/layercast-test-model"; /* the mode is refused before loading */
  lc_verify_model_report *rm = NULL;
  for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
    mp.mode = bad_modes[i];
    rm = &sentinel_model;
    assert_int_equal(lc_verify_model(&mp, &rm), LC_ERR_INVALID_ARGUMENT);
    assert_null(rm);
    assert_non_null(strstr(lc_last_error(NULL), "lc_verify_model: mode"));
  }
  lc_verify_model_params_default(&mp);
  rm = &sentinel_model;
  assert_int_equal(lc_verify_model(NULL, &rm), LC_ERR_INVALID_ARGUMENT);
  assert_null(rm);
  assert_int_equal(lc_verify_model(&mp, &rm), LC_ERR_INVALID_ARGUMENT); /* no model */
  mp.model = "/nonexistent/layercast-test-model";
  assert_int_equal(lc_verify_model(&mp, NULL), LC_ERR_INVALID_ARGUMENT);
  const struct {
    int32_t tokens, chunk;
    double rtol;
    int device;
  } bad[] = {{-1, 16, 1e-3, 0}, {4097, 16, 1e-3, 0}, {8, 0, 1e-3, 0}, {8, 4097, 1e-3, 0},
             {8, 16, 0.0, 0},   {8, 16, -1.0, 0},    {8, 16, NAN, 0}, {8, 16, 1e-3, -1}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    mp.tokens = bad[i].tokens;
    mp.chunk = bad[i].chunk;
    mp.rtol = bad[i].rtol;
    mp.device = bad[i].device;
    rm = &sentinel_model;
    assert_int_equal(lc_verify_model(&mp, &rm), LC_ERR_INVALID_ARGUMENT);
    assert_null(rm);
  }
  lc_verify_model_params_default(&mp);
  mp.model = "/nonexistent/layercast-test-model";
  rm = &sentinel_model;
  lc_status st = lc_verify_model(&mp, &rm);
  assert_true(st != LC_OK && st != LC_ERR_INVALID_ARGUMENT);
  assert_null(rm);
  assert_non_null(strstr(lc_last_error(NULL), "loading the model"));

  lc_verify_ops_params_default(NULL);
  lc_verify_model_params_default(NULL);
  lc_verify_ops_report_free(NULL);
  lc_verify_model_report_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_verify_ops_all_rows_pass),
      cmocka_unit_test(test_verify_ops_reproducible),
      cmocka_unit_test(test_verify_ops_fast_and_bf16_pass),
      cmocka_unit_test(test_verify_model_all_rows_pass),
      cmocka_unit_test(test_verify_model_fast_and_bf16_pass),
      cmocka_unit_test(test_verify_model_failure_is_reported),
      cmocka_unit_test(test_verify_require_gpu),
      cmocka_unit_test(test_verify_bad_params),
  };
  double t0 = lct_now_s();
  int rc = LCT_RUN(tests);
  printf("test_verify: %.2f s\n", lct_now_s() - t0);
  return rc;
}
