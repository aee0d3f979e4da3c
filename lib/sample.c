/* lib/sample.c — placeholder until it is written. */
#include "layercast_model.h"
#include "lib/lc_internal.h"

void lc_sampler_params_default(lc_sampler_params *p) {
  (void)p;
}

double lc_rng_uniform(uint64_t seed, uint64_t seq_id, int32_t pos, uint32_t draw) {
  (void)seed;
  (void)seq_id;
  (void)pos;
  (void)draw;
  return 0.0;
}

lc_status lc_sample(const float *logits, int32_t vocab, const lc_sampler_params *p, uint64_t seq_id,
                    int32_t pos, lc_token_record *out) {
  (void)logits;
  (void)vocab;
  (void)p;
  (void)seq_id;
  (void)pos;
  (void)out;
  return LC_FAIL(NULL, LC_ERR_UNSUPPORTED, "lc_sample: not implemented yet");
}
