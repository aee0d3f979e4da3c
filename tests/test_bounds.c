/*
 * tests/test_bounds.c — lib/bounds.h: gamma_n, the rounding counts the
 * matmul and row-sum bounds are built from, and the one NaN/Inf rule of the
 * worst-ratio check that tests, benchmarks and `verify` share.
 */
#include "test_util.h"

#include <math.h>

#include "cast/lc_canon.h"
#include "lib/bounds.h"

/* gamma_n = n u / (1 - n u), u = 2^-24; gamma_0 = 0. */
static void test_bounds_gamma(void **state) {
  (void)state;
  assert_true(lc_bound_gamma(0) == 0.0);
  assert_true(lc_bound_gamma(1) == 0x1p-24 / (1.0 - 0x1p-24));
  assert_true(lc_bound_gamma(271) == 271 * 0x1p-24 / (1.0 - 271 * 0x1p-24));
  assert_true(lc_bound_gamma(5) > 5 * 0x1p-24);
}

/* Strict matmul: L + S - 1 roundings (L = min(K, 256), S = ceil(K/256)), one
 * more with a bias; any order: K, one more with a bias.  K = 4096 gives the
 * gamma_271 of docs/numerics.md 2.2. */
static void test_bounds_matmul_rounds(void **state) {
  (void)state;
  assert_int_equal(LC_MATMUL_SEG_LEN, 256);
  assert_int_equal(lc_bound_matmul_strict_rounds(1, 0), 1);
  assert_int_equal(lc_bound_matmul_strict_rounds(256, 0), 256);
  assert_int_equal(lc_bound_matmul_strict_rounds(257, 0), 257);
  assert_int_equal(lc_bound_matmul_strict_rounds(600, 0), 258);
  assert_int_equal(lc_bound_matmul_strict_rounds(600, 1), 259);
  assert_int_equal(lc_bound_matmul_strict_rounds(4096, 0), 271);
  assert_int_equal(lc_bound_matmul_any_order_rounds(600, 0), 600);
  assert_int_equal(lc_bound_matmul_any_order_rounds(600, 1), 601);
}

/* The canonical row sum: ceil(n/32) + 5 roundings. */
static void test_bounds_reduce_rounds(void **state) {
  (void)state;
  assert_int_equal(LC_REDUCE_LANES, 32);
  assert_int_equal(lc_bound_reduce_strict_rounds(1), 6);
  assert_int_equal(lc_bound_reduce_strict_rounds(32), 6);
  assert_int_equal(lc_bound_reduce_strict_rounds(33), 7);
  assert_int_equal(lc_bound_reduce_strict_rounds(300), 15);
}

/* NaN agrees only with NaN; Inf only with the same Inf; a zero bound
 * demands equality; otherwise |got - ref| / tol. */
static void test_bounds_ratio_nan_inf_rule(void **state) {
  (void)state;
  assert_true(lc_bound_ratio(NAN, NAN, 1.0) == 0.0);
  assert_true(lc_bound_ratio(-NAN, NAN, 0.0) == 0.0);
  assert_true(isinf(lc_bound_ratio(NAN, 1.0, 1e30)));
  assert_true(isinf(lc_bound_ratio(1.0, NAN, 1e30)));
  assert_true(isinf(lc_bound_ratio(NAN, INFINITY, 1.0)));
  assert_true(lc_bound_ratio(INFINITY, INFINITY, 0.0) == 0.0);
  assert_true(lc_bound_ratio(-INFINITY, -INFINITY, 1.0) == 0.0);
  assert_true(isinf(lc_bound_ratio(INFINITY, -INFINITY, 1e30)));
  assert_true(isinf(lc_bound_ratio(INFINITY, 3e38, 1e300)));
  assert_true(isinf(lc_bound_ratio(3e38, -INFINITY, 1e300)));
  assert_true(lc_bound_ratio(2.0, 2.0, 0.0) == 0.0);
  assert_true(lc_bound_ratio(0.0, -0.0, 0.0) == 0.0);
  assert_true(isinf(lc_bound_ratio(2.0, 2.5, 0.0)));
  assert_true(isinf(lc_bound_ratio(2.0, 2.5, -1.0)));
  assert_true(lc_bound_ratio(2.0, 2.5, 1.0) == 0.5);
  assert_true(lc_bound_ratio(-1.0, 1.0, 0.5) == 4.0);
}

/* The worst ratio and the first index attaining it; tol NULL is exact;
 * n = 0 gives 0 at -1. */
static void test_bounds_worst_ratio(void **state) {
  (void)state;
  const float got[5] = {1.0f, 2.0f, 3.5f, NAN, 5.0f};
  const double ref[5] = {1.0, 2.5, 3.0, NAN, 5.5};
  const double tol[5] = {1.0, 1.0, 1.0, 1.0, 1.0};
  int64_t at = 99;
  assert_true(lc_bound_worst_ratio(got, ref, tol, 5, &at) == 0.5);
  assert_int_equal(at, 1); /* the first of the three 0.5 */
  assert_true(lc_bound_worst_ratio(got, ref, tol, 1, &at) == 0.0);
  assert_int_equal(at, 0);
  assert_true(isinf(lc_bound_worst_ratio(got, ref, NULL, 5, &at)));
  assert_int_equal(at, 1);
  assert_true(lc_bound_worst_ratio(got, ref, NULL, 0, &at) == 0.0);
  assert_int_equal(at, -1);
  const double ref_num[5] = {1.0, 2.0, 3.5, 4.0, 5.0}; /* NaN got where ref is a number */
  assert_true(isinf(lc_bound_worst_ratio(got, ref_num, tol, 5, &at)));
  assert_int_equal(at, 3);
  assert_true(lc_bound_worst_ratio(got, ref_num, tol, 3, NULL) == 0.0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bounds_gamma),         cmocka_unit_test(test_bounds_matmul_rounds),
      cmocka_unit_test(test_bounds_reduce_rounds), cmocka_unit_test(test_bounds_ratio_nan_inf_rule),
      cmocka_unit_test(test_bounds_worst_ratio),
  };
  return LCT_RUN(tests);
}
