/*
 * kernels/matmul.cu — y[m][n] = x[m][k] W[n][k]^T (+ bias[n]) on the GPU, strict.
 *
 * Shapes and dtypes: x [m][k] fp32, W [n][k] bf16 (uint16_t bits), bias NULL or
 * [n] bf16, y [m][n] fp32, all device memory; m, k, n >= 1 of any size (no
 * multiple of a tile is assumed; m up to 2^31 - 1: every grid is 1-D).  bf16
 * becomes fp32 (exactly: a shift) in registers after the bf16 bits were staged in
 * shared memory; no fp32 copy of W exists anywhere.  Bitwise equal to
 * cpu_ref/matmul.c lc_cpu_matmul_strict: for every (m, n) exactly
 *
 *   for s = 0 .. ceil(k/256)-1:  acc = +0;
 *       for kk in segment s ascending: acc = __fmaf_rn(x[m][kk], widen(w[n][kk]), acc)
 *       y = (s == 0) ? acc : y + acc
 *   if bias: y = y + widen(bias[n]);   store lc_canon_nan(y)
 *
 * The order names only k, the segment and n's own data: not m, not the batch, not
 * the tile or block that ran it, not the path, not the GPU; so a row's result is
 * the same bits in any batch, at any position, on either path, on any device.
 * Where the chains of one segment are cut short by the end of k, the missing
 * steps are padded as fma(-0, +0, acc), which equals acc for every acc (+0 and
 * -0 included: -0 is the additive identity), so no path needs a tail loop.
 *
 * Two paths (lc_kmatmul_path); AUTO takes DECODE for m <= MM_DECODE_MAX_M (32:
 * measured crossover on an H100, where both run ~100 us at 4096 x 4096) and
 * TILED above.  Segment results, where a path splits k, go to the workspace
 * [nseg][m][n] and matmul_combine_kernel adds them in ascending s, adds the bias
 * and canonicalises NaN; it is launched with programmatic dependent launch so its
 * launch overlaps the first kernel's tail.
 *
 * DECODE (small m; the bytes of W are the cost).  Block = DEC_ROWS (64) W rows x
 * one 256-element segment, 64 threads, s fastest in blockIdx.  The block copies
 * its [64][256] bf16 tile into shared memory with 16-byte cp.async (a warp
 * instruction copies 4 rows x 128 contiguous bytes; rows padded to 528 bytes so
 * that the 16-byte reads below hit 8 different bank quads; four commit groups so
 * the first quarter is computed while the rest lands) and the x segment of up to
 * 16 rows the same way; thread t then runs the fma chains of W row n0 + t for all
 * staged x rows side by side (MB = 1, 2, 4, 8 or 16 accumulators in registers),
 * reading its row 8 bf16 at a time and x as broadcasts.  More than 16 rows: the
 * block loops over groups of 16 on the same W tile.  k <= 256: one segment, the
 * kernel writes y itself.  The workspace is bounded by MM_WS_BUDGET: beyond it
 * the rows go in slices (each slice re-reads W).  Measured (H100 SXM, bench
 * harness of bench/, median): M = 1 at 4096 x 4096 19.4 us (cuBLASLt bf16 22.5),
 * 14336 x 4096 49.5 us (47.6), 4096 x 14336 53.9 (50.8), 8192 x 8192 56.7 (53.3),
 * 128256 x 4096 376 us = 2.79 TB/s (380); decode kernel alone at 4096 x 4096
 * 15.6 us (ncu), the rest is the combine and the gap; M = 16 at 4096 x 4096
 * 64 us (shared-memory reads of x bound: 1 LDS.128 per 4 FFMA).
 *
 * DECODE, streaming (m <= 16, k % 8 == 0, x and w 16-byte aligned; the other
 * decode shapes take the kernel above).  Block = 32 W rows x a group of
 * consecutive segments, 8 warps (m = 1) or 4 (m = 2..16) taking the group's
 * segments round-robin; each warp streams its segments in quarters of 64 k
 * through a private ring of 4 cp.async slots (3 quarters in flight while one is
 * computed), so there is no load-then-compute pause per tile and no partial
 * last wave of short blocks.  The W copies carry the L2::256B prefetch hint: a
 * row's next quarter is on its way to L2 with the current one, which doubles
 * the bytes in flight per warp.  Measured (H100, bench harness, median, M = 1;
 * variants warps x hint, 2026-11-23): 4096^2 17.82 us (4 warps, no hint) ->
 * 16.69 (8, hint); 8192^2 54.83 -> 50.27 (cuBLASLt bf16 53.10); 4096 x 14336
 * 47.20 -> 45.02 (50.43).  At m = 4 the 4-warp, hinted kernel was the fastest.
 * m = 5..16 (8 or 16 chains per lane) came to this kernel from the one above:
 * M = 16, 4096^2 57.97 -> 41.66 us, 4096 x 14336 135.3 -> 128.1, 8192^2 150.5 ->
 * 142.3 (cuBLASLt bf16 22.6, 52.6, 54.5): with 16 chains the block's ring is
 * 139 KiB, one block (4 warps) per SM, too few warps to hide the shared-memory
 * latency of the x reads; the next step for m > 4 is more warps per SM.
 * A fit over the two square shapes gives ~5.5 us of fixed cost per call (launch
 * gap, DRAM ramp, tail) and 2.86 TB/s marginal, which is why 4096^2 (32 MiB)
 * stays near 2.0 TB/s.  On an H200 (2026-12-03, probe timings, M = 1):
 * 4096^2 13.98 us per call where a kernel that only reads the same 32 MiB
 * (lc_kernels_stream_read, best of 12 grid shapes) takes 11.55 us; 8192^2
 * 39.58 us against 33.47 us (ncu: 3.5 TB/s of DRAM against 4.1).  Variants
 * measured there and not kept, all bitwise equal to this kernel: 4 or 16
 * warps, 2, 3 or 6 ring slots, quarters of 128 k; the W copies as TMA bulk
 * copies (cp.async.bulk, one per row and quarter, on an mbarrier) in five
 * shapes (8192^2 39.2 - 40.9 us; one of them, 2 warps x 256 k x 3 slots, two
 * blocks per SM, gave 14336 x 4096 35.7 us against 39.8); and a chain-major
 * order in which each warp reads 16 KiB of consecutive memory per pass
 * (lane = (row, segment)): 43.0 us at 8192^2, slower; and an L2 prefetch of
 * each warp's next segment or the one after (cp.async.bulk.prefetch.L2, 512 B
 * per row) on top of this kernel: 8192^2 48.5 us, much slower.
 * The split depends on the shape only (mm_ds_plan): one group (all of k) unless
 * that gives fewer than 128 blocks or its segment results exceed 16 KiB of shared
 * memory (k > 128/mb segments); with one group the block adds its segment results
 * in ascending order itself (+ bias, canon: no workspace touched, no combine
 * kernel), else the segment results go to the workspace and the combine kernel
 * adds them as above.  The workspace size stays that of the decode path (the
 * streaming kernel needs at most that; which kernel runs depends on alignment).
 *
 * TILED (larger m; FMA bound).  SGEMM-style: 128 x 128 outputs per block of 256
 * threads, 8 x 8 per thread (2 x 2 sub-tiles of 4 x 4: each k step reads 4
 * float4 from shared memory for 64 FFMA), k tile TL_K = 16 (divides 256, so
 * segments end on tile boundaries).  x and W tiles are copied raw into a staging
 * area with 16-byte cp.async while the previous tile is computed; after the
 * compute each thread converts the chunks it copied itself (x transposed, W
 * widened) into the k-major fp32 tiles of the other half of a double buffer, so
 * one barrier per k tile and no registers held across the compute.  (Loading
 * into registers instead, ptxas sank the loads to the end of the compute under
 * the 128-register cap: 38 TFLOP/s.)  Two accumulator sets: the running segment
 * in 64 registers and y in shared memory (64 floats per thread, private to the
 * thread), y = seg or y = y + seg at each segment end, seg reset to +0; the last
 * segment is added in registers before the bias, canon and store.  128 registers,
 * 109 KiB of shared memory, two blocks per SM, no spills.  Fewer than
 * TL_SPLIT_TILES output tiles (small m): one block per (tile, segment) writing
 * the segment raw to the workspace, then the combine kernel (when the workspace
 * fits MM_WS_BUDGET), so small m still fills the GPU.  k % 8 != 0 or unaligned x,
 * w: scalar loads through registers (slower, same bits).  Measured: m = 4096,
 * n = 14336, k = 4096 43.2 TFLOP/s = 0.85x cuBLASLt SGEMM on a pre-widened W
 * (51.0); 4096^3 42.5 (50.8); m = 64, n = 4096, k = 4096 115 us.
 *
 * The grids depend on the shapes only.  No atomics.  Every output element is
 * written exactly once, by the last kernel of the call.
 * Benchmark: bench/bench_matmul (bench/run.sh); tests: tests/test_cuda_matmul.c.
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_canon.h"
#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"

#define MM_SEG LC_MATMUL_SEG_LEN /* 256 */

/* AUTO takes the decode path for m <= this. */
#define MM_DECODE_MAX_M 32

/* ---- decode path parameters ---------------------------------------------- */
#define DEC_ROWS 64              /* W rows per block = threads per block */
#define DEC_GROUP 16             /* x rows whose chains one thread runs together */
#define DEC_WSTRIDE (MM_SEG + 8) /* bf16 per shared W row: 528 B = 33 x 16 B */
/* Workspace bound: decode rows per slice are cut so that nseg * rows * n * 4
 * stays within this (but at least DEC_GROUP rows); the tiled path splits by
 * segment only when its workspace fits. */
#define MM_WS_BUDGET ((int64_t)256 << 20)
/* streaming decode (matmul_decode_stream_kernel): m <= DS_MAX_M, k % 8 == 0,
 * x and w 16-byte aligned */
#define DS_MAX_M 16
#define DS_ROWS 32              /* W rows per block = lanes of a warp */
#define DS_WARPS 4              /* warps per block, round-robin over segments (m = 2..4) */
#define DS_WARPS_M1 8           /* the same for m = 1 */
#define DS_QK 64                /* k per quarter (8 chunks of 8 bf16) */
#define DS_QPS (MM_SEG / DS_QK) /* quarters per segment */
#define DS_CPR (DS_QK / 8)      /* 16-byte chunks per W row in a quarter */
#define DS_STAGES 4             /* quarter slots per warp (3 in flight) */
#define DS_WSTRIDE (DS_QK + 8)  /* bf16 per W row in a slot: 144 B = 9 x 16 B */
#define DS_TARGET_BLOCKS 128    /* split k into groups below this many blocks */
#define DS_PART_BYTES 16384     /* one group: the segment results in shared memory */
#define COMBINE_THREADS 256
#define COMBINE_MAX_BLOCKS 4096

/* ---- tiled path parameters ----------------------------------------------- */
#define TL_M 128               /* block tile rows (m) */
#define TL_N 128               /* block tile columns (n) */
#define TL_K 16                /* k tile; divides MM_SEG */
#define TL_THREADS 256         /* 16 x 16 threads, 8 x 8 outputs each */
#define TL_PAD 4               /* floats of padding per shared row */
#define TL_LDA (TL_M + TL_PAD) /* As[k][m] row stride */
#define TL_LDB (TL_N + TL_PAD) /* Bs[k][n] row stride */
#define TL_TILES_PER_SEG (MM_SEG / TL_K)
#define TL_GROUP_M 8 /* block raster: 8 m-tiles share each n-tile pass (L2) */
/* Fewer output tiles than this (small m): one block per (tile, segment), the
 * segment results to the workspace and the combine kernel adds them, as on the
 * decode path; when the workspace fits MM_WS_BUDGET. */
#define TL_SPLIT_TILES 256
/* shared memory: As, Bs (fp32, double buffered), Ys (y, 64 floats per thread),
 * the raw staging of one x tile (fp32) and one W tile (bf16): 109 KiB, two
 * blocks per SM */
#define TL_SMEM_FLOATS (2 * TL_K * TL_LDA + 2 * TL_K * TL_LDB + 64 * TL_THREADS + TL_M * TL_K)
#define TL_SMEM_BYTES \
  ((size_t)TL_SMEM_FLOATS * sizeof(float) + (size_t)TL_N * TL_K * sizeof(uint16_t))

#if (MM_SEG % TL_K) != 0 || MM_SEG != 256
#error \
    "kernels/matmul.cu assumes LC_MATMUL_SEG_LEN == 256 (decode: 32 chunks of 8 bf16) and TL_K dividing it"
#endif

/* ======================================================================== */
/*  device helpers                                                          */
/* ======================================================================== */

/* The two bf16 of a 32-bit word (element k in the low half, k+1 in the high
 * half: little endian), widened exactly. */
__device__ __forceinline__ float bf16_lo(uint32_t u) {
  return __uint_as_float(u << 16);
}
__device__ __forceinline__ float bf16_hi(uint32_t u) {
  return __uint_as_float(u & 0xFFFF0000u);
}

/* -0.0f: the x padding past k (fma(-0, +0, acc) == acc for every acc). */
__device__ __forceinline__ float neg_zero(void) {
  return __uint_as_float(0x80000000u);
}

/* 16-byte global -> shared copy; with valid == false nothing is read and the
 * 16 bytes are zero-filled (cp.async's src-size 0). */
__device__ __forceinline__ void cp_async16(void *smem, const void *gmem, bool valid) {
  unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  int src_size = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_size)
               : "memory");
}
/* As cp_async16, and asks L2 to fetch the whole 256-byte block around the
 * source (the next chunk of a streamed row arrives with this one). */
__device__ __forceinline__ void cp_async16_pf256(void *smem, const void *gmem, bool valid) {
  unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  int src_size = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global.L2::256B [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem),
               "r"(src_size)
               : "memory");
}
/* 4-byte global -> shared copy (through L1). */
__device__ __forceinline__ void cp_async4(void *smem, const void *gmem) {
  unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(s), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_commit(void) {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void cp_async_wait(void) {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

/* Programmatic dependent launch (sm_90): the dependent grid may start its
 * launch once every block of this grid has passed launch_dependents; the
 * dependent's griddep_wait returns only when this grid has completed and its
 * memory is visible.  Both are no-ops without a PDL launch. */
__device__ __forceinline__ void griddep_launch_dependents(void) {
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
}
__device__ __forceinline__ void griddep_wait(void) {
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
}

/* ======================================================================== */
/*  DECODE path                                                             */
/* ======================================================================== */

/* One chunk (8 k) of a thread's chains: acc[r] = fma(x[r][kk], w[kk], acc[r])
 * for the chunk's 8 kk ascending.  wv: the thread's 8 bf16 of W; xs: x in
 * shared memory as float4, row r at xs[r * XS4], the chunk's 8 floats at
 * float4 2c and 2c + 1 of the row (broadcast reads). */
template <int MB, int XS4>
__device__ __forceinline__ void fma_chunk(float (&acc)[MB], const uint4 wv, const float4 *xs,
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

/* Eight chunks (64 k) of thread t's chains, chunks c0 .. c0+7 ascending.
 * wrow: the thread's W row in shared memory (uint4 = 8 bf16), xs: [MB][MM_SEG/4]
 * float4. */
template <int MB>
__device__ __forceinline__ void decode_chunks8(float (&acc)[MB], const uint4 *wrow,
                                               const float4 *xs, int c0) {
#pragma unroll
  for (int cc = 0; cc < 8; cc++) fma_chunk<MB, MM_SEG / 4>(acc, wrow[c0 + cc], xs, c0 + cc);
}

/* Queues xs[r][kk] = x[row0 + r][k0 + kk] for r < MB, kk < MM_SEG as cp.async
 * (not committed: the caller's next commit takes them); past the row count or
 * past k the value -0 is stored directly.  xvec: x rows are 16-byte aligned
 * and len % 4 == 0 (16-byte copies), else 4-byte copies. */
template <int MB>
__device__ __forceinline__ void decode_stage_x(float *xs, const float *__restrict__ x, int64_t rows,
                                               int64_t row0, int64_t k, int64_t k0, int len,
                                               bool xvec) {
  if (xvec) {
    float4 *xs4 = reinterpret_cast<float4 *>(xs);
    for (int i = threadIdx.x; i < MB * (MM_SEG / 4); i += blockDim.x) {
      const int r = i / (MM_SEG / 4), kk = (i % (MM_SEG / 4)) * 4;
      const int64_t row = row0 + r;
      if (row < rows && kk < len) {
        cp_async16(xs4 + i, x + row * k + k0 + kk, true);
      } else {
        const float nz = neg_zero();
        xs4[i] = make_float4(nz, nz, nz, nz);
      }
    }
  } else {
    for (int i = threadIdx.x; i < MB * MM_SEG; i += blockDim.x) {
      const int r = i / MM_SEG, kk = i % MM_SEG;
      const int64_t row = row0 + r;
      if (row < rows && kk < len) {
        cp_async4(xs + i, x + row * k + k0 + kk);
      } else {
        xs[i] = neg_zero();
      }
    }
  }
}

/* One block: W rows n0 .. n0+DEC_ROWS-1, segment s (blockIdx.x = tile * nseg + s),
 * all `rows` x rows in groups of MB (MB == DEC_GROUP when rows > DEC_GROUP).
 * direct (nseg == 1): out is y [rows][n], bias and canon applied here;
 * otherwise out is the workspace [nseg][rows][n] of segment results.
 * VEC: k % 8 == 0 and w 16-byte aligned (16-byte cp.async of whole chunks). */
template <int MB, bool VEC>
__global__ void __launch_bounds__(DEC_ROWS, 4)
    matmul_decode_kernel(const float *__restrict__ x, int64_t rows, int64_t k,
                         const uint16_t *__restrict__ w, int64_t n, int64_t nseg,
                         const uint16_t *__restrict__ bias, float *__restrict__ out, int direct,
                         int xvec) {
  extern __shared__ uint4 dec_smem[];
  uint16_t *wt = reinterpret_cast<uint16_t *>(dec_smem);              /* [DEC_ROWS][DEC_WSTRIDE] */
  float *xs = reinterpret_cast<float *>(wt + DEC_ROWS * DEC_WSTRIDE); /* [MB][MM_SEG] */

  griddep_launch_dependents();

  const int tid = threadIdx.x;
  const int64_t s = (int64_t)blockIdx.x % nseg;
  const int64_t n0 = ((int64_t)blockIdx.x / nseg) * DEC_ROWS;
  const int64_t k0 = s * MM_SEG;
  const int len = (int)(k - k0 < MM_SEG ? k - k0 : MM_SEG);

  /* ---- x group 0 and the W tile -> shared memory (x rides in commit group 0) */
  decode_stage_x<MB>(xs, x, rows, 0, k, k0, len, xvec != 0);
  if (VEC) {
    /* Quarter q = chunks 8q .. 8q+7 of every row; a warp instruction copies
     * 4 rows x 128 contiguous bytes.  One commit group per quarter. */
    const int lane = tid & 31, warp = tid >> 5;
    const int rsub = lane >> 3, csub = lane & 7;
#pragma unroll
    for (int q = 0; q < 4; q++) {
      const int c = q * 8 + csub;
      const bool kvalid = c * 8 < len;
      for (int r = warp * 4 + rsub; r < DEC_ROWS; r += (DEC_ROWS / 32) * 4) {
        const int64_t row = n0 + r;
        const bool valid = kvalid && row < n;
        const uint16_t *src = valid ? w + row * k + k0 + c * 8 : w;
        cp_async16(wt + r * DEC_WSTRIDE + c * 8, src, valid);
      }
      cp_async_commit();
    }
  } else {
    /* rows not 16-byte aligned (k % 8 != 0): 2-byte loads, 32 in flight per
     * thread, then stored */
#pragma unroll 1
    for (int b = 0; b < MM_SEG; b += 32) {
      uint16_t v[32];
#pragma unroll
      for (int j = 0; j < 32; j++) {
        const int i = tid + (b + j) * DEC_ROWS;
        const int r = i / MM_SEG, kk = i % MM_SEG;
        const int64_t row = n0 + r;
        v[j] = (row < n && kk < len) ? __ldg(w + row * k + k0 + kk) : (uint16_t)0;
      }
#pragma unroll
      for (int j = 0; j < 32; j++) {
        const int i = tid + (b + j) * DEC_ROWS;
        wt[(i / MM_SEG) * DEC_WSTRIDE + i % MM_SEG] = v[j];
      }
    }
    cp_async_commit(); /* the x copies */
    cp_async_wait<0>();
  }

  const uint4 *wrow = reinterpret_cast<const uint4 *>(wt + tid * DEC_WSTRIDE);
  const float4 *xs4 = reinterpret_cast<const float4 *>(xs);
  const int64_t col = n0 + tid;
  float bias_f = 0.0f;
  if (direct && bias && col < n) bias_f = lc_bf16_to_f32(bias[col]);

  for (int64_t row0 = 0; row0 < rows; row0 += MB) {
    float acc[MB];
#pragma unroll
    for (int r = 0; r < MB; r++) acc[r] = 0.0f;
    if (row0 == 0) {
      /* first group: compute each quarter as soon as it has landed */
      cp_async_wait<3>();
      __syncthreads();
      decode_chunks8<MB>(acc, wrow, xs4, 0);
      cp_async_wait<2>();
      __syncthreads();
      decode_chunks8<MB>(acc, wrow, xs4, 8);
      cp_async_wait<1>();
      __syncthreads();
      decode_chunks8<MB>(acc, wrow, xs4, 16);
      cp_async_wait<0>();
      __syncthreads();
      decode_chunks8<MB>(acc, wrow, xs4, 24);
    } else {
      __syncthreads(); /* everyone is done with the previous x group */
      decode_stage_x<MB>(xs, x, rows, row0, k, k0, len, xvec != 0);
      cp_async_commit();
      cp_async_wait<0>();
      __syncthreads();
      decode_chunks8<MB>(acc, wrow, xs4, 0);
      decode_chunks8<MB>(acc, wrow, xs4, 8);
      decode_chunks8<MB>(acc, wrow, xs4, 16);
      decode_chunks8<MB>(acc, wrow, xs4, 24);
    }
    if (col < n) {
#pragma unroll
      for (int r = 0; r < MB; r++) {
        const int64_t row = row0 + r;
        if (row < rows) {
          if (direct) {
            float v = acc[r];
            if (bias) v = v + bias_f;
            out[row * n + col] = lc_canon_nan(v);
          } else {
            out[(s * rows + row) * n + col] = acc[r];
          }
        }
      }
    }
  }
}

/* ---- DECODE, streaming variant (m <= DS_MAX_M, k % 8 == 0, x and w 16-byte
 * aligned).  Block = DS_ROWS (32) W rows (lane = row) x a group of consecutive
 * segments, DS_WARPS (4) warps; warp w takes the group's segments w, w + 4, ...
 * Each segment is streamed as 4 quarters of 64 k (32 rows x 128 B of W plus the
 * MB x 64 floats of x) through a ring of DS_STAGES quarter slots private to the
 * warp: DS_STAGES - 1 quarters are in flight (cp.async, one commit group each)
 * while one is computed, so a block streams its whole share of W without a
 * pause; only the warp's own lanes copy and read its slots (__syncwarp).  The
 * chains are those of the spec: acc = +0 at each segment start, k ascending
 * within the segment.  One group (the whole of k): the segment results go to
 * shared memory and, once all warps are done, y = p0, y = y + p1, ... in
 * ascending segment order, + bias, canon, stored by this kernel (no workspace
 * read or written, no combine kernel).  Several groups: the segment results go
 * to the workspace [nseg][rows][n] and matmul_combine_kernel adds them. */
template <int MB>
struct ds_slot {
  static constexpr int W_BYTES = DS_ROWS * DS_WSTRIDE * (int)sizeof(uint16_t);
  static constexpr int BYTES = W_BYTES + MB * DS_QK * (int)sizeof(float);
};

template <int MB, int WARPS>
__global__ void __launch_bounds__(DS_ROWS *WARPS, WARPS < 8 ? 8 / WARPS : 1)
    matmul_decode_stream_kernel(const float *__restrict__ x, int rows, int64_t k,
                                const uint16_t *__restrict__ w, int64_t n, int64_t nseg,
                                int64_t gsize, const uint16_t *__restrict__ bias,
                                float *__restrict__ out, int direct) {
  extern __shared__ uint4 ds_smem[];
  constexpr int SLOT = ds_slot<MB>::BYTES;
  unsigned char *smem = reinterpret_cast<unsigned char *>(ds_smem);

  griddep_launch_dependents();

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t ngroups = (nseg + gsize - 1) / gsize;
  const int64_t n0 = ((int64_t)blockIdx.x / ngroups) * DS_ROWS;
  const int64_t s0 = ((int64_t)blockIdx.x % ngroups) * gsize;
  const int gs = (int)(nseg - s0 < gsize ? nseg - s0 : gsize); /* >= 1 */
  /* this warp's segments: s0 + warp + WARPS * j, j < nsw */
  const int nsw = gs > warp ? (gs - warp + WARPS - 1) / WARPS : 0;
  const int nq = nsw * DS_QPS;
  unsigned char *ring = smem + (size_t)warp * DS_STAGES * SLOT;
  float *part = reinterpret_cast<float *>(smem + (size_t)WARPS * DS_STAGES * SLOT);

  /* Queues quarter q of this warp (if q < nq) into slot q % DS_STAGES and
   * commits a group (empty past nq, so that the group count stays uniform). */
  auto issue = [&](int q) {
    if (q < nq) {
      const int64_t s = s0 + warp + (int64_t)WARPS * (q / DS_QPS);
      const int64_t kq = s * MM_SEG + (int64_t)(q % DS_QPS) * DS_QK;
      unsigned char *slot = ring + (q % DS_STAGES) * SLOT;
      uint16_t *wt = reinterpret_cast<uint16_t *>(slot);
      float4 *xs4 = reinterpret_cast<float4 *>(slot + ds_slot<MB>::W_BYTES);
      /* W: a warp instruction copies 32 / DS_CPR rows x DS_QK * 2 contiguous
       * bytes; k % 8 == 0, so a chunk of 8 is wholly inside k or wholly past
       * it (zero-filled) */
#pragma unroll
      for (int i = 0; i < DS_CPR; i++) {
        const int r = i * (32 / DS_CPR) + lane / DS_CPR, c = lane % DS_CPR;
        const int64_t kc = kq + c * 8;
        const int64_t row = n0 + r;
        const bool valid = kc < k && row < n;
        cp_async16_pf256(wt + r * DS_WSTRIDE + c * 8, valid ? w + row * k + kc : w, valid);
      }
      /* x: MB rows x 16 float4; past k or past the rows -0 (stored directly) */
#pragma unroll
      for (int i = lane; i < MB * (DS_QK / 4); i += 32) {
        const int r = i / (DS_QK / 4);
        const int64_t kk = kq + (i % (DS_QK / 4)) * 4;
        if (r < rows && kk < k) {
          cp_async16(xs4 + i, x + (int64_t)r * k + kk, true);
        } else {
          const float nz = neg_zero();
          xs4[i] = make_float4(nz, nz, nz, nz);
        }
      }
    }
    cp_async_commit();
  };

#pragma unroll
  for (int q = 0; q < DS_STAGES - 1; q++) issue(q);

  float acc[MB];
#pragma unroll
  for (int r = 0; r < MB; r++) acc[r] = 0.0f;

#pragma unroll 1
  for (int q = 0; q < nq; q++) {
    /* slot (q - 1) % DS_STAGES: every lane finished reading it (the __syncwarp
     * at the end of the previous iteration) */
    issue(q + DS_STAGES - 1);
    cp_async_wait<DS_STAGES - 1>(); /* this lane's copies of quarter q landed */
    __syncwarp();                   /* ... and every lane's, visible to all */
    const unsigned char *slot = ring + (q % DS_STAGES) * SLOT;
    const uint4 *wrow = reinterpret_cast<const uint4 *>(slot) + lane * (DS_WSTRIDE / 8);
    const float4 *xs4 = reinterpret_cast<const float4 *>(slot + ds_slot<MB>::W_BYTES);
#pragma unroll
    for (int c = 0; c < DS_QK / 8; c++) fma_chunk<MB, DS_QK / 4>(acc, wrow[c], xs4, c);
    __syncwarp(); /* every lane is done with this slot before it is refilled */
    if (q % DS_QPS == DS_QPS - 1) {
      /* end of segment s: its result, then a fresh +0 chain */
      const int sl = warp + WARPS * (q / DS_QPS); /* s - s0 */
      const int64_t col = n0 + lane;
#pragma unroll
      for (int r = 0; r < MB; r++) {
        if (direct) {
          part[(sl * MB + r) * DS_ROWS + lane] = acc[r];
        } else if (r < rows && col < n) {
          out[((s0 + sl) * rows + r) * n + col] = acc[r];
        }
        acc[r] = 0.0f;
      }
    }
  }
  cp_async_wait<0>(); /* only empty groups are left; nothing in flight at exit */

  if (direct) {
    __syncthreads(); /* every warp's segment results are in part */
    const int64_t col = n0 + lane;
    for (int r = warp; r < MB; r += WARPS) { /* warp w adds rows w, w + WARPS, ... */
      if (r < rows && col < n) {
        float v = part[r * DS_ROWS + lane];
        for (int sl = 1; sl < gs; sl++) v = v + part[(sl * MB + r) * DS_ROWS + lane];
        if (bias) v = v + lc_bf16_to_f32(bias[col]);
        out[(int64_t)r * n + col] = lc_canon_nan(v);
      }
    }
  }
}

/* y[i] = ((p[0][i] + p[1][i]) + ...) + bias, canonical NaN; i over [rows][n]. */
__global__ void __launch_bounds__(COMBINE_THREADS)
    matmul_combine_kernel(const float *__restrict__ part, int64_t rows, int64_t n, int64_t nseg,
                          const uint16_t *__restrict__ bias, float *__restrict__ y) {
  griddep_wait(); /* the segment results of the previous kernel are complete */
  const int64_t total = rows * n;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
       i += (int64_t)gridDim.x * blockDim.x) {
    /* 16 loads in flight, then the adds in ascending order: y = p0, y = y + ps */
    float v = 0.0f;
    for (int64_t s0 = 0; s0 < nseg; s0 += 16) {
      float p[16];
#pragma unroll
      for (int j = 0; j < 16; j++)
        p[j] = s0 + j < nseg ? __ldcg(part + (s0 + j) * total + i) : 0.0f;
#pragma unroll
      for (int j = 0; j < 16; j++)
        if (s0 + j < nseg) v = s0 + j == 0 ? p[j] : v + p[j];
    }
    if (bias) v = v + lc_bf16_to_f32(bias[i % n]);
    y[i] = lc_canon_nan(v);
  }
}

/* ======================================================================== */
/*  TILED path                                                              */
/* ======================================================================== */

/* Scalar path (k % 8 != 0 or unaligned x, w): loads one k tile into registers,
 * element by element: two quads of x (rows xr and xr + 64, k quad xq) and 8 bf16
 * of W (row wr, k half wh).  xp0, xp1, wp point at the tile's first k in those
 * rows; kleft = k - (the tile's first k) > 0; past k the x values are -0 and the
 * w values +0; rows past the ends are padded likewise (never stored). */
__device__ __forceinline__ void tiled_load_scalar(const float *__restrict__ xp0,
                                                  const float *__restrict__ xp1,
                                                  const uint16_t *__restrict__ wp, bool xv0,
                                                  bool xv1, bool wv, int kleft, int xq, int wh,
                                                  float4 &xa, float4 &xb, uint4 &wb) {
  const int kx = xq * 4, kw = wh * 8;
  float va[4], vb[4];
#pragma unroll
  for (int j = 0; j < 4; j++) {
    const bool kv = kx + j < kleft;
    va[j] = (xv0 && kv) ? __ldg(xp0 + kx + j) : neg_zero();
    vb[j] = (xv1 && kv) ? __ldg(xp1 + kx + j) : neg_zero();
  }
  xa = make_float4(va[0], va[1], va[2], va[3]);
  xb = make_float4(vb[0], vb[1], vb[2], vb[3]);
  uint32_t h[8];
#pragma unroll
  for (int j = 0; j < 8; j++) h[j] = (wv && kw + j < kleft) ? (uint32_t)__ldg(wp + kw + j) : 0u;
  wb = make_uint4(h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16),
                  h[6] | (h[7] << 16));
}

/* Stores a tile's registers k-major into one shared buffer, widening W. */
__device__ __forceinline__ void tiled_store(float *As, float *Bs, int xr, int xq, int wr, int wh,
                                            const float4 &xa, const float4 &xb, const uint4 &wb) {
  float *a = As + (xq * 4) * TL_LDA + xr;
  a[0 * TL_LDA] = xa.x;
  a[1 * TL_LDA] = xa.y;
  a[2 * TL_LDA] = xa.z;
  a[3 * TL_LDA] = xa.w;
  a[0 * TL_LDA + 64] = xb.x;
  a[1 * TL_LDA + 64] = xb.y;
  a[2 * TL_LDA + 64] = xb.z;
  a[3 * TL_LDA + 64] = xb.w;
  float *b = Bs + (wh * 8) * TL_LDB + wr;
  b[0 * TL_LDB] = bf16_lo(wb.x);
  b[1 * TL_LDB] = bf16_hi(wb.x);
  b[2 * TL_LDB] = bf16_lo(wb.y);
  b[3 * TL_LDB] = bf16_hi(wb.y);
  b[4 * TL_LDB] = bf16_lo(wb.z);
  b[5 * TL_LDB] = bf16_hi(wb.z);
  b[6 * TL_LDB] = bf16_lo(wb.w);
  b[7 * TL_LDB] = bf16_hi(wb.w);
}

/* VEC path, first half: queues the 16-byte copies of this thread's three chunks
 * of the next tile (x rows xr, xr + 64 at k quad xq; W row wr at k half wh) into
 * the raw staging; chunks past k or past the last row are zero-filled and not
 * read.  kleft = k - (the tile's first k) > 0, so xp0, xp1, wp are in bounds. */
__device__ __forceinline__ void tiled_issue(const float *xp0, const float *xp1, const uint16_t *wp,
                                            bool xv0, bool xv1, bool wv, int kleft, int xq, int wh,
                                            float *xst0, float *xst1, uint16_t *wst) {
  const bool kx = xq * 4 < kleft, kw = wh * 8 < kleft;
  cp_async16(xst0, (xv0 && kx) ? xp0 + xq * 4 : xp0, xv0 && kx);
  cp_async16(xst1, (xv1 && kx) ? xp1 + xq * 4 : xp1, xv1 && kx);
  cp_async16(wst, (wv && kw) ? wp + wh * 8 : wp, wv && kw);
}

/* VEC path, second half (after this thread's copies landed): the thread's own
 * staged chunks into the k-major fp32 tiles, x past k (or past the last row) as
 * -0, W widened (zero-filled chunks are +0). */
__device__ __forceinline__ void tiled_convert(float *As, float *Bs, const float *xst0,
                                              const float *xst1, const uint16_t *wst, bool xv0,
                                              bool xv1, int kleft, int xr, int xq, int wr, int wh) {
  const float nz = neg_zero();
  const bool kx = xq * 4 < kleft;
  const float4 xa =
      (xv0 && kx) ? *reinterpret_cast<const float4 *>(xst0) : make_float4(nz, nz, nz, nz);
  const float4 xb =
      (xv1 && kx) ? *reinterpret_cast<const float4 *>(xst1) : make_float4(nz, nz, nz, nz);
  const uint4 wb = *reinterpret_cast<const uint4 *>(wst);
  tiled_store(As, Bs, xr, xq, wr, wh, xa, xb, wb);
}

/* One block: the 128 x 128 tile (pid_m, pid_n), all of k.  Thread (warp, lane):
 * rows ar + {0..3} and ar + 16 + {0..3}, ar = (warp/2)*32 + (lane/8)*4; columns
 * bc + {0..3} and bc + 32 + {0..3}, bc = (warp%2)*64 + (lane%8)*4.
 * VEC: k % 8 == 0 and x, w 16-byte aligned.  yvec: n % 4 == 0 and y aligned. */
template <bool VEC>
__global__ void __launch_bounds__(TL_THREADS, 2)
    matmul_tiled_kernel(const float *__restrict__ x, int64_t m, int64_t k,
                        const uint16_t *__restrict__ w, int64_t n,
                        const uint16_t *__restrict__ bias, float *__restrict__ y, int64_t tiles_m,
                        int64_t tiles_n, int64_t nsplit, float *__restrict__ part, int yvec) {
  extern __shared__ float4 tl_smem[];
  float *As = reinterpret_cast<float *>(tl_smem);                  /* [2][TL_K][TL_LDA] */
  float *Bs = As + 2 * TL_K * TL_LDA;                              /* [2][TL_K][TL_LDB] */
  float4 *Ys = reinterpret_cast<float4 *>(Bs + 2 * TL_K * TL_LDB); /* [16][TL_THREADS] */
  float *Xst = reinterpret_cast<float *>(Ys + 16 * TL_THREADS);    /* [TL_M][TL_K] raw x */
  uint16_t *Wst = reinterpret_cast<uint16_t *>(Xst + TL_M * TL_K); /* [TL_N][TL_K] raw W */

  griddep_launch_dependents();
  /* nsplit > 1: block = (tile, segment s), s fastest; this block runs segment
   * s only and writes it raw to part [nsplit][m][n] */
  const int64_t seg = (int64_t)blockIdx.x % nsplit;
  const int64_t kseg0 = nsplit > 1 ? seg * MM_SEG : 0;
  const int64_t klen = nsplit > 1 ? (k - kseg0 < MM_SEG ? k - kseg0 : MM_SEG) : k;
  /* grouped raster: TL_GROUP_M m-tiles walk the n-tiles together */
  const int64_t pid = (int64_t)blockIdx.x / nsplit;
  const int64_t per_group = (int64_t)TL_GROUP_M * tiles_n;
  const int64_t first_m = (pid / per_group) * TL_GROUP_M;
  const int64_t gsize = tiles_m - first_m < TL_GROUP_M ? tiles_m - first_m : TL_GROUP_M;
  const int64_t pid_m = first_m + (pid % per_group) % gsize;
  const int64_t pid_n = (pid % per_group) / gsize;
  const int64_t m0 = pid_m * TL_M, n0 = pid_n * TL_N;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  /* the tile origin waits in shared memory for the epilogue, not in registers */
  __shared__ int64_t origin[3];
  if (tid == 0) {
    origin[0] = m0;
    origin[1] = n0;
    origin[2] = seg;
  }
  /* loaders */
  const int xr = tid >> 2, xq = tid & 3; /* x rows xr, xr+64; k quad */
  const int wr = tid >> 1, wh = tid & 1; /* W row wr; k half */
  const bool xv0 = m0 + xr < m, xv1 = m0 + xr + 64 < m, wv = n0 + wr < n;
  const float *xp0 = x + (xv0 ? (m0 + xr) * k + kseg0 : 0);
  const float *xp1 = x + (xv1 ? (m0 + xr + 64) * k + kseg0 : 0);
  const uint16_t *wp = w + (wv ? (n0 + wr) * k + kseg0 : 0);
  /* compute */
  const int ar = (warp >> 1) * 32 + (lane >> 3) * 4;
  const int bc = (warp & 1) * 64 + (lane & 7) * 4;

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; i++)
#pragma unroll
    for (int j = 0; j < 8; j++) acc[i][j] = 0.0f;

  const int ntiles = (int)((klen + TL_K - 1) / TL_K);
  int kleft = (int)(k - kseg0); /* k - first k of the tile being loaded */
  float4 xa, xb;
  uint4 wb;
  /* VEC: this thread's staging chunks (it alone writes and reads them) */
  float *xst0 = Xst + xr * TL_K + xq * 4, *xst1 = xst0 + 64 * TL_K;
  uint16_t *wst = Wst + wr * TL_K + wh * 8;
  if (VEC) {
    tiled_issue(xp0, xp1, wp, xv0, xv1, wv, kleft, xq, wh, xst0, xst1, wst);
    cp_async_commit();
    cp_async_wait<0>();
    tiled_convert(As, Bs, xst0, xst1, wst, xv0, xv1, kleft, xr, xq, wr, wh);
  } else {
    tiled_load_scalar(xp0, xp1, wp, xv0, xv1, wv, kleft, xq, wh, xa, xb, wb);
    tiled_store(As, Bs, xr, xq, wr, wh, xa, xb, wb);
  }
  __syncthreads();

  for (int t = 0; t < ntiles; t++) {
    const int buf = t & 1;
    if (t + 1 < ntiles) {
      xp0 += TL_K;
      xp1 += TL_K;
      wp += TL_K;
      kleft -= TL_K;
      if (VEC) {
        tiled_issue(xp0, xp1, wp, xv0, xv1, wv, kleft, xq, wh, xst0, xst1, wst);
        cp_async_commit();
      } else {
        tiled_load_scalar(xp0, xp1, wp, xv0, xv1, wv, kleft, xq, wh, xa, xb, wb);
      }
    }
    const float *Ab = As + buf * TL_K * TL_LDA;
    const float *Bb = Bs + buf * TL_K * TL_LDB;
#pragma unroll
    for (int kk = 0; kk < TL_K; kk++) {
      const float4 a0 = *reinterpret_cast<const float4 *>(Ab + kk * TL_LDA + ar);
      const float4 a1 = *reinterpret_cast<const float4 *>(Ab + kk * TL_LDA + ar + 16);
      const float4 b0 = *reinterpret_cast<const float4 *>(Bb + kk * TL_LDB + bc);
      const float4 b1 = *reinterpret_cast<const float4 *>(Bb + kk * TL_LDB + bc + 32);
      const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++) acc[i][j] = __fmaf_rn(a[i], b[j], acc[i][j]);
    }
    /* end of a segment that is not the last: fold into y (shared), reset */
    if ((t + 1) % TL_TILES_PER_SEG == 0 && t + 1 < ntiles) {
      const bool first = t + 1 == TL_TILES_PER_SEG;
#pragma unroll
      for (int i = 0; i < 8; i++) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
          float4 *p = Ys + (i * 2 + h) * TL_THREADS + tid;
          float4 v =
              make_float4(acc[i][4 * h], acc[i][4 * h + 1], acc[i][4 * h + 2], acc[i][4 * h + 3]);
          if (!first) {
            const float4 o = *p;
            v.x = o.x + v.x;
            v.y = o.y + v.y;
            v.z = o.z + v.z;
            v.w = o.w + v.w;
          }
          *p = v;
#pragma unroll
          for (int j = 0; j < 4; j++) acc[i][4 * h + j] = 0.0f;
        }
      }
    }
    if (t + 1 < ntiles) {
      if (VEC) {
        cp_async_wait<0>();
        tiled_convert(As + (buf ^ 1) * TL_K * TL_LDA, Bs + (buf ^ 1) * TL_K * TL_LDB, xst0, xst1,
                      wst, xv0, xv1, kleft, xr, xq, wr, wh);
      } else {
        tiled_store(As + (buf ^ 1) * TL_K * TL_LDA, Bs + (buf ^ 1) * TL_K * TL_LDB, xr, xq, wr, wh,
                    xa, xb, wb);
      }
      __syncthreads();
    }
  }

  /* y = (one segment) ? seg : y + seg; + bias; canon; store */
  /* written before the first barrier */
  const int64_t m0e = origin[0], n0e = origin[1], sege = origin[2];
  const bool raw = nsplit > 1; /* a segment result: no bias, no canon */
  float *out = raw ? part + sege * m * n : y;
  const bool one_seg = ntiles <= TL_TILES_PER_SEG;
  float bf[8];
#pragma unroll
  for (int j = 0; j < 8; j++) {
    const int64_t col = n0e + bc + (j < 4 ? j : 32 + j - 4);
    bf[j] = (bias && !raw && col < n) ? lc_bf16_to_f32(bias[col]) : 0.0f;
  }
#pragma unroll
  for (int i = 0; i < 8; i++) {
    const int64_t row = m0e + ar + (i < 4 ? i : 16 + i - 4);
    float v[8];
#pragma unroll
    for (int h = 0; h < 2; h++) {
      float4 o = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if (!one_seg) o = Ys[(i * 2 + h) * TL_THREADS + tid];
      const float ov[4] = {o.x, o.y, o.z, o.w};
#pragma unroll
      for (int j = 0; j < 4; j++) {
        float e = one_seg ? acc[i][4 * h + j] : ov[j] + acc[i][4 * h + j];
        if (!raw) {
          if (bias) e = e + bf[4 * h + j];
          e = lc_canon_nan(e);
        }
        v[4 * h + j] = e;
      }
    }
    if (row < m) {
      float *yr = out + row * n;
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const int64_t c0 = n0e + bc + 32 * h;
        if (yvec && c0 + 3 < n) {
          *reinterpret_cast<float4 *>(yr + c0) =
              make_float4(v[4 * h], v[4 * h + 1], v[4 * h + 2], v[4 * h + 3]);
        } else {
#pragma unroll
          for (int j = 0; j < 4; j++)
            if (c0 + j < n) yr[c0 + j] = v[4 * h + j];
        }
      }
    }
  }
}

/* ======================================================================== */
/*  launchers                                                               */
/* ======================================================================== */

static lc_status mm_bad(const char *msg, char *err, size_t err_len) {
  if (err && err_len) snprintf(err, err_len, "lc_kernels_matmul: %s", msg);
  return LC_ERR_INVALID_ARGUMENT;
}

static lc_kmatmul_path mm_resolve(int64_t m, lc_kmatmul_path path) {
  if (path == LC_KMATMUL_AUTO) return m <= MM_DECODE_MAX_M ? LC_KMATMUL_DECODE : LC_KMATMUL_TILED;
  return path;
}

static int64_t mm_nseg(int64_t k) {
  return (k + MM_SEG - 1) / MM_SEG;
}

/* Rows per decode launch: all of m when the workspace fits the budget. */
static int64_t mm_decode_slice_rows(int64_t m, int64_t k, int64_t n) {
  const int64_t per_row = mm_nseg(k) * n * (int64_t)sizeof(float);
  int64_t cap = MM_WS_BUDGET / per_row;
  cap = cap / DEC_GROUP * DEC_GROUP;
  if (cap < DEC_GROUP) cap = DEC_GROUP;
  return m < cap ? m : cap;
}

static size_t mm_decode_smem(int mb) {
  return (size_t)DEC_ROWS * DEC_WSTRIDE * sizeof(uint16_t) + (size_t)mb * MM_SEG * sizeof(float);
}

template <int MB, bool VEC>
static cudaError_t launch_decode_mb(const float *x, int64_t rows, int64_t k, const uint16_t *w,
                                    int64_t n, const uint16_t *bias, float *out, int direct,
                                    int xvec, int64_t blocks, cudaStream_t st) {
  const size_t smem = mm_decode_smem(MB);
  cudaError_t e = cudaFuncSetAttribute(matmul_decode_kernel<MB, VEC>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) return e;
  matmul_decode_kernel<MB, VEC><<<(unsigned)blocks, DEC_ROWS, smem, st>>>(
      x, rows, k, w, n, mm_nseg(k), bias, out, direct, xvec);
  return cudaGetLastError();
}

template <bool VEC>
static cudaError_t launch_decode_vec(const float *x, int64_t rows, int64_t k, const uint16_t *w,
                                     int64_t n, const uint16_t *bias, float *out, int direct,
                                     int xvec, int64_t blocks, cudaStream_t st) {
  if (rows <= 1)
    return launch_decode_mb<1, VEC>(x, rows, k, w, n, bias, out, direct, xvec, blocks, st);
  if (rows <= 2)
    return launch_decode_mb<2, VEC>(x, rows, k, w, n, bias, out, direct, xvec, blocks, st);
  if (rows <= 4)
    return launch_decode_mb<4, VEC>(x, rows, k, w, n, bias, out, direct, xvec, blocks, st);
  if (rows <= 8)
    return launch_decode_mb<8, VEC>(x, rows, k, w, n, bias, out, direct, xvec, blocks, st);
  return launch_decode_mb<DEC_GROUP, VEC>(x, rows, k, w, n, bias, out, direct, xvec, blocks, st);
}

static cudaError_t launch_combine(const float *part, int64_t rows, int64_t n, int64_t nseg,
                                  const uint16_t *bias, float *y, cudaStream_t st) {
  const int64_t total = rows * n;
  int64_t blocks = (total + COMBINE_THREADS - 1) / COMBINE_THREADS;
  if (blocks > COMBINE_MAX_BLOCKS) blocks = COMBINE_MAX_BLOCKS;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3((unsigned)blocks);
  cfg.blockDim = dim3(COMBINE_THREADS);
  cfg.dynamicSmemBytes = 0;
  cfg.stream = st;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  cudaError_t e = cudaLaunchKernelEx(&cfg, matmul_combine_kernel, part, rows, n, nseg, bias, y);
  if (e != cudaSuccess) return e;
  return cudaGetLastError();
}

/* The streaming decode kernel's work split, from the shape only: blocks of
 * DS_ROWS W rows x gsize consecutive segments, ngroups groups per row tile.
 * One group (the whole of k) unless its segment results would not fit
 * DS_PART_BYTES of shared memory or the grid would have fewer than
 * DS_TARGET_BLOCKS blocks; then as few equal groups (the last one shorter) as
 * meet both.  false: the shape is not for this kernel (alignment is checked by
 * the caller). */
static bool mm_ds_plan(int64_t m, int64_t k, int64_t n, int64_t *gsize, int64_t *ngroups) {
  if (m < 1 || m > DS_MAX_M || k % 8 != 0) return false;
  const int64_t mb = m <= 1 ? 1 : m <= 2 ? 2 : m <= 4 ? 4 : m <= 8 ? 8 : 16;
  const int64_t nseg = mm_nseg(k), tiles = (n + DS_ROWS - 1) / DS_ROWS;
  const int64_t gmax = DS_PART_BYTES / (mb * DS_ROWS * (int64_t)sizeof(float));
  int64_t ng = (nseg + gmax - 1) / gmax;
  const int64_t ng_fill = (DS_TARGET_BLOCKS + tiles - 1) / tiles;
  if (ng_fill > ng) ng = ng_fill;
  if (ng > nseg) ng = nseg;
  const int64_t g = (nseg + ng - 1) / ng;
  ng = (nseg + g - 1) / g; /* no empty group */
  if (tiles * ng > INT32_MAX) return false;
  *gsize = g;
  *ngroups = ng;
  return true;
}

template <int MB, int WARPS>
static cudaError_t launch_decode_stream_mb(const float *x, int64_t rows, int64_t k,
                                           const uint16_t *w, int64_t n, const uint16_t *bias,
                                           float *out, int direct, int64_t gsize, int64_t blocks,
                                           cudaStream_t st) {
  const size_t smem = (size_t)WARPS * DS_STAGES * ds_slot<MB>::BYTES +
                      (direct ? (size_t)gsize * MB * DS_ROWS * sizeof(float) : 0);
  cudaError_t e = cudaFuncSetAttribute(matmul_decode_stream_kernel<MB, WARPS>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(matmul_decode_stream_kernel<MB, WARPS>,
                             cudaFuncAttributePreferredSharedMemoryCarveout,
                             cudaSharedmemCarveoutMaxShared);
  if (e != cudaSuccess) return e;
  matmul_decode_stream_kernel<MB, WARPS><<<(unsigned)blocks, DS_ROWS * WARPS, smem, st>>>(
      x, (int)rows, k, w, n, mm_nseg(k), gsize, bias, out, direct);
  return cudaGetLastError();
}

/* m <= DS_MAX_M, k % 8 == 0, x and w 16-byte aligned: the streaming kernel,
 * and the combine kernel when k is split into several groups. */
static lc_status run_decode_stream(const float *x, int64_t m, int64_t k, const uint16_t *w,
                                   int64_t n, const uint16_t *bias, float *y, void *ws,
                                   size_t ws_bytes, int64_t gsize, int64_t ngroups, cudaStream_t st,
                                   char *err, size_t err_len) {
  const int64_t nseg = mm_nseg(k);
  const int64_t blocks = ((n + DS_ROWS - 1) / DS_ROWS) * ngroups;
  const int direct = ngroups == 1;
  if (!direct && (ws == NULL || ws_bytes < (size_t)(nseg * m * n) * sizeof(float)))
    return mm_bad("workspace too small (lc_kernels_matmul_workspace)", err, err_len);
  float *out = direct ? y : static_cast<float *>(ws);
  cudaError_t e;
  if (m <= 1)
    e = launch_decode_stream_mb<1, DS_WARPS_M1>(x, m, k, w, n, bias, out, direct, gsize, blocks,
                                                st);
  else if (m <= 2)
    e = launch_decode_stream_mb<2, DS_WARPS>(x, m, k, w, n, bias, out, direct, gsize, blocks, st);
  else if (m <= 4)
    e = launch_decode_stream_mb<4, DS_WARPS>(x, m, k, w, n, bias, out, direct, gsize, blocks, st);
  else if (m <= 8)
    e = launch_decode_stream_mb<8, DS_WARPS>(x, m, k, w, n, bias, out, direct, gsize, blocks, st);
  else
    e = launch_decode_stream_mb<16, DS_WARPS>(x, m, k, w, n, bias, out, direct, gsize, blocks, st);
  if (e != cudaSuccess) return lc_cuda_fail(e, "matmul decode stream kernel", err, err_len);
  if (!direct) {
    e = launch_combine(static_cast<const float *>(ws), m, n, nseg, bias, y, st);
    if (e != cudaSuccess) return lc_cuda_fail(e, "matmul combine kernel", err, err_len);
  }
  return LC_OK;
}

static lc_status run_decode(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                            const uint16_t *bias, float *y, void *ws, size_t ws_bytes,
                            cudaStream_t st, char *err, size_t err_len) {
  int64_t gsize, ngroups;
  if (lc_aligned16(x) && lc_aligned16(w) && mm_ds_plan(m, k, n, &gsize, &ngroups))
    return run_decode_stream(x, m, k, w, n, bias, y, ws, ws_bytes, gsize, ngroups, st, err,
                             err_len);
  const int64_t nseg = mm_nseg(k);
  const int64_t blocks = ((n + DEC_ROWS - 1) / DEC_ROWS) * nseg;
  if (blocks > INT32_MAX) return mm_bad("decode grid too large", err, err_len);
  const bool vec = (k % 8 == 0) && lc_aligned16(w);
  const int xvec = (k % 4 == 0) && lc_aligned16(x);
  const int direct = nseg == 1;
  const int64_t slice = mm_decode_slice_rows(m, k, n);
  if (!direct && (ws == NULL || ws_bytes < (size_t)(nseg * slice * n) * sizeof(float)))
    return mm_bad("workspace too small (lc_kernels_matmul_workspace)", err, err_len);
  for (int64_t m0 = 0; m0 < m; m0 += slice) {
    const int64_t rows = m - m0 < slice ? m - m0 : slice;
    float *out = direct ? y + m0 * n : static_cast<float *>(ws);
    cudaError_t e = vec ? launch_decode_vec<true>(x + m0 * k, rows, k, w, n, bias, out, direct,
                                                  xvec, blocks, st)
                        : launch_decode_vec<false>(x + m0 * k, rows, k, w, n, bias, out, direct,
                                                   xvec, blocks, st);
    if (e != cudaSuccess) return lc_cuda_fail(e, "matmul decode kernel", err, err_len);
    if (!direct) {
      e = launch_combine(static_cast<const float *>(ws), rows, n, nseg, bias, y + m0 * n, st);
      if (e != cudaSuccess) return lc_cuda_fail(e, "matmul combine kernel", err, err_len);
    }
  }
  return LC_OK;
}

/* The tiled path splits by segment (grid x nseg, workspace nseg * m * n floats)
 * when the output has fewer than TL_SPLIT_TILES tiles and the workspace fits. */
static bool mm_tiled_split(int64_t m, int64_t k, int64_t n) {
  const int64_t nseg = mm_nseg(k);
  const int64_t tiles = ((m + TL_M - 1) / TL_M) * ((n + TL_N - 1) / TL_N);
  return nseg > 1 && tiles < TL_SPLIT_TILES &&
         nseg * m * n * (int64_t)sizeof(float) <= MM_WS_BUDGET;
}

template <bool VEC>
static cudaError_t launch_tiled(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                                const uint16_t *bias, float *y, int64_t tiles_m, int64_t tiles_n,
                                int64_t nsplit, float *part, int yvec, cudaStream_t st) {
  cudaError_t e = cudaFuncSetAttribute(
      matmul_tiled_kernel<VEC>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)TL_SMEM_BYTES);
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(matmul_tiled_kernel<VEC>,
                             cudaFuncAttributePreferredSharedMemoryCarveout,
                             cudaSharedmemCarveoutMaxShared);
  if (e != cudaSuccess) return e;
  matmul_tiled_kernel<VEC>
      <<<(unsigned)(tiles_m * tiles_n * nsplit), TL_THREADS, TL_SMEM_BYTES, st>>>(
          x, m, k, w, n, bias, y, tiles_m, tiles_n, nsplit, part, yvec);
  return cudaGetLastError();
}

static lc_status run_tiled(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                           const uint16_t *bias, float *y, void *ws, size_t ws_bytes,
                           cudaStream_t st, char *err, size_t err_len) {
  const int64_t tiles_m = (m + TL_M - 1) / TL_M, tiles_n = (n + TL_N - 1) / TL_N;
  const bool split = mm_tiled_split(m, k, n);
  const int64_t nsplit = split ? mm_nseg(k) : 1;
  if (tiles_m * tiles_n * nsplit > INT32_MAX) return mm_bad("tiled grid too large", err, err_len);
  if (split && (ws == NULL || ws_bytes < (size_t)(nsplit * m * n) * sizeof(float)))
    return mm_bad("workspace too small (lc_kernels_matmul_workspace)", err, err_len);
  float *part = split ? static_cast<float *>(ws) : NULL;
  const bool vec = (k % 8 == 0) && lc_aligned16(x) && lc_aligned16(w);
  const int yvec = (n % 4 == 0) && lc_aligned16(split ? (void *)part : (void *)y);
  cudaError_t e =
      vec ? launch_tiled<true>(x, m, k, w, n, bias, y, tiles_m, tiles_n, nsplit, part, yvec, st)
          : launch_tiled<false>(x, m, k, w, n, bias, y, tiles_m, tiles_n, nsplit, part, yvec, st);
  if (e != cudaSuccess) return lc_cuda_fail(e, "matmul tiled kernel", err, err_len);
  if (split) {
    e = launch_combine(part, m, n, nsplit, bias, y, st);
    if (e != cudaSuccess) return lc_cuda_fail(e, "matmul combine kernel", err, err_len);
  }
  return LC_OK;
}

/* ======================================================================== */
/*  entries                                                                 */
/* ======================================================================== */

extern "C" size_t lc_kernels_matmul_workspace(int64_t m, int64_t k, int64_t n,
                                              lc_kmatmul_path path) {
  if (m <= 0 || k <= 0 || n <= 0) return 0;
  const int64_t nseg = mm_nseg(k);
  if (mm_resolve(m, path) == LC_KMATMUL_TILED)
    return mm_tiled_split(m, k, n) ? (size_t)(nseg * m * n) * sizeof(float) : 0;
  if (nseg == 1) return 0; /* the decode kernel writes y itself */
  return (size_t)(nseg * mm_decode_slice_rows(m, k, n) * n) * sizeof(float);
}

extern "C" lc_status lc_kernels_matmul(const float *x, int64_t m, int64_t k, const uint16_t *w,
                                       int64_t n, const uint16_t *bias, float *y,
                                       lc_kmatmul_path path, void *ws, size_t ws_bytes,
                                       void *stream, char *err, size_t err_len) {
  if (m < 0 || k < 1 || n < 1) return mm_bad("bad shape", err, err_len);
  if (path != LC_KMATMUL_AUTO && path != LC_KMATMUL_DECODE && path != LC_KMATMUL_TILED)
    return mm_bad("unknown path", err, err_len);
  if (m == 0) return LC_OK;
  if (!x || !w || !y) return mm_bad("NULL tensor", err, err_len);
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  if (mm_resolve(m, path) == LC_KMATMUL_DECODE)
    return run_decode(x, m, k, w, n, bias, y, ws, ws_bytes, st, err, err_len);
  return run_tiled(x, m, k, w, n, bias, y, ws, ws_bytes, st, err, err_len);
}
