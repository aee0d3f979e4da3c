/*
 * tests/test_rope.c — lc_rope_create and lc_rope_apply on the CPU backend.
 *
 * The table (read back through the op itself: rotating the pair (1, 0) by
 * position p gives exactly (cos, sin) in both modes, see read_table) against
 * cos/sin in double; the rotation of both pair styles against a float64
 * oracle that uses the same float table values; strict equal bitwise to the
 * formula of the canonical order; rows alone vs inside a batch bitwise; bad
 * positions rejected with x untouched.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_canon.h"

static lc_rope *rope_new(lc_context *ctx, int64_t hd, int64_t max_pos, double theta,
                         lc_rope_style style, const double *inv_freq) {
  lc_rope *rope = NULL;
  lc_status st = lc_rope_create(ctx, hd, max_pos, theta, style, inv_freq, &rope);
  if (st != LC_OK) fail_msg("lc_rope_create: %s: %s", lc_status_name(st), lc_last_error(ctx));
  return rope;
}

static void rope_apply(lc_context *ctx, const lc_rope *rope, float *x, int64_t m, int64_t nh,
                       const int32_t *pos) {
  lc_status st = lc_rope_apply(ctx, rope, x, m, nh, pos);
  if (st != LC_OK) fail_msg("lc_rope_apply: %s: %s", lc_status_name(st), lc_last_error(ctx));
}

/* Index of the two elements of pair i (the layouts of layercast.h). */
static void pair_of(lc_rope_style style, int64_t hd, int64_t i, int64_t *ia, int64_t *ib) {
  *ia = style == LC_ROPE_INTERLEAVED ? 2 * i : i;
  *ib = style == LC_ROPE_INTERLEAVED ? 2 * i + 1 : i + hd / 2;
}

/* The float table [max_pos][hd/2], read through lc_rope_apply: the pair
 * (a, b) = (1, 0) becomes exactly (c, s) in both modes, since
 * fma(1, c, -(0*s)) = c + (-+0) = c and fma(1, s, 0*c) = s + (+-0) = s
 * (likewise 1*c - 0*s and 1*s + 0*c), for every c, s that are not -0. */
static void read_table(lc_context *ctx, const lc_rope *rope, int64_t hd, int64_t max_pos,
                       lc_rope_style style, float *cos_t, float *sin_t) {
  const int64_t half = hd / 2;
  float *x = lct_malloc_f(max_pos * hd);
  int32_t *pos = lct_malloc((size_t)max_pos * sizeof(int32_t));
  for (int64_t p = 0; p < max_pos; p++) {
    pos[p] = (int32_t)p;
    for (int64_t i = 0; i < half; i++) {
      int64_t ia, ib;
      pair_of(style, hd, i, &ia, &ib);
      x[p * hd + ia] = 1.0f;
      x[p * hd + ib] = 0.0f;
    }
  }
  rope_apply(ctx, rope, x, max_pos, 1, pos);
  for (int64_t p = 0; p < max_pos; p++)
    for (int64_t i = 0; i < half; i++) {
      int64_t ia, ib;
      pair_of(style, hd, i, &ia, &ib);
      cos_t[p * half + i] = x[p * hd + ia];
      sin_t[p * half + i] = x[p * hd + ib];
    }
  free(x);
  free(pos);
}

/* Each table entry is the float nearest cos (sin) of the double angle: the
 * distance to the double value is at most half the float spacing at the
 * entry, plus the double computation's own error: the angle p * f carries a
 * relative error below 2^-49 (f = theta^(-2i/hd): the exponent rounded once,
 * pow within 1 ulp, times |ln theta| <= 14 for theta <= 1e6; the product one
 * more rounding), which moves cos and sin by at most |angle| 2^-48, and
 * libm's cos/sin are within 1 ulp (<= 2^-52 on [-1, 1]). */
static void check_table(const float *tab, const double *angle, int64_t n, int is_sin,
                        const char *what) {
  double *ref = lct_malloc((size_t)n * sizeof(double));
  double *tol = lct_malloc((size_t)n * sizeof(double));
  for (int64_t e = 0; e < n; e++) {
    ref[e] = is_sin ? sin(angle[e]) : cos(angle[e]);
    const float t = fabsf(tab[e]);
    const double half_spacing = 0.5 * ((double)nextafterf(t, INFINITY) - (double)t);
    tol[e] = half_spacing + fabs(angle[e]) * 0x1p-48 + 0x1p-52;
  }
  lct_assert_within(tab, ref, tol, n, what);
  free(ref);
  free(tol);
}

static void table_case(int64_t hd, int64_t max_pos, double theta, const double *inv_freq,
                       lc_rope_style style) {
  for (int mode = 0; mode < 2; mode++) {
    lc_context *ctx = lct_cpu(mode ? LC_MODE_REFERENCE : LC_MODE_STRICT);
    lc_rope *rope = rope_new(ctx, hd, max_pos, theta, style, inv_freq);
    const int64_t half = hd / 2, n = max_pos * half;
    float *c = lct_malloc_f(n), *s = lct_malloc_f(n);
    read_table(ctx, rope, hd, max_pos, style, c, s);
    double *angle = lct_malloc((size_t)n * sizeof(double));
    for (int64_t p = 0; p < max_pos; p++)
      for (int64_t i = 0; i < half; i++) {
        double f = inv_freq ? inv_freq[i] : pow(theta, -2.0 * (double)i / (double)hd);
        angle[p * half + i] = (double)p * f;
      }
    char what[128];
    snprintf(what, sizeof what, "cos table, hd %lld, theta %g, %s, %s", (long long)hd, theta,
             inv_freq ? "given inv_freq" : "theta", mode ? "reference" : "strict");
    check_table(c, angle, n, 0, what);
    what[0] = 's', what[1] = 'i', what[2] = 'n';
    check_table(s, angle, n, 1, what);
    free(angle);
    free(c);
    free(s);
    lc_rope_free(rope);
    lc_context_free(ctx);
  }
}

/* The table holds the float nearest cos/sin(pos * theta^(-2i/hd)) (within
 * the double's own error) at every position and frequency. */
static void test_rope_table_vs_double(void **state) {
  (void)state;
  table_case(128, 4096, 10000.0, NULL, LC_ROPE_INTERLEAVED);
  table_case(64, 2048, 1000000.0, NULL, LC_ROPE_HALF);
  table_case(2, 300, 10000.0, NULL, LC_ROPE_HALF);
}

/* With inv_freq given (scaled RoPE), the table is cos/sin(pos * inv_freq[i]). */
static void test_rope_table_given_inv_freq(void **state) {
  (void)state;
  double f[48];
  lct_rng r = lct_rng_new(3);
  for (int i = 0; i < 48; i++) f[i] = pow(500000.0, -i / 48.0) / (1.0 + 7.0 * lct_uniform(&r));
  f[5] = 0.0; /* a frozen frequency: cos 1, sin 0 at every position */
  table_case(96, 1024, 0.0, f, LC_ROPE_HALF);
}

/* Rotation vs a float64 oracle using the same float table values:
 *   a' = a c - b s, b' = a s + b c  in double.
 * Strict a' = fma(a, c, -(b*s)): b*s rounds once (u |b s|), the fma once
 * (u |a'|): |err| <= u |ref| + (1+u) u |b s|; b' likewise with |b c|.
 * Reference a' = a*c - b*s: two products and a subtraction:
 * |err| <= u |ref| + (1+u) u (|a c| + |b s|).  2^-148 covers subnormal
 * results (none with these inputs, but the bound stays true). */
static void rotation_case(lc_rope_style style, int mode, int64_t hd, int64_t nh, uint64_t seed) {
  const int64_t max_pos = 2048, m = 300, half = hd / 2;
  lc_context *ctx = lct_cpu(mode ? LC_MODE_REFERENCE : LC_MODE_STRICT);
  lc_rope *rope = rope_new(ctx, hd, max_pos, 10000.0, style, NULL);
  float *c = lct_malloc_f(max_pos * half), *s = lct_malloc_f(max_pos * half);
  read_table(ctx, rope, hd, max_pos, style, c, s);
  lct_rng r = lct_rng_new(seed);
  const int64_t n = m * nh * hd;
  float *x = lct_randn(&r, n, 3.0f);
  for (int64_t i = 0; i < n; i += 7) x[i] = lct_uniformf(&r, -1e4f, 1e4f); /* wider range */
  int32_t *pos = lct_malloc((size_t)m * sizeof(int32_t));
  for (int64_t i = 0; i < m; i++) pos[i] = (int32_t)lct_range(&r, 0, max_pos - 1);
  pos[0] = 0;
  pos[1] = (int32_t)max_pos - 1;
  pos[2] = pos[3] = 1000; /* repeated */
  double *ref = lct_malloc((size_t)n * sizeof(double)),
         *tol = lct_malloc((size_t)n * sizeof(double));
  for (int64_t row = 0; row < m; row++)
    for (int64_t h = 0; h < nh; h++)
      for (int64_t i = 0; i < half; i++) {
        int64_t ia, ib;
        pair_of(style, hd, i, &ia, &ib);
        const int64_t base = (row * nh + h) * hd;
        const double a = x[base + ia], b = x[base + ib];
        const double cc = c[pos[row] * half + i], ss = s[pos[row] * half + i];
        ref[base + ia] = a * cc - b * ss;
        ref[base + ib] = a * ss + b * cc;
        const double u = LCT_U, tiny = 0x1p-148;
        tol[base + ia] = u * fabs(ref[base + ia]) +
                         (1 + u) * u * (fabs(b * ss) + (mode ? fabs(a * cc) : 0.0)) + tiny;
        tol[base + ib] = u * fabs(ref[base + ib]) +
                         (1 + u) * u * (fabs(b * cc) + (mode ? fabs(a * ss) : 0.0)) + tiny;
      }
  rope_apply(ctx, rope, x, m, nh, pos);
  char what[96];
  snprintf(what, sizeof what, "rope %s, %s, hd %lld", style ? "half" : "interleaved",
           mode ? "reference" : "strict", (long long)hd);
  lct_assert_within(x, ref, tol, n, what);
  free(ref);
  free(tol);
  free(x);
  free(pos);
  free(c);
  free(s);
  lc_rope_free(rope);
  lc_context_free(ctx);
}

/* Interleaved pairs (x[2i], x[2i+1]): strict and reference within the
 * derived bound of the float64 rotation, at arbitrary positions. */
static void test_rope_interleaved_vs_oracle(void **state) {
  (void)state;
  for (int mode = 0; mode < 2; mode++) {
    rotation_case(LC_ROPE_INTERLEAVED, mode, 128, 4, 11);
    rotation_case(LC_ROPE_INTERLEAVED, mode, 6, 3, 12);
  }
}

/* Half pairs (x[i], x[i + hd/2]): strict and reference within the derived
 * bound of the float64 rotation, at arbitrary positions. */
static void test_rope_half_vs_oracle(void **state) {
  (void)state;
  for (int mode = 0; mode < 2; mode++) {
    rotation_case(LC_ROPE_HALF, mode, 64, 4, 13);
    rotation_case(LC_ROPE_HALF, mode, 2, 5, 14);
  }
}

/* Strict equals, bitwise, canon(fma(a, c, -(b*s))), canon(fma(a, s, b*c))
 * with the table's values, for any input bits (NaN, Inf, subnormals), and
 * every NaN it writes is 0x7FC00000. */
static void test_rope_strict_matches_spec(void **state) {
  (void)state;
  const int64_t hd = 16, nh = 3, max_pos = 64, m = 500, half = hd / 2;
  lc_context *ctx = lct_cpu(LC_MODE_STRICT);
  for (int style = 0; style < 2; style++) {
    lc_rope *rope = rope_new(ctx, hd, max_pos, 10000.0, (lc_rope_style)style, NULL);
    float *c = lct_malloc_f(max_pos * half), *s = lct_malloc_f(max_pos * half);
    read_table(ctx, rope, hd, max_pos, (lc_rope_style)style, c, s);
    lct_rng r = lct_rng_new(20 + (uint64_t)style);
    const int64_t n = m * nh * hd;
    float *x = lct_malloc_f(n), *want = lct_malloc_f(n);
    for (int64_t i = 0; i < n; i++) x[i] = (i % 3) ? lct_any_bits(&r) : lct_normalf(&r);
    int32_t *pos = lct_malloc((size_t)m * sizeof(int32_t));
    for (int64_t i = 0; i < m; i++) pos[i] = (int32_t)lct_range(&r, 0, max_pos - 1);
    for (int64_t row = 0; row < m; row++)
      for (int64_t h = 0; h < nh; h++)
        for (int64_t i = 0; i < half; i++) {
          int64_t ia, ib;
          pair_of((lc_rope_style)style, hd, i, &ia, &ib);
          const int64_t b0 = (row * nh + h) * hd;
          const float a = x[b0 + ia], b = x[b0 + ib];
          const float cc = c[pos[row] * half + i], ss = s[pos[row] * half + i];
          want[b0 + ia] = lc_canon_nan(fmaf(a, cc, -(b * ss)));
          want[b0 + ib] = lc_canon_nan(fmaf(a, ss, b * cc));
        }
    rope_apply(ctx, rope, x, m, nh, pos);
    lct_assert_bitwise_f32(x, want, n,
                           style ? "strict half vs spec" : "strict interleaved vs spec");
    int64_t n_nan = 0;
    for (int64_t i = 0; i < n; i++)
      if (lc_f32_isnan(x[i])) {
        n_nan++;
        assert_int_equal(lc_f32_bits(x[i]), LC_F32_CANONICAL_NAN_BITS);
      }
    assert_true(n_nan > 0);
    free(x);
    free(want);
    free(pos);
    free(c);
    free(s);
    lc_rope_free(rope);
  }
  lc_context_free(ctx);
}

/* Position 0 rotates by angle 0 (cos 1, sin 0 exactly): x comes back
 * bitwise unchanged (nonzero inputs), in both modes and styles. */
static void test_rope_position_zero_is_identity(void **state) {
  (void)state;
  for (int mode = 0; mode < 2; mode++)
    for (int style = 0; style < 2; style++) {
      lc_context *ctx = lct_cpu(mode ? LC_MODE_REFERENCE : LC_MODE_STRICT);
      lc_rope *rope = rope_new(ctx, 32, 8, 10000.0, (lc_rope_style)style, NULL);
      lct_rng r = lct_rng_new(30);
      const int64_t m = 5, nh = 2, n = m * nh * 32;
      float *x = lct_randn(&r, n, 10.0f), *x0 = lct_malloc_f(n);
      memcpy(x0, x, (size_t)n * sizeof(float));
      int32_t pos[5] = {0, 0, 0, 0, 0};
      rope_apply(ctx, rope, x, m, nh, pos);
      lct_assert_bitwise_f32(x, x0, n, "rope at position 0");
      free(x);
      free(x0);
      lc_rope_free(rope);
      lc_context_free(ctx);
    }
}

/* A row rotated alone equals, bitwise, the same row inside batches of 1..40
 * rows at every index, the other rows random or poisoned (NaN, Inf, ...). */
static void test_rope_row_alone_vs_batch_bitwise(void **state) {
  (void)state;
  const int64_t hd = 64, nh = 4, re = hd * nh, max_pos = 512;
  lc_context *ctx = lct_cpu(LC_MODE_STRICT);
  lc_rope *rope = rope_new(ctx, hd, max_pos, 10000.0, LC_ROPE_HALF, NULL);
  lct_rng r = lct_rng_new(40);
  float *probe = lct_randn(&r, re, 2.0f), *alone = lct_malloc_f(re);
  const int32_t probe_pos = 300;
  memcpy(alone, probe, (size_t)re * sizeof(float));
  rope_apply(ctx, rope, alone, 1, nh, &probe_pos);
  float *x = lct_malloc_f(40 * re);
  int32_t pos[40];
  for (int B = 1; B <= 40; B++)
    for (int at = 0; at < B; at++) {
      for (int b = 0; b < B; b++) {
        if (b == at) continue;
        pos[b] = (int32_t)lct_range(&r, 0, max_pos - 1);
        if ((b + B) % 2)
          lct_fill_poison(x + b * re, re, b + B, &r);
        else
          for (int64_t i = 0; i < re; i++) x[b * re + i] = lct_normalf(&r);
      }
      memcpy(x + at * re, probe, (size_t)re * sizeof(float));
      pos[at] = probe_pos;
      rope_apply(ctx, rope, x, B, nh, pos);
      char what[64];
      snprintf(what, sizeof what, "row %d of a batch of %d", at, B);
      lct_assert_bitwise_f32(x + at * re, alone, re, what);
    }
  free(x);
  free(probe);
  free(alone);
  lc_rope_free(rope);
  lc_context_free(ctx);
}

/* A position < 0 or >= max_pos anywhere in pos gives LC_ERR_OUT_OF_RANGE
 * and leaves x untouched, in both modes. */
static void test_rope_pos_out_of_range(void **state) {
  (void)state;
  static const int32_t bad[] = {-1, 100, 101, INT32_MIN, INT32_MAX};
  for (int mode = 0; mode < 2; mode++) {
    lc_context *ctx = lct_cpu(mode ? LC_MODE_REFERENCE : LC_MODE_STRICT);
    lc_rope *rope = rope_new(ctx, 8, 100, 10000.0, LC_ROPE_INTERLEAVED, NULL);
    lct_rng r = lct_rng_new(50);
    float *x = lct_randn(&r, 4 * 2 * 8, 1.0f), *x0 = lct_malloc_f(4 * 2 * 8);
    memcpy(x0, x, sizeof(float) * 4 * 2 * 8);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
      for (int at = 0; at < 4; at++) {
        int32_t pos[4] = {0, 99, 5, 50};
        pos[at] = bad[i];
        lc_status st = lc_rope_apply(ctx, rope, x, 4, 2, pos);
        if (st != LC_ERR_OUT_OF_RANGE)
          fail_msg("pos[%d] = %d: %s, expected LC_ERR_OUT_OF_RANGE", at, (int)bad[i],
                   lc_status_name(st));
        lct_assert_bitwise_f32(x, x0, 4 * 2 * 8, "x after a rejected lc_rope_apply");
      }
    free(x);
    free(x0);
    lc_rope_free(rope);
    lc_context_free(ctx);
  }
}

/* lc_rope_create refuses an odd, zero or too large head_dim, max_pos < 1, a
 * theta that is not finite and > 0, and a non-finite inv_freq entry, leaving
 * *out NULL. */
static void test_rope_create_rejects_bad_arguments(void **state) {
  (void)state;
  lc_context *ctx = lct_cpu(LC_MODE_STRICT);
  double f[4] = {1.0, 0.5, NAN, 0.1};
  struct {
    int64_t hd, max_pos;
    double theta;
    const double *inv;
  } bad[] = {{7, 10, 1e4, NULL},  {0, 10, 1e4, NULL},      {LC_MAX_HEAD_DIM + 2, 10, 1e4, NULL},
             {8, 0, 1e4, NULL},   {8, -5, 1e4, NULL},      {8, 10, 0.0, NULL},
             {8, 10, -1.0, NULL}, {8, 10, INFINITY, NULL}, {8, 10, NAN, NULL},
             {8, 10, 1e4, f}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    lc_rope *rope = (lc_rope *)&f; /* any non-NULL value: must become NULL */
    lc_status st = lc_rope_create(ctx, bad[i].hd, bad[i].max_pos, bad[i].theta, LC_ROPE_HALF,
                                  bad[i].inv, &rope);
    if (st == LC_OK) fail_msg("case %d accepted", (int)i);
    assert_null(rope);
  }
  lc_context_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rope_table_vs_double),
      cmocka_unit_test(test_rope_table_given_inv_freq),
      cmocka_unit_test(test_rope_interleaved_vs_oracle),
      cmocka_unit_test(test_rope_half_vs_oracle),
      cmocka_unit_test(test_rope_strict_matches_spec),
      cmocka_unit_test(test_rope_position_zero_is_identity),
      cmocka_unit_test(test_rope_row_alone_vs_batch_bitwise),
      cmocka_unit_test(test_rope_pos_out_of_range),
      cmocka_unit_test(test_rope_create_rejects_bad_arguments),
  };
  return LCT_RUN(tests);
}
