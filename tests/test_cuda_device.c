/*
 * tests/test_cuda_device.c — the CUDA backend's foundation on a real GPU:
 * device detection, contexts, backend memory, bf16 weights resident on the
 * device, and the canonical math of cast/ giving the same bits on the device
 * as on the host.  Without a GPU (or without CUDA in the build) every test
 * reports skipped and the binary exits 77, which CTest shows as skipped.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_canon.h"
#if defined(LC_HAVE_CUDA)
#include "kernels/lc_kernels.h"
#endif

static int have_gpu;

/* A CUDA context comes up on device 0 with its stream (a strict one makes
 * no cuBLASLt handle: tests/test_cublaslt_loader.c);
 * a device index past the count is LC_ERR_NO_DEVICE. */
static void test_cuda_device_context(void **state) {
  (void)state;
  if (!have_gpu) skip();
  lc_context *ctx = lct_cuda(LC_MODE_STRICT);
  assert_int_equal(lc_context_backend(ctx), LC_BACKEND_CUDA);
  assert_int_equal(lc_context_mode(ctx), LC_MODE_STRICT);
  assert_int_equal(lc_context_synchronize(ctx), LC_OK);
  lc_context_free(ctx);
  lc_context_params p;
  lc_context_params_default(&p);
  p.backend = LC_BACKEND_CUDA;
  p.device = 4096;
  assert_int_equal(lc_context_create(&p, &ctx), LC_ERR_NO_DEVICE);
  assert_null(ctx);
}

/* Device buffers: 256-byte aligned, write/read round trip bit for bit. */
static void test_cuda_device_buffers(void **state) {
  (void)state;
  if (!have_gpu) skip();
  lc_context *ctx = lct_cuda(LC_MODE_STRICT);
  enum { N = 1 << 20 };
  lct_rng rng = lct_rng_new(11);
  float *h = malloc(N * sizeof *h), *back = malloc(N * sizeof *back);
  assert_non_null(h);
  assert_non_null(back);
  for (int i = 0; i < N; i++) h[i] = lct_any_bits(&rng);
  void *d = NULL;
  assert_int_equal(lc_buffer_alloc(ctx, N * sizeof(float), &d), LC_OK);
  assert_int_equal((uintptr_t)d % 256, 0);
  assert_int_equal(lc_buffer_write(ctx, d, h, N * sizeof(float)), LC_OK);
  assert_int_equal(lc_buffer_read(ctx, back, d, N * sizeof(float)), LC_OK);
  assert_memory_equal(h, back, N * sizeof(float));
  lc_buffer_free(ctx, d);
  free(h);
  free(back);
  lc_context_free(ctx);
}

/* Weights uploaded to the device hold exactly the bf16 bits the CPU backend
 * holds for the same source, 2 bytes per element. */
static void test_cuda_device_weights_match_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  lc_context *gpu = lct_cuda(LC_MODE_STRICT);
  lc_context *cpu = lct_cpu(LC_MODE_STRICT);
  const int64_t rows = 300, cols = 517;
  lct_rng rng = lct_rng_new(12);
  float *src = malloc((size_t)(rows * cols) * sizeof *src);
  uint16_t *a = malloc((size_t)(rows * cols) * 2), *b = malloc((size_t)(rows * cols) * 2);
  assert_non_null(src);
  for (int64_t i = 0; i < rows * cols; i++) src[i] = lct_any_bits(&rng);
  lc_weights *wg = NULL, *wc = NULL;
  assert_int_equal(lc_weights_create(gpu, rows, cols, LC_DTYPE_F32, src, &wg), LC_OK);
  assert_int_equal(lc_weights_create(cpu, rows, cols, LC_DTYPE_F32, src, &wc), LC_OK);
  assert_int_equal(lc_weights_bytes(wg), (size_t)(rows * cols) * 2);
  assert_int_equal(lc_weights_read_bf16(wg, a), LC_OK);
  assert_int_equal(lc_weights_read_bf16(wc, b), LC_OK);
  assert_memory_equal(a, b, (size_t)(rows * cols) * 2);
  lc_conversion_stats sg, sc;
  assert_int_equal(lc_weights_get_conversion_stats(wg, &sg), LC_OK);
  assert_int_equal(lc_weights_get_conversion_stats(wc, &sc), LC_OK);
  assert_memory_equal(&sg, &sc, sizeof sg);
  lc_weights_free(wg);
  lc_weights_free(wc);
  free(src);
  free(a);
  free(b);
  lc_context_free(gpu);
  lc_context_free(cpu);
}

#if defined(LC_HAVE_CUDA)
static float host_eval(lc_canon_fn fn, float x) {
  switch (fn) {
    case LC_CANON_FN_EXP:
      return lc_expf(x);
    case LC_CANON_FN_LOG:
      return lc_logf(x);
    case LC_CANON_FN_SILU:
      return lc_siluf(x);
    case LC_CANON_FN_SIGMOID:
      return lc_sigmoidf(x);
    case LC_CANON_FN_BF16:
      return lc_bf16_to_f32(lc_f32_to_bf16(x));
    default:
      return lc_f16_to_f32(lc_f32_to_f16(x));
  }
}
#endif

/* cast/'s canonical exp, log, sigmoid, SiLU and the conversions give the
 * same bits on the device as on the host, over random bit patterns and a
 * dense sweep of [-110, 90] (NaN results compared as "both NaN": the
 * hardware's NaN payload is not part of the promise until an op
 * canonicalises it). */
static void test_cuda_device_canon_math_bitwise(void **state) {
  (void)state;
  if (!have_gpu) skip();
#if defined(LC_HAVE_CUDA)
  enum { N = 1 << 21 };
  lct_rng rng = lct_rng_new(13);
  float *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
  assert_non_null(in);
  assert_non_null(out);
  for (int i = 0; i < N / 2; i++) in[i] = lct_any_bits(&rng);
  for (int i = N / 2; i < N; i++) in[i] = -110.0f + 200.0f * (float)(i - N / 2) / (float)(N / 2);
  char err[256];
  for (int fn = 0; fn < LC_CANON_FN_COUNT; fn++) {
    lc_status st = lc_kernels_eval_canon(0, (lc_canon_fn)fn, in, out, N, err, sizeof err);
    if (st != LC_OK) fail_msg("eval_canon(%d): %s", fn, err);
    int64_t nan_both = 0;
    for (int i = 0; i < N; i++) {
      float h = host_eval((lc_canon_fn)fn, in[i]);
      if (lc_f32_isnan(h) && lc_f32_isnan(out[i])) {
        nan_both++;
        continue;
      }
      if (lc_f32_bits(h) != lc_f32_bits(out[i]))
        fail_msg("canon fn %d: x = %a (0x%08X): host %a (0x%08X), device %a (0x%08X)", fn,
                 (double)in[i], lc_f32_bits(in[i]), (double)h, lc_f32_bits(h), (double)out[i],
                 lc_f32_bits(out[i]));
    }
    printf("canon fn %d: %d inputs bitwise equal host vs device (%lld NaN on both)\n", fn, N,
           (long long)nan_both);
  }
  free(in);
  free(out);
#endif
}

int main(void) {
  lct_gpu_main_begin();
  have_gpu = lct_have_cuda();
  if (!have_gpu) printf("no usable CUDA device (or CUDA not in this build): GPU tests skip\n");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cuda_device_context),
      cmocka_unit_test(test_cuda_device_buffers),
      cmocka_unit_test(test_cuda_device_weights_match_cpu),
      cmocka_unit_test(test_cuda_device_canon_math_bitwise),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  return (rc == 0 && !have_gpu) ? 77 : rc;
}
