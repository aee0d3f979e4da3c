/*
 * cpu_ref/matmul.c — y[m][n] = sum_k x[m][k] * w[n][k] (+ bias[n]) on the CPU.
 *
 * Shapes and dtypes: x [m][k] fp32, w [n][k] bf16 (uint16_t bits), bias NULL or
 * [n] bf16, y [m][n] fp32; host memory; m may be 0.
 *
 * lc_cpu_matmul_strict — the canonical order v1 (docs/numerics.md), for every
 * (m, n) exactly this sequence of IEEE operations:
 *
 *   for s = 0 .. ceil(K/Ls)-1   (Ls = LC_MATMUL_SEG_LEN = 256)
 *     acc = +0; for k = s*Ls .. min((s+1)*Ls, K)-1 ascending: acc = fmaf(x[m][k], w[n][k], acc)
 *     y = (s == 0) ? acc : y + acc
 *   if bias: y = y + bias[n];   write lc_canon_nan(y)
 *
 * bf16 becomes fp32 (exactly: a shift) when a panel of W is widened into the small
 * scratch below; the bias is widened where it is added.  The order names only k, s
 * and n's own data: not m, not the row count, not the column block, so a row's
 * result is bitwise the same in any batch, at any position, next to any data.
 *
 * How it is made fast without touching the order: columns are taken NB = 16 at a
 * time and K one segment at a time; the W panel [16][len] is widened and transposed
 * into wt[len][16] on the stack (16 KB, never the whole matrix), and the 16 fma
 * chains of the block run side by side for 4 rows at once (64 independent chains,
 * 8 ymm accumulators) or for 1 row (the rows left over).  Missing columns of a tail
 * block are zero in the panel and never stored.  Whatever the blocking, each (m, n)
 * is still one fmaf per k ascending within a segment, then the segment adds.
 *
 * The hot functions are compiled twice (GCC target_clones, dispatched at load time
 * on the CPU's features): x86-64-v3 (AVX2 + FMA: vfmadd231ps) and the x86-64
 * baseline, where fmaf is the correctly rounded libm call.  fmaf is exact-then-
 * rounded either way, so both clones give the same bits.  ("arch=haswell" is not
 * used: GCC dispatches it on the CPU model, so AMD and newer Intel parts would get
 * the slow baseline clone.)  Unroll-and-jam is off for them: GCC jams two k steps
 * and spills the accumulators to the stack, which halves the speed.
 * Measured (gcc 12 -O3, one core of an AMD EPYC dev VM, K = N = 4096, bench program
 * timing lc_cpu_matmul_strict): M = 1: 8.0 ms (4.2 GFLOP/s, the widening of W bound);
 * M = 64: 42 ms (51 GFLOP/s).  2026-12-07, lc_matmul on a one-thread CPU strict
 * context, best of 7: with the AVX2 widening (widen_panel_avx2) M = 1 3.49 -> 2.93 and
 * 3.54 -> 3.01 ms (two runs; W's 32 MB at 11 GB/s, about what one core of that VM
 * reads), M = 64 26.49 -> 25.14 ms.  A decode step of a 768-wide model did not move
 * (15.6 ms either way: its W is read at ~8.6 GB/s, the core's bandwidth; perf puts
 * 48% of it in widen_panel_avx2, the loads that miss to DRAM).
 *
 * lc_cpu_matmul_ref — the reference: W widened in row chunks into an fp32 temporary
 * of at most ~16 MB, cblas_sgemm per chunk (OpenBLAS decides the order), then the bias
 * added plainly.  No invariance promised.
 */
#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "cast/lc_canon.h"
#include "cpu_ref/cpu_ref.h"
#include "lib/lc_alloc.h"

#define LS LC_MATMUL_SEG_LEN
#define NB 16 /* output columns per block: the width of the widened W panel */
#define RB 4  /* rows whose chains run together in the kernel */
#define MB 64 /* rows per outer block (x block stays in cache across column blocks) */

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define LC_HOT_CLONES \
  __attribute__((target_clones("arch=x86-64-v3", "default"), optimize("no-loop-unroll-and-jam")))
#else
#define LC_HOT_CLONES
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LC_WIDEN_AVX2 1
/* A full block's panel, 8 k at a time, with AVX2: 8 rows' 8 bf16 each (one
 * 16-byte load per row) transposed as 16-bit lanes (three rounds of unpacks),
 * each k's 8 values zero-extended to 32 bits and shifted up 16 (exactly
 * lc_bf16_to_f32), stored as half a row of wt.  Data moves only: the bits are
 * the scalar loop's.  The last len % 8 k go the scalar way. */
__attribute__((target("avx2"))) static void widen_panel_avx2(const uint16_t *b, int64_t k, int len,
                                                             float wt[LS][NB]) {
  int kk = 0;
  for (; kk + 8 <= len; kk += 8) {
    for (int h = 0; h < NB; h += 8) {
      const uint16_t *p = b + h * k + kk;
      const __m128i r0 = _mm_loadu_si128((const __m128i *)p);
      const __m128i r1 = _mm_loadu_si128((const __m128i *)(p + k));
      const __m128i r2 = _mm_loadu_si128((const __m128i *)(p + 2 * k));
      const __m128i r3 = _mm_loadu_si128((const __m128i *)(p + 3 * k));
      const __m128i r4 = _mm_loadu_si128((const __m128i *)(p + 4 * k));
      const __m128i r5 = _mm_loadu_si128((const __m128i *)(p + 5 * k));
      const __m128i r6 = _mm_loadu_si128((const __m128i *)(p + 6 * k));
      const __m128i r7 = _mm_loadu_si128((const __m128i *)(p + 7 * k));
      /* pairs of rows, k 0-3 and 4-7; then quads; then all 8 rows per k */
      const __m128i t0 = _mm_unpacklo_epi16(r0, r1), t1 = _mm_unpackhi_epi16(r0, r1);
      const __m128i t2 = _mm_unpacklo_epi16(r2, r3), t3 = _mm_unpackhi_epi16(r2, r3);
      const __m128i t4 = _mm_unpacklo_epi16(r4, r5), t5 = _mm_unpackhi_epi16(r4, r5);
      const __m128i t6 = _mm_unpacklo_epi16(r6, r7), t7 = _mm_unpackhi_epi16(r6, r7);
      const __m128i u0 = _mm_unpacklo_epi32(t0, t2), u1 = _mm_unpackhi_epi32(t0, t2);
      const __m128i u2 = _mm_unpacklo_epi32(t1, t3), u3 = _mm_unpackhi_epi32(t1, t3);
      const __m128i u4 = _mm_unpacklo_epi32(t4, t6), u5 = _mm_unpackhi_epi32(t4, t6);
      const __m128i u6 = _mm_unpacklo_epi32(t5, t7), u7 = _mm_unpackhi_epi32(t5, t7);
      const __m128i v[8] = {_mm_unpacklo_epi64(u0, u4), _mm_unpackhi_epi64(u0, u4),
                            _mm_unpacklo_epi64(u1, u5), _mm_unpackhi_epi64(u1, u5),
                            _mm_unpacklo_epi64(u2, u6), _mm_unpackhi_epi64(u2, u6),
                            _mm_unpacklo_epi64(u3, u7), _mm_unpackhi_epi64(u3, u7)};
      for (int i = 0; i < 8; i++)
        _mm256_storeu_si256((__m256i *)&wt[kk + i][h],
                            _mm256_slli_epi32(_mm256_cvtepu16_epi32(v[i]), 16));
    }
  }
  for (; kk < len; kk++)
    for (int j = 0; j < NB; j++) wt[kk][j] = lc_bf16_to_f32(b[j * k + kk]);
}

/* 1 when this CPU runs AVX2 (libgcc's cpu model: cheap, thread-safe). */
static int have_avx2(void) {
  return __builtin_cpu_supports("avx2");
}
#endif

/* wt[kk][j] = widen(w[n0 + j][k0 + kk]) for j < ncols, kk < len; columns ncols..NB-1
 * are zero (a tail block).  Exact: bf16 -> fp32 is a shift.  A full block is read
 * k-major (16 rows side by side, one contiguous 64-byte row of wt per kk), which
 * measured faster than row by row; with AVX2, 8 x 8 blocks transposed in registers
 * (widen_panel_avx2). */
LC_HOT_CLONES
static void widen_panel(const uint16_t *w, int64_t k, int64_t n0, int ncols, int64_t k0, int len,
                        float wt[LS][NB]) {
  const uint16_t *b = w + n0 * k + k0;
#if defined(LC_WIDEN_AVX2)
  if (ncols == NB && have_avx2()) {
    widen_panel_avx2(b, k, len, wt);
    return;
  }
#endif
  if (ncols == NB) {
    for (int kk = 0; kk < len; kk++)
      for (int j = 0; j < NB; j++) wt[kk][j] = lc_bf16_to_f32(b[j * k + kk]);
    return;
  }
  for (int kk = 0; kk < len; kk++) {
    for (int j = 0; j < ncols; j++) wt[kk][j] = lc_bf16_to_f32(b[j * k + kk]);
    for (int j = ncols; j < NB; j++) wt[kk][j] = 0.0f;
  }
}

/* Stores one segment's chains into y: y = acc on the first segment, y = y + acc after. */
static inline void store_segment(float *y, const float *acc, int ncols, int first) {
  if (first) {
    for (int j = 0; j < ncols; j++) y[j] = acc[j];
  } else {
    for (int j = 0; j < ncols; j++) y[j] = y[j] + acc[j];
  }
}

/* The hot loops.  For RB rows (x points at x[r][k0], row stride ldx) and the NB
 * columns of the panel: acc = +0; acc = fmaf(x[r][kk], wt[kk][j], acc) for kk
 * ascending; then y[r][j] (row stride ldy) takes the segment by store_segment().
 * One function per row count keeps GCC from jamming row groups together (which
 * spills the accumulators). */
LC_HOT_CLONES
static void kernel_4rows(const float *x, int64_t ldx, int len, const float wt[LS][NB], float *y,
                         int64_t ldy, int ncols, int first) {
  const float *x0 = x, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
  float a0[NB], a1[NB], a2[NB], a3[NB];
  for (int j = 0; j < NB; j++) a0[j] = a1[j] = a2[j] = a3[j] = 0.0f;
  for (int kk = 0; kk < len; kk++) {
    const float v0 = x0[kk], v1 = x1[kk], v2 = x2[kk], v3 = x3[kk];
    const float *wk = wt[kk];
    for (int j = 0; j < NB; j++) {
      a0[j] = LC_FMA(v0, wk[j], a0[j]);
      a1[j] = LC_FMA(v1, wk[j], a1[j]);
      a2[j] = LC_FMA(v2, wk[j], a2[j]);
      a3[j] = LC_FMA(v3, wk[j], a3[j]);
    }
  }
  store_segment(y, a0, ncols, first);
  store_segment(y + ldy, a1, ncols, first);
  store_segment(y + 2 * ldy, a2, ncols, first);
  store_segment(y + 3 * ldy, a3, ncols, first);
}

LC_HOT_CLONES
static void kernel_1row(const float *x, int len, const float wt[LS][NB], float *y, int ncols,
                        int first) {
  float a0[NB];
  for (int j = 0; j < NB; j++) a0[j] = 0.0f;
  for (int kk = 0; kk < len; kk++) {
    const float v0 = x[kk];
    const float *wk = wt[kk];
    for (int j = 0; j < NB; j++) a0[j] = LC_FMA(v0, wk[j], a0[j]);
  }
  store_segment(y, a0, ncols, first);
}

/* One segment of one column block for `rows` rows; x at x[m0][k0], y at y[m0][n0]. */
static void segment_rows(const float *x, int64_t ldx, int64_t rows, int len, const float wt[LS][NB],
                         float *y, int64_t ldy, int ncols, int first) {
  int64_t r = 0;
  for (; r + RB <= rows; r += RB)
    kernel_4rows(x + r * ldx, ldx, len, wt, y + r * ldy, ldy, ncols, first);
  for (; r < rows; r++) kernel_1row(x + r * ldx, len, wt, y + r * ldy, ncols, first);
}

lc_status lc_cpu_matmul_strict(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                               const uint16_t *bias, float *y) {
  return lc_cpu_matmul_strict_ld(x, m, k, w, n, bias, y, n);
}

lc_status lc_cpu_matmul_strict_ld(const float *x, int64_t m, int64_t k, const uint16_t *w,
                                  int64_t n, const uint16_t *bias, float *y, int64_t ldy) {
  assert(m >= 0 && k >= 1 && n >= 1 && ldy >= n);
  float wt[LS][NB]; /* the widened, transposed W panel: 16 KB */
  for (int64_t m0 = 0; m0 < m; m0 += MB) {
    const int64_t rows = m - m0 < MB ? m - m0 : MB;
    for (int64_t n0 = 0; n0 < n; n0 += NB) {
      const int ncols = (int)(n - n0 < NB ? n - n0 : NB);
      for (int64_t k0 = 0; k0 < k; k0 += LS) {
        const int len = (int)(k - k0 < LS ? k - k0 : LS);
        widen_panel(w, k, n0, ncols, k0, len, wt);
        segment_rows(x + m0 * k + k0, k, rows, len, (const float(*)[NB])wt, y + m0 * ldy + n0, ldy,
                     ncols, k0 == 0);
      }
      for (int64_t r = m0; r < m0 + rows; r++) {
        float *yr = y + r * ldy + n0;
        if (bias) {
          for (int j = 0; j < ncols; j++)
            yr[j] = lc_canon_nan(yr[j] + lc_bf16_to_f32(bias[n0 + j]));
        } else {
          for (int j = 0; j < ncols; j++) yr[j] = lc_canon_nan(yr[j]);
        }
      }
    }
  }
  return LC_OK;
}

/* The fp32 temporary of the reference holds at most this many floats (16 MB). */
#define REF_CHUNK_FLOATS ((int64_t)4 << 20)

lc_status lc_cpu_matmul_ref(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                            const uint16_t *bias, float *y) {
  assert(m >= 0 && k >= 1 && n >= 1);
  if (m == 0) return LC_OK;
  int64_t chunk = REF_CHUNK_FLOATS / k;
  if (chunk < 1) chunk = 1;
  if (chunk > n) chunk = n;
  float *wchunk = lc_malloc((size_t)(chunk * k) * sizeof *wchunk);
  if (!wchunk) return LC_ERR_OUT_OF_MEMORY;
  for (int64_t n0 = 0; n0 < n; n0 += chunk) {
    const int64_t rows = n - n0 < chunk ? n - n0 : chunk;
    const uint16_t *src = w + n0 * k;
    for (int64_t i = 0; i < rows * k; i++) wchunk[i] = lc_bf16_to_f32(src[i]);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)rows, (int)k, 1.0f, x, (int)k,
                wchunk, (int)k, 0.0f, y + n0, (int)n);
  }
  free(wchunk);
  if (bias) {
    for (int64_t r = 0; r < m; r++)
      for (int64_t j = 0; j < n; j++) y[r * n + j] = y[r * n + j] + lc_bf16_to_f32(bias[j]);
  }
  return LC_OK;
}
