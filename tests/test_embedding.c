/*
 * tests/test_embedding.c — lc_embedding on the CPU backend.
 *
 * The lookup widens bf16 to fp32 exactly (a 16-bit shift), so every check is
 * bitwise: against the stored bf16 bits read back, against the rounding of
 * an fp32 source, row alone vs inside a batch, strict vs reference; ids out
 * of range are refused with the output untouched.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_cast.h"

static lc_weights *table_bf16(lc_context *ctx, int64_t vocab, int64_t dim, const uint16_t *src) {
  lc_weights *w = NULL;
  lc_status st = lc_weights_create(ctx, vocab, dim, LC_DTYPE_BF16, src, &w);
  if (st != LC_OK) fail_msg("lc_weights_create: %s: %s", lc_status_name(st), lc_last_error(ctx));
  return w;
}

static void embed(lc_context *ctx, const lc_weights *t, const int32_t *ids, int64_t m, float *out) {
  lc_status st = lc_embedding(ctx, t, ids, m, out);
  if (st != LC_OK) fail_msg("lc_embedding: %s: %s", lc_status_name(st), lc_last_error(ctx));
}

/* Random bf16 bit patterns of every kind: normals, subnormals, +-0, +-Inf,
 * quiet NaNs with payloads (signalling ones would be quietened by
 * lc_weights_create, which is its business, not the lookup's). */
static uint16_t *random_bf16(lct_rng *r, int64_t n) {
  uint16_t *v = lct_malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++) {
    v[i] = (uint16_t)lct_next(r);
    if ((v[i] & 0x7F80u) == 0x7F80u && (v[i] & 0x7Fu)) v[i] |= 0x40u; /* NaN: make it quiet */
  }
  v[0] = 0x8000u; /* -0 */
  v[1] = 0x7F80u; /* +Inf */
  v[2] = 0x0001u; /* smallest subnormal */
  v[3] = 0xFFC1u; /* negative quiet NaN with a payload */
  return v;
}

/* Every output element is the stored bf16 bits shifted left by 16, exactly
 * (NaN payloads, -0, Inf, subnormals included), in both modes. */
static void test_embedding_exact_widening(void **state) {
  (void)state;
  const int64_t vocab = 500, dim = 96, m = 300;
  lct_rng r = lct_rng_new(1);
  uint16_t *src = random_bf16(&r, vocab * dim);
  int32_t *ids = lct_malloc((size_t)m * sizeof(int32_t));
  for (int64_t i = 0; i < m; i++) ids[i] = (int32_t)lct_range(&r, 0, vocab - 1);
  ids[0] = 0;
  ids[m - 1] = (int32_t)vocab - 1;
  for (int mode = 0; mode < 2; mode++) {
    lc_context *ctx = lct_cpu(mode ? LC_MODE_REFERENCE : LC_MODE_STRICT);
    lc_weights *t = table_bf16(ctx, vocab, dim, src);
    uint16_t *stored = lct_malloc((size_t)(vocab * dim) * sizeof(uint16_t));
    assert_int_equal(lc_weights_read_bf16(t, stored), LC_OK);
    /* a bf16 source is already bf16: stored unchanged */
    assert_memory_equal(stored, src, (size_t)(vocab * dim) * sizeof(uint16_t));
    float *out = lct_malloc((size_t)(m * dim) * sizeof(float));
    embed(ctx, t, ids, m, out);
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < dim; j++) {
        const uint32_t want = (uint32_t)stored[ids[i] * dim + j] << 16;
        if (lc_f32_bits(out[i * dim + j]) != want)
          fail_msg("%s: row %lld (id %d) col %lld: got 0x%08X, expected 0x%08X",
                   mode ? "reference" : "strict", (long long)i, (int)ids[i], (long long)j,
                   lc_f32_bits(out[i * dim + j]), want);
      }
    free(out);
    free(stored);
    lc_weights_free(t);
    lc_context_free(ctx);
  }
  free(src);
  free(ids);
}

/* A table made from fp32 data gives back, bitwise, each value rounded to
 * bf16 (nearest even) and widened: the one rounding happens at creation. */
static void test_embedding_from_f32_table(void **state) {
  (void)state;
  const int64_t vocab = 64, dim = 40;
  lct_rng r = lct_rng_new(2);
  float *src = lct_randn(&r, vocab * dim, 5.0f);
  lc_context *ctx = lct_cpu(LC_MODE_STRICT);
  lc_weights *t = NULL;
  assert_int_equal(lc_weights_create(ctx, vocab, dim, LC_DTYPE_F32, src, &t), LC_OK);
  int32_t ids[64];
  for (int i = 0; i < 64; i++) ids[i] = 63 - i;
  float *out = lct_malloc((size_t)(vocab * dim) * sizeof(float));
  float *want = lct_malloc((size_t)(vocab * dim) * sizeof(float));
  embed(ctx, t, ids, 64, out);
  for (int64_t i = 0; i < 64; i++)
    for (int64_t j = 0; j < dim; j++)
      want[i * dim + j] = lc_bf16_to_f32(lc_f32_to_bf16(src[ids[i] * dim + j]));
  lct_assert_bitwise_f32(out, want, vocab * dim, "embedding of an fp32-made table");
  free(out);
  free(want);
  free(src);
  lc_weights_free(t);
  lc_context_free(ctx);
}

/* A row looked up alone equals, bitwise, the same id at every index of a
 * batch of 1..50 random ids; repeated ids give identical rows; strict and
 * reference agree bitwise. */
static void test_embedding_row_alone_vs_batch(void **state) {
  (void)state;
  const int64_t vocab = 1000, dim = 24;
  lct_rng r = lct_rng_new(3);
  uint16_t *src = random_bf16(&r, vocab * dim);
  lc_context *cs = lct_cpu(LC_MODE_STRICT), *cr = lct_cpu(LC_MODE_REFERENCE);
  lc_weights *ts = table_bf16(cs, vocab, dim, src), *tr = table_bf16(cr, vocab, dim, src);
  float alone[24], *out = lct_malloc((size_t)(50 * dim) * sizeof(float));
  float *out_r = lct_malloc((size_t)(50 * dim) * sizeof(float));
  const int32_t probe = 777;
  embed(cs, ts, &probe, 1, alone);
  int32_t ids[50];
  for (int B = 1; B <= 50; B++) {
    for (int b = 0; b < B; b++)
      ids[b] = (lct_next(&r) % 3) ? probe : (int32_t)lct_range(&r, 0, 999);
    embed(cs, ts, ids, B, out);
    embed(cr, tr, ids, B, out_r);
    lct_assert_bitwise_f32(out_r, out, B * dim, "reference vs strict embedding");
    for (int b = 0; b < B; b++)
      if (ids[b] == probe) lct_assert_bitwise_f32(out + b * dim, alone, dim, "row in a batch");
  }
  free(out);
  free(out_r);
  free(src);
  lc_weights_free(ts);
  lc_weights_free(tr);
  lc_context_free(cs);
  lc_context_free(cr);
}

/* An id < 0 or >= vocab anywhere in ids gives LC_ERR_OUT_OF_RANGE and leaves
 * the output untouched, in both modes. */
static void test_embedding_id_out_of_range(void **state) {
  (void)state;
  static const int32_t bad[] = {-1, 100, 101, INT32_MIN, INT32_MAX};
  const int64_t vocab = 100, dim = 8;
  lct_rng r = lct_rng_new(4);
  uint16_t *src = random_bf16(&r, vocab * dim);
  for (int mode = 0; mode < 2; mode++) {
    lc_context *ctx = lct_cpu(mode ? LC_MODE_REFERENCE : LC_MODE_STRICT);
    lc_weights *t = table_bf16(ctx, vocab, dim, src);
    float out[4 * 8], out0[4 * 8];
    for (int i = 0; i < 32; i++) out[i] = out0[i] = -3.25f;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
      for (int at = 0; at < 4; at++) {
        int32_t ids[4] = {0, 99, 5, 42};
        ids[at] = bad[i];
        lc_status st = lc_embedding(ctx, t, ids, 4, out);
        if (st != LC_ERR_OUT_OF_RANGE)
          fail_msg("ids[%d] = %d: %s, expected LC_ERR_OUT_OF_RANGE", at, (int)bad[i],
                   lc_status_name(st));
        lct_assert_bitwise_f32(out, out0, 32, "out after a rejected lc_embedding");
      }
    lc_weights_free(t);
    lc_context_free(ctx);
  }
  free(src);
}

/* m == 0 is a valid empty call: LC_OK and nothing written. */
static void test_embedding_empty_call(void **state) {
  (void)state;
  uint16_t src[4] = {0x3F80u, 0x4000u, 0x4040u, 0x4080u};
  lc_context *ctx = lct_cpu(LC_MODE_STRICT);
  lc_weights *t = table_bf16(ctx, 2, 2, src);
  int32_t ids[1] = {1};
  float out[2] = {-1.0f, -1.0f};
  assert_int_equal(lc_embedding(ctx, t, ids, 0, out), LC_OK);
  assert_true(out[0] == -1.0f && out[1] == -1.0f);
  embed(ctx, t, ids, 1, out);
  assert_true(out[0] == 3.0f && out[1] == 4.0f);
  lc_weights_free(t);
  lc_context_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_embedding_exact_widening),
      cmocka_unit_test(test_embedding_from_f32_table),
      cmocka_unit_test(test_embedding_row_alone_vs_batch),
      cmocka_unit_test(test_embedding_id_out_of_range),
      cmocka_unit_test(test_embedding_empty_call),
  };
  return LCT_RUN(tests);
}
