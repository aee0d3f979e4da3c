/*
 * kernels/matmul_tiled.cu — the TILED path of lc_kernels_matmul
 * (kernels/matmul.cu): larger m, where the FMAs are the cost.
 *
 * Shapes and dtypes: x [m][k] fp32, W [n][k] bf16, bias NULL or [n] bf16,
 * y [m][n] fp32, device memory; when the call splits k by segment, the
 * workspace [nseg][m][n] fp32 of segment results.  x and W tiles are copied raw
 * into shared memory; bf16 becomes fp32 when each thread converts the W chunks
 * it copied into the k-major fp32 tile (tiled_store: bf16_lo/bf16_hi, exact),
 * before any fma reads them.
 *
 * Order: the canonical order of kernels/matmul.cu, with two accumulator sets
 * per output: the running segment chain, acc = __fmaf_rn(x, w, acc) from +0
 * for k ascending, and y, which takes y = seg or y = y + seg at each segment
 * end (TL_K divides 256, so segments end on tile boundaries); the last segment
 * is added in registers before the bias, canon and store.  The tile an output
 * falls in, the raster and the split by segment change no bit.
 *
 * SGEMM-style: 128 x 128 outputs per block of 256 threads, 8 x 8 per thread
 * (2 x 2 sub-tiles of 4 x 4: each k step reads 4 float4 from shared memory for
 * 64 FFMA), k tile TL_K = 16.  x and W tiles are copied raw into a staging area
 * with 16-byte cp.async while the previous tile is computed; after the compute
 * each thread converts the chunks it copied itself (x transposed, W widened)
 * into the k-major fp32 tiles of the other half of a double buffer, so one
 * barrier per k tile and no registers held across the compute.  The running
 * segment lives in 64 registers and y in shared memory (64 floats per thread,
 * private to the thread), seg reset to +0 at each segment end.  128 registers,
 * 109 KiB of shared memory, two blocks per SM, no spills.  Fewer than
 * TL_SPLIT_TILES output tiles (small m): one block per (tile, segment) writing
 * the segment raw to the workspace, then the combine kernel (when the workspace
 * fits MM_WS_BUDGET), so small m still fills the GPU.  k % 8 != 0 or unaligned
 * x, w: scalar loads through registers (slower, same bits).
 *
 * Benchmark: bench/bench_matmul, its rows M = 64 .. 4096 (bench/run.sh; with
 * --quick, M = 256 and 4096).  Measured throughput and the variants tried and
 * not kept: bench/RESULTS.md, "matmul kernel history".
 */
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/matmul_common.cuh"

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

#if (MM_SEG % TL_K) != 0
#error "kernels/matmul_tiled.cu assumes TL_K dividing LC_MATMUL_SEG_LEN"
#endif

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

/* The tiled path splits by segment (grid x nseg, workspace nseg * m * n floats)
 * when the output has fewer than TL_SPLIT_TILES tiles and the workspace fits. */
bool lc_matmul_tiled_split(int64_t m, int64_t k, int64_t n) {
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

lc_status lc_matmul_run_tiled(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                              const uint16_t *bias, float *y, void *ws, size_t ws_bytes,
                              cudaStream_t st, char *err, size_t err_len) {
  const int64_t tiles_m = (m + TL_M - 1) / TL_M, tiles_n = (n + TL_N - 1) / TL_N;
  const bool split = lc_matmul_tiled_split(m, k, n);
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
    e = lc_matmul_launch_combine(part, m, n, nsplit, bias, y, st);
    if (e != cudaSuccess) return lc_cuda_fail(e, "matmul combine kernel", err, err_len);
  }
  return LC_OK;
}
