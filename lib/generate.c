/*
 * lib/generate.c — generation over a changing batch (continuous batching).
 *
 * The schedule is a function of the sequences' prompt lengths, join steps,
 * max_new_tokens and prefill_chunk, and of the stop tokens drawn; never of
 * timing.  At step t (docs/generation.md):
 *   1. a sequence with join_step <= t that has not joined takes the lowest
 *      free cache slot (in array order among those joining);
 *   2. the joined, unfinished sequences in array order form the batch: each
 *      feeds its next prompt chunk (prefill_chunk tokens, 0 = the rest) or,
 *      once its prompt is in, its last generated token;
 *   3. one lc_session_forward runs the batch (all_logits = 0); when a step
 *      holds more than the session's max_tokens tokens it is cut into
 *      several passes, in array order, an entry split across two passes if
 *      need be (rows are independent in strict mode, so the bits do not
 *      change);
 *   4. each sequence whose prompt is complete samples its next token from
 *      its entry's logits, at pos = prompt_len + n_generated, keyed by its
 *      seq_id; it ends after max_new_tokens tokens or after any id of its stop set,
 *      and its slot is free from step t+1 on.
 * When nothing is active and sequences wait, the step jumps to the next
 * join step.  A sequence with max_new_tokens = 0 never joins.
 *
 * Everything that can be checked before the first pass is: parameters,
 * prompt tokens, lengths against max_len, and the slot count, by a dry run
 * of the schedule in which no sequence stops early (a stop only shortens a
 * sequence, so the real run never has more active at once).  The tokens and
 * records are gathered in private buffers and copied out only on success:
 * a failed call leaves every output (tokens, records, n_generated) as it was.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layercast_model.h"
#include "lib/lc_internal.h"
#include "lib/model_internal.h"
#include "lib/sample_internal.h"

/* One sequence's progress. */
typedef struct gen_state {
  int32_t slot;    /* -1 until it joins */
  int32_t fed;     /* prompt tokens fed so far */
  int32_t n_gen;   /* tokens generated so far */
  int32_t pending; /* tokens of this step not yet in a pass */
  int joined, done;
  int32_t *tokens;         /* private [max_new_tokens] */
  lc_token_record *record; /* private [max_new_tokens] or NULL */
} gen_state;

typedef struct gen_run {
  lc_session *s;
  lc_context *ctx;
  lc_gen_sequence *seqs;
  int64_t n;
  const lc_gen_params *p;
  int32_t vocab, n_slots, max_tokens;
  gen_state *st;         /* [n] */
  unsigned char *busy;   /* [n_slots] */
  lc_batch_entry *entry; /* [n_slots] one pass */
  int64_t *entry_seq;    /* [n_slots] the sequence of each entry */
  float *logits;         /* [n_slots][vocab] (NULL in the dry run) */
  int dry;               /* 1: schedule only, no pass, no stop */
} gen_run;

/* Tokens the sequence feeds at this step. */
static int32_t step_tokens(const gen_run *g, int64_t i) {
  const lc_gen_sequence *q = &g->seqs[i];
  const gen_state *t = &g->st[i];
  if (t->fed < q->prompt_len) {
    const int32_t rest = q->prompt_len - t->fed;
    return (g->p->prefill_chunk == 0 || g->p->prefill_chunk > rest) ? rest : g->p->prefill_chunk;
  }
  return 1;
}

/* Runs the n_e entries of one pass and takes the tokens that complete. */
static lc_status run_pass(gen_run *g, int64_t n_e) {
  if (!g->dry) {
    lc_status st = lc_session_forward(g->s, g->entry, n_e, 0, g->logits);
    if (st != LC_OK) return st;
  }
  for (int64_t e = 0; e < n_e; e++) {
    const int64_t i = g->entry_seq[e];
    const lc_gen_sequence *q = &g->seqs[i];
    gen_state *t = &g->st[i];
    if (t->fed < q->prompt_len) t->fed += g->entry[e].n_tokens;
    if (t->pending > 0) continue;         /* the rest of its step comes in the next pass */
    if (t->fed < q->prompt_len) continue; /* prompt not complete yet: no token */
    lc_token_record rec;
    const int32_t pos = q->prompt_len + t->n_gen;
    if (g->dry) {
      rec.token = -1; /* never a stop token */
    } else {
      lc_status st = lc_sample(g->logits + e * (int64_t)g->vocab, g->vocab, &g->p->sampler,
                               q->seq_id, pos, &rec);
      if (st != LC_OK) { /* copy the message first: LC_FAIL rewrites that buffer */
        char why[LC_ERR_LEN];
        snprintf(why, sizeof why, "%s", lc_last_error(NULL));
        return LC_FAIL(g->ctx, st, "lc_generate: sampling sequence %lld at position %d: %s",
                       (long long)i, (int)pos, why);
      }
      t->tokens[t->n_gen] = rec.token;
      if (t->record) t->record[t->n_gen] = rec;
    }
    t->n_gen++;
    if (t->n_gen == q->max_new_tokens || lc_stop_set_has(&q->stop, rec.token)) t->done = 1;
  }
  return LC_OK;
}

lc_stop_set lc_stop_set_one(int32_t token) {
  lc_stop_set s = {0, {0}};
  if (token >= 0) s.ids[s.n++] = token;
  return s;
}

int lc_stop_set_has(const lc_stop_set *s, int32_t token) {
  if (!s || token < 0) return 0;
  for (int32_t i = 0; i < s->n && i < LC_MAX_STOP_TOKENS; i++)
    if (s->ids[i] == token) return 1;
  return 0;
}

lc_status lc_stop_set_check(const lc_stop_set *s, int32_t vocab) {
  if (s->n < 0 || s->n > LC_MAX_STOP_TOKENS)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "a stop set holds 0 to %d ids, not %d",
                   LC_MAX_STOP_TOKENS, (int)s->n);
  for (int32_t i = 0; i < s->n; i++)
    if (s->ids[i] < 0 || s->ids[i] >= vocab)
      return LC_FAIL(NULL, LC_ERR_OUT_OF_RANGE,
                     "the stop token %d is outside the model's vocabulary (0 .. %d)",
                     (int)s->ids[i], (int)vocab - 1);
  return LC_OK;
}

/* One step over the active sequences, cut into passes of <= max_tokens. */
static lc_status run_step(gen_run *g) {
  for (int64_t i = 0; i < g->n; i++) {
    gen_state *t = &g->st[i];
    if (t->joined && !t->done) t->pending = step_tokens(g, i);
  }
  int64_t i = 0;
  while (i < g->n) {
    int64_t n_e = 0, room = g->max_tokens;
    for (; i < g->n && room > 0; i++) {
      gen_state *t = &g->st[i];
      if (!t->joined || t->done) continue;
      const lc_gen_sequence *q = &g->seqs[i];
      const int32_t take = (int32_t)(t->pending < room ? t->pending : room);
      lc_batch_entry *b = &g->entry[n_e];
      b->slot = t->slot;
      if (t->fed < q->prompt_len) {
        b->pos = t->fed;
        b->tokens = q->prompt + t->fed;
      } else {
        b->pos = q->prompt_len + t->n_gen - 1;
        b->tokens = &t->tokens[t->n_gen - 1];
      }
      b->n_tokens = take;
      g->entry_seq[n_e++] = i;
      t->pending -= take;
      room -= take;
      if (t->pending > 0) break; /* split: this sequence opens the next pass */
    }
    if (n_e > 0) LC_TRY(run_pass(g, n_e));
  }
  return LC_OK;
}

/* The whole schedule; the dry run checks the slot count on the way. */
static lc_status run_all(gen_run *g) {
  int64_t left = 0;
  for (int64_t i = 0; i < g->n; i++) {
    gen_state *t = &g->st[i];
    memset(t, 0, offsetof(gen_state, tokens));
    t->slot = -1;
    t->done = g->seqs[i].max_new_tokens == 0;
    left += !t->done;
  }
  memset(g->busy, 0, (size_t)g->n_slots);
  int64_t step = 0;
  while (left > 0) {
    /* joins; skip ahead when nothing runs */
    int any = 0;
    int64_t next = INT64_MAX;
    for (int64_t i = 0; i < g->n; i++) {
      const gen_state *t = &g->st[i];
      if (t->joined && !t->done) any = 1;
      if (!t->joined && !t->done && g->seqs[i].join_step < next) next = g->seqs[i].join_step;
    }
    if (!any && next > step) step = next;
    for (int64_t i = 0; i < g->n; i++) {
      gen_state *t = &g->st[i];
      if (t->joined || t->done || g->seqs[i].join_step > step) continue;
      int32_t slot = 0;
      while (slot < g->n_slots && g->busy[slot]) slot++;
      if (slot == g->n_slots) {
        return LC_FAIL(g->ctx, LC_ERR_SHAPE,
                       "lc_generate: sequence %lld joins at step %lld when all %d cache slots are "
                       "taken: the schedule needs more slots (at most n_slots sequences may be "
                       "active at once, counting each to its max_new_tokens)",
                       (long long)i, (long long)step, (int)g->n_slots);
      }
      g->busy[slot] = 1;
      t->slot = slot;
      t->joined = 1;
    }
    LC_TRY(run_step(g));
    for (int64_t i = 0; i < g->n; i++) {
      gen_state *t = &g->st[i];
      if (t->joined && t->done && t->slot >= 0) {
        g->busy[t->slot] = 0;
        t->slot = -1;
        left--;
      }
    }
    step++;
  }
  return LC_OK;
}

static lc_status check_args(lc_session *s, const lc_gen_sequence *seqs, int64_t n,
                            const lc_gen_params *p, int64_t *total_tokens) {
  static const char fn[] = "lc_generate";
  lc_context *ctx = s->ctx;
  if (n < 0)
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: n_seqs = %lld < 0", fn, (long long)n);
  if (n > 0 && !seqs) return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: seqs is NULL", fn);
  if (!p) return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: params are NULL", fn);
  LC_TRY(lc_sampler_params_check(ctx, &p->sampler, fn));
  if (p->prefill_chunk < 0) {
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: prefill_chunk = %d, expected >= 0 (0: all)",
                   fn, (int)p->prefill_chunk);
  }
  const int32_t vocab = s->model->info.config.vocab_size;
  const int32_t max_len = s->params.max_len;
  int64_t total = 0;
  for (int64_t i = 0; i < n; i++) {
    const lc_gen_sequence *q = &seqs[i];
    if (!q->prompt || q->prompt_len < 1) {
      return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT,
                     "%s: seqs[%lld]: prompt %s, prompt_len %d: expected a prompt of >= 1 tokens",
                     fn, (long long)i, q->prompt ? "given" : "NULL", (int)q->prompt_len);
    }
    if (q->max_new_tokens < 0 || q->join_step < 0) {
      return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT,
                     "%s: seqs[%lld]: max_new_tokens %d and join_step %d must be >= 0", fn,
                     (long long)i, (int)q->max_new_tokens, (int)q->join_step);
    }
    if (q->max_new_tokens > 0 && !q->tokens) {
      return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: seqs[%lld].tokens is NULL", fn,
                     (long long)i);
    }
    if (lc_stop_set_check(&q->stop, vocab) != LC_OK) {
      char why[LC_ERR_LEN];
      snprintf(why, sizeof why, "%s", lc_last_error(NULL));
      return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: seqs[%lld].stop: %s", fn, (long long)i,
                     why);
    }
    if ((int64_t)q->prompt_len + q->max_new_tokens > max_len) {
      return LC_FAIL(ctx, LC_ERR_SHAPE,
                     "%s: seqs[%lld]: prompt_len %d + max_new_tokens %d = %lld positions, the "
                     "session holds %d per slot (max_len)",
                     fn, (long long)i, (int)q->prompt_len, (int)q->max_new_tokens,
                     (long long)q->prompt_len + q->max_new_tokens, (int)max_len);
    }
    for (int32_t j = 0; j < q->prompt_len; j++) {
      if (q->prompt[j] < 0 || q->prompt[j] >= vocab) {
        return LC_FAIL(ctx, LC_ERR_OUT_OF_RANGE,
                       "%s: seqs[%lld].prompt[%d] = %d, the vocabulary has 0..%d", fn, (long long)i,
                       (int)j, (int)q->prompt[j], (int)vocab - 1);
      }
    }
    total += q->max_new_tokens; /* < n * 2^31: no overflow in int64 */
  }
  *total_tokens = total;
  return LC_OK;
}

lc_status lc_generate(lc_session *s, lc_gen_sequence *seqs, int64_t n_seqs,
                      const lc_gen_params *p) {
  static const char fn[] = "lc_generate";
  if (!s) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: session is NULL", fn);
  lc_context *ctx = s->ctx;
  int64_t total = 0;
  LC_TRY(check_args(s, seqs, n_seqs, p, &total));
  if (n_seqs == 0) return LC_OK;

  gen_run g;
  memset(&g, 0, sizeof g);
  g.s = s;
  g.ctx = ctx;
  g.seqs = seqs;
  g.n = n_seqs;
  g.p = p;
  g.vocab = s->model->info.config.vocab_size;
  g.n_slots = s->params.n_slots;
  g.max_tokens = s->params.max_tokens;

  /* private outputs: tokens for all, records for the sequences that want them */
  int64_t total_rec = 0;
  for (int64_t i = 0; i < n_seqs; i++) total_rec += seqs[i].records ? seqs[i].max_new_tokens : 0;
  const size_t logits_elems = (size_t)g.n_slots * (size_t)g.vocab; /* both < 2^31 */
  if ((uint64_t)n_seqs > SIZE_MAX / sizeof(gen_state) ||
      (uint64_t)total > SIZE_MAX / sizeof(int32_t) ||
      (uint64_t)total_rec > SIZE_MAX / sizeof(lc_token_record) ||
      logits_elems > SIZE_MAX / sizeof(float)) {
    return LC_FAIL(ctx, LC_ERR_OVERFLOW, "%s: %lld sequences, %lld tokens: sizes overflow", fn,
                   (long long)n_seqs, (long long)total);
  }
  g.st = lc_calloc((size_t)n_seqs, sizeof *g.st);
  int32_t *tok_buf = lc_malloc((size_t)(total > 0 ? total : 1) * sizeof *tok_buf);
  lc_token_record *rec_buf = lc_malloc((size_t)(total_rec > 0 ? total_rec : 1) * sizeof *rec_buf);
  g.busy = lc_malloc((size_t)g.n_slots);
  g.entry = lc_malloc((size_t)g.n_slots * sizeof *g.entry);
  g.entry_seq = lc_malloc((size_t)g.n_slots * sizeof *g.entry_seq);
  float *logits = lc_malloc(logits_elems * sizeof *logits);
  lc_status st = LC_OK;
  if (!g.st || !tok_buf || !rec_buf || !g.busy || !g.entry || !g.entry_seq || !logits) {
    st = LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY,
                 "%s: cannot allocate the run's state (%lld sequences, %lld tokens, %lld logits)",
                 fn, (long long)n_seqs, (long long)total, (long long)logits_elems);
    goto done;
  }
  {
    int64_t off = 0, roff = 0;
    for (int64_t i = 0; i < n_seqs; i++) {
      g.st[i].tokens = tok_buf + off;
      off += seqs[i].max_new_tokens;
      g.st[i].record = seqs[i].records ? rec_buf + roff : NULL;
      roff += seqs[i].records ? seqs[i].max_new_tokens : 0;
    }
  }
  /* the schedule with no early stop: fails before any pass if slots run out */
  g.dry = 1;
  st = run_all(&g);
  if (st != LC_OK) goto done;
  g.dry = 0;
  g.logits = logits;
  st = run_all(&g);
  if (st != LC_OK) goto done;
  for (int64_t i = 0; i < n_seqs; i++) {
    const gen_state *t = &g.st[i];
    lc_gen_sequence *q = &seqs[i];
    if (t->n_gen > 0) memcpy(q->tokens, t->tokens, (size_t)t->n_gen * sizeof *q->tokens);
    if (q->records && t->n_gen > 0)
      memcpy(q->records, t->record, (size_t)t->n_gen * sizeof *q->records);
    q->n_generated = t->n_gen;
  }
done:
  free(g.st);
  free(tok_buf);
  free(rec_buf);
  free(g.busy);
  free(g.entry);
  free(g.entry_seq);
  free(logits);
  return st;
}
