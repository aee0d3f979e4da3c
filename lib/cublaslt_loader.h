/*
 * lib/cublaslt_loader.h — cuBLASLt, loaded at run time (lib/cublaslt_loader.c).
 *
 * layercast compiles against <cublasLt.h> but does not link libcublasLt:
 * the library (541 MB in CUDA 13) costs every process that maps it about
 * 0.3 s and 200 MB at start, and only the vendor modes use it.  The few
 * functions layercast calls are reached through the table below, filled by
 * dlopen + dlsym on first use.  Include this header only where CUDA is in
 * the build (LC_HAVE_CUDA).
 */
#ifndef LC_CUBLASLT_LOADER_H
#define LC_CUBLASLT_LOADER_H

#include <cublasLt.h>

#include "lib/lc_internal.h"

/* X(return type, name, parameter list): every cuBLASLt function layercast
 * calls.  lib/cublaslt_loader.c checks each entry's type against the
 * prototype in <cublasLt.h> at compile time. */
#define LC_CUBLASLT_FUNCTIONS(X)                                                                  \
  X(size_t, cublasLtGetVersion, (void))                                                           \
  X(const char *, cublasLtGetStatusString, (cublasStatus_t status))                               \
  X(cublasStatus_t, cublasLtCreate, (cublasLtHandle_t * handle))                                  \
  X(cublasStatus_t, cublasLtDestroy, (cublasLtHandle_t handle))                                   \
  X(cublasStatus_t, cublasLtMatmulDescCreate,                                                     \
    (cublasLtMatmulDesc_t * desc, cublasComputeType_t compute, cudaDataType_t scale))             \
  X(cublasStatus_t, cublasLtMatmulDescDestroy, (cublasLtMatmulDesc_t desc))                       \
  X(cublasStatus_t, cublasLtMatmulDescSetAttribute,                                               \
    (cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, const void *buf,             \
     size_t bytes))                                                                               \
  X(cublasStatus_t, cublasLtMatrixLayoutCreate,                                                   \
    (cublasLtMatrixLayout_t * layout, cudaDataType type, uint64_t rows, uint64_t cols,            \
     int64_t ld))                                                                                 \
  X(cublasStatus_t, cublasLtMatrixLayoutDestroy, (cublasLtMatrixLayout_t layout))                 \
  X(cublasStatus_t, cublasLtMatmulPreferenceCreate, (cublasLtMatmulPreference_t * pref))          \
  X(cublasStatus_t, cublasLtMatmulPreferenceDestroy, (cublasLtMatmulPreference_t pref))           \
  X(cublasStatus_t, cublasLtMatmulPreferenceSetAttribute,                                         \
    (cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr, const void *buf, \
     size_t bytes))                                                                               \
  X(cublasStatus_t, cublasLtMatmulAlgoGetHeuristic,                                               \
    (cublasLtHandle_t handle, cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t a,                  \
     cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,                \
     cublasLtMatmulPreference_t pref, int requested, cublasLtMatmulHeuristicResult_t results[],   \
     int *returned))                                                                              \
  X(cublasStatus_t, cublasLtMatmul,                                                               \
    (cublasLtHandle_t handle, cublasLtMatmulDesc_t op, const void *alpha, const void *a,          \
     cublasLtMatrixLayout_t a_desc, const void *b, cublasLtMatrixLayout_t b_desc,                 \
     const void *beta, const void *c, cublasLtMatrixLayout_t c_desc, void *d,                     \
     cublasLtMatrixLayout_t d_desc, const cublasLtMatmulAlgo_t *algo, void *workspace,            \
     size_t workspace_bytes, cudaStream_t stream))

/* The loaded functions, one field per entry above, named as in <cublasLt.h>
 * (lt->cublasLtMatmul(...)).  Valid for the rest of the process. */
typedef struct lc_cublaslt {
#define LC_CUBLASLT_FIELD_(ret, name, params) ret(*name) params;
  LC_CUBLASLT_FUNCTIONS(LC_CUBLASLT_FIELD_)
#undef LC_CUBLASLT_FIELD_
} lc_cublaslt;

/* The table, loading libcublasLt on the first call in the process (any
 * thread; concurrent first calls load it once).  NULL if it cannot be
 * loaded; lc_cublaslt_load_error() says why.  A failed load is not retried. */
const lc_cublaslt *lc_cublaslt_api(void);

/* Why lc_cublaslt_api() returned NULL: the library names tried with
 * dlerror()'s answers, or the missing symbol.  "" after a successful load. */
const char *lc_cublaslt_load_error(void);

/* lc_cublaslt_api() for a caller that needs cuBLASLt: LC_OK and *out set,
 * or LC_ERR_CUBLAS recorded on ctx (may be NULL) as "<fn>: <why>" and *out
 * NULL. */
lc_status lc_cublaslt_require(lc_context *ctx, const char *fn, const lc_cublaslt **out);

#endif /* LC_CUBLASLT_LOADER_H */
