/*
 * cpu_ref/mma_bf16.c — one output element of a Hopper bf16 tensor-core MMA
 * (mma.sync m16n8k16 and wgmma m64nNk16 with .f32.bf16.bf16), emulated bit for
 * bit in integer arithmetic.
 *
 * The model (docs/numerics.md §10.2; published by MMA-Sim, arXiv 2511.10909,
 * and checked against the hardware by tests/test_cuda_mma.c):
 *
 *   d = c + sum_{i<16} a_i * b_i, computed as one fused operation:
 *   1. every input is read as significand * 2^exponent with the exponent of
 *      its format's normal range: a normal bf16 has a 1.xxxxxxx significand
 *      and exponent E - 127; a subnormal or zero has exponent -126 and a
 *      0.xxxxxxx significand.  c (fp32) likewise.
 *   2. a product's exponent is e_a + e_b (its significand lies in [0, 4):
 *      products are exact, not renormalised);
 *   3. maxe = the largest exponent among c and the products with no zero
 *      factor, and c only when it is not zero (the H100 probes of 2026-12-07:
 *      a zero times a large b_i left in maxe, then a zero c's -126 left in
 *      maxe beside products below 2^-126, were the model's only differences
 *      from the hardware);
 *   4. every term is truncated toward zero to 25 fractional bits of 2^maxe;
 *   5. the truncated terms are added exactly;
 *   6. the sum is normalised to fp32 rounding toward zero (subnormal results
 *      kept, a sum of exactly zero is +0, above the fp32 range is +-Inf).
 *   Any NaN or Inf input: the result is what float64 arithmetic gives for
 *   c + sum a_i*b_i (NaN for Inf*0 or Inf-Inf, else +-Inf); NaN is returned
 *   as the fp32 NaN 0x7FFFFFFF.
 *
 * Integer form: a bf16 is s_a * 2^(e_a - 7) with s_a an integer below 2^8, so
 * a product is P * 2^(e_a + e_b - 14) with |P| < 2^16, and its term in units
 * of 2^(maxe - 25) is trunc(|P| * 2^(11 - d)) (d = maxe - e_a - e_b >= 0).
 * c = S_c * 2^(e_c - 23) gives trunc(|S_c| * 2^(2 - d_c)).  Seventeen terms
 * below 2^27 each fit an int64 sum exactly.  The AVX2 block adds the positive
 * and the negative terms apart in 32-bit lanes and normalises in doubles,
 * where those sums, their difference and its scaling by 2^(maxe - 25) are
 * exact too, so every form gives the same bits (tests/test_fast.c).
 */
#include <math.h>
#include <string.h>

#include "cast/lc_canon.h"
#include "cast/lc_cast.h"
#include "cpu_ref/cpu_ref.h"

#define FRAC_BITS 25 /* the accumulator's fractional bits relative to maxe */

/* |value| = sig * 2^(exp - 23); sig < 2^24 (fp32, finite) */
static inline void f32_parts(uint32_t u, int64_t *sig, int32_t *exp) {
  int32_t e = (int32_t)((u >> 23) & 0xFF);
  int64_t m = u & 0x7FFFFF;
  if (e == 0) {
    *sig = m;
    *exp = -126;
  } else {
    *sig = m | 0x800000;
    *exp = e - 127;
  }
  if (u & 0x80000000u) *sig = -*sig;
}

/* trunc(|v| * 2^sh) with the sign of v; sh may be negative (a right shift
 * truncating the magnitude) */
static inline int64_t shift_trunc(int64_t v, int32_t sh) {
  if (v == 0) return 0; /* a zero product's sh may exceed 11: it took no part in maxe */
  int64_t mag = v < 0 ? -v : v;
  if (sh >= 0)
    mag <<= sh; /* sh <= 11 for a nonzero term: no overflow */
  else if (sh > -63)
    mag >>= -sh;
  else
    mag = 0;
  return v < 0 ? -mag : mag;
}

/* sum * 2^(scale) to fp32, rounding toward zero; 0 -> +0 */
static float normalise_rz(int64_t sum, int32_t scale) {
  if (sum == 0) return 0.0f;
  uint32_t sign = sum < 0 ? 0x80000000u : 0;
  uint64_t mag = (uint64_t)(sum < 0 ? -sum : sum);
  int32_t len = 64 - __builtin_clzll(mag); /* bits in mag */
  int32_t e = len - 1 + scale;             /* value in [2^e, 2^(e+1)) */
  if (e > 127) return lc_f32_from_bits(sign | 0x7F800000u);
  if (e >= -126) {
    uint64_t mant = len > 24 ? mag >> (len - 24) : mag << (24 - len);
    return lc_f32_from_bits(sign | ((uint32_t)(e + 127) << 23) | ((uint32_t)mant & 0x7FFFFFu));
  }
  /* subnormal: units of 2^-149 */
  int32_t sh = scale + 149;
  uint64_t q = sh >= 0 ? mag << sh : (-sh < 64 ? mag >> -sh : 0);
  if (q == 0) return 0.0f;
  return lc_f32_from_bits(sign | (uint32_t)q);
}

static float nonfinite_path(float c, const uint16_t *a, const uint16_t *b, int n) {
  double s = (double)c;
  for (int i = 0; i < n; i++) s += (double)lc_bf16_to_f32(a[i]) * (double)lc_bf16_to_f32(b[i]);
  if (s != s) return lc_f32_from_bits(0x7FFFFFFFu);
  return (float)s; /* +-Inf: a finite sum cannot occur with a non-finite input */
}

/* The finite case on decoded operands: a term i is sa[i] * 2^(ea[i] - 7) etc.;
 * norm_c: a subnormal c is normalised (LC_MMA_NORM_C). */
static float mma_core(float c, const int32_t *sa, const int32_t *ea, const int32_t *sb,
                      const int32_t *eb, int n, int norm_c, int zero_in, int zero_c_in) {
  int32_t pe[LC_MMA_K];
  int64_t ps[LC_MMA_K];
  int64_t sc;
  int32_t ec;
  f32_parts(lc_f32_bits(c), &sc, &ec);
  if (norm_c && sc != 0)
    while (!((sc < 0 ? -sc : sc) & 0x800000)) sc *= 2, ec--;
  /* maxe: over c unless it is zero (or zero_c_in) and the products with no
   * zero factor (unless zero_in) */
  const int c_in = sc != 0 || zero_c_in;
  int32_t maxe = c_in ? ec : INT32_MIN;
  for (int i = 0; i < n; i++) {
    ps[i] = (int64_t)sa[i] * sb[i];
    pe[i] = ea[i] + eb[i];
    if (pe[i] > maxe && (zero_in || ps[i] != 0)) maxe = pe[i];
  }
  if (maxe == INT32_MIN) return 0.0f; /* c and every product zero: +0 */
  int64_t sum = shift_trunc(sc, FRAC_BITS - 23 - (maxe - ec));
  for (int i = 0; i < n; i++) sum += shift_trunc(ps[i], FRAC_BITS - 14 - (maxe - pe[i]));
  return normalise_rz(sum, maxe - FRAC_BITS);
}

/* The same arithmetic as mma_core for LC_MMA_NB lanes (columns) at
 * once, branch-free so that the compiler vectorises across lanes in 32-bit
 * integers: a term's trunc(|v| * 2^(sh - d)) is (|v| << sh) >> d for d >= 0
 * (floor of a non-negative value; |v| << sh < 2^27, so d clamped to 31 gives
 * the 0 that any d >= 27 gives), and positive and negative terms are summed
 * apart (each below 17 * 2^27 < 2^32) and subtracted in 64 bits at the end. */
int lc_cpu_mma_bf16_block_portable(float *acc, const int32_t *xs, const int32_t *xe,
                                   const int32_t (*ws)[LC_MMA_NB], const int32_t (*we)[LC_MMA_NB],
                                   int n) {
  /* maxe of a lane whose c is zero starts below every product's exponent
   * (>= -252) and far from INT32_MIN, so that differences cannot overflow */
  enum { NO_C = -(1 << 20) };
  int32_t maxe[LC_MMA_NB], ec[LC_MMA_NB];
  uint32_t pos[LC_MMA_NB], neg[LC_MMA_NB], sc[LC_MMA_NB], cneg[LC_MMA_NB];
  for (int j = 0; j < LC_MMA_NB; j++) {
    const uint32_t u = lc_f32_bits(acc[j]);
    const int32_t e = (int32_t)((u >> 23) & 0xFF);
    sc[j] = (u & 0x7FFFFFu) | (e ? 0x800000u : 0u);
    cneg[j] = u >> 31;
    ec[j] = e ? e - 127 : -126;
    maxe[j] = sc[j] ? ec[j] : NO_C; /* a zero c takes no part in maxe */
  }
  for (int i = 0; i < n; i++) /* a product with a zero factor takes no part */
    for (int j = 0; j < LC_MMA_NB; j++) {
      const int32_t e = xs[i] != 0 && ws[i][j] != 0 ? xe[i] + we[i][j] : INT32_MIN;
      maxe[j] = e > maxe[j] ? e : maxe[j];
    }
  for (int j = 0; j < LC_MMA_NB; j++) {
    int32_t d = maxe[j] - ec[j];
    d = d >= 0 && d < 31 ? d : 31; /* d < 0 only for a zero c (no part in maxe) */
    const uint32_t mag = (sc[j] << (FRAC_BITS - 23)) >> d;
    pos[j] = cneg[j] ? 0u : mag;
    neg[j] = cneg[j] ? mag : 0u;
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < LC_MMA_NB; j++) {
      const int32_t prod = xs[i] * ws[i][j];
      int32_t d = maxe[j] - xe[i] - we[i][j];
      d = d >= 0 && d < 31 ? d : 31; /* d < 0 only for a zero product (no part in maxe) */
      const uint32_t mag = ((uint32_t)(prod < 0 ? -prod : prod) << (FRAC_BITS - 14)) >> d;
      pos[j] += prod < 0 ? 0u : mag;
      neg[j] += prod < 0 ? mag : 0u;
    }
  int inf = 0;
  for (int j = 0; j < LC_MMA_NB; j++) {
    acc[j] = normalise_rz((int64_t)pos[j] - (int64_t)neg[j], maxe[j] - FRAC_BITS);
    inf |= !lc_f32_isfinite(acc[j]);
  }
  return inf;
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#include <immintrin.h>
/* (pos - neg) * 2^(maxe - FRAC_BITS) to fp32 rounding toward zero, as
 * normalise_rz, 4 lanes in doubles: pos and neg (below 2^32) become doubles
 * exactly (the 2^52 trick), so do their difference and its scaling by a power
 * of two (maxe - 25 >= -277 whenever the sum is not zero; a lane with nothing
 * in maxe has a zero sum, and its scale is clamped); then |d| >= 2^128 gives
 * +-Inf, |d| >= 2^-126 keeps the double's top 24 significant bits (its low 29
 * bits cleared: exact in fp32), and below it d is cut toward zero to a
 * multiple of 2^-149 (exact in fp32: a subnormal); a zero result is +0. */
__attribute__((target("avx2"))) static __m128 normalise4_avx2(__m256i pos64, __m256i neg64,
                                                              __m128i maxe, int *inf_out) {
  const __m256i magic = _mm256_set1_epi64x(0x4330000000000000LL);
  const __m256d two52 = _mm256_set1_pd(4503599627370496.0);
  const __m256d pd = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(pos64, magic)), two52);
  const __m256d nd = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(neg64, magic)), two52);
  const __m256d diff = _mm256_sub_pd(pd, nd);
  /* 2^(maxe - 25) from its exponent bits */
  const __m128i sc =
      _mm_max_epi32(_mm_sub_epi32(maxe, _mm_set1_epi32(FRAC_BITS)), _mm_set1_epi32(-1000));
  const __m256i eb =
      _mm256_slli_epi64(_mm256_cvtepi32_epi64(_mm_add_epi32(sc, _mm_set1_epi32(1023))), 52);
  const __m256d d = _mm256_mul_pd(diff, _mm256_castsi256_pd(eb));
  const __m256d sign = _mm256_set1_pd(-0.0);
  const __m256d ad = _mm256_andnot_pd(sign, d);
  /* normal: clear the low 29 bits */
  const __m256d nrm = _mm256_castsi256_pd(
      _mm256_and_si256(_mm256_castpd_si256(d), _mm256_set1_epi64x(~0x1FFFFFFFLL)));
  /* subnormal: trunc(d 2^149) 2^-149 */
  const __m256d sub = _mm256_mul_pd(_mm256_round_pd(_mm256_mul_pd(d, _mm256_set1_pd(0x1p149)),
                                                    _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC),
                                    _mm256_set1_pd(0x1p-149));
  const __m256d inf = _mm256_or_pd(_mm256_and_pd(d, sign), _mm256_set1_pd(INFINITY));
  __m256d r = _mm256_blendv_pd(sub, nrm, _mm256_cmp_pd(ad, _mm256_set1_pd(0x1p-126), _CMP_GE_OQ));
  const __m256d big = _mm256_cmp_pd(ad, _mm256_set1_pd(0x1p128), _CMP_GE_OQ);
  r = _mm256_blendv_pd(r, inf, big);
  *inf_out |= _mm256_movemask_pd(big);
  r = _mm256_add_pd(r, _mm256_setzero_pd()); /* -0 (a tiny negative cut to zero) -> +0 */
  return _mm256_cvtpd_ps(r);
}

__attribute__((target("avx2"))) static int normalise_rz_avx2(float *acc, __m256i pos, __m256i neg,
                                                             __m256i maxe) {
  int inf = 0;
  for (int h = 0; h < 2; h++) {
    const __m128i p = h ? _mm256_extracti128_si256(pos, 1) : _mm256_castsi256_si128(pos);
    const __m128i q = h ? _mm256_extracti128_si256(neg, 1) : _mm256_castsi256_si128(neg);
    const __m128i m = h ? _mm256_extracti128_si256(maxe, 1) : _mm256_castsi256_si128(maxe);
    _mm_storeu_ps(acc + 4 * h,
                  normalise4_avx2(_mm256_cvtepu32_epi64(p), _mm256_cvtepu32_epi64(q), m, &inf));
  }
  return inf;
}

/* block_portable in AVX2 intrinsics, 8 lanes in one register: the compiler's
 * vectorisation of the portable loops left half the speed on the table.
 * vpsrlvd gives 0 for shift counts above 31, which is the clamp of the
 * portable code.  The same integer operations, so the same bits. */
__attribute__((target("avx2"))) static int block_avx2(float *acc, const int32_t *xs,
                                                      const int32_t *xe,
                                                      const int32_t (*ws)[LC_MMA_NB],
                                                      const int32_t (*we)[LC_MMA_NB], int n) {
  int32_t ecv[LC_MMA_NB], scv[LC_MMA_NB], cnv[LC_MMA_NB];
  for (int j = 0; j < LC_MMA_NB; j++) {
    const uint32_t u = lc_f32_bits(acc[j]);
    const int32_t e = (int32_t)((u >> 23) & 0xFF);
    scv[j] = (int32_t)((u & 0x7FFFFFu) | (e ? 0x800000u : 0u));
    cnv[j] = (int32_t)(u >> 31) * -1; /* all ones when negative */
    ecv[j] = e ? e - 127 : -126;
  }
  const __m256i ec = _mm256_loadu_si256((const __m256i *)ecv);
  const __m256i zero = _mm256_setzero_si256(), none = _mm256_set1_epi32(INT32_MIN);
  /* a zero c takes no part in maxe: its lane starts at -2^20 (block_portable's
   * NO_C), below every product's exponent; (maxe - ec) < 0 then shifts its
   * zero significand by a count above 31, which gives 0 */
  __m256i maxe =
      _mm256_blendv_epi8(ec, _mm256_set1_epi32(-(1 << 20)),
                         _mm256_cmpeq_epi32(_mm256_loadu_si256((const __m256i *)scv), zero));
  for (int i = 0; i < n; i++) { /* a product with a zero factor takes no part */
    if (xs[i] == 0) continue;
    const __m256i e =
        _mm256_add_epi32(_mm256_set1_epi32(xe[i]), _mm256_loadu_si256((const __m256i *)we[i]));
    const __m256i wz = _mm256_cmpeq_epi32(_mm256_loadu_si256((const __m256i *)ws[i]), zero);
    maxe = _mm256_max_epi32(maxe, _mm256_blendv_epi8(e, none, wz));
  }
  const __m256i cneg = _mm256_loadu_si256((const __m256i *)cnv);
  const __m256i cmag =
      _mm256_srlv_epi32(_mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)scv), FRAC_BITS - 23),
                        _mm256_sub_epi32(maxe, ec));
  __m256i pos = _mm256_andnot_si256(cneg, cmag), neg = _mm256_and_si256(cneg, cmag);
  for (int i = 0; i < n; i++) {
    const __m256i wsv = _mm256_loadu_si256((const __m256i *)ws[i]);
    const __m256i e =
        _mm256_add_epi32(_mm256_set1_epi32(xe[i]), _mm256_loadu_si256((const __m256i *)we[i]));
    const __m256i prod = _mm256_mullo_epi32(_mm256_set1_epi32(xs[i]), wsv);
    const __m256i t = _mm256_srlv_epi32(_mm256_slli_epi32(_mm256_abs_epi32(prod), FRAC_BITS - 14),
                                        _mm256_sub_epi32(maxe, e));
    const __m256i sgn = _mm256_srai_epi32(prod, 31);
    pos = _mm256_add_epi32(pos, _mm256_andnot_si256(sgn, t));
    neg = _mm256_add_epi32(neg, _mm256_and_si256(sgn, t));
  }
  return normalise_rz_avx2(acc, pos, neg, maxe);
}

int lc_cpu_mma_bf16_block(float *acc, const int32_t *xs, const int32_t *xe,
                          const int32_t (*ws)[LC_MMA_NB], const int32_t (*we)[LC_MMA_NB], int n) {
  if (__builtin_cpu_supports("avx2")) /* a load of libgcc's cpu model: cheap, thread-safe */
    return block_avx2(acc, xs, xe, ws, we, n);
  return lc_cpu_mma_bf16_block_portable(acc, xs, xe, ws, we, n);
}
#else
int lc_cpu_mma_bf16_block(float *acc, const int32_t *xs, const int32_t *xe,
                          const int32_t (*ws)[LC_MMA_NB], const int32_t (*we)[LC_MMA_NB], int n) {
  return lc_cpu_mma_bf16_block_portable(acc, xs, xe, ws, we, n);
}
#endif

void lc_cpu_bf16_decode(const uint16_t *h, int64_t n, int32_t *sig, int32_t *exp) {
  for (int64_t i = 0; i < n; i++) lc_cpu_bf16_sig_exp(h[i], &sig[i], &exp[i]);
}

int lc_cpu_bf16_any_nonfinite(const uint16_t *h, int64_t n) {
  int bad = 0;
  for (int64_t i = 0; i < n; i++) bad |= (h[i] & 0x7F80u) == 0x7F80u;
  return bad;
}

float lc_cpu_mma_bf16(float c, const uint16_t *a, const uint16_t *b, int n) {
  if ((lc_f32_bits(c) & 0x7F800000u) == 0x7F800000u || lc_cpu_bf16_any_nonfinite(a, n) ||
      lc_cpu_bf16_any_nonfinite(b, n))
    return nonfinite_path(c, a, b, n);
  int32_t sa[LC_MMA_K], ea[LC_MMA_K], sb[LC_MMA_K], eb[LC_MMA_K];
  lc_cpu_bf16_decode(a, n, sa, ea);
  lc_cpu_bf16_decode(b, n, sb, eb);
  return mma_core(c, sa, ea, sb, eb, n, 0, 0, 0);
}

float lc_cpu_mma_bf16_variant(float c, const uint16_t *a, const uint16_t *b, int n,
                              unsigned flags) {
  if ((lc_f32_bits(c) & 0x7F800000u) == 0x7F800000u || lc_cpu_bf16_any_nonfinite(a, n) ||
      lc_cpu_bf16_any_nonfinite(b, n))
    return nonfinite_path(c, a, b, n);
  int32_t sa[LC_MMA_K], ea[LC_MMA_K], sb[LC_MMA_K], eb[LC_MMA_K];
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < n; i++) {
      const uint16_t h = k ? b[i] : a[i];
      int32_t *sg = k ? &sb[i] : &sa[i], *ex = k ? &eb[i] : &ea[i];
      lc_cpu_bf16_sig_exp(h, sg, ex);
      if ((flags & LC_MMA_NORM_SUBNORMALS) && *ex == -126 && *sg != 0 && !((h >> 7) & 0xFF)) {
        int32_t m = *sg < 0 ? -*sg : *sg;
        while (!(m & 0x80)) m <<= 1, (*ex)--;
        *sg = *sg < 0 ? -m : m;
      }
    }
  return mma_core(c, sa, ea, sb, eb, n, (flags & LC_MMA_NORM_C) != 0,
                  (flags & LC_MMA_ZERO_IN_MAXE) != 0, (flags & LC_MMA_ZERO_C_IN) != 0);
}
