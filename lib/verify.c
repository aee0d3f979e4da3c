/*
 * lib/verify.c — the pieces lc_verify_ops and lc_verify_model share (see
 * lib/verify_internal.h): the three contexts, random inputs, messages.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lc_internal.h"
#include "lib/rng.h"
#include "lib/verify_internal.h"

static const char *const ctx_names[LC_VERIFY_N_CTX] = {"CPU strict", "CPU reference",
                                                       "CUDA strict"};

const char *lc_verify_ctx_name(int i) {
  return i >= 0 && i < LC_VERIFY_N_CTX ? ctx_names[i] : "?";
}

lc_status lc_verify_fail_at(lc_status st, const char *file, int line, const char *fn,
                            const char *what) {
  char cause[LC_ERR_LEN];
  snprintf(cause, sizeof cause, "%s", lc_last_error(NULL)); /* before lc_fail_at rewrites it */
  return lc_fail_at(NULL, st, file, line, "%s: %s: %s", fn, what, cause);
}

lc_status lc_verify_ctx_open(lc_verify_ctx *v, int device, int require_gpu, const char *fn) {
  memset(v, 0, sizeof *v);
  const lc_backend be[LC_VERIFY_N_CTX] = {LC_BACKEND_CPU, LC_BACKEND_CPU, LC_BACKEND_CUDA};
  const lc_mode mo[LC_VERIFY_N_CTX] = {LC_MODE_STRICT, LC_MODE_REFERENCE, LC_MODE_STRICT};
  for (int i = 0; i < LC_VERIFY_N_CTX; i++) {
    lc_context_params p;
    lc_context_params_default(&p);
    p.backend = be[i];
    p.mode = mo[i];
    if (i == LC_VERIFY_GS) p.device = device;
    lc_status st = lc_context_create(&p, &v->c[i]);
    if (st == LC_OK) continue;
    v->c[i] = NULL;
    if (i == LC_VERIFY_GS) {
      /* any failure of the CUDA context (no CUDA build, no driver, no device,
       * a device that does not start) means no usable GPU here */
      snprintf(v->gpu.skip_reason, sizeof v->gpu.skip_reason, "%s", lc_last_error(NULL));
      if (!require_gpu) return LC_OK;
      lc_verify_ctx_close(v);
      return LC_VERIFY_FAIL(LC_ERR_NO_DEVICE, fn,
                            "require_gpu, and no usable CUDA device for the GPU half");
    }
    lc_verify_ctx_close(v);
    return LC_VERIFY_FAIL(st, fn,
                          i == LC_VERIFY_CS ? "creating the CPU strict context"
                                            : "creating the CPU reference context");
  }
  lc_device_info di;
  if (lc_context_get_device_info(v->c[LC_VERIFY_GS], &di) == LC_OK) {
    snprintf(v->gpu.name, sizeof v->gpu.name, "%s", di.name);
    v->gpu.cc_major = di.cc_major;
    v->gpu.cc_minor = di.cc_minor;
  }
  v->gpu.ran = 1;
  return LC_OK;
}

void lc_verify_ctx_close(lc_verify_ctx *v) {
  for (int i = LC_VERIFY_N_CTX - 1; i >= 0; i--) {
    lc_context_free(v->c[i]);
    v->c[i] = NULL;
  }
}

float *lc_verify_fill(uint64_t *s, size_t n, float scale) {
  float *v = malloc((n ? n : 1) * sizeof *v);
  if (v)
    for (size_t i = 0; i < n; i++) v[i] = scale * lc_splitmix_normal(s);
  return v;
}

lc_status lc_verify_oom(const char *fn, const char *what) {
  return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory (%s)", fn, what);
}

lc_status lc_verify_check(const char *fn, int ci, lc_status st, const char *what) {
  if (st == LC_OK) return LC_OK;
  char w[96];
  snprintf(w, sizeof w, "%s (%s)", what, lc_verify_ctx_name(ci));
  return lc_verify_fail_at(st, __FILE__, __LINE__, fn, w);
}
