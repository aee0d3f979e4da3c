/*
 * cpu_ref/attention.c — attention over a KV cache, strict and reference.
 *
 * Computes, for every query row r of every sequence and every query head h,
 *   out[r][h][:] = softmax_j(q[r][h][:] . k[slot][j][g][:] * scale) . v[slot][j][g][:]
 * over the causal keys j = 0 .. t (t = seq.pos + i for the i-th query of the
 * sequence), with g = h / (n_heads / n_kv_heads) (grouped-query attention).
 *
 * Shapes and dtypes (host memory, validated by lib/):
 *   q, out            [total_q][n_heads][head_dim] fp32, sequences' rows packed in order
 *   k_cache, v_cache  [n_slots][max_len][n_kv_heads][head_dim], fp32 or bf16
 *                     (shape->kv_dtype; bf16 widened exactly as it is read)
 *   seqs              [n_seqs] {slot, pos, n_q}; n_q == 0 contributes no rows.
 *
 * Strict: the canonical order v1 of docs/numerics.md, exactly.  Keys are cut
 * into partitions of P = LC_ATTN_PARTITION positions counted from position 0
 * of the sequence (never from the chunk's first query), so the partition a
 * key falls in depends only on its own position.  Per partition: scores by a
 * sequential fma dot over head_dim, the partition max (NaN ignored, -0 made
 * +0), then l_b and o_b sequentially over the keys with p = lc_expf(s - m_b).
 * Partitions are merged in ascending order with
 *   M = max(m, m_b), a = exp(m - M), c = exp(m_b - M),
 *   l = fma(l, a, l_b * c), o = fma(o, a, o_b * c).
 * Every value that enters a query's result is a function of that query's
 * row, its sequence's slot and its position only: not of the batch, of n_q,
 * of the chunking of a prompt or of any other sequence.  The GPU kernel runs
 * the same partitions (one thread block per partition for decode), so the
 * bits match.  Scratch: one partition's scores and two head_dim vectors on
 * the stack (3 KiB).
 *
 * Reference: plain FP32 in the obvious order, for agreement checks only:
 * per query all scores into a heap buffer (plain dot products), the max,
 * expf from libm, one sequential sum, a weighted sum of v, a division.
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "cast/lc_canon.h"
#include "cpu_ref/cpu_ref.h"
#include "lib/lc_alloc.h"

/* Strides of the cache, in elements. */
typedef struct attn_strides {
  int64_t pos;  /* between positions of one slot: n_kv_heads * head_dim */
  int64_t slot; /* between slots: max_len * pos */
} attn_strides;

static attn_strides strides_of(const lc_attn_shape *sh) {
  attn_strides s;
  s.pos = (int64_t)sh->n_kv_heads * sh->head_dim;
  s.slot = (int64_t)sh->max_len * s.pos;
  return s;
}

/* A cache element: fp32, or bf16 widened exactly. */
#define KV_F32(p, i) (((const float *)(p))[i])
#define KV_BF16(p, i) lc_bf16_to_f32(((const uint16_t *)(p))[i])

/* partition_strict_SUF: the partition of keys [j0, j1) for one query: its
 * max m_b, l_b and o_b (head_dim floats at ob).  k, v point at position 0 of
 * the slot (at the query's kv head); consecutive positions are `kstride`
 * elements apart; LOAD reads element i.
 * attend_strict_SUF: one query (head_dim floats at q) against keys/values
 * 0..t; canonical order v1; writes head_dim floats at out.
 * Generated for fp32 and bf16 caches: the same operations on the same
 * (widened) values. */
#define LC_ATTN_STRICT(SUF, LOAD)                                                                \
  LC_CPU_CLONES static void partition_strict_##SUF(                                              \
      const float *q, const void *k, const void *v, int64_t kstride, int64_t j0, int64_t j1,     \
      int64_t hd, float scale, float *mb_out, float *lb_out, float *ob) {                        \
    float s[LC_ATTN_PARTITION];                                                                  \
    /* scores and the partition max */                                                           \
    const int64_t n = j1 - j0;                                                                   \
    float mb = -INFINITY;                                                                        \
    for (int64_t jj = 0; jj < n; jj++) {                                                         \
      const int64_t kj = (j0 + jj) * kstride;                                                    \
      float d = 0.0f;                                                                            \
      for (int64_t i = 0; i < hd; i++) d = LC_FMA(q[i], LOAD(k, kj + i), d);                     \
      s[jj] = d * scale;                                                                         \
      mb = lc_max_nonan(mb, s[jj]);                                                              \
    }                                                                                            \
    mb = lc_canon_zero(mb);                                                                      \
    /* l_b and o_b, sequential over the keys */                                                  \
    float lb = 0.0f;                                                                             \
    for (int64_t i = 0; i < hd; i++) ob[i] = 0.0f;                                               \
    for (int64_t jj = 0; jj < n; jj++) {                                                         \
      const float p = lc_expf(s[jj] - mb);                                                       \
      const int64_t vj = (j0 + jj) * kstride;                                                    \
      lb = lb + p;                                                                               \
      for (int64_t i = 0; i < hd; i++) ob[i] = LC_FMA(p, LOAD(v, vj + i), ob[i]);                \
    }                                                                                            \
    *mb_out = mb;                                                                                \
    *lb_out = lb;                                                                                \
  }                                                                                              \
                                                                                                 \
  LC_CPU_CLONES static void attend_strict_##SUF(const float *q, const void *k, const void *v,    \
                                                int64_t kstride, int64_t t, int64_t hd,          \
                                                float scale, float *out) {                       \
    float o[LC_MAX_HEAD_DIM], ob[LC_MAX_HEAD_DIM];                                               \
    float m, l;                                                                                  \
    /* partition 0 starts the running (m, l, o) */                                               \
    partition_strict_##SUF(q, k, v, kstride, 0,                                                  \
                           t + 1 < LC_ATTN_PARTITION ? t + 1 : LC_ATTN_PARTITION, hd, scale, &m, \
                           &l, o);                                                               \
    /* the others merge in ascending order */                                                    \
    for (int64_t j0 = LC_ATTN_PARTITION; j0 <= t; j0 += LC_ATTN_PARTITION) {                     \
      const int64_t j1 = (j0 + LC_ATTN_PARTITION < t + 1) ? j0 + LC_ATTN_PARTITION : t + 1;      \
      float mb, lb;                                                                              \
      partition_strict_##SUF(q, k, v, kstride, j0, j1, hd, scale, &mb, &lb, ob);                 \
      const float mm = lc_canon_zero(lc_max_nonan(m, mb));                                       \
      const float a = lc_expf(m - mm);                                                           \
      const float c = lc_expf(mb - mm);                                                          \
      l = LC_FMA(l, a, lb * c);                                                                  \
      for (int64_t i = 0; i < hd; i++) o[i] = LC_FMA(o[i], a, ob[i] * c);                        \
      m = mm;                                                                                    \
    }                                                                                            \
    for (int64_t i = 0; i < hd; i++) out[i] = lc_canon_nan(LC_DIV(o[i], l));                     \
  }

LC_ATTN_STRICT(f32, KV_F32)
LC_ATTN_STRICT(bf16, KV_BF16)

void lc_cpu_attention_strict(const lc_attn_shape *shape, const lc_attn_seq *seqs, int64_t n_seqs,
                             const float *q, const void *k_cache, const void *v_cache, float *out) {
  lc_cpu_attention_strict_units(shape, seqs, n_seqs, q, k_cache, v_cache, out, 0, INT64_MAX);
}

void lc_cpu_attention_strict_units(const lc_attn_shape *shape, const lc_attn_seq *seqs,
                                   int64_t n_seqs, const float *q, const void *k_cache,
                                   const void *v_cache, float *out, int64_t u0, int64_t u1) {
  const int64_t nh = shape->n_heads, hd = shape->head_dim;
  const int64_t group = nh / shape->n_kv_heads;
  const attn_strides st = strides_of(shape);
  const int bf16 = shape->kv_dtype == LC_DTYPE_BF16;
  const size_t esz = bf16 ? 2 : 4;
  assert(hd >= 1 && hd <= LC_MAX_HEAD_DIM);
  int64_t row = 0;
  for (int64_t si = 0; si < n_seqs; si++) {
    const lc_attn_seq *sq = &seqs[si];
    if ((row + sq->n_q) * nh <= u0) { /* every unit of this sequence before the range */
      row += sq->n_q;
      continue;
    }
    if (row * nh >= u1) break;
    const char *kslot = (const char *)k_cache + (size_t)((int64_t)sq->slot * st.slot) * esz;
    const char *vslot = (const char *)v_cache + (size_t)((int64_t)sq->slot * st.slot) * esz;
    for (int64_t i = 0; i < sq->n_q; i++, row++) {
      const int64_t t = (int64_t)sq->pos + i;
      for (int64_t h = 0; h < nh; h++) {
        if (row * nh + h < u0 || row * nh + h >= u1) continue;
        const size_t g = (size_t)(h / group) * (size_t)hd * esz;
        if (bf16)
          attend_strict_bf16(q + (row * nh + h) * hd, kslot + g, vslot + g, st.pos, t, hd,
                             shape->scale, out + (row * nh + h) * hd);
        else
          attend_strict_f32(q + (row * nh + h) * hd, kslot + g, vslot + g, st.pos, t, hd,
                            shape->scale, out + (row * nh + h) * hd);
      }
    }
  }
}

lc_status lc_cpu_attention_ref(const lc_attn_shape *shape, const lc_attn_seq *seqs, int64_t n_seqs,
                               const float *q, const void *k_cache, const void *v_cache,
                               float *out) {
  const int64_t nh = shape->n_heads, hd = shape->head_dim;
  const int64_t group = nh / shape->n_kv_heads;
  const attn_strides st = strides_of(shape);
  const float scale = shape->scale;
  const int bf16 = shape->kv_dtype == LC_DTYPE_BF16;
  /* scores of one query: at most max_len keys */
  float *s = lc_malloc((size_t)shape->max_len * sizeof *s);
  if (!s) return LC_ERR_OUT_OF_MEMORY;
  int64_t row = 0;
  for (int64_t si = 0; si < n_seqs; si++) {
    const lc_attn_seq *sq = &seqs[si];
    const int64_t base = (int64_t)sq->slot * st.slot; /* elements */
    for (int64_t i = 0; i < sq->n_q; i++, row++) {
      const int64_t n_keys = (int64_t)sq->pos + i + 1;
      for (int64_t h = 0; h < nh; h++) {
        const int64_t g = h / group;
        const float *qh = q + (row * nh + h) * hd;
        float *oh = out + (row * nh + h) * hd;
        float mx = -INFINITY;
        for (int64_t j = 0; j < n_keys; j++) {
          const int64_t kj = base + j * st.pos + g * hd;
          float d = 0.0f;
          for (int64_t e = 0; e < hd; e++)
            d += qh[e] * (bf16 ? KV_BF16(k_cache, kj + e) : KV_F32(k_cache, kj + e));
          s[j] = d * scale;
          if (s[j] > mx) mx = s[j];
        }
        float sum = 0.0f;
        for (int64_t e = 0; e < hd; e++) oh[e] = 0.0f;
        for (int64_t j = 0; j < n_keys; j++) {
          const float p = expf(s[j] - mx);
          const int64_t vj = base + j * st.pos + g * hd;
          sum += p;
          for (int64_t e = 0; e < hd; e++)
            oh[e] += p * (bf16 ? KV_BF16(v_cache, vj + e) : KV_F32(v_cache, vj + e));
        }
        for (int64_t e = 0; e < hd; e++) oh[e] /= sum;
      }
    }
  }
  free(s);
  return LC_OK;
}
