/*
 * tests/test_concurrency.c — distinct contexts on distinct threads
 * (include/layercast.h, "Threads"): each thread loads the same checkpoint
 * into a context of its own and generates; its tokens and every step's
 * logits hash must be bitwise those of the same work done alone, whatever
 * the other threads do at the same time.  CPU strict, fast and bf16 always;
 * CUDA strict, fast and bf16 too when a GPU is present (several contexts on
 * one device).  One tokenizer shared by several threads encodes and decodes
 * as it does alone (a tokenizer is immutable once loaded).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layercast_model.h"
#include "layercast_text.h"
#include "test_util.h"

enum { N_PROMPTS = 3, MAX_NEW = 12, N_ROUNDS = 2 };

static char g_root[256], g_model[300];

/* What one worker does and what it got. */
typedef struct job {
  lc_backend backend;
  lc_mode mode;
  int32_t batch; /* the prompts generate together, as one batch of this many */
  int32_t tokens[N_PROMPTS][MAX_NEW];
  uint64_t hashes[N_PROMPTS][MAX_NEW];
  int32_t n[N_PROMPTS];
  lc_status st;
  char why[256];
} job;

static const int32_t prompts[N_PROMPTS][6] = {
    {1, 5, 9, 12, 3, 7}, {2, 4, 6, 8, 10, 12}, {1, 30, 20, 10, 0, 63}};

static void *run_job(void *arg) {
  job *j = arg;
  lc_context_params cp;
  lc_context_params_default(&cp);
  cp.backend = j->backend;
  cp.mode = j->mode;
  lc_context *ctx = NULL;
  lc_model *m = NULL;
  lc_session *s = NULL;
  lc_status st = lc_context_create(&cp, &ctx);
  if (st == LC_OK) st = lc_model_load(ctx, g_model, NULL, &m);
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.n_slots = N_PROMPTS;
  sp.max_len = 64;
  if (st == LC_OK) st = lc_session_create(m, &sp, &s);
  lc_gen_sequence q[N_PROMPTS];
  lc_token_record rec[N_PROMPTS][MAX_NEW];
  memset(q, 0, sizeof q);
  for (int p = 0; p < N_PROMPTS; p++) {
    q[p].seq_id = (uint64_t)p;
    q[p].prompt = prompts[p];
    q[p].prompt_len = 6;
    q[p].max_new_tokens = MAX_NEW;
    q[p].join_step = 0;
    q[p].tokens = j->tokens[p];
    q[p].records = rec[p];
  }
  lc_gen_params gp;
  memset(&gp, 0, sizeof gp);
  lc_sampler_params_default(&gp.sampler);
  /* batch 1: each sequence alone, in turn; batch 3: all at once */
  for (int p = 0; p < N_PROMPTS && st == LC_OK; p += j->batch)
    st = lc_generate(s, q + p, j->batch, &gp);
  if (st == LC_OK)
    for (int p = 0; p < N_PROMPTS; p++) {
      j->n[p] = q[p].n_generated;
      for (int i = 0; i < q[p].n_generated; i++) j->hashes[p][i] = rec[p][i].logits_hash;
    }
  j->st = st;
  if (st != LC_OK) snprintf(j->why, sizeof j->why, "%s", lc_last_error(ctx));
  lc_session_free(s);
  lc_model_free(m);
  lc_context_free(ctx);
  return NULL;
}

static int group_setup(void **state) {
  (void)state;
  lct_tmpdir_make(g_root, sizeof g_root, "concurrency");
  snprintf(g_model, sizeof g_model, "%s/m", g_root);
  lct_synth_tiny(g_model, 21, LC_DTYPE_BF16, 1, 64);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  return lct_tmpdir_remove(g_root);
}

static void same(const job *a, const job *b, const char *what) {
  for (int p = 0; p < N_PROMPTS; p++) {
    if (a->n[p] != b->n[p] || memcmp(a->tokens[p], b->tokens[p], sizeof a->tokens[p]) != 0 ||
        memcmp(a->hashes[p], b->hashes[p], sizeof a->hashes[p]) != 0)
      fail_msg("%s: %s/%s prompt %d differs from the same work done alone", what,
               lc_backend_name(a->backend), lc_mode_name(a->mode), p);
  }
}

/* Every (backend, mode) alone, then all of them at once, N_ROUNDS times,
 * with batch 1 and batch 3 workers side by side (in these modes the batch
 * does not change a sequence's bits either). */
static void test_concurrency_contexts_on_threads(void **state) {
  (void)state;
  const lc_mode modes[] = {LC_MODE_STRICT, LC_MODE_FAST, LC_MODE_BF16};
  const int gpu = lct_have_cuda();
  const int n_kinds = gpu ? 6 : 3;
  job alone[6];
  memset(alone, 0, sizeof alone);
  for (int k = 0; k < n_kinds; k++) {
    alone[k].backend = k < 3 ? LC_BACKEND_CPU : LC_BACKEND_CUDA;
    alone[k].mode = modes[k % 3];
    alone[k].batch = 1;
    run_job(&alone[k]);
    if (alone[k].st != LC_OK) fail_msg("alone %d: %s", k, alone[k].why);
  }
  /* strict, fast and bf16 agree across backends (the same bits promised) */
  for (int k = 3; k < n_kinds; k++) same(&alone[k], &alone[k - 3], "CUDA vs CPU");
  enum { PER_KIND = 2 };
  job *jobs = lct_malloc(sizeof(job) * 6 * PER_KIND);
  pthread_t th[6 * PER_KIND];
  for (int round = 0; round < N_ROUNDS; round++) {
    memset(jobs, 0, sizeof(job) * 6 * PER_KIND);
    const int n = n_kinds * PER_KIND;
    for (int t = 0; t < n; t++) {
      jobs[t] = alone[t % n_kinds];
      jobs[t].batch = t < n_kinds ? 1 : N_PROMPTS;
      memset(jobs[t].tokens, 0, sizeof jobs[t].tokens);
      memset(jobs[t].hashes, 0, sizeof jobs[t].hashes);
      assert_int_equal(pthread_create(&th[t], NULL, run_job, &jobs[t]), 0);
    }
    for (int t = 0; t < n; t++) assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < n; t++) {
      if (jobs[t].st != LC_OK) fail_msg("thread %d: %s", t, jobs[t].why);
      same(&jobs[t], &alone[t % n_kinds], "concurrent");
    }
  }
  printf(
      "%d contexts at once (%s), %d rounds: every thread's tokens and logits hashes equal "
      "the same work alone\n",
      n_kinds * PER_KIND, gpu ? "CPU and CUDA" : "CPU; no GPU here", N_ROUNDS);
  free(jobs);
}

/* One tokenizer shared by threads: lc_tokenizer_write_bytes's byte-level
 * tokenizer; each thread encodes and decodes its strings many times. */
typedef struct tok_job {
  const lc_tokenizer *t;
  int seed;
  int bad;
} tok_job;

static void *run_tok(void *arg) {
  tok_job *j = arg;
  lct_rng r = lct_rng_new((uint64_t)j->seed);
  char text[200];
  for (int it = 0; it < 300 && !j->bad; it++) {
    const int len = (int)lct_range(&r, 0, 60);
    for (int i = 0; i < len; i++) text[i] = (char)lct_range(&r, 0x20, 0x7e);
    text[len] = '\0';
    if (it % 7 == 0 && len < 150) strcat(text, "<|im_end|> x"); /* an added token in the text */
    int32_t *ids = NULL, n = 0;
    char *back = NULL;
    if (lc_tokenizer_encode(j->t, text, strlen(text), 0, &ids, &n) != LC_OK ||
        lc_tokenizer_decode(j->t, ids, n, 0, &back, NULL) != LC_OK || strcmp(back, text) != 0)
      j->bad = 1;
    free(ids);
    free(back);
  }
  return NULL;
}

static void test_concurrency_shared_tokenizer(void **state) {
  (void)state;
  lc_tokenizer *t = NULL;
  assert_int_equal(lc_tokenizer_write_bytes(g_model), LC_OK); /* beside the model */
  assert_int_equal(lc_tokenizer_load(g_model, &t), LC_OK);
  enum { N = 4 };
  tok_job jobs[N];
  pthread_t th[N];
  for (int i = 0; i < N; i++) {
    jobs[i] = (tok_job){t, 100 + i, 0};
    assert_int_equal(pthread_create(&th[i], NULL, run_tok, &jobs[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(jobs[i].bad, 0);
  }
  lc_tokenizer_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_concurrency_contexts_on_threads),
      cmocka_unit_test(test_concurrency_shared_tokenizer),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
