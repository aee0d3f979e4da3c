/*
 * kernels/mma_probe.cu — runs the bf16 MMA instruction of the fast order on
 * inputs a test chooses, so that tests/test_cuda_mma.c can compare every output
 * bit with the CPU model (cpu_ref/mma_bf16.c).  Not a performance path.
 *
 * One warp per tile: it loads its fragments from the tile's A [16][16], B [8][16]
 * (column j's 16 k) and C [16][8] exactly as kernels/mma_bf16.cuh lays them out,
 * runs one MMA and stores D [16][8].
 * Benchmark: none (not timed).
 */
#include <cuda_runtime.h>
#include <stdio.h>

#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"
#include "kernels/mma_bf16.cuh"

static __device__ __forceinline__ uint32_t pack2(const uint16_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 16);
}

__global__ void mma_probe_kernel(const uint16_t *a, const uint16_t *b, const float *c, float *d,
                                 int64_t tiles) {
  const int64_t tile = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (tile >= tiles) return;
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const uint16_t *A = a + tile * 256, *B = b + tile * 128;
  const float *C = c + tile * 128;
  float *D = d + tile * 128;
  const uint32_t af[4] = {pack2(A + g * 16 + 2 * t), pack2(A + (g + 8) * 16 + 2 * t),
                          pack2(A + g * 16 + 2 * t + 8), pack2(A + (g + 8) * 16 + 2 * t + 8)};
  const uint32_t b0 = pack2(B + g * 16 + 2 * t), b1 = pack2(B + g * 16 + 2 * t + 8);
  float acc[4] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1], C[(g + 8) * 8 + 2 * t],
                  C[(g + 8) * 8 + 2 * t + 1]};
  mma_bf16(acc, af, b0, b1);
  D[g * 8 + 2 * t] = acc[0];
  D[g * 8 + 2 * t + 1] = acc[1];
  D[(g + 8) * 8 + 2 * t] = acc[2];
  D[(g + 8) * 8 + 2 * t + 1] = acc[3];
}

extern "C" lc_status lc_kernels_mma_probe(int device, const uint16_t *a_host,
                                          const uint16_t *b_host, const float *c_host,
                                          float *d_host, int64_t tiles, char *err, size_t err_len) {
  if (tiles < 0 || (tiles > 0 && (!a_host || !b_host || !c_host || !d_host))) {
    if (err && err_len) snprintf(err, err_len, "lc_kernels_mma_probe: bad arguments");
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (tiles == 0) return LC_OK;
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return lc_cuda_fail(e, "cudaSetDevice", err, err_len);
  uint16_t *da = NULL, *db = NULL;
  float *dc = NULL, *dd = NULL;
  const size_t ab = (size_t)tiles * 256 * 2, bb = (size_t)tiles * 128 * 2,
               cb = (size_t)tiles * 128 * 4;
  e = cudaMalloc(&da, ab);
  if (e == cudaSuccess) e = cudaMalloc(&db, bb);
  if (e == cudaSuccess) e = cudaMalloc(&dc, cb);
  if (e == cudaSuccess) e = cudaMalloc(&dd, cb);
  if (e == cudaSuccess) e = cudaMemcpy(da, a_host, ab, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMemcpy(db, b_host, bb, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMemcpy(dc, c_host, cb, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) {
    const int warps = 4;
    mma_probe_kernel<<<(unsigned)((tiles + warps - 1) / warps), warps * 32>>>(da, db, dc, dd,
                                                                              tiles);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaMemcpy(d_host, dd, cb, cudaMemcpyDeviceToHost);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
  cudaFree(dd);
  if (e != cudaSuccess) return lc_cuda_fail(e, "lc_kernels_mma_probe", err, err_len);
  return LC_OK;
}
