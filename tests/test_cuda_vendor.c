/*
 * tests/test_cuda_vendor.c — the vendor baselines (lib/vendor.c, cuBLASLt)
 * on a real GPU: vendor-bf16 and vendor-fp32 matmuls agree with float64
 * oracles and with the CPU reference mode within bounds derived below; their
 * batch variance is NOT asserted (they are the engines' baseline and promise
 * none).  Memory accounting shows vendor-fp32's widened-weight temporary and
 * no weight-sized buffer in vendor-bf16.  The other ops run the strict
 * kernels in the vendor modes.  Without a GPU every test skips (exit 77).
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_cast.h"
#include "cpu_ref/cpu_ref.h"
#include "lib/bounds.h"
#include "lib/lc_internal.h"

static int have_gpu;

/* The cuBLASLt workspace allowance of lib/vendor.c (VENDOR_LT_WS_MAX). */
#define VENDOR_LT_WS_MAX ((size_t)32 << 20)
/* lib/cuda_backend.c rounds workspace growth up to 1 MiB. */
#define WS_ROUND ((size_t)1 << 20)

/* One problem: host data and the float64 oracles. */
typedef struct problem {
  int64_t m, n, k;
  float *x;         /* [m][k] */
  uint16_t *w;      /* [n][k] bf16 */
  uint16_t *b;      /* [n] bf16 or NULL */
  double *ref;      /* [m][n] exact sum x w + b (float64; exact enough: see below) */
  double *abs_s;    /* [m][n] sum |x w| + |b| */
  double *ref_xb;   /* [m][n] the same with x rounded to bf16 first */
  double *abs_s_xb; /* [m][n] its sum of |terms| */
} problem;

/* Random problem; x ~ N(0, 1), W ~ bf16(N(0, 1/sqrt(K))), bias ~ bf16(N(0,1)).
 * The float64 sums have relative error <= K * 2^-53 of the absolute sum,
 * 2^-29 below the FP32 bounds used here: negligible. */
static problem problem_new(int64_t m, int64_t n, int64_t k, int with_bias, uint64_t seed) {
  problem p = {m, n, k, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  lct_rng r = lct_rng_new(seed);
  p.x = lct_randn(&r, m * k, 1.0f);
  p.w = lct_rand_bf16(&r, n * k, (float)(1.0 / sqrt((double)k)));
  p.b = with_bias ? lct_rand_bf16(&r, n, 1.0f) : NULL;
  p.ref = lct_malloc((size_t)(m * n) * sizeof(double));
  p.abs_s = lct_malloc((size_t)(m * n) * sizeof(double));
  p.ref_xb = lct_malloc((size_t)(m * n) * sizeof(double));
  p.abs_s_xb = lct_malloc((size_t)(m * n) * sizeof(double));
  float *xb = lct_malloc((size_t)k * sizeof(float));
  for (int64_t i = 0; i < m; i++) {
    const float *xi = p.x + i * k;
    for (int64_t t = 0; t < k; t++) xb[t] = lc_bf16_to_f32(lc_f32_to_bf16(xi[t]));
    for (int64_t j = 0; j < n; j++) {
      const uint16_t *wj = p.w + j * k;
      double s = 0, a = 0, sb = 0, ab = 0;
      for (int64_t t = 0; t < k; t++) {
        double wv = lc_bf16_to_f32(wj[t]);
        double v = (double)xi[t] * wv, vb = (double)xb[t] * wv;
        s += v;
        a += fabs(v);
        sb += vb;
        ab += fabs(vb);
      }
      double bias = p.b ? (double)lc_bf16_to_f32(p.b[j]) : 0.0;
      p.ref[i * n + j] = s + bias;
      p.abs_s[i * n + j] = a + fabs(bias);
      p.ref_xb[i * n + j] = sb + bias;
      p.abs_s_xb[i * n + j] = ab + fabs(bias);
    }
  }
  free(xb);
  return p;
}

static void problem_free(problem *p) {
  free(p->x);
  free(p->w);
  free(p->b);
  free(p->ref);
  free(p->abs_s);
  free(p->ref_xb);
  free(p->abs_s_xb);
}

/* y = lc_matmul(x, W, bias) on ctx, through the public API; x and y are
 * placed `offset` floats into their device buffers (offset 1 gives 4-byte
 * aligned pointers, which cuBLASLt must be told about). */
static float *run_matmul(lc_context *ctx, const problem *p, int offset) {
  lc_weights *w = NULL, *b = NULL;
  assert_int_equal(lc_weights_create(ctx, p->n, p->k, LC_DTYPE_BF16, p->w, &w), LC_OK);
  if (p->b) assert_int_equal(lc_weights_create(ctx, 1, p->n, LC_DTYPE_BF16, p->b, &b), LC_OK);
  size_t xb = (size_t)(p->m * p->k + offset) * sizeof(float);
  size_t yb = (size_t)(p->m * p->n + offset) * sizeof(float);
  float *y = lct_malloc((size_t)(p->m * p->n) * sizeof(float));
  void *dx = NULL, *dy = NULL;
  assert_int_equal(lc_buffer_alloc(ctx, xb, &dx), LC_OK);
  assert_int_equal(lc_buffer_alloc(ctx, yb, &dy), LC_OK);
  float *x_at = (float *)dx + offset, *y_at = (float *)dy + offset;
  assert_int_equal(lc_buffer_write(ctx, x_at, p->x, (size_t)(p->m * p->k) * sizeof(float)), LC_OK);
  lc_status st = lc_matmul(ctx, x_at, p->m, w, b, y_at);
  if (st != LC_OK)
    fail_msg("lc_matmul(%s, M=%lld N=%lld K=%lld): %s", lc_mode_name(lc_context_mode(ctx)),
             (long long)p->m, (long long)p->n, (long long)p->k, lc_last_error(ctx));
  assert_int_equal(lc_buffer_read(ctx, y, y_at, (size_t)(p->m * p->n) * sizeof(float)), LC_OK);
  lc_buffer_free(ctx, dx);
  lc_buffer_free(ctx, dy);
  lc_weights_free(w);
  lc_weights_free(b);
  return y;
}

/* Tolerances, per element, from the absolute sum S = sum |x_k w_k| + |b|:
 *  vendor-fp32: W widens exactly; an FP32 dot product of K terms in any
 *    order (blocked, split-K) plus the bias add: |err| <= gamma_{K+1} S.
 *  vendor-bf16 against the oracle of bf16(x) . W: products of two bf16 are
 *    exact in FP32; tensor cores may add a block of products after aligning
 *    them to the largest exponent with truncation, so allow 2u per step
 *    twice over: |err| <= 4 gamma_{K+1} S_xb.
 *  vendor-bf16 against the exact oracle: rounding x to bf16 changes each
 *    product by at most 2^-8 relative (bf16's unit roundoff), so
 *    |err| <= 2^-8 S + 4 gamma_{K+1} (1 + 2^-8) S.
 *  CPU reference mode (OpenBLAS sgemm + bias): gamma_{K+1} S itself, so
 *    vendor vs CPU reference differ by at most the sum of the two bounds. */
typedef enum bound_kind { BOUND_FP32, BOUND_BF16, BOUND_BF16_XB } bound_kind;

static double *tolerances(const problem *p, bound_kind kind, int add_cpu_ref) {
  int64_t n = p->m * p->n;
  double *tol = lct_malloc((size_t)n * sizeof(double));
  double g = lc_bound_gamma((double)lc_bound_matmul_any_order_rounds(p->k, 1));
  for (int64_t i = 0; i < n; i++) {
    double t;
    switch (kind) {
      case BOUND_FP32:
        t = g * p->abs_s[i];
        break;
      case BOUND_BF16_XB:
        t = 4.0 * g * p->abs_s_xb[i];
        break;
      default:
        t = (0x1p-8 + 4.0 * g * (1.0 + 0x1p-8)) * p->abs_s[i];
        break;
    }
    if (add_cpu_ref) t += g * p->abs_s[i];
    tol[i] = t;
  }
  return tol;
}

static void check_vendor(const problem *p, lc_mode mode, const float *got, const float *cpu_ref,
                         const char *label) {
  int64_t n = p->m * p->n;
  char what[256];
  if (mode == LC_MODE_VENDOR_FP32) {
    double *tol = tolerances(p, BOUND_FP32, 0);
    snprintf(what, sizeof what, "%s vs float64 oracle (gamma_{K+1} S)", label);
    lct_assert_within(got, p->ref, tol, n, what);
    free(tol);
  } else {
    double *tol = tolerances(p, BOUND_BF16, 0);
    snprintf(what, sizeof what, "%s vs float64 oracle (2^-8 S + 4 gamma S)", label);
    lct_assert_within(got, p->ref, tol, n, what);
    free(tol);
    tol = tolerances(p, BOUND_BF16_XB, 0);
    snprintf(what, sizeof what, "%s vs float64 oracle of bf16(x) W (4 gamma S)", label);
    lct_assert_within(got, p->ref_xb, tol, n, what);
    free(tol);
  }
  double *tol = tolerances(p, mode == LC_MODE_VENDOR_FP32 ? BOUND_FP32 : BOUND_BF16, 1);
  double *cr = lct_malloc((size_t)n * sizeof(double));
  for (int64_t i = 0; i < n; i++) cr[i] = cpu_ref[i];
  snprintf(what, sizeof what, "%s vs CPU reference mode", label);
  lct_assert_within(got, cr, tol, n, what);
  free(cr);
  free(tol);
}

typedef struct shape {
  int64_t m, n, k;
  int bias;
  int offset; /* x and y 4 bytes past a 256-byte boundary */
} shape;

static const shape shapes[] = {
    {1, 4096, 4096, 0, 0}, /* decode, attention projection */
    {7, 1000, 4099, 1, 0}, /* K not a multiple of 8, bias */
    {64, 384, 1024, 1, 0}, /* a small prefill with bias */
    {300, 256, 512, 0, 1}, /* M not a tile multiple, unaligned x and y */
    {3, 17, 33, 1, 1},     /* odd everything */
    {1, 1, 1, 1, 0},       /* the smallest product */
};

static void run_mode_shapes(lc_mode mode) {
  lc_context *gpu = lct_cuda(mode);
  lc_context *cpu = lct_cpu(LC_MODE_REFERENCE);
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    const shape *sh = &shapes[s];
    problem p = problem_new(sh->m, sh->n, sh->k, sh->bias, 100 + s);
    float *got = run_matmul(gpu, &p, sh->offset);
    float *cr = run_matmul(cpu, &p, 0);
    char label[128];
    snprintf(label, sizeof label, "%s M=%lld N=%lld K=%lld%s%s", lc_mode_name(mode),
             (long long)sh->m, (long long)sh->n, (long long)sh->k, sh->bias ? " +bias" : "",
             sh->offset ? " unaligned" : "");
    check_vendor(&p, mode, got, cr, label);
    free(got);
    free(cr);
    problem_free(&p);
  }
  lc_context_free(gpu);
  lc_context_free(cpu);
}

/* CUDA contexts accept both vendor modes and report them back. */
static void test_cuda_vendor_context_modes(void **state) {
  (void)state;
  if (!have_gpu) skip();
  lc_mode modes[] = {LC_MODE_VENDOR_BF16, LC_MODE_VENDOR_FP32};
  for (int i = 0; i < 2; i++) {
    lc_context *ctx = lct_cuda(modes[i]);
    assert_int_equal(lc_context_backend(ctx), LC_BACKEND_CUDA);
    assert_int_equal(lc_context_mode(ctx), modes[i]);
    assert_int_equal(lc_context_synchronize(ctx), LC_OK);
    lc_context_free(ctx);
  }
}

/* vendor-fp32 (upcast + cuBLASLt SGEMM) is within the FP32 dot-product bound
 * of the float64 oracle, and agrees with the CPU reference mode, on decode,
 * prefill, odd and unaligned shapes, with and without bias. */
static void test_cuda_vendor_fp32_accuracy(void **state) {
  (void)state;
  if (!have_gpu) skip();
  run_mode_shapes(LC_MODE_VENDOR_FP32);
}

/* vendor-bf16 (x rounded to bf16, tensor cores, FP32 accumulation) is within
 * 2^-8 S + 4 gamma S of the oracle and within 4 gamma S of the oracle of
 * bf16(x) . W, and agrees with the CPU reference mode, on the same shapes. */
static void test_cuda_vendor_bf16_accuracy(void **state) {
  (void)state;
  if (!have_gpu || lct_skip_vendor_bf16("accuracy")) skip();
  run_mode_shapes(LC_MODE_VENDOR_BF16);
}

/* Many distinct M in a row (more than the 64 cached plans, so plans are
 * evicted and rebuilt) all stay within the bound. */
static void test_cuda_vendor_plan_cache(void **state) {
  (void)state;
  if (!have_gpu) skip();
  const int64_t mmax = 80, n = 64, k = 96;
  problem p = problem_new(mmax, n, k, 1, 7);
  lc_mode modes[] = {LC_MODE_VENDOR_FP32, LC_MODE_VENDOR_BF16};
  for (int mi = 0; mi < 2; mi++) {
    if (modes[mi] == LC_MODE_VENDOR_BF16 && lct_skip_vendor_bf16("plan cache")) continue;
    lc_context *ctx = lct_cuda(modes[mi]);
    lc_weights *w = NULL, *b = NULL;
    assert_int_equal(lc_weights_create(ctx, n, k, LC_DTYPE_BF16, p.w, &w), LC_OK);
    assert_int_equal(lc_weights_create(ctx, 1, n, LC_DTYPE_BF16, p.b, &b), LC_OK);
    void *dx = NULL, *dy = NULL;
    assert_int_equal(lc_buffer_alloc(ctx, (size_t)(mmax * k) * 4, &dx), LC_OK);
    assert_int_equal(lc_buffer_alloc(ctx, (size_t)(mmax * n) * 4, &dy), LC_OK);
    assert_int_equal(lc_buffer_write(ctx, dx, p.x, (size_t)(mmax * k) * 4), LC_OK);
    float *y = lct_malloc((size_t)(mmax * n) * 4);
    bound_kind bk = modes[mi] == LC_MODE_VENDOR_FP32 ? BOUND_FP32 : BOUND_BF16;
    double *tol = tolerances(&p, bk, 0);
    for (int pass = 0; pass < 2; pass++) {
      for (int64_t m = 1; m <= mmax; m++) {
        lc_status st = lc_matmul(ctx, dx, m, w, b, dy);
        if (st != LC_OK) fail_msg("lc_matmul M=%lld: %s", (long long)m, lc_last_error(ctx));
        assert_int_equal(lc_buffer_read(ctx, y, dy, (size_t)(m * n) * 4), LC_OK);
        char what[96];
        snprintf(what, sizeof what, "%s plan cache pass %d M=%lld", lc_mode_name(modes[mi]), pass,
                 (long long)m);
        lct_assert_within(y, p.ref, tol, m * n, what);
      }
    }
    free(tol);
    free(y);
    lc_buffer_free(ctx, dx);
    lc_buffer_free(ctx, dy);
    lc_weights_free(w);
    lc_weights_free(b);
    lc_context_free(ctx);
  }
  problem_free(&p);
}

/* cuBLASLt SGEMM on a weight widened beforehand (the benchmark's large-M
 * baseline) is within the FP32 bound, at an aligned and an unaligned x. */
static void test_cuda_vendor_sgemm_prewidened(void **state) {
  (void)state;
  if (!have_gpu) skip();
  const int64_t m = 33, n = 300, k = 777;
  problem p = problem_new(m, n, k, 0, 9);
  lc_context *ctx = lct_cuda(LC_MODE_VENDOR_FP32);
  float *wf = lct_malloc((size_t)(n * k) * 4);
  for (int64_t i = 0; i < n * k; i++) wf[i] = lc_bf16_to_f32(p.w[i]);
  void *dw = NULL, *dx = NULL, *dy = NULL;
  assert_int_equal(lc_buffer_alloc(ctx, (size_t)(n * k) * 4, &dw), LC_OK);
  assert_int_equal(lc_buffer_alloc(ctx, (size_t)(m * k + 1) * 4, &dx), LC_OK);
  assert_int_equal(lc_buffer_alloc(ctx, (size_t)(m * n) * 4, &dy), LC_OK);
  assert_int_equal(lc_buffer_write(ctx, dw, wf, (size_t)(n * k) * 4), LC_OK);
  float *y = lct_malloc((size_t)(m * n) * 4);
  double *tol = tolerances(&p, BOUND_FP32, 0);
  for (int off = 0; off < 2; off++) {
    float *x_at = (float *)dx + off;
    assert_int_equal(lc_buffer_write(ctx, x_at, p.x, (size_t)(m * k) * 4), LC_OK);
    lc_status st = lc_vendor_sgemm_prewidened(ctx, x_at, m, dw, n, k, dy);
    if (st != LC_OK) fail_msg("lc_vendor_sgemm_prewidened: %s", lc_last_error(ctx));
    assert_int_equal(lc_buffer_read(ctx, y, dy, (size_t)(m * n) * 4), LC_OK);
    lct_assert_within(y, p.ref, tol, m * n, off ? "prewidened SGEMM, x unaligned" : "prewidened");
  }
  free(tol);
  free(y);
  free(wf);
  lc_buffer_free(ctx, dw);
  lc_buffer_free(ctx, dx);
  lc_buffer_free(ctx, dy);
  lc_context_free(ctx);
  problem_free(&p);
}

/* Memory: weights cost 2 bytes per parameter in both vendor modes;
 * vendor-fp32 holds an FP32 copy of the weight (4 bytes per parameter) in
 * its workspace, vendor-bf16 nothing of weight size (its scratch is the
 * cuBLASLt allowance plus x in bf16). */
static void test_cuda_vendor_memory(void **state) {
  (void)state;
  if (!have_gpu) skip();
  const int64_t m = 4, n = 8192, k = 4096; /* a 64 MiB bf16 weight */
  lct_rng r = lct_rng_new(5);
  uint16_t *wh = lct_rand_bf16(&r, n * k, 0.02f);
  float *xh = lct_randn(&r, m * k, 1.0f);
  lc_mode modes[] = {LC_MODE_VENDOR_FP32, LC_MODE_VENDOR_BF16};
  for (int mi = 0; mi < 2; mi++) {
    if (modes[mi] == LC_MODE_VENDOR_BF16 && lct_skip_vendor_bf16("memory")) continue;
    lc_context *ctx = lct_cuda(modes[mi]);
    lc_weights *w = NULL;
    assert_int_equal(lc_weights_create(ctx, n, k, LC_DTYPE_BF16, wh, &w), LC_OK);
    void *dx = NULL, *dy = NULL;
    assert_int_equal(lc_buffer_alloc(ctx, (size_t)(m * k) * 4, &dx), LC_OK);
    assert_int_equal(lc_buffer_alloc(ctx, (size_t)(m * n) * 4, &dy), LC_OK);
    assert_int_equal(lc_buffer_write(ctx, dx, xh, (size_t)(m * k) * 4), LC_OK);
    lc_memory_stats before, after;
    assert_int_equal(lc_context_get_memory(ctx, &before), LC_OK);
    lc_status st = lc_matmul(ctx, dx, m, w, NULL, dy);
    if (st != LC_OK) fail_msg("lc_matmul: %s", lc_last_error(ctx));
    assert_int_equal(lc_context_synchronize(ctx), LC_OK);
    assert_int_equal(lc_context_get_memory(ctx, &after), LC_OK);
    size_t wbytes = (size_t)(n * k) * 2;
    printf("%s: weights %zu B (%.2f B/param), workspace now %zu B, peak %zu B\n",
           lc_mode_name(modes[mi]), after.weights_bytes,
           (double)after.weights_bytes / (double)(n * k), after.workspace_bytes,
           after.workspace_peak_bytes);
    assert_int_equal(after.weights_bytes, wbytes);
    size_t grown = after.workspace_peak_bytes - before.workspace_peak_bytes;
    if (modes[mi] == LC_MODE_VENDOR_FP32) {
      /* the FP32 temporary, plus at most the cuBLASLt allowance and rounding */
      assert_true(after.workspace_bytes >= (size_t)(n * k) * 4);
      assert_true(grown >= (size_t)(n * k) * 4);
      assert_true(grown <= (size_t)(n * k) * 4 + VENDOR_LT_WS_MAX + 2 * WS_ROUND);
    } else {
      /* the cuBLASLt allowance and x in bf16: below the weight's own size */
      assert_true(grown <= VENDOR_LT_WS_MAX + (size_t)(m * k) * 2 + 2 * WS_ROUND);
      assert_true(after.workspace_peak_bytes < wbytes);
    }
    lc_buffer_free(ctx, dx);
    lc_buffer_free(ctx, dy);
    lc_weights_free(w);
    lc_context_free(ctx);
  }
  free(wh);
  free(xh);
}

/* The ops other than matmul run the strict kernels in the vendor modes:
 * add and softmax give the CPU strict bits exactly. */
static void test_cuda_vendor_other_ops_strict(void **state) {
  (void)state;
  if (!have_gpu) skip();
  const int64_t m = 5, n = 3000;
  lct_rng r = lct_rng_new(21);
  float *a = lct_randn(&r, m * n, 3.0f), *b = lct_randn(&r, m * n, 3.0f);
  float *ref = lct_malloc((size_t)(m * n) * 4), *got = lct_malloc((size_t)(m * n) * 4);
  lc_mode modes[] = {LC_MODE_VENDOR_BF16, LC_MODE_VENDOR_FP32};
  for (int mi = 0; mi < 2; mi++) {
    lc_context *ctx = lct_cuda(modes[mi]);
    size_t bytes = (size_t)(m * n) * 4;
    void *da = NULL, *db = NULL, *dy = NULL;
    assert_int_equal(lc_buffer_alloc(ctx, bytes, &da), LC_OK);
    assert_int_equal(lc_buffer_alloc(ctx, bytes, &db), LC_OK);
    assert_int_equal(lc_buffer_alloc(ctx, bytes, &dy), LC_OK);
    assert_int_equal(lc_buffer_write(ctx, da, a, bytes), LC_OK);
    assert_int_equal(lc_buffer_write(ctx, db, b, bytes), LC_OK);
    lc_status st = lc_add(ctx, da, db, m * n, dy);
    if (st != LC_OK) fail_msg("lc_add: %s", lc_last_error(ctx));
    assert_int_equal(lc_buffer_read(ctx, got, dy, bytes), LC_OK);
    lc_cpu_add(a, b, m * n, ref);
    lct_assert_bitwise_f32(got, ref, m * n, "lc_add in a vendor mode vs CPU strict");
    st = lc_softmax(ctx, da, m, n, dy);
    if (st != LC_OK) fail_msg("lc_softmax: %s", lc_last_error(ctx));
    assert_int_equal(lc_buffer_read(ctx, got, dy, bytes), LC_OK);
    lc_cpu_softmax_strict(a, m, n, ref);
    lct_assert_bitwise_f32(got, ref, m * n, "lc_softmax in a vendor mode vs CPU strict");
    lc_buffer_free(ctx, da);
    lc_buffer_free(ctx, db);
    lc_buffer_free(ctx, dy);
    lc_context_free(ctx);
  }
  free(a);
  free(b);
  free(ref);
  free(got);
}

int main(void) {
  lct_gpu_main_begin();
  have_gpu = lct_have_cuda();
  if (!have_gpu) printf("no usable CUDA device (or CUDA not in this build): GPU tests skip\n");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cuda_vendor_context_modes),
      cmocka_unit_test(test_cuda_vendor_fp32_accuracy),
      cmocka_unit_test(test_cuda_vendor_bf16_accuracy),
      cmocka_unit_test(test_cuda_vendor_plan_cache),
      cmocka_unit_test(test_cuda_vendor_sgemm_prewidened),
      cmocka_unit_test(test_cuda_vendor_memory),
      cmocka_unit_test(test_cuda_vendor_other_ops_strict),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  return (rc == 0 && !have_gpu) ? 77 : rc;
}
