/*
 * cpu_ref/embedding.c — token embedding lookup.
 *
 * out[r][:] = widen(table[ids[r]][:]); table [vocab][dim] bf16 (uint16_t
 * bits), ids [m] int32 already checked by lib/ to lie in 0 .. vocab-1, out
 * [m][dim] fp32.  bf16 becomes fp32 here, by lc_bf16_to_f32: a 16-bit shift,
 * exact for every bit pattern (NaN payloads included), so strict and
 * reference are the same function and no canonicalisation is needed.  Each
 * row depends only on its own id.
 */
#include "cast/lc_cast.h"
#include "cpu_ref/cpu_ref.h"

void lc_cpu_embedding(const uint16_t *table, int64_t dim, const int32_t *ids, int64_t m,
                      float *out) {
  for (int64_t r = 0; r < m; r++) {
    const uint16_t *row = table + (int64_t)ids[r] * dim;
    float *o = out + r * dim;
    for (int64_t i = 0; i < dim; i++) o[i] = lc_bf16_to_f32(row[i]);
  }
}
