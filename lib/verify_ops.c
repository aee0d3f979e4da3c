/*
 * lib/verify_ops.c — lc_verify_ops: every op of layercast.h on random
 * inputs, in CPU <mode>, CPU reference and (with a GPU) CUDA <mode>, where
 * the mode under test is strict, fast or bf16.
 *
 *   GPU half  CUDA <mode> against CPU <mode>, bit for bit (lc_compare_f32:
 *             the count of differing elements must be 0);
 *   CPU half  CPU reference against CPU <mode> within a bound derived from
 *             the two orders of operations: each op's bound and its origin
 *             are written beside it below; the ratio and its NaN/Inf rule are
 *             lib/bounds.h's (docs/numerics.md 9).  fast and bf16 change
 *             lc_matmul only (the other ops run the strict order in them,
 *             so their bounds are strict's); the matmul rows take the fast
 *             order's bound in those modes.
 *
 * Below, "strict" (outs[CS], the names of the bounds) is the mode under test.
 * Each op draws its inputs from seed + its index (splitmix64, Box-Muller),
 * so a row's inputs do not depend on which rows ran before it.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_cast.h"
#include "lib/bounds.h"
#include "lib/lc_internal.h"
#include "lib/rng.h"
#include "lib/verify_internal.h"

#define FN "lc_verify_ops"
#define OPS_MAX_ROWS 16 /* 15 rows today */

enum { CS = LC_VERIFY_CS, CR = LC_VERIFY_CR, GS = LC_VERIFY_GS, N_CTX = LC_VERIFY_N_CTX };

/* ---- shapes ------------------------------------------------------------------*/

typedef struct op_shapes {
  int64_t mm_m, mm_k, mm_n;    /* matmul */
  int64_t mm2_k, mm2_n;        /* a second matmul (model shapes: down projection) */
  int64_t rows, dim;           /* rmsnorm, add, silu_mul, round_bf16 */
  int64_t vocab;               /* embedding, softmax, argmax */
  int32_t heads, kv_heads, hd; /* rope, attention */
  int32_t max_len;             /* attention cache */
  lc_attn_seq seqs[3];         /* attention calls */
} op_shapes;

static const op_shapes shapes_small = {
    7, 600, 65, 300, 33, 5, 300, 1000, 4, 2, 32, 600, {{0, 530, 1}, {1, 0, 6}, {2, 254, 4}}};
/* Llama 3 8B: d_model 4096, d_ff 14336, vocab 128256, 32 heads, 8 kv heads,
 * head_dim 128. */
static const op_shapes shapes_model = {4,
                                       4096,
                                       14336,
                                       14336,
                                       4096,
                                       4,
                                       4096,
                                       128256,
                                       32,
                                       8,
                                       128,
                                       1100,
                                       {{0, 1030, 1}, {1, 0, 8}, {2, 510, 4}}};

/* ---- one run: the contexts and the report ------------------------------------*/

typedef struct ops_run {
  lc_verify_ctx v;
  lc_verify_ops_report *rep;
} ops_run;

static lc_status oom(const char *what) {
  return lc_verify_oom(FN, what);
}

static lc_status vcheck(const lc_context *c, lc_status st, const char *what) {
  return lc_verify_check(FN, c, st, what);
}

/* Allocates bytes on c's backend into *out and copies host src there (src
 * NULL: left uninitialised); *out NULL on failure. */
static lc_status bup(lc_context *c, const void *src, size_t bytes, float **out) {
  void *d = NULL;
  lc_status st = lc_buffer_alloc(c, bytes ? bytes : 4, &d);
  if (st == LC_OK && src) st = lc_buffer_write(c, d, src, bytes);
  if (st != LC_OK) {
    lc_buffer_free(c, d);
    d = NULL;
  }
  *out = d;
  return vcheck(c, st, "backend buffer");
}

static lc_status bdown(lc_context *c, void *dst, const void *src, size_t bytes) {
  return vcheck(c, lc_buffer_read(c, dst, src, bytes), "reading back a result");
}

static void free_outs(float *outs[N_CTX]) {
  for (int i = 0; i < N_CTX; i++) {
    free(outs[i]);
    outs[i] = NULL;
  }
}

/* One row: outs[CS], outs[CR], outs[GS] (NULL when the GPU half is skipped)
 * of n elements; tol NULL: reference must equal strict (bound 0). */
static lc_status add_row(ops_run *r, const char *op, const char *shape, float *const outs[N_CTX],
                         int64_t n, const double *tol, const char *bound) {
  lc_verify_ops_report *rep = r->rep;
  if (rep->n_rows >= OPS_MAX_ROWS)
    return LC_FAIL(NULL, LC_ERR_INTERNAL, FN ": more than %d rows", OPS_MAX_ROWS);
  lc_verify_op_row *row = &rep->rows[rep->n_rows];
  memset(row, 0, sizeof *row);
  snprintf(row->op, sizeof row->op, "%s", op);
  snprintf(row->shape, sizeof row->shape, "%s", shape);
  snprintf(row->bound, sizeof row->bound, "%s", bound);
  row->n = n;
  row->gpu_first_diff = -1;
  if (outs[GS]) {
    lc_compare_result cmp;
    LC_TRY(lc_compare_f32(outs[GS], outs[CS], n, &cmp));
    row->gpu_ran = 1;
    row->gpu_ndiff = n - cmp.n_bitwise_equal;
    row->gpu_first_diff = cmp.first_diff;
    if (cmp.first_diff >= 0) {
      row->gpu_first_cuda = outs[GS][cmp.first_diff];
      row->gpu_first_cpu = outs[CS][cmp.first_diff];
    }
  }
  double *ref = lc_malloc((size_t)(n > 0 ? n : 1) * sizeof *ref);
  if (!ref) return oom("a row's reference values");
  for (int64_t i = 0; i < n; i++) ref[i] = outs[CR][i];
  row->exact = tol == NULL;
  row->ratio = lc_bound_worst_ratio(outs[CS], ref, tol, n, &row->worst);
  free(ref);
  if (row->worst >= 0) {
    row->worst_strict = outs[CS][row->worst];
    row->worst_ref = outs[CR][row->worst];
    row->worst_bound = tol ? tol[row->worst] : 0.0;
  }
  row->fail = row->gpu_ndiff > 0 || !(row->ratio <= 1.0);
  rep->n_rows++;
  rep->n_fail += row->fail;
  return LC_OK;
}

/* ---- the ops -------------------------------------------------------------------*/

/* matmul y = x W^T (+ bias).  Bound: strict errs by at most
 * gamma_(L+S-1) sum_k |x_k w_k| (docs/numerics.md 2.2; L = min(K, Ls),
 * S = ceil(K/Ls); with the bias gamma_(L+S) (sum + |b|)); reference, any
 * summation order of K products (OpenBLAS's blocking, with or without FMA),
 * by gamma_K sum_k |x_k w_k| (Higham 3.5), plus one rounding for the bias:
 * gamma_(K+1) (sum + |b|).  |ref - strict| is at most the sum of the two.
 * fast and bf16 err by at most c_fast (sum + |b|) + a_fast
 * (lc_bound_matmul_fast_coeff and _abs with parts 3 or 1, docs/numerics.md
 * 10.3; bf16's c includes x's rounding to bf16, 2^-9), in place of strict's
 * gamma. */
static lc_status op_matmul(ops_run *r, int64_t m, int64_t k, int64_t n, int bias, uint64_t seed) {
  uint64_t s = seed;
  float *x = lc_verify_fill(&s, (size_t)(m * k), 1.0f);
  float *w = lc_verify_fill(&s, (size_t)(n * k), (float)(1.0 / sqrt((double)k)));
  float *b = lc_verify_fill(&s, (size_t)n, 0.5f);
  uint16_t *wb = lc_malloc((size_t)(n * k) * sizeof *wb), *bb = lc_malloc((size_t)n * sizeof *bb);
  double *tol = lc_malloc((size_t)(m * n) * sizeof *tol);
  float *outs[N_CTX] = {NULL, NULL, NULL};
  lc_status st = LC_OK;
  if (!x || !w || !b || !wb || !bb || !tol) {
    st = oom("matmul inputs");
    goto done;
  }
  for (int ci = 0; ci < N_CTX && st == LC_OK; ci++) {
    lc_context *c = r->v.c[ci];
    if (!c) continue;
    lc_weights *W = NULL, *Bw = NULL;
    float *dx = NULL, *dy = NULL;
    if ((st = vcheck(c, lc_weights_create(c, n, k, LC_DTYPE_F32, w, &W), "matmul weights")))
      goto next;
    if (bias && (st = vcheck(c, lc_weights_create(c, 1, n, LC_DTYPE_F32, b, &Bw), "matmul bias")))
      goto next;
    if (ci == CS) { /* the stored bf16 values, for the bound */
      if ((st = vcheck(c, lc_weights_read_bf16(W, wb), "reading weights"))) goto next;
      if (bias && (st = vcheck(c, lc_weights_read_bf16(Bw, bb), "reading bias"))) goto next;
    }
    if ((st = bup(c, x, (size_t)(m * k) * 4, &dx))) goto next;
    if ((st = bup(c, NULL, (size_t)(m * n) * 4, &dy))) goto next;
    if (!(outs[ci] = lc_malloc((size_t)(m * n) * 4))) {
      st = oom("matmul output");
      goto next;
    }
    if ((st = vcheck(c, lc_matmul(c, dx, m, W, Bw, dy), "lc_matmul"))) goto next;
    st = bdown(c, outs[ci], dy, (size_t)(m * n) * 4);
  next:
    lc_buffer_free(c, dx);
    lc_buffer_free(c, dy);
    lc_weights_free(W);
    lc_weights_free(Bw);
  }
  if (st != LC_OK) goto done;
  /* the mode under test's coefficient and absolute term (parts: 3 fast, 1 bf16) */
  const int parts = r->v.mode == LC_MODE_FAST ? 3 : r->v.mode == LC_MODE_BF16 ? 1 : 0;
  const double gs = parts ? lc_bound_matmul_fast_coeff(k, parts, bias)
                          : lc_bound_gamma((double)lc_bound_matmul_strict_rounds(k, bias));
  const double as = parts ? lc_bound_matmul_fast_abs(k, parts) : 0.0;
  const double gr = lc_bound_gamma((double)lc_bound_matmul_any_order_rounds(k, bias));
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double a = 0.0;
      for (int64_t q = 0; q < k; q++)
        a += fabs((double)x[i * k + q] * (double)lc_bf16_to_f32(wb[j * k + q]));
      if (bias) a += fabs((double)lc_bf16_to_f32(bb[j]));
      tol[i * n + j] = (gs + gr) * a + as + 0x1p-149;
    }
  char shape[64];
  snprintf(shape, sizeof shape, "M=%" PRId64 " K=%" PRId64 " N=%" PRId64, m, k, n);
  char bound[80];
  if (parts)
    snprintf(bound, sizeof bound, "(c_%s + gamma_%" PRId64 ") sum|x w|%s + a_%s",
             lc_mode_name(r->v.mode), lc_bound_matmul_any_order_rounds(k, bias),
             bias ? " (+|b|)" : "", lc_mode_name(r->v.mode));
  else
    snprintf(bound, sizeof bound, "(gamma_%" PRId64 " + gamma_%" PRId64 ") sum|x w|%s",
             lc_bound_matmul_strict_rounds(k, bias), lc_bound_matmul_any_order_rounds(k, bias),
             bias ? " (+|b|)" : "");
  st = add_row(r, bias ? "matmul + bias" : "matmul", shape, outs, m * n, tol, bound);
done:
  free_outs(outs);
  free(x), free(w), free(b), free(wb), free(bb), free(tol);
  return st;
}

/* rmsnorm.  Bound, relative to |y| (tests/test_rmsnorm.c derives it): the
 * sum of squares meets d roundings, strict d = ceil(n/32) + 5 (a lane's
 * fma chain and the butterfly), reference d = n; /n, +eps, sqrt, 1/, x*r,
 * *w add 6 roundings: rel <= gamma_(d+2)/2 + gamma_5 per mode.  The sum of
 * both, times 1.01 for using max(|s|, |r|) for |y|, plus 2^-148 for
 * subnormal results. */
static lc_status op_rmsnorm(ops_run *r, int64_t m, int64_t n, uint64_t seed) {
  uint64_t s = seed;
  float *x = lc_verify_fill(&s, (size_t)(m * n), 2.0f), *w = lc_verify_fill(&s, (size_t)n, 1.0f);
  double *tol = lc_malloc((size_t)(m * n) * sizeof *tol);
  float *outs[N_CTX] = {NULL, NULL, NULL};
  lc_status st = LC_OK;
  if (!x || !w || !tol) {
    st = oom("rmsnorm inputs");
    goto done;
  }
  for (int ci = 0; ci < N_CTX && st == LC_OK; ci++) {
    lc_context *c = r->v.c[ci];
    if (!c) continue;
    lc_weights *W = NULL;
    float *dx = NULL;
    if ((st = vcheck(c, lc_weights_create(c, 1, n, LC_DTYPE_F32, w, &W), "rmsnorm weight")))
      goto next;
    if ((st = bup(c, x, (size_t)(m * n) * 4, &dx))) goto next;
    if (!(outs[ci] = lc_malloc((size_t)(m * n) * 4))) {
      st = oom("rmsnorm output");
      goto next;
    }
    if ((st = vcheck(c, lc_rmsnorm(c, dx, m, W, 1e-5f, dx), "lc_rmsnorm"))) goto next;
    st = bdown(c, outs[ci], dx, (size_t)(m * n) * 4);
  next:
    lc_buffer_free(c, dx);
    lc_weights_free(W);
  }
  if (st != LC_OK) goto done;
  const double rel =
      1.01 * (lc_bound_gamma((double)(lc_bound_reduce_strict_rounds(n) + 2)) / 2 +
              lc_bound_gamma(5) + lc_bound_gamma((double)(n + 2)) / 2 + lc_bound_gamma(5));
  for (int64_t i = 0; i < m * n; i++)
    tol[i] = rel * fmax(fabs((double)outs[CS][i]), fabs((double)outs[CR][i])) + 0x1p-148;
  char shape[64];
  snprintf(shape, sizeof shape, "M=%" PRId64 " n=%" PRId64, m, n);
  st = add_row(r, "rmsnorm", shape, outs, m * n, tol, "rel (gamma_(d+2)/2 + gamma_5), both modes");
done:
  free_outs(outs);
  free(x), free(w), free(tol);
  return st;
}

/* rope.  Bound: each output is a c -+ b s with |c|, |s| <= 1 (the same
 * float table on every backend: lc_rope_create builds it on the host).
 * Strict rounds b*s and the fma, reference a*c, b*s and the add: at most
 * gamma_2 (|a c| + |b s|) <= gamma_2 (|a| + |b|) each; both: 2 gamma_2. */
static lc_status op_rope(ops_run *r, int64_t m, int32_t H, int32_t hd, lc_rope_style style,
                         uint64_t seed) {
  uint64_t s = seed;
  const int64_t n = m * H * hd, max_pos = 4096;
  float *x = lc_verify_fill(&s, (size_t)n, 1.0f);
  int32_t *pos = lc_malloc((size_t)m * sizeof *pos);
  double *tol = lc_malloc((size_t)n * sizeof *tol);
  float *outs[N_CTX] = {NULL, NULL, NULL};
  lc_status st = LC_OK;
  if (!x || !pos || !tol) {
    st = oom("rope inputs");
    goto done;
  }
  for (int64_t i = 0; i < m; i++) pos[i] = (int32_t)(lc_splitmix64(&s) % (uint64_t)max_pos);
  for (int ci = 0; ci < N_CTX && st == LC_OK; ci++) {
    lc_context *c = r->v.c[ci];
    if (!c) continue;
    lc_rope *R = NULL;
    float *dx = NULL;
    if ((st = vcheck(c, lc_rope_create(c, hd, max_pos, 500000.0, style, NULL, &R),
                     "lc_rope_create")))
      goto next;
    if ((st = bup(c, x, (size_t)n * 4, &dx))) goto next;
    if (!(outs[ci] = lc_malloc((size_t)n * 4))) {
      st = oom("rope output");
      goto next;
    }
    if ((st = vcheck(c, lc_rope_apply(c, R, dx, m, H, pos), "lc_rope_apply"))) goto next;
    st = bdown(c, outs[ci], dx, (size_t)n * 4);
  next:
    lc_buffer_free(c, dx);
    lc_rope_free(R);
  }
  if (st != LC_OK) goto done;
  const int32_t half = hd / 2;
  for (int64_t row = 0; row < m * H; row++)
    for (int32_t i = 0; i < half; i++) {
      const int64_t ia = row * hd + (style == LC_ROPE_INTERLEAVED ? 2 * i : i);
      const int64_t ib = row * hd + (style == LC_ROPE_INTERLEAVED ? 2 * i + 1 : i + half);
      tol[ia] = tol[ib] =
          2 * lc_bound_gamma(2) * (fabs((double)x[ia]) + fabs((double)x[ib])) + 0x1p-148;
    }
  char shape[64];
  snprintf(shape, sizeof shape, "M=%" PRId64 " H=%d hd=%d %s", m, H, hd,
           style == LC_ROPE_INTERLEAVED ? "interleaved" : "half");
  st = add_row(r, "rope", shape, outs, n, tol, "2 gamma_2 (|a| + |b|)");
done:
  free_outs(outs);
  free(x), free(pos), free(tol);
  return st;
}

/* Attention's bound for every output element into tol (see op_attention);
 * kcs, vcs: CPU strict's caches after kv_write. */
static void attention_bound(const op_shapes *sh, const lc_attn_shape *as, const float *q,
                            const float *kcs, const float *vcs, double *tol) {
  const int32_t H = sh->heads, KV = sh->kv_heads, D = sh->hd, ML = sh->max_len, NS = 3;
  lc_canon_info cinf;
  lc_canon_get_info(&cinf);
  const double u = LC_BOUND_U, scale = fabs((double)as->scale);
  int64_t row = 0;
  for (int si = 0; si < NS; si++) {
    const lc_attn_seq *sq = &sh->seqs[si];
    for (int32_t qi = 0; qi < sq->n_q; qi++, row++) {
      const int32_t t = sq->pos + qi;
      const double nparts = (double)(t / cinf.attn_partition + 1);
      const double sigma = lc_bound_gamma((double)t + 3 + 2 * nparts);
      for (int32_t h = 0; h < H; h++) {
        const int32_t g = h / (H / KV);
        const float *qv = q + ((size_t)row * H + h) * D;
        double amax = 0.0;
        for (int32_t j = 0; j <= t; j++) {
          const float *kj = kcs + (((size_t)sq->slot * ML + j) * KV + g) * D;
          double a = 0.0;
          for (int32_t i = 0; i < D; i++) a += fabs((double)qv[i] * (double)kj[i]);
          if (a > amax) amax = a;
        }
        const double S = scale * amax, delta = lc_bound_gamma(D + 1) * S;
        const double rho_r = 2 * delta + 2 * u * S + 4 * u;
        const double rho_s = rho_r + 2 * u * S + 4 * u;
        const double f = (2 * rho_s + 2 * sigma + u) + (2 * rho_r + 2 * sigma + u);
        for (int32_t i = 0; i < D; i++) {
          double vmax = 0.0;
          for (int32_t j = 0; j <= t; j++) {
            const double a = fabs((double)vcs[(((size_t)sq->slot * ML + j) * KV + g) * D + i]);
            if (a > vmax) vmax = a;
          }
          tol[((size_t)row * H + h) * D + i] = 1.01 * f * vmax + 0x1p-148;
        }
      }
    }
  }
}

/* kv_write + attention.  kv_write copies: bitwise in both modes.
 * Attention bound, first order, per output element (query at t, head h,
 * element i), for each mode:
 *   scores s_j = (q . k_j) * scale: a dot of D products in any order errs by
 *   gamma_D A_j (A_j = sum_i |q_i k_j[i]|, Higham 3.5), the scale adds one
 *   rounding: |ds| <= Delta = gamma_(D+1) |scale| max_j A_j;
 *   weights p_j = exp(s_j - m): the difference errs by 2 Delta + u |s_j - m|
 *   <= 2 Delta + 2 u S (S = |scale| max_j A_j bounds |s_j|), exp within 2 ulp
 *   (4u; lc_expf < 0.94 ulp, docs/numerics.md 3.3; glibc expf < 1 ulp), and
 *   strict's partition merges add another exp and difference: rho = 2 Delta +
 *   2uS + 4u, plus (2uS + 4u) in strict;
 *   sums of t+1 terms, with 2 roundings per merge in strict: sigma =
 *   gamma_(t + 3 + 2 n_partitions) relative to sum_j p_j |v_j[i]|;
 *   out = N / Dn: |dout| <= (rho + sigma) (sum_j w_j |v_j[i]| + |out|) + u |out|
 *   <= (2 rho + 2 sigma + u) V_i, V_i = max_j |v_j[i]|.
 * The two modes' bounds add up; times 1.01 for the second-order terms. */
static lc_status op_attention(ops_run *r, const op_shapes *sh, uint64_t seed) {
  uint64_t s = seed;
  const int32_t H = sh->heads, KV = sh->kv_heads, D = sh->hd, ML = sh->max_len, NS = 3;
  lc_attn_shape as = {H, KV, D, ML, NS, lc_attn_default_scale(D), LC_DTYPE_F32};
  int64_t tq = 0;
  for (int i = 0; i < NS; i++) tq += sh->seqs[i].n_q;
  const size_t ncache = (size_t)NS * ML * KV * D, nq = (size_t)tq * H * D,
               nkv = (size_t)tq * KV * D;
  float *kc0 = lc_verify_fill(&s, ncache, 1.0f), *vc0 = lc_verify_fill(&s, ncache, 1.0f);
  float *q = lc_verify_fill(&s, nq, 1.0f), *k = lc_verify_fill(&s, nkv, 1.0f),
        *vv = lc_verify_fill(&s, nkv, 1.0f);
  float *kcs = lc_malloc(ncache * 4), *vcs = lc_malloc(ncache * 4); /* CPU strict's caches */
  double *tol = lc_malloc(nq * sizeof *tol);
  float *outs[N_CTX] = {NULL, NULL, NULL}, *kvo[N_CTX] = {NULL, NULL, NULL};
  lc_status st = LC_OK;
  if (!kc0 || !vc0 || !q || !k || !vv || !kcs || !vcs || !tol) {
    st = oom("attention inputs");
    goto done;
  }
  for (int ci = 0; ci < N_CTX && st == LC_OK; ci++) {
    lc_context *c = r->v.c[ci];
    if (!c) continue;
    float *dk = NULL, *dv = NULL, *dq = NULL, *dkc = NULL, *dvc = NULL, *dout = NULL;
    if ((st = bup(c, k, nkv * 4, &dk)) || (st = bup(c, vv, nkv * 4, &dv)) ||
        (st = bup(c, q, nq * 4, &dq)) || (st = bup(c, kc0, ncache * 4, &dkc)) ||
        (st = bup(c, vc0, ncache * 4, &dvc)) || (st = bup(c, NULL, nq * 4, &dout)))
      goto next;
    outs[ci] = lc_malloc(nq * 4);
    kvo[ci] = lc_malloc(2 * nkv * 4);
    if (!outs[ci] || !kvo[ci]) {
      st = oom("attention outputs");
      goto next;
    }
    if ((st = vcheck(c, lc_kv_write(c, &as, sh->seqs, NS, dk, dv, dkc, dvc), "lc_kv_write")))
      goto next;
    if ((st = vcheck(c, lc_attention(c, &as, sh->seqs, NS, dq, dkc, dvc, dout), "lc_attention")))
      goto next;
    if ((st = bdown(c, outs[ci], dout, nq * 4))) goto next;
    /* the written cache rows, packed like k and v */
    size_t off = 0;
    for (int si = 0; si < NS && st == LC_OK; si++) {
      const lc_attn_seq *sq = &sh->seqs[si];
      const size_t row = (size_t)KV * D, at = ((size_t)sq->slot * ML + (size_t)sq->pos) * row;
      if ((st = bdown(c, kvo[ci] + off, dkc + at, (size_t)sq->n_q * row * 4)) ||
          (st = bdown(c, kvo[ci] + nkv + off, dvc + at, (size_t)sq->n_q * row * 4)))
        break;
      off += (size_t)sq->n_q * row;
    }
    if (st == LC_OK && ci == CS &&
        ((st = bdown(c, kcs, dkc, ncache * 4)) || (st = bdown(c, vcs, dvc, ncache * 4))))
      goto next;
  next:
    lc_buffer_free(c, dk), lc_buffer_free(c, dv), lc_buffer_free(c, dq);
    lc_buffer_free(c, dkc), lc_buffer_free(c, dvc), lc_buffer_free(c, dout);
  }
  if (st != LC_OK) goto done;
  char shape[80];
  snprintf(shape, sizeof shape, "H=%d kv=%d hd=%d, %" PRId64 " queries", H, KV, D, tq);
  if ((st = add_row(r, "kv_write", shape, kvo, (int64_t)(2 * nkv), NULL, "exact (a copy)")))
    goto done;
  attention_bound(sh, &as, q, kcs, vcs, tol);
  snprintf(shape, sizeof shape, "H=%d kv=%d hd=%d, t up to %d", H, KV, D,
           sh->seqs[0].pos + sh->seqs[0].n_q - 1);
  st =
      add_row(r, "attention", shape, outs, (int64_t)nq, tol, "(2rho + 2sigma + u) max|v| per mode");
done:
  free_outs(outs);
  free_outs(kvo);
  free(kc0), free(vc0), free(q), free(k), free(vv), free(kcs), free(vcs), free(tol);
  return st;
}

/* Elementwise ops over n elements: 0 silu_mul, 1 add, 2 round_bf16. */
static lc_status op_elementwise(ops_run *r, int which, int64_t n, uint64_t seed) {
  uint64_t s = seed;
  float *a = lc_verify_fill(&s, (size_t)n, 4.0f), *b = lc_verify_fill(&s, (size_t)n, 1.0f);
  double *tol = lc_malloc((size_t)n * sizeof *tol);
  float *outs[N_CTX] = {NULL, NULL, NULL};
  lc_status st = LC_OK;
  if (!a || !b || !tol) {
    st = oom("elementwise inputs");
    goto done;
  }
  for (int ci = 0; ci < N_CTX && st == LC_OK; ci++) {
    lc_context *c = r->v.c[ci];
    if (!c) continue;
    float *da = NULL, *db = NULL;
    if ((st = bup(c, a, (size_t)n * 4, &da)) || (st = bup(c, b, (size_t)n * 4, &db))) goto next;
    if (!(outs[ci] = lc_malloc((size_t)n * 4))) {
      st = oom("elementwise output");
      goto next;
    }
    lc_status os = which == 0   ? lc_silu_mul(c, da, db, n, da)
                   : which == 1 ? lc_add(c, da, db, n, da)
                                : lc_round_bf16(c, da, n);
    if ((st = vcheck(c, os, which == 0 ? "lc_silu_mul" : which == 1 ? "lc_add" : "lc_round_bf16")))
      goto next;
    st = bdown(c, outs[ci], da, (size_t)n * 4);
  next:
    lc_buffer_free(c, da);
    lc_buffer_free(c, db);
  }
  if (st != LC_OK) goto done;
  char shape[64];
  snprintf(shape, sizeof shape, "n=%" PRId64, n);
  if (which == 0) {
    /* silu(g) * up: exp(-g) within 2 ulp (4u relative; damped by
     * E/(1+E) <= 1 in g/(1+E)), then 1+E, the division (or 1/(1+E) and a
     * product in the reference) and *up: at most 8u relative per mode, 16u
     * for both; 1.01 for using max(|s|, |r|) as |exact|. */
    for (int64_t i = 0; i < n; i++)
      tol[i] = 1.01 * 16 * LC_BOUND_U * fmax(fabs((double)outs[CS][i]), fabs((double)outs[CR][i])) +
               0x1p-148;
    st = add_row(r, "silu_mul", shape, outs, n, tol, "16u relative");
  } else if (which == 1) {
    st = add_row(r, "add", shape, outs, n, NULL, "exact (one IEEE add)");
  } else {
    st = add_row(r, "round_bf16", shape, outs, n, NULL, "exact (one rounding)");
  }
done:
  free_outs(outs);
  free(a), free(b), free(tol);
  return st;
}

/* embedding: an exact bit copy of table rows in both modes. */
static lc_status op_embedding(ops_run *r, int64_t vocab, int64_t dim, uint64_t seed) {
  uint64_t s = seed;
  const int64_t m = 9;
  float *tab = lc_verify_fill(&s, (size_t)(vocab * dim), 1.0f);
  int32_t ids[9];
  float *outs[N_CTX] = {NULL, NULL, NULL};
  lc_status st = LC_OK;
  if (!tab) {
    st = oom("embedding table");
    goto done;
  }
  for (int64_t i = 0; i < m; i++) ids[i] = (int32_t)(lc_splitmix64(&s) % (uint64_t)vocab);
  ids[0] = 0;
  ids[m - 1] = (int32_t)(vocab - 1);
  for (int ci = 0; ci < N_CTX && st == LC_OK; ci++) {
    lc_context *c = r->v.c[ci];
    if (!c) continue;
    lc_weights *T = NULL;
    float *d = NULL;
    if ((st =
             vcheck(c, lc_weights_create(c, vocab, dim, LC_DTYPE_F32, tab, &T), "embedding table")))
      goto next;
    if ((st = bup(c, NULL, (size_t)(m * dim) * 4, &d))) goto next;
    if (!(outs[ci] = lc_malloc((size_t)(m * dim) * 4))) {
      st = oom("embedding output");
      goto next;
    }
    if ((st = vcheck(c, lc_embedding(c, T, ids, m, d), "lc_embedding"))) goto next;
    st = bdown(c, outs[ci], d, (size_t)(m * dim) * 4);
  next:
    lc_buffer_free(c, d);
    lc_weights_free(T);
  }
  if (st != LC_OK) goto done;
  char shape[64];
  snprintf(shape, sizeof shape, "vocab=%" PRId64 " dim=%" PRId64 " M=%" PRId64, vocab, dim, m);
  st = add_row(r, "embedding", shape, outs, m * dim, NULL, "exact (a bit copy)");
done:
  free_outs(outs);
  free(tab);
  return st;
}

/* softmax, log_softmax and argmax over rows of n.  Bounds against float64
 * (tests/test_softmax.c derives them): d_i = x_i - max rounds (u|d_i| in
 * exp's result), exp within 2 ulp (4u), the sum of positive terms meets
 * `rounds` roundings (strict ceil(n/32) + 5, reference n) plus the largest
 * term error u D + 4u (D = max |d_j|), log within 2 ulp (4u |ln S|), one
 * final rounding (u): softmax p (|d_i| u + 4u + sum_rel + u),
 * log_softmax |d_i| u + sum_rel + 4u|ln S| + u|lp|; 1.01 for second order,
 * 2^-148 for subnormals.  |ref - strict| <= the two modes' bounds added.
 * argmax: exact (the first index of the maximum, shared by both modes). */
static lc_status op_softmax(ops_run *r, int64_t m, int64_t n, uint64_t seed) {
  uint64_t s = seed;
  const size_t cnt = (size_t)(m * n);
  float *x = lc_verify_fill(&s, cnt, 3.0f);
  double *tsm = lc_malloc(cnt * sizeof *tsm), *tlsm = lc_malloc(cnt * sizeof *tlsm);
  float *sm[N_CTX] = {NULL, NULL, NULL}, *lsm[N_CTX] = {NULL, NULL, NULL};
  float *am[N_CTX] = {NULL, NULL, NULL};
  int32_t *idx = lc_malloc((size_t)m * sizeof *idx);
  lc_status st = LC_OK;
  if (!x || !tsm || !tlsm || !idx) {
    st = oom("softmax inputs");
    goto done;
  }
  x[n + 5] = x[n + 7] = 40.0f; /* row 1: a tie at the maximum for argmax */
  for (int ci = 0; ci < N_CTX && st == LC_OK; ci++) {
    lc_context *c = r->v.c[ci];
    if (!c) continue;
    float *dx = NULL, *dy = NULL;
    if ((st = bup(c, x, cnt * 4, &dx)) || (st = bup(c, NULL, cnt * 4, &dy))) goto next;
    sm[ci] = lc_malloc(cnt * 4);
    lsm[ci] = lc_malloc(cnt * 4);
    am[ci] = lc_malloc((size_t)m * 4);
    if (!sm[ci] || !lsm[ci] || !am[ci]) {
      st = oom("softmax outputs");
      goto next;
    }
    if ((st = vcheck(c, lc_softmax(c, dx, m, n, dy), "lc_softmax")) ||
        (st = bdown(c, sm[ci], dy, cnt * 4)))
      goto next;
    if ((st = vcheck(c, lc_log_softmax(c, dx, m, n, dy), "lc_log_softmax")) ||
        (st = bdown(c, lsm[ci], dy, cnt * 4)))
      goto next;
    if ((st = vcheck(c, lc_argmax(c, dx, m, n, idx), "lc_argmax"))) goto next;
    for (int64_t row = 0; row < m; row++) am[ci][row] = (float)idx[row]; /* exact below 2^24 */
  next:
    lc_buffer_free(c, dx);
    lc_buffer_free(c, dy);
  }
  if (st != LC_OK) goto done;
  const double u = LC_BOUND_U;
  for (int64_t row = 0; row < m; row++) {
    const float *xr = x + row * n;
    double mx = -INFINITY, sum = 0.0, dmax = 0.0;
    for (int64_t i = 0; i < n; i++)
      if (xr[i] > mx) mx = xr[i];
    for (int64_t i = 0; i < n; i++) {
      sum += exp((double)xr[i] - mx);
      dmax = fmax(dmax, fabs((double)xr[i] - mx));
    }
    const double rel_s =
        lc_bound_gamma((double)lc_bound_reduce_strict_rounds(n)) + dmax * u + 4 * u;
    const double rel_r = lc_bound_gamma((double)n) + dmax * u + 4 * u;
    for (int64_t i = 0; i < n; i++) {
      const double d = (double)xr[i] - mx, p = exp(d) / sum, lp = d - log(sum);
      tsm[row * n + i] = 1.01 * (2 * (fabs(d) * u + 4 * u + u) + rel_s + rel_r) * p + 0x1p-147;
      tlsm[row * n + i] =
          1.01 * (2 * (fabs(d) * u + 4 * u * fabs(log(sum)) + u * fabs(lp)) + rel_s + rel_r) +
          0x1p-147;
    }
  }
  char shape[64];
  snprintf(shape, sizeof shape, "M=%" PRId64 " n=%" PRId64, m, n);
  if ((st = add_row(r, "softmax", shape, sm, (int64_t)cnt, tsm, "p(|d|u + 5u + rel_sum) per mode")))
    goto done;
  if ((st = add_row(r, "log_softmax", shape, lsm, (int64_t)cnt, tlsm,
                    "|d|u + rel_sum + 4u|ln S| + u|lp| per mode")))
    goto done;
  st = add_row(r, "argmax", shape, am, m, NULL, "exact (first index of the max)");
done:
  free_outs(sm);
  free_outs(lsm);
  free_outs(am);
  free(x), free(tsm), free(tlsm), free(idx);
  return st;
}

/* ---- the entry ------------------------------------------------------------------*/

void lc_verify_ops_params_default(lc_verify_ops_params *p) {
  if (!p) return;
  memset(p, 0, sizeof *p);
  p->shapes = LC_VERIFY_SHAPES_SMALL;
  p->seed = 1;
  p->device = 0;
  p->require_gpu = 0;
  p->mode = LC_MODE_STRICT;
}

void lc_verify_ops_report_free(lc_verify_ops_report *r) {
  if (!r) return;
  free(r->rows);
  free(r);
}

lc_status lc_verify_ops(const lc_verify_ops_params *p, lc_verify_ops_report **out) {
  if (!out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, FN ": out is NULL");
  *out = NULL;
  if (!p) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, FN ": params is NULL");
  if (p->shapes != LC_VERIFY_SHAPES_SMALL && p->shapes != LC_VERIFY_SHAPES_MODEL)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   FN ": shapes = %d is neither small (0) nor model (1)", (int)p->shapes);
  if (p->device < 0)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, FN ": device = %d is negative", p->device);
  const op_shapes *sh = p->shapes == LC_VERIFY_SHAPES_SMALL ? &shapes_small : &shapes_model;
  ops_run r;
  r.rep = lc_calloc(1, sizeof *r.rep);
  if (!r.rep) return oom("the report");
  r.rep->rows = lc_calloc(OPS_MAX_ROWS, sizeof *r.rep->rows);
  if (!r.rep->rows) {
    lc_verify_ops_report_free(r.rep);
    return oom("the report");
  }
  r.rep->shapes = p->shapes;
  r.rep->seed = p->seed;
  r.rep->mode = p->mode;
  lc_status st = lc_verify_ctx_open(&r.v, p->mode, p->device, p->require_gpu, FN);
  if (st != LC_OK) {
    lc_verify_ops_report_free(r.rep);
    return st;
  }
  r.rep->gpu = r.v.gpu;
  const uint64_t seed = p->seed;
  if (st == LC_OK) st = op_matmul(&r, sh->mm_m, sh->mm_k, sh->mm_n, 0, seed + 1);
  if (st == LC_OK) st = op_matmul(&r, sh->mm_m, sh->mm_k, sh->mm_n, 1, seed + 2);
  if (st == LC_OK) st = op_matmul(&r, sh->mm_m, sh->mm2_k, sh->mm2_n, 0, seed + 3);
  if (st == LC_OK) st = op_rmsnorm(&r, sh->rows, sh->dim, seed + 4);
  if (st == LC_OK) st = op_rope(&r, sh->rows, sh->heads, sh->hd, LC_ROPE_INTERLEAVED, seed + 5);
  if (st == LC_OK) st = op_rope(&r, sh->rows, sh->heads, sh->hd, LC_ROPE_HALF, seed + 6);
  if (st == LC_OK) st = op_attention(&r, sh, seed + 7);
  if (st == LC_OK) st = op_elementwise(&r, 0, sh->rows * sh->dim, seed + 8);
  if (st == LC_OK) st = op_elementwise(&r, 1, sh->rows * sh->dim, seed + 9);
  if (st == LC_OK) st = op_elementwise(&r, 2, sh->rows * sh->dim, seed + 10);
  /* the table of the model shapes is cut to 16384 rows (256 MiB as f32 on
   * the host instead of 2 GiB): a row copy does not depend on the row count */
  if (st == LC_OK) st = op_embedding(&r, sh->vocab < 16384 ? sh->vocab : 16384, sh->dim, seed + 11);
  if (st == LC_OK) st = op_softmax(&r, 3, sh->vocab, seed + 12);
  lc_verify_ctx_close(&r.v);
  if (st != LC_OK) {
    lc_verify_ops_report_free(r.rep);
    return st;
  }
  *out = r.rep;
  return LC_OK;
}
