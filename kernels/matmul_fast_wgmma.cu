/*
 * kernels/matmul_fast_wgmma.cu — the TILED path of the fast order v1 on Hopper's
 * warpgroup MMA (wgmma.mma_async m64n128k16, sm_90a only): y[m][n] = x[m][k]
 * W[n][k]^T (+ bias[n]) from the bf16 parts of x that kernels/matmul_fast.cu's
 * split already wrote, bitwise what fast_tiled_kernel (mma.sync m16n8k16) and
 * lc_cpu_matmul_fast of cpu_ref/matmul_fast.c give.
 *
 * For every (m, n), with P parts and Kc = LC_FAST_CHUNK = 64 (docs/numerics.md 10):
 *
 *   for s = 0 .. ceil(k/256)-1, for each 64-k chunk c of s:
 *     acc = +0            (the accumulator registers written with +0.0f, then
 *                          wgmma with scale-d = 1: a +0 input has exponent -126
 *                          in the model, scale-d = 0 would drop it)
 *     for p = P-1 .. 0 (lo, mid, hi), for the chunk's 4 16-k steps ascending:
 *       acc = wgmma.m64n128k16(part_p(x[m][step]), W[n][step], acc)
 *     seg = (c first in s) ? acc : seg + acc     (fp32 round to nearest)
 *     at the end of s: y = (s == 0) ? seg : y + seg
 *   if bias: y = y + widen(bias[n]);   store lc_canon_nan(y)
 *
 * Why it is the same bits as the mma.sync kernel: the MMA model of 10.2 is per
 * output element and symmetric in the 16 terms of a step, and both instructions
 * take one step (the same 16 k of one x row and one W row) and the output's own
 * accumulator; the chain of steps, parts and chunk/segment/y additions is the
 * same sequence for every (m, n).  Whether wgmma follows the model is checked
 * on the hardware by tests/test_cuda_mma.c (lc_kernels_wgmma_probe).  Past k,
 * both operands are zero: the parts by the split (kp = k rounded up to 64), W
 * by the zero-filling loads below ((+0)*(+0) terms cannot change a sum).
 *
 * Shape.  A block computes 128 x rows by 128 W rows (outputs [m0, m0+128) x
 * [n0, n0+128)) with two warpgroups (256 threads); warpgroup v takes x rows
 * m0 + 64 v .. + 63 as the A operand (M = 64) and all 128 W rows as B (N = 128),
 * so both share the W tile and each keeps its 64 x 128 outputs as three sets of
 * 64 registers per thread: acc (the tensor-core accumulator), seg and y.
 *   - x parts as A (not W): one chunk of W serves the P parts of x, so W is
 *     staged once per chunk and P wgmmas read it; the outputs land as
 *     consecutive n in a thread (the D fragment's column pairs), y's row-major
 *     layout.  It is also fast_tiled_kernel's choice, the same tile.
 *   - N = 128, not 256: acc, seg and y take 3 x N/2 registers per thread;
 *     N = 256 would need 384.
 * Both operands come from shared memory through matrix descriptors (K-major,
 * 128-byte swizzle, kernels/wgmma_bf16.cuh): a chunk's tile of a part is
 * 128 rows x 64 k (128 bytes a row, 16 KiB, the swizzle atom of 8 rows at
 * 1024 bytes), warpgroup v's A is its rows 64 v .. 64 v + 63 (+8 KiB), W's tile
 * is 128 rows x 64 k; the step s of a chunk is the descriptor at +32 s bytes.
 * The row layout is fast_tiled_kernel's (16-byte piece q of row r at piece
 * q ^ (r & 7)); here the tiles start on 1024-byte boundaries, which makes it
 * the hardware's 128-byte swizzle.
 *
 * Pipeline.  S stages (3 for P = 3: 3 x 64 KiB; 4 for P = 1: 4 x 32 KiB) of
 * one chunk each, loaded by all 256 threads with 16-byte cp.async (zero-filled
 * past m, past n and, for W, past k; k % 8 == 0 makes a 16-byte piece lie wholly
 * before or past k).  Chunk c:
 *   wait for this thread's copies of chunk c; fence.proxy.async (the copies
 *   are generic-proxy writes, wgmma reads through the async proxy);
 *   __syncthreads (every thread's copies of c are in; every warpgroup has
 *   finished chunk c-1's wgmmas, so stage (c-1) % S may be overwritten);
 *   acc = +0, wgmma.fence, the P x 4 wgmmas of the chunk in order, commit;
 *   issue the copies of chunk c+S-1 into stage (c+S-1) % S (they run while
 *   the tensor cores work);
 *   wgmma.wait_group 0; seg and y updated.
 * Both warpgroups always issue their wgmmas, even one whose 64 rows all lie
 * past m (zeros, not stored): under a branch ptxas cannot prove the warpgroup
 * uniform and serialises every wgmma (C7518).
 *
 * Requirements (lc_matmul_fast_run_wgmma checks them; the caller falls back to
 * fast_tiled_kernel otherwise): k % 8 == 0, w and parts 16-byte aligned,
 * kp = k rounded up to 64, an sm_90a image on a compute capability 9.0 device
 * (lc_matmul_fast_wgmma_available).  Built for plain sm_90 the kernel is empty
 * and the entry answers LC_ERR_UNSUPPORTED.
 * Benchmark: bench/bench_matmul (fast, bf16) once the fast path calls it.
 */
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/matmul_common.cuh"
#include "kernels/wgmma_bf16.cuh"

#define FW_KC LC_FAST_CHUNK                 /* 64 k per chunk */
#define FW_CPS (MM_SEG / LC_FAST_CHUNK)     /* 4 chunks per segment */
#define FW_BM 128                           /* x rows per block */
#define FW_BN 128                           /* W rows per block: the wgmma's N */
#define FW_WG_M 64                          /* x rows per warpgroup: the wgmma's M */
#define FW_THREADS 256                      /* two warpgroups */
#define FW_TILE_A (FW_BM * LC_WG_ROW_BYTES) /* 16 KiB: one part's chunk tile */
#define FW_TILE_B (FW_BN * LC_WG_ROW_BYTES) /* 16 KiB: W's chunk tile */
#define FW_ROWS_PER_PASS (FW_THREADS / 8)   /* 32 rows of 8 pieces per pass of the block */

#if LC_FAST_CHUNK != 64 || LC_MMA_K != 16 || MM_SEG % LC_FAST_CHUNK != 0
#error "matmul_fast_wgmma.cu assumes 64-k chunks (one 128-byte row) of 16-k MMA steps"
#endif

/* Stages per part count, and the bytes of one stage: P A tiles, then W's. */
static __host__ __device__ constexpr int fw_stages(int p) {
  return p == 3 ? 3 : 4;
}
static __host__ __device__ constexpr int fw_stage_bytes(int p) {
  return p * FW_TILE_A + FW_TILE_B;
}
/* Dynamic shared memory of a block: the stages, plus room to align them to 1024. */
static __host__ __device__ constexpr int fw_smem_bytes(int p) {
  return fw_stages(p) * fw_stage_bytes(p) + LC_WG_ATOM;
}

#if LC_WGMMA_DEVICE

/* Chunk c into the stage at generic pointer `gbase`: thread tid copies piece
 * q = tid % 8 of rows r0 + 32 j (r0 = tid / 8, j = 0..3) of each tile, at dst0
 * = lc_wg_off(r0, q) + 32 j rows (the swizzled piece q ^ (row & 7) is the same
 * for the four rows).  a_src / b_src: piece q of row r0 of part 0 / of W (k 0);
 * arow[j] / brow[j]: row r0 + 32 j exists (below m / n); a missing row, and a
 * W piece at or past k, is zero-filled without reading. */
template <int P>
static __device__ __forceinline__ void fw_load_chunk(unsigned char *gbase,
                                                     const uint16_t *__restrict__ a_src,
                                                     int64_t pstride, int64_t kp,
                                                     const uint16_t *__restrict__ b_src, int64_t k,
                                                     uint32_t dst0, const bool (&arow)[4],
                                                     const bool (&brow)[4], int q, int64_t c) {
  const int64_t k0 = c * FW_KC;
#pragma unroll
  for (int p = 0; p < P; p++) {
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const uint16_t *src = a_src + (int64_t)p * pstride + (int64_t)j * FW_ROWS_PER_PASS * kp + k0;
      cp_async16(gbase + p * FW_TILE_A + dst0 + j * FW_ROWS_PER_PASS * LC_WG_ROW_BYTES,
                 arow[j] ? src : a_src, arow[j]);
    }
  }
  const bool kin = k0 + q * 8 < k; /* k % 8 == 0: the piece is wholly inside or past k */
#pragma unroll
  for (int j = 0; j < 4; j++) {
    const bool ok = brow[j] && kin;
    const uint16_t *src = b_src + (int64_t)j * FW_ROWS_PER_PASS * k + k0;
    cp_async16(gbase + P * FW_TILE_A + dst0 + j * FW_ROWS_PER_PASS * LC_WG_ROW_BYTES,
               ok ? src : b_src, ok);
  }
}

#endif /* LC_WGMMA_DEVICE */

template <int P>
__global__ void __launch_bounds__(FW_THREADS, 1)
    fast_wgmma_kernel(const uint16_t *__restrict__ parts, int64_t m, int64_t kp, int64_t k,
                      const uint16_t *__restrict__ w, int64_t n, const uint16_t *__restrict__ bias,
                      float *__restrict__ y) {
#if LC_WGMMA_DEVICE
  constexpr int S = fw_stages(P);
  constexpr int SB = fw_stage_bytes(P);
  extern __shared__ unsigned char fw_raw[];
  /* the stages from the first 1024-byte boundary of the window */
  const uint32_t raw_s = (uint32_t)__cvta_generic_to_shared(fw_raw);
  const uint32_t base_s = (raw_s + (LC_WG_ATOM - 1)) & ~(uint32_t)(LC_WG_ATOM - 1);
  unsigned char *base_g = fw_raw + (base_s - raw_s);

  const int tid = threadIdx.x, wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31;
  const int g = lane >> 2, t = lane & 3;
  const int64_t n0 = (int64_t)blockIdx.x * FW_BN, m0 = (int64_t)blockIdx.y * FW_BM;
  const int64_t nchunks = (k + FW_KC - 1) / FW_KC;
  const int64_t pstride = m * kp; /* one part's [m][kp] */

  /* this thread's copies: piece q of rows r0 + 32 j of every tile */
  const int q = tid & 7, r0 = tid >> 3;
  const uint32_t dst0 = lc_wg_off(r0, q);
  bool arow[4], brow[4];
#pragma unroll
  for (int j = 0; j < 4; j++) {
    arow[j] = m0 + r0 + j * FW_ROWS_PER_PASS < m;
    brow[j] = n0 + r0 + j * FW_ROWS_PER_PASS < n;
  }
  const uint16_t *a_src = parts + (arow[0] ? (m0 + r0) * kp : 0) + q * 8;
  const uint16_t *b_src = w + (brow[0] ? (n0 + r0) * k : 0) + q * 8;

  float tot[64], seg[64];
#pragma unroll
  for (int i = 0; i < 64; i++) tot[i] = seg[i] = 0.0f;

#pragma unroll
  for (int s = 0; s < S - 1; s++) {
    if (s < nchunks)
      fw_load_chunk<P>(base_g + s * SB, a_src, pstride, kp, b_src, k, dst0, arow, brow, q, s);
    cp_async_commit();
  }

  for (int64_t c = 0; c < nchunks; c++) {
    cp_async_wait<S - 2>();
    lc_fence_proxy_async();
    __syncthreads();
    const int st = (int)(c % S);
    const uint32_t stage_s = base_s + (uint32_t)(st * SB);
    float acc[64];
    {
#pragma unroll
      for (int i = 0; i < 64; i++) {
        acc[i] = 0.0f;
        lc_wg_reg_fence(acc[i]);
      }
      lc_wg_fence();
      const uint64_t db = lc_wg_desc(stage_s + P * FW_TILE_A);
#pragma unroll
      for (int p = P - 1; p >= 0; p--) {
        const uint64_t da =
            lc_wg_desc(stage_s + (uint32_t)(p * FW_TILE_A + wg * FW_WG_M * LC_WG_ROW_BYTES));
#pragma unroll
        for (int s = 0; s < 4; s++) /* step s: +32 s bytes, i.e. +2 s in the address field */
          lc_wgmma_m64n128(acc, da + (uint64_t)(2 * s), db + (uint64_t)(2 * s));
      }
      lc_wg_commit();
    }
    {
      const int64_t nc = c + S - 1;
      if (nc < nchunks)
        fw_load_chunk<P>(base_g + (int)(nc % S) * SB, a_src, pstride, kp, b_src, k, dst0, arow,
                         brow, q, nc);
      cp_async_commit();
    }
    {
      lc_wg_wait<0>();
#pragma unroll
      for (int i = 0; i < 64; i++) lc_wg_reg_fence(acc[i]);
      /* the chunk into its segment, a finished segment into the sum */
      const bool seg_first = c % FW_CPS == 0;
      const bool seg_last = c % FW_CPS == FW_CPS - 1 || c == nchunks - 1;
      const bool first_seg = c < FW_CPS;
#pragma unroll
      for (int i = 0; i < 64; i++) {
        seg[i] = seg_first ? acc[i] : seg[i] + acc[i];
        if (seg_last) tot[i] = first_seg ? seg[i] : tot[i] + seg[i];
      }
    }
  }
  cp_async_wait<0>();

  /* D fragment: tot[4 j + 2 h + e] at row 16 warp + g + 8 h, column 8 j + 2 t + e */
  const bool vec2 = (n & 1) == 0 && lc_aligned8(y);
#pragma unroll
  for (int h = 0; h < 2; h++) {
    const int64_t r = m0 + wg * FW_WG_M + warp * 16 + g + h * 8;
    if (r >= m) continue;
    float *yr = y + r * n;
#pragma unroll
    for (int j = 0; j < 16; j++) {
      const int64_t col = n0 + j * 8 + 2 * t;
      float v0 = tot[4 * j + 2 * h], v1 = tot[4 * j + 2 * h + 1];
      if (col + 1 < n && vec2) {
        if (bias) {
          v0 = v0 + lc_bf16_to_f32(bias[col]);
          v1 = v1 + lc_bf16_to_f32(bias[col + 1]);
        }
        *reinterpret_cast<float2 *>(yr + col) = make_float2(lc_canon_nan(v0), lc_canon_nan(v1));
      } else {
        if (col < n) {
          if (bias) v0 = v0 + lc_bf16_to_f32(bias[col]);
          yr[col] = lc_canon_nan(v0);
        }
        if (col + 1 < n) {
          if (bias) v1 = v1 + lc_bf16_to_f32(bias[col + 1]);
          yr[col + 1] = lc_canon_nan(v1);
        }
      }
    }
  }
#else
  (void)parts, (void)m, (void)kp, (void)k, (void)w, (void)n, (void)bias, (void)y;
#endif /* LC_WGMMA_DEVICE */
}

/* ======================================================================== */
/*  entries                                                                 */
/* ======================================================================== */

bool lc_matmul_fast_wgmma_available(void) {
  return lc_wgmma_image();
}

template <int P>
static lc_status fw_launch(const uint16_t *parts, int64_t m, int64_t kp, int64_t k,
                           const uint16_t *w, int64_t n, const uint16_t *bias, float *y,
                           cudaStream_t st, char *err, size_t err_len) {
  const int smem = fw_smem_bytes(P);
  cudaError_t e =
      cudaFuncSetAttribute(fast_wgmma_kernel<P>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (e != cudaSuccess) return lc_cuda_fail(e, "fast_wgmma_kernel smem", err, err_len);
  const dim3 grid((unsigned)((n + FW_BN - 1) / FW_BN), (unsigned)((m + FW_BM - 1) / FW_BM));
  fast_wgmma_kernel<P><<<grid, FW_THREADS, smem, st>>>(parts, m, kp, k, w, n, bias, y);
  return lc_launch_status("fast_wgmma_kernel", err, err_len);
}

lc_status lc_matmul_fast_run_wgmma(const uint16_t *parts, int64_t m, int64_t kp, int64_t k,
                                   const uint16_t *w, int64_t n, const uint16_t *bias, float *y,
                                   int parts_count, cudaStream_t st, char *err, size_t err_len) {
  if (m < 0 || k < 1 || n < 1) return mm_bad("wgmma: bad shape", err, err_len);
  if (parts_count != 1 && parts_count != 3)
    return mm_bad("wgmma: parts must be 1 or 3", err, err_len);
  if (kp != (k + FW_KC - 1) / FW_KC * FW_KC)
    return mm_bad("wgmma: kp must be k rounded up to 64", err, err_len);
  if (k % 8 != 0 || !lc_aligned16(w) || !lc_aligned16(parts))
    return mm_bad("wgmma: needs k % 8 == 0 and 16-byte aligned w and parts", err, err_len);
  if ((m + FW_BM - 1) / FW_BM > 65535) return mm_bad("wgmma: m too large", err, err_len);
  if (!lc_matmul_fast_wgmma_available()) {
    if (err && err_len)
      snprintf(err, err_len,
               "lc_kernels_matmul: wgmma path not available (no sm_90a code in this build, or the "
               "device is not compute capability 9.0)");
    return LC_ERR_UNSUPPORTED;
  }
  if (m == 0) return LC_OK;
  if (!parts || !w || !y) return mm_bad("wgmma: NULL tensor", err, err_len);
  if (parts_count == 3) return fw_launch<3>(parts, m, kp, k, w, n, bias, y, st, err, err_len);
  return fw_launch<1>(parts, m, kp, k, w, n, bias, y, st, err, err_len);
}

extern "C" lc_status lc_kernels_fast_wgmma_probe(int device, const uint16_t *parts_host, int64_t m,
                                                 int64_t k, const uint16_t *w_host, int64_t n,
                                                 const uint16_t *bias_host, float *y_host,
                                                 int parts, char *err, size_t err_len) {
  if (m < 1 || k < 1 || n < 1 || (parts != 1 && parts != 3) || !parts_host || !w_host || !y_host) {
    if (err && err_len) snprintf(err, err_len, "lc_kernels_fast_wgmma_probe: bad arguments");
    return LC_ERR_INVALID_ARGUMENT;
  }
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return lc_cuda_fail(e, "cudaSetDevice", err, err_len);
  const int64_t kp = (k + FW_KC - 1) / FW_KC * FW_KC;
  const size_t pb = (size_t)parts * (size_t)(m * kp) * 2, wb = (size_t)(n * k) * 2,
               bb = bias_host ? (size_t)n * 2 : 0, yb = (size_t)(m * n) * 4;
  uint16_t *dp = NULL, *dw = NULL, *dbias = NULL;
  float *dy = NULL;
  e = cudaMalloc(&dp, pb);
  if (e == cudaSuccess) e = cudaMalloc(&dw, wb);
  if (e == cudaSuccess && bb) e = cudaMalloc(&dbias, bb);
  if (e == cudaSuccess) e = cudaMalloc(&dy, yb);
  if (e == cudaSuccess) e = cudaMemcpy(dp, parts_host, pb, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMemcpy(dw, w_host, wb, cudaMemcpyHostToDevice);
  if (e == cudaSuccess && bb) e = cudaMemcpy(dbias, bias_host, bb, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMemset(dy, 0xFF, yb); /* NaN: an unwritten output shows */
  lc_status st = LC_OK;
  if (e == cudaSuccess) {
    st = lc_matmul_fast_run_wgmma(dp, m, kp, k, dw, n, dbias, dy, parts, 0, err, err_len);
    if (st == LC_OK) e = cudaDeviceSynchronize();
  }
  if (e == cudaSuccess && st == LC_OK) e = cudaMemcpy(y_host, dy, yb, cudaMemcpyDeviceToHost);
  cudaFree(dp);
  cudaFree(dw);
  cudaFree(dbias);
  cudaFree(dy);
  if (e != cudaSuccess) return lc_cuda_fail(e, "lc_kernels_fast_wgmma_probe", err, err_len);
  return st;
}
