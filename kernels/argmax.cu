/*
 * kernels/argmax.cu — the index of the maximum of each row, on the GPU.
 *
 * Shapes and dtypes: x [m][n] fp32, device; idx [m] int32, device;
 * 1 <= n <= 2^31-1 (lib/ checks).  No bf16, no arithmetic.
 *
 * Result: bit for bit lc_cpu_argmax, for any order of evaluation, because
 * the candidates (value, index) are compared in an explicit total order:
 * a NaN beats every number (any sign or payload), between two NaNs or two
 * equal numbers (-0 == +0 included) the lower index wins, otherwise the
 * larger value wins.  The winner is then the first NaN if the row has one,
 * else the first index of the maximum — exactly the CPU's sequential rule —
 * so the reduction below may visit elements in any order and tree shape.
 * Each row reads only its own elements: batch-invariant trivially.
 *
 * Two launch shapes (m and n pick one; the result cannot differ):
 *   warp path   AM_WARP_ROWS rows per block, one warp per row;
 *   block path  (m <= AM_BLOCK_MAX_M, n >= AM_BLOCK_MIN_N: greedy decode over
 *               a vocabulary) one block of AM_BLOCK_THREADS per row;
 *   cluster path (m <= AM_CLUSTER_MAX_M, same n) a cluster of AM_CLUSTER
 *               such blocks per row (one row read by 8 SMs: a decode
 *               step's greedy choice).
 * Both read 16-byte vectors when the row is 16-byte aligned (AM_WARP_UNROLL,
 * AM_BLOCK_UNROLL of them in flight per thread), then reduce (value, index)
 * pairs by shuffles (and shared memory across the warps of a block).
 *
 * Benchmark: bench/bench_ops (its argmax rows; bench/run.sh
 * builds and runs it on the GPU machine).  tests/test_cuda_ops.c also prints
 * a rough time per call for a few decode and prefill shapes.
 */
#include <cooperative_groups.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_canon.h"
#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"

namespace cg = cooperative_groups;

#define AM_WARP_ROWS 4
#define AM_WARP_UNROLL 4  /* float4 loads in flight per lane, warp path */
#define AM_BLOCK_UNROLL 8 /* ... per thread, block path */
#define AM_BLOCK_THREADS 512
#define AM_BLOCK_MAX_M 1023
#define AM_BLOCK_MIN_N 1025
#define AM_NO_INDEX 0x7fffffff /* above every index of a row (n <= 2^31-1) */

/* Whether candidate (av, ai) comes before (bv, bi) in the total order of the
 * contract.  The empty candidate (-Inf, AM_NO_INDEX) loses to every element. */
__device__ __forceinline__ bool am_better(float av, int ai, float bv, int bi) {
  const bool an = lc_f32_isnan(av), bn = lc_f32_isnan(bv);
  if (an != bn) return an;
  if (!an && av != bv) return av > bv;
  return ai < bi;
}

__device__ __forceinline__ void am_take(float &bv, int &bi, float v, int i) {
  if (am_better(v, i, bv, bi)) {
    bv = v;
    bi = i;
  }
}

/* Thread t of T folds its share of row xr[0..n) into (bv, bi): lc_row_visit
 * (float4 chunks t, t+T, ... when xr is 16-byte aligned, then the scalar
 * tail, else elements t, t+T, ...; U loads in flight). */
template <int U>
__device__ __forceinline__ void am_partial(const float *xr, int64_t n, int t, int T, float &bv,
                                           int &bi) {
  lc_row_visit<U>(xr, n, t, T, [&](float v, int64_t i) { am_take(bv, bi, v, (int)i); });
}

/* The warp's best candidate, on every lane. */
__device__ __forceinline__ void am_warp_reduce(float &bv, int &bi) {
#pragma unroll
  for (int o = 16; o >= 1; o >>= 1) {
    const float ov = __shfl_xor_sync(LC_WARP_FULL_MASK, bv, o);
    const int oi = __shfl_xor_sync(LC_WARP_FULL_MASK, bi, o);
    am_take(bv, bi, ov, oi);
  }
}

template <int ROWS>
__global__ void __launch_bounds__(ROWS * 32)
    argmax_warp_kernel(const float *__restrict__ x, int64_t m, int64_t n,
                       int32_t *__restrict__ idx) {
  const int lane = threadIdx.x & 31;
  for (int64_t row = (int64_t)blockIdx.x * ROWS + (threadIdx.x >> 5); row < m;
       row += (int64_t)gridDim.x * ROWS) {
    float bv = -INFINITY;
    int bi = AM_NO_INDEX;
    am_partial<AM_WARP_UNROLL>(x + row * n, n, lane, 32, bv, bi);
    am_warp_reduce(bv, bi);
    if (lane == 0) idx[row] = bi;
  }
}

/* The block's best candidate into (s_v[0], s_i[0]) (every thread passes its
 * own; s_v, s_i hold WARPS entries); ends with a barrier. */
template <int THREADS>
__device__ __forceinline__ void am_block_reduce(float bv, int bi, float *s_v, int *s_i) {
  constexpr int WARPS = THREADS / 32;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  am_warp_reduce(bv, bi);
  if (lane == 0) {
    s_v[warp] = bv;
    s_i[warp] = bi;
  }
  __syncthreads();
  if (warp == 0) {
    bv = lane < WARPS ? s_v[lane] : -INFINITY;
    bi = lane < WARPS ? s_i[lane] : AM_NO_INDEX;
    am_warp_reduce(bv, bi);
    __syncwarp();
    if (lane == 0) {
      s_v[0] = bv;
      s_i[0] = bi;
    }
  }
  __syncthreads();
}

template <int THREADS>
__global__ void __launch_bounds__(THREADS)
    argmax_block_kernel(const float *__restrict__ x, int64_t m, int64_t n,
                        int32_t *__restrict__ idx) {
  constexpr int WARPS = THREADS / 32;
  __shared__ float s_v[WARPS];
  __shared__ int s_i[WARPS];
  const int t = threadIdx.x;
  for (int64_t row = blockIdx.x; row < m; row += gridDim.x) {
    float bv = -INFINITY;
    int bi = AM_NO_INDEX;
    am_partial<AM_BLOCK_UNROLL>(x + row * n, n, t, THREADS, bv, bi);
    am_block_reduce<THREADS>(bv, bi, s_v, s_i);
    if (t == 0) idx[row] = s_i[0];
    __syncthreads(); /* s_v, s_i are reused by the next row */
  }
}

static_assert(AM_BLOCK_THREADS % 32 == 0 && AM_BLOCK_THREADS / 32 <= 32, "one warp merges warps");

/* Cluster path (m <= AM_CLUSTER_MAX_M, n >= AM_BLOCK_MIN_N: greedy decode of
 * a few rows): one cluster of AM_CLUSTER blocks per row, so one row is read
 * by AM_CLUSTER SMs; thread t of block r visits the row as thread
 * r * THREADS + t of AM_CLUSTER * THREADS, each block reduces its share, and
 * block 0 reduces the blocks' candidates through distributed shared memory
 * after the cluster's barrier (order-free, as everywhere here). */
#define AM_CLUSTER 8
#define AM_CLUSTER_MAX_M 32
template <int THREADS>
__global__ void __cluster_dims__(AM_CLUSTER, 1, 1) __launch_bounds__(THREADS)
    argmax_cluster_kernel(const float *__restrict__ x, int64_t m, int64_t n,
                          int32_t *__restrict__ idx) {
  constexpr int WARPS = THREADS / 32;
  __shared__ float s_v[WARPS];
  __shared__ int s_i[WARPS];
  cg::cluster_group cluster = cg::this_cluster();
  const int rank = (int)cluster.block_rank();
  const int64_t row = blockIdx.x / AM_CLUSTER; /* grid: m clusters, so row < m */
  float bv = -INFINITY;
  int bi = AM_NO_INDEX;
  am_partial<AM_BLOCK_UNROLL>(x + row * n, n, rank * THREADS + (int)threadIdx.x,
                              AM_CLUSTER * THREADS, bv, bi);
  am_block_reduce<THREADS>(bv, bi, s_v, s_i);
  cluster.sync(); /* every block's (s_v[0], s_i[0]) is written */
  if (rank == 0 && threadIdx.x < 32) {
    const int lane = threadIdx.x;
    bv = -INFINITY;
    bi = AM_NO_INDEX;
    if (lane < AM_CLUSTER) {
      bv = *cluster.map_shared_rank(&s_v[0], lane);
      bi = *cluster.map_shared_rank(&s_i[0], lane);
    }
    am_warp_reduce(bv, bi);
    if (lane == 0) idx[row] = bi;
  }
  cluster.sync(); /* block 0 has read the others' shared memory */
}

/* ---- launcher and entry ----------------------------------------------------*/

static lc_status argmax_launch(const float *x, int64_t m, int64_t n, int32_t *idx,
                               cudaStream_t stream, char *err, size_t err_len) {
  if (m <= AM_CLUSTER_MAX_M && n >= AM_BLOCK_MIN_N) {
    argmax_cluster_kernel<AM_BLOCK_THREADS>
        <<<(unsigned)(m * AM_CLUSTER), AM_BLOCK_THREADS, 0, stream>>>(x, m, n, idx);
    return lc_launch_status("argmax_cluster_kernel", err, err_len);
  }
  if (m <= AM_BLOCK_MAX_M && n >= AM_BLOCK_MIN_N) {
    argmax_block_kernel<AM_BLOCK_THREADS>
        <<<(unsigned)m, AM_BLOCK_THREADS, 0, stream>>>(x, m, n, idx);
    return lc_launch_status("argmax_block_kernel", err, err_len);
  }
  int64_t blocks = (m + AM_WARP_ROWS - 1) / AM_WARP_ROWS;
  if (blocks > (1 << 20)) blocks = 1 << 20; /* the kernel loops over the rest */
  argmax_warp_kernel<AM_WARP_ROWS>
      <<<(unsigned)blocks, AM_WARP_ROWS * 32, 0, stream>>>(x, m, n, idx);
  return lc_launch_status("argmax_warp_kernel", err, err_len);
}

extern "C" lc_status lc_kernels_argmax(const float *x, int64_t m, int64_t n, int32_t *idx,
                                       void *stream, char *err, size_t err_len) {
  if (m < 0 || n < 1 || n > 0x7fffffff || (m > 0 && (!x || !idx))) {
    if (err && err_len)
      snprintf(err, err_len, "lc_kernels_argmax: bad arguments (m = %lld, n = %lld)", (long long)m,
               (long long)n);
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (m == 0) return LC_OK;
  return argmax_launch(x, m, n, idx, (cudaStream_t)stream, err, err_len);
}
