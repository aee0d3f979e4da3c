/*
 * tests/test_loglik.c — lc_loglik and lc_perplexity (lib/loglik.c) on the
 * CPU backend.
 *
 * The oracle is written here, apart from the library: the logits of a whole
 * sequence from ONE lc_session_forward with all_logits = 1 (so a bug in the
 * library's cutting into passes shows), and the log-softmax of each row in
 * float64 by the plain formula (l_t - max) - log(sum_i exp(l_i - max)), the
 * sum in index order.  On rows without NaN or Inf that is the library's rule
 * term for term, so in strict, fast and bf16 the library must match it bit
 * for bit, whatever the session's max_tokens.  Models: a tiny synthetic
 * Llama written by lc_synth_write into a temp folder, and stories260K.bin
 * from LC_MODELS_DIR when it is there (those tests skip with a message when
 * it is not).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cast/lc_cast.h"
#include "layercast_model.h"
#include "lib/loglik_internal.h"
#include "lib/sample_internal.h"
#include "test_util.h"

#define SYN_MAX_SEQ 96 /* the synthetic model's positions, and its sessions' max_len */
#define ST_MAX_LEN 192 /* stories260K sessions' max_len */

static char g_synth[256];    /* the synthetic model's folder */
static char g_stories[4096]; /* stories260K.bin, "" when absent */

/* A model on a CPU context of one mode. */
typedef struct runner {
  lc_context *ctx;
  lc_model *m;
  int32_t vocab;
} runner;

static void ok(lc_status st, lc_context *ctx, const char *what) {
  if (st != LC_OK) fail_msg("%s: %s: %s", what, lc_status_name(st), lc_last_error(ctx));
}

static runner runner_open(const char *path, lc_mode mode) {
  runner r;
  memset(&r, 0, sizeof r);
  r.ctx = lct_cpu(mode);
  ok(lc_model_load(r.ctx, path, NULL, &r.m), r.ctx, "lc_model_load");
  lc_model_info info;
  ok(lc_model_get_info(r.m, &info), r.ctx, "lc_model_get_info");
  r.vocab = info.config.vocab_size;
  return r;
}

static void runner_close(runner *r) {
  lc_model_free(r->m);
  lc_context_free(r->ctx);
  memset(r, 0, sizeof *r);
}

static lc_session *session(const runner *r, int32_t max_len, int32_t max_tokens) {
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.max_len = max_len;
  sp.max_tokens = max_tokens;
  lc_session *s = NULL;
  ok(lc_session_create(r->m, &sp, &s), r->ctx, "lc_session_create");
  return s;
}

static int have_stories(void) {
  if (!g_stories[0]) {
    printf("  stories260K.bin not found in %s (set LC_MODELS_DIR): skipped\n", lct_models_dir());
    return 0;
  }
  return 1;
}

/* n random ids: BOS (1) first, then 2..vocab-1. */
static int32_t *rand_ids(lct_rng *rng, int32_t n, int32_t vocab) {
  int32_t *x = lct_malloc((size_t)n * sizeof *x);
  x[0] = 1;
  for (int32_t i = 1; i < n; i++) x[i] = (int32_t)lct_range(rng, 2, vocab - 1);
  return x;
}

/* ---- the oracle ---------------------------------------------------------------*/

/* log p(t) by the plain formula, in double, the sum in index order. */
static double oracle_row(const float *l, int32_t vocab, int32_t t) {
  double m = l[0];
  for (int32_t i = 1; i < vocab; i++)
    if (l[i] > m) m = l[i];
  double sum = 0.0;
  for (int32_t i = 0; i < vocab; i++) sum += exp((double)l[i] - m);
  return ((double)l[t] - m) - log(sum);
}

/* The first index of the largest non-NaN logit (greedy generation's rule). */
static int32_t oracle_greedy(const float *l, int32_t vocab) {
  int32_t best = -1;
  for (int32_t i = 0; i < vocab; i++)
    if (!isnan(l[i]) && (best < 0 || l[i] > l[best])) best = i;
  return best < 0 ? 0 : best;
}

/* Logits [n-1][vocab] of x[0..n-1) at positions 0.. in one pass (the
 * session's max_tokens must be >= n - 1). */
static float *one_pass_logits(const runner *r, lc_session *s, const int32_t *x, int32_t n) {
  float *logits = lct_alloc_f((int64_t)(n - 1) * r->vocab);
  const lc_batch_entry e = {0, 0, n - 1, x};
  ok(lc_session_forward(s, &e, 1, 1, logits), r->ctx, "oracle: lc_session_forward");
  return logits;
}

/* What lc_loglik returns (or the oracle computes) for one case. */
typedef struct scores {
  int32_t n;
  double *lp;
  int32_t *greedy;
  double sum;
  int32_t all;
} scores;

static scores scores_new(int32_t n) {
  scores o;
  o.n = n;
  o.lp = lct_alloc_d(n);
  o.greedy = lct_malloc((size_t)n * sizeof *o.greedy);
  o.sum = 0.0;
  o.all = -1;
  return o;
}

static void scores_free(scores *o) {
  free(o->lp);
  free(o->greedy);
}

/* The oracle for cont = x[nc..n) after x[0..nc), from one pass. */
static scores oracle_loglik(const runner *r, lc_session *one_pass, const int32_t *x, int32_t nc,
                            int32_t n) {
  float *logits = one_pass_logits(r, one_pass, x, n);
  scores o = scores_new(n - nc);
  o.all = 1;
  for (int32_t i = 0; i < n - nc; i++) {
    const float *row = logits + (size_t)(nc - 1 + i) * (size_t)r->vocab;
    for (int32_t v = 0; v < r->vocab; v++)
      if (!isfinite(row[v])) fail_msg("oracle: logit %d of row %d is %g", v, nc - 1 + i, row[v]);
    o.lp[i] = oracle_row(row, r->vocab, x[nc + i]);
    o.greedy[i] = oracle_greedy(row, r->vocab) == x[nc + i];
    o.sum += o.lp[i];
    o.all &= o.greedy[i];
  }
  free(logits);
  return o;
}

static scores loglik_ok(const runner *r, lc_session *s, const int32_t *x, int32_t nc, int32_t n) {
  scores o = scores_new(n - nc);
  ok(lc_loglik(s, x, nc, x + nc, n - nc, o.lp, o.greedy, &o.sum, &o.all), r->ctx, "lc_loglik");
  return o;
}

/* Bitwise equal scores, or a report of the first difference. */
static void assert_same_scores(const scores *got, const scores *ref, const char *what) {
  for (int32_t i = 0; i < ref->n; i++) {
    if (memcmp(&got->lp[i], &ref->lp[i], sizeof(double)) != 0)
      fail_msg("%s: token_logprob[%d] ref %.17g got %.17g (diff %.3g)", what, i, ref->lp[i],
               got->lp[i], got->lp[i] - ref->lp[i]);
    if (got->greedy[i] != ref->greedy[i])
      fail_msg("%s: token_greedy[%d] ref %d got %d", what, i, ref->greedy[i], got->greedy[i]);
  }
  if (memcmp(&got->sum, &ref->sum, sizeof(double)) != 0)
    fail_msg("%s: sum_logprob ref %.17g got %.17g", what, ref->sum, got->sum);
  if (got->all != ref->all) fail_msg("%s: all_greedy ref %d got %d", what, ref->all, got->all);
}

/* ---- the row rule ---------------------------------------------------------------*/

static double row(const float *l, int32_t v, int32_t t) {
  return lc_loglik_row(l, v, t);
}

/* The row rule: plain rows give the oracle's bits; NaN logits carry no
 * probability (a NaN target -Inf, a row of NaN NaN); +Inf, -Inf and signed
 * zeros follow the sampler's "equal to the largest weighs 1"; and the greedy
 * flag's choice is lc_sample's at temperature 0 on every such row. */
static void test_loglik_row_rule(void **state) {
  (void)state;
  lct_rng rng = lct_rng_new(11);
  const int32_t V = 300;
  float *l = lct_randn(&rng, V, 4.0f);
  double psum = 0.0;
  for (int32_t t = 0; t < V; t++) {
    const double got = row(l, V, t), ref = oracle_row(l, V, t);
    if (memcmp(&got, &ref, sizeof got) != 0)
      fail_msg("token %d: oracle %.17g, lc_loglik_row %.17g", t, ref, got);
    psum += exp(got);
  }
  if (fabs(psum - 1.0) > 1e-12) fail_msg("probabilities sum to %.17g", psum);

  /* a NaN elsewhere: the same bits as the row without it */
  const float qnan = lc_f32_from_bits(0x7FC00000u), inf = lc_f32_from_bits(0x7F800000u);
  float *with_nan = lct_alloc_f(V + 1);
  memcpy(with_nan, l, 7 * sizeof(float));
  with_nan[7] = -qnan;
  memcpy(with_nan + 8, l + 7, (size_t)(V - 7) * sizeof(float));
  for (int32_t t = 0; t < V; t++) {
    const double got = row(with_nan, V + 1, t < 7 ? t : t + 1), ref = row(l, V, t);
    if (memcmp(&got, &ref, sizeof got) != 0)
      fail_msg("NaN at 7: token %d: %.17g, without the NaN %.17g", t, got, ref);
  }
  assert_true(isinf(row(with_nan, V + 1, 7)) && row(with_nan, V + 1, 7) < 0);

  const float all_nan[3] = {qnan, -qnan, qnan};
  assert_true(isnan(row(all_nan, 3, 1)));
  const float infs[4] = {1.0f, inf, 3.0f, inf};
  assert_true(row(infs, 4, 1) == -log(2.0) && row(infs, 4, 3) == -log(2.0));
  assert_true(isinf(row(infs, 4, 0)) && row(infs, 4, 0) < 0);
  const float zeros[2] = {-0.0f, 0.0f};
  assert_true(row(zeros, 2, 0) == -log(2.0) && row(zeros, 2, 1) == -log(2.0));
  const float minf[3] = {-inf, -inf, -inf};
  assert_true(row(minf, 3, 2) == -log(3.0));
  const float one[1] = {5.0f};
  assert_true(row(one, 1, 0) == 0.0);

  /* greedy: lc_sample_greedy is lc_sample's choice at T = 0 */
  lc_sampler_params sp;
  lc_sampler_params_default(&sp);
  const struct {
    const float *l;
    int32_t v;
  } rows[] = {{l, V}, {with_nan, V + 1}, {all_nan, 3}, {infs, 4}, {zeros, 2}, {minf, 3}, {one, 1}};
  for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
    lc_token_record rec;
    ok(lc_sample(rows[k].l, rows[k].v, &sp, 0, 0, &rec), NULL, "lc_sample");
    assert_int_equal(lc_sample_greedy(rows[k].l, rows[k].v), rec.token);
    assert_int_equal(oracle_greedy(rows[k].l, rows[k].v), rec.token);
  }
  free(l);
  free(with_nan);
}

/* ---- lc_loglik against the oracle ------------------------------------------------*/

/* Cases (context, continuation) that put the pass boundaries everywhere. */
static const int32_t k_cases[][2] = {{1, 1},   {1, 20},  {5, 1},  {9, 13},
                                     {17, 40}, {40, 17}, {2, 94}, {95, 1}};

/* On model `path` in `mode`: for each case, lc_loglik with max_tokens 1, 2,
 * 3, 7, 16 and 96 is bitwise the oracle of one pass (max_len caps the cases). */
static void oracle_cases(const char *path, lc_mode mode, int32_t max_len, uint64_t seed,
                         const char *what) {
  runner r = runner_open(path, mode);
  lc_session *one = session(&r, max_len, max_len);
  static const int32_t chunks[] = {1, 2, 3, 7, 16, 96};
  lc_session *s[6];
  for (int c = 0; c < 6; c++) s[c] = session(&r, max_len, chunks[c]);
  lct_rng rng = lct_rng_new(seed);
  int n_lp = 0, n_greedy = 0;
  for (size_t k = 0; k < sizeof k_cases / sizeof k_cases[0]; k++) {
    const int32_t nc = k_cases[k][0], n = k_cases[k][0] + k_cases[k][1];
    if (n > max_len) continue;
    int32_t *x = rand_ids(&rng, n, r.vocab);
    scores ref = oracle_loglik(&r, one, x, nc, n);
    for (int c = 0; c < 6; c++) {
      scores got = loglik_ok(&r, s[c], x, nc, n);
      char msg[160];
      snprintf(msg, sizeof msg, "%s %s: context %d, cont %d, max_tokens %d", what,
               lc_mode_name(mode), (int)nc, (int)(n - nc), (int)chunks[c]);
      assert_same_scores(&got, &ref, msg);
      scores_free(&got);
    }
    n_lp += ref.n;
    for (int32_t i = 0; i < ref.n; i++) n_greedy += ref.greedy[i];
    scores_free(&ref);
    free(x);
  }
  printf("  %s %s: %d scored tokens (%d greedy) x 6 chunkings, bitwise the one-pass oracle\n", what,
         lc_mode_name(mode), n_lp, n_greedy);
  for (int c = 0; c < 6; c++) lc_session_free(s[c]);
  lc_session_free(one);
  runner_close(&r);
}

/* Strict, synthetic model: every case and max_tokens gives the one-pass
 * oracle's bits. */
static void test_loglik_matches_oracle_synth(void **state) {
  (void)state;
  oracle_cases(g_synth, LC_MODE_STRICT, SYN_MAX_SEQ, 101, "synth");
}

/* fast and bf16 (the CPU's MMA emulation): also chunk-invariant, bitwise
 * the one-pass oracle of their own mode. */
static void test_loglik_fast_bf16_chunk_invariant(void **state) {
  (void)state;
  oracle_cases(g_synth, LC_MODE_FAST, SYN_MAX_SEQ, 102, "synth");
  oracle_cases(g_synth, LC_MODE_BF16, SYN_MAX_SEQ, 103, "synth");
}

/* Strict on stories260K: bitwise the one-pass oracle at every max_tokens. */
static void test_loglik_matches_oracle_stories(void **state) {
  (void)state;
  if (!have_stories()) skip();
  oracle_cases(g_stories, LC_MODE_STRICT, ST_MAX_LEN, 104, "stories260K");
}

/* reference (OpenBLAS): no invariance promised, but the same max_tokens gives
 * the same bits twice, and max_tokens 5 stays within 1e-4 of the one-pass
 * oracle: OpenBLAS may block the sgemm by the row count, which moves logits by
 * a few fp32 ulps and a log-probability by about as much (6e-7 measured
 * here); 1e-4 leaves room for that while a row scored from the wrong
 * position's logits would be off by whole units. */
static void test_loglik_reference_close(void **state) {
  (void)state;
  runner r = runner_open(g_synth, LC_MODE_REFERENCE);
  lc_session *one = session(&r, SYN_MAX_SEQ, SYN_MAX_SEQ), *s = session(&r, SYN_MAX_SEQ, 5);
  lct_rng rng = lct_rng_new(105);
  int32_t *x = rand_ids(&rng, 60, r.vocab);
  scores ref = oracle_loglik(&r, one, x, 12, 60);
  scores a = loglik_ok(&r, s, x, 12, 60), b = loglik_ok(&r, s, x, 12, 60);
  assert_same_scores(&b, &a, "reference, max_tokens 5, twice");
  double worst = 0.0;
  for (int32_t i = 0; i < ref.n; i++) {
    const double d = fabs(a.lp[i] - ref.lp[i]);
    if (d > worst) worst = d;
    if (d > 1e-4) fail_msg("reference: token %d: oracle %.17g got %.17g", i, ref.lp[i], a.lp[i]);
  }
  printf("  reference, max_tokens 5 vs one pass: worst |diff| %.3g\n", worst);
  scores_free(&ref);
  scores_free(&a);
  scores_free(&b);
  free(x);
  lc_session_free(s);
  lc_session_free(one);
  runner_close(&r);
}

/* ---- greedy against lc_generate ---------------------------------------------------*/

/* Greedy generation of n_new tokens after a prompt, then: the one-pass
 * logits of every step hash to the record's logits_hash; lc_loglik of the
 * generated tokens flags each one greedy (all_greedy 1), its log-probability
 * is the oracle's of those logits bit for bit and log(top1_prob) of the
 * record within 4e-6 (top1_prob is a float built from the canonical float
 * exp: a few ulps of 2^-24 relative); a token swapped for a non-greedy one
 * is flagged 0. */
static void greedy_case(const char *path, int32_t max_len, int32_t prompt_len, int32_t n_new,
                        uint64_t seed, const char *what) {
  runner r = runner_open(path, LC_MODE_STRICT);
  lc_session *s = session(&r, max_len, 8), *one = session(&r, max_len, max_len);
  lct_rng rng = lct_rng_new(seed);
  const int32_t n = prompt_len + n_new;
  int32_t *x = rand_ids(&rng, n, r.vocab);
  lc_token_record *rec = lct_malloc((size_t)n_new * sizeof *rec);
  lc_gen_sequence q;
  memset(&q, 0, sizeof q);
  q.seq_id = 7;
  q.prompt = x;
  q.prompt_len = prompt_len;
  q.max_new_tokens = n_new;
  q.tokens = x + prompt_len;
  q.records = rec;
  lc_gen_params gp;
  memset(&gp, 0, sizeof gp);
  lc_sampler_params_default(&gp.sampler);
  ok(lc_generate(s, &q, 1, &gp), r.ctx, "lc_generate");
  assert_int_equal(q.n_generated, n_new);

  float *logits = one_pass_logits(&r, one, x, n);
  scores got = loglik_ok(&r, s, x, prompt_len, n);
  if (got.all != 1) fail_msg("%s: all_greedy = %d on greedy tokens", what, got.all);
  double worst = 0.0;
  for (int32_t i = 0; i < n_new; i++) {
    const float *l = logits + (size_t)(prompt_len - 1 + i) * (size_t)r.vocab;
    if (XXH3_64bits(l, (size_t)r.vocab * sizeof(float)) != rec[i].logits_hash)
      fail_msg("%s: step %d: the one-pass logits differ from generation's", what, i);
    if (got.greedy[i] != 1)
      fail_msg("%s: token %d (%d) not flagged greedy", what, i, x[prompt_len + i]);
    const double ref = oracle_row(l, r.vocab, x[prompt_len + i]);
    if (memcmp(&got.lp[i], &ref, sizeof ref) != 0)
      fail_msg("%s: token %d: oracle %.17g got %.17g", what, i, ref, got.lp[i]);
    const double d = fabs(got.lp[i] - log((double)rec[i].top1_prob));
    if (d > worst) worst = d;
    if (d > 4e-6)
      fail_msg("%s: token %d: logprob %.17g, log(top1_prob) %.17g", what, i, got.lp[i],
               log((double)rec[i].top1_prob));
  }
  /* swap token k for one greedy would not pick */
  const int32_t k = n_new / 2;
  const float *lk = logits + (size_t)(prompt_len - 1 + k) * (size_t)r.vocab;
  x[prompt_len + k] = (lc_sample_greedy(lk, r.vocab) + 1) % r.vocab;
  scores swapped = loglik_ok(&r, s, x, prompt_len, n);
  assert_int_equal(swapped.greedy[k], 0);
  assert_int_equal(swapped.all, 0);
  for (int32_t i = 0; i < k; i++) assert_memory_equal(&swapped.lp[i], &got.lp[i], sizeof(double));
  printf("  %s: %d greedy tokens flagged greedy; |logprob - log(top1_prob)| <= %.3g\n", what,
         (int)n_new, worst);
  scores_free(&swapped);
  scores_free(&got);
  free(logits);
  free(rec);
  free(x);
  lc_session_free(one);
  lc_session_free(s);
  runner_close(&r);
}

/* Synthetic model: greedy generation's tokens are all flagged greedy. */
static void test_loglik_greedy_matches_generate_synth(void **state) {
  (void)state;
  greedy_case(g_synth, SYN_MAX_SEQ, 6, 50, 201, "synth");
}

/* stories260K: greedy generation's tokens are all flagged greedy. */
static void test_loglik_greedy_matches_generate_stories(void **state) {
  (void)state;
  if (!have_stories()) skip();
  greedy_case(g_stories, ST_MAX_LEN, 9, 120, 202, "stories260K");
}

/* ---- perplexity -------------------------------------------------------------------*/

/* The Hugging Face loop, written as its documentation does: windows
 * [b, min(b+W, n)) for b in range(0, n, S); the last trg_len = end -
 * prev_end labels of a window are its targets (the label at b has no
 * prediction); stop at the window that reaches n.  Each window from one
 * pass.  count[j] gets how often token j was scored. */
static lc_perplexity_result oracle_ppl(const runner *r, lc_session *one, const int32_t *x,
                                       int32_t n, int32_t W, int32_t S, int32_t *count) {
  lc_perplexity_result o;
  memset(&o, 0, sizeof o);
  memset(count, 0, (size_t)n * sizeof *count);
  int32_t prev_end = 0;
  for (int32_t b = 0; b < n; b += S) {
    const int32_t end = b + W < n ? b + W : n, trg_len = end - prev_end;
    float *logits = one_pass_logits(r, one, x + b, end - b);
    for (int32_t j = end - trg_len; j < end; j++) {
      if (j == b) continue; /* no logits predict a window's first token */
      o.nll_sum += -oracle_row(logits + (size_t)(j - 1 - b) * (size_t)r->vocab, r->vocab, x[j]);
      o.n_scored++;
      count[j]++;
    }
    free(logits);
    o.n_windows++;
    prev_end = end;
    if (end == n) break;
  }
  o.ppl = exp(o.nll_sum / (double)o.n_scored);
  return o;
}

/* Window and stride combinations (0: the defaults), n = 37 tokens, max_len
 * 96: each token but the first is scored exactly once, n_scored = n - 1,
 * and nll_sum, n_windows and ppl are bitwise the Hugging Face loop's on
 * one-pass logits; with max_tokens 3 (every window cut into passes) too. */
static void test_perplexity_each_token_once(void **state) {
  (void)state;
  runner r = runner_open(g_synth, LC_MODE_STRICT);
  lc_session *one = session(&r, SYN_MAX_SEQ, SYN_MAX_SEQ);
  lc_session *s[2] = {session(&r, SYN_MAX_SEQ, 3), session(&r, SYN_MAX_SEQ, 512)};
  lct_rng rng = lct_rng_new(301);
  const int32_t n = 37;
  int32_t *x = rand_ids(&rng, n, r.vocab);
  int32_t count[37];
  static const int32_t ws[][2] = {{2, 1},  {3, 1},  {3, 2},   {4, 2},  {5, 4},   {8, 3},
                                  {16, 5}, {16, 0}, {36, 35}, {37, 1}, {37, 18}, {60, 7},
                                  {0, 0},  {0, 40}, {10, 9},  {2, 0}};
  for (size_t k = 0; k < sizeof ws / sizeof ws[0]; k++) {
    const int32_t W = ws[k][0] ? ws[k][0] : SYN_MAX_SEQ, S = ws[k][1] ? ws[k][1] : W / 2;
    lc_perplexity_result ref = oracle_ppl(&r, one, x, n, W, S, count);
    for (int32_t j = 0; j < n; j++)
      if (count[j] != (j > 0))
        fail_msg("oracle W %d S %d: token %d scored %d times", W, S, j, count[j]);
    for (int c = 0; c < 2; c++) {
      lc_perplexity_result got;
      ok(lc_perplexity(s[c], x, n, ws[k][0], ws[k][1], &got), r.ctx, "lc_perplexity");
      if (got.n_scored != n - 1 || got.n_windows != ref.n_windows ||
          memcmp(&got.nll_sum, &ref.nll_sum, sizeof(double)) != 0 ||
          memcmp(&got.ppl, &ref.ppl, sizeof(double)) != 0)
        fail_msg(
            "window %d stride %d (max_tokens %s): scored %lld windows %lld nll %.17g ppl "
            "%.17g; oracle scored %lld windows %lld nll %.17g ppl %.17g",
            ws[k][0], ws[k][1], c ? "512" : "3", (long long)got.n_scored, (long long)got.n_windows,
            got.nll_sum, got.ppl, (long long)ref.n_scored, (long long)ref.n_windows, ref.nll_sum,
            ref.ppl);
    }
  }
  free(x);
  lc_session_free(s[0]);
  lc_session_free(s[1]);
  lc_session_free(one);
  runner_close(&r);
}

/* One window holding everything (window = n, or larger) gives exactly
 * -lc_loglik's sum_logprob of x[1..n) after x[0], in one window. */
static void full_window_case(const char *path, int32_t max_len, int32_t n, uint64_t seed) {
  runner r = runner_open(path, LC_MODE_STRICT);
  lc_session *s = session(&r, max_len, 7);
  lct_rng rng = lct_rng_new(seed);
  int32_t *x = rand_ids(&rng, n, r.vocab);
  double sum = 0.0;
  ok(lc_loglik(s, x, 1, x + 1, n - 1, NULL, NULL, &sum, NULL), r.ctx, "lc_loglik");
  const int32_t windows[2] = {n, max_len};
  for (int k = 0; k < 2; k++) {
    lc_perplexity_result p;
    ok(lc_perplexity(s, x, n, windows[k], 1, &p), r.ctx, "lc_perplexity");
    const double neg = -p.nll_sum;
    if (memcmp(&neg, &sum, sizeof sum) != 0 || p.n_windows != 1 || p.n_scored != n - 1)
      fail_msg("window %d: -nll_sum %.17g (%lld windows), loglik sum %.17g", windows[k], neg,
               (long long)p.n_windows, sum);
  }
  free(x);
  lc_session_free(s);
  runner_close(&r);
}

/* window = n (and window = max_len > n) is lc_loglik's sum, bit for bit:
 * the synthetic model, and stories260K when it is there. */
static void test_perplexity_full_window_is_loglik(void **state) {
  (void)state;
  full_window_case(g_synth, SYN_MAX_SEQ, 50, 401);
  if (have_stories()) full_window_case(g_stories, ST_MAX_LEN, 150, 402);
}

/* ---- errors ------------------------------------------------------------------------*/

/* Every bad argument gives its status and a message, writes no output, and
 * leaves the session usable. */
static void test_loglik_errors(void **state) {
  (void)state;
  runner r = runner_open(g_synth, LC_MODE_STRICT);
  lc_session *s = session(&r, 32, 4);
  int32_t x[40];
  for (int i = 0; i < 40; i++) x[i] = 1 + i % (r.vocab - 1);
  double lp[40], sum = 1234.5;
  int32_t gr[40], all = 77;
  memset(lp, 0x5A, sizeof lp);
  memset(gr, 0x5A, sizeof gr);
  unsigned char lp0[sizeof lp], gr0[sizeof gr];
  memcpy(lp0, lp, sizeof lp);
  memcpy(gr0, gr, sizeof gr);
  int32_t bad_lo[3] = {1, -1, 2}, bad_hi[3] = {1, 2, 0};
  bad_hi[2] = r.vocab;
  const struct {
    lc_session *s;
    const int32_t *c;
    int32_t nc;
    const int32_t *t;
    int32_t nt;
    lc_status want;
    const char *needle;
  } cases[] = {
      {NULL, x, 2, x, 2, LC_ERR_INVALID_ARGUMENT, "session is NULL"},
      {s, NULL, 2, x, 2, LC_ERR_INVALID_ARGUMENT, "context is NULL"},
      {s, x, 2, NULL, 2, LC_ERR_INVALID_ARGUMENT, "cont is NULL"},
      {s, x, 0, x, 2, LC_ERR_INVALID_ARGUMENT, "n_context = 0"},
      {s, x, 2, x, 0, LC_ERR_INVALID_ARGUMENT, "n_cont = 0"},
      {s, x, -3, x, 2, LC_ERR_INVALID_ARGUMENT, "n_context = -3"},
      {s, x, 20, x, 13, LC_ERR_SHAPE, "max_len"},
      {s, bad_lo, 3, x, 2, LC_ERR_OUT_OF_RANGE, "context[1] = -1"},
      {s, x, 2, bad_hi, 3, LC_ERR_OUT_OF_RANGE, "cont[2] = "},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    lc_status st =
        lc_loglik(cases[k].s, cases[k].c, cases[k].nc, cases[k].t, cases[k].nt, lp, gr, &sum, &all);
    if (st != cases[k].want || !strstr(lc_last_error(NULL), cases[k].needle))
      fail_msg("case %zu: %s (%s), want %s with '%s'", k, lc_status_name(st), lc_last_error(NULL),
               lc_status_name(cases[k].want), cases[k].needle);
    assert_memory_equal(lp, lp0, sizeof lp);
    assert_memory_equal(gr, gr0, sizeof gr);
    assert_true(sum == 1234.5 && all == 77);
  }
  /* the longest that fits, and NULL outputs */
  ok(lc_loglik(s, x, 20, x + 20, 12, NULL, NULL, NULL, NULL), r.ctx, "lc_loglik, 32 positions");

  lc_perplexity_result p, p0;
  memset(&p, 0x5A, sizeof p);
  p0 = p;
  const struct {
    lc_session *s;
    const int32_t *t;
    int64_t n;
    int32_t w, st;
    lc_status want;
    const char *needle;
  } pcases[] = {
      {NULL, x, 10, 4, 2, LC_ERR_INVALID_ARGUMENT, "session is NULL"},
      {s, NULL, 10, 4, 2, LC_ERR_INVALID_ARGUMENT, "tokens is NULL"},
      {s, x, 1, 4, 2, LC_ERR_INVALID_ARGUMENT, "n = 1"},
      {s, x, 10, 1, 0, LC_ERR_INVALID_ARGUMENT, "window = 1"},
      {s, x, 10, -2, 1, LC_ERR_INVALID_ARGUMENT, "window = -2"},
      {s, x, 10, 4, -1, LC_ERR_INVALID_ARGUMENT, "stride = -1"},
      {s, x, 10, 4, 4, LC_ERR_INVALID_ARGUMENT, "stride < window"},
      {s, x, 10, 4, 9, LC_ERR_INVALID_ARGUMENT, "stride < window"},
      {s, x, 10, 33, 2, LC_ERR_SHAPE, "max_len"},
      {s, bad_hi, 3, 2, 1, LC_ERR_OUT_OF_RANGE, "tokens[2] = "},
  };
  for (size_t k = 0; k < sizeof pcases / sizeof pcases[0]; k++) {
    lc_status st =
        lc_perplexity(pcases[k].s, pcases[k].t, pcases[k].n, pcases[k].w, pcases[k].st, &p);
    if (st != pcases[k].want || !strstr(lc_last_error(NULL), pcases[k].needle))
      fail_msg("perplexity case %zu: %s (%s), want %s with '%s'", k, lc_status_name(st),
               lc_last_error(NULL), lc_status_name(pcases[k].want), pcases[k].needle);
    assert_memory_equal(&p, &p0, sizeof p);
  }
  assert_int_equal(lc_perplexity(s, x, 10, 4, 2, NULL), LC_ERR_INVALID_ARGUMENT);

  /* still usable: the same bits as a fresh session */
  lc_session *fresh = session(&r, 32, 4);
  scores a = loglik_ok(&r, s, x, 5, 30), b = loglik_ok(&r, fresh, x, 5, 30);
  assert_same_scores(&a, &b, "after the errors");
  scores_free(&a);
  scores_free(&b);
  lc_session_free(fresh);
  lc_session_free(s);
  runner_close(&r);
}

static int setup(void **state) {
  (void)state;
  lct_tmpdir_make(g_synth, sizeof g_synth, "loglik");
  lct_synth_tiny(g_synth, 17, LC_DTYPE_BF16, 1, SYN_MAX_SEQ);
  snprintf(g_stories, sizeof g_stories, "%s/stories260K.bin", lct_models_dir());
  FILE *f = fopen(g_stories, "rb");
  if (f)
    fclose(f);
  else
    g_stories[0] = '\0';
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return lct_tmpdir_remove(g_synth) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loglik_row_rule),
      cmocka_unit_test(test_loglik_matches_oracle_synth),
      cmocka_unit_test(test_loglik_fast_bf16_chunk_invariant),
      cmocka_unit_test(test_loglik_matches_oracle_stories),
      cmocka_unit_test(test_loglik_reference_close),
      cmocka_unit_test(test_loglik_greedy_matches_generate_synth),
      cmocka_unit_test(test_loglik_greedy_matches_generate_stories),
      cmocka_unit_test(test_perplexity_each_token_once),
      cmocka_unit_test(test_perplexity_full_window_is_loglik),
      cmocka_unit_test(test_loglik_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
