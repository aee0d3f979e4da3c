/*
 * lib/session.c — KV caches, temporaries and the forward pass of a
 * Llama-family model, written only with the public op API so that it runs on
 * every backend and mode.
 *
 * One block, T rows (the entries' tokens packed in entry order):
 *
 *   x   = embedding(tokens)                                   [T][dim]
 *   per layer:
 *     h   = rmsnorm(x, input_layernorm)
 *     q,k,v = h Wq^T (+bq), h Wk^T (+bk), h Wv^T (+bv)          (bias: qwen2)
 *     q,k = rmsnorm per head (rows T*heads, weight [head_dim]) (qwen3)
 *     q,k = rope(q, k) at each token's position
 *     cache[slot][pos..] = k, v;  a = attention(q, cache)     causal, per entry
 *     x   = x + a Wo^T
 *     h   = rmsnorm(x, post_attention_layernorm)
 *     x   = x + (silu(h Wg^T) * (h Wu^T)) Wd^T
 *   h = rmsnorm(x, model.norm);  logits = h Wlm^T
 *
 * With all_logits == 0 only each entry's last row of h is projected: those
 * rows are gathered into a compact buffer first.  Every op computes each row
 * independently of the others in strict mode, so the gather (and computing
 * the logits in chunks of logit_rows rows) changes no bit there.
 *
 * Rounding per mode.  strict, reference and vendor-fp32 round nothing: every
 * activation and the KV cache stay FP32.  vendor-bf16 stores, as a bf16 engine
 * would, every activation it hands from one op to the next as a bf16 value
 * (lc_round_bf16: the buffers stay fp32 but hold bf16 values): the outputs of
 * each rmsnorm (the qwen3 q/k norms too), q/k/v (after the bias, and again
 * after rope), the attention output, o_proj, each residual sum, gate, up,
 * silu_mul, down, and the logits.  The embedding rows are bf16 already.  The
 * KV cache is stored in bf16 (2 bytes per element; lc_kv_write rounds k and
 * v to nearest even, lc_attention widens them) in vendor-bf16 and in any
 * mode when the session's kv_dtype is LC_DTYPE_BF16: the same values as
 * rounding k and v in fp32 and storing them in an fp32 cache.
 *
 * Cache capacity: attn.max_len positions per slot, from kv_initial_len up to
 * params.max_len, grown by grow_kv before a pass that needs more
 * (include/layercast_model.h says why growing and not paging).
 *
 * Cache bookkeeping: filled[slot] counts the positions written.  A forward
 * entry may start at pos <= filled[slot] (pos < filled overwrites, as a
 * re-prefill does) and leaves filled[slot] = pos + n_tokens; a pos past
 * filled (a gap) is LC_ERR_OUT_OF_RANGE.  If a pass fails after writing the
 * cache, its slots keep only the positions before their entries' pos.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lc_internal.h"
#include "lib/model_internal.h"
#include "lib/pool.h"

/* Most rows one logits matmul computes; passes with more rows (all_logits)
 * run the output projection in chunks, which bounds the logits buffer. */
#define LC_SESSION_LOGIT_CHUNK 128
/* Positions per slot of a new session's KV caches when kv_initial_len is 0. */
#define LC_SESSION_KV_INITIAL 1024

void lc_session_params_default(lc_session_params *p) {
  if (!p) return;
  memset(p, 0, sizeof *p);
  p->n_slots = 1;
  p->max_len = 0;
  p->max_tokens = 0;
  p->kv_dtype = LC_DTYPE_F32;
  p->kv_initial_len = 0;
}

static void free_buf(lc_context *ctx, float **p) {
  lc_buffer_free(ctx, *p);
  *p = NULL;
}

/* Frees the K and V caches of L layers and their arrays (NULL arrays and
 * NULL layers, from a failed allocation, are fine). */
void lc_session_free_caches(lc_context *ctx, float **k, float **v, int64_t L) {
  for (int64_t l = 0; k && l < L; l++) free_buf(ctx, &k[l]);
  for (int64_t l = 0; v && l < L; l++) free_buf(ctx, &v[l]);
  free(k);
  free(v);
}

/* K and V caches of L layers, `bytes` each, into *k and *v; on a failure
 * what was allocated is left there for free_caches. */
lc_status lc_session_alloc_caches(lc_context *ctx, const char *fn, int64_t L, size_t bytes,
                                  float ***k, float ***v) {
  *k = lc_calloc((size_t)L, sizeof **k);
  *v = lc_calloc((size_t)L, sizeof **v);
  if (!*k || !*v) return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
  for (int64_t l = 0; l < L; l++) {
    LC_TRY(lc_buffer_alloc(ctx, bytes, (void **)&(*k)[l]));
    LC_TRY(lc_buffer_alloc(ctx, bytes, (void **)&(*v)[l]));
  }
  return LC_OK;
}

static void free_graphs(lc_session *s) {
  for (int i = 0; i < LC_SESSION_GRAPHS; i++) {
    lc_cuda_graph_free(s->graphs[i].g);
    memset(&s->graphs[i], 0, sizeof s->graphs[i]);
  }
}

void lc_session_free(lc_session *s) {
  if (!s) return;
  lc_context *ctx = s->ctx;
  free_graphs(s);
  if (s->tp) lc_session_tp_free(s);
  lc_session_free_caches(ctx, s->k_cache, s->v_cache, s->model->info.config.n_layers);
  lc_buffer_free(ctx, s->didx);
  float **bufs[] = {&s->x,    &s->xn, &s->q,    &s->k,        &s->v,    &s->att,
                    &s->gate, &s->up, &s->qkv1, &s->gate_up1, &s->last, &s->logits};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free_buf(ctx, bufs[i]);
  free(s->filled);
  free(s->tokens);
  free(s->pos);
  free(s->rslot);
  free(s->stage);
  free(s->seqs);
  free(s->seen);
  free(s->hook_buf);
  free(s);
}

/* Allocates a backend fp32 [rows][cols] buffer, adding its size to *acc.
 * rows * cols must also fit one op call (<= LC_MAX_DIM elements). */
lc_status lc_session_alloc_f32(lc_context *ctx, int64_t rows, int64_t cols, const char *what,
                               float **out, size_t *acc) {
  static const char fn[] = "lc_session_create";
  size_t bytes;
  LC_TRY(lc_check_bytes(ctx, rows, cols, 4, fn, &bytes));
  if (rows * cols > LC_MAX_DIM)
    return LC_FAIL(ctx, LC_ERR_OVERFLOW,
                   "%s: %s has %lld x %lld elements, more than one op takes (%lld)", fn, what,
                   (long long)rows, (long long)cols, (long long)LC_MAX_DIM);
  LC_TRY(lc_buffer_alloc(ctx, bytes, (void **)out));
  *acc += bytes;
  return LC_OK;
}

/* Bytes of one layer's K (or V) cache of `len` positions per slot of kvd
 * elements each, or
 * LC_ERR_OVERFLOW past 2^40 bytes over all layers, K and V. */
lc_status lc_session_cache_size(lc_session *s, int64_t len, int64_t kvd, size_t *bytes) {
  static const char fn[] = "lc_session_create";
  lc_context *ctx = s->ctx;
  const lc_model_config *c = &s->model->info.config;
  const int64_t L = c->n_layers;
  LC_TRY(lc_check_bytes(ctx, (int64_t)s->params.n_slots * len, kvd,
                        (int64_t)lc_attn_kv_elem_size(&s->attn), fn, bytes));
  if (L > 0 && *bytes > (size_t)LC_MAX_BYTES / (size_t)(2 * L))
    return LC_FAIL(ctx, LC_ERR_OVERFLOW,
                   "%s: the KV cache of %d slots x %lld positions, K and V in %lld layers, is "
                   "%zu bytes per buffer, more than 2^40 bytes in all",
                   fn, (int)s->params.n_slots, (long long)len, (long long)L, *bytes);
  return LC_OK;
}

static lc_status create(lc_session *s) {
  static const char fn[] = "lc_session_create";
  lc_context *ctx = s->ctx;
  const lc_model_config *c = &s->model->info.config;
  const lc_session_params *p = &s->params;
  const int64_t T = p->max_tokens, L = c->n_layers;
  const int64_t qd = (int64_t)c->n_heads * c->head_dim, kvd = (int64_t)c->n_kv_heads * c->head_dim;

  s->attn.n_heads = c->n_heads;
  s->attn.n_kv_heads = c->n_kv_heads;
  s->attn.head_dim = c->head_dim;
  s->attn.max_len = p->kv_initial_len;
  s->attn.n_slots = p->n_slots;
  s->attn.scale = lc_attn_default_scale(c->head_dim);
  /* bf16 keys and values (kv_dtype BF16, and vendor-bf16 always) are stored
   * as bf16: lc_kv_write rounds them, lc_attention widens them */
  s->attn.kv_dtype = ctx->mode == LC_MODE_VENDOR_BF16 || p->kv_dtype == LC_DTYPE_BF16
                         ? LC_DTYPE_BF16
                         : LC_DTYPE_F32;

  /* KV caches: [n_slots * kv_initial_len][kvd] per layer, K and V; the most
   * they may grow to is checked here, so that a growth cannot overflow */
  size_t cache_bytes;
  LC_TRY(lc_session_cache_size(s, p->max_len, kvd, &cache_bytes));
  LC_TRY(lc_session_cache_size(s, p->kv_initial_len, kvd, &cache_bytes));
  if (p->tp <= 1) { /* the ranks of tp > 1 hold the caches (lib/session_tp.c) */
    LC_TRY(lc_session_alloc_caches(ctx, fn, L, cache_bytes, &s->k_cache, &s->v_cache));
    s->kv_bytes = (size_t)(2 * L) * cache_bytes;
  }

  s->last_rows = p->n_slots < T ? p->n_slots : T;
  s->logit_rows = T < LC_SESSION_LOGIT_CHUNK ? T : LC_SESSION_LOGIT_CHUNK;
  if (s->logit_rows < s->last_rows) s->logit_rows = s->last_rows;
  size_t *acc = &s->temp_bytes;
  LC_TRY(lc_session_alloc_f32(ctx, T, c->dim, "x", &s->x, acc));
  LC_TRY(lc_session_alloc_f32(ctx, T, c->dim, "xn", &s->xn, acc));
  LC_TRY(lc_session_alloc_f32(ctx, T, qd, "q", &s->q, acc));
  LC_TRY(lc_session_alloc_f32(ctx, T, kvd, "k", &s->k, acc));
  LC_TRY(lc_session_alloc_f32(ctx, T, kvd, "v", &s->v, acc));
  LC_TRY(lc_session_alloc_f32(ctx, T, qd, "attention output", &s->att, acc));
  LC_TRY(lc_session_alloc_f32(ctx, T, c->hidden_dim, "gate", &s->gate, acc));
  LC_TRY(lc_session_alloc_f32(ctx, T, c->hidden_dim, "up", &s->up, acc));
  /* one-row passes (decode at batch 1) run the joined projections */
  if (p->tp <= 1 && c->n_layers > 0 && s->model->layers[0].wqkv)
    LC_TRY(lc_session_alloc_f32(ctx, 1, qd + 2 * kvd, "q, k and v of one row", &s->qkv1, acc));
  if (p->tp <= 1 && c->n_layers > 0 && s->model->layers[0].w_gate_up)
    LC_TRY(
        lc_session_alloc_f32(ctx, 2, c->hidden_dim, "gate and up of one row", &s->gate_up1, acc));
  LC_TRY(lc_session_alloc_f32(ctx, s->last_rows, c->dim, "last rows", &s->last, acc));
  LC_TRY(lc_session_alloc_f32(ctx, s->logit_rows, c->vocab_size, "logits", &s->logits, acc));

  s->filled = lc_calloc((size_t)p->n_slots, sizeof *s->filled);
  s->tokens = lc_malloc((size_t)T * sizeof *s->tokens);
  s->pos = lc_malloc((size_t)T * sizeof *s->pos);
  s->rslot = lc_malloc((size_t)T * sizeof *s->rslot);
  s->stage = lc_malloc((size_t)T * 3 * sizeof *s->stage);
  s->seqs = lc_malloc((size_t)p->n_slots * sizeof *s->seqs);
  s->seen = lc_calloc((size_t)p->n_slots, 1);
  s->hook_buf = lc_malloc((size_t)T * (size_t)c->dim * sizeof *s->hook_buf);
  if (!s->filled || !s->tokens || !s->pos || !s->rslot || !s->stage || !s->seqs || !s->seen ||
      !s->hook_buf)
    return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
  if (ctx->backend == LC_BACKEND_CUDA) {
    LC_TRY(lc_buffer_alloc(ctx, (size_t)T * 3 * sizeof(int32_t), (void **)&s->didx));
    s->temp_bytes += (size_t)T * 3 * sizeof(int32_t);
  }
  if (p->tp > 1) LC_TRY(lc_session_tp_create(s));
  return LC_OK;
}

lc_status lc_session_create(lc_model *m, const lc_session_params *params, lc_session **out) {
  static const char fn[] = "lc_session_create";
  if (!out) return LC_FAIL(m ? m->ctx : NULL, LC_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
  *out = NULL;
  if (!m) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: model is NULL", fn);
  lc_context *ctx = m->ctx;
  lc_session_params p;
  lc_session_params_default(&p);
  if (params) p = *params;
  const lc_model_config *c = &m->info.config;
  if (p.n_slots < 1)
    return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: n_slots = %d, expected >= 1", fn, (int)p.n_slots);
  if (p.max_len < 0 || p.max_tokens < 0)
    return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: max_len = %d, max_tokens = %d, expected >= 0", fn,
                   (int)p.max_len, (int)p.max_tokens);
  if (p.max_len == 0) p.max_len = c->max_seq_len;
  if (p.max_len > c->max_seq_len)
    return LC_FAIL(ctx, LC_ERR_SHAPE,
                   "%s: max_len = %d is past the RoPE table's %d positions (load the model with "
                   "a larger max_seq_len)",
                   fn, (int)p.max_len, (int)c->max_seq_len);
  if (p.max_tokens == 0) p.max_tokens = 512;
  if (p.kv_initial_len < 0 || p.kv_initial_len > p.max_len)
    return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: kv_initial_len = %d, expected 0 .. max_len (%d)", fn,
                   (int)p.kv_initial_len, (int)p.max_len);
  if (p.kv_initial_len == 0)
    p.kv_initial_len = p.max_len < LC_SESSION_KV_INITIAL ? p.max_len : LC_SESSION_KV_INITIAL;
  if (p.tp < 0)
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: tp = %d, expected >= 0", fn, (int)p.tp);
  if (p.kv_dtype != LC_DTYPE_F32 && p.kv_dtype != LC_DTYPE_BF16)
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT,
                   "%s: kv_dtype = %d, expected LC_DTYPE_F32 or LC_DTYPE_BF16", fn,
                   (int)p.kv_dtype);
  lc_session *s = lc_calloc(1, sizeof *s);
  if (!s) return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
  s->model = m;
  s->ctx = ctx;
  s->params = p;
  lc_status st = create(s);
  if (st != LC_OK) {
    lc_session_free(s);
    return st;
  }
  *out = s;
  return LC_OK;
}

int64_t lc_session_graph_replays(const lc_session *s) {
  return s ? s->graph_replays : 0;
}

lc_status lc_session_get_memory(const lc_session *s, lc_session_memory *out) {
  if (!s || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_session_get_memory: NULL argument");
  lc_memory_stats ms;
  LC_TRY(lc_context_get_memory(s->ctx, &ms));
  out->weights_bytes = s->model->info.weights_bytes;
  out->kv_cache_bytes = s->kv_bytes;
  out->temp_bytes = s->temp_bytes;
  out->workspace_peak_bytes = ms.workspace_peak_bytes;
  return LC_OK;
}

lc_status lc_session_set_layer_hook(lc_session *s, lc_layer_hook hook, void *user) {
  if (!s)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_session_set_layer_hook: session is NULL");
  s->hook = hook;
  s->hook_user = user;
  return LC_OK;
}

/* ---- the forward pass ------------------------------------------------------*/

/* Rounds x [n] to bf16 values when the mode stores activations in bf16. */
lc_status lc_session_act(const lc_session *s, float *x, int64_t n) {
  if (s->ctx->mode != LC_MODE_VENDOR_BF16) return LC_OK;
  return lc_round_bf16(s->ctx, x, n);
}

static lc_status call_hook(lc_session *s, int32_t layer, const float *h, int64_t T) {
  if (!s->hook) return LC_OK;
  const int32_t dim = s->model->info.config.dim;
  LC_TRY(lc_buffer_read(s->ctx, s->hook_buf, h, (size_t)T * (size_t)dim * sizeof(float)));
  s->hook(s->hook_user, layer, s->hook_buf, T, dim);
  return LC_OK;
}

/* Validates the entries and fills tokens, pos and seqs; *total gets T. */
static lc_status prepare(lc_session *s, const lc_batch_entry *e, int64_t n, int64_t *total) {
  static const char fn[] = "lc_session_forward";
  lc_context *ctx = s->ctx;
  const lc_session_params *p = &s->params;
  const int32_t vocab = s->model->info.config.vocab_size;
  if (n > p->n_slots)
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT,
                   "%s: %lld entries but the session has %d slots (two entries may not share one)",
                   fn, (long long)n, (int)p->n_slots);
  int64_t T = 0;
  for (int64_t i = 0; i < n; i++) {
    if (e[i].n_tokens < 1)
      return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: entries[%lld].n_tokens = %d, expected >= 1", fn,
                     (long long)i, (int)e[i].n_tokens);
    T += e[i].n_tokens;
    if (T > p->max_tokens)
      return LC_FAIL(ctx, LC_ERR_SHAPE,
                     "%s: the entries hold more than the session's max_tokens = %d tokens", fn,
                     (int)p->max_tokens);
  }
  memset(s->seen, 0, (size_t)p->n_slots);
  lc_status st = LC_OK;
  int64_t row = 0;
  for (int64_t i = 0; i < n && st == LC_OK; i++) {
    const lc_batch_entry *b = &e[i];
    if (b->slot < 0 || b->slot >= p->n_slots) {
      st = LC_FAIL(ctx, LC_ERR_OUT_OF_RANGE, "%s: entries[%lld].slot = %d, the session has 0..%d",
                   fn, (long long)i, (int)b->slot, (int)p->n_slots - 1);
      break;
    }
    if (s->seen[b->slot]) {
      st = LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT,
                   "%s: entries[%lld].slot = %d is used by an earlier entry", fn, (long long)i,
                   (int)b->slot);
      break;
    }
    s->seen[b->slot] = 1;
    if (b->pos < 0 || b->pos > s->filled[b->slot]) {
      st = LC_FAIL(ctx, LC_ERR_OUT_OF_RANGE,
                   "%s: entries[%lld].pos = %d, slot %d holds positions 0..%d: expected 0..%d "
                   "(no gaps)",
                   fn, (long long)i, (int)b->pos, (int)b->slot, (int)s->filled[b->slot] - 1,
                   (int)s->filled[b->slot]);
      break;
    }
    if ((int64_t)b->pos + b->n_tokens > p->max_len) {
      st = LC_FAIL(ctx, LC_ERR_OUT_OF_RANGE,
                   "%s: entries[%lld] covers positions %d..%lld, the session holds 0..%d", fn,
                   (long long)i, (int)b->pos, (long long)b->pos + b->n_tokens - 1,
                   (int)p->max_len - 1);
      break;
    }
    if (!b->tokens) {
      st = LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: entries[%lld].tokens is NULL", fn,
                   (long long)i);
      break;
    }
    for (int32_t j = 0; j < b->n_tokens; j++, row++) {
      if (b->tokens[j] < 0 || b->tokens[j] >= vocab) {
        st = LC_FAIL(ctx, LC_ERR_OUT_OF_RANGE,
                     "%s: entries[%lld].tokens[%d] = %d, the vocabulary has 0..%d", fn,
                     (long long)i, (int)j, (int)b->tokens[j], (int)vocab - 1);
        break;
      }
      s->tokens[row] = b->tokens[j];
      s->pos[row] = b->pos + j;
      s->rslot[row] = b->slot;
    }
    s->seqs[i].slot = b->slot;
    s->seqs[i].pos = b->pos;
    s->seqs[i].n_q = b->n_tokens;
  }
  memset(s->seen, 0, (size_t)p->n_slots);
  if (st != LC_OK) return st;
  *total = T;
  return LC_OK;
}

/* Rope of q and k at the rows' positions, k and v into the caches kc and vc
 * (of shape a: its heads), then attention of q over them into out.  The
 * CUDA backend reads the rows' positions and slots from the pass's device
 * copy and does the ropes and the cache write in one kernel (the same bits
 * as the three ops). */
lc_status lc_session_rope_attention(lc_session *s, const lc_attn_shape *a, float *kc, float *vc,
                                    int64_t T, int64_t n_seqs, float *q, float *k, const float *v,
                                    float *out) {
  lc_context *ctx = s->ctx;
  if (ctx->backend == LC_BACKEND_CUDA) {
    LC_TRY(lc_rope_kv_write_dev(ctx, s->model->rope, a, T, s->d_slot, s->d_pos, q, k, v,
                                ctx->mode == LC_MODE_VENDOR_BF16, kc, vc));
    return lc_attention_dev(ctx, a, T, s->d_slot, s->d_pos, q, kc, vc, out);
  }
  LC_TRY(lc_rope_apply(ctx, s->model->rope, q, T, a->n_heads, s->pos));
  LC_TRY(lc_rope_apply(ctx, s->model->rope, k, T, a->n_kv_heads, s->pos));
  LC_TRY(lc_session_act(s, q, T * (int64_t)a->n_heads * a->head_dim));
  LC_TRY(lc_session_act(s, k, T * (int64_t)a->n_kv_heads * a->head_dim));
  /* a bf16 cache rounds k and v as lc_kv_write stores them */
  LC_TRY(lc_kv_write(ctx, a, s->seqs, n_seqs, k, v, kc, vc));
  return lc_attention(ctx, a, s->seqs, n_seqs, q, kc, vc, out);
}

/* s->xn = rmsnorm(s->x) with w; where the last block left its down
 * projection's residual pending (in s->xn), s->x += it first, in the same
 * kernel (lc_add_rmsnorm: the bits of the add, then the norm). */
lc_status lc_session_norm_into_xn(lc_session *s, int64_t T, const lc_weights *w) {
  const lc_model_config *c = &s->model->info.config;
  if (s->pending_add) {
    s->pending_add = 0;
    return lc_add_rmsnorm(s->ctx, s->x, s->xn, T, w, c->norm_eps,
                          s->ctx->mode == LC_MODE_VENDOR_BF16, s->xn);
  }
  LC_TRY(lc_rmsnorm(s->ctx, s->x, T, w, c->norm_eps, s->xn));
  return lc_session_act(s, s->xn, T * c->dim);
}

/* s->x += the pending residual (before a layer hook reads s->x). */
static lc_status flush_add(lc_session *s, int64_t T) {
  if (!s->pending_add) return LC_OK;
  s->pending_add = 0;
  const int64_t n = T * s->model->info.config.dim;
  LC_TRY(lc_add(s->ctx, s->x, s->xn, n, s->x));
  return lc_session_act(s, s->x, n);
}

/* One transformer block over T rows of s->x; its last residual add is left
 * pending (s->pending_add) for the next norm. */
static lc_status block(lc_session *s, int32_t l, int64_t T, int64_t n_seqs) {
  if (s->tp) return lc_session_tp_block(s, l, T, n_seqs);
  lc_context *ctx = s->ctx;
  const lc_model_config *c = &s->model->info.config;
  const lc_layer_weights *W = &s->model->layers[l];
  const int64_t dim = c->dim, hid = c->hidden_dim, hd = c->head_dim;
  const int64_t qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
  const float eps = c->norm_eps;

  /* attention */
  LC_TRY(lc_session_norm_into_xn(s, T, W->attn_norm));
  float *q = s->q, *k = s->k, *v = s->v;
  if (T == 1 && W->wqkv && s->qkv1) { /* one matmul: q, k and v side by side */
    q = s->qkv1;
    k = q + qd;
    v = k + kvd;
    LC_TRY(lc_matmul(ctx, s->xn, 1, W->wqkv, W->bqkv, q));
  } else {
    LC_TRY(lc_matmul(ctx, s->xn, T, W->wq, W->bq, q));
    LC_TRY(lc_matmul(ctx, s->xn, T, W->wk, W->bk, k));
    LC_TRY(lc_matmul(ctx, s->xn, T, W->wv, W->bv, v));
  }
  LC_TRY(lc_session_act(s, q, T * qd));
  LC_TRY(lc_session_act(s, k, T * kvd));
  LC_TRY(lc_session_act(s, v, T * kvd));
  if (c->qk_norm) {
    LC_TRY(lc_rmsnorm(ctx, q, T * c->n_heads, W->q_norm, eps, q));
    LC_TRY(lc_rmsnorm(ctx, k, T * c->n_kv_heads, W->k_norm, eps, k));
    LC_TRY(lc_session_act(s, q, T * qd));
    LC_TRY(lc_session_act(s, k, T * kvd));
  }
  LC_TRY(lc_session_rope_attention(s, &s->attn, s->k_cache[l], s->v_cache[l], T, n_seqs, q, k, v,
                                   s->att));
  LC_TRY(lc_session_act(s, s->att, T * qd));
  LC_TRY(lc_matmul(ctx, s->att, T, W->wo, NULL, s->xn));
  LC_TRY(lc_session_act(s, s->xn, T * dim));

  /* feed-forward: x += the attention's output, normed, in one op */
  LC_TRY(lc_add_rmsnorm(ctx, s->x, s->xn, T, W->ffn_norm, eps, ctx->mode == LC_MODE_VENDOR_BF16,
                        s->xn));
  float *gate = s->gate, *up = s->up;
  if (T == 1 && W->w_gate_up && s->gate_up1) { /* one matmul: gate and up side by side */
    gate = s->gate_up1;
    up = gate + hid;
    LC_TRY(lc_matmul(ctx, s->xn, 1, W->w_gate_up, NULL, gate));
  } else {
    LC_TRY(lc_matmul(ctx, s->xn, T, W->w_gate, NULL, gate));
    LC_TRY(lc_matmul(ctx, s->xn, T, W->w_up, NULL, up));
  }
  LC_TRY(lc_session_act(s, gate, T * hid));
  LC_TRY(lc_session_act(s, up, T * hid));
  LC_TRY(lc_silu_mul(ctx, gate, up, T * hid, gate));
  LC_TRY(lc_session_act(s, gate, T * hid));
  LC_TRY(lc_matmul(ctx, gate, T, W->w_down, NULL, s->xn));
  LC_TRY(lc_session_act(s, s->xn, T * dim));
  s->pending_add = 1; /* x += xn: with the next norm, or flush_add */
  return LC_OK;
}

/* Logits of n rows of h [n][dim] (n <= logit_rows) into s->logits. */
static lc_status logits_chunk(lc_session *s, const float *h, int64_t n) {
  if (s->tp)
    LC_TRY(lc_session_tp_logits(s, h, n));
  else
    LC_TRY(lc_matmul(s->ctx, h, n, s->model->lm_head, NULL, s->logits));
  return lc_session_act(s, s->logits, n * s->model->info.config.vocab_size);
}

static lc_status read_logits(lc_session *s, int64_t n, float *out) {
  const size_t vocab = (size_t)s->model->info.config.vocab_size;
  return lc_buffer_read(s->ctx, out, s->logits, (size_t)n * vocab * sizeof(float));
}

/* Embedding, the blocks and the final norm over T rows; then *h and *rows
 * say which rows the logits are for: all T rows of the normed output
 * (all_logits) or each entry's last row, gathered into s->last. */
static lc_status trunk(lc_session *s, const lc_batch_entry *e, int64_t n, int64_t T, int all_logits,
                       const float **h, int64_t *rows) {
  lc_context *ctx = s->ctx;
  const lc_model *m = s->model;
  const lc_model_config *c = &m->info.config;
  const int64_t dim = c->dim;
  if (ctx->backend == LC_BACKEND_CUDA)
    LC_TRY(lc_embedding_dev(ctx, m->embed, s->d_tok, T, s->x));
  else
    LC_TRY(lc_embedding(ctx, m->embed, s->tokens, T, s->x));
  s->pending_add = 0;
  for (int32_t l = 0; l < c->n_layers; l++) {
    LC_TRY(block(s, l, T, n));
    if (s->hook) LC_TRY(flush_add(s, T));
    LC_TRY(call_hook(s, l, s->x, T));
  }
  LC_TRY(lc_session_norm_into_xn(s, T, m->final_norm));
  LC_TRY(call_hook(s, c->n_layers, s->xn, T));
  if (all_logits) {
    *h = s->xn;
    *rows = T;
    return LC_OK;
  }
  int64_t row = 0;
  for (int64_t i = 0; i < n; i++) {
    row += e[i].n_tokens;
    LC_TRY(
        lc_mem_copy(ctx, s->last + i * dim, s->xn + (row - 1) * dim, (size_t)dim * sizeof(float)));
  }
  *h = s->last;
  *rows = n;
  return LC_OK;
}

/* A decode pass's device work (rows <= logit_rows): trunk and logits. */
static lc_status decode_ops(lc_session *s, const lc_batch_entry *e, int64_t n, int64_t T,
                            int all_logits) {
  const float *h;
  int64_t rows;
  LC_TRY(trunk(s, e, n, T, all_logits, &h, &rows));
  return logits_chunk(s, h, rows);
}

/* Runs a decode pass from its graph: the first pass of a shape runs op by
 * op (it grows the context's scratch to what the shape needs), the second
 * is captured, later ones replay it.  A capture that does not hold (an op
 * that wanted more scratch, a call graphs refuse) runs the pass op by op
 * instead; after two such the shape stays op by op. */
static lc_status decode_graph(lc_session *s, const lc_batch_entry *e, int64_t n, int64_t T,
                              int all_logits) {
  lc_context *ctx = s->ctx;
  const uint64_t gen = lc_cuda_scratch_generation(ctx);
  lc_session_graph *gr = NULL;
  for (int i = 0; i < LC_SESSION_GRAPHS && !gr; i++)
    if (s->graphs[i].rows == T && s->graphs[i].cap == s->attn.max_len) gr = &s->graphs[i];
  if (!gr) { /* a new shape: evict the oldest */
    gr = &s->graphs[s->graph_next];
    s->graph_next = (s->graph_next + 1) % LC_SESSION_GRAPHS;
    lc_cuda_graph_free(gr->g);
    *gr = (lc_session_graph){.rows = T, .cap = s->attn.max_len};
    return decode_ops(s, e, n, T, all_logits);
  }
  if (gr->g && gr->gen == gen) {
    s->graph_replays++;
    return lc_cuda_graph_launch(ctx, gr->g);
  }
  lc_cuda_graph_free(gr->g); /* none yet, or its scratch was reallocated */
  gr->g = NULL;
  if (gr->fails >= 2) return decode_ops(s, e, n, T, all_logits);
  if (lc_cuda_capture_begin(ctx) == LC_OK) {
    lc_status st = decode_ops(s, e, n, T, all_logits);
    lc_cuda_capture_end(ctx, st == LC_OK && lc_cuda_scratch_generation(ctx) == gen, &gr->g);
    if (gr->g) {
      gr->gen = gen;
      gr->fails = 0;
      s->graph_replays++;
      return lc_cuda_graph_launch(ctx, gr->g);
    }
  }
  gr->fails++;
  return decode_ops(s, e, n, T, all_logits);
}

/* ---- row-parallel decode passes on the CPU -----------------------------------
 * A decode pass (every entry one token) on a CPU context with worker threads,
 * over a model whose matmul weights total at most LC_ROWS_PARALLEL_BYTES:
 * the rows are cut into one contiguous group per thread (at most one group
 * per row) and each pool task runs the whole pass for its group (embedding,
 * the blocks, the final norm, the logits) with the same ops, so that a pass
 * costs one hand-off to the pool instead of one per op, which on a small
 * model costs more than the op (bench/RESULTS.md, CPU threads).  Every op is
 * row-wise, a row's bits never depend on the other rows (the batch
 * invariance tests/test_model.c checks), so the logits are bitwise those of
 * the pass over all rows at once (tests/test_model.c, threads).  A task works
 * on a shallow copy of the session whose row buffers start at its group; the
 * one-row joined matmuls are off there (their buffers are shared), and an
 * op's own split (the matmul's column blocks, attention's heads) runs inline
 * inside a task (lib/pool.c).  Larger models keep the op-level split: there
 * each thread reads its own share of W once, where a row group would read all
 * of it (every thread streaming the whole model per pass). */
#define LC_ROWS_PARALLEL_BYTES ((int64_t)32 << 20)
#define LC_ROWS_PARALLEL_MAX_GROUPS 256

typedef struct {
  lc_session *s;
  int64_t n, groups;
  lc_status st[LC_ROWS_PARALLEL_MAX_GROUPS];
} rows_job;

static lc_status rows_pass(lc_session *sub, int64_t rows) {
  const lc_model *m = sub->model;
  LC_TRY(lc_embedding(sub->ctx, m->embed, sub->tokens, rows, sub->x));
  sub->pending_add = 0;
  for (int32_t l = 0; l < m->info.config.n_layers; l++) LC_TRY(block(sub, l, rows, rows));
  LC_TRY(lc_session_norm_into_xn(sub, rows, m->final_norm));
  return logits_chunk(sub, sub->xn, rows);
}

static void rows_task(void *arg, int g) {
  rows_job *j = arg;
  const lc_model_config *c = &j->s->model->info.config;
  const int64_t r0 = j->n * g / j->groups, r1 = j->n * (g + 1) / j->groups;
  const int64_t dim = c->dim, hid = c->hidden_dim, qd = (int64_t)c->n_heads * c->head_dim,
                kvd = (int64_t)c->n_kv_heads * c->head_dim;
  lc_session sub = *j->s;
  sub.x += r0 * dim;
  sub.xn += r0 * dim;
  sub.q += r0 * qd;
  sub.k += r0 * kvd;
  sub.v += r0 * kvd;
  sub.att += r0 * qd;
  sub.gate += r0 * hid;
  sub.up += r0 * hid;
  sub.logits += r0 * c->vocab_size;
  sub.tokens += r0;
  sub.pos += r0;
  sub.rslot += r0;
  sub.seqs += r0; /* a decode pass: entry i is row i */
  sub.qkv1 = NULL;
  sub.gate_up1 = NULL;
  j->st[g] = rows_pass(&sub, r1 - r0);
}

/* Whether a pass of T rows over n entries runs row-parallel (above). */
static int rows_parallel(const lc_session *s, int64_t n, int64_t T) {
  const lc_context *ctx = s->ctx;
  if (ctx->backend != LC_BACKEND_CPU || !ctx->pool || T != n || n < 2 || s->hook || s->tp ||
      n > s->logit_rows)
    return 0;
  const lc_model_config *c = &s->model->info.config;
  const int64_t qd = (int64_t)c->n_heads * c->head_dim, kvd = (int64_t)c->n_kv_heads * c->head_dim;
  const int64_t per_layer = c->dim * (qd + 2 * kvd) + qd * c->dim + 3 * c->dim * c->hidden_dim;
  const int64_t bytes = 2 * (c->n_layers * per_layer + (int64_t)c->vocab_size * c->dim);
  return bytes <= LC_ROWS_PARALLEL_BYTES;
}

static lc_status forward_rows(lc_session *s, int64_t n, float *logits) {
  rows_job j = {.s = s, .n = n, .groups = lc_pool_threads(s->ctx->pool)};
  if (j.groups > n) j.groups = n;
  if (j.groups > LC_ROWS_PARALLEL_MAX_GROUPS) j.groups = LC_ROWS_PARALLEL_MAX_GROUPS;
  lc_pool_run(s->ctx->pool, (int)j.groups, rows_task, &j);
  s->rows_passes++;
  lc_status st = LC_OK;
  for (int64_t g = 0; g < j.groups && st == LC_OK; g++) st = j.st[g];
  LC_TRY(st); /* the context's message is a failing task's */
  return read_logits(s, n, logits);
}

static lc_status forward(lc_session *s, const lc_batch_entry *e, int64_t n, int64_t T,
                         int all_logits, float *logits) {
  lc_context *ctx = s->ctx;
  if (rows_parallel(s, n, T)) return forward_rows(s, n, logits);
  if (ctx->backend == LC_BACKEND_CUDA) { /* the row indices, one upload */
    memcpy(s->stage, s->tokens, (size_t)T * sizeof *s->stage);
    memcpy(s->stage + T, s->pos, (size_t)T * sizeof *s->stage);
    memcpy(s->stage + 2 * T, s->rslot, (size_t)T * sizeof *s->stage);
    LC_TRY(lc_buffer_write(ctx, s->didx, s->stage, (size_t)T * 3 * sizeof *s->stage));
    s->d_tok = s->didx;
    s->d_pos = s->didx + T;
    s->d_slot = s->didx + 2 * T;
    /* every entry one token: T == n <= last_rows <= logit_rows */
    if (T == n && !s->hook && !s->params.no_graphs) {
      LC_TRY(decode_graph(s, e, n, T, all_logits));
      return read_logits(s, n, logits);
    }
  }
  const float *h;
  int64_t rows;
  LC_TRY(trunk(s, e, n, T, all_logits, &h, &rows));
  const int64_t vocab = s->model->info.config.vocab_size;
  for (int64_t r0 = 0; r0 < rows; r0 += s->logit_rows) {
    const int64_t k = rows - r0 < s->logit_rows ? rows - r0 : s->logit_rows;
    LC_TRY(logits_chunk(s, h + r0 * s->model->info.config.dim, k));
    LC_TRY(read_logits(s, k, logits + r0 * vocab));
  }
  return LC_OK;
}

/* One set of K and V caches (kvd elements per position, one per layer) from
 * old to cap positions per slot: new caches for every layer first (on a
 * failure they are freed and the set is as it was), then each slot's filled
 * positions copied, the old caches freed and *k, *v replaced; *bytes gets one
 * new layer cache's size. */
lc_status lc_session_grow_caches(lc_session *s, int64_t kvd, int64_t old, int64_t cap, float ***k,
                                 float ***v, size_t *bytes) {
  static const char fn[] = "lc_session_forward";
  lc_context *ctx = s->ctx;
  const int64_t L = s->model->info.config.n_layers;
  LC_TRY(lc_session_cache_size(s, cap, kvd, bytes));
  float **nk = NULL, **nv = NULL;
  lc_status st = lc_session_alloc_caches(ctx, fn, L, *bytes, &nk, &nv);
  const size_t rowb = (size_t)kvd * lc_attn_kv_elem_size(&s->attn);
  for (int64_t l = 0; l < L && st == LC_OK; l++)
    for (int32_t slot = 0; slot < s->params.n_slots && st == LC_OK; slot++) {
      const size_t n = (size_t)s->filled[slot] * rowb;
      if (n == 0) continue;
      const size_t from = (size_t)slot * (size_t)old * rowb, to = (size_t)slot * (size_t)cap * rowb;
      st = lc_mem_copy(ctx, (char *)nk[l] + to, (const char *)(*k)[l] + from, n);
      if (st == LC_OK) st = lc_mem_copy(ctx, (char *)nv[l] + to, (const char *)(*v)[l] + from, n);
    }
  if (st != LC_OK) {
    lc_session_free_caches(ctx, nk, nv, L);
    return st;
  }
  lc_session_free_caches(ctx, *k, *v, L);
  *k = nk;
  *v = nv;
  return LC_OK;
}

/* Makes the caches hold at least `need` positions per slot (need <=
 * params.max_len): the capacity doubled until it does, at most max_len
 * (lc_session_grow_caches; with tp > 1 every rank's).  On a failure the
 * session is as it was (with tp > 1: each rank's caches either grown or as
 * they were, its shape saying which). */
static lc_status grow_kv(lc_session *s, int64_t need) {
  const int64_t old = s->attn.max_len;
  if (need <= old) return LC_OK;
  int64_t cap = old;
  while (cap < need) cap *= 2;
  if (cap > s->params.max_len) cap = s->params.max_len;
  const lc_model_config *c = &s->model->info.config;
  const int64_t L = c->n_layers, kvd = (int64_t)c->n_kv_heads * c->head_dim;
  if (s->tp) {
    const lc_status st = lc_session_tp_grow(s, cap);
    free_graphs(s); /* they may hold old caches */
    if (st != LC_OK) return st;
  } else {
    size_t bytes;
    LC_TRY(lc_session_grow_caches(s, kvd, old, cap, &s->k_cache, &s->v_cache, &bytes));
    free_graphs(s); /* they hold the old caches */
    s->kv_bytes = (size_t)(2 * L) * bytes;
  }
  s->attn.max_len = (int32_t)cap;
  return LC_OK;
}

lc_status lc_session_forward(lc_session *s, const lc_batch_entry *entries, int64_t n_entries,
                             int all_logits, float *logits) {
  static const char fn[] = "lc_session_forward";
  if (!s) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: session is NULL", fn);
  lc_context *ctx = s->ctx;
  if (n_entries < 0)
    return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: n_entries = %lld is negative", fn, (long long)n_entries);
  if (n_entries == 0) return LC_OK;
  if (!entries) return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: entries is NULL", fn);
  if (!logits) return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: logits is NULL", fn);
  int64_t T = 0;
  LC_TRY(prepare(s, entries, n_entries, &T));
  int64_t need = 0;
  for (int64_t i = 0; i < n_entries; i++)
    if ((int64_t)entries[i].pos + entries[i].n_tokens > need)
      need = (int64_t)entries[i].pos + entries[i].n_tokens;
  LC_TRY(grow_kv(s, need));
  lc_status st = forward(s, entries, n_entries, T, all_logits, logits);
  for (int64_t i = 0; i < n_entries; i++) {
    int32_t *f = &s->filled[entries[i].slot];
    if (st == LC_OK)
      *f = entries[i].pos + entries[i].n_tokens;
    else if (*f > entries[i].pos)
      *f = entries[i].pos; /* the cache from pos on may be half written */
  }
  return st;
}
