/*
 * tests/test_cuda_ops.c — the CUDA strict row and elementwise ops on a real
 * GPU: rmsnorm, softmax, log_softmax, argmax, silu_mul, add, embedding, rope
 * (kernels/<op>.cu) and the conversions of kernels/convert.cu.
 *
 * Every op is compared with the CPU strict backend bit for bit (memcmp) on
 * the same inputs, through the public API: random rows over many widths and
 * batch sizes with NaN, +-Inf, -0, subnormals and huge values inside rows,
 * in place and at misaligned addresses; argmax with ties, -0/+0 and NaN;
 * rope in both styles at random positions; embedding over a large table.
 * Then batch invariance on the GPU itself: a row alone against the same row
 * inside batches of 1..64 rows and a spread up to 4096, at several positions,
 * next to random and poisoned rows (which also crosses the kernels' launch
 * shapes: one block per row for few long rows, one warp per row for many
 * in rmsnorm and argmax; blocks looping over rows in softmax);
 * and repeated runs identical.  Without a GPU (or CUDA in the build) every
 * test skips and the binary exits 77.
 *
 * Under LCT_SANITIZE (tests/test_util.h) every test runs on the shorter
 * lists marked "sanitize" below, which keep one case on each side of every
 * launch-shape threshold of the kernels: rmsnorm's block path (m <= 1023,
 * 1025 <= n <= 12224) and warp path, softmax's warp path (n <= 1024), its
 * block path for few rows (m <= 128) and many rows, and its blocks looping
 * over rows (more than 24 MiB of rows: 1030 x 8192), argmax's warp, block
 * and cluster (m <= 32) paths; the vector and scalar paths of the
 * elementwise ops by their offsets; add_bias's grid-y loop (m > 65535).
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_canon.h"
#include "lib/lc_internal.h" /* lc_add_rmsnorm */
#if defined(LC_HAVE_CUDA)
#include "kernels/lc_kernels.h"
#endif

static int have_gpu;
static lc_context *g_gpu; /* CUDA, strict */
static lc_context *g_cpu; /* CPU, strict */
/* Widest row the row-op tests use: all by default; LC_CUDA_OPS_MAX_N lowers
 * it for slow runs (compute-sanitizer).  LC_CUDA_OPS_FILTER picks tests by
 * name (CMocka's pattern, e.g. "*softmax*"; the same as LCT_FILTER, which it
 * overrides). */
static int64_t g_max_n = INT64_MAX;

/* ---- small helpers ---------------------------------------------------------*/

static void ok(lc_context *ctx, lc_status st, const char *what) {
  if (st != LC_OK) fail_msg("%s: %s: %s", what, lc_status_name(st), lc_last_error(ctx));
}

static void *dev_alloc(size_t bytes) {
  void *d = NULL;
  ok(g_gpu, lc_buffer_alloc(g_gpu, bytes ? bytes : 4, &d), "lc_buffer_alloc");
  return d;
}

static void h2d(void *dst, const void *src, size_t bytes) {
  if (bytes) ok(g_gpu, lc_buffer_write(g_gpu, dst, src, bytes), "lc_buffer_write");
}

static void d2h(void *dst, const void *src, size_t bytes) {
  if (bytes) ok(g_gpu, lc_buffer_read(g_gpu, dst, src, bytes), "lc_buffer_read");
}

static float f_bits(uint32_t u) {
  return lc_f32_from_bits(u);
}

/* A value with bits from a small table of specials: NaNs of both signs and
 * other payloads, +-Inf, +-0, subnormals, huge and tiny normals. */
static float special_value(lct_rng *r) {
  static const uint32_t bits[] = {
      0x7FC00000u, 0xFFC00001u, 0x7F800001u, 0x7FBFFFFFu, /* NaNs: quiet, signalling */
      0x7F800000u, 0xFF800000u,                           /* +-Inf */
      0x00000000u, 0x80000000u,                           /* +-0 */
      0x00000001u, 0x807FFFFFu, 0x00400000u,              /* subnormals */
      0x7F7FFFFFu, 0xFF7FFFFFu, 0x5F800000u, 0xDF000000u, /* FLT_MAX, 2^64, -2^63 */
      0x00800000u, 0x80800001u,                           /* smallest normals */
  };
  return f_bits(bits[lct_next(r) % (sizeof bits / sizeof bits[0])]);
}

/* ---- row data ----------------------------------------------------------------*/

enum { ROW_KINDS = 12 };

/* Row r of a test batch: kind (r + salt) % ROW_KINDS decides what the row
 * holds, so every batch mixes ordinary rows with rows of special values. */
static void fill_row(float *x, int64_t n, int kind, lct_rng *r) {
  switch (kind) {
    case 0: /* N(0, 1) */
    case 1:
      for (int64_t i = 0; i < n; i++) x[i] = lct_normalf(r);
      break;
    case 2: /* N(0, 30^2): softmax underflows to subnormals and zeros */
      for (int64_t i = 0; i < n; i++) x[i] = 30.0f * lct_normalf(r);
      break;
    case 3: /* tiny: squares underflow */
      for (int64_t i = 0; i < n; i++) x[i] = 1e-25f * lct_normalf(r);
      break;
    case 4: /* N(0,1) with -0, +0 and subnormals sprinkled */
      for (int64_t i = 0; i < n; i++) x[i] = lct_normalf(r);
      for (int64_t k = 0; k < 1 + n / 16; k++) {
        const uint32_t pick[] = {0x80000000u, 0x00000000u, 0x00000001u, 0x807FFFFFu, 0x00012345u};
        x[lct_range(r, 0, n - 1)] = f_bits(pick[lct_next(r) % 5]);
      }
      break;
    case 5: /* one NaN somewhere */
      for (int64_t i = 0; i < n; i++) x[i] = lct_normalf(r);
      x[lct_range(r, 0, n - 1)] = f_bits((lct_next(r) & 1) ? 0x7FC00000u : 0xFFC12345u);
      break;
    case 6: /* a +Inf somewhere */
      for (int64_t i = 0; i < n; i++) x[i] = lct_normalf(r);
      x[lct_range(r, 0, n - 1)] = INFINITY;
      break;
    case 7: /* some -Inf among finite values */
      for (int64_t i = 0; i < n; i++) x[i] = lct_normalf(r);
      for (int64_t k = 0; k < 1 + n / 8; k++) x[lct_range(r, 0, n - 1)] = -INFINITY;
      break;
    case 8: /* huge values: squares overflow */
      for (int64_t i = 0; i < n; i++) x[i] = 1e20f * lct_normalf(r);
      x[lct_range(r, 0, n - 1)] = f_bits(0x7F7FFFFFu);
      break;
    case 9: /* any finite bit pattern */
      for (int64_t i = 0; i < n; i++) x[i] = lct_any_finite(r);
      break;
    case 10: /* constant row, or all zeros of mixed sign */
      if (lct_next(r) & 1) {
        for (int64_t i = 0; i < n; i++) x[i] = 0.5f;
      } else {
        for (int64_t i = 0; i < n; i++) x[i] = (lct_next(r) & 1) ? 0.0f : -0.0f;
      }
      break;
    default: /* normal values with specials of every kind sprinkled */
      for (int64_t i = 0; i < n; i++) x[i] = lct_normalf(r);
      for (int64_t k = 0; k < 1 + n / 64; k++) x[lct_range(r, 0, n - 1)] = special_value(r);
      break;
  }
}

static void fill_rows(float *x, int64_t m, int64_t n, uint64_t seed) {
  lct_rng r = lct_rng_new(seed);
  for (int64_t i = 0; i < m; i++) fill_row(x + i * n, n, (int)((i + seed) % ROW_KINDS), &r);
}

/* ---- the row ops, one signature -------------------------------------------*/

typedef enum row_op { OP_RMSNORM, OP_SOFTMAX, OP_LOG_SOFTMAX, OP_ARGMAX, OP_COUNT } row_op;

static const char *op_name(row_op op) {
  static const char *const names[] = {"rmsnorm", "softmax", "log_softmax", "argmax"};
  return names[op];
}

/* Runs op on ctx: x, y backend pointers ([m][n]; y is int32 [m] host memory
 * for argmax); w the rmsnorm weight of ctx. */
static void run_op(lc_context *ctx, row_op op, const float *x, int64_t m, int64_t n,
                   const lc_weights *w, float eps, void *y) {
  lc_status st = LC_OK;
  switch (op) {
    case OP_RMSNORM:
      st = lc_rmsnorm(ctx, x, m, w, eps, y);
      break;
    case OP_SOFTMAX:
      st = lc_softmax(ctx, x, m, n, y);
      break;
    case OP_LOG_SOFTMAX:
      st = lc_log_softmax(ctx, x, m, n, y);
      break;
    default:
      st = lc_argmax(ctx, x, m, n, y);
      break;
  }
  ok(ctx, st, op_name(op));
}

/* The same rmsnorm weight [1][n] in both contexts: bf16 of N(0,1) with a few
 * specials (so w * x covers Inf * 0 and NaN weights too). */
static void make_weights(int64_t n, uint64_t seed, lc_weights **wg, lc_weights **wc) {
  lct_rng r = lct_rng_new(seed);
  uint16_t *w = lct_rand_bf16(&r, n, 1.0f);
  if (n > 8) {
    w[lct_range(&r, 0, n - 1)] = 0x8000u; /* -0 */
    w[lct_range(&r, 0, n - 1)] = 0x0001u; /* subnormal */
  }
  ok(g_gpu, lc_weights_create(g_gpu, 1, n, LC_DTYPE_BF16, w, wg), "weights(gpu)");
  ok(g_cpu, lc_weights_create(g_cpu, 1, n, LC_DTYPE_BF16, w, wc), "weights(cpu)");
  free(w);
}

/* ---- CUDA vs CPU, row ops --------------------------------------------------------*/

/* Compares op on the GPU with the CPU for one (m, n): the CPU result once,
 * the GPU in three layouts: out of place at 256-byte aligned addresses, in
 * place, and out of place with x and y off 16-byte alignment (x + 1, y + 3
 * floats), which forces the kernels' scalar paths. */
static void compare_row_op(row_op op, int64_t m, int64_t n, float eps, uint64_t seed) {
  float *x = lct_malloc_f(m * n);
  fill_rows(x, m, n, seed);
  lc_weights *wg = NULL, *wc = NULL;
  if (op == OP_RMSNORM) make_weights(n, seed + 1, &wg, &wc);
  const size_t out_elems = op == OP_ARGMAX ? (size_t)m : (size_t)(m * n);
  void *ref = lct_malloc(out_elems * 4), *got = lct_malloc(out_elems * 4);
  run_op(g_cpu, op, x, m, n, wc, eps, ref);

  const size_t xb = (size_t)(m * n) * sizeof(float);
  float *dx = dev_alloc(xb + 64), *dy = dev_alloc(xb + 64);
  char what[160];
  for (int layout = 0; layout < 3; layout++) {
    if (op == OP_ARGMAX && layout == 1) continue; /* no in-place argmax */
    float *xin = layout == 2 ? dx + 1 : dx;
    float *yout = layout == 1 ? xin : layout == 2 ? dy + 3 : dy;
    h2d(xin, x, xb);
    if (op == OP_ARGMAX) {
      memset(got, 0xA5, out_elems * 4);
      run_op(g_gpu, op, xin, m, n, wg, eps, got);
    } else {
      run_op(g_gpu, op, xin, m, n, wg, eps, yout);
      d2h(got, yout, out_elems * 4);
    }
    snprintf(what, sizeof what, "%s m=%lld n=%lld eps=%g layout=%s", op_name(op), (long long)m,
             (long long)n, (double)eps,
             layout == 0   ? "aligned"
             : layout == 1 ? "in-place"
                           : "misaligned");
    if (op == OP_ARGMAX) {
      const int32_t *a = got, *b = ref;
      for (int64_t i = 0; i < m; i++)
        if (a[i] != b[i])
          fail_msg("%s: row %lld: cpu %d, gpu %d", what, (long long)i, (int)b[i], (int)a[i]);
    } else {
      lct_assert_bitwise_f32(got, ref, (int64_t)out_elems, what);
    }
  }
  lc_buffer_free(g_gpu, dx);
  lc_buffer_free(g_gpu, dy);
  lc_weights_free(wg);
  lc_weights_free(wc);
  free(x);
  free(ref);
  free(got);
}

static const int64_t row_widths[] = {1,    31,   32,   33,    100,   1024,
                                     1025, 4096, 8192, 12224, 12225, 128256};
static const int64_t row_batches[] = {1, 2, 7, 64, 257};
/* One batch past rmsnorm's and argmax's block-per-row limit (m <= 1023; one
 * warp per row then, long rows too) and past softmax's grid (its blocks then
 * take several rows each). */
static const int64_t wide_batch = 1030;
static const int64_t wide_batch_widths[] = {33, 1025, 4096, 8192};
/* sanitize: these (m, n) only: the warp paths (n = 1, 33; 12225 for
 * rmsnorm's long rows), the block paths up to rmsnorm's largest staged row
 * (12224); m = 1 and 7 (argmax's cluster path, softmax's few rows), 257
 * (argmax's block path, softmax's many rows); and the wide batch at 8192
 * (past the m limits and softmax's grid) */
static const int64_t row_cases_san[][2] = {{7, 1},      {1, 33},    {257, 33},  {1, 1025},
                                           {257, 1025}, {7, 12224}, {1, 12225}, {7, 12225}};

static int row_case_on(int64_t m, int64_t n) {
  if (n > g_max_n) return 0;
  if (!lct_sanitize()) return 1;
  if (m == wide_batch) return n == 8192;
  for (size_t i = 0; i < LCT_LEN(row_cases_san); i++)
    if (row_cases_san[i][0] == m && row_cases_san[i][1] == n) return 1;
  return 0;
}

static void compare_row_op_all(row_op op) {
  double t0 = lct_now_s();
  int cases = 0;
  for (size_t a = 0; a < LCT_LEN(row_widths); a++)
    for (size_t b = 0; b < LCT_LEN(row_batches); b++) {
      if (!row_case_on(row_batches[b], row_widths[a])) continue;
      compare_row_op(op, row_batches[b], row_widths[a], 1e-5f, 100 * a + b);
      cases++;
    }
  for (size_t a = 0; a < LCT_LEN(wide_batch_widths); a++) {
    if (!row_case_on(wide_batch, wide_batch_widths[a])) continue;
    compare_row_op(op, wide_batch, wide_batch_widths[a], 1e-5f, 7000 + a);
    cases++;
  }
  if (op == OP_RMSNORM) { /* eps = 0: all-zero rows become NaN */
    compare_row_op(op, 64, 100, 0.0f, 9001);
    compare_row_op(op, 7, 4096, 0.0f, 9002);
    cases += 2;
  }
  printf(
      "%s: CUDA == CPU strict bitwise: %d (m, n) shapes x 3 layouts, widths 1..128256, "
      "m 1..1030%s (%.1f s)\n",
      op_name(op), cases, lct_profile_note(), lct_now_s() - t0);
}

/* rmsnorm: CUDA strict equals CPU strict bit for bit, every shape and layout. */
static void test_cuda_ops_rmsnorm_matches_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  compare_row_op_all(OP_RMSNORM);
}

/* softmax: CUDA strict equals CPU strict bit for bit, every shape and layout. */
static void test_cuda_ops_softmax_matches_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  compare_row_op_all(OP_SOFTMAX);
}

/* log_softmax: CUDA strict equals CPU strict bit for bit, every shape and layout. */
static void test_cuda_ops_log_softmax_matches_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  compare_row_op_all(OP_LOG_SOFTMAX);
}

/* argmax: CUDA equals CPU on every shape and layout (random rows). */
static void test_cuda_ops_argmax_matches_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  compare_row_op_all(OP_ARGMAX);
}

/* The residual add fused with the next RMSNorm (lc_add_rmsnorm, the decode
 * path of lib/session.c): x += d and y = rmsnorm(x) on the GPU equal the CPU's
 * lc_add then lc_rmsnorm bit for bit, with and without the vendor-bf16
 * rounding, y in place of d and apart, for batches that take the one-kernel
 * path (m <= 1023, 1025 <= n <= 12224) and others that take the two kernels;
 * rows with NaN, Inf and huge values among them. */
static void test_cuda_ops_add_rmsnorm_matches_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  static const int64_t ms[] = {1, 3, 64, 1030}, ns[] = {64, 1025, 4096, 5003, 12224, 16384};
  int runs = 0;
  for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
    for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
      const int64_t m = ms[a], n = ns[b];
      if (n > g_max_n || (m > 64 && n > 4096)) continue;
      lct_rng r = lct_rng_new(700 + 10 * a + b);
      float *x = lct_malloc_f(m * n), *d = lct_malloc_f(m * n);
      uint16_t *w = lct_malloc((size_t)n * sizeof *w);
      for (int64_t i = 0; i < m * n; i++) {
        x[i] = lct_normalf(&r) * 3.0f;
        d[i] = lct_normalf(&r);
      }
      for (int64_t i = 0; i < n; i++) w[i] = lc_f32_to_bf16(lct_uniformf(&r, 0.5f, 1.5f));
      if (m > 2) { /* row 1: a NaN and an Inf; row 2: values whose squares overflow */
        x[n + n / 2] = NAN;
        d[n + 1] = INFINITY;
        x[2 * n] = 3e19f;
      }
      lc_weights *wg = NULL, *wc = NULL;
      ok(g_gpu, lc_weights_create(g_gpu, 1, n, LC_DTYPE_BF16, w, &wg), "weights(gpu)");
      ok(g_cpu, lc_weights_create(g_cpu, 1, n, LC_DTYPE_BF16, w, &wc), "weights(cpu)");
      const size_t bytes = (size_t)(m * n) * sizeof(float);
      float *dx = dev_alloc(bytes), *dd = dev_alloc(bytes), *dy = dev_alloc(bytes);
      float *hx = lct_malloc_f(m * n), *hy = lct_malloc_f(m * n);
      float *gx = lct_malloc_f(m * n), *gy = lct_malloc_f(m * n), *cy = lct_malloc_f(m * n);
      for (int rnd = 0; rnd < 2; rnd++)
        for (int inplace = 0; inplace < 2; inplace++) {
          memcpy(hx, x, bytes);
          memcpy(hy, d, bytes);
          ok(g_cpu, lc_add_rmsnorm(g_cpu, hx, hy, m, wc, 1e-5f, rnd, inplace ? hy : cy), "cpu");
          h2d(dx, x, bytes);
          h2d(dd, d, bytes);
          ok(g_gpu, lc_add_rmsnorm(g_gpu, dx, dd, m, wg, 1e-5f, rnd, inplace ? dd : dy), "gpu");
          d2h(gx, dx, bytes);
          d2h(gy, inplace ? dd : dy, bytes);
          char what[128];
          snprintf(what, sizeof what, "add_rmsnorm m=%lld n=%lld round=%d %s: x", (long long)m,
                   (long long)n, rnd, inplace ? "in place" : "apart");
          lct_assert_bitwise_f32(gx, hx, m * n, what);
          what[strlen(what) - 1] = 'y';
          lct_assert_bitwise_f32(gy, inplace ? hy : cy, m * n, what);
          runs++;
        }
      lc_buffer_free(g_gpu, dx);
      lc_buffer_free(g_gpu, dd);
      lc_buffer_free(g_gpu, dy);
      lc_weights_free(wg);
      lc_weights_free(wc);
      free(x), free(d), free(w), free(hx), free(hy), free(gx), free(gy), free(cy);
    }
  printf("add_rmsnorm: %d runs, CUDA == CPU bit for bit (x and y)\n", runs);
}

/* RoPE of q and k fused with the K/V cache write (lc_rope_kv_write_dev, the
 * decode path of lib/session.c on the GPU) against the CPU's separate ops:
 * lc_rope_apply of q and of k, lc_round_bf16 of both where the vendor-bf16
 * rounding is asked for, lc_kv_write of k and v.  q and both caches bit for
 * bit, both rope styles, fp32 and bf16 caches, rows of several slots at
 * scattered positions, a NaN and an Inf among the inputs. */
static void test_cuda_ops_rope_kv_write_matches_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  enum { M = 5, NH = 8, NKV = 2, SLOTS = 3, MAXLEN = 16 };
  static const int32_t slot[M] = {0, 2, 1, 2, 0}, pos[M] = {3, 0, 15, 7, 9};
  static const int hds[] = {8, 64, 128};
  int runs = 0;
  for (size_t hi = 0; hi < sizeof hds / sizeof hds[0]; hi++) {
    const int hd = hds[hi];
    const int64_t qn = (int64_t)M * NH * hd, kn = (int64_t)M * NKV * hd;
    for (int style = 0; style < 2; style++) {
      const lc_rope_style rs = style ? LC_ROPE_HALF : LC_ROPE_INTERLEAVED;
      lc_rope *rc = NULL, *rg = NULL;
      ok(g_cpu, lc_rope_create(g_cpu, hd, MAXLEN, 10000.0, rs, NULL, &rc), "rope (cpu)");
      ok(g_gpu, lc_rope_create(g_gpu, hd, MAXLEN, 10000.0, rs, NULL, &rg), "rope (gpu)");
      for (int bf16 = 0; bf16 < 2; bf16++)
        for (int rnd = 0; rnd < 2; rnd++) {
          lct_rng r = lct_rng_new(900 + 100 * hi + 10 * style + 2 * bf16 + rnd);
          float *q = lct_randn(&r, qn, 1.0f), *k = lct_randn(&r, kn, 1.0f);
          float *v = lct_randn(&r, kn, 1.0f);
          q[3] = NAN;
          k[kn - 1] = INFINITY;
          lc_attn_shape sh = {NH,
                              NKV,
                              hd,
                              MAXLEN,
                              SLOTS,
                              lc_attn_default_scale(hd),
                              bf16 ? LC_DTYPE_BF16 : LC_DTYPE_F32};
          const size_t ce = (size_t)SLOTS * MAXLEN * NKV * hd, cb = ce * (bf16 ? 2 : 4);
          /* CPU: the separate ops, each row a sequence of one query */
          float *hq = lct_malloc_f(qn), *hk = lct_malloc_f(kn);
          memcpy(hq, q, (size_t)qn * 4);
          memcpy(hk, k, (size_t)kn * 4);
          void *kc = lct_malloc(cb), *vc = lct_malloc(cb);
          memset(kc, 0, cb);
          memset(vc, 0, cb);
          lc_attn_seq seqs[M];
          for (int i = 0; i < M; i++) seqs[i] = (lc_attn_seq){slot[i], pos[i], 1};
          ok(g_cpu, lc_rope_apply(g_cpu, rc, hq, M, NH, pos), "rope q (cpu)");
          ok(g_cpu, lc_rope_apply(g_cpu, rc, hk, M, NKV, pos), "rope k (cpu)");
          if (rnd) {
            ok(g_cpu, lc_round_bf16(g_cpu, hq, qn), "round q (cpu)");
            ok(g_cpu, lc_round_bf16(g_cpu, hk, kn), "round k (cpu)");
          }
          ok(g_cpu, lc_kv_write(g_cpu, &sh, seqs, M, hk, v, kc, vc), "kv write (cpu)");
          /* GPU: one kernel from device indices */
          float *dq = dev_alloc((size_t)qn * 4), *dk = dev_alloc((size_t)kn * 4);
          float *dv = dev_alloc((size_t)kn * 4);
          void *dkc = dev_alloc(cb), *dvc = dev_alloc(cb);
          int32_t *ds = dev_alloc(sizeof slot), *dp = dev_alloc(sizeof pos);
          void *zero = lct_malloc(cb);
          memset(zero, 0, cb);
          h2d(dkc, zero, cb);
          h2d(dvc, zero, cb);
          h2d(dq, q, (size_t)qn * 4);
          h2d(dk, k, (size_t)kn * 4);
          h2d(dv, v, (size_t)kn * 4);
          h2d(ds, slot, sizeof slot);
          h2d(dp, pos, sizeof pos);
          ok(g_gpu, lc_rope_kv_write_dev(g_gpu, rg, &sh, M, ds, dp, dq, dk, dv, rnd, dkc, dvc),
             "rope + kv write (gpu)");
          float *gq = lct_malloc_f(qn);
          void *gk = lct_malloc(cb), *gv = lct_malloc(cb);
          d2h(gq, dq, (size_t)qn * 4);
          d2h(gk, dkc, cb);
          d2h(gv, dvc, cb);
          char what[128];
          snprintf(what, sizeof what, "rope_kv_write hd=%d %s %s cache round=%d: q", hd,
                   style ? "half" : "interleaved", bf16 ? "bf16" : "f32", rnd);
          lct_assert_bitwise_f32(gq, hq, qn, what);
          assert_memory_equal(gk, kc, cb);
          assert_memory_equal(gv, vc, cb);
          runs++;
          lc_buffer_free(g_gpu, dq), lc_buffer_free(g_gpu, dk), lc_buffer_free(g_gpu, dv);
          lc_buffer_free(g_gpu, dkc), lc_buffer_free(g_gpu, dvc);
          lc_buffer_free(g_gpu, ds), lc_buffer_free(g_gpu, dp);
          free(q), free(k), free(v), free(hq), free(hk), free(kc), free(vc), free(zero);
          free(gq), free(gk), free(gv);
        }
      lc_rope_free(rc);
      lc_rope_free(rg);
    }
  }
  printf("rope_kv_write: %d runs, q and both caches equal to the CPU's separate ops\n", runs);
}

/* argmax: ties go to the first index, -0 == +0, the first NaN wins whatever
 * its sign or payload, a row of -Inf gives 0 — rows built to hit each rule
 * at the start, middle and end of short and long rows. */
static void test_cuda_ops_argmax_ties_and_nan(void **state) {
  (void)state;
  if (!have_gpu) skip();
  static const int64_t all_widths[] = {1, 2, 5, 31, 32, 33, 100, 1025, 4096, 128256};
  static const int64_t san_widths[] = {33, 1025}; /* sanitize: the warp and cluster paths */
  const int san = lct_sanitize();
  const int64_t *widths = san ? san_widths : all_widths;
  const size_t n_widths = san ? LCT_LEN(san_widths) : LCT_LEN(all_widths);
  enum { M = 24 };
  int cases = 0;
  for (size_t a = 0; a < n_widths; a++) {
    const int64_t n = widths[a];
    lct_rng r = lct_rng_new(500 + a);
    float *x = lct_malloc_f(M * n);
    for (int64_t row = 0; row < M; row++) {
      float *xr = x + row * n;
      for (int64_t i = 0; i < n; i++) xr[i] = lct_uniformf(&r, -4.0f, 3.0f);
      const int64_t p1 = lct_range(&r, 0, n - 1), p2 = lct_range(&r, 0, n - 1);
      const int64_t ends[] = {0, n - 1, n / 2, p1};
      switch (row % 8) {
        case 0: /* the max at several places */
          for (int k = 0; k < 4; k++) xr[ends[k]] = 7.0f;
          xr[p2] = 7.0f;
          break;
        case 1: /* -0 then +0 as the max of a negative row */
        case 2: /* +0 then -0 */
          for (int64_t i = 0; i < n; i++) xr[i] = -1.0f - fabsf(xr[i]);
          xr[p1 < p2 ? p1 : p2] = (row % 8 == 1) ? -0.0f : 0.0f;
          xr[p1 < p2 ? p2 : p1] = (row % 8 == 1) ? 0.0f : -0.0f;
          break;
        case 3: /* NaNs of several signs and payloads after a large value */
          xr[p1] = INFINITY;
          xr[p2] = f_bits(0xFFC00001u);
          xr[ends[row % 3]] = f_bits(0x7F800001u);
          break;
        case 4: /* all -Inf */
          for (int64_t i = 0; i < n; i++) xr[i] = -INFINITY;
          break;
        case 5: /* all NaN but for one +Inf */
          for (int64_t i = 0; i < n; i++) xr[i] = f_bits(0x7FC00000u + (uint32_t)(i & 7));
          xr[p1] = INFINITY;
          break;
        case 6: /* all equal */
          for (int64_t i = 0; i < n; i++) xr[i] = 1.5f;
          break;
        default: /* any bits: NaN about 0.4% of the time */
          for (int64_t i = 0; i < n; i++) xr[i] = lct_any_bits(&r);
          break;
      }
    }
    int32_t ref[M], got[M];
    run_op(g_cpu, OP_ARGMAX, x, M, n, NULL, 0.0f, ref);
    float *dx = dev_alloc((size_t)(M * n) * sizeof(float));
    h2d(dx, x, (size_t)(M * n) * sizeof(float));
    for (int64_t m = 1; m <= M; m += M - 1) { /* alone rows (m = 1) and the whole batch */
      for (int64_t row = 0; row + m <= M; row += m) {
        run_op(g_gpu, OP_ARGMAX, dx + row * n, m, n, NULL, 0.0f, got + row);
        cases++;
      }
      for (int64_t row = 0; row < M; row++)
        if (got[row] != ref[row])
          fail_msg("argmax n=%lld row %lld (kind %d), m=%lld: cpu %d gpu %d", (long long)n,
                   (long long)row, (int)(row % 8), (long long)m, (int)ref[row], (int)got[row]);
    }
    lc_buffer_free(g_gpu, dx);
    free(x);
  }
  printf("argmax: ties, -0/+0, NaN and -Inf rows equal the CPU: %d launches over %d widths\n",
         cases, (int)n_widths);
}

/* ---- batch invariance on the GPU -------------------------------------------------*/

/* Neighbour row r of an invariance batch: poison of kind r % 6, or random
 * (every 7th row), deterministic in (seed, r). */
static void neighbour_row(float *x, int64_t n, int64_t r, uint64_t seed) {
  lct_rng g = lct_rng_new(seed * 1000003u + (uint64_t)r);
  if (r % 7 == 6) {
    fill_row(x, n, (int)(r % ROW_KINDS), &g);
  } else {
    lct_fill_poison(x, n, (int)(r % 7), &g);
  }
}

/* The positions a probe takes in a batch of m rows: 0, m/2, m-1 for
 * m <= 64, and 1 too for larger m (duplicates skipped by the caller). */
static int probe_positions(int64_t m, int64_t pos[4]) {
  int k = 0;
  const int64_t cand[] = {0, 1, m / 2, m - 1};
  for (int c = 0; c < 4; c++) {
    if (c == 1 && m <= 64) continue;
    int dup = cand[c] >= m;
    for (int j = 0; j < k; j++) dup |= pos[j] == cand[c];
    if (!dup) pos[k++] = cand[c];
  }
  return k;
}

/* The batch sizes of the invariance tests into ms[]: m = 1..64, then a
 * spread up to 4096, every LCT_THIN-th; sanitize: 1, 33 and 1024 (argmax's
 * cluster path and not, softmax's few rows and many, the block paths of
 * rmsnorm and argmax and their warp paths past m = 1023).  Returns the count. */
enum { INV_MAX_BATCHES = 80 };
static int invariance_batches(int64_t ms[INV_MAX_BATCHES]) {
  static const int64_t spread[] = {127, 128, 129, 255, 256, 257, 511, 1023, 1024, 1025, 2048, 4096};
  static const int64_t san[] = {1, 33, 1024};
  int nb = 0;
  if (lct_sanitize()) {
    for (size_t i = 0; i < LCT_LEN(san); i++) ms[nb++] = san[i];
    return nb;
  }
  for (int64_t k = 0; k < 64 + (int64_t)LCT_LEN(spread); k += lct_thin())
    ms[nb++] = k < 64 ? k + 1 : spread[k - 64];
  return nb;
}

/* Rows of width n: three probes (random; zeros and subnormals; specials),
 * each alone (m = 1) on the GPU, then inside the batches of
 * invariance_batches() up to max_m rows at the positions of
 * probe_positions(); every other row random or poisoned (filled once).  The
 * probe's output must be bitwise the alone result each time.  Returns the
 * number of batches run. */
static int invariance_width(row_op op, int64_t n, int64_t max_m, const lc_weights *wg,
                            uint64_t seed) {
  int64_t ms[INV_MAX_BATCHES];
  const int n_ms = invariance_batches(ms);
  int64_t rows = 1; /* the rows any batch reaches */
  for (int i = 0; i < n_ms; i++)
    if (ms[i] <= max_m && ms[i] > rows) rows = ms[i];
  max_m = rows;
  const size_t rowb = (size_t)n * sizeof(float);
  const int is_arg = op == OP_ARGMAX;
  float *dx = dev_alloc((size_t)max_m * rowb);
  float *dy = is_arg ? NULL : dev_alloc((size_t)max_m * rowb);
  int32_t *idx = lct_malloc((size_t)max_m * sizeof(int32_t));
  float *probe = lct_malloc_f(n), *host_row = lct_malloc_f(n), *alone = lct_malloc_f(n),
        *got = lct_malloc_f(n);
  /* the neighbours, uploaded 64 rows at a time */
  float *host_rows = lct_malloc_f(64 * n);
  for (int64_t r0 = 0; r0 < max_m; r0 += 64) {
    const int64_t nr = max_m - r0 < 64 ? max_m - r0 : 64;
    for (int64_t r = 0; r < nr; r++) neighbour_row(host_rows + r * n, n, r0 + r, seed);
    h2d(dx + r0 * n, host_rows, (size_t)nr * rowb);
  }
  free(host_rows);
  int runs = 0;
  char what[160];
  for (int kind = 0; kind < 3; kind++) {
    lct_rng g = lct_rng_new(seed * 31u + (uint64_t)kind);
    fill_row(probe, n, kind == 0 ? 0 : kind == 1 ? 4 : 11, &g);
    /* alone: the probe in row 0, m = 1 */
    int32_t alone_idx = -1;
    h2d(dx, probe, rowb);
    if (is_arg) {
      run_op(g_gpu, op, dx, 1, n, wg, 1e-5f, &alone_idx);
    } else {
      run_op(g_gpu, op, dx, 1, n, wg, 1e-5f, dy);
      d2h(alone, dy, rowb);
    }
    neighbour_row(host_row, n, 0, seed);
    h2d(dx, host_row, rowb);
    for (int b = 0; b < n_ms; b++) {
      const int64_t m = ms[b];
      if (m > max_m) continue;
      int64_t pos[4];
      const int np = probe_positions(m, pos);
      for (int p = 0; p < np; p++) {
        h2d(dx + pos[p] * n, probe, rowb);
        snprintf(what, sizeof what, "%s n=%lld probe %d: row %lld of m=%lld vs alone", op_name(op),
                 (long long)n, kind, (long long)pos[p], (long long)m);
        if (is_arg) {
          run_op(g_gpu, op, dx, m, n, wg, 1e-5f, idx);
          if (idx[pos[p]] != alone_idx)
            fail_msg("%s: alone %d, in the batch %d", what, (int)alone_idx, (int)idx[pos[p]]);
        } else {
          run_op(g_gpu, op, dx, m, n, wg, 1e-5f, dy);
          d2h(got, dy + pos[p] * n, rowb);
          lct_assert_bitwise_f32(got, alone, n, what);
        }
        runs++;
        neighbour_row(host_row, n, pos[p], seed); /* put the neighbour back */
        h2d(dx + pos[p] * n, host_row, rowb);
      }
    }
  }
  lc_buffer_free(g_gpu, dx);
  lc_buffer_free(g_gpu, dy);
  free(idx);
  free(probe);
  free(host_row);
  free(alone);
  free(got);
  return runs;
}

static void invariance_op(row_op op) {
  static const int64_t all_widths[] = {100, 1025, 4096, 128256};
  static const int64_t san_widths[] = {100, 1025}; /* sanitize: the warp and block paths */
  const int64_t *widths = lct_sanitize() ? san_widths : all_widths;
  const size_t n_widths = lct_sanitize() ? LCT_LEN(san_widths) : LCT_LEN(all_widths);
  const double t0 = lct_now_s();
  int runs = 0;
  for (size_t a = 0; a < n_widths; a++) {
    const int64_t n = widths[a];
    if (n > g_max_n) continue;
    /* 1025 rows of 128256 already cross rmsnorm's and argmax's block-per-row
     * limit (1023) and softmax's grid (132 blocks at that width) */
    const int64_t max_m = n > 4096 ? 1025 : 4096;
    lc_weights *wg = NULL, *wc = NULL;
    if (op == OP_RMSNORM) make_weights(n, 77 + a, &wg, &wc);
    runs += invariance_width(op, n, max_m, wg, 40 + a);
    lc_weights_free(wg);
    lc_weights_free(wc);
  }
  printf(
      "%s: a row alone == the same row in %d batches (m 1..4096, widths 100..128256, "
      "3 probes, random and poisoned neighbours), bitwise%s (%.1f s)\n",
      op_name(op), runs, lct_profile_note(), lct_now_s() - t0);
}

/* rmsnorm on the GPU: a row's bits do not depend on the batch or its position. */
static void test_cuda_ops_rmsnorm_batch_invariant(void **state) {
  (void)state;
  if (!have_gpu) skip();
  invariance_op(OP_RMSNORM);
}

/* softmax on the GPU: a row's bits do not depend on the batch or its position. */
static void test_cuda_ops_softmax_batch_invariant(void **state) {
  (void)state;
  if (!have_gpu) skip();
  invariance_op(OP_SOFTMAX);
}

/* log_softmax on the GPU: a row's bits do not depend on the batch or its position. */
static void test_cuda_ops_log_softmax_batch_invariant(void **state) {
  (void)state;
  if (!have_gpu) skip();
  invariance_op(OP_LOG_SOFTMAX);
}

/* argmax on the GPU: a row's index does not depend on the batch or its position. */
static void test_cuda_ops_argmax_batch_invariant(void **state) {
  (void)state;
  if (!have_gpu) skip();
  invariance_op(OP_ARGMAX);
}

/* ---- elementwise -------------------------------------------------------------------*/

static const int64_t ew_sizes[] = {1, 2, 3, 4, 5, 7, 31, 100, 1000, 4097, (1 << 20) + 3};
static const int64_t ew_sizes_san[] = {1, 5, 4097, (1 << 20) + 3}; /* sanitize */

static void fill_ew(float *v, int64_t n, lct_rng *r) {
  for (int64_t i = 0; i < n; i++) {
    const uint64_t k = lct_next(r) % 16;
    v[i] = k == 0   ? special_value(r)
           : k == 1 ? lct_any_bits(r)
           : k == 2 ? lct_uniformf(r, -110.0f, 110.0f) /* silu's exp under/overflow */
                    : 4.0f * lct_normalf(r);
  }
}

typedef enum ew_op { EW_ADD, EW_SILU_MUL } ew_op;

static void run_ew(lc_context *ctx, ew_op op, const float *a, const float *b, int64_t n, float *o) {
  ok(ctx, op == EW_ADD ? lc_add(ctx, a, b, n, o) : lc_silu_mul(ctx, a, b, n, o),
     op == EW_ADD ? "lc_add" : "lc_silu_mul");
}

/* Every size, every start offset 0..3 floats of a, b and out (equal offsets
 * take the vector path, unequal ones the scalar path), out of place and in
 * place (out = a, out = b, a = b = out).  Big sizes, and every size under
 * sanitize, take the equal offsets and every 7th of the others. */
static void compare_ew(ew_op op) {
  const char *name = op == EW_ADD ? "add" : "silu_mul";
  const int san = lct_sanitize();
  const int64_t *sizes = san ? ew_sizes_san : ew_sizes;
  const size_t n_sizes = san ? LCT_LEN(ew_sizes_san) : LCT_LEN(ew_sizes);
  int cases = 0;
  char what[160];
  for (size_t s = 0; s < n_sizes; s++) {
    const int64_t n = sizes[s];
    const size_t nb = (size_t)n * sizeof(float);
    lct_rng r = lct_rng_new(800 + s);
    float *a = lct_malloc_f(n), *b = lct_malloc_f(n), *ref = lct_malloc_f(n),
          *got = lct_malloc_f(n);
    fill_ew(a, n, &r);
    fill_ew(b, n, &r);
    float *da = dev_alloc(nb + 64), *db = dev_alloc(nb + 64), *dout = dev_alloc(nb + 64);
    /* out of place: offsets (oa, ob, oo) */
    run_ew(g_cpu, op, a, b, n, ref);
    for (int off = 0; off < 64; off++) {
      const int oa = off & 3, ob = (off >> 2) & 3, oo = (off >> 4) & 3;
      if ((n > 5000 || san) && !(oa == ob && ob == oo) && off % 7 != 0) continue; /* fewer */
      h2d(da + oa, a, nb);
      h2d(db + ob, b, nb);
      run_ew(g_gpu, op, da + oa, db + ob, n, dout + oo);
      d2h(got, dout + oo, nb);
      snprintf(what, sizeof what, "%s n=%lld offsets a+%d b+%d out+%d", name, (long long)n, oa, ob,
               oo);
      lct_assert_bitwise_f32(got, ref, n, what);
      cases++;
    }
    /* in place: out = a, out = b, at offsets 0 and 1 */
    for (int alias = 0; alias < 2; alias++)
      for (int o = 0; o < 2; o++) {
        h2d(da + o, a, nb);
        h2d(db + o, b, nb);
        float *out = alias == 0 ? da + o : db + o;
        run_ew(g_gpu, op, da + o, db + o, n, out);
        d2h(got, out, nb);
        snprintf(what, sizeof what, "%s n=%lld in place out=%s offset %d", name, (long long)n,
                 alias == 0 ? "a" : "b", o);
        lct_assert_bitwise_f32(got, ref, n, what);
        cases++;
      }
    /* a = b = out */
    float *ref2 = lct_malloc_f(n);
    run_ew(g_cpu, op, a, a, n, ref2);
    h2d(da, a, nb);
    run_ew(g_gpu, op, da, da, n, da);
    d2h(got, da, nb);
    snprintf(what, sizeof what, "%s n=%lld a = b = out", name, (long long)n);
    lct_assert_bitwise_f32(got, ref2, n, what);
    cases++;
    lc_buffer_free(g_gpu, da);
    lc_buffer_free(g_gpu, db);
    lc_buffer_free(g_gpu, dout);
    free(a);
    free(b);
    free(ref);
    free(ref2);
    free(got);
  }
  printf(
      "%s: CUDA == CPU strict bitwise: %d cases (n 1..2^20+3, offsets 0..3, in place, "
      "specials)%s\n",
      name, cases, lct_profile_note());
}

/* add: CUDA equals CPU bit for bit at every size, alignment and aliasing. */
static void test_cuda_ops_add_matches_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  compare_ew(EW_ADD);
}

/* silu_mul: CUDA equals CPU bit for bit at every size, alignment and aliasing. */
static void test_cuda_ops_silu_mul_matches_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  compare_ew(EW_SILU_MUL);
}

/* round_bf16: CUDA equals CPU bit for bit over any bit pattern, at sizes and
 * offsets that exercise the scalar head, the vector body and the tail. */
static void test_cuda_ops_round_bf16_matches_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  lct_rng r = lct_rng_new(4242);
  static const int64_t all_sizes[] = {1, 3, 4, 5, 31, 1000, 65539, 1 << 20};
  static const int64_t san_sizes[] = {5, 65539}; /* sanitize: head, vectors and tail */
  const int64_t *sizes = lct_sanitize() ? san_sizes : all_sizes;
  const size_t n_sizes = lct_sanitize() ? LCT_LEN(san_sizes) : LCT_LEN(all_sizes);
  for (size_t si = 0; si < n_sizes; si++) {
    for (int off = 0; off < 4; off++) {
      const int64_t n = sizes[si];
      float *h = lct_alloc_f(n + off), *cpu = lct_alloc_f(n + off), *got = lct_alloc_f(n + off);
      for (int64_t i = 0; i < n + off; i++) h[i] = lct_any_bits(&r);
      memcpy(cpu, h, (size_t)(n + off) * 4);
      float *d = NULL;
      assert_int_equal(lc_buffer_alloc(g_gpu, (size_t)(n + off) * 4, (void **)&d), LC_OK);
      assert_int_equal(lc_buffer_write(g_gpu, d, h, (size_t)(n + off) * 4), LC_OK);
      assert_int_equal(lc_round_bf16(g_gpu, d + off, n), LC_OK);
      assert_int_equal(lc_buffer_read(g_gpu, got, d, (size_t)(n + off) * 4), LC_OK);
      assert_int_equal(lc_round_bf16(g_cpu, cpu + off, n), LC_OK);
      lct_assert_bitwise_f32(got, cpu, n + off, "round_bf16");
      lc_buffer_free(g_gpu, d);
      free(h);
      free(cpu);
      free(got);
    }
  }
  lc_device_info di;
  assert_int_equal(lc_context_get_device_info(g_gpu, &di), LC_OK);
  assert_int_equal(di.backend, LC_BACKEND_CUDA);
  assert_true(di.cc_major >= 9 && di.n_sm > 0 && di.driver_version > 0 && di.runtime_version > 0);
  printf("device: %s, cc %d.%d, %d SMs, driver %d, runtime %d, cuBLASLt %d\n", di.name, di.cc_major,
         di.cc_minor, di.n_sm, di.driver_version, di.runtime_version, di.cublaslt_version);
}

/* ---- embedding ---------------------------------------------------------------------*/

/* embedding: CUDA equals CPU bit for bit (any bf16 pattern, NaN payloads
 * included) on a 128256-row table, dims with and without the vector path,
 * ids at both ends of the table and repeated. */
static void test_cuda_ops_embedding_matches_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  static const struct {
    int64_t vocab, dim;
  } tables[] = {{128256, 64}, {1000, 100}, {300, 33}, {50, 4096}, {7, 1}};
  static const int64_t all_batches[] = {1, 7, 257, 4096};
  static const int64_t san_batches[] = {1, 257};
  /* sanitize: the big table (vector path), 300 x 33 (scalar), 50 x 4096 */
  const int san = lct_sanitize();
  const int64_t *batches = san ? san_batches : all_batches;
  const size_t n_batches = san ? LCT_LEN(san_batches) : LCT_LEN(all_batches);
  int cases = 0;
  for (size_t t = 0; t < LCT_LEN(tables); t++) {
    if (san && t != 0 && t != 2 && t != 3) continue;
    const int64_t vocab = tables[t].vocab, dim = tables[t].dim;
    lct_rng r = lct_rng_new(900 + t);
    uint16_t *tab = lct_malloc((size_t)(vocab * dim) * 2);
    for (int64_t i = 0; i < vocab * dim; i++) tab[i] = (uint16_t)lct_next(&r);
    lc_weights *wg = NULL, *wc = NULL;
    ok(g_gpu, lc_weights_create(g_gpu, vocab, dim, LC_DTYPE_BF16, tab, &wg), "table(gpu)");
    ok(g_cpu, lc_weights_create(g_cpu, vocab, dim, LC_DTYPE_BF16, tab, &wc), "table(cpu)");
    for (size_t b = 0; b < n_batches; b++) {
      const int64_t m = batches[b];
      int32_t *ids = lct_malloc((size_t)m * sizeof(int32_t));
      for (int64_t i = 0; i < m; i++)
        ids[i] = i == 0 ? (int32_t)(vocab - 1) : i == 1 ? 0 : (int32_t)lct_range(&r, 0, vocab - 1);
      if (m > 4) ids[m - 1] = ids[2]; /* a repeated id */
      float *ref = lct_malloc_f(m * dim), *got = lct_malloc_f(m * dim);
      ok(g_cpu, lc_embedding(g_cpu, wc, ids, m, ref), "lc_embedding(cpu)");
      float *dout = dev_alloc((size_t)(m * dim) * sizeof(float) + 64);
      for (int off = 0; off < 2; off++) { /* out + 1 float: scalar path */
        ok(g_gpu, lc_embedding(g_gpu, wg, ids, m, dout + off), "lc_embedding(gpu)");
        d2h(got, dout + off, (size_t)(m * dim) * sizeof(float));
        char what[128];
        snprintf(what, sizeof what, "embedding vocab=%lld dim=%lld m=%lld out+%d", (long long)vocab,
                 (long long)dim, (long long)m, off);
        lct_assert_bitwise_f32(got, ref, m * dim, what);
        cases++;
      }
      lc_buffer_free(g_gpu, dout);
      free(ids);
      free(ref);
      free(got);
    }
    lc_weights_free(wg);
    lc_weights_free(wc);
    free(tab);
  }
  printf("embedding: CUDA == CPU bitwise: %d cases (tables up to 128256 x 64, any bf16 bits)%s\n",
         cases, lct_profile_note());
}

/* ---- rope ----------------------------------------------------------------------------*/

/* rope: CUDA equals CPU bit for bit in both pair styles, head dims 2..256,
 * at random positions up to max_pos-1, on rows with special values; the
 * tables come from lc_rope_create on each context. */
static void test_cuda_ops_rope_matches_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  static const int64_t head_dims[] = {2, 6, 64, 128, 256};
  static const int64_t heads[] = {1, 8, 32};
  static const int64_t batches[] = {1, 7, 257};
  const int64_t max_pos = 4096;
  /* sanitize: head_dim 6 and 256 (pairs past a warp's 32 lanes), 1 and 8
   * heads, m = 1 and 257 */
  const int san = lct_sanitize();
  int cases = 0;
  for (int style = 0; style < 2; style++)
    for (size_t h = 0; h < sizeof head_dims / sizeof head_dims[0]; h++) {
      if (san && head_dims[h] != 6 && head_dims[h] != 256) continue;
      const int64_t hd = head_dims[h];
      lc_rope *rg = NULL, *rc = NULL;
      const double theta = h % 2 ? 500000.0 : 10000.0;
      ok(g_gpu, lc_rope_create(g_gpu, hd, max_pos, theta, (lc_rope_style)style, NULL, &rg),
         "rope(gpu)");
      ok(g_cpu, lc_rope_create(g_cpu, hd, max_pos, theta, (lc_rope_style)style, NULL, &rc),
         "rope(cpu)");
      for (size_t a = 0; a < sizeof heads / sizeof heads[0]; a++)
        for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
          if (san && (heads[a] == 32 || batches[b] == 7)) continue;
          const int64_t nh = heads[a], m = batches[b], n = m * nh * hd;
          lct_rng r = lct_rng_new(1000 + 100 * h + 10 * a + b + (uint64_t)style);
          float *x = lct_malloc_f(n), *got = lct_malloc_f(n);
          fill_rows(x, m * nh, hd, 1000 + b);
          int32_t *pos = lct_malloc((size_t)m * sizeof(int32_t));
          for (int64_t i = 0; i < m; i++)
            pos[i] = i == 0 ? (int32_t)(max_pos - 1) : (int32_t)lct_range(&r, 0, max_pos - 1);
          float *dx = dev_alloc((size_t)n * sizeof(float));
          h2d(dx, x, (size_t)n * sizeof(float));
          ok(g_gpu, lc_rope_apply(g_gpu, rg, dx, m, nh, pos), "lc_rope_apply(gpu)");
          ok(g_cpu, lc_rope_apply(g_cpu, rc, x, m, nh, pos), "lc_rope_apply(cpu)");
          d2h(got, dx, (size_t)n * sizeof(float));
          char what[128];
          snprintf(what, sizeof what, "rope %s hd=%lld heads=%lld m=%lld",
                   style ? "half" : "interleaved", (long long)hd, (long long)nh, (long long)m);
          lct_assert_bitwise_f32(got, x, n, what);
          cases++;
          lc_buffer_free(g_gpu, dx);
          free(x);
          free(got);
          free(pos);
        }
      lc_rope_free(rg);
      lc_rope_free(rc);
    }
  printf(
      "rope: CUDA == CPU strict bitwise: %d cases (both styles, head_dim 2..256, positions "
      "up to 4095)%s\n",
      cases, lct_profile_note());
}

/* ---- conversions (kernels/convert.cu, called directly) ---------------------------------*/

/* f32 -> bf16 and bf16 -> f32 on the GPU give exactly cast/'s conversions for
 * every kind of bit pattern and alignment; add_bias adds widen(bias) with one
 * plain FP32 addition (NaN results compared as NaN: the vendor path does not
 * canonicalise). */
static void test_cuda_ops_convert_matches_host(void **state) {
  (void)state;
  if (!have_gpu) skip();
#if defined(LC_HAVE_CUDA)
  char err[256];
  void *stream = lc_cuda_stream(g_gpu);
  static const int64_t sizes[] = {1, 3, 4, 5, 100, 4099, (1 << 20) + 1};
  /* sanitize: 5, 4099 and 2^20+1 floats; add_bias on 3 x 5, 70000 x 8 (the
   * grid-y loop), 2 x 4099 */
  const int san = lct_sanitize();
  int cases = 0;
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    if (san && sizes[s] != 5 && sizes[s] != 4099 && sizes[s] != (1 << 20) + 1) continue;
    const int64_t n = sizes[s];
    lct_rng r = lct_rng_new(1200 + s);
    float *f = lct_malloc_f(n), *fback = lct_malloc_f(n);
    uint16_t *h = lct_malloc((size_t)n * 2), *hback = lct_malloc((size_t)n * 2);
    for (int64_t i = 0; i < n; i++) {
      f[i] = (i % 3) ? lct_any_bits(&r) : 3.0f * lct_normalf(&r);
      h[i] = (uint16_t)lct_next(&r);
    }
    float *df = dev_alloc((size_t)n * 4 + 64);
    uint16_t *dh = dev_alloc((size_t)n * 2 + 64);
    for (int off = 0; off < 4; off++) {
      /* f + of floats, h + oh halves: (0,0) and (1,1) take the vector path
       * (after a head of 3 in the second), (1,0) and (0,1) the scalar one */
      const int of = off & 1, oh = off >> 1;
      h2d(df + of, f, (size_t)n * 4);
      lc_status st = lc_kernels_f32_to_bf16(df + of, n, dh + oh, stream, err, sizeof err);
      if (st != LC_OK) fail_msg("lc_kernels_f32_to_bf16: %s", err);
      d2h(hback, dh + oh, (size_t)n * 2);
      for (int64_t i = 0; i < n; i++)
        if (hback[i] != lc_f32_to_bf16(f[i]))
          fail_msg("f32_to_bf16 n=%lld off=%d [%lld]: x 0x%08X host 0x%04X gpu 0x%04X",
                   (long long)n, off, (long long)i, lc_f32_bits(f[i]), lc_f32_to_bf16(f[i]),
                   hback[i]);
      h2d(dh + oh, h, (size_t)n * 2);
      st = lc_kernels_bf16_to_f32(dh + oh, n, df + of, stream, err, sizeof err);
      if (st != LC_OK) fail_msg("lc_kernels_bf16_to_f32: %s", err);
      d2h(fback, df + of, (size_t)n * 4);
      for (int64_t i = 0; i < n; i++)
        if (lc_f32_bits(fback[i]) != ((uint32_t)h[i] << 16))
          fail_msg("bf16_to_f32 n=%lld off=%d [%lld]: 0x%04X gave 0x%08X", (long long)n, off,
                   (long long)i, h[i], lc_f32_bits(fback[i]));
      cases += 2;
    }
    lc_buffer_free(g_gpu, df);
    lc_buffer_free(g_gpu, dh);
    free(f);
    free(fback);
    free(h);
    free(hback);
  }
  /* add_bias over [m][n] */
  static const int64_t shapes[][2] = {{1, 1}, {3, 5}, {7, 64}, {300, 100}, {70000, 8}, {2, 4099}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    if (san && s != 1 && s != 4 && s != 5) continue;
    const int64_t m = shapes[s][0], n = shapes[s][1];
    lct_rng r = lct_rng_new(1300 + s);
    float *y = lct_malloc_f(m * n), *got = lct_malloc_f(m * n);
    uint16_t *bias = lct_malloc((size_t)n * 2);
    fill_ew(y, m * n, &r);
    for (int64_t j = 0; j < n; j++) bias[j] = lc_f32_to_bf16(lct_normalf(&r));
    if (n > 2) bias[1] = 0x7F80u; /* +Inf */
    if (n > 3) bias[2] = 0x8000u; /* -0 */
    float *dy = dev_alloc((size_t)(m * n) * 4 + 64);
    uint16_t *db = dev_alloc((size_t)n * 2 + 64);
    for (int off = 0; off < 2; off++) {
      h2d(dy + off, y, (size_t)(m * n) * 4);
      h2d(db + off, bias, (size_t)n * 2);
      lc_status st = lc_kernels_add_bias(dy + off, m, n, db + off, stream, err, sizeof err);
      if (st != LC_OK) fail_msg("lc_kernels_add_bias: %s", err);
      d2h(got, dy + off, (size_t)(m * n) * 4);
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
          const float want = y[i * n + j] + lc_bf16_to_f32(bias[j]), g = got[i * n + j];
          if (lc_f32_isnan(want) && lc_f32_isnan(g)) continue;
          if (lc_f32_bits(want) != lc_f32_bits(g))
            fail_msg("add_bias m=%lld n=%lld off=%d [%lld][%lld]: want 0x%08X got 0x%08X",
                     (long long)m, (long long)n, off, (long long)i, (long long)j, lc_f32_bits(want),
                     lc_f32_bits(g));
        }
      cases++;
    }
    lc_buffer_free(g_gpu, dy);
    lc_buffer_free(g_gpu, db);
    free(y);
    free(got);
    free(bias);
  }
  printf("convert: f32_to_bf16, bf16_to_f32, add_bias equal the host: %d cases\n", cases);
#endif
}

/* ---- determinism and timing ------------------------------------------------------------*/

/* Every op run three times on the same input gives the same bits each time. */
static void test_cuda_ops_repeat_runs_identical(void **state) {
  (void)state;
  if (!have_gpu) skip();
  static const int64_t all_shapes[][2] = {{257, 4096}, {1, 128256}, {64, 128256}, {2000, 33}};
  /* sanitize: two runs of each op on a block-path and a warp-path shape */
  static const int64_t san_shapes[][2] = {{257, 1025}, {2000, 33}};
  const int san = lct_sanitize();
  const int64_t(*shapes)[2] = san ? san_shapes : all_shapes;
  const size_t n_shapes = san ? LCT_LEN(san_shapes) : LCT_LEN(all_shapes);
  const int reps = san ? 2 : 3;
  int cases = 0;
  for (size_t s = 0; s < n_shapes; s++) {
    const int64_t m = shapes[s][0], n = shapes[s][1];
    float *x = lct_malloc_f(m * n), *first = lct_malloc_f(m * n), *again = lct_malloc_f(m * n);
    fill_rows(x, m, n, 1400 + s);
    lc_weights *wg = NULL, *wc = NULL;
    make_weights(n, 1500 + s, &wg, &wc);
    float *dx = dev_alloc((size_t)(m * n) * 4), *dy = dev_alloc((size_t)(m * n) * 4);
    h2d(dx, x, (size_t)(m * n) * 4);
    for (int op = 0; op < OP_COUNT + 2; op++) {
      for (int rep = 0; rep < reps; rep++) {
        float *dst = rep == 0 ? first : again;
        if (op < OP_COUNT) {
          run_op(g_gpu, (row_op)op, dx, m, n, wg, 1e-5f, op == OP_ARGMAX ? (void *)dst : dy);
          if (op != OP_ARGMAX) d2h(dst, dy, (size_t)(m * n) * 4);
        } else {
          run_ew(g_gpu, op == OP_COUNT ? EW_ADD : EW_SILU_MUL, dx, dx + 1, m * n - 1, dy);
          d2h(dst, dy, (size_t)(m * n - 1) * 4);
        }
        if (rep > 0) {
          const size_t cmp =
              op == OP_ARGMAX ? (size_t)m : (size_t)(op < OP_COUNT ? m * n : m * n - 1);
          if (memcmp(first, again, cmp * 4) != 0)
            fail_msg("op %d m=%lld n=%lld: run %d differs from run 0", op, (long long)m,
                     (long long)n, rep);
        }
        cases++;
      }
    }
    lc_buffer_free(g_gpu, dx);
    lc_buffer_free(g_gpu, dy);
    lc_weights_free(wg);
    lc_weights_free(wc);
    free(x);
    free(first);
    free(again);
  }
  printf("repeat: %d runs of 6 ops on %d shapes, each identical to the first\n", cases,
         (int)n_shapes);
}

/* Not a check: rough time per call (queue of 50 calls, then synchronize) for
 * the decode and prefill shapes, so the first GPU run shows where the kernels
 * stand.  bench/ will time them properly. */
static void test_cuda_ops_rough_timing(void **state) {
  (void)state;
  if (!have_gpu) skip();
  static const struct {
    row_op op;
    int64_t m, n;
  } cases[] = {
      {OP_RMSNORM, 1, 4096},       {OP_RMSNORM, 64, 4096},        {OP_RMSNORM, 4096, 4096},
      {OP_SOFTMAX, 1, 128256},     {OP_SOFTMAX, 64, 128256},      {OP_SOFTMAX, 1024, 128256},
      {OP_LOG_SOFTMAX, 1, 128256}, {OP_LOG_SOFTMAX, 512, 128256}, {OP_ARGMAX, 1, 128256},
      {OP_ARGMAX, 64, 128256},     {OP_SOFTMAX, 4096, 1024},      {OP_SOFTMAX, 4096, 4096},
      {OP_LOG_SOFTMAX, 1, 32000},  {OP_LOG_SOFTMAX, 256, 32000},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const int64_t m = cases[c].m, n = cases[c].n;
    if (lct_sanitize() && m * n > (1 << 22)) continue; /* sanitize: up to 4M elements */
    float *x = lct_malloc_f(m * n);
    lct_rng r = lct_rng_new(1600 + c);
    for (int64_t i = 0; i < n * (m < 8 ? m : 8); i++) x[i] = lct_uniformf(&r, -8.0f, 8.0f);
    for (int64_t i = 8; i < m; i++) memcpy(x + i * n, x + (i % 8) * n, (size_t)n * sizeof(float));
    lc_weights *wg = NULL, *wc = NULL;
    if (cases[c].op == OP_RMSNORM) make_weights(n, 1700 + c, &wg, &wc);
    float *dx = dev_alloc((size_t)(m * n) * 4), *dy = dev_alloc((size_t)(m * n) * 4);
    int32_t *idx = lct_malloc((size_t)m * 4);
    h2d(dx, x, (size_t)(m * n) * 4);
    void *out = cases[c].op == OP_ARGMAX ? (void *)idx : (void *)dy;
    run_op(g_gpu, cases[c].op, dx, m, n, wg, 1e-5f, out); /* warm-up */
    ok(g_gpu, lc_context_synchronize(g_gpu), "synchronize");
    /* argmax reads back each call; thinned (LCT_THIN > 1), 2 calls */
    const int reps = lct_thin() > 1 ? 2 : cases[c].op == OP_ARGMAX ? 20 : 50;
    const double t0 = lct_now_s();
    for (int k = 0; k < reps; k++) run_op(g_gpu, cases[c].op, dx, m, n, wg, 1e-5f, out);
    ok(g_gpu, lc_context_synchronize(g_gpu), "synchronize");
    const double us = (lct_now_s() - t0) / reps * 1e6;
    const double gbs = (double)(m * n) * 4.0 * 2.0 / (us * 1e-6) / 1e9;
    printf(
        "timing: %-11s m=%-5lld n=%-6lld %9.1f us/call (%.0f GB/s counting x read + y "
        "written once%s)\n",
        op_name(cases[c].op), (long long)m, (long long)n, us, gbs,
        cases[c].op == OP_ARGMAX ? "; includes the idx read-back" : "");
    lc_buffer_free(g_gpu, dx);
    lc_buffer_free(g_gpu, dy);
    lc_weights_free(wg);
    lc_weights_free(wc);
    free(x);
    free(idx);
  }
}

int main(void) {
  lct_gpu_main_begin();
  const char *max_n = getenv("LC_CUDA_OPS_MAX_N"), *filter = getenv("LC_CUDA_OPS_FILTER");
  if (max_n && *max_n) g_max_n = strtoll(max_n, NULL, 10);
  if (filter && *filter) cmocka_set_test_filter(filter);
  have_gpu = lct_have_cuda();
  if (!have_gpu) {
    printf("no usable CUDA device (or CUDA not in this build): GPU tests skip\n");
  } else {
    lc_context_params p;
    lc_context_params_default(&p);
    p.backend = LC_BACKEND_CUDA;
    if (lc_context_create(&p, &g_gpu) != LC_OK) {
      printf("lc_context_create(cuda) failed: %s\n", lc_last_error(NULL));
      return 1;
    }
    lc_context_params_default(&p);
    if (lc_context_create(&p, &g_cpu) != LC_OK) {
      printf("lc_context_create(cpu) failed: %s\n", lc_last_error(NULL));
      return 1;
    }
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cuda_ops_rmsnorm_matches_cpu),
      cmocka_unit_test(test_cuda_ops_softmax_matches_cpu),
      cmocka_unit_test(test_cuda_ops_log_softmax_matches_cpu),
      cmocka_unit_test(test_cuda_ops_argmax_matches_cpu),
      cmocka_unit_test(test_cuda_ops_argmax_ties_and_nan),
      cmocka_unit_test(test_cuda_ops_add_rmsnorm_matches_cpu),
      cmocka_unit_test(test_cuda_ops_rope_kv_write_matches_cpu),
      cmocka_unit_test(test_cuda_ops_rmsnorm_batch_invariant),
      cmocka_unit_test(test_cuda_ops_softmax_batch_invariant),
      cmocka_unit_test(test_cuda_ops_log_softmax_batch_invariant),
      cmocka_unit_test(test_cuda_ops_argmax_batch_invariant),
      cmocka_unit_test(test_cuda_ops_add_matches_cpu),
      cmocka_unit_test(test_cuda_ops_silu_mul_matches_cpu),
      cmocka_unit_test(test_cuda_ops_round_bf16_matches_cpu),
      cmocka_unit_test(test_cuda_ops_embedding_matches_cpu),
      cmocka_unit_test(test_cuda_ops_rope_matches_cpu),
      cmocka_unit_test(test_cuda_ops_convert_matches_host),
      cmocka_unit_test(test_cuda_ops_repeat_runs_identical),
      cmocka_unit_test(test_cuda_ops_rough_timing),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  lc_context_free(g_gpu);
  lc_context_free(g_cpu);
  return (rc == 0 && !have_gpu) ? 77 : rc;
}
