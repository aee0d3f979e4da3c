/*
 * lib/loglik_internal.h — the piece of lib/loglik.c that tests check on its
 * own: the log-probability of one row of logits.
 */
#ifndef LC_LOGLIK_INTERNAL_H
#define LC_LOGLIK_INTERNAL_H

#include <stdint.h>

/* log p(token) under the softmax at T = 1 of logits [vocab] (vocab >= 1,
 * 0 <= token < vocab), in double (lib/loglik.c has the rule): NaN logits
 * carry no probability, so a NaN logits[token] gives -Inf and a row of NaN
 * gives NaN; logits equal to the largest weigh exactly 1 (+Inf works). */
double lc_loglik_row(const float *logits, int32_t vocab, int32_t token);

#endif /* LC_LOGLIK_INTERNAL_H */
