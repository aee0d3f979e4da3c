/*
 * kernels/device.cu — device detection, the probe kernel, and the canonical
 * math of cast/ evaluated on the GPU.
 *
 * Contract: lc_kernels_device_probe() succeeds only if the GPU can run code
 * of this build (a probe kernel runs and writes the expected value).
 * lc_kernels_eval_canon() evaluates the same header-only functions that
 * cpu_ref/ uses (cast/lc_canon.h) in device code, element by element, so a
 * test can compare host and device bit for bit.  Not a performance path.
 * Benchmark: none (not timed).
 */
#include <cuda_runtime.h>
#include <stdio.h>

#include "cast/lc_canon.h"
#include "kernels/lc_kernels.h"

static lc_status cuda_fail(cudaError_t e, const char *what, char *err, size_t err_len) {
  if (err && err_len)
    snprintf(err, err_len, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
  return (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
          e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDevice)
             ? LC_ERR_NO_DEVICE
             : LC_ERR_CUDA;
}

#define LC_CUDA_TRY(call, what)                                            \
  do {                                                                     \
    cudaError_t lc_e_ = (call);                                            \
    if (lc_e_ != cudaSuccess) return cuda_fail(lc_e_, what, err, err_len); \
  } while (0)

extern "C" int lc_kernels_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError(); /* clear the sticky-free error state */
    return 0;
  }
  return n;
}

__global__ void probe_kernel(int *out) {
  *out = 0x1C0FFEE;
}

extern "C" lc_status lc_kernels_device_probe(int device, lc_cuda_device_info *info, char *err,
                                             size_t err_len) {
  int n = lc_kernels_device_count();
  if (n == 0) {
    if (err && err_len)
      snprintf(err, err_len, "no CUDA device (cudaGetDeviceCount failed or found none)");
    return LC_ERR_NO_DEVICE;
  }
  if (device < 0 || device >= n) {
    if (err && err_len) snprintf(err, err_len, "device %d requested, %d present", device, n);
    return LC_ERR_NO_DEVICE;
  }
  LC_CUDA_TRY(cudaSetDevice(device), "cudaSetDevice");
  cudaDeviceProp p;
  LC_CUDA_TRY(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  if (info) {
    info->device = device;
    info->cc_major = p.major;
    info->cc_minor = p.minor;
    info->n_sm = p.multiProcessorCount;
    info->l2_bytes = (size_t)p.l2CacheSize;
    info->global_bytes = p.totalGlobalMem;
    snprintf(info->name, sizeof info->name, "%s", p.name);
  }
  if (p.major < 9) {
    if (err && err_len)
      snprintf(err, err_len, "%s has compute capability %d.%d; layercast needs 9.0 or newer",
               p.name, p.major, p.minor);
    return LC_ERR_NO_DEVICE;
  }
  int *d = NULL, h = 0;
  LC_CUDA_TRY(cudaMalloc(&d, sizeof(int)), "cudaMalloc(probe)");
  probe_kernel<<<1, 1>>>(d);
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost);
  cudaFree(d);
  if (e != cudaSuccess) return cuda_fail(e, "probe kernel", err, err_len);
  if (h != 0x1C0FFEE) {
    if (err && err_len) snprintf(err, err_len, "probe kernel wrote 0x%x, expected 0x1C0FFEE", h);
    return LC_ERR_CUDA;
  }
  return LC_OK;
}

__global__ void eval_canon_kernel(int fn, const float *in, float *out, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = in[i], y;
  switch (fn) {
    case LC_CANON_FN_EXP:
      y = lc_expf(x);
      break;
    case LC_CANON_FN_LOG:
      y = lc_logf(x);
      break;
    case LC_CANON_FN_SILU:
      y = lc_siluf(x);
      break;
    case LC_CANON_FN_SIGMOID:
      y = lc_sigmoidf(x);
      break;
    case LC_CANON_FN_BF16:
      y = lc_bf16_to_f32(lc_f32_to_bf16(x));
      break;
    default:
      y = lc_f16_to_f32(lc_f32_to_f16(x));
      break;
  }
  out[i] = y;
}

extern "C" lc_status lc_kernels_eval_canon(int device, lc_canon_fn fn, const float *in_host,
                                           float *out_host, int64_t n, char *err, size_t err_len) {
  if ((int)fn < 0 || fn >= LC_CANON_FN_COUNT || n < 0 || (n > 0 && (!in_host || !out_host))) {
    if (err && err_len) snprintf(err, err_len, "lc_kernels_eval_canon: bad arguments");
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (n == 0) return LC_OK;
  LC_CUDA_TRY(cudaSetDevice(device), "cudaSetDevice");
  float *d_in = NULL, *d_out = NULL;
  size_t bytes = (size_t)n * sizeof(float);
  cudaError_t e = cudaMalloc(&d_in, bytes);
  if (e == cudaSuccess) e = cudaMalloc(&d_out, bytes);
  if (e == cudaSuccess) e = cudaMemcpy(d_in, in_host, bytes, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) {
    const int threads = 256;
    eval_canon_kernel<<<(unsigned)((n + threads - 1) / threads), threads>>>((int)fn, d_in, d_out,
                                                                            n);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaMemcpy(out_host, d_out, bytes, cudaMemcpyDeviceToHost);
  cudaFree(d_in);
  cudaFree(d_out);
  if (e != cudaSuccess) return cuda_fail(e, "lc_kernels_eval_canon", err, err_len);
  return LC_OK;
}
