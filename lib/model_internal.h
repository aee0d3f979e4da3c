/*
 * lib/model_internal.h — the model and session structs (lib/model.c,
 * lib/session.c), for the library code that builds on them (generation).
 * Callers outside lib/ use the opaque handles of layercast_model.h.
 */
#ifndef LC_MODEL_INTERNAL_H
#define LC_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "layercast_model.h"

typedef struct lc_cuda_graph lc_cuda_graph; /* lib/lc_internal.h */

/* LC_OK when s holds 0 .. LC_MAX_STOP_TOKENS ids, each below vocab;
 * LC_ERR_INVALID_ARGUMENT or LC_ERR_OUT_OF_RANGE naming the id otherwise. */
lc_status lc_stop_set_check(const lc_stop_set *s, int32_t vocab);

/* One transformer block's weights, all on the model's context.  Optional
 * ones are NULL when the architecture does not have them. */
typedef struct lc_layer_weights {
  lc_weights *attn_norm; /* [1][dim] input_layernorm */
  lc_weights *wq;        /* [n_heads*head_dim][dim] */
  lc_weights *wk;        /* [n_kv_heads*head_dim][dim] */
  lc_weights *wv;        /* [n_kv_heads*head_dim][dim] */
  lc_weights *bq;        /* [1][n_heads*head_dim] (qkv_bias) or NULL */
  lc_weights *bk;        /* [1][n_kv_heads*head_dim] (qkv_bias) or NULL */
  lc_weights *bv;        /* [1][n_kv_heads*head_dim] (qkv_bias) or NULL */
  lc_weights *q_norm;    /* [1][head_dim] (qk_norm) or NULL */
  lc_weights *k_norm;    /* [1][head_dim] (qk_norm) or NULL */
  lc_weights *wo;        /* [dim][n_heads*head_dim] */
  lc_weights *ffn_norm;  /* [1][dim] post_attention_layernorm */
  lc_weights *w_gate;    /* [hidden][dim] */
  lc_weights *w_up;      /* [hidden][dim] */
  lc_weights *w_down;    /* [dim][hidden] */
  /* Joined matrices (lc_weights_join), NULL where the parts could not be
   * joined aligned: wq, wk and wv (and bq, bk, bv; w_gate and w_up) are
   * then views of their rows.  One matmul over a joined matrix gives the
   * parts' outputs side by side, bit for bit theirs (every output element
   * is computed whole, in an order that depends on K only). */
  lc_weights *wqkv;      /* [(n_heads + 2 n_kv_heads) head_dim][dim] */
  lc_weights *bqkv;      /* [1][(n_heads + 2 n_kv_heads) head_dim] (qkv_bias) or NULL */
  lc_weights *w_gate_up; /* [2 hidden][dim] */
} lc_layer_weights;

struct lc_model {
  lc_context *ctx;          /* owner of every weight and the RoPE table */
  lc_model_info info;       /* config (max_seq_len after the override), sizes, rounding */
  lc_weights *embed;        /* [vocab][dim] */
  lc_weights *final_norm;   /* [1][dim] */
  lc_weights *lm_head;      /* [vocab][dim]; == embed when tied (freed once) */
  lc_layer_weights *layers; /* host [n_layers] */
  lc_rope *rope;            /* [max_seq_len][head_dim/2] */
};

/* A CUDA graph of one decode pass (every entry one token): keyed by the rows
 * and the cache capacity, valid while the context's scratch generation is
 * the one it was captured with. */
#define LC_SESSION_GRAPHS 8
typedef struct lc_session_graph {
  int64_t rows;     /* 0: unused */
  int32_t cap;      /* attn.max_len when captured */
  int32_t fails;    /* captures that did not hold; 2: no more tries */
  uint64_t gen;     /* lc_cuda_scratch_generation at the capture */
  lc_cuda_graph *g; /* NULL until captured */
} lc_session_graph;

/* One rank of an emulated tensor-parallel session (lc_session_params.tp,
 * lib/session_tp.c): its ranges, its views of the model's weights, its K
 * and V caches and its attention shape. */
typedef struct lc_tp_layer {
  lc_weights *wq, *wk, *wv, *bq, *bk, *bv; /* rows of its q and kv heads (biases: columns) */
  lc_weights *wo, *w_down;                 /* rows d0 .. d0 + nd - 1 */
  lc_weights *w_gate, *w_up;               /* rows f0 .. f0 + nf - 1 */
  /* row-parallel layout (reference, vendor modes): the columns of o_proj of
   * its query heads and of down_proj of f0 .., copies (own memory) */
  lc_weights *wo_k, *w_down_k;
} lc_tp_layer;

typedef struct lc_tp_rank {
  int32_t kv0, n_kv, h0, n_h; /* KV heads kv0.., query heads h0.. */
  int64_t d0, nd;             /* model-width columns (o_proj, down_proj outputs) */
  int64_t f0, nf;             /* hidden columns (gate, up) */
  int64_t v0, nv;             /* vocabulary columns (the output projection) */
  lc_attn_shape attn;         /* n_h, n_kv; max_len, slots, dtype, scale: the session's */
  float **k_cache, **v_cache; /* host [n_layers] of backend [n_slots][cap][n_kv][hd] */
  lc_tp_layer *layers;        /* host [n_layers] */
  lc_weights *lm_head;        /* rows v0 .. v0 + nv - 1 */
} lc_tp_rank;

struct lc_session {
  lc_model *model;
  lc_context *ctx;          /* == model->ctx */
  lc_session_params params; /* resolved: max_len, max_tokens filled in */
  lc_attn_shape attn;       /* n_heads, n_kv_heads, head_dim, max_len, n_slots, scale */
  float **k_cache;          /* host [n_layers] of backend [n_slots][cap][n_kv][hd] of
                               attn.kv_dtype (fp32 or bf16), cap = attn.max_len */
  float **v_cache;          /* same */
  int32_t *filled;          /* host [n_slots]: positions 0..filled-1 hold keys/values */
  /* activations, backend fp32, T = max_tokens */
  float *x;           /* [T][dim] residual stream */
  float *xn;          /* [T][dim] normed input; also o_proj and down_proj outputs */
  float *q;           /* [T][n_heads*head_dim] */
  float *k;           /* [T][n_kv_heads*head_dim] */
  float *v;           /* [T][n_kv_heads*head_dim] */
  float *att;         /* [T][n_heads*head_dim] attention output */
  float *gate;        /* [T][hidden] */
  float *up;          /* [T][hidden] */
  float *qkv1;        /* [n_heads + 2 n_kv_heads][head_dim]: q, k, v of a one-row pass
                         (one matmul over the joined wqkv), NULL without it */
  float *gate_up1;    /* [2][hidden]: gate and up of a one-row pass, NULL without
                         w_gate_up */
  int pending_add;    /* s->x += s->xn (the last block's down projection) is
                         still to come: with the next norm (lib/session.c) */
  float *last;        /* [last_rows][dim] the entries' last normed rows, gathered */
  float *logits;      /* [logit_rows][vocab] */
  int64_t last_rows;  /* min(n_slots, T) */
  int64_t logit_rows; /* rows of the logits buffer; larger passes go in chunks */
  /* host scratch */
  int32_t *tokens; /* [T] */
  int32_t *pos;    /* [T] */
  int32_t *rslot;  /* [T] each row's slot */
  int32_t *stage;  /* [3 T] tokens, pos and rslot of a pass, packed for the upload */
  /* CUDA: the pass's row indices on the device ([3 T], one upload per pass)
   * and the decode passes' graphs (lib/session.c) */
  int32_t *didx;
  const int32_t *d_tok, *d_pos, *d_slot; /* into didx, set per pass */
  lc_session_graph graphs[LC_SESSION_GRAPHS];
  int32_t graph_next;    /* the slot the next new key evicts */
  int64_t graph_replays; /* passes run from a graph */
  int64_t rows_passes;   /* CPU decode passes run row-parallel (lib/session.c) */
  lc_attn_seq *seqs;     /* [n_slots] */
  unsigned char *seen;   /* [n_slots] duplicate-slot check */
  float *hook_buf;       /* [T][dim] residual for the layer hook */
  lc_layer_hook hook;
  void *hook_user;
  /* emulated tensor parallelism (params.tp > 1; lib/session_tp.c): the
   * ranks, and scratch for one rank's outputs (the largest rank's sizes) */
  lc_tp_rank *tp; /* [params.tp], NULL when tp <= 1 */
  int tp_rowpar;  /* o_proj and down_proj row-parallel, all-reduced (reference, vendor) */
  float *tq, *tk, *tv, *tatt, *tout; /* [T][...] */
  float *tgate, *tup, *tlogits;      /* [T][nf max], [logit_rows][nv max] */
  float *tsum;       /* [T][dim] the row-parallel o_proj's all-reduce (NULL otherwise) */
  size_t kv_bytes;   /* K and V caches, all layers */
  size_t temp_bytes; /* activations and logits buffers (backend) */
};

/* lib/session.c, for lib/session_tp.c (each says what it does there). */
lc_status lc_session_alloc_f32(lc_context *ctx, int64_t rows, int64_t cols, const char *what,
                               float **out, size_t *acc);
lc_status lc_session_cache_size(lc_session *s, int64_t len, int64_t kvd, size_t *bytes);
lc_status lc_session_alloc_caches(lc_context *ctx, const char *fn, int64_t L, size_t bytes,
                                  float ***k, float ***v);
void lc_session_free_caches(lc_context *ctx, float **k, float **v, int64_t L);
lc_status lc_session_grow_caches(lc_session *s, int64_t kvd, int64_t old, int64_t cap, float ***k,
                                 float ***v, size_t *bytes);
lc_status lc_session_act(const lc_session *s, float *x, int64_t n);
lc_status lc_session_norm_into_xn(lc_session *s, int64_t T, const lc_weights *w);
lc_status lc_session_rope_attention(lc_session *s, const lc_attn_shape *a, float *kc, float *vc,
                                    int64_t T, int64_t n_seqs, float *q, float *k, const float *v,
                                    float *out);

/* lib/session_tp.c, for lib/session.c.  Every function here needs
 * s->params.tp > 1 and fails with the reason in the context's error. */
/* Checks the degree against the model and mode, then the ranks: ranges,
 * weight views, caches of kv_initial_len positions, scratch. */
lc_status lc_session_tp_create(lc_session *s);
void lc_session_tp_free(lc_session *s);
/* One transformer block over T rows, the ranks one after the other. */
lc_status lc_session_tp_block(lc_session *s, int32_t l, int64_t T, int64_t n_seqs);
/* Logits of n rows of h into s->logits, each rank its vocabulary columns. */
lc_status lc_session_tp_logits(lc_session *s, const float *h, int64_t n);
/* Every rank's caches to cap positions per slot (the filled ones copied);
 * on a failure the ranks keep their old caches. */
lc_status lc_session_tp_grow(lc_session *s, int64_t cap);

#endif /* LC_MODEL_INTERNAL_H */
