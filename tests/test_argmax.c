/*
 * tests/test_argmax.c — lc_argmax on the CPU backend.
 *
 * The rule (include/layercast.h, docs/numerics.md): the first index of the maximum;
 * a NaN counts as larger than every number, so a row with NaN gives its first NaN;
 * -0 and +0 are equal.  The result is exact, so strict and reference must agree
 * exactly.  Batch invariance lives in tests/test_invariance.c.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_cast.h"
#include "test_util.h"

/* The rule as the simplest scan: the first NaN if any, else the first index whose
 * value no other element exceeds. */
static int32_t plain_argmax(const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (isnan(x[i])) return (int32_t)i;
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return (int32_t)best;
}

static void argmax_once(lc_mode mode, const float *x, int64_t m, int64_t n, int32_t *idx) {
  lc_context *ctx = lct_cpu(mode);
  lc_status st = lc_argmax(ctx, x, m, n, idx);
  if (st != LC_OK) fail_msg("lc_argmax: %s: %s", lc_status_name(st), lc_last_error(ctx));
  lc_context_free(ctx);
}

static int32_t *alloc_i(int64_t n) {
  int32_t *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
  assert_non_null(p);
  return p;
}

static void check_rows(const float *x, int64_t m, int64_t n, const int32_t *idx, const char *what) {
  for (int64_t r = 0; r < m; r++) {
    const int32_t want = plain_argmax(x + r * n, n);
    if (idx[r] != want)
      fail_msg("%s: n=%lld row %lld: got index %d (%.9g), want %d (%.9g)", what, (long long)n,
               (long long)r, (int)idx[r], (double)x[r * n + idx[r]], (int)want,
               (double)x[r * n + want]);
  }
}

/* Random rows of many lengths: both modes give the plain scan's index. */
static void test_argmax_matches_plain_scan(void **state) {
  (void)state;
  static const int64_t ns[] = {1, 2, 3, 31, 32, 33, 100, 255, 256, 257, 1000, 4096, 32000};
  const lc_mode modes[2] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  for (int t = 0; t < (int)(sizeof ns / sizeof ns[0]); t++) {
    lct_rng r = lct_rng_new(4000 + (uint64_t)t);
    const int64_t n = ns[t], m = lct_range(&r, 1, 9);
    float *x = lct_randn(&r, m * n, 3.0f);
    int32_t *idx = alloc_i(m);
    for (int mi = 0; mi < 2; mi++) {
      argmax_once(modes[mi], x, m, n, idx);
      check_rows(x, m, n, idx, lc_mode_name(modes[mi]));
    }
    free(x);
    free(idx);
  }
}

/* Ties go to the first index, wherever the tied maxima sit. */
static void test_argmax_ties_pick_first_index(void **state) {
  (void)state;
  float x[4][6] = {
      {1, 5, 5, 2, 5, 0}, {7, 7, 7, 7, 7, 7}, {-3, -1, -2, -1, -5, -1}, {0, 0, 0, 0, 0, 9}};
  const int32_t want[4] = {1, 0, 1, 5};
  int32_t idx[4];
  argmax_once(LC_MODE_STRICT, &x[0][0], 4, 6, idx);
  for (int r = 0; r < 4; r++) assert_int_equal(idx[r], want[r]);
  argmax_once(LC_MODE_REFERENCE, &x[0][0], 4, 6, idx);
  for (int r = 0; r < 4; r++) assert_int_equal(idx[r], want[r]);
}

/* -0 and +0 are equal: the first of them wins when they are the maximum. */
static void test_argmax_signed_zeros_are_equal(void **state) {
  (void)state;
  float x[4][3] = {
      {-0.0f, 0.0f, -1.0f}, {0.0f, -0.0f, -1.0f}, {-1.0f, -0.0f, 0.0f}, {-2.0f, -1.0f, -0.0f}};
  const int32_t want[4] = {0, 0, 1, 2};
  int32_t idx[4];
  argmax_once(LC_MODE_STRICT, &x[0][0], 4, 3, idx);
  for (int r = 0; r < 4; r++) assert_int_equal(idx[r], want[r]);
}

/* A NaN beats every number, +Inf included, whatever its sign or payload, and the first
 * NaN of the row wins. */
static void test_argmax_first_nan_wins(void **state) {
  (void)state;
  const float qnan = NAN, nnan = lc_f32_from_bits(0xFFC00000u),
              snan = lc_f32_from_bits(0x7F800001u);
  float x[5][5] = {{qnan, 1, 2, 3, 4},
                   {INFINITY, 3e38f, 1, 2, nnan},
                   {1, snan, 2, qnan, INFINITY},
                   {nnan, qnan, snan, nnan, qnan},
                   {-INFINITY, -1, lc_f32_from_bits(0xFFFFFFFFu), 5, 9}};
  const int32_t want[5] = {0, 4, 1, 0, 2};
  int32_t idx[5];
  argmax_once(LC_MODE_STRICT, &x[0][0], 5, 5, idx);
  for (int r = 0; r < 5; r++) assert_int_equal(idx[r], want[r]);
  argmax_once(LC_MODE_REFERENCE, &x[0][0], 5, 5, idx);
  for (int r = 0; r < 5; r++) assert_int_equal(idx[r], want[r]);
}

/* Infinities and extremes: +Inf wins (the first of several); a row of -Inf gives 0;
 * -3e38 beats -Inf; a subnormal beats -0; a single element gives 0. */
static void test_argmax_infinities_and_extremes(void **state) {
  (void)state;
  float x[5][4] = {{1, INFINITY, 3e38f, INFINITY},
                   {-INFINITY, -INFINITY, -INFINITY, -INFINITY},
                   {-INFINITY, -3e38f, -INFINITY, -3.4e38f},
                   {-0.0f, 1e-45f, 0.0f, -1e-45f},
                   {-FLT_MAX, -INFINITY, -FLT_MAX, -INFINITY}};
  const int32_t want[5] = {1, 0, 1, 1, 0};
  int32_t idx[5];
  argmax_once(LC_MODE_STRICT, &x[0][0], 5, 4, idx);
  for (int r = 0; r < 5; r++) assert_int_equal(idx[r], want[r]);
  float one[1] = {-INFINITY};
  argmax_once(LC_MODE_STRICT, one, 1, 1, idx);
  assert_int_equal(idx[0], 0);
}

/* Rows of arbitrary bit patterns (NaN, Inf, subnormals, both zeros): strict and
 * reference give the plain scan's index. */
static void test_argmax_any_bits_both_modes(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(41);
  const int64_t m = 200, n = 37;
  float *x = lct_alloc_f(m * n);
  for (int64_t i = 0; i < m * n; i++) {
    /* mostly finite so that many rows have no NaN; some rows all special */
    const uint64_t pick = lct_next(&r) % 16;
    x[i] = pick == 0 ? lct_any_bits(&r) : (pick == 1 ? 0.0f : lct_any_finite(&r));
    if (pick == 2) x[i] = -0.0f;
  }
  for (int64_t i = 0; i < n; i++) x[5 * n + i] = -INFINITY;
  int32_t *s = alloc_i(m), *ref = alloc_i(m);
  argmax_once(LC_MODE_STRICT, x, m, n, s);
  argmax_once(LC_MODE_REFERENCE, x, m, n, ref);
  check_rows(x, m, n, s, "strict");
  assert_memory_equal(s, ref, (size_t)m * sizeof *s);
  free(x);
  free(s);
  free(ref);
}

/* Vocabulary-sized rows (n = 128256): the maximum found at the start, in the middle,
 * at the very end, and a NaN at the end after an earlier +Inf. */
static void test_argmax_vocabulary_rows(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(42);
  const int64_t m = 4, n = 128256;
  float *x = lct_randn(&r, m * n, 1.0f);
  x[0 * n + 0] = 100.0f;
  x[1 * n + 64128] = 100.0f;
  x[2 * n + n - 1] = 100.0f;
  x[3 * n + 5] = INFINITY;
  x[3 * n + n - 1] = NAN;
  int32_t idx[4];
  argmax_once(LC_MODE_STRICT, x, m, n, idx);
  assert_int_equal(idx[0], 0);
  assert_int_equal(idx[1], 64128);
  assert_int_equal(idx[2], (int32_t)(n - 1));
  assert_int_equal(idx[3], (int32_t)(n - 1));
  free(x);
}

/* m == 0 is a valid empty call: LC_OK and idx untouched. */
static void test_argmax_empty_batch_is_noop(void **state) {
  (void)state;
  float x[3] = {1, 2, 3};
  int32_t idx[1] = {-7};
  argmax_once(LC_MODE_STRICT, x, 0, 3, idx);
  assert_int_equal(idx[0], -7);
  argmax_once(LC_MODE_REFERENCE, x, 0, 3, idx);
  assert_int_equal(idx[0], -7);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_argmax_matches_plain_scan),
      cmocka_unit_test(test_argmax_ties_pick_first_index),
      cmocka_unit_test(test_argmax_signed_zeros_are_equal),
      cmocka_unit_test(test_argmax_first_nan_wins),
      cmocka_unit_test(test_argmax_infinities_and_extremes),
      cmocka_unit_test(test_argmax_any_bits_both_modes),
      cmocka_unit_test(test_argmax_vocabulary_rows),
      cmocka_unit_test(test_argmax_empty_batch_is_noop),
  };
  return LCT_RUN(tests);
}
