/*
 * kernels/rmsnorm.cu — RMSNorm over the rows of x on the GPU, strict.
 *
 * Shapes and dtypes: x, y [m][n] fp32, device (y may equal x); w [n] bf16,
 * device; eps fp32, finite and >= 0 (lib/ checks).  bf16 becomes fp32 in a
 * register (lc_bf16_to_f32, a 16-bit shift) where each weight element is
 * multiplied in; no fp32 copy of w exists anywhere.
 *
 * Order: the canonical order v1, bit for bit lc_cpu_rmsnorm_strict.  ONE warp
 * owns a row's reduction: lane l takes x[l], x[l+32], ... in ascending order,
 * acc = fma(x, x, acc) from +0; then acc = acc + shfl_xor(acc, o) for
 * o = 16, 8, 4, 2, 1 and lane 0's value is ss; mean = ss / (float)n,
 * r = 1 / sqrt(mean + eps) (IEEE division and square root), and
 * y[i] = canon((x[i] * r) * w[i]).  A row's bits depend on its own data and n
 * alone, never on m, the row's position, the launch shape or the GPU.
 *
 * Two launch shapes with the same arithmetic; which one runs depends on m
 * and n only and changes no bit (tests/test_cuda_ops.c compares a row alone
 * with the same row inside batches that take the other shape):
 *   warp path   RMS_WARP_ROWS rows per block, one warp per row; each lane
 *               keeps RMS_UNROLL loads in flight ahead of its fma chain, then
 *               re-reads its elements (L1/L2) to write y.
 *   block path  few rows of moderate length (m <= RMS_BLOCK_MAX_M,
 *               RMS_BLOCK_MIN_N <= n <= RMS_BLOCK_MAX_N: decode): one block
 *               per row; all RMS_BLOCK_THREADS threads stage the row in shared
 *               memory with 16-byte loads, warp 0 runs the chain from shared
 *               memory, all threads write y from shared memory.  One memory
 *               latency per row instead of n/(32*RMS_UNROLL).
 * In place is safe in both: a row is read completely (the chain) before any
 * of it is written, and each element is then re-read by the thread that
 * writes it.
 *
 * Benchmark: bench/bench_ops (its rmsnorm rows; bench/run.sh
 * builds and runs it on the GPU machine).  tests/test_cuda_ops.c also prints
 * a rough time per call for a few decode and prefill shapes.
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_canon.h"
#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"

#define RMS_WARP_ROWS 4       /* warp path: rows (= warps) per block */
#define RMS_UNROLL 8          /* warp path: loads in flight per lane */
#define RMS_BLOCK_THREADS 256 /* block path: threads per block (one row) */
#define RMS_BLOCK_MAX_M 1023  /* block path only for m up to this */
#define RMS_BLOCK_MIN_N 1025  /* ... and n in this range: */
#define RMS_BLOCK_MAX_N                                   \
  12224 /* n floats of dynamic shared memory + the static \
           scalars stay under the 48 KiB default */

/* ---- the canonical pieces ------------------------------------------------*/

/* The 32-lane sum of squares (lane chains of fma(x, x, acc), then the
 * butterfly) and the lane walk: lc_warp_canon_reduce with lc_step_sumsq and
 * lc_lane_walk (kernels/lc_cuda_common.cuh). */

/* r = 1 / sqrt(ss / n + eps), each step one IEEE operation. */
__device__ __forceinline__ float rms_scale(float ss, int64_t n, float eps) {
  const float mean = LC_DIV(ss, (float)n);
  return LC_DIV(1.0f, LC_SQRT(mean + eps));
}

__device__ __forceinline__ float rms_out(float x, float r, uint16_t w) {
  return lc_canon_nan((x * r) * lc_bf16_to_f32(w));
}

/* ---- warp path -------------------------------------------------------------*/

/* x and w of one element, loaded together ahead of the writes. */
struct xw {
  float x;
  uint16_t w;
};

template <int ROWS, int UNROLL>
__global__ void __launch_bounds__(ROWS * 32)
    rmsnorm_warp_kernel(const float *x, int64_t m, int64_t n, const uint16_t *__restrict__ w,
                        float eps, float *y) {
  griddep_launch_dependents(); /* a PDL-launched matmul after this may start */
  const int lane = threadIdx.x & 31;
  for (int64_t row = (int64_t)blockIdx.x * ROWS + (threadIdx.x >> 5); row < m;
       row += (int64_t)gridDim.x * ROWS) {
    const float *xr = x + row * n;
    float *yr = y + row * n;
    const auto load_x = [&](int64_t i) { return xr[i]; };
    const auto load_xw = [&](int64_t i) { return xw{xr[i], w[i]}; };
    const float ss = lc_warp_canon_reduce<UNROLL>(n, lane, load_x, lc_step_sumsq{});
    const float r = rms_scale(ss, n, eps);
    lc_lane_walk<UNROLL, xw>(n, lane, load_xw,
                             [&](int64_t i, xw v) { yr[i] = rms_out(v.x, r, v.w); });
  }
}

/* ---- block path ------------------------------------------------------------*/

#define STAGE_BATCH 4 /* float4 loads in flight per thread while staging */

/* All THREADS threads copy row xr[0..n) into s (lc_row_map: 16-byte loads
 * when xr is 16-byte aligned, s always is); the loads of a batch are issued
 * before its stores.  A copy: no arithmetic. */
template <int THREADS>
__device__ __forceinline__ void stage_row(const float *xr, int64_t n, float *s) {
  lc_row_map<STAGE_BATCH>(xr, s, n, threadIdx.x, THREADS, [](float v) { return v; });
}

/* y = canon((x * r) * w) for the staged row, all threads; 16-byte stores
 * when yr is 16-byte aligned and w 8-byte aligned. */
template <int THREADS>
__device__ __forceinline__ void write_row(const float *s, float r, const uint16_t *__restrict__ w,
                                          float *yr, int64_t n) {
  const int t = threadIdx.x;
  if (lc_aligned16(yr) && lc_aligned8(w)) {
    const int64_t n4 = n >> 2;
    const float4 *s4 = reinterpret_cast<const float4 *>(s);
    const uint2 *w4 = reinterpret_cast<const uint2 *>(w);
    float4 *y4 = reinterpret_cast<float4 *>(yr);
    for (int64_t c = t; c < n4; c += THREADS) {
      const float4 v = s4[c];
      const uint2 ww = w4[c]; /* 4 bf16, little-endian: element 0 in the low half */
      float4 o;
      o.x = rms_out(v.x, r, (uint16_t)(ww.x & 0xFFFFu));
      o.y = rms_out(v.y, r, (uint16_t)(ww.x >> 16));
      o.z = rms_out(v.z, r, (uint16_t)(ww.y & 0xFFFFu));
      o.w = rms_out(v.w, r, (uint16_t)(ww.y >> 16));
      y4[c] = o;
    }
    for (int64_t i = 4 * n4 + t; i < n; i += THREADS) yr[i] = rms_out(s[i], r, w[i]);
  } else {
    for (int64_t i = t; i < n; i += THREADS) yr[i] = rms_out(s[i], r, w[i]);
  }
}

/* Warp 0: the canonical reduction of the staged row, lane by lane, from
 * shared memory; lane 0 stores r = 1 / sqrt(ss / n + eps). */
__device__ __forceinline__ void staged_scale(const float *s, int64_t n, float eps, int lane,
                                             int warp, float *scale) {
  if (warp != 0) return;
  const auto load_s = [&](int64_t i) { return s[i]; };
  const float ss = lc_warp_canon_reduce<8>(n, lane, load_s, lc_step_sumsq{});
  if (lane == 0) *scale = rms_scale(ss, n, eps);
}

template <int THREADS>
__global__ void __launch_bounds__(THREADS)
    rmsnorm_block_kernel(const float *x, int64_t m, int64_t n, const uint16_t *__restrict__ w,
                         float eps, float *y) {
  griddep_launch_dependents();          /* a PDL-launched matmul after this may start */
  extern __shared__ float4 rms_smem4[]; /* the row, n floats rounded up to 4 */
  __shared__ float s_scale;
  float *s = reinterpret_cast<float *>(rms_smem4);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t row = blockIdx.x; row < m; row += gridDim.x) {
    const float *xr = x + row * n;
    float *yr = y + row * n;
    stage_row<THREADS>(xr, n, s);
    __syncthreads();
    staged_scale(s, n, eps, lane, warp, &s_scale);
    __syncthreads();
    write_row<THREADS>(s, s_scale, w, yr, n);
    __syncthreads(); /* s and s_scale are reused by the next row */
  }
}

/* ---- the residual add fused in (decode) --------------------------------------*/

/* One block per row, as the block path: x = canon(x + d) (rounded to a bf16
 * value when ROUND) is staged in shared memory and written back to x, then
 * the chain and the output exactly as rmsnorm_block_kernel's (rounded when
 * ROUND).  Each element of x and d is read by the thread that then writes x;
 * y (which may be d) is written after the whole row of d has been read. */
template <bool ROUND>
__device__ __forceinline__ float add_one(float a, float b) {
  const float v = lc_canon_nan(a + b);
  return ROUND ? lc_bf16_to_f32(lc_f32_to_bf16(v)) : v;
}

template <int THREADS, bool ROUND>
__global__ void __launch_bounds__(THREADS)
    add_rmsnorm_block_kernel(float *x, const float *d, int64_t m, int64_t n,
                             const uint16_t *__restrict__ w, float eps, float *y) {
  griddep_launch_dependents(); /* a PDL-launched matmul after this may start */
  extern __shared__ float4 rms_smem4[];
  __shared__ float s_scale;
  float *s = reinterpret_cast<float *>(rms_smem4);
  const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
  for (int64_t row = blockIdx.x; row < m; row += gridDim.x) {
    float *xr = x + row * n;
    const float *dr = d + row * n;
    float *yr = y + row * n;
    if (lc_aligned16(xr) && lc_aligned16(dr)) {
      const int64_t n4 = n >> 2;
      float4 *x4 = reinterpret_cast<float4 *>(xr);
      const float4 *d4 = reinterpret_cast<const float4 *>(dr);
      float4 *s4 = reinterpret_cast<float4 *>(s);
      for (int64_t c = t; c < n4; c += THREADS) {
        const float4 a = x4[c], b = d4[c];
        const float4 v = make_float4(add_one<ROUND>(a.x, b.x), add_one<ROUND>(a.y, b.y),
                                     add_one<ROUND>(a.z, b.z), add_one<ROUND>(a.w, b.w));
        s4[c] = v;
        x4[c] = v;
      }
      for (int64_t i = 4 * n4 + t; i < n; i += THREADS) s[i] = xr[i] = add_one<ROUND>(xr[i], dr[i]);
    } else {
      for (int64_t i = t; i < n; i += THREADS) s[i] = xr[i] = add_one<ROUND>(xr[i], dr[i]);
    }
    __syncthreads();
    staged_scale(s, n, eps, lane, warp, &s_scale);
    __syncthreads();
    if (ROUND) {
      for (int64_t i = t; i < n; i += THREADS)
        yr[i] = lc_bf16_to_f32(lc_f32_to_bf16(rms_out(s[i], s_scale, w[i])));
    } else {
      write_row<THREADS>(s, s_scale, w, yr, n);
    }
    __syncthreads();
  }
}

/* ---- launcher and entry ----------------------------------------------------*/

static int rmsnorm_uses_block_path(int64_t m, int64_t n) {
  return m <= RMS_BLOCK_MAX_M && n >= RMS_BLOCK_MIN_N && n <= RMS_BLOCK_MAX_N;
}

static lc_status rmsnorm_launch(const float *x, int64_t m, int64_t n, const uint16_t *w, float eps,
                                float *y, cudaStream_t stream, char *err, size_t err_len) {
  if (rmsnorm_uses_block_path(m, n)) {
    const size_t smem = (size_t)((n + 3) / 4) * sizeof(float4);
    rmsnorm_block_kernel<RMS_BLOCK_THREADS>
        <<<(unsigned)m, RMS_BLOCK_THREADS, smem, stream>>>(x, m, n, w, eps, y);
    return lc_launch_status("rmsnorm_block_kernel", err, err_len);
  }
  int64_t blocks = (m + RMS_WARP_ROWS - 1) / RMS_WARP_ROWS;
  if (blocks > (1 << 20)) blocks = 1 << 20; /* the kernel loops over the rest */
  rmsnorm_warp_kernel<RMS_WARP_ROWS, RMS_UNROLL>
      <<<(unsigned)blocks, RMS_WARP_ROWS * 32, 0, stream>>>(x, m, n, w, eps, y);
  return lc_launch_status("rmsnorm_warp_kernel", err, err_len);
}

extern "C" lc_status lc_kernels_rmsnorm(const float *x, int64_t m, int64_t n, const uint16_t *w,
                                        float eps, float *y, void *stream, char *err,
                                        size_t err_len) {
  if (m < 0 || n < 1 || (m > 0 && (!x || !w || !y))) {
    if (err && err_len)
      snprintf(err, err_len, "lc_kernels_rmsnorm: bad arguments (m = %lld, n = %lld)", (long long)m,
               (long long)n);
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (m == 0) return LC_OK;
  return rmsnorm_launch(x, m, n, w, eps, y, (cudaStream_t)stream, err, err_len);
}

extern "C" lc_status lc_kernels_add_rmsnorm(float *x, const float *d, int64_t m, int64_t n,
                                            const uint16_t *w, float eps, int round_bf16, float *y,
                                            void *stream, char *err, size_t err_len) {
  if (m < 0 || n < 1 || (m > 0 && (!x || !d || !w || !y || x == y))) {
    if (err && err_len)
      snprintf(err, err_len, "lc_kernels_add_rmsnorm: bad arguments (m = %lld, n = %lld)",
               (long long)m, (long long)n);
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (m == 0) return LC_OK;
  cudaStream_t st = (cudaStream_t)stream;
  if (!rmsnorm_uses_block_path(m, n)) { /* the two ops one after the other: the same bits */
    lc_status r = lc_kernels_add(x, d, m * n, x, stream, err, err_len);
    if (r == LC_OK && round_bf16) r = lc_kernels_round_bf16(x, m * n, stream, err, err_len);
    if (r == LC_OK) r = rmsnorm_launch(x, m, n, w, eps, y, st, err, err_len);
    if (r == LC_OK && round_bf16) r = lc_kernels_round_bf16(y, m * n, stream, err, err_len);
    return r;
  }
  const size_t smem = (size_t)((n + 3) / 4) * sizeof(float4);
  if (round_bf16)
    add_rmsnorm_block_kernel<RMS_BLOCK_THREADS, true>
        <<<(unsigned)m, RMS_BLOCK_THREADS, smem, st>>>(x, d, m, n, w, eps, y);
  else
    add_rmsnorm_block_kernel<RMS_BLOCK_THREADS, false>
        <<<(unsigned)m, RMS_BLOCK_THREADS, smem, st>>>(x, d, m, n, w, eps, y);
  return lc_launch_status("add_rmsnorm_block_kernel", err, err_len);
}
