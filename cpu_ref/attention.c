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

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LC_ATTN_AVX2 1

/* 1 when this CPU runs AVX2 and FMA (libgcc's cpu model: cheap, thread-safe). */
static int attn_avx2(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* r[i] = column i of the 8 x 8 block whose rows are r[0..7]. */
__attribute__((target("avx2,fma"))) static inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int j = 0; j < 4; j++) {
    t[2 * j] = _mm256_unpacklo_ps(r[2 * j], r[2 * j + 1]);
    t[2 * j + 1] = _mm256_unpackhi_ps(r[2 * j], r[2 * j + 1]);
  }
  for (int h = 0; h < 2; h++) {
    const int b = 4 * h;
    u[b] = _mm256_shuffle_ps(t[b], t[b + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[b + 1] = _mm256_shuffle_ps(t[b], t[b + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[b + 2] = _mm256_shuffle_ps(t[b + 1], t[b + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[b + 3] = _mm256_shuffle_ps(t[b + 1], t[b + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; j++) {
    r[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20);
    r[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
  }
}

/* o_b[i] = the chain fma(p[j], v_j[i], o_b[i]) over the n keys ascending from
 * +0 (the first key's row at element vj of v, the next kstride further each),
 * hd % 8 == 0: 64 elements' chains in 8 registers at a time, then 8 at a
 * time; the same operations as the scalar loop. */
#define LC_ATTN_PV(SUF, WIDEN8)                                                                    \
  __attribute__((target("avx2,fma"))) static void pv_##SUF(const float *p, const void *v,          \
                                                           int64_t vj, int64_t kstride, int64_t n, \
                                                           int64_t hd, float *ob) {                \
    int64_t i0 = 0;                                                                                \
    for (; i0 + 64 <= hd; i0 += 64) {                                                              \
      __m256 acc[8];                                                                               \
      for (int b = 0; b < 8; b++) acc[b] = _mm256_setzero_ps();                                    \
      for (int64_t j = 0; j < n; j++) {                                                            \
        const __m256 pj = _mm256_set1_ps(p[j]);                                                    \
        const int64_t o = vj + j * kstride + i0;                                                   \
        for (int b = 0; b < 8; b++) acc[b] = _mm256_fmadd_ps(pj, WIDEN8(v, o + 8 * b), acc[b]);    \
      }                                                                                            \
      for (int b = 0; b < 8; b++) _mm256_storeu_ps(ob + i0 + 8 * b, acc[b]);                       \
    }                                                                                              \
    for (; i0 < hd; i0 += 8) {                                                                     \
      __m256 acc = _mm256_setzero_ps();                                                            \
      for (int64_t j = 0; j < n; j++)                                                              \
        acc = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), WIDEN8(v, vj + j * kstride + i0), acc);        \
      _mm256_storeu_ps(ob + i0, acc);                                                              \
    }                                                                                              \
  }

/* The scores of 8 consecutive keys (the first at element kj of k, the next
 * kstride further each), hd % 8 == 0: key j's lane runs its chain
 * d = fma(q[i], k_j[i], d) for i ascending from +0, then d * scale, the very
 * operations of the scalar loop below, 8 keys side by side (8 x 8 blocks of
 * the cache transposed in registers). */
#define LC_ATTN_SCORES8(SUF, WIDEN8)                                                       \
  __attribute__((target("avx2,fma"))) static void scores8_##SUF(                           \
      const float *q, const void *k, int64_t kj, int64_t kstride, int64_t hd, float scale, \
      float *s) {                                                                          \
    __m256 d = _mm256_setzero_ps();                                                        \
    for (int64_t i0 = 0; i0 < hd; i0 += 8) {                                               \
      __m256 r[8];                                                                         \
      for (int j = 0; j < 8; j++) r[j] = WIDEN8(k, kj + j * kstride + i0);                 \
      transpose8(r);                                                                       \
      for (int i = 0; i < 8; i++) d = _mm256_fmadd_ps(_mm256_set1_ps(q[i0 + i]), r[i], d); \
    }                                                                                      \
    _mm256_storeu_ps(s, _mm256_mul_ps(d, _mm256_set1_ps(scale)));                          \
  }

/* 8 cache elements from element i on, as fp32 (a bf16 widened exactly: a shift) */
#define V8_F32(v, i) _mm256_loadu_ps((const float *)(v) + (i))
#define V8_BF16(v, i)                    \
  _mm256_castsi256_ps(_mm256_slli_epi32( \
      _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)(v) + (i)))), 16))
LC_ATTN_SCORES8(f32, V8_F32)
LC_ATTN_SCORES8(bf16, V8_BF16)
LC_ATTN_PV(f32, V8_F32)
LC_ATTN_PV(bf16, V8_BF16)
#endif

/* partition_strict_SUF: the partition of keys [j0, j1) for one query: its
 * max m_b, l_b and o_b (head_dim floats at ob).  k, v point at position 0 of
 * the slot (at the query's kv head); consecutive positions are `kstride`
 * elements apart; LOAD reads element i.
 * attend_strict_SUF: one query (head_dim floats at q) against keys/values
 * 0..t; canonical order v1; writes head_dim floats at out.
 * Generated for fp32 and bf16 caches: the same operations on the same
 * (widened) values. */
#if LC_ATTN_AVX2
#define ATTN_PV(SUF)                                 \
  if (hd % 8 == 0 && attn_avx2())                    \
    pv_##SUF(s, v, j0 *kstride, kstride, n, hd, ob); \
  else
#define ATTN_SCORES8(SUF)         \
  if (hd % 8 == 0 && attn_avx2()) \
    for (; jj + 8 <= n; jj += 8)  \
      scores8_##SUF(q, k, (j0 + jj) * kstride, kstride, hd, scale, s + jj);
#else
#define ATTN_PV(SUF)
#define ATTN_SCORES8(SUF)
#endif

#define LC_ATTN_STRICT(SUF, LOAD)                                                                \
  LC_CPU_CLONES static void partition_strict_##SUF(                                              \
      const float *q, const void *k, const void *v, int64_t kstride, int64_t j0, int64_t j1,     \
      int64_t hd, float scale, float *mb_out, float *lb_out, float *ob) {                        \
    float s[LC_ATTN_PARTITION];                                                                  \
    /* scores (8 keys at a time where AVX2 runs: the same chains), then the                      \
     * partition max */                                                                          \
    const int64_t n = j1 - j0;                                                                   \
    int64_t jj = 0;                                                                              \
    ATTN_SCORES8(SUF)                                                                            \
    for (; jj < n; jj++) {                                                                       \
      const int64_t kj = (j0 + jj) * kstride;                                                    \
      float d = 0.0f;                                                                            \
      for (int64_t i = 0; i < hd; i++) d = LC_FMA(q[i], LOAD(k, kj + i), d);                     \
      s[jj] = d * scale;                                                                         \
    }                                                                                            \
    float mb = -INFINITY;                                                                        \
    for (jj = 0; jj < n; jj++) mb = lc_max_nonan(mb, s[jj]);                                     \
    mb = lc_canon_zero(mb);                                                                      \
    /* l_b, sequential over the keys (the scores become the p), then o_b:                        \
     * each element's chain over the keys ascending (with AVX2, 64 elements                      \
     * in registers at a time: the same chains) */                                               \
    float lb = 0.0f;                                                                             \
    for (jj = 0; jj < n; jj++) {                                                                 \
      s[jj] = lc_expf(s[jj] - mb);                                                               \
      lb = lb + s[jj];                                                                           \
    }                                                                                            \
    ATTN_PV(SUF) {                                                                               \
      for (int64_t i = 0; i < hd; i++) ob[i] = 0.0f;                                             \
      for (jj = 0; jj < n; jj++) {                                                               \
        const int64_t vj = (j0 + jj) * kstride;                                                  \
        for (int64_t i = 0; i < hd; i++) ob[i] = LC_FMA(s[jj], LOAD(v, vj + i), ob[i]);          \
      }                                                                                          \
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
