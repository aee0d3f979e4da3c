/*
 * lib/cuda_backend.c — the CUDA backend's runtime side, in C: device
 * selection through kernels/, a stream per context, and backend memory.
 * The vendor baselines' cuBLASLt handle lives in lib/vendor.c, created only
 * for vendor work (cuBLASLt is loaded at run time, lib/cublaslt_loader.c).
 * Without CUDA in the build every entry reports LC_ERR_UNSUPPORTED.
 */
#include "lib/lc_internal.h"

#if defined(LC_HAVE_CUDA)

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/lc_kernels.h"
#include "lib/cublaslt_loader.h"

struct lc_cuda_state {
  lc_cuda_device_info info; /* what the probe read */
  cudaStream_t stream;      /* every op of the context runs here */
  void *ws;                 /* grow-only workspace, device */
  size_t ws_bytes;
  int32_t *idx; /* grow-only index scratch, device */
  size_t idx_bytes;
  uint64_t scratch_gen; /* reallocations of ws and idx (graphs capture them) */
};

struct lc_cuda_graph {
  cudaGraphExec_t exec;
};

static lc_status cuda_err(lc_context *ctx, cudaError_t e, const char *what) {
  return LC_FAIL(ctx, LC_ERR_CUDA, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

lc_status lc_cuda_context_init(lc_context *ctx) {
  char msg[LC_ERR_LEN];
  lc_cuda_state *cs = lc_calloc(1, sizeof *cs);
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
  ctx->cuda = cs;
  return LC_OK;
}

void lc_cuda_context_free(lc_context *ctx) {
  lc_cuda_state *cs = ctx->cuda;
  if (!cs) return;
  cudaSetDevice(ctx->device);
  cudaStreamSynchronize(cs->stream);
  cudaFree(cs->ws);
  cudaFree(cs->idx);
  lc_mem_account_workspace(ctx, -(int64_t)(cs->ws_bytes + cs->idx_bytes));
  cudaStreamDestroy(cs->stream);
  free(cs);
  ctx->cuda = NULL;
}

lc_status lc_cuda_device_info_get(const lc_context *ctx, lc_device_info *out) {
  const lc_cuda_device_info *i = &ctx->cuda->info;
  out->device = i->device;
  snprintf(out->name, sizeof out->name, "%s", i->name);
  out->cc_major = i->cc_major;
  out->cc_minor = i->cc_minor;
  out->n_sm = i->n_sm;
  out->global_bytes = i->global_bytes;
  int v = 0;
  if (cudaDriverGetVersion(&v) == cudaSuccess) out->driver_version = v;
  v = 0;
  if (cudaRuntimeGetVersion(&v) == cudaSuccess) out->runtime_version = v;
  /* Loads cuBLASLt if nothing has yet; 0 if it cannot be loaded, which
   * only the vendor modes need (they fail at context creation then). */
  const lc_cublaslt *lt = lc_cublaslt_api();
  out->cublaslt_version = lt ? (int)lt->cublasLtGetVersion() : 0;
  return LC_OK;
}

void *lc_cuda_stream(lc_context *ctx) {
  return (void *)ctx->cuda->stream;
}

lc_status lc_cuda_activate(lc_context *ctx) {
  cudaError_t e = cudaSetDevice(ctx->device);
  if (e != cudaSuccess) return cuda_err(ctx, e, "cudaSetDevice");
  return LC_OK;
}

/* Grows a device scratch buffer to at least `bytes` (rounded up to 1 MiB so a
 * sequence of growing calls does not reallocate each time). */
static lc_status grow(lc_context *ctx, void **buf, size_t *cap, size_t bytes, const char *what) {
  if (bytes <= *cap && *buf) return LC_OK;
  if (bytes > ((size_t)1 << 40))
    return LC_FAIL(ctx, LC_ERR_OVERFLOW, "%s: %zu bytes exceed the 2^40-byte limit", what, bytes);
  size_t want = (bytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
  cudaError_t e = cudaSetDevice(ctx->device);
  if (e == cudaSuccess) e = cudaStreamSynchronize(ctx->cuda->stream); /* old buffer idle */
  if (e != cudaSuccess) return cuda_err(ctx, e, what);
  cudaFree(*buf);
  lc_mem_account_workspace(ctx, -(int64_t)*cap);
  ctx->cuda->scratch_gen++; /* even if the new allocation fails */
  *buf = NULL;
  *cap = 0;
  e = lc_alloc_refused(LC_ALLOC_DEVICE, want) ? cudaErrorMemoryAllocation : cudaMalloc(buf, want);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    *buf = NULL;
    return LC_FAIL(ctx, e == cudaErrorMemoryAllocation ? LC_ERR_OUT_OF_MEMORY : LC_ERR_CUDA,
                   "%s: cudaMalloc(%zu bytes): %s", what, want, cudaGetErrorString(e));
  }
  *cap = want;
  lc_mem_account_workspace(ctx, (int64_t)want);
  return LC_OK;
}

uint64_t lc_cuda_scratch_generation(lc_context *ctx) {
  return ctx->cuda->scratch_gen;
}

lc_status lc_cuda_workspace(lc_context *ctx, size_t bytes, void **out) {
  lc_cuda_state *cs = ctx->cuda;
  *out = NULL;
  if (bytes == 0) return LC_OK;
  LC_TRY(grow(ctx, &cs->ws, &cs->ws_bytes, bytes, "workspace"));
  *out = cs->ws;
  return LC_OK;
}

lc_status lc_cuda_indices(lc_context *ctx, const int32_t *host, int64_t n, int32_t **dev) {
  lc_cuda_state *cs = ctx->cuda;
  size_t bytes = (size_t)n * sizeof(int32_t);
  LC_TRY(grow(ctx, (void **)&cs->idx, &cs->idx_bytes, bytes ? bytes : 4, "index scratch"));
  cudaError_t e = cudaMemcpyAsync(cs->idx, host, bytes, cudaMemcpyHostToDevice, cs->stream);
  if (e != cudaSuccess) return cuda_err(ctx, e, "index upload");
  *dev = cs->idx;
  return LC_OK;
}

lc_status lc_cuda_synchronize(lc_context *ctx) {
  cudaError_t e = cudaSetDevice(ctx->device);
  if (e == cudaSuccess) e = cudaStreamSynchronize(ctx->cuda->stream);
  if (e != cudaSuccess) return cuda_err(ctx, e, "lc_context_synchronize");
  return LC_OK;
}

lc_status lc_cuda_alloc(lc_context *ctx, size_t bytes, void **out) {
  cudaError_t e = cudaSetDevice(ctx->device);
  if (e == cudaSuccess)
    e = lc_alloc_refused(LC_ALLOC_DEVICE, bytes) ? cudaErrorMemoryAllocation
                                                 : cudaMalloc(out, bytes);
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

lc_status lc_cuda_copy(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  cudaError_t e = cudaSetDevice(ctx->device);
  if (e == cudaSuccess)
    e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx->cuda->stream);
  if (e != cudaSuccess) return cuda_err(ctx, e, "device copy");
  return LC_OK;
}

lc_status lc_cuda_copy2d(lc_context *ctx, void *dst, size_t dpitch, const void *src, size_t spitch,
                         size_t width, size_t rows) {
  cudaError_t e = cudaSetDevice(ctx->device);
  if (e == cudaSuccess)
    e = cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, rows, cudaMemcpyDeviceToDevice,
                          ctx->cuda->stream);
  if (e != cudaSuccess) return cuda_err(ctx, e, "device 2D copy");
  return LC_OK;
}

/* ---- graphs ----------------------------------------------------------------*/

lc_status lc_cuda_capture_begin(lc_context *ctx) {
  cudaError_t e = cudaSetDevice(ctx->device);
  /* thread-local: another thread's unrelated CUDA calls neither break this
   * capture nor are refused because of it */
  const char *relaxed = getenv("LC_CUDA_CAPTURE_RELAXED"); /* diagnosis */
  if (e == cudaSuccess)
    e = cudaStreamBeginCapture(ctx->cuda->stream, relaxed && *relaxed == '1'
                                                      ? cudaStreamCaptureModeRelaxed
                                                      : cudaStreamCaptureModeThreadLocal);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return cuda_err(ctx, e, "cudaStreamBeginCapture");
  }
  return LC_OK;
}

void lc_cuda_capture_end(lc_context *ctx, int keep, lc_cuda_graph **out) {
  *out = NULL;
  cudaGraph_t graph = NULL;
  cudaError_t e = cudaStreamEndCapture(ctx->cuda->stream, &graph);
  if (e != cudaSuccess) (void)cuda_err(ctx, e, "cudaStreamEndCapture"); /* for lc_last_error */
  if (e == cudaSuccess && keep && graph) {
    lc_cuda_graph *g = lc_malloc(sizeof *g);
    e = g ? cudaGraphInstantiateWithFlags(&g->exec, graph, 0) : cudaErrorMemoryAllocation;
    if (e == cudaSuccess) {
      *out = g;
    } else {
      (void)cuda_err(ctx, e, "cudaGraphInstantiate");
      free(g);
    }
  }
  if (graph) cudaGraphDestroy(graph);
  /* a refused call inside the capture (an allocation, a synchronisation)
   * invalidated it; nothing ran, and the error is not sticky */
  (void)cudaGetLastError();
}

lc_status lc_cuda_graph_launch(lc_context *ctx, lc_cuda_graph *g) {
  cudaError_t e = cudaSetDevice(ctx->device);
  if (e == cudaSuccess) e = cudaGraphLaunch(g->exec, ctx->cuda->stream);
  if (e != cudaSuccess) return cuda_err(ctx, e, "cudaGraphLaunch");
  return LC_OK;
}

void lc_cuda_graph_free(lc_cuda_graph *g) {
  if (!g) return;
  cudaGraphExecDestroy(g->exec);
  free(g);
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
lc_status lc_cuda_device_info_get(const lc_context *ctx, lc_device_info *out) {
  (void)out;
  return no_cuda((lc_context *)ctx);
}

void *lc_cuda_stream(lc_context *ctx) {
  (void)ctx;
  return NULL;
}
lc_status lc_cuda_activate(lc_context *ctx) {
  return no_cuda(ctx);
}
lc_status lc_cuda_workspace(lc_context *ctx, size_t bytes, void **out) {
  (void)bytes;
  *out = NULL;
  return no_cuda(ctx);
}
lc_status lc_cuda_indices(lc_context *ctx, const int32_t *host, int64_t n, int32_t **dev) {
  (void)host;
  (void)n;
  *dev = NULL;
  return no_cuda(ctx);
}
lc_status lc_cuda_synchronize(lc_context *ctx) {
  return no_cuda(ctx);
}
uint64_t lc_cuda_scratch_generation(lc_context *ctx) {
  (void)ctx;
  return 0;
}
lc_status lc_cuda_capture_begin(lc_context *ctx) {
  return no_cuda(ctx);
}
void lc_cuda_capture_end(lc_context *ctx, int keep, lc_cuda_graph **out) {
  (void)ctx, (void)keep;
  *out = NULL;
}
lc_status lc_cuda_graph_launch(lc_context *ctx, lc_cuda_graph *g) {
  (void)g;
  return no_cuda(ctx);
}
void lc_cuda_graph_free(lc_cuda_graph *g) {
  (void)g;
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
lc_status lc_cuda_copy(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  (void)dst;
  (void)src;
  (void)bytes;
  return no_cuda(ctx);
}

lc_status lc_cuda_copy2d(lc_context *ctx, void *dst, size_t dpitch, const void *src, size_t spitch,
                         size_t width, size_t rows) {
  (void)dst;
  (void)dpitch;
  (void)src;
  (void)spitch;
  (void)width;
  (void)rows;
  return no_cuda(ctx);
}

#endif
