/* lib/session.c — placeholder until it is written. */
#include "layercast_model.h"
#include "lib/lc_internal.h"

void lc_session_params_default(lc_session_params *p) {
  (void)p;
}

lc_status lc_session_create(lc_model *m, const lc_session_params *p, lc_session **out) {
  (void)m;
  (void)p;
  (void)out;
  return LC_FAIL(NULL, LC_ERR_UNSUPPORTED, "lc_session_create: not implemented yet");
}

void lc_session_free(lc_session *s) {
  (void)s;
}

lc_status lc_session_memory(const lc_session *s, lc_model_memory *out) {
  (void)s;
  (void)out;
  return LC_FAIL(NULL, LC_ERR_UNSUPPORTED, "lc_session_memory: not implemented yet");
}

lc_status lc_session_forward(lc_session *s, const lc_batch_entry *entries, int64_t n_entries,
                             int all_logits, float *logits) {
  (void)s;
  (void)entries;
  (void)n_entries;
  (void)all_logits;
  (void)logits;
  return LC_FAIL(NULL, LC_ERR_UNSUPPORTED, "lc_session_forward: not implemented yet");
}

lc_status lc_session_set_layer_hook(lc_session *s, lc_layer_hook hook, void *user) {
  (void)s;
  (void)hook;
  (void)user;
  return LC_FAIL(NULL, LC_ERR_UNSUPPORTED, "lc_session_set_layer_hook: not implemented yet");
}
