/*
 * lib/bounds.h — the error-bound rules that the tests, the benchmarks and
 * `layercast verify` (lib/verify_ops.c) check results against, written once:
 *
 *   gamma_n                 the relative bound of n roundings;
 *   row-sum rounding count  how many roundings a term meets in the
 *                           canonical 32-lane sum (rmsnorm, softmax);
 *   matmul rounding counts  how many roundings one product x_k w_k meets in
 *                           the strict order and in any order (OpenBLAS,
 *                           cuBLASLt), so that |y - exact| <= gamma_count *
 *                           (sum_k |x_k w_k| (+ |bias|));
 *   the worst ratio         max_i |got_i - ref_i| / tol_i with one rule for
 *                           NaN and Inf (docs/numerics.md, "Comparing
 *                           against a bound"): NaN agrees only with NaN,
 *                           Inf only with the same Inf.
 *
 * Each caller keeps its own derivation beside the numbers it builds from
 * these (the slack for subnormals, second-order terms, which count it uses);
 * this file holds what they share.  Internal: tests and benchmarks reach it
 * through the layercast_internal target.
 */
#ifndef LC_BOUNDS_H
#define LC_BOUNDS_H

#include <stdint.h>

/* Unit roundoff of binary32. */
#define LC_BOUND_U 0x1p-24

/* gamma_n = n u / (1 - n u) (Higham, Accuracy and Stability of Numerical
 * Algorithms, 2nd ed., Lemma 3.1): the relative error bound of n roundings,
 * u = 2^-24.  Meaningful for n u < 1. */
double lc_bound_gamma(double n);

/* Roundings a term meets in the canonical row sum (docs/numerics.md 2.1):
 * ceil(n / 32) in its lane's chain, then 5 in the butterfly of 32 lanes
 * (LC_REDUCE_LANES).  The same for a sum of squares (one fma chain). */
int64_t lc_bound_reduce_strict_rounds(int64_t n);

/* Roundings one product meets in strict matmul (docs/numerics.md 2.2): its
 * fma chain in a segment of L = min(K, Ls) products, then S - 1 segment
 * additions (S = ceil(K / Ls), Ls = LC_MATMUL_SEG_LEN): L + S - 1; with a
 * bias, one more addition: L + S.  k >= 1. */
int64_t lc_bound_matmul_strict_rounds(int64_t k, int bias);

/* Roundings one product meets in a K-term dot product summed in any order,
 * with or without fma (Higham 3.5; OpenBLAS's or cuBLASLt's blocking): its
 * multiply and K - 1 additions, K; with a bias, K + 1. */
int64_t lc_bound_matmul_any_order_rounds(int64_t k, int bias);

/* The fast order v1 (docs/numerics.md 10.3): |y - exact| <= coeff *
 * (sum_k |x_k w_k| + |bias|) + abs for normal data, where coeff is
 *   (parts == 1: 2^-9, x's rounding to bf16) + 1.01 * q * u_mma + gamma_(A)
 * with u_mma = 17 * 2^-25 + 2^-23 (one MMA: 17 terms truncated at 2^(maxe-25),
 * 2^maxe <= |c| + sum |a_i b_i|, then one rounding toward zero), q = parts *
 * ceil(min(K, 64) / 16) MMAs per chunk, A = min(C, 4) - 1 + S - 1 (+1 with a
 * bias) additions in fp32 round to nearest (C = ceil(K / 64) chunks, at most 4
 * per segment of 256, S = ceil(K / 256) segments); 1.01 covers the second-order growth of q * u_mma
 * < 2^-14 and the parts' |hi| + |mid| + |lo| <= |x| (1 + 2^-7).  abs = q * C * 2^-146 covers the
 * truncation of subnormal terms (2^maxe >= 2^-126 is not below them).  k >= 1, parts 1 or 3. */
double lc_bound_matmul_fast_coeff(int64_t k, int parts, int bias);
double lc_bound_matmul_fast_abs(int64_t k, int parts);

/* |got - ref| / tol for one element, with the NaN/Inf rule:
 *   NaN on both sides: 0 (they agree); NaN on one side: +Inf;
 *   an Inf on either side: 0 when got == ref (the same Inf), else +Inf;
 *   otherwise |got - ref| / tol when tol > 0, and when tol <= 0 (an exact
 *   bound): 0 for equal values, +Inf for different ones.
 * A ratio <= 1 is within the bound.  Never NaN. */
double lc_bound_ratio(double got, double ref, double tol);

/* The largest lc_bound_ratio(got[i], ref[i], tol[i]) over i < n; tol NULL
 * means 0 everywhere (exact agreement required).  *worst gets the first
 * index attaining it (0 when every ratio is 0; -1 when n <= 0, with result
 * 0).  worst may be NULL. */
double lc_bound_worst_ratio(const float *got, const double *ref, const double *tol, int64_t n,
                            int64_t *worst);

#endif /* LC_BOUNDS_H */
