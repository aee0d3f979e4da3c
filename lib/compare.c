/*
 * lib/compare.c — comparison helpers shared by the tests and by users:
 * max abs / rel error, ULP distances and their histogram, bitwise equality.
 */
#include <math.h>
#include <string.h>

#include "cast/lc_cast.h"
#include "lib/lc_internal.h"

/* Maps a float's bits onto a line where adjacent floats differ by one and
 * -0 and +0 coincide (both map to 0). */
static int64_t ordinal(float f) {
  uint32_t u = lc_f32_bits(f);
  int64_t mag = (int64_t)(u & 0x7FFFFFFFu);
  return (u & 0x80000000u) ? -mag : mag;
}

uint64_t lc_ulp_distance_f32(float a, float b) {
  if (lc_f32_isnan(a) || lc_f32_isnan(b)) return UINT64_MAX;
  int64_t d = ordinal(a) - ordinal(b);
  return (uint64_t)(d < 0 ? -d : d);
}

int lc_ulp_bucket(uint64_t d) {
  if (d == 0) return 0;
  if (d == 1) return 1;
  int bits = 64 - __builtin_clzll(d - 1); /* ceil(log2(d)) */
  int b = 1 + bits;
  return b < LC_ULP_BUCKETS ? b : LC_ULP_BUCKETS - 1;
}

lc_status lc_compare_f32(const float *got, const float *ref, int64_t n, lc_compare_result *out) {
  if (!out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_compare_f32: out is NULL");
  if (n < 0)
    return LC_FAIL(NULL, LC_ERR_SHAPE, "lc_compare_f32: n = %lld is negative", (long long)n);
  if (n > 0 && (!got || !ref))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_compare_f32: got or ref is NULL");
  memset(out, 0, sizeof *out);
  out->n = n;
  out->first_diff = out->max_abs_index = out->max_rel_index = out->max_ulp_index = -1;
  for (int64_t i = 0; i < n; i++) {
    float g = got[i], r = ref[i];
    if (lc_f32_bits(g) == lc_f32_bits(r)) {
      out->n_bitwise_equal++;
    } else if (out->first_diff < 0) {
      out->first_diff = i;
    }
    int gn = lc_f32_isnan(g), rn = lc_f32_isnan(r);
    if (gn || rn) {
      if (gn != rn) out->n_nan_mismatch++;
      continue;
    }
    double abs_err = (g == r) ? 0.0 : fabs((double)g - (double)r); /* Inf - Inf guarded */
    if (out->max_abs_index < 0 || abs_err > out->max_abs) {
      out->max_abs = abs_err;
      out->max_abs_index = i;
    }
    if (isfinite(g) && isfinite(r) && r != 0.0f) {
      double rel = abs_err / fabs((double)r);
      if (out->max_rel_index < 0 || rel > out->max_rel) {
        out->max_rel = rel;
        out->max_rel_index = i;
      }
    }
    uint64_t d = lc_ulp_distance_f32(g, r);
    out->ulp_hist[lc_ulp_bucket(d)]++;
    if (out->max_ulp_index < 0 || d > out->max_ulp) {
      out->max_ulp = d;
      out->max_ulp_index = i;
    }
  }
  return LC_OK;
}
