/*
 * lib/cuda_backend.c — the CUDA backend's runtime side, in C: device
 * selection through kernels/, a stream per context, a cuBLASLt handle (for
 * the vendor baselines), and backend memory.  Without CUDA in the build
 * every entry reports LC_ERR_UNSUPPORTED.
 */
#include "lib/lc_internal.h"

#if defined(LC_HAVE_CUDA)

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <stdio.h>

#include "kernels/lc_kernels.h"

struct lc_cuda_state {
  lc_cuda_device_info info; /* what the probe read */
  cudaStream_t stream;      /* every op of the context runs here */
  cublasLtHandle_t lt;      /* cuBLASLt handle for the vendor modes */
};

static lc_status cuda_err(lc_context *ctx, cudaError_t e, const char *what) {
  return LC_FAIL(ctx, LC_ERR_CUDA, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

lc_status lc_cuda_context_init(lc_context *ctx) {
  char msg[LC_ERR_LEN];
  lc_cuda_state *cs = calloc(1, sizeof *cs);
  if (!cs) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "CUDA context: out of host memory");
  lc_status st = lc_kernels_device_probe(ctx->device, &cs->info, msg, sizeof msg);
  if (st != LC_OK) {
    free(cs);
    return LC_FAIL(NULL, st, "CUDA device %d: %s", ctx->device, msg);
  }
  cudaError_t e = cudaStreamCreateWithFlags(&cs->stream, cudaStreamNonBlocking);
  if (e != cudaSuccess) {
    free(cs);
    return LC_FAIL(NULL, LC_ERR_CUDA, "cudaStreamCreate: %s", cudaGetErrorString(e));
  }
  cublasStatus_t bs = cublasLtCreate(&cs->lt);
  if (bs != CUBLAS_STATUS_SUCCESS) {
    cudaStreamDestroy(cs->stream);
    free(cs);
    return LC_FAIL(NULL, LC_ERR_CUBLAS, "cublasLtCreate: %s (%d)", cublasLtGetStatusString(bs),
                   (int)bs);
  }
  ctx->cuda = cs;
  return LC_OK;
}

void lc_cuda_context_free(lc_context *ctx) {
  lc_cuda_state *cs = ctx->cuda;
  if (!cs) return;
  cudaSetDevice(ctx->device);
  cudaStreamSynchronize(cs->stream);
  cublasLtDestroy(cs->lt);
  cudaStreamDestroy(cs->stream);
  free(cs);
  ctx->cuda = NULL;
}

lc_status lc_cuda_synchronize(lc_context *ctx) {
  cudaError_t e = cudaSetDevice(ctx->device);
  if (e == cudaSuccess) e = cudaStreamSynchronize(ctx->cuda->stream);
  if (e != cudaSuccess) return cuda_err(ctx, e, "lc_context_synchronize");
  return LC_OK;
}

lc_status lc_cuda_alloc(lc_context *ctx, size_t bytes, void **out) {
  cudaError_t e = cudaSetDevice(ctx->device);
  if (e == cudaSuccess) e = cudaMalloc(out, bytes);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    *out = NULL;
    return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "cudaMalloc(%zu bytes): out of device memory", bytes);
  }
  if (e != cudaSuccess) {
    *out = NULL;
    return cuda_err(ctx, e, "cudaMalloc");
  }
  return LC_OK;
}

void lc_cuda_free(lc_context *ctx, void *p) {
  cudaSetDevice(ctx->device);
  /* Frees must not race the context's queued work on the buffer. */
  cudaStreamSynchronize(ctx->cuda->stream);
  cudaFree(p);
}

lc_status lc_cuda_write(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  cudaError_t e = cudaSetDevice(ctx->device);
  if (e == cudaSuccess)
    e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx->cuda->stream);
  /* src is pageable host memory the caller may reuse at once: wait. */
  if (e == cudaSuccess) e = cudaStreamSynchronize(ctx->cuda->stream);
  if (e != cudaSuccess) return cuda_err(ctx, e, "lc_buffer_write");
  return LC_OK;
}

lc_status lc_cuda_read(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  cudaError_t e = cudaSetDevice(ctx->device);
  if (e == cudaSuccess)
    e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx->cuda->stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(ctx->cuda->stream);
  if (e != cudaSuccess) return cuda_err(ctx, e, "lc_buffer_read");
  return LC_OK;
}

#else /* !LC_HAVE_CUDA */

static lc_status no_cuda(lc_context *ctx) {
  return LC_FAIL(ctx, LC_ERR_UNSUPPORTED,
                 "this layercast was built without CUDA (configure with -DLC_CUDA=ON)");
}

lc_status lc_cuda_context_init(lc_context *ctx) {
  (void)ctx;
  return no_cuda(NULL);
}
void lc_cuda_context_free(lc_context *ctx) {
  (void)ctx;
}
lc_status lc_cuda_synchronize(lc_context *ctx) {
  return no_cuda(ctx);
}
lc_status lc_cuda_alloc(lc_context *ctx, size_t bytes, void **out) {
  (void)bytes;
  *out = NULL;
  return no_cuda(ctx);
}
void lc_cuda_free(lc_context *ctx, void *p) {
  (void)ctx;
  (void)p;
}
lc_status lc_cuda_write(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  (void)dst;
  (void)src;
  (void)bytes;
  return no_cuda(ctx);
}
lc_status lc_cuda_read(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  (void)dst;
  (void)src;
  (void)bytes;
  return no_cuda(ctx);
}

#endif
