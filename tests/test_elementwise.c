/*
 * tests/test_elementwise.c — lc_silu_mul and lc_add on the CPU backend.
 *
 * silu_mul against a float64 oracle with a derived bound, its special values
 * and strict equal bitwise to the canonical formula; add exact (bitwise the
 * correctly rounded sum); canonical NaN; in-place aliasing; empty calls; and
 * an element's bits independent of where it sits in the array.
 */
#include "test_util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_canon.h"

static void silu_mul(lc_context *ctx, const float *g, const float *u, int64_t n, float *out) {
  lc_status st = lc_silu_mul(ctx, g, u, n, out);
  if (st != LC_OK) fail_msg("lc_silu_mul: %s: %s", lc_status_name(st), lc_last_error(ctx));
}

static void add(lc_context *ctx, const float *a, const float *b, int64_t n, float *out) {
  lc_status st = lc_add(ctx, a, b, n, out);
  if (st != LC_OK) fail_msg("lc_add: %s: %s", lc_status_name(st), lc_last_error(ctx));
}

static lc_context *ctx_of(int mode) {
  return lct_cpu(mode ? LC_MODE_REFERENCE : LC_MODE_STRICT);
}

static const char *mode_name(int mode) {
  return mode ? "reference" : "strict";
}

/* ---- silu_mul ---------------------------------------------------------------*/

/* Gates over every regime: |g| small (silu ~ g/2), moderate, beyond the exp
 * overflow (g < -88.72: exp(-g) = Inf and silu = -0), beyond exp underflow
 * (g > 88: silu = g), and tiny / subnormal; ups N(0, 1) with a few wide. */
static void silu_inputs(lct_rng *r, int64_t n, float *g, float *u) {
  for (int64_t i = 0; i < n; i++) {
    switch (i % 6) {
      case 0:
        g[i] = lct_normalf(r);
        break;
      case 1:
        g[i] = lct_uniformf(r, -20.0f, 20.0f);
        break;
      case 2:
        g[i] = lct_uniformf(r, -120.0f, 120.0f);
        break;
      case 3:
        g[i] = lct_uniformf(r, -1.0f, 1.0f) * powf(2.0f, -(float)lct_range(r, 0, 140));
        break;
      case 4:
        g[i] = lct_uniformf(r, -90.0f, -80.0f);
        break;
      default:
        g[i] = lct_uniformf(r, -4.0f, 4.0f);
        break;
    }
    u[i] = (i % 11 == 0) ? lct_uniformf(r, -1e30f, 1e30f) : lct_normalf(r);
  }
}

/* Oracle silu(g) * u in double, and the bound.  Float computation:
 * e = exp(-g) with relative error eta: lc_expf is within 0.94 ulp (measured
 * over all inputs by tests/test_exp.c), glibc's expf within 1 ulp; 1 ulp of
 * e is at most 2^-23 e, so eta = 2u; 1 + e rounded: the denominator's relative error
 * is <= eta e/(1+e) + u <= eta + u; the division and the product round once
 * each: |got - ref| <= (eta + 3u) |ref| to first order; 1.01 covers the
 * second-order terms.  Two absolute terms: for g < -88.72, exp(-g)
 * overflows and silu becomes -0 while the true |silu| < 89 e^-88.72 < 3e-37:
 * the error is then |ref| itself; results in the subnormal range round with
 * absolute error 2^-150 (silu) and 2^-150 (product), times |u| for the
 * first: 2^-149 (1 + |u|). */
static void silu_oracle(const float *g, const float *u, int64_t n, double *ref, double *tol) {
  const double eta = 2.0 * LCT_U;
  for (int64_t i = 0; i < n; i++) {
    const double x = g[i];
    ref[i] = x / (1.0 + exp(-x)) * (double)u[i];
    tol[i] = 1.01 * (eta + 3.0 * LCT_U) * fabs(ref[i]) + 0x1p-149 * (1.0 + fabs((double)u[i]));
    if (x < -88.72) tol[i] += fabs(ref[i]);
  }
}

static void silu_vs_oracle(int mode) {
  const int64_t n = 200000;
  lc_context *ctx = ctx_of(mode);
  lct_rng r = lct_rng_new(100 + (uint64_t)mode);
  float *g = lct_malloc_f(n), *u = lct_malloc_f(n), *out = lct_malloc_f(n);
  silu_inputs(&r, n, g, u);
  double *ref = lct_malloc((size_t)n * sizeof(double)),
         *tol = lct_malloc((size_t)n * sizeof(double));
  silu_oracle(g, u, n, ref, tol);
  silu_mul(ctx, g, u, n, out);
  char what[64];
  snprintf(what, sizeof what, "silu_mul %s vs float64", mode_name(mode));
  lct_assert_within(out, ref, tol, n, what);
  /* measured, where silu(g), the product and exp(-g) are normal floats: the
   * worst fraction of the relative bound, and the largest distance in ulps
   * to the double result rounded to float */
  uint64_t worst = 0;
  double worst_ratio = 0.0;
  for (int64_t i = 0; i < n; i++) {
    if (fabs(ref[i]) < FLT_MIN || fabs(ref[i]) > FLT_MAX || g[i] < -88.72f ||
        fabs(ref[i] / (double)u[i]) < FLT_MIN)
      continue;
    const double ratio = fabs((double)out[i] - ref[i]) / tol[i];
    if (ratio > worst_ratio) worst_ratio = ratio;
    const uint64_t d = lc_ulp_distance_f32(out[i], (float)ref[i]);
    if (d > worst) worst = d;
  }
  print_message(
      "silu_mul %s: worst error %.3g of the bound; worst %llu ulp from the correctly "
      "rounded result\n",
      mode_name(mode), worst_ratio, (unsigned long long)worst);
  free(g);
  free(u);
  free(out);
  free(ref);
  free(tol);
  lc_context_free(ctx);
}

/* Strict silu_mul is within the derived bound of the float64 oracle over
 * every regime of the gate. */
static void test_elementwise_silu_mul_strict_vs_oracle(void **state) {
  (void)state;
  silu_vs_oracle(0);
}

/* Reference silu_mul (libm expf) is within the same bound. */
static void test_elementwise_silu_mul_reference_vs_oracle(void **state) {
  (void)state;
  silu_vs_oracle(1);
}

/* Strict equals canon(lc_siluf(g) * u) bitwise for any input bits. */
static void test_elementwise_silu_mul_strict_matches_spec(void **state) {
  (void)state;
  const int64_t n = 100000;
  lc_context *ctx = ctx_of(0);
  lct_rng r = lct_rng_new(7);
  float *g = lct_malloc_f(n), *u = lct_malloc_f(n), *out = lct_malloc_f(n), *want = lct_malloc_f(n);
  for (int64_t i = 0; i < n; i++) {
    g[i] = (i % 2) ? lct_any_bits(&r) : lct_uniformf(&r, -100.0f, 100.0f);
    u[i] = (i % 3) ? lct_normalf(&r) : lct_any_bits(&r);
    want[i] = lc_canon_nan(lc_siluf(g[i]) * u[i]);
  }
  silu_mul(ctx, g, u, n, out);
  lct_assert_bitwise_f32(out, want, n, "strict silu_mul vs canon(lc_siluf(g) * u)");
  free(g);
  free(u);
  free(out);
  free(want);
  lc_context_free(ctx);
}

/* Special values in strict mode, exact bits: silu(+Inf) = +Inf,
 * silu(-Inf) = NaN, NaN in either input -> 0x7FC00000, large negative
 * gate -> -0, +-0 gate -> +-0, Inf * 0 -> NaN, silu(huge) = huge. */
static void test_elementwise_silu_mul_special_values(void **state) {
  (void)state;
  const float inf = INFINITY;
  const float nan_payload = lc_f32_from_bits(0x7FA12345u); /* signalling, with a payload */
  const float nan_neg = lc_f32_from_bits(0xFFC00001u);
  const float g[] = {inf,   -inf, nan_payload, 1.0f,    -1e30f,  -200.0f, 0.0f,
                     -0.0f, inf,  1e30f,       3.0e38f, nan_neg, -inf};
  const float u[] = {1.0f, 1.0f, 1.0f,  nan_neg, 1.0f, 2.0f, 5.0f,
                     5.0f, 0.0f, -1.0f, 1.0f,    0.0f, 0.0f};
  const uint32_t want[] = {0x7F800000u,
                           LC_F32_CANONICAL_NAN_BITS,
                           LC_F32_CANONICAL_NAN_BITS,
                           LC_F32_CANONICAL_NAN_BITS,
                           0x80000000u,
                           0x80000000u,
                           0x00000000u,
                           0x80000000u,
                           LC_F32_CANONICAL_NAN_BITS,
                           lc_f32_bits(-1e30f),
                           lc_f32_bits(3.0e38f),
                           LC_F32_CANONICAL_NAN_BITS,
                           LC_F32_CANONICAL_NAN_BITS};
  const int64_t n = (int64_t)(sizeof g / sizeof g[0]);
  lc_context *ctx = ctx_of(0);
  float out[sizeof g / sizeof g[0]];
  silu_mul(ctx, g, u, n, out);
  for (int64_t i = 0; i < n; i++)
    if (lc_f32_bits(out[i]) != want[i])
      fail_msg("silu(%g) * %g: got %g (0x%08X), expected 0x%08X", (double)g[i], (double)u[i],
               (double)out[i], lc_f32_bits(out[i]), want[i]);
  lc_context_free(ctx);
}

/* out may be gate or up (in place): the same bits as out of place, both
 * modes. */
static void test_elementwise_silu_mul_in_place(void **state) {
  (void)state;
  const int64_t n = 4096;
  for (int mode = 0; mode < 2; mode++) {
    lc_context *ctx = ctx_of(mode);
    lct_rng r = lct_rng_new(8);
    float *g = lct_malloc_f(n), *u = lct_malloc_f(n), *want = lct_malloc_f(n),
          *io = lct_malloc_f(n);
    silu_inputs(&r, n, g, u);
    silu_mul(ctx, g, u, n, want);
    memcpy(io, g, (size_t)n * sizeof(float));
    silu_mul(ctx, io, u, n, io);
    lct_assert_bitwise_f32(io, want, n, "silu_mul with out == gate");
    memcpy(io, u, (size_t)n * sizeof(float));
    silu_mul(ctx, g, io, n, io);
    lct_assert_bitwise_f32(io, want, n, "silu_mul with out == up");
    free(g);
    free(u);
    free(want);
    free(io);
    lc_context_free(ctx);
  }
}

/* An element's result does not depend on the call it is in: any slice
 * [off, off+len) computed alone equals the same elements of a whole-array
 * call whose other elements are poison (strict, both ops). */
static void test_elementwise_slice_invariance(void **state) {
  (void)state;
  const int64_t n = 1000;
  lc_context *ctx = ctx_of(0);
  lct_rng r = lct_rng_new(9);
  float *g = lct_malloc_f(n), *u = lct_malloc_f(n), *whole = lct_malloc_f(n),
        *part = lct_malloc_f(n);
  float *pg = lct_malloc_f(n), *pu = lct_malloc_f(n);
  silu_inputs(&r, n, g, u);
  for (int op = 0; op < 2; op++)
    for (int trial = 0; trial < 50; trial++) {
      const int64_t off = lct_range(&r, 0, n - 1), len = lct_range(&r, 1, n - off);
      lct_fill_poison(pg, n, trial, &r);
      lct_fill_poison(pu, n, trial + 1, &r);
      memcpy(pg + off, g + off, (size_t)len * sizeof(float));
      memcpy(pu + off, u + off, (size_t)len * sizeof(float));
      if (op == 0) {
        silu_mul(ctx, pg, pu, n, whole);
        silu_mul(ctx, g + off, u + off, len, part);
      } else {
        add(ctx, pg, pu, n, whole);
        add(ctx, g + off, u + off, len, part);
      }
      lct_assert_bitwise_f32(whole + off, part, len, op ? "add slice" : "silu_mul slice");
    }
  free(g);
  free(u);
  free(whole);
  free(part);
  free(pg);
  free(pu);
  lc_context_free(ctx);
}

/* ---- add --------------------------------------------------------------------*/

/* The exact expectation: (float)((double)a + (double)b), NaN canonical.
 * Why this is the correctly rounded float sum: a double holds 53 bits,
 * at least 2*24 + 2, so rounding the sum first to double and then to float
 * gives the same result as rounding it once to float (double rounding is
 * innocuous for +, -, *, /, sqrt when p' >= 2p + 2: Figueroa, 1995).  The
 * double's exponent range covers every sum of two floats, so overflow to
 * +-Inf and gradual underflow are decided by the final conversion alone. */
static float add_exact(float a, float b) {
  return lc_canon_nan((float)((double)a + (double)b));
}

/* lc_add equals the correctly rounded sum bitwise in both modes, over
 * random bit patterns (any finite, close magnitudes with cancellation,
 * subnormals, near-overflow pairs). */
static void test_elementwise_add_exact(void **state) {
  (void)state;
  const int64_t n = 300000;
  lct_rng r = lct_rng_new(11);
  float *a = lct_malloc_f(n), *b = lct_malloc_f(n), *out = lct_malloc_f(n), *want = lct_malloc_f(n);
  for (int64_t i = 0; i < n; i++) {
    switch (i % 5) {
      case 0:
        a[i] = lct_any_finite(&r);
        b[i] = lct_any_finite(&r);
        break;
      case 1: /* close magnitudes, both signs: cancellation */
        a[i] = lct_normalf(&r);
        b[i] = -a[i] * lct_uniformf(&r, 0.5f, 2.0f);
        break;
      case 2: /* subnormals and the smallest normals */
        a[i] = lc_f32_from_bits((uint32_t)(lct_next(&r) & 0x80FFFFFFu));
        b[i] = lc_f32_from_bits((uint32_t)(lct_next(&r) & 0x80FFFFFFu));
        break;
      case 3: /* near FLT_MAX: overflow or not */
        a[i] = lct_uniformf(&r, 1.6e38f, FLT_MAX) * ((lct_next(&r) & 1) ? 1.0f : -1.0f);
        b[i] = lct_uniformf(&r, 1.6e38f, FLT_MAX) * ((lct_next(&r) & 1) ? 1.0f : -1.0f);
        break;
      default: /* exponents a few apart: rounding of the shifted operand, ties */
        a[i] = lct_uniformf(&r, -1.0f, 1.0f);
        b[i] = lc_f32_from_bits((lc_f32_bits(a[i]) & 0xFF800000u) -
                                (uint32_t)(lct_range(&r, 0, 30) << 23) +
                                ((uint32_t)lct_next(&r) & 0x7FFFFFu));
        if (!isfinite(b[i])) b[i] = 1.0f;
        break;
    }
    want[i] = add_exact(a[i], b[i]);
  }
  for (int mode = 0; mode < 2; mode++) {
    lc_context *ctx = ctx_of(mode);
    add(ctx, a, b, n, out);
    lct_assert_bitwise_f32(out, want, n, mode ? "reference add" : "strict add");
    lc_context_free(ctx);
  }
  free(a);
  free(b);
  free(out);
  free(want);
}

/* Inf - Inf and NaN inputs (any payload, either sign) give 0x7FC00000;
 * Inf + finite = Inf; -0 + -0 = -0, -0 + +0 = +0. */
static void test_elementwise_add_special_values(void **state) {
  (void)state;
  const float inf = INFINITY;
  const float a[] = {inf,
                     -inf,
                     lc_f32_from_bits(0x7F800001u),
                     1.0f,
                     lc_f32_from_bits(0xFFFFFFFFu),
                     inf,
                     -0.0f,
                     -0.0f,
                     FLT_MAX,
                     -FLT_MAX};
  const float b[] = {-inf, inf,     1.0f,  lc_f32_from_bits(0xFFC00123u), 2.0f, -1e38f, -0.0f,
                     0.0f, FLT_MAX, -1e30f};
  const uint32_t want[] = {LC_F32_CANONICAL_NAN_BITS,
                           LC_F32_CANONICAL_NAN_BITS,
                           LC_F32_CANONICAL_NAN_BITS,
                           LC_F32_CANONICAL_NAN_BITS,
                           LC_F32_CANONICAL_NAN_BITS,
                           0x7F800000u,
                           0x80000000u,
                           0x00000000u,
                           0x7F800000u,
                           lc_f32_bits(-FLT_MAX)};
  const int64_t n = (int64_t)(sizeof a / sizeof a[0]);
  for (int mode = 0; mode < 2; mode++) {
    lc_context *ctx = ctx_of(mode);
    float out[sizeof a / sizeof a[0]];
    add(ctx, a, b, n, out);
    for (int64_t i = 0; i < n; i++)
      if (lc_f32_bits(out[i]) != want[i])
        fail_msg("%s: 0x%08X + 0x%08X: got 0x%08X, expected 0x%08X", mode_name(mode),
                 lc_f32_bits(a[i]), lc_f32_bits(b[i]), lc_f32_bits(out[i]), want[i]);
    lc_context_free(ctx);
  }
}

/* out may equal a or b, and a may equal b (out = a + a): same bits as out of
 * place. */
static void test_elementwise_add_in_place(void **state) {
  (void)state;
  const int64_t n = 4096;
  lc_context *ctx = ctx_of(0);
  lct_rng r = lct_rng_new(12);
  float *a = lct_randn(&r, n, 1e3f), *b = lct_randn(&r, n, 1.0f);
  float *want = lct_malloc_f(n), *io = lct_malloc_f(n);
  add(ctx, a, b, n, want);
  memcpy(io, a, (size_t)n * sizeof(float));
  add(ctx, io, b, n, io);
  lct_assert_bitwise_f32(io, want, n, "add with out == a");
  memcpy(io, b, (size_t)n * sizeof(float));
  add(ctx, a, io, n, io);
  lct_assert_bitwise_f32(io, want, n, "add with out == b");
  add(ctx, a, a, n, want);
  memcpy(io, a, (size_t)n * sizeof(float));
  add(ctx, io, io, n, io);
  lct_assert_bitwise_f32(io, want, n, "add with out == a == b");
  for (int64_t i = 0; i < n; i++) assert_true(want[i] == 2.0f * a[i]); /* exact doubling */
  free(a);
  free(b);
  free(want);
  free(io);
  lc_context_free(ctx);
}

/* n == 0 is a valid empty call for both ops and both modes: LC_OK, nothing
 * written. */
static void test_elementwise_empty_call(void **state) {
  (void)state;
  for (int mode = 0; mode < 2; mode++) {
    lc_context *ctx = ctx_of(mode);
    float a[2] = {1.0f, 2.0f}, b[2] = {3.0f, 4.0f}, out[2] = {-9.0f, -9.0f};
    assert_int_equal(lc_silu_mul(ctx, a, b, 0, out), LC_OK);
    assert_int_equal(lc_add(ctx, a, b, 0, out), LC_OK);
    assert_true(out[0] == -9.0f && out[1] == -9.0f);
    lc_context_free(ctx);
  }
}

/* round_bf16: every value becomes the nearest bf16 (ties to even) widened back,
 * checked against a rounding written plainly with integer arithmetic on the
 * bits; NaN stays NaN (quiet), infinities and zeros keep their sign. */
static void test_elementwise_round_bf16_matches_rne(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(77);
  enum { N = 4099 };
  float *x = lct_alloc_f(N), *want = lct_alloc_f(N);
  for (int i = 0; i < N; i++) x[i] = (i % 3 == 0) ? lct_any_bits(&r) : lct_any_finite(&r);
  const float specials[] = {0.0f,
                            -0.0f,
                            INFINITY,
                            -INFINITY,
                            NAN,
                            1.00390625f /* tie: 1 + 2^-8 */,
                            1.01171875f /* tie: 1 + 3*2^-8 */,
                            FLT_MAX,
                            -FLT_MIN,
                            1e-45f};
  for (int i = 0; i < (int)(sizeof specials / sizeof specials[0]); i++) x[i] = specials[i];
  for (int i = 0; i < N; i++) {
    uint32_t b;
    memcpy(&b, &x[i], 4);
    uint32_t o;
    if ((b & 0x7FFFFFFFu) > 0x7F800000u) {
      o = (b | 0x00400000u) & 0xFFFF0000u; /* quiet, payload truncated */
    } else {
      const uint32_t lsb = (b >> 16) & 1u;
      o = ((b + 0x7FFFu + lsb) >> 16) << 16; /* RNE; overflow rounds to Inf */
    }
    memcpy(&want[i], &o, 4);
  }
  lc_context *ctx = lct_cpu(LC_MODE_STRICT);
  assert_int_equal(lc_round_bf16(ctx, x, N), LC_OK);
  for (int i = 0; i < N; i++) {
    if (isnan(want[i])) {
      assert_true(isnan(x[i]));
    } else if (memcmp(&x[i], &want[i], 4) != 0) {
      fail_msg("round_bf16 index %d: got %a want %a", i, (double)x[i], (double)want[i]);
    }
  }
  assert_int_equal(lc_round_bf16(ctx, NULL, 4), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_round_bf16(ctx, x, -1), LC_ERR_SHAPE);
  assert_int_equal(lc_round_bf16(ctx, NULL, 0), LC_OK);
  lc_context_free(ctx);
  free(x);
  free(want);
}

/* device info on the CPU: the backend, a CPU name and OpenBLAS's config. */
static void test_elementwise_cpu_device_info(void **state) {
  (void)state;
  lc_context *ctx = lct_cpu(LC_MODE_STRICT);
  lc_device_info di;
  assert_int_equal(lc_context_get_device_info(ctx, &di), LC_OK);
  assert_int_equal(di.backend, LC_BACKEND_CPU);
  assert_true(di.name[0] != '\0');
  assert_true(di.n_sm >= 1);
  assert_true(strstr(di.blas, "OpenBLAS") != NULL);
  assert_int_equal(lc_context_get_device_info(NULL, &di), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_context_get_device_info(ctx, NULL), LC_ERR_INVALID_ARGUMENT);
  lc_context_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_elementwise_silu_mul_strict_vs_oracle),
      cmocka_unit_test(test_elementwise_silu_mul_reference_vs_oracle),
      cmocka_unit_test(test_elementwise_silu_mul_strict_matches_spec),
      cmocka_unit_test(test_elementwise_silu_mul_special_values),
      cmocka_unit_test(test_elementwise_silu_mul_in_place),
      cmocka_unit_test(test_elementwise_slice_invariance),
      cmocka_unit_test(test_elementwise_add_exact),
      cmocka_unit_test(test_elementwise_add_special_values),
      cmocka_unit_test(test_elementwise_add_in_place),
      cmocka_unit_test(test_elementwise_empty_call),
      cmocka_unit_test(test_elementwise_round_bf16_matches_rne),
      cmocka_unit_test(test_elementwise_cpu_device_info),
  };
  return LCT_RUN(tests);
}
