/*
 * tools/cli_verify.c — `layercast verify`: the promises of docs/numerics.md,
 * checked on this machine.
 *
 *   verify ops [--shapes small|model]
 *       every op of layercast.h on random inputs: CUDA strict against CPU
 *       strict bit for bit (the count of differing elements must be 0), and
 *       CPU reference against CPU strict within a bound derived from the two
 *       orders of operations (each bound's origin is written beside it).
 *   verify model --model PATH [--tokens N]
 *       a batch of sequences (mixed chunked prefill and decode steps, teacher
 *       forced) through the whole model: CUDA strict against CPU strict bit
 *       for bit per position and per layer, CPU reference against CPU strict
 *       within a stated normwise bound.
 *   verify records A.jsonl B.jsonl
 *       two run records of `layercast sweep` (maybe from two machines): runs
 *       matched by grid cell and prompt; strict runs must have equal token
 *       hashes, the other modes' agreement is reported; and the differences
 *       of the two environment fingerprints.
 *
 * Without a GPU (or a build without CUDA) the CUDA half is reported as
 * skipped and the CPU half runs.  Exit status: 0 all checks passed, 1 a
 * check failed or an error, 2 bad usage.
 */
#define _GNU_SOURCE /* getopt_long, getline */
#include <float.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_cast.h"
#include "layercast.h"
#include "layercast_model.h"
#include "tools/cli.h"

#define U_F32 0x1p-24 /* unit roundoff of binary32 */

static void verr(const char *what, lc_status st, const lc_context *ctx) {
  fprintf(stderr, "layercast verify: %s: %s\n  %s\n", what, lc_status_string(st),
          lc_last_error(ctx));
}

/* gamma_n = n u / (1 - n u) (Higham, Accuracy and Stability of Numerical
 * Algorithms, 2nd ed., Lemma 3.1): the relative error bound of n roundings. */
static double gamma_n(double n) {
  return n * U_F32 / (1.0 - n * U_F32);
}

/* ---- random inputs (splitmix64, Box-Muller) --------------------------------------*/
static uint64_t vr_next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static float vr_normal(uint64_t *s) {
  double u1 = ((double)(vr_next(s) >> 11) + 1.0) * 0x1p-53;
  double u2 = (double)(vr_next(s) >> 11) * 0x1p-53;
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
static float *vr_fill(uint64_t *s, size_t n, float scale) {
  float *v = malloc((n ? n : 1) * sizeof *v);
  if (v)
    for (size_t i = 0; i < n; i++) v[i] = scale * vr_normal(s);
  return v;
}

/* ---- contexts: [0] CPU strict, [1] CPU reference, [2] CUDA strict -----------------*/
enum { CS = 0, CR = 1, GS = 2, N_CTX = 3 };

typedef struct vctx {
  lc_context *c[N_CTX];
  char gpu_skip[512]; /* why the CUDA half is skipped ("" when it runs) */
} vctx;

static int vctx_open(vctx *v) {
  memset(v, 0, sizeof *v);
  const lc_backend be[N_CTX] = {LC_BACKEND_CPU, LC_BACKEND_CPU, LC_BACKEND_CUDA};
  const lc_mode mo[N_CTX] = {LC_MODE_STRICT, LC_MODE_REFERENCE, LC_MODE_STRICT};
  for (int i = 0; i < N_CTX; i++) {
    lc_context_params p;
    lc_context_params_default(&p);
    p.backend = be[i];
    p.mode = mo[i];
    lc_status st = lc_context_create(&p, &v->c[i]);
    if (st == LC_OK) continue;
    if (i == GS) {
      snprintf(v->gpu_skip, sizeof v->gpu_skip, "%s", lc_last_error(NULL));
      v->c[i] = NULL;
      continue;
    }
    verr("creating a CPU context", st, NULL);
    return -1;
  }
  return 0;
}
static void vctx_close(vctx *v) {
  for (int i = N_CTX - 1; i >= 0; i--) lc_context_free(v->c[i]);
}

/* ---- backend buffers -----------------------------------------------------------*/

/* Allocates bytes on ctx's backend and copies host src there (src may be
 * NULL: left uninitialised).  NULL on failure (message printed). */
static void *bup(lc_context *ctx, const void *src, size_t bytes) {
  void *d = NULL;
  lc_status st = lc_buffer_alloc(ctx, bytes ? bytes : 4, &d);
  if (st == LC_OK && src) st = lc_buffer_write(ctx, d, src, bytes);
  if (st != LC_OK) {
    verr("backend buffer", st, ctx);
    lc_buffer_free(ctx, d);
    return NULL;
  }
  return d;
}
static int bdown(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  lc_status st = lc_buffer_read(ctx, dst, src, bytes);
  if (st != LC_OK) {
    verr("reading back a result", st, ctx);
    return -1;
  }
  return 0;
}
static int vcheck(lc_context *ctx, lc_status st, const char *what) {
  if (st == LC_OK) return 0;
  verr(what, st, ctx);
  return -1;
}

/* ---- comparison and the report rows ------------------------------------------------*/

/* Elements whose bits differ. */
static int64_t count_bits_diff(const float *a, const float *b, int64_t n) {
  int64_t d = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t x, y;
    memcpy(&x, a + i, 4);
    memcpy(&y, b + i, 4);
    d += x != y;
  }
  return d;
}

/* max |s - r| / tol (tol NULL: 0 means exact, bitwise, required).  NaN on
 * both sides counts as agreement (reference keeps hardware NaN payloads);
 * NaN on one side, or a nonzero difference against tol 0, is infinite. */
static double worst_ratio(const float *s, const float *r, const double *tol, int64_t n,
                          int64_t *at) {
  double w = 0.0;
  *at = -1;
  for (int64_t i = 0; i < n; i++) {
    double q;
    if (isnan(s[i]) || isnan(r[i]))
      q = (isnan(s[i]) && isnan(r[i])) ? 0.0 : INFINITY;
    else if (s[i] == r[i])
      q = 0.0;
    else if (!tol || tol[i] <= 0.0 || isinf(s[i]) || isinf(r[i]))
      q = INFINITY;
    else
      q = fabs((double)s[i] - (double)r[i]) / tol[i];
    if (q > w || *at < 0) {
      if (q > w || *at < 0) *at = i;
      if (q > w) w = q;
    }
  }
  return w;
}

typedef struct ops_report {
  int n_fail;
  int gpu; /* 1 when the CUDA half ran */
} ops_report;

static void ops_header(void) {
  printf("  %-22s %-30s %-20s %-13s %s\n", "op", "shape", "cuda vs cpu strict", "ref vs strict",
         "bound of |ref - strict|");
}

/* One row: outs[CS], outs[CR], outs[GS] (NULL when skipped) of n elements;
 * tol NULL: reference must equal strict bitwise. */
static void ops_row(ops_report *rep, const char *op, const char *shape, float *const outs[N_CTX],
                    int64_t n, const double *tol, const char *bound) {
  char gpu[40], ref[40];
  int fail = 0;
  if (outs[GS]) {
    int64_t d = count_bits_diff(outs[GS], outs[CS], n);
    snprintf(gpu, sizeof gpu, "%" PRId64 " of %" PRId64, d, n);
    if (d) {
      fail = 1;
      for (int64_t i = 0; i < n; i++)
        if (memcmp(outs[GS] + i, outs[CS] + i, 4)) {
          fprintf(stderr, "  %s: first differing element %" PRId64 ": cuda %a, cpu %a\n", op, i,
                  (double)outs[GS][i], (double)outs[CS][i]);
          break;
        }
    }
  } else {
    snprintf(gpu, sizeof gpu, "skipped");
  }
  int64_t at;
  double w = worst_ratio(outs[CS], outs[CR], tol, n, &at);
  if (!tol)
    snprintf(ref, sizeof ref, "%s", w == 0.0 ? "equal" : "DIFFER");
  else
    snprintf(ref, sizeof ref, "%.3g of bound", w);
  if (!(w <= 1.0)) {
    fail = 1;
    if (at >= 0)
      fprintf(stderr,
              "  %s: worst element %" PRId64
              ": strict %.9g, reference %.9g, |d| %.3g, bound %.3g\n",
              op, at, (double)outs[CS][at], (double)outs[CR][at],
              fabs((double)outs[CS][at] - (double)outs[CR][at]), tol ? tol[at] : 0.0);
  }
  printf("  %-22s %-30s %-20s %-13s %s%s\n", op, shape, gpu, ref, bound, fail ? "  FAIL" : "");
  rep->n_fail += fail;
}

static void free_outs(float *outs[N_CTX]) {
  for (int i = 0; i < N_CTX; i++) {
    free(outs[i]);
    outs[i] = NULL;
  }
}

/* ---- the ops ---------------------------------------------------------------------*/

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

/* matmul y = x W^T (+ bias).  Bound: strict errs by at most
 * gamma_(L+S-1) sum_k |x_k w_k| (docs/numerics.md 2.2; L = min(K, Ls),
 * S = ceil(K/Ls); with the bias gamma_(L+S) (sum + |b|)); reference, any
 * summation order of K products (OpenBLAS's blocking, with or without FMA),
 * by gamma_K sum_k |x_k w_k| (Higham 3.5), plus one rounding for the bias:
 * gamma_(K+1) (sum + |b|).  |ref - strict| is at most the sum of the two. */
static int op_matmul(vctx *v, ops_report *rep, int64_t m, int64_t k, int64_t n, int bias,
                     uint64_t seed) {
  uint64_t s = seed;
  float *x = vr_fill(&s, (size_t)(m * k), 1.0f);
  float *w = vr_fill(&s, (size_t)(n * k), (float)(1.0 / sqrt((double)k)));
  float *b = vr_fill(&s, (size_t)n, 0.5f);
  uint16_t *wb = malloc((size_t)(n * k) * sizeof *wb), *bb = malloc((size_t)n * sizeof *bb);
  double *tol = malloc((size_t)(m * n) * sizeof *tol);
  float *outs[N_CTX] = {NULL, NULL, NULL};
  int rc = -1;
  if (!x || !w || !b || !wb || !bb || !tol) goto done;
  for (int ci = 0; ci < N_CTX; ci++) {
    lc_context *c = v->c[ci];
    if (!c) continue;
    lc_weights *W = NULL, *Bw = NULL;
    float *dx = NULL, *dy = NULL;
    int ok = 0;
    if (vcheck(c, lc_weights_create(c, n, k, LC_DTYPE_F32, w, &W), "matmul weights")) goto next;
    if (bias && vcheck(c, lc_weights_create(c, 1, n, LC_DTYPE_F32, b, &Bw), "matmul bias"))
      goto next;
    if (ci == CS) { /* the stored bf16 values, for the bound */
      if (vcheck(c, lc_weights_read_bf16(W, wb), "reading weights")) goto next;
      if (bias && vcheck(c, lc_weights_read_bf16(Bw, bb), "reading bias")) goto next;
    }
    dx = bup(c, x, (size_t)(m * k) * 4);
    dy = bup(c, NULL, (size_t)(m * n) * 4);
    outs[ci] = malloc((size_t)(m * n) * 4);
    if (!dx || !dy || !outs[ci]) goto next;
    if (vcheck(c, lc_matmul(c, dx, m, W, Bw, dy), "lc_matmul")) goto next;
    if (bdown(c, outs[ci], dy, (size_t)(m * n) * 4)) goto next;
    ok = 1;
  next:
    lc_buffer_free(c, dx);
    lc_buffer_free(c, dy);
    lc_weights_free(W);
    lc_weights_free(Bw);
    if (!ok) goto done;
  }
  lc_canon_info ci;
  lc_canon_get_info(&ci);
  const int64_t L = k < ci.matmul_seg_len ? k : ci.matmul_seg_len;
  const int64_t S = (k + ci.matmul_seg_len - 1) / ci.matmul_seg_len;
  const double gs = bias ? gamma_n((double)(L + S)) : gamma_n((double)(L + S - 1));
  const double gr = bias ? gamma_n((double)(k + 1)) : gamma_n((double)k);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double a = 0.0;
      for (int64_t q = 0; q < k; q++)
        a += fabs((double)x[i * k + q] * (double)lc_bf16_to_f32(wb[j * k + q]));
      if (bias) a += fabs((double)lc_bf16_to_f32(bb[j]));
      tol[i * n + j] = (gs + gr) * a + 0x1p-149;
    }
  char shape[64];
  snprintf(shape, sizeof shape, "M=%" PRId64 " K=%" PRId64 " N=%" PRId64, m, k, n);
  char bound[80];
  snprintf(bound, sizeof bound, "(gamma_%" PRId64 " + gamma_%" PRId64 ") sum|x w|%s",
           bias ? L + S : L + S - 1, bias ? k + 1 : k, bias ? " (+|b|)" : "");
  ops_row(rep, bias ? "matmul + bias" : "matmul", shape, outs, m * n, tol, bound);
  rc = 0;
done:
  free_outs(outs);
  free(x), free(w), free(b), free(wb), free(bb), free(tol);
  return rc;
}

/* rmsnorm.  Bound, relative to |y| (tests/test_rmsnorm.c derives it): the
 * sum of squares meets d roundings, strict d = ceil(n/32) + 5 (a lane's
 * fma chain and the butterfly), reference d = n; /n, +eps, sqrt, 1/, x*r,
 * *w add 6 roundings: rel <= gamma_(d+2)/2 + gamma_5 per mode.  The sum of
 * both, times 1.01 for using max(|s|, |r|) for |y|, plus 2^-148 for
 * subnormal results. */
static int op_rmsnorm(vctx *v, ops_report *rep, int64_t m, int64_t n, uint64_t seed) {
  uint64_t s = seed;
  float *x = vr_fill(&s, (size_t)(m * n), 2.0f), *w = vr_fill(&s, (size_t)n, 1.0f);
  double *tol = malloc((size_t)(m * n) * sizeof *tol);
  float *outs[N_CTX] = {NULL, NULL, NULL};
  int rc = -1;
  if (!x || !w || !tol) goto done;
  for (int ci = 0; ci < N_CTX; ci++) {
    lc_context *c = v->c[ci];
    if (!c) continue;
    lc_weights *W = NULL;
    float *dx = NULL;
    int ok = 0;
    if (vcheck(c, lc_weights_create(c, 1, n, LC_DTYPE_F32, w, &W), "rmsnorm weight")) goto next;
    dx = bup(c, x, (size_t)(m * n) * 4);
    outs[ci] = malloc((size_t)(m * n) * 4);
    if (!dx || !outs[ci]) goto next;
    if (vcheck(c, lc_rmsnorm(c, dx, m, W, 1e-5f, dx), "lc_rmsnorm")) goto next;
    ok = !bdown(c, outs[ci], dx, (size_t)(m * n) * 4);
  next:
    lc_buffer_free(c, dx);
    lc_weights_free(W);
    if (!ok) goto done;
  }
  const double rel = 1.01 * (gamma_n((double)((n + 31) / 32 + 5 + 2)) / 2 + gamma_n(5) +
                             gamma_n((double)(n + 2)) / 2 + gamma_n(5));
  for (int64_t i = 0; i < m * n; i++)
    tol[i] = rel * fmax(fabs((double)outs[CS][i]), fabs((double)outs[CR][i])) + 0x1p-148;
  char shape[64];
  snprintf(shape, sizeof shape, "M=%" PRId64 " n=%" PRId64, m, n);
  ops_row(rep, "rmsnorm", shape, outs, m * n, tol, "rel (gamma_(d+2)/2 + gamma_5), both modes");
  rc = 0;
done:
  free_outs(outs);
  free(x), free(w), free(tol);
  return rc;
}

/* rope.  Bound: each output is a c -+ b s with |c|, |s| <= 1 (the same
 * float table on every backend: lc_rope_create builds it on the host).
 * Strict rounds b*s and the fma, reference a*c, b*s and the add: at most
 * gamma_2 (|a c| + |b s|) <= gamma_2 (|a| + |b|) each; both: 2 gamma_2. */
static int op_rope(vctx *v, ops_report *rep, int64_t m, int32_t H, int32_t hd, lc_rope_style style,
                   uint64_t seed) {
  uint64_t s = seed;
  const int64_t n = m * H * hd, max_pos = 4096;
  float *x = vr_fill(&s, (size_t)n, 1.0f);
  int32_t *pos = malloc((size_t)m * sizeof *pos);
  double *tol = malloc((size_t)n * sizeof *tol);
  float *outs[N_CTX] = {NULL, NULL, NULL};
  int rc = -1;
  if (!x || !pos || !tol) goto done;
  for (int64_t i = 0; i < m; i++) pos[i] = (int32_t)(vr_next(&s) % (uint64_t)max_pos);
  for (int ci = 0; ci < N_CTX; ci++) {
    lc_context *c = v->c[ci];
    if (!c) continue;
    lc_rope *R = NULL;
    float *dx = NULL;
    int ok = 0;
    if (vcheck(c, lc_rope_create(c, hd, max_pos, 500000.0, style, NULL, &R), "lc_rope_create"))
      goto next;
    dx = bup(c, x, (size_t)n * 4);
    outs[ci] = malloc((size_t)n * 4);
    if (!dx || !outs[ci]) goto next;
    if (vcheck(c, lc_rope_apply(c, R, dx, m, H, pos), "lc_rope_apply")) goto next;
    ok = !bdown(c, outs[ci], dx, (size_t)n * 4);
  next:
    lc_buffer_free(c, dx);
    lc_rope_free(R);
    if (!ok) goto done;
  }
  const int32_t half = hd / 2;
  for (int64_t r = 0; r < m * H; r++)
    for (int32_t i = 0; i < half; i++) {
      const int64_t ia = r * hd + (style == LC_ROPE_INTERLEAVED ? 2 * i : i);
      const int64_t ib = r * hd + (style == LC_ROPE_INTERLEAVED ? 2 * i + 1 : i + half);
      tol[ia] = tol[ib] = 2 * gamma_n(2) * (fabs((double)x[ia]) + fabs((double)x[ib])) + 0x1p-148;
    }
  char shape[64];
  snprintf(shape, sizeof shape, "M=%" PRId64 " H=%d hd=%d %s", m, H, hd,
           style == LC_ROPE_INTERLEAVED ? "interleaved" : "half");
  ops_row(rep, "rope", shape, outs, n, tol, "2 gamma_2 (|a| + |b|)");
  rc = 0;
done:
  free_outs(outs);
  free(x), free(pos), free(tol);
  return rc;
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
static int op_attention(vctx *v, ops_report *rep, const op_shapes *sh, uint64_t seed) {
  uint64_t s = seed;
  const int32_t H = sh->heads, KV = sh->kv_heads, D = sh->hd, ML = sh->max_len, NS = 3;
  lc_attn_shape as = {H, KV, D, ML, NS, lc_attn_default_scale(D)};
  int64_t tq = 0;
  for (int i = 0; i < NS; i++) tq += sh->seqs[i].n_q;
  const size_t ncache = (size_t)NS * ML * KV * D, nq = (size_t)tq * H * D,
               nkv = (size_t)tq * KV * D;
  float *kc0 = vr_fill(&s, ncache, 1.0f), *vc0 = vr_fill(&s, ncache, 1.0f);
  float *q = vr_fill(&s, nq, 1.0f), *k = vr_fill(&s, nkv, 1.0f), *vv = vr_fill(&s, nkv, 1.0f);
  float *kcs = malloc(ncache * 4), *vcs = malloc(ncache * 4); /* CPU strict's caches */
  double *tol = malloc(nq * sizeof *tol);
  float *outs[N_CTX] = {NULL, NULL, NULL}, *kvo[N_CTX] = {NULL, NULL, NULL};
  int rc = -1;
  if (!kc0 || !vc0 || !q || !k || !vv || !kcs || !vcs || !tol) goto done;
  for (int ci = 0; ci < N_CTX; ci++) {
    lc_context *c = v->c[ci];
    if (!c) continue;
    float *dk = NULL, *dv = NULL, *dq = NULL, *dkc = NULL, *dvc = NULL, *dout = NULL;
    int ok = 0;
    dk = bup(c, k, nkv * 4);
    dv = bup(c, vv, nkv * 4);
    dq = bup(c, q, nq * 4);
    dkc = bup(c, kc0, ncache * 4);
    dvc = bup(c, vc0, ncache * 4);
    dout = bup(c, NULL, nq * 4);
    outs[ci] = malloc(nq * 4);
    kvo[ci] = malloc(2 * nkv * 4);
    if (!dk || !dv || !dq || !dkc || !dvc || !dout || !outs[ci] || !kvo[ci]) goto next;
    if (vcheck(c, lc_kv_write(c, &as, sh->seqs, NS, dk, dv, dkc, dvc), "lc_kv_write")) goto next;
    if (vcheck(c, lc_attention(c, &as, sh->seqs, NS, dq, dkc, dvc, dout), "lc_attention"))
      goto next;
    if (bdown(c, outs[ci], dout, nq * 4)) goto next;
    /* the written cache rows, packed like k and v */
    size_t off = 0;
    for (int si = 0; si < NS; si++) {
      const lc_attn_seq *sq = &sh->seqs[si];
      const size_t row = (size_t)KV * D, at = ((size_t)sq->slot * ML + (size_t)sq->pos) * row;
      if (bdown(c, kvo[ci] + off, dkc + at, (size_t)sq->n_q * row * 4) ||
          bdown(c, kvo[ci] + nkv + off, dvc + at, (size_t)sq->n_q * row * 4))
        goto next;
      off += (size_t)sq->n_q * row;
    }
    if (ci == CS && (bdown(c, kcs, dkc, ncache * 4) || bdown(c, vcs, dvc, ncache * 4))) goto next;
    ok = 1;
  next:
    lc_buffer_free(c, dk), lc_buffer_free(c, dv), lc_buffer_free(c, dq);
    lc_buffer_free(c, dkc), lc_buffer_free(c, dvc), lc_buffer_free(c, dout);
    if (!ok) goto done;
  }
  char shape[80];
  snprintf(shape, sizeof shape, "H=%d kv=%d hd=%d, %" PRId64 " queries", H, KV, D, tq);
  ops_row(rep, "kv_write", shape, kvo, (int64_t)(2 * nkv), NULL, "exact (a copy)");
  {
    lc_canon_info cinf;
    lc_canon_get_info(&cinf);
    const double u = U_F32, scale = fabs((double)as.scale);
    int64_t row = 0;
    for (int si = 0; si < NS; si++) {
      const lc_attn_seq *sq = &sh->seqs[si];
      for (int32_t qi = 0; qi < sq->n_q; qi++, row++) {
        const int32_t t = sq->pos + qi;
        const double nparts = (double)(t / cinf.attn_partition + 1);
        const double sigma = gamma_n((double)t + 3 + 2 * nparts);
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
          const double S = scale * amax, delta = gamma_n(D + 1) * S;
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
  snprintf(shape, sizeof shape, "H=%d kv=%d hd=%d, t up to %d", H, KV, D,
           sh->seqs[0].pos + sh->seqs[0].n_q - 1);
  ops_row(rep, "attention", shape, outs, (int64_t)nq, tol, "(2rho + 2sigma + u) max|v| per mode");
  rc = 0;
done:
  free_outs(outs);
  free_outs(kvo);
  free(kc0), free(vc0), free(q), free(k), free(vv), free(kcs), free(vcs), free(tol);
  return rc;
}

/* Elementwise ops over n elements: 0 silu_mul, 1 add, 2 round_bf16. */
static int op_elementwise(vctx *v, ops_report *rep, int which, int64_t n, uint64_t seed) {
  uint64_t s = seed;
  float *a = vr_fill(&s, (size_t)n, 4.0f), *b = vr_fill(&s, (size_t)n, 1.0f);
  double *tol = malloc((size_t)n * sizeof *tol);
  float *outs[N_CTX] = {NULL, NULL, NULL};
  int rc = -1;
  if (!a || !b || !tol) goto done;
  for (int ci = 0; ci < N_CTX; ci++) {
    lc_context *c = v->c[ci];
    if (!c) continue;
    float *da = bup(c, a, (size_t)n * 4), *db = bup(c, b, (size_t)n * 4);
    int ok = 0;
    outs[ci] = malloc((size_t)n * 4);
    if (!da || !db || !outs[ci]) goto next;
    lc_status st = which == 0   ? lc_silu_mul(c, da, db, n, da)
                   : which == 1 ? lc_add(c, da, db, n, da)
                                : lc_round_bf16(c, da, n);
    if (vcheck(c, st, "elementwise op")) goto next;
    ok = !bdown(c, outs[ci], da, (size_t)n * 4);
  next:
    lc_buffer_free(c, da);
    lc_buffer_free(c, db);
    if (!ok) goto done;
  }
  char shape[64];
  snprintf(shape, sizeof shape, "n=%" PRId64, n);
  if (which == 0) {
    /* silu(g) * up: exp(-g) within 2 ulp (4u relative; damped by
     * E/(1+E) <= 1 in g/(1+E)), then 1+E, the division (or 1/(1+E) and a
     * product in the reference) and *up: at most 8u relative per mode, 16u
     * for both; 1.01 for using max(|s|, |r|) as |exact|. */
    for (int64_t i = 0; i < n; i++)
      tol[i] =
          1.01 * 16 * U_F32 * fmax(fabs((double)outs[CS][i]), fabs((double)outs[CR][i])) + 0x1p-148;
    ops_row(rep, "silu_mul", shape, outs, n, tol, "16u relative");
  } else if (which == 1) {
    ops_row(rep, "add", shape, outs, n, NULL, "exact (one IEEE add)");
  } else {
    ops_row(rep, "round_bf16", shape, outs, n, NULL, "exact (one rounding)");
  }
  rc = 0;
done:
  free_outs(outs);
  free(a), free(b), free(tol);
  return rc;
}

static int op_embedding(vctx *v, ops_report *rep, int64_t vocab, int64_t dim, uint64_t seed) {
  uint64_t s = seed;
  const int64_t m = 9;
  float *tab = vr_fill(&s, (size_t)(vocab * dim), 1.0f);
  int32_t ids[9];
  float *outs[N_CTX] = {NULL, NULL, NULL};
  int rc = -1;
  if (!tab) goto done;
  for (int64_t i = 0; i < m; i++) ids[i] = (int32_t)(vr_next(&s) % (uint64_t)vocab);
  ids[0] = 0;
  ids[m - 1] = (int32_t)(vocab - 1);
  for (int ci = 0; ci < N_CTX; ci++) {
    lc_context *c = v->c[ci];
    if (!c) continue;
    lc_weights *T = NULL;
    float *d = NULL;
    int ok = 0;
    if (vcheck(c, lc_weights_create(c, vocab, dim, LC_DTYPE_F32, tab, &T), "embedding table"))
      goto next;
    d = bup(c, NULL, (size_t)(m * dim) * 4);
    outs[ci] = malloc((size_t)(m * dim) * 4);
    if (!d || !outs[ci]) goto next;
    if (vcheck(c, lc_embedding(c, T, ids, m, d), "lc_embedding")) goto next;
    ok = !bdown(c, outs[ci], d, (size_t)(m * dim) * 4);
  next:
    lc_buffer_free(c, d);
    lc_weights_free(T);
    if (!ok) goto done;
  }
  char shape[64];
  snprintf(shape, sizeof shape, "vocab=%" PRId64 " dim=%" PRId64 " M=%" PRId64, vocab, dim, m);
  ops_row(rep, "embedding", shape, outs, m * dim, NULL, "exact (a bit copy)");
  rc = 0;
done:
  free_outs(outs);
  free(tab);
  return rc;
}

/* softmax, log_softmax and argmax over rows of n.  Bounds against float64
 * (tests/test_softmax.c derives them): d_i = x_i - max rounds (u|d_i| in
 * exp's result), exp within 2 ulp (4u), the sum of positive terms meets
 * `rounds` roundings (strict ceil(n/32) + 5, reference n) plus the largest
 * term error u D + 4u (D = max |d_j|), log within 2 ulp (4u |ln S|), one
 * final rounding (u): softmax p (|d_i| u + 4u + sum_rel + u),
 * log_softmax |d_i| u + sum_rel + 4u|ln S| + u|lp|; 1.01 for second order,
 * 2^-148 for subnormals.  |ref - strict| <= the two modes' bounds added. */
static int op_softmax(vctx *v, ops_report *rep, int64_t m, int64_t n, uint64_t seed) {
  uint64_t s = seed;
  const size_t cnt = (size_t)(m * n);
  float *x = vr_fill(&s, cnt, 3.0f);
  double *tsm = malloc(cnt * sizeof *tsm), *tlsm = malloc(cnt * sizeof *tlsm);
  float *sm[N_CTX] = {NULL, NULL, NULL}, *lsm[N_CTX] = {NULL, NULL, NULL};
  float *am[N_CTX] = {NULL, NULL, NULL};
  int rc = -1;
  if (!x || !tsm || !tlsm) goto done;
  x[n + 5] = x[n + 7] = 40.0f; /* row 1: a tie at the maximum for argmax */
  for (int ci = 0; ci < N_CTX; ci++) {
    lc_context *c = v->c[ci];
    if (!c) continue;
    float *dx = bup(c, x, cnt * 4), *dy = bup(c, NULL, cnt * 4);
    int32_t *idx = malloc((size_t)m * sizeof *idx);
    int ok = 0;
    sm[ci] = malloc(cnt * 4);
    lsm[ci] = malloc(cnt * 4);
    am[ci] = malloc((size_t)m * 4);
    if (!dx || !dy || !idx || !sm[ci] || !lsm[ci] || !am[ci]) goto next;
    if (vcheck(c, lc_softmax(c, dx, m, n, dy), "lc_softmax") || bdown(c, sm[ci], dy, cnt * 4))
      goto next;
    if (vcheck(c, lc_log_softmax(c, dx, m, n, dy), "lc_log_softmax") ||
        bdown(c, lsm[ci], dy, cnt * 4))
      goto next;
    if (vcheck(c, lc_argmax(c, dx, m, n, idx), "lc_argmax")) goto next;
    for (int64_t r = 0; r < m; r++) am[ci][r] = (float)idx[r]; /* exact below 2^24 */
    ok = 1;
  next:
    free(idx);
    lc_buffer_free(c, dx);
    lc_buffer_free(c, dy);
    if (!ok) goto done;
  }
  const double u = U_F32;
  for (int64_t r = 0; r < m; r++) {
    const float *xr = x + r * n;
    double mx = -INFINITY, sum = 0.0, dmax = 0.0;
    for (int64_t i = 0; i < n; i++)
      if (xr[i] > mx) mx = xr[i];
    for (int64_t i = 0; i < n; i++) {
      sum += exp((double)xr[i] - mx);
      dmax = fmax(dmax, fabs((double)xr[i] - mx));
    }
    const double rel_s = gamma_n((double)((n + 31) / 32 + 5)) + dmax * u + 4 * u;
    const double rel_r = gamma_n((double)n) + dmax * u + 4 * u;
    for (int64_t i = 0; i < n; i++) {
      const double d = (double)xr[i] - mx, p = exp(d) / sum, lp = d - log(sum);
      tsm[r * n + i] = 1.01 * (2 * (fabs(d) * u + 4 * u + u) + rel_s + rel_r) * p + 0x1p-147;
      tlsm[r * n + i] =
          1.01 * (2 * (fabs(d) * u + 4 * u * fabs(log(sum)) + u * fabs(lp)) + rel_s + rel_r) +
          0x1p-147;
    }
  }
  char shape[64];
  snprintf(shape, sizeof shape, "M=%" PRId64 " n=%" PRId64, m, n);
  ops_row(rep, "softmax", shape, sm, (int64_t)cnt, tsm, "p(|d|u + 5u + rel_sum) per mode");
  ops_row(rep, "log_softmax", shape, lsm, (int64_t)cnt, tlsm,
          "|d|u + rel_sum + 4u|ln S| + u|lp| per mode");
  ops_row(rep, "argmax", shape, am, m, NULL, "exact (first index of the max)");
  rc = 0;
done:
  free_outs(sm);
  free_outs(lsm);
  free_outs(am);
  free(x), free(tsm), free(tlsm);
  return rc;
}

static void verify_ops_usage(FILE *f) {
  fprintf(f,
          "usage: layercast verify ops [--shapes small|model] [--seed S]\n"
          "\n"
          "Runs every op on random inputs on CPU strict, CPU reference and (when a GPU is\n"
          "present) CUDA strict.  CUDA strict must equal CPU strict bit for bit; CPU\n"
          "reference must lie within the stated bound of CPU strict (each bound is\n"
          "derived in tools/cli_verify.c from the two orders of operations).\n"
          "\n"
          "  --shapes small   small shapes that cross the segment and partition edges\n"
          "                   (default; a second)\n"
          "  --shapes model   Llama-3-8B layer shapes (dim 4096, d_ff 14336, vocab 128256,\n"
          "                   32/8 heads of 128); tens of seconds on the CPU\n"
          "  --seed S         input seed (default 1)\n");
}

static int verify_ops(int argc, char **argv) {
  static const struct option opts[] = {{"shapes", required_argument, 0, 's'},
                                       {"seed", required_argument, 0, 'S'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const op_shapes *sh = &shapes_small;
  uint64_t seed = 1;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 's':
        if (!strcmp(optarg, "small"))
          sh = &shapes_small;
        else if (!strcmp(optarg, "model"))
          sh = &shapes_model;
        else {
          fprintf(stderr, "layercast verify ops: --shapes small or model, not '%s'\n", optarg);
          return 2;
        }
        break;
      case 'S': {
        char *end = NULL;
        seed = strtoull(optarg, &end, 10);
        if (!*optarg || *end) {
          fprintf(stderr, "layercast verify ops: bad seed '%s'\n", optarg);
          return 2;
        }
        break;
      }
      case 'h':
        verify_ops_usage(stdout);
        return 0;
      default:
        verify_ops_usage(stderr);
        return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "layercast verify ops: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  vctx v;
  if (vctx_open(&v)) {
    vctx_close(&v);
    return 1;
  }
  printf("layercast verify ops (%s shapes, seed %" PRIu64 ")\n",
         sh == &shapes_small ? "small" : "model", seed);
  if (v.c[GS]) {
    lc_device_info di;
    lc_context_get_device_info(v.c[GS], &di);
    printf("  GPU: %s (sm_%d%d)\n", di.name, di.cc_major, di.cc_minor);
  } else {
    printf("  GPU half skipped (no usable CUDA device: %s)\n", v.gpu_skip);
  }
  ops_report rep = {0, v.c[GS] != NULL};
  ops_header();
  int err = 0;
  err |= op_matmul(&v, &rep, sh->mm_m, sh->mm_k, sh->mm_n, 0, seed + 1);
  err |= op_matmul(&v, &rep, sh->mm_m, sh->mm_k, sh->mm_n, 1, seed + 2);
  err |= op_matmul(&v, &rep, sh->mm_m, sh->mm2_k, sh->mm2_n, 0, seed + 3);
  err |= op_rmsnorm(&v, &rep, sh->rows, sh->dim, seed + 4);
  err |= op_rope(&v, &rep, sh->rows, sh->heads, sh->hd, LC_ROPE_INTERLEAVED, seed + 5);
  err |= op_rope(&v, &rep, sh->rows, sh->heads, sh->hd, LC_ROPE_HALF, seed + 6);
  err |= op_attention(&v, &rep, sh, seed + 7);
  err |= op_elementwise(&v, &rep, 0, sh->rows * sh->dim, seed + 8);
  err |= op_elementwise(&v, &rep, 1, sh->rows * sh->dim, seed + 9);
  err |= op_elementwise(&v, &rep, 2, sh->rows * sh->dim, seed + 10);
  /* the table of the model shapes is cut to 16384 rows (256 MiB as f32 on
   * the host instead of 2 GiB): a row copy does not depend on the row count */
  err |= op_embedding(&v, &rep, sh->vocab < 16384 ? sh->vocab : 16384, sh->dim, seed + 11);
  err |= op_softmax(&v, &rep, 3, sh->vocab, seed + 12);
  vctx_close(&v);
  if (err) {
    fprintf(stderr, "layercast verify ops: an op failed to run (see above)\n");
    return 1;
  }
  printf("\n%s: CUDA strict vs CPU strict %s; CPU reference vs CPU strict %s\n",
         rep.n_fail ? "FAIL" : "PASS", rep.gpu ? "bitwise on every op" : "skipped (no GPU)",
         rep.n_fail ? "see the FAIL rows" : "within every bound");
  return rep.n_fail ? 1 : 0;
}

/* ---- verify model ---------------------------------------------------------------*/

/* The normwise relative bound ||ref - strict||_2 / ||strict||_2 on each
 * position's logits.  Not derived: a whole model has no useful a-priori
 * bound.  Each op's reference-vs-strict difference is a few u relative
 * (the op bounds above, ~1e-6 for these sizes); residual layers carry it
 * forward with growth of order 10 per layer in trained models.  2^-10 is
 * some 200 times what was measured (stories260K: 5.7e-6), yet
 * catches any real disagreement (a wrong op gives O(1)). */
#define VERIFY_MODEL_RTOL 0x1p-10

typedef struct vm_seq {
  int32_t plen, total; /* prompt length, prompt + decode tokens */
  int32_t *tokens;     /* [total]: prompt then teacher-forced decode tokens */
} vm_seq;

typedef struct vm_run {
  float *logits; /* [n_seq][max_total][vocab] */
  float *hidden; /* [n_layers+1][n_seq][max_total][dim] */
} vm_run;

typedef struct vm_hook {
  const lc_batch_entry *e;
  int64_t ne;
  int32_t n_seq, max_total, dim;
  float *hidden;
} vm_hook;

static void vm_hook_fn(void *user, int32_t layer, const float *hidden, int64_t rows, int32_t dim) {
  vm_hook *h = user;
  int64_t row = 0;
  if (dim != h->dim) return;
  for (int64_t i = 0; i < h->ne; i++) {
    const lc_batch_entry *e = &h->e[i];
    if (row + e->n_tokens > rows) return;
    memcpy(h->hidden +
               (((size_t)layer * h->n_seq + (size_t)e->slot) * h->max_total + (size_t)e->pos) * dim,
           hidden + (size_t)row * dim, (size_t)e->n_tokens * dim * sizeof(float));
    row += e->n_tokens;
  }
}

/* The schedule: step by step, each unfinished sequence (slot = its index)
 * feeds up to `chunk` prompt tokens, then one token per step. */
static int vm_run_ctx(lc_context *c, const char *path, const vm_seq *seqs, int32_t n_seq,
                      int32_t chunk, int32_t max_total, vm_run *out, int32_t *vocab_out,
                      int32_t *layers_out, int32_t *dim_out) {
  lc_model *m = NULL;
  lc_session *s = NULL;
  lc_batch_entry *e = calloc((size_t)n_seq, sizeof *e);
  int32_t *done = calloc((size_t)n_seq, sizeof *done);
  float *buf = NULL;
  int rc = -1;
  if (!e || !done) goto fail;
  lc_status st = lc_model_load(c, path, NULL, &m);
  if (st != LC_OK) {
    verr("loading the model", st, c);
    goto fail;
  }
  lc_model_info mi;
  lc_model_get_info(m, &mi);
  const int32_t vocab = mi.config.vocab_size, dim = mi.config.dim, L = mi.config.n_layers;
  *vocab_out = vocab, *layers_out = L, *dim_out = dim;
  for (int32_t i = 0; i < n_seq; i++)
    for (int32_t t = 0; t < seqs[i].total; t++)
      if (seqs[i].tokens[t] >= vocab) seqs[i].tokens[t] %= vocab;
  const size_t nl = (size_t)n_seq * max_total * vocab,
               nh = (size_t)(L + 1) * n_seq * max_total * dim;
  out->logits = calloc(nl, sizeof(float));
  out->hidden = calloc(nh, sizeof(float));
  buf = malloc((size_t)n_seq * chunk * vocab * sizeof(float));
  if (!out->logits || !out->hidden || !buf) {
    fprintf(stderr, "layercast verify model: out of memory\n");
    goto fail;
  }
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.n_slots = n_seq;
  sp.max_len = max_total;
  sp.max_tokens = n_seq * chunk;
  st = lc_session_create(m, &sp, &s);
  if (st != LC_OK) {
    verr("creating the session", st, c);
    goto fail;
  }
  vm_hook h = {e, 0, n_seq, max_total, dim, out->hidden};
  if (vcheck(c, lc_session_set_layer_hook(s, vm_hook_fn, &h), "lc_session_set_layer_hook"))
    goto fail;
  for (;;) {
    int64_t ne = 0;
    for (int32_t i = 0; i < n_seq; i++) {
      if (done[i] >= seqs[i].total) continue;
      int32_t n = done[i] < seqs[i].plen ? seqs[i].plen - done[i] : 1;
      if (n > chunk) n = chunk;
      e[ne].slot = i;
      e[ne].pos = done[i];
      e[ne].n_tokens = n;
      e[ne].tokens = seqs[i].tokens + done[i];
      ne++;
    }
    if (ne == 0) break;
    h.ne = ne;
    if (vcheck(c, lc_session_forward(s, e, ne, 1, buf), "lc_session_forward")) goto fail;
    int64_t row = 0;
    for (int64_t i = 0; i < ne; i++) {
      memcpy(out->logits + ((size_t)e[i].slot * max_total + (size_t)e[i].pos) * vocab,
             buf + (size_t)row * vocab, (size_t)e[i].n_tokens * vocab * sizeof(float));
      row += e[i].n_tokens;
      done[e[i].slot] += e[i].n_tokens;
    }
  }
  rc = 0;
fail:
  lc_session_free(s);
  lc_model_free(m);
  free(e), free(done), free(buf);
  return rc;
}

static void verify_model_usage(FILE *f) {
  fprintf(f,
          "usage: layercast verify model --model PATH [--tokens N] [--chunk C] [--seed S]\n"
          "\n"
          "Three sequences of different prompt lengths in one batch (chunked prefill\n"
          "mixed with decode steps, teacher-forced with random tokens) on CPU strict,\n"
          "CPU reference and (with a GPU) CUDA strict.  CUDA strict must equal CPU\n"
          "strict bit for bit at every position and every layer; CPU reference must\n"
          "be within ||ref - strict|| / ||strict|| <= 2^-10 per position (a stated,\n"
          "empirical bound: see tools/cli_verify.c).\n"
          "\n"
          "  --model PATH   llama2.c .bin, or a Hugging Face directory / config.json\n"
          "  --tokens N     decode steps after each prompt (default 8)\n"
          "  --chunk C      prefill chunk (default 16)\n"
          "  --seed S       prompt seed (default 1)\n"
          "  --rtol R       the normwise bound (default 2^-10 = 0.0009765625)\n");
}

static int verify_model(int argc, char **argv) {
  static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                       {"tokens", required_argument, 0, 't'},
                                       {"chunk", required_argument, 0, 'c'},
                                       {"seed", required_argument, 0, 's'},
                                       {"rtol", required_argument, 0, 'r'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *path = NULL;
  long n_tok = 8, chunk = 16;
  uint64_t seed = 1;
  double rtol = VERIFY_MODEL_RTOL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
      case 'm':
        path = optarg;
        break;
      case 't':
        n_tok = strtol(optarg, &end, 10);
        break;
      case 'c':
        chunk = strtol(optarg, &end, 10);
        break;
      case 's':
        seed = strtoull(optarg, &end, 10);
        break;
      case 'r':
        rtol = strtod(optarg, &end);
        break;
      case 'h':
        verify_model_usage(stdout);
        return 0;
      default:
        verify_model_usage(stderr);
        return 2;
    }
    if (end && (*end || end == optarg)) {
      fprintf(stderr, "layercast verify model: bad number '%s'\n", optarg);
      return 2;
    }
  }
  if (!path || optind < argc || n_tok < 0 || n_tok > 4096 || chunk < 1 || chunk > 4096 ||
      !(rtol > 0)) {
    fprintf(stderr, "layercast verify model: need --model PATH; 0 <= N <= 4096, 1 <= C <= 4096\n");
    verify_model_usage(stderr);
    return 2;
  }
  vctx v;
  if (vctx_open(&v)) {
    vctx_close(&v);
    return 1;
  }
  enum { NSEQ = 3 };
  static const int32_t plens[NSEQ] = {5, 23, 40};
  vm_seq seqs[NSEQ];
  memset(seqs, 0, sizeof seqs);
  vm_run runs[N_CTX];
  memset(runs, 0, sizeof runs);
  int rc = 1;
  int32_t max_total = 0, vocab = 0, L = 0, dim = 0;
  uint64_t s = seed;
  for (int i = 0; i < NSEQ; i++) {
    seqs[i].plen = plens[i];
    seqs[i].total = plens[i] + (int32_t)n_tok;
    if (seqs[i].total > max_total) max_total = seqs[i].total;
    seqs[i].tokens = malloc((size_t)seqs[i].total * sizeof(int32_t));
    if (!seqs[i].tokens) goto done;
    for (int32_t t = 0; t < seqs[i].total; t++)
      seqs[i].tokens[t] = (int32_t)(vr_next(&s) % 0x7fffffffu); /* reduced mod vocab on load */
  }
  printf(
      "layercast verify model: %s\n  3 sequences (prompts of %d, %d, %d tokens, prefill in "
      "chunks of %ld, then %ld decode steps), one batch\n",
      path, plens[0], plens[1], plens[2], chunk, n_tok);
  if (!v.c[GS]) printf("  GPU half skipped (no usable CUDA device: %s)\n", v.gpu_skip);
  for (int ci = 0; ci < N_CTX; ci++) {
    if (!v.c[ci]) continue;
    int32_t vo, lo, dmo;
    if (vm_run_ctx(v.c[ci], path, seqs, NSEQ, (int32_t)chunk, max_total, &runs[ci], &vo, &lo, &dmo))
      goto done;
    vocab = vo, L = lo, dim = dmo;
  }
  /* per sequence and pass: CUDA vs CPU bits (logits, first layer), reference
   * vs strict normwise */
  int n_fail = 0, any_gpu_diff = 0;
  int32_t first_l = -1, first_seq = -1, first_pos = -1;
  double worst_rel = 0.0;
  printf("\n  %4s %-10s %-8s %-26s %-13s %s\n", "seq", "positions", "kind",
         "cuda vs cpu strict (bits)", "first layer", "ref vs strict (normwise)");
  for (int32_t i = 0; i < NSEQ; i++) {
    for (int32_t p0 = 0; p0 < seqs[i].total;) {
      const int32_t n =
          p0 < seqs[i].plen ? (seqs[i].plen - p0 < chunk ? seqs[i].plen - p0 : (int32_t)chunk) : 1;
      int64_t ndiff = 0;
      int32_t fl = -1;
      double rel = 0.0;
      for (int32_t t = p0; t < p0 + n; t++) {
        const size_t off = ((size_t)i * max_total + (size_t)t) * vocab;
        if (v.c[GS]) {
          ndiff += count_bits_diff(runs[GS].logits + off, runs[CS].logits + off, vocab);
          for (int32_t l = 0; l <= L; l++) {
            const size_t ho = (((size_t)l * NSEQ + (size_t)i) * max_total + (size_t)t) * dim;
            if (memcmp(runs[GS].hidden + ho, runs[CS].hidden + ho, (size_t)dim * 4)) {
              if (fl < 0 || l < fl) fl = l;
              if (first_l < 0 || l < first_l) first_l = l, first_seq = i, first_pos = t;
              break;
            }
          }
        }
        double num = 0.0, den = 0.0;
        for (int32_t k = 0; k < vocab; k++) {
          const double d = (double)runs[CR].logits[off + k] - (double)runs[CS].logits[off + k];
          num += d * d;
          den += (double)runs[CS].logits[off + k] * (double)runs[CS].logits[off + k];
        }
        const double r = den > 0 ? sqrt(num / den) : sqrt(num);
        if (!(r <= rel)) rel = r;
      }
      if (!(rel <= worst_rel)) worst_rel = rel;
      const int fail = ndiff > 0 || fl >= 0 || !(rel <= rtol);
      n_fail += fail;
      any_gpu_diff |= ndiff > 0 || fl >= 0;
      char posr[32], gpu[64], fls[16];
      snprintf(posr, sizeof posr, n > 1 ? "%d-%d" : "%d", p0, p0 + n - 1);
      if (v.c[GS])
        snprintf(gpu, sizeof gpu, "%" PRId64 " of %" PRId64 " differ", ndiff, (int64_t)n * vocab);
      else
        snprintf(gpu, sizeof gpu, "skipped");
      if (fl < 0)
        snprintf(fls, sizeof fls, "-");
      else if (fl == L)
        snprintf(fls, sizeof fls, "norm");
      else
        snprintf(fls, sizeof fls, "%d", fl);
      printf("  %4d %-10s %-8s %-26s %-13s %.3g%s\n", i, posr,
             p0 < seqs[i].plen ? "prefill" : "decode", gpu, fls, rel, fail ? "  FAIL" : "");
      p0 += n;
    }
  }
  printf("\n");
  if (v.c[GS]) {
    if (any_gpu_diff)
      printf("  CUDA strict vs CPU strict: DIFFER; first at layer %d, sequence %d, position %d\n",
             first_l, first_seq, first_pos);
    else
      printf("  CUDA strict vs CPU strict: bitwise equal (logits and all %d layer outputs)\n",
             L + 1);
  } else {
    printf("  CUDA strict vs CPU strict: skipped (no GPU)\n");
  }
  printf("  CPU reference vs CPU strict: worst normwise relative difference %.3g (bound %.3g)\n",
         worst_rel, rtol);
  printf("%s\n", n_fail ? "FAIL" : "PASS");
  rc = n_fail ? 1 : 0;
done:
  for (int i = 0; i < NSEQ; i++) free(seqs[i].tokens);
  for (int ci = 0; ci < N_CTX; ci++) free(runs[ci].logits), free(runs[ci].hidden);
  vctx_close(&v);
  return rc;
}

/* ---- dispatch -------------------------------------------------------------------*/

static void usage(FILE *f) {
  fprintf(f,
          "usage: layercast verify ops [--shapes small|model]\n"
          "       layercast verify model --model PATH [--tokens N]\n"
          "       layercast verify records A.jsonl B.jsonl\n"
          "\n"
          "  ops      every op: CUDA strict == CPU strict bitwise, CPU reference within\n"
          "           derived bounds of CPU strict\n"
          "  model    a whole model, the same two checks per position and per layer\n"
          "  records  two sweep run records (maybe from two machines): strict runs must\n"
          "           match bitwise; other modes' agreement reported\n"
          "\n"
          "Without a GPU the CUDA half is reported as skipped.  'layercast verify <what>\n"
          "--help' describes each.  Exit status 0 pass, 1 fail or error, 2 bad usage.\n");
}

int cmd_verify(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *w = argv[1];
  if (!strcmp(w, "-h") || !strcmp(w, "--help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(w, "ops")) return verify_ops(argc - 1, argv + 1);
  if (!strcmp(w, "model")) return verify_model(argc - 1, argv + 1);
  if (!strcmp(w, "records")) return cmd_verify_records(argc - 1, argv + 1);
  fprintf(stderr, "layercast verify: unknown check '%s'\n", w);
  usage(stderr);
  return 2;
}
