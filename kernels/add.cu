/*
 * kernels/add.cu — elementwise sum (the residual connection) on the GPU.
 *
 * Shapes and dtypes: a, b, out [n] fp32, device; out may equal a or b (or a
 * may equal b).  No bf16.  out[i] = canon(a[i] + b[i]): one IEEE addition,
 * bit for bit lc_cpu_add; elementwise, so nothing depends on n or the launch.
 *
 * Grid-stride over 16-byte vectors when the three pointers share their
 * alignment modulo 16 (a scalar head brings them to a 16-byte boundary, a
 * scalar tail finishes n), else over scalars (lc_ew2_split and lc_ew2_f32
 * of kernels/lc_cuda_common.cuh).  In place is safe: every element is read
 * and then written by one thread.
 *
 * Benchmark: bench/bench_ops (its add rows; bench/run.sh builds and runs
 * it on the GPU machine).
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_canon.h"
#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"

#define ADD_THREADS 256
#define ADD_MAX_BLOCKS 8192 /* grid-stride beyond */

struct add_one {
  __device__ __forceinline__ float operator()(float a, float b) const {
    return lc_canon_nan(a + b);
  }
};

/* Elements [0, head) and [head + 4*nvec, n) one by one; the 4*nvec in
 * between as float4 (a + head, b + head, out + head are 16-byte aligned):
 * lc_ew2_f32 of kernels/lc_cuda_common.cuh. */
__global__ void __launch_bounds__(ADD_THREADS)
    add_kernel(const float *a, const float *b, float *out, int64_t n, int64_t head, int64_t nvec) {
  griddep_launch_dependents(); /* a PDL-launched matmul after this may start */
  lc_ew2_f32(a, b, out, n, head, nvec, add_one{});
}

/* ---- launcher and entry ----------------------------------------------------*/

static lc_status add_launch(const float *a, const float *b, int64_t n, float *out,
                            cudaStream_t stream, char *err, size_t err_len) {
  int64_t head, nvec;
  lc_ew2_split(a, b, out, n, &head, &nvec);
  const unsigned blocks = lc_ew_blocks(n, head, nvec, ADD_THREADS, ADD_MAX_BLOCKS);
  add_kernel<<<blocks, ADD_THREADS, 0, stream>>>(a, b, out, n, head, nvec);
  return lc_launch_status("add_kernel", err, err_len);
}

extern "C" lc_status lc_kernels_add(const float *a, const float *b, int64_t n, float *out,
                                    void *stream, char *err, size_t err_len) {
  if (n < 0 || (n > 0 && (!a || !b || !out))) {
    if (err && err_len)
      snprintf(err, err_len, "lc_kernels_add: bad arguments (n = %lld)", (long long)n);
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (n == 0) return LC_OK;
  return add_launch(a, b, n, out, (cudaStream_t)stream, err, err_len);
}
