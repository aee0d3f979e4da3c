/*
 * tests/test_matmul.c — lc_matmul on the CPU backend, strict and reference.
 *
 * Strict is checked bitwise against a plain scalar transcription of the canonical
 * order written below (so the blocked, vectorised cpu_ref kernel is proven to be that
 * order), and both modes against a float64 oracle with derived error bounds.  Batch
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

/* ---- the canonical order, transcribed as plainly as possible ---------------*/

/* Segments of 256, a fresh fma chain each (k ascending), segment sums added in
 * order, then the bias, then the canonical NaN. */
static void transcribed_matmul(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                               const uint16_t *bias, float *y) {
  const int64_t ls = 256;
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      float out = 0.0f;
      for (int64_t s = 0; s * ls < k; s++) {
        float acc = 0.0f;
        for (int64_t kk = s * ls; kk < (s + 1) * ls && kk < k; kk++)
          acc = fmaf(x[i * k + kk], lct_bf16(w[j * k + kk]), acc);
        if (s == 0)
          out = acc;
        else
          out = out + acc;
      }
      if (bias) out = out + lct_bf16(bias[j]);
      y[i * n + j] = lct_canon(out);
    }
  }
}

/* ---- float64 oracle and derived bounds ---------------------------------------*/

/* ref = exact-ish sum in double; mag = sum |x*w| + |bias| (the condition scale). */
static void oracle_matmul(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                          const uint16_t *bias, double *ref, double *mag) {
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      double s = 0.0, a = 0.0;
      for (int64_t kk = 0; kk < k; kk++) {
        double p = (double)x[i * k + kk] * (double)lct_bf16(w[j * k + kk]);
        s += p;
        a += fabs(p);
      }
      if (bias) {
        s += lct_bf16(bias[j]);
        a += fabs(lct_bf16(bias[j]));
      }
      ref[i * n + j] = s;
      mag[i * n + j] = a;
    }
  }
}

/* Strict: a product in a segment of length L <= min(K, 256) meets at most L roundings
 * in its chain, then at most S - 1 segment additions (S = ceil(K/256)) and one bias
 * addition: |err| <= gamma_(L+S) * (sum|x*w| + |b|).  The double oracle's own error
 * (<= K * 2^-53 relative) is far below the one-rounding slack of counting the bias
 * addition even without a bias.  Gradual underflow adds at most 2^-150 per rounding:
 * (L + S) * 2^-149 covers it. */
static double strict_rounds(int64_t k) {
  return (double)lc_bound_matmul_strict_rounds(k, 1); /* the bias addition counted always */
}

/* Reference: OpenBLAS may sum in any order, with or without fma; a product still
 * meets at most K roundings (its multiply and K - 1 additions), plus the bias
 * addition: gamma_(K+1) * (sum|x*w| + |b|) + (K + 1) * 2^-149. */
static double ref_rounds(int64_t k) {
  return (double)lc_bound_matmul_any_order_rounds(k, 1);
}

static void bound(const double *mag, int64_t count, double rounds, double *tol) {
  for (int64_t i = 0; i < count; i++) tol[i] = lc_bound_gamma(rounds) * mag[i] + rounds * 0x1p-149;
}

/* ---- API helpers ---------------------------------------------------------------*/

typedef struct mm {
  lc_context *ctx;
  lc_weights *w;
  lc_weights *b; /* NULL without bias */
} mm;

static mm mm_new(lc_mode mode, int64_t k, const uint16_t *w, int64_t n, const uint16_t *bias) {
  mm p = {lct_cpu(mode), NULL, NULL};
  lc_status st = lc_weights_create(p.ctx, n, k, LC_DTYPE_BF16, w, &p.w);
  if (st != LC_OK) fail_msg("lc_weights_create: %s: %s", lc_status_name(st), lc_last_error(p.ctx));
  if (bias) {
    st = lc_weights_create(p.ctx, 1, n, LC_DTYPE_BF16, bias, &p.b);
    if (st != LC_OK) fail_msg("lc_weights_create(bias): %s", lc_status_name(st));
  }
  return p;
}

static void mm_call(mm *p, const float *x, int64_t m, float *y) {
  lc_status st = lc_matmul(p->ctx, x, m, p->w, p->b, y);
  if (st != LC_OK)
    fail_msg("lc_matmul(m=%lld): %s: %s", (long long)m, lc_status_name(st), lc_last_error(p->ctx));
}

static void mm_free(mm *p) {
  lc_weights_free(p->b);
  lc_weights_free(p->w);
  lc_context_free(p->ctx);
}

/* One call on a fresh context of `mode`. */
static void matmul_once(lc_mode mode, const float *x, int64_t m, int64_t k, const uint16_t *w,
                        int64_t n, const uint16_t *bias, float *y) {
  mm p = mm_new(mode, k, w, n, bias);
  mm_call(&p, x, m, y);
  mm_free(&p);
}

/* ---- the shape table: awkward K, N 1..70, M 0..33, with and without bias ------*/

static const int64_t kKs[] = {1, 5, 255, 256, 257, 511, 513, 1000, 1024, 1500, 2049};
static const int64_t kMs[] = {0,  1,  2, 3, 4, 5,  7, 8,  9, 16, 31,
                              33, 17, 1, 6, 4, 32, 3, 11, 2, 0,  25};
#define N_KS ((int)(sizeof kKs / sizeof kKs[0]))
#define N_CASES (2 * N_KS)

typedef struct mm_case {
  int64_t m, k, n;
  float *x;       /* [m][k] */
  uint16_t *w;    /* [n][k] bf16 */
  uint16_t *bias; /* [n] or NULL */
} mm_case;

static mm_case case_make(int i) {
  lct_rng r = lct_rng_new(1000 + (uint64_t)i);
  mm_case c;
  c.k = kKs[i % N_KS];
  c.m = kMs[i % (int)(sizeof kMs / sizeof kMs[0])];
  c.n = lct_range(&r, 1, 70);
  if (i == 0) c.n = 1;
  if (i == 1) c.n = 70;
  c.x = lct_randn(&r, c.m * c.k, 1.0f);
  c.w = lct_rand_bf16(&r, c.n * c.k, 0.5f);
  c.bias = (i / N_KS) % 2 ? lct_rand_bf16(&r, c.n, 2.0f) : NULL;
  return c;
}

static void case_free(mm_case *c) {
  free(c->x);
  free(c->w);
  free(c->bias);
}

static char *case_name(const mm_case *c, const char *what, char *buf, size_t len) {
  snprintf(buf, len, "%s M=%lld K=%lld N=%lld %s", what, (long long)c->m, (long long)c->k,
           (long long)c->n, c->bias ? "bias" : "no bias");
  return buf;
}

/* ---- tests ------------------------------------------------------------------------*/

/* Strict lc_matmul equals, bitwise, the scalar transcription of the canonical order. */
static void test_matmul_strict_equals_canonical_transcription(void **state) {
  (void)state;
  char what[128];
  for (int i = 0; i < N_CASES; i++) {
    mm_case c = case_make(i);
    float *got = lct_alloc_f(c.m * c.n), *want = lct_alloc_f(c.m * c.n);
    matmul_once(LC_MODE_STRICT, c.x, c.m, c.k, c.w, c.n, c.bias, got);
    transcribed_matmul(c.x, c.m, c.k, c.w, c.n, c.bias, want);
    lct_assert_bitwise_f32(got, want, c.m * c.n,
                           case_name(&c, "strict vs transcription", what, 128));
    free(got);
    free(want);
    case_free(&c);
  }
}

/* Shared body: mode vs the float64 oracle within gamma_(rounds(K)) * sum|x*w|. */
static void check_vs_oracle(lc_mode mode, double (*rounds)(int64_t)) {
  char what[128];
  for (int i = 0; i < N_CASES; i++) {
    mm_case c = case_make(i);
    const int64_t cnt = c.m * c.n;
    float *got = lct_alloc_f(cnt);
    double *ref = lct_alloc_d(cnt), *mag = lct_alloc_d(cnt), *tol = lct_alloc_d(cnt);
    matmul_once(mode, c.x, c.m, c.k, c.w, c.n, c.bias, got);
    oracle_matmul(c.x, c.m, c.k, c.w, c.n, c.bias, ref, mag);
    bound(mag, cnt, rounds(c.k), tol);
    lct_assert_within(got, ref, tol, cnt, case_name(&c, lc_mode_name(mode), what, 128));
    free(got);
    free(ref);
    free(mag);
    free(tol);
    case_free(&c);
  }
}

/* Strict is within gamma_(min(K,256) + ceil(K/256)) * sum|x*w| of the float64 sum. */
static void test_matmul_strict_within_derived_bound_of_f64(void **state) {
  (void)state;
  check_vs_oracle(LC_MODE_STRICT, strict_rounds);
}

/* Reference (OpenBLAS) is within gamma_(K+1) * sum|x*w| of the float64 sum. */
static void test_matmul_reference_within_derived_bound_of_f64(void **state) {
  (void)state;
  check_vs_oracle(LC_MODE_REFERENCE, ref_rounds);
}

/* Reference and strict agree within the sum of their two bounds (each is that close
 * to the exact value), and are in fact close: the worst gap is printed on failure. */
static void test_matmul_reference_agrees_with_strict(void **state) {
  (void)state;
  char what[128];
  for (int i = 0; i < N_CASES; i++) {
    mm_case c = case_make(i);
    const int64_t cnt = c.m * c.n;
    float *s = lct_alloc_f(cnt), *r = lct_alloc_f(cnt);
    double *sd = lct_alloc_d(cnt), *ref = lct_alloc_d(cnt), *mag = lct_alloc_d(cnt),
           *tol = lct_alloc_d(cnt);
    matmul_once(LC_MODE_STRICT, c.x, c.m, c.k, c.w, c.n, c.bias, s);
    matmul_once(LC_MODE_REFERENCE, c.x, c.m, c.k, c.w, c.n, c.bias, r);
    oracle_matmul(c.x, c.m, c.k, c.w, c.n, c.bias, ref, mag);
    for (int64_t j = 0; j < cnt; j++) {
      sd[j] = s[j];
      tol[j] = lc_bound_gamma(strict_rounds(c.k)) * mag[j] +
               lc_bound_gamma(ref_rounds(c.k)) * mag[j] +
               (strict_rounds(c.k) + ref_rounds(c.k)) * 0x1p-149;
    }
    lct_assert_within(r, sd, tol, cnt, case_name(&c, "reference vs strict", what, 128));
    free(s);
    free(r);
    free(sd);
    free(ref);
    free(mag);
    free(tol);
    case_free(&c);
  }
}

/* Known answers that only the canonical order gives: the 256-element segments, the
 * fused multiply-add, and the bias added after the segments. */
static void test_matmul_known_answer_segments_fma_bias(void **state) {
  (void)state;
  const uint16_t one = 0x3F80; /* bf16 1.0 */
  float y[2];
  /* Segments: x*w = 2^24 at k = 0, then 1 at k = 256 and 257.  One chain would give
   * 2^24 (2^24 + 1 rounds to even, twice); segments give 2^24 + (1 + 1) exactly. */
  {
    const int64_t k = 258;
    float x[258] = {0};
    uint16_t w[258];
    for (int i = 0; i < k; i++) w[i] = one;
    x[0] = 0x1p24f;
    x[256] = 1.0f;
    x[257] = 1.0f;
    matmul_once(LC_MODE_STRICT, x, 1, k, w, 1, NULL, y);
    assert_true(y[0] == 0x1p24f + 2.0f);
  }
  /* fma: x = (-1, 1 + 2^-20), w = (1, 1 + 2^-7).  The product (1+2^-20)(1+2^-7) needs
   * 28 bits; fma keeps them: 2^-7 + 2^-20 + 2^-27.  A rounded product loses 2^-27. */
  {
    float x[2] = {-1.0f, 1.0f + 0x1p-20f};
    uint16_t w[2] = {one, 0x3F81}; /* 1, 1 + 2^-7 */
    matmul_once(LC_MODE_STRICT, x, 1, 2, w, 1, NULL, y);
    assert_true(y[0] == 0x1p-7f + 0x1p-20f + 0x1p-27f);
  }
  /* Bias last: x*w = 1, 1 and bias 2^24 gives (1 + 1) + 2^24 = 2^24 + 2; a bias used
   * as the initial accumulator would give 2^24. */
  {
    float x[2] = {1.0f, 1.0f};
    uint16_t w[2] = {one, one};
    uint16_t b = 0x4B80; /* 2^24 */
    matmul_once(LC_MODE_STRICT, x, 1, 2, w, 1, &b, y);
    assert_true(y[0] == 0x1p24f + 2.0f);
  }
}

/* Small integers: every partial sum is exact, so strict and reference both give the
 * exact value (|sum| <= 64 * 2049 < 2^24). */
static void test_matmul_exact_on_small_integers(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(7);
  const int64_t m = 5, k = 2049, n = 37;
  float *x = lct_alloc_f(m * k);
  uint16_t *w = malloc((size_t)(n * k) * sizeof *w), bias[37];
  assert_non_null(w);
  for (int64_t i = 0; i < m * k; i++) x[i] = (float)lct_range(&r, -8, 8);
  for (int64_t i = 0; i < n * k; i++) w[i] = lc_f32_to_bf16((float)lct_range(&r, -8, 8));
  for (int64_t j = 0; j < n; j++) bias[j] = lc_f32_to_bf16((float)lct_range(&r, -100, 100));
  double *ref = lct_alloc_d(m * n), *mag = lct_alloc_d(m * n);
  oracle_matmul(x, m, k, w, n, bias, ref, mag);
  float *ys = lct_alloc_f(m * n), *yr = lct_alloc_f(m * n);
  matmul_once(LC_MODE_STRICT, x, m, k, w, n, bias, ys);
  matmul_once(LC_MODE_REFERENCE, x, m, k, w, n, bias, yr);
  lct_assert_close(ys, ref, m * n, 0.0, 0.0, "strict, integers");
  lct_assert_close(yr, ref, m * n, 0.0, 0.0, "reference, integers");
  free(x);
  free(w);
  free(ref);
  free(mag);
  free(ys);
  free(yr);
}

/* The same strict and reference calls twice give the same bits (reference: one
 * OpenBLAS thread, a fixed shape takes a fixed path). */
static void test_matmul_deterministic_repeat_calls(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(11);
  const int64_t m = 17, k = 1500, n = 70;
  float *x = lct_randn(&r, m * k, 1.0f);
  uint16_t *w = lct_rand_bf16(&r, n * k, 0.3f), *b = lct_rand_bf16(&r, n, 1.0f);
  float *y1 = lct_alloc_f(m * n), *y2 = lct_alloc_f(m * n);
  const lc_mode modes[2] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  for (int mi = 0; mi < 2; mi++) {
    mm p = mm_new(modes[mi], k, w, n, b);
    mm_call(&p, x, m, y1);
    mm_call(&p, x, m, y2);
    lct_assert_bitwise_f32(y2, y1, m * n, lc_mode_name(modes[mi]));
    mm_free(&p);
  }
  free(x);
  free(w);
  free(b);
  free(y1);
  free(y2);
}

/* NaN and Inf in an input row: strict writes what the canonical formula gives, with
 * every NaN 0x7FC00000 whatever the input NaN's sign and payload; the other rows are
 * bitwise what they are alone.  Reference: NaN rows are NaN, clean rows accurate. */
static void test_matmul_special_values_in_rows(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(12);
  const int64_t m = 6, k = 300, n = 20;
  float *x = lct_randn(&r, m * k, 1.0f);
  uint16_t *w = lct_rand_bf16(&r, n * k, 0.5f);
  x[1 * k + 5] = NAN;
  x[2 * k + 260] = INFINITY;
  w[3 * k + 260] = 0x0000; /* row 2, column 3: Inf * 0 = NaN */
  x[3 * k + 0] = -INFINITY;
  x[3 * k + 299] = INFINITY;                     /* -Inf*w0 + Inf*w299: NaN where the signs clash */
  x[4 * k + 17] = lc_f32_from_bits(0x7F800001u); /* signalling NaN, odd payload */
  x[5 * k + 280] = lc_f32_from_bits(0xFFC00123u); /* negative quiet NaN */
  float *got = lct_alloc_f(m * n), *want = lct_alloc_f(m * n), *alone = lct_alloc_f(n);
  matmul_once(LC_MODE_STRICT, x, m, k, w, n, NULL, got);
  transcribed_matmul(x, m, k, w, n, NULL, want);
  lct_assert_bitwise_f32(got, want, m * n, "strict with NaN/Inf rows vs transcription");
  for (int64_t j = 0; j < n; j++) {
    assert_int_equal(lc_f32_bits(got[1 * n + j]), 0x7FC00000u);
    assert_int_equal(lc_f32_bits(got[4 * n + j]), 0x7FC00000u);
    assert_int_equal(lc_f32_bits(got[5 * n + j]), 0x7FC00000u);
    if (j == 3)
      assert_int_equal(lc_f32_bits(got[2 * n + j]), 0x7FC00000u);
    else
      assert_true(isinf(got[2 * n + j]));
    /* row 3: Inf of the sign of w, or canonical NaN where -Inf*w0 and Inf*w299 clash */
    const float a = -lct_bf16(w[j * k + 0]), b = lct_bf16(w[j * k + 299]);
    if ((a > 0 && b < 0) || (a < 0 && b > 0) || a == 0 || b == 0)
      assert_int_equal(lc_f32_bits(got[3 * n + j]), 0x7FC00000u);
    else
      assert_true(isinf(got[3 * n + j]) && (got[3 * n + j] > 0) == (a > 0));
  }
  matmul_once(LC_MODE_STRICT, x, 1, k, w, n, NULL, alone);
  lct_assert_bitwise_f32(got, alone, n, "clean row 0 next to NaN/Inf rows vs alone");

  float *yr = lct_alloc_f(m * n);
  matmul_once(LC_MODE_REFERENCE, x, m, k, w, n, NULL, yr);
  for (int64_t j = 0; j < n; j++) {
    assert_true(isnan(yr[1 * n + j]) && isnan(yr[4 * n + j]) && isnan(yr[5 * n + j]));
    assert_true(j == 3 ? isnan(yr[2 * n + j]) : isinf(yr[2 * n + j]));
  }
  double *ref = lct_alloc_d(n), *mag = lct_alloc_d(n), *tol = lct_alloc_d(n);
  oracle_matmul(x, 1, k, w, n, NULL, ref, mag);
  bound(mag, n, ref_rounds(k), tol);
  lct_assert_within(yr, ref, tol, n, "reference clean row 0");
  free(x);
  free(w);
  free(got);
  free(want);
  free(alone);
  free(yr);
  free(ref);
  free(mag);
  free(tol);
}

/* A NaN or Inf in W (or the bias) spoils its own output column only, in every row;
 * strict writes the canonical NaN there. */
static void test_matmul_special_values_in_weights(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(13);
  const int64_t m = 5, k = 513, n = 33;
  float *x = lct_randn(&r, m * k, 1.0f);
  uint16_t *w = lct_rand_bf16(&r, n * k, 0.5f), *b = lct_rand_bf16(&r, n, 1.0f);
  w[7 * k + 400] = 0xFFC1; /* negative NaN with a payload */
  w[20 * k + 0] = 0x7F80;  /* +Inf */
  b[32] = 0x7FC0;          /* NaN bias */
  float *got = lct_alloc_f(m * n), *want = lct_alloc_f(m * n);
  matmul_once(LC_MODE_STRICT, x, m, k, w, n, b, got);
  transcribed_matmul(x, m, k, w, n, b, want);
  lct_assert_bitwise_f32(got, want, m * n, "strict, NaN/Inf weights vs transcription");
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      const float v = got[i * n + j];
      if (j == 7 || j == 32)
        assert_int_equal(lc_f32_bits(v), 0x7FC00000u);
      else if (j == 20)
        assert_true(isinf(v) ||
                    lc_f32_bits(v) == 0x7FC00000u); /* Inf * x[0]: x[0] is never 0 here */
      else
        assert_true(isfinite(v));
    }
  }
  free(x);
  free(w);
  free(b);
  free(got);
  free(want);
}

/* m == 0 is a valid empty call: LC_OK and y untouched, in both modes. */
static void test_matmul_empty_batch_is_noop(void **state) {
  (void)state;
  uint16_t w[3 * 4] = {0x3F80};
  float x[4] = {1, 2, 3, 4};
  float y[3] = {-7.0f, -7.0f, -7.0f};
  const lc_mode modes[2] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  for (int mi = 0; mi < 2; mi++) {
    mm p = mm_new(modes[mi], 4, w, 3, NULL);
    assert_int_equal(lc_matmul(p.ctx, x, 0, p.w, NULL, y), LC_OK);
    for (int j = 0; j < 3; j++) assert_true(y[j] == -7.0f);
    mm_free(&p);
  }
}

/* Subnormals are neither flushed nor treated as zero: a subnormal x times 1 comes
 * out exactly, and products that round into the subnormal range keep their value. */
static void test_matmul_subnormals_preserved(void **state) {
  (void)state;
  float x[3] = {0x1p-140f, 0x1.8p-130f, 0.0f};
  uint16_t w[3] = {0x3F80, 0x3F00, 0x3F80}; /* 1, 0.5, 1 */
  float y[1];
  matmul_once(LC_MODE_STRICT, x, 1, 3, w, 1, NULL, y);
  assert_true(y[0] == 0x1p-140f + 0x1.8p-131f);
  assert_true(y[0] != 0.0f && fpclassify(y[0]) == FP_SUBNORMAL);
}

/* cpu_ref internals: the column blocking does not show.  Computing W's rows in
 * arbitrary slices (tails of 1..15 columns, slices straddling the 16-column blocks)
 * gives the same bits as one call over all columns. */
static void test_matmul_cpu_ref_column_slices_identical(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(14);
  const int64_t m = 9, k = 600, n = 53;
  float *x = lct_randn(&r, m * k, 1.0f);
  uint16_t *w = lct_rand_bf16(&r, n * k, 0.5f), *b = lct_rand_bf16(&r, n, 1.0f);
  float *full = lct_alloc_f(m * n), *part = lct_alloc_f(m * n);
  assert_int_equal(lc_cpu_matmul_strict(x, m, k, w, n, b, full), LC_OK);
  const int64_t cuts[] = {0, 5, 21, 22, 39, 53};
  for (int c = 0; c + 1 < (int)(sizeof cuts / sizeof cuts[0]); c++) {
    const int64_t n0 = cuts[c], nn = cuts[c + 1] - cuts[c];
    float *ys = lct_alloc_f(m * nn);
    assert_int_equal(lc_cpu_matmul_strict(x, m, k, w + n0 * k, nn, b + n0, ys), LC_OK);
    for (int64_t i = 0; i < m; i++) memcpy(part + i * n + n0, ys + i * nn, (size_t)nn * 4);
    free(ys);
  }
  lct_assert_bitwise_f32(part, full, m * n, "column slices vs one call");
  free(x);
  free(w);
  free(b);
  free(full);
  free(part);
}

/* Model-sized rows (K = 4096 and 14336) stay within the derived bounds in both modes. */
static void test_matmul_large_k_within_bounds(void **state) {
  (void)state;
  const int64_t ks[2] = {4096, 14336}, ns[2] = {96, 24}, ms[2] = {3, 2};
  char what[96];
  for (int t = 0; t < 2; t++) {
    lct_rng r = lct_rng_new(15 + (uint64_t)t);
    const int64_t m = ms[t], k = ks[t], n = ns[t];
    float *x = lct_randn(&r, m * k, 1.0f);
    uint16_t *w = lct_rand_bf16(&r, n * k, 0.02f), *b = lct_rand_bf16(&r, n, 0.1f);
    double *ref = lct_alloc_d(m * n), *mag = lct_alloc_d(m * n), *tol = lct_alloc_d(m * n);
    float *y = lct_alloc_f(m * n), *want = lct_alloc_f(m * n);
    oracle_matmul(x, m, k, w, n, b, ref, mag);
    matmul_once(LC_MODE_STRICT, x, m, k, w, n, b, y);
    transcribed_matmul(x, m, k, w, n, b, want);
    snprintf(what, sizeof what, "strict K=%lld", (long long)k);
    lct_assert_bitwise_f32(y, want, m * n, what);
    bound(mag, m * n, strict_rounds(k), tol);
    lct_assert_within(y, ref, tol, m * n, what);
    matmul_once(LC_MODE_REFERENCE, x, m, k, w, n, b, y);
    bound(mag, m * n, ref_rounds(k), tol);
    snprintf(what, sizeof what, "reference K=%lld", (long long)k);
    lct_assert_within(y, ref, tol, m * n, what);
    free(x);
    free(w);
    free(b);
    free(ref);
    free(mag);
    free(tol);
    free(y);
    free(want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matmul_strict_equals_canonical_transcription),
      cmocka_unit_test(test_matmul_strict_within_derived_bound_of_f64),
      cmocka_unit_test(test_matmul_reference_within_derived_bound_of_f64),
      cmocka_unit_test(test_matmul_reference_agrees_with_strict),
      cmocka_unit_test(test_matmul_known_answer_segments_fma_bias),
      cmocka_unit_test(test_matmul_exact_on_small_integers),
      cmocka_unit_test(test_matmul_deterministic_repeat_calls),
      cmocka_unit_test(test_matmul_special_values_in_rows),
      cmocka_unit_test(test_matmul_special_values_in_weights),
      cmocka_unit_test(test_matmul_empty_batch_is_noop),
      cmocka_unit_test(test_matmul_subnormals_preserved),
      cmocka_unit_test(test_matmul_cpu_ref_column_slices_identical),
      cmocka_unit_test(test_matmul_large_k_within_bounds),
  };
  return LCT_RUN(tests);
}
