/*
 * lib/loglik.c — teacher-forced log-likelihoods and sliding-window
 * perplexity on top of lc_session_forward (docs/generation.md,
 * "Log-likelihoods").
 *
 * One scored sequence: tokens x[0..N) = context[0..C) ++ cont[0..K), in
 * cache slot 0 from position 0.  Token x[C+i] is predicted by the logits of
 * position C+i-1, so positions 0..C-2 need no logits and x[N-1] is never fed:
 *
 *   context passes  positions 0..C-2 in passes [0,T), [T,2T), ...
 *                   (all_logits = 0: one row of logits, unused);
 *   scoring passes  positions C-1..N-2 in passes of T from C-1
 *                   (all_logits = 1: row j predicts x[C+q0+j]);
 *
 * T is the session's max_tokens.  The schedule is a function of (C, K, T)
 * only.  In strict, fast and bf16 every row is computed independently of the
 * pass it is in, so the results do not depend on T at all; in reference and
 * the vendor modes a different T (a different schedule) may change bits.
 *
 * Per scored row l [vocab] (fp32) and target t, in float64 on the host:
 *   m    = the largest non-NaN logit;
 *   w_i  = 1 if l_i == m, else exp((double)l_i - (double)m), NaN logits
 *          skipped (so +Inf logits give no Inf - Inf);
 *   S    = sum of w_i in index order;
 *   lp   = -log(S) if l_t == m; log(0) = -Inf if l_t is NaN;
 *          else ((double)l_t - m) - log(S);
 *          NaN when every logit is NaN.
 * That is the log of the probability lc_sample's distribution at T = 1
 * gives t (NaN logits carry none), computed in double.  greedy(t) =
 * (t == lc_sample_greedy(l)), the token greedy generation picks.
 *
 * Perplexity: windows [b, min(b+W, n)) for b = 0, S, 2S, ...; each scores
 * the tokens from max(end of the previous window, b+1) to its end, so every
 * token but the first is scored once, with the most context a window gives
 * it; the last window is the first that reaches n.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_cast.h"
#include "layercast_model.h"
#include "lib/lc_internal.h"
#include "lib/loglik_internal.h"
#include "lib/model_internal.h"
#include "lib/sample_internal.h"

/* What one call's scoring needs: the session and the host scratch. */
typedef struct ll_run {
  lc_session *s;
  int32_t vocab;
  int32_t max_tokens; /* T: tokens per pass */
  int32_t rows;       /* rows of logits held: min(T, longest continuation) */
  float *logits;      /* host [rows][vocab] */
  int32_t *fed;       /* host [rows]: one scoring pass's tokens */
} ll_run;

static void run_free(ll_run *r) {
  free(r->logits);
  free(r->fed);
}

/* Allocates the scratch for continuations of up to max_cont tokens. */
static lc_status run_init(ll_run *r, lc_session *s, int32_t max_cont, const char *fn) {
  memset(r, 0, sizeof *r);
  r->s = s;
  r->vocab = s->model->info.config.vocab_size;
  r->max_tokens = s->params.max_tokens;
  r->rows = max_cont < r->max_tokens ? max_cont : r->max_tokens;
  if ((uint64_t)r->rows * (uint64_t)r->vocab > SIZE_MAX / sizeof(float)) {
    return LC_FAIL(s->ctx, LC_ERR_OVERFLOW, "%s: %d rows of %d logits overflow", fn, (int)r->rows,
                   (int)r->vocab);
  }
  r->logits = lc_malloc((size_t)r->rows * (size_t)r->vocab * sizeof *r->logits);
  r->fed = lc_malloc((size_t)r->rows * sizeof *r->fed);
  if (!r->logits || !r->fed) {
    run_free(r);
    return LC_FAIL(s->ctx, LC_ERR_OUT_OF_MEMORY,
                   "%s: cannot allocate %d rows of %d logits (the session's max_tokens bounds the "
                   "rows: a smaller one needs less)",
                   fn, (int)r->rows, (int)r->vocab);
  }
  return LC_OK;
}

/* log p(t) under the softmax of l [vocab] at T = 1, in double (the rule on
 * top of this file). */
double lc_loglik_row(const float *l, int32_t vocab, int32_t t) {
  int32_t first = -1;
  for (int32_t i = 0; i < vocab && first < 0; i++)
    if (!lc_f32_isnan(l[i])) first = i;
  if (first < 0) return NAN;
  float m = l[first];
  for (int32_t i = first + 1; i < vocab; i++)
    if (!lc_f32_isnan(l[i]) && l[i] > m) m = l[i];
  double sum = 0.0;
  for (int32_t i = first; i < vocab; i++) {
    if (lc_f32_isnan(l[i])) continue;
    sum += l[i] == m ? 1.0 : exp((double)l[i] - (double)m);
  }
  const float lt = l[t];
  if (lc_f32_isnan(lt)) return -INFINITY;
  if (lt == m) return -log(sum);
  return ((double)lt - (double)m) - log(sum);
}

/* Scores cont[0..n_cont) after ctx_tok[0..n_ctx) (both >= 1, checked, in
 * range, n_ctx + n_cont <= max_len, n_cont <= r->rows unless passes are
 * shorter): lp[i], greedy[i] for i < n_cont. */
static lc_status score(ll_run *r, const int32_t *ctx_tok, int32_t n_ctx, const int32_t *cont,
                       int32_t n_cont, double *lp, int32_t *greedy) {
  const int32_t T = r->max_tokens, V = r->vocab;
  for (int32_t p0 = 0; p0 < n_ctx - 1; p0 += T) {
    const int32_t n = n_ctx - 1 - p0 < T ? n_ctx - 1 - p0 : T;
    const lc_batch_entry e = {0, p0, n, ctx_tok + p0};
    LC_TRY(lc_session_forward(r->s, &e, 1, 0, r->logits));
  }
  for (int32_t q0 = 0; q0 < n_cont; q0 += r->rows) {
    const int32_t n = n_cont - q0 < r->rows ? n_cont - q0 : r->rows;
    /* fed position n_ctx-1+q0+j holds x[n_ctx-1+q0+j]: the last context
     * token, then cont[q0+j-1] */
    for (int32_t j = 0; j < n; j++) r->fed[j] = q0 + j == 0 ? ctx_tok[n_ctx - 1] : cont[q0 + j - 1];
    const lc_batch_entry e = {0, n_ctx - 1 + q0, n, r->fed};
    LC_TRY(lc_session_forward(r->s, &e, 1, 1, r->logits));
    for (int32_t j = 0; j < n; j++) {
      const float *l = r->logits + (size_t)j * (size_t)V;
      const int32_t t = cont[q0 + j];
      lp[q0 + j] = lc_loglik_row(l, V, t);
      greedy[q0 + j] = lc_sample_greedy(l, V) == t;
    }
  }
  return LC_OK;
}

/* LC_ERR_OUT_OF_RANGE naming the first token outside the vocabulary. */
static lc_status check_tokens(lc_session *s, const int32_t *t, int64_t n, const char *fn,
                              const char *name) {
  const int32_t vocab = s->model->info.config.vocab_size;
  for (int64_t i = 0; i < n; i++) {
    if (t[i] < 0 || t[i] >= vocab) {
      return LC_FAIL(s->ctx, LC_ERR_OUT_OF_RANGE, "%s: %s[%lld] = %d, the vocabulary has 0..%d", fn,
                     name, (long long)i, (int)t[i], (int)vocab - 1);
    }
  }
  return LC_OK;
}

lc_status lc_loglik(lc_session *s, const int32_t *context, int32_t n_context, const int32_t *cont,
                    int32_t n_cont, double *token_logprob, int32_t *token_greedy,
                    double *sum_logprob, int32_t *all_greedy) {
  static const char fn[] = "lc_loglik";
  if (!s) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: session is NULL", fn);
  lc_context *ctx = s->ctx;
  if (!context || !cont) {
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                   !context ? "context" : "cont");
  }
  if (n_context < 1 || n_cont < 1) {
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT,
                   "%s: n_context = %d, n_cont = %d: expected >= 1 token each", fn, (int)n_context,
                   (int)n_cont);
  }
  const int32_t max_len = s->params.max_len;
  if ((int64_t)n_context + n_cont > max_len) {
    return LC_FAIL(ctx, LC_ERR_SHAPE,
                   "%s: n_context %d + n_cont %d = %lld positions, the session holds %d per slot "
                   "(max_len)",
                   fn, (int)n_context, (int)n_cont, (long long)n_context + n_cont, (int)max_len);
  }
  LC_TRY(check_tokens(s, context, n_context, fn, "context"));
  LC_TRY(check_tokens(s, cont, n_cont, fn, "cont"));

  ll_run r;
  LC_TRY(run_init(&r, s, n_cont, fn));
  double *lp = lc_malloc((size_t)n_cont * sizeof *lp);
  int32_t *gr = lc_malloc((size_t)n_cont * sizeof *gr);
  lc_status st = LC_OK;
  if (!lp || !gr) {
    st = LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: cannot allocate %d scores", fn, (int)n_cont);
  } else {
    st = score(&r, context, n_context, cont, n_cont, lp, gr);
  }
  if (st == LC_OK) {
    double sum = 0.0;
    int32_t all = 1;
    for (int32_t i = 0; i < n_cont; i++) {
      sum += lp[i];
      all &= gr[i];
    }
    if (token_logprob) memcpy(token_logprob, lp, (size_t)n_cont * sizeof *lp);
    if (token_greedy) memcpy(token_greedy, gr, (size_t)n_cont * sizeof *gr);
    if (sum_logprob) *sum_logprob = sum;
    if (all_greedy) *all_greedy = all;
  }
  free(lp);
  free(gr);
  run_free(&r);
  return st;
}

lc_status lc_perplexity(lc_session *s, const int32_t *tokens, int64_t n, int32_t window,
                        int32_t stride, lc_perplexity_result *out) {
  static const char fn[] = "lc_perplexity";
  if (!s) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: session is NULL", fn);
  lc_context *ctx = s->ctx;
  if (!tokens || !out) {
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, !tokens ? "tokens" : "out");
  }
  if (n < 2) {
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT,
                   "%s: n = %lld tokens, expected >= 2 (the first is never scored)", fn,
                   (long long)n);
  }
  const int32_t max_len = s->params.max_len;
  if (window < 0 || window == 1 || stride < 0) {
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT,
                   "%s: window = %d, stride = %d: expected window 0 (max_len) or >= 2, stride 0 "
                   "(window / 2) or >= 1",
                   fn, (int)window, (int)stride);
  }
  const int32_t W = window ? window : max_len;
  if (W > max_len) {
    return LC_FAIL(ctx, LC_ERR_SHAPE,
                   "%s: window = %d tokens, the session holds %d positions per slot (max_len)", fn,
                   (int)W, (int)max_len);
  }
  if (W < 2) {
    return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: the session's max_len = %d is below a window of 2", fn,
                   (int)max_len);
  }
  const int32_t S = stride ? stride : W / 2;
  if (S >= W) {
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT,
                   "%s: stride = %d, window = %d: expected stride < window (windows must overlap "
                   "by a token at least, or a window's first token goes unscored)",
                   fn, (int)S, (int)W);
  }
  LC_TRY(check_tokens(s, tokens, n, fn, "tokens"));

  const int32_t max_cont = (int64_t)W - 1 < n - 1 ? W - 1 : (int32_t)(n - 1);
  ll_run r;
  LC_TRY(run_init(&r, s, max_cont, fn));
  double *lp = lc_malloc((size_t)max_cont * sizeof *lp);
  int32_t *gr = lc_malloc((size_t)max_cont * sizeof *gr);
  lc_status st = LC_OK;
  if (!lp || !gr) {
    st = LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: cannot allocate %d scores", fn, (int)max_cont);
  }
  double nll = 0.0;
  int64_t scored = 0, windows = 0, prev_end = 0;
  for (int64_t b = 0; st == LC_OK; b += S) {
    const int64_t end = b + W < n ? b + W : n;
    const int64_t first = prev_end > b + 1 ? prev_end : b + 1; /* b < prev_end < end */
    const int32_t n_cont = (int32_t)(end - first);
    st = score(&r, tokens + b, (int32_t)(first - b), tokens + first, n_cont, lp, gr);
    if (st != LC_OK) break;
    for (int32_t i = 0; i < n_cont; i++) nll += -lp[i];
    scored += n_cont;
    windows++;
    prev_end = end;
    if (end == n) break;
  }
  if (st == LC_OK) {
    out->nll_sum = nll;
    out->n_scored = scored;
    out->ppl = exp(nll / (double)scored);
    out->n_windows = windows;
  }
  free(lp);
  free(gr);
  run_free(&r);
  return st;
}
