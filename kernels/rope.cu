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

/* One pair (a, b) rotated by (c, s), each result through canon: the formula
 * of docs/numerics.md 2.6, shared by both kernels of this file. */
__device__ __forceinline__ void rope_pair(float a, float b, float c, float s, float *a2,
                                          float *b2) {
  *a2 = lc_canon_nan(LC_FMA(a, c, -(b * s)));
  *b2 = lc_canon_nan(LC_FMA(a, s, b * c));
}

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
      float a2, b2;
      rope_pair(a, b, c, s, &a2, &b2);
      xh[ia] = a2;
      xh[ib] = b2;
    }
  }
}

/* ---- rope of q and k with the K/V cache write (decode) ------------------------*/

/* One (row, head) per threadIdx.y as rope_kernel: the first m*n_heads units
 * are q's heads, rotated in place; the next m*n_kv_heads are k's heads,
 * rotated and written to position pos[r] of slot slot[r] of the K cache
 * (k itself is left as it was: nothing reads it after the write), each
 * beside the copy of v's same head into the V cache.  The arithmetic of a
 * pair is rope_kernel's; ROUND rounds each rotated value to a bf16 value
 * (the vendor-bf16 activations); a bf16 cache stores lc_f32_to_bf16 of the
 * value, an fp32 cache its bits: kv_write_kernel's stores. */
template <bool INTERLEAVED, bool ROUND, typename KT>
__global__ void __launch_bounds__(32 * ROPE_ROWS)
    rope_kv_write_kernel(float *q, const float *k, const float *v, int64_t m, int64_t n_heads,
                         int64_t n_kv_heads, int64_t head_dim, const int32_t *__restrict__ slot,
                         const int32_t *__restrict__ pos, const float *__restrict__ cos_tab,
                         const float *__restrict__ sin_tab, KT *__restrict__ kc,
                         KT *__restrict__ vc, int64_t max_len) {
  const int64_t half = head_dim / 2, qunits = m * n_heads, units = qunits + m * n_kv_heads;
  const int64_t kvd = n_kv_heads * head_dim;
  const auto store = [](KT *dst, float val) {
    if constexpr (sizeof(KT) == 2)
      *dst = lc_f32_to_bf16(val);
    else
      *dst = __float_as_uint(val);
  };
  for (int64_t u = (int64_t)blockIdx.x * ROPE_ROWS + threadIdx.y; u < units;
       u += (int64_t)gridDim.x * ROPE_ROWS) {
    const int is_q = u < qunits;
    const int64_t r = is_q ? u / n_heads : (u - qunits) / n_kv_heads;
    const int64_t h = is_q ? u - r * n_heads : (u - qunits) - r * n_kv_heads;
    const int64_t p = pos[r];
    const float *cr = cos_tab + p * half;
    const float *sr = sin_tab + p * half;
    const float *src = is_q ? q + (r * n_heads + h) * head_dim : k + r * kvd + h * head_dim;
    const int64_t at = ((int64_t)slot[r] * max_len + p) * kvd + h * head_dim;
    for (int64_t i = threadIdx.x; i < half; i += 32) {
      const int64_t ia = INTERLEAVED ? 2 * i : i;
      const int64_t ib = INTERLEAVED ? 2 * i + 1 : i + half;
      const float a = src[ia], b = src[ib], c = cr[i], s = sr[i];
      float a2, b2;
      rope_pair(a, b, c, s, &a2, &b2);
      if (ROUND) {
        a2 = lc_bf16_to_f32(lc_f32_to_bf16(a2));
        b2 = lc_bf16_to_f32(lc_f32_to_bf16(b2));
      }
      if (is_q) {
        float *dst = q + (r * n_heads + h) * head_dim;
        dst[ia] = a2;
        dst[ib] = b2;
      } else {
        store(kc + at + ia, a2);
        store(kc + at + ib, b2);
      }
    }
    if (!is_q) {
      const float *vr = v + r * kvd + h * head_dim;
      for (int64_t i = threadIdx.x; i < head_dim; i += 32) store(vc + at + i, vr[i]);
    }
  }
}

template <bool INTERLEAVED, bool ROUND>
static void rope_kv_write_go(unsigned blocks, cudaStream_t stream, int bf16_cache, float *q,
                             const float *k, const float *v, int64_t m, int64_t n_heads,
                             int64_t n_kv_heads, int64_t head_dim, const int32_t *slot,
                             const int32_t *pos, const float *cos_tab, const float *sin_tab,
                             void *kc, void *vc, int64_t max_len) {
  const dim3 block(32, ROPE_ROWS);
  if (bf16_cache)
    rope_kv_write_kernel<INTERLEAVED, ROUND, uint16_t>
        <<<blocks, block, 0, stream>>>(q, k, v, m, n_heads, n_kv_heads, head_dim, slot, pos,
                                       cos_tab, sin_tab, (uint16_t *)kc, (uint16_t *)vc, max_len);
  else
    rope_kv_write_kernel<INTERLEAVED, ROUND, uint32_t>
        <<<blocks, block, 0, stream>>>(q, k, v, m, n_heads, n_kv_heads, head_dim, slot, pos,
                                       cos_tab, sin_tab, (uint32_t *)kc, (uint32_t *)vc, max_len);
}

extern "C" lc_status lc_kernels_rope_kv_write(const lc_attn_shape *shape, int64_t m,
                                              const int32_t *slot, const int32_t *pos, float *q,
                                              const float *k, const float *v, const float *cos_tab,
                                              const float *sin_tab, lc_rope_style style,
                                              int round_bf16, void *k_cache, void *v_cache,
                                              void *stream, char *err, size_t err_len) {
  if (!shape || m < 0 || shape->n_heads < 1 || shape->n_kv_heads < 1 || shape->head_dim < 2 ||
      shape->head_dim % 2 != 0 || shape->max_len < 1 ||
      (shape->kv_dtype != LC_DTYPE_F32 && shape->kv_dtype != LC_DTYPE_BF16) ||
      (style != LC_ROPE_INTERLEAVED && style != LC_ROPE_HALF) ||
      (m > 0 &&
       (!slot || !pos || !q || !k || !v || !cos_tab || !sin_tab || !k_cache || !v_cache))) {
    if (err && err_len) snprintf(err, err_len, "lc_kernels_rope_kv_write: bad arguments");
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (m == 0) return LC_OK;
  const int64_t units = m * ((int64_t)shape->n_heads + shape->n_kv_heads);
  int64_t blocks = (units + ROPE_ROWS - 1) / ROPE_ROWS;
  if (blocks > ROPE_MAX_BLOCKS) blocks = ROPE_MAX_BLOCKS;
  const int bf16 = shape->kv_dtype == LC_DTYPE_BF16, il = style == LC_ROPE_INTERLEAVED;
  cudaStream_t st = (cudaStream_t)stream;
#define GO(I, R)                                                                                   \
  rope_kv_write_go<I, R>((unsigned)blocks, st, bf16, q, k, v, m, shape->n_heads,                   \
                         shape->n_kv_heads, shape->head_dim, slot, pos, cos_tab, sin_tab, k_cache, \
                         v_cache, shape->max_len)
  if (il && round_bf16)
    GO(true, true);
  else if (il)
    GO(true, false);
  else if (round_bf16)
    GO(false, true);
  else
    GO(false, false);
#undef GO
  return lc_launch_status("rope_kv_write_kernel", err, err_len);
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
