/*
 * tools/cli_compare.c — `layercast compare`: teacher-forced replay of one
 * configuration's tokens under another.
 *
 * Configuration A (backend, mode, batch size, the row's index in the batch)
 * generates greedily from a prompt (or its tokens are given, or read from a
 * run record).  Then prompt + tokens are replayed, teacher-forced, under A
 * and under B (lc_session_forward with all_logits = 1, in one prefill or in
 * chunks), the target row at its index in a batch whose other rows are
 * random sequences drawn from a seed (A's and B's neighbours differ).  For
 * each generated position: max |logit_A - logit_B|, whether the top-1 flips,
 * and both top-1/top-2 margins; through the layer hook (the residual after
 * each layer, then the final RMSNorm) the first layer where the two hidden
 * states differ in bits, per position and overall.
 *
 * Layer numbering: 0 .. n_layers-1 is the residual after that layer;
 * n_layers is the final norm's output.  -1 means "no bit differs".
 */
#define _GNU_SOURCE /* getopt_long */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layercast.h"
#include "layercast_model.h"
#include "tools/cli.h"
#include "tools/cli_common.h"

#define CMD "compare"

/* ---- small helpers ------------------------------------------------------------*/

static void cmp_err(const char *what, lc_status st, const lc_context *ctx) {
  fprintf(stderr, "layercast compare: %s: %s\n  %s\n", what, lc_status_string(st),
          lc_last_error(ctx));
}

static uint64_t cmp_rng(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* A JSON array of non-negative integers into a malloc'ed array; -1 if not one. */
static int32_t json_ids(const json_t *a, int32_t **out) {
  if (!json_is_array(a)) return -1;
  size_t n = json_array_size(a);
  if (n > INT32_MAX / 2) return -1;
  int32_t *v = malloc((n ? n : 1) * sizeof *v);
  if (!v) return -1;
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(a, i);
    if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > INT32_MAX) {
      free(v);
      return -1;
    }
    v[i] = (int32_t)json_integer_value(e);
  }
  *out = v;
  return (int32_t)n;
}

/* Reads run `index` (0-based line, blank lines skipped) of a run-record
 * file (runs.jsonl of `sweep`, docs/metrics.md) and returns the JSON of the
 * run (its "sequences" hold {"prompt": i, "tokens": [...]}), or NULL. */
static json_t *read_record(const char *path, int index) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "layercast compare: cannot open record file '%s'\n", path);
    return NULL;
  }
  char *line = NULL;
  size_t cap = 0;
  int seen = 0;
  json_t *out = NULL;
  while (getline(&line, &cap, f) != -1) {
    const char *p = line;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (!*p) continue;
    if (seen++ != index) continue;
    json_error_t je;
    json_t *j = json_loads(line, 0, &je);
    if (!j || !json_is_array(json_object_get(j, "sequences"))) {
      fprintf(stderr,
              "layercast compare: %s: run %d is not a run record (a JSON object with "
              "\"sequences\": [...]): %s\n",
              path, index, j ? "no sequences" : je.text);
      json_decref(j);
      break;
    }
    out = j;
    break;
  }
  if (!out && seen <= index)
    fprintf(stderr, "layercast compare: %s has %d runs; run %d asked for\n", path, seen, index);
  free(line);
  fclose(f);
  return out;
}

/* The tokens of prompt `pi` in a run record; -1 when it has none. */
static int32_t record_tokens(const json_t *run, int32_t pi, int32_t **out) {
  const json_t *seqs = json_object_get(run, "sequences");
  for (size_t i = 0; i < json_array_size(seqs); i++) {
    const json_t *q = json_array_get(seqs, i);
    const json_t *pr = json_object_get(q, "prompt");
    if (json_is_integer(pr) && json_integer_value(pr) == pi)
      return json_ids(json_object_get(q, "tokens"), out);
  }
  return -1;
}

/* ---- configurations --------------------------------------------------------------*/

typedef struct cmp_config {
  const char *label;  /* "A" or "B" */
  lc_backend backend; /* from --backend-x */
  lc_mode mode;       /* from --mode-x */
  int32_t batch;      /* rows in the batch, >= 1 */
  int32_t position;   /* the target row's index, 0 .. batch-1 */
  uint64_t seed;      /* the neighbours' seed */
  lc_context *ctx;
  lc_model *model;
  int owns; /* 1: ctx and model belong to this configuration */
} cmp_config;

static int open_config(cmp_config *c, const char *path, cmp_config *other) {
  if (other && other->model && other->backend == c->backend && other->mode == c->mode) {
    c->ctx = other->ctx; /* same backend and mode: one model serves both */
    c->model = other->model;
    c->owns = 0;
    return 0;
  }
  lc_context_params p;
  lc_context_params_default(&p);
  p.backend = c->backend;
  p.mode = c->mode;
  lc_status st = lc_context_create(&p, &c->ctx);
  if (st != LC_OK) {
    char what[96];
    snprintf(what, sizeof what, "creating the %s %s context of %s", lc_backend_name(c->backend),
             lc_mode_name(c->mode), c->label);
    cmp_err(what, st, NULL);
    return -1;
  }
  c->owns = 1;
  st = lc_model_load(c->ctx, path, NULL, &c->model);
  if (st != LC_OK) {
    char what[1200];
    snprintf(what, sizeof what, "loading '%s' for %s", path, c->label);
    cmp_err(what, st, c->ctx);
    return -1;
  }
  return 0;
}

static void close_config(cmp_config *c) {
  if (!c->owns) return;
  lc_model_free(c->model);
  lc_context_free(c->ctx);
  c->model = NULL;
  c->ctx = NULL;
}

/* Neighbour j's random sequence: length in [1, max_len], ids in [0, vocab). */
static int32_t *neighbour(uint64_t seed, int32_t j, int32_t max_len, int32_t vocab, int32_t *len) {
  uint64_t s = seed * 0x100000001B3ull + (uint64_t)j * 0x9E3779B97F4A7C15ull + 1;
  *len = 1 + (int32_t)(cmp_rng(&s) % (uint64_t)max_len);
  int32_t *v = malloc((size_t)*len * sizeof *v);
  if (v)
    for (int32_t i = 0; i < *len; i++) v[i] = (int32_t)(cmp_rng(&s) % (uint64_t)vocab);
  return v;
}

/* Greedy generation of the target row under c, its neighbours random from
 * c's seed (cli_run_target: the batches `generate` and `sweep` build):
 * returns the count generated (<= max_new) in tokens, or -1. */
static int32_t generate_a(cmp_config *c, const cli_prompt *target, int32_t index, int32_t max_new,
                          int32_t stop, int32_t chunk, int32_t *tokens) {
  lc_model_info mi;
  lc_model_get_info(c->model, &mi);
  lc_session *s = NULL;
  if (cli_session_for(CMD, c->model, c->batch, cli_neighbour_max_len(target->n), max_new, chunk,
                      LC_DTYPE_F32, &s))
    return -1;
  cli_target_run tr;
  memset(&tr, 0, sizeof tr);
  tr.session = s;
  tr.target = target;
  tr.target_index = index;
  tr.pool = NULL;
  tr.neighbour_seed = c->seed;
  tr.vocab = mi.config.vocab_size;
  tr.batch = c->batch;
  tr.position = c->position;
  tr.max_new = max_new;
  tr.stop_token = stop;
  lc_sampler_params_default(&tr.gen.sampler);
  tr.gen.prefill_chunk = chunk;
  int32_t n = 0;
  int rc = cli_run_target(CMD, &tr, tokens, NULL, &n);
  lc_session_free(s);
  return rc ? -1 : n;
}

/* Layer hook state: copies the target row's hidden states out of a pass. */
typedef struct hook_state {
  int64_t row0;   /* the target's first row in the pass */
  int64_t n_rows; /* its rows in the pass */
  int32_t pos0;   /* the position of its first row */
  int32_t T;      /* positions replayed */
  int32_t dim;
  float *hidden; /* [n_layers + 1][T][dim] */
} hook_state;

static void copy_hook(void *user, int32_t layer, const float *hidden, int64_t rows, int32_t dim) {
  hook_state *h = user;
  if (dim != h->dim || h->row0 + h->n_rows > rows) return; /* cannot happen */
  memcpy(h->hidden + ((size_t)layer * (size_t)h->T + (size_t)h->pos0) * (size_t)dim,
         hidden + (size_t)h->row0 * (size_t)dim, (size_t)h->n_rows * (size_t)dim * sizeof(float));
}

/* Replays seq[0..T) under c in chunks of `chunk` (0: all at once), the
 * target at its index among random neighbours.  logits [T][vocab] and
 * hidden [n_layers+1][T][dim] receive the target row's values. */
static int replay(cmp_config *c, const int32_t *seq, int32_t T, int32_t chunk, float *logits,
                  float *hidden) {
  lc_model_info mi;
  lc_model_get_info(c->model, &mi);
  const int32_t vocab = mi.config.vocab_size, B = c->batch, dim = mi.config.dim;
  if (chunk <= 0 || chunk > T) chunk = T;
  int32_t **nb = calloc((size_t)B, sizeof *nb);
  int32_t *nlen = calloc((size_t)B, sizeof *nlen);
  lc_batch_entry *e = calloc((size_t)B, sizeof *e);
  float *buf = NULL;
  lc_session *s = NULL;
  int rc = -1;
  if (!nb || !nlen || !e) goto done;
  for (int32_t j = 0; j < B; j++) {
    if (j == c->position) continue;
    nb[j] = neighbour(c->seed ^ 0x5eed5eedull, j, T, vocab, &nlen[j]);
    if (!nb[j]) goto done;
  }
  const int64_t max_tokens = (int64_t)B * chunk;
  if (max_tokens > INT32_MAX || (size_t)max_tokens > SIZE_MAX / sizeof(float) / (size_t)vocab) {
    fprintf(stderr, "layercast compare: batch %d x chunk %d is too large\n", B, chunk);
    goto done;
  }
  buf = malloc((size_t)max_tokens * (size_t)vocab * sizeof *buf);
  if (!buf) {
    fprintf(stderr, "layercast compare: out of memory for the logits\n");
    goto done;
  }
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.n_slots = B;
  sp.max_len = T;
  sp.max_tokens = (int32_t)max_tokens;
  lc_status st = lc_session_create(c->model, &sp, &s);
  if (st != LC_OK) {
    cmp_err("creating the replay session", st, c->ctx);
    goto done;
  }
  hook_state h = {0, 0, 0, T, dim, hidden};
  st = lc_session_set_layer_hook(s, copy_hook, &h);
  if (st != LC_OK) {
    cmp_err("setting the layer hook", st, c->ctx);
    goto done;
  }
  for (int32_t p0 = 0; p0 < T; p0 += chunk) {
    int64_t ne = 0, rows = 0;
    for (int32_t j = 0; j < B; j++) {
      const int32_t len = j == c->position ? T : nlen[j];
      if (p0 >= len) continue;
      const int32_t n = len - p0 < chunk ? len - p0 : chunk;
      e[ne].slot = j;
      e[ne].pos = p0;
      e[ne].n_tokens = n;
      e[ne].tokens = (j == c->position ? seq : nb[j]) + p0;
      if (j == c->position) {
        h.row0 = rows;
        h.n_rows = n;
        h.pos0 = p0;
      }
      rows += n;
      ne++;
    }
    st = lc_session_forward(s, e, ne, 1, buf);
    if (st != LC_OK) {
      cmp_err("lc_session_forward (replay)", st, c->ctx);
      goto done;
    }
    memcpy(logits + (size_t)p0 * (size_t)vocab, buf + (size_t)h.row0 * (size_t)vocab,
           (size_t)h.n_rows * (size_t)vocab * sizeof *buf);
  }
  rc = 0;
done:
  lc_session_free(s);
  if (nb)
    for (int32_t j = 0; j < B; j++) free(nb[j]);
  free(nb);
  free(nlen);
  free(e);
  free(buf);
  return rc;
}

/* ---- comparison of the two replays ------------------------------------------------*/

/* Top-1 (first index of the maximum, NaN never chosen unless all are) and
 * the margin top-1 minus the second largest value. */
static void top2(const float *x, int32_t n, int32_t *i1, float *margin) {
  int32_t a = -1;
  for (int32_t i = 0; i < n; i++)
    if (!isnan(x[i]) && (a < 0 || x[i] > x[a])) a = i;
  if (a < 0) {
    *i1 = 0;
    *margin = NAN;
    return;
  }
  float second = -INFINITY;
  for (int32_t i = 0; i < n; i++)
    if (i != a && !isnan(x[i]) && x[i] > second) second = x[i];
  *i1 = a;
  *margin = n > 1 ? x[a] - second : NAN;
}

typedef struct step_result {
  int32_t step, pos, token; /* token: A's token at position pos + 1 */
  double max_abs;           /* max |dlogit| (Inf/NaN when one side is not finite) */
  int32_t top1_a, top1_b;
  float margin_a, margin_b;
  int32_t first_layer; /* first layer whose hidden state at pos differs; -1 none */
  int logits_equal;    /* bitwise */
} step_result;

typedef struct prompt_result {
  int32_t index, plen, ngen;
  const char *source; /* "generated (A, greedy)", "given", "record" */
  step_result *steps;
  int32_t n_layers;      /* hook layers: n_layers + 1 rows below */
  int32_t *layer_ndiff;  /* [n_layers+1] positions whose hidden state differs */
  int32_t *layer_first;  /* [n_layers+1] first such position, -1 none */
  int32_t first_layer;   /* overall: the lowest layer with a difference, -1 none */
  int32_t first_pos;     /* ... and the first position at that layer */
  int32_t logits_ndiff;  /* positions (of all T) whose logits differ in bits */
  int32_t n_flips;       /* generated positions whose top-1 differs */
  int32_t replay_misses; /* A's replay top-1 != A's generated token (greedy only) */
  double max_abs;
} prompt_result;

static void prompt_result_free(prompt_result *r) {
  free(r->steps);
  free(r->layer_ndiff);
  free(r->layer_first);
}

static int compare_runs(const float *la, const float *lb, const float *ha, const float *hb,
                        const int32_t *seq, int32_t T, int32_t plen, int32_t vocab, int32_t dim,
                        int32_t n_layers, int greedy, prompt_result *r) {
  const int32_t L = n_layers + 1, ngen = T - plen;
  r->plen = plen;
  r->ngen = ngen;
  r->n_layers = n_layers;
  r->steps = calloc((size_t)(ngen > 0 ? ngen : 1), sizeof *r->steps);
  r->layer_ndiff = calloc((size_t)L, sizeof *r->layer_ndiff);
  r->layer_first = malloc((size_t)L * sizeof *r->layer_first);
  int32_t *pos_first = malloc((size_t)T * sizeof *pos_first);
  if (!r->steps || !r->layer_ndiff || !r->layer_first || !pos_first) {
    free(pos_first);
    return -1;
  }
  r->first_layer = r->first_pos = -1;
  for (int32_t l = 0; l < L; l++) r->layer_first[l] = -1;
  for (int32_t t = 0; t < T; t++) pos_first[t] = -1;
  for (int32_t l = 0; l < L; l++)
    for (int32_t t = 0; t < T; t++) {
      const size_t off = ((size_t)l * (size_t)T + (size_t)t) * (size_t)dim;
      if (memcmp(ha + off, hb + off, (size_t)dim * sizeof(float)) == 0) continue;
      r->layer_ndiff[l]++;
      if (r->layer_first[l] < 0) r->layer_first[l] = t;
      if (pos_first[t] < 0) pos_first[t] = l;
      if (r->first_layer < 0) {
        r->first_layer = l;
        r->first_pos = t;
      }
    }
  for (int32_t t = 0; t < T; t++)
    if (memcmp(la + (size_t)t * vocab, lb + (size_t)t * vocab, (size_t)vocab * sizeof(float)))
      r->logits_ndiff++;
  /* generated token i sits at position plen + i; the logits of position
   * plen + i - 1 predict it */
  for (int32_t i = 0; i < ngen; i++) {
    step_result *st = &r->steps[i];
    const int32_t t = plen + i - 1;
    const float *a = la + (size_t)t * vocab, *b = lb + (size_t)t * vocab;
    st->step = i;
    st->pos = t;
    st->token = seq[t + 1];
    double mx = 0.0;
    for (int32_t v = 0; v < vocab; v++) {
      double d = fabs((double)a[v] - (double)b[v]);
      if (isnan(a[v]) != isnan(b[v]))
        d = INFINITY;
      else if (isnan(a[v]))
        d = 0.0;
      else if (a[v] == b[v])
        d = 0.0; /* equal infinities */
      if (d > mx) mx = d;
    }
    st->max_abs = mx;
    if (mx > r->max_abs) r->max_abs = mx;
    top2(a, vocab, &st->top1_a, &st->margin_a);
    top2(b, vocab, &st->top1_b, &st->margin_b);
    if (st->top1_a != st->top1_b) r->n_flips++;
    if (greedy && st->top1_a != st->token) r->replay_misses++;
    st->first_layer = pos_first[t];
    st->logits_equal = memcmp(a, b, (size_t)vocab * sizeof(float)) == 0;
  }
  free(pos_first);
  return 0;
}

/* ---- output --------------------------------------------------------------------*/

typedef enum out_format { FMT_TEXT, FMT_JSON, FMT_CSV } out_format;

static void cfg_text(FILE *f, const cmp_config *c) {
  fprintf(f, "%s %s, batch %d, row %d", lc_backend_name(c->backend), lc_mode_name(c->mode),
          c->batch, c->position);
}

static void print_text(FILE *f, const prompt_result *r, int32_t chunk) {
  fprintf(f, "\nprompt %d: %d tokens + %d tokens %s; replay %s\n", r->index, r->plen, r->ngen,
          r->source, chunk > 0 ? "in chunks" : "in one prefill");
  fprintf(f, "  %5s %6s %7s %12s %7s %7s %5s %10s %10s %12s\n", "step", "pos", "token",
          "max|dlogit|", "top1 A", "top1 B", "flip", "margin A", "margin B", "first layer");
  for (int32_t i = 0; i < r->ngen; i++) {
    const step_result *s = &r->steps[i];
    char fl[16];
    if (s->first_layer < 0)
      snprintf(fl, sizeof fl, "-");
    else if (s->first_layer == r->n_layers)
      snprintf(fl, sizeof fl, "norm");
    else
      snprintf(fl, sizeof fl, "%d", s->first_layer);
    fprintf(f, "  %5d %6d %7d %12.4g %7d %7d %5s %10.4g %10.4g %12s\n", s->step, s->pos + 1,
            s->token, s->max_abs, s->top1_a, s->top1_b, s->top1_a != s->top1_b ? "FLIP" : "-",
            (double)s->margin_a, (double)s->margin_b, fl);
  }
  fprintf(f, "  per layer (the residual after each layer; 'norm' = final RMSNorm output):\n");
  fprintf(f, "  %6s %22s %15s\n", "layer", "positions that differ", "first position");
  for (int32_t l = 0; l <= r->n_layers; l++) {
    char name[16];
    if (l == r->n_layers)
      snprintf(name, sizeof name, "norm");
    else
      snprintf(name, sizeof name, "%d", l);
    fprintf(f, "  %6s %15d of %-4d %15d\n", name, r->layer_ndiff[l], r->plen + r->ngen,
            r->layer_first[l]);
  }
  if (r->first_layer < 0 && r->logits_ndiff == 0)
    fprintf(f, "  no difference: every hidden state and every logit are bitwise equal\n");
  else if (r->first_layer < 0)
    fprintf(f, "  hidden states bitwise equal; logits differ at %d positions\n", r->logits_ndiff);
  else
    fprintf(f,
            "  first difference in bits: layer %d%s, position %d; logits differ at %d of %d "
            "positions\n",
            r->first_layer, r->first_layer == r->n_layers ? " (final norm)" : "", r->first_pos,
            r->logits_ndiff, r->plen + r->ngen);
  fprintf(f, "  top-1 flips: %d of %d generated positions; max |dlogit| %.4g\n", r->n_flips,
          r->ngen, r->max_abs);
  if (r->replay_misses)
    fprintf(f,
            "  note: A's own replay picks another top-1 than A's generation at %d positions\n"
            "  (A's prefill and decode do not agree bitwise: expected outside strict mode)\n",
            r->replay_misses);
}

static json_t *jnum(double x) {
  return cli_json_real(x); /* null when not finite */
}

static json_t *cfg_json(const cmp_config *c) {
  return json_pack("{s:s, s:s, s:i, s:i, s:I}", "backend", lc_backend_name(c->backend), "mode",
                   lc_mode_name(c->mode), "batch", c->batch, "position", c->position, "seed",
                   (json_int_t)c->seed);
}

static json_t *result_json(const prompt_result *r) {
  json_t *steps = json_array(), *layers = json_array();
  for (int32_t i = 0; i < r->ngen; i++) {
    const step_result *s = &r->steps[i];
    json_array_append_new(
        steps, json_pack("{s:i, s:i, s:i, s:o, s:i, s:i, s:b, s:o, s:o, s:i, s:b}", "step", s->step,
                         "pos", s->pos + 1, "token", s->token, "max_abs_dlogit", jnum(s->max_abs),
                         "top1_a", s->top1_a, "top1_b", s->top1_b, "flip", s->top1_a != s->top1_b,
                         "margin_a", jnum(s->margin_a), "margin_b", jnum(s->margin_b),
                         "first_diff_layer", s->first_layer, "logits_equal", s->logits_equal));
  }
  for (int32_t l = 0; l <= r->n_layers; l++)
    json_array_append_new(layers, json_pack("{s:i, s:b, s:i, s:i}", "layer", l, "final_norm",
                                            l == r->n_layers, "n_diff_positions", r->layer_ndiff[l],
                                            "first_position", r->layer_first[l]));
  json_t *first = r->first_layer < 0
                      ? json_null()
                      : json_pack("{s:i, s:i}", "layer", r->first_layer, "position", r->first_pos);
  return json_pack("{s:i, s:i, s:i, s:s, s:o, s:o, s:o, s:i, s:i, s:o, s:i, s:b}", "prompt",
                   r->index, "prompt_len", r->plen, "n_generated", r->ngen, "tokens_source",
                   r->source, "steps", steps, "layers", layers, "first_diff", first,
                   "logits_diff_positions", r->logits_ndiff, "flips", r->n_flips, "max_abs_dlogit",
                   jnum(r->max_abs), "replay_misses", r->replay_misses, "identical",
                   r->first_layer < 0 && r->logits_ndiff == 0);
}

static void print_csv_rows(FILE *f, const prompt_result *r) {
  for (int32_t i = 0; i < r->ngen; i++) {
    const step_result *s = &r->steps[i];
    fprintf(f, "%d,%d,%d,%d,%.9g,%d,%d,%d,%.9g,%.9g,%d,%d\n", r->index, s->step, s->pos + 1,
            s->token, s->max_abs, s->top1_a, s->top1_b, s->top1_a != s->top1_b, (double)s->margin_a,
            (double)s->margin_b, s->first_layer, s->logits_equal);
  }
}

/* ---- the command ------------------------------------------------------------------*/

static void usage(FILE *f) {
  fprintf(f,
          "usage: layercast compare --model PATH [configuration A] [configuration B]\n"
          "                         (--prompt IDS | --prompts FILE.jsonl) [options]\n"
          "\n"
          "Teacher-forced replay: A generates greedily (or its tokens are given), then\n"
          "prompt + tokens run again under A and under B (all logits, one prefill or\n"
          "chunks), and the two are compared position by position and layer by layer.\n"
          "\n"
          "  --model PATH         llama2.c .bin, or a Hugging Face directory / config.json\n"
          "  --backend-a B        cpu | cuda (default cpu)         --backend-b B (default cpu)\n"
          "  --mode-a M           strict | reference | vendor-bf16 | vendor-fp32\n"
          "                       (default strict)                 --mode-b M (default reference;\n"
          "                                                        strict with --backend-b cuda)\n"
          "  --batch-a N          rows in A's batch (default 1)    --batch-b N (default 1)\n"
          "  --position-a I       the row's index in A's batch (default 0)  --position-b I\n"
          "  --prompt IDS         token ids: \"1 2 3\" or \"1,2,3\"\n"
          "  --prompts FILE       JSONL: {\"tokens\": [ids], ...} per line (as for sweep)\n"
          "  --limit N            the first N prompts of FILE only\n"
          "  --max-new N          tokens A generates (default 32)\n"
          "  --stop ID            A stops after this token (default: none)\n"
          "  --tokens IDS         A's tokens, given (no generation; with --prompt)\n"
          "  --record FILE        A's tokens from a run record: run --record-index (a line of\n"
          "                       runs.jsonl, default 0), the sequence of each prompt's index\n"
          "  --prefill-chunk C    replay (and A's generation) in chunks of C tokens (default:\n"
          "                       one prefill)\n"
          "  --seed S             seed of the neighbour rows (default 1; B uses S + 1)\n"
          "  --format F           text (default) | json | csv\n"
          "  -o, --output FILE    write there instead of standard output\n"
          "  -h, --help           this text\n"
          "\n"
          "Layers: 0 .. n_layers-1 are the residual after each layer, 'norm' the final\n"
          "RMSNorm's output.  Exit status 0 when the comparison ran (differences are\n"
          "results, not failures), 1 on an error, 2 on bad usage.\n");
}

enum {
  OPT_BACKEND_A = 256,
  OPT_BACKEND_B,
  OPT_MODE_A,
  OPT_MODE_B,
  OPT_BATCH_A,
  OPT_BATCH_B,
  OPT_POS_A,
  OPT_POS_B,
  OPT_PROMPT,
  OPT_PROMPTS,
  OPT_LIMIT,
  OPT_MAX_NEW,
  OPT_STOP,
  OPT_TOKENS,
  OPT_RECORD,
  OPT_RECORD_INDEX,
  OPT_CHUNK,
  OPT_SEED,
  OPT_FORMAT,
  OPT_MODEL,
};

static int parse_int(const char *s, long long lo, long long hi, long long *out) {
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) {
    fprintf(stderr, "layercast compare: '%s' is not an integer in [%lld, %lld]\n", s, lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

int cmd_compare(int argc, char **argv) {
  static const struct option opts[] = {{"model", required_argument, 0, OPT_MODEL},
                                       {"backend-a", required_argument, 0, OPT_BACKEND_A},
                                       {"backend-b", required_argument, 0, OPT_BACKEND_B},
                                       {"mode-a", required_argument, 0, OPT_MODE_A},
                                       {"mode-b", required_argument, 0, OPT_MODE_B},
                                       {"batch-a", required_argument, 0, OPT_BATCH_A},
                                       {"batch-b", required_argument, 0, OPT_BATCH_B},
                                       {"position-a", required_argument, 0, OPT_POS_A},
                                       {"position-b", required_argument, 0, OPT_POS_B},
                                       {"prompt", required_argument, 0, OPT_PROMPT},
                                       {"prompts", required_argument, 0, OPT_PROMPTS},
                                       {"limit", required_argument, 0, OPT_LIMIT},
                                       {"max-new", required_argument, 0, OPT_MAX_NEW},
                                       {"stop", required_argument, 0, OPT_STOP},
                                       {"tokens", required_argument, 0, OPT_TOKENS},
                                       {"record", required_argument, 0, OPT_RECORD},
                                       {"record-index", required_argument, 0, OPT_RECORD_INDEX},
                                       {"prefill-chunk", required_argument, 0, OPT_CHUNK},
                                       {"seed", required_argument, 0, OPT_SEED},
                                       {"format", required_argument, 0, OPT_FORMAT},
                                       {"output", required_argument, 0, 'o'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  cmp_config A = {"A", LC_BACKEND_CPU, LC_MODE_STRICT, 1, 0, 1, NULL, NULL, 0};
  cmp_config B = {"B", LC_BACKEND_CPU, LC_MODE_REFERENCE, 1, 0, 2, NULL, NULL, 0};
  const char *model = NULL, *prompt_s = NULL, *prompts_f = NULL, *tokens_s = NULL;
  const char *record_f = NULL, *out_path = NULL;
  long long max_new = 32, stop = -1, chunk = 0, limit = -1, rec_index = 0, seed = 1, v = 0;
  out_format fmt = FMT_TEXT;
  int c, mode_b_set = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
    int bad = 0;
    switch (c) {
      case OPT_MODEL:
        model = optarg;
        break;
      case OPT_BACKEND_A:
        bad = lc_backend_from_name(optarg, &A.backend) != LC_OK;
        break;
      case OPT_BACKEND_B:
        bad = lc_backend_from_name(optarg, &B.backend) != LC_OK;
        break;
      case OPT_MODE_A:
        bad = lc_mode_from_name(optarg, &A.mode) != LC_OK;
        break;
      case OPT_MODE_B:
        bad = lc_mode_from_name(optarg, &B.mode) != LC_OK;
        mode_b_set = 1;
        break;
      case OPT_BATCH_A:
      case OPT_BATCH_B:
        if (parse_int(optarg, 1, 4096, &v)) return 2;
        (c == OPT_BATCH_A ? &A : &B)->batch = (int32_t)v;
        break;
      case OPT_POS_A:
      case OPT_POS_B:
        if (parse_int(optarg, 0, 4095, &v)) return 2;
        (c == OPT_POS_A ? &A : &B)->position = (int32_t)v;
        break;
      case OPT_PROMPT:
        prompt_s = optarg;
        break;
      case OPT_PROMPTS:
        prompts_f = optarg;
        break;
      case OPT_LIMIT:
        bad = parse_int(optarg, 1, INT32_MAX, &limit);
        break;
      case OPT_MAX_NEW:
        bad = parse_int(optarg, 1, 1 << 20, &max_new);
        break;
      case OPT_STOP:
        bad = parse_int(optarg, 0, INT32_MAX, &stop);
        break;
      case OPT_TOKENS:
        tokens_s = optarg;
        break;
      case OPT_RECORD:
        record_f = optarg;
        break;
      case OPT_RECORD_INDEX:
        bad = parse_int(optarg, 0, INT32_MAX, &rec_index);
        break;
      case OPT_CHUNK:
        bad = parse_int(optarg, 1, 1 << 20, &chunk);
        break;
      case OPT_SEED:
        bad = parse_int(optarg, 0, INT64_MAX, &seed);
        break;
      case OPT_FORMAT:
        if (!strcmp(optarg, "text"))
          fmt = FMT_TEXT;
        else if (!strcmp(optarg, "json"))
          fmt = FMT_JSON;
        else if (!strcmp(optarg, "csv"))
          fmt = FMT_CSV;
        else
          bad = 1;
        break;
      case 'o':
        out_path = optarg;
        break;
      case 'h':
        usage(stdout);
        return 0;
      default:
        usage(stderr);
        return 2;
    }
    if (bad) {
      fprintf(stderr, "layercast compare: bad value '%s' for an option\n", optarg);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "layercast compare: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  if (!model) {
    fprintf(stderr, "layercast compare: --model PATH is required\n");
    usage(stderr);
    return 2;
  }
  if (A.position >= A.batch || B.position >= B.batch) {
    fprintf(stderr, "layercast compare: a row's position must be below its batch size\n");
    return 2;
  }
  if ((!!prompt_s + !!prompts_f) != 1) {
    fprintf(stderr, "layercast compare: give one of --prompt IDS or --prompts FILE\n");
    return 2;
  }
  if (tokens_s && prompts_f) {
    fprintf(stderr, "layercast compare: --tokens goes with one prompt (--prompt)\n");
    return 2;
  }
  if (tokens_s && record_f) {
    fprintf(stderr, "layercast compare: give --tokens or --record, not both\n");
    return 2;
  }
  if (!mode_b_set && B.backend == LC_BACKEND_CUDA) B.mode = LC_MODE_STRICT; /* no cuda reference */
  A.seed = (uint64_t)seed;
  B.seed = (uint64_t)seed + 1;

  int rc = 1;
  cli_prompts pl = {NULL, 0};
  int32_t *given = NULL, ngiven = 0;
  json_t *record = NULL;
  const char *source = "generated by A (greedy)";
  FILE *out = stdout;
  json_t *jroot = NULL, *jprompts = NULL;
  float *la = NULL, *lb = NULL, *ha = NULL, *hb = NULL;
  int32_t *seq = NULL;

  if (prompt_s) {
    int32_t *ids = NULL, n = 0;
    if (cli_parse_tokens(CMD, "--prompt", prompt_s, &ids, &n)) return 2;
    int bad = cli_prompts_add(CMD, &pl, ids, n);
    free(ids);
    if (bad) goto done;
  } else {
    if (cli_read_prompts(CMD, prompts_f, &pl)) goto done;
  }
  if (tokens_s) {
    if (cli_parse_tokens(CMD, "--tokens", tokens_s, &given, &ngiven)) goto done;
    source = "given (--tokens)";
  } else if (record_f) {
    record = read_record(record_f, (int)rec_index);
    if (!record) goto done;
    source = "from the run record";
  }

  if (open_config(&A, model, NULL) || open_config(&B, model, &A)) goto done;
  lc_model_info mi;
  lc_model_get_info(A.model, &mi);
  const int32_t vocab = mi.config.vocab_size, dim = mi.config.dim, nl = mi.config.n_layers;

  if (cli_check_vocab(CMD, &pl, vocab)) goto done;
  if (out_path) {
    out = fopen(out_path, "w");
    if (!out) {
      fprintf(stderr, "layercast compare: cannot write '%s'\n", out_path);
      out = stdout;
      goto done;
    }
  }
  if (fmt == FMT_TEXT) {
    fprintf(out, "layercast compare: %s (%s, dim %d, %d layers, vocab %d)\n  A: ", model,
            lc_arch_name(mi.config.arch), dim, nl, vocab);
    cfg_text(out, &A);
    fprintf(out, "\n  B: ");
    cfg_text(out, &B);
    fprintf(out, "\n  neighbour rows: random, seed %lld (A) and %lld (B)\n", seed, seed + 1);
  } else if (fmt == FMT_JSON) {
    jprompts = json_array();
    jroot = json_pack("{s:s, s:{s:s, s:i, s:i, s:i}, s:o, s:o, s:i, s:o}", "model", model, "config",
                      "arch", lc_arch_name(mi.config.arch), "dim", dim, "n_layers", nl, "vocab",
                      vocab, "a", cfg_json(&A), "b", cfg_json(&B), "prefill_chunk", (int)chunk,
                      "prompts", jprompts);
    if (!jroot) goto done;
  } else {
    fprintf(out,
            "prompt,step,pos,token,max_abs_dlogit,top1_a,top1_b,flip,margin_a,margin_b,"
            "first_diff_layer,logits_equal\n");
  }

  const int32_t n_use = limit > 0 && limit < pl.n ? (int32_t)limit : pl.n;
  for (int32_t pi = 0; pi < n_use; pi++) {
    const int32_t plen = pl.v[pi].n;
    if (record) {
      free(given);
      given = NULL;
      ngiven = record_tokens(record, pi, &given);
      if (ngiven < 1) {
        fprintf(stderr, "layercast compare: %s: run %lld has no tokens for prompt %d\n", record_f,
                rec_index, pi);
        goto done;
      }
    }
    const int64_t max_gen = given ? ngiven : max_new;
    if ((int64_t)plen + max_gen > mi.config.max_seq_len) {
      fprintf(stderr,
              "layercast compare: prompt %d: %d + %lld tokens exceed the model's %d positions\n",
              pi, plen, (long long)max_gen, mi.config.max_seq_len);
      goto done;
    }
    free(seq);
    seq = malloc((size_t)(plen + max_gen) * sizeof *seq);
    if (!seq) goto done;
    memcpy(seq, pl.v[pi].tokens, (size_t)plen * sizeof *seq);
    int32_t ngen;
    if (given) {
      for (int32_t i = 0; i < ngiven; i++)
        if (given[i] >= vocab) {
          fprintf(stderr, "layercast compare: A's token %d is outside the vocabulary\n", given[i]);
          goto done;
        }
      memcpy(seq + plen, given, (size_t)ngiven * sizeof *seq);
      ngen = ngiven;
    } else {
      ngen = generate_a(&A, &pl.v[pi], pi, (int32_t)max_new, (int32_t)stop, (int32_t)chunk,
                        seq + plen);
      if (ngen < 0) goto done;
    }
    const int32_t T = plen + ngen;
    const size_t nlog = (size_t)T * (size_t)vocab, nhid = (size_t)(nl + 1) * T * (size_t)dim;
    free(la), free(lb), free(ha), free(hb);
    la = malloc(nlog * sizeof *la);
    lb = malloc(nlog * sizeof *lb);
    ha = malloc(nhid * sizeof *ha);
    hb = malloc(nhid * sizeof *hb);
    if (!la || !lb || !ha || !hb) {
      fprintf(stderr, "layercast compare: out of memory for %d positions\n", T);
      goto done;
    }
    if (replay(&A, seq, T, (int32_t)chunk, la, ha) || replay(&B, seq, T, (int32_t)chunk, lb, hb))
      goto done;
    prompt_result r;
    memset(&r, 0, sizeof r);
    r.index = pi;
    r.source = source;
    if (compare_runs(la, lb, ha, hb, seq, T, plen, vocab, dim, nl, !given, &r)) {
      prompt_result_free(&r);
      fprintf(stderr, "layercast compare: out of memory\n");
      goto done;
    }
    if (fmt == FMT_TEXT)
      print_text(out, &r, (int32_t)chunk);
    else if (fmt == FMT_JSON)
      json_array_append_new(jprompts, result_json(&r));
    else
      print_csv_rows(out, &r);
    prompt_result_free(&r);
  }
  if (fmt == FMT_JSON) {
    if (json_dumpf(jroot, out, JSON_INDENT(1)) || fputc('\n', out) == EOF) goto done;
  }
  rc = 0;
done:
  if (out != stdout && fclose(out) != 0 && rc == 0) {
    fprintf(stderr, "layercast compare: error writing '%s'\n", out_path);
    rc = 1;
  }
  json_decref(jroot);
  free(la), free(lb), free(ha), free(hb), free(seq), free(given);
  json_decref(record);
  cli_prompts_free(&pl);
  close_config(&B);
  close_config(&A);
  return rc;
}
