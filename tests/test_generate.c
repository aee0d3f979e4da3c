/*
 * tests/test_generate.c — lc_generate on stories260K.bin, CPU strict.
 *
 * A target sequence's tokens and records must be bitwise the same alone and
 * inside batches of 2..8 at every position, next to random neighbour
 * prompts that join and leave at other steps; with staggered join steps;
 * with prefill chunks of 1, 5 and the whole prompt; with steps cut into
 * several passes by a small max_tokens; greedy and sampled (T 0.8, top-k 40,
 * top-p 0.95).  Then: greedy equals a hand-written loop over
 * lc_session_forward + lc_sample, stop tokens, slot reuse, max_new_tokens
 * 0, and every error leaving the outputs untouched.  Without the model
 * file every test skips with a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layercast_model.h"
#include "test_util.h"

#define N_SLOTS 8
#define MAX_LEN 256
#define MAX_SEQS 24

static lc_context *g_ctx;
static lc_model *g_model;
static lc_session *g_sess;
static int32_t g_vocab;

static void ok(lc_status st, const char *what) {
  if (st != LC_OK) fail_msg("%s: %s: %s", what, lc_status_name(st), lc_last_error(g_ctx));
}

static lc_gen_params gen_params(int sampled, int32_t chunk) {
  lc_gen_params p;
  memset(&p, 0, sizeof p);
  lc_sampler_params_default(&p.sampler);
  if (sampled) {
    p.sampler.temperature = 0.8f;
    p.sampler.top_k = 40;
    p.sampler.top_p = 0.95f;
    p.sampler.seed = 20240601;
  }
  p.prefill_chunk = chunk;
  return p;
}

/* A sequence with its own output arrays (freed by seq_free). */
static lc_gen_sequence seq_new(uint64_t id, const int32_t *prompt, int32_t len, int32_t max_new,
                               int32_t join) {
  lc_gen_sequence q;
  memset(&q, 0, sizeof q);
  q.seq_id = id;
  q.prompt = prompt;
  q.prompt_len = len;
  q.max_new_tokens = max_new;
  q.join_step = join;
  q.tokens = lct_malloc((size_t)(max_new > 0 ? max_new : 1) * sizeof(int32_t));
  q.records = lct_malloc((size_t)(max_new > 0 ? max_new : 1) * sizeof(lc_token_record));
  memset(q.tokens, 0xEE, (size_t)(max_new > 0 ? max_new : 1) * sizeof(int32_t));
  memset(q.records, 0xEE, (size_t)(max_new > 0 ? max_new : 1) * sizeof(lc_token_record));
  q.n_generated = -7; /* sentinel: untouched until a successful call */
  return q;
}

static void seq_free(lc_gen_sequence *q) {
  free(q->tokens);
  free(q->records);
}

/* A random prompt: BOS (1) then random ids. */
static int32_t *rand_prompt(lct_rng *r, int32_t len) {
  int32_t *p = lct_malloc((size_t)len * sizeof *p);
  p[0] = 1;
  for (int32_t i = 1; i < len; i++) p[i] = (int32_t)lct_range(r, 2, g_vocab - 1);
  return p;
}

static void assert_same_output(const lc_gen_sequence *got, const lc_gen_sequence *ref,
                               const char *what) {
  if (got->n_generated != ref->n_generated)
    fail_msg("%s: %d tokens, alone %d", what, got->n_generated, ref->n_generated);
  for (int32_t i = 0; i < ref->n_generated; i++) {
    if (got->tokens[i] != ref->tokens[i])
      fail_msg("%s: token %d: %d, alone %d", what, i, got->tokens[i], ref->tokens[i]);
    if (memcmp(&got->records[i], &ref->records[i], sizeof(lc_token_record)) != 0)
      fail_msg("%s: record %d (token %d, logit %.9g vs alone %.9g) differs in bits", what, i,
               got->tokens[i], (double)got->records[i].logit, (double)ref->records[i].logit);
  }
}

static int have_model(void) {
  if (!g_model) {
    printf("  stories260K.bin not found in %s (set LC_MODELS_DIR): skipped\n", lct_models_dir());
    return 0;
  }
  return 1;
}

/* The target alone: reference output. */
static lc_gen_sequence run_alone(const int32_t *prompt, int32_t len, int32_t max_new,
                                 const lc_gen_params *p) {
  lc_gen_sequence t = seq_new(4242, prompt, len, max_new, 0);
  ok(lc_generate(g_sess, &t, 1, p), "lc_generate alone");
  return t;
}

/* The target at position `at` of a batch of b, neighbours with random
 * prompts (1..40 tokens), lengths (1..max_new+10) and join steps
 * (0..max_join); the target joins at target_join.  Compares with ref. */
static void run_in_batch(lct_rng *r, const int32_t *prompt, int32_t len, int32_t max_new,
                         const lc_gen_params *p, int b, int at, int32_t target_join,
                         int32_t max_join, const lc_gen_sequence *ref, const char *what) {
  lc_gen_sequence s[N_SLOTS];
  int32_t *prompts[N_SLOTS] = {0};
  for (int i = 0; i < b; i++) {
    if (i == at) {
      s[i] = seq_new(4242, prompt, len, max_new, target_join);
      continue;
    }
    const int32_t nl = (int32_t)lct_range(r, 1, 40);
    prompts[i] = rand_prompt(r, nl);
    s[i] = seq_new(1000 + (uint64_t)lct_range(r, 0, 1 << 20), prompts[i], nl,
                   (int32_t)lct_range(r, 1, max_new + 10), (int32_t)lct_range(r, 0, max_join));
  }
  ok(lc_generate(g_sess, s, b, p), what);
  char msg[160];
  snprintf(msg, sizeof msg, "%s: batch %d, target at %d, joins at %d", what, b, at, target_join);
  assert_same_output(&s[at], ref, msg);
  for (int i = 0; i < b; i++) {
    if (i != at) assert_true(s[i].n_generated == s[i].max_new_tokens);
    seq_free(&s[i]);
    free(prompts[i]);
  }
}

/* Greedy: the target's tokens and records alone equal those inside batches
 * of 2..8 at every position, next to random neighbours. */
static void test_generate_batch_invariant_greedy(void **state) {
  (void)state;
  if (!have_model()) skip();
  lct_rng r = lct_rng_new(1);
  const int32_t len = 9, max_new = 48;
  int32_t *prompt = rand_prompt(&r, len);
  lc_gen_params p = gen_params(0, 0);
  lc_gen_sequence ref = run_alone(prompt, len, max_new, &p);
  assert_int_equal(ref.n_generated, max_new);
  const double t0 = lct_now_s();
  for (int b = 2; b <= N_SLOTS; b++)
    for (int at = 0; at < b; at++)
      run_in_batch(&r, prompt, len, max_new, &p, b, at, 0, 0, &ref, "greedy");
  printf("  greedy: 35 batch runs in %.2f s\n", lct_now_s() - t0);
  seq_free(&ref);
  free(prompt);
}

/* Sampled (T 0.8, top-k 40, top-p 0.95): the same invariance, the RNG keyed
 * by (seed, seq_id, pos) only. */
static void test_generate_batch_invariant_sampled(void **state) {
  (void)state;
  if (!have_model()) skip();
  lct_rng r = lct_rng_new(2);
  const int32_t len = 14, max_new = 48;
  int32_t *prompt = rand_prompt(&r, len);
  lc_gen_params p = gen_params(1, 0);
  lc_gen_sequence ref = run_alone(prompt, len, max_new, &p);
  for (int b = 2; b <= N_SLOTS; b++)
    for (int at = 0; at < b; at++)
      run_in_batch(&r, prompt, len, max_new, &p, b, at, 0, 0, &ref, "sampled");
  /* greedy and sampled differ (the sampler is not greedy in disguise) */
  lc_gen_params pg = gen_params(0, 0);
  lc_gen_sequence gr = run_alone(prompt, len, max_new, &pg);
  assert_true(memcmp(gr.tokens, ref.tokens, (size_t)max_new * sizeof(int32_t)) != 0);
  seq_free(&gr);
  seq_free(&ref);
  free(prompt);
}

/* Staggered joins: the target joining at steps 0, 3 and 17 among
 * neighbours joining at random steps 0..30 gives the alone output. */
static void test_generate_staggered_joins(void **state) {
  (void)state;
  if (!have_model()) skip();
  lct_rng r = lct_rng_new(3);
  const int32_t len = 11, max_new = 40;
  int32_t *prompt = rand_prompt(&r, len);
  for (int sampled = 0; sampled < 2; sampled++) {
    lc_gen_params p = gen_params(sampled, 0);
    lc_gen_sequence ref = run_alone(prompt, len, max_new, &p);
    const int32_t joins[3] = {0, 3, 17};
    for (int j = 0; j < 3; j++)
      for (int b = 3; b <= N_SLOTS; b += 5)
        for (int at = 0; at < b; at += 2)
          run_in_batch(&r, prompt, len, max_new, &p, b, at, joins[j], 30, &ref, "staggered");
    seq_free(&ref);
  }
  free(prompt);
}

/* Chunked prefill: chunks of 1, 5 and the whole prompt (0), alone and in
 * batches, all give the whole-prompt output. */
static void test_generate_prefill_chunks(void **state) {
  (void)state;
  if (!have_model()) skip();
  lct_rng r = lct_rng_new(4);
  const int32_t len = 23, max_new = 32;
  int32_t *prompt = rand_prompt(&r, len);
  for (int sampled = 0; sampled < 2; sampled++) {
    lc_gen_params p0 = gen_params(sampled, 0);
    lc_gen_sequence ref = run_alone(prompt, len, max_new, &p0);
    const int32_t chunks[3] = {1, 5, 0};
    for (int c = 0; c < 3; c++) {
      lc_gen_params p = gen_params(sampled, chunks[c]);
      lc_gen_sequence alone = run_alone(prompt, len, max_new, &p);
      assert_same_output(&alone, &ref, "chunked, alone");
      seq_free(&alone);
      run_in_batch(&r, prompt, len, max_new, &p, 5, 2, 0, 6, &ref, "chunked");
      run_in_batch(&r, prompt, len, max_new, &p, 8, 7, 4, 10, &ref, "chunked");
    }
    seq_free(&ref);
  }
  free(prompt);
}

/* A session with max_tokens 7: steps holding more tokens are cut into
 * passes (prompts split across them); outputs are those of one pass. */
static void test_generate_split_passes(void **state) {
  (void)state;
  if (!have_model()) skip();
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.n_slots = N_SLOTS;
  sp.max_len = MAX_LEN;
  sp.max_tokens = 7;
  lc_session *small = NULL;
  ok(lc_session_create(g_model, &sp, &small), "lc_session_create(max_tokens 7)");
  lct_rng r = lct_rng_new(5);
  int32_t *prompts[6];
  lc_gen_sequence a[6], b[6];
  for (int i = 0; i < 6; i++) {
    const int32_t nl = (int32_t)lct_range(&r, 3, 30);
    prompts[i] = rand_prompt(&r, nl);
    a[i] = seq_new(50 + (uint64_t)i, prompts[i], nl, 20, (int32_t)lct_range(&r, 0, 5));
    b[i] = seq_new(50 + (uint64_t)i, prompts[i], nl, 20, a[i].join_step);
  }
  for (int sampled = 0; sampled < 2; sampled++) {
    lc_gen_params p = gen_params(sampled, 0);
    ok(lc_generate(g_sess, a, 6, &p), "lc_generate (max_tokens 512)");
    ok(lc_generate(small, b, 6, &p), "lc_generate (max_tokens 7)");
    for (int i = 0; i < 6; i++) assert_same_output(&b[i], &a[i], "split passes");
  }
  for (int i = 0; i < 6; i++) {
    seq_free(&a[i]);
    seq_free(&b[i]);
    free(prompts[i]);
  }
  lc_session_free(small);
}

/* Greedy generation equals a loop written by hand over lc_session_forward
 * and lc_sample; every record's token is its top_ids[0] and its logit the
 * largest; records carry positions prompt_len, prompt_len+1, ...; with
 * records NULL the tokens are the same. */
static void test_generate_matches_manual_loop(void **state) {
  (void)state;
  if (!have_model()) skip();
  lct_rng r = lct_rng_new(6);
  const int32_t len = 7, max_new = 30;
  int32_t *prompt = rand_prompt(&r, len);
  lc_gen_params p = gen_params(0, 0);
  lc_gen_sequence g = run_alone(prompt, len, max_new, &p);
  float *logits = lct_malloc((size_t)g_vocab * sizeof(float));
  lc_batch_entry e = {0, 0, len, prompt};
  int32_t last = 0;
  for (int32_t i = 0; i < max_new; i++) {
    ok(lc_session_forward(g_sess, &e, 1, 0, logits), "lc_session_forward");
    lc_token_record rec;
    ok(lc_sample(logits, g_vocab, &p.sampler, 4242, len + i, &rec), "lc_sample");
    assert_int_equal(rec.token, g.tokens[i]);
    assert_memory_equal(&rec, &g.records[i], sizeof rec);
    assert_int_equal(g.records[i].pos, len + i);
    assert_int_equal(g.records[i].top_ids[0], g.tokens[i]);
    last = rec.token;
    e.pos = len + i;
    e.n_tokens = 1;
    e.tokens = &last;
  }
  /* records NULL: the same tokens */
  lc_gen_sequence n = seq_new(4242, prompt, len, max_new, 0);
  free(n.records);
  n.records = NULL;
  ok(lc_generate(g_sess, &n, 1, &p), "lc_generate, records NULL");
  assert_int_equal(n.n_generated, max_new);
  assert_memory_equal(n.tokens, g.tokens, (size_t)max_new * sizeof(int32_t));
  seq_free(&n);
  free(logits);
  seq_free(&g);
  free(prompt);
}

/* Stop tokens end a sequence after they are emitted; the freed slot is
 * reused by a later sequence; the same run twice is identical; a sequence
 * with max_new_tokens 0 generates nothing and takes no slot. */
static void test_generate_stop_and_reuse(void **state) {
  (void)state;
  if (!have_model()) skip();
  lct_rng r = lct_rng_new(7);
  const int32_t len = 6, max_new = 40;
  int32_t *prompt = rand_prompt(&r, len);
  lc_gen_params p = gen_params(1, 0);
  lc_gen_sequence ref = run_alone(prompt, len, max_new, &p);
  /* a token whose first occurrence is at index k >= 3 */
  int32_t k = -1;
  for (int32_t i = 3; i < max_new && k < 0; i++) {
    int first = 1;
    for (int32_t j = 0; j < i; j++) first &= ref.tokens[j] != ref.tokens[i];
    if (first) k = i;
  }
  assert_true(k >= 0);
  lc_gen_sequence s = seq_new(4242, prompt, len, max_new, 0);
  s.stop = lc_stop_set_one(ref.tokens[k]);
  ok(lc_generate(g_sess, &s, 1, &p), "lc_generate with stop");
  assert_int_equal(s.n_generated, k + 1);
  assert_memory_equal(s.tokens, ref.tokens, (size_t)(k + 1) * sizeof(int32_t));
  assert_memory_equal(s.records, ref.records, (size_t)(k + 1) * sizeof(lc_token_record));
  seq_free(&s);
  /* a set of stop ids: ids the output never holds, then ref.tokens[k] last;
   * it ends at k as with the one id */
  s = seq_new(4242, prompt, len, max_new, 0);
  for (int32_t id = 0; id < g_vocab && s.stop.n < LC_MAX_STOP_TOKENS - 1; id++) {
    int used = 0;
    for (int32_t j = 0; j < max_new; j++) used |= ref.tokens[j] == id;
    if (!used) s.stop.ids[s.stop.n++] = id;
  }
  assert_int_equal(s.stop.n, LC_MAX_STOP_TOKENS - 1);
  s.stop.ids[s.stop.n++] = ref.tokens[k];
  ok(lc_generate(g_sess, &s, 1, &p), "lc_generate with a stop set");
  assert_int_equal(s.n_generated, k + 1);
  assert_memory_equal(s.tokens, ref.tokens, (size_t)(k + 1) * sizeof(int32_t));
  seq_free(&s);
  /* 2 slots, 5 sequences: each joins when an earlier one has finished; the
   * results equal the alone ones, twice */
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.n_slots = 2;
  sp.max_len = MAX_LEN;
  lc_session *two = NULL;
  ok(lc_session_create(g_model, &sp, &two), "lc_session_create(2 slots)");
  for (int rep = 0; rep < 2; rep++) {
    lc_gen_sequence q[5];
    /* the dry schedule counts a sequence to its max_new_tokens, so a slot
     * freed early by a stop cannot be planned on: here both agree */
    q[0] = seq_new(4242, prompt, len, k + 1, 0);
    q[0].stop = lc_stop_set_one(ref.tokens[k]);        /* active steps 0..k */
    q[1] = seq_new(7, prompt, len, 0, 0);              /* never joins */
    q[2] = seq_new(4242, prompt, len, 5, 0);           /* steps 0..4 */
    q[3] = seq_new(4242, prompt, len, max_new, 5);     /* takes q[2]'s slot */
    q[4] = seq_new(4242, prompt, len, max_new, k + 1); /* takes q[0]'s slot */
    ok(lc_generate(two, q, 5, &p), "lc_generate, slot reuse");
    assert_int_equal(q[0].n_generated, k + 1);
    assert_int_equal(q[1].n_generated, 0);
    assert_int_equal(q[2].n_generated, 5);
    assert_memory_equal(q[2].tokens, ref.tokens, 5 * sizeof(int32_t));
    assert_same_output(&q[3], &ref, "joined at step 5 in a reused slot");
    assert_same_output(&q[4], &ref, "joined at the stop's next step");
    for (int i = 0; i < 5; i++) seq_free(&q[i]);
  }
  /* without the stop, q[0] would still hold its slot at step k+1: the dry
   * schedule counts every sequence to max_new_tokens, so this is refused */
  lc_gen_sequence q[3];
  q[0] = seq_new(4242, prompt, len, max_new, 0);
  q[0].stop = lc_stop_set_one(ref.tokens[k]);
  q[1] = seq_new(4242, prompt, len, 5, 0);
  q[2] = seq_new(4242, prompt, len, max_new, k + 1);
  assert_int_equal(lc_generate(two, q, 3, &p), LC_ERR_SHAPE);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(q[i].n_generated, -7);
    seq_free(&q[i]);
  }
  lc_session_free(two);
  seq_free(&ref);
  free(prompt);
}

/* Errors: LC_ERR_SHAPE for too many active sequences and for a sequence
 * longer than max_len; LC_ERR_INVALID_ARGUMENT / OUT_OF_RANGE for bad
 * parameters and tokens; in every case no output is written. */
static void test_generate_errors(void **state) {
  (void)state;
  if (!have_model()) skip();
  lct_rng r = lct_rng_new(8);
  int32_t *prompt = rand_prompt(&r, 5);
  lc_gen_params p = gen_params(0, 0);
  lc_gen_sequence q[N_SLOTS + 1];
  for (int i = 0; i <= N_SLOTS; i++) q[i] = seq_new((uint64_t)i, prompt, 5, 4, 0);
  /* N_SLOTS + 1 at once */
  assert_int_equal(lc_generate(g_sess, q, N_SLOTS + 1, &p), LC_ERR_SHAPE);
  printf("  %s\n", lc_last_error(g_ctx));
  /* the last one joining after the first finishes (4 tokens: steps 0..3) fits */
  q[N_SLOTS].join_step = 4;
  ok(lc_generate(g_sess, q, N_SLOTS + 1, &p), "a late joiner reusing a slot");
  for (int i = 0; i <= N_SLOTS; i++) {
    assert_int_equal(q[i].n_generated, 4);
    q[i].n_generated = -7;
    memset(q[i].tokens, 0xEE, 4 * sizeof(int32_t));
  }
  lc_gen_sequence keep[2];
  memcpy(keep, q, sizeof keep);
  /* longer than max_len */
  q[1].max_new_tokens = MAX_LEN - 5 + 1;
  assert_int_equal(lc_generate(g_sess, q, 2, &p), LC_ERR_SHAPE);
  printf("  %s\n", lc_last_error(g_ctx));
  q[1].max_new_tokens = MAX_LEN - 5; /* exactly fits: checked, not run */
  q[1].tokens = NULL;
  assert_int_equal(lc_generate(g_sess, q, 2, &p), LC_ERR_INVALID_ARGUMENT);
  memcpy(q, keep, sizeof keep);
  /* bad parameters */
  lc_gen_params bad = p;
  bad.prefill_chunk = -1;
  assert_int_equal(lc_generate(g_sess, q, 2, &bad), LC_ERR_INVALID_ARGUMENT);
  bad = p;
  bad.sampler.temperature = -1.0f;
  assert_int_equal(lc_generate(g_sess, q, 2, &bad), LC_ERR_INVALID_ARGUMENT);
  bad = p;
  bad.sampler.top_p = 0.0f;
  assert_int_equal(lc_generate(g_sess, q, 2, &bad), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_generate(g_sess, q, 2, NULL), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_generate(NULL, q, 2, &p), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_generate(g_sess, NULL, 2, &p), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_generate(g_sess, q, -1, &p), LC_ERR_INVALID_ARGUMENT);
  ok(lc_generate(g_sess, q, 0, &p), "no sequences");
  /* bad sequences: each after a good one, which must stay unwritten */
  int32_t bad_prompt[3] = {1, g_vocab, 2};
  for (int c = 0; c < 7; c++) {
    memcpy(q, keep, sizeof keep);
    lc_status want = LC_ERR_INVALID_ARGUMENT;
    switch (c) {
      case 0:
        q[1].prompt = NULL;
        break;
      case 1:
        q[1].prompt_len = 0;
        break;
      case 2:
        q[1].max_new_tokens = -1;
        break;
      case 3:
        q[1].join_step = -2;
        break;
      case 4:
        q[1].stop = lc_stop_set_one(g_vocab);
        break;
      case 5:
        q[1].stop.n = LC_MAX_STOP_TOKENS + 1;
        break;
      case 6:
        q[1].prompt = bad_prompt;
        q[1].prompt_len = 3;
        want = LC_ERR_OUT_OF_RANGE;
        break;
    }
    assert_int_equal(lc_generate(g_sess, q, 2, &p), want);
  }
  memcpy(q, keep, sizeof keep);
  for (int i = 0; i <= N_SLOTS; i++) {
    assert_int_equal(q[i].n_generated, -7);
    for (int j = 0; j < 4; j++) assert_int_equal(q[i].tokens[j], (int32_t)0xEEEEEEEE);
    seq_free(&q[i]);
  }
  free(prompt);
}

static int setup(void **state) {
  (void)state;
  char path[4096];
  snprintf(path, sizeof path, "%s/stories260K.bin", lct_models_dir());
  FILE *f = fopen(path, "rb");
  if (!f) return 0; /* tests skip */
  fclose(f);
  g_ctx = lct_cpu(LC_MODE_STRICT);
  lc_status st = lc_model_load(g_ctx, path, NULL, &g_model);
  if (st != LC_OK) {
    printf("lc_model_load(%s): %s: %s\n", path, lc_status_name(st), lc_last_error(g_ctx));
    return -1;
  }
  lc_model_info info;
  if (lc_model_get_info(g_model, &info) != LC_OK) return -1;
  g_vocab = info.config.vocab_size;
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.n_slots = N_SLOTS;
  sp.max_len = MAX_LEN;
  st = lc_session_create(g_model, &sp, &g_sess);
  if (st != LC_OK) {
    printf("lc_session_create: %s: %s\n", lc_status_name(st), lc_last_error(g_ctx));
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  lc_session_free(g_sess);
  lc_model_free(g_model);
  lc_context_free(g_ctx);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generate_batch_invariant_greedy),
      cmocka_unit_test(test_generate_batch_invariant_sampled),
      cmocka_unit_test(test_generate_staggered_joins),
      cmocka_unit_test(test_generate_prefill_chunks),
      cmocka_unit_test(test_generate_split_passes),
      cmocka_unit_test(test_generate_matches_manual_loop),
      cmocka_unit_test(test_generate_stop_and_reuse),
      cmocka_unit_test(test_generate_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
