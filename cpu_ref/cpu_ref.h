/*
 * cpu_ref/cpu_ref.h — the CPU backend: every op twice.
 *
 *   *_strict  the canonical order of docs/numerics.md, exactly: explicit fmaf,
 *             no contraction, the 32-lane row reduction emulated lane by lane.
 *             Bitwise equal to the CUDA strict kernels by construction.
 *   *_ref     the reference flavour: plain FP32 in the obvious order, matmul
 *             through OpenBLAS cblas_sgemm.  The agreement oracle; promises no
 *             invariance.
 *
 * Contract for every function here: arguments were validated by lib/ (shapes
 * >= 1 except row counts, which may be 0; pointers non-NULL where used; no
 * illegal aliasing; indices in range).  All pointers are host memory.  bf16
 * data is uint16_t bit patterns.  Functions that allocate scratch return a
 * status (LC_ERR_OUT_OF_MEMORY); the rest cannot fail and return void.
 * Strict outputs never hold a NaN other than the canonical 0x7FC00000.
 */
#ifndef LC_CPU_REF_H
#define LC_CPU_REF_H

#include <stdint.h>

#include "layercast.h"

/* A strict kernel compiled twice and dispatched at load time (GCC on
 * x86-64): on x86-64-v3 fmaf (in dot products, lc_expf, lc_logf) is one
 * vfmadd instead of a libm call.  fmaf is exactly rounded either way and
 * the build never contracts (-ffp-contract=off), so both clones give the
 * same bits. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define LC_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define LC_CPU_CLONES
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- canonical row reduction (strict) ------------------------------------
 * sum over v[0..n) in the canonical order: LC_REDUCE_LANES lanes, lane l
 * accumulates v[l], v[l+32], ... sequentially (acc = acc + v), then the
 * butterfly acc[l] = acc[l] + acc[l ^ o] for o = 16, 8, 4, 2, 1.  Every lane
 * ends with the same value, which is returned.  Lanes with no element start
 * and stay at +0. */
float lc_cpu_canon_sum(const float *v, int64_t n);
/* The same with acc = fmaf(v, v, acc): the sum of squares of RMSNorm. */
float lc_cpu_canon_sumsq(const float *v, int64_t n);
/* The same with acc = acc + lc_expf(v - shift): softmax's sum of e, without
 * storing e (log_softmax may run in place). */
float lc_cpu_canon_sum_exp(const float *v, int64_t n, float shift);
/* Combines 32 lane partials with the butterfly, in place: afterwards every
 * lane holds the same value (NaN payloads aside), which is returned. */
float lc_cpu_canon_butterfly(float lanes[32]);

/* ---- matmul: y[m][n] = sum_k x[m][k] * w[n][k] (+ bias[n]) ----------------
 * x [m][k] fp32, w [n][k] bf16, bias NULL or [n] bf16, y [m][n] fp32. */
lc_status lc_cpu_matmul_strict(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                               const uint16_t *bias, float *y);
lc_status lc_cpu_matmul_ref(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                            const uint16_t *bias, float *y);
/* strict and fast with y's rows ldy >= n floats apart: w + n0 k, bias + n0
 * and y + n0 compute the columns n0 .. n0+n-1 of a wider product, bitwise as
 * the whole product would (every column's chain is its own; lib/ops.c splits
 * a matmul's columns across the CPU threads this way). */
lc_status lc_cpu_matmul_strict_ld(const float *x, int64_t m, int64_t k, const uint16_t *w,
                                  int64_t n, const uint16_t *bias, float *y, int64_t ldy);
lc_status lc_cpu_matmul_fast_ld(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                                const uint16_t *bias, float *y, int64_t ldy, int parts);

/* The fast order v1 (docs/numerics.md 10): tensor-core MMAs emulated bit for
 * bit.  parts = 3 is the fast mode (x split into hi + mid + lo), parts = 1 the
 * bf16 mode (x rounded to bf16).  Scratch is allocated: LC_ERR_OUT_OF_MEMORY. */
lc_status lc_cpu_matmul_fast(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                             const uint16_t *bias, float *y, int parts);

/* ---- the bf16 tensor-core MMA model (cpu_ref/mma_bf16.c) ---------------
 * One output element of mma.sync m16n8k16 / wgmma m64nNk16 .f32.bf16.bf16 on
 * sm_90: c + sum_{i<n} a[i]*b[i] (n <= LC_MMA_K) as the hardware computes it
 * (docs/numerics.md 10.2).  NaN results are 0x7FFFFFFF, as the hardware's. */
float lc_cpu_mma_bf16(float c, const uint16_t *a, const uint16_t *b, int n);
/* LC_MMA_NB lanes at once: acc[j] = MMA(acc[j], a, column j of b) for a's n
 * decoded values xs/xe and b's ws[i][j]/we[i][j]; every input finite.
 * Returns nonzero when a lane's result is +-Inf (a sum past the fp32 range). */
#define LC_MMA_NB 8
int lc_cpu_mma_bf16_block(float *acc, const int32_t *xs, const int32_t *xe,
                          const int32_t (*ws)[LC_MMA_NB], const int32_t (*we)[LC_MMA_NB], int n);
/* The portable C form of the block (lc_cpu_mma_bf16_block takes AVX2 code where
 * the CPU has it); exposed for tests/test_fast.c. */
int lc_cpu_mma_bf16_block_portable(float *acc, const int32_t *xs, const int32_t *xe,
                                   const int32_t (*ws)[LC_MMA_NB], const int32_t (*we)[LC_MMA_NB],
                                   int n);
/* A bf16 as the MMA model reads it: |value| = |sig| * 2^(exp - 7), sig signed
 * (below 2^8 in magnitude), exp = E - 127, or -126 for a zero or subnormal
 * (0.xxxxxxx, not normalised: the H100 probe of 2026-12-07, bench/RESULTS.md,
 * found normalising 19,859 and 20,118 outputs of 262,144 away from the
 * hardware).  A product with a zero factor takes no part in maxe, nor does a
 * zero c. */
static inline void lc_cpu_bf16_sig_exp(uint16_t h, int32_t *sig, int32_t *exp) {
  const int32_t e = (h >> 7) & 0xFF, m = (h & 0x7F) | (e ? 0x80 : 0);
  *sig = h & 0x8000u ? -m : m;
  *exp = e ? e - 127 : -126;
}
/* The model with some of its rules switched (tests/test_cuda_mma.c reports
 * how many outputs each variant leaves different from the hardware):
 * LC_MMA_NORM_SUBNORMALS normalises a bf16 subnormal (leading bit to bit 7,
 * exponent below -126), LC_MMA_NORM_C normalises a subnormal fp32 c,
 * LC_MMA_ZERO_IN_MAXE lets a product with a zero factor count in maxe,
 * LC_MMA_ZERO_C_IN lets a zero c count in it (with -126).  flags 0 is
 * lc_cpu_mma_bf16. */
enum {
  LC_MMA_NORM_SUBNORMALS = 1,
  LC_MMA_NORM_C = 2,
  LC_MMA_ZERO_IN_MAXE =
      4,               /* products with a zero factor count in maxe (the model before 2026-12-07) */
  LC_MMA_ZERO_C_IN = 8 /* a zero c counts in maxe (the model before the third H100 probe) */
};
float lc_cpu_mma_bf16_variant(float c, const uint16_t *a, const uint16_t *b, int n, unsigned flags);
/* lc_cpu_bf16_sig_exp over h[0..n) */
void lc_cpu_bf16_decode(const uint16_t *h, int64_t n, int32_t *sig, int32_t *exp);
/* 1 when any of h[0..n) is Inf or NaN */
int lc_cpu_bf16_any_nonfinite(const uint16_t *h, int64_t n);

/* ---- rmsnorm: x, y [m][n] (y may equal x), w [n] bf16 -------------------*/
void lc_cpu_rmsnorm_strict(const float *x, int64_t m, int64_t n, const uint16_t *w, float eps,
                           float *y);
void lc_cpu_rmsnorm_ref(const float *x, int64_t m, int64_t n, const uint16_t *w, float eps,
                        float *y);

/* ---- rope: x [m][n_heads][head_dim] in place; cos/sin [max_pos][hd/2] ----*/
void lc_cpu_rope_strict(float *x, int64_t m, int64_t n_heads, int64_t head_dim, const int32_t *pos,
                        const float *cos_tab, const float *sin_tab, lc_rope_style style);
void lc_cpu_rope_ref(float *x, int64_t m, int64_t n_heads, int64_t head_dim, const int32_t *pos,
                     const float *cos_tab, const float *sin_tab, lc_rope_style style);

/* ---- attention over the cache (see lc_attention in layercast.h) ----------*/
/* k_cache, v_cache: fp32 or bf16 elements, as shape->kv_dtype says */
void lc_cpu_attention_strict(const lc_attn_shape *shape, const lc_attn_seq *seqs, int64_t n_seqs,
                             const float *q, const void *k_cache, const void *v_cache, float *out);
/* The (row, head) units u0 .. u1 - 1 of lc_cpu_attention_strict (unit =
 * row * n_heads + head, rows counted across the sequences): each unit's
 * output is written by it alone, in its own order, so any split of the
 * units (lib/ops.c, across threads) gives the whole call's bits. */
void lc_cpu_attention_strict_units(const lc_attn_shape *shape, const lc_attn_seq *seqs,
                                   int64_t n_seqs, const float *q, const void *k_cache,
                                   const void *v_cache, float *out, int64_t u0, int64_t u1);
lc_status lc_cpu_attention_ref(const lc_attn_shape *shape, const lc_attn_seq *seqs, int64_t n_seqs,
                               const float *q, const void *k_cache, const void *v_cache,
                               float *out);

/* ---- elementwise: [n] each; out may equal an input ------------------------*/
void lc_cpu_silu_mul_strict(const float *gate, const float *up, int64_t n, float *out);
void lc_cpu_silu_mul_ref(const float *gate, const float *up, int64_t n, float *out);
/* One IEEE add per element: the same in both flavours (strict canonicalises
 * NaN, which the reference does too, harmlessly). */
void lc_cpu_add(const float *a, const float *b, int64_t n, float *out);

/* ---- round_bf16: x[i] = widen(bf16(x[i])) in place, [n]; exact, one
 * rounding, the same in both flavours --------------------------------------*/
void lc_cpu_round_bf16(float *x, int64_t n);

/* ---- embedding: exact widening, the same in both flavours ----------------*/
void lc_cpu_embedding(const uint16_t *table, int64_t dim, const int32_t *ids, int64_t m,
                      float *out);

/* ---- softmax / log_softmax over rows of n: x, y [m][n], y may equal x ----*/
void lc_cpu_softmax_strict(const float *x, int64_t m, int64_t n, float *y);
void lc_cpu_softmax_ref(const float *x, int64_t m, int64_t n, float *y);
void lc_cpu_log_softmax_strict(const float *x, int64_t m, int64_t n, float *y);
void lc_cpu_log_softmax_ref(const float *x, int64_t m, int64_t n, float *y);

/* ---- argmax: exact, the same in both flavours ----------------------------*/
void lc_cpu_argmax(const float *x, int64_t m, int64_t n, int32_t *idx);

#ifdef __cplusplus
}
#endif

#endif /* LC_CPU_REF_H */
