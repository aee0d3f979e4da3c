/*
 * tests/test_compare.c — the comparison helpers that tests and users share:
 * ULP distance, histogram buckets, and lc_compare_f32's statistics.
 */
#include "test_util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_cast.h"

/* ULP distance counts representable floats, across zero too, and is 0
 * between -0 and +0; NaN gives UINT64_MAX. */
static void test_compare_ulp_distance(void **state) {
  (void)state;
  assert_int_equal(lc_ulp_distance_f32(1.0f, 1.0f), 0);
  assert_int_equal(lc_ulp_distance_f32(0.0f, -0.0f), 0);
  assert_int_equal(lc_ulp_distance_f32(1.0f, nextafterf(1.0f, 2.0f)), 1);
  assert_int_equal(lc_ulp_distance_f32(nextafterf(1.0f, 2.0f), 1.0f), 1);
  float tiny = lc_f32_from_bits(1); /* smallest subnormal */
  assert_int_equal(lc_ulp_distance_f32(tiny, -tiny), 2);
  assert_int_equal(lc_ulp_distance_f32(0.0f, tiny), 1);
  assert_int_equal(lc_ulp_distance_f32(FLT_MAX, INFINITY), 1);
  assert_int_equal(lc_ulp_distance_f32(-INFINITY, INFINITY), 2ull * 0x7F800000u);
  assert_true(lc_ulp_distance_f32(NAN, 1.0f) == UINT64_MAX);
  assert_true(lc_ulp_distance_f32(1.0f, NAN) == UINT64_MAX);
}

/* Bucket b >= 2 holds distances in (2^(b-2), 2^(b-1)]. */
static void test_compare_buckets(void **state) {
  (void)state;
  assert_int_equal(lc_ulp_bucket(0), 0);
  assert_int_equal(lc_ulp_bucket(1), 1);
  assert_int_equal(lc_ulp_bucket(2), 2);
  assert_int_equal(lc_ulp_bucket(3), 3);
  assert_int_equal(lc_ulp_bucket(4), 3);
  assert_int_equal(lc_ulp_bucket(5), 4);
  assert_int_equal(lc_ulp_bucket(8), 4);
  assert_int_equal(lc_ulp_bucket(9), 5);
  assert_int_equal(lc_ulp_bucket(1ull << 32), 33);
  assert_int_equal(lc_ulp_bucket(UINT64_MAX), LC_ULP_BUCKETS - 1);
  for (uint64_t d = 2; d < 100000; d++) {
    int b = lc_ulp_bucket(d);
    assert_true(d > (1ull << (b - 2)) && d <= (1ull << (b - 1)));
  }
}

/* lc_compare_f32 on a hand-made pair with known answers. */
static void test_compare_known_pair(void **state) {
  (void)state;
  const float ref[8] = {1.0f, 2.0f, -0.0f, 4.0f, NAN, 5.0f, INFINITY, 0.0f};
  float got[8];
  memcpy(got, ref, sizeof got);
  got[1] = nextafterf(2.0f, 3.0f); /* 1 ulp, abs 2^-22, rel 2^-23 */
  got[2] = 0.0f;                   /* -0 vs +0: not bitwise equal, 0 ulp */
  got[3] = 4.5f;                   /* abs 0.5, rel 0.125 */
  got[5] = NAN;                    /* NaN mismatch */
  got[7] = 1e-30f;                 /* ref 0: no relative error */
  lc_compare_result r;
  assert_int_equal(lc_compare_f32(got, ref, 8, &r), LC_OK);
  assert_int_equal(r.n, 8);
  assert_int_equal(r.n_bitwise_equal, 3); /* [0], [4] (same NaN bits), [6] */
  assert_int_equal(r.first_diff, 1);
  assert_int_equal(r.n_nan_mismatch, 1);
  assert_true(r.max_abs == 0.5);
  assert_int_equal(r.max_abs_index, 3);
  assert_true(r.max_rel == 0.125);
  assert_int_equal(r.max_rel_index, 3);
  assert_int_equal(r.max_ulp_index, 7); /* 1e-30 is many ulps from 0 */
  int64_t total = 0;
  for (int b = 0; b < LC_ULP_BUCKETS; b++) total += r.ulp_hist[b];
  assert_int_equal(total, 6);         /* the 8 pairs less the two with a NaN */
  assert_int_equal(r.ulp_hist[0], 3); /* [0], [2] (-0 vs +0), [6] */
  assert_int_equal(r.ulp_hist[1], 1);
}

/* Identical arrays: everything equal, first_diff -1; empty input is fine;
 * bad arguments are refused. */
static void test_compare_identical_and_bad(void **state) {
  (void)state;
  lct_rng rng = lct_rng_new(7);
  float *a = lct_randn(&rng, 1000, 3.0f);
  lc_compare_result r;
  assert_int_equal(lc_compare_f32(a, a, 1000, &r), LC_OK);
  assert_int_equal(r.n_bitwise_equal, 1000);
  assert_int_equal(r.first_diff, -1);
  assert_int_equal(r.max_ulp, 0);
  assert_int_equal(r.ulp_hist[0], 1000);
  assert_int_equal(lc_compare_f32(NULL, NULL, 0, &r), LC_OK);
  assert_int_equal(r.n, 0);
  assert_int_equal(r.first_diff, -1);
  assert_int_equal(r.max_abs_index, -1);
  assert_int_equal(lc_compare_f32(a, a, -1, &r), LC_ERR_SHAPE);
  assert_int_equal(lc_compare_f32(a, NULL, 10, &r), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_compare_f32(a, a, 10, NULL), LC_ERR_INVALID_ARGUMENT);
  free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compare_ulp_distance),
      cmocka_unit_test(test_compare_buckets),
      cmocka_unit_test(test_compare_known_pair),
      cmocka_unit_test(test_compare_identical_and_bad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
