/*
 * cpu_ref/argmax.c — the index of the maximum of each row, on the CPU.
 *
 * Shapes and dtypes: x [m][n] fp32 (host), idx [m] int32 (host); m may be 0,
 * 1 <= n < 2^31.  No bf16, no arithmetic: the result is exact, so strict and
 * reference share this one function, and the rule below fixes it for any order of
 * evaluation (the GPU may reduce in a tree and must give the same index):
 *   - the first index of the largest value (ties go to the lower index);
 *   - -0 and +0 compare equal (the lower index wins between them);
 *   - a NaN counts as larger than every number: a row with a NaN gives the index
 *     of its first NaN (any sign or payload);
 *   - a row of -Inf only gives 0.
 * Each row reads only its own elements: batch-invariant trivially.
 */
#include <assert.h>

#include "cast/lc_cast.h"
#include "cpu_ref/cpu_ref.h"

void lc_cpu_argmax(const float *x, int64_t m, int64_t n, int32_t *idx) {
  assert(m >= 0 && n >= 1);
  for (int64_t r = 0; r < m; r++) {
    const float *xr = x + r * n;
    int64_t best = 0;
    float bv = xr[0];
    if (!lc_f32_isnan(bv)) {
      for (int64_t i = 1; i < n; i++) {
        if (lc_f32_isnan(xr[i])) {
          best = i;
          break;
        }
        if (xr[i] > bv) { /* strict: a tie, -0 vs +0 included, keeps the first */
          bv = xr[i];
          best = i;
        }
      }
    }
    idx[r] = (int32_t)best;
  }
}
