/*
 * cast/lc_cast.h — the one definition of rounding in layercast.
 *
 * bf16 <-> fp32 and fp16 <-> fp32 conversions (round to nearest, ties to
 * even; NaN stays NaN and becomes quiet; +-Inf kept; subnormals kept), and
 * the exact split of an fp32 into three bf16 parts.  Header-only: the same
 * source compiles as C11 on the host and as CUDA C++ on the device (LC_HD),
 * so cpu_ref/ and kernels/ cannot round differently.  docs/numerics.md
 * states the rules; tests/test_cast.c checks them exhaustively.
 */
#ifndef LC_CAST_H
#define LC_CAST_H

#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define LC_HD __host__ __device__ __forceinline__
#else
#define LC_HD static inline
#endif

/* ---- bit access ---------------------------------------------------------
 * memcpy is the portable type pun in C and C++ alike; compilers turn it
 * into a register move on both sides. */
LC_HD uint32_t lc_f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

LC_HD float lc_f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

LC_HD int lc_f32_isnan(float f) {
  return (lc_f32_bits(f) & 0x7FFFFFFFu) > 0x7F800000u;
}

LC_HD int lc_f32_isfinite(float f) {
  return (lc_f32_bits(f) & 0x7F800000u) != 0x7F800000u;
}

/* ---- bf16 ---------------------------------------------------------------
 * bf16 is the top half of a binary32: widening is a shift and is exact. */
LC_HD float lc_bf16_to_f32(uint16_t h) {
  return lc_f32_from_bits((uint32_t)h << 16);
}

/* Round to nearest even.  NaN: keep sign and the top payload bits, set the
 * quiet bit (0x0040), so a NaN never becomes Inf.  Finite values above the
 * largest bf16 (by half an ulp or more) become +-Inf, as IEEE rounding
 * demands. */
LC_HD uint16_t lc_f32_to_bf16(float f) {
  uint32_t u = lc_f32_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040u);
  uint32_t lsb = (u >> 16) & 1u;
  u += 0x7FFFu + lsb; /* carries into the exponent when rounding up */
  return (uint16_t)(u >> 16);
}

/* ---- fp16 ---------------------------------------------------------------*/

/* Exact: every binary16 value is a binary32 value. */
LC_HD float lc_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t man = h & 0x3FFu;
  if (exp == 0x1Fu) { /* Inf, NaN (made quiet, payload kept) */
    if (man == 0) return lc_f32_from_bits(sign | 0x7F800000u);
    return lc_f32_from_bits(sign | 0x7FC00000u | (man << 13));
  }
  if (exp == 0) {
    if (man == 0) return lc_f32_from_bits(sign); /* +-0 */
    /* subnormal: man * 2^-24, normalise into binary32 */
    int e = -1;
    do {
      man <<= 1;
      e++;
    } while ((man & 0x400u) == 0);
    man &= 0x3FFu;
    return lc_f32_from_bits(sign | ((uint32_t)(127 - 15 - e) << 23) | (man << 13));
  }
  return lc_f32_from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}

/* Round to nearest even; overflow gives +-Inf, underflow gives binary16
 * subnormals or +-0; NaN stays NaN (quiet, top payload bits kept). */
LC_HD uint16_t lc_f32_to_f16(float f) {
  uint32_t u = lc_f32_bits(f);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  if (a >= 0x477FF000u) /* >= 65520 (65504 + half an ulp): ties go up */
    return (uint16_t)(sign | 0x7C00u);
  if (a >= 0x38800000u) { /* >= 2^-14: normal binary16 */
    uint32_t lsb = (a >> 13) & 1u;
    a += 0xFFFu + lsb;
    return (uint16_t)(sign | (((a >> 13) - (112u << 10)) & 0x7FFFu));
  }
  if (a < 0x33000000u)
    return sign; /* < 2^-25: rounds to zero (2^-25 ties
                   to even, i.e. zero) */
  /* Subnormal binary16: value = a_mant * 2^(e-23), result unit 2^-24. */
  uint32_t e = a >> 23;                       /* biased, 102 .. 112 */
  uint32_t man = (a & 0x7FFFFFu) | 0x800000u; /* 24 significant bits */
  uint32_t shift = 126u - e;                  /* 14 .. 24 */
  uint32_t q = man >> shift;
  uint32_t rem = man & ((1u << shift) - 1u);
  uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u))) q++;
  return (uint16_t)(sign | q);
}

/* ---- three-way bf16 split ------------------------------------------------
 * x = hi + mid + lo exactly, with hi = bf16(x), mid = bf16(x - hi),
 * lo = bf16(x - hi - mid), each rounded to nearest even.  The differences
 * are exact in fp32 (each is x minus its rounding to 8 significant bits),
 * and 8 + 8 + 8 bits with a sign per part cover the 24 bits of a binary32.
 * Exact for finite |x| >= 2^-110 and for +-0; below 2^-110 the parts fall
 * into bf16's subnormal range (unit 2^-133) and |x - (hi+mid+lo)| <= 2^-134.
 * Non-finite x gives (bf16(x), 0, 0).  When |x| is so close to FLT_MAX that
 * bf16 rounding would overflow, hi is the largest finite bf16 instead, so
 * the sum stays exact. */
LC_HD void lc_split3_bf16(float x, uint16_t parts[3]) {
  uint32_t a = lc_f32_bits(x) & 0x7FFFFFFFu;
  if (a >= 0x7F800000u) {
    parts[0] = lc_f32_to_bf16(x);
    parts[1] = 0;
    parts[2] = 0;
    return;
  }
  uint16_t hi = lc_f32_to_bf16(x);
  if ((hi & 0x7FFFu) == 0x7F80u) hi = (uint16_t)((hi & 0x8000u) | 0x7F7Fu);
  float r1 = x - lc_bf16_to_f32(hi);
  uint16_t mid = lc_f32_to_bf16(r1);
  float r2 = r1 - lc_bf16_to_f32(mid);
  parts[0] = hi;
  parts[1] = mid;
  parts[2] = lc_f32_to_bf16(r2);
}

#endif /* LC_CAST_H */
