/*
 * kernels/rope.cu — rotary position embedding on the GPU, strict.
 *
 * Shapes and dtypes: x [m][n_heads][head_dim] fp32, device, rotated in
 * place; pos [m] int32, device (each in 0 .. max_pos-1: lib/ checks on the
 * host); cos_tab, sin_tab [max_pos][head_dim/2] fp32, device (built once by
 * lc_rope_create in double and rounded to float: no transcendental here).
 * head_dim even, 2 .. LC_MAX_HEAD_DIM.  No bf16.
 *
 * Pair i < head_dim/2 is (x[2i], x[2i+1]) for LC_ROPE_INTERLEAVED and
 * (x[i], x[i + head_dim/2]) for LC_ROPE_HALF; with c = cos[pos][i],
 * s = sin[pos][i]: a' = fma(a, c, -(b*s)), b' = fma(a, s, b*c), each written
 * through canon — bit for bit lc_cpu_rope_strict (b*s and b*c are single
 * roundings: nvcc runs with --fmad=false, and the two fmas are explicit).
 * An element's bits depend on its own pair, its row's position and the table.
 *
 * Launch: blocks of 32 x ROPE_ROWS threads; threadIdx.y picks a (row, head)
 * (grid-stride over m*n_heads), threadIdx.x walks the pairs i, i+32, ...;
 * one thread reads and writes both elements of a pair.
 *
 * Benchmark: bench/bench_ops (its rope rows; bench/run.sh builds and runs
 * it on the GPU machine).
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_canon.h"
#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"

#define ROPE_ROWS 8 /* (row, head) pairs per block */
#define ROPE_MAX_BLOCKS (1 << 20)

template <bool INTERLEAVED>
__global__ void __launch_bounds__(32 * ROPE_ROWS)
    rope_kernel(float *x, int64_t rows_heads, int64_t n_heads, int64_t head_dim,
                const int32_t *__restrict__ pos, const float *__restrict__ cos_tab,
                const float *__restrict__ sin_tab) {
  const int64_t half = head_dim / 2;
  for (int64_t rh = (int64_t)blockIdx.x * ROPE_ROWS + threadIdx.y; rh < rows_heads;
       rh += (int64_t)gridDim.x * ROPE_ROWS) {
    const int64_t p = pos[rh / n_heads];
    const float *cr = cos_tab + p * half;
    const float *sr = sin_tab + p * half;
    float *xh = x + rh * head_dim;
    for (int64_t i = threadIdx.x; i < half; i += 32) {
      const int64_t ia = INTERLEAVED ? 2 * i : i;
      const int64_t ib = INTERLEAVED ? 2 * i + 1 : i + half;
      const float a = xh[ia], b = xh[ib], c = cr[i], s = sr[i];
      const float a2 = LC_FMA(a, c, -(b * s));
      const float b2 = LC_FMA(a, s, b * c);
      xh[ia] = lc_canon_nan(a2);
      xh[ib] = lc_canon_nan(b2);
    }
  }
}

/* ---- launcher and entry ----------------------------------------------------*/

static lc_status rope_launch(float *x, int64_t m, int64_t n_heads, int64_t head_dim,
                             const int32_t *pos, const float *cos_tab, const float *sin_tab,
                             lc_rope_style style, cudaStream_t stream, char *err, size_t err_len) {
  const int64_t rows_heads = m * n_heads;
  int64_t blocks = (rows_heads + ROPE_ROWS - 1) / ROPE_ROWS;
  if (blocks > ROPE_MAX_BLOCKS) blocks = ROPE_MAX_BLOCKS;
  const dim3 block(32, ROPE_ROWS);
  if (style == LC_ROPE_INTERLEAVED)
    rope_kernel<true><<<(unsigned)blocks, block, 0, stream>>>(x, rows_heads, n_heads, head_dim, pos,
                                                              cos_tab, sin_tab);
  else
    rope_kernel<false><<<(unsigned)blocks, block, 0, stream>>>(x, rows_heads, n_heads, head_dim,
                                                               pos, cos_tab, sin_tab);
  return lc_launch_status("rope_kernel", err, err_len);
}

extern "C" lc_status lc_kernels_rope(float *x, int64_t m, int64_t n_heads, int64_t head_dim,
                                     const int32_t *pos, const float *cos_tab, const float *sin_tab,
                                     lc_rope_style style, void *stream, char *err, size_t err_len) {
  if (m < 0 || n_heads < 1 || head_dim < 2 || head_dim % 2 != 0 ||
      (style != LC_ROPE_INTERLEAVED && style != LC_ROPE_HALF) ||
      (m > 0 && (!x || !pos || !cos_tab || !sin_tab))) {
    if (err && err_len)
      snprintf(err, err_len,
               "lc_kernels_rope: bad arguments (m = %lld, n_heads = %lld, head_dim = %lld, "
               "style = %d)",
               (long long)m, (long long)n_heads, (long long)head_dim, (int)style);
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (m == 0) return LC_OK;
  return rope_launch(x, m, n_heads, head_dim, pos, cos_tab, sin_tab, style, (cudaStream_t)stream,
                     err, err_len);
}
