/* lib/model.c — placeholder until it is written. */
#include "layercast_model.h"
#include "lib/lc_internal.h"

const char *lc_arch_name(lc_arch a) {
  (void)a;
  return "unknown";
}

lc_status lc_arch_from_name(const char *name, lc_arch *out) {
  (void)name;
  (void)out;
  return LC_FAIL(NULL, LC_ERR_UNSUPPORTED, "lc_arch_from_name: not implemented yet");
}

void lc_model_load_params_default(lc_model_load_params *p) {
  (void)p;
}

lc_status lc_model_load(lc_context *ctx, const char *path, const lc_model_load_params *params,
                        lc_model **out) {
  (void)ctx;
  (void)path;
  (void)params;
  (void)out;
  return LC_FAIL(NULL, LC_ERR_UNSUPPORTED, "lc_model_load: not implemented yet");
}

void lc_model_free(lc_model *m) {
  (void)m;
}

lc_status lc_model_get_info(const lc_model *m, lc_model_info *out) {
  (void)m;
  (void)out;
  return LC_FAIL(NULL, LC_ERR_UNSUPPORTED, "lc_model_get_info: not implemented yet");
}

lc_context *lc_model_context(const lc_model *m) {
  (void)m;
  return NULL;
}
