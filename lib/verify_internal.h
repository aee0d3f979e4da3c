/*
 * lib/verify_internal.h — what lib/verify_ops.c and lib/verify_model.c
 * share (lib/verify.c): the three computations every check compares, the
 * random inputs, and the error messages.
 */
#ifndef LC_VERIFY_INTERNAL_H
#define LC_VERIFY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "layercast.h"
#include "layercast_experiment.h"

/* The computations, in the order they are created and run: CPU <mode>, CPU
 * reference, CUDA <mode> (the names keep strict's letters: S is the mode
 * under test, strict, fast or bf16). */
enum { LC_VERIFY_CS = 0, LC_VERIFY_CR = 1, LC_VERIFY_GS = 2, LC_VERIFY_N_CTX = 3 };

typedef struct lc_verify_ctx {
  lc_mode mode;                   /* the mode under test: strict, fast or bf16 */
  lc_context *c[LC_VERIFY_N_CTX]; /* CPU <mode>, CPU reference, CUDA <mode>
                                     (c[LC_VERIFY_GS] NULL: the GPU half is skipped) */
  lc_verify_gpu gpu;              /* what the reports say about the GPU half */
} lc_verify_ctx;

/* Creates the three contexts (the CUDA one on `device`) in `mode`: strict,
 * fast or bf16, else LC_ERR_INVALID_ARGUMENT with a message naming fn and the
 * modes accepted (checked before anything is created).  When the CUDA context cannot be created
 * the GPU half is skipped with its reason in v->gpu, or, with require_gpu,
 * the call fails with LC_ERR_NO_DEVICE.  A CPU context that fails is an
 * error (its status).  On failure nothing is left open.  fn names the caller
 * in messages. */
lc_status lc_verify_ctx_open(lc_verify_ctx *v, lc_mode mode, int device, int require_gpu,
                             const char *fn);
void lc_verify_ctx_close(lc_verify_ctx *v);

/* Records "fn: what: <the callee's message>" as the failure of status st and
 * returns st.  The callee's message is the calling thread's last error
 * (every LC_FAIL writes it, with or without a context), copied before it is
 * overwritten. */
lc_status lc_verify_fail_at(lc_status st, const char *file, int line, const char *fn,
                            const char *what);
#define LC_VERIFY_FAIL(st, fn, what) lc_verify_fail_at((st), __FILE__, __LINE__, (fn), (what))

/* "fn: out of host memory (what)", LC_ERR_OUT_OF_MEMORY. */
lc_status lc_verify_oom(const char *fn, const char *what);
/* LC_OK for LC_OK; else records "fn: what (<c's backend and mode>, e.g. CPU
 * fast): <the callee's message>" and returns st. */
lc_status lc_verify_check(const char *fn, const lc_context *c, lc_status st, const char *what);

/* n values scale * N(0, 1) (lc_splitmix_normal), malloc'ed (at least one element); NULL when out
 * of memory. */
float *lc_verify_fill(uint64_t *s, size_t n, float scale);

#endif /* LC_VERIFY_INTERNAL_H */
