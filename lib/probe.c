/*
 * lib/probe.c — one matmul row inside batches of many sizes
 * (lc_matmul_probe, layercast_experiment.h): the smallest experiment that
 * shows batch invariance, and the first half of `layercast demo --matmul`.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/exp_internal.h"

static const char FN[] = "lc_matmul_probe";

static const int64_t SIZES[LC_PROBE_SIZES] = {1,  2,  3,  4,  5,  7,   8,   9,   15,  16,  17, 31,
                                              32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257};

static double normwise(const float *a, const float *b, int64_t n) {
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)a[i] - (double)b[i];
    num += d * d;
    den += (double)b[i] * (double)b[i];
  }
  return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

/* Runs every batch size in one mode; rows [size][first/last][n] into res. */
static lc_status run_mode(const lc_probe_params *p, lc_mode mode, const float *w,
                          const float *probe, float *x, float *y, float *res, double *seconds) {
  const int64_t k = p->k, n = p->n;
  lc_context_params cp;
  lc_context_params_default(&cp);
  cp.backend = p->backend;
  cp.mode = mode;
  cp.device = p->device;
  cp.cpu_threads = p->cpu_threads;
  lc_context *ctx = NULL;
  lc_weights *wt = NULL;
  float *dx = NULL, *dy = NULL;
  LC_TRY(lc_context_create(&cp, &ctx));
  const size_t max_m = (size_t)SIZES[LC_PROBE_SIZES - 1];
  lc_status st = lc_weights_create(ctx, n, k, LC_DTYPE_F32, w, &wt);
  if (st == LC_OK) st = lc_buffer_alloc(ctx, max_m * (size_t)k * sizeof(float), (void **)&dx);
  if (st == LC_OK) st = lc_buffer_alloc(ctx, max_m * (size_t)n * sizeof(float), (void **)&dy);
  for (int si = 0; si < LC_PROBE_SIZES && st == LC_OK; si++) {
    const int64_t m = SIZES[si];
    uint64_t rs = p->seed * 1000003u + (uint64_t)m; /* other rows differ per batch */
    for (int64_t i = 0; i < m * k; i++) x[i] = lc_splitmix_normal(&rs);
    memcpy(x, probe, (size_t)k * sizeof *x);               /* first position */
    memcpy(x + (m - 1) * k, probe, (size_t)k * sizeof *x); /* last position */
    st = lc_buffer_write(ctx, dx, x, (size_t)(m * k) * sizeof *x);
    double t0 = lc_now_s();
    if (st == LC_OK) st = lc_matmul(ctx, dx, m, wt, NULL, dy);
    if (st == LC_OK) st = lc_context_synchronize(ctx);
    *seconds += lc_now_s() - t0;
    if (st == LC_OK) st = lc_buffer_read(ctx, y, dy, (size_t)(m * n) * sizeof *y);
    float *r = res + (size_t)si * 2 * (size_t)n;
    if (st == LC_OK) {
      memcpy(r, y, (size_t)n * sizeof *y);
      memcpy(r + n, y + (m - 1) * n, (size_t)n * sizeof *y);
    }
  }
  if (st != LC_OK) {
    char msg[LC_ERR_LEN];
    snprintf(msg, sizeof msg, "%s", lc_last_error(ctx));
    st = LC_FAIL(NULL, st, "%s: %s", FN, msg);
  }
  lc_buffer_free(ctx, dx);
  lc_buffer_free(ctx, dy);
  lc_weights_free(wt);
  lc_context_free(ctx);
  return st;
}

lc_status lc_matmul_probe(const lc_probe_params *p, lc_probe_result *out) {
  if (!p || !out || !p->modes)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: NULL argument", FN);
  if (p->k < 1 || p->n < 1 || p->k > (1 << 20) || p->n > (1 << 20) || p->n_modes < 1 ||
      p->n_modes > LC_PROBE_MAX_MODES || p->cpu_threads < 0)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "%s: need 1 <= K, N <= 2^20, 1 .. %d modes and cpu_threads >= 0", FN,
                   LC_PROBE_MAX_MODES);
  memset(out, 0, sizeof *out);
  memcpy(out->sizes, SIZES, sizeof SIZES);
  const int64_t k = p->k, n = p->n, max_m = SIZES[LC_PROBE_SIZES - 1];
  const size_t per_mode = (size_t)LC_PROBE_SIZES * 2 * (size_t)n;
  float *w = lc_malloc((size_t)(n * k) * sizeof *w),
        *x = lc_malloc((size_t)(max_m * k) * sizeof *x);
  float *y = lc_malloc((size_t)(max_m * n) * sizeof *y),
        *probe = lc_malloc((size_t)k * sizeof *probe);
  float *res = lc_malloc((size_t)p->n_modes * per_mode * sizeof *res);
  lc_status st = LC_OK;
  if (!w || !x || !y || !probe || !res)
    st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory for K = %lld, N = %lld", FN,
                 (long long)k, (long long)n);
  if (st == LC_OK) {
    uint64_t s = p->seed;
    const float wscale = 1.0f / sqrtf((float)k); /* keeps |y| near 1 */
    for (int64_t i = 0; i < n * k; i++) w[i] = wscale * lc_splitmix_normal(&s);
    for (int64_t i = 0; i < k; i++) probe[i] = lc_splitmix_normal(&s);
  }
  for (int32_t mi = 0; mi < p->n_modes && st == LC_OK; mi++) {
    out->modes[mi].mode = p->modes[mi];
    st = run_mode(p, p->modes[mi], w, probe, x, y, res + (size_t)mi * per_mode,
                  &out->modes[mi].seconds);
  }
  /* distinct results of the probe row per mode, and the distance to the
   * first mode's row at M = 1 */
  for (int32_t mi = 0; mi < p->n_modes && st == LC_OK; mi++) {
    const float *rows = res + (size_t)mi * per_mode;
    const int n_rows = LC_PROBE_SIZES * 2;
    int distinct = 0;
    for (int i = 0; i < n_rows; i++) {
      int seen = 0;
      for (int j = 0; j < i && !seen; j++)
        seen = memcmp(rows + (size_t)i * n, rows + (size_t)j * n, (size_t)n * sizeof(float)) == 0;
      distinct += !seen;
      double d = normwise(rows + (size_t)i * n, res, n);
      if (d > out->modes[mi].max_normwise) out->modes[mi].max_normwise = d;
    }
    out->modes[mi].distinct = distinct;
  }
  out->n_modes = st == LC_OK ? p->n_modes : 0;
  free(w), free(x), free(y), free(probe), free(res);
  return st;
}
