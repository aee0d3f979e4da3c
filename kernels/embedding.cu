/*
 * kernels/embedding.cu — token embedding lookup on the GPU.
 *
 * Shapes and dtypes: table [vocab][dim] bf16, device; ids [m] int32, device,
 * each in 0 .. vocab-1 (lib/ checks on the host before copying); out
 * [m][dim] fp32, device.  out[r][j] = widen(table[ids[r]][j]): bf16 becomes
 * fp32 here, in a register, by a 16-bit shift — exact for every bit pattern,
 * NaN payloads included, so no canonicalisation and bit for bit
 * lc_cpu_embedding.  Each row depends only on its own id.
 *
 * Launch: grid.y walks the rows (grid-stride past 65535), grid.x the chunks
 * of a row, one chunk per thread: 8 elements (a 16-byte load, two 16-byte
 * stores) when dim % 8 == 0 and both base pointers are 16-byte aligned (then
 * every row start is), else one element.
 *
 * Benchmark: bench/bench_ops (its embedding rows; bench/run.sh builds and runs
 * it on the GPU machine).
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_cast.h"
#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"

#define EMB_THREADS 256
#define EMB_MAX_GRID_Y 65535

/* The two bf16 of a 32-bit word (little-endian: element 0 in the low half). */
__device__ __forceinline__ float emb_lo(uint32_t u) {
  return lc_f32_from_bits(u << 16);
}
__device__ __forceinline__ float emb_hi(uint32_t u) {
  return lc_f32_from_bits(u & 0xFFFF0000u);
}

template <bool VEC>
__global__ void __launch_bounds__(EMB_THREADS)
    embedding_kernel(const uint16_t *__restrict__ table, int64_t dim,
                     const int32_t *__restrict__ ids, int64_t m, float *__restrict__ out) {
  const int64_t chunks = VEC ? dim / 8 : dim;
  const int64_t c = (int64_t)blockIdx.x * EMB_THREADS + threadIdx.x;
  if (c >= chunks) return;
  for (int64_t r = blockIdx.y; r < m; r += gridDim.y) {
    const uint16_t *src = table + (int64_t)ids[r] * dim;
    float *dst = out + r * dim;
    if (VEC) {
      const uint4 h = reinterpret_cast<const uint4 *>(src)[c];
      float4 *d4 = reinterpret_cast<float4 *>(dst) + 2 * c;
      d4[0] = make_float4(emb_lo(h.x), emb_hi(h.x), emb_lo(h.y), emb_hi(h.y));
      d4[1] = make_float4(emb_lo(h.z), emb_hi(h.z), emb_lo(h.w), emb_hi(h.w));
    } else {
      dst[c] = lc_bf16_to_f32(src[c]);
    }
  }
}

/* ---- launcher and entry ----------------------------------------------------*/

static lc_status embedding_launch(const uint16_t *table, int64_t dim, const int32_t *ids, int64_t m,
                                  float *out, cudaStream_t stream, char *err, size_t err_len) {
  const bool vec = dim % 8 == 0 && lc_aligned16(table) && lc_aligned16(out);
  const int64_t chunks = vec ? dim / 8 : dim;
  const dim3 grid((unsigned)((chunks + EMB_THREADS - 1) / EMB_THREADS),
                  (unsigned)(m < EMB_MAX_GRID_Y ? m : EMB_MAX_GRID_Y));
  if (vec)
    embedding_kernel<true><<<grid, EMB_THREADS, 0, stream>>>(table, dim, ids, m, out);
  else
    embedding_kernel<false><<<grid, EMB_THREADS, 0, stream>>>(table, dim, ids, m, out);
  return lc_launch_status("embedding_kernel", err, err_len);
}

extern "C" lc_status lc_kernels_embedding(const uint16_t *table, int64_t dim, const int32_t *ids,
                                          int64_t m, float *out, void *stream, char *err,
                                          size_t err_len) {
  if (m < 0 || dim < 1 || dim > 0x7fffffff || (m > 0 && (!table || !ids || !out))) {
    if (err && err_len)
      snprintf(err, err_len, "lc_kernels_embedding: bad arguments (dim = %lld, m = %lld)",
               (long long)dim, (long long)m);
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (m == 0) return LC_OK;
  return embedding_launch(table, dim, ids, m, out, (cudaStream_t)stream, err, err_len);
}
