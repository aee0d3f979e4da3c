/*
 * cpu_ref/matmul_fast.c — the fast order v1 on the CPU: y[m][n] = sum_k x[m][k] *
 * w[n][k] (+ bias[n]) exactly as the CUDA fast kernels compute it on bf16 tensor
 * cores, each MMA emulated bit for bit (cpu_ref/mma_bf16.c).
 *
 * For every (m, n), with P parts (3: fast, x = hi + mid + lo by lc_split3_bf16;
 * 1: bf16, x rounded to bf16 by lc_f32_to_bf16) and Kc = LC_FAST_CHUNK, Ks = LC_MMA_K:
 *
 *   for s = 0 .. ceil(K/Ls)-1            (Ls = LC_MATMUL_SEG_LEN = 256, as strict)
 *     for each chunk c of Kc elements in segment s, ascending:
 *       acc = +0
 *       for p = P-1 .. 0  (lo, mid, hi):
 *         for each step of Ks elements in the chunk, ascending (the last of the
 *         matrix may be shorter; the kernels pad it with zeros in both operands,
 *         which the model shows cannot change a bit):
 *           acc = MMA(acc, part_p(x[m][step]), w[n][step])
 *       seg = (c first in s) ? acc : seg + acc     (fp32, round to nearest)
 *     y = (s == 0) ? seg : y + seg
 *   if bias: y = y + widen(bias[n]);   write canon(y)
 *
 * Segments are strict's, so a kernel may split K at segment boundaries and add
 * the segment sums in order (the combine of kernels/matmul.cu).  Nothing names
 * m, the row count or the tile, so a row's bits do not depend on its batch.
 * Rows are taken RBK at a time with their parts decoded once; each W row is
 * decoded once per row block.  Integer arithmetic throughout (no library that
 * could reorder); about 10 ns per multiply-add (3 ns per part) on one core of
 * the development VM.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_canon.h"
#include "cpu_ref/cpu_ref.h"
#include "lib/lc_alloc.h"

#define KC LC_FAST_CHUNK
#define KS LC_MMA_K
#define LS LC_MATMUL_SEG_LEN /* 256: 4 chunks */
#define RBK 16               /* rows decoded together */

#define NB LC_MMA_NB /* 8 columns side by side */
_Static_assert(NB == 8, "chain_block reads a step's 8 W flags as one uint64_t");

typedef struct {
  int32_t *sig, *exp;  /* [RBK][3][k] */
  uint16_t *bits;      /* [RBK][3][k] */
  uint8_t *nf;         /* [RBK][3][steps]: a non-finite value in the step */
  int32_t (*wsig)[NB]; /* [k][NB]: the column block's W, decoded, transposed */
  int32_t (*wexp)[NB]; /* [k][NB] */
  uint8_t (*wnf)[NB];  /* [steps][NB] */
} scratch;

static void scratch_free(scratch *s) {
  free(s->sig);
  free(s->exp);
  free(s->bits);
  free(s->nf);
  free(s->wsig);
  free(s->wexp);
  free(s->wnf);
}

/* The NB columns of the block (W rows w + j*k, j < ncols; missing columns are
 * zeros, computed and dropped) decoded and transposed. */
static void load_panel(scratch *s, const uint16_t *w, int64_t k, int64_t steps, int ncols) {
  for (int64_t i = 0; i < k; i++)
    for (int j = 0; j < NB; j++) {
      lc_cpu_bf16_sig_exp(j < ncols ? w[j * k + i] : 0, &s->wsig[i][j], &s->wexp[i][j]);
    }
  for (int64_t st = 0; st < steps; st++) {
    const int64_t len = k - st * KS < KS ? k - st * KS : KS;
    for (int j = 0; j < NB; j++)
      s->wnf[st][j] = (uint8_t)(j < ncols && lc_cpu_bf16_any_nonfinite(w + j * k + st * KS, len));
  }
}

/* One row against the column block: out[j] = the chain of the fast order v1.
 * Steps with a non-finite input (or accumulator) take the scalar model from the
 * raw bits for the lanes concerned. */
static void chain_block(const scratch *s, size_t xo, size_t no, int64_t k, int64_t steps,
                        const uint16_t *w, int ncols, int parts, float *out) {
  float y[NB], seg[NB], acc[NB];
  for (int j = 0; j < NB; j++) y[j] = seg[j] = 0.0f;
  for (int64_t c0 = 0; c0 < k; c0 += KC) {
    const int64_t end = k - c0 < KC ? k : c0 + KC;
    for (int j = 0; j < NB; j++) acc[j] = 0.0f;
    int accnf = 0;
    for (int p = parts - 1; p >= 0; p--) {
      const size_t po = xo + (size_t)p * (size_t)k;
      const size_t pn = no + (size_t)p * (size_t)steps;
      for (int64_t s0 = c0; s0 < end; s0 += KS) {
        const int len = (int)(end - s0 < KS ? end - s0 : KS);
        const int64_t st = s0 / KS;
        /* the common case first, without a branch per lane: no non-finite
         * value in the row's step, in the block's step of W or in acc (accnf:
         * what the step before left, from the block's own report) */
        uint64_t wnf;
        memcpy(&wnf, s->wnf[st], sizeof wnf);
        const int any = s->nf[pn + st] | (wnf != 0) | accnf;
        uint8_t slow[NB];
        if (any)
          for (int j = 0; j < NB; j++)
            slow[j] =
                (uint8_t)(j < ncols && (s->nf[pn + st] | s->wnf[st][j] | !lc_f32_isfinite(acc[j])));
        float keep[NB]; /* the accumulators the slow lanes start from */
        if (any)
          for (int j = 0; j < NB; j++) keep[j] = acc[j];
        accnf = lc_cpu_mma_bf16_block(acc, s->sig + po + s0, s->exp + po + s0,
                                      (const int32_t(*)[NB])s->wsig[s0],
                                      (const int32_t(*)[NB])s->wexp[s0], len);
        if (any) {
          for (int j = 0; j < NB; j++)
            if (slow[j]) acc[j] = lc_cpu_mma_bf16(keep[j], s->bits + po + s0, w + j * k + s0, len);
          accnf = 0; /* the lanes as they are now (past ncols: ignored) */
          for (int j = 0; j < ncols; j++) accnf |= !lc_f32_isfinite(acc[j]);
        }
      }
    }
    for (int j = 0; j < NB; j++) {
      seg[j] = c0 % LS == 0 ? acc[j] : seg[j] + acc[j]; /* the chunk into its segment */
      if (end % LS == 0 || end == k) y[j] = c0 < LS ? seg[j] : y[j] + seg[j]; /* into y */
    }
  }
  for (int j = 0; j < ncols; j++) out[j] = y[j];
}

lc_status lc_cpu_matmul_fast(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                             const uint16_t *bias, float *y, int parts) {
  return lc_cpu_matmul_fast_ld(x, m, k, w, n, bias, y, n, parts);
}

lc_status lc_cpu_matmul_fast_ld(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                                const uint16_t *bias, float *y, int64_t ldy, int parts) {
  assert(m >= 0 && k >= 1 && n >= 1 && ldy >= n && (parts == 1 || parts == 3));
  if (m == 0) return LC_OK;
  const int64_t steps = (k + KS - 1) / KS;
  const size_t xe = (size_t)RBK * 3 * (size_t)k;
  scratch s = {lc_malloc(xe * sizeof(int32_t)),         lc_malloc(xe * sizeof(int32_t)),
               lc_malloc(xe * sizeof(uint16_t)),        lc_malloc((size_t)RBK * 3 * (size_t)steps),
               lc_malloc((size_t)k * sizeof *s.wsig),   lc_malloc((size_t)k * sizeof *s.wexp),
               lc_malloc((size_t)steps * sizeof *s.wnf)};
  if (!s.sig || !s.exp || !s.bits || !s.nf || !s.wsig || !s.wexp || !s.wnf) {
    scratch_free(&s);
    return LC_ERR_OUT_OF_MEMORY;
  }
  for (int64_t m0 = 0; m0 < m; m0 += RBK) {
    const int64_t rows = m - m0 < RBK ? m - m0 : RBK;
    for (int64_t r = 0; r < rows; r++) {
      const float *xr = x + (m0 + r) * k;
      uint16_t *b = s.bits + (size_t)r * 3 * (size_t)k;
      for (int64_t i = 0; i < k; i++) {
        uint16_t pr[3] = {0, 0, 0};
        if (parts == 3)
          lc_split3_bf16(xr[i], pr);
        else
          pr[0] = lc_f32_to_bf16(xr[i]); /* bf16 mode: x rounded, IEEE overflow to Inf */
        for (int p = 0; p < parts; p++) b[(size_t)p * (size_t)k + (size_t)i] = pr[p];
      }
      for (int p = 0; p < parts; p++) {
        const size_t po = ((size_t)r * 3 + (size_t)p) * (size_t)k;
        lc_cpu_bf16_decode(s.bits + po, k, s.sig + po, s.exp + po);
        for (int64_t st = 0; st < steps; st++) {
          const int64_t len = k - st * KS < KS ? k - st * KS : KS;
          s.nf[((size_t)r * 3 + (size_t)p) * (size_t)steps + (size_t)st] =
              (uint8_t)lc_cpu_bf16_any_nonfinite(s.bits + po + st * KS, len);
        }
      }
    }
    for (int64_t j0 = 0; j0 < n; j0 += NB) {
      const int ncols = (int)(n - j0 < NB ? n - j0 : NB);
      const uint16_t *wb = w + j0 * k;
      load_panel(&s, wb, k, steps, ncols);
      for (int64_t r = 0; r < rows; r++) {
        float v[NB];
        chain_block(&s, (size_t)r * 3 * (size_t)k, (size_t)r * 3 * (size_t)steps, k, steps, wb,
                    ncols, parts, v);
        for (int j = 0; j < ncols; j++) {
          float o = v[j];
          if (bias) o = o + lc_bf16_to_f32(bias[j0 + j]);
          y[(m0 + r) * ldy + j0 + j] = lc_canon_nan(o);
        }
      }
    }
  }
  scratch_free(&s);
  return LC_OK;
}
