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
/* splitmix64's output function of z: counter-based random values (the same
 * (seed, i) always gives the same value; large arrays fill in parallel). */
uint64_t lct_mix64(uint64_t z);
/* Any finite float bit pattern, uniformly over bits (wide dynamic range). */
float lct_any_finite(lct_rng *r);
/* Any float bit pattern at all (NaN, Inf, subnormals included). */
float lct_any_bits(lct_rng *r);

/* ---- arrays (malloc'ed; the test frees them) ------------------------------*/
/* malloc that fails the test (cmocka) on NULL, never returns NULL; 0 bytes
 * count as 1. */
void *lct_malloc(size_t bytes);
/* n floats / doubles, lct_malloc'ed; n <= 0 allocates one element. */
float *lct_alloc_f(int64_t n);
double *lct_alloc_d(int64_t n);
/* lct_malloc(n * sizeof(float)): n is not clamped like lct_alloc_f's (0
 * allocates 1 byte; a negative n fails). */
float *lct_malloc_f(int64_t n);
float *lct_randn(lct_rng *r, int64_t n, float scale); /* N(0, scale^2) */
float *lct_rand_uniform(lct_rng *r, int64_t n, float lo, float hi);
uint16_t *lct_rand_bf16(lct_rng *r, int64_t n, float scale); /* bf16 of N(0,s) */
/* Poison for "the other rows": NaN, +-Inf, +-3e38, subnormals, cycling with
 * `kind` through LCT_POISON_KINDS patterns. */
#define LCT_POISON_KINDS 6
void lct_fill_poison(float *v, int64_t n, int kind, lct_rng *r);
const char *lct_poison_name(int kind);

/* ---- contexts -------------------------------------------------------------*/
lc_context *lct_cpu(lc_mode mode);  /* asserts success */
lc_context *lct_cuda(lc_mode mode); /* device 0; asserts success */
/* 1 if a CUDA device is usable (any cudaGetDeviceCount error counts as no
 * device) and the library was built with CUDA; 0 otherwise. */
int lct_have_cuda(void);
/* Device memory through the public API; each fails the test (with the
 * context's message) instead of returning an error.  lct_dev_alloc never
 * returns NULL (0 bytes allocate 4). */
void *lct_dev_alloc(lc_context *ctx, size_t bytes);
void lct_dev_write(lc_context *ctx, void *dst, const void *src, size_t bytes);
void lct_dev_read(lc_context *ctx, void *dst, const void *src, size_t bytes);
/* A [rows][cols] weight from bf16 bit patterns; fails the test on error. */
lc_weights *lct_weights_bf16(lc_context *ctx, int64_t rows, int64_t cols, const uint16_t *bits);
/* ||y - ref||_2 / ||ref||_2 over n elements. */
double lct_normwise(const float *y, const double *ref, int64_t n);
/* Folder of ../shared/models (LC_MODELS_DIR), never NULL. */
const char *lct_models_dir(void);

/* ---- timing ---------------------------------------------------------------*/
/* Seconds on CLOCK_MONOTONIC, for elapsed times in summary lines. */
double lct_now_s(void);
/* LCT_SANITIZE=1: the GPU tests' sanitize profile, for runs under
 * compute-sanitizer (tools/device-sanitize.sh sets it), where a launch costs
 * 10 to 1000 times more and racecheck pays for every shared-memory access.
 * Every test function still runs, and every kernel and path it covers, but
 * on small shapes and few cases (each test file says what it keeps); the
 * assertions are the same.  1 when LCT_SANITIZE is set to anything but ""
 * or "0", else 0. */
int lct_sanitize(void);
/* LCT_SKIP_VENDOR_BF16=1: the vendor-bf16 parts of the GPU tests are left
 * out (tools/device-sanitize.sh sets it for racecheck: the compute-sanitizer
 * of CUDA 13.0 stops with "Internal Sanitizer Error: The Sanitizer failed to
 * handle a hardware exception" in cuBLASLt's bf16 kernels on an H100, and
 * the context is lost for the rest of the binary).  Returns 1 (and prints
 * one line naming `what`) when they are to be left out, else 0. */
int lct_skip_vendor_bf16(const char *what);
/* LCT_THIN=N (N >= 1): the long GPU sweeps run every Nth case only.  Every
 * path and kernel still runs.  Default 1, or 50 under LCT_SANITIZE. */
int lct_thin(void);
/* "" normally; under LCT_SANITIZE a note for the summary lines whose counts
 * and ranges are those of the full lists: " [sanitize profile]". */
const char *lct_profile_note(void);
/* Elements of an array. */
#define LCT_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* The first call of a GPU test's main(): LCT_FILTER=pattern runs only the
 * test functions whose names match (CMocka's pattern, e.g. "*graphs*"), and
 * one line says so when the sanitize profile is on. */
void lct_gpu_main_begin(void);

/* Creates a fresh folder /tmp/lc_test_<tag>_XXXXXX, its name in buf (len >=
 * 64); fails the test when it cannot. */
void lct_tmpdir_make(char *buf, size_t len, const char *tag);
/* Writes a tiny synthetic Llama (dim 32, hidden 48, 2 layers, 4/2 heads of
 * 8, vocab 64, max_seq positions) from seed into dir, in dtype and n_shards
 * files; fails the test when lc_synth_write fails. */
void lct_synth_tiny(const char *dir, uint64_t seed, lc_dtype dtype, int32_t n_shards,
                    int32_t max_seq);
/* The same with another vocabulary size (a byte-level tokenizer needs 259). */
void lct_synth_tiny_vocab(const char *dir, uint64_t seed, lc_dtype dtype, int32_t n_shards,
                          int32_t max_seq, int32_t vocab);
/* Removes dir and everything below it (no-op for NULL or ""); 0 on success. */
int lct_tmpdir_remove(const char *dir);
/* Writes n bytes to path (replacing it); fails the test on an I/O error. */
void lct_write_file(const char *path, const void *data, size_t n);
/* The whole file, NUL-terminated (lct_malloc'ed, free()), its size in *n;
 * fails the test when it cannot be read. */
unsigned char *lct_read_file(const char *path, size_t *n);

/* ---- reports --------------------------------------------------------------*/
/* memcmp-equal, or fail printing the first differing index with both values,
 * their bits and the ULP distance, and `what`. */
void lct_assert_bitwise_f32(const float *got, const float *ref, int64_t n, const char *what);
/* |got - ref| <= atol + rtol*|ref| elementwise (ref in double), NaN only
 * where ref is NaN, Inf only where ref is the same Inf (the rule of
 * lib/bounds.h, lc_bound_worst_ratio); on failure print the worst index,
 * ref, got, abs and ULP error, and `what`. */
void lct_assert_close(const float *got, const double *ref, int64_t n, double atol, double rtol,
                      const char *what);
/* Same with a per-element bound tol[i] (the tolerance derived for that
 * element): |got[i] - ref[i]| <= tol[i]. */
void lct_assert_within(const float *got, const double *ref, const double *tol, int64_t n,
                       const char *what);

/* Unit roundoff of binary32. */
#define LCT_U (0x1p-24)

/* ---- oracle helpers (plain C, independent of the library's cast code) ------*/
/* gamma_n and the matmul rounding counts: lib/bounds.h (lc_bound_gamma). */
/* The float of a bf16 bit pattern (h << 16). */
float lct_bf16(uint16_t h);
/* v, with any NaN replaced by the canonical 0x7FC00000. */
float lct_canon(float v);

/* ---- attention --------------------------------------------------------------*/
/* n_heads h, n_kv_heads g, head_dim d, max_len, n_slots; the default scale. */
lc_attn_shape lct_attn_shape(int h, int g, int d, int max_len, int n_slots);
int64_t lct_attn_row_elems(const lc_attn_shape *sh);    /* n_heads * head_dim */
int64_t lct_attn_kv_row_elems(const lc_attn_shape *sh); /* n_kv_heads * head_dim */
/* Sum of seqs[i].n_q over i < n. */
int64_t lct_attn_total_rows(const lc_attn_seq *seqs, int64_t n);

/* Runs a test group with no group setup or teardown: CMocka's result. */
#define LCT_RUN(tests) cmocka_run_group_tests(tests, NULL, NULL)

#endif
