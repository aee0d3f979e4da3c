/*
 * lib/lc_internal.h — the runtime's private structs and helpers.
 *
 * lib/ validates every public call, keeps the error message, and dispatches
 * to cpu_ref/ (CPU backend) or kernels/ (CUDA backend).  The backends assume
 * valid arguments: everything a caller can get wrong is caught here.
 */
#ifndef LC_INTERNAL_H
#define LC_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>

#include "layercast.h"
#include "lib/lc_alloc.h"

#define LC_ERR_LEN 512
/* Largest dimension (row or column count) and tensor size accepted. */
#define LC_MAX_DIM ((int64_t)INT32_MAX)
#define LC_MAX_BYTES ((int64_t)1 << 40)

typedef struct lc_cuda_state lc_cuda_state;     /* lib/cuda_backend.c */
typedef struct lc_vendor_state lc_vendor_state; /* lib/vendor.c */
typedef struct lc_pool lc_pool;                 /* lib/pool.h */

struct lc_context {
  lc_backend backend;      /* LC_BACKEND_CPU or LC_BACKEND_CUDA */
  lc_mode mode;            /* numerics mode, fixed for the context's life */
  int device;              /* CUDA device index (CUDA backend) */
  int cpu_threads;         /* CPU threads: the pool's, or OpenBLAS's (reference) */
  lc_pool *pool;           /* CPU strict/fast/bf16 with cpu_threads > 1, else NULL */
  lc_cuda_state *cuda;     /* CUDA backend state, NULL on the CPU */
  lc_vendor_state *vendor; /* cuBLASLt baseline state, NULL until first use */
  lc_memory_stats mem;     /* accounting, see lc_context_get_memory() */
  char err[LC_ERR_LEN];    /* last failure on this context */
};

struct lc_weights {
  lc_context *ctx;           /* owner */
  int64_t rows, cols;        /* [rows][cols] */
  uint16_t *data;            /* (rows, cols) bf16, backend memory */
  lc_conversion_stats stats; /* what rounding to bf16 did */
  int view;                  /* data lies inside a joined matrix (lc_weights_join),
                                which owns and frees it */
};

/* Adds src's counts to dst's and keeps the larger max_rel_err. */
static inline void lc_conversion_stats_add(lc_conversion_stats *dst,
                                           const lc_conversion_stats *src) {
  dst->n_elements += src->n_elements;
  dst->n_inexact += src->n_inexact;
  dst->n_overflow += src->n_overflow;
  dst->n_nan += src->n_nan;
  if (src->max_rel_err > dst->max_rel_err) dst->max_rel_err = src->max_rel_err;
}

/* Joins n >= 2 matrices of one context into *out, their data one after the
 * other: rows joined where the parts have equal cols ([sum rows][cols]),
 * else, for parts of one row each (biases), cols joined ([1][sum cols]).
 * Each part then becomes a view of its place in *out (its own memory is
 * freed; its rows, cols and bits are unchanged), so a matmul over *out gives
 * each part's outputs side by side, bit for bit its own.  *out owns the
 * memory: free it with lc_weights_free, views before or after.  Every
 * part's place must start 256-byte aligned (LC_ERR_SHAPE otherwise).  On
 * failure nothing has changed. */
lc_status lc_weights_join(lc_weights *const *parts, int n, lc_weights **out);
/* 1 when lc_weights_join would place every part 256-byte aligned. */
int lc_weights_joinable(lc_weights *const *parts, int n);
/* A view of a contiguous part of w: rows r0 .. r0 + nr - 1 (all columns),
 * or, for a one-row w (a bias), columns c0 .. c0 + nc - 1.  The view shares
 * w's memory (free it with lc_weights_free before or after w; w must
 * outlive its use) and has no conversion stats of its own.  LC_ERR_SHAPE
 * for a range outside w or a part that is not contiguous. */
lc_status lc_weights_view(const lc_weights *w, int64_t r0, int64_t nr, int64_t c0, int64_t nc,
                          lc_weights **out);
/* A new matrix (its own memory, counted as weights) holding columns c0 ..
 * c0 + nc - 1 of every row of w, the bits unchanged; LC_ERR_SHAPE for a
 * range outside w. */
lc_status lc_weights_copy_cols(const lc_weights *w, int64_t c0, int64_t nc, lc_weights **out);

struct lc_rope {
  lc_context *ctx;     /* owner */
  int64_t head_dim;    /* even, 2 .. LC_MAX_HEAD_DIM */
  int64_t max_pos;     /* table rows */
  lc_rope_style style; /* pairing of the rotated elements */
  float *cos_tab;      /* (max_pos, head_dim/2) fp32, backend memory */
  float *sin_tab;      /* (max_pos, head_dim/2) fp32, backend memory */
};

/* Records "STATUS_NAME (file:line): message" on ctx (if not NULL) and in the
 * calling thread's buffer; returns st so callers can `return LC_FAIL(...)`. */
lc_status lc_fail_at(lc_context *ctx, lc_status st, const char *file, int line, const char *fmt,
                     ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
#define LC_FAIL(ctx, st, ...) lc_fail_at((ctx), (st), __FILE__, __LINE__, __VA_ARGS__)

/* Propagates a non-OK status unchanged. */
#define LC_TRY(expr)                            \
  do {                                          \
    lc_status lc_try_st_ = (expr);              \
    if (lc_try_st_ != LC_OK) return lc_try_st_; \
  } while (0)

/* ---- validation helpers (each records the message on failure) ------------*/
/* XXH3-128 streaming (lib/metrics.c), for the library's own hashes. */
typedef struct lc_hasher lc_hasher;
lc_hasher *lc_hasher_new(void); /* NULL when out of memory */
void lc_hasher_update(lc_hasher *h, const void *data, size_t n);
void lc_hasher_u64(lc_hasher *h, uint64_t v); /* 8 little-endian bytes */
void lc_hasher_hex(const lc_hasher *h, char hex[LC_HASH_HEX_LEN]);
void lc_hasher_free(lc_hasher *h); /* NULL accepted */

lc_status lc_check_ctx(const lc_context *ctx, const char *fn);
lc_status lc_check_ptr(lc_context *ctx, const void *p, const char *fn, const char *name);
/* rows: 0 .. LC_MAX_DIM */
lc_status lc_check_rows(lc_context *ctx, int64_t m, const char *fn, const char *name);
/* dims: 1 .. LC_MAX_DIM */
lc_status lc_check_dim(lc_context *ctx, int64_t n, const char *fn, const char *name);
/* a * b * elem_size < LC_MAX_BYTES, with a, b already range-checked; *bytes gets the size */
lc_status lc_check_bytes(lc_context *ctx, int64_t a, int64_t b, int64_t elem_size, const char *fn,
                         size_t *bytes);
/* LC_ERR_INVALID_ARGUMENT if [a, a+abytes) and [b, b+bbytes) overlap. */
lc_status lc_check_disjoint(lc_context *ctx, const void *a, size_t abytes, const void *b,
                            size_t bbytes, const char *fn, const char *an, const char *bn);
/* Overlap allowed only when a == b exactly (in-place). */
lc_status lc_check_same_or_disjoint(lc_context *ctx, const void *a, size_t abytes, const void *b,
                                    size_t bbytes, const char *fn, const char *an, const char *bn);
lc_status lc_check_weights(lc_context *ctx, const lc_weights *w, const char *fn, const char *name);

/* Bytes of one element of an attention shape's K/V cache: 2 (bf16) or 4. */
static inline size_t lc_attn_kv_elem_size(const lc_attn_shape *sh) {
  return sh->kv_dtype == LC_DTYPE_BF16 ? 2 : 4;
}

/* ---- CUDA backend (lib/cuda_backend.c; stubs returning LC_ERR_UNSUPPORTED
 * when built without CUDA) ----------------------------------------------------*/
lc_status lc_cuda_context_init(lc_context *ctx);
void lc_cuda_context_free(lc_context *ctx);
lc_status lc_cuda_synchronize(lc_context *ctx);
lc_status lc_cuda_device_info_get(const lc_context *ctx, lc_device_info *out);
lc_status lc_cuda_alloc(lc_context *ctx, size_t bytes, void **out);
void lc_cuda_free(lc_context *ctx, void *p);
lc_status lc_cuda_write(lc_context *ctx, void *dst, const void *src, size_t bytes);
lc_status lc_cuda_read(lc_context *ctx, void *dst, const void *src, size_t bytes);
/* Device-to-device copy queued on the context's stream. */
lc_status lc_cuda_copy(lc_context *ctx, void *dst, const void *src, size_t bytes);
/* rows x width bytes, device to device, row i from src + i * spitch to
 * dst + i * dpitch, queued on the context's stream (cudaMemcpy2DAsync). */
lc_status lc_cuda_copy2d(lc_context *ctx, void *dst, size_t dpitch, const void *src, size_t spitch,
                         size_t width, size_t rows);

/* Makes the context's device current for this thread (kernels/ entries
 * launch on whatever device is current). */
lc_status lc_cuda_activate(lc_context *ctx);
/* The context's stream (a cudaStream_t) for kernels/ entries. */
void *lc_cuda_stream(lc_context *ctx);
/* A grow-only device scratch of at least `bytes` (valid until the next call
 * that asks for more; stream-ordered, so queued work is safe). */
lc_status lc_cuda_workspace(lc_context *ctx, size_t bytes, void **out);
/* Copies n host int32 into a grow-only device index scratch; *dev points at
 * the copy (valid until the next call on the context). */
lc_status lc_cuda_indices(lc_context *ctx, const int32_t *host, int64_t n, int32_t **dev);

/* The number of times the context's device scratch (workspace, index
 * scratch) has been reallocated: a CUDA graph that captured a scratch
 * pointer is stale once this changes. */
uint64_t lc_cuda_scratch_generation(lc_context *ctx);

/* CUDA graphs of the ops queued on the context's stream (lib/session.c).
 * lc_cuda_capture_begin starts capturing the calling thread's work on the
 * stream (nothing queued runs until the graph is launched);
 * lc_cuda_capture_end stops it and, when `keep` and the capture held, makes
 * *out an executable graph (else *out = NULL, the capture discarded and any
 * capture error cleared: the caller then runs the ops as usual). */
typedef struct lc_cuda_graph lc_cuda_graph;
lc_status lc_cuda_capture_begin(lc_context *ctx);
void lc_cuda_capture_end(lc_context *ctx, int keep, lc_cuda_graph **out);
lc_status lc_cuda_graph_launch(lc_context *ctx, lc_cuda_graph *g);
void lc_cuda_graph_free(lc_cuda_graph *g); /* NULL is accepted */

/* The residual add and the RMSNorm after it: x = canon(x + d) in place, then
 * y = rmsnorm(x) with weight; round_bf16 rounds x and y to bf16 values as
 * they are stored (the vendor-bf16 activations).  Bit for bit lc_add, then
 * lc_rmsnorm (each followed by lc_round_bf16 when round_bf16); one kernel
 * on the CUDA backend for decode-sized batches.  x, d, y [m][n] with n =
 * weight->cols; d may equal y; x must be disjoint from both. */
lc_status lc_add_rmsnorm(lc_context *ctx, float *x, const float *d, int64_t m,
                         const lc_weights *weight, float eps, int round_bf16, float *y);

/* lc_embedding, lc_rope_apply of q and k with lc_kv_write (one kernel;
 * round_bf16: q and k rounded to bf16 values after the rope, the vendor-bf16
 * activations; k itself is not written) and lc_attention on the CUDA
 * backend with the per-row indices (token ids, positions, slots) already in
 * device memory and validated by the caller (lib/session.c). */
lc_status lc_embedding_dev(lc_context *ctx, const lc_weights *table, const int32_t *d_ids,
                           int64_t m, float *out);
lc_status lc_rope_kv_write_dev(lc_context *ctx, const lc_rope *rope, const lc_attn_shape *shape,
                               int64_t rows, const int32_t *d_slot, const int32_t *d_pos, float *q,
                               const float *k, const float *v, int round_bf16, void *k_cache,
                               void *v_cache);
lc_status lc_attention_dev(lc_context *ctx, const lc_attn_shape *shape, int64_t rows,
                           const int32_t *d_slot, const int32_t *d_pos, const float *q,
                           const void *k_cache, const void *v_cache, float *out);

/* matmul with the CUDA kernel path forced (tests and benchmarks:
 * 0 auto, 1 decode, 2 tiled (mma.sync in fast and bf16), 3 wgmma (fast and
 * bf16; strict takes 2), 4 wgmma decode (fast and bf16, M <= 64, k % 8 == 0,
 * 16-byte aligned w, else 1; strict takes 1); see kernels/lc_kernels.h).
 * The path never changes a bit. */
lc_status lc_matmul_with_path(lc_context *ctx, const float *x, int64_t m, const lc_weights *w,
                              const lc_weights *bias, float *y, int path);

/* The vendor baselines through cuBLASLt (lib/vendor.c): y = x W^T (+ bias)
 * in the context's vendor mode.  Arguments validated by the caller. */
lc_status lc_vendor_matmul(lc_context *ctx, const float *x, int64_t m, const lc_weights *w,
                           const lc_weights *bias, float *y);
/* cuBLASLt FP32 SGEMM (CUBLAS_COMPUTE_32F) on a weight already widened to
 * fp32 [n][k] in device memory: y[m][n] = x[m][k] w_f32^T.  The baseline the
 * benchmarks compare large-M strict against; not part of the public API. */
lc_status lc_vendor_sgemm_prewidened(lc_context *ctx, const float *x, int64_t m, const float *w_f32,
                                     int64_t n, int64_t k, float *y);
/* Loads cuBLASLt (lib/cublaslt_loader.c) and creates the context's handle
 * on its device, once per context: called by lc_context_create for the
 * vendor modes and on first use by the calls above.  LC_ERR_CUBLAS (the
 * library cannot be loaded, cublasLtCreate failed), LC_ERR_CUDA,
 * LC_ERR_OUT_OF_MEMORY; messages start with fn.  LC_ERR_UNSUPPORTED
 * without CUDA in the build. */
lc_status lc_vendor_context_init(lc_context *ctx, const char *fn);
/* Frees what lib/vendor.c keeps on a context (descriptors, temporaries,
 * the cuBLASLt handle). */
void lc_vendor_context_free(lc_context *ctx);

/* Records a change of `delta` bytes of workspace on the context. */
void lc_mem_account_workspace(lc_context *ctx, int64_t delta);

/* Backend-neutral memory used by the objects (weights, rope tables). */
lc_status lc_mem_alloc(lc_context *ctx, size_t bytes, void **out);
void lc_mem_free(lc_context *ctx, void *p);
lc_status lc_mem_write(lc_context *ctx, void *dst, const void *src, size_t bytes);
lc_status lc_mem_read(lc_context *ctx, void *dst, const void *src, size_t bytes);
/* backend -> backend, queued on the context's stream on CUDA */
lc_status lc_mem_copy(lc_context *ctx, void *dst, const void *src, size_t bytes);
/* rows x width bytes, backend -> backend: row i from src + i * spitch to
 * dst + i * dpitch (the rows of dst and src do not overlap) */
lc_status lc_mem_copy2d(lc_context *ctx, void *dst, size_t dpitch, const void *src, size_t spitch,
                        size_t width, size_t rows);

/* ---- paths (lib/exp_util.c) -------------------------------------------------*/
/* dir + "/" + name, malloc'ed; NULL when out of memory. */
char *lc_path_join(const char *dir, const char *name);
/* 1 when path exists (as anything). */
int lc_path_exists(const char *path);

#endif /* LC_INTERNAL_H */
