/*
 * kernels/stream_read.cu — a read-only stream over device memory: the
 * benchmark's measured floor for a kernel that must read a buffer once.
 *
 *   lc_kernels_stream_read  reads bytes [0, bytes) of src (16-byte aligned,
 *                           bytes % 16 == 0) with 16-byte non-caching loads,
 *                           four in flight per thread, folds them by XOR and
 *                           writes one word to *sink only when the fold
 *                           equals a fixed pattern (so that the loads cannot
 *                           be removed; the sink is in practice never
 *                           written).
 *
 * Not an op of the library and not used by it: bench/bench_matmul times it on
 * the decode bars' weight sizes, so that the report shows how long merely
 * reading the weight's bytes in one launch takes on that GPU (a measured
 * floor for M = 1, not a proven one).  Launch: a grid-stride walk, blocks x threads
 * chosen by the caller (bench: 4 blocks of 512 threads per multiprocessor,
 * the fastest of the configurations measured on an H200).  No arithmetic.
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"

#define SR_PATTERN 0x9E3779B9u

static __device__ __forceinline__ uint4 ld_stream16(const uint4 *p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

__global__ void stream_read_kernel(const uint4 *__restrict__ src, size_t n16,
                                   uint32_t *__restrict__ sink) {
  uint32_t a = 0;
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n16; i += 4 * stride) {
    const uint4 v0 = ld_stream16(src + i), v1 = ld_stream16(src + i + stride);
    const uint4 v2 = ld_stream16(src + i + 2 * stride), v3 = ld_stream16(src + i + 3 * stride);
    a ^= v0.x ^ v0.y ^ v0.z ^ v0.w ^ v1.x ^ v1.y ^ v1.z ^ v1.w;
    a ^= v2.x ^ v2.y ^ v2.z ^ v2.w ^ v3.x ^ v3.y ^ v3.z ^ v3.w;
  }
  for (; i < n16; i += stride) {
    const uint4 v = ld_stream16(src + i);
    a ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (a == SR_PATTERN) *sink = a;
}

extern "C" lc_status lc_kernels_stream_read(const void *src, size_t bytes, int blocks, int threads,
                                            uint32_t *sink, void *stream, char *err,
                                            size_t err_len) {
  if (!src || !sink || bytes % 16 != 0 || !lc_aligned16(src) || blocks < 1 || threads < 32 ||
      threads > 1024) {
    if (err && err_len)
      snprintf(err, err_len,
               "lc_kernels_stream_read: src and sink must be set, src 16-byte aligned, bytes a "
               "multiple of 16, 1 <= blocks, 32 <= threads <= 1024");
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (bytes == 0) return LC_OK;
  stream_read_kernel<<<(unsigned)blocks, (unsigned)threads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const uint4 *>(src), bytes / 16, sink);
  return lc_launch_status("stream read kernel", err, err_len);
}
