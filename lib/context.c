/*
 * lib/context.c — status lookups, version, errors, contexts and backend
 * memory.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cast/lc_canon.h"
#include "lib/lc_internal.h"
#include "lib/pool.h"

/* ---- version, status and enum names -------------------------------------*/

unsigned lc_version_number(void) {
  return LC_VERSION_NUMBER;
}
const char *lc_version_string(void) {
  return LC_VERSION_STRING;
}

const char *lc_status_name(lc_status s) {
  switch (s) {
#define LC_STATUS_NAME_(name, value, text) \
  case name:                               \
    return #name;
    LC_STATUS_LIST(LC_STATUS_NAME_)
#undef LC_STATUS_NAME_
  }
  return "LC_STATUS_UNKNOWN";
}

const char *lc_status_string(lc_status s) {
  switch (s) {
#define LC_STATUS_TEXT_(name, value, text) \
  case name:                               \
    return text;
    LC_STATUS_LIST(LC_STATUS_TEXT_)
#undef LC_STATUS_TEXT_
  }
  return "unknown status";
}

static const char *const mode_names[] = {"strict", "reference",   "fast",
                                         "bf16",   "vendor-bf16", "vendor-fp32"};
static const char *const backend_names[] = {"cpu", "cuda"};
#define N_MODES ((int)(sizeof mode_names / sizeof mode_names[0]))
#define N_BACKENDS ((int)(sizeof backend_names / sizeof backend_names[0]))

const char *lc_mode_name(lc_mode m) {
  return ((int)m >= 0 && (int)m < N_MODES) ? mode_names[m] : "unknown";
}

const char *lc_backend_name(lc_backend b) {
  return ((int)b >= 0 && (int)b < N_BACKENDS) ? backend_names[b] : "unknown";
}

lc_status lc_mode_from_name(const char *name, lc_mode *out) {
  if (!name || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_mode_from_name: NULL argument");
  for (int i = 0; i < N_MODES; i++) {
    if (strcmp(name, mode_names[i]) == 0) {
      *out = (lc_mode)i;
      return LC_OK;
    }
  }
  return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                 "unknown mode '%s' (expected strict, reference, fast, bf16, vendor-bf16 or "
                 "vendor-fp32)",
                 name);
}

lc_status lc_backend_from_name(const char *name, lc_backend *out) {
  if (!name || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_backend_from_name: NULL argument");
  for (int i = 0; i < N_BACKENDS; i++) {
    if (strcmp(name, backend_names[i]) == 0) {
      *out = (lc_backend)i;
      return LC_OK;
    }
  }
  return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "unknown backend '%s' (expected cpu or cuda)",
                 name);
}

void lc_canon_get_info(lc_canon_info *out) {
  if (!out) return;
  out->version = LC_CANON_VERSION;
  out->matmul_seg_len = LC_MATMUL_SEG_LEN;
  out->attn_partition = LC_ATTN_PARTITION;
  out->reduce_lanes = LC_REDUCE_LANES;
  out->max_head_dim = LC_MAX_HEAD_DIM;
}

/* ---- errors ----------------------------------------------------------------*/

static _Thread_local char tls_err[LC_ERR_LEN];
static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;

lc_status lc_fail_at(lc_context *ctx, lc_status st, const char *file, int line, const char *fmt,
                     ...) {
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  int n = snprintf(tls_err, sizeof tls_err, "%s (%s:%d): ", lc_status_name(st), base, line);
  if (n < 0 || (size_t)n >= sizeof tls_err) n = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tls_err + n, sizeof tls_err - (size_t)n, fmt, ap);
  va_end(ap);
  if (ctx) { /* tasks of a row-parallel pass (lib/session.c) may fail at once */
    pthread_mutex_lock(&err_mu);
    memcpy(ctx->err, tls_err, sizeof ctx->err);
    pthread_mutex_unlock(&err_mu);
  }
  return st;
}

const char *lc_last_error(const lc_context *ctx) {
  return ctx ? ctx->err : tls_err;
}

/* ---- contexts --------------------------------------------------------------*/

void lc_context_params_default(lc_context_params *p) {
  if (!p) return;
  memset(p, 0, sizeof *p);
  p->backend = LC_BACKEND_CPU;
  p->mode = LC_MODE_STRICT;
  p->device = 0;
  p->cpu_threads = 1;
}

lc_status lc_context_create(const lc_context_params *params, lc_context **out) {
  if (!out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_context_create: out is NULL");
  *out = NULL;
  lc_context_params p;
  if (params) {
    p = *params;
  } else {
    lc_context_params_default(&p);
  }
  if ((int)p.backend < 0 || (int)p.backend >= N_BACKENDS)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_context_create: unknown backend %d",
                   (int)p.backend);
  if ((int)p.mode < 0 || (int)p.mode >= N_MODES)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_context_create: unknown mode %d",
                   (int)p.mode);
  if (p.device < 0)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_context_create: device %d < 0", p.device);
  if (p.cpu_threads < 0)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_context_create: cpu_threads %d < 0",
                   p.cpu_threads);
  const int vendor = p.mode == LC_MODE_VENDOR_BF16 || p.mode == LC_MODE_VENDOR_FP32;
  if (p.backend == LC_BACKEND_CPU && vendor)
    return LC_FAIL(NULL, LC_ERR_UNSUPPORTED,
                   "mode %s is not offered by the CPU backend (it offers strict, fast, bf16 and "
                   "reference)",
                   lc_mode_name(p.mode));
  if (p.backend == LC_BACKEND_CUDA && p.mode == LC_MODE_REFERENCE)
    return LC_FAIL(NULL, LC_ERR_UNSUPPORTED,
                   "mode %s is not offered by the CUDA backend (it offers strict, fast, bf16, "
                   "vendor-bf16 and vendor-fp32; reference is CPU only)",
                   lc_mode_name(p.mode));

  lc_context *ctx = lc_calloc(1, sizeof *ctx);
  if (!ctx) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_context_create: out of host memory");
  ctx->backend = p.backend;
  ctx->mode = p.mode;
  ctx->device = p.device;
  ctx->cpu_threads = p.cpu_threads ? p.cpu_threads : 1;
  if (ctx->backend == LC_BACKEND_CUDA) {
    lc_status st = lc_cuda_context_init(ctx);
    /* cuBLASLt is loaded for the vendor modes only (lib/cublaslt_loader.c) */
    if (st == LC_OK && (ctx->mode == LC_MODE_VENDOR_BF16 || ctx->mode == LC_MODE_VENDOR_FP32))
      st = lc_vendor_context_init(ctx, "lc_context_create");
    if (st != LC_OK) {
      lc_cuda_context_free(ctx);
      free(ctx); /* the message is already in the thread's buffer */
      return st;
    }
  } else if (ctx->mode == LC_MODE_REFERENCE) {
    /* Reference results may depend on OpenBLAS's thread count (how it splits
     * the product): pin it so reference runs repeat.  Process-wide. */
    openblas_set_num_threads(ctx->cpu_threads);
  } else if (ctx->cpu_threads > 1) {
    /* strict, fast, bf16: big matmuls split their columns across the pool
     * (lib/ops.c); the bits do not depend on it.  A pool that cannot be made
     * leaves the context single-threaded, not failed. */
    ctx->pool = lc_pool_create(ctx->cpu_threads);
  }
  *out = ctx;
  return LC_OK;
}

void lc_context_free(lc_context *ctx) {
  if (!ctx) return;
  lc_vendor_context_free(ctx);
  if (ctx->backend == LC_BACKEND_CUDA) lc_cuda_context_free(ctx);
  lc_pool_free(ctx->pool);
  free(ctx);
}

lc_backend lc_context_backend(const lc_context *ctx) {
  return ctx ? ctx->backend : (lc_backend)-1;
}

lc_mode lc_context_mode(const lc_context *ctx) {
  return ctx ? ctx->mode : (lc_mode)-1;
}

void lc_mem_account_workspace(lc_context *ctx, int64_t delta) {
  ctx->mem.workspace_bytes = (size_t)((int64_t)ctx->mem.workspace_bytes + delta);
  if (ctx->mem.workspace_bytes > ctx->mem.workspace_peak_bytes)
    ctx->mem.workspace_peak_bytes = ctx->mem.workspace_bytes;
}

lc_status lc_context_get_memory(const lc_context *ctx, lc_memory_stats *out) {
  if (!ctx || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_context_get_memory: NULL argument");
  *out = ctx->mem;
  return LC_OK;
}

static void cpu_model_name(char *dst, size_t len) {
  snprintf(dst, len, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) != 0) continue;
    const char *c = strchr(line, ':');
    if (!c) break;
    c++;
    while (*c == ' ' || *c == '\t') c++;
    snprintf(dst, len, "%s", c);
    size_t n = strlen(dst);
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' ')) dst[--n] = '\0';
    break;
  }
  fclose(f);
}

lc_status lc_context_get_device_info(const lc_context *ctx, lc_device_info *out) {
  if (!ctx || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_context_get_device_info: NULL argument");
  memset(out, 0, sizeof *out);
  out->backend = ctx->backend;
  if (ctx->backend == LC_BACKEND_CUDA) return lc_cuda_device_info_get(ctx, out);
  cpu_model_name(out->name, sizeof out->name);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  out->n_sm = n > 0 ? (int)n : 0;
  snprintf(out->blas, sizeof out->blas, "%s", openblas_get_config());
  return LC_OK;
}

lc_status lc_context_synchronize(lc_context *ctx) {
  LC_TRY(lc_check_ctx(ctx, "lc_context_synchronize"));
  if (ctx->backend == LC_BACKEND_CUDA) return lc_cuda_synchronize(ctx);
  return LC_OK;
}

/* ---- backend memory --------------------------------------------------------*/

lc_status lc_mem_alloc(lc_context *ctx, size_t bytes, void **out) {
  *out = NULL;
  if (ctx->backend == LC_BACKEND_CUDA) return lc_cuda_alloc(ctx, bytes, out);
  size_t rounded = (bytes + 255u) & ~(size_t)255u; /* aligned_alloc: size % align == 0 */
  void *p = lc_aligned_alloc(256, rounded);
  if (!p)
    return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of host memory", bytes);
  *out = p;
  return LC_OK;
}

void lc_mem_free(lc_context *ctx, void *p) {
  if (!p) return;
  if (ctx->backend == LC_BACKEND_CUDA) {
    lc_cuda_free(ctx, p);
  } else {
    free(p);
  }
}

lc_status lc_mem_write(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  if (ctx->backend == LC_BACKEND_CUDA) return lc_cuda_write(ctx, dst, src, bytes);
  memmove(dst, src, bytes);
  return LC_OK;
}

lc_status lc_mem_read(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  if (ctx->backend == LC_BACKEND_CUDA) return lc_cuda_read(ctx, dst, src, bytes);
  memmove(dst, src, bytes);
  return LC_OK;
}

lc_status lc_mem_copy(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  if (ctx->backend == LC_BACKEND_CUDA) return lc_cuda_copy(ctx, dst, src, bytes);
  memmove(dst, src, bytes);
  return LC_OK;
}

lc_status lc_mem_copy2d(lc_context *ctx, void *dst, size_t dpitch, const void *src, size_t spitch,
                        size_t width, size_t rows) {
  if (width == 0 || rows == 0) return LC_OK;
  if (ctx->backend == LC_BACKEND_CUDA)
    return lc_cuda_copy2d(ctx, dst, dpitch, src, spitch, width, rows);
  for (size_t i = 0; i < rows; i++)
    memcpy((char *)dst + i * dpitch, (const char *)src + i * spitch, width);
  return LC_OK;
}

lc_status lc_buffer_alloc(lc_context *ctx, size_t bytes, void **out) {
  LC_TRY(lc_check_ctx(ctx, "lc_buffer_alloc"));
  LC_TRY(lc_check_ptr(ctx, out, "lc_buffer_alloc", "out"));
  *out = NULL;
  if (bytes == 0) return LC_FAIL(ctx, LC_ERR_SHAPE, "lc_buffer_alloc: bytes == 0");
  if ((uint64_t)bytes >= (uint64_t)LC_MAX_BYTES)
    return LC_FAIL(ctx, LC_ERR_OVERFLOW, "lc_buffer_alloc: %zu bytes is over the 2^40 limit",
                   bytes);
  return lc_mem_alloc(ctx, bytes, out);
}

void lc_buffer_free(lc_context *ctx, void *ptr) {
  if (!ctx || !ptr) return;
  lc_mem_free(ctx, ptr);
}

lc_status lc_buffer_write(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  LC_TRY(lc_check_ctx(ctx, "lc_buffer_write"));
  if (bytes == 0) return LC_OK;
  LC_TRY(lc_check_ptr(ctx, dst, "lc_buffer_write", "dst"));
  LC_TRY(lc_check_ptr(ctx, src, "lc_buffer_write", "src"));
  return lc_mem_write(ctx, dst, src, bytes);
}

lc_status lc_buffer_read(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  LC_TRY(lc_check_ctx(ctx, "lc_buffer_read"));
  if (bytes == 0) return LC_OK;
  LC_TRY(lc_check_ptr(ctx, dst, "lc_buffer_read", "dst"));
  LC_TRY(lc_check_ptr(ctx, src, "lc_buffer_read", "src"));
  return lc_mem_read(ctx, dst, src, bytes);
}

/* ---- validation helpers ----------------------------------------------------*/

lc_status lc_check_ctx(const lc_context *ctx, const char *fn) {
  if (!ctx) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: context is NULL", fn);
  return LC_OK;
}

lc_status lc_check_ptr(lc_context *ctx, const void *p, const char *fn, const char *name) {
  if (!p) return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, name);
  return LC_OK;
}

lc_status lc_check_rows(lc_context *ctx, int64_t m, const char *fn, const char *name) {
  if (m < 0) return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: %s = %lld is negative", fn, name, (long long)m);
  if (m > LC_MAX_DIM)
    return LC_FAIL(ctx, LC_ERR_OVERFLOW, "%s: %s = %lld exceeds the limit 2^31-1", fn, name,
                   (long long)m);
  return LC_OK;
}

lc_status lc_check_dim(lc_context *ctx, int64_t n, const char *fn, const char *name) {
  if (n < 1)
    return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: %s = %lld, expected >= 1", fn, name, (long long)n);
  if (n > LC_MAX_DIM)
    return LC_FAIL(ctx, LC_ERR_OVERFLOW, "%s: %s = %lld exceeds the limit 2^31-1", fn, name,
                   (long long)n);
  return LC_OK;
}

lc_status lc_check_bytes(lc_context *ctx, int64_t a, int64_t b, int64_t elem_size, const char *fn,
                         size_t *bytes) {
  int64_t n, total;
  if (__builtin_mul_overflow(a, b, &n) || __builtin_mul_overflow(n, elem_size, &total) ||
      total >= LC_MAX_BYTES)
    return LC_FAIL(ctx, LC_ERR_OVERFLOW,
                   "%s: %lld x %lld elements of %lld bytes exceed the 2^40-byte tensor limit", fn,
                   (long long)a, (long long)b, (long long)elem_size);
  *bytes = (size_t)total;
  return LC_OK;
}

static int overlaps(const void *a, size_t an, const void *b, size_t bn) {
  uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
  if (an == 0 || bn == 0) return 0;
  return pa < pb + bn && pb < pa + an;
}

lc_status lc_check_disjoint(lc_context *ctx, const void *a, size_t abytes, const void *b,
                            size_t bbytes, const char *fn, const char *an, const char *bn) {
  if (overlaps(a, abytes, b, bbytes))
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: %s overlaps %s", fn, an, bn);
  return LC_OK;
}

lc_status lc_check_same_or_disjoint(lc_context *ctx, const void *a, size_t abytes, const void *b,
                                    size_t bbytes, const char *fn, const char *an, const char *bn) {
  if (a == b) return LC_OK;
  if (overlaps(a, abytes, b, bbytes))
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT,
                   "%s: %s partially overlaps %s (only exact aliasing is allowed)", fn, an, bn);
  return LC_OK;
}

lc_status lc_check_weights(lc_context *ctx, const lc_weights *w, const char *fn, const char *name) {
  if (!w) return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, name);
  if (w->ctx != ctx)
    return LC_FAIL(ctx, LC_ERR_MISMATCH, "%s: %s was created with another context", fn, name);
  return LC_OK;
}
