/*
 * tests/test_tp.c — emulated tensor parallelism (lc_session_params.tp,
 * lib/session_tp.c): at every degree tried the logits are bitwise those of
 * tp = 1, on the CPU (strict, fast, bf16) and, where a GPU is usable, on the
 * CUDA backend (strict, fast); the row-parallel layout of the reference
 * and vendor modes close to tp = 1 but not bitwise; errors for the degrees
 * it does not take.
 *
 * The scenario, on synthetic checkpoints whose head counts and widths do and
 * do not divide by the degree (Llama 16/8 heads, dim 96, hidden 200, vocab
 * 301; Qwen2 with biases, 6/6 heads; Qwen3 with q/k norms, 8/4 heads of 32):
 * two prompts prefilled in one pass (every row's logits), then 10 decode
 * passes of both, a third prompt joining at the fourth (a pass of prefill
 * and decode rows together); the caches start at 8 positions and grow
 * twice on the way.  Every pass's logits are compared with memcmp, and the
 * KV bytes of the ranks together with those of tp = 1.  Under LCT_SANITIZE
 * (tests/test_util.h) the CUDA check runs each model in one mode only.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lc_internal.h"
#include "lib/model_internal.h"

enum { N_DEC = 10, MAX_ROWS = 16 };

static void ok(lc_context *ctx, lc_status st, const char *what) {
  if (st != LC_OK) fail_msg("%s: %s: %s", what, lc_status_name(st), lc_last_error(ctx));
}

typedef struct tp_model {
  const char *name;
  lc_arch arch;
  int dim, hidden, heads, kv_heads, head_dim, vocab;
} tp_model;

static const tp_model models[] = {
    {"llama 16/8 heads", LC_ARCH_LLAMA, 96, 200, 16, 8, 6, 301},
    {"qwen2 6/6 heads, biases", LC_ARCH_QWEN2, 48, 100, 6, 6, 8, 250},
    {"qwen3 8/4 heads of 32, q/k norms", LC_ARCH_QWEN3, 64, 120, 8, 4, 32, 257},
};
static const int degrees[] = {1, 2, 3, 4, 8};

static void write_model(const tp_model *tm, char *dir, size_t len) {
  lct_tmpdir_make(dir, len, "tp");
  lc_synth_params p;
  memset(&p, 0, sizeof p);
  lc_synth_params_default(&p);
  p.config.arch = tm->arch;
  p.config.qkv_bias = tm->arch == LC_ARCH_QWEN2;
  p.config.qk_norm = tm->arch == LC_ARCH_QWEN3;
  p.config.dim = tm->dim;
  p.config.hidden_dim = tm->hidden;
  p.config.n_layers = 2;
  p.config.n_heads = tm->heads;
  p.config.n_kv_heads = tm->kv_heads;
  p.config.head_dim = tm->head_dim;
  p.config.vocab_size = tm->vocab;
  p.config.max_seq_len = 64;
  p.config.tied_embeddings = tm->arch == LC_ARCH_QWEN2;
  p.seed = 7 + (uint64_t)tm->arch;
  p.dtype = LC_DTYPE_BF16;
  p.n_shards = 1;
  const lc_status st = lc_synth_write(dir, &p);
  if (st != LC_OK) {
    lct_tmpdir_remove(dir);
    fail_msg("lc_synth_write: %s: %s", lc_status_name(st), lc_last_error(NULL));
  }
}

static lc_session *tp_session(lc_model *m, int tp, lc_status *st) {
  lc_session_params p;
  lc_session_params_default(&p);
  p.n_slots = 3;
  p.max_len = 64;
  p.max_tokens = MAX_ROWS;
  p.kv_initial_len = 8;
  p.tp = tp;
  lc_session *s = NULL;
  *st = lc_session_create(m, &p, &s);
  return s;
}

/* The scenario's logits, every pass one after the other, into out (the
 * caller frees it); *n_out floats.  *kv: the session's KV bytes at the end. */
static float *run_scenario(lc_model *m, int tp, int64_t *n_out, size_t *kv) {
  lc_status st;
  lc_session *s = tp_session(m, tp, &st);
  if (st != LC_OK)
    fail_msg("lc_session_create tp %d: %s: %s", tp, lc_status_name(st),
             lc_last_error(lc_model_context(m)));
  const int32_t vocab = m->info.config.vocab_size;
  int32_t p0[7], p1[5], p2[3];
  for (int i = 0; i < 7; i++) p0[i] = (int32_t)((i * 37 + 5) % vocab);
  for (int i = 0; i < 5; i++) p1[i] = (int32_t)((i * 53 + 11) % vocab);
  for (int i = 0; i < 3; i++) p2[i] = (int32_t)((i * 71 + 2) % vocab);
  /* prefill: 12 rows of logits; decode: 2 or 3 rows per pass */
  const int64_t cap = (int64_t)(12 + N_DEC * 3) * vocab;
  float *out = lct_malloc_f(cap);
  int64_t n = 0;
  lc_batch_entry e[3] = {{0, 0, 7, p0}, {1, 0, 5, p1}};
  ok(s->ctx, lc_session_forward(s, e, 2, 1, out), "prefill");
  n += 12 * (int64_t)vocab;
  int32_t tok[3] = {p0[6], p1[4], 0}, pos[3] = {7, 5, 0};
  int live = 2;
  for (int step = 0; step < N_DEC; step++) {
    int ne = 0;
    for (int i = 0; i < live; i++) {
      e[ne] = (lc_batch_entry){i, pos[i], 1, &tok[i]};
      ne++;
    }
    if (step == 3) { /* the third prompt joins: 3 prefill rows beside 2 decode rows */
      e[ne] = (lc_batch_entry){2, 0, 3, p2};
      ne++;
    }
    float *lg = out + n;
    ok(s->ctx, lc_session_forward(s, e, ne, 0, lg), "decode pass");
    n += (int64_t)ne * vocab;
    /* next tokens: a function of the logits' bits through the argmax */
    for (int i = 0; i < ne; i++) {
      const float *row = lg + (int64_t)i * vocab;
      int32_t best = 0;
      for (int32_t j = 1; j < vocab; j++)
        if (row[j] > row[best]) best = j;
      const int32_t slot = e[i].slot;
      pos[slot] = e[i].pos + e[i].n_tokens;
      tok[slot] = best;
    }
    if (step == 3) live = 3;
  }
  lc_session_memory mem;
  ok(s->ctx, lc_session_get_memory(s, &mem), "lc_session_get_memory");
  *kv = mem.kv_cache_bytes;
  assert_true(n <= cap);
  *n_out = n;
  lc_session_free(s);
  return out;
}

/* Every degree <= kv_heads against tp = 1, bitwise; the others refused. */
static void degrees_match(lc_context *ctx, lc_mode mode, const tp_model *tm, const char *dir,
                          int *n_runs) {
  lc_model *m = NULL;
  ok(ctx, lc_model_load(ctx, dir, NULL, &m), "lc_model_load");
  int64_t n1 = 0;
  size_t kv1 = 0;
  float *base = run_scenario(m, 1, &n1, &kv1);
  for (size_t di = 1; di < LCT_LEN(degrees); di++) {
    const int tp = degrees[di];
    if (tp > tm->kv_heads) {
      lc_status st;
      lc_session *s = tp_session(m, tp, &st);
      assert_null(s);
      assert_int_equal(st, LC_ERR_SHAPE);
      assert_non_null(strstr(lc_last_error(ctx), "n_kv_heads"));
      continue;
    }
    int64_t n = 0;
    size_t kv = 0;
    float *got = run_scenario(m, tp, &n, &kv);
    assert_int_equal(n, n1);
    char what[160];
    snprintf(what, sizeof what, "%s, %s, tp %d vs tp 1", tm->name, lc_mode_name(mode), tp);
    if (memcmp(got, base, (size_t)n * sizeof(float)) != 0) {
      int64_t i = 0;
      while (got[i] == base[i]) i++;
      fail_msg("%s: logits differ first at element %lld (%.9g vs %.9g)", what, (long long)i,
               (double)got[i], (double)base[i]);
    }
    assert_int_equal(kv, kv1); /* the ranks' caches together: tp = 1's */
    (*n_runs)++;
    free(got);
  }
  free(base);
  lc_model_free(m);
}

static void check_backend(int cuda, const lc_mode *modes, size_t n_modes) {
  const double t0 = lct_now_s();
  int n_runs = 0;
  for (size_t mi = 0; mi < LCT_LEN(models); mi++) {
    char dir[256];
    write_model(&models[mi], dir, sizeof dir);
    for (size_t k = 0; k < n_modes; k++) {
      /* the sanitize profile on the GPU: each model in one mode (strict,
       * fast, strict), every degree */
      if (cuda && lct_sanitize() && mi % 2 != k % 2) continue;
      lc_context *ctx = cuda ? lct_cuda(modes[k]) : lct_cpu(modes[k]);
      degrees_match(ctx, modes[k], &models[mi], dir, &n_runs);
      lc_context_free(ctx);
    }
    assert_int_equal(lct_tmpdir_remove(dir), 0);
  }
  printf("tp (%s): %d runs at tp 2, 3, 4, 8 bitwise equal to tp 1 (%.1f s)%s\n",
         cuda ? "cuda" : "cpu", n_runs, lct_now_s() - t0, cuda ? lct_profile_note() : "");
}

/* CPU strict, fast and bf16: every degree bitwise tp = 1. */
static void test_tp_cpu_matches_tp1(void **state) {
  (void)state;
  static const lc_mode modes[] = {LC_MODE_STRICT, LC_MODE_FAST, LC_MODE_BF16};
  check_backend(0, modes, LCT_LEN(modes));
}

/* CUDA strict and fast (one GPU, ranks in turn): the same. */
static void test_tp_cuda_matches_tp1(void **state) {
  (void)state;
  if (!lct_have_cuda()) skip();
  static const lc_mode modes[] = {LC_MODE_STRICT, LC_MODE_FAST};
  check_backend(1, modes, LCT_LEN(modes));
}

/* The row-parallel layout of the reference mode (and, on a GPU, of
 * vendor-bf16 and vendor-fp32): o_proj and down_proj split over K and
 * all-reduced.  Its logits stay close to tp = 1's (normwise within 1e-4: a
 * reassociation of fp32 sums of at most 200 terms moves each by a few ulps
 * of the terms' magnitude, about 1e-6 relative, and two layers and the
 * vocabulary projection do not grow that past 1e-5 on these shapes; 1e-4
 * leaves room) but not bitwise: the sums' order depends on the degree, as
 * in the engines.  Returns the number of differing logits at tp = 2. */
static int64_t rowpar_case(lc_context *ctx, const char *dir) {
  lc_model *m = NULL;
  ok(ctx, lc_model_load(ctx, dir, NULL, &m), "lc_model_load");
  int64_t n1 = 0, n2 = 0;
  size_t kv1 = 0, kv2 = 0;
  float *base = run_scenario(m, 1, &n1, &kv1);
  float *got = run_scenario(m, 2, &n2, &kv2);
  assert_int_equal(n1, n2);
  assert_int_equal(kv1, kv2);
  double num = 0, den = 0;
  int64_t differ = 0;
  for (int64_t i = 0; i < n1; i++) {
    assert_true(got[i] == got[i]); /* no NaN */
    const double d = (double)got[i] - (double)base[i];
    num += d * d;
    den += (double)base[i] * (double)base[i];
    differ += memcmp(&got[i], &base[i], sizeof(float)) != 0;
  }
  const double rel = den > 0 ? sqrt(num / den) : sqrt(num);
  printf("tp row-parallel (%s): tp 2 vs tp 1: %lld of %lld logits differ, normwise %.3g\n",
         lc_mode_name(lc_context_mode(ctx)), (long long)differ, (long long)n1, rel);
  assert_true(rel < 1e-4);
  free(base);
  free(got);
  lc_model_free(m);
  return differ;
}

/* The reference mode (CPU) takes the row-parallel layout: close to tp = 1,
 * and different from it somewhere (on this model and scenario at least one
 * logit moves: the layout really reorders the sums). */
static void test_tp_reference_row_parallel(void **state) {
  (void)state;
  char dir[256];
  write_model(&models[0], dir, sizeof dir);
  lc_context *ctx = lct_cpu(LC_MODE_REFERENCE);
  assert_true(rowpar_case(ctx, dir) > 0);
  lc_context_free(ctx);
  assert_int_equal(lct_tmpdir_remove(dir), 0);
}

/* vendor-bf16 and vendor-fp32 on one GPU: the row-parallel layout runs and
 * stays close to tp = 1 (how many logits move is printed). */
static void test_tp_cuda_vendor_row_parallel(void **state) {
  (void)state;
  if (!lct_have_cuda()) skip();
  char dir[256];
  write_model(&models[0], dir, sizeof dir);
  static const lc_mode modes[] = {LC_MODE_VENDOR_FP32, LC_MODE_VENDOR_BF16};
  for (size_t k = 0; k < LCT_LEN(modes); k++) {
    if (modes[k] == LC_MODE_VENDOR_BF16 && lct_skip_vendor_bf16("tp row-parallel")) continue;
    lc_context *ctx = lct_cuda(modes[k]);
    if (modes[k] == LC_MODE_VENDOR_FP32) {
      (void)rowpar_case(ctx, dir);
    } else { /* bf16 activations: the tolerance above does not apply; it runs, no NaN */
      lc_model *m = NULL;
      ok(ctx, lc_model_load(ctx, dir, NULL, &m), "lc_model_load");
      int64_t n = 0;
      size_t kv = 0;
      float *got = run_scenario(m, 2, &n, &kv);
      for (int64_t i = 0; i < n; i++) assert_true(got[i] == got[i]);
      free(got);
      lc_model_free(m);
    }
    lc_context_free(ctx);
  }
  assert_int_equal(lct_tmpdir_remove(dir), 0);
}

/* What tp does not take: a negative degree, more ranks than KV heads (also
 * in degrees_match); nothing is left allocated (the sanitizer build). */
static void test_tp_errors(void **state) {
  (void)state;
  char dir[256];
  write_model(&models[1], dir, sizeof dir);
  lc_context *ctx = lct_cpu(LC_MODE_STRICT);
  lc_model *m = NULL;
  ok(ctx, lc_model_load(ctx, dir, NULL, &m), "lc_model_load");
  lc_status st;
  lc_session *s = tp_session(m, 7, &st); /* 6 KV heads */
  assert_null(s);
  assert_int_equal(st, LC_ERR_SHAPE);
  assert_non_null(strstr(lc_last_error(ctx), "tp = 7"));
  s = tp_session(m, -1, &st);
  assert_null(s);
  assert_int_equal(st, LC_ERR_INVALID_ARGUMENT);
  s = tp_session(m, 6, &st); /* one KV head each */
  assert_int_equal(st, LC_OK);
  lc_session_free(s);
  lc_model_free(m);
  lc_context_free(ctx);
  assert_int_equal(lct_tmpdir_remove(dir), 0);
}

/* The rank views and copies (lib/weights.c): the bits of the part they name,
 * LC_ERR_SHAPE for a range outside the matrix or a part that is not
 * contiguous (columns of a matrix of several rows), the view's memory
 * shared and the copy's its own. */
static void test_tp_weight_views(void **state) {
  (void)state;
  lc_context *ctx = lct_cpu(LC_MODE_STRICT);
  enum { R = 5, C = 24 };
  lct_rng rng = lct_rng_new(3);
  uint16_t *bits = lct_rand_bf16(&rng, R * C, 1.0f);
  lc_weights *w = lct_weights_bf16(ctx, R, C, bits), *b = lct_weights_bf16(ctx, 1, C, bits);
  lc_weights *v = NULL;
  uint16_t got[R * C];
  assert_int_equal(lc_weights_view(w, 1, 3, 0, C, &v), LC_OK);
  assert_int_equal(lc_weights_rows(v), 3);
  assert_int_equal(lc_weights_read_bf16(v, got), LC_OK);
  assert_memory_equal(got, bits + C, 3 * C * sizeof(uint16_t));
  lc_weights_free(v);
  assert_int_equal(lc_weights_view(b, 0, 1, 8, 16, &v), LC_OK); /* a bias's columns */
  assert_int_equal(lc_weights_read_bf16(v, got), LC_OK);
  assert_memory_equal(got, bits + 8, 16 * sizeof(uint16_t));
  lc_weights_free(v);
  static const int64_t bad[][4] = {{0, 6, 0, C},    {-1, 2, 0, C},    {4, 2, 0, C},
                                   {0, 0, 0, C},    {0, 2, 1, C - 1}, /* columns of several rows */
                                   {0, 1, 0, C + 1}};
  for (size_t i = 0; i < LCT_LEN(bad); i++) {
    v = (lc_weights *)&v; /* poisoned: must come back NULL */
    assert_int_equal(lc_weights_view(w, bad[i][0], bad[i][1], bad[i][2], bad[i][3], &v),
                     LC_ERR_SHAPE);
    assert_null(v);
  }
  assert_int_equal(lc_weights_copy_cols(w, 4, 8, &v), LC_OK);
  assert_int_equal(lc_weights_cols(v), 8);
  assert_int_equal(lc_weights_read_bf16(v, got), LC_OK);
  for (int r = 0; r < R; r++) assert_memory_equal(got + r * 8, bits + r * C + 4, 16);
  lc_weights_free(v);
  v = (lc_weights *)&v;
  assert_int_equal(lc_weights_copy_cols(w, 20, 5, &v), LC_ERR_SHAPE);
  assert_null(v);
  lc_weights_free(w);
  lc_weights_free(b);
  free(bits);
  lc_context_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tp_cpu_matches_tp1),
      cmocka_unit_test(test_tp_cuda_matches_tp1),
      cmocka_unit_test(test_tp_reference_row_parallel),
      cmocka_unit_test(test_tp_cuda_vendor_row_parallel),
      cmocka_unit_test(test_tp_errors),
      cmocka_unit_test(test_tp_weight_views),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
