/*
 * kernels/matmul_fast.cu — y[m][n] = x[m][k] W[n][k]^T (+ bias[n]) on bf16 tensor
 * cores in the fast order v1 (fast mode: x split into 3 bf16 parts; bf16 mode: x
 * rounded to bf16), bitwise lc_cpu_matmul_fast of cpu_ref/matmul_fast.c.
 *
 * For every (m, n), with P parts and Kc = LC_FAST_CHUNK = 64 (docs/numerics.md 10):
 *
 *   for s = 0 .. ceil(k/256)-1 (strict's segments), for each 64-k chunk c of s:
 *     acc = +0  (a tensor-core accumulator)
 *     for p = P-1 .. 0 (lo, mid, hi), for the chunk's 16-k steps ascending:
 *       acc = mma.m16n8k16(part_p(x[m][step]), W[n][step], acc)
 *     seg = (c first in s) ? acc : seg + acc     (fp32 round to nearest)
 *     at the end of s: y = (s == 0) ? seg : y + seg
 *   if bias: y = y + widen(bias[n]);   store lc_canon_nan(y)
 *
 * The MMA adds its 16 products and c as one fused sum (the model of
 * docs/numerics.md 10.2, checked on the hardware by tests/test_cuda_mma.c): the
 * order of the 16 terms inside a step cannot change its result, which lets the
 * decode kernel hand each thread 4 contiguous k of a step (below).  Past k, both
 * operands are zero ((+0)*(+0) terms cannot change a sum in the model).
 *
 * Three kernels, one order:
 *   fast_split_kernel   x [m][k] fp32 -> parts [P][m][kp] bf16 in the workspace
 *                       (kp = k rounded up to 64, zero-padded): lc_split3_bf16
 *                       (fast) or lc_f32_to_bf16 (bf16), once per call;
 *   fast_decode_kernel  small m: W is the MMA's A operand (16 rows of W per
 *                       block), the x parts its B operand (8 or 16 rows of x),
 *                       so one row of x is padded 8-fold, not 64-fold.  Each of
 *                       8 warps takes whole chunks of k; their chunk results
 *                       meet in shared memory and one pass adds them into
 *                       segments and the segments into y, in order.  Thread (g, t) of a warp holds,
 * for a step, the 4 contiguous k 4t..4t+3 of W rows g and g+8 and of x row g: in the MMA's slots
 * {2t, 2t+1} (a0/a1/b0) and {2t+8, 2t+9} (a2/a3/b1), a permutation of the step's 16 k that the
 * fused sum does not see.  W is read straight from global memory, 8 bytes per row per step;
 *   fast_tiled_kernel   larger m: 128 x 128 output tiles, x parts (A) and W (B)
 *                       staged by cp.async in 64-k chunks (3 stages, swizzled),
 *                       ldmatrix fragments, 8 warps of 64 x 32, the tensor-core
 *                       accumulator, the segment and the fp32 sum in registers.
 * Two more on Hopper's wgmma (sm_90a): WGMMA, the tiled kernel
 * (kernels/matmul_fast_wgmma.cu; else TILED), and WGMMA_DECODE, a swap-AB
 * decode kernel for m <= 64 with K split across blocks
 * (kernels/matmul_fast_wgmma_decode.cu).  AUTO takes WGMMA_DECODE for m <= 64
 * and WGMMA above where they run; elsewhere DECODE for m <= FAST_DECODE_MAX_M
 * and whenever the tiled kernel's 16-byte copies cannot be used (k % 8 or w
 * not 16-byte aligned), else TILED.
 */
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/matmul_common.cuh"
#include "kernels/mma_bf16.cuh"

#define KC LC_FAST_CHUNK /* 64 */
#define FAST_DECODE_MAX_M 16
#define FC_PER_SEG (MM_SEG / KC) /* 4 chunks per segment of 256 */

#if LC_FAST_CHUNK != 64 || LC_MMA_K != 16
#error "matmul_fast.cu assumes 64-k chunks of 16-k MMA steps"
#endif

static inline int64_t round_up(int64_t v, int64_t q) {
  return (v + q - 1) / q * q;
}

/* ======================================================================== */
/*  the split                                                               */
/* ======================================================================== */

/* parts[p][r][kk] for kk < kp: the p-th part of x[r][kk] (0 past k).  The
 * wgmma decode kernel, launched after it as a programmatic dependent, may
 * start at once: it waits for this grid before it reads a part. */
template <int P>
__global__ void fast_split_kernel(const float *__restrict__ x, int64_t m, int64_t k, int64_t kp,
                                  uint16_t *__restrict__ parts) {
  griddep_launch_dependents();
  const int64_t total = m * kp;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / kp, kk = i - r * kp;
    uint16_t pr[3] = {0, 0, 0};
    if (kk < k) {
      const float v = x[r * k + kk];
      if (P == 3)
        lc_split3_bf16(v, pr);
      else
        pr[0] = lc_f32_to_bf16(v);
    }
#pragma unroll
    for (int p = 0; p < P; p++) parts[(int64_t)p * total + i] = pr[p];
  }
}

/* ======================================================================== */
/*  decode: W as the A operand                                              */
/* ======================================================================== */

#define FD_WARPS 8
#define FD_CPW 2 /* chunks per warp per window */
#define FD_WIN (FD_WARPS * FD_CPW)
#if FD_WIN % FC_PER_SEG != 0
#error "a decode window must hold whole segments"
#endif

/* 4 bf16 of W row `row` at k0..k0+3 (zero past k or past n) as two words. */
static __device__ __forceinline__ uint2 load_w4(const uint16_t *__restrict__ w, int64_t n,
                                                int64_t k, int64_t row, int64_t k0, bool vec) {
  if (row >= n) return make_uint2(0, 0);
  const uint16_t *p = w + row * k + k0;
  if (vec && k0 + 3 < k) return __ldcs(reinterpret_cast<const uint2 *>(p));
  uint16_t v[4];
#pragma unroll
  for (int i = 0; i < 4; i++) v[i] = k0 + i < k ? p[i] : (uint16_t)0;
  return make_uint2((uint32_t)v[0] | ((uint32_t)v[1] << 16),
                    (uint32_t)v[2] | ((uint32_t)v[3] << 16));
}

template <int NT, int P>
__global__ void __launch_bounds__(FD_WARPS * 32)
    fast_decode_kernel(const uint16_t *__restrict__ parts, int64_t m, int64_t kp, int64_t k,
                       const uint16_t *__restrict__ w, int64_t n, const uint16_t *__restrict__ bias,
                       float *__restrict__ y, bool wvec) {
  constexpr int OUT = 16 * NT * 8; /* outputs of the block: 16 W rows x NT*8 x rows */
  __shared__ float red[FD_WIN][OUT];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int64_t n0 = (int64_t)blockIdx.x * 16, m0 = (int64_t)blockIdx.y * (NT * 8);
  const int64_t nchunks = (k + KC - 1) / KC;
  const int64_t pstride = m * kp; /* one part's [m][kp] */
  float total = 0.0f, seg = 0.0f;

  for (int64_t win = 0; win < nchunks; win += FD_WIN) {
    float acc[FD_CPW][NT][4];
    uint32_t a[FD_CPW][4][4];
#pragma unroll
    for (int q = 0; q < FD_CPW; q++) {
      const int64_t c = win + q * FD_WARPS + warp;
#pragma unroll
      for (int s = 0; s < 4; s++) {
        uint2 ra = make_uint2(0, 0), rb = make_uint2(0, 0);
        if (c < nchunks) {
          const int64_t kk = c * KC + 16 * s + 4 * t;
          ra = load_w4(w, n, k, n0 + g, kk, wvec);
          rb = load_w4(w, n, k, n0 + g + 8, kk, wvec);
        }
        a[q][s][0] = ra.x;
        a[q][s][2] = ra.y;
        a[q][s][1] = rb.x;
        a[q][s][3] = rb.y;
      }
#pragma unroll
      for (int j = 0; j < NT; j++) acc[q][j][0] = acc[q][j][1] = acc[q][j][2] = acc[q][j][3] = 0.0f;
    }
#pragma unroll
    for (int q = 0; q < FD_CPW; q++) {
      const int64_t c = win + q * FD_WARPS + warp;
      if (c >= nchunks) continue;
#pragma unroll
      for (int p = P - 1; p >= 0; p--) {
#pragma unroll
        for (int s = 0; s < 4; s++) {
          const int64_t kk = c * KC + 16 * s + 4 * t;
#pragma unroll
          for (int j = 0; j < NT; j++) {
            const int64_t r = m0 + j * 8 + g;
            uint2 b = make_uint2(0, 0);
            if (r < m) b = *reinterpret_cast<const uint2 *>(parts + p * pstride + r * kp + kk);
            mma_bf16(acc[q][j], a[q][s], b.x, b.y);
          }
        }
      }
    }
    /* D fragment: d0, d1 at (W row g, x row 2t, 2t+1), d2, d3 at W row g + 8 */
#pragma unroll
    for (int q = 0; q < FD_CPW; q++) {
      float *dst = red[q * FD_WARPS + warp];
#pragma unroll
      for (int j = 0; j < NT; j++) {
        const int col = j * 8 + 2 * t;
        dst[col * 16 + g] = acc[q][j][0];
        dst[(col + 1) * 16 + g] = acc[q][j][1];
        dst[col * 16 + g + 8] = acc[q][j][2];
        dst[(col + 1) * 16 + g + 8] = acc[q][j][3];
      }
    }
    __syncthreads();
    if (threadIdx.x < OUT) {
      /* windows start on segment boundaries (16 chunks = 4 segments of 256) */
      for (int i = 0; i < FD_WIN && win + i < nchunks; i++) {
        const float v = red[i][threadIdx.x];
        const int64_t ci = win + i;
        seg = ci % FC_PER_SEG == 0 ? v : seg + v;
        if (ci % FC_PER_SEG == FC_PER_SEG - 1 || ci == nchunks - 1)
          total = ci < FC_PER_SEG ? seg : total + seg;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x < OUT) {
    const int64_t row = n0 + (threadIdx.x & 15), col = m0 + (threadIdx.x >> 4);
    if (row < n && col < m) {
      float v = total;
      if (bias) v = v + lc_bf16_to_f32(bias[row]);
      y[col * n + row] = lc_canon_nan(v);
    }
  }
}

/* ======================================================================== */
/*  tiled: x parts as the A operand                                         */
/* ======================================================================== */

#define FT_BM 128
#define FT_BN 128
#define FT_STAGES 3
#define FT_THREADS 256
#define FT_ROW_BYTES (KC * 2) /* 128: one row of a chunk tile */

template <int P>
struct ft_smem {
  uint16_t a[FT_STAGES][P][FT_BM * KC];
  uint16_t b[FT_STAGES][FT_BN * KC];
};

/* byte offset of 16-byte piece `piece` (0..7) of tile row `row`: pieces XOR-swizzled
 * by row so that ldmatrix's 8 rows hit 8 different bank groups */
static __device__ __forceinline__ uint32_t ft_off(int row, int piece) {
  return (uint32_t)(row * FT_ROW_BYTES + ((piece ^ (row & 7)) << 4));
}

static __device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

template <int P>
static __device__ __forceinline__ void ft_load_chunk(ft_smem<P> &sm, int stage,
                                                     const uint16_t *__restrict__ parts,
                                                     int64_t pstride, int64_t m, int64_t kp,
                                                     const uint16_t *__restrict__ w, int64_t n,
                                                     int64_t k, int64_t m0, int64_t n0, int64_t c) {
  const int tid = threadIdx.x;
  const int64_t k0 = c * KC;
  /* A: P x 128 rows x 8 pieces */
#pragma unroll
  for (int i = tid; i < P * FT_BM * 8; i += FT_THREADS) {
    const int p = i / (FT_BM * 8), row = (i / 8) % FT_BM, piece = i % 8;
    const int64_t r = m0 + row;
    const bool ok = r < m;
    const uint16_t *src = parts + p * pstride + (ok ? r : 0) * kp + k0 + piece * 8;
    cp_async16(reinterpret_cast<char *>(sm.a[stage][p]) + ft_off(row, piece), src, ok);
  }
#pragma unroll
  for (int i = tid; i < FT_BN * 8; i += FT_THREADS) {
    const int row = i / 8, piece = i % 8;
    const int64_t r = n0 + row, kk = k0 + piece * 8;
    const bool ok = r < n && kk < k;
    const uint16_t *src = w + (ok ? r * k + kk : 0);
    cp_async16(reinterpret_cast<char *>(sm.b[stage]) + ft_off(row, piece), src, ok);
  }
}

template <int P>
__global__ void __launch_bounds__(FT_THREADS, 1)
    fast_tiled_kernel(const uint16_t *__restrict__ parts, int64_t m, int64_t kp, int64_t k,
                      const uint16_t *__restrict__ w, int64_t n, const uint16_t *__restrict__ bias,
                      float *__restrict__ y) {
  extern __shared__ __align__(128) unsigned char ft_raw[];
  ft_smem<P> &sm = *reinterpret_cast<ft_smem<P> *>(ft_raw);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int wm = (warp & 1) * 64, wn = (warp >> 1) * 32; /* the warp's 64 x 32 */
  const int64_t n0 = (int64_t)blockIdx.x * FT_BN, m0 = (int64_t)blockIdx.y * FT_BM;
  const int64_t nchunks = (k + KC - 1) / KC;
  const int64_t pstride = m * kp;

  float tot[4][4][4], seg[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) tot[i][j][e] = seg[i][j][e] = 0.0f;

#pragma unroll
  for (int s = 0; s < FT_STAGES - 1; s++) {
    if (s < nchunks) ft_load_chunk<P>(sm, s, parts, pstride, m, kp, w, n, k, m0, n0, s);
    cp_async_commit();
  }
  /* ldmatrix row addresses: A x4 -> lanes 0-15 rows 0-15 at piece 2s, 16-31 at 2s+1;
   * B x4 over two 8-row n tiles -> lane l: row (l & 7) + 8 * (l >> 4), piece 2s + ((l >> 3) & 1) */
  const int a_row = lane & 15, a_hi = lane >> 4;
  const int b_row = (lane & 7) + ((lane >> 4) << 3), b_hi = (lane >> 3) & 1;

  for (int64_t c = 0; c < nchunks; c++) {
    cp_async_wait<FT_STAGES - 2>();
    __syncthreads();
    {
      const int64_t nc = c + FT_STAGES - 1;
      if (nc < nchunks)
        ft_load_chunk<P>(sm, (int)(nc % FT_STAGES), parts, pstride, m, kp, w, n, k, m0, n0, nc);
      cp_async_commit();
    }
    const int st = (int)(c % FT_STAGES);
    const uint32_t bbase = (uint32_t)__cvta_generic_to_shared(sm.b[st]);
    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
      for (int j = 0; j < 4; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;
#pragma unroll
    for (int p = P - 1; p >= 0; p--) {
      const uint32_t abase = (uint32_t)__cvta_generic_to_shared(sm.a[st][p]);
#pragma unroll
      for (int s = 0; s < 4; s++) {
        uint32_t bf[4][2];
#pragma unroll
        for (int jj = 0; jj < 2; jj++) {
          uint32_t r[4];
          ldsm_x4(r, bbase + ft_off(wn + jj * 16 + b_row, 2 * s + b_hi));
          bf[2 * jj][0] = r[0];
          bf[2 * jj][1] = r[1];
          bf[2 * jj + 1][0] = r[2];
          bf[2 * jj + 1][1] = r[3];
        }
#pragma unroll
        for (int i = 0; i < 4; i++) {
          uint32_t af[4];
          ldsm_x4(af, abase + ft_off(wm + i * 16 + a_row, 2 * s + a_hi));
#pragma unroll
          for (int j = 0; j < 4; j++) mma_bf16(acc[i][j], af, bf[j][0], bf[j][1]);
        }
      }
    }
    /* the chunk into its segment, a finished segment into the sum */
    const bool seg_first = c % FC_PER_SEG == 0;
    const bool seg_last = c % FC_PER_SEG == FC_PER_SEG - 1 || c == nchunks - 1;
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
      for (int j = 0; j < 4; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          seg[i][j][e] = seg_first ? acc[i][j][e] : seg[i][j][e] + acc[i][j][e];
          if (seg_last) tot[i][j][e] = c < FC_PER_SEG ? seg[i][j][e] : tot[i][j][e] + seg[i][j][e];
        }
  }
  cp_async_wait<0>();

  /* C fragment: e = 0, 1 at (row g, col 2t, 2t+1); e = 2, 3 at row g + 8 */
#pragma unroll
  for (int i = 0; i < 4; i++) {
#pragma unroll
    for (int j = 0; j < 4; j++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int64_t r = m0 + wm + i * 16 + g + (e >> 1) * 8;
        const int64_t col = n0 + wn + j * 8 + 2 * t + (e & 1);
        if (r < m && col < n) {
          float v = tot[i][j][e];
          if (bias) v = v + lc_bf16_to_f32(bias[col]);
          y[r * n + col] = lc_canon_nan(v);
        }
      }
    }
  }
}

/* ======================================================================== */
/*  entries                                                                 */
/* ======================================================================== */

static bool tiled_ok(int64_t k, const uint16_t *w) {
  return k % 8 == 0 && lc_aligned16(w);
}

static lc_kmatmul_path fast_resolve(int64_t m, int64_t k, const uint16_t *w, lc_kmatmul_path path) {
  if ((path == LC_KMATMUL_TILED || path == LC_KMATMUL_WGMMA) && (w == NULL || tiled_ok(k, w)))
    return LC_KMATMUL_TILED;
  if (path == LC_KMATMUL_AUTO && m > FAST_DECODE_MAX_M && (w == NULL || tiled_ok(k, w)))
    return LC_KMATMUL_TILED;
  return LC_KMATMUL_DECODE;
}

/* The parts [P][m][kp]; for WGMMA_DECODE where it may run (m <= 64, k % 8 == 0)
 * and the shape splits K, the segment sums [nseg][m][n] after them. */
static size_t parts_bytes(int64_t m, int64_t k, int parts) {
  return (size_t)parts * (size_t)m * (size_t)round_up(k, KC) * sizeof(uint16_t);
}

extern "C" size_t lc_kernels_matmul_fast_workspace(int64_t m, int64_t k, int64_t n, int parts,
                                                   lc_kmatmul_path path) {
  if (m <= 0 || k <= 0 || (parts != 1 && parts != 3)) return 0;
  size_t b = parts_bytes(m, k, parts);
  if ((path == LC_KMATMUL_WGMMA_DECODE || path == LC_KMATMUL_AUTO) &&
      m <= LC_FAST_WGMMA_DECODE_MAX_M && k % 8 == 0)
    b += lc_matmul_fast_wgmma_decode_split_bytes(m, k, n);
  return b;
}

template <int P>
static lc_status run_fast(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                          const uint16_t *bias, float *y, lc_kmatmul_path path, uint16_t *ws,
                          size_t ws_bytes, cudaStream_t st, char *err, size_t err_len) {
  const int64_t kp = round_up(k, KC);
  {
    const int64_t total = m * kp;
    int64_t blocks = (total + 255) / 256;
    if (blocks > 8192) blocks = 8192;
    fast_split_kernel<P><<<(unsigned)blocks, 256, 0, st>>>(x, m, k, kp, ws);
    lc_status s = lc_launch_status("fast_split_kernel", err, err_len);
    if (s != LC_OK) return s;
  }
  /* AUTO, where the wgmma kernels run (sm_90a code on a compute capability
   * 9.0 device, 16-byte aligned operands, k % 8 == 0; else the mma.sync
   * kernels): up to LC_FAST_WGMMA_DECODE_MAX_M rows the swap-AB wgmma decode
   * kernel, above it the wgmma tiled kernel.  Both passed
   * tests/test_cuda_fast.c bitwise on an H100; there the decode kernel was
   * 1.3x to 2.8x faster than the mma.sync kernels at M = 1 and 16, and the
   * tiled one 2.2x to 2.7x faster at M = 256 and 4096 (bench/RESULTS.md,
   * 2026-12-07, the fast-alt rows).  Every path gives the same bits. */
  if (path == LC_KMATMUL_AUTO)
    path = m <= LC_FAST_WGMMA_DECODE_MAX_M ? LC_KMATMUL_WGMMA_DECODE : LC_KMATMUL_WGMMA;
  /* WGMMA_DECODE (kernels/matmul_fast_wgmma_decode.cu): where the device runs
   * sm_90a code, m <= 64, and the 16-byte copies can be used; else the
   * mma.sync kernel AUTO's M would take. */
  if (path == LC_KMATMUL_WGMMA_DECODE) {
    if (m <= LC_FAST_WGMMA_DECODE_MAX_M && tiled_ok(k, w) && lc_aligned16(ws) &&
        lc_matmul_fast_wgmma_available()) {
      const size_t pb = parts_bytes(m, k, P);
      float *part = reinterpret_cast<float *>(reinterpret_cast<char *>(ws) + pb);
      return lc_matmul_fast_run_wgmma_decode(ws, m, kp, k, w, n, bias, y, P, part, ws_bytes - pb,
                                             st, err, err_len);
    }
    path = m > FAST_DECODE_MAX_M && tiled_ok(k, w) ? LC_KMATMUL_TILED : LC_KMATMUL_DECODE;
  }
  const dim3 grid_n((unsigned)((n + 15) / 16));
  if (fast_resolve(m, k, w, path) == LC_KMATMUL_DECODE) {
    const bool wvec = k % 4 == 0 && lc_aligned8(w);
    if (m <= 8) {
      fast_decode_kernel<1, P><<<grid_n, FD_WARPS * 32, 0, st>>>(ws, m, kp, k, w, n, bias, y, wvec);
    } else {
      const dim3 grid((unsigned)((n + 15) / 16), (unsigned)((m + 15) / 16));
      if (grid.y > 65535) return mm_bad("m too large for the decode path", err, err_len);
      fast_decode_kernel<2, P><<<grid, FD_WARPS * 32, 0, st>>>(ws, m, kp, k, w, n, bias, y, wvec);
    }
    return lc_launch_status("fast_decode_kernel", err, err_len);
  }
  /* The wgmma version of this path (kernels/matmul_fast_wgmma.cu, the same bits):
   * taken by WGMMA (and so AUTO) when the device runs its sm_90a code and the
   * workspace is 16-byte aligned (tiled_ok already holds here); TILED is
   * mma.sync. */
  if (path == LC_KMATMUL_WGMMA && lc_aligned16(ws) && lc_matmul_fast_wgmma_available())
    return lc_matmul_fast_run_wgmma(ws, m, kp, k, w, n, bias, y, P, st, err, err_len);
  const size_t smem = sizeof(ft_smem<P>);
  cudaError_t e = cudaFuncSetAttribute(fast_tiled_kernel<P>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) return lc_cuda_fail(e, "fast_tiled_kernel smem", err, err_len);
  const int64_t gy = (m + FT_BM - 1) / FT_BM;
  if (gy > 65535) return mm_bad("m too large for the tiled path", err, err_len);
  const dim3 grid((unsigned)((n + FT_BN - 1) / FT_BN), (unsigned)gy);
  fast_tiled_kernel<P><<<grid, FT_THREADS, smem, st>>>(ws, m, kp, k, w, n, bias, y);
  return lc_launch_status("fast_tiled_kernel", err, err_len);
}

extern "C" lc_status lc_kernels_matmul_fast(const float *x, int64_t m, int64_t k, const uint16_t *w,
                                            int64_t n, const uint16_t *bias, float *y, int parts,
                                            lc_kmatmul_path path, void *ws, size_t ws_bytes,
                                            void *stream, char *err, size_t err_len) {
  if (m < 0 || k < 1 || n < 1) return mm_bad("bad shape", err, err_len);
  if (parts != 1 && parts != 3) return mm_bad("parts must be 1 or 3", err, err_len);
  if (path != LC_KMATMUL_AUTO && path != LC_KMATMUL_DECODE && path != LC_KMATMUL_TILED &&
      path != LC_KMATMUL_WGMMA && path != LC_KMATMUL_WGMMA_DECODE)
    return mm_bad("unknown path", err, err_len);
  if (m == 0) return LC_OK;
  if (!x || !w || !y) return mm_bad("NULL tensor", err, err_len);
  if (!ws || ws_bytes < lc_kernels_matmul_fast_workspace(m, k, n, parts, path))
    return mm_bad("workspace too small", err, err_len);
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  uint16_t *p = static_cast<uint16_t *>(ws);
  if (parts == 3) return run_fast<3>(x, m, k, w, n, bias, y, path, p, ws_bytes, st, err, err_len);
  return run_fast<1>(x, m, k, w, n, bias, y, path, p, ws_bytes, st, err, err_len);
}
