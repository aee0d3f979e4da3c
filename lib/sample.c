/*
 * lib/sample.c — choosing a token from a row of logits, on the host.
 *
 * Pure and deterministic on every machine: integer arithmetic for the RNG
 * and the candidate order, the canonical lc_expf (cast/lc_canon.h) for the
 * probabilities instead of the platform's libm, and double sums in a fixed
 * order.  The rules (docs/generation.md has them in prose):
 *
 *   candidates  the non-NaN logits, ordered by logit descending, ties (-0
 *               and +0 included) by the lower index;
 *   greedy      temperature 0: the first candidate;
 *   sampled     top_k keeps the first k candidates (0: all); with
 *               p_i = lc_expf((l_i - l_max) / T) (float; exactly 1 for the
 *               logits equal to l_max, so +Inf logits work) and c_j the
 *               double prefix sums in candidate order, top_p keeps the
 *               shortest prefix with c_j >= top_p * c_last (top_p = 1: all);
 *               u = lc_rng_uniform(seed, seq_id, pos, 0) * c_kept and the
 *               token is the first kept candidate with c_j > u;
 *   record      top1_prob = 1 / sum_i lc_expf(l_i - l_max) over the non-NaN
 *               logits in index order (double), margin = l_1st - l_2nd, and
 *               the first LC_CAPTURE_TOP_K candidates.
 *
 * Cost: one pass over the logits for the record and greedy; top_k <= 128
 * adds only a partial selection (insertion into a sorted array of k); a
 * larger or no top_k sorts every candidate with a stable LSD radix sort on
 * 32-bit keys (3 passes of 11 bits: linear, ~1 ms for a 128K vocabulary).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif
#include <xxhash.h>

#include "cast/lc_canon.h"
#include "layercast_model.h"
#include "lib/lc_internal.h"
#include "lib/sample_internal.h"

/* ---- Philox4x32-10 ---------------------------------------------------------*/

#define LC_PHILOX_M0 0xD2511F53u
#define LC_PHILOX_M1 0xCD9E8D57u
#define LC_PHILOX_W0 0x9E3779B9u
#define LC_PHILOX_W1 0xBB67AE85u
#define LC_PHILOX_ROUNDS 10

void lc_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < LC_PHILOX_ROUNDS; r++) {
    if (r > 0) { /* the key schedule: a Weyl sequence, bumped before rounds 2..10 */
      k0 += LC_PHILOX_W0;
      k1 += LC_PHILOX_W1;
    }
    uint64_t p0 = (uint64_t)LC_PHILOX_M0 * c0;
    uint64_t p1 = (uint64_t)LC_PHILOX_M1 * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

double lc_rng_uniform(uint64_t seed, uint64_t seq_id, int32_t pos, uint32_t draw) {
  const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  const uint32_t ctr[4] = {(uint32_t)pos, draw, (uint32_t)seq_id, (uint32_t)(seq_id >> 32)};
  uint32_t x[4];
  lc_philox4x32_10(ctr, key, x);
  /* 53 bits: the top 53 of out[1]:out[0] (out[1] the high word). */
  uint64_t v = (((uint64_t)x[1] << 32) | x[0]) >> 11;
  return (double)v * 0x1p-53;
}

/* ---- parameters --------------------------------------------------------------*/

void lc_sampler_params_default(lc_sampler_params *p) {
  if (!p) return;
  p->temperature = 0.0f;
  p->top_k = 0;
  p->top_p = 1.0f;
  p->seed = 0;
}

lc_status lc_sampler_params_check(lc_context *ctx, const lc_sampler_params *p, const char *fn) {
  if (!p) return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: sampler params are NULL", fn);
  if (!isfinite(p->temperature) || p->temperature < 0.0f) {
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: temperature must be finite and >= 0, got %g",
                   fn, (double)p->temperature);
  }
  if (p->top_k < 0) {
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: top_k must be >= 0, got %d", fn,
                   (int)p->top_k);
  }
  if (!(p->top_p > 0.0f && p->top_p <= 1.0f)) {
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: top_p must be in (0, 1], got %g", fn,
                   (double)p->top_p);
  }
  return LC_OK;
}

/* ---- the candidate order -------------------------------------------------------*/

uint32_t lc_sample_order_key(float x) {
  if (x == 0.0f) x = 0.0f; /* -0 sorts with +0 */
  uint32_t u = lc_f32_bits(x);
  /* Negative: larger magnitude = smaller value = later, and the raw bits
   * (sign set) already grow with the magnitude and exceed every positive
   * key.  Positive: larger = earlier, so the bits inverted. */
  return (u & 0x80000000u) ? u : (~u & 0x7FFFFFFFu);
}

typedef struct lc_cand {
  uint32_t key; /* lc_sample_order_key(logit) */
  int32_t idx;  /* index into the logits */
} lc_cand;

/* a comes before b */
static int cand_before(lc_cand a, lc_cand b) {
  return a.key < b.key || (a.key == b.key && a.idx < b.idx);
}

/* The first min(n, candidates) candidates into out[], in order; returns how
 * many.  Logits are scanned in index order, so an equal key arriving later
 * has the higher index and goes after the ones already held. */
static inline void select_step(const float *logits, int32_t i, int32_t n, lc_cand *out,
                               int32_t *m) {
  if (lc_f32_isnan(logits[i])) return;
  lc_cand c = {lc_sample_order_key(logits[i]), i};
  if (*m == n && !cand_before(c, out[*m - 1])) return;
  int32_t j = (*m < n) ? (*m)++ : *m - 1; /* the slot freed: the end, or the last */
  while (j > 0 && cand_before(c, out[j - 1])) {
    out[j] = out[j - 1];
    j--;
  }
  out[j] = c;
}

static int32_t select_first_scalar(const float *logits, int32_t vocab, int32_t n, lc_cand *out) {
  int32_t m = 0;
  for (int32_t i = 0; i < vocab; i++) select_step(logits, i, n, out, &m);
  return m;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* The same selection, 8 logits at a time: once out holds n candidates, a
 * later logit enters only when its key is below the last one's (an equal
 * key comes later in index order, so after it); a block of 8 none of whose
 * keys is below is skipped, any other block goes through select_step lane
 * by lane.  NaN lanes get the key 0xFFFFFFFF, above every other key. */
__attribute__((target("avx2"))) static int32_t select_first_avx2(const float *logits, int32_t vocab,
                                                                 int32_t n, lc_cand *out) {
  int32_t m = 0, i = 0;
  for (; i < vocab && m < n; i++) select_step(logits, i, n, out, &m);
  const __m256i flip = _mm256_set1_epi32((int)0x80000000u);
  const __m256i low31 = _mm256_set1_epi32(0x7FFFFFFF);
  const __m256 zero = _mm256_setzero_ps();
  for (; i + 8 <= vocab; i += 8) {
    const __m256 l = _mm256_loadu_ps(logits + i);
    /* lc_sample_order_key: -0 as +0; negative keeps its bits, positive
     * has them inverted below the sign */
    const __m256i u =
        _mm256_castps_si256(_mm256_blendv_ps(l, zero, _mm256_cmp_ps(l, zero, _CMP_EQ_OQ)));
    const __m256i neg = _mm256_srai_epi32(u, 31);
    __m256i key = _mm256_blendv_epi8(_mm256_andnot_si256(u, low31), u, neg);
    key = _mm256_or_si256(key, _mm256_castps_si256(_mm256_cmp_ps(l, l, _CMP_UNORD_Q)));
    const __m256i thr = _mm256_set1_epi32((int)out[m - 1].key);
    /* unsigned key < thr as a signed compare of both with the top bit flipped */
    const __m256i below =
        _mm256_cmpgt_epi32(_mm256_xor_si256(thr, flip), _mm256_xor_si256(key, flip));
    if (!_mm256_movemask_epi8(below)) continue;
    for (int32_t k = 0; k < 8; k++) select_step(logits, i + k, n, out, &m);
  }
  for (; i < vocab; i++) select_step(logits, i, n, out, &m);
  return m;
}
#endif

static int32_t select_first(const float *logits, int32_t vocab, int32_t n, lc_cand *out) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (n >= 1 && __builtin_cpu_supports("avx2")) return select_first_avx2(logits, vocab, n, out);
#endif
  return select_first_scalar(logits, vocab, n, out);
}

int32_t lc_sample_greedy(const float *logits, int32_t vocab) {
  /* one slot is used; two because GCC 14's -Warray-bounds cannot see that
   * select_step never moves a candidate past out[n - 1] */
  lc_cand first[2];
  return select_first(logits, vocab, 1, first) == 1 ? first[0].idx : 0;
}

#define LC_RADIX_BITS 11
#define LC_RADIX_SIZE (1 << LC_RADIX_BITS)
#define LC_RADIX_PASSES 3 /* 33 bits >= 32 */

/* Every candidate, in order, into *out (malloc'ed, the caller frees).  A
 * stable LSD radix sort of the keys on an input in index order keeps equal
 * keys by index. */
static lc_status sort_all(const float *logits, int32_t vocab, lc_cand **out, int32_t *n_out) {
  lc_cand *a = lc_malloc((size_t)vocab * sizeof *a);
  lc_cand *b = lc_malloc((size_t)vocab * sizeof *b);
  uint32_t *count = lc_malloc((size_t)LC_RADIX_SIZE * sizeof *count);
  if (!a || !b || !count) {
    free(a);
    free(b);
    free(count);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY,
                   "lc_sample: cannot allocate the candidate order for vocab %d (%zu bytes)", vocab,
                   2 * (size_t)vocab * sizeof *a);
  }
  int32_t n = 0;
  for (int32_t i = 0; i < vocab; i++) {
    if (lc_f32_isnan(logits[i])) continue;
    a[n].key = lc_sample_order_key(logits[i]);
    a[n].idx = i;
    n++;
  }
  for (int pass = 0; pass < LC_RADIX_PASSES; pass++) {
    const int shift = pass * LC_RADIX_BITS;
    memset(count, 0, (size_t)LC_RADIX_SIZE * sizeof *count);
    for (int32_t i = 0; i < n; i++) count[(a[i].key >> shift) & (LC_RADIX_SIZE - 1)]++;
    uint32_t sum = 0;
    for (int d = 0; d < LC_RADIX_SIZE; d++) {
      uint32_t c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (int32_t i = 0; i < n; i++) b[count[(a[i].key >> shift) & (LC_RADIX_SIZE - 1)]++] = a[i];
    lc_cand *t = a;
    a = b;
    b = t;
  }
  free(b);
  free(count);
  *out = a;
  *n_out = n;
  return LC_OK;
}

/* ---- probabilities ---------------------------------------------------------------*/

/* exp((l - lmax) / t) in float with the canonical exp; exactly 1 when l
 * equals lmax (so that +Inf - +Inf never makes a NaN). */
static inline float weight(float l, float lmax, float t) {
  if (l == lmax) return 1.0f;
  return lc_expf(LC_DIV(l - lmax, t));
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
/* compiled twice, dispatched at load time: x86-64-v3 turns lc_expf's fmaf
 * into vfmadd instead of a libm call; fmaf is exactly rounded either way, so
 * both clones give the same bits (as in cpu_ref/matmul.c) */
#define LC_SAMPLE_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define LC_SAMPLE_CLONES
#endif

/* sum over the non-NaN logits of weight(l, lmax, 1), in index order, in double */
LC_SAMPLE_CLONES static double weight_sum_scalar(const float *logits, int32_t vocab, float lmax) {
  double sum = 0.0;
  for (int32_t i = 0; i < vocab; i++) {
    if (!lc_f32_isnan(logits[i])) sum += (double)weight(logits[i], lmax, 1.0f);
  }
  return sum;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LC_SAMPLE_AVX2 1
/* The same sum with the weights computed 8 at a time (AVX2 + FMA), then
 * added in index order in double as above.  Every step is lc_expf's, on the
 * same operands, each rounded once (vfnmadd/vfmadd are fmaf, vroundps to
 * nearest is rintf, the two scalings are two multiplies), so the weights
 * and the sum are bitwise those of weight_sum_scalar (tests/test_sample.c
 * checks it).  x = l - lmax <= 0 for every non-NaN l, so only lc_expf's
 * lower cut (x < -104: 0) applies; l == lmax gives 1; a NaN l is computed
 * as x = 0 and left out of the sum.  The sum dominated a record of a
 * 150k-word vocabulary (sweeps ranked 32 rows of them per step). */
__attribute__((target("avx2,fma"))) static double weight_sum_avx2(const float *logits,
                                                                  int32_t vocab, float lmax) {
  enum { BLOCK = 1024 };
  float w[BLOCK];
  double sum = 0.0;
  const __m256 vmax = _mm256_set1_ps(lmax), zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  const __m256 lo_cut = _mm256_set1_ps(LC_EXP_MIN_ARG);
  for (int32_t b0 = 0; b0 < vocab; b0 += BLOCK) {
    const int32_t nb = vocab - b0 < BLOCK ? vocab - b0 : BLOCK;
    int32_t j = 0;
    for (; j + 8 <= nb; j += 8) {
      const __m256 l = _mm256_loadu_ps(logits + b0 + j);
      const __m256 is_nan = _mm256_cmp_ps(l, l, _CMP_UNORD_Q);
      const __m256 is_max = _mm256_cmp_ps(l, vmax, _CMP_EQ_OQ);
      __m256 x = _mm256_blendv_ps(_mm256_sub_ps(l, vmax), zero, is_nan);
      const __m256 below = _mm256_cmp_ps(x, lo_cut, _CMP_LT_OQ);
      x = _mm256_blendv_ps(x, lo_cut, below); /* any finite value: the lane gives 0 */
      const __m256 nf = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LC_EXP_LOG2E)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      __m256 r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(LC_EXP_LN2_HI), x);
      r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(LC_EXP_LN2_LO), r);
      __m256 p = _mm256_set1_ps(0x1.a01a02p-13f);
      p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0x1.6c16c2p-10f));
      p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0x1.111112p-7f));
      p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0x1.555556p-5f));
      p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0x1.555556p-3f));
      p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
      p = _mm256_fmadd_ps(p, r, one);
      p = _mm256_fmadd_ps(p, r, one);
      const __m256i n = _mm256_cvtps_epi32(nf); /* nf is integral: exact */
      /* n / 2 rounded toward zero, as C's division */
      const __m256i n1 = _mm256_srai_epi32(_mm256_add_epi32(n, _mm256_srli_epi32(n, 31)), 1);
      const __m256i n2 = _mm256_sub_epi32(n, n1);
      const __m256i bias = _mm256_set1_epi32(127);
      const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
      const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
      __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
      y = _mm256_blendv_ps(y, zero, below);
      y = _mm256_blendv_ps(y, one, is_max);
      _mm256_storeu_ps(w + j, y);
    }
    for (; j < nb; j++)
      w[j] = lc_f32_isnan(logits[b0 + j]) ? 0.0f : weight(logits[b0 + j], lmax, 1.0f);
    for (int32_t k = 0; k < nb; k++)
      if (!lc_f32_isnan(logits[b0 + k])) sum += (double)w[k];
  }
  return sum;
}
#endif

static double weight_sum(const float *logits, int32_t vocab, float lmax) {
#ifdef LC_SAMPLE_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return weight_sum_avx2(logits, vocab, lmax);
#endif
  return weight_sum_scalar(logits, vocab, lmax);
}

/* Fills the record's distribution fields from the first candidates (m of
 * them, at least min(LC_CAPTURE_TOP_K, non-NaN logits)). */
static void fill_record(const float *logits, int32_t vocab, const lc_cand *first, int32_t m,
                        lc_token_record *r) {
  const float qnan = lc_f32_from_bits(LC_F32_CANONICAL_NAN_BITS);
  for (int j = 0; j < LC_CAPTURE_TOP_K; j++) {
    r->top_ids[j] = j < m ? first[j].idx : -1;
    r->top_logits[j] = j < m ? logits[first[j].idx] : qnan;
  }
  if (m == 0) {
    r->top1_prob = qnan;
    r->margin = qnan;
    return;
  }
  const float lmax = logits[first[0].idx];
  if (m == 1) {
    r->margin = lc_f32_from_bits(0x7F800000u);
  } else {
    const float l2 = logits[first[1].idx];
    r->margin = (l2 == lmax) ? 0.0f : lmax - l2;
  }
  r->top1_prob = (float)(1.0 / weight_sum(logits, vocab, lmax));
}

/* ---- lc_sample -----------------------------------------------------------------*/

/* Records are compared with memcmp (tests, run records): no padding bytes. */
_Static_assert(sizeof(lc_token_record) == 16 + 4 * 4 + 8 * LC_CAPTURE_TOP_K,
               "lc_token_record has no padding");

/* top_k at or below this takes the partial selection; above it, the sort */
#define LC_SAMPLE_SMALL_K 128

lc_status lc_sample(const float *logits, int32_t vocab, const lc_sampler_params *p, uint64_t seq_id,
                    int32_t pos, lc_token_record *out) {
  if (!logits || !p || !out) {
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_sample: NULL %s",
                   !logits ? "logits" : (!p ? "params" : "out"));
  }
  if (vocab < 1) {
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_sample: vocab must be >= 1, got %d", vocab);
  }
  LC_TRY(lc_sampler_params_check(NULL, p, "lc_sample"));

  lc_token_record r;
  memset(&r, 0, sizeof r);
  r.pos = pos;
  const int sampled = p->temperature > 0.0f && p->top_k != 1;
  const int small = !sampled || (p->top_k > 0 && p->top_k <= LC_SAMPLE_SMALL_K);

  lc_cand first_buf[LC_SAMPLE_SMALL_K > LC_CAPTURE_TOP_K ? LC_SAMPLE_SMALL_K : LC_CAPTURE_TOP_K];
  lc_cand *cand = first_buf; /* candidates in order */
  lc_cand *sorted = NULL;    /* the full order when sorted (owns memory) */
  int32_t n_cand = 0;        /* how many cand holds */
  if (small) {
    int32_t want = LC_CAPTURE_TOP_K;
    if (sampled && p->top_k > want) want = p->top_k;
    n_cand = select_first(logits, vocab, want, first_buf);
  } else {
    LC_TRY(sort_all(logits, vocab, &sorted, &n_cand));
    cand = sorted;
  }
  fill_record(logits, vocab, cand, n_cand, &r);
  r.logits_hash = XXH3_64bits(logits, (size_t)vocab * sizeof(float));
  for (int32_t i = 0; i < vocab; i++) r.n_nan += lc_f32_isnan(logits[i]);

  if (n_cand == 0) { /* every logit NaN */
    r.token = 0;
  } else if (!sampled) {
    r.token = cand[0].idx;
  } else {
    int32_t n_keep = n_cand;
    if (p->top_k > 0 && p->top_k < n_keep) n_keep = p->top_k;
    double *cum = lc_malloc((size_t)n_keep * sizeof *cum);
    if (!cum) {
      free(sorted);
      return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_sample: cannot allocate %d prefix sums",
                     n_keep);
    }
    const float lmax = logits[cand[0].idx];
    double c = 0.0;
    for (int32_t j = 0; j < n_keep; j++) {
      c += (double)weight(logits[cand[j].idx], lmax, p->temperature);
      cum[j] = c;
    }
    int32_t last = n_keep - 1; /* the kept prefix is 0..last */
    if (p->top_p < 1.0f) {
      const double target = (double)p->top_p * cum[n_keep - 1];
      for (int32_t j = 0; j < n_keep; j++) {
        if (cum[j] >= target) {
          last = j;
          break;
        }
      }
    }
    const double kept = cum[last]; /* >= 1: the first candidate weighs 1 */
    const double u = lc_rng_uniform(p->seed, seq_id, pos, 0) * kept;
    int32_t pick = -1;
    for (int32_t j = 0; j <= last; j++) {
      if (cum[j] > u) {
        pick = j;
        break;
      }
    }
    if (pick < 0) { /* u rounded up to kept (cannot happen for u < 1; kept for safety) */
      for (pick = 0; cum[pick] < kept; pick++) {
      }
    }
    r.token = cand[pick].idx;
    free(cum);
  }
  free(sorted);
  r.logit = logits[r.token];
  *out = r;
  return LC_OK;
}
