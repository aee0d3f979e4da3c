/*
 * kernels/matmul_common.cuh — what the matmul kernels of matmul_decode.cu and
 * matmul_tiled.cu share, and the host functions by which kernels/matmul.cu
 * (the entry, the path choice and the combine) reaches them (and
 * kernels/matmul_fast.cu the wgmma paths of kernels/matmul_fast_wgmma.cu and
 * kernels/matmul_fast_wgmma_decode.cu).
 *
 * Device helpers, header-only and inline, so each including file gets its own
 * copy and no relocatable device code is needed:
 *   fma_chunk          8 steps of the canonical segment chain: for the 8 k of a
 *                      chunk ascending, acc[r] = __fmaf_rn(x[r][k], widen(w[k]),
 *                      acc[r]) for MB x rows side by side; bf16 becomes fp32 here
 *                      (bf16_lo, bf16_hi: exact, a shift of the staged bits);
 *   neg_zero           -0.0f, the x padding past k (fma(-0, +0, acc) == acc);
 *   cp_async16, cp_async16_pf256, cp_async4, cp_async_commit, cp_async_wait
 *                      global -> shared copies (cp.async);
 *   (griddep_launch_dependents, griddep_wait: kernels/lc_cuda_common.cuh).
 * Host: MM_SEG (LC_MATMUL_SEG_LEN, 256: where every path cuts k into
 * segments), MM_WS_BUDGET, mm_nseg, mm_bad, and the functions one file of the
 * op calls in another (C++ linkage, hidden like every symbol of kernels/).
 * Shapes, dtypes and the order: kernels/matmul.cu.  Benchmark: bench/bench_matmul.
 */
#ifndef LC_MATMUL_COMMON_CUH
#define LC_MATMUL_COMMON_CUH

#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_canon.h"
#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"

#define MM_SEG LC_MATMUL_SEG_LEN /* 256 */

/* Workspace bound: decode rows per slice are cut so that nseg * rows * n * 4
 * stays within this (but at least DEC_GROUP rows); the tiled path splits by
 * segment only when its workspace fits. */
#define MM_WS_BUDGET ((int64_t)256 << 20)

#if MM_SEG != 256
#error "the matmul kernels assume LC_MATMUL_SEG_LEN == 256 (decode: 32 chunks of 8 bf16)"
#endif

/* ---- device helpers ---------------------------------------------------------*/

/* The two bf16 of a 32-bit word (element k in the low half, k+1 in the high
 * half: little endian), widened exactly. */
static __device__ __forceinline__ float bf16_lo(uint32_t u) {
  return __uint_as_float(u << 16);
}
static __device__ __forceinline__ float bf16_hi(uint32_t u) {
  return __uint_as_float(u & 0xFFFF0000u);
}

/* -0.0f: the x padding past k (fma(-0, +0, acc) == acc for every acc). */
static __device__ __forceinline__ float neg_zero(void) {
  return __uint_as_float(0x80000000u);
}

/* 16-byte global -> shared copy; with valid == false nothing is read and the
 * 16 bytes are zero-filled (cp.async's src-size 0). */
static __device__ __forceinline__ void cp_async16(void *smem, const void *gmem, bool valid) {
  unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  int src_size = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_size)
               : "memory");
}
/* As cp_async16, and asks L2 to fetch the whole 256-byte block around the
 * source (the next chunk of a streamed row arrives with this one). */
static __device__ __forceinline__ void cp_async16_pf256(void *smem, const void *gmem, bool valid) {
  unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  int src_size = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global.L2::256B [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem),
               "r"(src_size)
               : "memory");
}
/* 4-byte global -> shared copy (through L1). */
static __device__ __forceinline__ void cp_async4(void *smem, const void *gmem) {
  unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(s), "l"(gmem) : "memory");
}
static __device__ __forceinline__ void cp_async_commit(void) {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
static __device__ __forceinline__ void cp_async_wait(void) {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

/* ---- the chain step --------------------------------------------------------*/

/* One chunk (8 k) of a thread's chains: acc[r] = fma(x[r][kk], w[kk], acc[r])
 * for the chunk's 8 kk ascending.  wv: the thread's 8 bf16 of W; xs: x in
 * shared memory as float4, row r at xs[r * XS4], the chunk's 8 floats at
 * float4 2c and 2c + 1 of the row (broadcast reads). */
template <int MB, int XS4>
static __device__ __forceinline__ void fma_chunk(float (&acc)[MB], const uint4 wv, const float4 *xs,
                                                 int c) {
  const float wf[8] = {bf16_lo(wv.x), bf16_hi(wv.x), bf16_lo(wv.y), bf16_hi(wv.y),
                       bf16_lo(wv.z), bf16_hi(wv.z), bf16_lo(wv.w), bf16_hi(wv.w)};
#pragma unroll
  for (int r = 0; r < MB; r++) {
    const float4 xa = xs[r * XS4 + 2 * c];
    const float4 xb = xs[r * XS4 + 2 * c + 1];
    float a = acc[r];
    a = __fmaf_rn(xa.x, wf[0], a);
    a = __fmaf_rn(xa.y, wf[1], a);
    a = __fmaf_rn(xa.z, wf[2], a);
    a = __fmaf_rn(xa.w, wf[3], a);
    a = __fmaf_rn(xb.x, wf[4], a);
    a = __fmaf_rn(xb.y, wf[5], a);
    a = __fmaf_rn(xb.z, wf[6], a);
    a = __fmaf_rn(xb.w, wf[7], a);
    acc[r] = a;
  }
}

/* ---- host: shared by the three files ------------------------------------------*/

static inline lc_status mm_bad(const char *msg, char *err, size_t err_len) {
  if (err && err_len) snprintf(err, err_len, "lc_kernels_matmul: %s", msg);
  return LC_ERR_INVALID_ARGUMENT;
}

static inline int64_t mm_nseg(int64_t k) {
  return (k + MM_SEG - 1) / MM_SEG;
}

/* kernels/matmul.cu: queues matmul_combine_kernel on st, y[i] = ((p[0][i] +
 * p[1][i]) + ...) + bias over [rows][n] from part [nseg][rows][n], launched so
 * that it may start while the kernel before it finishes (programmatic
 * dependent launch). */
cudaError_t lc_matmul_launch_combine(const float *part, int64_t rows, int64_t n, int64_t nseg,
                                     const uint16_t *bias, float *y, cudaStream_t st);

/* kernels/matmul_decode.cu: the DECODE path for the whole call, and the rows
 * per decode launch (lc_kernels_matmul_workspace sizes the workspace by it). */
lc_status lc_matmul_run_decode(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                               const uint16_t *bias, float *y, void *ws, size_t ws_bytes,
                               cudaStream_t st, char *err, size_t err_len);
int64_t lc_matmul_decode_slice_rows(int64_t m, int64_t k, int64_t n);

/* kernels/matmul_tiled.cu: the TILED path for the whole call, and whether it
 * splits k by segment (then it needs nseg * m * n floats of workspace). */
lc_status lc_matmul_run_tiled(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                              const uint16_t *bias, float *y, void *ws, size_t ws_bytes,
                              cudaStream_t st, char *err, size_t err_len);
bool lc_matmul_tiled_split(int64_t m, int64_t k, int64_t n);

/* kernels/matmul_fast_wgmma.cu: the fast order's TILED path on wgmma (sm_90a):
 * y from the parts the split wrote (parts [parts_count][m][kp], kp = k rounded
 * up to 64), bitwise fast_tiled_kernel's.  Needs k % 8 == 0, 16-byte aligned w
 * and parts, and lc_matmul_fast_wgmma_available() (an sm_90a image on a
 * compute capability 9.0 device); LC_ERR_UNSUPPORTED without it. */
bool lc_matmul_fast_wgmma_available(void);
lc_status lc_matmul_fast_run_wgmma(const uint16_t *parts, int64_t m, int64_t kp, int64_t k,
                                   const uint16_t *w, int64_t n, const uint16_t *bias, float *y,
                                   int parts_count, cudaStream_t st, char *err, size_t err_len);

/* kernels/matmul_fast_wgmma_decode.cu: the fast order's WGMMA_DECODE path
 * (swap-AB wgmma, W as A, the x parts as B; sm_90a) for 1 <= m <=
 * LC_FAST_WGMMA_DECODE_MAX_M: y from the parts, bitwise the other fast kernels.
 * K is split across blocks at segment boundaries when the shape asks for it;
 * then every segment's sum goes to `part` [nseg][m][n] (part_bytes, at least
 * lc_matmul_fast_wgmma_decode_split_bytes: 0 when unsplit) and
 * lc_matmul_launch_combine finishes y.  Needs k % 8 == 0, 16-byte aligned w
 * and parts, and an sm_90a image on a 9.0 device (LC_ERR_UNSUPPORTED
 * otherwise). */
#define LC_FAST_WGMMA_DECODE_MAX_M 64
size_t lc_matmul_fast_wgmma_decode_split_bytes(int64_t m, int64_t k, int64_t n);
lc_status lc_matmul_fast_run_wgmma_decode(const uint16_t *parts, int64_t m, int64_t kp, int64_t k,
                                          const uint16_t *w, int64_t n, const uint16_t *bias,
                                          float *y, int parts_count, float *part, size_t part_bytes,
                                          cudaStream_t st, char *err, size_t err_len);

#endif /* LC_MATMUL_COMMON_CUH */
