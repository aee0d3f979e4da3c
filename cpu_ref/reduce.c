/*
 * cpu_ref/reduce.c — the canonical row reduction of the strict tier, on the CPU.
 *
 * Computes the sum of one term per element of a row v[0..n), fp32 in, fp32 out, in
 * the order docs/numerics.md fixes and the CUDA kernels follow with one warp
 * (lc_warp_canon_reduce in kernels/lc_cuda_common.cuh):
 *
 *   LC_REDUCE_LANES = 32 lanes; lane l starts at +0 and takes v[l], v[l+32],
 *   v[l+64], ... in ascending order: acc_l = acc_l + v[i]                   (sum)
 *                                    acc_l = fmaf(v[i], v[i], acc_l)        (sum of squares)
 *                                    acc_l = acc_l + lc_expf(v[i] - shift)  (sum of exp)
 *   then the butterfly, for o = 16, 8, 4, 2, 1 and all lanes at once:
 *   acc'_l = acc_l + acc_(l^o).  The result is lane 0.
 *
 * Nothing in the order depends on anything but n, so a row reduces to the same bits
 * wherever it sits in a batch.  No bf16 here: inputs are already fp32.  The lane
 * loop is written once (canon_reduce) and emulated literally (32 separate
 * accumulators); each lane is its own chain, so the compiler may vectorise across
 * lanes without changing a single rounding.
 */
#include <assert.h>
#include <math.h>

#include "cast/lc_canon.h"
#include "cpu_ref/cpu_ref.h"

#define LANES LC_REDUCE_LANES

/* The butterfly runs in place: on return every lane holds the combined value (NaN
 * payloads aside: x + y and y + x may carry different NaN payloads, which strict
 * callers canonicalise when they write). */
float lc_cpu_canon_butterfly(float lanes[32]) {
  float tmp[LANES];
  for (int o = LANES / 2; o >= 1; o /= 2) {
    for (int l = 0; l < LANES; l++) tmp[l] = lanes[l] + lanes[l ^ o];
    for (int l = 0; l < LANES; l++) lanes[l] = tmp[l];
  }
  return lanes[0];
}

/* What a lane's chain does with element x: one of the three terms above. */
typedef enum lane_term { TERM_VALUE, TERM_SQUARE, TERM_EXP } lane_term;

static inline float lane_step(float acc, float x, lane_term term, float shift) {
  switch (term) {
    case TERM_SQUARE:
      return LC_FMA(x, x, acc);
    case TERM_EXP:
      return acc + lc_expf(x - shift);
    case TERM_VALUE:
      break;
  }
  return acc + x;
}

/* The one lane loop: element i goes to lane i % LANES, each lane in ascending i;
 * then the butterfly.  Inlined into each entry below with a constant term. */
static inline float canon_reduce(const float *v, int64_t n, lane_term term, float shift) {
  assert(n >= 0);
  float acc[LANES];
  for (int l = 0; l < LANES; l++) acc[l] = 0.0f;
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++) acc[l] = lane_step(acc[l], v[i + l], term, shift);
  for (int l = 0; i + l < n; l++) acc[l] = lane_step(acc[l], v[i + l], term, shift);
  return lc_cpu_canon_butterfly(acc);
}

LC_CPU_CLONES float lc_cpu_canon_sum(const float *v, int64_t n) {
  return canon_reduce(v, n, TERM_VALUE, 0.0f);
}

LC_CPU_CLONES float lc_cpu_canon_sumsq(const float *v, int64_t n) {
  return canon_reduce(v, n, TERM_SQUARE, 0.0f);
}

LC_CPU_CLONES float lc_cpu_canon_sum_exp(const float *v, int64_t n, float shift) {
  return canon_reduce(v, n, TERM_EXP, shift);
}
