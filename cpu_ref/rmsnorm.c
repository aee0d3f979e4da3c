/*
 * cpu_ref/rmsnorm.c — RMSNorm over the rows of x on the CPU.
 *
 * Shapes and dtypes: x, y [m][n] fp32 (y may equal x: each row is read whole
 * before any of it is written, and then element by element in place), weight [n]
 * bf16, eps fp32 (finite, >= 0; lib/ checks); host memory; m may be 0.
 * bf16 becomes fp32 (exactly) where each weight element is multiplied in.
 *
 * lc_cpu_rmsnorm_strict — the canonical order v1, per row:
 *   ss   = canonical sum of squares of x[0..n)   (lc_cpu_canon_sumsq: 32 lanes of
 *          fmaf(x, x, acc), then the butterfly)
 *   mean = ss / (float)n;  r = 1.0f / sqrtf(mean + eps)
 *   y[i] = canon((x[i] * r) * w[i])
 * Every step names only the row's own data and n, so a row gives the same bits in
 * any batch and at any position.  Consequences of the formula (docs/numerics.md):
 * a NaN in the row makes the whole row NaN; an Inf in the row, or squares that
 * overflow (|x| >~ 1.8e19), make ss = Inf and r = 0, so the row becomes signed zeros
 * with NaN where x is +-Inf (Inf * 0); an all-zero row with eps = 0 is NaN
 * (0 * (1/0)), with eps > 0 it is zeros.
 *
 * lc_cpu_rmsnorm_ref — plain FP32: ss = ss + x[i]*x[i] sequentially (product rounded,
 * no fma), then the same formula with libm sqrtf, NaN not canonicalised.
 */
#include <assert.h>
#include <math.h>

#include "cast/lc_canon.h"
#include "cpu_ref/cpu_ref.h"

LC_CPU_CLONES void lc_cpu_rmsnorm_strict(const float *x, int64_t m, int64_t n, const uint16_t *w,
                                         float eps, float *y) {
  assert(m >= 0 && n >= 1);
  for (int64_t r = 0; r < m; r++) {
    const float *xr = x + r * n;
    float *yr = y + r * n;
    const float ss = lc_cpu_canon_sumsq(xr, n);
    const float mean = LC_DIV(ss, (float)n);
    const float scale = LC_DIV(1.0f, LC_SQRT(mean + eps));
    for (int64_t i = 0; i < n; i++) yr[i] = lc_canon_nan((xr[i] * scale) * lc_bf16_to_f32(w[i]));
  }
}

void lc_cpu_rmsnorm_ref(const float *x, int64_t m, int64_t n, const uint16_t *w, float eps,
                        float *y) {
  assert(m >= 0 && n >= 1);
  for (int64_t r = 0; r < m; r++) {
    const float *xr = x + r * n;
    float *yr = y + r * n;
    float ss = 0.0f;
    for (int64_t i = 0; i < n; i++) ss = ss + xr[i] * xr[i];
    const float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++) yr[i] = (xr[i] * scale) * lc_bf16_to_f32(w[i]);
  }
}
