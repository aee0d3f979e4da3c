/*
 * layercast_metrics.h — reproducibility metrics, output hashes and the
 * environment fingerprint of run records.
 *
 * The metrics are those of "Give Me FP32 or Give Me Death? Challenges and
 * Solutions for Reproducible Reasoning" (Yuan et al., 2025, arXiv:2506.09501):
 * the same prompts are run greedily under several runtime configurations
 * (batch size, the row's position in the batch, backend, numerics mode) and
 * the outputs are compared.  docs/metrics.md gives every definition and
 * convention; in short:
 *
 *   Div_Index          the first 0-based token index where two outputs
 *                      differ; a proper prefix diverges at its end; -1 when
 *                      the outputs are identical.
 *   unique outputs     distinct token sequences among a prompt's runs.
 *   Avg_Std@top1_prob  mean over positions of the std across runs of the
 *                      top-1 probability.
 *   Div_Percent        percent of prompts with more than one unique output.
 *   Std@Acc            std across configurations of the accuracy.
 *
 * Every standard deviation here is the POPULATION one (divide by n, not
 * n - 1): the runs are the whole set of configurations studied, not a sample.
 *
 * All functions are pure host code and thread-safe; none needs a context
 * except the fingerprint.  Errors follow layercast.h (lc_last_error(NULL)).
 */
#ifndef LAYERCAST_METRICS_H
#define LAYERCAST_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "layercast.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== *
 *  Divergence
 * ======================================================================== */

/* The first index i (0-based) with a[i] != b[i]; when one sequence is a
 * proper prefix of the other, the shorter length; -1 when na == nb and the
 * sequences are equal.  NULL is accepted where the length is 0; negative
 * lengths count as 0. */
LC_API int32_t lc_div_index(const int32_t *a, int32_t na, const int32_t *b, int32_t nb);

/* 1 if answer[0..n_answer) occurs contiguously in tokens[0..n), else 0.
 * An empty answer (n_answer <= 0) occurs in every output. */
LC_API int lc_answer_found(const int32_t *tokens, int32_t n, const int32_t *answer,
                           int32_t n_answer);

/* Population mean and standard deviation of x[0..n): std = sqrt(sum (x_i -
 * mean)^2 / n).  n <= 0 gives 0 for both; NaN inputs propagate.  Either
 * output may be NULL. */
LC_API void lc_mean_std(const double *x, int64_t n, double *mean, double *std);

/* ======================================================================== *
 *  Per prompt: the runs of one prompt under every configuration
 * ======================================================================== */

/* One run's output for one prompt (host memory, read only). */
typedef struct lc_run_output {
  const int32_t *tokens;  /* [n_tokens] generated tokens */
  int32_t n_tokens;       /* >= 0 */
  const float *top1_prob; /* [n_tokens] top-1 probability per token, or NULL */
} lc_run_output;

typedef struct lc_prompt_metrics {
  int32_t n_runs;         /* runs compared */
  int32_t n_unique;       /* distinct token sequences (1 .. n_runs; 0 if no runs) */
  int32_t div_index;      /* min over r of lc_div_index(run 0, run r); -1: all equal */
  double len_mean;        /* mean output length (tokens) */
  double len_std;         /* population std of the output length */
  double avg_std_top1;    /* Avg_Std@top1_prob; NaN when a run lacks top1_prob */
  int32_t top1_positions; /* positions averaged: the shortest run's length */
  int32_t n_correct;      /* runs containing the answer; -1 without an answer */
} lc_prompt_metrics;

/* Computes the metrics of one prompt over its n_runs runs (n_runs >= 1).
 * answer may be NULL (then n_correct is -1).  LC_ERR_INVALID_ARGUMENT for
 * NULL runs/out, n_runs < 1, a negative length, or NULL tokens with a
 * positive length; LC_ERR_OUT_OF_MEMORY. */
LC_API lc_status lc_prompt_metrics_compute(const lc_run_output *runs, int32_t n_runs,
                                           const int32_t *answer, int32_t n_answer,
                                           lc_prompt_metrics *out);

/* ======================================================================== *
 *  Over prompts: one group of runs (one backend and mode)
 * ======================================================================== */

typedef struct lc_group_metrics {
  int32_t n_prompts;
  int32_t n_runs;        /* configurations (runs per prompt) */
  double unique_mean;    /* mean over prompts of n_unique */
  int32_t unique_max;    /* max over prompts of n_unique */
  double div_percent;    /* 100 * (prompts with n_unique > 1) / n_prompts */
  int32_t div_index_min; /* min Div_Index over diverging prompts; -1: none */
  double div_index_mean; /* mean Div_Index over diverging prompts; NaN: none */
  double avg_std_top1;   /* mean over prompts of avg_std_top1 (NaN if any is) */
  double len_std_mean;   /* Avg_Std@Output_Length: mean over prompts of len_std */
  double acc_mean;       /* mean accuracy over configurations; NaN: no answers */
  double std_at_acc;     /* Std@Acc: population std across configurations of the
                            accuracy over the prompts that have an answer; NaN: none */
} lc_group_metrics;

/* Summarises n_prompts prompt metrics.  correct: NULL, or [n_prompts][n_runs]
 * 0/1 flags (run r of prompt p contains p's answer) with has_answer[p] (NULL:
 * all prompts have answers) selecting the prompts that count for accuracy.
 * Accuracy of configuration r = sum over answered p of correct[p][r] /
 * (answered prompts).  LC_ERR_INVALID_ARGUMENT for NULL pm/out or counts < 1,
 * or prompts whose n_runs differ from n_runs. */
LC_API lc_status lc_group_metrics_compute(const lc_prompt_metrics *pm, int32_t n_prompts,
                                          int32_t n_runs, const uint8_t *correct,
                                          const uint8_t *has_answer, lc_group_metrics *out);

/* ======================================================================== *
 *  Hashes
 * ======================================================================== */

/* (LC_HASH_HEX_LEN, the length of a hash in hex, is in layercast.h.) */

/* XXH3-128 (seed 0) of the token ids as little-endian int32, whatever the
 * host's byte order, written as the hash's canonical (big-endian) bytes in
 * hex.  tokens may be NULL when n == 0.  LC_ERR_INVALID_ARGUMENT for NULL
 * hex, n < 0, NULL tokens with n > 0; LC_ERR_OUT_OF_MEMORY. */
LC_API lc_status lc_hash_tokens(const int32_t *tokens, int64_t n, char hex[LC_HASH_HEX_LEN]);

/* The same for float values hashed by their bits (little-endian binary32):
 * two arrays hash equal iff bitwise equal (barring collisions), so +0/-0 and
 * NaN payloads count. */
LC_API lc_status lc_hash_f32_bits(const float *v, int64_t n, char hex[LC_HASH_HEX_LEN]);

/* ======================================================================== *
 *  Environment fingerprint
 * ======================================================================== */

/* The environment of a run as a compact JSON object (one line, no newline):
 *   {"library": {"version", "version_number"},
 *    "canon": {"version", "matmul_seg_len", "attn_partition", "reduce_lanes",
 *              "max_head_dim"},
 *    "backend", "mode",
 *    "device": {"name", "index", "cc", "n_sm", "global_bytes", "driver_version",
 *               "runtime_version", "cublaslt_version", "blas"},
 *    "host": {"hostname", "os", "os_release", "os_version", "machine"}}
 * (docs/metrics.md lists every field).  *json is malloc'ed: release it with
 * lc_string_free().  LC_ERR_INVALID_ARGUMENT for NULL; LC_ERR_OUT_OF_MEMORY;
 * the statuses of lc_context_get_device_info. */
LC_API lc_status lc_env_fingerprint_json(const lc_context *ctx, char **json);

/* Frees a string returned by this header's functions; NULL is accepted. */
LC_API void lc_string_free(char *s);

#ifdef __cplusplus
}
#endif
#endif /* LAYERCAST_METRICS_H */
