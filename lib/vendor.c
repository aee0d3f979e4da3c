/*
 * lib/vendor.c — the vendor baselines: matmul through cuBLASLt, the way
 * inference engines call it.  They promise no invariance (cuBLASLt picks its
 * kernel, tiling and split-K by shape); they exist so that benchmarks and
 * experiments can compare strict against what engines do, side by side.
 *
 *   vendor-bf16  x (fp32) rounded to a bf16 temporary, then bf16 x bf16 on
 *                tensor cores with FP32 accumulation (CUBLAS_COMPUTE_32F,
 *                fp32 scale), D written in fp32.
 *   vendor-fp32  LayerCast as published: W widened into an FP32 temporary on
 *                every call, then cuBLASLt SGEMM (CUBLAS_COMPUTE_32F, not the
 *                TF32 fast mode; A, B, C, D fp32).  The temporary (4 bytes per
 *                parameter of the largest weight used) lives in the context's
 *                workspace, so lc_context_get_memory() shows it.
 *
 * Both take cuBLASLt's default heuristic (cublasLtMatmulAlgoGetHeuristic,
 * first result) with a 32 MiB workspace allowance and the real alignment of
 * the pointers, as PyTorch does; the bias is added afterwards by a kernel.
 *
 * Row-major to column-major: y[M][N] = x[M][K] W[N][K]^T is, seen column-major,
 *   Y^T (N x M, ld N) = op(A) B,  A = W as a K x N matrix (ld K), op = T,
 *                                 B = x as a K x M matrix (ld K), op = N.
 *
 * One device scratch (lc_cuda_workspace) is carved into the pieces a call
 * needs at once: [cuBLASLt workspace | temporary], each 256-byte aligned.
 * Descriptors, layouts and the chosen algorithm are cached per
 * (mode, M, N, K, alignments) in a small LRU table on the context.
 *
 * cuBLASLt is not linked: lib/cublaslt_loader.c loads it when a vendor-mode
 * context is created (lc_vendor_context_init, which also creates the
 * context's handle) or lc_vendor_sgemm_prewidened is first called, and every
 * cuBLASLt call below goes through that table (vs->lt->cublasLt...).
 *
 * LC_VENDOR_CLEAR_OUTPUT=1 in the environment (read when a context's vendor
 * state is made; a sanitizer aid, tools/device-sanitize.sh sets it for
 * initcheck): each call clears y with cudaMemsetAsync before cuBLASLt writes
 * it.  compute-sanitizer's initcheck does not see the stores of cuBLASLt's
 * sm_90 kernels (TMA), so without it every read of a vendor matmul's output
 * by a later kernel or copy is reported as uninitialized.  cuBLASLt (beta =
 * 0) overwrites every element, so the bits are the same either way; only
 * one more operation per call is queued.
 *
 * Benchmark: build/bench/bench_matmul (bench/run.sh).
 */
#include "lib/lc_internal.h"

#if defined(LC_HAVE_CUDA)

#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/lc_kernels.h"
#include "lib/cublaslt_loader.h"

/* What engines give cuBLASLt as workspace on Hopper (PyTorch: 32 MiB). */
#define VENDOR_LT_WS_MAX ((size_t)32 << 20)
/* Cached plans per context (distinct shapes in a model: a few dozen). */
#define VENDOR_PLANS 64
#define VENDOR_ALIGN ((size_t)256)

typedef enum vendor_kind {
  VENDOR_KIND_BF16 = 0, /* A, B bf16; C, D fp32 */
  VENDOR_KIND_FP32 = 1, /* A, B, C, D fp32 */
} vendor_kind;

typedef struct vendor_plan {
  int used;         /* slot holds a plan */
  vendor_kind kind; /* operand types */
  int64_t m, n, k;  /* row-major problem y[m][n] = x[m][k] W[n][k]^T */
  uint32_t align_a; /* alignment (bytes) of A (W), B (x) and C = D (y) */
  uint32_t align_b; /*   the heuristic was told about */
  uint32_t align_d;
  uint64_t last_use;         /* LRU clock */
  cublasLtMatmulDesc_t op;   /* compute 32F, scale 32F, transa = T */
  cublasLtMatrixLayout_t a;  /* K x N, ld K */
  cublasLtMatrixLayout_t b;  /* K x M, ld K */
  cublasLtMatrixLayout_t d;  /* N x M, ld N (also C) */
  cublasLtMatmulAlgo_t algo; /* the heuristic's first result */
  size_t ws_bytes;           /* workspace that algorithm needs */
} vendor_plan;

struct lc_vendor_state {
  const lc_cublaslt *lt;   /* the loaded cuBLASLt functions */
  cublasLtHandle_t handle; /* this context's handle, created on its device */
  vendor_plan plans[VENDOR_PLANS];
  uint64_t clock;
  int clear_output; /* LC_VENDOR_CLEAR_OUTPUT=1: y cleared before each call */
};

static const char *kind_name(vendor_kind kind) {
  return kind == VENDOR_KIND_BF16 ? "vendor-bf16" : "vendor-fp32";
}

static size_t align_up(size_t v) {
  return (v + VENDOR_ALIGN - 1) & ~(VENDOR_ALIGN - 1);
}

/* The largest power of two (<= 256) dividing the address, as PyTorch tells
 * cuBLASLt (an algorithm that needs more alignment would read out of bounds
 * or fault). */
static uint32_t ptr_alignment(const void *p) {
  uintptr_t a = (uintptr_t)p;
  uint32_t al = 256;
  while (al > 1 && (a % al) != 0) al /= 2;
  return al;
}

static lc_status lt_fail(lc_context *ctx, vendor_kind kind, const char *what, cublasStatus_t s,
                         int64_t m, int64_t n, int64_t k) {
  return LC_FAIL(ctx, LC_ERR_CUBLAS, "lc_matmul (%s, M=%lld N=%lld K=%lld): %s: %s (%d)",
                 kind_name(kind), (long long)m, (long long)n, (long long)k, what,
                 ctx->vendor->lt->cublasLtGetStatusString(s), (int)s);
}

static void plan_release(const lc_cublaslt *lt, vendor_plan *p) {
  if (!p->used) return;
  if (p->d) lt->cublasLtMatrixLayoutDestroy(p->d);
  if (p->b) lt->cublasLtMatrixLayoutDestroy(p->b);
  if (p->a) lt->cublasLtMatrixLayoutDestroy(p->a);
  if (p->op) lt->cublasLtMatmulDescDestroy(p->op);
  memset(p, 0, sizeof *p);
}

lc_status lc_vendor_context_init(lc_context *ctx, const char *fn) {
  if (ctx->vendor) return LC_OK;
  const lc_cublaslt *lt = NULL;
  LC_TRY(lc_cublaslt_require(ctx, fn, &lt));
  lc_vendor_state *vs = lc_calloc(1, sizeof *vs);
  if (!vs) return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
  cudaError_t e = cudaSetDevice(ctx->device);
  if (e != cudaSuccess) {
    free(vs);
    return LC_FAIL(ctx, LC_ERR_CUDA, "%s: cudaSetDevice(%d): %s", fn, ctx->device,
                   cudaGetErrorString(e));
  }
  cublasStatus_t s = lt->cublasLtCreate(&vs->handle);
  if (s != CUBLAS_STATUS_SUCCESS) {
    free(vs);
    return LC_FAIL(ctx, LC_ERR_CUBLAS, "%s: cublasLtCreate: %s (%d)", fn,
                   lt->cublasLtGetStatusString(s), (int)s);
  }
  vs->lt = lt;
  const char *clear = getenv("LC_VENDOR_CLEAR_OUTPUT");
  vs->clear_output = clear && strcmp(clear, "1") == 0;
  ctx->vendor = vs;
  return LC_OK;
}

/* Fills *p (descriptors and the heuristic's algorithm); on failure releases
 * what it created and leaves *p unused. */
static lc_status plan_build(lc_context *ctx, vendor_plan *p, vendor_kind kind, int64_t m, int64_t n,
                            int64_t k, uint32_t align_a, uint32_t align_b, uint32_t align_d) {
  memset(p, 0, sizeof *p);
  p->used = 1;
  p->kind = kind;
  p->m = m;
  p->n = n;
  p->k = k;
  p->align_a = align_a;
  p->align_b = align_b;
  p->align_d = align_d;
  const lc_vendor_state *vs = ctx->vendor;
  const lc_cublaslt *lt = vs->lt;
  cudaDataType_t ab = kind == VENDOR_KIND_BF16 ? CUDA_R_16BF : CUDA_R_32F;
  cublasLtMatmulPreference_t pref = NULL;
  const char *what = "cublasLtMatmulDescCreate";
  cublasStatus_t s = lt->cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  if (s == CUBLAS_STATUS_SUCCESS) {
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    what = "cublasLtMatmulDescSetAttribute(TRANSA/TRANSB)";
    s = lt->cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
    if (s == CUBLAS_STATUS_SUCCESS)
      s = lt->cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
  }
  if (s == CUBLAS_STATUS_SUCCESS) {
    what = "cublasLtMatrixLayoutCreate";
    s = lt->cublasLtMatrixLayoutCreate(&p->a, ab, (uint64_t)k, (uint64_t)n, k);
    if (s == CUBLAS_STATUS_SUCCESS)
      s = lt->cublasLtMatrixLayoutCreate(&p->b, ab, (uint64_t)k, (uint64_t)m, k);
    if (s == CUBLAS_STATUS_SUCCESS)
      s = lt->cublasLtMatrixLayoutCreate(&p->d, CUDA_R_32F, (uint64_t)n, (uint64_t)m, n);
  }
  if (s == CUBLAS_STATUS_SUCCESS) {
    what = "cublasLtMatmulPreference";
    s = lt->cublasLtMatmulPreferenceCreate(&pref);
    uint64_t ws_max = VENDOR_LT_WS_MAX;
    if (s == CUBLAS_STATUS_SUCCESS)
      s = lt->cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                   &ws_max, sizeof ws_max);
    if (s == CUBLAS_STATUS_SUCCESS)
      s = lt->cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                                   &align_a, sizeof align_a);
    if (s == CUBLAS_STATUS_SUCCESS)
      s = lt->cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                                   &align_b, sizeof align_b);
    if (s == CUBLAS_STATUS_SUCCESS)
      s = lt->cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                                   &align_d, sizeof align_d);
    if (s == CUBLAS_STATUS_SUCCESS)
      s = lt->cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                                                   &align_d, sizeof align_d);
  }
  int found = 0;
  cublasLtMatmulHeuristicResult_t res;
  memset(&res, 0, sizeof res);
  if (s == CUBLAS_STATUS_SUCCESS) {
    what = "cublasLtMatmulAlgoGetHeuristic";
    s = lt->cublasLtMatmulAlgoGetHeuristic(vs->handle, p->op, p->a, p->b, p->d, p->d, pref, 1, &res,
                                           &found);
  }
  if (pref) lt->cublasLtMatmulPreferenceDestroy(pref);
  if (s == CUBLAS_STATUS_SUCCESS && (found < 1 || res.state != CUBLAS_STATUS_SUCCESS)) {
    what = "cublasLtMatmulAlgoGetHeuristic found no algorithm";
    s = found < 1 ? CUBLAS_STATUS_NOT_SUPPORTED : res.state;
  }
  if (s != CUBLAS_STATUS_SUCCESS) {
    plan_release(lt, p);
    return lt_fail(ctx, kind, what, s, m, n, k);
  }
  p->algo = res.algo;
  p->ws_bytes = res.workspaceSize;
  return LC_OK;
}

/* The cached plan for this problem, built (evicting the least recently used
 * one when the table is full) if there is none. */
static lc_status plan_get(lc_context *ctx, vendor_kind kind, int64_t m, int64_t n, int64_t k,
                          const void *a, const void *b, const void *d, vendor_plan **out) {
  *out = NULL;
  LC_TRY(lc_vendor_context_init(ctx, kind_name(kind)));
  lc_vendor_state *vs = ctx->vendor;
  uint32_t al_a = ptr_alignment(a), al_b = ptr_alignment(b), al_d = ptr_alignment(d);
  vendor_plan *victim = &vs->plans[0];
  for (int i = 0; i < VENDOR_PLANS; i++) {
    vendor_plan *p = &vs->plans[i];
    if (p->used && p->kind == kind && p->m == m && p->n == n && p->k == k && p->align_a == al_a &&
        p->align_b == al_b && p->align_d == al_d) {
      p->last_use = ++vs->clock;
      *out = p;
      return LC_OK;
    }
    if (!p->used) {
      if (victim->used) victim = p;
    } else if (victim->used && p->last_use < victim->last_use) {
      victim = p;
    }
  }
  plan_release(vs->lt, victim);
  LC_TRY(plan_build(ctx, victim, kind, m, n, k, al_a, al_b, al_d));
  victim->last_use = ++vs->clock;
  *out = victim;
  return LC_OK;
}

static lc_status run_plan(lc_context *ctx, const vendor_plan *p, const void *a, const void *b,
                          float *y, void *lt_ws) {
  const float one = 1.0f, zero = 0.0f;
  const lc_vendor_state *vs = ctx->vendor;
  if (vs->clear_output) {
    cudaError_t e = cudaMemsetAsync(y, 0, (size_t)p->m * (size_t)p->n * sizeof(float),
                                    (cudaStream_t)lc_cuda_stream(ctx));
    if (e != cudaSuccess)
      return LC_FAIL(ctx, LC_ERR_CUDA, "lc_matmul (%s): cudaMemsetAsync: %s", kind_name(p->kind),
                     cudaGetErrorString(e));
  }
  cublasStatus_t s = vs->lt->cublasLtMatmul(vs->handle, p->op, &one, a, p->a, b, p->b, &zero, y,
                                            p->d, y, p->d, &p->algo, p->ws_bytes ? lt_ws : NULL,
                                            p->ws_bytes, (cudaStream_t)lc_cuda_stream(ctx));
  if (s != CUBLAS_STATUS_SUCCESS)
    return lt_fail(ctx, p->kind, "cublasLtMatmul", s, p->m, p->n, p->k);
  return LC_OK;
}

#define VERR_LEN (LC_ERR_LEN - 128)

static lc_status kernel_fail(lc_context *ctx, lc_status st, vendor_kind kind, const char *msg) {
  return LC_FAIL(ctx, st, "lc_matmul (%s): %s", kind_name(kind), msg);
}

static lc_status set_device(lc_context *ctx, vendor_kind kind) {
  cudaError_t e = cudaSetDevice(ctx->device);
  if (e != cudaSuccess)
    return LC_FAIL(ctx, LC_ERR_CUDA, "lc_matmul (%s): cudaSetDevice(%d): %s", kind_name(kind),
                   ctx->device, cudaGetErrorString(e));
  return LC_OK;
}

lc_status lc_vendor_matmul(lc_context *ctx, const float *x, int64_t m, const lc_weights *w,
                           const lc_weights *bias, float *y) {
  if (ctx->backend != LC_BACKEND_CUDA ||
      (ctx->mode != LC_MODE_VENDOR_BF16 && ctx->mode != LC_MODE_VENDOR_FP32))
    return LC_FAIL(ctx, LC_ERR_INTERNAL, "lc_vendor_matmul: context is %s/%s, not a vendor mode",
                   lc_backend_name(ctx->backend), lc_mode_name(ctx->mode));
  if (m == 0) return LC_OK;
  const vendor_kind kind = ctx->mode == LC_MODE_VENDOR_BF16 ? VENDOR_KIND_BF16 : VENDOR_KIND_FP32;
  const int64_t n = w->rows, k = w->cols;
  void *stream = lc_cuda_stream(ctx);
  char kerr[VERR_LEN];
  kerr[0] = 0;
  LC_TRY(set_device(ctx, kind));

  /* The temporary is 256-byte aligned inside the workspace, so the plan can
   * be looked up before the workspace pointer is known. */
  const void *align_probe = (const void *)(uintptr_t)VENDOR_ALIGN;
  vendor_plan *p = NULL;
  size_t tmp_bytes;
  if (kind == VENDOR_KIND_BF16) {
    tmp_bytes = (size_t)m * (size_t)k * sizeof(uint16_t); /* x as bf16 [m][k] */
    LC_TRY(plan_get(ctx, kind, m, n, k, w->data, align_probe, y, &p));
  } else {
    tmp_bytes = (size_t)n * (size_t)k * sizeof(float); /* W as fp32 [n][k] */
    LC_TRY(plan_get(ctx, kind, m, n, k, align_probe, x, y, &p));
  }
  const size_t lt_bytes = align_up(p->ws_bytes);
  void *ws = NULL;
  LC_TRY(lc_cuda_workspace(ctx, lt_bytes + tmp_bytes, &ws));
  void *tmp = (char *)ws + lt_bytes;

  lc_status st;
  if (kind == VENDOR_KIND_BF16) {
    st = lc_kernels_f32_to_bf16(x, m * k, (uint16_t *)tmp, stream, kerr, sizeof kerr);
    if (st != LC_OK) return kernel_fail(ctx, st, kind, kerr);
    LC_TRY(run_plan(ctx, p, w->data, tmp, y, ws));
  } else {
    st = lc_kernels_bf16_to_f32(w->data, n * k, (float *)tmp, stream, kerr, sizeof kerr);
    if (st != LC_OK) return kernel_fail(ctx, st, kind, kerr);
    LC_TRY(run_plan(ctx, p, tmp, x, y, ws));
  }
  if (bias) {
    st = lc_kernels_add_bias(y, m, n, bias->data, stream, kerr, sizeof kerr);
    if (st != LC_OK) return kernel_fail(ctx, st, kind, kerr);
  }
  return LC_OK;
}

lc_status lc_vendor_sgemm_prewidened(lc_context *ctx, const float *x, int64_t m, const float *w_f32,
                                     int64_t n, int64_t k, float *y) {
  if (!ctx || ctx->backend != LC_BACKEND_CUDA)
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT,
                   "lc_vendor_sgemm_prewidened: needs a CUDA context");
  if (!x || !w_f32 || !y || m < 0 || n < 1 || k < 1 || m > LC_MAX_DIM || n > LC_MAX_DIM ||
      k > LC_MAX_DIM)
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT,
                   "lc_vendor_sgemm_prewidened: bad arguments (m=%lld n=%lld k=%lld)", (long long)m,
                   (long long)n, (long long)k);
  if (m == 0) return LC_OK;
  LC_TRY(set_device(ctx, VENDOR_KIND_FP32));
  LC_TRY(lc_vendor_context_init(ctx, "lc_vendor_sgemm_prewidened")); /* strict contexts too */
  vendor_plan *p = NULL;
  LC_TRY(plan_get(ctx, VENDOR_KIND_FP32, m, n, k, w_f32, x, y, &p));
  void *ws = NULL;
  LC_TRY(lc_cuda_workspace(ctx, p->ws_bytes, &ws));
  return run_plan(ctx, p, w_f32, x, y, ws);
}

void lc_vendor_context_free(lc_context *ctx) {
  if (!ctx || !ctx->vendor) return;
  if (ctx->cuda) {
    /* queued matmuls may still use the descriptors' algorithms */
    cudaSetDevice(ctx->device);
    cudaStreamSynchronize((cudaStream_t)lc_cuda_stream(ctx));
  }
  lc_vendor_state *vs = ctx->vendor;
  for (int i = 0; i < VENDOR_PLANS; i++) plan_release(vs->lt, &vs->plans[i]);
  vs->lt->cublasLtDestroy(vs->handle);
  free(vs);
  ctx->vendor = NULL;
}

#else /* !LC_HAVE_CUDA */

static lc_status no_cuda(lc_context *ctx, const char *fn) {
  return LC_FAIL(ctx, LC_ERR_UNSUPPORTED,
                 "%s: the vendor modes need CUDA; this layercast was built without it "
                 "(configure with -DLC_CUDA=ON)",
                 fn);
}

lc_status lc_vendor_matmul(lc_context *ctx, const float *x, int64_t m, const lc_weights *w,
                           const lc_weights *bias, float *y) {
  (void)x;
  (void)m;
  (void)w;
  (void)bias;
  (void)y;
  return no_cuda(ctx, "lc_matmul");
}

lc_status lc_vendor_sgemm_prewidened(lc_context *ctx, const float *x, int64_t m, const float *w_f32,
                                     int64_t n, int64_t k, float *y) {
  (void)x;
  (void)m;
  (void)w_f32;
  (void)n;
  (void)k;
  (void)y;
  return no_cuda(ctx, "lc_vendor_sgemm_prewidened");
}

lc_status lc_vendor_context_init(lc_context *ctx, const char *fn) {
  return no_cuda(ctx, fn);
}

void lc_vendor_context_free(lc_context *ctx) {
  (void)ctx; /* nothing is ever allocated without CUDA */
}

#endif
