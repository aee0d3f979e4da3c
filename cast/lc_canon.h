/*
 * cast/lc_canon.h — the canonical math of the strict tier, one source for
 * the host (C11) and the device (CUDA C++).
 *
 * The constants of the canonical order v1 (docs/numerics.md prints the same
 * numbers; tests/test_docs.c checks that it does), the exp and log every
 * strict op uses, and what is built on them.  Every multiply-add that
 * matters is an explicit fused multiply-add (fmaf on the host, __fmaf_rn on
 * the device); division and square root are IEEE correctly rounded on both
 * sides.  The project compiles with contraction off (-ffp-contract=off,
 * nvcc --fmad=false) and never with fast-math, so nothing here is reordered
 * or fused behind the code's back.
 */
#ifndef LC_CANON_H
#define LC_CANON_H

#include "lc_cast.h"

#if !defined(__CUDACC__)
#include <math.h>
#endif

/* ---- the canonical order v1 ---------------------------------------------*/
#define LC_CANON_VERSION 1
/* Matmul: K is cut into segments of this many elements (the last may be
 * shorter); each segment is a fresh fma chain, k ascending; segment sums
 * are added in ascending order.  256 keeps both error terms small
 * (Ls + K/Ls additions for K = 4096: 272, against 1028 for Ls = 1024) and
 * gives a decode kernel N*K/256 independent chains to spread over the GPU. */
#define LC_MATMUL_SEG_LEN 256
/* Attention: keys in partitions of this many positions, counted from 0. */
#define LC_ATTN_PARTITION 256
/* Row reductions: lanes, lane l takes elements l, l+32, ...; then the
 * butterfly v = v + v[l ^ o] for o = 16, 8, 4, 2, 1. */
#define LC_REDUCE_LANES 32
/* ---- the fast order v1 (fast and bf16 modes; docs/numerics.md 10) -------
 * Matmul on bf16 tensor cores: x is split into bf16 parts (lc_split3_bf16;
 * bf16 mode uses hi only), K is cut into chunks of LC_FAST_CHUNK; per chunk a
 * fresh tensor-core accumulator takes the MMAs of K-step LC_MMA_K, part by
 * part (lo, then mid, then hi), steps ascending within a part; the chunk's
 * result is added to the fp32 sum in ascending chunk order. */
#define LC_FAST_VERSION 1
#define LC_FAST_CHUNK 64
#define LC_MMA_K 16
/* Largest head dimension attention accepts. */
#define LC_MAX_HEAD_DIM 256

/* ---- primitive operations, identical on both sides ----------------------*/
#if defined(__CUDA_ARCH__)
#define LC_FMA(a, b, c) __fmaf_rn((a), (b), (c))
#define LC_DIV(a, b) __fdiv_rn((a), (b))
#define LC_SQRT(a) __fsqrt_rn(a)
#define LC_RINT(a) rintf(a)
#else
#define LC_FMA(a, b, c) fmaf((a), (b), (c))
#define LC_DIV(a, b) ((a) / (b))
#define LC_SQRT(a) sqrtf(a)
#define LC_RINT(a) rintf(a)
#endif

/* The same name and text as in include/layercast.h: a translation unit
 * that sees both (lib/ does) would fail to build (-Werror) if the two
 * definitions ever differed. */
#define LC_F32_CANONICAL_NAN_BITS 0x7FC00000u

/* Every NaN a strict op writes is this one bit pattern: hardware NaN
 * payloads differ between x86 and NVIDIA GPUs. */
LC_HD float lc_canon_nan(float x) {
  return lc_f32_isnan(x) ? lc_f32_from_bits(LC_F32_CANONICAL_NAN_BITS) : x;
}

/* The larger of a running maximum m and x, NaN ignored (a NaN x never wins).
 * Ties keep m; callers canonicalise a zero maximum with lc_canon_zero(), so
 * the order in which -0 and +0 arrive cannot show in the result. */
LC_HD float lc_max_nonan(float m, float x) {
  return x > m ? x : m;
}

/* -0 becomes +0 (round-to-nearest: -0 + +0 = +0); everything else is kept. */
LC_HD float lc_canon_zero(float x) {
  return x + 0.0f;
}

/* 2^e as a float for -126 <= e <= 127. */
LC_HD float lc_pow2i(int e) {
  return lc_f32_from_bits((uint32_t)(e + 127) << 23);
}

/* ---- exp -----------------------------------------------------------------
 * exp(x) = 2^n * exp(r), n = rint(x * log2(e)), r = x - n*ln2 computed with
 * a two-part ln2 (the first fma is exact: x - n*ln2_hi is a multiple of the
 * smaller of x's and n*ln2_hi's last bits and below 1/2 in magnitude, so it
 * fits in 24 bits), exp(r) by its Taylor polynomial of degree 7 in Horner
 * form (truncation below 0.1 ulp on |r| <= 0.35), then 2^n applied as two
 * factors 2^(n/2) * 2^(n - n/2) so that n down to -150 (subnormal results)
 * and up to 128 need no special path: the first product is exact and the
 * second rounds once.
 * exp(NaN) = NaN, exp(+Inf) = +Inf, exp(-Inf) = +0; x > 88.7228317 (the
 * largest float whose exp is finite) gives +Inf; x < -104 gives +0.
 * Measured error: docs/numerics.md (tests/test_exp.c). */
#define LC_EXP_LOG2E 0x1.715476p+0f
#define LC_EXP_LN2_HI 0x1.62e430p-1f
#define LC_EXP_LN2_LO (-0x1.05c610p-29f)
#define LC_EXP_MAX_ARG 0x1.62e42ep+6f /* 88.7228317 */
#define LC_EXP_MIN_ARG (-104.0f)

LC_HD float lc_expf(float x) {
  if (lc_f32_isnan(x)) return x + x;
  if (x > LC_EXP_MAX_ARG) return lc_f32_from_bits(0x7F800000u);
  if (x < LC_EXP_MIN_ARG) return 0.0f;
  float nf = LC_RINT(x * LC_EXP_LOG2E);
  float r = LC_FMA(-nf, LC_EXP_LN2_HI, x);
  r = LC_FMA(-nf, LC_EXP_LN2_LO, r);
  float p = 0x1.a01a02p-13f;         /* 1/5040 */
  p = LC_FMA(p, r, 0x1.6c16c2p-10f); /* 1/720 */
  p = LC_FMA(p, r, 0x1.111112p-7f);  /* 1/120 */
  p = LC_FMA(p, r, 0x1.555556p-5f);  /* 1/24 */
  p = LC_FMA(p, r, 0x1.555556p-3f);  /* 1/6 */
  p = LC_FMA(p, r, 0.5f);
  p = LC_FMA(p, r, 1.0f);
  p = LC_FMA(p, r, 1.0f);
  int n = (int)nf;
  int n1 = n / 2;
  return (p * lc_pow2i(n1)) * lc_pow2i(n - n1);
}

/* ---- log -----------------------------------------------------------------
 * log(x) = e*ln2 + log(m), m in [sqrt(1/2), sqrt(2)), f = m - 1 (exact),
 * s = f / (2 + f), log(1+f) = f - (f^2/2 - s*(f^2/2 + R)) with
 * R = z*(2/3 + z*(2/5 + z*(2/7 + z*2/9))), z = s^2 (the atanh series;
 * truncation below 0.05 ulp since |s| <= 0.1716); ln2 in two parts with
 * ln2_hi short enough that e*ln2_hi is exact.
 * log(NaN) = NaN, log(x < 0) = NaN, log(+-0) = -Inf, log(+Inf) = +Inf;
 * subnormal x is scaled by 2^23 first. */
#define LC_LOG_LN2_HI 0x1.62e300p-1f
#define LC_LOG_LN2_LO 0x1.2fefa4p-17f

LC_HD float lc_logf(float x) {
  if (lc_f32_isnan(x)) return x + x;
  if (x < 0.0f) return lc_f32_from_bits(LC_F32_CANONICAL_NAN_BITS);
  if (x == 0.0f) return lc_f32_from_bits(0xFF800000u);
  if (x == lc_f32_from_bits(0x7F800000u)) return x;
  int eadj = 0;
  if (x < 0x1p-126f) {
    x = x * 0x1p23f; /* exact */
    eadj = -23;
  }
  uint32_t u = lc_f32_bits(x);
  int e = (int)(u >> 23) - 127 + eadj;
  uint32_t man = u & 0x7FFFFFu;
  if (man > 0x3504F3u) { /* m >= sqrt(2): use m/2 and e+1 */
    man |= 0x3F000000u;
    e += 1;
  } else {
    man |= 0x3F800000u;
  }
  float m = lc_f32_from_bits(man);
  float f = m - 1.0f;
  float s = LC_DIV(f, 2.0f + f);
  float z = s * s;
  float R = LC_FMA(0x1.c71c72p-3f, z, 0x1.24924ap-2f); /* 2/9, 2/7 */
  R = LC_FMA(R, z, 0x1.99999ap-2f);                    /* 2/5 */
  R = LC_FMA(R, z, 0x1.555556p-1f);                    /* 2/3 */
  R = R * z;
  float hfsq = (0.5f * f) * f;
  float ef = (float)e;
  float t = LC_FMA(s, hfsq + R, ef * LC_LOG_LN2_LO);
  return ef * LC_LOG_LN2_HI - ((hfsq - t) - f);
}

/* ---- built on exp --------------------------------------------------------*/

/* sigmoid(x) = 1 / (1 + exp(-x)).  sigmoid(+Inf) = 1, sigmoid(-Inf) = 0. */
LC_HD float lc_sigmoidf(float x) {
  return LC_DIV(1.0f, 1.0f + lc_expf(-x));
}

/* silu(x) = x / (1 + exp(-x)): one rounding fewer than x * sigmoid(x), and
 * no subnormal intermediate for very negative x.  silu(+Inf) = +Inf,
 * silu(-Inf) = NaN (-Inf / +Inf), as x * sigmoid(x) gives in IEEE. */
LC_HD float lc_siluf(float x) {
  return LC_DIV(x, 1.0f + lc_expf(-x));
}

#endif /* LC_CANON_H */
