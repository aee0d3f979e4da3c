/*
 * kernels/mma_probe.cu — runs the bf16 MMA instructions of the fast order on
 * inputs a test chooses, so that tests/test_cuda_mma.c can compare every output
 * bit with the CPU model (cpu_ref/mma_bf16.c).  Not a performance path.
 *
 * lc_kernels_mma_probe, mma.sync m16n8k16: one warp per tile; it loads its
 * fragments from the tile's A [16][16], B [8][16] (column j's 16 k) and C
 * [16][8] exactly as kernels/mma_bf16.cuh lays them out, runs one MMA and
 * stores D [16][8].
 *
 * lc_kernels_wgmma_probe, wgmma m64n8k16 (sm_90a): one warpgroup (one block
 * of 128 threads) per tile, A [64][16], B [8][16], C and D [64][8].  A and B
 * are staged in shared memory exactly as the wgmma tiled kernel
 * (kernels/matmul_fast_wgmma.cu) stages a chunk, through the same descriptors
 * (kernels/wgmma_bf16.cuh): 64 (A) and 8 (B) rows of 64 k, K-major, 128-byte
 * swizzle, 1024-aligned.  The tile's 16 k go to step s = tile % 4 of the rows
 * (k 16 s .. 16 s + 15, descriptor start + 32 s) and the other 48 k of every
 * row hold a NaN, so a descriptor, swizzle or step offset that reads the wrong
 * bytes shows as a difference, not only the arithmetic.  C goes into the D
 * fragment of wgmma_bf16.cuh and D comes back out of it: a wrong fragment
 * layout shows too.
 * Benchmark: none (not timed).
 */
#include <cuda_runtime.h>
#include <stdio.h>

#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"
#include "kernels/mma_bf16.cuh"
#include "kernels/wgmma_bf16.cuh"

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

/* The four device buffers of a probe: a, b and c uploaded from the host, d read
 * back; probe_download frees all four whatever happened. */
typedef struct probe_io {
  void *a, *b, *c, *d;
  size_t ab, bb, cb, db;
} probe_io;

static cudaError_t probe_upload(probe_io *io, const void *a, const void *b, const void *c) {
  cudaError_t e = cudaMalloc(&io->a, io->ab);
  if (e == cudaSuccess) e = cudaMalloc(&io->b, io->bb);
  if (e == cudaSuccess) e = cudaMalloc(&io->c, io->cb);
  if (e == cudaSuccess) e = cudaMalloc(&io->d, io->db);
  if (e == cudaSuccess) e = cudaMemcpy(io->a, a, io->ab, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMemcpy(io->b, b, io->bb, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMemcpy(io->c, c, io->cb, cudaMemcpyHostToDevice);
  return e;
}

static cudaError_t probe_download(probe_io *io, cudaError_t e, void *d) {
  if (e == cudaSuccess) e = cudaMemcpy(d, io->d, io->db, cudaMemcpyDeviceToHost);
  cudaFree(io->a);
  cudaFree(io->b);
  cudaFree(io->c);
  cudaFree(io->d);
  return e;
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
  probe_io io = {NULL,
                 NULL,
                 NULL,
                 NULL,
                 (size_t)tiles * 256 * 2,
                 (size_t)tiles * 128 * 2,
                 (size_t)tiles * 128 * 4,
                 (size_t)tiles * 128 * 4};
  e = probe_upload(&io, a_host, b_host, c_host);
  if (e == cudaSuccess) {
    const int warps = 4;
    mma_probe_kernel<<<(unsigned)((tiles + warps - 1) / warps), warps * 32>>>(
        (const uint16_t *)io.a, (const uint16_t *)io.b, (const float *)io.c, (float *)io.d, tiles);
    e = cudaGetLastError();
  }
  e = probe_download(&io, e, d_host);
  if (e != cudaSuccess) return lc_cuda_fail(e, "lc_kernels_mma_probe", err, err_len);
  return LC_OK;
}

/* ---- wgmma m64n8k16 --------------------------------------------------------*/

#define WP_POISON ((uint16_t)0x7FC1u) /* a bf16 NaN in the k a step must not read */

__global__ void __launch_bounds__(128) wgmma_probe_kernel(const uint16_t *a, const uint16_t *b,
                                                          const float *c, float *d, int64_t tiles) {
#if LC_WGMMA_DEVICE
  /* A: 64 rows x 128 bytes, then B: 8 rows x 128 bytes, from a 1024-byte boundary */
  __shared__ unsigned char raw[64 * LC_WG_ROW_BYTES + 8 * LC_WG_ROW_BYTES + LC_WG_ATOM];
  const uint32_t raw_s = (uint32_t)__cvta_generic_to_shared(raw);
  const uint32_t a_s = (raw_s + (LC_WG_ATOM - 1)) & ~(uint32_t)(LC_WG_ATOM - 1);
  const uint32_t b_s = a_s + 64 * LC_WG_ROW_BYTES;
  unsigned char *a_g = raw + (a_s - raw_s), *b_g = raw + (b_s - raw_s);
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const uint16_t *A = a + tile * 1024, *B = b + tile * 128;
    const float *C = c + tile * 512;
    float *D = d + tile * 512;
    const int s = (int)(tile & 3); /* the step that holds the tile's 16 k */
    __syncthreads();               /* the previous tile's wgmma has read the staging */
    for (int i = tid; i < 72 * 64; i += 128) {
      const int r = i >> 6, kk = i & 63; /* row r (A's 0..63, then B's 0..7), k kk */
      const bool in = (kk >> 4) == s;
      uint16_t v = WP_POISON;
      if (in) v = r < 64 ? A[r * 16 + (kk & 15)] : B[(r - 64) * 16 + (kk & 15)];
      unsigned char *tile_g = r < 64 ? a_g : b_g;
      const int row = r < 64 ? r : r - 64;
      *reinterpret_cast<uint16_t *>(tile_g + lc_wg_off(row, kk >> 3) + (kk & 7) * 2) = v;
    }
    lc_fence_proxy_async(); /* st.shared (generic proxy) before wgmma's reads (async proxy) */
    __syncthreads();
    /* the D fragment: d[v] at row 16 warp + g + 8 (v / 2), column 2 t + v % 2 */
    const int r0 = warp * 16 + g;
    float acc[4] = {C[r0 * 8 + 2 * t], C[r0 * 8 + 2 * t + 1], C[(r0 + 8) * 8 + 2 * t],
                    C[(r0 + 8) * 8 + 2 * t + 1]};
#pragma unroll
    for (int i = 0; i < 4; i++) lc_wg_reg_fence(acc[i]);
    lc_wg_fence();
    lc_wgmma_m64n8(acc, lc_wg_desc(a_s + 32 * s), lc_wg_desc(b_s + 32 * s));
    lc_wg_commit();
    lc_wg_wait<0>();
#pragma unroll
    for (int i = 0; i < 4; i++) lc_wg_reg_fence(acc[i]);
    D[r0 * 8 + 2 * t] = acc[0];
    D[r0 * 8 + 2 * t + 1] = acc[1];
    D[(r0 + 8) * 8 + 2 * t] = acc[2];
    D[(r0 + 8) * 8 + 2 * t + 1] = acc[3];
  }
#else
  (void)a, (void)b, (void)c, (void)d, (void)tiles;
#endif
}

extern "C" lc_status lc_kernels_wgmma_probe(int device, const uint16_t *a_host,
                                            const uint16_t *b_host, const float *c_host,
                                            float *d_host, int64_t tiles, char *err,
                                            size_t err_len) {
  if (tiles < 0 || (tiles > 0 && (!a_host || !b_host || !c_host || !d_host))) {
    if (err && err_len) snprintf(err, err_len, "lc_kernels_wgmma_probe: bad arguments");
    return LC_ERR_INVALID_ARGUMENT;
  }
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return lc_cuda_fail(e, "cudaSetDevice", err, err_len);
  if (!lc_wgmma_image()) {
    if (err && err_len)
      snprintf(err, err_len,
               "lc_kernels_wgmma_probe: wgmma not available (no sm_90a code in this build, or "
               "the device is not compute capability 9.0)");
    return LC_ERR_UNSUPPORTED;
  }
  if (tiles == 0) return LC_OK;
  probe_io io = {NULL,
                 NULL,
                 NULL,
                 NULL,
                 (size_t)tiles * 1024 * 2,
                 (size_t)tiles * 128 * 2,
                 (size_t)tiles * 512 * 4,
                 (size_t)tiles * 512 * 4};
  e = probe_upload(&io, a_host, b_host, c_host);
  if (e == cudaSuccess) {
    const int64_t blocks = tiles < 1024 ? tiles : 1024;
    wgmma_probe_kernel<<<(unsigned)blocks, 128>>>((const uint16_t *)io.a, (const uint16_t *)io.b,
                                                  (const float *)io.c, (float *)io.d, tiles);
    e = cudaGetLastError();
  }
  e = probe_download(&io, e, d_host);
  if (e != cudaSuccess) return lc_cuda_fail(e, "lc_kernels_wgmma_probe", err, err_len);
  return LC_OK;
}
