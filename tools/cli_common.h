/*
 * tools/cli_common.h — helpers shared by the layercast subcommands: option
 * parsing, opening a context and a model, prompt files (JSONL), JSON and CSV
 * output, run records, a progress bar and error reports.
 *
 * Conventions: a subcommand prints its errors as "layercast <cmd>: ..." and
 * returns 0 (success), 1 (failure) or 2 (bad usage).  Helpers that can fail
 * print their own message (naming `cmd`) and return 0/1/2 the same way.
 */
#ifndef LC_TOOLS_CLI_COMMON_H
#define LC_TOOLS_CLI_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "layercast.h"
#include "layercast_experiment.h"
#include "layercast_metrics.h"
#include "layercast_model.h"

/* ---- errors ---------------------------------------------------------------*/
/* "layercast <cmd>: <what>: <STATUS text>\n  <lc_last_error(ctx)>"; returns 1. */
int cli_fail(const char *cmd, const char *what, lc_status st, const lc_context *ctx);
/* "layercast <cmd>: <printf message>"; returns 2 (usage) — use for bad options. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- option values ---------------------------------------------------------*/
/* Whole-string integer parses; 0 on success, else an error is printed and 2
 * returned.  `opt` names the option in the message. */
int cli_parse_i64(const char *cmd, const char *opt, const char *s, int64_t lo, int64_t hi,
                  int64_t *out);
int cli_parse_i32(const char *cmd, const char *opt, const char *s, int32_t lo, int32_t hi,
                  int32_t *out);
int cli_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t *out);
int cli_parse_f32(const char *cmd, const char *opt, const char *s, float lo, float hi, float *out);
/* Splits "a,b,c" into malloc'ed copies of the items (empty items refused). */
int cli_split_list(const char *cmd, const char *opt, const char *s, char ***items, int *n);
void cli_free_list(char **items, int n);
/* Token ids "1 2 3" or "1,2,3" (malloc'ed). */
int cli_parse_tokens(const char *cmd, const char *opt, const char *s, int32_t **tokens, int32_t *n);

/* ---- context and model -------------------------------------------------------*/
typedef struct cli_model_opts {
  const char *model;   /* --model PATH (NULL: none given) */
  lc_backend backend;  /* --backend cpu|cuda (default cpu) */
  lc_mode mode;        /* --mode (default strict) */
  int device;          /* --device (default 0) */
  int threads;         /* --threads (OpenBLAS threads, default 1) */
  int32_t max_seq_len; /* --max-seq (0: the checkpoint's) */
} cli_model_opts;
void cli_model_opts_default(cli_model_opts *o);

/* Creates the context and loads the model; on failure prints why and returns
 * 1 with both outputs NULL.  quiet_unavailable: for LC_ERR_UNSUPPORTED and
 * LC_ERR_NO_DEVICE from lc_context_create print nothing and return 3 (the
 * sweep skips such cells). */
int cli_open(const char *cmd, const cli_model_opts *o, int quiet_unavailable, lc_context **ctx,
             lc_model **model);
/* Frees what cli_open made (NULLs accepted). */
void cli_close(lc_context *ctx, lc_model *model);

/* ---- prompts -------------------------------------------------------------------*/
typedef struct cli_prompt {
  int32_t *tokens; /* [n] */
  int32_t n;       /* >= 1 */
  int32_t *answer; /* [n_answer] or NULL */
  int32_t n_answer;
} cli_prompt;

typedef struct cli_prompts {
  cli_prompt *v;
  int32_t n;
} cli_prompts;

/* Reads a JSONL file: one object per non-blank line, {"tokens": [ids...]}
 * with an optional "answer": [ids...].  Errors name the file and line. */
int cli_read_prompts(const char *cmd, const char *path, cli_prompts *out);
/* Adds a copy of tokens[0..n) as one more prompt. */
int cli_prompts_add(const char *cmd, cli_prompts *ps, const int32_t *tokens, int32_t n);
void cli_prompts_free(cli_prompts *ps);
/* Checks every token id (prompts and answers) is below vocab. */
int cli_check_vocab(const char *cmd, const cli_prompts *ps, int32_t vocab);

/* ---- a reproducible RNG for generated inputs (splitmix64) -------------------------*/
uint64_t cli_rng_next(uint64_t *state);
/* uniform integer in [lo, hi] */
int64_t cli_rng_range(uint64_t *state, int64_t lo, int64_t hi);
/* Random prompts: n prompts, lengths uniform in [min_len, max_len], ids
 * uniform in [0, vocab) — the neighbours' prompts and the demo's prompts. */
int cli_random_prompts(const char *cmd, uint64_t seed, int32_t n, int32_t min_len, int32_t max_len,
                       int32_t vocab, cli_prompts *out);

/* ---- JSON and files ------------------------------------------------------------*/
/* Arrays for records: ints; floats written with 9 significant digits (the
 * shortest that round-trips every binary32), non-finite values as null. */
json_t *cli_json_i32_array(const int32_t *v, int64_t n);
json_t *cli_json_f32_array(const float *v, int64_t n);
/* A double or null when not finite. */
json_t *cli_json_real(double x);
/* Writes one compact JSON line (with '\n'); 0 or 1. */
int cli_json_write_line(const char *cmd, FILE *f, const json_t *j);
/* Writes text to path atomically (path.tmp then rename); 0 or 1. */
int cli_write_file(const char *cmd, const char *path, const char *data, size_t len);
/* Writes JSON (indented) to path atomically; 0 or 1. */
int cli_json_write_file(const char *cmd, const char *path, const json_t *j);
/* Writes s as one CSV field (quoted when it holds , " or a newline). */
void cli_csv_field(FILE *f, const char *s);
/* mkdir -p for one level (exists is fine); 0 or 1. */
int cli_mkdir(const char *cmd, const char *dir);
/* Joins dir and name into a malloc'ed string (NULL on out of memory). */
char *cli_path_join(const char *dir, const char *name);

/* ---- run records ----------------------------------------------------------------*/
/* The JSON of one generated sequence (docs/metrics.md, "Run records"):
 * {"prompt": i, "prompt_hash", "tokens", "tokens_hash", "n_tokens",
 *  "logit", "top1_prob", "margin", "top_ids"?, "top_logits"?, "logits_hash"}.
 * records may be NULL (then only tokens and their hash).  full: with the
 * top-k ids and logits of every step.  NULL on out of memory. */
json_t *cli_record_sequence(int32_t prompt_index, const int32_t *prompt, int32_t prompt_len,
                            const int32_t *tokens, int32_t n, const lc_token_record *records,
                            int full);
/* The fingerprint of ctx as a JSON object (NULL on failure, message printed). */
json_t *cli_fingerprint(const char *cmd, const lc_context *ctx);
/* The run's logits_hash (docs/metrics.md): XXH3-128 over, per generated token,
 * its LC_CAPTURE_TOP_K largest logits followed by the 64-bit hash of its whole
 * logit vector (lc_token_record.logits_hash). */
lc_status cli_hash_records(const lc_token_record *recs, int32_t n, char hex[LC_HASH_HEX_LEN]);

/* ---- progress bar ------------------------------------------------------------------*/
typedef struct cli_progress {
  int on;        /* stderr is a terminal and not disabled */
  int64_t total; /* units of work */
  int64_t done;
  double t0;   /* start (seconds) */
  double last; /* last redraw */
  char label[64];
} cli_progress;
/* on: -1 auto (isatty(stderr)), 0 off, 1 on. */
void cli_progress_start(cli_progress *p, const char *label, int64_t total, int on);
void cli_progress_add(cli_progress *p, int64_t units);
void cli_progress_end(cli_progress *p);
double cli_now_s(void);

/* ---- generation with a target row -----------------------------------------------*/
/* One batch for a target prompt at `position` of a batch of `batch` rows:
 * neighbours' prompts come from `pool` (cycled from the target's successor,
 * skipping nothing) or, with pool NULL, random ones from the seed.  The
 * target's tokens and records come back (tokens [max_new], records [max_new],
 * n_out).  Exposed so that generate, sweep and demo build batches alike. */
typedef struct cli_target_run {
  lc_session *session; /* with at least `batch` slots, max_len and max_tokens
                          large enough (cli_session_for) */
  const cli_prompt *target;
  int32_t target_index;    /* index of the target in pool (for cycling) */
  const cli_prompts *pool; /* neighbours' source, or NULL: random */
  uint64_t neighbour_seed;
  int32_t vocab;
  int32_t batch;
  int32_t position; /* 0 .. batch-1 */
  int32_t max_new;
  int32_t stop_token; /* -1: none */
  lc_gen_params gen;
} cli_target_run;
/* 0 on success (and *n_out set), else 1 with a message. */
int cli_run_target(const char *cmd, const cli_target_run *r, int32_t *tokens,
                   lc_token_record *records, int32_t *n_out);
/* Longest prompt a random neighbour gets, given the target's length. */
int32_t cli_neighbour_max_len(int32_t target_len);
/* A session that fits batch rows of prompts up to max_prompt tokens plus
 * max_new; prefill_chunk bounds the tokens per step (0: whole prompts). */
int cli_session_for(const char *cmd, lc_model *m, int32_t batch, int32_t max_prompt,
                    int32_t max_new, int32_t prefill_chunk, lc_dtype kv_dtype, lc_session **out);

#endif

/* ---- positions and record headers ------------------------------------------------*/
/* "first" (0), "middle" (batch/2), "last" (batch-1) or a number; -1 when the
 * label is not one of those or the number is not below batch. */
int32_t cli_resolve_position(const char *label, int32_t batch);
/* A run record without its sequences (docs/metrics.md, "Run records"):
 * {"record_version", "kind", "cell": {"backend", "mode", "batch_size",
 *  "position", "position_label", "repeat"}, "model", "max_new", "sampler",
 *  "prefill_chunk", "kv_dtype", "neighbours", "neighbour_seed", "fingerprint",
 *  "sequences": []}.  NULL on failure (message printed). */
json_t *cli_record_new(const char *cmd, const char *kind, const lc_context *ctx, const char *model,
                       int32_t batch, int32_t position, const char *position_label, int32_t repeat,
                       const lc_gen_params *gp, int32_t max_new, lc_dtype kv_dtype,
                       const char *neighbours, uint64_t neighbour_seed, const json_t *fingerprint);

/* ---- the sweep engine (tools/cli_sweep.c; `sweep` and `demo` use it) -------------*/
typedef struct sweep_config {
  const char *model; /* checkpoint path */
  char **backends;   /* names, n_backends */
  int n_backends;
  char **modes;
  int n_modes;
  int32_t *batch_sizes;
  int n_batch_sizes;
  char **positions; /* first|middle|last|number */
  int n_positions;
  int32_t repeats;
  const cli_prompts *prompts;
  int32_t max_new;
  int32_t stop_token;
  lc_gen_params gen;
  lc_dtype kv_dtype;
  int random_neighbours; /* 0: the file's prompts, cycled; 1: random */
  uint64_t neighbour_seed;
  int device, threads;
  int strict_grid;     /* unavailable cells fail instead of being skipped */
  int progress;        /* -1 auto, 0 off, 1 on */
  const char *out_dir; /* NULL: nothing written */
  int quiet;           /* no notes on stderr */
} sweep_config;

/* One run's output for one prompt. */
typedef struct sweep_output {
  int32_t *tokens;  /* [n] */
  float *top1_prob; /* [n] */
  float *margin;    /* [n] */
  int32_t n;
  char tokens_hash[LC_HASH_HEX_LEN];
  char logits_hash[LC_HASH_HEX_LEN];
} sweep_output;

typedef struct sweep_cell {
  int32_t batch, position, repeat;
  const char *label; /* the position as given */
} sweep_cell;

typedef struct sweep_group {
  lc_backend backend;
  lc_mode mode;
  int available;         /* 0: skipped (backend/mode unavailable) */
  int32_t n_runs;        /* cells x repeats run */
  sweep_cell *cells;     /* [n_runs] */
  sweep_output *out;     /* [n_runs][n_prompts] */
  lc_prompt_metrics *pm; /* [n_prompts] */
  lc_group_metrics gm;
  int have_metrics;
} sweep_group;

typedef struct sweep_result {
  sweep_group *groups; /* [n_groups]: backends x modes, in that order */
  int n_groups;
  int32_t n_prompts;
  double seconds;
} sweep_result;

/* Runs the grid; fills *res (free with sweep_result_free).  0, 1 or 2. */
int sweep_run(const char *cmd, const sweep_config *cfg, sweep_result *res);
void sweep_result_free(sweep_result *res);
/* 1 when groups a and b gave the same tokens and captured logits (bitwise)
 * for every prompt in every run; 0 otherwise. */
int sweep_groups_agree(const sweep_result *res, int a, int b);
/* Prints the summary table to f. */
void sweep_print_table(FILE *f, const sweep_result *res);
