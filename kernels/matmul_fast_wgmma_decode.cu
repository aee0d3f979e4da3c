/*
 * kernels/matmul_fast_wgmma_decode.cu — the fast order v1 for small M (1..64) on
 * Hopper's warpgroup MMA with the operands swapped (sm_90a only): W is the A
 * operand (64 W rows per warpgroup), the bf16 parts of x that
 * kernels/matmul_fast.cu's split already wrote are the B operand (wgmma N = BX
 * = M rounded up to 8, 16, 32 or 64), so a decode batch pads to 8 x rows, not
 * to the 64 or 128 of an x-as-A tile.  y[m][n] = x[m][k] W[n][k]^T (+ bias[n]),
 * bitwise what fast_decode_kernel, the tiled kernels and lc_cpu_matmul_fast of
 * cpu_ref/matmul_fast.c give.  Path LC_KMATMUL_WGMMA_DECODE (4), taken only when
 * asked for.
 *
 * For every (m, n), with P parts and Kc = LC_FAST_CHUNK = 64 (docs/numerics.md 10):
 *
 *   for s = 0 .. ceil(k/256)-1, for each 64-k chunk c of s:
 *     acc = +0            (the accumulator registers written with +0.0f, then
 *                          wgmma with scale-d = 1: a +0 input has exponent -126
 *                          in the model, scale-d = 0 would drop it)
 *     for p = P-1 .. 0 (lo, mid, hi), for the chunk's 4 16-k steps ascending:
 *       acc = wgmma.m64nBXk16(W[n][step], part_p(x[m][step]), acc)
 *     seg = (c first in s) ? acc : seg + acc     (fp32 round to nearest)
 *     at the end of s: y = (s == 0) ? seg : y + seg
 *   if bias: y = y + widen(bias[n]);   store lc_canon_nan(y)
 *
 * Why it is the same bits: the MMA model of 10.2 is per output element and
 * symmetric in the 16 terms of a step, and a product's two factors enter it
 * symmetrically (exponent e_a + e_b, the exact product of the significands), so
 * D[n][m] of W x part^T is D[m][n] of part x W^T: the same 16 products of one
 * step of one x row and one W row, and the output's own accumulator.  The chain
 * of steps, parts, chunk, segment and y additions is the same sequence for
 * every (m, n).  Past k both operands are zero (the parts by the split, kp = k
 * rounded up to 64; W by the zero-filling loads), and so are x rows past m and
 * W rows past n (loaded as zeros, computed and never stored).
 *
 * Shape.  A block computes 128 W rows (n0 .. n0+127) against all BX x rows with
 * two warpgroups (256 threads); warpgroup v takes W rows n0 + 64 v .. + 63 as A
 * (M = 64).  Two warpgroups, not one: both read the same x tile, so the x
 * parts (L2 traffic P BX 128 bytes per chunk, against W's 16 KiB) are staged
 * once for 128 W rows instead of 64 (at BX = 64, P = 3 they are already 1.5x
 * W's bytes per block); the grid's fill comes from the K split below, not from
 * smaller tiles.  Each thread keeps BX/2 floats of acc, seg and (unsplit) y.
 *
 * Shared memory (kernels/wgmma_bf16.cuh's layout: K-major, 128-byte swizzle,
 * rows of 64 k = 128 bytes, 16-byte piece q of row r at piece q ^ (r & 7),
 * tiles on 1024-byte boundaries): a stage holds one 64-k chunk,
 *   W tile        128 rows (16 KiB); warpgroup v's A at +8 KiB v
 *   x tile        P x BX rows, part p's BX rows at +p BX 128 bytes (BX is a
 *                 multiple of 8, so every part starts on a 1024-byte atom)
 * and the step s (0..3) of a chunk is the descriptor at +32 s bytes.
 * Descriptors (lc_wg_desc): start address >> 4, LBO 1 (unused by a 128-byte
 * swizzled K-major operand), SBO 1024 >> 4 (one 8-row atom to the next, along
 * M for A and along N for B), base offset 0, layout 1 (128-byte swizzle); no
 * transpose (both operands K-major: W [n][k] and the parts [m][kp]).
 *
 * Pipeline.  S stages (fdw_stages: 5 to 8, up to ~200 KiB; one block per SM),
 * loaded by all 256 threads with 16-byte cp.async (W: 4 pieces per thread and
 * chunk; x: P BX 8 pieces over the block), zero-filled past n, past m and, for
 * W, past k (k % 8 == 0: a piece lies wholly before or past k).  Chunk i of the
 * block:
 *   wait for this thread's copies of chunk i; fence.proxy.async (generic-proxy
 *   writes, read by wgmma through the async proxy); __syncthreads (every
 *   thread's copies of i are in; both warpgroups have finished chunk i-1's
 *   wgmmas, so its stage may be refilled);
 *   acc = +0, wgmma.fence, the P x 4 wgmmas in order, commit;
 *   the copies of chunk i+S-1 into stage (i+S-1) % S (chunk i-1's; W's with
 *   the L2::256B hint, FDW_PF256: the row's next chunk comes into L2 with it);
 *   wgmma.wait_group 0; seg (and y, or the segment's partial) updated.
 *
 * K split (SPLIT).  The work is U = ntiles nseg units (a 128-row tile of W
 * and one 256-k segment of it); the SPLIT grid is nblk = min(132, U) blocks
 * (one wave of one block per SM on a 132-SM H100 or H200), block b taking the
 * units [b U / nblk, (b+1) U / nblk) in tile-major order: a contiguous run of
 * whole segments, which may cross from one tile into the next, so every SM
 * gets the same share +-1 unit whatever ntiles is (a 14336-row W is 112
 * tiles: 112 blocks would leave 20 SMs idle).  Each block writes every
 * segment's seg to part[s][m][n] (the workspace after the parts) and
 * lc_matmul_launch_combine adds them in ascending s, then the bias, then
 * canonical NaN: exactly the fast order's y = seg_0; y = y + seg_s.  The
 * partials cost 4 m bytes written and read per 512 bytes of W (W (1 + m/64)
 * in all); the unsplit grid (one block per tile, the block keeps y = first
 * segment ? seg : y + seg and writes y, +bias, canonical NaN) costs the idle
 * part of its last wave, W (waves 132 / ntiles).  fdw_split_blocks takes the
 * cheaper, and the unsplit grid whenever the partials would pass
 * MM_WS_BUDGET.  The shape alone decides, and no choice changes a bit.
 *
 * Launch.  Programmatic dependent launch (FDW_PDL): the split kernel
 * (kernels/matmul_fast.cu) lets this grid start at once, so its first S-1
 * chunks of W are in flight while the parts are written; griddep_wait comes
 * before the first copy of a part.  The grid lets the combine kernel start
 * its launch once its chunks are done.
 *
 * D fragment (m64nBXk16, kernels/wgmma_bf16.cuh): acc[4 j + 2 h + e] of thread
 * (warp, g, t) of warpgroup v is W row 16 warp + g + 8 h of the warpgroup's 64
 * (n = n0 + 64 v + 16 warp + g + 8 h) and x row 8 j + 2 t + e (m), stored at
 * y[m][n] (or part[s][m][n]): for one register the warp's 32 lanes write 4 x
 * rows of 8 consecutive n, four whole 32-byte sectors.
 *
 * Requirements (lc_matmul_fast_run_wgmma_decode checks them; kernels/matmul_fast.cu
 * falls back to the mma.sync decode kernel otherwise): 1 <= m <= 64, k % 8 ==
 * 0, w and parts 16-byte aligned, kp = k rounded up to 64, an sm_90a image on a
 * compute capability 9.0 device.  Built for plain sm_90 the kernel is empty and
 * the entry answers LC_ERR_UNSUPPORTED.  Benchmark: bench/bench_matmul, row
 * fast-wgmma-dec (M <= 64); tests: tests/test_cuda_fast.c (path 4).
 */
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/matmul_common.cuh"
#include "kernels/wgmma_bf16.cuh"

#define FDW_KC LC_FAST_CHUNK                  /* 64 k per chunk */
#define FDW_CPS (MM_SEG / LC_FAST_CHUNK)      /* 4 chunks per segment */
#define FDW_BW 128                            /* W rows per block */
#define FDW_WG_ROWS 64                        /* W rows per warpgroup: the wgmma's M */
#define FDW_THREADS 256                       /* two warpgroups */
#define FDW_TILE_W (FDW_BW * LC_WG_ROW_BYTES) /* 16 KiB: W's chunk tile */
#define FDW_ROWS_PER_PASS (FDW_THREADS / 8)   /* 32 rows of 8 pieces per pass of the block */
#define FDW_WAVE 132                          /* blocks of one wave: an H100 SXM's SMs, one each */
#define FDW_SMEM_BUDGET (200 * 1024)          /* stages fill up to this */
#define FDW_MAX_STAGES 8
/* Build-time switches, for the measurements of bench/RESULTS.md: W's copies
 * with the L2::256B prefetch hint, and the programmatic dependent launch. */
#ifndef FDW_PF256
#define FDW_PF256 1
#endif
#ifndef FDW_PDL
#define FDW_PDL 1
#endif

#if LC_FAST_CHUNK != 64 || LC_MMA_K != 16 || MM_SEG % LC_FAST_CHUNK != 0
#error "matmul_fast_wgmma_decode.cu assumes 64-k chunks (one 128-byte row) of 16-k MMA steps"
#endif
#if LC_FAST_WGMMA_DECODE_MAX_M != 64
#error "matmul_fast_wgmma_decode.cu instantiates BX = 8, 16, 32, 64"
#endif

/* Bytes of one stage (W's tile, then the P x tiles of BX rows), the stages, and
 * the dynamic shared memory of a block (plus room to align them to 1024). */
static __host__ __device__ constexpr int fdw_stage_bytes(int bx, int p) {
  return FDW_TILE_W + p * bx * LC_WG_ROW_BYTES;
}
static __host__ __device__ constexpr int fdw_stages(int bx, int p) {
  return FDW_SMEM_BUDGET / fdw_stage_bytes(bx, p) < FDW_MAX_STAGES
             ? FDW_SMEM_BUDGET / fdw_stage_bytes(bx, p)
             : FDW_MAX_STAGES;
}
static __host__ __device__ constexpr int fdw_smem_bytes(int bx, int p) {
  return fdw_stages(bx, p) * fdw_stage_bytes(bx, p) + LC_WG_ATOM;
}

#if LC_WGMMA_DEVICE

/* The copies of one chunk into the stage at generic pointer `sg`: thread tid
 * copies piece q = tid % 8 of rows r0 + 32 j (r0 = tid / 8) of W's tile (j =
 * 0..3; fdw_load_w) and of the x tile (j < XPASS, rows below P BX: xin[j];
 * fdw_load_x), at dst0 = lc_wg_off(r0, q) + 32 j rows (the swizzled piece
 * q ^ (row & 7) is the same for all j).  W: the tile's row n0 + r0 + 32 j at
 * chunk c; x_src[j]: piece q of x tile row r0 + 32 j at k 0 (its part and
 * row), xrow[j]: that row is below m.  Missing rows and W pieces at or past k
 * are zero-filled without reading.  W's copies ask L2 for the 256-byte block
 * around them (FDW_PF256): the row's next chunk is on its way with this one. */
static __device__ __forceinline__ void fdw_load_w(unsigned char *sg, const uint16_t *__restrict__ w,
                                                  int64_t k, int64_t n, int64_t n0, int r0, int q,
                                                  uint32_t dst0, int64_t c) {
  const int64_t k0 = c * FDW_KC;
  const bool kin = k0 + q * 8 < k; /* k % 8 == 0: the piece is wholly inside or past k */
#pragma unroll
  for (int j = 0; j < 4; j++) {
    const int64_t row = n0 + r0 + j * FDW_ROWS_PER_PASS;
    const bool ok = row < n && kin;
    const uint16_t *src = ok ? w + row * k + k0 + q * 8 : w;
    unsigned char *dst = sg + dst0 + j * FDW_ROWS_PER_PASS * LC_WG_ROW_BYTES;
#if FDW_PF256
    cp_async16_pf256(dst, src, ok);
#else
    cp_async16(dst, src, ok);
#endif
  }
}

template <int XPASS>
static __device__ __forceinline__ void fdw_load_x(unsigned char *sg,
                                                  const uint16_t *const (&x_src)[XPASS],
                                                  const bool (&xrow)[XPASS],
                                                  const bool (&xin)[XPASS], uint32_t dst0,
                                                  int64_t c) {
  const int64_t k0 = c * FDW_KC;
#pragma unroll
  for (int j = 0; j < XPASS; j++)
    if (xin[j])
      cp_async16(sg + FDW_TILE_W + dst0 + j * FDW_ROWS_PER_PASS * LC_WG_ROW_BYTES,
                 xrow[j] ? x_src[j] + k0 : x_src[j], xrow[j]);
}

#endif /* LC_WGMMA_DEVICE */

/* The chunks of block b, as a range [g0, g1) of the flat chunk index
 * g = tile nchunks + c (tile = the block of 128 W rows, c = the 64-k chunk):
 * SPLIT, units [b U / nblk, (b+1) U / nblk) of the U = ntiles nseg (tile,
 * segment) units in tile-major order, each unit the chunks of one segment;
 * unsplit, tile b whole. */
static __host__ __device__ __forceinline__ int64_t fdw_unit_chunk(int64_t u, int64_t nseg,
                                                                  int64_t nchunks) {
  return (u / nseg) * nchunks + (u % nseg) * FDW_CPS;
}

/* parts [P][m][kp]; block b = blockIdx.x runs the chunks [g0, g1) above, in
 * ascending g (a block's chunks of one tile are consecutive, its segments
 * whole); SPLIT: every segment's seg to part [nseg][m][n], else y. */
template <int BX, int P, bool SPLIT>
__global__ void __launch_bounds__(FDW_THREADS, 1)
    fast_wgmma_decode_kernel(const uint16_t *__restrict__ parts, int64_t m, int64_t kp, int64_t k,
                             const uint16_t *__restrict__ w, int64_t n,
                             const uint16_t *__restrict__ bias, float *__restrict__ y,
                             float *__restrict__ part, int64_t nblk) {
#if LC_WGMMA_DEVICE
  constexpr int S = fdw_stages(BX, P);
  constexpr int SB = fdw_stage_bytes(BX, P);
  constexpr int XROWS = P * BX;                                              /* the x tile's rows */
  constexpr int XPASS = (XROWS + FDW_ROWS_PER_PASS - 1) / FDW_ROWS_PER_PASS; /* 1 .. 6 */
  constexpr int NACC = BX / 2; /* accumulator floats per thread */
  static_assert(S >= 3, "at least two chunks in flight");
  static_assert(BX % 8 == 0 && BX <= 64, "BX: 8, 16, 32 or 64");
  extern __shared__ unsigned char fdw_raw[];
  /* the stages from the first 1024-byte boundary of the window */
  const uint32_t raw_s = (uint32_t)__cvta_generic_to_shared(fdw_raw);
  const uint32_t base_s = (raw_s + (LC_WG_ATOM - 1)) & ~(uint32_t)(LC_WG_ATOM - 1);
  unsigned char *base_g = fdw_raw + (base_s - raw_s);

  const int tid = threadIdx.x, wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31;
  const int g = lane >> 2, t = lane & 3;
  const int64_t nchunks = (k + FDW_KC - 1) / FDW_KC;
  int64_t g0, g1;
  if (SPLIT) {
    const int64_t nseg = (nchunks + FDW_CPS - 1) / FDW_CPS;
    const int64_t units = (n + FDW_BW - 1) / FDW_BW * nseg;
    g0 = fdw_unit_chunk((int64_t)blockIdx.x * units / nblk, nseg, nchunks);
    g1 = fdw_unit_chunk(((int64_t)blockIdx.x + 1) * units / nblk, nseg, nchunks);
  } else {
    g0 = (int64_t)blockIdx.x * nchunks;
    g1 = g0 + nchunks;
  }
  const int64_t nc = g1 - g0;     /* >= 1: the host's plan leaves no block empty */
  const int64_t pstride = m * kp; /* one part's [m][kp] */

  /* this thread's copies: piece q of rows r0 + 32 j of each tile */
  const int q = tid & 7, r0 = tid >> 3;
  const uint32_t dst0 = lc_wg_off(r0, q);
  bool xin[XPASS], xrow[XPASS];
  const uint16_t *x_src[XPASS];
#pragma unroll
  for (int j = 0; j < XPASS; j++) {
    const int rr = r0 + j * FDW_ROWS_PER_PASS; /* x tile row: part rr / BX, x row rr % BX */
    xin[j] = rr < XROWS;
    xrow[j] = xin[j] && rr % BX < m;
    x_src[j] =
        parts + (xrow[j] ? (int64_t)(rr / BX) * pstride + (int64_t)(rr % BX) * kp : 0) + q * 8;
  }

  float seg[NACC], tot[NACC]; /* tot: unsplit only (dead, and dropped, when SPLIT) */
#pragma unroll
  for (int i = 0; i < NACC; i++) seg[i] = tot[i] = 0.0f;

  /* The prologue: W's first S-1 chunks first (W is no earlier kernel's
   * output), then, once the kernel that wrote the parts has finished
   * (griddep_wait: a no-op without a programmatic dependent launch), the
   * parts'.  Group 0 holds W's S-1 chunks and x's chunk 0, group s x's chunk
   * s: waiting for group i still means chunk i is in. */
  /* (tile, chunk) of the block's first chunk, then of the next chunk to load:
   * stepped, not divided, in the loop (a 64-bit division there would be a call
   * between a wgmma's issue and its wait) */
  int64_t ct = g0 / nchunks, cc = g0 - ct * nchunks;
  int64_t lt = ct, lk = cc;
  for (int s = 0; s < S - 1 && s < nc; s++) {
    fdw_load_w(base_g + s * SB, w, k, n, lt * FDW_BW, r0, q, dst0, lk);
    if (++lk == nchunks) lk = 0, lt++;
  }
  griddep_wait();
  lk = cc;
#pragma unroll
  for (int s = 0; s < S - 1; s++) {
    if (s < nc) {
      fdw_load_x<XPASS>(base_g + s * SB, x_src, xrow, xin, dst0, lk);
      if (++lk == nchunks) lk = 0;
    }
    cp_async_commit();
  }

  for (int64_t i = 0; i < nc; i++) {
    const int64_t tile = ct, c = cc;
    if (++cc == nchunks) cc = 0, ct++;
    cp_async_wait<S - 2>();
    lc_fence_proxy_async();
    __syncthreads();
    const uint32_t stage_s = base_s + (uint32_t)((int)(i % S) * SB);
    float acc[NACC];
    {
#pragma unroll
      for (int e = 0; e < NACC; e++) {
        acc[e] = 0.0f;
        lc_wg_reg_fence(acc[e]);
      }
      lc_wg_fence();
      const uint64_t da = lc_wg_desc(stage_s + (uint32_t)(wg * FDW_WG_ROWS * LC_WG_ROW_BYTES));
#pragma unroll
      for (int p = P - 1; p >= 0; p--) {
        const uint64_t db = lc_wg_desc(stage_s + (uint32_t)(FDW_TILE_W + p * BX * LC_WG_ROW_BYTES));
#pragma unroll
        for (int s = 0; s < 4; s++) /* step s: +32 s bytes, i.e. +2 s in the address field */
          lc_wgmma_m64nN(acc, da + (uint64_t)(2 * s), db + (uint64_t)(2 * s));
      }
      lc_wg_commit();
    }
    {
      const int64_t ni = i + S - 1;
      if (ni < nc) {
        unsigned char *sg = base_g + (int)(ni % S) * SB;
        fdw_load_w(sg, w, k, n, lt * FDW_BW, r0, q, dst0, lk);
        fdw_load_x<XPASS>(sg, x_src, xrow, xin, dst0, lk);
        if (++lk == nchunks) lk = 0, lt++;
      }
      cp_async_commit();
    }
    lc_wg_wait<0>();
#pragma unroll
    for (int e = 0; e < NACC; e++) lc_wg_reg_fence(acc[e]);
    /* the chunk into its segment; a finished segment into y or the workspace */
    const bool seg_first = c % FDW_CPS == 0;
    const bool seg_last = c % FDW_CPS == FDW_CPS - 1 || c == nchunks - 1;
#pragma unroll
    for (int e = 0; e < NACC; e++) seg[e] = seg_first ? acc[e] : seg[e] + acc[e];
    if (seg_last) {
      if (SPLIT) {
        float *ps = part + (c / FDW_CPS) * m * n;
        const int64_t n0 = tile * FDW_BW;
#pragma unroll
        for (int e = 0; e < NACC; e++) {
          const int64_t r = 8 * (e >> 2) + 2 * t + (e & 1);
          const int64_t col = n0 + wg * FDW_WG_ROWS + warp * 16 + g + 8 * ((e >> 1) & 1);
          if (r < m && col < n) ps[r * n + col] = seg[e];
        }
      } else {
        const bool first_seg = c < FDW_CPS;
#pragma unroll
        for (int e = 0; e < NACC; e++) tot[e] = first_seg ? seg[e] : tot[e] + seg[e];
      }
    }
  }
  cp_async_wait<0>();
  /* the combine kernel (SPLIT) may start its launch; it waits for this grid */
  griddep_launch_dependents();

  if (!SPLIT) {
    const int64_t n0 = (int64_t)blockIdx.x * FDW_BW;
#pragma unroll
    for (int h = 0; h < 2; h++) {
      const int64_t col = n0 + wg * FDW_WG_ROWS + warp * 16 + g + 8 * h;
      if (col >= n) continue;
      const float b = bias ? lc_bf16_to_f32(bias[col]) : 0.0f;
#pragma unroll
      for (int j = 0; j < BX / 8; j++) {
#pragma unroll
        for (int e = 0; e < 2; e++) {
          const int64_t r = 8 * j + 2 * t + e;
          if (r < m) {
            float v = tot[4 * j + 2 * h + e];
            if (bias) v = v + b;
            y[r * n + col] = lc_canon_nan(v);
          }
        }
      }
    }
  }
#else
  (void)parts, (void)m, (void)kp, (void)k, (void)w, (void)n, (void)bias, (void)y, (void)part,
      (void)nblk;
#endif /* LC_WGMMA_DEVICE */
}

/* ======================================================================== */
/*  the plan and the entries                                                */
/* ======================================================================== */

/* Blocks of the SPLIT grid for this shape, 0 for the unsplit one (see "K
 * split" above): the shape alone decides, and no choice changes a bit. */
static int64_t fdw_split_blocks(int64_t m, int64_t k, int64_t n) {
  const int64_t nseg = mm_nseg(k), ntiles = (n + FDW_BW - 1) / FDW_BW, units = ntiles * nseg;
  if (nseg < 2 || nseg * m * n * (int64_t)sizeof(float) > MM_WS_BUDGET) return 0;
  /* in units of W's bytes: unsplit, the waves of one block per SM (the last
   * one partly idle): W / (ntiles / (waves 132)); split, W plus the segment
   * sums written and read again, 2 x 4 m bytes per 2 x 256 of W: W (1 + m/64) */
  const int64_t waves = (ntiles + FDW_WAVE - 1) / FDW_WAVE;
  const double unsplit = (double)(waves * FDW_WAVE) / (double)ntiles;
  const double split = 1.0 + (double)m / 64.0;
  if (split >= unsplit) return 0;
  return units < FDW_WAVE ? units : FDW_WAVE;
}

size_t lc_matmul_fast_wgmma_decode_split_bytes(int64_t m, int64_t k, int64_t n) {
  if (m < 1 || m > LC_FAST_WGMMA_DECODE_MAX_M || k < 1 || n < 1) return 0;
  if (fdw_split_blocks(m, k, n) == 0) return 0;
  return (size_t)(mm_nseg(k) * m * n) * sizeof(float);
}

template <int BX, int P, bool SPLIT>
static lc_status fdw_launch(const uint16_t *parts, int64_t m, int64_t kp, int64_t k,
                            const uint16_t *w, int64_t n, const uint16_t *bias, float *y,
                            float *part, int64_t nblk, cudaStream_t st, char *err, size_t err_len) {
  const int smem = fdw_smem_bytes(BX, P);
  cudaError_t e = cudaFuncSetAttribute(fast_wgmma_decode_kernel<BX, P, SPLIT>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (e != cudaSuccess) return lc_cuda_fail(e, "fast_wgmma_decode_kernel smem", err, err_len);
  /* a programmatic dependent launch: the kernel that wrote the parts (the
   * split, kernels/matmul_fast.cu) lets it start, and its W copies begin,
   * before the parts are complete; griddep_wait guards their reads */
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3((unsigned)nblk);
  cfg.blockDim = dim3(FDW_THREADS);
  cfg.dynamicSmemBytes = (size_t)smem;
  cfg.stream = st;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = FDW_PDL;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  e = cudaLaunchKernelEx(&cfg, fast_wgmma_decode_kernel<BX, P, SPLIT>, parts, m, kp, k, w, n, bias,
                         y, part, nblk);
  if (e != cudaSuccess) return lc_cuda_fail(e, "fast_wgmma_decode_kernel", err, err_len);
  lc_status s = lc_launch_status("fast_wgmma_decode_kernel", err, err_len);
  if (s != LC_OK || !SPLIT) return s;
  e = lc_matmul_launch_combine(part, m, n, mm_nseg(k), bias, y, st);
  if (e != cudaSuccess) return lc_cuda_fail(e, "matmul_combine_kernel", err, err_len);
  return LC_OK;
}

template <int BX, int P>
static lc_status fdw_launch_bx(const uint16_t *parts, int64_t m, int64_t kp, int64_t k,
                               const uint16_t *w, int64_t n, const uint16_t *bias, float *y,
                               float *part, int64_t nsplit, cudaStream_t st, char *err,
                               size_t err_len) {
  if (nsplit > 0)
    return fdw_launch<BX, P, true>(parts, m, kp, k, w, n, bias, y, part, nsplit, st, err, err_len);
  return fdw_launch<BX, P, false>(parts, m, kp, k, w, n, bias, y, part, (n + FDW_BW - 1) / FDW_BW,
                                  st, err, err_len);
}

template <int P>
static lc_status fdw_launch_p(const uint16_t *parts, int64_t m, int64_t kp, int64_t k,
                              const uint16_t *w, int64_t n, const uint16_t *bias, float *y,
                              float *part, int64_t nsplit, cudaStream_t st, char *err,
                              size_t err_len) {
  if (m <= 8)
    return fdw_launch_bx<8, P>(parts, m, kp, k, w, n, bias, y, part, nsplit, st, err, err_len);
  if (m <= 16)
    return fdw_launch_bx<16, P>(parts, m, kp, k, w, n, bias, y, part, nsplit, st, err, err_len);
  if (m <= 32)
    return fdw_launch_bx<32, P>(parts, m, kp, k, w, n, bias, y, part, nsplit, st, err, err_len);
  return fdw_launch_bx<64, P>(parts, m, kp, k, w, n, bias, y, part, nsplit, st, err, err_len);
}

lc_status lc_matmul_fast_run_wgmma_decode(const uint16_t *parts, int64_t m, int64_t kp, int64_t k,
                                          const uint16_t *w, int64_t n, const uint16_t *bias,
                                          float *y, int parts_count, float *part, size_t part_bytes,
                                          cudaStream_t st, char *err, size_t err_len) {
  if (m < 1 || m > LC_FAST_WGMMA_DECODE_MAX_M || k < 1 || n < 1)
    return mm_bad("wgmma decode: bad shape (1 <= m <= 64)", err, err_len);
  if (parts_count != 1 && parts_count != 3)
    return mm_bad("wgmma decode: parts must be 1 or 3", err, err_len);
  if (kp != (k + FDW_KC - 1) / FDW_KC * FDW_KC)
    return mm_bad("wgmma decode: kp must be k rounded up to 64", err, err_len);
  if (k % 8 != 0 || !lc_aligned16(w) || !lc_aligned16(parts))
    return mm_bad("wgmma decode: needs k % 8 == 0 and 16-byte aligned w and parts", err, err_len);
  if (!parts || !w || !y) return mm_bad("wgmma decode: NULL tensor", err, err_len);
  if ((n + FDW_BW - 1) / FDW_BW > INT32_MAX)
    return mm_bad("wgmma decode: n too large for one grid", err, err_len);
  const int64_t nsplit = fdw_split_blocks(m, k, n);
  if (nsplit > 0 && (!part || part_bytes < lc_matmul_fast_wgmma_decode_split_bytes(m, k, n)))
    return mm_bad("wgmma decode: workspace too small for the segment partials", err, err_len);
  if (!lc_wgmma_image()) {
    if (err && err_len)
      snprintf(err, err_len,
               "lc_kernels_matmul: wgmma decode path not available (no sm_90a code in this "
               "build, or the device is not compute capability 9.0)");
    return LC_ERR_UNSUPPORTED;
  }
  if (parts_count == 3)
    return fdw_launch_p<3>(parts, m, kp, k, w, n, bias, y, part, nsplit, st, err, err_len);
  return fdw_launch_p<1>(parts, m, kp, k, w, n, bias, y, part, nsplit, st, err, err_len);
}
