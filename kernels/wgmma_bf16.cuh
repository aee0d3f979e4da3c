/*
 * kernels/wgmma_bf16.cuh — the Hopper warpgroup MMA (wgmma.mma_async, sm_90a
 * only) as the fast order uses it, shared by the wgmma tiled kernel
 * (kernels/matmul_fast_wgmma.cu), the swap-AB wgmma decode kernel
 * (kernels/matmul_fast_wgmma_decode.cu: W as A, the x parts as B with N = 8,
 * 16, 32 or 64) and the probe that checks it against the CPU model
 * (kernels/mma_probe.cu).  Header-only and file-local, like
 * kernels/mma_bf16.cuh.
 *
 * LC_WGMMA_DEVICE is 1 only while nvcc compiles device code for an
 * arch-specific sm_90a target (__CUDA_ARCH_FEAT_SM90_ALL); wgmma exists
 * nowhere else, so every use sits under `#if LC_WGMMA_DEVICE` and a plain
 * sm_90 build compiles the same files with empty kernels.  lc_wgmma_image()
 * tells the host which of the two the current device loaded.
 *
 * d = wgmma.mma_async.sync.aligned.m64nNk16.f32.bf16.bf16(A, B, d), both
 * operands in shared memory behind matrix descriptors, one warpgroup (4 warps,
 * 128 threads) per instruction, scale-d = 1 (d is always an input: the fast
 * order's +0 accumulator is written into the registers, never scale-d = 0),
 * imm-scale-a = imm-scale-b = 1, no transpose (both operands K-major).
 *
 * Shared memory (both operands, "K-major, 128-byte swizzle"): a tile of R rows
 * (A: M rows; B: N rows, i.e. the N columns of the MMA's B) by 64 bf16 of k,
 * row r at r * 128 bytes, its 16-byte piece q (k 8q .. 8q+7) at piece q ^ (r & 7)
 * of the row; the tile starts on a 1024-byte boundary, so one group of 8 rows
 * is one 1024-byte swizzle atom and the XOR equals the hardware's (address
 * bits 4-6 ^= bits 7-9).  The 16-k step s (0..3) of the tile is the descriptor
 * whose start address is tile + 32 s: the hardware applies the swizzle to the
 * address it forms, so the step's two pieces 2s and 2s+1 of each row are found
 * where the XOR put them.
 *
 * Matrix descriptor (64 bits; PTX ISA "matrix descriptor format" of wgmma):
 *   bits  0-13  start address >> 4 (shared window address, 16-byte aligned)
 *   bits 16-29  leading-dimension byte offset >> 4: 1 (16 bytes).  Not used by
 *               a K-major swizzled layout whose 16 k fit in one atom row (the
 *               two 16-byte pieces of a row are adjacent before the swizzle);
 *               1 is the value CUTLASS's make_gmma_desc<K> gives for B128
 *   bits 32-45  stride-dimension byte offset >> 4: 1024 >> 4 = 64, from one
 *               group of 8 rows (M or N) to the next
 *   bits 49-51  matrix base offset: 0 (every atom starts 1024-aligned; the
 *               32 s step offset stays inside address bits 4-6)
 *   bits 62-63  layout: 1 = 128-byte swizzle
 *
 * Accumulator fragment (m64nNk16, f32): thread l of the warpgroup, warp
 * w = l / 32, g = (l % 32) / 4, t = l % 4, holds N/2 floats; d[v] is
 *   row 16 w + g + 8 ((v / 2) % 2),  column 8 (v / 4) + 2 t + (v % 2)
 * i.e. the m16n8 fragment of mma.sync repeated over N/8 column blocks, each
 * warp on its own 16 rows (PTX ISA "wgmma .m64nNk16 register fragment layout
 * for accumulator matrix D"; CUTLASS cute/atom/mma_traits_sm90_gmma.hpp
 * CLayout_64xN = ((4,8,4),(2,2,N/8)):((128,1,16),(64,8,512)) over the
 * column-major 64 x N tile says the same).
 *
 * What one output computes: docs/numerics.md 10.2, the same model as
 * mma.sync's (per element, symmetric in the 16 terms); tests/test_cuda_mma.c
 * checks both instructions against it.
 */
#ifndef LC_WGMMA_BF16_CUH
#define LC_WGMMA_BF16_CUH

#include <cuda_runtime.h>
#include <stdint.h>

#include <atomic>

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define LC_WGMMA_DEVICE 1
#else
#define LC_WGMMA_DEVICE 0
#endif

#define LC_WG_ROW_BYTES 128 /* one row of 64 bf16 */
#define LC_WG_ATOM 1024     /* 8 rows: one swizzle atom; tiles start on it */

/* Byte offset in a tile of 16-byte piece q (0..7) of row r. */
static __host__ __device__ __forceinline__ uint32_t lc_wg_off(int r, int q) {
  return (uint32_t)(r * LC_WG_ROW_BYTES + ((q ^ (r & 7)) << 4));
}

/* The descriptor of a K-major, 128-byte swizzled operand at shared address
 * `saddr` (see above; saddr = tile + 32 * step). */
static __device__ __forceinline__ uint64_t lc_wg_desc(uint32_t saddr) {
  return (uint64_t)((saddr & 0x3FFFFu) >> 4)   /* bits 0-13: start address */
         | ((uint64_t)1 << 16)                 /* bits 16-29: LBO 16 bytes (unused) */
         | ((uint64_t)(LC_WG_ATOM >> 4) << 32) /* bits 32-45: SBO 1024 bytes */
         | ((uint64_t)1 << 62);                /* bits 62-63: 128-byte swizzle */
}

/* 1 in the device code of an sm_90a image, 0 in every other image: the host
 * reads it (lc_wgmma_image) to learn which one the current device runs. */
static __device__ int lc_wgmma_image_flag = LC_WGMMA_DEVICE;

/* Whether the current device runs this file's sm_90a image (compute
 * capability 9.0 and the image has the wgmma code).  Reads the flag once per
 * device (a synchronous copy) and remembers it; clears the error a failed
 * read leaves, so that no later launch check reports it. */
static inline bool lc_wgmma_image(void) {
  static std::atomic<signed char> known[64]; /* 0 unknown, 1 yes, -1 no */
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  if (dev < 0 || dev >= 64) return false;
  const signed char k = known[dev].load(std::memory_order_relaxed);
  if (k) return k > 0;
  int major = 0, minor = 0, flag = 0;
  cudaError_t e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
  if (e == cudaSuccess && major == 9 && minor == 0)
    e = cudaMemcpyFromSymbol(&flag, lc_wgmma_image_flag, sizeof flag);
  if (e != cudaSuccess) (void)cudaGetLastError();
  const bool ok = e == cudaSuccess && major == 9 && minor == 0 && flag == 1;
  known[dev].store(ok ? 1 : -1, std::memory_order_relaxed);
  return ok;
}

#if LC_WGMMA_DEVICE

/* Orders this thread's register writes (the accumulator) before the
 * warpgroup's next wgmma.mma_async. */
static __device__ __forceinline__ void lc_wg_fence(void) {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
static __device__ __forceinline__ void lc_wg_commit(void) {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
/* Waits until at most N committed groups of the warpgroup are pending. */
template <int N>
static __device__ __forceinline__ void lc_wg_wait(void) {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
/* Makes this thread's generic-proxy writes to shared memory (st.shared,
 * cp.async) visible to the async proxy that wgmma reads through (and orders
 * the async proxy's reads before later generic writes). */
static __device__ __forceinline__ void lc_fence_proxy_async(void) {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
/* A compiler-only barrier on one register: its value is taken to change
 * here, so no use of it moves above (and no write of it below) the point. */
static __device__ __forceinline__ void lc_wg_reg_fence(float &r) {
  asm volatile("" : "+f"(r)::"memory");
}

/* d[0..3] = MMA(A, B, d): m64n8k16, A 64 x 16 and B 8 x 16 (N rows of k). */
static __device__ __forceinline__ void lc_wgmma_m64n8(float (&d)[4], uint64_t da, uint64_t db) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {%0, %1, %2, %3}, %4, %5, p, 1, 1, 0, "
      "0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "l"(da), "l"(db)
      : "memory");
}

#define LC_WG_F8(i)                                                                           \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), \
      "+f"(d[i + 6]), "+f"(d[i + 7])

/* d[0..7] = MMA(A, B, d): m64n16k16, A 64 x 16 and B 16 x 16. */
static __device__ __forceinline__ void lc_wgmma_m64n16(float (&d)[8], uint64_t da, uint64_t db) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7}, %8, %9, p, 1, 1, 0, 0;\n}\n"
      : LC_WG_F8(0)
      : "l"(da), "l"(db)
      : "memory");
}

/* d[0..15] = MMA(A, B, d): m64n32k16, A 64 x 16 and B 32 x 16. */
static __device__ __forceinline__ void lc_wgmma_m64n32(float (&d)[16], uint64_t da, uint64_t db) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, "
      "%16, %17, p, 1, 1, 0, 0;\n}\n"
      : LC_WG_F8(0), LC_WG_F8(8)
      : "l"(da), "l"(db)
      : "memory");
}

/* d[0..31] = MMA(A, B, d): m64n64k16, A 64 x 16 and B 64 x 16. */
static __device__ __forceinline__ void lc_wgmma_m64n64(float (&d)[32], uint64_t da, uint64_t db) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "%32, %33, p, 1, 1, 0, 0;\n}\n"
      : LC_WG_F8(0), LC_WG_F8(8), LC_WG_F8(16), LC_WG_F8(24)
      : "l"(da), "l"(db)
      : "memory");
}

/* d[0..63] = MMA(A, B, d): m64n128k16, A 64 x 16 and B 128 x 16. */
static __device__ __forceinline__ void lc_wgmma_m64n128(float (&d)[64], uint64_t da, uint64_t db) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "%64, %65, p, 1, 1, 0, 0;\n}\n"
      : LC_WG_F8(0), LC_WG_F8(8), LC_WG_F8(16), LC_WG_F8(24), LC_WG_F8(32), LC_WG_F8(40),
        LC_WG_F8(48), LC_WG_F8(56)
      : "l"(da), "l"(db)
      : "memory");
}
#undef LC_WG_F8

/* The m64nNk16 of the accumulator's size, N = 2 x its floats (8, 16, 32, 64,
 * 128): templates over N call this one name. */
static __device__ __forceinline__ void lc_wgmma_m64nN(float (&d)[4], uint64_t da, uint64_t db) {
  lc_wgmma_m64n8(d, da, db);
}
static __device__ __forceinline__ void lc_wgmma_m64nN(float (&d)[8], uint64_t da, uint64_t db) {
  lc_wgmma_m64n16(d, da, db);
}
static __device__ __forceinline__ void lc_wgmma_m64nN(float (&d)[16], uint64_t da, uint64_t db) {
  lc_wgmma_m64n32(d, da, db);
}
static __device__ __forceinline__ void lc_wgmma_m64nN(float (&d)[32], uint64_t da, uint64_t db) {
  lc_wgmma_m64n64(d, da, db);
}
static __device__ __forceinline__ void lc_wgmma_m64nN(float (&d)[64], uint64_t da, uint64_t db) {
  lc_wgmma_m64n128(d, da, db);
}

#endif /* LC_WGMMA_DEVICE */

#endif /* LC_WGMMA_BF16_CUH */
