/*
 * tests/test_metrics.c — the reproducibility metrics (layercast_metrics.h) on
 * hand-made runs with known answers, the output hashes and the fingerprint.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <xxhash.h>

#include "layercast_metrics.h"
#include "test_util.h"

#define N_OF(a) ((int32_t)(sizeof(a) / sizeof((a)[0])))

/* Doubles computed by hand to a few ulps: 1e-12 absolute is far above the
 * rounding of the few additions involved and far below any difference the
 * tests look for. */
#define EPS 1e-12

#define LC_TEST_PINNED_HASH "4f23184a94397a48d0b2c4b2d5d362f1"

/* Identical sequences never diverge; identical runs give one unique output. */
static void test_metrics_identical_runs(void **state) {
  (void)state;
  const int32_t a[] = {5, 6, 7, 8};
  assert_int_equal(lc_div_index(a, 4, a, 4), -1);
  assert_int_equal(lc_div_index(NULL, 0, NULL, 0), -1);
  lc_run_output runs[3] = {{a, 4, NULL}, {a, 4, NULL}, {a, 4, NULL}};
  lc_prompt_metrics m;
  assert_int_equal(lc_prompt_metrics_compute(runs, 3, NULL, 0, &m), LC_OK);
  assert_int_equal(m.n_runs, 3);
  assert_int_equal(m.n_unique, 1);
  assert_int_equal(m.div_index, -1);
  assert_true(fabs(m.len_mean - 4.0) < EPS);
  assert_true(m.len_std == 0.0);
  assert_true(isnan(m.avg_std_top1)); /* no top1_prob given */
  assert_int_equal(m.n_correct, -1);
}

/* Div_Index is the first 0-based differing index, symmetric in its arguments. */
static void test_metrics_early_divergence(void **state) {
  (void)state;
  const int32_t a[] = {1, 2, 3, 4, 5}, b[] = {1, 2, 9, 4, 5}, c[] = {7, 2, 3, 4, 5};
  assert_int_equal(lc_div_index(a, 5, b, 5), 2);
  assert_int_equal(lc_div_index(b, 5, a, 5), 2);
  assert_int_equal(lc_div_index(a, 5, c, 5), 0);
  /* three runs: unique 3, Div_Index = min(div(a,b), div(a,c)) = 0 */
  lc_run_output runs[4] = {{a, 5, NULL}, {b, 5, NULL}, {a, 5, NULL}, {c, 5, NULL}};
  lc_prompt_metrics m;
  assert_int_equal(lc_prompt_metrics_compute(runs, 4, NULL, 0, &m), LC_OK);
  assert_int_equal(m.n_unique, 3);
  assert_int_equal(m.div_index, 0);
  /* the min over run 0 equals the min over all pairs: b vs c differ at 0 too */
  lc_run_output runs2[3] = {{a, 5, NULL}, {b, 5, NULL}, {b, 5, NULL}};
  assert_int_equal(lc_prompt_metrics_compute(runs2, 3, NULL, 0, &m), LC_OK);
  assert_int_equal(m.n_unique, 2);
  assert_int_equal(m.div_index, 2);
}

/* A proper prefix diverges at its end (the shorter length); empty vs non-empty at 0. */
static void test_metrics_prefix_ends_early(void **state) {
  (void)state;
  const int32_t a[] = {1, 2, 3, 4, 5};
  assert_int_equal(lc_div_index(a, 3, a, 5), 3);
  assert_int_equal(lc_div_index(a, 5, a, 3), 3);
  assert_int_equal(lc_div_index(a, 0, a, 5), 0);
  assert_int_equal(lc_div_index(NULL, 0, a, 1), 0);
  lc_run_output runs[3] = {{a, 5, NULL}, {a, 4, NULL}, {a, 5, NULL}};
  lc_prompt_metrics m;
  assert_int_equal(lc_prompt_metrics_compute(runs, 3, NULL, 0, &m), LC_OK);
  assert_int_equal(m.n_unique, 2);
  assert_int_equal(m.div_index, 4);
}

/* Output-length std is the population std (divide by n). */
static void test_metrics_length_std(void **state) {
  (void)state;
  const int32_t t[] = {1, 1, 1, 1, 1, 1};
  /* lengths 2, 4, 6: mean 4, population variance (4 + 0 + 4)/3 = 8/3 */
  lc_run_output runs[3] = {{t, 2, NULL}, {t, 4, NULL}, {t, 6, NULL}};
  lc_prompt_metrics m;
  assert_int_equal(lc_prompt_metrics_compute(runs, 3, NULL, 0, &m), LC_OK);
  assert_true(fabs(m.len_mean - 4.0) < EPS);
  assert_true(fabs(m.len_std - sqrt(8.0 / 3.0)) < EPS);
  double x[] = {1.0, 2.0, 3.0, 4.0}, mean, sd;
  lc_mean_std(x, 4, &mean, &sd); /* variance (2.25+0.25+0.25+2.25)/4 = 1.25 */
  assert_true(fabs(mean - 2.5) < EPS);
  assert_true(fabs(sd - sqrt(1.25)) < EPS);
  lc_mean_std(x, 0, &mean, &sd);
  assert_true(mean == 0.0 && sd == 0.0);
}

/* Avg_Std@top1_prob averages the across-run std over the shortest run's positions. */
static void test_metrics_avg_std_top1(void **state) {
  (void)state;
  const int32_t t[] = {3, 3, 3};
  /* position 0: {0.5, 0.5} std 0; position 1: {0.25, 0.75} std 0.25;
   * position 2 exists only in run 0 and is not counted: mean (0 + 0.25)/2 */
  const float p0[] = {0.5f, 0.25f, 0.9f}, p1[] = {0.5f, 0.75f};
  lc_run_output runs[2] = {{t, 3, p0}, {t, 2, p1}};
  lc_prompt_metrics m;
  assert_int_equal(lc_prompt_metrics_compute(runs, 2, NULL, 0, &m), LC_OK);
  assert_int_equal(m.top1_positions, 2);
  assert_true(fabs(m.avg_std_top1 - 0.125) < EPS);
  /* three runs at one position: {0.2, 0.4, 0.6}: population std sqrt(0.08/3) */
  const float q0[] = {0.2f}, q1[] = {0.4f}, q2[] = {0.6f};
  lc_run_output r3[3] = {{t, 1, q0}, {t, 1, q1}, {t, 1, q2}};
  assert_int_equal(lc_prompt_metrics_compute(r3, 3, NULL, 0, &m), LC_OK);
  double a = q0[0], b = q1[0], c = q2[0], mu = (a + b + c) / 3.0;
  double want = sqrt(((a - mu) * (a - mu) + (b - mu) * (b - mu) + (c - mu) * (c - mu)) / 3.0);
  assert_true(fabs(m.avg_std_top1 - want) < EPS);
  assert_true(fabs(want - sqrt(0.08 / 3.0)) < 1e-7); /* float inputs: ~1e-8 off */
}

/* Accuracy: an output is correct when the answer occurs contiguously; Std@Acc
 * is the population std of the per-configuration accuracies. */
static void test_metrics_std_at_acc(void **state) {
  (void)state;
  const int32_t ans[] = {4, 2};
  const int32_t hit[] = {9, 4, 2, 7}, miss[] = {9, 4, 7, 2}, end[] = {1, 4, 2};
  assert_int_equal(lc_answer_found(hit, 4, ans, 2), 1);
  assert_int_equal(lc_answer_found(miss, 4, ans, 2), 0);
  assert_int_equal(lc_answer_found(end, 3, ans, 2), 1);
  assert_int_equal(lc_answer_found(ans, 1, ans, 2), 0);
  assert_int_equal(lc_answer_found(miss, 4, NULL, 0), 1);

  /* two prompts with answers, one without; two configurations:
   * config 0: p0 correct, p1 correct -> 1.0; config 1: p0 correct, p1 wrong
   * -> 0.5.  Mean 0.75, population std 0.25. */
  lc_run_output p0[2] = {{hit, 4, NULL}, {end, 3, NULL}};
  lc_run_output p1[2] = {{hit, 4, NULL}, {miss, 4, NULL}};
  lc_run_output p2[2] = {{miss, 4, NULL}, {miss, 4, NULL}};
  lc_prompt_metrics pm[3];
  assert_int_equal(lc_prompt_metrics_compute(p0, 2, ans, 2, &pm[0]), LC_OK);
  assert_int_equal(lc_prompt_metrics_compute(p1, 2, ans, 2, &pm[1]), LC_OK);
  assert_int_equal(lc_prompt_metrics_compute(p2, 2, NULL, 0, &pm[2]), LC_OK);
  assert_int_equal(pm[0].n_correct, 2);
  assert_int_equal(pm[1].n_correct, 1);
  assert_int_equal(pm[2].n_correct, -1);
  const uint8_t correct[3][2] = {{1, 1}, {1, 0}, {0, 0}};
  const uint8_t has[3] = {1, 1, 0};
  lc_group_metrics g;
  assert_int_equal(lc_group_metrics_compute(pm, 3, 2, &correct[0][0], has, &g), LC_OK);
  assert_true(fabs(g.acc_mean - 0.75) < EPS);
  assert_true(fabs(g.std_at_acc - 0.25) < EPS);
  /* unique: 2, 2, 1 -> mean 5/3, max 2; Div_Percent 2/3; Div_Index: p0 0
   * (hit and end differ at index 0), p1 2 (hit and miss differ at index 2) */
  assert_true(fabs(g.unique_mean - 5.0 / 3.0) < EPS);
  assert_int_equal(g.unique_max, 2);
  assert_true(fabs(g.div_percent - 200.0 / 3.0) < EPS);
  assert_int_equal(pm[0].div_index, 0);
  assert_int_equal(pm[1].div_index, 2);
  assert_int_equal(g.div_index_min, 0);
  assert_true(fabs(g.div_index_mean - 1.0) < EPS);
  /* without answers: NaN */
  assert_int_equal(lc_group_metrics_compute(pm, 3, 2, NULL, NULL, &g), LC_OK);
  assert_true(isnan(g.std_at_acc) && isnan(g.acc_mean));
  /* mismatched run counts are refused */
  assert_int_equal(lc_group_metrics_compute(pm, 3, 3, NULL, NULL, &g), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_prompt_metrics_compute(p0, 0, NULL, 0, &pm[0]), LC_ERR_INVALID_ARGUMENT);
}

/* Hashes are fixed functions of the bytes: XXH3-128 of the empty input is
 * the published value, the token hash is the hash of the little-endian
 * bytes, and a fixed list keeps a pinned hash across builds and machines. */
static void test_metrics_hash_stability(void **state) {
  (void)state;
  char hex[LC_HASH_HEX_LEN];
  assert_int_equal(lc_hash_tokens(NULL, 0, hex), LC_OK);
  /* xxhsum -H2 of an empty file (xxHash 0.8 documentation and test vectors) */
  assert_string_equal(hex, "99aa06d3014798d86001c324468d497f");
  const int32_t toks[] = {1, 2, 3, 1000, -1, 32000};
  assert_int_equal(lc_hash_tokens(toks, N_OF(toks), hex), LC_OK);
  unsigned char bytes[4 * 6];
  for (int i = 0; i < 6; i++) {
    uint32_t v = (uint32_t)toks[i];
    for (int j = 0; j < 4; j++) bytes[4 * i + j] = (unsigned char)(v >> (8 * j));
  }
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits(bytes, sizeof bytes));
  char want[LC_HASH_HEX_LEN];
  for (int i = 0; i < 16; i++) snprintf(want + 2 * i, 3, "%02x", c.digest[i]);
  assert_string_equal(hex, want);
  /* pinned: computed once with xxhash 0.8.1; a change means records written
   * by earlier builds no longer compare */
  assert_string_equal(hex, LC_TEST_PINNED_HASH);
  /* longer than the 1024-word streaming buffer: same as one-shot */
  int32_t *many = lct_malloc(3000 * sizeof *many);
  for (int i = 0; i < 3000; i++) many[i] = i * 7919;
  assert_int_equal(lc_hash_tokens(many, 3000, hex), LC_OK);
  XXH128_canonicalFromHash(&c, XXH3_128bits(many, 3000 * sizeof *many)); /* x86: LE */
  for (int i = 0; i < 16; i++) snprintf(want + 2 * i, 3, "%02x", c.digest[i]);
  assert_string_equal(hex, want);
  free(many);
  /* float bits: +0 and -0 differ; equal arrays equal */
  const float z[] = {0.0f}, nz[] = {-0.0f};
  char h1[LC_HASH_HEX_LEN], h2[LC_HASH_HEX_LEN];
  assert_int_equal(lc_hash_f32_bits(z, 1, h1), LC_OK);
  assert_int_equal(lc_hash_f32_bits(nz, 1, h2), LC_OK);
  assert_string_not_equal(h1, h2);
  const int32_t zi[] = {0};
  assert_int_equal(lc_hash_tokens(zi, 1, h2), LC_OK);
  assert_string_equal(h1, h2); /* same bytes, same hash */
  assert_int_equal(lc_hash_tokens(NULL, 3, hex), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_hash_f32_bits(z, -1, hex), LC_ERR_INVALID_ARGUMENT);
}

/* The fingerprint is one JSON object with every documented key. */
static void test_metrics_fingerprint_keys(void **state) {
  (void)state;
  lc_context *ctx = lct_cpu(LC_MODE_STRICT);
  char *text = NULL;
  assert_int_equal(lc_env_fingerprint_json(ctx, &text), LC_OK);
  assert_non_null(text);
  assert_null(strchr(text, '\n'));
  json_error_t err;
  json_t *root = json_loads(text, 0, &err);
  assert_non_null(root);
  const char *top[] = {"library", "canon", "backend", "mode", "device", "host"};
  for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
    assert_non_null(json_object_get(root, top[i]));
  assert_string_equal(json_string_value(json_object_get(root, "backend")), "cpu");
  assert_string_equal(json_string_value(json_object_get(root, "mode")), "strict");
  json_t *lib = json_object_get(root, "library");
  assert_string_equal(json_string_value(json_object_get(lib, "version")), lc_version_string());
  json_t *canon = json_object_get(root, "canon");
  lc_canon_info ci;
  lc_canon_get_info(&ci);
  assert_int_equal(json_integer_value(json_object_get(canon, "matmul_seg_len")), ci.matmul_seg_len);
  const char *ck[] = {"version", "matmul_seg_len", "attn_partition", "reduce_lanes",
                      "max_head_dim"};
  for (size_t i = 0; i < 5; i++) assert_non_null(json_object_get(canon, ck[i]));
  const char *dk[] = {"name",
                      "index",
                      "cc",
                      "n_sm",
                      "global_bytes",
                      "driver_version",
                      "runtime_version",
                      "cublaslt_version",
                      "blas"};
  json_t *dev = json_object_get(root, "device");
  for (size_t i = 0; i < sizeof dk / sizeof dk[0]; i++)
    assert_non_null(json_object_get(dev, dk[i]));
  const char *hk[] = {"hostname", "os", "os_release", "os_version", "machine"};
  json_t *host = json_object_get(root, "host");
  for (size_t i = 0; i < 5; i++) assert_non_null(json_object_get(host, hk[i]));
  json_decref(root);
  lc_string_free(text);
  assert_int_equal(lc_env_fingerprint_json(NULL, &text), LC_ERR_INVALID_ARGUMENT);
  lc_context_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_metrics_identical_runs),
      cmocka_unit_test(test_metrics_early_divergence),
      cmocka_unit_test(test_metrics_prefix_ends_early),
      cmocka_unit_test(test_metrics_length_std),
      cmocka_unit_test(test_metrics_avg_std_top1),
      cmocka_unit_test(test_metrics_std_at_acc),
      cmocka_unit_test(test_metrics_hash_stability),
      cmocka_unit_test(test_metrics_fingerprint_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
