/* lib/synth.c — placeholder until it is written. */
#include "layercast_model.h"
#include "lib/lc_internal.h"

void lc_synth_params_default(lc_synth_params *p) {
  (void)p;
}

lc_status lc_synth_write(const char *dir, const lc_synth_params *p) {
  (void)dir;
  (void)p;
  return LC_FAIL(NULL, LC_ERR_UNSUPPORTED, "lc_synth_write: not implemented yet");
}
