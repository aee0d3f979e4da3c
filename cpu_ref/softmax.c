/*
 * cpu_ref/softmax.c — softmax and log_softmax over the rows of x on the CPU.
 *
 * Shapes and dtypes: x, y [m][n] fp32, y may equal x; host memory; m may be 0.
 * No bf16 here.
 *
 * Strict, the canonical order v1, per row:
 *   mx  = canon_zero(max_nonan over x[i], starting at -Inf)   (NaN never wins;
 *         -0/+0 made +0, so the order they arrive in cannot show)
 *   e_i = lc_expf(x[i] - mx)
 *   sum = canonical sum of e (cpu_ref/reduce.c: 32 lanes, then the butterfly;
 *         lc_cpu_canon_sum over the stored e, or lc_cpu_canon_sum_exp from x)
 *   softmax:     y[i] = canon(e_i / sum)
 *   log_softmax: ls = lc_logf(sum);  y[i] = canon((x[i] - mx) - ls)
 * The max is exact and order-free; exp and log are the canonical polynomials of
 * cast/lc_canon.h (the same source as the GPU's); the sum has a fixed order in n.
 * Nothing depends on the batch.  What the formulas give for special rows
 * (docs/numerics.md): any NaN in a row makes the row all NaN (e = NaN, sum = NaN);
 * a row of only -Inf is all NaN (-Inf - -Inf); a +Inf in a row makes it all NaN
 * (Inf - Inf); -Inf next to finite values gives 0 (softmax) / -Inf (log_softmax).
 *
 * In place: softmax writes e into y, sums y, then divides y in place; log_softmax
 * reads x[i] a second time only at index i, just before writing y[i].
 *
 * Reference: the same steps in plain FP32 with libm expf/logf and a sequential sum,
 * NaN not canonicalised.
 */
#include <assert.h>
#include <math.h>

#include "cast/lc_canon.h"
#include "cpu_ref/cpu_ref.h"

/* canon_zero(max_nonan(x[0..n))), -Inf for a row of NaN/-Inf only.  The reference
 * uses it too: the maximum is exact, so there is no plainer way to take it. */
static float row_max(const float *x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; i++) mx = lc_max_nonan(mx, x[i]);
  return lc_canon_zero(mx);
}

/* One row of one flavour: yr[0..n) from xr[0..n) and mx = row_max(xr, n). */
typedef void (*row_fn)(const float *xr, int64_t n, float mx, float *yr);

static void rows(const float *x, int64_t m, int64_t n, float *y, row_fn row) {
  assert(m >= 0 && n >= 1);
  for (int64_t r = 0; r < m; r++) row(x + r * n, n, row_max(x + r * n, n), y + r * n);
}

LC_CPU_CLONES static void softmax_row_strict(const float *xr, int64_t n, float mx, float *yr) {
  for (int64_t i = 0; i < n; i++) yr[i] = lc_expf(xr[i] - mx);
  const float sum = lc_cpu_canon_sum(yr, n);
  for (int64_t i = 0; i < n; i++) yr[i] = lc_canon_nan(LC_DIV(yr[i], sum));
}

/* The sum of e without storing e: yr may be xr, which is still needed below. */
LC_CPU_CLONES static void log_softmax_row_strict(const float *xr, int64_t n, float mx, float *yr) {
  const float ls = lc_logf(lc_cpu_canon_sum_exp(xr, n, mx));
  for (int64_t i = 0; i < n; i++) yr[i] = lc_canon_nan((xr[i] - mx) - ls);
}

static void softmax_row_ref(const float *xr, int64_t n, float mx, float *yr) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; i++) {
    yr[i] = expf(xr[i] - mx);
    sum = sum + yr[i];
  }
  for (int64_t i = 0; i < n; i++) yr[i] = yr[i] / sum;
}

static void log_softmax_row_ref(const float *xr, int64_t n, float mx, float *yr) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; i++) sum = sum + expf(xr[i] - mx);
  const float ls = logf(sum);
  for (int64_t i = 0; i < n; i++) yr[i] = (xr[i] - mx) - ls;
}

void lc_cpu_softmax_strict(const float *x, int64_t m, int64_t n, float *y) {
  rows(x, m, n, y, softmax_row_strict);
}

void lc_cpu_log_softmax_strict(const float *x, int64_t m, int64_t n, float *y) {
  rows(x, m, n, y, log_softmax_row_strict);
}

void lc_cpu_softmax_ref(const float *x, int64_t m, int64_t n, float *y) {
  rows(x, m, n, y, softmax_row_ref);
}

void lc_cpu_log_softmax_ref(const float *x, int64_t m, int64_t n, float *y) {
  rows(x, m, n, y, log_softmax_row_ref);
}
