/*
 * tests/test_softmax.c — lc_softmax and lc_log_softmax on the CPU backend, strict and
 * reference, and the canonical row sum and butterfly of cpu_ref/reduce.c.
 *
 * Strict is checked bitwise against a plain transcription of the canonical order
 * written below (with the canonical lc_expf / lc_logf, which tests/test_exp.c checks
 * on their own), both modes against a float64 oracle with derived bounds.  Batch
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

/* 32 lanes, lane l takes v[l], v[l+32], ... with acc = acc + v; then
 * acc[l] = acc[l] + acc[l ^ o] for o = 16, 8, 4, 2, 1; lane 0. */
static float transcribed_sum(const float *v, int64_t n) {
  float lane[32] = {0}, next[32];
  for (int64_t i = 0; i < n; i++) lane[i % 32] = lane[i % 32] + v[i];
  for (int o = 16; o >= 1; o /= 2) {
    for (int l = 0; l < 32; l++) next[l] = lane[l] + lane[l ^ o];
    memcpy(lane, next, sizeof lane);
  }
  return lane[0];
}

/* max over the row ignoring NaN, from -Inf; then -0 -> +0 */
static float transcribed_max(const float *x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; i++)
    if (x[i] > mx) mx = x[i];
  return mx + 0.0f;
}

static void transcribed_softmax(const float *x, int64_t m, int64_t n, float *y) {
  float *e = malloc((size_t)n * sizeof *e);
  assert_non_null(e);
  for (int64_t r = 0; r < m; r++) {
    const float *xr = x + r * n;
    float mx = transcribed_max(xr, n);
    for (int64_t i = 0; i < n; i++) e[i] = lc_expf(xr[i] - mx);
    float sum = transcribed_sum(e, n);
    for (int64_t i = 0; i < n; i++) y[r * n + i] = lct_canon(e[i] / sum);
  }
  free(e);
}

static void transcribed_log_softmax(const float *x, int64_t m, int64_t n, float *y) {
  float *e = malloc((size_t)n * sizeof *e);
  assert_non_null(e);
  for (int64_t r = 0; r < m; r++) {
    const float *xr = x + r * n;
    float mx = transcribed_max(xr, n);
    for (int64_t i = 0; i < n; i++) e[i] = lc_expf(xr[i] - mx);
    float ls = lc_logf(transcribed_sum(e, n));
    for (int64_t i = 0; i < n; i++) y[r * n + i] = lct_canon((xr[i] - mx) - ls);
  }
  free(e);
}

/* ---- float64 oracle and bounds -------------------------------------------------*/

/* Sum roundings a term meets: strict ceil(n/32) in its lane + 5 in the butterfly;
 * reference n - 1 in a sequential sum (rounded to n). */
static double strict_sum_rounds(int64_t n) {
  return (double)lc_bound_reduce_strict_rounds(n);
}
static double ref_sum_rounds(int64_t n) {
  return (double)n;
}

/* Per element tolerances of softmax (sm) and log_softmax (lsm) against float64, from
 * d_i = x_i - max (rounded: relative u, which exp turns into an error u*|d_i| of its
 * result), exp within 2 ulp (4u relative; lc_expf measured <= 0.93 ulp, glibc expf
 * < 1 ulp), a positive sum whose terms meet `rounds` roundings (gamma_rounds
 * relative, plus the largest term error u*D + 4u, D = max |d_j|), log within 2 ulp
 * (4u|ln S|), and one rounding of the final division or subtraction (u).  First-order
 * bounds, scaled by 1.01 for the second-order terms; 2^-148 absolute covers results
 * and exp values in the subnormal range. */
static void oracle_softmax(const float *x, int64_t m, int64_t n, double rounds, double *sm,
                           double *sm_tol, double *lsm, double *lsm_tol) {
  const double u = LCT_U;
  for (int64_t r = 0; r < m; r++) {
    const float *xr = x + r * n;
    double mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
      if (xr[i] > mx) mx = xr[i];
    double s = 0.0, dmax = 0.0;
    for (int64_t i = 0; i < n; i++) {
      s += exp((double)xr[i] - mx);
      if (fabs((double)xr[i] - mx) > dmax) dmax = fabs((double)xr[i] - mx);
    }
    const double sum_rel = lc_bound_gamma(rounds) + dmax * u + 4 * u;
    for (int64_t i = 0; i < n; i++) {
      const double d = (double)xr[i] - mx;
      const double p = exp(d) / s, lp = d - log(s);
      sm[r * n + i] = p;
      sm_tol[r * n + i] = 1.01 * (fabs(d) * u + 4 * u + sum_rel + u) * p + 0x1p-148;
      lsm[r * n + i] = lp;
      lsm_tol[r * n + i] =
          1.01 * (fabs(d) * u + sum_rel + 4 * u * fabs(log(s)) + u * fabs(lp)) + 0x1p-148;
    }
  }
}

/* ---- API helpers ---------------------------------------------------------------*/

typedef lc_status (*row_op)(lc_context *, const float *, int64_t, int64_t, float *);

static void op_once(row_op op, lc_mode mode, const float *x, int64_t m, int64_t n, float *y) {
  lc_context *ctx = lct_cpu(mode);
  lc_status st = op(ctx, x, m, n, y);
  if (st != LC_OK) fail_msg("op: %s: %s", lc_status_name(st), lc_last_error(ctx));
  lc_context_free(ctx);
}

/* ---- cases ----------------------------------------------------------------------*/

static const int64_t kNs[] = {1,   2,   5,   31,   32,   33,   64,    100,
                              255, 256, 257, 1000, 1024, 4096, 32000, 128256};
#define N_CASES ((int)(sizeof kNs / sizeof kNs[0]))

typedef struct sm_case {
  int64_t m, n;
  float *x;
} sm_case;

/* Rows of logits at different spreads: N(0, s^2) for s in 0.1, 1, 5, 20, and one row
 * uniform in [-80, 80] (exp of the gaps then reaches the subnormal range). */
static sm_case case_make(int i) {
  lct_rng r = lct_rng_new(3000 + (uint64_t)i);
  sm_case c;
  c.n = kNs[i];
  c.m = c.n > 10000 ? 2 : (i == 4 ? 0 : lct_range(&r, 1, 6));
  c.x = lct_alloc_f(c.m * c.n);
  static const float spread[4] = {0.1f, 1.0f, 5.0f, 20.0f};
  for (int64_t row = 0; row < c.m; row++) {
    const int kind = (int)((row + i) % 5);
    for (int64_t j = 0; j < c.n; j++)
      c.x[row * c.n + j] =
          kind == 4 ? lct_uniformf(&r, -80.0f, 80.0f) : spread[kind] * lct_normalf(&r);
  }
  return c;
}

static const char *case_name(const sm_case *c, const char *what, char *buf, size_t len) {
  snprintf(buf, len, "%s m=%lld n=%lld", what, (long long)c->m, (long long)c->n);
  return buf;
}

/* ---- tests ------------------------------------------------------------------------*/

/* Strict lc_softmax equals, bitwise, the transcription of the canonical order. */
static void test_softmax_strict_equals_canonical_transcription(void **state) {
  (void)state;
  char what[96];
  for (int i = 0; i < N_CASES; i++) {
    sm_case c = case_make(i);
    float *got = lct_alloc_f(c.m * c.n), *want = lct_alloc_f(c.m * c.n);
    op_once(lc_softmax, LC_MODE_STRICT, c.x, c.m, c.n, got);
    transcribed_softmax(c.x, c.m, c.n, want);
    lct_assert_bitwise_f32(got, want, c.m * c.n,
                           case_name(&c, "softmax vs transcription", what, 96));
    free(got);
    free(want);
    free(c.x);
  }
}

/* Strict lc_log_softmax equals, bitwise, the transcription of the canonical order. */
static void test_softmax_log_softmax_strict_equals_canonical_transcription(void **state) {
  (void)state;
  char what[96];
  for (int i = 0; i < N_CASES; i++) {
    sm_case c = case_make(i);
    float *got = lct_alloc_f(c.m * c.n), *want = lct_alloc_f(c.m * c.n);
    op_once(lc_log_softmax, LC_MODE_STRICT, c.x, c.m, c.n, got);
    transcribed_log_softmax(c.x, c.m, c.n, want);
    lct_assert_bitwise_f32(got, want, c.m * c.n,
                           case_name(&c, "log_softmax vs transcription", what, 96));
    free(got);
    free(want);
    free(c.x);
  }
}

static void check_vs_oracle(lc_mode mode, double (*rounds)(int64_t)) {
  char what[96];
  for (int i = 0; i < N_CASES; i++) {
    sm_case c = case_make(i);
    const int64_t cnt = c.m * c.n;
    float *y = lct_alloc_f(cnt);
    double *sm = lct_alloc_d(cnt), *smt = lct_alloc_d(cnt), *lsm = lct_alloc_d(cnt),
           *lsmt = lct_alloc_d(cnt);
    oracle_softmax(c.x, c.m, c.n, rounds(c.n), sm, smt, lsm, lsmt);
    op_once(lc_softmax, mode, c.x, c.m, c.n, y);
    snprintf(what, sizeof what, "softmax %s m=%lld n=%lld", lc_mode_name(mode), (long long)c.m,
             (long long)c.n);
    lct_assert_within(y, sm, smt, cnt, what);
    op_once(lc_log_softmax, mode, c.x, c.m, c.n, y);
    snprintf(what, sizeof what, "log_softmax %s m=%lld n=%lld", lc_mode_name(mode), (long long)c.m,
             (long long)c.n);
    lct_assert_within(y, lsm, lsmt, cnt, what);
    free(y);
    free(sm);
    free(smt);
    free(lsm);
    free(lsmt);
    free(c.x);
  }
}

/* Strict softmax and log_softmax are within the derived bounds of float64. */
static void test_softmax_strict_within_derived_bound_of_f64(void **state) {
  (void)state;
  check_vs_oracle(LC_MODE_STRICT, strict_sum_rounds);
}

/* Reference softmax and log_softmax are within the derived bounds of float64. */
static void test_softmax_reference_within_derived_bound_of_f64(void **state) {
  (void)state;
  check_vs_oracle(LC_MODE_REFERENCE, ref_sum_rounds);
}

/* Reference and strict agree within the sum of their two bounds, for both ops. */
static void test_softmax_reference_agrees_with_strict(void **state) {
  (void)state;
  char what[96];
  const row_op ops[2] = {lc_softmax, lc_log_softmax};
  for (int i = 0; i < N_CASES; i++) {
    sm_case c = case_make(i);
    const int64_t cnt = c.m * c.n;
    double *sm = lct_alloc_d(cnt), *smt = lct_alloc_d(cnt), *lsm = lct_alloc_d(cnt),
           *lsmt = lct_alloc_d(cnt);
    double *sm2 = lct_alloc_d(cnt), *smt2 = lct_alloc_d(cnt), *lsm2 = lct_alloc_d(cnt),
           *lsmt2 = lct_alloc_d(cnt);
    double *sd = lct_alloc_d(cnt), *tol = lct_alloc_d(cnt);
    float *s = lct_alloc_f(cnt), *r = lct_alloc_f(cnt);
    oracle_softmax(c.x, c.m, c.n, strict_sum_rounds(c.n), sm, smt, lsm, lsmt);
    oracle_softmax(c.x, c.m, c.n, ref_sum_rounds(c.n), sm2, smt2, lsm2, lsmt2);
    for (int o = 0; o < 2; o++) {
      op_once(ops[o], LC_MODE_STRICT, c.x, c.m, c.n, s);
      op_once(ops[o], LC_MODE_REFERENCE, c.x, c.m, c.n, r);
      for (int64_t j = 0; j < cnt; j++) {
        sd[j] = s[j];
        tol[j] = o == 0 ? smt[j] + smt2[j] : lsmt[j] + lsmt2[j];
      }
      lct_assert_within(
          r, sd, tol, cnt,
          case_name(&c, o == 0 ? "softmax ref vs strict" : "log_softmax ref vs strict", what, 96));
    }
    free(sm);
    free(smt);
    free(lsm);
    free(lsmt);
    free(sm2);
    free(smt2);
    free(lsm2);
    free(lsmt2);
    free(sd);
    free(tol);
    free(s);
    free(r);
    free(c.x);
  }
}

/* y == x (in place) gives the same bits as a separate output: both ops, both modes. */
static void test_softmax_in_place_equals_out_of_place(void **state) {
  (void)state;
  const lc_mode modes[2] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  const row_op ops[2] = {lc_softmax, lc_log_softmax};
  char what[96];
  for (int i = 0; i < N_CASES; i += 2) {
    sm_case c = case_make(i);
    const int64_t cnt = c.m * c.n;
    float *out = lct_alloc_f(cnt), *inplace = lct_alloc_f(cnt);
    for (int mi = 0; mi < 2; mi++) {
      for (int o = 0; o < 2; o++) {
        if (cnt) memcpy(inplace, c.x, (size_t)cnt * sizeof(float));
        op_once(ops[o], modes[mi], c.x, c.m, c.n, out);
        op_once(ops[o], modes[mi], inplace, c.m, c.n, inplace);
        snprintf(what, sizeof what, "%s %s in place, n=%lld", o ? "log_softmax" : "softmax",
                 lc_mode_name(modes[mi]), (long long)c.n);
        lct_assert_bitwise_f32(inplace, out, cnt, what);
      }
    }
    free(out);
    free(inplace);
    free(c.x);
  }
}

/* The same call twice on one context gives the same bits: both ops, both modes. */
static void test_softmax_deterministic_repeat_calls(void **state) {
  (void)state;
  const lc_mode modes[2] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  const row_op ops[2] = {lc_softmax, lc_log_softmax};
  sm_case c = case_make(13); /* n = 4096 */
  float *y1 = lct_alloc_f(c.m * c.n), *y2 = lct_alloc_f(c.m * c.n);
  for (int mi = 0; mi < 2; mi++) {
    lc_context *ctx = lct_cpu(modes[mi]);
    for (int o = 0; o < 2; o++) {
      assert_int_equal(ops[o](ctx, c.x, c.m, c.n, y1), LC_OK);
      assert_int_equal(ops[o](ctx, c.x, c.m, c.n, y2), LC_OK);
      lct_assert_bitwise_f32(y2, y1, c.m * c.n, lc_mode_name(modes[mi]));
    }
    lc_context_free(ctx);
  }
  free(y1);
  free(y2);
  free(c.x);
}

/* Special rows give the documented outputs, every NaN canonical, neighbours bitwise
 * as alone: a NaN (any sign/payload) -> all NaN; all -Inf -> all NaN; a +Inf -> all
 * NaN (Inf - Inf); -Inf among finite values -> 0 / -Inf there; one element -> 1 / 0.
 * Reference: the same NaN pattern (any NaN bits). */
static void test_softmax_special_rows(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(31);
  const int64_t m = 8, n = 70;
  float *x = lct_randn(&r, m * n, 2.0f);
  x[1 * n + 33] = lc_f32_from_bits(0xFFA00001u); /* negative signalling NaN */
  for (int64_t j = 0; j < n; j++) x[2 * n + j] = -INFINITY;
  x[3 * n + 69] = INFINITY;
  x[4 * n + 0] = -INFINITY;
  x[4 * n + 40] = -INFINITY;
  for (int64_t j = 0; j < n; j++) x[5 * n + j] = (j % 3) ? NAN : -INFINITY; /* NaN + -Inf */
  x[6 * n + 10] = 3e38f;                                                    /* dominates */
  const row_op ops[2] = {lc_softmax, lc_log_softmax};
  float *got = lct_alloc_f(m * n), *want = lct_alloc_f(m * n), *alone = lct_alloc_f(n),
        *ref = lct_alloc_f(m * n);
  for (int o = 0; o < 2; o++) {
    op_once(ops[o], LC_MODE_STRICT, x, m, n, got);
    if (o == 0)
      transcribed_softmax(x, m, n, want);
    else
      transcribed_log_softmax(x, m, n, want);
    lct_assert_bitwise_f32(got, want, m * n,
                           o ? "log_softmax special rows" : "softmax special rows");
    op_once(ops[o], LC_MODE_REFERENCE, x, m, n, ref);
    for (int64_t j = 0; j < n; j++) {
      for (int row = 1; row <= 5; row++) {
        if (row == 4) continue;
        assert_int_equal(lc_f32_bits(got[row * n + j]), 0x7FC00000u);
        assert_true(isnan(ref[row * n + j]));
      }
      const float v4 = got[4 * n + j], v6 = got[6 * n + j];
      if (j == 0 || j == 40) {
        assert_true(o == 0 ? v4 == 0.0f : v4 == -INFINITY);
        assert_true(o == 0 ? ref[4 * n + j] == 0.0f : ref[4 * n + j] == -INFINITY);
      } else {
        assert_true(isfinite(v4));
      }
      if (j == 10)
        assert_true(o == 0 ? v6 == 1.0f : v6 == 0.0f);
      else
        assert_true(o == 0 ? v6 == 0.0f : v6 < -1e38f);
    }
    for (int64_t row = 0; row < m; row += 7) {
      op_once(ops[o], LC_MODE_STRICT, x + row * n, 1, n, alone);
      lct_assert_bitwise_f32(got + row * n, alone, n, "clean row next to special rows vs alone");
    }
    float one[1] = {-12.5f}, y1[1];
    op_once(ops[o], LC_MODE_STRICT, one, 1, 1, y1);
    assert_true(o == 0 ? y1[0] == 1.0f : (y1[0] == 0.0f && !signbit(y1[0])));
  }
  free(x);
  free(got);
  free(want);
  free(alone);
  free(ref);
}

/* The maximum is canonicalised to +0: rows [-0, +0, ...] and [+0, -0, ...] give
 * mirrored bits whichever zero comes first, and log_softmax([-0, -200]) is -0 at 0
 * (d = -0 - (+0) = -0, sum = 1, ln 1 = +0; an uncanonicalised max -0 would give
 * d = -0 - (-0) = +0). */
static void test_softmax_signed_zero_max_is_canonical(void **state) {
  (void)state;
  const row_op ops[2] = {lc_softmax, lc_log_softmax};
  float x[2][4] = {{-0.0f, 0.0f, -3.0f, -INFINITY}, {0.0f, -0.0f, -3.0f, -INFINITY}};
  float y[2][4];
  for (int o = 0; o < 2; o++) {
    op_once(ops[o], LC_MODE_STRICT, &x[0][0], 2, 4, &y[0][0]);
    assert_int_equal(lc_f32_bits(y[0][0]), lc_f32_bits(y[1][1]));
    assert_int_equal(lc_f32_bits(y[0][1]), lc_f32_bits(y[1][0]));
    assert_int_equal(lc_f32_bits(y[0][2]), lc_f32_bits(y[1][2]));
    assert_int_equal(lc_f32_bits(y[0][3]), lc_f32_bits(y[1][3]));
  }
  float z[2] = {-0.0f, -200.0f}, out[2];
  op_once(lc_log_softmax, LC_MODE_STRICT, z, 1, 2, out);
  assert_int_equal(lc_f32_bits(out[0]), 0x80000000u);
  assert_true(out[1] == -200.0f);
}

/* m == 0 is a valid empty call: LC_OK and y untouched, both ops and modes. */
static void test_softmax_empty_batch_is_noop(void **state) {
  (void)state;
  const lc_mode modes[2] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  const row_op ops[2] = {lc_softmax, lc_log_softmax};
  float x[3] = {1, 2, 3}, y[3] = {-7, -7, -7};
  for (int mi = 0; mi < 2; mi++)
    for (int o = 0; o < 2; o++) {
      op_once(ops[o], modes[mi], x, 0, 3, y);
      for (int j = 0; j < 3; j++) assert_true(y[j] == -7.0f);
    }
}

/* cpu_ref internals: lc_cpu_canon_sum equals the transcribed 32-lane sum for every n
 * from 0 to 200 and some long rows, and differs from a sequential sum where the order
 * matters (so the lane order is really being tested). */
static void test_softmax_canon_sum_lane_order(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(32);
  float *v = lct_randn(&r, 5000, 100.0f);
  for (int64_t n = 0; n <= 200; n++)
    assert_int_equal(lc_f32_bits(lc_cpu_canon_sum(v, n)), lc_f32_bits(transcribed_sum(v, n)));
  const int64_t longs[] = {1023, 1024, 1025, 4999, 5000};
  for (int i = 0; i < 5; i++)
    assert_int_equal(lc_f32_bits(lc_cpu_canon_sum(v, longs[i])),
                     lc_f32_bits(transcribed_sum(v, longs[i])));
  float k[33];
  k[0] = 0x1p24f;
  for (int i = 1; i < 33; i++) k[i] = 1.0f;
  float seq = 0.0f;
  for (int i = 0; i < 33; i++) seq = seq + k[i];
  assert_true(seq == 0x1p24f); /* every +1 is a tie to even */
  const float lanes = lc_cpu_canon_sum(k, 33);
  assert_int_equal(lc_f32_bits(lanes), lc_f32_bits(transcribed_sum(k, 33)));
  assert_true(lanes != seq);
  free(v);
}

/* cpu_ref internals: the butterfly adds lane l ^ o for o = 16, 8, 4, 2, 1 and leaves
 * every lane equal.  lanes {0: 2^24, 1: 1, 17: 1}: o = 16 pairs the two ones first,
 * so the result is 2^24 + 2 exactly; lanes in index order would give 2^24. */
static void test_softmax_butterfly_known_answers(void **state) {
  (void)state;
  float lanes[32] = {0};
  lanes[0] = 0x1p24f;
  lanes[1] = 1.0f;
  lanes[17] = 1.0f;
  assert_true(lc_cpu_canon_butterfly(lanes) == 0x1p24f + 2.0f);
  for (int l = 0; l < 32; l++) assert_true(lanes[l] == 0x1p24f + 2.0f);
  for (int l = 0; l < 32; l++) lanes[l] = (float)l;
  assert_true(lc_cpu_canon_butterfly(lanes) == 496.0f);
  for (int l = 0; l < 32; l++) assert_true(lanes[l] == 496.0f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_softmax_strict_equals_canonical_transcription),
      cmocka_unit_test(test_softmax_log_softmax_strict_equals_canonical_transcription),
      cmocka_unit_test(test_softmax_strict_within_derived_bound_of_f64),
      cmocka_unit_test(test_softmax_reference_within_derived_bound_of_f64),
      cmocka_unit_test(test_softmax_reference_agrees_with_strict),
      cmocka_unit_test(test_softmax_in_place_equals_out_of_place),
      cmocka_unit_test(test_softmax_deterministic_repeat_calls),
      cmocka_unit_test(test_softmax_special_rows),
      cmocka_unit_test(test_softmax_signed_zero_max_is_canonical),
      cmocka_unit_test(test_softmax_empty_batch_is_noop),
      cmocka_unit_test(test_softmax_canon_sum_lane_order),
      cmocka_unit_test(test_softmax_butterfly_known_answers),
  };
  return LCT_RUN(tests);
}
