/*
 * lib/target.c — a target prompt generated as one row of a batch
 * (layercast_experiment.h): the unit that generate, sweep, compare and the
 * demo build their batches from, so that all of them build them alike.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/exp_internal.h"
#include "lib/model_internal.h"

int32_t lc_position_resolve(const char *label, int32_t batch) {
  if (!label || batch < 1) return -1;
  if (!strcmp(label, "first")) return 0;
  if (!strcmp(label, "middle")) return batch / 2;
  if (!strcmp(label, "last")) return batch - 1;
  char *end = NULL;
  errno = 0;
  long v = strtol(label, &end, 10);
  if (!*label || *end || errno || v < 0 || v >= batch) return -1;
  return (int32_t)v;
}

int32_t lc_neighbour_max_len(int32_t target_len) {
  int64_t m = 2 * (int64_t)target_len;
  if (m < 4) m = 4;
  return m > (1 << 20) ? (1 << 20) : (int32_t)m;
}

lc_status lc_target_session_params(int32_t batch, int32_t max_prompt, int32_t max_new,
                                   int32_t prefill_chunk, lc_dtype kv_dtype,
                                   lc_session_params *out) {
  static const char fn[] = "lc_target_session_params";
  if (!out || batch < 1 || max_prompt < 1 || max_new < 0 || prefill_chunk < 0)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "%s: need batch >= 1, max_prompt >= 1, max_new >= 0, prefill_chunk >= 0", fn);
  int64_t max_len = (int64_t)max_prompt + max_new;
  int64_t per_row = prefill_chunk > 0 && prefill_chunk < max_prompt ? prefill_chunk : max_prompt;
  int64_t max_tokens = (int64_t)batch * per_row;
  if (max_tokens < batch) max_tokens = batch;
  if (max_len > INT32_MAX || max_tokens > INT32_MAX)
    return LC_FAIL(NULL, LC_ERR_OVERFLOW, "%s: a batch of %d rows of %lld tokens is too large", fn,
                   (int)batch, (long long)max_len);
  lc_session_params_default(out);
  out->n_slots = batch;
  out->max_len = (int32_t)max_len;
  out->max_tokens = (int32_t)max_tokens;
  out->kv_dtype = kv_dtype;
  return LC_OK;
}

lc_status lc_generate_target(lc_session *s, const lc_target_params *r, int32_t *tokens,
                             lc_token_record *records, int32_t *n_out) {
  static const char fn[] = "lc_generate_target";
  if (!s || !r || !r->target || !tokens || !n_out || !r->target->tokens)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
  *n_out = 0;
  const int32_t B = r->batch;
  if (B < 1 || r->position < 0 || r->position >= B || r->max_new < 0 || r->target_index < 0 ||
      r->target->n_tokens < 1 || (r->pool && r->pool->n < 1))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "%s: need batch >= 1, 0 <= position < batch, max_new >= 0 (got %d, %d, %d)", fn,
                   (int)B, (int)r->position, (int)r->max_new);
  /* against the session before the batch is allocated: B rows of max_new
   * tokens each (lc_generate would refuse both, after the allocation) */
  if (B > s->params.n_slots)
    return LC_FAIL(s->ctx, LC_ERR_SHAPE,
                   "%s: a batch of %d rows needs %d cache slots; the session has %d", fn, (int)B,
                   (int)B, (int)s->params.n_slots);
  if ((int64_t)r->target->n_tokens + r->max_new > s->params.max_len)
    return LC_FAIL(s->ctx, LC_ERR_SHAPE,
                   "%s: the target's %d prompt tokens + max_new %d = %lld positions, the session "
                   "holds %d per slot (max_len)",
                   fn, (int)r->target->n_tokens, (int)r->max_new,
                   (long long)r->target->n_tokens + r->max_new, (int)s->params.max_len);
  const int32_t vocab = s->model->info.config.vocab_size;
  /* B <= n_slots and per <= max_len: B * per is below the session's cache
   * rows, B * rmax below 2^51; neither product overflows size_t */
  lc_gen_sequence *seqs = lc_calloc((size_t)B, sizeof *seqs);
  const int32_t rmax = lc_neighbour_max_len(r->target->n_tokens);
  const size_t per = (size_t)(r->max_new > 0 ? r->max_new : 1);
  /* neighbours' outputs, then their random prompts */
  int32_t *scratch = lc_malloc((size_t)B * (per + (r->pool ? 0 : (size_t)rmax)) * sizeof *scratch);
  if (!seqs || !scratch) {
    free(seqs);
    free(scratch);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory for a batch of %d", fn, (int)B);
  }
  /* random neighbours: a stream per (seed, target, batch, position) so that
   * every cell gets its own, reproducible neighbours */
  uint64_t rs = r->neighbour_seed ^ (0x51ED270B27A8B13Dull * ((uint64_t)r->target_index + 1u)) ^
                ((uint64_t)B << 40) ^ ((uint64_t)r->position << 20);
  int32_t *rand_prompts = scratch + (size_t)B * per;
  for (int32_t i = 0; i < B; i++) {
    lc_gen_sequence *q = &seqs[i];
    q->max_new_tokens = r->max_new;
    q->join_step = 0;
    q->stop = r->stop;
    if (i == r->position) {
      /* the target's sampler stream depends only on its prompt index */
      q->seq_id = (uint64_t)r->target_index;
      q->prompt = r->target->tokens;
      q->prompt_len = r->target->n_tokens;
      q->tokens = tokens;
      q->records = records;
      continue;
    }
    q->seq_id = ((uint64_t)1 << 32) + (uint64_t)i;
    q->tokens = scratch + (size_t)i * per;
    q->records = NULL;
    if (r->pool) {
      /* the target's successors in the pool, cycled: row position+k holds
       * prompt target+k (mod n), rows before the target wrap around */
      int64_t k = ((int64_t)i - r->position + B) % B;
      const lc_prompt *src = &r->pool->v[((int64_t)r->target_index + k) % r->pool->n];
      q->prompt = src->tokens;
      q->prompt_len = src->n_tokens;
    } else {
      int32_t *pp = rand_prompts + (size_t)i * (size_t)rmax;
      int32_t len = (int32_t)lc_splitmix_range(&rs, 1, rmax);
      for (int32_t t = 0; t < len; t++) pp[t] = (int32_t)lc_splitmix_range(&rs, 0, vocab - 1);
      q->prompt = pp;
      q->prompt_len = len;
    }
  }
  lc_status st = lc_generate(s, seqs, B, &r->gen);
  if (st == LC_OK) *n_out = seqs[r->position].n_generated;
  free(seqs);
  free(scratch);
  return st;
}

int32_t lc_target_max_prompt(const lc_prompt_list *ps, int random_neighbours) {
  int32_t m = 0;
  for (int32_t p = 0; ps && p < ps->n; p++) {
    int32_t need = random_neighbours ? lc_neighbour_max_len(ps->v[p].n_tokens) : ps->v[p].n_tokens;
    if (need > m) m = need;
  }
  return m;
}

lc_status lc_target_check(const lc_model_config *c, const lc_prompt_list *ps, int random_neighbours,
                          int32_t max_new, const lc_stop_set *stop) {
  if (!c || !ps || max_new < 0)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_target_check: NULL or max_new < 0");
  LC_TRY(lc_prompt_list_check_vocab(ps, c->vocab_size));
  if (stop) LC_TRY(lc_stop_set_check(stop, c->vocab_size));
  for (int32_t p = 0; p < ps->n; p++) {
    const int32_t n = ps->v[p].n_tokens;
    const int32_t need = random_neighbours ? lc_neighbour_max_len(n) : n;
    if ((int64_t)need + max_new <= c->max_seq_len) continue;
    if (need > n)
      return LC_FAIL(NULL, LC_ERR_OUT_OF_RANGE,
                     "prompt %d has %d tokens, so its random neighbours have up to %d; %d + %d "
                     "new tokens = %lld positions, past the model's %d",
                     (int)p, (int)n, (int)need, (int)need, (int)max_new, (long long)need + max_new,
                     (int)c->max_seq_len);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_RANGE,
                   "prompt %d has %d tokens; %d + %d new tokens = %lld positions, past the "
                   "model's %d",
                   (int)p, (int)n, (int)n, (int)max_new, (long long)n + max_new,
                   (int)c->max_seq_len);
  }
  return LC_OK;
}
