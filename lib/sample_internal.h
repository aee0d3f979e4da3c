/*
 * lib/sample_internal.h — the pieces of lib/sample.c that tests check on
 * their own, or that other parts of lib/ share: the raw Philox4x32-10 block
 * function (known-answer tests from the Random123 distribution), the sort key
 * of the candidate order and the greedy choice.
 */
#ifndef LC_SAMPLE_INTERNAL_H
#define LC_SAMPLE_INTERNAL_H

#include <stdint.h>

#include "layercast_model.h"

/* Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as
 * easy as 1, 2, 3", SC 2011): out = philox4x32_10(ctr, key), 10 rounds,
 * multipliers 0xD2511F53 and 0xCD9E8D57, key increments 0x9E3779B9 and
 * 0xBB67AE85.  out may alias ctr. */
void lc_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* The sampler's candidate order as an unsigned key: a smaller key comes
 * first.  Larger logits get smaller keys; -0 and +0 get the same key; the
 * caller breaks ties by the lower index.  x must not be NaN. */
uint32_t lc_sample_order_key(float x);

/* The token lc_sample picks at temperature 0 from logits [vocab] (vocab >=
 * 1): the first index of the largest non-NaN logit, -0 equal to +0; 0 when
 * every logit is NaN.  lc_loglik's greedy flags use it, so they agree with
 * greedy generation exactly. */
int32_t lc_sample_greedy(const float *logits, int32_t vocab);

/* LC_OK when p holds valid sampler parameters; else LC_ERR_INVALID_ARGUMENT
 * recorded on ctx (may be NULL) with a message that starts with fn. */
lc_status lc_sampler_params_check(lc_context *ctx, const lc_sampler_params *p, const char *fn);

#endif /* LC_SAMPLE_INTERNAL_H */
