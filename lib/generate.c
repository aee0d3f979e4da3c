/* lib/generate.c — placeholder until it is written. */
#include "layercast_model.h"
#include "lib/lc_internal.h"

lc_status lc_generate(lc_session *s, lc_gen_sequence *seqs, int64_t n_seqs,
                      const lc_gen_params *p) {
  (void)s;
  (void)seqs;
  (void)n_seqs;
  (void)p;
  return LC_FAIL(NULL, LC_ERR_UNSUPPORTED, "lc_generate: not implemented yet");
}
