/*
 * tests/test_api.c — the public API's contract on bad input: every entry
 * point with NULL pointers, zero, negative and overflowing sizes, unknown
 * enum values, mismatched shapes, foreign objects and overlapping buffers
 * returns its documented status, writes nothing, leaves a message, and
 * leaks nothing (the sanitizer build of this file checks the last part).
 */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EXPECT(call, status)                                                               \
  do {                                                                                     \
    lc_status st_ = (call);                                                                \
    if (st_ != (status))                                                                   \
      fail_msg("%s returned %s, expected %s (last error: %s)", #call, lc_status_name(st_), \
               lc_status_name(status), lc_last_error(NULL));                               \
  } while (0)

/* The fixture: a strict CPU context, a 4x8 matrix, a bias [1][4], an RMSNorm
 * weight [1][8], and buffers big enough for every op below. */
typedef struct fx {
  lc_context *ctx, *other;
  lc_weights *w, *bias, *norm, *w_other;
  lc_rope *rope;
  float x[64], y[64];
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  f->ctx = lct_cpu(LC_MODE_STRICT);
  f->other = lct_cpu(LC_MODE_STRICT);
  float data[32];
  for (int i = 0; i < 32; i++) data[i] = 0.25f * (float)(i - 16);
  if (lc_weights_create(f->ctx, 4, 8, LC_DTYPE_F32, data, &f->w) != LC_OK) return -1;
  if (lc_weights_create(f->ctx, 1, 4, LC_DTYPE_F32, data, &f->bias) != LC_OK) return -1;
  if (lc_weights_create(f->ctx, 1, 8, LC_DTYPE_F32, data, &f->norm) != LC_OK) return -1;
  if (lc_weights_create(f->other, 4, 8, LC_DTYPE_F32, data, &f->w_other) != LC_OK) return -1;
  if (lc_rope_create(f->ctx, 8, 16, 10000.0, LC_ROPE_HALF, NULL, &f->rope) != LC_OK) return -1;
  for (int i = 0; i < 64; i++) f->x[i] = (float)i * 0.01f;
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  lc_rope_free(f->rope);
  lc_weights_free(f->w);
  lc_weights_free(f->bias);
  lc_weights_free(f->norm);
  lc_weights_free(f->w_other);
  lc_context_free(f->ctx);
  lc_context_free(f->other);
  free(f);
  return 0;
}

/* Poisons y, so a test can check that a failing call wrote nothing. */
static void poison_y(fx *f) {
  memset(f->y, 0xA5, sizeof f->y);
}
static void assert_y_untouched(const fx *f) {
  unsigned char ref[sizeof f->y];
  memset(ref, 0xA5, sizeof ref);
  assert_memory_equal(f->y, ref, sizeof ref);
}

/* The status lookups cover the whole list and say "unknown" past it. */
static void test_api_status_lookups(void **state) {
  (void)state;
  assert_string_equal(lc_status_name(LC_OK), "LC_OK");
  assert_string_equal(lc_status_name(LC_ERR_SHAPE), "LC_ERR_SHAPE");
  assert_string_equal(lc_status_name(LC_ERR_INTERNAL), "LC_ERR_INTERNAL");
  assert_string_equal(lc_status_name((lc_status)999), "LC_STATUS_UNKNOWN");
  assert_string_equal(lc_status_string((lc_status)-1), "unknown status");
  /* values are pinned: they are part of the ABI */
  assert_int_equal(LC_ERR_INVALID_ARGUMENT, 1);
  assert_int_equal(LC_ERR_OUT_OF_RANGE, 9);
  assert_int_equal(LC_ERR_INTERNAL, 13);
  assert_int_equal(LC_ERR_NOT_FOUND, 14);
  assert_string_equal(lc_status_name(LC_ERR_NOT_FOUND), "LC_ERR_NOT_FOUND");
  for (int s = 0; s <= 14; s++) {
    assert_true(strncmp(lc_status_name((lc_status)s), "LC_", 3) == 0);
    assert_true(strlen(lc_status_string((lc_status)s)) > 3);
    assert_string_not_equal(lc_status_string((lc_status)s), "unknown status");
  }
}

/* Version macros and the runtime call agree. */
static void test_api_version(void **state) {
  (void)state;
  assert_int_equal(lc_version_number(), LC_VERSION_NUMBER);
  assert_string_equal(lc_version_string(), LC_VERSION_STRING);
  assert_int_equal(LC_VERSION_NUMBER,
                   LC_VERSION_MAJOR * 10000 + LC_VERSION_MINOR * 100 + LC_VERSION_PATCH);
}

/* Mode and backend names round-trip; unknown names and values are refused. */
static void test_api_enum_names(void **state) {
  (void)state;
  for (int m = 0; m <= LC_MODE_VENDOR_FP32; m++) {
    lc_mode back;
    assert_int_equal(lc_mode_from_name(lc_mode_name((lc_mode)m), &back), LC_OK);
    assert_int_equal(back, m);
  }
  lc_mode mode = LC_MODE_STRICT;
  EXPECT(lc_mode_from_name("turbo", &mode), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(mode, LC_MODE_STRICT);
  EXPECT(lc_mode_from_name(NULL, &mode), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_mode_from_name("strict", NULL), LC_ERR_INVALID_ARGUMENT);
  assert_string_equal(lc_mode_name((lc_mode)42), "unknown");
  lc_backend b;
  assert_int_equal(lc_backend_from_name("cuda", &b), LC_OK);
  assert_int_equal(b, LC_BACKEND_CUDA);
  EXPECT(lc_backend_from_name("tpu", &b), LC_ERR_INVALID_ARGUMENT);
  assert_string_equal(lc_backend_name((lc_backend)-3), "unknown");
}

/* Context creation refuses bad parameters with the documented statuses and
 * leaves *out NULL and a message for lc_last_error(NULL). */
static void test_api_context_create_bad(void **state) {
  (void)state;
  lc_context_params p;
  lc_context *ctx = (lc_context *)&p; /* non-NULL garbage: must be reset */
  EXPECT(lc_context_create(NULL, NULL), LC_ERR_INVALID_ARGUMENT);
  lc_context_params_default(&p);
  p.backend = (lc_backend)7;
  EXPECT(lc_context_create(&p, &ctx), LC_ERR_INVALID_ARGUMENT);
  assert_null(ctx);
  assert_non_null(strstr(lc_last_error(NULL), "backend"));
  lc_context_params_default(&p);
  p.mode = (lc_mode)-1;
  EXPECT(lc_context_create(&p, &ctx), LC_ERR_INVALID_ARGUMENT);
  lc_context_params_default(&p);
  p.device = -1;
  EXPECT(lc_context_create(&p, &ctx), LC_ERR_INVALID_ARGUMENT);
  lc_context_params_default(&p);
  p.cpu_threads = -2;
  EXPECT(lc_context_create(&p, &ctx), LC_ERR_INVALID_ARGUMENT);
  /* modes a backend does not offer (fast and bf16 are offered by both: test_fast.c) */
  const lc_mode unsupported_cpu[] = {LC_MODE_VENDOR_BF16, LC_MODE_VENDOR_FP32};
  for (size_t i = 0; i < sizeof unsupported_cpu / sizeof unsupported_cpu[0]; i++) {
    lc_context_params_default(&p);
    p.mode = unsupported_cpu[i];
    EXPECT(lc_context_create(&p, &ctx), LC_ERR_UNSUPPORTED);
    assert_null(ctx);
  }
  lc_context_params_default(&p);
  p.backend = LC_BACKEND_CUDA;
  p.mode = LC_MODE_REFERENCE;
  EXPECT(lc_context_create(&p, &ctx), LC_ERR_UNSUPPORTED);
  /* a CUDA context without a usable device (or build) fails cleanly */
  lc_context_params_default(&p);
  p.backend = LC_BACKEND_CUDA;
  p.device = 1 << 20;
  lc_status st = lc_context_create(&p, &ctx);
  assert_true(st == LC_ERR_NO_DEVICE || st == LC_ERR_UNSUPPORTED);
  assert_null(ctx);
  assert_true(strlen(lc_last_error(NULL)) > 0);
  lc_context_free(NULL); /* accepted */
}

/* lc_attn_default_scale is the float nearest 1/sqrt(head_dim). */
static void test_api_default_scale_rounding(void **state) {
  (void)state;
  for (int d = 1; d <= 256; d++) {
    long double exact = 1.0L / sqrtl((long double)d);
    float got = lc_attn_default_scale(d);
    float below = nextafterf(got, 0.0f), above = nextafterf(got, 1.0f);
    long double e = fabsl((long double)got - exact);
    assert_true(e <= fabsl((long double)below - exact));
    assert_true(e <= fabsl((long double)above - exact));
  }
  assert_true(isnan(lc_attn_default_scale(0)));
}

/* The defaults are CPU strict, and NULL params means the defaults. */
static void test_api_context_defaults(void **state) {
  (void)state;
  lc_context *ctx = NULL;
  assert_int_equal(lc_context_create(NULL, &ctx), LC_OK);
  assert_int_equal(lc_context_backend(ctx), LC_BACKEND_CPU);
  assert_int_equal(lc_context_mode(ctx), LC_MODE_STRICT);
  assert_int_equal(lc_context_synchronize(ctx), LC_OK);
  assert_string_equal(lc_last_error(ctx), "");
  lc_context_free(ctx);
  EXPECT(lc_context_synchronize(NULL), LC_ERR_INVALID_ARGUMENT);
  lc_canon_info ci;
  lc_canon_get_info(&ci);
  assert_int_equal(ci.version, 1);
  assert_true(ci.matmul_seg_len > 0 && ci.attn_partition > 0 && ci.reduce_lanes == 32);
}

/* A failure on a context leaves its message on that context, naming the
 * function and the argument. */
static void test_api_last_error_message(void **state) {
  fx *f = *state;
  EXPECT(lc_matmul(f->ctx, NULL, 2, f->w, NULL, f->y), LC_ERR_INVALID_ARGUMENT);
  const char *e = lc_last_error(f->ctx);
  assert_non_null(strstr(e, "LC_ERR_INVALID_ARGUMENT"));
  assert_non_null(strstr(e, "lc_matmul"));
  assert_non_null(strstr(e, "x is NULL"));
  assert_string_equal(lc_last_error(f->other), ""); /* other contexts unaffected */
}

/* Buffers: bad sizes and NULLs are refused; zero-byte copies are no-ops. */
static void test_api_buffers(void **state) {
  fx *f = *state;
  void *p = (void *)f;
  EXPECT(lc_buffer_alloc(NULL, 16, &p), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_buffer_alloc(f->ctx, 16, NULL), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_buffer_alloc(f->ctx, 0, &p), LC_ERR_SHAPE);
  assert_null(p);
  EXPECT(lc_buffer_alloc(f->ctx, (size_t)1 << 41, &p), LC_ERR_OVERFLOW);
  EXPECT(lc_buffer_alloc(f->ctx, SIZE_MAX, &p), LC_ERR_OVERFLOW);
  assert_int_equal(lc_buffer_alloc(f->ctx, 100, &p), LC_OK);
  assert_int_equal((uintptr_t)p % 256, 0);
  float src[25], back[25];
  for (int i = 0; i < 25; i++) src[i] = (float)i;
  assert_int_equal(lc_buffer_write(f->ctx, p, src, sizeof src), LC_OK);
  assert_int_equal(lc_buffer_read(f->ctx, back, p, sizeof back), LC_OK);
  assert_memory_equal(src, back, sizeof src);
  EXPECT(lc_buffer_write(f->ctx, NULL, src, 4), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_buffer_read(f->ctx, back, NULL, 4), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_buffer_write(NULL, p, src, 4), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_buffer_write(f->ctx, NULL, NULL, 0), LC_OK);
  lc_buffer_free(f->ctx, p);
  lc_buffer_free(f->ctx, NULL);
  lc_buffer_free(NULL, NULL);
}

/* Weights: NULLs, unknown dtypes, zero/negative/overflowing shapes. */
static void test_api_weights_bad(void **state) {
  fx *f = *state;
  float data[4] = {1, 2, 3, 4};
  lc_weights *w = (lc_weights *)f;
  EXPECT(lc_weights_create(NULL, 1, 4, LC_DTYPE_F32, data, &w), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_weights_create(f->ctx, 1, 4, LC_DTYPE_F32, data, NULL), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_weights_create(f->ctx, 1, 4, LC_DTYPE_F32, NULL, &w), LC_ERR_INVALID_ARGUMENT);
  assert_null(w);
  EXPECT(lc_weights_create(f->ctx, 1, 4, (lc_dtype)9, data, &w), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_weights_create(f->ctx, 0, 4, LC_DTYPE_F32, data, &w), LC_ERR_SHAPE);
  EXPECT(lc_weights_create(f->ctx, 1, 0, LC_DTYPE_F32, data, &w), LC_ERR_SHAPE);
  EXPECT(lc_weights_create(f->ctx, -1, 4, LC_DTYPE_F32, data, &w), LC_ERR_SHAPE);
  EXPECT(lc_weights_create(f->ctx, 1, INT64_MIN, LC_DTYPE_F32, data, &w), LC_ERR_SHAPE);
  EXPECT(lc_weights_create(f->ctx, (int64_t)1 << 31, 4, LC_DTYPE_F32, data, &w), LC_ERR_OVERFLOW);
  EXPECT(lc_weights_create(f->ctx, INT32_MAX, INT32_MAX, LC_DTYPE_F32, data, &w), LC_ERR_OVERFLOW);
  assert_null(w);
  assert_int_equal(lc_weights_rows(NULL), -1);
  assert_int_equal(lc_weights_cols(NULL), -1);
  assert_int_equal(lc_weights_bytes(NULL), 0);
  uint16_t out[32];
  EXPECT(lc_weights_read_bf16(NULL, out), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_weights_read_bf16(f->w, NULL), LC_ERR_INVALID_ARGUMENT);
  lc_conversion_stats cs;
  EXPECT(lc_weights_get_conversion_stats(NULL, &cs), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_weights_get_conversion_stats(f->w, NULL), LC_ERR_INVALID_ARGUMENT);
  lc_weights_free(NULL);
}

/* Weights keep bf16 (2 bytes each), read back exactly, and report what the
 * rounding did: inexact values, overflow to Inf, NaN. */
static void test_api_weights_conversion(void **state) {
  fx *f = *state;
  const float src[6] = {1.0f,
                        1.00390625f /* tie: rounds to 1 */,
                        3.4e38f /* > max bf16 + half an ulp */,
                        NAN,
                        -2.5f,
                        1.0f + 0x1p-10f};
  lc_weights *w = NULL;
  assert_int_equal(lc_weights_create(f->ctx, 2, 3, LC_DTYPE_F32, src, &w), LC_OK);
  assert_int_equal(lc_weights_rows(w), 2);
  assert_int_equal(lc_weights_cols(w), 3);
  assert_int_equal(lc_weights_bytes(w), 12);
  uint16_t got[6];
  assert_int_equal(lc_weights_read_bf16(w, got), LC_OK);
  assert_int_equal(got[0], 0x3F80);
  assert_int_equal(got[1], 0x3F80);
  assert_int_equal(got[2], 0x7F80);         /* +Inf */
  assert_true((got[3] & 0x7FC0) == 0x7FC0); /* quiet NaN */
  assert_int_equal(got[4], 0xC020);
  assert_int_equal(got[5], 0x3F80);
  lc_conversion_stats cs;
  assert_int_equal(lc_weights_get_conversion_stats(w, &cs), LC_OK);
  assert_int_equal(cs.n_elements, 6);
  assert_int_equal(cs.n_inexact, 3); /* the tie, the overflow, 1+2^-10 */
  assert_int_equal(cs.n_overflow, 1);
  assert_int_equal(cs.n_nan, 1);
  assert_true(cs.max_rel_err > 0.0 &&
              cs.max_rel_err <= 0x1p-8); /* bf16 unit roundoff: 8-bit significand */
  lc_weights_free(w);
  /* fp16 and bf16 sources */
  const uint16_t h[2] = {0x3C00 /* 1.0 */, 0x0001 /* 2^-24 */};
  assert_int_equal(lc_weights_create(f->ctx, 1, 2, LC_DTYPE_F16, h, &w), LC_OK);
  assert_int_equal(lc_weights_read_bf16(w, got), LC_OK);
  assert_int_equal(got[0], 0x3F80);
  assert_int_equal(got[1], 0x3380); /* 2^-24 is a normal bf16 */
  lc_weights_free(w);
  const uint16_t b[2] = {0x4049, 0xFF81 /* signalling NaN: becomes quiet */};
  assert_int_equal(lc_weights_create(f->ctx, 1, 2, LC_DTYPE_BF16, b, &w), LC_OK);
  assert_int_equal(lc_weights_read_bf16(w, got), LC_OK);
  assert_int_equal(got[0], 0x4049);
  assert_int_equal(got[1], 0xFFC1);
  lc_weights_free(w);
}

/* lc_context_get_memory counts live weights (2 bytes per element) and rope
 * tables, and returns to zero when they are freed. */
static void test_api_memory_accounting(void **state) {
  (void)state;
  lc_context *ctx = lct_cpu(LC_MODE_STRICT);
  lc_memory_stats ms;
  assert_int_equal(lc_context_get_memory(ctx, &ms), LC_OK);
  assert_int_equal(ms.weights_bytes, 0);
  float data[15] = {0};
  lc_weights *w = NULL;
  lc_rope *r = NULL;
  assert_int_equal(lc_weights_create(ctx, 3, 5, LC_DTYPE_F32, data, &w), LC_OK);
  assert_int_equal(lc_rope_create(ctx, 8, 10, 1e4, LC_ROPE_HALF, NULL, &r), LC_OK);
  assert_int_equal(lc_context_get_memory(ctx, &ms), LC_OK);
  assert_int_equal(ms.weights_bytes, 30);
  assert_int_equal(ms.tables_bytes, 2 * 10 * 4 * sizeof(float));
  assert_int_equal(ms.workspace_bytes, 0); /* the CPU backend keeps no scratch */
  lc_weights_free(w);
  lc_rope_free(r);
  assert_int_equal(lc_context_get_memory(ctx, &ms), LC_OK);
  assert_int_equal(ms.weights_bytes, 0);
  assert_int_equal(ms.tables_bytes, 0);
  EXPECT(lc_context_get_memory(NULL, &ms), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_context_get_memory(ctx, NULL), LC_ERR_INVALID_ARGUMENT);
  lc_context_free(ctx);
}

/* matmul: NULLs, negative/overflowing m, foreign weights, bias shapes,
 * overlapping output; m == 0 is an empty call. */
static void test_api_matmul_bad(void **state) {
  fx *f = *state;
  poison_y(f);
  EXPECT(lc_matmul(NULL, f->x, 2, f->w, NULL, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_matmul(f->ctx, f->x, 2, NULL, NULL, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_matmul(f->ctx, f->x, 2, f->w, NULL, NULL), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_matmul(f->ctx, f->x, -1, f->w, NULL, f->y), LC_ERR_SHAPE);
  EXPECT(lc_matmul(f->ctx, f->x, (int64_t)1 << 31, f->w, NULL, f->y), LC_ERR_OVERFLOW);
  EXPECT(lc_matmul(f->ctx, f->x, INT64_MAX, f->w, NULL, f->y), LC_ERR_OVERFLOW);
  EXPECT(lc_matmul(f->ctx, f->x, 2, f->w_other, NULL, f->y), LC_ERR_MISMATCH);
  EXPECT(lc_matmul(f->ctx, f->x, 2, f->w, f->norm, f->y), LC_ERR_SHAPE); /* bias [1][8] != N 4 */
  EXPECT(lc_matmul(f->ctx, f->x, 2, f->w, f->w, f->y), LC_ERR_SHAPE);    /* bias not a vector */
  EXPECT(lc_matmul(f->ctx, f->x, 2, f->w, f->w_other, f->y), LC_ERR_MISMATCH);
  EXPECT(lc_matmul(f->ctx, f->x, 2, f->w, NULL, f->x + 4), LC_ERR_INVALID_ARGUMENT); /* overlap */
  EXPECT(lc_matmul(f->ctx, f->x, 2, f->w, NULL, f->x), LC_ERR_INVALID_ARGUMENT);     /* in place */
  assert_y_untouched(f);
  EXPECT(lc_matmul(f->ctx, NULL, 0, f->w, NULL, NULL), LC_OK); /* empty */
  assert_int_equal(lc_matmul(f->ctx, f->x, 2, f->w, f->bias, f->y), LC_OK);
}

/* rmsnorm: weight must be a vector of the row length, eps finite >= 0;
 * in-place is allowed, partial overlap is not. */
static void test_api_rmsnorm_bad(void **state) {
  fx *f = *state;
  poison_y(f);
  EXPECT(lc_rmsnorm(NULL, f->x, 2, f->norm, 1e-5f, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rmsnorm(f->ctx, f->x, 2, NULL, 1e-5f, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rmsnorm(f->ctx, NULL, 2, f->norm, 1e-5f, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rmsnorm(f->ctx, f->x, 2, f->norm, 1e-5f, NULL), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rmsnorm(f->ctx, f->x, -5, f->norm, 1e-5f, f->y), LC_ERR_SHAPE);
  EXPECT(lc_rmsnorm(f->ctx, f->x, 2, f->w, 1e-5f, f->y), LC_ERR_SHAPE); /* [4][8] not a vector */
  EXPECT(lc_rmsnorm(f->ctx, f->x, 2, f->w_other, 1e-5f, f->y), LC_ERR_MISMATCH);
  EXPECT(lc_rmsnorm(f->ctx, f->x, 2, f->norm, -1e-5f, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rmsnorm(f->ctx, f->x, 2, f->norm, NAN, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rmsnorm(f->ctx, f->x, 2, f->norm, INFINITY, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rmsnorm(f->ctx, f->x, 2, f->norm, 1e-5f, f->x + 1), LC_ERR_INVALID_ARGUMENT);
  assert_y_untouched(f);
  assert_int_equal(lc_rmsnorm(f->ctx, f->x, 0, f->norm, 1e-5f, NULL), LC_OK);
  float xi[16];
  memcpy(xi, f->x, sizeof xi);
  assert_int_equal(lc_rmsnorm(f->ctx, xi, 2, f->norm, 1e-5f, xi), LC_OK); /* in place */
}

/* rope: table parameters and positions are checked; a bad position leaves
 * x untouched. */
static void test_api_rope_bad(void **state) {
  fx *f = *state;
  lc_rope *r = (lc_rope *)f;
  EXPECT(lc_rope_create(NULL, 8, 16, 1e4, LC_ROPE_HALF, NULL, &r), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rope_create(f->ctx, 8, 16, 1e4, LC_ROPE_HALF, NULL, NULL), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rope_create(f->ctx, 7, 16, 1e4, LC_ROPE_HALF, NULL, &r), LC_ERR_SHAPE);
  assert_null(r);
  EXPECT(lc_rope_create(f->ctx, 0, 16, 1e4, LC_ROPE_HALF, NULL, &r), LC_ERR_SHAPE);
  EXPECT(lc_rope_create(f->ctx, 512, 16, 1e4, LC_ROPE_HALF, NULL, &r), LC_ERR_SHAPE);
  EXPECT(lc_rope_create(f->ctx, 8, 0, 1e4, LC_ROPE_HALF, NULL, &r), LC_ERR_SHAPE);
  EXPECT(lc_rope_create(f->ctx, 8, -3, 1e4, LC_ROPE_HALF, NULL, &r), LC_ERR_SHAPE);
  EXPECT(lc_rope_create(f->ctx, 8, (int64_t)1 << 40, 1e4, LC_ROPE_HALF, NULL, &r), LC_ERR_OVERFLOW);
  EXPECT(lc_rope_create(f->ctx, 8, 16, -1.0, LC_ROPE_HALF, NULL, &r), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rope_create(f->ctx, 8, 16, NAN, LC_ROPE_HALF, NULL, &r), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rope_create(f->ctx, 8, 16, 1e4, (lc_rope_style)5, NULL, &r), LC_ERR_INVALID_ARGUMENT);
  const double bad_freq[4] = {1.0, 0.5, INFINITY, 0.1};
  EXPECT(lc_rope_create(f->ctx, 8, 16, 1e4, LC_ROPE_HALF, bad_freq, &r), LC_ERR_INVALID_ARGUMENT);
  assert_null(r);
  lc_rope_free(NULL);

  float x[16], x0[16];
  for (int i = 0; i < 16; i++) x[i] = x0[i] = (float)i;
  int32_t pos[2] = {3, 16};
  EXPECT(lc_rope_apply(f->ctx, f->rope, x, 2, 1, pos), LC_ERR_OUT_OF_RANGE);
  pos[1] = -1;
  EXPECT(lc_rope_apply(f->ctx, f->rope, x, 2, 1, pos), LC_ERR_OUT_OF_RANGE);
  assert_memory_equal(x, x0, sizeof x); /* nothing rotated, not even row 0 */
  pos[1] = 2;
  EXPECT(lc_rope_apply(f->ctx, NULL, x, 2, 1, pos), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rope_apply(f->ctx, f->rope, NULL, 2, 1, pos), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rope_apply(f->ctx, f->rope, x, 2, 1, NULL), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_rope_apply(f->ctx, f->rope, x, 2, 0, pos), LC_ERR_SHAPE);
  EXPECT(lc_rope_apply(f->ctx, f->rope, x, -2, 1, pos), LC_ERR_SHAPE);
  EXPECT(lc_rope_apply(f->other, f->rope, x, 2, 1, pos), LC_ERR_MISMATCH);
  assert_int_equal(lc_rope_apply(f->ctx, f->rope, x, 2, 1, pos), LC_OK);
}

/* attention and kv_write: shape fields, slots, positions, overlap. */
static void test_api_attention_bad(void **state) {
  fx *f = *state;
  float kc[2 * 4 * 1 * 8], vc[2 * 4 * 1 * 8], q[2 * 2 * 8], out[2 * 2 * 8], kv[2 * 8];
  memset(kc, 0, sizeof kc);
  memset(vc, 0, sizeof vc);
  memset(q, 0, sizeof q);
  memset(kv, 0, sizeof kv);
  lc_attn_shape sh = {2, 1, 8, 4, 2, lc_attn_default_scale(8), LC_DTYPE_F32};
  lc_attn_seq seq = {1, 2, 2}; /* slot 1, positions 2..3 */
  assert_int_equal(lc_kv_write(f->ctx, &sh, &seq, 1, kv, kv, kc, vc), LC_OK);
  assert_int_equal(lc_attention(f->ctx, &sh, &seq, 1, q, kc, vc, out), LC_OK);

  lc_attn_shape bad = sh;
  bad.n_heads = 3; /* not a multiple of n_kv_heads = 2 */
  bad.n_kv_heads = 2;
  EXPECT(lc_attention(f->ctx, &bad, &seq, 1, q, kc, vc, out), LC_ERR_SHAPE);
  bad = sh;
  bad.head_dim = 0;
  EXPECT(lc_attention(f->ctx, &bad, &seq, 1, q, kc, vc, out), LC_ERR_SHAPE);
  bad.head_dim = 257;
  EXPECT(lc_attention(f->ctx, &bad, &seq, 1, q, kc, vc, out), LC_ERR_SHAPE);
  bad = sh;
  bad.n_slots = 0;
  EXPECT(lc_attention(f->ctx, &bad, &seq, 1, q, kc, vc, out), LC_ERR_SHAPE);
  bad = sh;
  bad.scale = NAN;
  EXPECT(lc_attention(f->ctx, &bad, &seq, 1, q, kc, vc, out), LC_ERR_INVALID_ARGUMENT);
  bad = sh;
  bad.n_slots = INT32_MAX;
  bad.max_len = INT32_MAX;
  EXPECT(lc_attention(f->ctx, &bad, &seq, 1, q, kc, vc, out), LC_ERR_OVERFLOW);

  memset(out, 0xA5, sizeof out);
  lc_attn_seq s2[2] = {{0, 0, 1}, {2, 0, 1}}; /* slot 2 of 2 */
  EXPECT(lc_attention(f->ctx, &sh, s2, 2, q, kc, vc, out), LC_ERR_OUT_OF_RANGE);
  EXPECT(lc_kv_write(f->ctx, &sh, s2, 2, kv, kv, kc, vc), LC_ERR_OUT_OF_RANGE);
  s2[1] = (lc_attn_seq){1, 3, 2}; /* positions 3..4, max_len 4 */
  EXPECT(lc_attention(f->ctx, &sh, s2, 2, q, kc, vc, out), LC_ERR_OUT_OF_RANGE);
  s2[1] = (lc_attn_seq){1, -1, 1};
  EXPECT(lc_attention(f->ctx, &sh, s2, 2, q, kc, vc, out), LC_ERR_OUT_OF_RANGE);
  s2[1] = (lc_attn_seq){1, 0, -1};
  EXPECT(lc_attention(f->ctx, &sh, s2, 2, q, kc, vc, out), LC_ERR_SHAPE);
  s2[1] = (lc_attn_seq){1, INT32_MAX, 1};
  EXPECT(lc_attention(f->ctx, &sh, s2, 2, q, kc, vc, out), LC_ERR_OUT_OF_RANGE);
  unsigned char a5[sizeof out];
  memset(a5, 0xA5, sizeof a5);
  assert_memory_equal(out, a5, sizeof out); /* nothing written by any failure */

  EXPECT(lc_attention(NULL, &sh, &seq, 1, q, kc, vc, out), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_attention(f->ctx, NULL, &seq, 1, q, kc, vc, out), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_attention(f->ctx, &sh, NULL, 1, q, kc, vc, out), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_attention(f->ctx, &sh, &seq, -1, q, kc, vc, out), LC_ERR_SHAPE);
  EXPECT(lc_attention(f->ctx, &sh, &seq, 1, NULL, kc, vc, out), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_attention(f->ctx, &sh, &seq, 1, q, NULL, vc, out), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_attention(f->ctx, &sh, &seq, 1, q, kc, NULL, out), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_attention(f->ctx, &sh, &seq, 1, q, kc, vc, NULL), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_attention(f->ctx, &sh, &seq, 1, q, kc, vc, q), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_attention(f->ctx, &sh, &seq, 1, q, kc, vc, kc + 8), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_kv_write(f->ctx, &sh, &seq, 1, kv, kv, kc, kc), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_kv_write(f->ctx, &sh, &seq, 1, kc, kv, kc, vc), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_kv_write(f->ctx, &sh, &seq, 1, NULL, kv, kc, vc), LC_ERR_INVALID_ARGUMENT);
  /* no sequences, or only empty ones: nothing to do */
  assert_int_equal(lc_attention(f->ctx, &sh, NULL, 0, NULL, NULL, NULL, NULL), LC_OK);
  lc_attn_seq empty = {0, 4, 0};
  assert_int_equal(lc_attention(f->ctx, &sh, &empty, 1, NULL, NULL, NULL, NULL), LC_OK);
}

/* silu_mul and add: n >= 0, exact aliasing only. */
static void test_api_elementwise_bad(void **state) {
  fx *f = *state;
  poison_y(f);
  EXPECT(lc_silu_mul(NULL, f->x, f->x, 4, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_silu_mul(f->ctx, NULL, f->x, 4, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_silu_mul(f->ctx, f->x, NULL, 4, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_silu_mul(f->ctx, f->x, f->x, 4, NULL), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_silu_mul(f->ctx, f->x, f->x, -4, f->y), LC_ERR_SHAPE);
  EXPECT(lc_silu_mul(f->ctx, f->x, f->x, (int64_t)1 << 40, f->y), LC_ERR_OVERFLOW);
  EXPECT(lc_silu_mul(f->ctx, f->x, f->x + 8, 16, f->x + 1), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_add(NULL, f->x, f->x, 4, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_add(f->ctx, f->x, NULL, 4, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_add(f->ctx, f->x, f->x, -1, f->y), LC_ERR_SHAPE);
  EXPECT(lc_add(f->ctx, f->x, f->x + 32, 16, f->x + 31), LC_ERR_INVALID_ARGUMENT);
  assert_y_untouched(f);
  assert_int_equal(lc_add(f->ctx, NULL, NULL, 0, NULL), LC_OK);
  float a[4] = {1, 2, 3, 4}, b[4] = {4, 3, 2, 1};
  assert_int_equal(lc_add(f->ctx, a, b, 4, a), LC_OK);      /* out == a */
  assert_int_equal(lc_silu_mul(f->ctx, a, b, 4, b), LC_OK); /* out == up */
}

/* embedding: ids checked against the vocabulary before anything is written. */
static void test_api_embedding_bad(void **state) {
  fx *f = *state;
  int32_t ids[3] = {0, 3, 4}; /* table f->w has rows 0..3 */
  poison_y(f);
  EXPECT(lc_embedding(f->ctx, f->w, ids, 3, f->y), LC_ERR_OUT_OF_RANGE);
  ids[2] = -1;
  EXPECT(lc_embedding(f->ctx, f->w, ids, 3, f->y), LC_ERR_OUT_OF_RANGE);
  assert_y_untouched(f);
  ids[2] = 1;
  EXPECT(lc_embedding(NULL, f->w, ids, 3, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_embedding(f->ctx, NULL, ids, 3, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_embedding(f->ctx, f->w, NULL, 3, f->y), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_embedding(f->ctx, f->w, ids, 3, NULL), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_embedding(f->ctx, f->w, ids, -3, f->y), LC_ERR_SHAPE);
  EXPECT(lc_embedding(f->ctx, f->w_other, ids, 3, f->y), LC_ERR_MISMATCH);
  assert_int_equal(lc_embedding(f->ctx, f->w, ids, 0, NULL), LC_OK);
  assert_int_equal(lc_embedding(f->ctx, f->w, ids, 3, f->y), LC_OK);
}

/* softmax, log_softmax, argmax: n >= 1, m >= 0, aliasing rules. */
static void test_api_row_ops_bad(void **state) {
  fx *f = *state;
  int32_t idx[4] = {-7, -7, -7, -7};
  poison_y(f);
  lc_status (*const ops[2])(lc_context *, const float *, int64_t, int64_t, float *) = {
      lc_softmax, lc_log_softmax};
  for (int i = 0; i < 2; i++) {
    EXPECT(ops[i](NULL, f->x, 2, 8, f->y), LC_ERR_INVALID_ARGUMENT);
    EXPECT(ops[i](f->ctx, NULL, 2, 8, f->y), LC_ERR_INVALID_ARGUMENT);
    EXPECT(ops[i](f->ctx, f->x, 2, 8, NULL), LC_ERR_INVALID_ARGUMENT);
    EXPECT(ops[i](f->ctx, f->x, 2, 0, f->y), LC_ERR_SHAPE);
    EXPECT(ops[i](f->ctx, f->x, -2, 8, f->y), LC_ERR_SHAPE);
    EXPECT(ops[i](f->ctx, f->x, 2, -8, f->y), LC_ERR_SHAPE);
    EXPECT(ops[i](f->ctx, f->x, (int64_t)1 << 30, (int64_t)1 << 30, f->y), LC_ERR_OVERFLOW);
    EXPECT(ops[i](f->ctx, f->x, 2, 8, f->x + 3), LC_ERR_INVALID_ARGUMENT);
    assert_int_equal(ops[i](f->ctx, f->x, 0, 8, NULL), LC_OK);
  }
  assert_y_untouched(f);
  EXPECT(lc_argmax(f->ctx, f->x, 2, 8, NULL), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_argmax(f->ctx, NULL, 2, 8, idx), LC_ERR_INVALID_ARGUMENT);
  EXPECT(lc_argmax(f->ctx, f->x, 2, 0, idx), LC_ERR_SHAPE);
  EXPECT(lc_argmax(f->ctx, f->x, -1, 8, idx), LC_ERR_SHAPE);
  EXPECT(lc_argmax(f->ctx, f->x, 2, (int64_t)1 << 32, idx), LC_ERR_OVERFLOW);
  EXPECT(lc_argmax(f->ctx, f->x, 2, 8, (int32_t *)(void *)f->x), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(idx[0], -7);
  assert_int_equal(lc_argmax(f->ctx, f->x, 2, 8, idx), LC_OK);
  assert_int_equal(idx[0], 7); /* x is increasing */
  assert_int_equal(idx[1], 7);
}

/* Ops on a reference-mode context take the same validation path. */
static void test_api_reference_mode_validates(void **state) {
  (void)state;
  lc_context *ref = lct_cpu(LC_MODE_REFERENCE);
  float x[8] = {0}, y[8];
  EXPECT(lc_softmax(ref, x, 1, 0, y), LC_ERR_SHAPE);
  EXPECT(lc_matmul(ref, x, 1, NULL, NULL, y), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_softmax(ref, x, 1, 8, y), LC_OK);
  lc_context_free(ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_api_status_lookups),
      cmocka_unit_test(test_api_version),
      cmocka_unit_test(test_api_enum_names),
      cmocka_unit_test(test_api_context_create_bad),
      cmocka_unit_test(test_api_context_defaults),
      cmocka_unit_test(test_api_default_scale_rounding),
      cmocka_unit_test_setup_teardown(test_api_last_error_message, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_api_buffers, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_api_weights_bad, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_api_weights_conversion, fx_setup, fx_teardown),
      cmocka_unit_test(test_api_memory_accounting),
      cmocka_unit_test_setup_teardown(test_api_matmul_bad, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_api_rmsnorm_bad, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_api_rope_bad, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_api_attention_bad, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_api_elementwise_bad, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_api_embedding_bad, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_api_row_ops_bad, fx_setup, fx_teardown),
      cmocka_unit_test(test_api_reference_mode_validates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
