/*
 * tests/test_cublaslt_loader.c — cuBLASLt is loaded only when vendor work
 * needs it (lib/cublaslt_loader.c): a process that uses the CPU backend, or
 * strict CUDA contexts, never maps libcublasLt (541 MB, ~0.3 s and ~200 MB
 * of RSS at start when it was linked).  "Mapped" is read from
 * /proc/self/maps; where that is unreadable the checks skip.
 *
 * The library cannot be unloaded, so the tests that load it come last.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_barrier */

#include "test_util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if defined(LC_HAVE_CUDA)
#include "lib/cublaslt_loader.h"
#endif

/* 1 if /proc/self/maps names libcublasLt, 0 if not, -1 if unreadable. */
static int cublaslt_mapped(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return -1;
  char line[4096];
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) found = strstr(line, "libcublasLt") != NULL;
  fclose(f);
  return found;
}

static void assert_not_mapped(const char *after) {
  int m = cublaslt_mapped();
  if (m < 0) skip();
  if (m) fail_msg("libcublasLt is mapped after %s (it should load for vendor work only)", after);
}

/* A CPU context (strict and reference), its matmul and its device info
 * leave libcublasLt unmapped. */
static void test_cublaslt_loader_cpu_context_does_not_load(void **state) {
  (void)state;
  const lc_mode modes[] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    lc_context *ctx = lct_cpu(modes[i]);
    const float w[6] = {1, 2, 3, 4, 5, 6}, x[3] = {1, 1, 1};
    float y[2];
    lc_weights *wt = NULL;
    assert_int_equal(lc_weights_create(ctx, 2, 3, LC_DTYPE_F32, w, &wt), LC_OK);
    assert_int_equal(lc_matmul(ctx, x, 1, wt, NULL, y), LC_OK);
    assert_true(y[0] == 6.0f && y[1] == 15.0f);
    lc_device_info di;
    assert_int_equal(lc_context_get_device_info(ctx, &di), LC_OK);
    assert_int_equal(di.cublaslt_version, 0);
    lc_weights_free(wt);
    lc_context_free(ctx);
  }
  assert_not_mapped("CPU contexts");
}

/* A strict CUDA context and its matmul leave libcublasLt unmapped (strict
 * matmuls are layercast's kernels).  Skipped without a GPU. */
static void test_cublaslt_loader_strict_cuda_does_not_load(void **state) {
  (void)state;
  if (!lct_have_cuda()) skip();
  lc_context *ctx = lct_cuda(LC_MODE_STRICT);
  const float w[6] = {1, 2, 3, 4, 5, 6}, x[3] = {1, 1, 1};
  float *dx = NULL, *dy = NULL, y[2];
  lc_weights *wt = NULL;
  assert_int_equal(lc_weights_create(ctx, 2, 3, LC_DTYPE_F32, w, &wt), LC_OK);
  assert_int_equal(lc_buffer_alloc(ctx, sizeof x, (void **)&dx), LC_OK);
  assert_int_equal(lc_buffer_alloc(ctx, sizeof y, (void **)&dy), LC_OK);
  assert_int_equal(lc_buffer_write(ctx, dx, x, sizeof x), LC_OK);
  assert_int_equal(lc_matmul(ctx, dx, 1, wt, NULL, dy), LC_OK);
  assert_int_equal(lc_buffer_read(ctx, y, dy, sizeof y), LC_OK);
  assert_true(y[0] == 6.0f && y[1] == 15.0f);
  lc_buffer_free(ctx, dx);
  lc_buffer_free(ctx, dy);
  lc_weights_free(wt);
  lc_context_free(ctx);
  assert_not_mapped("a strict CUDA context");
}

/* A vendor-mode context loads cuBLASLt at creation and reports its
 * version (the major of the headers built against).  Skipped without a GPU. */
static void test_cublaslt_loader_vendor_context_loads(void **state) {
  (void)state;
  if (!lct_have_cuda()) skip();
  lc_context *ctx = lct_cuda(LC_MODE_VENDOR_BF16);
  int m = cublaslt_mapped();
  if (m >= 0) assert_int_equal(m, 1);
  lc_device_info di;
  assert_int_equal(lc_context_get_device_info(ctx, &di), LC_OK);
#if defined(LC_HAVE_CUDA)
  assert_int_equal(di.cublaslt_version / 10000, CUBLAS_VER_MAJOR);
#endif
  lc_context_free(ctx);
}

#if defined(LC_HAVE_CUDA)
enum { N_THREADS = 8 };

typedef struct loader_race {
  pthread_barrier_t start;           /* all threads call at once */
  const lc_cublaslt *got[N_THREADS]; /* what each thread got */
} loader_race;

typedef struct loader_arg {
  loader_race *race;
  int i;
} loader_arg;

static void *race_one(void *p) {
  loader_arg *a = p;
  pthread_barrier_wait(&a->race->start);
  a->race->got[a->i] = lc_cublaslt_api();
  return NULL;
}
#endif

/* Threads asking for cuBLASLt at once all get the same complete table
 * (pthread_once), and the library is then mapped.  Needs no GPU. */
static void test_cublaslt_loader_concurrent_first_use(void **state) {
  (void)state;
#if defined(LC_HAVE_CUDA)
  loader_race race;
  memset(&race, 0, sizeof race);
  assert_int_equal(pthread_barrier_init(&race.start, NULL, N_THREADS), 0);
  pthread_t th[N_THREADS];
  loader_arg args[N_THREADS];
  for (int i = 0; i < N_THREADS; i++) {
    args[i].race = &race;
    args[i].i = i;
    assert_int_equal(pthread_create(&th[i], NULL, race_one, &args[i]), 0);
  }
  for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&race.start);
  const lc_cublaslt *lt = race.got[0];
  if (!lt) fail_msg("cuBLASLt did not load: %s", lc_cublaslt_load_error());
  assert_string_equal(lc_cublaslt_load_error(), "");
  for (int i = 1; i < N_THREADS; i++) assert_ptr_equal(race.got[i], lt);
#define LCT_NON_NULL_(ret, name, params) \
  if (!lt->name) fail_msg("table entry %s is NULL", #name);
  LC_CUBLASLT_FUNCTIONS(LCT_NON_NULL_)
#undef LCT_NON_NULL_
  assert_int_equal(lt->cublasLtGetVersion() / 10000, CUBLAS_VER_MAJOR);
  int m = cublaslt_mapped();
  if (m >= 0) assert_int_equal(m, 1);
#else
  skip(); /* no CUDA in the build: nothing to load */
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      /* these two first: nothing may have loaded cuBLASLt yet */
      cmocka_unit_test(test_cublaslt_loader_cpu_context_does_not_load),
      cmocka_unit_test(test_cublaslt_loader_strict_cuda_does_not_load),
      cmocka_unit_test(test_cublaslt_loader_vendor_context_loads),
      cmocka_unit_test(test_cublaslt_loader_concurrent_first_use),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
