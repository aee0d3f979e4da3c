/*
 * lib/bounds.c — the shared error-bound rules (see lib/bounds.h).
 */
#include "lib/bounds.h"

#include <math.h>

#include "cast/lc_canon.h"

double lc_bound_gamma(double n) {
  return n * LC_BOUND_U / (1.0 - n * LC_BOUND_U);
}

int64_t lc_bound_reduce_strict_rounds(int64_t n) {
  int64_t butterfly = 0; /* log2 of the lane count: 5 for 32 */
  for (int64_t l = LC_REDUCE_LANES; l > 1; l >>= 1) butterfly++;
  return (n + LC_REDUCE_LANES - 1) / LC_REDUCE_LANES + butterfly;
}

int64_t lc_bound_matmul_strict_rounds(int64_t k, int bias) {
  const int64_t ls = LC_MATMUL_SEG_LEN;
  const int64_t l = k < ls ? k : ls, s = (k + ls - 1) / ls;
  return l + s - 1 + (bias ? 1 : 0);
}

int64_t lc_bound_matmul_any_order_rounds(int64_t k, int bias) {
  return k + (bias ? 1 : 0);
}

static int64_t fast_mmas_per_chunk(int64_t k, int parts) {
  const int64_t l = k < LC_FAST_CHUNK ? k : LC_FAST_CHUNK;
  return parts * ((l + LC_MMA_K - 1) / LC_MMA_K);
}

double lc_bound_matmul_fast_coeff(int64_t k, int parts, int bias) {
  const double u_mma = 17.0 * 0x1p-25 + 0x1p-23;
  const int64_t chunks = (k + LC_FAST_CHUNK - 1) / LC_FAST_CHUNK;
  const double q = (double)fast_mmas_per_chunk(k, parts);
  /* a chunk result meets at most 3 additions in its segment (4 chunks of
   * LC_MATMUL_SEG_LEN), then S - 1 segment additions */
  const int64_t per_seg = LC_MATMUL_SEG_LEN / LC_FAST_CHUNK;
  const int64_t segs = (k + LC_MATMUL_SEG_LEN - 1) / LC_MATMUL_SEG_LEN;
  const int64_t adds = (chunks < per_seg ? chunks : per_seg) - 1 + segs - 1 + (bias ? 1 : 0);
  return (parts == 1 ? 0x1p-9 : 0.0) + 1.01 * q * u_mma + lc_bound_gamma((double)adds);
}

double lc_bound_matmul_fast_abs(int64_t k, int parts) {
  const int64_t chunks = (k + LC_FAST_CHUNK - 1) / LC_FAST_CHUNK;
  return (double)fast_mmas_per_chunk(k, parts) * (double)chunks * 0x1p-146;
}

double lc_bound_ratio(double got, double ref, double tol) {
  /* NaN agrees only with NaN: a NaN where the other side has a number is a
   * wrong result whatever the bound; two NaNs are the same outcome (their
   * payloads are not compared: reference mode keeps the hardware's). */
  if (isnan(got) || isnan(ref)) return (isnan(got) && isnan(ref)) ? 0.0 : INFINITY;
  /* Inf agrees only with the same Inf: no finite bound covers Inf - x. */
  if (isinf(got) || isinf(ref)) return got == ref ? 0.0 : INFINITY;
  const double err = fabs(got - ref);
  return tol > 0 ? err / tol : (err > 0 ? INFINITY : 0.0);
}

double lc_bound_worst_ratio(const float *got, const double *ref, const double *tol, int64_t n,
                            int64_t *worst) {
  double w = 0.0;
  int64_t at = n > 0 ? 0 : -1;
  for (int64_t i = 0; i < n; i++) {
    const double r = lc_bound_ratio((double)got[i], ref[i], tol ? tol[i] : 0.0);
    if (r > w) {
      w = r;
      at = i;
    }
  }
  if (worst) *worst = at;
  return w;
}
