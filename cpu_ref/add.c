/*
 * cpu_ref/add.c — elementwise sum (the residual connection).
 *
 * out[i] = a[i] + b[i]; a, b, out [n] fp32 (no bf16 here); out may equal a
 * or b (or both inputs may be the same array).  One IEEE single-precision
 * addition per element, correctly rounded, so strict and reference are the
 * same function; every NaN written is the canonical 0x7FC00000 (x86 and
 * NVIDIA GPUs propagate different NaN payloads).  Elementwise, hence
 * batch-invariant.
 */
#include "cast/lc_canon.h"
#include "cpu_ref/cpu_ref.h"

void lc_cpu_add(const float *a, const float *b, int64_t n, float *out) {
  for (int64_t i = 0; i < n; i++) out[i] = lc_canon_nan(a[i] + b[i]);
}
