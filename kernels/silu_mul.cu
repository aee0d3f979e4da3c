/*
 * kernels/silu_mul.cu — the gated activation of a SwiGLU block on the GPU.
 *
 * Shapes and dtypes: gate, up, out [n] fp32, device; out may equal gate or
 * up.  No bf16.  out[i] = canon(lc_siluf(gate[i]) * up[i]) with
 * lc_siluf(g) = g / (1 + lc_expf(-g)) from cast/lc_canon.h (the CPU's source:
 * the same polynomial exp, IEEE division, one multiply), bit for bit
 * lc_cpu_silu_mul_strict; elementwise, so nothing depends on n or the launch.
 *
 * Grid-stride over 16-byte vectors when the three pointers share their
 * alignment modulo 16 (a scalar head brings them to a 16-byte boundary, a
 * scalar tail finishes n), else over scalars.  In place is safe: every
 * element is read and then written by one thread.
 *
 * Benchmark: bench/bench_ops (its silu_mul rows; bench/run.sh builds and runs
 * it on the GPU machine).
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_canon.h"
#include "kernels/lc_kernels.h"

#define SILU_THREADS 256
#define SILU_MAX_BLOCKS 8192 /* grid-stride beyond */

__device__ __forceinline__ float silu_mul_one(float g, float u) {
  return lc_canon_nan(lc_siluf(g) * u);
}

/* Elements [0, head) and [head + 4*nvec, n) one by one; the 4*nvec in
 * between as float4 (gate + head, up + head, out + head are 16-byte aligned). */
__global__ void __launch_bounds__(SILU_THREADS)
    silu_mul_kernel(const float *gate, const float *up, float *out, int64_t n, int64_t head,
                    int64_t nvec) {
  const int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  const float4 *g4 = reinterpret_cast<const float4 *>(gate + head);
  const float4 *u4 = reinterpret_cast<const float4 *>(up + head);
  float4 *o4 = reinterpret_cast<float4 *>(out + head);
  for (int64_t v = t; v < nvec; v += stride) {
    const float4 g = g4[v], u = u4[v];
    o4[v] = make_float4(silu_mul_one(g.x, u.x), silu_mul_one(g.y, u.y), silu_mul_one(g.z, u.z),
                        silu_mul_one(g.w, u.w));
  }
  for (int64_t i = t; i < head; i += stride) out[i] = silu_mul_one(gate[i], up[i]);
  for (int64_t i = head + 4 * nvec + t; i < n; i += stride) out[i] = silu_mul_one(gate[i], up[i]);
}

/* ---- launcher and entry ----------------------------------------------------*/

static lc_status launch_status(const char *what, char *err, size_t err_len) {
  const cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return LC_OK;
  if (err && err_len)
    snprintf(err, err_len, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
  return LC_ERR_CUDA;
}

/* Splits n elements of three pointers into a scalar head, a float4 body and
 * a scalar tail: a vector body only when a, b and out are equally misaligned
 * modulo 16 (floats are 4-byte aligned, so the head is 0..3 elements);
 * otherwise everything is head. */
static void vec_split(const void *a, const void *b, const void *out, int64_t n, int64_t *head,
                      int64_t *nvec) {
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

static lc_status silu_mul_launch(const float *gate, const float *up, int64_t n, float *out,
                                 cudaStream_t stream, char *err, size_t err_len) {
  int64_t head, nvec;
  vec_split(gate, up, out, n, &head, &nvec);
  int64_t work = nvec > head ? nvec : head;
  if (n - head - 4 * nvec > work) work = n - head - 4 * nvec;
  int64_t blocks = (work + SILU_THREADS - 1) / SILU_THREADS;
  if (blocks > SILU_MAX_BLOCKS) blocks = SILU_MAX_BLOCKS;
  silu_mul_kernel<<<(unsigned)blocks, SILU_THREADS, 0, stream>>>(gate, up, out, n, head, nvec);
  return launch_status("silu_mul_kernel", err, err_len);
}

extern "C" lc_status lc_kernels_silu_mul(const float *gate, const float *up, int64_t n, float *out,
                                         void *stream, char *err, size_t err_len) {
  if (n < 0 || (n > 0 && (!gate || !up || !out))) {
    if (err && err_len)
      snprintf(err, err_len, "lc_kernels_silu_mul: bad arguments (n = %lld)", (long long)n);
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (n == 0) return LC_OK;
  return silu_mul_launch(gate, up, n, out, (cudaStream_t)stream, err, err_len);
}
