/*
 * lib/session_tp.c — tensor parallelism, emulated: the split and the gathers
 * of a tensor-parallel engine over params.tp GPUs, its ranks run one after
 * the other on the session's one context (include/layercast_model.h says
 * what is split and why the bits cannot change).
 *
 * One block, T rows, ranks r = 0 .. tp-1 (on several GPUs they would run at
 * once, each on its own device, the copies below being all-gathers):
 *
 *   xn = rmsnorm(x)                                       (every rank, whole rows)
 *   per rank: q_r, k_r, v_r = xn W_r^T (its heads' rows; qwen2 biases: columns)
 *             q_r, k_r = rmsnorm per head (qwen3), rope; k_r, v_r into its caches
 *             att_r = attention(q_r, its caches)          [T][n_h hd]
 *   att = gather(att_r)                                   [T][n_heads hd]
 *   per rank: o_r = att Wo_r^T (rows d0..)   xn = gather(o_r)
 *   x += xn; xn = rmsnorm(x)                              (every rank)
 *   per rank: g_r = silu(xn Wg_r^T) * (xn Wu_r^T)         (rows f0..)
 *   gate = gather(g_r);  per rank: d_r = gate Wd_r^T;  xn = gather(d_r)
 *   (x += xn with the next norm, as with tp = 1)
 *   logits: per rank h Wlm_r^T (rows v0..), gathered.
 *
 * A gather copies rank r's [T][n_r] output into columns c0_r .. of the whole
 * [T][n] buffer (lc_mem_copy2d): bytes moved, nothing added.  The weights
 * are views of the model's (rows of W are contiguous); the K and V caches
 * are the rank's own ([n_slots][cap][n_kv_r][head_dim]).  One set of
 * scratch buffers, sized for the largest rank, serves the ranks in turn.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lc_internal.h"
#include "lib/model_internal.h"

/* Rank r's share of n: [r n / tp, (r + 1) n / tp). */
static int64_t share_lo(int64_t n, int32_t tp, int32_t r) {
  return n * r / tp;
}

static void free_layer(lc_tp_layer *L) {
  lc_weights *w[] = {L->wq, L->wk,     L->wv,     L->bq,   L->bk,   L->bv,
                     L->wo, L->w_down, L->w_gate, L->w_up, L->wo_k, L->w_down_k};
  for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) lc_weights_free(w[i]);
  memset(L, 0, sizeof *L);
}

void lc_session_tp_free(lc_session *s) {
  if (!s || !s->tp) return;
  const int64_t L = s->model->info.config.n_layers;
  for (int32_t r = 0; r < s->params.tp; r++) {
    lc_tp_rank *R = &s->tp[r];
    for (int64_t l = 0; R->layers && l < L; l++) free_layer(&R->layers[l]);
    free(R->layers);
    lc_weights_free(R->lm_head);
    lc_session_free_caches(s->ctx, R->k_cache, R->v_cache, L);
  }
  free(s->tp);
  s->tp = NULL;
  float **bufs[] = {&s->tq,    &s->tk,  &s->tv,      &s->tatt, &s->tout,
                    &s->tgate, &s->tup, &s->tlogits, &s->tsum};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
    lc_buffer_free(s->ctx, *bufs[i]);
    *bufs[i] = NULL;
  }
}

/* A view of rows [r0, r0 + n) of w (or NULL for a NULL w), or of columns
 * [r0, r0 + n) of a one-row w (bias). */
static lc_status view_rows(const lc_weights *w, int64_t r0, int64_t n, lc_weights **out) {
  *out = NULL;
  if (!w) return LC_OK;
  return lc_weights_view(w, r0, n, 0, lc_weights_cols(w), out);
}
static lc_status view_cols(const lc_weights *w, int64_t c0, int64_t n, lc_weights **out) {
  *out = NULL;
  if (!w) return LC_OK;
  return lc_weights_view(w, 0, 1, c0, n, out);
}

static lc_status rank_views(lc_session *s, lc_tp_rank *R) {
  const lc_model *m = s->model;
  const lc_model_config *c = &m->info.config;
  const int64_t hd = c->head_dim;
  const int64_t q0 = (int64_t)R->h0 * hd, nq = (int64_t)R->n_h * hd;
  const int64_t k0 = (int64_t)R->kv0 * hd, nk = (int64_t)R->n_kv * hd;
  for (int32_t l = 0; l < c->n_layers; l++) {
    const lc_layer_weights *W = &m->layers[l];
    lc_tp_layer *V = &R->layers[l];
    LC_TRY(view_rows(W->wq, q0, nq, &V->wq));
    LC_TRY(view_rows(W->wk, k0, nk, &V->wk));
    LC_TRY(view_rows(W->wv, k0, nk, &V->wv));
    LC_TRY(view_cols(W->bq, q0, nq, &V->bq));
    LC_TRY(view_cols(W->bk, k0, nk, &V->bk));
    LC_TRY(view_cols(W->bv, k0, nk, &V->bv));
    LC_TRY(view_rows(W->wo, R->d0, R->nd, &V->wo));
    LC_TRY(view_rows(W->w_down, R->d0, R->nd, &V->w_down));
    LC_TRY(view_rows(W->w_gate, R->f0, R->nf, &V->w_gate));
    LC_TRY(view_rows(W->w_up, R->f0, R->nf, &V->w_up));
    if (s->tp_rowpar) { /* its columns of o_proj and down_proj, copied */
      LC_TRY(lc_weights_copy_cols(W->wo, q0, nq, &V->wo_k));
      LC_TRY(lc_weights_copy_cols(W->w_down, R->f0, R->nf, &V->w_down_k));
    }
  }
  return view_rows(m->lm_head, R->v0, R->nv, &R->lm_head);
}

lc_status lc_session_tp_create(lc_session *s) {
  static const char fn[] = "lc_session_create";
  lc_context *ctx = s->ctx;
  const lc_model_config *c = &s->model->info.config;
  const int32_t tp = s->params.tp;
  /* the engines' layout where the mode stands for an engine */
  s->tp_rowpar =
      ctx->mode != LC_MODE_STRICT && ctx->mode != LC_MODE_FAST && ctx->mode != LC_MODE_BF16;
  if (tp > c->n_kv_heads)
    return LC_FAIL(ctx, LC_ERR_SHAPE,
                   "%s: tp = %d but the model has %d KV heads: each rank needs at least one "
                   "(tp <= n_kv_heads)",
                   fn, (int)tp, (int)c->n_kv_heads);
  s->tp = lc_calloc((size_t)tp, sizeof *s->tp);
  if (!s->tp) return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
  const int32_t group = c->n_heads / c->n_kv_heads;
  const int64_t L = c->n_layers, hd = c->head_dim;
  int64_t max_h = 0, max_kv = 0, max_d = 0, max_f = 0, max_v = 0;
  size_t bytes;
  for (int32_t r = 0; r < tp; r++) {
    lc_tp_rank *R = &s->tp[r];
    R->kv0 = (int32_t)share_lo(c->n_kv_heads, tp, r);
    R->n_kv = (int32_t)share_lo(c->n_kv_heads, tp, r + 1) - R->kv0;
    R->h0 = R->kv0 * group;
    R->n_h = R->n_kv * group;
    R->d0 = share_lo(c->dim, tp, r);
    R->nd = share_lo(c->dim, tp, r + 1) - R->d0;
    R->f0 = share_lo(c->hidden_dim, tp, r);
    R->nf = share_lo(c->hidden_dim, tp, r + 1) - R->f0;
    R->v0 = share_lo(c->vocab_size, tp, r);
    R->nv = share_lo(c->vocab_size, tp, r + 1) - R->v0;
    R->attn = s->attn;
    R->attn.n_heads = R->n_h;
    R->attn.n_kv_heads = R->n_kv;
    R->layers = lc_calloc((size_t)(L > 0 ? L : 1), sizeof *R->layers);
    if (!R->layers) return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    LC_TRY(rank_views(s, R));
    LC_TRY(lc_session_cache_size(s, s->params.kv_initial_len, (int64_t)R->n_kv * hd, &bytes));
    LC_TRY(lc_session_alloc_caches(ctx, fn, L, bytes, &R->k_cache, &R->v_cache));
    s->kv_bytes += (size_t)(2 * L) * bytes;
    if (R->n_h > max_h) max_h = R->n_h;
    if (R->n_kv > max_kv) max_kv = R->n_kv;
    if (R->nd > max_d) max_d = R->nd;
    if (R->nf > max_f) max_f = R->nf;
    if (R->nv > max_v) max_v = R->nv;
  }
  const int64_t T = s->params.max_tokens;
  size_t *acc = &s->temp_bytes;
  LC_TRY(lc_session_alloc_f32(ctx, T, max_h * hd, "a rank's q", &s->tq, acc));
  LC_TRY(lc_session_alloc_f32(ctx, T, max_kv * hd, "a rank's k", &s->tk, acc));
  LC_TRY(lc_session_alloc_f32(ctx, T, max_kv * hd, "a rank's v", &s->tv, acc));
  LC_TRY(lc_session_alloc_f32(ctx, T, max_h * hd, "a rank's attention output", &s->tatt, acc));
  LC_TRY(lc_session_alloc_f32(ctx, T, s->tp_rowpar ? c->dim : max_d, "a rank's projection output",
                              &s->tout, acc));
  LC_TRY(lc_session_alloc_f32(ctx, T, max_f, "a rank's gate", &s->tgate, acc));
  LC_TRY(lc_session_alloc_f32(ctx, T, max_f, "a rank's up", &s->tup, acc));
  if (s->tp_rowpar) LC_TRY(lc_session_alloc_f32(ctx, T, c->dim, "the all-reduce", &s->tsum, acc));
  return lc_session_alloc_f32(ctx, s->logit_rows, max_v, "a rank's logits", &s->tlogits, acc);
}

/* Rank output src [T][n] into columns c0 .. c0 + n - 1 of dst [T][ld]. */
static lc_status gather(lc_session *s, float *dst, int64_t ld, int64_t c0, const float *src,
                        int64_t n, int64_t T) {
  return lc_mem_copy2d(s->ctx, dst + c0, (size_t)ld * sizeof(float), src, (size_t)n * sizeof(float),
                       (size_t)n * sizeof(float), (size_t)T);
}

/* The all-reduce of the row-parallel layout, one rank's step: its partial
 * [T][dim] (in s->tout) into the sum in dst, rank 0's copied, the others
 * added in ascending rank order (vendor-bf16: the partial and every sum
 * rounded to bf16, as a bf16 all-reduce stores them). */
static lc_status all_reduce_step(lc_session *s, int32_t r, int64_t T, float *dst) {
  const int64_t n = T * s->model->info.config.dim;
  LC_TRY(lc_session_act(s, s->tout, n));
  if (r == 0) return lc_mem_copy(s->ctx, dst, s->tout, (size_t)n * sizeof(float));
  LC_TRY(lc_add(s->ctx, dst, s->tout, n, dst));
  return lc_session_act(s, dst, n);
}

lc_status lc_session_tp_block(lc_session *s, int32_t l, int64_t T, int64_t n_seqs) {
  lc_context *ctx = s->ctx;
  const lc_model_config *c = &s->model->info.config;
  const lc_layer_weights *W = &s->model->layers[l];
  const int64_t dim = c->dim, hid = c->hidden_dim, hd = c->head_dim;
  const int64_t qd = (int64_t)c->n_heads * hd;
  const float eps = c->norm_eps;
  const int32_t tp = s->params.tp;

  /* attention: each rank its heads; o_proj column split (the outputs
   * gathered, then each rank its output columns) or row-parallel (each
   * rank its own output times its columns, all-reduced; the sum waits in
   * tsum, as xn is read by the later ranks' q, k and v) */
  LC_TRY(lc_session_norm_into_xn(s, T, W->attn_norm));
  for (int32_t r = 0; r < tp; r++) {
    lc_tp_rank *R = &s->tp[r];
    const lc_tp_layer *V = &R->layers[l];
    const int64_t nq = (int64_t)R->n_h * hd, nk = (int64_t)R->n_kv * hd;
    LC_TRY(lc_matmul(ctx, s->xn, T, V->wq, V->bq, s->tq));
    LC_TRY(lc_matmul(ctx, s->xn, T, V->wk, V->bk, s->tk));
    LC_TRY(lc_matmul(ctx, s->xn, T, V->wv, V->bv, s->tv));
    LC_TRY(lc_session_act(s, s->tq, T * nq));
    LC_TRY(lc_session_act(s, s->tk, T * nk));
    LC_TRY(lc_session_act(s, s->tv, T * nk));
    if (c->qk_norm) {
      LC_TRY(lc_rmsnorm(ctx, s->tq, T * R->n_h, W->q_norm, eps, s->tq));
      LC_TRY(lc_rmsnorm(ctx, s->tk, T * R->n_kv, W->k_norm, eps, s->tk));
      LC_TRY(lc_session_act(s, s->tq, T * nq));
      LC_TRY(lc_session_act(s, s->tk, T * nk));
    }
    LC_TRY(lc_session_rope_attention(s, &R->attn, R->k_cache[l], R->v_cache[l], T, n_seqs, s->tq,
                                     s->tk, s->tv, s->tatt));
    LC_TRY(lc_session_act(s, s->tatt, T * nq));
    if (s->tp_rowpar) {
      LC_TRY(lc_matmul(ctx, s->tatt, T, V->wo_k, NULL, s->tout));
      LC_TRY(all_reduce_step(s, r, T, s->tsum));
    } else {
      LC_TRY(gather(s, s->att, qd, (int64_t)R->h0 * hd, s->tatt, nq, T));
    }
  }
  if (s->tp_rowpar) {
    LC_TRY(lc_mem_copy(ctx, s->xn, s->tsum, (size_t)(T * dim) * sizeof(float)));
  } else {
    for (int32_t r = 0; r < tp; r++) {
      lc_tp_rank *R = &s->tp[r];
      LC_TRY(lc_matmul(ctx, s->att, T, R->layers[l].wo, NULL, s->tout));
      LC_TRY(gather(s, s->xn, dim, R->d0, s->tout, R->nd, T));
    }
  }

  /* feed-forward: x += the attention's output, normed (every rank) */
  LC_TRY(lc_add_rmsnorm(ctx, s->x, s->xn, T, W->ffn_norm, eps, ctx->mode == LC_MODE_VENDOR_BF16,
                        s->xn));
  /* gate and up, column split, into gate; then down_proj column split (the
   * hidden state whole) or row-parallel (each rank's slice of it times its
   * columns, all-reduced into xn, free once every gate and up is done) */
  for (int32_t r = 0; r < tp; r++) {
    lc_tp_rank *R = &s->tp[r];
    const lc_tp_layer *V = &R->layers[l];
    LC_TRY(lc_matmul(ctx, s->xn, T, V->w_gate, NULL, s->tgate));
    LC_TRY(lc_matmul(ctx, s->xn, T, V->w_up, NULL, s->tup));
    LC_TRY(lc_session_act(s, s->tgate, T * R->nf));
    LC_TRY(lc_session_act(s, s->tup, T * R->nf));
    LC_TRY(lc_silu_mul(ctx, s->tgate, s->tup, T * R->nf, s->tgate));
    LC_TRY(lc_session_act(s, s->tgate, T * R->nf));
    LC_TRY(gather(s, s->gate, hid, R->f0, s->tgate, R->nf, T));
  }
  for (int32_t r = 0; r < tp; r++) {
    lc_tp_rank *R = &s->tp[r];
    if (s->tp_rowpar) {
      LC_TRY(lc_mem_copy2d(ctx, s->tgate, (size_t)R->nf * sizeof(float), s->gate + R->f0,
                           (size_t)hid * sizeof(float), (size_t)R->nf * sizeof(float), (size_t)T));
      LC_TRY(lc_matmul(ctx, s->tgate, T, R->layers[l].w_down_k, NULL, s->tout));
      LC_TRY(all_reduce_step(s, r, T, s->xn));
    } else {
      LC_TRY(lc_matmul(ctx, s->gate, T, R->layers[l].w_down, NULL, s->tout));
      LC_TRY(gather(s, s->xn, dim, R->d0, s->tout, R->nd, T));
    }
  }
  s->pending_add = 1; /* x += xn: with the next norm, or flush_add */
  return LC_OK;
}

lc_status lc_session_tp_logits(lc_session *s, const float *h, int64_t n) {
  const int64_t vocab = s->model->info.config.vocab_size;
  for (int32_t r = 0; r < s->params.tp; r++) {
    lc_tp_rank *R = &s->tp[r];
    LC_TRY(lc_matmul(s->ctx, h, n, R->lm_head, NULL, s->tlogits));
    LC_TRY(gather(s, s->logits, vocab, R->v0, s->tlogits, R->nv, n));
  }
  return LC_OK;
}

lc_status lc_session_tp_grow(lc_session *s, int64_t cap) {
  const int64_t L = s->model->info.config.n_layers, hd = s->model->info.config.head_dim;
  size_t total = 0;
  for (int32_t r = 0; r < s->params.tp; r++) {
    lc_tp_rank *R = &s->tp[r];
    const int64_t kvd = (int64_t)R->n_kv * hd;
    size_t bytes;
    if (R->attn.max_len < cap) {
      LC_TRY(
          lc_session_grow_caches(s, kvd, R->attn.max_len, cap, &R->k_cache, &R->v_cache, &bytes));
      R->attn.max_len = (int32_t)cap;
    } else {
      LC_TRY(lc_session_cache_size(s, R->attn.max_len, kvd, &bytes));
    }
    total += (size_t)(2 * L) * bytes;
  }
  s->kv_bytes = total;
  return LC_OK;
}
