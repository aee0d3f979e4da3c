/*
 * cpu_ref/convert.c — x = bf16(x) in place, on the CPU: the twin of
 * kernels/convert.cu's lc_kernels_round_bf16.
 *
 * Shapes and dtypes: x [n] fp32, host memory, n >= 0.  Each element is rounded
 * to bf16 by lc_f32_to_bf16 (cast/lc_cast.h: round to nearest even, NaN kept
 * quiet, overflow to +-Inf) and widened back exactly: the same source as the
 * GPU's, so both backends give the same bits.  Elementwise, no arithmetic
 * order to fix; one function for strict and reference.  (kernels/convert.cu's
 * other entries serve the vendor baselines on the GPU and have no CPU caller.)
 */
#include <assert.h>

#include "cast/lc_cast.h"
#include "cpu_ref/cpu_ref.h"

void lc_cpu_round_bf16(float *x, int64_t n) {
  assert(n >= 0);
  for (int64_t i = 0; i < n; i++) x[i] = lc_bf16_to_f32(lc_f32_to_bf16(x[i]));
}
