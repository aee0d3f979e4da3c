/*
 * tests/test_fast.c — the fast order v1 on the CPU: the MMA model
 * (cpu_ref/mma_bf16.c), lc_cpu_matmul_fast, and the fast and bf16 modes
 * through the public API.
 *
 * The model is checked on hand-computed cases that separate it from IEEE
 * arithmetic (per-term truncation, rounding toward zero, +0 sums, the NaN/Inf
 * rule) and against an independent float64 formulation where no term is
 * truncated.  The matmul is checked bitwise against a plain transcription of
 * the order from docs/numerics.md 10.1 calling the model step by step, and
 * against a float64 oracle within the derived bound of lib/bounds.c.  Whether
 * the model is the hardware's: tests/test_cuda_mma.c.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_canon.h"
#include "cpu_ref/cpu_ref.h"
#include "lib/bounds.h"
#include "test_util.h"

static uint16_t bf(float v) {
  uint16_t h = lc_f32_to_bf16(v);
  assert_true(lc_bf16_to_f32(h) == v || v != v); /* exactly representable */
  return h;
}

static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* c + sum a_i * b_i for n products given as floats (each a bf16 value) */
static float mma(float c, const float *a, const float *b, int n) {
  uint16_t ha[16], hb[16];
  for (int i = 0; i < n; i++) {
    ha[i] = bf(a[i]);
    hb[i] = bf(b[i]);
  }
  return lc_cpu_mma_bf16(c, ha, hb, n);
}

static void test_mma_model_known_answers(void **state) {
  (void)state;
  float a[16], b[16];
  /* 16 ones: exact */
  for (int i = 0; i < 16; i++) a[i] = b[i] = 1.0f;
  assert_true(mma(0.0f, a, b, 16) == 16.0f);
  /* rounding toward zero: 1 + 3 * 2^-24 is 1.5 ulp above 1; IEEE nearest gives
   * 1 + 2^-22, the model 1 + 2^-23 */
  for (int i = 0; i < 16; i++) a[i] = b[i] = 0.0f;
  a[0] = a[1] = a[2] = 0x1p-12f;
  b[0] = b[1] = b[2] = 0x1p-12f;
  assert_true(mma(1.0f, a, b, 16) == 1.0f + 0x1p-23f);
  /* every term truncated at 2^(maxe - 25): sixteen products of 1.5 * 2^-26
   * against c = 1 are each 0.75 units and vanish (IEEE: 1 + 3 * 2^-23) */
  for (int i = 0; i < 16; i++) {
    a[i] = 1.5f * 0x1p-13f;
    b[i] = 0x1p-13f;
  }
  assert_true(mma(1.0f, a, b, 16) == 1.0f);
  /* c itself is truncated when a product is larger: against +-2^20 (which
   * cancel) c = 1 + 2^-23 keeps 25 bits below 2^20 and comes out as 1 (IEEE:
   * 1 + 2^-23 exactly) */
  for (int i = 0; i < 16; i++) a[i] = b[i] = 0.0f;
  a[0] = 0x1p10f;
  b[0] = 0x1p10f;
  a[1] = -0x1p10f;
  b[1] = 0x1p10f;
  assert_true(mma(1.0f + 0x1p-23f, a, b, 16) == 1.0f);
  /* an exact zero sum is +0, even from -0 terms and c = -0 */
  for (int i = 0; i < 16; i++) {
    a[i] = -0.0f;
    b[i] = 1.0f;
  }
  assert_int_equal(bits(mma(-0.0f, a, b, 16)), 0u);
  for (int i = 0; i < 16; i++) a[i] = b[i] = 0.0f;
  a[0] = 1.0f;
  b[0] = 1.0f;
  a[1] = -1.0f;
  b[1] = 1.0f;
  assert_int_equal(bits(mma(0.0f, a, b, 16)), 0u);
  /* subnormal result, rounded toward zero: 1.75 * 2^-148 = 3.5 * 2^-149 -> 3 units */
  for (int i = 0; i < 16; i++) a[i] = b[i] = 0.0f;
  a[0] = 1.75f * 0x1p-74f;
  b[0] = 0x1p-74f;
  assert_int_equal(bits(mma(0.0f, a, b, 16)), 3u);
  /* negative results truncate toward zero too */
  a[0] = -0x1p-12f;
  a[1] = -0x1p-12f;
  a[2] = -0x1p-12f;
  b[0] = b[1] = b[2] = 0x1p-12f;
  assert_true(mma(-1.0f, a, b, 16) == -(1.0f + 0x1p-23f));
  /* beyond the fp32 range: +Inf */
  for (int i = 0; i < 16; i++) a[i] = b[i] = 0.0f;
  a[0] = 0x1p127f;
  b[0] = 1.0f;
  assert_true(isinf(mma(FLT_MAX, a, b, 16)) && mma(FLT_MAX, a, b, 16) > 0);
  /* NaN and Inf follow float64 arithmetic on the whole sum */
  a[0] = INFINITY;
  b[0] = 0.0f;
  assert_true(isnan(mma(0.0f, a, b, 16)));
  b[0] = -2.0f;
  assert_true(isinf(mma(1.0f, a, b, 16)) && mma(1.0f, a, b, 16) < 0);
  assert_true(isnan(mma(INFINITY, a, b, 16)));
  a[0] = NAN;
  assert_int_equal(bits(mma(0.0f, a, b, 16)), 0x7FFFFFFFu);
  /* a subnormal bf16 is read unnormalised, with exponent -126 (the H100
   * probe: far closer to the hardware than normalising): 2^-133 * 2^110 has
   * exponent -126 + 110 = -16 as a product, so maxe = -16 and the grid is
   * 2^-41, below which 2^-42 + 2^-45 vanishes; normalised (exponent -133,
   * the product's -23) the grid is 2^-48 and that term is kept */
  {
    const uint16_t ha[2] = {0x0001, 0x3F80}, hb[2] = {0x7680, 0x2A90};
    assert_true(lc_cpu_mma_bf16(0.0f, ha, hb, 2) == 0x1p-23f);
    assert_true(lc_cpu_mma_bf16_variant(0.0f, ha, hb, 2, LC_MMA_NORM_SUBNORMALS) ==
                0x1p-23f + 0x1p-42f + 0x1p-45f);
    assert_true(lc_cpu_mma_bf16_variant(0.0f, ha, hb, 2, 0) == lc_cpu_mma_bf16(0.0f, ha, hb, 2));
  }
  /* a product with a zero factor takes no part in maxe: one of the 21
   * outputs of the H100 probe (2026-12-07, mma.sync, subnormal family) that
   * the first model got wrong.  a[14] = +0 times b[14] = -1.0078 * 2^64
   * would have "exponent" -126 + 64 = -62, above the largest real product
   * (a[8] b[8], about 2^-81): with it, every term was cut to 25 bits below
   * 2^-62 (the first model's 0x17500000); the hardware gave 0x1751a1ff. */
  {
    const uint16_t ha[16] = {0x8047, 0x0d0b, 0x8041, 0x0399, 0x0054, 0x803d, 0x8030, 0x001c,
                             0x82a5, 0x8909, 0x87eb, 0x8002, 0x03ef, 0x8ac4, 0x0000, 0x01d0};
    const uint16_t hb[16] = {0x804f, 0x8042, 0x0029, 0x0008, 0x8023, 0x802a, 0x8042, 0x0013,
                             0xd417, 0xcbe0, 0x806b, 0x4c84, 0x3d6f, 0x3e96, 0xdf81, 0xbd4d};
    const float c = lc_f32_from_bits(0x8029d60cu);
    assert_int_equal(bits(lc_cpu_mma_bf16(c, ha, hb, 16)), 0x1751a1ffu);
    assert_int_equal(bits(lc_cpu_mma_bf16_variant(c, ha, hb, 16, LC_MMA_ZERO_IN_MAXE)),
                     0x17500000u);
    /* the block form (lc_cpu_matmul_fast's) agrees, in every lane */
    int32_t xs[16], xe[16], ws[16][LC_MMA_NB], we[16][LC_MMA_NB];
    for (int i = 0; i < 16; i++) {
      lc_cpu_bf16_sig_exp(ha[i], &xs[i], &xe[i]);
      for (int j = 0; j < LC_MMA_NB; j++) lc_cpu_bf16_sig_exp(hb[i], &ws[i][j], &we[i][j]);
    }
    float acc[LC_MMA_NB], accp[LC_MMA_NB];
    for (int j = 0; j < LC_MMA_NB; j++) acc[j] = accp[j] = c;
    lc_cpu_mma_bf16_block(acc, xs, xe, (const int32_t(*)[LC_MMA_NB])ws,
                          (const int32_t(*)[LC_MMA_NB])we, 16);
    lc_cpu_mma_bf16_block_portable(accp, xs, xe, (const int32_t(*)[LC_MMA_NB])ws,
                                   (const int32_t(*)[LC_MMA_NB])we, 16);
    for (int j = 0; j < LC_MMA_NB; j++) {
      assert_int_equal(bits(acc[j]), 0x1751a1ffu);
      assert_int_equal(bits(accp[j]), 0x1751a1ffu);
    }
  }
  /* a zero c takes no part in maxe either: two outputs of the third H100
   * probe (2026-12-07, "zero exponents" family; the first on mma.sync, the
   * second too), c = -0 and every product below 2^-126.  With the zero c's
   * -126 in maxe the grid was 2^-151 and the sums came out 1 ulp off, one
   * up and one down (0x0001787d, 0x00e59e8a); the hardware's grid is 25 bits
   * below the largest product. */
  {
    static const uint16_t ha[2][16] = {
        {0x031e, 0x8000, 0x051c, 0x0205, 0x8025, 0x0051, 0x857b, 0x8798, 0x8003, 0x802d, 0x8069,
         0x0064, 0x02a3, 0x0238, 0x05c9, 0x05b0},
        {0x8587, 0x0016, 0x8051, 0x0042, 0x83bd, 0x806a, 0x8057, 0x000b, 0x023f, 0x8282, 0x006a,
         0x01a0, 0x82ac, 0x075b, 0x807e, 0x055e}};
    static const uint16_t hb[2][16] = {
        {0xb226, 0x3d11, 0x3047, 0x3a11, 0xbb53, 0xb289, 0x314b, 0xb4fc, 0xb83d, 0x3080, 0x3bc4,
         0x3b1b, 0xb5fc, 0xb389, 0xb193, 0xb346},
        {0xb040, 0xb189, 0xbad3, 0xbe3b, 0x2f1c, 0x318a, 0xb731, 0x304c, 0x3907, 0x2dc9, 0xbb95,
         0xb01b, 0xbcc9, 0xb0c8, 0xb651, 0x3ac9}};
    static const uint32_t hw[2] = {0x0001787cu, 0x00e59e8bu}, old[2] = {0x0001787du, 0x00e59e8au};
    for (int t = 0; t < 2; t++) {
      const float c = -0.0f;
      assert_int_equal(bits(lc_cpu_mma_bf16(c, ha[t], hb[t], 16)), hw[t]);
      assert_int_equal(bits(lc_cpu_mma_bf16_variant(c, ha[t], hb[t], 16, LC_MMA_ZERO_C_IN)),
                       old[t]);
      int32_t xs[16], xe[16], ws[16][LC_MMA_NB], we[16][LC_MMA_NB];
      for (int i = 0; i < 16; i++) {
        lc_cpu_bf16_sig_exp(ha[t][i], &xs[i], &xe[i]);
        for (int j = 0; j < LC_MMA_NB; j++) lc_cpu_bf16_sig_exp(hb[t][i], &ws[i][j], &we[i][j]);
      }
      float acc[LC_MMA_NB], accp[LC_MMA_NB];
      for (int j = 0; j < LC_MMA_NB; j++) acc[j] = accp[j] = j % 2 ? c : 0.0f;
      lc_cpu_mma_bf16_block(acc, xs, xe, (const int32_t(*)[LC_MMA_NB])ws,
                            (const int32_t(*)[LC_MMA_NB])we, 16);
      lc_cpu_mma_bf16_block_portable(accp, xs, xe, (const int32_t(*)[LC_MMA_NB])ws,
                                     (const int32_t(*)[LC_MMA_NB])we, 16);
      for (int j = 0; j < LC_MMA_NB; j++) {
        assert_int_equal(bits(acc[j]), hw[t]);
        assert_int_equal(bits(accp[j]), hw[t]);
      }
    }
  }
  /* the order of the 16 terms is not seen */
  lct_rng rng = lct_rng_new(5);
  for (int rep = 0; rep < 1000; rep++) {
    uint16_t ha[16], hb[16], ra[16], rb[16];
    for (int i = 0; i < 16; i++) {
      ha[i] = lc_f32_to_bf16(lct_normalf(&rng) * ldexpf(1.0f, (int)lct_range(&rng, -30, 30)));
      hb[i] = lc_f32_to_bf16(lct_normalf(&rng));
    }
    for (int i = 0; i < 16; i++) {
      ra[i] = ha[(i * 7 + 3) % 16];
      rb[i] = hb[(i * 7 + 3) % 16];
    }
    const float c = lct_normalf(&rng);
    assert_int_equal(bits(lc_cpu_mma_bf16(c, ha, hb, 16)), bits(lc_cpu_mma_bf16(c, ra, rb, 16)));
  }
}

/* The 8-lane block (AVX2 where the CPU has it, and the portable C form) gives
 * the scalar model's bits on finite inputs with wide exponent spread; every
 * seventh case with exponents across bf16's whole range, so that sums
 * overflow to Inf and fall into fp32's subnormals (the block's own
 * normalisation), and every eleventh with a huge c. */
static void test_mma_block_forms_equal_scalar_model(void **state) {
  (void)state;
  lct_rng rng = lct_rng_new(10);
  for (int rep = 0; rep < 30000; rep++) {
    uint16_t a[16], b[16][8];
    int32_t xs[16], xe[16], ws[16][8], we[16][8];
    float c[8];
    const int n = (int)lct_range(&rng, 1, 16);
    const int wide = rep % 7 == 1;
    const int lo = wide ? -125 : -40, hi = wide ? 122 : 40;
    for (int i = 0; i < n; i++) {
      a[i] = rep % 5 == 0
                 ? (uint16_t)(lct_next(&rng) & 0x807F) /* zero or subnormal */
                 : lc_f32_to_bf16(lct_normalf(&rng) * ldexpf(1.0f, (int)lct_range(&rng, lo, hi)));
      for (int j = 0; j < 8; j++)
        b[i][j] = lc_f32_to_bf16(lct_normalf(&rng) * ldexpf(1.0f, (int)lct_range(&rng, lo, hi)));
      lc_cpu_bf16_decode(&a[i], 1, &xs[i], &xe[i]);
      for (int j = 0; j < 8; j++) lc_cpu_bf16_decode(&b[i][j], 1, &ws[i][j], &we[i][j]);
    }
    for (int j = 0; j < 8; j++) /* some lanes start from a zero c (no part in maxe) */
      c[j] = rep % 3 == 0 && j % 2 == 0 ? (j % 4 ? -0.0f : 0.0f)
             : rep % 11 == 2            ? ldexpf(lct_normalf(&rng) > 0 ? 1.5f : -1.5f, 126)
                             : lct_normalf(&rng) * ldexpf(1.0f, (int)lct_range(&rng, -60, 60));
    float v1[8], v2[8];
    memcpy(v1, c, sizeof c);
    memcpy(v2, c, sizeof c);
    lc_cpu_mma_bf16_block(v1, xs, xe, (const int32_t(*)[8])ws, (const int32_t(*)[8])we, n);
    lc_cpu_mma_bf16_block_portable(v2, xs, xe, (const int32_t(*)[8])ws, (const int32_t(*)[8])we, n);
    for (int j = 0; j < 8; j++) {
      uint16_t col[16];
      for (int i = 0; i < n; i++) col[i] = b[i][j];
      const float want = lc_cpu_mma_bf16(c[j], a, col, n);
      if (bits(v1[j]) != bits(want) || bits(v2[j]) != bits(want))
        fail_msg("rep %d lane %d: block %a, portable %a, scalar model %a", rep, j, (double)v1[j],
                 (double)v2[j], (double)want);
    }
  }
}

/* Where every term lies within 11 binades below the largest, no term is
 * truncated and the sum is exact in double: the model is then the double sum
 * rounded toward zero, computed here independently. */
static float rz_from_double(double s) {
  if (s == 0.0) return 0.0f;
  float f = (float)s;
  if (fabs((double)f) > fabs(s)) f = nextafterf(f, 0.0f);
  return f;
}

static void test_mma_model_matches_double_without_truncation(void **state) {
  (void)state;
  lct_rng rng = lct_rng_new(6);
  int checked = 0;
  for (int rep = 0; rep < 200000; rep++) {
    uint16_t ha[16], hb[16];
    double s = 0.0;
    const int e0 = (int)lct_range(&rng, -100, 100);
    for (int i = 0; i < 16; i++) {
      /* products in [2^e0, 2^(e0+2)) or zero: exponents within 2 of each other */
      ha[i] = lc_f32_to_bf16(ldexpf(1.0f + (float)lct_uniform(&rng), e0 / 2) *
                             (lct_next(&rng) & 1 ? 1.0f : -1.0f));
      hb[i] = lc_f32_to_bf16(ldexpf(1.0f + (float)lct_uniform(&rng), e0 - e0 / 2));
      if (lct_range(&rng, 0, 9) == 0) ha[i] = 0;
    }
    /* c with an exponent at most 2 below the products' smallest: its 24 bits
     * then sit above 2^(maxe - 25) */
    const float c = ldexpf((float)lct_uniform(&rng) * 2.0f - 1.0f, e0 + 1);
    s = (double)c;
    for (int i = 0; i < 16; i++) s += (double)lc_bf16_to_f32(ha[i]) * lc_bf16_to_f32(hb[i]);
    const float want = rz_from_double(s);
    const float got = lc_cpu_mma_bf16(c, ha, hb, 16);
    if (bits(got) != bits(want))
      fail_msg("rep %d: model %a, rounded-toward-zero double %a", rep, (double)got, (double)want);
    checked++;
  }
  assert_int_equal(checked, 200000);
}

/* ---- the fast order v1, transcribed from docs/numerics.md 10.1 ------------*/

static void transcribed_fast(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                             const uint16_t *bias, float *y, int parts) {
  uint16_t *px = lct_malloc((size_t)k * 3 * sizeof *px);
  for (int64_t i = 0; i < m; i++) {
    for (int64_t kk = 0; kk < k; kk++) {
      if (parts == 3) {
        lc_split3_bf16(x[i * k + kk], px + kk * 3);
      } else {
        px[kk * 3] = lc_f32_to_bf16(x[i * k + kk]);
      }
    }
    for (int64_t j = 0; j < n; j++) {
      float out = 0.0f, seg = 0.0f;
      for (int64_t c0 = 0; c0 < k; c0 += 64) {
        float acc = 0.0f;
        for (int p = parts - 1; p >= 0; p--) {
          for (int64_t s0 = c0; s0 < c0 + 64 && s0 < k; s0 += 16) {
            uint16_t a[16] = {0}, b[16] = {0};
            for (int e = 0; e < 16; e++) {
              if (s0 + e < k) {
                a[e] = px[(s0 + e) * 3 + p];
                b[e] = w[j * k + s0 + e];
              }
            }
            acc = lc_cpu_mma_bf16(acc, a, b, 16); /* zero padding, as the kernels */
          }
        }
        /* chunks of a 256-segment add up in order; segments add into out in order */
        seg = c0 % 256 == 0 ? acc : seg + acc;
        if ((c0 + 64) % 256 == 0 || c0 + 64 >= k) out = c0 < 256 ? seg : out + seg;
      }
      if (bias) out = out + lct_bf16(bias[j]);
      y[i * n + j] = lct_canon(out);
    }
  }
  free(px);
}

static void test_fast_matmul_equals_transcription(void **state) {
  (void)state;
  static const int64_t ks[] = {1, 15, 16, 17, 63, 64, 65, 130, 172, 300};
  lct_rng rng = lct_rng_new(7);
  for (int parts = 1; parts <= 3; parts += 2) {
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
      const int64_t k = ks[ki], m = 1 + (int64_t)ki % 5, n = 1 + (int64_t)(ki * 7) % 19;
      float *x = lct_randn(&rng, m * k, 1.0f);
      if (ki % 3 == 0) x[0] = 0x1p-120f; /* a part below bf16's normal range */
      uint16_t *w = lct_rand_bf16(&rng, n * k, 0.05f);
      if (ki % 4 == 1) { /* non-finite inputs: the scalar model's lanes */
        x[(m * k) / 2] = INFINITY;
        x[m * k - 1] = NAN;
        w[(n * k) / 3] = lc_f32_to_bf16(-INFINITY);
      }
      if (ki % 4 == 2) /* sums past the fp32 range mid-chain: Inf from the block */
        for (int64_t i = 0; i < m * k; i += 3) x[i] = x[i] * 0x1p126f;
      uint16_t *bias = ki % 2 ? lct_rand_bf16(&rng, n, 0.5f) : NULL;
      float *got = lct_alloc_f(m * n), *want = lct_alloc_f(m * n);
      assert_int_equal(lc_cpu_matmul_fast(x, m, k, w, n, bias, got, parts), LC_OK);
      transcribed_fast(x, m, k, w, n, bias, want, parts);
      char what[64];
      snprintf(what, sizeof what, "parts %d, k %lld", parts, (long long)k);
      lct_assert_bitwise_f32(got, want, m * n, what);
      free(x);
      free(w);
      free(bias);
      free(got);
      free(want);
    }
  }
  /* An accumulator that overflowed to +Inf in one step stays +Inf when the
   * next step's products would cancel it (Inf + finite in the model): the
   * emulation must send that step to the scalar model, not to the block. */
  for (int parts = 1; parts <= 3; parts += 2) {
    float x[32], got, want;
    uint16_t w[32];
    for (int i = 0; i < 32; i++) {
      x[i] = i < 16 ? 0x1p124f : -0x1p124f;
      w[i] = lc_f32_to_bf16(1.0f);
    }
    assert_int_equal(lc_cpu_matmul_fast(x, 1, 32, w, 1, NULL, &got, parts), LC_OK);
    transcribed_fast(x, 1, 32, w, 1, NULL, &want, parts);
    assert_true(isinf(want) && want > 0);
    lct_assert_bitwise_f32(&got, &want, 1, "an overflowed accumulator");
  }
}

/* ---- accuracy against float64 ---------------------------------------------*/

static void test_fast_matmul_accuracy_vs_f64(void **state) {
  (void)state;
  /* K of every Llama-3-8B projection (4096, 14336) and others; x normal, then
   * heavy-tailed as activations with outliers are (normal * e^(2 normal)) */
  static const int64_t ks[] = {64, 1000, 4096, 14336, 4096, 14336};
  lct_rng rng = lct_rng_new(8);
  for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
    const int64_t k = ks[ki], m = 2, n = 48;
    const int heavy = ki >= 4;
    float *x = lct_randn(&rng, m * k, 1.0f);
    if (heavy)
      for (int64_t i = 0; i < m * k; i++) x[i] *= expf(2.0f * lct_normalf(&rng));
    uint16_t *w = lct_rand_bf16(&rng, n * k, 0.02f);
    uint16_t *bias = lct_rand_bf16(&rng, n, 0.1f);
    double *ref = lct_alloc_d(m * n), *tol3 = lct_alloc_d(m * n), *tol1 = lct_alloc_d(m * n);
    for (int64_t i = 0; i < m; i++) {
      for (int64_t j = 0; j < n; j++) {
        double s = 0, a = 0;
        for (int64_t kk = 0; kk < k; kk++) {
          const double p = (double)x[i * k + kk] * lct_bf16(w[j * k + kk]);
          s += p;
          a += fabs(p);
        }
        const double b = lct_bf16(bias[j]);
        ref[i * n + j] = s + b;
        a += fabs(b);
        /* lib/bounds.c lc_bound_matmul_fast_*: derivation in docs/numerics.md 10.3 */
        tol3[i * n + j] = lc_bound_matmul_fast_coeff(k, 3, 1) * a + lc_bound_matmul_fast_abs(k, 3);
        tol1[i * n + j] = lc_bound_matmul_fast_coeff(k, 1, 1) * a + lc_bound_matmul_fast_abs(k, 1);
      }
    }
    float *yf = lct_alloc_f(m * n), *yb = lct_alloc_f(m * n), *ys = lct_alloc_f(m * n);
    assert_int_equal(lc_cpu_matmul_fast(x, m, k, w, n, bias, yf, 3), LC_OK);
    assert_int_equal(lc_cpu_matmul_fast(x, m, k, w, n, bias, yb, 1), LC_OK);
    assert_int_equal(lc_cpu_matmul_strict(x, m, k, w, n, bias, ys), LC_OK);
    lct_assert_within(yf, ref, tol3, m * n, "fast vs float64");
    lct_assert_within(yb, ref, tol1, m * n, "bf16 vs float64");
    const double ef = lct_normwise(yf, ref, m * n), es = lct_normwise(ys, ref, m * n),
                 eb = lct_normwise(yb, ref, m * n);
    printf("K = %5lld, x %s: normwise vs float64: fast %.2e, strict %.2e, bf16 %.2e\n",
           (long long)k, heavy ? "heavy-tailed" : "normal", ef, es, eb);
    /* the fidelity of the fast tier (docs/numerics.md 10.3: <= 1e-6 normwise, and no
     * worse than twice strict's on the same data) */
    assert_true(ef <= 1e-6);
    assert_true(ef <= 2.0 * es);
    free(x);
    free(w);
    free(bias);
    free(ref);
    free(tol3);
    free(tol1);
    free(yf);
    free(yb);
    free(ys);
  }
}

/* ---- batch invariance and special values, through the public API ----------*/

static void test_fast_modes_batch_invariant_with_poisoned_neighbours(void **state) {
  (void)state;
  const int64_t k = 200, n = 24;
  lct_rng rng = lct_rng_new(9);
  for (int mi = 0; mi < 2; mi++) {
    const lc_mode mode = mi ? LC_MODE_BF16 : LC_MODE_FAST;
    lc_context *ctx = lct_cpu(mode);
    assert_int_equal(lc_context_mode(ctx), mode);
    uint16_t *wd = lct_rand_bf16(&rng, n * k, 0.05f);
    lc_weights *w = NULL;
    assert_int_equal(lc_weights_create(ctx, n, k, LC_DTYPE_BF16, wd, &w), LC_OK);
    float *row = lct_randn(&rng, k, 1.0f);
    float *alone = lct_alloc_f(n);
    assert_int_equal(lc_matmul(ctx, row, 1, w, NULL, alone), LC_OK);
    static const int64_t ms[] = {2, 3, 17, 64};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
      const int64_t m = ms[i], at = (int64_t)(i * 5) % m;
      float *x = lct_alloc_f(m * k), *y = lct_alloc_f(m * n);
      lct_fill_poison(x, m * k, (int)i, &rng);
      memcpy(x + at * k, row, (size_t)k * sizeof *row);
      assert_int_equal(lc_matmul(ctx, x, m, w, NULL, y), LC_OK);
      lct_assert_bitwise_f32(y + at * n, alone, n, mi ? "bf16 row in a batch" : "fast row");
      free(x);
      free(y);
    }
    /* a NaN or Inf in a row reaches only that row's outputs */
    float x2[2 * 200];
    memcpy(x2, row, sizeof(float) * 200);
    memcpy(x2 + 200, row, sizeof(float) * 200);
    x2[200 + 7] = NAN;
    float y2[2 * 24];
    assert_int_equal(lc_matmul(ctx, x2, 2, w, NULL, y2), LC_OK);
    lct_assert_bitwise_f32(y2, alone, n, "clean row beside a NaN row");
    for (int j = 0; j < n; j++) assert_int_equal(bits(y2[n + j]), LC_F32_CANONICAL_NAN_BITS);
    lc_weights_free(w);
    free(wd);
    free(row);
    free(alone);
    lc_context_free(ctx);
  }
}

static void test_fast_mode_names_and_cpu_contexts(void **state) {
  (void)state;
  lc_mode m;
  assert_int_equal(lc_mode_from_name("fast", &m), LC_OK);
  assert_int_equal(m, LC_MODE_FAST);
  assert_int_equal(lc_mode_from_name("bf16", &m), LC_OK);
  assert_int_equal(m, LC_MODE_BF16);
  lc_context_params p;
  lc_context_params_default(&p);
  p.mode = LC_MODE_VENDOR_BF16;
  lc_context *ctx = NULL;
  assert_int_equal(lc_context_create(&p, &ctx), LC_ERR_UNSUPPORTED);
  assert_null(ctx);
  assert_non_null(strstr(lc_last_error(NULL), "fast"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mma_model_known_answers),
      cmocka_unit_test(test_mma_model_matches_double_without_truncation),
      cmocka_unit_test(test_mma_block_forms_equal_scalar_model),
      cmocka_unit_test(test_fast_matmul_equals_transcription),
      cmocka_unit_test(test_fast_matmul_accuracy_vs_f64),
      cmocka_unit_test(test_fast_modes_batch_invariant_with_poisoned_neighbours),
      cmocka_unit_test(test_fast_mode_names_and_cpu_contexts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
