/*
 * lib/ops.c — the op entry points: validate every argument, then dispatch
 * to the backend and numerics mode of the context.
 *
 * Validation happens completely before anything is written, so a failing
 * call leaves its outputs untouched.
 */
#include <math.h>
#include <string.h>

#include "cast/lc_canon.h"
#include "cpu_ref/cpu_ref.h"
#include "kernels/lc_kernels.h"
#include "lib/lc_internal.h"
#include "lib/pool.h"

/* Calls a kernels/ entry (which takes `KERR` as its last two arguments) on the
 * context's device and turns a failure into a context error naming the op.
 * The CUDA branches below compile in every build: without CUDA no context has
 * the CUDA backend, lc_cuda_activate fails (lib/cuda_backend.c) and the kernel
 * entries are stubs (lib/kernels_stub.c). */
#define KERR kerr_, sizeof kerr_
#define KCALL(ctx, fn, call)                                           \
  do {                                                                 \
    char kerr_[LC_ERR_LEN - 96];                                       \
    kerr_[0] = 0;                                                      \
    LC_TRY(lc_cuda_activate(ctx));                                     \
    lc_status kst_ = (call);                                           \
    if (kst_ != LC_OK) return LC_FAIL(ctx, kst_, "%s: %s", fn, kerr_); \
  } while (0)

/* Every mode but reference runs the strict canonical order on the CPU for the
 * ops other than matmul (fast and bf16 change matmul only). */
static int is_strict(const lc_context *ctx) {
  return ctx->mode != LC_MODE_REFERENCE;
}

/* bf16 parts of x the fast order takes: 3 (fast), 1 (bf16), 0 (not a fast mode) */
static int fast_parts(const lc_context *ctx) {
  return ctx->mode == LC_MODE_FAST ? 3 : ctx->mode == LC_MODE_BF16 ? 1 : 0;
}

/* ---- the CPU matmul across the context's threads -------------------------
 * strict, fast and bf16: the columns of y in contiguous runs, one per task,
 * each run a multiple of 16 columns (cpu_ref's column block) but the last;
 * every column's chain is its own (cpu_ref/cpu_ref.h, the _ld forms), so the
 * bits are the single thread's whatever the thread count.  Below
 * MM_PAR_MIN_MACS multiply-adds the call stays on the caller's thread: a
 * task costs a few microseconds to hand out, a stories260K matmul at one row
 * takes about that in all. */
#define MM_PAR_MIN_MACS ((double)(1 << 20))
#define MM_PAR_COLS 16
#define MM_PAR_MAX_TASKS 256

typedef struct mm_job {
  const float *x;
  int64_t m, k, n, cols; /* cols: columns per task */
  const uint16_t *w, *bias;
  float *y;
  int parts; /* 0: strict; 3 or 1: fast or bf16 */
  lc_status st[MM_PAR_MAX_TASKS];
} mm_job;

static void mm_task(void *arg, int t) {
  mm_job *j = arg;
  const int64_t c0 = (int64_t)t * j->cols;
  const int64_t nc = j->n - c0 < j->cols ? j->n - c0 : j->cols;
  const uint16_t *w = j->w + c0 * j->k, *b = j->bias ? j->bias + c0 : NULL;
  j->st[t] = j->parts ? lc_cpu_matmul_fast_ld(j->x, j->m, j->k, w, nc, b, j->y + c0, j->n, j->parts)
                      : lc_cpu_matmul_strict_ld(j->x, j->m, j->k, w, nc, b, j->y + c0, j->n);
}

static lc_status cpu_matmul_split(lc_pool *pool, const float *x, int64_t m, int64_t k,
                                  const uint16_t *w, int64_t n, const uint16_t *bias, float *y,
                                  int parts) {
  const int threads = lc_pool_threads(pool);
  if (threads < 2 || (double)m * (double)n * (double)k < MM_PAR_MIN_MACS || n < 2 * MM_PAR_COLS)
    return parts ? lc_cpu_matmul_fast(x, m, k, w, n, bias, y, parts)
                 : lc_cpu_matmul_strict(x, m, k, w, n, bias, y);
  mm_job *j = lc_malloc(sizeof *j);
  if (!j) return LC_ERR_OUT_OF_MEMORY;
  int tasks = threads < MM_PAR_MAX_TASKS ? threads : MM_PAR_MAX_TASKS;
  int64_t cols = (n + tasks - 1) / tasks;
  cols = (cols + MM_PAR_COLS - 1) / MM_PAR_COLS * MM_PAR_COLS;
  tasks = (int)((n + cols - 1) / cols);
  *j = (mm_job){x, m, k, n, cols, w, bias, y, parts, {LC_OK}};
  lc_pool_run(pool, tasks, mm_task, j);
  lc_status st = LC_OK;
  for (int t = 0; t < tasks; t++)
    if (j->st[t] != LC_OK) st = j->st[t];
  free(j);
  return st;
}

/* ---- CPU strict attention across the context's threads --------------------
 * The (row, head) units in runs, handed out to the pool (more runs than
 * threads: later rows see more keys, so runs differ in cost); each unit's
 * output is its own chain's (lc_cpu_attention_strict_units), so the bits
 * are the single thread's.  Below ATT_PAR_MIN_MACS (the q.k and p.v
 * multiply-adds of the call) it stays on the caller's thread. */
#define ATT_PAR_MIN_MACS ((double)(1 << 18))
#define ATT_PAR_RUNS_PER_THREAD 4

typedef struct att_job {
  const lc_attn_shape *shape;
  const lc_attn_seq *seqs;
  int64_t n_seqs, units, per;
  const float *q;
  const void *kc, *vc;
  float *out;
} att_job;

static void att_task(void *arg, int t) {
  const att_job *j = arg;
  const int64_t u0 = (int64_t)t * j->per;
  const int64_t u1 = u0 + j->per < j->units ? u0 + j->per : j->units;
  lc_cpu_attention_strict_units(j->shape, j->seqs, j->n_seqs, j->q, j->kc, j->vc, j->out, u0, u1);
}

static void cpu_attention_split(lc_pool *pool, const lc_attn_shape *shape, const lc_attn_seq *seqs,
                                int64_t n_seqs, int64_t tq, const float *q, const void *kc,
                                const void *vc, float *out) {
  const int threads = lc_pool_threads(pool);
  double macs = 0.0;
  for (int64_t i = 0; i < n_seqs; i++) /* keys seen by the sequence's rows, summed */
    macs += (double)seqs[i].n_q * ((double)seqs[i].pos + ((double)seqs[i].n_q + 1) / 2);
  macs *= 2.0 * (double)shape->n_heads * (double)shape->head_dim;
  const int64_t units = tq * shape->n_heads;
  if (threads < 2 || macs < ATT_PAR_MIN_MACS || units < 2) {
    lc_cpu_attention_strict(shape, seqs, n_seqs, q, kc, vc, out);
    return;
  }
  int64_t runs = (int64_t)threads * ATT_PAR_RUNS_PER_THREAD;
  if (runs > units) runs = units;
  const int64_t per = (units + runs - 1) / runs;
  att_job j = {shape, seqs, n_seqs, units, per, q, kc, vc, out};
  lc_pool_run(pool, (int)((units + per - 1) / per), att_task, &j);
}

/* ---- matmul ----------------------------------------------------------------*/

lc_status lc_matmul(lc_context *ctx, const float *x, int64_t m, const lc_weights *w,
                    const lc_weights *bias, float *y) {
  return lc_matmul_with_path(ctx, x, m, w, bias, y, 0);
}

lc_status lc_matmul_with_path(lc_context *ctx, const float *x, int64_t m, const lc_weights *w,
                              const lc_weights *bias, float *y, int path) {
  static const char fn[] = "lc_matmul";
  LC_TRY(lc_check_ctx(ctx, fn));
  if (path < 0 || path > 4)
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: unknown kernel path %d", fn, path);
  if (path == LC_KMATMUL_WGMMA && !fast_parts(ctx))
    path = LC_KMATMUL_TILED; /* strict has no wgmma */
  if (path == LC_KMATMUL_WGMMA_DECODE && !fast_parts(ctx))
    path = LC_KMATMUL_DECODE; /* nor a wgmma decode kernel */
  LC_TRY(lc_check_weights(ctx, w, fn, "w"));
  LC_TRY(lc_check_rows(ctx, m, fn, "m"));
  int64_t n = w->rows, k = w->cols;
  if (bias) {
    LC_TRY(lc_check_weights(ctx, bias, fn, "bias"));
    if (bias->rows != 1 || bias->cols != n)
      return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: bias is [%lld][%lld], expected [1][%lld] (N of w)", fn,
                     (long long)bias->rows, (long long)bias->cols, (long long)n);
  }
  if (m == 0) return LC_OK;
  LC_TRY(lc_check_ptr(ctx, x, fn, "x"));
  LC_TRY(lc_check_ptr(ctx, y, fn, "y"));
  size_t xb, yb;
  LC_TRY(lc_check_bytes(ctx, m, k, 4, fn, &xb));
  LC_TRY(lc_check_bytes(ctx, m, n, 4, fn, &yb));
  LC_TRY(lc_check_disjoint(ctx, y, yb, x, xb, fn, "y", "x"));
  const uint16_t *b = bias ? bias->data : NULL;
  const int parts = fast_parts(ctx); /* 0 unless fast or bf16 */
  if (ctx->backend == LC_BACKEND_CUDA) {
    if (ctx->mode == LC_MODE_VENDOR_BF16 || ctx->mode == LC_MODE_VENDOR_FP32)
      return lc_vendor_matmul(ctx, x, m, w, bias, y);
    if (parts) {
      size_t fsb = lc_kernels_matmul_fast_workspace(m, k, n, parts, (lc_kmatmul_path)path);
      void *fws = NULL;
      LC_TRY(lc_cuda_workspace(ctx, fsb, &fws));
      KCALL(ctx, fn,
            lc_kernels_matmul_fast(x, m, k, w->data, n, b, y, parts, (lc_kmatmul_path)path, fws,
                                   fsb, lc_cuda_stream(ctx), KERR));
      return LC_OK;
    }
    size_t wsb = lc_kernels_matmul_workspace(m, k, n, (lc_kmatmul_path)path);
    void *ws = NULL;
    LC_TRY(lc_cuda_workspace(ctx, wsb, &ws));
    KCALL(ctx, fn,
          lc_kernels_matmul(x, m, k, w->data, n, b, y, (lc_kmatmul_path)path, ws, wsb,
                            lc_cuda_stream(ctx), KERR));
    return LC_OK;
  }
  lc_status st = ctx->mode == LC_MODE_REFERENCE
                     ? lc_cpu_matmul_ref(x, m, k, w->data, n, b, y)
                     : cpu_matmul_split(ctx->pool, x, m, k, w->data, n, b, y, parts);
  if (st != LC_OK)
    return LC_FAIL(ctx, st, "%s: scratch allocation for [%lld][%lld] x [%lld][%lld]^T failed", fn,
                   (long long)m, (long long)k, (long long)n, (long long)k);
  return LC_OK;
}

/* ---- rmsnorm ---------------------------------------------------------------*/

/* The context, a [1][n] weight, m >= 0 and a finite eps >= 0. */
static lc_status check_norm(lc_context *ctx, const char *fn, const lc_weights *weight, int64_t m,
                            float eps) {
  LC_TRY(lc_check_ctx(ctx, fn));
  LC_TRY(lc_check_weights(ctx, weight, fn, "weight"));
  LC_TRY(lc_check_rows(ctx, m, fn, "m"));
  if (weight->rows != 1)
    return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: weight is [%lld][%lld], expected a vector [1][n]", fn,
                   (long long)weight->rows, (long long)weight->cols);
  if (!(isfinite(eps) && eps >= 0.0f))
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: eps = %g, expected finite and >= 0", fn,
                   (double)eps);
  return LC_OK;
}

lc_status lc_rmsnorm(lc_context *ctx, const float *x, int64_t m, const lc_weights *weight,
                     float eps, float *y) {
  static const char fn[] = "lc_rmsnorm";
  LC_TRY(check_norm(ctx, fn, weight, m, eps));
  if (m == 0) return LC_OK;
  LC_TRY(lc_check_ptr(ctx, x, fn, "x"));
  LC_TRY(lc_check_ptr(ctx, y, fn, "y"));
  int64_t n = weight->cols;
  size_t xb;
  LC_TRY(lc_check_bytes(ctx, m, n, 4, fn, &xb));
  LC_TRY(lc_check_same_or_disjoint(ctx, y, xb, x, xb, fn, "y", "x"));
  if (ctx->backend == LC_BACKEND_CUDA) {
    KCALL(ctx, fn, lc_kernels_rmsnorm(x, m, n, weight->data, eps, y, lc_cuda_stream(ctx), KERR));
    return LC_OK;
  }
  if (is_strict(ctx)) {
    lc_cpu_rmsnorm_strict(x, m, n, weight->data, eps, y);
  } else {
    lc_cpu_rmsnorm_ref(x, m, n, weight->data, eps, y);
  }
  return LC_OK;
}

/* ---- rope ------------------------------------------------------------------*/

lc_status lc_rope_apply(lc_context *ctx, const lc_rope *rope, float *x, int64_t m, int64_t n_heads,
                        const int32_t *pos) {
  static const char fn[] = "lc_rope_apply";
  LC_TRY(lc_check_ctx(ctx, fn));
  if (!rope) return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: rope is NULL", fn);
  if (rope->ctx != ctx)
    return LC_FAIL(ctx, LC_ERR_MISMATCH, "%s: rope was created with another context", fn);
  LC_TRY(lc_check_rows(ctx, m, fn, "m"));
  LC_TRY(lc_check_dim(ctx, n_heads, fn, "n_heads"));
  if (m == 0) return LC_OK;
  LC_TRY(lc_check_ptr(ctx, x, fn, "x"));
  LC_TRY(lc_check_ptr(ctx, pos, fn, "pos"));
  size_t xb;
  LC_TRY(lc_check_bytes(ctx, m, n_heads * rope->head_dim, 4, fn, &xb));
  for (int64_t i = 0; i < m; i++) {
    if (pos[i] < 0 || pos[i] >= rope->max_pos)
      return LC_FAIL(ctx, LC_ERR_OUT_OF_RANGE, "%s: pos[%lld] = %d, the table covers 0..%lld", fn,
                     (long long)i, (int)pos[i], (long long)rope->max_pos - 1);
  }
  if (ctx->backend == LC_BACKEND_CUDA) {
    int32_t *dpos = NULL;
    LC_TRY(lc_cuda_indices(ctx, pos, m, &dpos));
    KCALL(ctx, fn,
          lc_kernels_rope(x, m, n_heads, rope->head_dim, dpos, rope->cos_tab, rope->sin_tab,
                          rope->style, lc_cuda_stream(ctx), KERR));
    return LC_OK;
  }
  if (is_strict(ctx)) {
    lc_cpu_rope_strict(x, m, n_heads, rope->head_dim, pos, rope->cos_tab, rope->sin_tab,
                       rope->style);
  } else {
    lc_cpu_rope_ref(x, m, n_heads, rope->head_dim, pos, rope->cos_tab, rope->sin_tab, rope->style);
  }
  return LC_OK;
}

/* ---- attention -------------------------------------------------------------*/

float lc_attn_default_scale(int32_t head_dim) {
  if (head_dim < 1) return lc_f32_from_bits(LC_F32_CANONICAL_NAN_BITS);
  /* In single precision, 1.0f / sqrtf(d) is off by one ulp for 54 of the
   * head dims 1..256 (two roundings); through double it is the nearest float
   * for all of them (tests/test_api.c checks 1..256 against long double). */
  return (float)(1.0 / sqrt((double)head_dim));
}

/* Checks the shape and every sequence; on success *total_q is the number of
 * query rows and *cache_bytes the size of one cache tensor. */
static lc_status check_attn(lc_context *ctx, const char *fn, const lc_attn_shape *sh,
                            const lc_attn_seq *seqs, int64_t n_seqs, int64_t *total_q,
                            size_t *cache_bytes) {
  LC_TRY(lc_check_ptr(ctx, sh, fn, "shape"));
  LC_TRY(lc_check_rows(ctx, n_seqs, fn, "n_seqs"));
  if (sh->n_heads < 1 || sh->n_kv_heads < 1 || sh->n_heads % sh->n_kv_heads != 0)
    return LC_FAIL(ctx, LC_ERR_SHAPE,
                   "%s: n_heads = %d, n_kv_heads = %d: both must be >= 1 and n_heads a multiple "
                   "of n_kv_heads",
                   fn, (int)sh->n_heads, (int)sh->n_kv_heads);
  if (sh->head_dim < 1 || sh->head_dim > LC_MAX_HEAD_DIM)
    return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: head_dim = %d, expected 1..%d", fn, (int)sh->head_dim,
                   LC_MAX_HEAD_DIM);
  if (sh->max_len < 1 || sh->n_slots < 1)
    return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: max_len = %d, n_slots = %d, expected >= 1", fn,
                   (int)sh->max_len, (int)sh->n_slots);
  if (!isfinite(sh->scale))
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: scale is not finite", fn);
  if (sh->kv_dtype != LC_DTYPE_F32 && sh->kv_dtype != LC_DTYPE_BF16)
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT,
                   "%s: kv_dtype = %d, expected LC_DTYPE_F32 or LC_DTYPE_BF16", fn,
                   (int)sh->kv_dtype);
  LC_TRY(lc_check_bytes(ctx, (int64_t)sh->n_slots * sh->max_len,
                        (int64_t)sh->n_kv_heads * sh->head_dim, (int64_t)lc_attn_kv_elem_size(sh),
                        fn, cache_bytes));
  if (n_seqs > 0) LC_TRY(lc_check_ptr(ctx, seqs, fn, "seqs"));
  int64_t tq = 0;
  for (int64_t i = 0; i < n_seqs; i++) {
    const lc_attn_seq *s = &seqs[i];
    if (s->slot < 0 || s->slot >= sh->n_slots)
      return LC_FAIL(ctx, LC_ERR_OUT_OF_RANGE,
                     "%s: seqs[%lld].slot = %d, the cache has slots 0..%d", fn, (long long)i,
                     (int)s->slot, (int)sh->n_slots - 1);
    if (s->n_q < 0)
      return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: seqs[%lld].n_q = %d is negative", fn, (long long)i,
                     (int)s->n_q);
    if (s->pos < 0 || (int64_t)s->pos + s->n_q > sh->max_len)
      return LC_FAIL(ctx, LC_ERR_OUT_OF_RANGE,
                     "%s: seqs[%lld] covers positions %d..%lld, the cache holds 0..%d", fn,
                     (long long)i, (int)s->pos, (long long)s->pos + s->n_q - 1,
                     (int)sh->max_len - 1);
    tq += s->n_q;
  }
  *total_q = tq;
  return LC_OK;
}

/* n fp32 at src into the cache at dst: copied, or rounded to bf16. */
static lc_status kv_store(lc_context *ctx, const char *fn, void *dst, const float *src, size_t n,
                          int bf16) {
  if (!bf16) {
    if (ctx->backend == LC_BACKEND_CUDA) return lc_cuda_copy(ctx, dst, src, n * sizeof(float));
    memcpy(dst, src, n * sizeof(float));
    return LC_OK;
  }
  if (ctx->backend == LC_BACKEND_CUDA) {
    KCALL(ctx, fn, lc_kernels_f32_to_bf16(src, (int64_t)n, dst, lc_cuda_stream(ctx), KERR));
    return LC_OK;
  }
  uint16_t *d = dst;
  for (size_t i = 0; i < n; i++) d[i] = lc_f32_to_bf16(src[i]);
  return LC_OK;
}

lc_status lc_kv_write(lc_context *ctx, const lc_attn_shape *shape, const lc_attn_seq *seqs,
                      int64_t n_seqs, const float *k, const float *v, void *k_cache,
                      void *v_cache) {
  static const char fn[] = "lc_kv_write";
  LC_TRY(lc_check_ctx(ctx, fn));
  int64_t tq;
  size_t cb, rowb;
  LC_TRY(check_attn(ctx, fn, shape, seqs, n_seqs, &tq, &cb));
  if (tq == 0) return LC_OK;
  LC_TRY(lc_check_ptr(ctx, k, fn, "k"));
  LC_TRY(lc_check_ptr(ctx, v, fn, "v"));
  LC_TRY(lc_check_ptr(ctx, k_cache, fn, "k_cache"));
  LC_TRY(lc_check_ptr(ctx, v_cache, fn, "v_cache"));
  size_t kb;
  LC_TRY(lc_check_bytes(ctx, tq, (int64_t)shape->n_kv_heads * shape->head_dim, 4, fn, &kb));
  LC_TRY(lc_check_disjoint(ctx, k_cache, cb, v_cache, cb, fn, "k_cache", "v_cache"));
  LC_TRY(lc_check_disjoint(ctx, k_cache, cb, k, kb, fn, "k_cache", "k"));
  LC_TRY(lc_check_disjoint(ctx, k_cache, cb, v, kb, fn, "k_cache", "v"));
  LC_TRY(lc_check_disjoint(ctx, v_cache, cb, k, kb, fn, "v_cache", "k"));
  LC_TRY(lc_check_disjoint(ctx, v_cache, cb, v, kb, fn, "v_cache", "v"));
  const int bf16 = shape->kv_dtype == LC_DTYPE_BF16;
  const size_t rowe = (size_t)shape->n_kv_heads * (size_t)shape->head_dim; /* elements */
  rowb = rowe * lc_attn_kv_elem_size(shape);
  int64_t row = 0;
  for (int64_t i = 0; i < n_seqs; i++) {
    size_t at = ((size_t)seqs[i].slot * (size_t)shape->max_len + (size_t)seqs[i].pos) * rowb;
    size_t n = (size_t)seqs[i].n_q * rowe;
    if (n == 0) continue;
    char *kd = (char *)k_cache + at, *vd = (char *)v_cache + at;
    const float *ks = k + (size_t)row * rowe, *vs = v + (size_t)row * rowe;
    LC_TRY(kv_store(ctx, fn, kd, ks, n, bf16));
    LC_TRY(kv_store(ctx, fn, vd, vs, n, bf16));
    row += seqs[i].n_q;
  }
  return LC_OK;
}

lc_status lc_attention(lc_context *ctx, const lc_attn_shape *shape, const lc_attn_seq *seqs,
                       int64_t n_seqs, const float *q, const void *k_cache, const void *v_cache,
                       float *out) {
  static const char fn[] = "lc_attention";
  LC_TRY(lc_check_ctx(ctx, fn));
  int64_t tq;
  size_t cb;
  LC_TRY(check_attn(ctx, fn, shape, seqs, n_seqs, &tq, &cb));
  if (tq == 0) return LC_OK;
  LC_TRY(lc_check_ptr(ctx, q, fn, "q"));
  LC_TRY(lc_check_ptr(ctx, k_cache, fn, "k_cache"));
  LC_TRY(lc_check_ptr(ctx, v_cache, fn, "v_cache"));
  LC_TRY(lc_check_ptr(ctx, out, fn, "out"));
  size_t qb;
  LC_TRY(lc_check_bytes(ctx, tq, (int64_t)shape->n_heads * shape->head_dim, 4, fn, &qb));
  LC_TRY(lc_check_disjoint(ctx, out, qb, q, qb, fn, "out", "q"));
  LC_TRY(lc_check_disjoint(ctx, out, qb, k_cache, cb, fn, "out", "k_cache"));
  LC_TRY(lc_check_disjoint(ctx, out, qb, v_cache, cb, fn, "out", "v_cache"));
  if (ctx->backend == LC_BACKEND_CUDA) {
    /* per query row: its slot and its position, in one upload */
    int32_t *host = lc_malloc((size_t)tq * 2 * sizeof *host);
    if (!host) return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    int64_t r = 0;
    for (int64_t i = 0; i < n_seqs; i++)
      for (int32_t j = 0; j < seqs[i].n_q; j++, r++) {
        host[r] = seqs[i].slot;
        host[tq + r] = seqs[i].pos + j;
      }
    int32_t *dev = NULL;
    lc_status st = lc_cuda_indices(ctx, host, 2 * tq, &dev);
    free(host);
    LC_TRY(st);
    size_t wsb = lc_kernels_attention_workspace(shape, tq);
    void *ws = NULL;
    LC_TRY(lc_cuda_workspace(ctx, wsb, &ws));
    KCALL(ctx, fn,
          lc_kernels_attention(shape, tq, dev, dev + tq, q, k_cache, v_cache, out, ws, wsb,
                               lc_cuda_stream(ctx), KERR));
    return LC_OK;
  }
  if (is_strict(ctx)) {
    cpu_attention_split(ctx->pool, shape, seqs, n_seqs, tq, q, k_cache, v_cache, out);
    return LC_OK;
  }
  lc_status st = lc_cpu_attention_ref(shape, seqs, n_seqs, q, k_cache, v_cache, out);
  if (st != LC_OK) return LC_FAIL(ctx, st, "%s: scratch allocation failed", fn);
  return LC_OK;
}

/* ---- ops on device row indices (lib/session.c's CUDA passes) -------------
 * The kernels of lc_embedding, lc_rope_apply, lc_kv_write and lc_attention
 * with the per-row token ids, positions and slots already on the device:
 * the session validated them on the host and uploads them once per pass, so
 * these queue kernels only (no upload, no synchronisation) and can be
 * captured into a CUDA graph.  Shapes are the session's own: not rechecked. */

lc_status lc_embedding_dev(lc_context *ctx, const lc_weights *table, const int32_t *d_ids,
                           int64_t m, float *out) {
  static const char fn[] = "lc_embedding";
  KCALL(ctx, fn,
        lc_kernels_embedding(table->data, table->cols, d_ids, m, out, lc_cuda_stream(ctx), KERR));
  return LC_OK;
}

lc_status lc_rope_kv_write_dev(lc_context *ctx, const lc_rope *rope, const lc_attn_shape *shape,
                               int64_t rows, const int32_t *d_slot, const int32_t *d_pos, float *q,
                               const float *k, const float *v, int round_bf16, void *k_cache,
                               void *v_cache) {
  static const char fn[] = "lc_rope_kv_write";
  KCALL(ctx, fn,
        lc_kernels_rope_kv_write(shape, rows, d_slot, d_pos, q, k, v, rope->cos_tab, rope->sin_tab,
                                 rope->style, round_bf16, k_cache, v_cache, lc_cuda_stream(ctx),
                                 KERR));
  return LC_OK;
}

lc_status lc_attention_dev(lc_context *ctx, const lc_attn_shape *shape, int64_t rows,
                           const int32_t *d_slot, const int32_t *d_pos, const float *q,
                           const void *k_cache, const void *v_cache, float *out) {
  static const char fn[] = "lc_attention";
  const size_t wsb = lc_kernels_attention_workspace(shape, rows);
  void *ws = NULL;
  LC_TRY(lc_cuda_workspace(ctx, wsb, &ws));
  KCALL(ctx, fn,
        lc_kernels_attention(shape, rows, d_slot, d_pos, q, k_cache, v_cache, out, ws, wsb,
                             lc_cuda_stream(ctx), KERR));
  return LC_OK;
}

/* ---- elementwise -----------------------------------------------------------*/

/* n elements of a, b and out; out may equal a or b exactly. */
static lc_status check_elementwise(lc_context *ctx, const char *fn, const float *a, const char *an,
                                   const float *b, const char *bn, int64_t n, const float *out) {
  LC_TRY(lc_check_rows(ctx, n, fn, "n"));
  if (n == 0) return LC_OK;
  LC_TRY(lc_check_ptr(ctx, a, fn, an));
  LC_TRY(lc_check_ptr(ctx, b, fn, bn));
  LC_TRY(lc_check_ptr(ctx, out, fn, "out"));
  size_t bytes;
  LC_TRY(lc_check_bytes(ctx, n, 1, 4, fn, &bytes));
  LC_TRY(lc_check_same_or_disjoint(ctx, out, bytes, a, bytes, fn, "out", an));
  LC_TRY(lc_check_same_or_disjoint(ctx, out, bytes, b, bytes, fn, "out", bn));
  return LC_OK;
}

lc_status lc_silu_mul(lc_context *ctx, const float *gate, const float *up, int64_t n, float *out) {
  static const char fn[] = "lc_silu_mul";
  LC_TRY(lc_check_ctx(ctx, fn));
  LC_TRY(check_elementwise(ctx, fn, gate, "gate", up, "up", n, out));
  if (n == 0) return LC_OK;
  if (ctx->backend == LC_BACKEND_CUDA) {
    KCALL(ctx, fn, lc_kernels_silu_mul(gate, up, n, out, lc_cuda_stream(ctx), KERR));
    return LC_OK;
  }
  if (is_strict(ctx)) {
    lc_cpu_silu_mul_strict(gate, up, n, out);
  } else {
    lc_cpu_silu_mul_ref(gate, up, n, out);
  }
  return LC_OK;
}

lc_status lc_add(lc_context *ctx, const float *a, const float *b, int64_t n, float *out) {
  static const char fn[] = "lc_add";
  LC_TRY(lc_check_ctx(ctx, fn));
  LC_TRY(check_elementwise(ctx, fn, a, "a", b, "b", n, out));
  if (n == 0) return LC_OK;
  if (ctx->backend == LC_BACKEND_CUDA) {
    KCALL(ctx, fn, lc_kernels_add(a, b, n, out, lc_cuda_stream(ctx), KERR));
    return LC_OK;
  }
  lc_cpu_add(a, b, n, out);
  return LC_OK;
}

lc_status lc_add_rmsnorm(lc_context *ctx, float *x, const float *d, int64_t m,
                         const lc_weights *weight, float eps, int round_bf16, float *y) {
  static const char fn[] = "lc_add_rmsnorm";
  LC_TRY(check_norm(ctx, fn, weight, m, eps));
  if (m == 0) return LC_OK;
  LC_TRY(lc_check_ptr(ctx, x, fn, "x"));
  LC_TRY(lc_check_ptr(ctx, d, fn, "d"));
  LC_TRY(lc_check_ptr(ctx, y, fn, "y"));
  const int64_t n = weight->cols;
  size_t xb;
  LC_TRY(lc_check_bytes(ctx, m, n, 4, fn, &xb));
  LC_TRY(lc_check_same_or_disjoint(ctx, y, xb, d, xb, fn, "y", "d"));
  LC_TRY(lc_check_disjoint(ctx, x, xb, y, xb, fn, "x", "y"));
  LC_TRY(lc_check_disjoint(ctx, x, xb, d, xb, fn, "x", "d"));
  if (ctx->backend == LC_BACKEND_CUDA) {
    KCALL(ctx, fn,
          lc_kernels_add_rmsnorm(x, d, m, n, weight->data, eps, round_bf16, y, lc_cuda_stream(ctx),
                                 KERR));
    return LC_OK;
  }
  lc_cpu_add(x, d, m * n, x);
  if (round_bf16) lc_cpu_round_bf16(x, m * n);
  if (is_strict(ctx))
    lc_cpu_rmsnorm_strict(x, m, n, weight->data, eps, y);
  else
    lc_cpu_rmsnorm_ref(x, m, n, weight->data, eps, y);
  if (round_bf16) lc_cpu_round_bf16(y, m * n);
  return LC_OK;
}

lc_status lc_round_bf16(lc_context *ctx, float *x, int64_t n) {
  static const char fn[] = "lc_round_bf16";
  LC_TRY(lc_check_ctx(ctx, fn));
  LC_TRY(lc_check_rows(ctx, n, fn, "n"));
  if (n == 0) return LC_OK;
  LC_TRY(lc_check_ptr(ctx, x, fn, "x"));
  size_t bytes;
  LC_TRY(lc_check_bytes(ctx, n, 1, 4, fn, &bytes));
  if (ctx->backend == LC_BACKEND_CUDA) {
    KCALL(ctx, fn, lc_kernels_round_bf16(x, n, lc_cuda_stream(ctx), KERR));
    return LC_OK;
  }
  lc_cpu_round_bf16(x, n);
  return LC_OK;
}

lc_status lc_embedding(lc_context *ctx, const lc_weights *table, const int32_t *ids, int64_t m,
                       float *out) {
  static const char fn[] = "lc_embedding";
  LC_TRY(lc_check_ctx(ctx, fn));
  LC_TRY(lc_check_weights(ctx, table, fn, "table"));
  LC_TRY(lc_check_rows(ctx, m, fn, "m"));
  if (m == 0) return LC_OK;
  LC_TRY(lc_check_ptr(ctx, ids, fn, "ids"));
  LC_TRY(lc_check_ptr(ctx, out, fn, "out"));
  size_t ob;
  LC_TRY(lc_check_bytes(ctx, m, table->cols, 4, fn, &ob));
  for (int64_t i = 0; i < m; i++) {
    if (ids[i] < 0 || ids[i] >= table->rows)
      return LC_FAIL(ctx, LC_ERR_OUT_OF_RANGE, "%s: ids[%lld] = %d, the table has rows 0..%lld", fn,
                     (long long)i, (int)ids[i], (long long)table->rows - 1);
  }
  if (ctx->backend == LC_BACKEND_CUDA) {
    int32_t *dids = NULL;
    LC_TRY(lc_cuda_indices(ctx, ids, m, &dids));
    KCALL(ctx, fn,
          lc_kernels_embedding(table->data, table->cols, dids, m, out, lc_cuda_stream(ctx), KERR));
    return LC_OK;
  }
  lc_cpu_embedding(table->data, table->cols, ids, m, out);
  return LC_OK;
}

/* ---- row ops ---------------------------------------------------------------*/

static lc_status check_rows_op(lc_context *ctx, const char *fn, const float *x, int64_t m,
                               int64_t n, const void *y, size_t y_elem, int y_may_alias) {
  LC_TRY(lc_check_rows(ctx, m, fn, "m"));
  LC_TRY(lc_check_dim(ctx, n, fn, "n"));
  if (m == 0) return LC_OK;
  LC_TRY(lc_check_ptr(ctx, x, fn, "x"));
  LC_TRY(lc_check_ptr(ctx, y, fn, y_elem == 4 && y_may_alias ? "y" : "idx"));
  size_t xb;
  LC_TRY(lc_check_bytes(ctx, m, n, 4, fn, &xb));
  if (y_may_alias) return lc_check_same_or_disjoint(ctx, y, xb, x, xb, fn, "y", "x");
  return lc_check_disjoint(ctx, y, (size_t)m * y_elem, x, xb, fn, "idx", "x");
}

/* softmax (log == 0) or log_softmax over the rows of x. */
static lc_status softmax_op(lc_context *ctx, const char *fn, const float *x, int64_t m, int64_t n,
                            float *y, int log) {
  LC_TRY(lc_check_ctx(ctx, fn));
  LC_TRY(check_rows_op(ctx, fn, x, m, n, y, 4, 1));
  if (m == 0) return LC_OK;
  if (ctx->backend == LC_BACKEND_CUDA) {
    KCALL(ctx, fn, lc_kernels_softmax(x, m, n, log, y, lc_cuda_stream(ctx), KERR));
    return LC_OK;
  }
  if (is_strict(ctx)) {
    (log ? lc_cpu_log_softmax_strict : lc_cpu_softmax_strict)(x, m, n, y);
  } else {
    (log ? lc_cpu_log_softmax_ref : lc_cpu_softmax_ref)(x, m, n, y);
  }
  return LC_OK;
}

lc_status lc_softmax(lc_context *ctx, const float *x, int64_t m, int64_t n, float *y) {
  return softmax_op(ctx, "lc_softmax", x, m, n, y, 0);
}

lc_status lc_log_softmax(lc_context *ctx, const float *x, int64_t m, int64_t n, float *y) {
  return softmax_op(ctx, "lc_log_softmax", x, m, n, y, 1);
}

lc_status lc_argmax(lc_context *ctx, const float *x, int64_t m, int64_t n, int32_t *idx) {
  static const char fn[] = "lc_argmax";
  LC_TRY(lc_check_ctx(ctx, fn));
  LC_TRY(check_rows_op(ctx, fn, x, m, n, idx, sizeof(int32_t), 0));
  if (m == 0) return LC_OK;
  if (ctx->backend == LC_BACKEND_CUDA) {
    void *dev = NULL;
    LC_TRY(lc_cuda_workspace(ctx, (size_t)m * sizeof(int32_t), &dev));
    KCALL(ctx, fn, lc_kernels_argmax(x, m, n, (int32_t *)dev, lc_cuda_stream(ctx), KERR));
    return lc_cuda_read(ctx, idx, dev, (size_t)m * sizeof(int32_t));
  }
  lc_cpu_argmax(x, m, n, idx);
  return LC_OK;
}
