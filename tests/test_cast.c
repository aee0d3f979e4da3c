/*
 * tests/test_cast.c — cast/lc_cast.h against an independent formulation.
 *
 * The oracle works on real values in double, never on bit tricks: a narrow
 * format with p significand bits, smallest normal exponent emin and largest
 * exponent emax is rounded by finding the two neighbouring multiples of the
 * quantum 2^(max(E - p, emin - p + 1)) around |v|, taking the nearer and on a
 * tie the even one, and returning Inf when the result reaches 2^(emax + 1)
 * (IEEE 754: overflow is judged after rounding with an unbounded exponent).
 * Every intermediate is exact in double (p <= 11, |t| < 2^12).
 *
 * Coverage: all 65,536 bf16 and fp16 patterns (widening, round trip), every
 * tie, tie +- 1 ulp between all adjacent pairs of each narrow format, all
 * 2^24 NaN inputs, 10^7 random patterns each, and the split on 10^7 finite
 * values.  LC_EXHAUSTIVE=1 also runs every one of the 2^32 float inputs of
 * both narrowing conversions (about 4 minutes).
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_cast.h"
#include "test_util.h"

/* Random samples for the narrowing conversions and the split (>= 10^7). */
#define N_RANDOM 10000000

/* ---- the independent oracle ------------------------------------------------*/

typedef struct fmt {
  const char *name;
  int p;    /* significand bits, hidden bit included */
  int emin; /* exponent of the smallest normal */
  int emax; /* exponent of the largest finite binade */
} fmt;

static const fmt BF16 = {"bf16", 8, -126, 127};
static const fmt F16 = {"fp16", 11, -14, 15};

/* v (finite) rounded to the format, to nearest, ties to even; +-Inf on
 * overflow; the sign of zero kept. */
static double oracle_round(double v, const fmt *f) {
  if (v == 0.0) return v;
  double a = fabs(v);
  int e;
  (void)frexp(a, &e); /* a in [2^(e-1), 2^e) */
  int qexp = e - f->p;
  if (qexp < f->emin - f->p + 1) qexp = f->emin - f->p + 1;
  double t = ldexp(a, -qexp); /* exact: a power-of-two scaling */
  double lo = floor(t);
  double frac = t - lo;
  if (frac > 0.5 || (frac == 0.5 && fmod(lo, 2.0) == 1.0)) lo += 1.0;
  double r = ldexp(lo, qexp);
  if (r >= ldexp(1.0, f->emax + 1)) r = INFINITY;
  return copysign(r, v);
}

/* The value of a bf16 pattern: sign * mantissa * 2^exponent. */
static double bf16_value(uint16_t h) {
  double s = (h & 0x8000u) ? -1.0 : 1.0;
  int e = (h >> 7) & 0xFF;
  int m = h & 0x7F;
  if (e == 0xFF) return m ? NAN : s * INFINITY;
  if (e == 0) return s * ldexp(m, -126 - 7);
  return s * ldexp(128 + m, e - 127 - 7);
}

static double f16_value(uint16_t h) {
  double s = (h & 0x8000u) ? -1.0 : 1.0;
  int e = (h >> 10) & 0x1F;
  int m = h & 0x3FF;
  if (e == 0x1F) return m ? NAN : s * INFINITY;
  if (e == 0) return s * ldexp(m, -14 - 10);
  return s * ldexp(1024 + m, e - 15 - 10);
}

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* Encodes a value representable in bf16 (as the oracle returns it). */
static uint16_t bf16_encode(double r) {
  float f = (float)r; /* exact: a bf16 value is a binary32 value */
  assert_true((double)f == r || isnan(r));
  uint32_t u = bits_of(f);
  assert_int_equal(u & 0xFFFFu, 0);
  return (uint16_t)(u >> 16);
}

/* Encodes a value representable in fp16, field by field. */
static uint16_t f16_encode(double r) {
  uint16_t sign = signbit(r) ? 0x8000u : 0;
  double a = fabs(r);
  if (isinf(a)) return (uint16_t)(sign | 0x7C00u);
  if (a == 0.0) return sign;
  if (a < 0x1p-14) {
    double m = a * 0x1p24;
    assert_true(m == floor(m) && m < 1024.0);
    return (uint16_t)(sign | (uint16_t)m);
  }
  int e;
  (void)frexp(a, &e);
  double m = (ldexp(a, -(e - 1)) - 1.0) * 1024.0;
  assert_true(m == floor(m) && m < 1024.0 && e - 1 + 15 >= 1 && e - 1 + 15 <= 30);
  return (uint16_t)(sign | (uint16_t)((e - 1 + 15) << 10) | (uint16_t)m);
}

/* The expected result of f32 -> bf16 for any input, NaN included (the
 * header's documented NaN rule: sign and top payload bits kept, 0x0040 set). */
static uint16_t expect_bf16(float x) {
  uint32_t u = bits_of(x);
  if (isnan(x)) return (uint16_t)((u >> 16) | 0x0040u);
  return bf16_encode(oracle_round((double)x, &BF16));
}

static uint16_t expect_f16(float x) {
  uint32_t u = bits_of(x);
  if (isnan(x)) return (uint16_t)(((u >> 16) & 0x8000u) | 0x7C00u | 0x0200u | ((u >> 13) & 0x3FFu));
  return f16_encode(oracle_round((double)x, &F16));
}

static void check_bf16(float x) {
  uint16_t got = lc_f32_to_bf16(x), want = expect_bf16(x);
  if (got != want)
    fail_msg("f32->bf16(%a = 0x%08" PRIX32 "): got 0x%04X (%a) want 0x%04X (%a)", (double)x,
             bits_of(x), got, bf16_value(got), want, bf16_value(want));
}

static void check_f16(float x) {
  uint16_t got = lc_f32_to_f16(x), want = expect_f16(x);
  if (got != want)
    fail_msg("f32->fp16(%a = 0x%08" PRIX32 "): got 0x%04X (%a) want 0x%04X (%a)", (double)x,
             bits_of(x), got, f16_value(got), want, f16_value(want));
}

/* x, and the floats one ulp either side of it. */
static void check_both_around(float x) {
  float v[3] = {nextafterf(x, -INFINITY), x, nextafterf(x, INFINITY)};
  for (int i = 0; i < 3; i++) {
    check_bf16(v[i]);
    check_f16(v[i]);
  }
}

static int exhaustive(void) {
  const char *e = getenv("LC_EXHAUSTIVE");
  return e && strcmp(e, "1") == 0;
}

/* ---- bf16 -------------------------------------------------------------------*/

/* Widening each of the 65,536 bf16 patterns gives sign * mantissa * 2^exp
 * exactly (subnormals, +-0, +-Inf included); a NaN is copied bit for bit. */
static void test_cast_bf16_widen_all(void **state) {
  (void)state;
  for (uint32_t h = 0; h < 0x10000u; h++) {
    float got = lc_bf16_to_f32((uint16_t)h);
    double want = bf16_value((uint16_t)h);
    if (isnan(want)) {
      if (bits_of(got) != h << 16)
        fail_msg("bf16 0x%04" PRIX32 " (NaN) widened to 0x%08" PRIX32 ", want 0x%08" PRIX32, h,
                 bits_of(got), h << 16);
      continue;
    }
    if ((double)got != want || !signbit(got) != !signbit(want))
      fail_msg("bf16 0x%04" PRIX32 ": widened %a, want %a", h, (double)got, want);
  }
}

/* f32 -> bf16 -> f32 -> bf16 is the identity on all 65,536 non-NaN bf16
 * patterns; a NaN comes back NaN, quiet (0x0040 set), sign and payload kept. */
static void test_cast_bf16_roundtrip_all(void **state) {
  (void)state;
  for (uint32_t h = 0; h < 0x10000u; h++) {
    uint16_t back = lc_f32_to_bf16(lc_bf16_to_f32((uint16_t)h));
    int is_nan = ((h >> 7) & 0xFF) == 0xFF && (h & 0x7F) != 0;
    uint16_t want = (uint16_t)(is_nan ? (h | 0x0040u) : h);
    if (back != want)
      fail_msg("bf16 0x%04" PRIX32 " round trip gave 0x%04X, want 0x%04X", h, back, want);
    if (is_nan) {
      assert_true(isnan(lc_bf16_to_f32(back)));
      assert_int_equal(back & 0x8000u, h & 0x8000u);
    }
  }
}

/* f32 -> bf16 rounds to nearest even with IEEE overflow on 10^7 random bit
 * patterns (every class: NaN, Inf, subnormal, normal). */
static void test_cast_f32_to_bf16_random(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(101);
  for (int i = 0; i < N_RANDOM; i++) check_bf16(lct_any_bits(&r));
}

/* f32 -> bf16 at every tie between adjacent bf16 values, one float ulp
 * either side of it, and the edges: largest finite, the overflow tie
 * 0x7F7F8000 (-> Inf, the even neighbour), the float just below it (stays
 * 0x7F7F), smallest subnormals, +-0, +-Inf. */
static void test_cast_f32_to_bf16_edges(void **state) {
  (void)state;
  int n_ties = 0;
  for (uint32_t h = 0; h < 0x7F80u; h++) { /* adjacent pairs h, h+1, both signs */
    for (int neg = 0; neg < 2; neg++) {
      double a = bf16_value((uint16_t)h), b = bf16_value((uint16_t)(h + 1));
      if (h + 1 == 0x7F80u) b = 0x1p128; /* the value Inf stands for in rounding */
      double mid = 0.5 * (a + b);
      float x = (float)(neg ? -mid : mid);
      assert_true((double)x == (neg ? -mid : mid)); /* 9 bits: exact in binary32 */
      float v[3] = {nextafterf(x, -INFINITY), x, nextafterf(x, INFINITY)};
      for (int k = 0; k < 3; k++) check_bf16(v[k]);
      /* the tie itself goes to the even neighbour */
      uint16_t even = (uint16_t)((h & 1u) ? h + 1 : h);
      assert_int_equal(lc_f32_to_bf16(x), (uint16_t)(even | (neg ? 0x8000u : 0)));
      n_ties++;
    }
  }
  assert_int_equal(n_ties, 2 * 0x7F80);
  assert_int_equal(lc_f32_to_bf16(FLT_MAX), 0x7F80u);
  assert_int_equal(lc_f32_to_bf16(-FLT_MAX), 0xFF80u);
  assert_int_equal(lc_f32_to_bf16(float_of(0x7F7F8000u)), 0x7F80u);
  assert_int_equal(lc_f32_to_bf16(float_of(0x7F7F7FFFu)), 0x7F7Fu);
  assert_int_equal(lc_f32_to_bf16(float_of(0x7F7F0000u)), 0x7F7Fu);
  assert_int_equal(lc_f32_to_bf16(float_of(0x00000001u)), 0x0000u); /* 2^-149 < 2^-134 */
  assert_int_equal(lc_f32_to_bf16(float_of(0x00008000u)), 0x0000u); /* 2^-134: tie -> even 0 */
  assert_int_equal(lc_f32_to_bf16(float_of(0x00008001u)), 0x0001u);
  assert_int_equal(lc_f32_to_bf16(float_of(0x00018000u)), 0x0002u); /* tie 1.5 -> 2 */
  assert_int_equal(lc_f32_to_bf16(float_of(0x007FFFFFu)), 0x0080u); /* into the normals */
  assert_int_equal(lc_f32_to_bf16(0.0f), 0x0000u);
  assert_int_equal(lc_f32_to_bf16(-0.0f), 0x8000u);
  assert_int_equal(lc_f32_to_bf16(INFINITY), 0x7F80u);
  assert_int_equal(lc_f32_to_bf16(-INFINITY), 0xFF80u);
  assert_int_equal(lc_f32_to_bf16(1.0f), 0x3F80u);
  assert_int_equal(lc_f32_to_bf16(float_of(0x3F808000u)), 0x3F80u); /* tie, even below */
  assert_int_equal(lc_f32_to_bf16(float_of(0x3F818000u)), 0x3F82u); /* tie, even above */
}

/* Every one of the 2^24 NaN inputs stays NaN in bf16 (never Inf, even with
 * the payload only in the low 16 bits), becomes quiet, keeps its sign. */
static void test_cast_f32_to_bf16_nan(void **state) {
  (void)state;
  for (uint32_t s = 0; s < 2; s++) {
    for (uint32_t m = 1; m < 0x800000u; m++) {
      uint32_t u = (s << 31) | 0x7F800000u | m;
      uint16_t got = lc_f32_to_bf16(float_of(u));
      if ((got & 0x7FC0u) != 0x7FC0u || (got >> 15) != s || got != (uint16_t)((u >> 16) | 0x40u))
        fail_msg("f32 NaN 0x%08" PRIX32 " -> bf16 0x%04X: want quiet NaN 0x%04" PRIX32, u, got,
                 (u >> 16) | 0x40u);
    }
  }
}

/* ---- fp16 -------------------------------------------------------------------*/

/* Widening each of the 65,536 fp16 patterns gives sign * mantissa * 2^exp
 * exactly; a NaN becomes the quiet binary32 NaN with the same sign and the
 * 10 payload bits in the top of the binary32 mantissa. */
static void test_cast_f16_widen_all(void **state) {
  (void)state;
  for (uint32_t h = 0; h < 0x10000u; h++) {
    float got = lc_f16_to_f32((uint16_t)h);
    double want = f16_value((uint16_t)h);
    if (isnan(want)) {
      uint32_t w = ((h & 0x8000u) << 16) | 0x7FC00000u | ((h & 0x3FFu) << 13);
      if (bits_of(got) != w)
        fail_msg("fp16 0x%04" PRIX32 " (NaN) widened to 0x%08" PRIX32 ", want 0x%08" PRIX32, h,
                 bits_of(got), w);
      continue;
    }
    if ((double)got != want || !signbit(got) != !signbit(want))
      fail_msg("fp16 0x%04" PRIX32 ": widened %a, want %a", h, (double)got, want);
  }
}

/* fp16 -> f32 -> fp16 is the identity on every non-NaN pattern; NaN stays
 * NaN, quiet (0x0200 set), sign and payload kept. */
static void test_cast_f16_roundtrip_all(void **state) {
  (void)state;
  for (uint32_t h = 0; h < 0x10000u; h++) {
    uint16_t back = lc_f32_to_f16(lc_f16_to_f32((uint16_t)h));
    int is_nan = ((h >> 10) & 0x1F) == 0x1F && (h & 0x3FF) != 0;
    uint16_t want = (uint16_t)(is_nan ? (h | 0x0200u) : h);
    if (back != want)
      fail_msg("fp16 0x%04" PRIX32 " round trip gave 0x%04X, want 0x%04X", h, back, want);
  }
}

/* f32 -> fp16 rounds to nearest even (normals, subnormals, underflow to +-0,
 * overflow to +-Inf) on 10^7 random bit patterns, and on 10^7 random floats
 * inside fp16's range [2^-26, 2^17) where the interesting roundings are. */
static void test_cast_f32_to_f16_random(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(202);
  for (int i = 0; i < N_RANDOM; i++) check_f16(lct_any_bits(&r));
  for (int i = 0; i < N_RANDOM; i++) {
    uint32_t u = (uint32_t)lct_next(&r);
    uint32_t e = 101u + (uint32_t)((u >> 8) % 43u); /* biased exponents 2^-26 .. 2^16 */
    check_f16(float_of((u & 0x80000000u) | (e << 23) | ((u >> 9) & 0x7FFFFFu)));
  }
}

/* f32 -> fp16 at every tie between adjacent fp16 values (subnormal ties,
 * whose position moves with the exponent, included), one ulp either side,
 * and the edges: 65504 (largest), 65520 (tie with Inf -> Inf), the float
 * below it (-> 65504), 2^-25 (tie with 0 -> 0), just above (-> 2^-24),
 * +-0, +-Inf. */
static void test_cast_f32_to_f16_edges(void **state) {
  (void)state;
  for (uint32_t h = 0; h < 0x7C00u; h++) {
    double a = f16_value((uint16_t)h), b = f16_value((uint16_t)(h + 1));
    if (h + 1 == 0x7C00u) b = 0x1p16;
    double mid = 0.5 * (a + b);
    for (int neg = 0; neg < 2; neg++) {
      float x = (float)(neg ? -mid : mid);
      assert_true((double)x == (neg ? -mid : mid)); /* 12 bits: exact in binary32 */
      check_both_around(x);
      uint16_t even = (uint16_t)((h & 1u) ? h + 1 : h);
      assert_int_equal(lc_f32_to_f16(x), (uint16_t)(even | (neg ? 0x8000u : 0)));
    }
  }
  assert_int_equal(lc_f32_to_f16(65504.0f), 0x7BFFu);
  assert_int_equal(lc_f32_to_f16(65520.0f), 0x7C00u);
  assert_int_equal(lc_f32_to_f16(-65520.0f), 0xFC00u);
  assert_int_equal(lc_f32_to_f16(nextafterf(65520.0f, 0.0f)), 0x7BFFu);
  assert_int_equal(lc_f32_to_f16(FLT_MAX), 0x7C00u);
  assert_int_equal(lc_f32_to_f16(0x1p-24f), 0x0001u);
  assert_int_equal(lc_f32_to_f16(0x1p-25f), 0x0000u);
  assert_int_equal(lc_f32_to_f16(-0x1p-25f), 0x8000u);
  assert_int_equal(lc_f32_to_f16(nextafterf(0x1p-25f, 1.0f)), 0x0001u);
  assert_int_equal(lc_f32_to_f16(0x1.8p-24f), 0x0002u); /* tie 1.5 -> 2 */
  assert_int_equal(lc_f32_to_f16(float_of(0x00000001u)), 0x0000u);
  assert_int_equal(lc_f32_to_f16(0x1p-14f), 0x0400u);
  assert_int_equal(lc_f32_to_f16(nextafterf(0x1p-14f, 0.0f)), 0x0400u); /* rounds up */
  assert_int_equal(lc_f32_to_f16(0.0f), 0x0000u);
  assert_int_equal(lc_f32_to_f16(-0.0f), 0x8000u);
  assert_int_equal(lc_f32_to_f16(INFINITY), 0x7C00u);
  assert_int_equal(lc_f32_to_f16(-INFINITY), 0xFC00u);
  assert_int_equal(lc_f32_to_f16(1.0f), 0x3C00u);
}

/* Every one of the 2^24 NaN inputs stays NaN in fp16 (payload only in the
 * low 13 bits included), quiet (0x0200 set), with its sign and the top 10
 * payload bits. */
static void test_cast_f32_to_f16_nan(void **state) {
  (void)state;
  for (uint32_t s = 0; s < 2; s++) {
    for (uint32_t m = 1; m < 0x800000u; m++) {
      uint32_t u = (s << 31) | 0x7F800000u | m;
      uint16_t got = lc_f32_to_f16(float_of(u));
      uint16_t want = (uint16_t)((s << 15) | 0x7E00u | (m >> 13));
      if (got != want || (got & 0x3FFu) == 0)
        fail_msg("f32 NaN 0x%08" PRIX32 " -> fp16 0x%04X, want 0x%04X", u, got, want);
    }
  }
}

/* LC_EXHAUSTIVE=1: both narrowing conversions agree with the oracle on all
 * 2^32 float inputs. */
static void test_cast_exhaustive_narrowing(void **state) {
  (void)state;
  if (!exhaustive()) skip();
  for (uint64_t u = 0; u <= 0xFFFFFFFFull; u++) {
    float x = float_of((uint32_t)u);
    check_bf16(x);
    check_f16(x);
  }
  printf("exhaustive: f32->bf16 and f32->fp16 agree with the oracle on all 2^32 inputs\n");
}

/* ---- three-way split ----------------------------------------------------------*/

typedef struct split {
  uint16_t p[3];
  double hi, mid, lo;
} split;

static split do_split(float x) {
  split s;
  lc_split3_bf16(x, s.p);
  s.hi = bf16_value(s.p[0]);
  s.mid = bf16_value(s.p[1]);
  s.lo = bf16_value(s.p[2]);
  return s;
}

/* Each part is what the header says: hi = bf16(x) (or the largest finite
 * bf16 where that overflows), mid = bf16(x - hi), lo = bf16(x - hi - mid),
 * the differences exact in binary32. */
static void check_split_parts(float x, const split *s) {
  uint16_t hi = lc_f32_to_bf16(x);
  if ((hi & 0x7FFFu) == 0x7F80u) hi = (uint16_t)((hi & 0x8000u) | 0x7F7Fu);
  double r1 = (double)x - s->hi;
  double r2 = r1 - s->mid;
  if ((double)(float)r1 != r1 || (double)(float)r2 != r2)
    fail_msg("split(%a): a residual is not a binary32 value", (double)x);
  if (s->p[0] != hi || s->p[1] != lc_f32_to_bf16((float)r1) || s->p[2] != lc_f32_to_bf16((float)r2))
    fail_msg("split(%a) = {0x%04X, 0x%04X, 0x%04X}: not {bf16(x), bf16(x-hi), bf16(x-hi-mid)}",
             (double)x, s->p[0], s->p[1], s->p[2]);
}

/* hi + mid + lo == x exactly (summed in double, where the <= 26-bit span is
 * exact) on 10^7 random finite floats with |x| >= 2^-110. */
static void test_cast_split3_exact(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(303);
  int n = 0;
  while (n < N_RANDOM) {
    float x = lct_any_finite(&r);
    if (fabsf(x) < 0x1p-110f) continue;
    split s = do_split(x);
    if (s.hi + s.mid + s.lo != (double)x)
      fail_msg("split(%a) = %a + %a + %a = %a, not exact", (double)x, s.hi, s.mid, s.lo,
               s.hi + s.mid + s.lo);
    check_split_parts(x, &s);
    n++;
  }
  /* the threshold itself and its neighbours above */
  float edge[] = {0x1p-110f, -0x1p-110f, nextafterf(0x1p-110f, 1.0f), 0x1.fffffep-110f};
  for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
    split s = do_split(edge[i]);
    assert_true(s.hi + s.mid + s.lo == (double)edge[i]);
  }
}

/* Below 2^-110 (subnormal floats included) the parts reach bf16's subnormal
 * unit 2^-133 and the split is within half of it: |x - sum| <= 2^-134. */
static void test_cast_split3_tiny(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(404);
  double worst = 0.0;
  int n_inexact = 0;
  for (int i = 0; i < 1000000; i++) {
    /* uniform over the bit patterns of [0, 2^-110), both signs */
    uint32_t u = (uint32_t)lct_next(&r);
    uint32_t mag = (u & 0x7FFFFFFFu) % 0x08800000u; /* 0x08800000 = bits of 2^-110 */
    float x = float_of((u & 0x80000000u) | mag);
    split s = do_split(x);
    double err = fabs((double)x - (s.hi + s.mid + s.lo));
    if (err > 0x1p-134) fail_msg("split(%a): |x - sum| = %a > 2^-134", (double)x, err);
    if (err > worst) worst = err;
    if (err > 0) n_inexact++;
    check_split_parts(x, &s);
  }
  /* the bound is attained (it is the documented behaviour, not slack) */
  assert_true(worst == 0x1p-134);
  assert_true(n_inexact > 0);
}

/* Near FLT_MAX, where bf16(x) is Inf, hi is the largest finite bf16 and the
 * split stays exact: checked on every float from the overflow tie
 * 0x7F7F8000 to FLT_MAX and the 2^16 floats below it, both signs. */
static void test_cast_split3_flt_max(void **state) {
  (void)state;
  for (uint32_t u = 0x7F7F0000u - 0x10000u; u <= 0x7F7FFFFFu; u++) {
    for (int neg = 0; neg < 2; neg++) {
      float x = float_of(u | (neg ? 0x80000000u : 0));
      split s = do_split(x);
      if ((s.p[0] & 0x7FFFu) >= 0x7F80u)
        fail_msg("split(%a): hi 0x%04X is not finite", (double)x, s.p[0]);
      if (s.hi + s.mid + s.lo != (double)x)
        fail_msg("split(%a) = %a + %a + %a, not exact", (double)x, s.hi, s.mid, s.lo);
      check_split_parts(x, &s);
    }
  }
  split s = do_split(FLT_MAX);
  assert_int_equal(s.p[0], 0x7F7Fu);
}

/* Non-finite x gives (bf16(x), 0, 0): Inf keeps its sign, NaN stays NaN; and
 * +-0 splits into (+-0, +0, +0). */
static void test_cast_split3_nonfinite_and_zero(void **state) {
  (void)state;
  uint32_t in[] = {0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u,
                   0x7F800001u, 0x7FA5A5A5u, 0xFFFFFFFFu};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
    uint16_t p[3] = {1, 1, 1};
    lc_split3_bf16(float_of(in[i]), p);
    assert_int_equal(p[0], lc_f32_to_bf16(float_of(in[i])));
    assert_int_equal(p[1], 0);
    assert_int_equal(p[2], 0);
    assert_int_equal(isnan(float_of(in[i])), isnan(lc_bf16_to_f32(p[0])));
  }
  uint16_t p[3];
  lc_split3_bf16(0.0f, p);
  assert_true(p[0] == 0 && p[1] == 0 && p[2] == 0);
  lc_split3_bf16(-0.0f, p);
  assert_true(p[0] == 0x8000u && p[1] == 0 && p[2] == 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cast_bf16_widen_all),
      cmocka_unit_test(test_cast_bf16_roundtrip_all),
      cmocka_unit_test(test_cast_f32_to_bf16_random),
      cmocka_unit_test(test_cast_f32_to_bf16_edges),
      cmocka_unit_test(test_cast_f32_to_bf16_nan),
      cmocka_unit_test(test_cast_f16_widen_all),
      cmocka_unit_test(test_cast_f16_roundtrip_all),
      cmocka_unit_test(test_cast_f32_to_f16_random),
      cmocka_unit_test(test_cast_f32_to_f16_edges),
      cmocka_unit_test(test_cast_f32_to_f16_nan),
      cmocka_unit_test(test_cast_exhaustive_narrowing),
      cmocka_unit_test(test_cast_split3_exact),
      cmocka_unit_test(test_cast_split3_tiny),
      cmocka_unit_test(test_cast_split3_flt_max),
      cmocka_unit_test(test_cast_split3_nonfinite_and_zero),
  };
  return LCT_RUN(tests);
}
