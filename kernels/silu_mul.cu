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
 * scalar tail finishes n), else over scalars (lc_ew2_split and lc_ew2_f32
 * of kernels/lc_cuda_common.cuh).  In place is safe: every element is read
 * and then written by one thread.
 *
 * Benchmark: bench/bench_ops (its silu_mul rows; bench/run.sh builds and runs
 * it on the GPU machine).
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_canon.h"
#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"

#define SILU_THREADS 256
#define SILU_MAX_BLOCKS 8192 /* grid-stride beyond */

struct silu_mul_one {
  __device__ __forceinline__ float operator()(float g, float u) const {
    return lc_canon_nan(lc_siluf(g) * u);
  }
};

/* Elements [0, head) and [head + 4*nvec, n) one by one; the 4*nvec in
 * between as float4 (gate + head, up + head, out + head are 16-byte aligned):
 * lc_ew2_f32 of kernels/lc_cuda_common.cuh. */
__global__ void __launch_bounds__(SILU_THREADS)
    silu_mul_kernel(const float *gate, const float *up, float *out, int64_t n, int64_t head,
                    int64_t nvec) {
  griddep_launch_dependents(); /* a PDL-launched matmul after this may start */
  lc_ew2_f32(gate, up, out, n, head, nvec, silu_mul_one{});
}

/* ---- launcher and entry ----------------------------------------------------*/

static lc_status silu_mul_launch(const float *gate, const float *up, int64_t n, float *out,
                                 cudaStream_t stream, char *err, size_t err_len) {
  int64_t head, nvec;
  lc_ew2_split(gate, up, out, n, &head, &nvec);
  const unsigned blocks = lc_ew_blocks(n, head, nvec, SILU_THREADS, SILU_MAX_BLOCKS);
  silu_mul_kernel<<<blocks, SILU_THREADS, 0, stream>>>(gate, up, out, n, head, nvec);
  return lc_launch_status("silu_mul_kernel", err, err_len);
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
