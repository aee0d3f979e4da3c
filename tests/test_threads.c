/*
 * tests/test_threads.c — the CPU backend's threads (lib/pool.c, lib/ops.c):
 * the pool runs every task exactly once, run after run; and a CPU matmul in
 * strict, fast and bf16 gives bitwise the single thread's result with 2, 3
 * and 8 threads, on shapes whose columns split unevenly (tails of the
 * 16-column blocks, a last task shorter than the others), with and without a
 * bias; and CPU strict attention split by (row, head) gives the single
 * thread's bits.  The thread count is a matter of speed only (docs/numerics.md).
 */
#include "test_util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_cast.h"
#include "lib/pool.h"

typedef struct count_job {
  atomic_int hits[512];
  int n;
} count_job;

static void count_task(void *arg, int t) {
  count_job *j = arg;
  if (t >= 0 && t < j->n) atomic_fetch_add(&j->hits[t], 1);
}

/* Every task index runs exactly once per run, for 2000 runs of varying sizes
 * (a worker late for one run must not take a task of the next); a NULL pool
 * runs its tasks inline. */
static void test_threads_pool_runs_each_task_once(void **state) {
  (void)state;
  static const int sizes[] = {1, 2, 3, 5, 8, 17, 100, 512};
  for (int threads = 1; threads <= 8; threads *= 2) {
    lc_pool *p = lc_pool_create(threads);
    if (threads > 1) assert_non_null(p);
    assert_int_equal(lc_pool_threads(p) >= 1, 1);
    count_job *j = lct_malloc(sizeof *j);
    for (int run = 0; run < 2000; run++) {
      const int n = sizes[run % (int)(sizeof sizes / sizeof sizes[0])];
      for (int t = 0; t < 512; t++) atomic_init(&j->hits[t], 0);
      j->n = n;
      lc_pool_run(p, n, count_task, j);
      for (int t = 0; t < 512; t++) {
        const int h = atomic_load(&j->hits[t]);
        if (h != (t < n ? 1 : 0))
          fail_msg("%d threads, run %d, %d tasks: task %d ran %d times", threads, run, n, t, h);
      }
    }
    lc_pool_run(p, 0, count_task, j); /* no tasks: returns at once */
    free(j);
    lc_pool_free(p);
  }
  lc_pool_free(NULL);
}

/* CPU matmul with 1 thread against 2, 3 and 8, bitwise. */
static void test_threads_matmul_bits_do_not_depend_on_threads(void **state) {
  (void)state;
  static const lc_mode modes[] = {LC_MODE_STRICT, LC_MODE_FAST, LC_MODE_BF16};
  static const int64_t shapes[][3] = {/* m, k, n: 1M+ multiply-adds, so the split is taken */
                                      {1, 1024, 1040},
                                      {5, 777, 1000},
                                      {64, 256, 301},
                                      {3, 4096, 97}};
  static const int threads[] = {2, 3, 8};
  lct_rng rng = lct_rng_new(91);
  int64_t checked = 0;
  for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
    const int64_t m = shapes[si][0], k = shapes[si][1], n = shapes[si][2];
    float *x = lct_randn(&rng, m * k, 1.0f);
    uint16_t *w = lct_rand_bf16(&rng, n * k, 0.05f);
    uint16_t *b = lct_rand_bf16(&rng, n, 1.0f);
    float *one = lct_malloc_f(m * n), *got = lct_malloc_f(m * n);
    for (size_t mi = 0; mi < sizeof modes / sizeof modes[0]; mi++) {
      for (int hb = 0; hb < 2; hb++) {
        for (int ti = -1; ti < (int)(sizeof threads / sizeof threads[0]); ti++) {
          lc_context_params p;
          lc_context_params_default(&p);
          p.mode = modes[mi];
          p.cpu_threads = ti < 0 ? 1 : threads[ti];
          lc_context *ctx = NULL;
          assert_int_equal(lc_context_create(&p, &ctx), LC_OK);
          lc_weights *wg = lct_weights_bf16(ctx, n, k, w);
          lc_weights *bg = hb ? lct_weights_bf16(ctx, 1, n, b) : NULL;
          float *y = ti < 0 ? one : got;
          memset(y, 0xA5, (size_t)(m * n) * sizeof(float));
          if (lc_matmul(ctx, x, m, wg, bg, y) != LC_OK)
            fail_msg("lc_matmul: %s", lc_last_error(ctx));
          if (ti >= 0) {
            char what[160];
            snprintf(what, sizeof what, "%s m=%lld k=%lld n=%lld bias=%d: %d threads vs 1",
                     lc_mode_name(modes[mi]), (long long)m, (long long)k, (long long)n, hb,
                     threads[ti]);
            lct_assert_bitwise_f32(got, one, m * n, what);
            checked++;
          }
          lc_weights_free(bg);
          lc_weights_free(wg);
          lc_context_free(ctx);
        }
      }
    }
    free(x);
    free(w);
    free(b);
    free(one);
    free(got);
  }
  printf("CPU matmul: %lld (mode, shape, bias, threads) runs bitwise the single thread's\n",
         (long long)checked);
}

/* CPU strict attention split across threads by (row, head) runs gives the
 * single thread's bits: a decode batch of sequences at scattered positions
 * (past one partition), a chunked prefill of several rows, fp32 and bf16
 * caches, 2, 3 and 8 threads, grouped-query heads. */
static void test_threads_attention_bits_do_not_depend_on_threads(void **state) {
  (void)state;
  enum { NH = 8, NKV = 2, HD = 32, SLOTS = 6, MAXLEN = 700 };
  static const lc_attn_seq batches[2][6] = {
      {{0, 600, 1}, {1, 3, 1}, {2, 257, 1}, {3, 99, 1}, {4, 0, 1}, {5, 511, 1}}, /* decode */
      {{2, 200, 40}, {0, 5, 3}, {1, 650, 7}, {3, 0, 1}, {4, 300, 0}, {5, 1, 2}}, /* prefill */
  };
  static const int threads[] = {2, 3, 8};
  lct_rng rng = lct_rng_new(92);
  int64_t checked = 0;
  for (int bf16 = 0; bf16 < 2; bf16++)
    for (int bi = 0; bi < 2; bi++) {
      const lc_attn_seq *seqs = batches[bi];
      int64_t tq = 0;
      for (int i = 0; i < 6; i++) tq += seqs[i].n_q;
      const lc_attn_shape sh = {NH,
                                NKV,
                                HD,
                                MAXLEN,
                                SLOTS,
                                lc_attn_default_scale(HD),
                                bf16 ? LC_DTYPE_BF16 : LC_DTYPE_F32};
      const int64_t ce = (int64_t)SLOTS * MAXLEN * NKV * HD;
      float *kc = lct_randn(&rng, ce, 1.0f), *vc = lct_randn(&rng, ce, 1.0f);
      if (bf16) { /* the same bytes read as bf16 pairs: finite values of any size */
        uint16_t *h = (uint16_t *)kc, *g = (uint16_t *)vc;
        for (int64_t i = 0; i < ce; i++) {
          h[i] = lc_f32_to_bf16(lct_normalf(&rng));
          g[i] = lc_f32_to_bf16(lct_normalf(&rng));
        }
      }
      float *q = lct_randn(&rng, tq * NH * HD, 1.0f);
      float *one = lct_malloc_f(tq * NH * HD), *got = lct_malloc_f(tq * NH * HD);
      for (int ti = -1; ti < (int)(sizeof threads / sizeof threads[0]); ti++) {
        lc_context_params p;
        lc_context_params_default(&p);
        p.cpu_threads = ti < 0 ? 1 : threads[ti];
        lc_context *ctx = NULL;
        assert_int_equal(lc_context_create(&p, &ctx), LC_OK);
        float *y = ti < 0 ? one : got;
        memset(y, 0xA5, (size_t)(tq * NH * HD) * sizeof(float));
        if (lc_attention(ctx, &sh, seqs, 6, q, kc, vc, y) != LC_OK)
          fail_msg("lc_attention: %s", lc_last_error(ctx));
        if (ti >= 0) {
          char what[160];
          snprintf(what, sizeof what, "attention %s, %s cache: %d threads vs 1",
                   bi ? "prefill" : "decode", bf16 ? "bf16" : "fp32", threads[ti]);
          lct_assert_bitwise_f32(got, one, tq * NH * HD, what);
          checked++;
        }
        lc_context_free(ctx);
      }
      free(kc), free(vc), free(q), free(one), free(got);
    }
  printf("CPU attention: %lld (batch, cache, threads) runs bitwise the single thread's\n",
         (long long)checked);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads_pool_runs_each_task_once),
      cmocka_unit_test(test_threads_matmul_bits_do_not_depend_on_threads),
      cmocka_unit_test(test_threads_attention_bits_do_not_depend_on_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
