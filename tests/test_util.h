/*
 * tests/test_util.h — helpers every test shares: a seeded RNG, random and
 * poisoned data, contexts, and failure reports that print the worst index,
 * `ref got`, the absolute and the ULP distance (never a bare FAIL).
 */
#ifndef LC_TEST_UTIL_H
#define LC_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "layercast.h"

/* ---- RNG: splitmix64, reproducible from a seed ---------------------------*/
typedef struct lct_rng {
  uint64_t s;
} lct_rng;
lct_rng lct_rng_new(uint64_t seed);
uint64_t lct_next(lct_rng *r);
double lct_uniform(lct_rng *r); /* [0, 1) */
float lct_uniformf(lct_rng *r, float lo, float hi);
int64_t lct_range(lct_rng *r, int64_t lo, int64_t hi); /* [lo, hi] */
float lct_normalf(lct_rng *r);                         /* N(0,1), Box-Muller */
/* Any finite float bit pattern, uniformly over bits (wide dynamic range). */
float lct_any_finite(lct_rng *r);
/* Any float bit pattern at all (NaN, Inf, subnormals included). */
float lct_any_bits(lct_rng *r);

/* ---- arrays (malloc'ed; the test frees them) ------------------------------*/
float *lct_randn(lct_rng *r, int64_t n, float scale); /* N(0, scale^2) */
float *lct_rand_uniform(lct_rng *r, int64_t n, float lo, float hi);
uint16_t *lct_rand_bf16(lct_rng *r, int64_t n, float scale); /* bf16 of N(0,s) */
/* Poison for "the other rows": NaN, +-Inf, +-3e38, subnormals, cycling with
 * `kind` through LCT_POISON_KINDS patterns. */
#define LCT_POISON_KINDS 6
void lct_fill_poison(float *v, int64_t n, int kind, lct_rng *r);
const char *lct_poison_name(int kind);

/* ---- contexts -------------------------------------------------------------*/
lc_context *lct_cpu(lc_mode mode); /* asserts success */
/* 1 if a CUDA device is usable (any cudaGetDeviceCount error counts as no
 * device) and the library was built with CUDA; 0 otherwise. */
int lct_have_cuda(void);
/* Folder of ../shared/models (LC_MODELS_DIR), never NULL. */
const char *lct_models_dir(void);

/* ---- reports --------------------------------------------------------------*/
/* memcmp-equal, or fail printing the first differing index with both values,
 * their bits and the ULP distance, and `what`. */
void lct_assert_bitwise_f32(const float *got, const float *ref, int64_t n, const char *what);
/* |got - ref| <= atol + rtol*|ref| elementwise (ref in double), NaN only
 * where ref is NaN; on failure print the worst index, ref, got, abs and ULP
 * error, and `what`. */
void lct_assert_close(const float *got, const double *ref, int64_t n, double atol, double rtol,
                      const char *what);
/* Same with a per-element bound tol[i] (the tolerance derived for that
 * element): |got[i] - ref[i]| <= tol[i]. */
void lct_assert_within(const float *got, const double *ref, const double *tol, int64_t n,
                       const char *what);

/* Unit roundoff of binary32. */
#define LCT_U (0x1p-24)

/* Runs a test group with no group setup or teardown: CMocka's result. */
#define LCT_RUN(tests) cmocka_run_group_tests(tests, NULL, NULL)

#endif
