/*
 * layercast — reproducible mixed-precision LLM inference.
 *
 * Weights are stored in bf16 and widened to FP32 inside the kernels; every
 * arithmetic step is FP32.  In the `strict` numerics mode every op follows one
 * canonical order of operations (docs/numerics.md), so that the result for a
 * row (or a sequence) never depends on what else is in the batch, on where the
 * row sits in it, on how a prompt was chunked, or on the backend: the CPU
 * strict backend and the CUDA strict backend give the same bits.
 *
 * The `reference` mode runs the same ops in plain FP32 on the CPU with the
 * matrix products through OpenBLAS `cblas_sgemm`: it is the agreement oracle
 * that strict results are compared against, and promises no invariance.
 *
 * How to read this header
 * -----------------------
 * - Every fallible call returns an `lc_status`.  LC_OK is 0; on failure a
 *   human-readable message (with the failing check and its file:line) is
 *   kept for `lc_last_error()`.  Library code never exits or aborts.
 * - Objects are opaque handles with create/free pairs; every free accepts
 *   NULL.  A failed create leaves `*out` set to NULL and leaks nothing.
 * - Names: lc_<object>_<verb> (lc_weights_create, lc_rope_apply).  An
 *   accessor that returns a value is named after it (lc_context_mode,
 *   lc_weights_rows); a call that fills the caller's struct is
 *   lc_<object>_get_<what> (lc_context_get_memory, lc_model_get_info).
 * - Where pointers live.  "Backend memory" is host memory for a CPU context
 *   and device memory for a CUDA context: allocate it with
 *   `lc_buffer_alloc()` and move data with `lc_buffer_write()` /
 *   `lc_buffer_read()`, so the same program runs on either backend.  Float
 *   tensors (activations, KV caches, outputs) are in backend memory.  Small
 *   integer index arrays (token ids, positions, sequence descriptors, argmax
 *   results) are always in host memory.  Weights live inside `lc_weights`.
 * - Shapes are int64_t.  A zero row count (m == 0) is a valid empty call that
 *   does nothing and returns LC_OK; every other dimension must be >= 1.
 *   Negative sizes give LC_ERR_SHAPE; a size whose element or byte count
 *   does not fit the supported range (each dimension < 2^31, each tensor
 *   < 2^40 bytes) gives LC_ERR_OVERFLOW.
 * - Tensors are dense and row-major; shapes are written as [rows][cols].
 *   An output may alias an input exactly where a function says so; any other
 *   overlap between an output and an input gives LC_ERR_INVALID_ARGUMENT.
 * - Threads: an lc_context, and everything created from it, may be used by
 *   one thread at a time.  Distinct contexts may be used concurrently from
 *   different threads.  Objects created from one context must not be used
 *   with another (LC_ERR_MISMATCH).  The status/name/version lookups and the
 *   comparison helpers are pure and thread-safe.
 * - NaN: in strict mode every NaN that an op computes is written as the
 *   canonical quiet NaN 0x7FC00000 (LC_F32_CANONICAL_NAN_BITS), so that NaN
 *   results too are bitwise reproducible across backends.  (lc_embedding
 *   copies bits: a NaN stored in the table comes out as stored.)  Inf and signed zeros follow IEEE
 *   754 through the canonical formulas.  docs/numerics.md has every rule.
 */
#ifndef LAYERCAST_H
#define LAYERCAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(LC_SHARED_BUILD)
#define LC_API __declspec(dllexport)
#elif defined(__GNUC__)
#define LC_API __attribute__((visibility("default")))
#else
#define LC_API
#endif

/* ======================================================================== *
 *  Version
 * ======================================================================== */

#define LC_VERSION_MAJOR 0
#define LC_VERSION_MINOR 1
#define LC_VERSION_PATCH 0
#define LC_VERSION_NUMBER (LC_VERSION_MAJOR * 10000 + LC_VERSION_MINOR * 100 + LC_VERSION_PATCH)
#define LC_VERSION_STRING "0.1.0"

/* The version of the library actually linked (compare with
 * LC_VERSION_NUMBER, which is the version of this header). */
LC_API unsigned lc_version_number(void);
LC_API const char *lc_version_string(void);

/* ======================================================================== *
 *  Status codes
 * ======================================================================== */

/* One list generates the enum, lc_status_name() and lc_status_string().
 * Values are pinned: codes are only ever appended. */
#define LC_STATUS_LIST(X)                                                                         \
  X(LC_OK, 0, "success")                                                                          \
  X(LC_ERR_INVALID_ARGUMENT, 1,                                                                   \
    "invalid argument (NULL pointer, unknown enum value, overlapping "                            \
    "buffers or a value out of its domain)")                                                      \
  X(LC_ERR_SHAPE, 2, "invalid or mismatched shape")                                               \
  X(LC_ERR_OVERFLOW, 3, "size overflows the supported range")                                     \
  X(LC_ERR_OUT_OF_MEMORY, 4, "out of memory")                                                     \
  X(LC_ERR_UNSUPPORTED, 5, "not supported by this build, backend or numerics mode")               \
  X(LC_ERR_NO_DEVICE, 6, "no usable CUDA device")                                                 \
  X(LC_ERR_CUDA, 7, "CUDA runtime error")                                                         \
  X(LC_ERR_CUBLAS, 8, "cuBLASLt error")                                                           \
  X(LC_ERR_OUT_OF_RANGE, 9, "index out of range (token id, position or cache slot)")              \
  X(LC_ERR_MISMATCH, 10, "object belongs to another context or has the wrong shape for this use") \
  X(LC_ERR_IO, 11, "input/output error")                                                          \
  X(LC_ERR_FORMAT, 12, "corrupt, truncated or inconsistent file")                                 \
  X(LC_ERR_INTERNAL, 13, "internal error (a bug in layercast: please report)")                    \
  X(LC_ERR_NOT_FOUND, 14, "no such file or directory")

typedef enum lc_status {
#define LC_STATUS_ENUM_(name, value, text) name = value,
  LC_STATUS_LIST(LC_STATUS_ENUM_)
#undef LC_STATUS_ENUM_
} lc_status;

/* "LC_ERR_SHAPE" for LC_ERR_SHAPE; "LC_STATUS_UNKNOWN" for a value outside
 * the list.  Never NULL. */
LC_API const char *lc_status_name(lc_status s);
/* A one-line description; "unknown status" outside the list.  Never NULL. */
LC_API const char *lc_status_string(lc_status s);

/* ======================================================================== *
 *  Allocation hook (fault injection and accounting)
 * ======================================================================== */

typedef enum lc_alloc_kind {
  LC_ALLOC_HOST = 0,   /* malloc, calloc, realloc, strdup, aligned_alloc */
  LC_ALLOC_DEVICE = 1, /* cudaMalloc: buffers, weights, caches, scratch */
} lc_alloc_kind;

/* Called before each allocation the library makes itself, with the size it
 * asks for; return 0 to let it go ahead, anything else to make it fail as the
 * allocator would (the call then reports LC_ERR_OUT_OF_MEMORY).  The memory
 * still comes from the C library or the CUDA runtime: the hook decides and
 * observes, it does not provide.  Not seen: what OpenBLAS, jansson, PCRE2,
 * utf8proc, the C library (getline, open_memstream, stdio buffers) and the
 * CUDA runtime allocate inside themselves.  A program that fails jansson's
 * allocations (json_set_alloc_funcs) gets LC_ERR_OUT_OF_MEMORY where jansson
 * reports the failure; jansson 2.14 reports some as syntax errors
 * (LC_ERR_FORMAT) and is not safe under allocation failure
 * (docs/reliability.md).
 *
 * What a failed call leaves behind, whichever allocation failed: every
 * object it was building is freed; its out-pointers are NULL (or 0); the
 * objects passed in are as they were before the call, except where the
 * function's own comment says otherwise (a failed lc_session_forward: the
 * cache positions it was writing hold anything until written again); files
 * it was writing are removed or never replaced (an output is written under
 * a temporary name and renamed over NAME only when complete; a sweep keeps
 * its finished runs in runs.jsonl.partial, lc_sweep_run says how).
 *
 * Process-wide.  Set or clear it (fn NULL) while no other thread is inside
 * the library; fn itself may be called from any thread that uses the
 * library, concurrently. */
typedef int (*lc_alloc_hook_fn)(void *opaque, lc_alloc_kind kind, size_t bytes);
LC_API void lc_set_alloc_hook(lc_alloc_hook_fn fn, void *opaque);

/* ======================================================================== *
 *  Enumerations
 * ======================================================================== */

typedef enum lc_backend {
  LC_BACKEND_CPU = 0,  /* host memory; strict, fast, bf16 or reference */
  LC_BACKEND_CUDA = 1, /* device memory; strict, fast, bf16 and the vendor baselines */
} lc_backend;

/* Numerics modes.  docs/numerics.md defines what each promises. */
typedef enum lc_mode {
  LC_MODE_STRICT = 0,      /* FP32, canonical order: bitwise invariant */
  LC_MODE_REFERENCE = 1,   /* CPU only: plain FP32, OpenBLAS sgemm */
  LC_MODE_FAST = 2,        /* matmul: x split into 3 bf16 parts on tensor cores,
                              fast order v1; CPU emulates the MMA bit for bit */
  LC_MODE_BF16 = 3,        /* matmul: x rounded to bf16 on tensor cores, fp32
                              accumulation, the fast order v1 */
  LC_MODE_VENDOR_BF16 = 4, /* CUDA: cuBLASLt bf16 x bf16, FP32 accumulate */
  LC_MODE_VENDOR_FP32 = 5, /* CUDA: per-call upcast + cuBLASLt SGEMM */
} lc_mode;
/* fast, bf16 and the vendor modes change lc_matmul only; every other op runs
 * the strict canonical order (docs/numerics.md 10).  fast and bf16 keep every
 * invariance of strict (batch, position, prefill/decode) and give the same bits
 * on the CPU and on sm_90 GPUs (docs/numerics.md 10.4 says what was checked);
 * the vendor modes are baselines (cuBLASLt with its default heuristic, no
 * invariance promised). */

typedef enum lc_dtype {
  LC_DTYPE_F32 = 0,  /* IEEE binary32 */
  LC_DTYPE_BF16 = 1, /* bfloat16: the top 16 bits of a binary32 */
  LC_DTYPE_F16 = 2,  /* IEEE binary16 */
} lc_dtype;

/* "cpu", "cuda"; "unknown" otherwise.  Never NULL. */
LC_API const char *lc_backend_name(lc_backend b);
/* "strict", "reference", "fast", "bf16", "vendor-bf16", "vendor-fp32";
 * "unknown" otherwise.  Never NULL. */
LC_API const char *lc_mode_name(lc_mode m);
/* Parses a name printed by lc_mode_name().  LC_ERR_INVALID_ARGUMENT for
 * NULL or an unknown name (then *out is untouched). */
LC_API lc_status lc_mode_from_name(const char *name, lc_mode *out);
/* Same for backends: "cpu", "cuda". */
LC_API lc_status lc_backend_from_name(const char *name, lc_backend *out);

/* ======================================================================== *
 *  Canonical order constants (the ones compiled into this library)
 * ======================================================================== */

typedef struct lc_canon_info {
  int version;        /* canonical order version (1) */
  int matmul_seg_len; /* K segment length Ls of the strict matmul */
  int attn_partition; /* key partition size P of strict attention */
  int reduce_lanes;   /* lanes of the canonical row reduction */
  int max_head_dim;   /* largest head_dim attention accepts */
} lc_canon_info;

LC_API void lc_canon_get_info(lc_canon_info *out); /* out may not be NULL */

/* The canonical quiet NaN written by strict ops. */
#define LC_F32_CANONICAL_NAN_BITS 0x7FC00000u

/* ======================================================================== *
 *  Context
 * ======================================================================== */

typedef struct lc_context lc_context;

typedef struct lc_context_params {
  lc_backend backend; /* LC_BACKEND_CPU or LC_BACKEND_CUDA */
  lc_mode mode;       /* see lc_mode; default LC_MODE_STRICT */
  int device;         /* CUDA device index (>= 0); ignored on the CPU */
  int cpu_threads;    /* CPU backend threads; 0 means 1.  Strict, fast and
                         bf16: a matmul of 2^20 multiply-adds or more splits
                         its output columns across them, and a decode pass
                         over a model of 32 MiB of matmul weights or less
                         runs a group of rows per thread (the bits never
                         depend on the count).  Reference: OpenBLAS's
                         threads, pinned at context creation (OpenBLAS's
                         setting is process-wide): reference results can
                         depend on it, so keep it fixed for reproducible
                         reference runs. */
} lc_context_params;

/* Fills *p with the defaults: CPU backend, strict mode, device 0, one
 * OpenBLAS thread.  p may not be NULL. */
LC_API void lc_context_params_default(lc_context_params *p);

/* Creates a context.  params may be NULL (the defaults).
 * Returns LC_OK;
 *   LC_ERR_INVALID_ARGUMENT  out is NULL, an enum value is unknown, device
 *                            or cpu_threads negative;
 *   LC_ERR_UNSUPPORTED       the mode is reserved, or not offered by the
 *                            backend (reference is CPU only), or the library
 *                            was built without CUDA;
 *   LC_ERR_NO_DEVICE         CUDA backend and no usable GPU (or the index is
 *                            past the device count);
 *   LC_ERR_CUDA              the CUDA runtime failed to start;
 *   LC_ERR_CUBLAS            vendor modes: cuBLASLt failed to start, or
 *                            libcublasLt could not be loaded (it is loaded
 *                            at run time, for these modes only; the message
 *                            names the library and the loader's error);
 *   LC_ERR_OUT_OF_MEMORY.
 * On failure *out is NULL and lc_last_error(NULL) says why. */
LC_API lc_status lc_context_create(const lc_context_params *params, lc_context **out);

/* Frees the context.  Every object created from it must be freed first
 * (weights, rope tables, buffers); NULL is accepted. */
LC_API void lc_context_free(lc_context *ctx);

LC_API lc_backend lc_context_backend(const lc_context *ctx);
LC_API lc_mode lc_context_mode(const lc_context *ctx);

/* Waits until all work queued on the context has finished.  A no-op on the
 * CPU.  LC_ERR_INVALID_ARGUMENT for NULL; LC_ERR_CUDA if the device
 * reported an error. */
LC_API lc_status lc_context_synchronize(lc_context *ctx);

/* The message of the last failure on ctx ("" if none yet).  With ctx NULL,
 * the last failure of any call made by this thread, which is how a failed
 * lc_context_create() explains itself.  The string stays valid until the
 * next failing call on the same context (or thread). */
LC_API const char *lc_last_error(const lc_context *ctx);

/* What a context runs on, for run records and environment fingerprints. */
typedef struct lc_device_info {
  lc_backend backend;
  int device;             /* CUDA device index; 0 on the CPU */
  char name[256];         /* GPU name, or the CPU model name ("unknown CPU") */
  int cc_major, cc_minor; /* compute capability; 0 on the CPU */
  int n_sm;               /* multiprocessors; online CPUs on the CPU */
  size_t global_bytes;    /* device memory; 0 on the CPU */
  int driver_version;     /* CUDA driver API version (e.g. 13000); 0 on the CPU */
  int runtime_version;    /* CUDA runtime version; 0 on the CPU */
  int cublaslt_version;   /* cuBLASLt version; 0 on the CPU, or when
                             libcublasLt cannot be loaded (asking for it on
                             a CUDA context loads it) */
  char blas[64];          /* CPU: OpenBLAS's config string (truncated) */
} lc_device_info;

/* Fills *out.  LC_ERR_INVALID_ARGUMENT for NULL. */
LC_API lc_status lc_context_get_device_info(const lc_context *ctx, lc_device_info *out);

/* Backend memory the context accounts for, in bytes. */
typedef struct lc_memory_stats {
  size_t weights_bytes;        /* live lc_weights (2 bytes per element) */
  size_t tables_bytes;         /* live lc_rope tables */
  size_t workspace_bytes;      /* scratch the context holds now (matmul
                                  partials, attention partitions, index
                                  arrays, vendor-fp32's widened weights) */
  size_t workspace_peak_bytes; /* the most scratch held at once */
} lc_memory_stats;

/* Fills *out.  LC_ERR_INVALID_ARGUMENT for NULL. */
LC_API lc_status lc_context_get_memory(const lc_context *ctx, lc_memory_stats *out);

/* ======================================================================== *
 *  Backend memory
 * ======================================================================== */

/* Allocates `bytes` (> 0) of backend memory, aligned to 256 bytes.
 * LC_ERR_INVALID_ARGUMENT (NULL), LC_ERR_SHAPE (bytes == 0),
 * LC_ERR_OVERFLOW (bytes >= 2^40), LC_ERR_OUT_OF_MEMORY, LC_ERR_CUDA. */
LC_API lc_status lc_buffer_alloc(lc_context *ctx, size_t bytes, void **out);
/* Frees memory from lc_buffer_alloc(); NULL is accepted. */
LC_API void lc_buffer_free(lc_context *ctx, void *ptr);
/* Copies host -> backend memory (dst backend, src host). */
LC_API lc_status lc_buffer_write(lc_context *ctx, void *dst, const void *src, size_t bytes);
/* Copies backend -> host memory (dst host, src backend); returns once the
 * data is on the host. */
LC_API lc_status lc_buffer_read(lc_context *ctx, void *dst, const void *src, size_t bytes);

/* ======================================================================== *
 *  Weights: a bf16 matrix [rows][cols] resident on the backend
 * ======================================================================== */

typedef struct lc_weights lc_weights;

/* What rounding to bf16 did to the source data. */
typedef struct lc_conversion_stats {
  int64_t n_elements; /* rows * cols */
  int64_t n_inexact;  /* elements whose value changed when rounded to bf16 */
  int64_t n_overflow; /* finite sources that became +-Inf */
  int64_t n_nan;      /* NaN sources (kept as quiet NaN) */
  double max_rel_err; /* max |bf16 - src| / |src| over finite, nonzero src
                         that did not overflow (at most 2^-8, bf16's unit roundoff, for normal
                         values) */
} lc_conversion_stats;

/* Creates a bf16 matrix [rows][cols] from host data `src` of `src_dtype`,
 * rounding to nearest even (NaN stays NaN and becomes quiet; +-Inf stays).
 * A vector (an RMSNorm weight, a bias) is a matrix with rows == 1.
 * Returns LC_OK; LC_ERR_INVALID_ARGUMENT (NULL ctx/src/out, unknown dtype),
 * LC_ERR_SHAPE (rows or cols < 1), LC_ERR_OVERFLOW, LC_ERR_OUT_OF_MEMORY,
 * LC_ERR_CUDA. */
LC_API lc_status lc_weights_create(lc_context *ctx, int64_t rows, int64_t cols, lc_dtype src_dtype,
                                   const void *src, lc_weights **out);
LC_API void lc_weights_free(lc_weights *w);          /* NULL is accepted */
LC_API int64_t lc_weights_rows(const lc_weights *w); /* -1 for NULL */
LC_API int64_t lc_weights_cols(const lc_weights *w); /* -1 for NULL */
/* Bytes the weights occupy on the backend (2 per element). */
LC_API size_t lc_weights_bytes(const lc_weights *w);
/* Copies the stored bf16 bits to host dst[rows][cols]. */
LC_API lc_status lc_weights_read_bf16(const lc_weights *w, uint16_t *dst);
LC_API lc_status lc_weights_get_conversion_stats(const lc_weights *w, lc_conversion_stats *out);

/* ======================================================================== *
 *  Ops
 *
 *  Common statuses, not repeated below: LC_ERR_INVALID_ARGUMENT for a NULL
 *  context or pointer argument that must not be NULL, and for outputs that
 *  overlap inputs other than as allowed; LC_ERR_SHAPE for sizes < 0 (rows)
 *  or < 1 (other dimensions) and for shapes that disagree with a weight;
 *  LC_ERR_OVERFLOW; LC_ERR_MISMATCH for objects of another context;
 *  LC_ERR_UNSUPPORTED when the context's backend/mode does not implement the
 *  op yet; LC_ERR_OUT_OF_MEMORY for scratch space; LC_ERR_CUDA on the GPU.
 * ======================================================================== */

/* y[m][n] = sum_k x[m][k] * W[n][k]  (+ bias[n])
 * x: backend [m][k] fp32, W: [n][k] bf16 with k = lc_weights_cols(w),
 * bias: NULL or weights [1][n], y: backend [m][n] fp32 (must not overlap
 * x).  Strict: K is cut into segments of matmul_seg_len (lc_canon_info); within a
 * segment acc = fma(x, w, acc) for k ascending; segments summed in order;
 * then + bias.  vendor-bf16: x rounded to a bf16 temporary, cuBLASLt bf16
 * GEMM with FP32 accumulation; vendor-fp32: W widened to an FP32 temporary
 * (counted in lc_context_get_memory) and cuBLASLt SGEMM; LC_ERR_CUBLAS if
 * cuBLASLt fails. */
LC_API lc_status lc_matmul(lc_context *ctx, const float *x, int64_t m, const lc_weights *w,
                           const lc_weights *bias, float *y);

/* y[i][j] = x[i][j] / sqrt(mean_j(x[i][j]^2) + eps) * weight[j]
 * x, y: backend [m][n] fp32 with n = lc_weights_cols(weight); weight [1][n];
 * y may equal x (in place).  eps must be finite and >= 0
 * (else LC_ERR_INVALID_ARGUMENT). */
LC_API lc_status lc_rmsnorm(lc_context *ctx, const float *x, int64_t m, const lc_weights *weight,
                            float eps, float *y);

/* ------------------------------------------------------------------------ *
 *  Rotary position embedding
 * ------------------------------------------------------------------------ */

typedef enum lc_rope_style {
  /* rotates pairs (x[2i], x[2i+1]): llama2.c and Meta's Llama code */
  LC_ROPE_INTERLEAVED = 0,
  /* rotates pairs (x[i], x[i + head_dim/2]): Hugging Face, GPT-NeoX */
  LC_ROPE_HALF = 1,
} lc_rope_style;

typedef struct lc_rope lc_rope;

/* Builds the cos/sin table [max_pos][head_dim/2] once on the host in double
 * precision (angle = pos * inv_freq[i], inv_freq[i] = theta^(-2i/head_dim)
 * unless `inv_freq` [head_dim/2] is given, e.g. for scaled RoPE), rounds it
 * to float and keeps it on the backend.
 * head_dim even, 2..LC max_head_dim; max_pos >= 1; theta finite > 0 (when
 * inv_freq is NULL); inv_freq entries finite.  LC_ERR_SHAPE,
 * LC_ERR_INVALID_ARGUMENT, LC_ERR_OVERFLOW, LC_ERR_OUT_OF_MEMORY. */
LC_API lc_status lc_rope_create(lc_context *ctx, int64_t head_dim, int64_t max_pos, double theta,
                                lc_rope_style style, const double *inv_freq, lc_rope **out);
LC_API void lc_rope_free(lc_rope *rope); /* NULL is accepted */

/* Rotates x in place: x backend [m][n_heads][head_dim] fp32, pos host [m]
 * int32 with 0 <= pos[i] < max_pos (else LC_ERR_OUT_OF_RANGE, and x is
 * untouched).  Strict: a' = fma(a, c, -(b*s)), b' = fma(a, s, b*c). */
LC_API lc_status lc_rope_apply(lc_context *ctx, const lc_rope *rope, float *x, int64_t m,
                               int64_t n_heads, const int32_t *pos);

/* ------------------------------------------------------------------------ *
 *  Attention over a KV cache
 * ------------------------------------------------------------------------ */

/* The cache is two backend tensors k_cache and v_cache, each
 * [n_slots][max_len][n_kv_heads][head_dim] of kv_dtype: fp32, or bf16 (2
 * bytes per element: lc_kv_write rounds each fp32 key and value to nearest
 * even, lc_attention widens them exactly, so the results are bitwise those
 * of an fp32 cache holding the rounded values).  A sequence lives in one
 * slot; position p of it is at k_cache[slot][p]. */
typedef struct lc_attn_shape {
  int32_t n_heads;    /* query heads, a multiple of n_kv_heads */
  int32_t n_kv_heads; /* key/value heads (grouped-query attention) */
  int32_t head_dim;   /* 1 .. max_head_dim */
  int32_t max_len;    /* positions per slot */
  int32_t n_slots;    /* slots in the cache */
  float scale;        /* score scale, finite; usually 1/sqrt(head_dim) */
  lc_dtype kv_dtype;  /* LC_DTYPE_F32 (0: a zeroed shape's) or LC_DTYPE_BF16 */
} lc_attn_shape;

/* One sequence of a batch: n_q queries at positions pos .. pos+n_q-1.
 * Query i sees keys 0 .. pos+i of its slot (causal).  n_q == 1 is decode;
 * n_q > 1 is (chunked) prefill; n_q == 0 is skipped. */
typedef struct lc_attn_seq {
  int32_t slot; /* 0 .. n_slots-1 */
  int32_t pos;  /* >= 0, pos + n_q <= max_len */
  int32_t n_q;  /* >= 0 */
} lc_attn_seq;

/* 1/sqrt(head_dim) rounded to the nearest float (the value strict mode expects
 * in lc_attn_shape.scale for standard attention); NaN for head_dim < 1. */
LC_API float lc_attn_default_scale(int32_t head_dim);

/* Writes the keys and values of each sequence's new positions into the
 * cache: k, v backend [total_q][n_kv_heads][head_dim] fp32 (total_q = sum of
 * n_q, sequences in order) go to positions pos .. pos+n_q-1 of their slot,
 * rounded to bf16 when the shape's kv_dtype says so.  LC_ERR_OUT_OF_RANGE
 * for a slot or position outside the cache; LC_ERR_INVALID_ARGUMENT for a
 * kv_dtype other than F32 and BF16. */
LC_API lc_status lc_kv_write(lc_context *ctx, const lc_attn_shape *shape, const lc_attn_seq *seqs,
                             int64_t n_seqs, const float *k, const float *v, void *k_cache,
                             void *v_cache);

/* out = softmax(q . K^T * scale) . V for every query of every sequence.
 * q, out: backend [total_q][n_heads][head_dim] fp32 (sequences' queries
 * packed in order; out must not overlap q or the cache); seqs: host
 * [n_seqs].  Query head h reads key/value head h / (n_heads/n_kv_heads).
 * Strict: keys in partitions of attn_partition positions counted from 0;
 * the result for a query does not depend on the batch, on n_q or on the
 * chunking of a prompt.  LC_ERR_OUT_OF_RANGE for a bad slot or pos.  */
LC_API lc_status lc_attention(lc_context *ctx, const lc_attn_shape *shape, const lc_attn_seq *seqs,
                              int64_t n_seqs, const float *q, const void *k_cache,
                              const void *v_cache, float *out);

/* ------------------------------------------------------------------------ *
 *  Elementwise and row ops
 * ------------------------------------------------------------------------ */

/* out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)) with the
 * canonical exp in strict mode.  Backend [n] fp32 each; out may equal gate
 * or up.  n >= 0. */
LC_API lc_status lc_silu_mul(lc_context *ctx, const float *gate, const float *up, int64_t n,
                             float *out);

/* out[i] = a[i] + b[i].  Backend [n] fp32 each; out may equal a or b. */
LC_API lc_status lc_add(lc_context *ctx, const float *a, const float *b, int64_t n, float *out);

/* x[i] = x[i] rounded to bf16 (nearest even, NaN kept quiet) and widened
 * back, in place: the value a bf16 tensor would hold.  Backend [n] fp32. */
LC_API lc_status lc_round_bf16(lc_context *ctx, float *x, int64_t n);

/* out[i][:] = table[ids[i]][:] widened exactly to fp32.  table [vocab][dim];
 * ids host [m] int32, 0 <= ids[i] < vocab (else LC_ERR_OUT_OF_RANGE and out
 * is untouched); out backend [m][dim]. */
LC_API lc_status lc_embedding(lc_context *ctx, const lc_weights *table, const int32_t *ids,
                              int64_t m, float *out);

/* y[i][:] = softmax(x[i][:]) over rows of n.  Backend [m][n]; y may equal
 * x.  Strict: max (NaN ignored), e = exp(x - max), sum in the canonical
 * 32-lane order, y = e / sum.  A row with a NaN gives all NaN; a row of
 * all -Inf gives all NaN (docs/numerics.md). */
LC_API lc_status lc_softmax(lc_context *ctx, const float *x, int64_t m, int64_t n, float *y);

/* y[i][j] = (x[i][j] - max) - log(sum_j exp(x[i][j] - max)).  As softmax. */
LC_API lc_status lc_log_softmax(lc_context *ctx, const float *x, int64_t m, int64_t n, float *y);

/* idx[i] = the first index of the maximum of row i of x (backend [m][n]).
 * A NaN counts as larger than every number: a row with NaN gives the index
 * of its first NaN.  -0 and +0 are equal.  idx: host [m] int32. */
LC_API lc_status lc_argmax(lc_context *ctx, const float *x, int64_t m, int64_t n, int32_t *idx);

/* ======================================================================== *
 *  Comparison helpers (host memory; pure, thread-safe)
 * ======================================================================== */

/* The hashes the library prints (XXH3-128): 32 lowercase hex digits and a
 * NUL. */
#define LC_HASH_HEX_LEN 33

/* ULP distance histogram buckets: bucket 0 holds distance 0, bucket 1
 * distance 1, bucket b >= 2 distances in (2^(b-2), 2^(b-1)]. */
#define LC_ULP_BUCKETS 34

typedef struct lc_compare_result {
  int64_t n;                        /* elements compared */
  int64_t n_bitwise_equal;          /* identical bit patterns */
  int64_t first_diff;               /* first index whose bits differ, -1 if none */
  int64_t n_nan_mismatch;           /* one side NaN, the other not */
  double max_abs;                   /* max |got - ref| over pairs both not NaN
                                       (Inf against a different value counts Inf) */
  int64_t max_abs_index;            /* -1 if no such pair */
  double max_rel;                   /* max |got - ref| / |ref| over pairs both
                                       finite with ref != 0 */
  int64_t max_rel_index;            /* -1 if no such pair */
  uint64_t max_ulp;                 /* max ULP distance over pairs both not NaN */
  int64_t max_ulp_index;            /* -1 if no such pair */
  int64_t ulp_hist[LC_ULP_BUCKETS]; /* over pairs both not NaN */
} lc_compare_result;

/* Compares got[n] against ref[n].  n >= 0.
 * LC_ERR_INVALID_ARGUMENT for NULL (got/ref may be NULL when n == 0),
 * LC_ERR_SHAPE for n < 0. */
LC_API lc_status lc_compare_f32(const float *got, const float *ref, int64_t n,
                                lc_compare_result *out);

/* The number of representable floats between a and b (0 when a == b,
 * including -0 vs +0; 1 between adjacent floats, across zero too);
 * UINT64_MAX when either is NaN. */
LC_API uint64_t lc_ulp_distance_f32(float a, float b);

/* The histogram bucket of a ULP distance (see LC_ULP_BUCKETS). */
LC_API int lc_ulp_bucket(uint64_t distance);

#ifdef __cplusplus
}
#endif

#endif /* LAYERCAST_H */
