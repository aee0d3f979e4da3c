/*
 * cpu_ref/rope.c — rotary position embedding, strict and reference.
 *
 * Rotates x in place: x [m][n_heads][head_dim] fp32, pos [m] int32 (each row
 * has one position, shared by its heads), cos_tab and sin_tab
 * [max_pos][head_dim/2] fp32.  The tables are built once by lib/
 * (lc_rope_create: angle = pos * inv_freq[i] and cos/sin in double, then
 * rounded to float) and shared by every backend, so no transcendental is
 * evaluated here.  There is no bf16 in this op.
 *
 * Pair i (i < head_dim/2) is (x[2i], x[2i+1]) for LC_ROPE_INTERLEAVED and
 * (x[i], x[i + head_dim/2]) for LC_ROPE_HALF; with c = cos[pos][i],
 * s = sin[pos][i]:
 *   strict     a' = fma(a, c, -(b*s)),  b' = fma(a, s, b*c),  NaN canonical
 *   reference  a' = a*c - b*s,          b' = a*s + b*c
 * Each element's result depends only on its own pair, its row's position and
 * the table, so a row gives the same bits alone or inside any batch.
 */
#include "cast/lc_canon.h"
#include "cpu_ref/cpu_ref.h"

/* Index of the two elements of pair i. */
static void pair_index(lc_rope_style style, int64_t half, int64_t i, int64_t *ia, int64_t *ib) {
  if (style == LC_ROPE_INTERLEAVED) {
    *ia = 2 * i;
    *ib = 2 * i + 1;
  } else {
    *ia = i;
    *ib = i + half;
  }
}

LC_CPU_CLONES void lc_cpu_rope_strict(float *x, int64_t m, int64_t n_heads, int64_t head_dim,
                                      const int32_t *pos, const float *cos_tab,
                                      const float *sin_tab, lc_rope_style style) {
  const int64_t half = head_dim / 2;
  for (int64_t r = 0; r < m; r++) {
    const float *c = cos_tab + (int64_t)pos[r] * half;
    const float *s = sin_tab + (int64_t)pos[r] * half;
    for (int64_t h = 0; h < n_heads; h++) {
      float *xh = x + (r * n_heads + h) * head_dim;
      for (int64_t i = 0; i < half; i++) {
        int64_t ia, ib;
        pair_index(style, half, i, &ia, &ib);
        const float a = xh[ia], b = xh[ib];
        const float a2 = LC_FMA(a, c[i], -(b * s[i]));
        const float b2 = LC_FMA(a, s[i], b * c[i]);
        xh[ia] = lc_canon_nan(a2);
        xh[ib] = lc_canon_nan(b2);
      }
    }
  }
}

void lc_cpu_rope_ref(float *x, int64_t m, int64_t n_heads, int64_t head_dim, const int32_t *pos,
                     const float *cos_tab, const float *sin_tab, lc_rope_style style) {
  const int64_t half = head_dim / 2;
  for (int64_t r = 0; r < m; r++) {
    const float *c = cos_tab + (int64_t)pos[r] * half;
    const float *s = sin_tab + (int64_t)pos[r] * half;
    for (int64_t h = 0; h < n_heads; h++) {
      float *xh = x + (r * n_heads + h) * head_dim;
      for (int64_t i = 0; i < half; i++) {
        int64_t ia, ib;
        pair_index(style, half, i, &ia, &ib);
        const float a = xh[ia], b = xh[ib];
        xh[ia] = a * c[i] - b * s[i];
        xh[ib] = a * s[i] + b * c[i];
      }
    }
  }
}
