/*
 * kernels/matmul_decode.cu — the DECODE path of lc_kernels_matmul
 * (kernels/matmul.cu): small m, where reading the bf16 bytes of W is the cost.
 *
 * Shapes and dtypes: x [m][k] fp32, W [n][k] bf16, bias NULL or [n] bf16,
 * y [m][n] fp32, device memory; where k is split across blocks, the workspace
 * [nseg][rows][n] fp32 of segment results (lc_kernels_matmul_workspace).  W
 * and x are copied raw into shared memory (cp.async); bf16 becomes fp32 in
 * registers, 8 elements at a time, in fma_chunk (kernels/matmul_common.cuh).
 *
 * Order: the canonical order of kernels/matmul.cu.  A thread (a lane) runs the
 * whole chain of one W row, one x row and one 256-k segment: acc = +0, then
 * acc = __fmaf_rn(x, w, acc) for k ascending, 8 k per fma_chunk; the segment
 * results are then added in ascending order (y = p0, y = y + p1, ...) by the
 * kernel itself when one block holds them all, else by matmul_combine_kernel;
 * then the bias, then canon.  Which block, warp, group or slice ran a chain is
 * a matter of speed only.
 *
 * Two kernels; which one runs depends on m, k and the alignment of x and w,
 * never a bit of the result:
 *
 * matmul_decode_kernel (split-K; the decode shapes the streaming kernel does
 * not take: m = 17..32, k % 8 != 0, x or w not 16-byte aligned).  Block =
 * DEC_ROWS (64) W rows x one 256-element segment, 64 threads, s fastest in
 * blockIdx.
 * The block copies its [64][256] bf16 tile into shared memory with 16-byte
 * cp.async (a warp instruction copies 4 rows x 128 contiguous bytes; rows
 * padded to 528 bytes so that the 16-byte reads below hit 8 different bank
 * quads; four commit groups so the first quarter is computed while the rest
 * lands) and the x segment of up to 16 rows the same way; thread t then runs
 * the fma chains of W row n0 + t for all staged x rows side by side (MB = 1, 2,
 * 4, 8 or 16 accumulators in registers), reading its row 8 bf16 at a time and x
 * as broadcasts.  More than 16 rows: the block loops over groups of 16 on the
 * same W tile.  k <= 256: one segment, the kernel writes y itself.  The
 * workspace is bounded by MM_WS_BUDGET: beyond it the rows go in slices (each
 * slice re-reads W).
 *
 * matmul_decode_stream_kernel (m <= 16, k % 8 == 0, x and w 16-byte aligned).
 * Block = 32 W rows x a group of consecutive segments, 8 warps (m = 1) or 4
 * (m = 2..16) taking the group's segments round-robin; each warp streams its
 * segments in quarters of 64 k through a private ring of 4 cp.async slots (3
 * quarters in flight while one is computed), so there is no load-then-compute
 * pause per tile and no partial last wave of short blocks.  The W copies carry
 * the L2::256B prefetch hint: a row's next quarter is on its way to L2 with the
 * current one, which doubles the bytes in flight per warp.  The split depends
 * on the shape only (mm_ds_plan): one group (all of k) unless that gives fewer
 * than 128 blocks or its segment results exceed 16 KiB of shared memory
 * (k > 128/mb segments); with one group the block adds its segment results in
 * ascending order itself (+ bias, canon: no workspace touched, no combine
 * kernel), else the segment results go to the workspace and the combine kernel
 * adds them.  The workspace size stays that of the split-K kernel (the
 * streaming kernel needs at most that; which kernel runs depends on alignment).
 *
 * Benchmark: bench/bench_matmul, its rows M = 1, 4 and 16 (bench/run.sh; with
 * --quick, M = 1 and 16).  Measured times and the variants tried and not kept:
 * bench/RESULTS.md, "matmul kernel history".
 */
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/matmul_common.cuh"

/* ---- decode path parameters ---------------------------------------------- */
#define DEC_ROWS 64              /* W rows per block = threads per block */
#define DEC_GROUP 16             /* x rows whose chains one thread runs together */
#define DEC_WSTRIDE (MM_SEG + 8) /* bf16 per shared W row: 528 B = 33 x 16 B */
/* streaming decode (matmul_decode_stream_kernel): m <= DS_MAX_M, k % 8 == 0,
 * x and w 16-byte aligned */
#define DS_MAX_M 16
#define DS_ROWS 32              /* W rows per block = lanes of a warp */
#define DS_WARPS 4              /* warps per block, round-robin over segments (m = 2..16) */
#define DS_WARPS_M1 8           /* the same for m = 1 */
#define DS_QK 64                /* k per quarter (8 chunks of 8 bf16) */
#define DS_QPS (MM_SEG / DS_QK) /* quarters per segment */
#define DS_CPR (DS_QK / 8)      /* 16-byte chunks per W row in a quarter */
#define DS_STAGES 4             /* quarter slots per warp (3 in flight) */
#define DS_WSTRIDE (DS_QK + 8)  /* bf16 per W row in a slot: 144 B = 9 x 16 B */
#define DS_TARGET_BLOCKS 128    /* split k into groups below this many blocks */
#define DS_PART_BYTES 16384     /* one group: the segment results in shared memory */
/* Programmatic dependent launch of the streaming kernel: it starts while the
 * kernel before it on the stream (a norm, attention's merge, silu_mul: they
 * call griddep_launch_dependents first thing) still runs, sends the first
 * DS_PF_SEGS segments of each of its warps' W rows towards L2, and waits
 * (griddep_wait) before it reads x or writes anything.  W is never written
 * while a pass runs.  Scheduling only: no chain changes.  -DDS_PDL=0: a
 * plain launch, no prefetch (A/B). */
#ifndef DS_PDL
#define DS_PDL 1
#endif
#ifndef DS_PF_SEGS
#define DS_PF_SEGS 1
#endif

/* ======================================================================== */
/*  kernels                                                                 */
/* ======================================================================== */

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

  if (DS_PDL) {
    /* this warp's first segments of W (lane = row) towards L2 while the
     * kernel before finishes; row * k and the segment starts are multiples of
     * 8 elements (k % 8 == 0), and so are the lengths */
    const int64_t row = n0 + lane;
    if (row < n) {
      for (int j = 0; j < DS_PF_SEGS && j < nsw; j++) {
        const int64_t kq = (s0 + warp + (int64_t)WARPS * j) * MM_SEG;
        const int64_t len = k - kq < MM_SEG ? k - kq : MM_SEG;
        prefetch_l2(w + row * k + kq, (unsigned)(len * (int64_t)sizeof(uint16_t)));
      }
    }
  }
  griddep_wait(); /* x and out: the kernel before is complete (a no-op without PDL) */

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

/* ======================================================================== */
/*  launchers                                                               */
/* ======================================================================== */

/* Rows per decode launch: all of m when the workspace fits the budget. */
int64_t lc_matmul_decode_slice_rows(int64_t m, int64_t k, int64_t n) {
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
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3((unsigned)blocks);
  cfg.blockDim = dim3(DS_ROWS * WARPS);
  cfg.dynamicSmemBytes = smem;
  cfg.stream = st;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = DS_PDL ? 1 : 0;
  e = cudaLaunchKernelEx(&cfg, matmul_decode_stream_kernel<MB, WARPS>, x, (int)rows, k, w, n,
                         mm_nseg(k), gsize, bias, out, direct);
  if (e != cudaSuccess) return e;
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
    e = lc_matmul_launch_combine(static_cast<const float *>(ws), m, n, nseg, bias, y, st);
    if (e != cudaSuccess) return lc_cuda_fail(e, "matmul combine kernel", err, err_len);
  }
  return LC_OK;
}

lc_status lc_matmul_run_decode(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
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
  const int64_t slice = lc_matmul_decode_slice_rows(m, k, n);
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
      e = lc_matmul_launch_combine(static_cast<const float *>(ws), rows, n, nseg, bias, y + m0 * n,
                                   st);
      if (e != cudaSuccess) return lc_cuda_fail(e, "matmul combine kernel", err, err_len);
    }
  }
  return LC_OK;
}
