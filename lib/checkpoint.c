/* lib/checkpoint.c — placeholder until it is written. */
#include <stdio.h>

#include "lib/checkpoint.h"

lc_status lc_checkpoint_open(const char *path, lc_model_format format, lc_checkpoint **out,
                             char *err, size_t err_len) {
  (void)path;
  (void)format;
  if (out) *out = NULL;
  if (err && err_len) snprintf(err, err_len, "lc_checkpoint_open: not implemented yet");
  return LC_ERR_UNSUPPORTED;
}
void lc_checkpoint_close(lc_checkpoint *c) {
  (void)c;
}
lc_model_format lc_checkpoint_format(const lc_checkpoint *c) {
  (void)c;
  return LC_FORMAT_AUTO;
}
const lc_model_config *lc_checkpoint_config(const lc_checkpoint *c) {
  (void)c;
  return NULL;
}
const double *lc_checkpoint_inv_freq(const lc_checkpoint *c) {
  (void)c;
  return NULL;
}
const lc_tensor_src *lc_checkpoint_find(const lc_checkpoint *c, const char *name) {
  (void)c;
  (void)name;
  return NULL;
}
int64_t lc_checkpoint_n_tensors(const lc_checkpoint *c) {
  (void)c;
  return 0;
}
