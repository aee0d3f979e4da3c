/*
 * lib/replay.c — teacher-forced replay of one configuration's tokens under
 * another (layercast_experiment.h; `layercast compare`).
 *
 * Configuration A (backend, mode, batch size, the row's index in the batch)
 * generates greedily from a prompt (or its tokens are given).  Then prompt +
 * tokens are replayed, teacher-forced, under A and under B
 * (lc_session_forward with all_logits = 1, in one prefill or in chunks), the
 * target row at its index in a batch whose other rows are random sequences
 * drawn from a seed (A's and B's neighbours differ).  For each generated
 * position: max |logit_A - logit_B|, whether the top-1 flips, and both
 * top-1/top-2 margins; through the layer hook (the residual after each
 * layer, then the final RMSNorm) the first layer where the two hidden states
 * differ in bits, per position and overall.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/exp_internal.h"
#include "lib/model_internal.h"

static const char FN[] = "lc_replay_run";

typedef struct side {
  lc_replay_side cfg;
  lc_context *ctx;
  lc_model *model;
  int owns; /* 1: ctx and model belong to this side */
} side;

struct lc_replay {
  lc_replay_params p;
  side a, b;
  lc_model_info info;
};

void lc_replay_params_default(lc_replay_params *p) {
  if (!p) return;
  memset(p, 0, sizeof *p);
  p->a = (lc_replay_side){LC_BACKEND_CPU, LC_MODE_STRICT, 1, 0, 1, 1};
  p->b = (lc_replay_side){LC_BACKEND_CPU, LC_MODE_REFERENCE, 1, 0, 2, 1};
  p->cpu_threads = 1;
  p->max_new = 32;
}

static lc_status open_side(const lc_replay_params *p, side *s, const side *other,
                           const char *label) {
  if (other && other->model && other->cfg.backend == s->cfg.backend &&
      other->cfg.mode == s->cfg.mode) {
    s->ctx = other->ctx; /* same backend and mode: one model serves both */
    s->model = other->model;
    s->owns = 0;
    return LC_OK;
  }
  lc_context_params cp;
  lc_context_params_default(&cp);
  cp.backend = s->cfg.backend;
  cp.mode = s->cfg.mode;
  cp.device = p->device;
  cp.cpu_threads = p->cpu_threads;
  lc_status st = lc_context_create(&cp, &s->ctx);
  if (st != LC_OK) return st;
  s->owns = 1;
  st = lc_model_load(s->ctx, p->model, NULL, &s->model);
  if (st != LC_OK) {
    char msg[LC_ERR_LEN];
    snprintf(msg, sizeof msg, "%s", lc_last_error(s->ctx));
    return LC_FAIL(NULL, st, "loading '%s' for %s: %s", p->model, label, msg);
  }
  return LC_OK;
}

static void close_side(side *s) {
  if (s->owns) {
    lc_model_free(s->model);
    lc_context_free(s->ctx);
  }
  memset(s, 0, sizeof *s);
}

void lc_replay_free(lc_replay *r) {
  if (!r) return;
  close_side(&r->b);
  close_side(&r->a);
  free(r);
}

lc_status lc_replay_create(const lc_replay_params *p, lc_replay **out) {
  static const char fn[] = "lc_replay_create";
  if (!out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
  *out = NULL;
  if (!p || !p->model)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: need parameters with a model path", fn);
  const lc_replay_side *sd[2] = {&p->a, &p->b};
  for (int i = 0; i < 2; i++)
    if (sd[i]->batch < 1 || sd[i]->batch > (1 << 16) || sd[i]->position < 0 ||
        sd[i]->position >= sd[i]->batch)
      return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                     "%s: configuration %c: row %d of a batch of %d (need 0 <= row < batch "
                     "<= 65536)",
                     fn, "AB"[i], (int)sd[i] -> position, (int)sd[i] -> batch);
  if (p->max_new < 0 || p->prefill_chunk < 0)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: need max_new >= 0 and prefill_chunk >= 0",
                   fn);
  lc_replay *r = lc_calloc(1, sizeof *r);
  if (!r) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  r->p = *p;
  r->a.cfg = p->a;
  r->b.cfg = p->b;
  lc_status st = open_side(p, &r->a, NULL, "A");
  if (st == LC_OK) st = open_side(p, &r->b, &r->a, "B");
  if (st == LC_OK) st = lc_model_get_info(r->a.model, &r->info);
  if (st == LC_OK) st = lc_stop_set_check(&p->stop, r->info.config.vocab_size);
  if (st != LC_OK) {
    lc_replay_free(r);
    return st;
  }
  *out = r;
  return LC_OK;
}

const lc_model_config *lc_replay_model_config(const lc_replay *r) {
  return r ? &r->info.config : NULL;
}

/* Neighbour j's random sequence: length in [1, max_len], ids in [0, vocab). */
static int32_t *neighbour(uint64_t seed, int32_t j, int32_t max_len, int32_t vocab, int32_t *len) {
  uint64_t s = seed * 0x100000001B3ull + (uint64_t)j * 0x9E3779B97F4A7C15ull + 1;
  *len = 1 + (int32_t)(lc_splitmix64(&s) % (uint64_t)max_len);
  int32_t *v = lc_malloc((size_t)*len * sizeof *v);
  if (v)
    for (int32_t i = 0; i < *len; i++) v[i] = (int32_t)(lc_splitmix64(&s) % (uint64_t)vocab);
  return v;
}

/* Greedy generation of the target row under A, its neighbours random from
 * A's seed (the batches generate and sweep build). */
static lc_status generate_a(lc_replay *r, const lc_prompt *target, int32_t index, int32_t *tokens,
                            int32_t *n) {
  const side *a = &r->a;
  lc_session_params sp;
  /* random neighbours (batch > 1) are up to lc_neighbour_max_len long */
  const int32_t max_prompt =
      a->cfg.batch > 1 ? lc_neighbour_max_len(target->n_tokens) : target->n_tokens;
  LC_TRY(lc_target_session_params(a->cfg.batch, max_prompt, r->p.max_new, r->p.prefill_chunk,
                                  LC_DTYPE_F32, &sp));
  sp.tp = a->cfg.tp;
  lc_session *s = NULL;
  LC_TRY(lc_session_create(a->model, &sp, &s));
  lc_target_params tp;
  memset(&tp, 0, sizeof tp);
  tp.target = target;
  tp.target_index = index;
  tp.neighbour_seed = a->cfg.seed;
  tp.batch = a->cfg.batch;
  tp.position = a->cfg.position;
  tp.max_new = r->p.max_new;
  tp.stop = r->p.stop;
  lc_sampler_params_default(&tp.gen.sampler);
  tp.gen.prefill_chunk = r->p.prefill_chunk;
  lc_status st = lc_generate_target(s, &tp, tokens, NULL, n);
  lc_session_free(s);
  return st;
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

/* Replays seq[0..T) under side c in chunks of `chunk` (0: all at once), the
 * target at its index among random neighbours.  logits [T][vocab] and
 * hidden [n_layers+1][T][dim] receive the target row's values. */
static lc_status replay(const side *c, const lc_model_config *mc, const int32_t *seq, int32_t T,
                        int32_t chunk, float *logits, float *hidden) {
  const int32_t vocab = mc->vocab_size, B = c->cfg.batch, dim = mc->dim;
  if (chunk <= 0 || chunk > T) chunk = T;
  int32_t **nb = lc_calloc((size_t)B, sizeof *nb);
  int32_t *nlen = lc_calloc((size_t)B, sizeof *nlen);
  lc_batch_entry *e = lc_calloc((size_t)B, sizeof *e);
  float *buf = NULL;
  lc_session *s = NULL;
  lc_status st = LC_OK;
  const int64_t max_tokens = (int64_t)B * chunk;
  if (!nb || !nlen || !e) st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  for (int32_t j = 0; j < B && st == LC_OK; j++) {
    if (j == c->cfg.position) continue;
    nb[j] = neighbour(c->cfg.seed ^ 0x5eed5eedull, j, T, vocab, &nlen[j]);
    if (!nb[j]) st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  }
  if (st == LC_OK &&
      (max_tokens > INT32_MAX || (size_t)max_tokens > SIZE_MAX / sizeof(float) / (size_t)vocab))
    st = LC_FAIL(NULL, LC_ERR_OVERFLOW, "%s: batch %d x chunk %d is too large", FN, (int)B,
                 (int)chunk);
  if (st == LC_OK && !(buf = lc_malloc((size_t)max_tokens * (size_t)vocab * sizeof *buf)))
    st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory for the logits", FN);
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.n_slots = B;
  sp.max_len = T;
  sp.max_tokens = (int32_t)max_tokens;
  sp.tp = c->cfg.tp;
  if (st == LC_OK) st = lc_session_create(c->model, &sp, &s);
  hook_state h = {0, 0, 0, T, dim, hidden};
  if (st == LC_OK) st = lc_session_set_layer_hook(s, copy_hook, &h);
  for (int32_t p0 = 0; p0 < T && st == LC_OK; p0 += chunk) {
    int64_t ne = 0, rows = 0;
    for (int32_t j = 0; j < B; j++) {
      const int32_t len = j == c->cfg.position ? T : nlen[j];
      if (p0 >= len) continue;
      const int32_t n = len - p0 < chunk ? len - p0 : chunk;
      e[ne] = (lc_batch_entry){j, p0, n, (j == c->cfg.position ? seq : nb[j]) + p0};
      if (j == c->cfg.position) {
        h.row0 = rows;
        h.n_rows = n;
        h.pos0 = p0;
      }
      rows += n;
      ne++;
    }
    st = lc_session_forward(s, e, ne, 1, buf);
    if (st == LC_OK)
      memcpy(logits + (size_t)p0 * (size_t)vocab, buf + (size_t)h.row0 * (size_t)vocab,
             (size_t)h.n_rows * (size_t)vocab * sizeof *buf);
  }
  lc_session_free(s);
  if (nb)
    for (int32_t j = 0; j < B; j++) free(nb[j]);
  free(nb);
  free(nlen);
  free(e);
  free(buf);
  return st;
}

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

void lc_replay_result_free(lc_replay_result *r) {
  if (!r) return;
  free(r->steps);
  free(r->layer_ndiff);
  free(r->layer_first);
  free(r);
}

static lc_status compare(const float *la, const float *lb, const float *ha, const float *hb,
                         const int32_t *seq, int32_t T, int32_t vocab, int32_t dim, int greedy,
                         lc_replay_result *r) {
  const int32_t L = r->n_layers + 1, plen = r->prompt_len, ngen = r->n_generated;
  r->steps = lc_calloc((size_t)(ngen > 0 ? ngen : 1), sizeof *r->steps);
  r->layer_ndiff = lc_calloc((size_t)L, sizeof *r->layer_ndiff);
  r->layer_first = lc_malloc((size_t)L * sizeof *r->layer_first);
  int32_t *pos_first = lc_malloc((size_t)T * sizeof *pos_first);
  if (!r->steps || !r->layer_ndiff || !r->layer_first || !pos_first) {
    free(pos_first);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
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
    lc_replay_step *st = &r->steps[i];
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
      else if (isnan(a[v]) || a[v] == b[v])
        d = 0.0; /* both NaN, or equal infinities */
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
  return LC_OK;
}

lc_status lc_replay_run(lc_replay *r, const lc_prompt *prompt, int32_t prompt_index,
                        const int32_t *given, int32_t n_given, lc_replay_result **out) {
  if (!out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: out is NULL", FN);
  *out = NULL;
  if (!r || !prompt || !prompt->tokens || prompt->n_tokens < 1 || prompt_index < 0 || n_given < 0 ||
      (n_given > 0 && !given))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: NULL argument or a bad count", FN);
  const lc_model_config *mc = &r->info.config;
  const int32_t vocab = mc->vocab_size, dim = mc->dim, nl = mc->n_layers;
  const int32_t plen = prompt->n_tokens;
  lc_prompt_list one = {(lc_prompt *)prompt, 1};
  LC_TRY(lc_prompt_list_check_vocab(&one, vocab));
  for (int32_t i = 0; given && i < n_given; i++)
    if (given[i] < 0 || given[i] >= vocab)
      return LC_FAIL(NULL, LC_ERR_OUT_OF_RANGE,
                     "A's token %d at index %d is outside the model's vocabulary (0 .. %d)",
                     (int)given[i], (int)i, (int)vocab - 1);
  const int64_t max_gen = given ? n_given : r->p.max_new;
  /* when A generates in a batch, its random neighbours are up to twice as long */
  const int nb = !given && r->a.cfg.batch > 1;
  const int64_t need = (nb ? lc_neighbour_max_len(plen) : plen) + max_gen;
  if (need > mc->max_seq_len)
    return LC_FAIL(NULL, LC_ERR_OUT_OF_RANGE,
                   "prompt %d: %d tokens + %lld %s tokens need %lld positions%s, past the "
                   "model's %d",
                   (int)prompt_index, (int)plen, (long long)max_gen, given ? "given" : "new",
                   (long long)need, nb ? " (A's neighbours are up to twice as long)" : "",
                   (int)mc->max_seq_len);
  lc_replay_result *res = lc_calloc(1, sizeof *res);
  int32_t *seq = lc_malloc((size_t)(plen + max_gen) * sizeof *seq);
  float *la = NULL, *lb = NULL, *ha = NULL, *hb = NULL;
  lc_status st = res && seq ? LC_OK : LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  int32_t ngen = 0;
  if (st == LC_OK) {
    memcpy(seq, prompt->tokens, (size_t)plen * sizeof *seq);
    if (given) {
      memcpy(seq + plen, given, (size_t)n_given * sizeof *seq);
      ngen = n_given;
    } else {
      st = generate_a(r, prompt, prompt_index, seq + plen, &ngen);
    }
  }
  const int32_t T = plen + ngen;
  if (st == LC_OK) {
    const size_t nlog = (size_t)T * (size_t)vocab, nhid = (size_t)(nl + 1) * T * (size_t)dim;
    la = lc_malloc(nlog * sizeof *la);
    lb = lc_malloc(nlog * sizeof *lb);
    ha = lc_malloc(nhid * sizeof *ha);
    hb = lc_malloc(nhid * sizeof *hb);
    if (!la || !lb || !ha || !hb)
      st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory for %d positions", FN, (int)T);
  }
  if (st == LC_OK) st = replay(&r->a, mc, seq, T, r->p.prefill_chunk, la, ha);
  if (st == LC_OK) st = replay(&r->b, mc, seq, T, r->p.prefill_chunk, lb, hb);
  if (st == LC_OK) {
    res->prompt_index = prompt_index;
    res->prompt_len = plen;
    res->n_generated = ngen;
    res->n_layers = nl;
    res->tokens_source = given ? "given" : "generated by A (greedy)";
    st = compare(la, lb, ha, hb, seq, T, vocab, dim, !given, res);
  }
  free(la), free(lb), free(ha), free(hb), free(seq);
  if (st != LC_OK) {
    lc_replay_result_free(res);
    return st;
  }
  *out = res;
  return LC_OK;
}

lc_status lc_replay_result_json(const lc_replay_result *r, char **json) {
  if (!r || !json) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_replay_result_json: NULL");
  *json = NULL;
  json_t *steps = json_array(), *layers = json_array();
  int bad = !steps || !layers;
  for (int32_t i = 0; i < r->n_generated && !bad; i++) {
    const lc_replay_step *s = &r->steps[i];
    bad |= json_array_append_new(
        steps,
        json_pack("{s:i, s:i, s:i, s:o, s:i, s:i, s:b, s:o, s:o, s:i, s:b}", "step", s->step, "pos",
                  s->pos + 1, "token", s->token, "max_abs_dlogit", lc_json_real_or_null(s->max_abs),
                  "top1_a", s->top1_a, "top1_b", s->top1_b, "flip", s->top1_a != s->top1_b,
                  "margin_a", lc_json_real_or_null(s->margin_a), "margin_b",
                  lc_json_real_or_null(s->margin_b), "first_diff_layer", s->first_layer,
                  "logits_equal", s->logits_equal));
  }
  for (int32_t l = 0; l <= r->n_layers && !bad; l++)
    bad |= json_array_append_new(
        layers,
        json_pack("{s:i, s:b, s:i, s:i}", "layer", l, "final_norm", l == r->n_layers,
                  "n_diff_positions", r->layer_ndiff[l], "first_position", r->layer_first[l]));
  json_t *first = r->first_layer < 0
                      ? json_null()
                      : json_pack("{s:i, s:i}", "layer", r->first_layer, "position", r->first_pos);
  json_t *o = bad ? NULL
                  : json_pack("{s:i, s:i, s:i, s:s, s:O, s:O, s:O, s:i, s:i, s:o, s:i, s:b}",
                              "prompt", r->prompt_index, "prompt_len", r->prompt_len, "n_generated",
                              r->n_generated, "tokens_source", r->tokens_source, "steps", steps,
                              "layers", layers, "first_diff", first, "logits_diff_positions",
                              r->logits_ndiff, "flips", r->n_flips, "max_abs_dlogit",
                              lc_json_real_or_null(r->max_abs), "replay_misses", r->replay_misses,
                              "identical", r->first_layer < 0 && r->logits_ndiff == 0);
  json_decref(steps);
  json_decref(layers);
  json_decref(first);
  if (o) *json = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
  json_decref(o);
  return *json ? LC_OK
               : LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_replay_result_json: out of memory");
}
