/*
 * kernels/convert.cu — conversions and the bias add used by the vendor
 * baselines (lib/vendor.c: cuBLASLt in bf16, or upcast + SGEMM).
 *
 * Shapes and dtypes, all device memory:
 *   lc_kernels_f32_to_bf16  src [n] fp32 -> dst [n] bf16, lc_f32_to_bf16
 *                           (round to nearest even, NaN kept quiet, overflow
 *                           to +-Inf): the rounding of cast/lc_cast.h, so the
 *                           bits are those lc_weights_create makes on the host;
 *   lc_kernels_bf16_to_f32  src [n] bf16 -> dst [n] fp32, exact (a shift);
 *   lc_kernels_add_bias     y [m][n] fp32 in place, y[i][j] = y[i][j] +
 *                           widen(bias[j]), bias [n] bf16: one plain FP32
 *                           addition (the baselines are not strict, so no
 *                           NaN canonicalisation), bf16 widened in a register.
 * Elementwise: nothing depends on the launch.  No reduction here.
 *
 * Launch: grid-stride over 4-element vectors (16 bytes of fp32, 8 of bf16)
 * when source and destination agree on alignment (a scalar head and tail
 * around the aligned body: convert_split over lc_grid_stride_split, and
 * lc_ew_blocks, of kernels/lc_cuda_common.cuh), else over scalars; add_bias
 * walks rows in grid.y (grid-stride past 65535) and vectors of a row in
 * grid.x, vectors when n % 4 == 0, y is 16-byte and bias 8-byte aligned.
 *
 * Benchmark: none (not on a timed path of strict mode; the vendor baselines'
 * benchmark times it as part of their matmul).
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_cast.h"
#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"

#define CV_THREADS 256
#define CV_MAX_BLOCKS 8192
#define CV_MAX_GRID_Y 65535

/* ---- the conversions, one element and four --------------------------------*/

__device__ __forceinline__ float round_bf16(float x) {
  return lc_bf16_to_f32(lc_f32_to_bf16(x));
}
/* 4 fp32 -> 4 bf16 in a uint2, little-endian: element 0 in the low half. */
__device__ __forceinline__ uint2 pack4_bf16(const float4 f) {
  uint2 o;
  o.x = (uint32_t)lc_f32_to_bf16(f.x) | ((uint32_t)lc_f32_to_bf16(f.y) << 16);
  o.y = (uint32_t)lc_f32_to_bf16(f.z) | ((uint32_t)lc_f32_to_bf16(f.w) << 16);
  return o;
}
/* 4 bf16 in a uint2 -> 4 fp32, exact. */
__device__ __forceinline__ float4 widen4_bf16(const uint2 h) {
  return make_float4(lc_f32_from_bits(h.x << 16), lc_f32_from_bits(h.x & 0xFFFF0000u),
                     lc_f32_from_bits(h.y << 16), lc_f32_from_bits(h.y & 0xFFFF0000u));
}

/* dst[i] = one(src[i]) for [0, head) and [head + 4*nvec, n); the 4*nvec
 * elements in between as vectors of 4 (SV -> DV, src + head and dst + head
 * aligned for them): dst4[v] = vec(src4[v]) (lc_grid_stride_split).  In place
 * is safe: every element is read and then written by one thread. */
template <class SV, class DV, class S, class D, class FV, class F1>
__device__ __forceinline__ void convert_split(const S *src, D *dst, int64_t n, int64_t head,
                                              int64_t nvec, FV vec, F1 one) {
  const SV *s4 = reinterpret_cast<const SV *>(src + head);
  DV *d4 = reinterpret_cast<DV *>(dst + head);
  lc_grid_stride_split(
      n, head, nvec, [&](int64_t v) { d4[v] = vec(s4[v]); },
      [&](int64_t i) { dst[i] = one(src[i]); });
}

/* ---- kernels: fp32 -> bf16, bf16 -> fp32, x = bf16(x) in place ---------------*/

__global__ void __launch_bounds__(CV_THREADS)
    f32_to_bf16_kernel(const float *__restrict__ src, int64_t n, uint16_t *__restrict__ dst,
                       int64_t head, int64_t nvec) {
  convert_split<float4, uint2>(src, dst, n, head, nvec, pack4_bf16,
                               [](float f) { return lc_f32_to_bf16(f); });
}

__global__ void __launch_bounds__(CV_THREADS)
    bf16_to_f32_kernel(const uint16_t *__restrict__ src, int64_t n, float *__restrict__ dst,
                       int64_t head, int64_t nvec) {
  convert_split<uint2, float4>(src, dst, n, head, nvec, widen4_bf16,
                               [](uint16_t h) { return lc_bf16_to_f32(h); });
}

__global__ void __launch_bounds__(CV_THREADS)
    round_bf16_kernel(float *__restrict__ x, int64_t n, int64_t head, int64_t nvec) {
  convert_split<float4, float4>(
      x, x, n, head, nvec,
      [](float4 f) {
        return make_float4(round_bf16(f.x), round_bf16(f.y), round_bf16(f.z), round_bf16(f.w));
      },
      round_bf16);
}

/* ---- y += bias ---------------------------------------------------------------*/

template <bool VEC>
__global__ void __launch_bounds__(CV_THREADS)
    add_bias_kernel(float *__restrict__ y, int64_t m, int64_t n,
                    const uint16_t *__restrict__ bias) {
  const int64_t chunks = VEC ? n / 4 : n;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t r = blockIdx.y; r < m; r += gridDim.y) {
    float *yr = y + r * n;
    for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < chunks; c += stride) {
      if (VEC) {
        const uint2 h = reinterpret_cast<const uint2 *>(bias)[c];
        float4 v = reinterpret_cast<float4 *>(yr)[c];
        const float4 b = widen4_bf16(h);
        v.x = v.x + b.x;
        v.y = v.y + b.y;
        v.z = v.z + b.z;
        v.w = v.w + b.w;
        reinterpret_cast<float4 *>(yr)[c] = v;
      } else {
        yr[c] = yr[c] + lc_bf16_to_f32(bias[c]);
      }
    }
  }
}

/* ---- launchers and entries -------------------------------------------------*/

static lc_status bad_args(const char *fn, int64_t n, char *err, size_t err_len) {
  if (err && err_len) snprintf(err, err_len, "%s: bad arguments (n = %lld)", fn, (long long)n);
  return LC_ERR_INVALID_ARGUMENT;
}

/* Splits n elements into a scalar head, 4-element vectors and a scalar tail
 * such that f32 + head is 16-byte and bf16 + head 8-byte aligned; when the
 * two pointers cannot be aligned together, everything is head. */
static void split_f32_bf16(const float *f32, const uint16_t *bf16, int64_t n, int64_t *head,
                           int64_t *nvec) {
  const int64_t h = (int64_t)((16u - ((uintptr_t)f32 & 15u)) & 15u) / 4;
  *head = n;
  *nvec = 0;
  if (((uintptr_t)f32 & 3u) == 0 && ((uintptr_t)bf16 & 1u) == 0 &&
      (((uintptr_t)(bf16 + h)) & 7u) == 0) {
    *head = h < n ? h : n;
    *nvec = (n - *head) / 4;
  }
}

static void split_f32_bf16(const uint16_t *bf16, const float *f32, int64_t n, int64_t *head,
                           int64_t *nvec) {
  split_f32_bf16(f32, bf16, n, head, nvec);
}

/* One conversion kernel over n elements (head, vectors, tail), after
 * checking the arguments. */
template <class S, class D>
static lc_status convert_launch(void (*kernel)(const S *, int64_t, D *, int64_t, int64_t),
                                const char *fn, const char *kname, const S *src, int64_t n, D *dst,
                                void *stream, char *err, size_t err_len) {
  if (n < 0 || (n > 0 && (!src || !dst))) return bad_args(fn, n, err, err_len);
  if (n == 0) return LC_OK;
  int64_t head, nvec;
  split_f32_bf16(src, dst, n, &head, &nvec);
  const unsigned blocks = lc_ew_blocks(n, head, nvec, CV_THREADS, CV_MAX_BLOCKS);
  kernel<<<blocks, CV_THREADS, 0, (cudaStream_t)stream>>>(src, n, dst, head, nvec);
  return lc_launch_status(kname, err, err_len);
}

static lc_status add_bias_launch(float *y, int64_t m, int64_t n, const uint16_t *bias,
                                 cudaStream_t stream, char *err, size_t err_len) {
  const bool vec = n % 4 == 0 && lc_aligned16(y) && lc_aligned8(bias);
  const int64_t chunks = vec ? n / 4 : n;
  int64_t bx = (chunks + CV_THREADS - 1) / CV_THREADS;
  if (bx > CV_MAX_BLOCKS) bx = CV_MAX_BLOCKS;
  const dim3 grid((unsigned)bx, (unsigned)(m < CV_MAX_GRID_Y ? m : CV_MAX_GRID_Y));
  if (vec)
    add_bias_kernel<true><<<grid, CV_THREADS, 0, stream>>>(y, m, n, bias);
  else
    add_bias_kernel<false><<<grid, CV_THREADS, 0, stream>>>(y, m, n, bias);
  return lc_launch_status("add_bias_kernel", err, err_len);
}

extern "C" lc_status lc_kernels_f32_to_bf16(const float *src, int64_t n, uint16_t *dst,
                                            void *stream, char *err, size_t err_len) {
  return convert_launch(f32_to_bf16_kernel, "lc_kernels_f32_to_bf16", "f32_to_bf16_kernel", src, n,
                        dst, stream, err, err_len);
}

extern "C" lc_status lc_kernels_bf16_to_f32(const uint16_t *src, int64_t n, float *dst,
                                            void *stream, char *err, size_t err_len) {
  return convert_launch(bf16_to_f32_kernel, "lc_kernels_bf16_to_f32", "bf16_to_f32_kernel", src, n,
                        dst, stream, err, err_len);
}

extern "C" lc_status lc_kernels_round_bf16(float *x, int64_t n, void *stream, char *err,
                                           size_t err_len) {
  if (n < 0 || (n > 0 && !x)) return bad_args("lc_kernels_round_bf16", n, err, err_len);
  if (n == 0) return LC_OK;
  int64_t head, nvec;
  lc_ew2_split(x, x, x, n, &head, &nvec); /* x alone: head 0..3 when x is 4-byte aligned */
  const unsigned blocks = lc_ew_blocks(n, head, nvec, CV_THREADS, CV_MAX_BLOCKS);
  round_bf16_kernel<<<blocks, CV_THREADS, 0, (cudaStream_t)stream>>>(x, n, head, nvec);
  return lc_launch_status("round_bf16_kernel", err, err_len);
}

extern "C" lc_status lc_kernels_add_bias(float *y, int64_t m, int64_t n, const uint16_t *bias,
                                         void *stream, char *err, size_t err_len) {
  if (m < 0 || n < 1 || (m > 0 && (!y || !bias)))
    return bad_args("lc_kernels_add_bias", n, err, err_len);
  if (m == 0) return LC_OK;
  return add_bias_launch(y, m, n, bias, (cudaStream_t)stream, err, err_len);
}
