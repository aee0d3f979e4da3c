/*
 * tests/test_rmsnorm.c — lc_rmsnorm on the CPU backend, strict and reference, and the
 * canonical sum of squares of cpu_ref/reduce.c it is built on.
 *
 * Strict is checked bitwise against a plain transcription of the canonical order
 * written below, both modes against a float64 oracle with derived bounds.  Batch
 * invariance lives in tests/test_invariance.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_canon.h"
#include "cpu_ref/cpu_ref.h"
#include "lib/bounds.h"
#include "test_util.h"

/* ---- the canonical order, transcribed ---------------------------------------*/

/* 32 lanes, lane l takes v[l], v[l+32], ... with fmaf(v, v, acc); then
 * acc[l] = acc[l] + acc[l ^ o] for o = 16, 8, 4, 2, 1; lane 0. */
static float transcribed_sumsq(const float *v, int64_t n) {
  float lane[32] = {0}, next[32];
  for (int64_t i = 0; i < n; i++) lane[i % 32] = fmaf(v[i], v[i], lane[i % 32]);
  for (int o = 16; o >= 1; o /= 2) {
    for (int l = 0; l < 32; l++) next[l] = lane[l] + lane[l ^ o];
    memcpy(lane, next, sizeof lane);
  }
  return lane[0];
}

static void transcribed_rmsnorm(const float *x, int64_t m, int64_t n, const uint16_t *w, float eps,
                                float *y) {
  for (int64_t i = 0; i < m; i++) {
    const float *xr = x + i * n;
    float ss = transcribed_sumsq(xr, n);
    float mean = ss / (float)n;
    float r = 1.0f / sqrtf(mean + eps);
    for (int64_t j = 0; j < n; j++) y[i * n + j] = lct_canon((xr[j] * r) * lct_bf16(w[j]));
  }
}

/* ---- float64 oracle and bounds -----------------------------------------------*/

static void oracle_rmsnorm(const float *x, int64_t m, int64_t n, const uint16_t *w, float eps,
                           double *ref) {
  for (int64_t i = 0; i < m; i++) {
    double ss = 0.0;
    for (int64_t j = 0; j < n; j++) ss += (double)x[i * n + j] * x[i * n + j];
    const double r = 1.0 / sqrt(ss / (double)n + eps);
    for (int64_t j = 0; j < n; j++) ref[i * n + j] = x[i * n + j] * r * lct_bf16(w[j]);
  }
}

/* Relative error bounds of y = x * (1/sqrt(ss/n + eps)) * w.  The squares are
 * nonnegative, so a sum whose terms each meet at most d roundings has relative error
 * <= gamma_d.  Strict: d = ceil(n/32) (a lane's fma chain) + 5 (butterfly).
 * Reference: d = n (a rounded square and up to n - 1 additions).  Then the division
 * by n and the addition of eps >= 0 add one rounding each (eps only shrinks the
 * relative error), sqrt halves the error of its argument and rounds once, and
 * 1/sqrt, x*r, *w round once each: rel <= gamma_(d+2)/2 + gamma_4, and gamma_5
 * instead of gamma_4 covers the second-order products.  Subnormal results add
 * 2^-149 (atol). */
static double strict_rel(int64_t n) {
  return lc_bound_gamma((double)(lc_bound_reduce_strict_rounds(n) + 2)) / 2 + lc_bound_gamma(5);
}
static double ref_rel(int64_t n) {
  return lc_bound_gamma((double)(n + 2)) / 2 + lc_bound_gamma(5);
}

/* ---- API helpers ---------------------------------------------------------------*/

/* y = rmsnorm(x) on a fresh context of `mode` (y may be x). */
static void rmsnorm_once(lc_mode mode, const float *x, int64_t m, int64_t n, const uint16_t *w,
                         float eps, float *y) {
  lc_context *ctx = lct_cpu(mode);
  lc_weights *wt = NULL;
  lc_status st = lc_weights_create(ctx, 1, n, LC_DTYPE_BF16, w, &wt);
  if (st != LC_OK) fail_msg("lc_weights_create: %s", lc_status_name(st));
  st = lc_rmsnorm(ctx, x, m, wt, eps, y);
  if (st != LC_OK) fail_msg("lc_rmsnorm: %s: %s", lc_status_name(st), lc_last_error(ctx));
  lc_weights_free(wt);
  lc_context_free(ctx);
}

/* ---- cases: n across the lane structure, m 0..9, several eps --------------------*/

static const int64_t kNs[] = {1,  2,   5,   31,  32,   33,   63,   64,
                              65, 255, 256, 257, 1000, 1024, 4096, 5000};
static const float kEps[] = {0.0f, 1e-6f, 1e-5f, 1.0f};
#define N_CASES ((int)(sizeof kNs / sizeof kNs[0]))

typedef struct rn_case {
  int64_t m, n;
  float eps;
  float *x;
  uint16_t *w;
} rn_case;

static rn_case case_make(int i) {
  lct_rng r = lct_rng_new(2000 + (uint64_t)i);
  rn_case c;
  c.n = kNs[i];
  c.m = i == 3 ? 0 : lct_range(&r, 1, 9);
  c.eps = kEps[i % 4];
  /* rows of different scales: 1e-3 .. 1e3 */
  c.x = lct_randn(&r, c.m * c.n, 1.0f);
  for (int64_t row = 0; row < c.m; row++) {
    const float s = powf(10.0f, (float)(row % 7) - 3.0f);
    for (int64_t j = 0; j < c.n; j++) c.x[row * c.n + j] *= s;
  }
  c.w = lct_rand_bf16(&r, c.n, 1.0f);
  return c;
}

static void case_free(rn_case *c) {
  free(c->x);
  free(c->w);
}

static const char *case_name(const rn_case *c, const char *what, char *buf, size_t len) {
  snprintf(buf, len, "%s m=%lld n=%lld eps=%g", what, (long long)c->m, (long long)c->n,
           (double)c->eps);
  return buf;
}

/* ---- tests ------------------------------------------------------------------------*/

/* Strict lc_rmsnorm equals, bitwise, the transcription of the canonical order. */
static void test_rmsnorm_strict_equals_canonical_transcription(void **state) {
  (void)state;
  char what[96];
  for (int i = 0; i < N_CASES; i++) {
    rn_case c = case_make(i);
    float *got = lct_alloc_f(c.m * c.n), *want = lct_alloc_f(c.m * c.n);
    rmsnorm_once(LC_MODE_STRICT, c.x, c.m, c.n, c.w, c.eps, got);
    transcribed_rmsnorm(c.x, c.m, c.n, c.w, c.eps, want);
    lct_assert_bitwise_f32(got, want, c.m * c.n,
                           case_name(&c, "strict vs transcription", what, 96));
    free(got);
    free(want);
    case_free(&c);
  }
}

static void check_vs_oracle(lc_mode mode, double (*rel)(int64_t)) {
  char what[96];
  for (int i = 0; i < N_CASES; i++) {
    rn_case c = case_make(i);
    float *got = lct_alloc_f(c.m * c.n);
    double *ref = lct_alloc_d(c.m * c.n);
    rmsnorm_once(mode, c.x, c.m, c.n, c.w, c.eps, got);
    oracle_rmsnorm(c.x, c.m, c.n, c.w, c.eps, ref);
    lct_assert_close(got, ref, c.m * c.n, 0x1p-149, rel(c.n),
                     case_name(&c, lc_mode_name(mode), what, 96));
    free(got);
    free(ref);
    case_free(&c);
  }
}

/* Strict is within gamma_(ceil(n/32)+7)/2 + gamma_5 (relative) of float64. */
static void test_rmsnorm_strict_within_derived_bound_of_f64(void **state) {
  (void)state;
  check_vs_oracle(LC_MODE_STRICT, strict_rel);
}

/* Reference is within gamma_(n+2)/2 + gamma_5 (relative) of float64. */
static void test_rmsnorm_reference_within_derived_bound_of_f64(void **state) {
  (void)state;
  check_vs_oracle(LC_MODE_REFERENCE, ref_rel);
}

/* Reference and strict agree within the sum of their bounds. */
static void test_rmsnorm_reference_agrees_with_strict(void **state) {
  (void)state;
  char what[96];
  for (int i = 0; i < N_CASES; i++) {
    rn_case c = case_make(i);
    const int64_t cnt = c.m * c.n;
    float *s = lct_alloc_f(cnt), *r = lct_alloc_f(cnt);
    double *sd = lct_alloc_d(cnt);
    rmsnorm_once(LC_MODE_STRICT, c.x, c.m, c.n, c.w, c.eps, s);
    rmsnorm_once(LC_MODE_REFERENCE, c.x, c.m, c.n, c.w, c.eps, r);
    for (int64_t j = 0; j < cnt; j++) sd[j] = s[j];
    /* |r - s| <= (rel_s + rel_r)|exact| <= (rel_s + rel_r)|s| / (1 - rel_s): the
     * factor 1.01 covers the division. */
    lct_assert_close(r, sd, cnt, 0x1p-148, 1.01 * (strict_rel(c.n) + ref_rel(c.n)),
                     case_name(&c, "reference vs strict", what, 96));
    free(s);
    free(r);
    free(sd);
    case_free(&c);
  }
}

/* y == x (in place) gives the same bits as a separate output, in both modes. */
static void test_rmsnorm_in_place_equals_out_of_place(void **state) {
  (void)state;
  const lc_mode modes[2] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  char what[96];
  for (int mi = 0; mi < 2; mi++) {
    for (int i = 0; i < N_CASES; i += 3) {
      rn_case c = case_make(i);
      const int64_t cnt = c.m * c.n;
      float *out = lct_alloc_f(cnt), *inplace = lct_alloc_f(cnt);
      if (cnt) memcpy(inplace, c.x, (size_t)cnt * sizeof(float));
      rmsnorm_once(modes[mi], c.x, c.m, c.n, c.w, c.eps, out);
      rmsnorm_once(modes[mi], inplace, c.m, c.n, c.w, c.eps, inplace);
      lct_assert_bitwise_f32(inplace, out, cnt, case_name(&c, lc_mode_name(modes[mi]), what, 96));
      free(out);
      free(inplace);
      case_free(&c);
    }
  }
}

/* The same call twice on one context gives the same bits, in both modes. */
static void test_rmsnorm_deterministic_repeat_calls(void **state) {
  (void)state;
  const lc_mode modes[2] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  rn_case c = case_make(14); /* n = 4096 */
  float *y1 = lct_alloc_f(c.m * c.n), *y2 = lct_alloc_f(c.m * c.n);
  for (int mi = 0; mi < 2; mi++) {
    lc_context *ctx = lct_cpu(modes[mi]);
    lc_weights *w = NULL;
    assert_int_equal(lc_weights_create(ctx, 1, c.n, LC_DTYPE_BF16, c.w, &w), LC_OK);
    assert_int_equal(lc_rmsnorm(ctx, c.x, c.m, w, c.eps, y1), LC_OK);
    assert_int_equal(lc_rmsnorm(ctx, c.x, c.m, w, c.eps, y2), LC_OK);
    lct_assert_bitwise_f32(y2, y1, c.m * c.n, lc_mode_name(modes[mi]));
    lc_weights_free(w);
    lc_context_free(ctx);
  }
  free(y1);
  free(y2);
  case_free(&c);
}

/* Special rows give what the formula gives, NaNs canonical, neighbours untouched:
 * a NaN makes the row NaN; +-Inf (or squares that overflow) make 1/sqrt(ss) = 0, so
 * the row is signed zeros with NaN at the Inf; an all-zero row is NaN with eps = 0
 * (0 * 1/0) and zeros with eps > 0; a row of subnormals is +-Inf with eps = 0. */
static void test_rmsnorm_special_rows(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(21);
  const int64_t m = 7, n = 100;
  float *x = lct_randn(&r, m * n, 1.0f);
  uint16_t *w = lct_rand_bf16(&r, n, 1.0f);
  x[1 * n + 40] = lc_f32_from_bits(0xFF800001u); /* negative signalling NaN */
  x[2 * n + 99] = INFINITY;
  for (int64_t j = 0; j < n; j++) x[3 * n + j] = 0.0f;
  x[3 * n + 7] = -0.0f;
  for (int64_t j = 0; j < n; j++) x[4 * n + j] = (j % 2) ? 3e38f : -3e38f;
  for (int64_t j = 0; j < n; j++) x[5 * n + j] = 1e-40f * (float)(j + 1); /* subnormals */
  const float epss[2] = {0.0f, 1e-5f};
  float *got = lct_alloc_f(m * n), *want = lct_alloc_f(m * n), *alone = lct_alloc_f(n);
  for (int e = 0; e < 2; e++) {
    rmsnorm_once(LC_MODE_STRICT, x, m, n, w, epss[e], got);
    transcribed_rmsnorm(x, m, n, w, epss[e], want);
    lct_assert_bitwise_f32(got, want, m * n, "strict special rows vs transcription");
    for (int64_t j = 0; j < n; j++) {
      assert_int_equal(lc_f32_bits(got[1 * n + j]), 0x7FC00000u);
      if (j == 99)
        assert_int_equal(lc_f32_bits(got[2 * n + j]), 0x7FC00000u);
      else
        assert_true(got[2 * n + j] == 0.0f);
      if (e == 0)
        assert_int_equal(lc_f32_bits(got[3 * n + j]), 0x7FC00000u);
      else
        assert_true(got[3 * n + j] == 0.0f);
      assert_true(got[4 * n + j] == 0.0f); /* 3e38^2 overflows: ss = Inf, r = 0 */
      /* subnormal squares round to 0: ss = 0, so eps = 0 gives 1/0 and +-Inf */
      assert_true(e == 0 ? isinf(got[5 * n + j]) : isfinite(got[5 * n + j]));
    }
    for (int64_t row = 0; row < m; row += 6) {
      rmsnorm_once(LC_MODE_STRICT, x + row * n, 1, n, w, epss[e], alone);
      lct_assert_bitwise_f32(got + row * n, alone, n, "clean row next to special rows vs alone");
    }
  }
  free(x);
  free(w);
  free(got);
  free(want);
  free(alone);
}

/* m == 0 is a valid empty call: LC_OK and y untouched. */
static void test_rmsnorm_empty_batch_is_noop(void **state) {
  (void)state;
  const uint16_t w[4] = {0x3F80, 0x3F80, 0x3F80, 0x3F80};
  float x[4] = {1, 2, 3, 4}, y[4] = {-7, -7, -7, -7};
  const lc_mode modes[2] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  for (int mi = 0; mi < 2; mi++) {
    rmsnorm_once(modes[mi], x, 0, 4, w, 1e-5f, y);
    for (int j = 0; j < 4; j++) assert_true(y[j] == -7.0f);
  }
}

/* cpu_ref internals: lc_cpu_canon_sumsq equals the transcribed 32-lane sum of squares
 * for every n from 0 to 200 and some long rows, and differs from a sequential sum
 * where the order matters (so the lane order is really being tested). */
static void test_rmsnorm_canon_sumsq_lane_order(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(22);
  float *v = lct_randn(&r, 5000, 3.0f);
  for (int64_t n = 0; n <= 200; n++)
    assert_int_equal(lc_f32_bits(lc_cpu_canon_sumsq(v, n)), lc_f32_bits(transcribed_sumsq(v, n)));
  const int64_t longs[] = {1023, 1024, 1025, 4999, 5000};
  for (int i = 0; i < 5; i++)
    assert_int_equal(lc_f32_bits(lc_cpu_canon_sumsq(v, longs[i])),
                     lc_f32_bits(transcribed_sumsq(v, longs[i])));
  /* v = [2^12, 1 x 32]: sequentially 2^24 + 1 + ... stays 2^24 (each +1 is a tie to
   * even); in lanes the ones meet each other first. */
  float k[33];
  k[0] = 0x1p12f;
  for (int i = 1; i < 33; i++) k[i] = 1.0f;
  float seq = 0.0f;
  for (int i = 0; i < 33; i++) seq = fmaf(k[i], k[i], seq);
  assert_true(seq == 0x1p24f);
  const float lanes = lc_cpu_canon_sumsq(k, 33);
  assert_int_equal(lc_f32_bits(lanes), lc_f32_bits(transcribed_sumsq(k, 33)));
  assert_true(lanes != seq);
  free(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rmsnorm_strict_equals_canonical_transcription),
      cmocka_unit_test(test_rmsnorm_strict_within_derived_bound_of_f64),
      cmocka_unit_test(test_rmsnorm_reference_within_derived_bound_of_f64),
      cmocka_unit_test(test_rmsnorm_reference_agrees_with_strict),
      cmocka_unit_test(test_rmsnorm_in_place_equals_out_of_place),
      cmocka_unit_test(test_rmsnorm_deterministic_repeat_calls),
      cmocka_unit_test(test_rmsnorm_special_rows),
      cmocka_unit_test(test_rmsnorm_empty_batch_is_noop),
      cmocka_unit_test(test_rmsnorm_canon_sumsq_lane_order),
  };
  return LCT_RUN(tests);
}
