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

/* "CPU strict", "CUDA fast", "CPU reference": what a message calls c */
static void ctx_label(const lc_context *c, char *buf, size_t len) {
  snprintf(buf, len, "%s %s", lc_context_backend(c) == LC_BACKEND_CUDA ? "CUDA" : "CPU",
           lc_mode_name(lc_context_mode(c)));
}

static lc_status mode_check(lc_mode mode, const char *fn) {
  if (mode == LC_MODE_STRICT || mode == LC_MODE_FAST || mode == LC_MODE_BF16) return LC_OK;
  return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                 "%s: mode %d (%s) cannot be verified: expected strict, fast or bf16 (the modes "
                 "that promise CUDA == CPU bit for bit; reference is the CPU half's baseline, the "
                 "vendor modes promise no bits)",
                 fn, (int)mode, lc_mode_name(mode));
}

lc_status lc_verify_fail_at(lc_status st, const char *file, int line, const char *fn,
                            const char *what) {
  char cause[LC_ERR_LEN];
  snprintf(cause, sizeof cause, "%s", lc_last_error(NULL)); /* before lc_fail_at rewrites it */
  return lc_fail_at(NULL, st, file, line, "%s: %s: %s", fn, what, cause);
}

lc_status lc_verify_ctx_open(lc_verify_ctx *v, lc_mode mode, int device, int require_gpu,
                             const char *fn) {
  memset(v, 0, sizeof *v);
  LC_TRY(mode_check(mode, fn));
  v->mode = mode;
  const lc_backend be[LC_VERIFY_N_CTX] = {LC_BACKEND_CPU, LC_BACKEND_CPU, LC_BACKEND_CUDA};
  const lc_mode mo[LC_VERIFY_N_CTX] = {mode, LC_MODE_REFERENCE, mode};
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
    char what[64];
    snprintf(what, sizeof what, "creating the CPU %s context", lc_mode_name(mo[i]));
    return LC_VERIFY_FAIL(st, fn, what);
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
  float *v = lc_malloc((n ? n : 1) * sizeof *v);
  if (v)
    for (size_t i = 0; i < n; i++) v[i] = scale * lc_splitmix_normal(s);
  return v;
}

lc_status lc_verify_oom(const char *fn, const char *what) {
  return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory (%s)", fn, what);
}

lc_status lc_verify_check(const char *fn, const lc_context *c, lc_status st, const char *what) {
  if (st == LC_OK) return LC_OK;
  char w[128], who[32];
  ctx_label(c, who, sizeof who);
  snprintf(w, sizeof w, "%s (%s)", what, who);
  return lc_verify_fail_at(st, __FILE__, __LINE__, fn, w);
}
