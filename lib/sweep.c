/*
 * lib/sweep.c — the accuracy-variance sweep (layercast_experiment.h).
 *
 * Grid: backends x modes (a "group" each) x batch sizes x positions x
 * repeats (a "run" each).  In a run every prompt is, in turn, the target row
 * at the cell's position of a batch of the cell's size (one target per
 * batch, so positions stay honest); the neighbours are the other prompts,
 * cycled from the target's successor, or random prompts from a seed.  Per
 * group, each prompt's runs are compared with the metrics of
 * layercast_metrics.h (docs/metrics.md).
 *
 * Order of work: validate the parameters and the grid; open the first group
 * that is available here and check the prompts against its model; only then
 * touch out_dir.  Records go to runs.jsonl.partial, one line per run,
 * flushed, so that an interrupted sweep keeps every finished run and
 * `resume` can continue it; the file becomes runs.jsonl at the end.
 */
#define _POSIX_C_SOURCE 200809L /* truncate */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/exp_internal.h"

static const char FN[] = "lc_sweep_run";

void lc_sweep_params_default(lc_sweep_params *p) {
  static const lc_backend backends[] = {LC_BACKEND_CPU};
  static const lc_mode modes[] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  static const int32_t batches[] = {1, 8, 32};
  static const char *const positions[] = {"first", "last"};
  static const int32_t tp1[] = {1};
  if (!p) return;
  memset(p, 0, sizeof *p);
  p->backends = backends;
  p->n_backends = 1;
  p->modes = modes;
  p->n_modes = 2;
  p->batch_sizes = batches;
  p->n_batch_sizes = 3;
  p->positions = positions;
  p->n_positions = 2;
  p->tp_degrees = tp1;
  p->n_tp_degrees = 1;
  p->repeats = 1;
  p->max_new = 32;
  lc_sampler_params_default(&p->gen.sampler);
  p->kv_dtype = LC_DTYPE_F32;
  p->neighbour_seed = 1;
  p->cpu_threads = 1;
  p->answer_kind = LC_ANSWER_NUMBER;
}

static void free_outputs(lc_sweep_group *G, int32_t np) {
  if (G->out)
    for (int64_t i = 0; i < (int64_t)G->n_runs * np; i++) {
      free(G->out[i].tokens);
      free(G->out[i].top1_prob);
      free(G->out[i].margin);
    }
  free(G->out);
  G->out = NULL;
}

void lc_sweep_result_free(lc_sweep_result *res) {
  if (!res) return;
  for (int32_t g = 0; res->groups && g < res->n_groups; g++) {
    lc_sweep_group *G = &res->groups[g];
    free_outputs(G, res->n_prompts);
    free(G->cells);
    free(G->pm);
    free(G->correct);
  }
  free(res->groups);
  free(res);
}

static void note(lc_sweep_result *res, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void note(lc_sweep_result *res, const char *fmt, ...) {
  size_t used = strlen(res->notes);
  if (used + 2 >= sizeof res->notes) return;
  if (used) res->notes[used++] = '\n';
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(res->notes + used, sizeof res->notes - used, fmt, ap);
  va_end(ap);
}

/* ---- the grid -----------------------------------------------------------------*/

static lc_status check_params(const lc_sweep_params *p) {
  if (!p->model || !p->prompts || p->prompts->n < 1 || !p->backends || !p->modes ||
      !p->batch_sizes || !p->positions || !p->tp_degrees)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "%s: need a model, at least one prompt, backends, modes, batch sizes, "
                   "positions and tp degrees",
                   FN);
  if (p->n_backends < 1 || p->n_modes < 1 || p->n_batch_sizes < 1 || p->n_positions < 1 ||
      p->n_tp_degrees < 1 || p->repeats < 1 || p->max_new < 0 || p->stop.n < 0 ||
      p->stop.n > LC_MAX_STOP_TOKENS || p->device < 0 || p->cpu_threads < 0 ||
      (p->kv_dtype != LC_DTYPE_F32 && p->kv_dtype != LC_DTYPE_BF16))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "%s: need >= 1 backend, mode, batch size and position, repeats >= 1, max_new "
                   ">= 0, 0 to LC_MAX_STOP_TOKENS stop ids and kv_dtype f32 or bf16",
                   FN);
  for (int32_t i = 0; i < p->n_batch_sizes; i++)
    if (p->batch_sizes[i] < 1 || p->batch_sizes[i] > (1 << 16))
      return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: batch size %d is not in [1, 65536]", FN,
                     (int)p->batch_sizes[i]);
  for (int32_t i = 0; i < p->n_tp_degrees; i++)
    if (p->tp_degrees[i] < 1 || p->tp_degrees[i] > 1024)
      return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: tp degree %d is not in [1, 1024]", FN,
                     (int)p->tp_degrees[i]);
  for (int32_t i = 0; i < p->n_positions; i++)
    if (lc_position_resolve(p->positions[i], INT32_MAX) < 0)
      return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                     "%s: position '%s' is not first, middle, last or a number >= 0", FN,
                     p->positions[i] ? p->positions[i] : "(null)");
  for (int32_t i = 0; i < p->n_backends; i++)
    if (p->backends[i] != LC_BACKEND_CPU && p->backends[i] != LC_BACKEND_CUDA)
      return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: unknown backend %d", FN,
                     (int)p->backends[i]);
  for (int32_t q = 0; q < p->prompts->n; q++)
    if (p->prompts->v[q].answer_text && !p->prompts->v[q].answer && !p->tokenizer)
      return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                     "%s: prompt %d has a text answer: scoring it needs the model's tokenizer to "
                     "decode the outputs",
                     FN, (int)q);
  if (p->tokenizer && !strcmp(lc_answer_kind_name(p->answer_kind), "unknown"))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: unknown answer kind %d", FN,
                   (int)p->answer_kind);
  return LC_OK;
}

/* The cells every group runs: batch sizes x tp degrees x distinct resolved
 * positions x repeats; positions that a batch lacks are skipped with a note. */
static lc_status make_cells(const lc_sweep_params *p, lc_sweep_result *res, lc_sweep_cell **out,
                            int32_t *n_out) {
  int64_t cap = (int64_t)p->n_batch_sizes * p->n_tp_degrees * p->n_positions * p->repeats;
  if (cap > INT32_MAX) /* a group counts its runs in an int32 */
    return LC_FAIL(NULL, LC_ERR_OVERFLOW,
                   "%s: %d batch sizes x %d tp degrees x %d positions x %d repeats = %lld runs "
                   "per group, more than 2^31-1",
                   FN, (int)p->n_batch_sizes, (int)p->n_tp_degrees, (int)p->n_positions,
                   (int)p->repeats, (long long)cap);
  lc_sweep_cell *cells = lc_calloc((size_t)(cap > 0 ? cap : 1), sizeof *cells);
  if (!cells) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  int32_t n = 0;
  for (int32_t b = 0; b < p->n_batch_sizes * p->n_tp_degrees; b++) {
    const int32_t B = p->batch_sizes[b / p->n_tp_degrees];
    const int32_t tp = p->tp_degrees[b % p->n_tp_degrees];
    for (int32_t q = 0; q < p->n_positions; q++) {
      const int32_t pos = lc_position_resolve(p->positions[q], B);
      if (pos < 0) {
        note(res, "position '%s' does not exist in a batch of %d: skipped", p->positions[q],
             (int)B);
        continue;
      }
      int dup = 0; /* e.g. first and last of a batch of 1 */
      for (int32_t i = 0; i < n && !dup; i++)
        dup = cells[i].batch == B && cells[i].tp == tp && cells[i].position == pos;
      if (dup) continue;
      for (int32_t r = 0; r < p->repeats; r++)
        cells[n++] = (lc_sweep_cell){B, pos, r, p->positions[q], tp};
    }
  }
  if (n == 0) {
    free(cells);
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "%s: the grid has no runs: none of the positions exists in any of the batch "
                   "sizes",
                   FN);
  }
  *out = cells;
  *n_out = n;
  return LC_OK;
}

/* ---- a group's context and model ------------------------------------------------*/

typedef struct open_group {
  lc_context *ctx;
  lc_model *model;
  int32_t g; /* the group they belong to, -1: none */
} open_group;

static void close_group(open_group *o) {
  lc_model_free(o->model);
  lc_context_free(o->ctx);
  o->ctx = NULL;
  o->model = NULL;
  o->g = -1;
}

/* Opens group G's context and the model.  LC_ERR_UNSUPPORTED and
 * LC_ERR_NO_DEVICE from the context mean "not available here". */
static lc_status open_group_ctx(const lc_sweep_params *p, const lc_sweep_group *G, int32_t g,
                                open_group *o) {
  lc_context_params cp;
  lc_context_params_default(&cp);
  cp.backend = G->backend;
  cp.mode = G->mode;
  cp.device = p->device;
  cp.cpu_threads = p->cpu_threads;
  LC_TRY(lc_context_create(&cp, &o->ctx));
  lc_status st = lc_model_load(o->ctx, p->model, NULL, &o->model);
  if (st != LC_OK) {
    /* the context's message, kept in the thread's buffer for the caller */
    char msg[LC_ERR_LEN];
    snprintf(msg, sizeof msg, "%s", lc_last_error(o->ctx));
    lc_context_free(o->ctx);
    o->ctx = NULL;
    return LC_FAIL(NULL, st, "loading '%s': %s", p->model, msg);
  }
  o->g = g;
  return LC_OK;
}

static int unavailable(lc_status st) {
  return st == LC_ERR_UNSUPPORTED || st == LC_ERR_NO_DEVICE;
}

/* ---- outputs --------------------------------------------------------------------*/

static lc_status keep_output(lc_sweep_output *o, const int32_t *toks, const lc_token_record *recs,
                             int32_t n) {
  size_t k = (size_t)(n > 0 ? n : 1);
  o->tokens = lc_malloc(k * sizeof *o->tokens);
  o->top1_prob = lc_malloc(k * sizeof *o->top1_prob);
  o->margin = lc_malloc(k * sizeof *o->margin);
  if (!o->tokens || !o->top1_prob || !o->margin)
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  o->n = n;
  for (int32_t i = 0; i < n; i++) {
    o->tokens[i] = toks[i];
    o->top1_prob[i] = recs[i].top1_prob;
    o->margin[i] = recs[i].margin;
  }
  LC_TRY(lc_hash_tokens(toks, n, o->tokens_hash));
  return lc_hash_token_records(recs, n, o->logits_hash);
}

/* A run's outputs from its record (resume). */
static lc_status outputs_from_record(const json_t *rec, long lineno, const char *path,
                                     lc_sweep_output *out, int32_t np) {
  const json_t *seqs = json_object_get(rec, "sequences");
  if ((int64_t)json_array_size(seqs) != np)
    return LC_FAIL(NULL, LC_ERR_FORMAT, "%s:%ld: %zu sequences, the sweep has %d prompts", path,
                   lineno, json_array_size(seqs), (int)np);
  for (size_t i = 0; i < json_array_size(seqs); i++) {
    const json_t *q = json_array_get(seqs, i), *pj = json_object_get(q, "prompt");
    const json_t *th = json_object_get(q, "tokens_hash"), *lh = json_object_get(q, "logits_hash");
    const int64_t pi = json_is_integer(pj) ? json_integer_value(pj) : -1;
    if (pi < 0 || pi >= np || out[pi].tokens || !json_is_string(th) || !json_is_string(lh) ||
        strlen(json_string_value(th)) != 32 || strlen(json_string_value(lh)) != 32)
      return LC_FAIL(NULL, LC_ERR_FORMAT,
                     "%s:%ld: sequence %zu lacks a prompt index, its hashes, or repeats a prompt",
                     path, lineno, i);
    lc_sweep_output *o = &out[pi];
    int32_t n = lc_json_ids(json_object_get(q, "tokens"), &o->tokens);
    int32_t n1 = lc_json_f32s(json_object_get(q, "top1_prob"), &o->top1_prob);
    int32_t n2 = lc_json_f32s(json_object_get(q, "margin"), &o->margin);
    if (n == -2 || n1 == -2 || n2 == -2)
      return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s:%ld: out of memory", path, lineno);
    if (n < 0 || n1 != n || n2 != n)
      return LC_FAIL(NULL, LC_ERR_FORMAT,
                     "%s:%ld: prompt %lld: tokens, top1_prob and margin are not arrays of one "
                     "length",
                     path, lineno, (long long)pi);
    o->n = n;
    memcpy(o->tokens_hash, json_string_value(th), LC_HASH_HEX_LEN);
    memcpy(o->logits_hash, json_string_value(lh), LC_HASH_HEX_LEN);
  }
  return LC_OK;
}

/* Whether the output answers prompt pr: 1 or 0; -1 when pr has no answer.
 * With a tokenizer *text is the decoded output (malloc'ed), else NULL; a
 * text answer is scored on it into *sc (zeroed when not scored). */
static lc_status score_output(const lc_sweep_params *p, const lc_prompt *pr, const int32_t *tokens,
                              int32_t n, int *correct, char **text, lc_answer_score *sc) {
  memset(sc, 0, sizeof *sc);
  *text = NULL;
  *correct = pr->answer ? lc_answer_found(tokens, n, pr->answer, pr->n_answer) : -1;
  if (!p->tokenizer) return LC_OK;
  LC_TRY(lc_decode_output(p->tokenizer, tokens, n, text));
  if (pr->answer_text && !pr->answer) {
    lc_status st = lc_answer_score_text(p->answer_kind, *text, strlen(*text), pr->answer_text, sc);
    if (st != LC_OK) {
      free(*text);
      *text = NULL;
      return st;
    }
    *correct = sc->correct;
  }
  return LC_OK;
}

static lc_status group_metrics(const lc_sweep_params *p, lc_sweep_group *G, int32_t np) {
  G->pm = lc_calloc((size_t)np, sizeof *G->pm);
  G->correct = lc_malloc((size_t)np * (size_t)G->n_runs);
  lc_run_output *ro = lc_malloc((size_t)G->n_runs * sizeof *ro);
  uint8_t *correct = lc_malloc((size_t)np * (size_t)G->n_runs), *has = lc_malloc((size_t)np);
  int any_answer = 0;
  lc_status st = LC_OK;
  if (!G->pm || !G->correct || !ro || !correct || !has)
    st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  for (int32_t q = 0; q < np && st == LC_OK; q++) {
    const lc_prompt *pr = &p->prompts->v[q];
    has[q] = pr->answer != NULL || pr->answer_text != NULL;
    any_answer |= has[q];
    int32_t n_correct = 0;
    for (int32_t r = 0; r < G->n_runs && st == LC_OK; r++) {
      const lc_sweep_output *o = &G->out[(size_t)r * np + q];
      ro[r] = (lc_run_output){o->tokens, o->n, o->top1_prob};
      int c = -1;
      char *text = NULL;
      lc_answer_score sc;
      st = score_output(p, pr, o->tokens, o->n, &c, &text, &sc);
      free(text);
      lc_answer_score_clear(&sc);
      G->correct[(size_t)r * np + q] = (int8_t)c;
      correct[(size_t)q * G->n_runs + r] = (uint8_t)(c > 0);
      n_correct += c > 0;
    }
    if (st == LC_OK)
      st = lc_prompt_metrics_compute(ro, G->n_runs, pr->answer, pr->n_answer, &G->pm[q]);
    if (st == LC_OK && has[q]) G->pm[q].n_correct = n_correct;
  }
  if (st == LC_OK)
    st = lc_group_metrics_compute(G->pm, np, G->n_runs, any_answer ? correct : NULL, has, &G->gm);
  if (st == LC_OK) G->have_metrics = 1;
  free(ro);
  free(correct);
  free(has);
  return st;
}

/* ---- the run --------------------------------------------------------------------*/

typedef struct sweep_state {
  const lc_sweep_params *p;
  lc_sweep_result *res;
  lc_run_setup setup;
  json_t *setup_json;
  const json_t **resumed; /* [n_groups][n_runs]: the record of a finished run, or NULL */
  long *resumed_line;
  lc_rec_file prior; /* the records resumed from */
  char *partial, *final_path;
  FILE *runs;        /* runs.jsonl.partial, appended */
  int64_t n_written; /* records in it (resumed and new) */
  open_group og;
  int64_t done, total;
} sweep_state;

static void progress(sweep_state *s, int64_t units) {
  s->done += units;
  if (s->p->progress) s->p->progress(s->p->progress_user, s->done, s->total);
}

/* Finds the run (group, cell) a record belongs to; -1 when it is not in the grid. */
static int64_t run_of(const sweep_state *s, const json_t *rec) {
  const json_t *c = json_object_get(rec, "cell");
  const char *be = json_string_value(json_object_get(c, "backend"));
  const char *mo = json_string_value(json_object_get(c, "mode"));
  const json_t *jb = json_object_get(c, "batch_size"), *jp = json_object_get(c, "position"),
               *jr = json_object_get(c, "repeat"), *jt = json_object_get(c, "tp");
  if (!be || !mo || !json_is_integer(jb) || !json_is_integer(jp) || !json_is_integer(jr)) return -1;
  /* records from before the tp axis have no "tp": degree 1 */
  const json_int_t tp = jt ? (json_is_integer(jt) ? json_integer_value(jt) : -1) : 1;
  for (int32_t g = 0; g < s->res->n_groups; g++) {
    const lc_sweep_group *G = &s->res->groups[g];
    if (strcmp(be, lc_backend_name(G->backend)) || strcmp(mo, lc_mode_name(G->mode))) continue;
    for (int32_t r = 0; r < G->n_runs; r++)
      if (G->cells[r].batch == json_integer_value(jb) &&
          G->cells[r].position == json_integer_value(jp) &&
          G->cells[r].repeat == json_integer_value(jr) && G->cells[r].tp == tp)
        return (int64_t)g * G->n_runs + r;
  }
  return -1;
}

/* Reads the records of an earlier, interrupted (or finished) sweep into
 * s->resumed and leaves runs.jsonl.partial holding exactly those lines. */
static lc_status load_prior(sweep_state *s, const char *path, int from_final) {
  LC_TRY(lc_rec_file_read(path, 1, &s->prior));
  for (int64_t i = 0; i < s->prior.n; i++) {
    const json_t *rec = s->prior.v[i].json;
    const long ln = s->prior.v[i].lineno;
    if (lc_rec_version(rec) != LC_RUN_RECORD_VERSION)
      return LC_FAIL(NULL, LC_ERR_MISMATCH,
                     "%s:%ld: record_version %d, this layercast writes %d: cannot resume it", path,
                     ln, lc_rec_version(rec), LC_RUN_RECORD_VERSION);
    char diff[400];
    if (lc_run_setup_diff(s->setup_json, json_object_get(rec, "setup"), diff, sizeof diff))
      return LC_FAIL(NULL, LC_ERR_MISMATCH,
                     "%s:%ld: the records were made with another setup, cannot resume: %s "
                     "(this sweep | the record)",
                     path, ln, diff);
    const int64_t at = run_of(s, rec);
    if (at < 0)
      return LC_FAIL(NULL, LC_ERR_MISMATCH,
                     "%s:%ld: a run outside this sweep's grid (another backend, mode, batch size, "
                     "position or repeat count): cannot resume",
                     path, ln);
    if (s->resumed[at])
      return LC_FAIL(NULL, LC_ERR_FORMAT, "%s:%ld: a second record of the same run", path, ln);
    s->resumed[at] = rec;
    s->resumed_line[at] = ln;
    s->n_written++;
  }

  if (from_final && rename(path, s->partial) != 0)
    return LC_FAIL(NULL, LC_ERR_IO, "%s: cannot rename '%s' to '%s'", FN, path, s->partial);
  if (s->prior.cut_tail && truncate(s->partial, s->prior.valid_bytes) != 0)
    return LC_FAIL(NULL, LC_ERR_IO, "%s: cannot drop the cut last line of '%s'", FN, s->partial);
  return LC_OK;
}

static lc_status open_records(sweep_state *s) {
  const lc_sweep_params *p = s->p;
  LC_TRY(lc_dir_make(p->out_dir, FN));
  s->partial = lc_path_join(p->out_dir, "runs.jsonl.partial");
  s->final_path = lc_path_join(p->out_dir, "runs.jsonl");
  if (!s->partial || !s->final_path)
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  const int have_partial = lc_path_exists(s->partial);
  if (have_partial && !p->resume)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "'%s' holds the records of an interrupted sweep: resume it (resume, --resume) "
                   "or remove the file",
                   s->partial);
  if (p->resume && have_partial) {
    LC_TRY(load_prior(s, s->partial, 0));
  } else if (p->resume && lc_path_exists(s->final_path)) {
    LC_TRY(load_prior(s, s->final_path, 1));
  }
  s->runs = fopen(s->partial, p->resume ? "a" : "w");
  if (!s->runs) return LC_FAIL(NULL, LC_ERR_IO, "%s: cannot write '%s'", FN, s->partial);
  return LC_OK;
}

/* Runs (or resumes) group g. */
static lc_status run_group(sweep_state *s, int32_t g) {
  const lc_sweep_params *p = s->p;
  lc_sweep_group *G = &s->res->groups[g];
  const int32_t np = p->prompts->n;
  const json_t **resumed = s->resumed + (size_t)g * G->n_runs;
  int32_t todo = 0;
  for (int32_t r = 0; r < G->n_runs; r++) todo += !resumed[r];
  if (todo > 0 && s->og.g != g) {
    close_group(&s->og);
    lc_status st = open_group_ctx(p, G, g, &s->og);
    if (st != LC_OK && unavailable(st) && !p->require_all) {
      snprintf(G->skip_reason, sizeof G->skip_reason, "%s", lc_last_error(NULL));
      note(s->res, "%s/%s is not available here: skipped (%s)", lc_backend_name(G->backend),
           lc_mode_name(G->mode), G->skip_reason);
      progress(s, (int64_t)G->n_runs * np);
      return LC_OK;
    }
    LC_TRY(st);
  }
  G->available = 1;
  lc_sweep_output *out = G->out;
  lc_session *sess = NULL;
  lc_run_record *rec = NULL;
  size_t kn = (size_t)(p->max_new > 0 ? p->max_new : 1);
  int32_t *toks = lc_malloc(kn * sizeof *toks);
  lc_token_record *recs = lc_malloc(kn * sizeof *recs);
  lc_status st =
      toks && recs ? LC_OK : LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  const int32_t max_prompt = lc_target_max_prompt(p->prompts, p->random_neighbours);
  int32_t cur_b = -1, cur_tp = -1;
  for (int32_t r = 0; r < G->n_runs && st == LC_OK; r++) {
    const lc_sweep_cell *c = &G->cells[r];
    if (resumed[r]) {
      st = outputs_from_record(resumed[r], s->resumed_line[(size_t)g * G->n_runs + r], s->partial,
                               out + (size_t)r * np, np);
      s->res->n_resumed += np;
      progress(s, np);
      continue;
    }
    if (c->batch != cur_b || c->tp != cur_tp) { /* one session per batch size and degree */
      lc_session_free(sess);
      sess = NULL;
      lc_session_params sp;
      st = lc_target_session_params(c->batch, max_prompt, p->max_new, p->gen.prefill_chunk,
                                    p->kv_dtype, &sp);
      sp.tp = c->tp;
      if (st == LC_OK) st = lc_session_create(s->og.model, &sp, &sess);
      if (st != LC_OK) break;
      cur_b = c->batch;
      cur_tp = c->tp;
    }
    if (s->runs) {
      lc_run_cell cell = {c->batch, c->position, c->label, c->repeat, c->tp};
      st = lc_run_record_create("sweep", s->og.ctx, &s->setup, &cell, &rec);
    }
    for (int32_t q = 0; q < np && st == LC_OK; q++) {
      lc_target_params tp;
      memset(&tp, 0, sizeof tp);
      tp.target = &p->prompts->v[q];
      tp.target_index = q;
      tp.pool = p->random_neighbours ? NULL : p->prompts;
      tp.neighbour_seed = p->neighbour_seed;
      tp.batch = c->batch;
      tp.position = c->position;
      tp.max_new = p->max_new;
      tp.stop = p->stop;
      /* a repeat is the same computation again (same sampler seed too): any
       * difference between repeats is run-to-run nondeterminism */
      tp.gen = p->gen;
      int32_t n = 0;
      st = lc_generate_target(sess, &tp, toks, recs, &n);
      if (st == LC_OK) st = keep_output(&out[(size_t)r * np + q], toks, recs, n);
      if (st == LC_OK && rec) st = lc_run_record_add(rec, q, tp.target, toks, n, recs, 0);
      if (st == LC_OK && rec && p->tokenizer) {
        int ok;
        char *text = NULL;
        lc_answer_score sc;
        st = score_output(p, tp.target, toks, n, &ok, &text, &sc);
        if (st == LC_OK)
          st = lc_run_record_add_text(rec, text,
                                      tp.target->answer_text && !tp.target->answer ? &sc : NULL);
        free(text);
        lc_answer_score_clear(&sc);
      }
      if (st == LC_OK) {
        s->res->n_generated++;
        progress(s, 1);
      }
    }
    if (st == LC_OK && rec) {
      char *line = NULL;
      st = lc_run_record_json(rec, &line);
      if (st == LC_OK &&
          (fputs(line, s->runs) < 0 || fputc('\n', s->runs) == EOF || fflush(s->runs) != 0))
        st = LC_FAIL(NULL, LC_ERR_IO, "%s: writing '%s' failed", FN, s->partial);
      if (st == LC_OK) s->n_written++;
      lc_string_free(line);
    }
    lc_run_record_free(rec);
    rec = NULL;
  }
  free(toks);
  free(recs);
  lc_session_free(sess);
  if (st == LC_OK) st = group_metrics(p, G, np);
  return st;
}

/* The first group that opens here; its context stays open for its turn.
 * Checks the prompts against the model before anything is written. */
static lc_status open_first(sweep_state *s) {
  lc_status first = LC_OK;
  char first_msg[LC_ERR_LEN] = "";
  for (int32_t g = 0; g < s->res->n_groups; g++) {
    lc_status st = open_group_ctx(s->p, &s->res->groups[g], g, &s->og);
    if (st == LC_OK) {
      lc_model_info mi;
      LC_TRY(lc_model_get_info(s->og.model, &mi));
      LC_TRY(lc_target_check(&mi.config, s->p->prompts, s->p->random_neighbours, s->p->max_new,
                             &s->p->stop));
      memcpy(s->setup.weights_hash, mi.weights_hash, LC_HASH_HEX_LEN);
      return LC_OK;
    }
    if (!unavailable(st) || s->p->require_all) return st;
    if (first == LC_OK) {
      first = st;
      snprintf(first_msg, sizeof first_msg, "%s", lc_last_error(NULL));
    }
  }
  return LC_FAIL(NULL, first, "%s: no backend and mode of the grid is available here: %s", FN,
                 first_msg);
}

static lc_status sweep(sweep_state *s) {
  const lc_sweep_params *p = s->p;
  lc_sweep_result *res = s->res;
  LC_TRY(check_params(p));
  res->n_prompts = p->prompts->n;
  res->max_new = p->max_new;
  res->n_groups = p->n_backends * p->n_modes;
  res->groups = lc_calloc((size_t)res->n_groups, sizeof *res->groups);
  if (!res->groups) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  lc_sweep_cell *cells = NULL;
  int32_t n_runs = 0;
  LC_TRY(make_cells(p, res, &cells, &n_runs));
  lc_status st = LC_OK;
  for (int32_t g = 0; g < res->n_groups && st == LC_OK; g++) {
    lc_sweep_group *G = &res->groups[g];
    G->backend = p->backends[g / p->n_modes];
    G->mode = p->modes[g % p->n_modes];
    G->n_runs = n_runs;
    G->cells = lc_malloc((size_t)n_runs * sizeof *G->cells);
    G->out = lc_calloc((size_t)n_runs * (size_t)res->n_prompts, sizeof *G->out);
    if (!G->cells || !G->out)
      st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
    else
      memcpy(G->cells, cells, (size_t)n_runs * sizeof *cells);
  }
  free(cells);
  LC_TRY(st);
  const size_t nr = (size_t)res->n_groups * (size_t)n_runs;
  s->resumed = lc_calloc(nr, sizeof *s->resumed);
  s->resumed_line = lc_calloc(nr, sizeof *s->resumed_line);
  if (!s->resumed || !s->resumed_line)
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  /* the setup every record carries */
  s->setup = (lc_run_setup){p->model,         "",     "",          p->max_new,
                            p->stop,          p->gen, p->kv_dtype, p->random_neighbours,
                            p->neighbour_seed};
  LC_TRY(lc_prompt_list_hash(p->prompts, s->setup.prompts_hash));
  LC_TRY(open_first(s));
  if (!(s->setup_json = lc_run_setup_json(&s->setup)))
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  if (p->out_dir) LC_TRY(open_records(s));
  s->total = (int64_t)nr * res->n_prompts;
  double t0 = lc_now_s();
  for (int32_t g = 0; g < res->n_groups; g++) LC_TRY(run_group(s, g));
  res->seconds = lc_now_s() - t0;
  close_group(&s->og);
  if (s->runs) {
    FILE *f = s->runs;
    s->runs = NULL;
    if (fclose(f) != 0) return LC_FAIL(NULL, LC_ERR_IO, "%s: writing '%s' failed", FN, s->partial);
    /* The summaries first: a sweep that fails here keeps its records in
     * runs.jsonl.partial, and a resume writes the summaries again. */
    LC_TRY(lc_sweep_write_summary(res, p, p->out_dir));
    if (rename(s->partial, s->final_path) != 0) {
      lc_sweep_summary_remove(p->out_dir);
      return LC_FAIL(NULL, LC_ERR_IO, "%s: cannot rename '%s' to '%s'", FN, s->partial,
                     s->final_path);
    }
  }
  return LC_OK;
}

lc_status lc_sweep_run(const lc_sweep_params *p, lc_sweep_result **out) {
  if (!out || !p) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: NULL argument", FN);
  *out = NULL;
  lc_sweep_result *res = lc_calloc(1, sizeof *res);
  if (!res) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  sweep_state s;
  memset(&s, 0, sizeof s);
  s.p = p;
  s.res = res;
  s.og.g = -1;
  lc_status st = sweep(&s);
  if (s.runs) { /* a failed run: the finished runs' records stay for a resume */
    fclose(s.runs);
    if (s.n_written == 0) remove(s.partial); /* nothing to resume */
  }
  close_group(&s.og);
  json_decref(s.setup_json);
  lc_rec_file_free(&s.prior);
  free((void *)s.resumed);
  free(s.resumed_line);
  free(s.partial);
  free(s.final_path);
  if (st != LC_OK) {
    lc_sweep_result_free(res);
    return st;
  }
  *out = res;
  return LC_OK;
}
