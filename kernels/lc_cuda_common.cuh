/*
 * kernels/lc_cuda_common.cuh — helpers shared by the kernels/<op>.cu files.
 *
 * Header-only, file-local (static / templates): each .cu file that includes
 * it gets its own copy, so nothing here is an exported symbol.  No
 * arithmetic policy lives here beyond what the contracts of the including
 * files already state:
 *   lc_cuda_fail, lc_launch_status  the launch check of every launcher
 *                                   (cudaGetLastError -> message in err ->
 *                                   LC_ERR_CUDA);
 *   lc_aligned16, lc_aligned8       pointer alignment tests (host and device);
 *   lc_lane_walk                    lane l of a warp visits elements l, l+32,
 *                                   l+64, ... in ascending order, U loads in
 *                                   flight ahead of their uses;
 *   lc_lane_chain, lc_step_sum,     the canonical 32-lane reduction of
 *   lc_step_sumsq,                  docs/numerics.md 2.1, once for every
 *   lc_warp_canon_butterfly,        kernel: each lane's chain acc = step(acc, v)
 *   lc_warp_canon_reduce            over its elements, then the butterfly
 *                                   v = v + shfl_xor(v, o) for o = 16, 8, 4, 2,
 *                                   1, lane 0's value to all (the CPU twin is
 *                                   cpu_ref/reduce.c);
 *   lc_row_visit, lc_row_map        thread t of T visits (maps) its share of
 *                                   a row, float4 chunks when the row is
 *                                   aligned (the order-free max and argmax
 *                                   passes; elementwise row writes, copies);
 *   lc_warp_max_nonan               max_nonan over a warp (order-free);
 *   lc_grid_stride_split            the grid-stride walk over a scalar head,
 *                                   a 4-element vector body and a scalar tail;
 *   lc_ew2_f32                      out[i] = f(a[i], b[i]) over fp32 on that walk
 *                                   (float4 body), with lc_ew2_split and
 *                                   lc_ew_blocks for its launcher.
 *   griddep_launch_dependents,      programmatic dependent launch (sm_90): the
 *   griddep_wait, prefetch_l2       small ops that come before a matmul let it
 *                                   start while they run; the matmul prefetches
 *                                   its first weights into L2, then waits.
 * Benchmark: none of its own (the including files' benchmarks cover it).
 */
#ifndef LC_CUDA_COMMON_CUH
#define LC_CUDA_COMMON_CUH

#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_canon.h"
#include "kernels/lc_kernels.h"

#define LC_WARP_FULL_MASK 0xffffffffu

/* ---- programmatic dependent launch (sm_90) ----------------------------------
 * The next grid on the stream, when it was launched with the programmatic
 * stream serialization attribute, may start once every block of this grid
 * has passed griddep_launch_dependents (or exited); its griddep_wait returns
 * only when this grid has completed and its memory is visible.  Both are
 * no-ops without such a launch.  A kernel launched that way reads nothing
 * another kernel writes, and writes nothing, before its griddep_wait. */
static __device__ __forceinline__ void griddep_launch_dependents(void) {
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
}
static __device__ __forceinline__ void griddep_wait(void) {
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
}
/* bytes (a multiple of 16) at p (16-byte aligned) towards L2, no register
 * or shared memory written (the bulk copy engine's prefetch) */
static __device__ __forceinline__ void prefetch_l2(const void *p, unsigned bytes) {
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;\n" ::"l"(p), "r"(bytes) : "memory");
}

/* ---- host: launch checks ---------------------------------------------------*/

/* The CUDA error e as "what: description (name)" in err; LC_ERR_CUDA. */
static inline lc_status lc_cuda_fail(cudaError_t e, const char *what, char *err, size_t err_len) {
  if (err && err_len)
    snprintf(err, err_len, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
  return LC_ERR_CUDA;
}

/* After a launch: LC_OK, or the launch error (cudaGetLastError) as above. */
static inline lc_status lc_launch_status(const char *what, char *err, size_t err_len) {
  const cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return LC_OK;
  return lc_cuda_fail(e, what, err, err_len);
}

/* ---- alignment -------------------------------------------------------------*/

static __host__ __device__ __forceinline__ bool lc_aligned16(const void *p) {
  return ((uintptr_t)p & 15u) == 0;
}
static __host__ __device__ __forceinline__ bool lc_aligned8(const void *p) {
  return ((uintptr_t)p & 7u) == 0;
}

/* ---- row walks -------------------------------------------------------------*/

/* Lane `lane` of a warp visits i = lane, lane + 32, lane + 64, ... < n in
 * ascending order: use(i, load(i)), where load returns a T.  The loads of U
 * consecutive steps are issued before their uses, the uses stay in order
 * (U = 1: one element at a time). */
template <int U, class T, class Load, class Use>
static __device__ __forceinline__ void lc_lane_walk(int64_t n, int lane, Load load, Use use) {
  int64_t i = lane;
  for (; i + 32 * (U - 1) < n; i += 32 * U) {
    T v[U];
#pragma unroll
    for (int u = 0; u < U; u++) v[u] = load(i + 32 * u);
#pragma unroll
    for (int u = 0; u < U; u++) use(i + 32 * u, v[u]);
  }
  for (; i < n; i += 32) use(i, load(i));
}

/* Thread t of T visits its share of row xr[0..n): when xr is 16-byte aligned
 * the float4 chunks t, t+T, ... (U chunks loaded before they are used), then
 * the scalar tail elements 4*(n/4) + t, + T, ...; otherwise the elements t,
 * t+T, ... (4U loaded before they are used).  f(v, i) for each element
 * v = xr[i], the four of a chunk in ascending i.  For order-free folds (max,
 * argmax): which thread takes which element is a matter of speed only. */
template <class F>
static __device__ __forceinline__ void lc_visit4(F &f, const float4 v, int64_t i) {
  f(v.x, i);
  f(v.y, i + 1);
  f(v.z, i + 2);
  f(v.w, i + 3);
}
template <int U, class F>
static __device__ __forceinline__ void lc_row_visit(const float *xr, int64_t n, int t, int T, F f) {
  if (lc_aligned16(xr)) {
    const int64_t n4 = n >> 2;
    const float4 *x4 = reinterpret_cast<const float4 *>(xr);
    int64_t c = t;
    for (; c + (int64_t)T * (U - 1) < n4; c += (int64_t)T * U) {
      float4 v[U];
#pragma unroll
      for (int u = 0; u < U; u++) v[u] = x4[c + (int64_t)u * T];
#pragma unroll
      for (int u = 0; u < U; u++) lc_visit4(f, v[u], 4 * (c + (int64_t)u * T));
    }
    for (; c < n4; c += T) lc_visit4(f, x4[c], 4 * c);
    for (int64_t i = 4 * n4 + t; i < n; i += T) f(xr[i], i);
  } else {
    int64_t i = t;
    for (; i + (int64_t)T * (4 * U - 1) < n; i += (int64_t)T * 4 * U) {
      float v[4 * U];
#pragma unroll
      for (int u = 0; u < 4 * U; u++) v[u] = xr[i + (int64_t)u * T];
#pragma unroll
      for (int u = 0; u < 4 * U; u++) f(v[u], i + (int64_t)u * T);
    }
    for (; i < n; i += T) f(xr[i], i);
  }
}

/* dst[i] = f(src[i]) for the elements thread t of T takes (dst may equal
 * src: each element is read and then written by one thread); float4 chunks
 * t, t+T, ... when both rows are 16-byte aligned (then the scalar tail), else
 * elements t, t+T, ...; the U loads of a batch (4U scalar) issued before its
 * stores. */
template <int U, class F>
static __device__ __forceinline__ void lc_row_map(const float *src, float *dst, int64_t n, int t,
                                                  int T, F f) {
  if ((((uintptr_t)src | (uintptr_t)dst) & 15u) == 0) {
    const int64_t n4 = n >> 2;
    const float4 *s4 = reinterpret_cast<const float4 *>(src);
    float4 *d4 = reinterpret_cast<float4 *>(dst);
    for (int64_t c0 = t; c0 < n4; c0 += (int64_t)T * U) {
      float4 v[U];
#pragma unroll
      for (int u = 0; u < U; u++)
        if (c0 + (int64_t)u * T < n4) v[u] = s4[c0 + (int64_t)u * T];
#pragma unroll
      for (int u = 0; u < U; u++)
        if (c0 + (int64_t)u * T < n4)
          d4[c0 + (int64_t)u * T] = make_float4(f(v[u].x), f(v[u].y), f(v[u].z), f(v[u].w));
    }
    for (int64_t i = 4 * n4 + t; i < n; i += T) dst[i] = f(src[i]);
  } else {
    for (int64_t i0 = t; i0 < n; i0 += (int64_t)T * 4 * U) {
      float v[4 * U];
#pragma unroll
      for (int u = 0; u < 4 * U; u++)
        if (i0 + (int64_t)u * T < n) v[u] = src[i0 + (int64_t)u * T];
#pragma unroll
      for (int u = 0; u < 4 * U; u++)
        if (i0 + (int64_t)u * T < n) dst[i0 + (int64_t)u * T] = f(v[u]);
    }
  }
}

/* ---- the canonical 32-lane reduction ----------------------------------------*/

/* The lane chains' steps: acc + v (sums), fma(v, v, acc) (sum of squares). */
struct lc_step_sum {
  __device__ __forceinline__ float operator()(float acc, float v) const { return acc + v; }
};
struct lc_step_sumsq {
  __device__ __forceinline__ float operator()(float acc, float v) const {
    return LC_FMA(v, v, acc);
  }
};

/* Lane `lane`'s chain, continued from acc: acc = step(acc, load(i)) for
 * i = lane, lane + 32, ... < n ascending (lc_lane_walk, U loads in flight). */
template <int U, class Load, class Step>
static __device__ __forceinline__ float lc_lane_chain(float acc, int64_t n, int lane, Load load,
                                                      Step step) {
  lc_lane_walk<U, float>(n, lane, load, [&](int64_t, float v) { acc = step(acc, v); });
  return acc;
}

/* The butterfly of the canonical reduction over the 32 lanes of a warp;
 * returns lane 0's result to every lane. */
static __device__ __forceinline__ float lc_warp_canon_butterfly(float v) {
#pragma unroll
  for (int o = 16; o >= 1; o >>= 1) v = v + __shfl_xor_sync(LC_WARP_FULL_MASK, v, o);
  return __shfl_sync(LC_WARP_FULL_MASK, v, 0);
}

/* The canonical 32-lane reduction of n elements by one warp: every lane's
 * chain from +0 (lc_lane_chain), then the butterfly; the result on every lane. */
template <int U, class Load, class Step>
static __device__ __forceinline__ float lc_warp_canon_reduce(int64_t n, int lane, Load load,
                                                             Step step) {
  return lc_warp_canon_butterfly(lc_lane_chain<U>(0.0f, n, lane, load, step));
}

/* ---- warp max ----------------------------------------------------------------*/

/* max_nonan over the warp, on every lane; the order does not matter (NaN
 * never wins, ties are equal values) and the caller canonicalises the zero. */
static __device__ __forceinline__ float lc_warp_max_nonan(float v) {
#pragma unroll
  for (int o = 16; o >= 1; o >>= 1) v = lc_max_nonan(v, __shfl_xor_sync(LC_WARP_FULL_MASK, v, o));
  return v;
}

/* ---- elementwise: head, vector body, tail ------------------------------------*/

/* Grid-stride over elements [0, n) split as [0, head) scalar, nvec vectors of
 * 4 elements from head, [head + 4*nvec, n) scalar: vec(v) for v < nvec, then
 * one(i) for the head and the tail.  Each element is visited by one thread. */
template <class V, class S>
static __device__ __forceinline__ void lc_grid_stride_split(int64_t n, int64_t head, int64_t nvec,
                                                            V vec, S one) {
  const int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t v = t; v < nvec; v += stride) vec(v);
  for (int64_t i = t; i < head; i += stride) one(i);
  for (int64_t i = head + 4 * nvec + t; i < n; i += stride) one(i);
}

/* out[i] = f(a[i], b[i]) for i < n: elements [0, head) and [head + 4*nvec, n)
 * one by one; the 4*nvec in between as float4 (a + head, b + head,
 * out + head are 16-byte aligned).  In place is safe: every element is read
 * and then written by one thread. */
template <class F>
static __device__ __forceinline__ void lc_ew2_f32(const float *a, const float *b, float *out,
                                                  int64_t n, int64_t head, int64_t nvec, F f) {
  const float4 *a4 = reinterpret_cast<const float4 *>(a + head);
  const float4 *b4 = reinterpret_cast<const float4 *>(b + head);
  float4 *o4 = reinterpret_cast<float4 *>(out + head);
  lc_grid_stride_split(
      n, head, nvec,
      [&](int64_t v) {
        const float4 x = a4[v], y = b4[v];
        o4[v] = make_float4(f(x.x, y.x), f(x.y, y.y), f(x.z, y.z), f(x.w, y.w));
      },
      [&](int64_t i) { out[i] = f(a[i], b[i]); });
}

/* Splits n elements of three fp32 pointers into a scalar head, a float4 body
 * and a scalar tail: a vector body only when a, b and out are equally
 * misaligned modulo 16 (floats are 4-byte aligned, so the head is 0..3
 * elements); otherwise everything is head. */
static inline void lc_ew2_split(const void *a, const void *b, const void *out, int64_t n,
                                int64_t *head, int64_t *nvec) {
  const uintptr_t mis = (uintptr_t)out & 15u;
  *head = n;
  *nvec = 0;
  if (((uintptr_t)a & 15u) == mis && ((uintptr_t)b & 15u) == mis && (mis & 3u) == 0) {
    int64_t h = (int64_t)((16u - mis) & 15u) / 4;
    if (h > n) h = n;
    *head = h;
    *nvec = (n - h) / 4;
  }
}

/* Blocks of `threads` for a head/body/tail split: enough for the longest of
 * the three parts, at most max_blocks (grid-stride beyond), at least 1. */
static inline unsigned lc_ew_blocks(int64_t n, int64_t head, int64_t nvec, int threads,
                                    int64_t max_blocks) {
  int64_t work = nvec > head ? nvec : head;
  if (n - head - 4 * nvec > work) work = n - head - 4 * nvec;
  int64_t blocks = (work + threads - 1) / threads;
  return (unsigned)(blocks > max_blocks ? max_blocks : blocks < 1 ? 1 : blocks);
}

#endif /* LC_CUDA_COMMON_CUH */
