/*
 * layercast_experiment.h — the experiment engine: prompt lists, run
 * records, the accuracy-variance sweep, the teacher-forced replay
 * comparison and the three verifications (ops, model, records).
 *
 * This is what `layercast sweep`, `compare`, `verify` and `demo` run; the
 * CLI only parses arguments and prints.  A C program gets the same records,
 * summaries and verdicts through this header alone.
 *
 * Conventions (as layercast.h): every fallible call returns an lc_status and
 * leaves a message for lc_last_error(NULL) (the calling thread's last
 * failure); nothing here prints, exits or aborts.  Results are structs the
 * library allocates and the caller releases with the matching _free (NULL
 * accepted).  A failed call sets *out to NULL, leaks nothing and leaves no
 * half-written file: files are written under a temporary name and renamed,
 * except a sweep's records, which are appended run by run to
 * runs.jsonl.partial so that an interrupted sweep can resume (see
 * lc_sweep_run).  Calls on distinct objects may run on distinct threads.
 *
 * docs/metrics.md defines the records, metrics and summaries; docs/numerics.md
 * the bounds the verifications apply.
 */
#ifndef LAYERCAST_EXPERIMENT_H
#define LAYERCAST_EXPERIMENT_H

#include <stddef.h>
#include <stdint.h>

#include "layercast.h"
#include "layercast_metrics.h"
#include "layercast_model.h"
#include "layercast_text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== *
 *  Prompt lists
 * ======================================================================== */

typedef struct lc_prompt {
  int32_t *tokens;   /* [n_tokens] token ids >= 0 */
  int32_t n_tokens;  /* >= 1 */
  int32_t *answer;   /* [n_answer] the expected answer's ids, or NULL: none */
  int32_t n_answer;  /* >= 0 */
  char *text;        /* the prompt as text (after the chat format), or NULL */
  char *answer_text; /* the expected answer as text (scored by extraction), or NULL */
} lc_prompt;

/* A list the library owns: zero-initialise it ({NULL, 0}), fill it with the
 * calls below, release it with lc_prompt_list_free. */
typedef struct lc_prompt_list {
  lc_prompt *v; /* [n] */
  int32_t n;
} lc_prompt_list;

/* Reads a JSONL prompt file of token ids: one object per non-blank line,
 * {"tokens": [ids...]} with an optional "answer": [ids...] or "answer":
 * "text" (and an optional "text", kept as the prompt's text).  Lines of
 * text ("prompt", "messages") need lc_prompt_list_read_text.  On success
 * *out holds at least one prompt.  LC_ERR_INVALID_ARGUMENT (NULL),
 * LC_ERR_NOT_FOUND (no such file), LC_ERR_IO (a directory, unreadable),
 * LC_ERR_FORMAT (the message names the file, the line and what is wrong;
 * also for a file without prompts), LC_ERR_OUT_OF_MEMORY.  On failure *out
 * is left empty. */
LC_API lc_status lc_prompt_list_read(const char *path, lc_prompt_list *out);

/* How text prompts become token ids. */
typedef struct lc_prompt_text_params {
  const lc_tokenizer *tokenizer; /* for "prompt" and "messages" lines */
  const lc_chat_template *chat;  /* for "messages" lines (and chat_prompts) */
  int chat_prompts;              /* 1: a "prompt" is one user message of the
                                    chat format; 0: it is encoded as it is,
                                    with the tokenizer's BOS */
} lc_prompt_text_params;

/* As lc_prompt_list_read, and also lines of text: {"prompt": "..."} or
 * {"messages": [{"role": ..., "content": ...}, ...]} (rendered with the
 * chat format and its generation prompt, then encoded), or {"tokens":
 * [...]}; each with an optional "answer" (a string: scored by extraction;
 * or ids).  Each prompt keeps its text.  LC_ERR_FORMAT names the line and
 * the field (also for text without a tokenizer, messages without a chat
 * format, invalid UTF-8); the other statuses of lc_prompt_list_read. */
LC_API lc_status lc_prompt_list_read_text(const char *path, const lc_prompt_text_params *tp,
                                          lc_prompt_list *out);

/* Appends a copy of tokens[0..n) (n >= 1) and of answer[0..n_answer)
 * (answer NULL: none).  LC_ERR_INVALID_ARGUMENT, LC_ERR_OUT_OF_MEMORY (the
 * list is unchanged). */
LC_API lc_status lc_prompt_list_add(lc_prompt_list *ps, const int32_t *tokens, int32_t n,
                                    const int32_t *answer, int32_t n_answer);

/* Appends n random prompts from a seed: lengths uniform in [min_len,
 * max_len], ids uniform in [0, vocab) (splitmix64; the demo's prompts).
 * LC_ERR_INVALID_ARGUMENT unless n >= 0, 1 <= min_len <= max_len <= 2^24
 * and vocab >= 1; LC_ERR_OVERFLOW when the list would hold more than
 * 2^31-1 prompts (checked first); LC_ERR_OUT_OF_MEMORY (the list is
 * unchanged). */
LC_API lc_status lc_prompt_list_random(lc_prompt_list *ps, uint64_t seed, int32_t n,
                                       int32_t min_len, int32_t max_len, int32_t vocab);

/* LC_ERR_OUT_OF_RANGE, naming the prompt, the index and the id, when a
 * token or answer id is not below vocab; LC_OK otherwise. */
LC_API lc_status lc_prompt_list_check_vocab(const lc_prompt_list *ps, int32_t vocab);

/* XXH3-128 over every prompt's tokens and answer (ids, or text when the
 * answer is text), with their lengths (the run records' "prompts_hash"). */
LC_API lc_status lc_prompt_list_hash(const lc_prompt_list *ps, char hex[LC_HASH_HEX_LEN]);

/* Writes the list as JSONL (the format lc_prompt_list_read reads), atomically. */
LC_API lc_status lc_prompt_list_write(const lc_prompt_list *ps, const char *path);

LC_API void lc_prompt_list_free(lc_prompt_list *ps); /* NULL accepted; leaves it empty */

/* ======================================================================== *
 *  A target row in a batch: the unit every experiment is made of
 * ======================================================================== */

/* Where a row sits: "first" (0), "middle" (batch / 2), "last" (batch - 1)
 * or a number.  Returns the index, or -1 when the label is none of these
 * or the number is not below batch. */
LC_API int32_t lc_position_resolve(const char *label, int32_t batch);

/* The longest prompt a random neighbour of a target of target_len tokens
 * gets: max(4, 2 * target_len), at most 2^20. */
LC_API int32_t lc_neighbour_max_len(int32_t target_len);

/* One target prompt generated as row `position` of a batch of `batch` rows.
 * The other rows (neighbours) are the successors of the target in `pool`,
 * cycled (row position + k holds prompt target_index + k mod n), or, with
 * pool NULL, random prompts drawn from neighbour_seed, the target's index,
 * the batch size and the position.  The target's sampler stream is keyed
 * by its index alone, so in strict mode its tokens do not depend on the
 * batch. */
typedef struct lc_target_params {
  const lc_prompt *target;
  int32_t target_index;       /* >= 0 */
  const lc_prompt_list *pool; /* neighbours' source, or NULL: random */
  uint64_t neighbour_seed;
  int32_t batch;     /* >= 1 */
  int32_t position;  /* 0 .. batch - 1 */
  int32_t max_new;   /* >= 0 tokens per row */
  lc_stop_set stop;  /* ids below the vocabulary; none when empty */
  lc_gen_params gen; /* sampler and prefill chunk */
} lc_target_params;

/* Session parameters that fit `batch` rows of prompts up to max_prompt
 * tokens plus max_new new ones, prefill_chunk tokens per row and step (0:
 * whole prompts).  LC_ERR_OVERFLOW when that does not fit int32. */
LC_API lc_status lc_target_session_params(int32_t batch, int32_t max_prompt, int32_t max_new,
                                          int32_t prefill_chunk, lc_dtype kv_dtype,
                                          lc_session_params *out);

/* The longest prompt a batch of these prompts needs a session for: the
 * longest prompt, or with random neighbours the longest neighbour
 * (lc_neighbour_max_len of each prompt).  0 for an empty list. */
LC_API int32_t lc_target_max_prompt(const lc_prompt_list *ps, int random_neighbours);

/* Checks that every prompt can be generated from on a model of config c
 * before anything runs: every id below the vocabulary, every stop id below it, and
 * lc_target_max_prompt + max_new within max_seq_len. LC_ERR_OUT_OF_RANGE naming the prompt, the
 * value and the limit; LC_ERR_INVALID_ARGUMENT for NULL or max_new < 0. */
LC_API lc_status lc_target_check(const lc_model_config *c, const lc_prompt_list *ps,
                                 int random_neighbours, int32_t max_new, const lc_stop_set *stop);

/* Runs one batch on s (created with at least the parameters above) and
 * returns the target's tokens [max_new] and, when records is not NULL, its
 * per-token records [max_new]; *n_out the count generated.  The statuses
 * of lc_generate; LC_ERR_SHAPE, before anything is allocated, for a batch
 * of more rows than s has slots or a target whose prompt + max_new exceeds
 * s's max_len. */
LC_API lc_status lc_generate_target(lc_session *s, const lc_target_params *p, int32_t *tokens,
                                    lc_token_record *records, int32_t *n_out);

/* ======================================================================== *
 *  Run records (docs/metrics.md, "Run records")
 * ======================================================================== */

/* Version of the run-record layout: 2 adds "setup" (what the outputs
 * depend on besides the cell: the weights' and prompts' hashes and the
 * generation settings), which lc_verify_records requires to be equal. */
#define LC_RUN_RECORD_VERSION 2

/* What every run of an experiment shares. */
typedef struct lc_run_setup {
  const char *model;                  /* checkpoint path as given (informative) */
  char weights_hash[LC_HASH_HEX_LEN]; /* lc_model_info.weights_hash */
  char prompts_hash[LC_HASH_HEX_LEN]; /* lc_prompt_list_hash of the prompts */
  int32_t max_new;
  lc_stop_set stop; /* empty: none */
  lc_gen_params gen;
  lc_dtype kv_dtype;
  int random_neighbours; /* 0: the prompt file's, 1: random */
  uint64_t neighbour_seed;
} lc_run_setup;

/* One cell of a grid: where the target ran. */
typedef struct lc_run_cell {
  int32_t batch_size;
  int32_t position;
  const char *position_label; /* as given ("last", "3") */
  int32_t repeat;
  int32_t tp; /* tensor-parallel degree (lc_session_params.tp); 0 counts as 1 */
} lc_run_cell;

typedef struct lc_run_record lc_run_record;

/* Adds the text of the sequence added last: "text", and when score is not
 * NULL "extracted" (null when none was found) and "correct".
 * LC_ERR_INVALID_ARGUMENT when no sequence was added. */
LC_API lc_status lc_run_record_add_text(lc_run_record *r, const char *text,
                                        const lc_answer_score *score);

/* Starts a record of `kind` ("sweep", "generate") for the backend, mode and
 * environment fingerprint of ctx.  LC_ERR_INVALID_ARGUMENT,
 * LC_ERR_OUT_OF_MEMORY and the statuses of lc_env_fingerprint_json. */
LC_API lc_status lc_run_record_create(const char *kind, const lc_context *ctx,
                                      const lc_run_setup *setup, const lc_run_cell *cell,
                                      lc_run_record **out);
/* Adds one sequence: the target prompt (index, tokens) and its output.
 * records may be NULL (tokens only); full: with the top-k ids and logits of
 * every step. */
LC_API lc_status lc_run_record_add(lc_run_record *r, int32_t prompt_index, const lc_prompt *prompt,
                                   const int32_t *tokens, int32_t n, const lc_token_record *records,
                                   int full);
/* The record as one line of compact JSON (no newline); release with
 * lc_string_free. */
LC_API lc_status lc_run_record_json(const lc_run_record *r, char **json);
LC_API void lc_run_record_free(lc_run_record *r);

/* The run's logits_hash: XXH3-128 over, per generated token, its
 * LC_CAPTURE_TOP_K largest logits followed by the 64-bit hash of its whole
 * logit vector (docs/metrics.md). */
LC_API lc_status lc_hash_token_records(const lc_token_record *recs, int32_t n,
                                       char hex[LC_HASH_HEX_LEN]);

/* ======================================================================== *
 *  The sweep: an accuracy-variance study
 * ======================================================================== */

/* Progress: `done` of `total` target generations finished. */
typedef void (*lc_progress_fn)(void *user, int64_t done, int64_t total);

/* Grid: backends x modes (a "group" each) x batch sizes x positions x
 * repeats (a "run" each).  In a run every prompt is, in turn, the target row
 * at the cell's position of a batch of the cell's size. */
typedef struct lc_sweep_params {
  const char *model;          /* checkpoint path */
  const lc_backend *backends; /* [n_backends] */
  int32_t n_backends;
  const lc_mode *modes; /* [n_modes] */
  int32_t n_modes;
  const int32_t *batch_sizes; /* [n_batch_sizes], each >= 1 */
  int32_t n_batch_sizes;
  const char *const *positions; /* [n_positions]: first|middle|last|number */
  int32_t n_positions;
  const int32_t *tp_degrees; /* [n_tp_degrees], each >= 1: emulated tensor
                                parallelism (lc_session_params.tp), a grid axis
                                like the batch size; default {1} */
  int32_t n_tp_degrees;
  int32_t repeats;               /* >= 1 runs per cell */
  const lc_prompt_list *prompts; /* >= 1 prompt */
  int32_t max_new;               /* >= 0 */
  lc_stop_set stop;              /* empty: none */
  lc_gen_params gen;
  lc_dtype kv_dtype;
  int random_neighbours; /* 0: the other prompts, cycled; 1: random */
  uint64_t neighbour_seed;
  int device;              /* CUDA device */
  int cpu_threads;         /* CPU threads (lc_context_params) */
  int require_all;         /* 1: a backend/mode unavailable here is an
                              error; 0: its group is skipped */
  const char *out_dir;     /* NULL: no files; else runs.jsonl and the
                              summaries (lc_sweep_write_summary) */
  int resume;              /* 1: continue from out_dir's records */
  lc_progress_fn progress; /* NULL: none */
  void *progress_user;
  /* Text: with a tokenizer every record's sequence carries its decoded
   * "text" (special tokens skipped), and a prompt with a text answer is
   * scored by extracting an answer of answer_kind from that text
   * (docs/metrics.md); prompts with a text answer need a tokenizer. */
  const lc_tokenizer *tokenizer; /* NULL: no text */
  lc_answer_kind answer_kind;    /* default LC_ANSWER_NUMBER */
} lc_sweep_params;

/* Defaults: CPU strict and reference, batch sizes 1, 8, 32, positions
 * first and last, 1 repeat, 32 new tokens, no stop, greedy, f32 KV cache,
 * the prompts' own neighbours (seed 1), device 0, 1 thread. */
LC_API void lc_sweep_params_default(lc_sweep_params *p);

/* One run's output for one prompt. */
typedef struct lc_sweep_output {
  int32_t *tokens;  /* [n] */
  float *top1_prob; /* [n] */
  float *margin;    /* [n] */
  int32_t n;
  char tokens_hash[LC_HASH_HEX_LEN];
  char logits_hash[LC_HASH_HEX_LEN];
} lc_sweep_output;

typedef struct lc_sweep_cell {
  int32_t batch, position, repeat;
  const char *label; /* the position as given */
  int32_t tp;        /* tensor-parallel degree */
} lc_sweep_cell;

typedef struct lc_sweep_group {
  lc_backend backend;
  lc_mode mode;
  int available; /* 0: skipped, skip_reason says why */
  char skip_reason[256];
  int32_t n_runs;        /* cells x repeats */
  lc_sweep_cell *cells;  /* [n_runs] */
  lc_sweep_output *out;  /* [n_runs][n_prompts] */
  int8_t *correct;       /* [n_runs][n_prompts]: 1 right, 0 wrong, -1 no answer */
  lc_prompt_metrics *pm; /* [n_prompts] */
  lc_group_metrics gm;
  int have_metrics;
} lc_sweep_group;

typedef struct lc_sweep_result {
  lc_sweep_group *groups; /* [n_groups]: backends x modes, in that order */
  int32_t n_groups;
  int32_t n_prompts;
  int32_t max_new;
  int64_t n_generated; /* target generations run now */
  int64_t n_resumed;   /* ... taken from earlier records (resume) */
  char notes[1024];    /* what was skipped and why ("" if nothing) */
  double seconds;
} lc_sweep_result;

/* Runs the grid.  Everything is validated before anything is written: the
 * grid (a position that exists in no batch leaves it without runs:
 * LC_ERR_INVALID_ARGUMENT), the prompts against the model (vocabulary,
 * prompt + max_new within the model's positions).  A group whose backend or
 * mode is not available here (no GPU, a CPU-only mode on CUDA) is skipped
 * and named in notes, unless require_all; when no group can run at all the
 * call fails with that group's status (LC_ERR_NO_DEVICE, LC_ERR_UNSUPPORTED).
 *
 * With out_dir: records are appended run by run to
 * out_dir/runs.jsonl.partial; when the grid is done the summaries are
 * written, then the records renamed to runs.jsonl.  An interrupted or
 * failed sweep (out of memory, a full disk: LC_ERR_IO) leaves only the
 * .partial file (removed when it holds no record); a new sweep into that folder fails
 * (LC_ERR_INVALID_ARGUMENT) unless resume, which checks that the records were made with the same
 * setup (else LC_ERR_MISMATCH, naming the field), keeps them (a cut last line is dropped) and runs
 * only the missing runs.  resume on a finished runs.jsonl runs nothing and rewrites the summaries.
 */
LC_API lc_status lc_sweep_run(const lc_sweep_params *p, lc_sweep_result **out);
LC_API void lc_sweep_result_free(lc_sweep_result *r);

/* 1 when groups a and b produced the same tokens and captured logits
 * (bitwise, by their hashes) for every prompt in every run; 0 otherwise or
 * when either group did not run. */
LC_API int lc_sweep_groups_agree(const lc_sweep_result *r, int32_t a, int32_t b);

/* Writes dir/summary.json, summary.csv and summary_prompts.csv
 * (docs/metrics.md), each atomically; a failure (LC_ERR_IO,
 * LC_ERR_OUT_OF_MEMORY) leaves none of the three. */
LC_API lc_status lc_sweep_write_summary(const lc_sweep_result *r, const lc_sweep_params *p,
                                        const char *dir);

/* ======================================================================== *
 *  One matmul row inside batches of many sizes (the demo's first experiment)
 * ======================================================================== */

#define LC_PROBE_SIZES 23 /* M = 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, ... 255, 256, 257 */
#define LC_PROBE_MAX_MODES 8

typedef struct lc_probe_params {
  int64_t k, n;  /* W: n x k, 1 .. 2^20 each */
  uint64_t seed; /* weights, the probe row and the other rows */
  lc_backend backend;
  int device, cpu_threads;
  const lc_mode *modes; /* [n_modes], 1 .. LC_PROBE_MAX_MODES */
  int32_t n_modes;
} lc_probe_params;

typedef struct lc_probe_mode {
  lc_mode mode;
  int32_t distinct;    /* distinct bit patterns of the probe row's result */
  double max_normwise; /* max ||row - first mode's row at M = 1|| / ||that row|| */
  double seconds;      /* time in lc_matmul, all batches */
} lc_probe_mode;

typedef struct lc_probe_result {
  int64_t sizes[LC_PROBE_SIZES];
  lc_probe_mode modes[LC_PROBE_MAX_MODES];
  int32_t n_modes;
} lc_probe_result;

/* y = x W^T (W random, rounded to bf16) for batches of each size M, with one
 * fixed probe row at the first and the last position and random other rows,
 * in each mode: strict promises one distinct result; the others promise
 * nothing.  The statuses of lc_context_create and lc_matmul. */
LC_API lc_status lc_matmul_probe(const lc_probe_params *p, lc_probe_result *out);

/* ======================================================================== *
 *  Teacher-forced replay: one configuration's tokens under another
 * ======================================================================== */

/* A configuration: backend, mode, and where the target row sits in a batch
 * of random neighbours drawn from seed. */
typedef struct lc_replay_side {
  lc_backend backend;
  lc_mode mode;
  int32_t batch;    /* >= 1 */
  int32_t position; /* 0 .. batch - 1 */
  uint64_t seed;    /* the neighbours' seed */
  int32_t tp;       /* tensor-parallel degree (lc_session_params.tp); 0 or 1: none */
} lc_replay_side;

typedef struct lc_replay_params {
  const char *model;
  lc_replay_side a, b;
  int device, cpu_threads;
  int32_t max_new;       /* tokens A generates greedily (when none are given) */
  lc_stop_set stop;      /* empty: none */
  int32_t prefill_chunk; /* replay (and A's generation) in chunks; 0: one prefill */
} lc_replay_params;

/* Defaults: A CPU strict, B CPU reference, batch 1, row 0, seeds 1 and 2,
 * 32 new tokens, no stop, one prefill. */
LC_API void lc_replay_params_default(lc_replay_params *p);

typedef struct lc_replay lc_replay;

/* Opens the contexts and the model of both sides (one context when they
 * share backend and mode).  The statuses of lc_context_create and
 * lc_model_load. */
LC_API lc_status lc_replay_create(const lc_replay_params *p, lc_replay **out);
LC_API void lc_replay_free(lc_replay *r);
/* The model's configuration (for vocabulary checks and headers). */
LC_API const lc_model_config *lc_replay_model_config(const lc_replay *r);

/* One generated position: the logits at pos predict the token at pos + 1. */
typedef struct lc_replay_step {
  int32_t step, pos, token; /* token: A's token at pos + 1 */
  double max_abs;           /* max |logit_A - logit_B| (Inf: NaN on one side) */
  int32_t top1_a, top1_b;
  float margin_a, margin_b; /* top-1 minus top-2 logit */
  int32_t first_layer;      /* first layer whose hidden state at pos differs; -1 none */
  int logits_equal;         /* bitwise */
} lc_replay_step;

/* Layers: 0 .. n_layers - 1 are the residual after each layer; n_layers is
 * the final RMSNorm's output. */
typedef struct lc_replay_result {
  int32_t prompt_index, prompt_len, n_generated;
  const char *tokens_source; /* "generated by A (greedy)", "given" */
  lc_replay_step *steps;     /* [n_generated] */
  int32_t n_layers;
  int32_t *layer_ndiff;  /* [n_layers + 1] positions whose hidden state differs */
  int32_t *layer_first;  /* [n_layers + 1] first such position, -1 none */
  int32_t first_layer;   /* lowest layer with a difference, -1 none */
  int32_t first_pos;     /* its first position */
  int32_t logits_ndiff;  /* positions whose logits differ in bits */
  int32_t n_flips;       /* generated positions whose top-1 differs */
  int32_t replay_misses; /* A's replay top-1 != A's generated token */
  double max_abs;
} lc_replay_result;

/* Replays one prompt: A generates max_new tokens greedily (given NULL), or
 * takes given[0..n_given); then prompt + tokens run teacher-forced under A
 * and under B and are compared position by position and layer by layer.
 * LC_ERR_OUT_OF_RANGE (a token past the vocabulary, prompt + tokens past the
 * model's positions, naming which), LC_ERR_OUT_OF_MEMORY and the statuses of
 * the forward pass. */
LC_API lc_status lc_replay_run(lc_replay *r, const lc_prompt *prompt, int32_t prompt_index,
                               const int32_t *given, int32_t n_given, lc_replay_result **out);
LC_API void lc_replay_result_free(lc_replay_result *res);

/* The result as an indented JSON object (release with lc_string_free):
 * {"prompt", "prompt_len", "n_generated", "tokens_source", "steps": [{"step",
 * "pos" (the predicted token's position), "token", "max_abs_dlogit",
 * "top1_a", "top1_b", "flip", "margin_a", "margin_b", "first_diff_layer",
 * "logits_equal"}], "layers": [{"layer", "final_norm", "n_diff_positions",
 * "first_position"}], "first_diff": {"layer", "position"} or null,
 * "logits_diff_positions", "flips", "max_abs_dlogit", "replay_misses",
 * "identical"}; non-finite numbers are null. */
LC_API lc_status lc_replay_result_json(const lc_replay_result *res, char **json);

/* A record file's run `index` (0-based among non-blank lines) as token lists:
 * the tokens of prompt `prompt_index` in it.  LC_ERR_NOT_FOUND, LC_ERR_FORMAT,
 * LC_ERR_OUT_OF_RANGE (no such run or prompt); *tokens malloc'ed (free()). */
LC_API lc_status lc_run_record_read_tokens(const char *path, int32_t index, int32_t prompt_index,
                                           int32_t **tokens, int32_t *n);

/* ======================================================================== *
 *  Verification: ops, model, records
 * ======================================================================== */

/* ---- ops and model: the promises of docs/numerics.md, checked here ---- */

/* Three computations of the same inputs: CPU <mode>, CPU reference and CUDA
 * <mode>, where the mode under test is strict (the default), fast or bf16
 * (the modes that promise the same bits on both backends; fast and bf16
 * change lc_matmul only, every other op runs the strict order in them).  Two
 * checks:
 *   the GPU half  CUDA <mode> must equal CPU <mode> bit for bit
 *                 (docs/numerics.md 8, 10);
 *   the CPU half  CPU reference must lie within a bound of CPU <mode> that
 *                 is derived from the two orders of operations (each bound's
 *                 derivation is written beside it in lib/verify_ops.c; in
 *                 fast and bf16 the matmul rows take the fast order's bound,
 *                 lc_bound_matmul_fast_*, the other rows strict's), with
 *                 the rule of docs/numerics.md 9 (NaN agrees only with NaN).
 * The report's fields named after strict (worst_strict, "strict" in the
 * model's texts) hold CPU <mode>'s values.
 * The GPU half needs a CUDA build and a usable GPU.  Without one it is
 * SKIPPED and the report says so (lc_verify_gpu.ran == 0) and why: such a
 * report checked the CPU half only and must not be shown as a plain pass.
 * With require_gpu a missing GPU is an error instead (LC_ERR_NO_DEVICE).
 * A check that fails is not an error: the call returns LC_OK with the
 * failing rows marked and n_fail > 0.  Each call creates and frees its own
 * contexts (the CPU reference one pins OpenBLAS to one thread, a
 * process-wide setting: docs/numerics.md 7). */

/* The GPU half of a report. */
typedef struct lc_verify_gpu {
  int ran;                /* 1: CUDA strict ran and was compared; 0: SKIPPED */
  char skip_reason[512];  /* why it was skipped ("" when it ran) */
  char name[256];         /* the GPU ("" when skipped) */
  int cc_major, cc_minor; /* its compute capability */
} lc_verify_gpu;

typedef enum lc_verify_shapes {
  LC_VERIFY_SHAPES_SMALL = 0, /* shapes that cross the segment and partition
                                 edges; about a second on a CPU */
  LC_VERIFY_SHAPES_MODEL = 1  /* Llama 3 8B's layers (d_model 4096, d_ff 14336,
                                 vocab 128256, 32/8 heads of 128); tens of
                                 seconds on a CPU */
} lc_verify_shapes;

typedef struct lc_verify_ops_params {
  lc_verify_shapes shapes;
  uint64_t seed;   /* the inputs' seed */
  int device;      /* CUDA device of the GPU half (>= 0) */
  int require_gpu; /* 1: no usable GPU is LC_ERR_NO_DEVICE; 0: GPU half SKIPPED */
  lc_mode mode;    /* the mode under test: LC_MODE_STRICT, LC_MODE_FAST or
                      LC_MODE_BF16 (others: LC_ERR_INVALID_ARGUMENT) */
} lc_verify_ops_params;

/* Defaults: small shapes, seed 1, device 0, require_gpu 0, strict. */
LC_API void lc_verify_ops_params_default(lc_verify_ops_params *p);

/* One op on one shape. */
typedef struct lc_verify_op_row {
  char op[32];    /* "matmul", "matmul + bias", "rmsnorm", "rope", "kv_write",
                     "attention", "silu_mul", "add", "round_bf16", "embedding",
                     "softmax", "log_softmax", "argmax" */
  char shape[80]; /* "M=7 K=600 N=65" */
  int64_t n;      /* elements compared */
  /* GPU half: CUDA <mode> vs CPU <mode>, bit for bit (gpu_ran 0: SKIPPED) */
  int gpu_ran;
  int64_t gpu_ndiff;                   /* elements whose bits differ; 0 passes */
  int64_t gpu_first_diff;              /* the first of them; -1 none */
  float gpu_first_cuda, gpu_first_cpu; /* its two values */
  /* CPU half: CPU reference vs CPU <mode>, within the bound */
  int exact;                     /* 1: the bound is 0 (the same value required) */
  char bound[64];                /* the bound, as a formula: "(gamma_258 + gamma_600) sum|x w|";
                                    fast and bf16 matmul rows: "(c_fast + gamma_600) sum|x w|
                                    + a_fast" (lc_bound_matmul_fast_coeff, _abs) */
  double ratio;                  /* max over elements of |ref - <mode>| / bound (0: equal;
                                    +Inf: NaN or Inf on one side, or a difference against a
                                    zero bound); <= 1 passes */
  int64_t worst;                 /* the first element attaining ratio; -1 when n == 0 */
  float worst_strict, worst_ref; /* its two values (worst_strict: CPU <mode>'s) */
  double worst_bound;            /* the bound there (0 when exact) */
  int fail;                      /* gpu_ndiff > 0 or ratio > 1 */
} lc_verify_op_row;

typedef struct lc_verify_ops_report {
  lc_verify_shapes shapes;
  uint64_t seed;
  lc_mode mode; /* the mode under test (params.mode) */
  lc_verify_gpu gpu;
  lc_verify_op_row *rows; /* [n_rows] in the order the ops ran */
  int32_t n_rows;
  int32_t n_fail; /* rows that failed */
} lc_verify_ops_report;

/* Runs every op of layercast.h (matmul with and without a bias at two
 * shapes, rmsnorm, rope in both styles, kv_write and attention over three
 * sequences, silu_mul, add, round_bf16, embedding, softmax, log_softmax,
 * argmax) on random inputs from the seed in the three computations, and
 * compares them.  LC_ERR_INVALID_ARGUMENT (NULL, an unknown shapes value, a
 * negative device, a mode other than strict, fast or bf16), LC_ERR_NO_DEVICE (require_gpu and no
 * usable GPU: the message says why), LC_ERR_OUT_OF_MEMORY, and the status of an op or a context
 * that failed to run (the message names it). */
LC_API lc_status lc_verify_ops(const lc_verify_ops_params *p, lc_verify_ops_report **out);
LC_API void lc_verify_ops_report_free(lc_verify_ops_report *r); /* NULL accepted */

/* The default bound of lc_verify_model on ||ref - strict||_2 / ||strict||_2
 * over one position's logits.  Not derived: a whole model has no useful
 * a-priori bound.  Each op's reference-vs-strict difference is a few u
 * relative (lc_verify_ops's bounds, ~1e-6 at these sizes); residual layers
 * carry it forward with growth of order 10 per layer in trained models.
 * 2^-10 is some 200 times what was measured (stories260K: 5.7e-6), yet
 * catches any real disagreement (a wrong op gives O(1)).
 * The same bound serves fast: its matmul differs from strict's by ~1e-7
 * relative per matmul (docs/numerics.md 10.3; normwise against float64 it is
 * no worse than strict's), so ||ref - fast|| stays at strict's scale. */
#define LC_VERIFY_MODEL_RTOL 0x1p-10

/* The bound to give lc_verify_model for bf16 (the CLI's default there; the
 * library takes rtol as given, so a caller testing bf16 sets it).  Not
 * derived either: bf16 rounds every matmul's x to 8 bits (2^-9 relative,
 * some 2^15 times fp32's u), and a model amplifies a per-op difference as it
 * does strict's: measured ||ref - bf16|| / ||bf16|| 5e-3 on the tiny synthetic
 * model (layercast synth --preset tiny) and 0.08 to 0.18 on stories260K
 * (seeds 1-3, 8 and 64 decode steps).  2^-1 is some 3 times the largest of
 * those: it still catches a wrong op (uncorrelated logits of one norm differ
 * by ~1.4), but no subtle error; the GPU half (bit for bit) is bf16's real
 * check, and lc_verify_ops bounds its matmul. */
#define LC_VERIFY_MODEL_RTOL_BF16 0x1p-1

/* Sequences of lc_verify_model, and their prompt lengths: 5, 23 and 40. */
#define LC_VERIFY_MODEL_SEQS 3

typedef struct lc_verify_model_params {
  const char *model; /* checkpoint path (llama2.c .bin, Hugging Face folder) */
  int32_t tokens;    /* decode steps after each prompt, 0 .. 4096 */
  int32_t chunk;     /* prefill chunk, 1 .. 4096 */
  uint64_t seed;     /* the tokens' seed */
  double rtol;       /* the normwise bound, > 0 (for bf16:
                        LC_VERIFY_MODEL_RTOL_BF16) */
  int device;        /* CUDA device of the GPU half (>= 0) */
  int require_gpu;   /* 1: no usable GPU is LC_ERR_NO_DEVICE; 0: SKIPPED */
  lc_mode mode;      /* the mode under test: LC_MODE_STRICT, LC_MODE_FAST or
                        LC_MODE_BF16 (others: LC_ERR_INVALID_ARGUMENT) */
  int32_t tp;        /* the runs of the mode under test (CPU and CUDA) at this
                        tensor-parallel degree, emulated; the reference at 1;
                        0 or 1: none */
} lc_verify_model_params;

/* Defaults: no model, 8 decode steps, chunks of 16, seed 1,
 * LC_VERIFY_MODEL_RTOL, device 0, require_gpu 0, strict. */
LC_API void lc_verify_model_params_default(lc_verify_model_params *p);

/* One prefill chunk or decode step of one sequence. */
typedef struct lc_verify_model_row {
  int32_t seq;   /* 0 .. LC_VERIFY_MODEL_SEQS - 1 */
  int32_t pos;   /* first position */
  int32_t n_pos; /* positions pos .. pos + n_pos - 1 */
  int prefill;   /* 1: a prefill chunk; 0: a decode step */
  /* GPU half: CUDA <mode> vs CPU <mode> (gpu_ran 0: SKIPPED) */
  int gpu_ran;
  int64_t gpu_n;       /* logits compared: n_pos * vocab */
  int64_t gpu_ndiff;   /* of them, those whose bits differ */
  int32_t first_layer; /* lowest layer whose output differs in bits at one of
                          the positions (n_layers: the final norm); -1 none */
  /* CPU half: CPU reference vs CPU <mode> ("strict" below) */
  double rel; /* largest ||ref - strict|| / ||strict|| of a position's
                 logits (||ref - strict|| where strict is 0) */
  int fail;   /* gpu_ndiff > 0, first_layer >= 0 or !(rel <= rtol) */
} lc_verify_model_row;

typedef struct lc_verify_model_report {
  lc_mode mode; /* the mode under test (params.mode) */
  int32_t prompt_len[LC_VERIFY_MODEL_SEQS];
  int32_t tokens, chunk;
  int32_t n_layers, vocab;
  double rtol;
  lc_verify_gpu gpu;
  lc_verify_model_row *rows; /* [n_rows]: sequence by sequence, in position order */
  int32_t n_rows;
  int32_t n_fail;
  /* GPU half: any bit difference, and the lowest layer that differed with
   * where it did first (-1: none, or only logits differed) */
  int gpu_differs;
  int32_t first_layer, first_seq, first_pos;
  double worst_rel; /* CPU half: the largest rel of all rows */
} lc_verify_model_report;

/* Runs LC_VERIFY_MODEL_SEQS sequences of random tokens from the seed
 * (reduced modulo the vocabulary) in one batch, teacher forced, through the
 * whole model in the three computations: each step feeds every unfinished
 * sequence up to `chunk` prompt tokens, then one token per step.  Compares
 * per position the logits (and, GPU half, every layer's output) of CUDA
 * <mode> to CPU <mode> bit for bit, and CPU reference to CPU <mode> within
 * rtol, normwise.  LC_ERR_INVALID_ARGUMENT (NULL, a value out of range, a
 * mode other than strict, fast or bf16),
 * LC_ERR_NO_DEVICE (require_gpu, no usable GPU), the statuses of
 * lc_model_load and of the forward pass (the message names the computation),
 * LC_ERR_OUT_OF_MEMORY. */
LC_API lc_status lc_verify_model(const lc_verify_model_params *p, lc_verify_model_report **out);
LC_API void lc_verify_model_report_free(lc_verify_model_report *r); /* NULL accepted */

/* ---- records: two runs.jsonl files, maybe from two machines ---- */

/* One matched sequence whose tokens differ. */
typedef struct lc_records_diff {
  char key[160]; /* "backend mode batch=B pos=P prompt=I rep=R" */
  char mode[32];
  int32_t div_index; /* first differing token, -1 when only hashes differ */
  int fail;          /* 1: a mode that promises equal bits (strict, fast, bf16) */
} lc_records_diff;

typedef struct lc_records_mode {
  char mode[32];
  int32_t matched, same;
  int bitwise_promised;
} lc_records_mode;

typedef struct lc_records_report {
  int64_t n_a, n_b; /* sequences in each file */
  int64_t n_matched, n_same, n_unmatched;
  lc_records_diff *diffs; /* [n_diffs] */
  int64_t n_diffs;
  lc_records_mode *modes; /* [n_modes] per mode */
  int32_t n_modes;
  char *fingerprint_diff; /* "key: a | b" lines, "" when identical */
  int n_fail;             /* sequences that broke a bitwise promise */
} lc_records_report;

/* Matches the sequences of two record files by cell (backend, mode, batch,
 * position, repeat) and prompt.  Both files must hold records of one setup:
 * else LC_ERR_MISMATCH, with every differing setup field named (records made
 * with other weights, prompts or generation settings are not comparable:
 * they are never reported as a reproducibility failure).  LC_ERR_NOT_FOUND,
 * LC_ERR_FORMAT (older record versions without a setup included),
 * LC_ERR_MISMATCH too when no sequence of A matches one of B (nothing to
 * compare). */
LC_API lc_status lc_verify_records(const char *path_a, const char *path_b, lc_records_report **out);
LC_API void lc_records_report_free(lc_records_report *r);

#ifdef __cplusplus
}
#endif
#endif /* LAYERCAST_EXPERIMENT_H */
