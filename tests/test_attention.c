/*
 * tests/test_attention.c — lc_attention and lc_kv_write on the CPU backend.
 *
 * Accuracy of strict and reference against a float64 oracle on many shapes
 * (head_dim 8..128, GQA ratios 1..8, key counts crossing the partition
 * boundaries, decode and prefill mixed in one call); strict equal, bit for
 * bit, to a literal transcription of the canonical order; and the promises
 * of strict mode tested bitwise: the same output whether a prompt is
 * prefilled at once, in chunks or decoded token by token, whether a sequence
 * is alone or inside a batch of any size at any index (with random or
 * poisoned neighbours), and run to run.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_canon.h"
#include "lib/bounds.h"

#define P LC_ATTN_PARTITION

/* ---- small helpers ----------------------------------------------------------*/

static int64_t cache_elems(const lc_attn_shape *sh) {
  return (int64_t)sh->n_slots * sh->max_len * sh->n_kv_heads * sh->head_dim;
}

/* Address of k_cache[slot][pos][0][0]. */
static float *cache_at(const lc_attn_shape *sh, float *cache, int64_t slot, int64_t pos) {
  return cache + (slot * sh->max_len + pos) * lct_attn_kv_row_elems(sh);
}

static void attn(lc_context *ctx, const lc_attn_shape *sh, const lc_attn_seq *seqs, int64_t n,
                 const float *q, const float *kc, const float *vc, float *out) {
  lc_status st = lc_attention(ctx, sh, seqs, n, q, kc, vc, out);
  if (st != LC_OK) fail_msg("lc_attention: %s: %s", lc_status_name(st), lc_last_error(ctx));
}

static void kv_write(lc_context *ctx, const lc_attn_shape *sh, const lc_attn_seq *seqs, int64_t n,
                     const float *k, const float *v, float *kc, float *vc) {
  lc_status st = lc_kv_write(ctx, sh, seqs, n, k, v, kc, vc);
  if (st != LC_OK) fail_msg("lc_kv_write: %s: %s", lc_status_name(st), lc_last_error(ctx));
}

/* ---- the float64 oracle and the derived tolerance ----------------------------
 *
 * For one query (t = its position, keys 0..t) and head: s_j = scale * q.k_j,
 * w_j = exp(s_j - max s) / sum, ref_i = sum_j w_j v_j[i], all in double (the
 * products of two floats are exact in double; what double rounding remains
 * is ~1e-16 relative, far below the float bounds).  mag_i = sum_j w_j |v_j[i]|.
 *
 * Error of a float computation, to first order, in four parts (u = 2^-24,
 * gamma_n = n*u / (1 - n*u)):
 *  1. scores: a sequential dot of length D (fma chain, or multiply-add in
 *     the reference) errs by at most gamma_D * A_j, A_j = sum_i |q_i k_j[i]|;
 *     the product by scale adds u: |ds_j| <= Delta = gamma_(D+1) |scale| max_j A_j.
 *     Perturbing every score by at most Delta moves each weight w_j by a
 *     factor within exp(+-2 Delta), so the output by <= (exp(2 Delta)-1) mag.
 *  2. exponentials: lc_expf and glibc's expf are assumed within 1 ulp, i.e.
 *     relative E_EXP = 2u (tests/test_exp.c measures lc_expf); the argument
 *     s_j - m is rounded once (relative u), which changes exp by a factor
 *     exp(|s_j - m| u), |s_j - m| <= 2 S, S = max |s_j|.  Strict multiplies
 *     a key's p by at most nP - 1 rescaling factors exp(m - M) / exp(m_b - M)
 *     (nP partitions), each with the same two errors: relative weight error
 *     rho = nP (E_EXP + 2 S u) (reference: rho = E_EXP + 2 S u); the output
 *     moves by <= 2 rho / (1 - rho) mag.
 *  3. sums: l (positive terms) and o (terms p v_j[i]) are sequential: a
 *     partition of n_b <= P keys errs by gamma_(n_b) relative to sum p |v|,
 *     and each merge adds 2 roundings (l*a + l_b*c): sigma = gamma_(n_b +
 *     2 nP) (reference: one sum of t+1 terms, sigma = gamma_(t+2)); o/l then
 *     errs by <= 2 sigma / (1 - sigma) mag.
 *  4. the division: u |ref|; and exp results that underflow to subnormals
 *     or 0 (s_j - m < -87) lose at most 2^-149 each against l >= 1:
 *     (t + 1 + 2 nP) 2^-148 max|v| in all.
 * The bound is 1.01 * (1 + 2 + 3) + 4; the 1% covers the second-order terms.
 * Part 1 dominates (~130 u * |scale| A for D = 128): it is a worst case,
 * and the measured error is reported beside it. */
#define E_EXP (2.0 * LCT_U)

typedef struct oracle_ws {
  double *s; /* [max_len] scores */
  double *w; /* [max_len] weights */
} oracle_ws;

static oracle_ws oracle_ws_new(int64_t max_len) {
  oracle_ws ws;
  ws.s = lct_malloc((size_t)max_len * sizeof(double));
  ws.w = lct_malloc((size_t)max_len * sizeof(double));
  return ws;
}

static void oracle_ws_free(oracle_ws *ws) {
  free(ws->s);
  free(ws->w);
}

/* ref, tol_strict, tol_ref: [n_heads][head_dim] for one query row at t. */
static void oracle_query(const lc_attn_shape *sh, const float *qrow, const float *kc,
                         const float *vc, int64_t slot, int64_t t, oracle_ws *ws, double *ref,
                         double *tol_strict, double *tol_ref) {
  const int64_t D = sh->head_dim, group = sh->n_heads / sh->n_kv_heads;
  const int64_t kvs = lct_attn_kv_row_elems(sh);
  const double scale = sh->scale;
  const int64_t nP = t / P + 1;
  const int64_t nb = (t + 1 < P) ? t + 1 : P;
  for (int64_t h = 0; h < sh->n_heads; h++) {
    const int64_t g = h / group;
    const float *q = qrow + h * D;
    const float *k0 = kc + (slot * sh->max_len) * kvs + g * D;
    const float *v0 = vc + (slot * sh->max_len) * kvs + g * D;
    double amax = 0.0, smax = -INFINITY, sabs = 0.0, vmax = 0.0;
    for (int64_t j = 0; j <= t; j++) {
      double d = 0.0, a = 0.0;
      for (int64_t i = 0; i < D; i++) {
        double p = (double)q[i] * (double)k0[j * kvs + i];
        d += p;
        a += fabs(p);
      }
      ws->s[j] = d * scale;
      if (a > amax) amax = a;
      if (ws->s[j] > smax) smax = ws->s[j];
      if (fabs(ws->s[j]) > sabs) sabs = fabs(ws->s[j]);
    }
    double sum = 0.0;
    for (int64_t j = 0; j <= t; j++) {
      ws->w[j] = exp(ws->s[j] - smax);
      sum += ws->w[j];
    }
    double *r = ref + h * D;
    double mag[LC_MAX_HEAD_DIM];
    for (int64_t i = 0; i < D; i++) r[i] = mag[i] = 0.0;
    for (int64_t j = 0; j <= t; j++) {
      const double w = ws->w[j] / sum;
      const float *v = v0 + j * kvs;
      for (int64_t i = 0; i < D; i++) {
        r[i] += w * v[i];
        mag[i] += w * fabs((double)v[i]);
        if (fabs((double)v[i]) > vmax) vmax = fabs((double)v[i]);
      }
    }
    const double delta = lc_bound_gamma((double)D + 1) * fabs(scale) * amax;
    const double part1 = expm1(2.0 * delta);
    const double rho_s = (double)nP * (E_EXP + 2.0 * sabs * LCT_U);
    const double rho_r = E_EXP + 2.0 * sabs * LCT_U;
    const double sig_s = lc_bound_gamma((double)(nb + 2 * nP));
    const double sig_r = lc_bound_gamma((double)(t + 2));
    const double under = (double)(t + 1 + 2 * nP) * 0x1p-148 * vmax;
    for (int64_t i = 0; i < D; i++) {
      const double base = LCT_U * fabs(r[i]) + under;
      tol_strict[h * D + i] =
          1.01 * (part1 + 2 * rho_s / (1 - rho_s) + 2 * sig_s / (1 - sig_s)) * mag[i] + base;
      tol_ref[h * D + i] =
          1.01 * (part1 + 2 * rho_r / (1 - rho_r) + 2 * sig_r / (1 - sig_r)) * mag[i] + base;
    }
  }
}

/* Oracle for every row of a call: ref, tol_s, tol_r [total_q][n_heads][hd]. */
static void oracle_call(const lc_attn_shape *sh, const lc_attn_seq *seqs, int64_t n, const float *q,
                        const float *kc, const float *vc, double *ref, double *tol_s,
                        double *tol_r) {
  oracle_ws ws = oracle_ws_new(sh->max_len);
  const int64_t re = lct_attn_row_elems(sh);
  int64_t row = 0;
  for (int64_t s = 0; s < n; s++)
    for (int64_t i = 0; i < seqs[s].n_q; i++, row++)
      oracle_query(sh, q + row * re, kc, vc, seqs[s].slot, (int64_t)seqs[s].pos + i, &ws,
                   ref + row * re, tol_s + row * re, tol_r + row * re);
  oracle_ws_free(&ws);
}

/* max over elements of |got - ref| / tol (the measured fraction of the bound). */
static double worst_ratio(const float *got, const double *ref, const double *tol, int64_t n) {
  double w = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double e = fabs((double)got[i] - ref[i]) / tol[i];
    if (e > w) w = e;
  }
  return w;
}

/* ---- the canonical order v1, transcribed literally --------------------------*/

/* Written from the spec text, independently of cpu_ref/attention.c. */
static void spec_attention(const lc_attn_shape *sh, const lc_attn_seq *seqs, int64_t n_seqs,
                           const float *q, const float *kc, const float *vc, float *out) {
  const int64_t H = sh->n_heads, G = sh->n_kv_heads, D = sh->head_dim, L = sh->max_len;
  int64_t row = 0;
  for (int64_t sq = 0; sq < n_seqs; sq++) {
    for (int64_t qi = 0; qi < seqs[sq].n_q; qi++, row++) {
      const int64_t t = seqs[sq].pos + qi, slot = seqs[sq].slot;
      for (int64_t h = 0; h < H; h++) {
        const int64_t g = h / (H / G);
        const float *qv = q + (row * H + h) * D;
        float m = 0, l = 0, o[LC_MAX_HEAD_DIM], ob[LC_MAX_HEAD_DIM], s[P];
        for (int64_t b = 0; b <= t / P; b++) {
          const int64_t lo = b * P, hi = (b * P + P < t + 1) ? b * P + P : t + 1;
          for (int64_t j = lo; j < hi; j++) {
            float d = +0.0f;
            for (int64_t i = 0; i < D; i++)
              d = LC_FMA(qv[i], kc[((slot * L + j) * G + g) * D + i], d);
            s[j - lo] = d * sh->scale;
          }
          float mb = -INFINITY;
          for (int64_t j = lo; j < hi; j++) mb = lc_max_nonan(mb, s[j - lo]);
          mb = lc_canon_zero(mb);
          float lb = +0.0f;
          for (int64_t i = 0; i < D; i++) ob[i] = +0.0f;
          for (int64_t j = lo; j < hi; j++) {
            float p = lc_expf(s[j - lo] - mb);
            lb = lb + p;
            for (int64_t i = 0; i < D; i++)
              ob[i] = LC_FMA(p, vc[((slot * L + j) * G + g) * D + i], ob[i]);
          }
          if (b == 0) {
            m = mb;
            l = lb;
            memcpy(o, ob, (size_t)D * sizeof(float));
          } else {
            float M = lc_canon_zero(lc_max_nonan(m, mb));
            float a = lc_expf(m - M);
            float c = lc_expf(mb - M);
            l = LC_FMA(l, a, lb * c);
            for (int64_t i = 0; i < D; i++) o[i] = LC_FMA(o[i], a, ob[i] * c);
            m = M;
          }
        }
        for (int64_t i = 0; i < D; i++) out[(row * H + h) * D + i] = lc_canon_nan(o[i] / l);
      }
    }
  }
}

/* ---- the accuracy problem: many lengths, decode and prefill in one call ------*/

typedef struct problem {
  lc_attn_shape sh;
  lc_attn_seq seqs[16];
  int64_t n_seqs, total_q;
  float *q, *kc, *vc; /* [total_q][H][D], caches */
} problem;

/* Sequences ending at the partition boundaries: decode queries whose key
 * counts are 1, 255, 256, 257, 511, 512, 513, 700, and prefill chunks that
 * straddle 256 and 512, each in its own slot.  q ~ N(0, q_scale^2),
 * k, v uniform with variance 1 on the used positions (the rest of the cache is never read
 * and stays NaN, which would show in the output if it were). */
static problem make_problem(int h, int g, int d, float q_scale, uint64_t seed) {
  static const int32_t decode_len[] = {1, 255, 256, 257, 511, 512, 513, 700};
  static const int32_t prefill[][2] = {{0, 3}, {250, 10}, {505, 9}, {690, 10}};
  problem pr;
  memset(&pr, 0, sizeof pr);
  pr.sh = lct_attn_shape(h, g, d, 704, 12);
  lct_rng r = lct_rng_new(seed);
  int64_t n = 0;
  for (size_t i = 0; i < sizeof decode_len / sizeof decode_len[0]; i++, n++) {
    pr.seqs[n].slot = (int32_t)n;
    pr.seqs[n].pos = decode_len[i] - 1;
    pr.seqs[n].n_q = 1;
  }
  for (size_t i = 0; i < sizeof prefill / sizeof prefill[0]; i++, n++) {
    pr.seqs[n].slot = (int32_t)n;
    pr.seqs[n].pos = prefill[i][0];
    pr.seqs[n].n_q = prefill[i][1];
  }
  /* interleave decode and prefill in the call: swap a few */
  lc_attn_seq tmp = pr.seqs[1];
  pr.seqs[1] = pr.seqs[9];
  pr.seqs[9] = tmp;
  tmp = pr.seqs[4];
  pr.seqs[4] = pr.seqs[11];
  pr.seqs[11] = tmp;
  pr.n_seqs = n;
  pr.total_q = lct_attn_total_rows(pr.seqs, n);
  const int64_t ce = cache_elems(&pr.sh), kvs = lct_attn_kv_row_elems(&pr.sh);
  pr.kc = lct_malloc_f(ce);
  pr.vc = lct_malloc_f(ce);
  for (int64_t i = 0; i < ce; i++) pr.kc[i] = pr.vc[i] = NAN;
  for (int64_t s = 0; s < n; s++) {
    const int64_t used = (int64_t)(pr.seqs[s].pos + pr.seqs[s].n_q) * kvs;
    float *k = cache_at(&pr.sh, pr.kc, pr.seqs[s].slot, 0);
    float *v = cache_at(&pr.sh, pr.vc, pr.seqs[s].slot, 0);
    for (int64_t i = 0; i < used; i++) { /* uniform on +-sqrt(3): variance 1, and cheap */
      k[i] = lct_uniformf(&r, -1.7320508f, 1.7320508f);
      v[i] = lct_uniformf(&r, -1.7320508f, 1.7320508f);
    }
  }
  const int64_t qe = pr.total_q * lct_attn_row_elems(&pr.sh);
  pr.q = lct_malloc_f(qe);
  for (int64_t i = 0; i < qe; i++) pr.q[i] = q_scale * lct_normalf(&r);
  return pr;
}

static void problem_free(problem *pr) {
  free(pr->q);
  free(pr->kc);
  free(pr->vc);
}

static const struct {
  int h, g, d;
} acc_shapes[] = {{8, 8, 64}, {8, 4, 128}, {8, 2, 72}, {8, 1, 8}};
/* q scales: scores ~ N(0, 1) (flat softmax) and ~ N(0, 16) (peaked). */
static const float acc_qscale[] = {1.0f, 4.0f};
#define N_ACC_SHAPES (sizeof acc_shapes / sizeof acc_shapes[0])

/* The accuracy cases' results, computed once (the three accuracy tests
 * share them) and freed by the group teardown. */
typedef struct acc_case {
  int ready;
  int64_t n;             /* elements of out */
  double *ref, *ts, *tr; /* oracle, strict and reference bounds */
  float *os, *orf;       /* strict and reference outputs */
  char label[64];
} acc_case;
static acc_case acc_cases[N_ACC_SHAPES * 2];

static const acc_case *acc_get(size_t si, size_t qi) {
  acc_case *c = &acc_cases[si * 2 + qi];
  if (c->ready) return c;
  lc_context *cs = lct_cpu(LC_MODE_STRICT);
  lc_context *cr = lct_cpu(LC_MODE_REFERENCE);
  problem pr = make_problem(acc_shapes[si].h, acc_shapes[si].g, acc_shapes[si].d, acc_qscale[qi],
                            1000 + si * 10 + qi);
  c->n = pr.total_q * lct_attn_row_elems(&pr.sh);
  c->ref = lct_malloc((size_t)c->n * sizeof(double));
  c->ts = lct_malloc((size_t)c->n * sizeof(double));
  c->tr = lct_malloc((size_t)c->n * sizeof(double));
  c->os = lct_malloc_f(c->n);
  c->orf = lct_malloc_f(c->n);
  oracle_call(&pr.sh, pr.seqs, pr.n_seqs, pr.q, pr.kc, pr.vc, c->ref, c->ts, c->tr);
  attn(cs, &pr.sh, pr.seqs, pr.n_seqs, pr.q, pr.kc, pr.vc, c->os);
  attn(cr, &pr.sh, pr.seqs, pr.n_seqs, pr.q, pr.kc, pr.vc, c->orf);
  snprintf(c->label, sizeof c->label, "H=%d G=%d D=%d q_scale=%g", pr.sh.n_heads, pr.sh.n_kv_heads,
           pr.sh.head_dim, (double)acc_qscale[qi]);
  problem_free(&pr);
  lc_context_free(cs);
  lc_context_free(cr);
  c->ready = 1;
  return c;
}

static int acc_teardown(void **state) {
  (void)state;
  for (size_t i = 0; i < N_ACC_SHAPES * 2; i++) {
    acc_case *c = &acc_cases[i];
    free(c->ref);
    free(c->ts);
    free(c->tr);
    free(c->os);
    free(c->orf);
    memset(c, 0, sizeof *c);
  }
  return 0;
}

/* which: 0 strict vs oracle, 1 reference vs oracle, 2 reference vs strict */
static void accuracy_sweep(int which) {
  static const char *const name[3] = {"strict vs oracle", "reference vs oracle",
                                      "reference vs strict"};
  double worst = 0.0;
  for (size_t si = 0; si < N_ACC_SHAPES; si++) {
    for (size_t qi = 0; qi < 2; qi++) {
      const acc_case *c = acc_get(si, qi);
      char what[128];
      snprintf(what, sizeof what, "%s: %s", c->label, name[which]);
      double w;
      if (which == 0) {
        lct_assert_within(c->os, c->ref, c->ts, c->n, what);
        w = worst_ratio(c->os, c->ref, c->ts, c->n);
      } else if (which == 1) {
        lct_assert_within(c->orf, c->ref, c->tr, c->n, what);
        w = worst_ratio(c->orf, c->ref, c->tr, c->n);
      } else {
        /* |ref - strict| <= |ref - oracle| + |oracle - strict| <= tol_r + tol_s */
        double *sref = lct_malloc((size_t)c->n * sizeof(double));
        double *tol = lct_malloc((size_t)c->n * sizeof(double));
        for (int64_t i = 0; i < c->n; i++) {
          sref[i] = c->os[i];
          tol[i] = c->ts[i] + c->tr[i];
        }
        lct_assert_within(c->orf, sref, tol, c->n, what);
        w = worst_ratio(c->orf, sref, tol, c->n);
        free(sref);
        free(tol);
      }
      if (w > worst) worst = w;
    }
  }
  print_message("attention %s: worst error = %.3g of the derived bound\n", name[which], worst);
}

/* Strict attention is within the derived bound of a float64 oracle on every
 * shape (head_dim 8, 64, 72, 128; GQA 1, 2, 4, 8; 1..700 keys). */
static void test_attention_strict_vs_oracle(void **state) {
  (void)state;
  accuracy_sweep(0);
}

/* Reference attention is within its derived bound of the float64 oracle. */
static void test_attention_reference_vs_oracle(void **state) {
  (void)state;
  accuracy_sweep(1);
}

/* Reference and strict agree within the sum of their two bounds. */
static void test_attention_reference_vs_strict(void **state) {
  (void)state;
  accuracy_sweep(2);
}

/* Partition maxima far apart (rescaling factors that underflow to 0, in
 * either direction) still give the oracle's result, in both modes. */
static void test_attention_far_apart_partition_maxima(void **state) {
  (void)state;
  lc_context *cs = lct_cpu(LC_MODE_STRICT);
  lc_context *cr = lct_cpu(LC_MODE_REFERENCE);
  lc_attn_shape sh = lct_attn_shape(2, 1, 8, 700, 3);
  sh.scale = 1.0f;
  lct_rng r = lct_rng_new(77);
  float *kc = lct_malloc_f(cache_elems(&sh)), *vc = lct_malloc_f(cache_elems(&sh));
  /* score of key j = q[0] * k_j[0] = k_j[0] (q = e_0 for head 0; head 1
   * has q = -e_0, so the order of the partitions' maxima is reversed). The
   * partition centres are 150 apart: exp of their difference underflows. */
  static const float centre[3][3] = {{-150, 0, -300}, {0, -150, -20}, {-40, -40, 60}};
  for (int64_t s = 0; s < 3; s++)
    for (int64_t j = 0; j < 700; j++) {
      float *k = cache_at(&sh, kc, s, j), *v = cache_at(&sh, vc, s, j);
      for (int64_t i = 0; i < 8; i++) {
        k[i] = (i == 0) ? centre[s][j / P] + lct_uniformf(&r, -5, 5) : lct_normalf(&r);
        v[i] = lct_normalf(&r);
      }
    }
  lc_attn_seq seqs[3] = {{0, 699, 1}, {1, 600, 100}, {2, 690, 10}};
  const int64_t tq = lct_attn_total_rows(seqs, 3), n = tq * lct_attn_row_elems(&sh);
  float *q = lct_malloc_f(n), *os = lct_malloc_f(n), *orf = lct_malloc_f(n);
  for (int64_t row = 0; row < tq; row++)
    for (int64_t i = 0; i < 16; i++) q[row * 16 + i] = (i == 0) ? 1.0f : (i == 8 ? -1.0f : 0.0f);
  double *ref = lct_malloc((size_t)n * sizeof(double));
  double *ts = lct_malloc((size_t)n * sizeof(double)), *tr = lct_malloc((size_t)n * sizeof(double));
  oracle_call(&sh, seqs, 3, q, kc, vc, ref, ts, tr);
  attn(cs, &sh, seqs, 3, q, kc, vc, os);
  attn(cr, &sh, seqs, 3, q, kc, vc, orf);
  lct_assert_within(os, ref, ts, n, "strict, partition maxima 150 apart");
  lct_assert_within(orf, ref, tr, n, "reference, partition maxima 150 apart");
  free(q);
  free(os);
  free(orf);
  free(ref);
  free(ts);
  free(tr);
  free(kc);
  free(vc);
  lc_context_free(cs);
  lc_context_free(cr);
}

/* Strict attention equals, bitwise, the literal transcription of the spec on
 * every accuracy shape. */
static void test_attention_strict_matches_spec(void **state) {
  (void)state;
  lc_context *cs = lct_cpu(LC_MODE_STRICT);
  for (size_t si = 0; si < N_ACC_SHAPES; si++) {
    problem pr =
        make_problem(acc_shapes[si].h, acc_shapes[si].g, acc_shapes[si].d, 2.0f, 2000 + si);
    const int64_t n = pr.total_q * lct_attn_row_elems(&pr.sh);
    float *got = lct_malloc_f(n), *want = lct_malloc_f(n);
    attn(cs, &pr.sh, pr.seqs, pr.n_seqs, pr.q, pr.kc, pr.vc, got);
    spec_attention(&pr.sh, pr.seqs, pr.n_seqs, pr.q, pr.kc, pr.vc, want);
    char what[96];
    snprintf(what, sizeof what, "strict vs spec, H=%d G=%d D=%d", pr.sh.n_heads, pr.sh.n_kv_heads,
             pr.sh.head_dim);
    lct_assert_bitwise_f32(got, want, n, what);
    free(got);
    free(want);
    problem_free(&pr);
  }
  lc_context_free(cs);
}

/* With NaN, +-Inf, huge and subnormal values in q, k and v, strict still
 * equals the spec bitwise, and every NaN it writes is 0x7FC00000. */
static void test_attention_special_values_match_spec(void **state) {
  (void)state;
  lc_context *cs = lct_cpu(LC_MODE_STRICT);
  lc_attn_shape sh = lct_attn_shape(4, 2, 16, 300, 8);
  lct_rng r = lct_rng_new(31);
  const int64_t ce = cache_elems(&sh);
  float *kc = lct_malloc_f(ce), *vc = lct_malloc_f(ce);
  for (int64_t i = 0; i < ce; i++) {
    kc[i] = lct_normalf(&r);
    vc[i] = lct_normalf(&r);
  }
  lc_attn_seq seqs[8];
  for (int s = 0; s < 8; s++) {
    seqs[s].slot = s;
    seqs[s].n_q = 1 + s % 3;
    seqs[s].pos = (int32_t)lct_range(&r, 240, 300 - seqs[s].n_q);
  }
  const int64_t tq = lct_attn_total_rows(seqs, 8), n = tq * lct_attn_row_elems(&sh);
  float *q = lct_randn(&r, n, 1.0f);
  /* sprinkle specials: a few per slot in k and v, and in some query rows;
   * one NaN with a payload in v (it must come out canonical) */
  for (int s = 0; s < 8; s++) {
    for (int c = 0; c < 4; c++) {
      float sp[1];
      lct_fill_poison(sp, 1, s + c, &r);
      int64_t j = lct_range(&r, 0, 299), e = lct_range(&r, 0, lct_attn_kv_row_elems(&sh) - 1);
      if (c % 2) {
        cache_at(&sh, kc, s, j)[e] = sp[0];
      } else {
        cache_at(&sh, vc, s, j)[e] = sp[0];
      }
    }
  }
  cache_at(&sh, vc, 3, 5)[1] = lc_f32_from_bits(0xFFC12345u);
  lct_fill_poison(q + 2 * lct_attn_row_elems(&sh), 8, 0, &r);
  lct_fill_poison(q + 5 * lct_attn_row_elems(&sh) + 20, 40, 5, &r);
  float *got = lct_malloc_f(n), *want = lct_malloc_f(n);
  attn(cs, &sh, seqs, 8, q, kc, vc, got);
  spec_attention(&sh, seqs, 8, q, kc, vc, want);
  lct_assert_bitwise_f32(got, want, n, "strict vs spec with special values");
  int64_t n_nan = 0;
  for (int64_t i = 0; i < n; i++) {
    if (lc_f32_isnan(got[i])) {
      n_nan++;
      if (lc_f32_bits(got[i]) != LC_F32_CANONICAL_NAN_BITS)
        fail_msg("out[%lld] is a NaN with bits 0x%08X, not canonical", (long long)i,
                 lc_f32_bits(got[i]));
    }
  }
  assert_true(n_nan > 0); /* the poison did reach the output */
  free(q);
  free(kc);
  free(vc);
  free(got);
  free(want);
  lc_context_free(cs);
}

/* A 600-token prompt (crossing two partition boundaries) gives bitwise the
 * same output at every position whether prefilled at once, in chunks of 1,
 * 7, 64 or 300 tokens, or prefilled 300 then decoded token by token. */
static void test_attention_prefill_chunks_decode_bitwise(void **state) {
  (void)state;
  enum { L = 600, H = 2, G = 1, D = 16 };
  static const int chunk[] = {L, 1, 7, 64, 300, -300}; /* -300: 300 then 1 by 1 */
  const int n_modes = (int)(sizeof chunk / sizeof chunk[0]);
  lc_context *cs = lct_cpu(LC_MODE_STRICT);
  lc_attn_shape sh = lct_attn_shape(H, G, D, L, n_modes);
  lct_rng r = lct_rng_new(5);
  float *q = lct_randn(&r, (int64_t)L * H * D, 1.5f);
  float *k = lct_randn(&r, (int64_t)L * G * D, 1.0f);
  float *v = lct_randn(&r, (int64_t)L * G * D, 1.0f);
  const int64_t ce = cache_elems(&sh);
  float *kc = lct_malloc_f(ce), *vc = lct_malloc_f(ce);
  for (int64_t i = 0; i < ce; i++) kc[i] = vc[i] = NAN; /* unwritten = NaN */
  float *out[6];
  for (int mdx = 0; mdx < n_modes; mdx++) {
    out[mdx] = lct_malloc_f((int64_t)L * H * D);
    int32_t pos = 0;
    while (pos < L) {
      int c = chunk[mdx] > 0 ? chunk[mdx] : (pos == 0 ? -chunk[mdx] : 1);
      if (c > L - pos) c = L - pos;
      lc_attn_seq s = {mdx, pos, c};
      kv_write(cs, &sh, &s, 1, k + (int64_t)pos * G * D, v + (int64_t)pos * G * D, kc, vc);
      attn(cs, &sh, &s, 1, q + (int64_t)pos * H * D, kc, vc, out[mdx] + (int64_t)pos * H * D);
      pos += c;
    }
  }
  for (int mdx = 1; mdx < n_modes; mdx++) {
    char what[64];
    snprintf(what, sizeof what, "chunk %d vs whole prompt", chunk[mdx]);
    lct_assert_bitwise_f32(out[mdx], out[0], (int64_t)L * H * D, what);
  }
  for (int mdx = 0; mdx < n_modes; mdx++) free(out[mdx]);
  free(q);
  free(k);
  free(v);
  free(kc);
  free(vc);
  lc_context_free(cs);
}

/* ---- batch invariance ----------------------------------------------------------
 * A pool of sequences, each with its own slot, position, query count and
 * queries, and its output computed alone (a batch of one).  Each batch is
 * drawn from the pool; every sequence in it must give its alone bits. */
enum { BI_H = 4, BI_G = 2, BI_D = 32, BI_LEN = 300, BI_POOL = 300, BI_POISON = 130 };
static const int bi_sizes_extra[] = {127, 128, 129, 255, 256, 257};

typedef struct bi_pool {
  lc_attn_shape sh;
  lc_attn_seq seq[BI_POOL];
  float *q[BI_POOL];     /* [n_q][H][D] */
  float *alone[BI_POOL]; /* [n_q][H][D] */
  float *kc, *vc;
  lc_context *ctx;
} bi_pool;

static bi_pool *bi_pool_new(uint64_t seed) {
  bi_pool *bp = lct_malloc(sizeof *bp);
  bp->ctx = lct_cpu(LC_MODE_STRICT);
  bp->sh = lct_attn_shape(BI_H, BI_G, BI_D, BI_LEN, BI_POOL + BI_POISON);
  const int64_t ce = cache_elems(&bp->sh), kvs = lct_attn_kv_row_elems(&bp->sh);
  bp->kc = lct_malloc_f(ce);
  bp->vc = lct_malloc_f(ce);
  for (int64_t i = 0; i < ce; i++) bp->kc[i] = bp->vc[i] = NAN;
  lct_rng r = lct_rng_new(seed);
  for (int i = 0; i < BI_POOL; i++) {
    lc_attn_seq *s = &bp->seq[i];
    s->slot = i;
    const int64_t u = lct_range(&r, 0, 99);
    s->n_q = u < 5 ? 0 : (u < 55 ? 1 : (int32_t)lct_range(&r, 2, 4)); /* decode & prefill */
    s->pos = lct_range(&r, 0, 2) == 0 ? (int32_t)lct_range(&r, 250, 258)
                                      : (int32_t)lct_range(&r, 0, BI_LEN - 7);
    const int64_t used = (int64_t)(s->pos + s->n_q) * kvs;
    float *k = cache_at(&bp->sh, bp->kc, i, 0), *v = cache_at(&bp->sh, bp->vc, i, 0);
    for (int64_t e = 0; e < used; e++) {
      k[e] = lct_uniformf(&r, -2.0f, 2.0f);
      v[e] = lct_uniformf(&r, -1.0f, 1.0f);
    }
    const int64_t qe = (int64_t)s->n_q * BI_H * BI_D;
    bp->q[i] = lct_rand_uniform(&r, qe, -2.0f, 2.0f);
    bp->alone[i] = lct_malloc_f(qe);
    if (s->n_q > 0) attn(bp->ctx, &bp->sh, s, 1, bp->q[i], bp->kc, bp->vc, bp->alone[i]);
  }
  return bp;
}

static void bi_pool_free(bi_pool *bp) {
  for (int i = 0; i < BI_POOL; i++) {
    free(bp->q[i]);
    free(bp->alone[i]);
  }
  free(bp->kc);
  free(bp->vc);
  lc_context_free(bp->ctx);
  free(bp);
}

/* The batch sizes of the sweep: 1..64, then 127, 128, 129, 255, 256, 257. */
static int bi_n_sizes(void) {
  return 64 + (int)(sizeof bi_sizes_extra / sizeof(int));
}
static int bi_size(int i) {
  return i < 64 ? i + 1 : bi_sizes_extra[i - 64];
}

/* Runs one batch: seqs[b] is pool entry who[b] (>= 0) or a poisoned
 * sequence (who[b] < 0, already set up in seqs[b] with query rows in pq[b]);
 * then checks every pool entry against its alone output. */
static void bi_run_check(bi_pool *bp, int B, const int *who, lc_attn_seq *seqs, float **pq,
                         const char *label) {
  const int64_t re = BI_H * BI_D;
  const int64_t tq = lct_attn_total_rows(seqs, B);
  float *q = lct_malloc_f(tq * re), *out = lct_malloc_f(tq * re);
  int64_t row = 0;
  for (int b = 0; b < B; b++) {
    const float *src = who[b] >= 0 ? bp->q[who[b]] : pq[b];
    memcpy(q + row * re, src, (size_t)seqs[b].n_q * re * sizeof(float));
    row += seqs[b].n_q;
  }
  attn(bp->ctx, &bp->sh, seqs, B, q, bp->kc, bp->vc, out);
  row = 0;
  for (int b = 0; b < B; b++) {
    if (who[b] >= 0 && seqs[b].n_q > 0) {
      char what[96];
      snprintf(what, sizeof what, "%s: batch %d, index %d (pos %d, n_q %d)", label, B, b,
               (int)seqs[b].pos, (int)seqs[b].n_q);
      lct_assert_bitwise_f32(out + row * re, bp->alone[who[b]], (int64_t)seqs[b].n_q * re, what);
    }
    row += seqs[b].n_q;
  }
  free(q);
  free(out);
}

/* Picks B distinct pool entries in random order into who[]. */
static void bi_draw(lct_rng *r, int B, int *who, int *perm) {
  for (int i = 0; i < BI_POOL; i++) perm[i] = i;
  for (int i = 0; i < B; i++) {
    int j = (int)lct_range(r, i, BI_POOL - 1);
    int t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    who[i] = perm[i];
  }
}

/* Every sequence of a random batch (sizes 1..64, 127..129, 255..257) gives
 * bitwise its alone output, wherever it sits in the batch. */
static void test_attention_batch_invariance_random(void **state) {
  (void)state;
  bi_pool *bp = bi_pool_new(42);
  lct_rng r = lct_rng_new(43);
  int who[BI_POOL], perm[BI_POOL];
  lc_attn_seq seqs[BI_POOL];
  float *no_poison[BI_POOL] = {0};
  for (int si = 0; si < bi_n_sizes(); si++) {
    const int B = bi_size(si);
    bi_draw(&r, B, who, perm);
    for (int b = 0; b < B; b++) seqs[b] = bp->seq[who[b]];
    bi_run_check(bp, B, who, seqs, no_poison, "random batch");
  }
  bi_pool_free(bp);
}

/* Probes at even batch indices and poisoned sequences (queries and cache
 * slots all NaN, +-Inf, +-3e38 or subnormal) at odd ones, then the opposite:
 * every probe still gives bitwise its alone output. */
static void test_attention_batch_invariance_poison(void **state) {
  (void)state;
  bi_pool *bp = bi_pool_new(44);
  lct_rng r = lct_rng_new(45);
  int who[BI_POOL + 1], perm[BI_POOL];
  lc_attn_seq seqs[BI_POOL + 1];
  float *pq[BI_POOL + 1];
  const int64_t re = BI_H * BI_D, slot_elems = (int64_t)BI_LEN * BI_G * BI_D;
  for (int parity = 0; parity < 2; parity++) {
    for (int si = 0; si < bi_n_sizes(); si++) {
      const int B = bi_size(si);
      bi_draw(&r, B, who, perm);
      for (int b = 0; b < B; b++) {
        pq[b] = NULL;
        if (b % 2 == parity) {
          seqs[b] = bp->seq[who[b]];
          continue;
        }
        const int kind = (b + B) % LCT_POISON_KINDS;
        who[b] = -1;
        seqs[b].slot = BI_POOL + b / 2;
        seqs[b].n_q = (int32_t)lct_range(&r, 1, 3);
        seqs[b].pos = (int32_t)lct_range(&r, 0, BI_LEN - seqs[b].n_q);
        lct_fill_poison(cache_at(&bp->sh, bp->kc, seqs[b].slot, 0), slot_elems, kind, &r);
        lct_fill_poison(cache_at(&bp->sh, bp->vc, seqs[b].slot, 0), slot_elems, kind + 1, &r);
        pq[b] = lct_malloc_f(seqs[b].n_q * re);
        lct_fill_poison(pq[b], seqs[b].n_q * re, kind + 2, &r);
      }
      bi_run_check(bp, B, who, seqs, pq,
                   parity ? "probes at odd indices, poison at even"
                          : "probes at even indices, poison at odd");
      for (int b = 0; b < B; b++) free(pq[b]);
    }
  }
  bi_pool_free(bp);
}

/* The same call twice gives the same bits, in strict and in reference mode. */
static void test_attention_deterministic(void **state) {
  (void)state;
  for (int mode = 0; mode < 2; mode++) {
    lc_context *ctx = lct_cpu(mode ? LC_MODE_REFERENCE : LC_MODE_STRICT);
    problem pr = make_problem(4, 2, 64, 1.0f, 3000);
    const int64_t n = pr.total_q * lct_attn_row_elems(&pr.sh);
    float *a = lct_malloc_f(n), *b = lct_malloc_f(n);
    attn(ctx, &pr.sh, pr.seqs, pr.n_seqs, pr.q, pr.kc, pr.vc, a);
    attn(ctx, &pr.sh, pr.seqs, pr.n_seqs, pr.q, pr.kc, pr.vc, b);
    lct_assert_bitwise_f32(b, a, n, mode ? "reference run twice" : "strict run twice");
    free(a);
    free(b);
    problem_free(&pr);
    lc_context_free(ctx);
  }
}

/* Sequences with n_q == 0 are skipped: they take no rows of q/out and do not
 * change the other sequences' bits; a call with only such sequences writes
 * nothing. */
static void test_attention_empty_sequences_skipped(void **state) {
  (void)state;
  lc_context *cs = lct_cpu(LC_MODE_STRICT);
  problem pr = make_problem(2, 1, 16, 1.0f, 4000);
  const int64_t re = lct_attn_row_elems(&pr.sh), n = pr.total_q * re;
  float *a = lct_malloc_f(n), *b = lct_malloc_f(n + re);
  attn(cs, &pr.sh, pr.seqs, pr.n_seqs, pr.q, pr.kc, pr.vc, a);
  lc_attn_seq with0[32];
  int64_t m = 0;
  for (int64_t i = 0; i < pr.n_seqs; i++) {
    lc_attn_seq z = {(int32_t)(i % pr.sh.n_slots), (int32_t)i, 0};
    with0[m++] = z;
    with0[m++] = pr.seqs[i];
  }
  for (int64_t i = 0; i < n + re; i++) b[i] = -7.0f;
  attn(cs, &pr.sh, with0, m, pr.q, pr.kc, pr.vc, b);
  lct_assert_bitwise_f32(b, a, n, "with n_q = 0 sequences interleaved");
  for (int64_t i = n; i < n + re; i++) assert_true(b[i] == -7.0f); /* no extra row */
  lc_attn_seq only0[3] = {{0, 5, 0}, {1, 0, 0}, {2, 700, 0}};
  attn(cs, &pr.sh, only0, 3, pr.q, pr.kc, pr.vc, b);
  lct_assert_bitwise_f32(b, a, n, "a call of empty sequences wrote something");
  free(a);
  free(b);
  problem_free(&pr);
  lc_context_free(cs);
}

/* lc_kv_write puts row r of k and v at [slot][pos + i] of the caches for each
 * sequence, in order, and touches nothing else. */
static void test_attention_kv_write_layout(void **state) {
  (void)state;
  lc_context *cs = lct_cpu(LC_MODE_STRICT);
  lc_attn_shape sh = lct_attn_shape(4, 2, 8, 20, 4);
  lct_rng r = lct_rng_new(9);
  const int64_t ce = cache_elems(&sh), kvs = lct_attn_kv_row_elems(&sh);
  float *kc = lct_malloc_f(ce), *vc = lct_malloc_f(ce), *ek = lct_malloc_f(ce),
        *ev = lct_malloc_f(ce);
  for (int64_t i = 0; i < ce; i++) kc[i] = vc[i] = ek[i] = ev[i] = -1.5f;
  lc_attn_seq seqs[4] = {{2, 3, 5}, {0, 0, 1}, {3, 19, 1}, {1, 10, 0}};
  const int64_t tq = lct_attn_total_rows(seqs, 4);
  float *k = lct_randn(&r, tq * kvs, 1.0f), *v = lct_randn(&r, tq * kvs, 1.0f);
  int64_t row = 0;
  for (int s = 0; s < 4; s++)
    for (int i = 0; i < seqs[s].n_q; i++, row++) {
      memcpy(cache_at(&sh, ek, seqs[s].slot, seqs[s].pos + i), k + row * kvs,
             (size_t)kvs * sizeof(float));
      memcpy(cache_at(&sh, ev, seqs[s].slot, seqs[s].pos + i), v + row * kvs,
             (size_t)kvs * sizeof(float));
    }
  kv_write(cs, &sh, seqs, 4, k, v, kc, vc);
  lct_assert_bitwise_f32(kc, ek, ce, "k_cache after lc_kv_write");
  lct_assert_bitwise_f32(vc, ev, ce, "v_cache after lc_kv_write");
  free(kc);
  free(vc);
  free(ek);
  free(ev);
  free(k);
  free(v);
  lc_context_free(cs);
}

/* A bf16 cache (kv_dtype LC_DTYPE_BF16, 2 bytes per element): lc_kv_write
 * stores lc_f32_to_bf16 of each key and value, in the layout of the fp32
 * cache; lc_attention then gives, in strict and in reference mode, bitwise
 * the output of an fp32 cache holding the same values rounded to bf16
 * (lc_round_bf16): the numerics of the former rounded-fp32 cache with half
 * its memory.  Sequences past the first partition and at odd head_dim (the
 * unvectorised path on the GPU) included; a kv_dtype that is neither F32
 * nor BF16 is LC_ERR_INVALID_ARGUMENT, nothing written. */
static void test_attention_bf16_cache(void **state) {
  (void)state;
  static const int dims[][3] = {{4, 2, 16}, {3, 3, 5}}; /* heads, kv heads, head_dim */
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
    lc_attn_shape sh = lct_attn_shape(dims[di][0], dims[di][1], dims[di][2], 600, 3);
    lc_attn_shape sb = sh;
    sb.kv_dtype = LC_DTYPE_BF16;
    lct_rng r = lct_rng_new(40 + di);
    const int64_t ce = cache_elems(&sh), re = lct_attn_row_elems(&sh),
                  kvs = lct_attn_kv_row_elems(&sh);
    lc_attn_seq seqs[3] = {{0, 0, 300}, {2, 0, 520}, {1, 0, 7}};
    const int64_t tq = lct_attn_total_rows(seqs, 3);
    float *k = lct_randn(&r, tq * kvs, 1.0f), *v = lct_randn(&r, tq * kvs, 1.0f);
    float *q = lct_randn(&r, tq * re, 1.0f);
    float *kc = lct_malloc_f(ce), *vc = lct_malloc_f(ce);
    uint16_t *kb = lct_malloc((size_t)ce * 2), *vb = lct_malloc((size_t)ce * 2);
    float *want = lct_malloc_f(tq * re), *got = lct_malloc_f(tq * re);
    for (int mode = 0; mode < 2; mode++) {
      lc_context *ctx = lct_cpu(mode ? LC_MODE_REFERENCE : LC_MODE_STRICT);
      /* the fp32 cache of rounded values */
      float *kr = lct_malloc_f(tq * kvs), *vr = lct_malloc_f(tq * kvs);
      memcpy(kr, k, (size_t)(tq * kvs) * sizeof(float));
      memcpy(vr, v, (size_t)(tq * kvs) * sizeof(float));
      assert_int_equal(lc_round_bf16(ctx, kr, tq * kvs), LC_OK);
      assert_int_equal(lc_round_bf16(ctx, vr, tq * kvs), LC_OK);
      kv_write(ctx, &sh, seqs, 3, kr, vr, kc, vc);
      assert_int_equal(lc_attention(ctx, &sh, seqs, 3, q, kc, vc, want), LC_OK);
      /* the bf16 cache */
      memset(kb, 0xA5, (size_t)ce * 2);
      memset(vb, 0xA5, (size_t)ce * 2);
      assert_int_equal(lc_kv_write(ctx, &sb, seqs, 3, k, v, kb, vb), LC_OK);
      for (int64_t i = 0; i < 5 && i < tq * kvs; i++) /* the stored bits */
        assert_int_equal(kb[(0 * sh.max_len + 0) * kvs + i], lc_f32_to_bf16(k[i]));
      for (int64_t i = 0; i < ce; i += 97) {
        const float w = lc_bf16_to_f32(kb[i]);
        /* written positions widen to the rounded fp32 cache's values */
        const int64_t slot = i / ((int64_t)sh.max_len * kvs), pos = (i / kvs) % sh.max_len;
        const int64_t n = slot == 0 ? 300 : slot == 2 ? 520 : 7;
        if (pos < n) assert_memory_equal(&w, &kc[i], sizeof w);
      }
      assert_int_equal(lc_attention(ctx, &sb, seqs, 3, q, kb, vb, got), LC_OK);
      char what[96];
      snprintf(what, sizeof what, "%s, H=%d G=%d D=%d: bf16 cache vs rounded fp32 cache",
               mode ? "reference" : "strict", dims[di][0], dims[di][1], dims[di][2]);
      lct_assert_bitwise_f32(got, want, tq * re, what);
      /* a kv_dtype that is neither */
      lc_attn_shape bad = sh;
      bad.kv_dtype = (lc_dtype)7;
      uint16_t k0 = kb[0];
      assert_int_equal(lc_kv_write(ctx, &bad, seqs, 3, k, v, kb, vb), LC_ERR_INVALID_ARGUMENT);
      assert_int_equal(kb[0], k0);
      assert_int_equal(lc_attention(ctx, &bad, seqs, 3, q, kb, vb, got), LC_ERR_INVALID_ARGUMENT);
      free(kr);
      free(vr);
      lc_context_free(ctx);
    }
    free(k), free(v), free(q), free(kc), free(vc), free(kb), free(vb), free(want), free(got);
  }
}

/* A bad slot or position (slot -1 or n_slots, pos -1, pos + n_q > max_len),
 * even after valid sequences, gives LC_ERR_OUT_OF_RANGE from lc_attention
 * and lc_kv_write in both modes, and writes nothing. */
static void test_attention_out_of_range_writes_nothing(void **state) {
  (void)state;
  static const lc_attn_seq bad[] = {{-1, 0, 1}, {4, 0, 1},  {0, -1, 1},
                                    {0, 20, 1}, {0, 18, 3}, {0, 2147483647, 1}};
  lc_attn_shape sh = lct_attn_shape(4, 2, 8, 20, 4);
  lct_rng r = lct_rng_new(10);
  const int64_t ce = cache_elems(&sh), re = lct_attn_row_elems(&sh),
                kvs = lct_attn_kv_row_elems(&sh);
  float *kc = lct_randn(&r, ce, 1.0f), *vc = lct_randn(&r, ce, 1.0f);
  float *kc0 = lct_malloc_f(ce), *vc0 = lct_malloc_f(ce);
  memcpy(kc0, kc, (size_t)ce * sizeof(float));
  memcpy(vc0, vc, (size_t)ce * sizeof(float));
  float *q = lct_randn(&r, 8 * re, 1.0f), *k = lct_randn(&r, 8 * kvs, 1.0f);
  float *v = lct_randn(&r, 8 * kvs, 1.0f);
  float *out = lct_malloc_f(8 * re), *out0 = lct_malloc_f(8 * re);
  for (int64_t i = 0; i < 8 * re; i++) out[i] = out0[i] = 1234.5f;
  for (int mode = 0; mode < 2; mode++) {
    lc_context *ctx = lct_cpu(mode ? LC_MODE_REFERENCE : LC_MODE_STRICT);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      lc_attn_seq seqs[3] = {{1, 4, 2}, {2, 10, 1}, bad[i]};
      lc_status st = lc_attention(ctx, &sh, seqs, 3, q, kc, vc, out);
      if (st != LC_ERR_OUT_OF_RANGE)
        fail_msg("lc_attention with seq {%d, %d, %d}: %s, expected LC_ERR_OUT_OF_RANGE",
                 (int)bad[i].slot, (int)bad[i].pos, (int)bad[i].n_q, lc_status_name(st));
      lct_assert_bitwise_f32(out, out0, 8 * re, "out after a failed lc_attention");
      st = lc_kv_write(ctx, &sh, seqs, 3, k, v, kc, vc);
      if (st != LC_ERR_OUT_OF_RANGE)
        fail_msg("lc_kv_write with seq {%d, %d, %d}: %s, expected LC_ERR_OUT_OF_RANGE",
                 (int)bad[i].slot, (int)bad[i].pos, (int)bad[i].n_q, lc_status_name(st));
      lct_assert_bitwise_f32(kc, kc0, ce, "k_cache after a failed lc_kv_write");
      lct_assert_bitwise_f32(vc, vc0, ce, "v_cache after a failed lc_kv_write");
    }
    lc_context_free(ctx);
  }
  free(kc);
  free(vc);
  free(kc0);
  free(vc0);
  free(q);
  free(k);
  free(v);
  free(out);
  free(out0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_attention_strict_vs_oracle),
      cmocka_unit_test(test_attention_reference_vs_oracle),
      cmocka_unit_test(test_attention_reference_vs_strict),
      cmocka_unit_test(test_attention_far_apart_partition_maxima),
      cmocka_unit_test(test_attention_strict_matches_spec),
      cmocka_unit_test(test_attention_special_values_match_spec),
      cmocka_unit_test(test_attention_prefill_chunks_decode_bitwise),
      cmocka_unit_test(test_attention_batch_invariance_random),
      cmocka_unit_test(test_attention_batch_invariance_poison),
      cmocka_unit_test(test_attention_deterministic),
      cmocka_unit_test(test_attention_empty_sequences_skipped),
      cmocka_unit_test(test_attention_kv_write_layout),
      cmocka_unit_test(test_attention_bf16_cache),
      cmocka_unit_test(test_attention_out_of_range_writes_nothing),
  };
  /* LCT_RUN with a teardown that frees the shared accuracy results */
  return cmocka_run_group_tests(tests, NULL, acc_teardown);
}
