/*
 * cpu_ref/silu_mul.c — the gated activation of a SwiGLU feed-forward block.
 *
 * out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)); gate, up,
 * out [n] fp32 (no bf16 here).  out may equal gate or up: each element is
 * read before it is written and no other element is involved.
 *   strict     out = canon(lc_siluf(gate) * up): the canonical exp of
 *              cast/lc_canon.h, IEEE division, one multiply; every NaN
 *              written is 0x7FC00000.
 *   reference  (gate / (1 + expf(-gate))) * up with libm's expf.
 * Elementwise, so trivially batch-invariant: an element's bits depend on its
 * two inputs only.
 */
#include <math.h>

#include "cast/lc_canon.h"
#include "cpu_ref/cpu_ref.h"

LC_CPU_CLONES void lc_cpu_silu_mul_strict(const float *gate, const float *up, int64_t n,
                                          float *out) {
  for (int64_t i = 0; i < n; i++) {
    const float g = gate[i], u = up[i];
    out[i] = lc_canon_nan(lc_siluf(g) * u);
  }
}

void lc_cpu_silu_mul_ref(const float *gate, const float *up, int64_t n, float *out) {
  for (int64_t i = 0; i < n; i++) {
    const float g = gate[i], u = up[i];
    out[i] = (g / (1.0f + expf(-g))) * u;
  }
}
