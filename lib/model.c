/*
 * lib/model.c — builds a model from a checkpoint: every tensor the config
 * needs becomes an lc_weights (bf16) on the context's backend, the RoPE table
 * is built once, and the checkpoint is closed (the weights are copies).
 *
 * Tensor names and shapes are lib/checkpoint.h's (Hugging Face names); 1-D
 * tensors (norms, biases) become [1][n] matrices.  A tied output projection
 * is the embedding table itself (one lc_weights, counted once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/checkpoint.h"
#include "lib/lc_internal.h"
#include "lib/model_config.h"
#include "lib/model_internal.h"

const char *lc_arch_name(lc_arch a) {
  switch (a) {
    case LC_ARCH_LLAMA:
      return "llama";
    case LC_ARCH_QWEN2:
      return "qwen2";
    case LC_ARCH_QWEN3:
      return "qwen3";
  }
  return "unknown";
}

lc_status lc_arch_from_name(const char *name, lc_arch *out) {
  if (!name || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_arch_from_name: NULL argument");
  static const lc_arch all[] = {LC_ARCH_LLAMA, LC_ARCH_QWEN2, LC_ARCH_QWEN3};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (strcmp(name, lc_arch_name(all[i])) == 0) {
      *out = all[i];
      return LC_OK;
    }
  return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                 "lc_arch_from_name: unknown architecture \"%s\" (expected llama, qwen2 or qwen3)",
                 name);
}

void lc_model_load_params_default(lc_model_load_params *p) {
  if (!p) return;
  memset(p, 0, sizeof *p);
  p->format = LC_FORMAT_AUTO;
  p->max_seq_len = 0;
}

/* ---- loading ---------------------------------------------------------------*/

static void layer_free(lc_layer_weights *L) {
  lc_weights *all[] = {L->attn_norm, L->wq,     L->wk,     L->wv,   L->bq,       L->bk,
                       L->bv,        L->q_norm, L->k_norm, L->wo,   L->ffn_norm, L->w_gate,
                       L->w_up,      L->w_down, L->wqkv,   L->bqkv, L->w_gate_up};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lc_weights_free(all[i]);
  memset(L, 0, sizeof *L);
}

void lc_model_free(lc_model *m) {
  if (!m) return;
  if (m->layers)
    for (int32_t i = 0; i < m->info.config.n_layers; i++) layer_free(&m->layers[i]);
  free(m->layers);
  if (m->lm_head != m->embed) lc_weights_free(m->lm_head);
  lc_weights_free(m->embed);
  lc_weights_free(m->final_norm);
  lc_rope_free(m->rope);
  free(m);
}

/* What a load is building: the checkpoint, the largest source tensor and
 * the model's hash (lc_model_info.weights_hash). */
typedef struct loader {
  lc_context *ctx;
  lc_checkpoint *ck;
  lc_model *m;
  const char *path;
  size_t largest_bytes;
  lc_hasher *hash;
  uint16_t *bits; /* host scratch for the bf16 bits of a converted tensor */
  size_t bits_cap;
} loader;

/* The stored bf16 bits are hashed as little-endian 16-bit words: the
 * in-memory layout on the hosts layercast builds for. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "lib/model.c hashes bf16 weights in host byte order: little-endian hosts only"
#endif

/* Adds a tensor to the model's hash: its name, shape and stored bf16 bits
 * (read back from the backend when the source was converted). */
static lc_status hash_tensor(loader *ld, const lc_tensor_src *t, const lc_weights *w,
                             const char *name, int64_t rows, int64_t cols) {
  lc_hasher_update(ld->hash, name, strlen(name) + 1);
  lc_hasher_u64(ld->hash, (uint64_t)rows);
  lc_hasher_u64(ld->hash, (uint64_t)cols);
  const size_t n = (size_t)rows * (size_t)cols;
  if (t->dtype == LC_DTYPE_BF16) {
    lc_hasher_update(ld->hash, t->data, n * sizeof(uint16_t));
    return LC_OK;
  }
  if (n > ld->bits_cap) {
    uint16_t *b = lc_realloc(ld->bits, n * sizeof *b);
    if (!b)
      return LC_FAIL(ld->ctx, LC_ERR_OUT_OF_MEMORY,
                     "lc_model_load: %zu bytes of host scratch to hash %s", n * sizeof *b, name);
    ld->bits = b;
    ld->bits_cap = n;
  }
  LC_TRY(lc_weights_read_bf16(w, ld->bits));
  lc_hasher_update(ld->hash, ld->bits, n * sizeof(uint16_t));
  return LC_OK;
}

/* The config fields that change what the model computes, then the RoPE
 * frequencies when rope_scaling gave them. */
static void hash_config(loader *ld, const lc_model_config *c) {
  const int64_t v[] = {c->arch,       c->dim,      c->hidden_dim, c->n_layers,   c->n_heads,
                       c->n_kv_heads, c->head_dim, c->vocab_size, c->rope_style, c->tied_embeddings,
                       c->qkv_bias,   c->qk_norm};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) lc_hasher_u64(ld->hash, (uint64_t)v[i]);
  uint32_t eps;
  uint64_t theta;
  memcpy(&eps, &c->norm_eps, sizeof eps);
  memcpy(&theta, &c->rope_theta, sizeof theta);
  lc_hasher_u64(ld->hash, eps);
  lc_hasher_u64(ld->hash, theta);
  const double *inv = lc_checkpoint_inv_freq(ld->ck);
  for (int32_t i = 0; inv && i < c->head_dim / 2; i++) {
    uint64_t b;
    memcpy(&b, &inv[i], sizeof b);
    lc_hasher_u64(ld->hash, b);
  }
}

/* Creates *out from the tensor `name`, which must have rows x cols elements
 * (a 1-D tensor of cols elements when rows == 1 and one_d is set). */
static lc_status take(loader *ld, const char *name, int64_t rows, int64_t cols, int one_d,
                      lc_weights **out) {
  const lc_tensor_src *t = lc_checkpoint_find(ld->ck, name);
  if (!t)
    return LC_FAIL(ld->ctx, LC_ERR_FORMAT, "lc_model_load: %s: tensor %s is missing", ld->path,
                   name);
  int shape_ok;
  if (one_d)
    shape_ok = (t->ndim == 1 && t->shape[0] == cols) ||
               (t->ndim == 2 && t->shape[0] == 1 && t->shape[1] == cols);
  else
    shape_ok = t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols;
  if (!shape_ok) {
    char want[64];
    if (one_d)
      snprintf(want, sizeof want, "[%lld] (1-D)", (long long)cols);
    else
      snprintf(want, sizeof want, "[%lld][%lld]", (long long)rows, (long long)cols);
    return LC_FAIL(ld->ctx, LC_ERR_FORMAT,
                   "lc_model_load: %s: tensor %s has shape [%lld][%lld] (ndim %d), expected %s",
                   ld->path, name, (long long)t->shape[0], (long long)t->shape[1], (int)t->ndim,
                   want);
  }
  LC_TRY(lc_weights_create(ld->ctx, rows, cols, t->dtype, t->data, out));
  LC_TRY(hash_tensor(ld, t, *out, name, rows, cols));
  lc_model_info *info = &ld->m->info;
  info->n_params += rows * cols;
  info->weights_bytes += lc_weights_bytes(*out);
  info->n_tensors++;
  if (t->bytes > ld->largest_bytes) {
    ld->largest_bytes = t->bytes;
    info->source_dtype = t->dtype;
  }
  if (t->dtype != LC_DTYPE_BF16) {
    lc_conversion_stats cs;
    LC_TRY(lc_weights_get_conversion_stats(*out, &cs));
    lc_conversion_stats_add(&info->rounding, &cs);
  }
  return LC_OK;
}

/* The loaders checked the file's config with the same rules; this holds the
 * config as built (max_seq_len overridden) to them once more. */
static lc_status check_config(lc_context *ctx, const char *path, const lc_model_config *c) {
  char msg[256];
  lc_status st = lc_model_config_check(c, 1, msg, sizeof msg);
  if (st != LC_OK) return LC_FAIL(ctx, st, "lc_model_load: %s: %s", path, msg);
  return LC_OK;
}

/* Joins q, k and v's projections (and biases) into one matrix, and gate and
 * up into another, where their parts fall 256-byte aligned (every model
 * layercast knows: the byte sizes are multiples of 256 when dim and the
 * head dimensions are multiples of 64): a decode row then runs one matmul
 * for q, k and v and one for gate and up (lib/session.c).  The parts stay
 * usable as views; the bits of every output are the same either way. */
static lc_status join_layer(lc_layer_weights *L) {
  lc_weights *qkv[3] = {L->wq, L->wk, L->wv}, *b[3] = {L->bq, L->bk, L->bv};
  lc_weights *gu[2] = {L->w_gate, L->w_up};
  if (lc_weights_joinable(qkv, 3) && (!L->bq || lc_weights_joinable(b, 3))) {
    if (L->bq) LC_TRY(lc_weights_join(b, 3, &L->bqkv));
    LC_TRY(lc_weights_join(qkv, 3, &L->wqkv));
  }
  if (lc_weights_joinable(gu, 2)) LC_TRY(lc_weights_join(gu, 2, &L->w_gate_up));
  return LC_OK;
}

static lc_status load_layer(loader *ld, int32_t i, lc_layer_weights *L) {
  const lc_model_config *c = &ld->m->info.config;
  const int64_t dim = c->dim, hid = c->hidden_dim;
  const int64_t qd = (int64_t)c->n_heads * c->head_dim, kvd = (int64_t)c->n_kv_heads * c->head_dim;
  char nm[160];
#define NAME(suffix) (snprintf(nm, sizeof nm, "model.layers.%d.%s", (int)i, suffix), nm)
  LC_TRY(take(ld, NAME("input_layernorm.weight"), 1, dim, 1, &L->attn_norm));
  LC_TRY(take(ld, NAME("self_attn.q_proj.weight"), qd, dim, 0, &L->wq));
  LC_TRY(take(ld, NAME("self_attn.k_proj.weight"), kvd, dim, 0, &L->wk));
  LC_TRY(take(ld, NAME("self_attn.v_proj.weight"), kvd, dim, 0, &L->wv));
  if (c->qkv_bias) {
    LC_TRY(take(ld, NAME("self_attn.q_proj.bias"), 1, qd, 1, &L->bq));
    LC_TRY(take(ld, NAME("self_attn.k_proj.bias"), 1, kvd, 1, &L->bk));
    LC_TRY(take(ld, NAME("self_attn.v_proj.bias"), 1, kvd, 1, &L->bv));
  }
  if (c->qk_norm) {
    LC_TRY(take(ld, NAME("self_attn.q_norm.weight"), 1, c->head_dim, 1, &L->q_norm));
    LC_TRY(take(ld, NAME("self_attn.k_norm.weight"), 1, c->head_dim, 1, &L->k_norm));
  }
  LC_TRY(take(ld, NAME("self_attn.o_proj.weight"), dim, qd, 0, &L->wo));
  LC_TRY(take(ld, NAME("post_attention_layernorm.weight"), 1, dim, 1, &L->ffn_norm));
  LC_TRY(take(ld, NAME("mlp.gate_proj.weight"), hid, dim, 0, &L->w_gate));
  LC_TRY(take(ld, NAME("mlp.up_proj.weight"), hid, dim, 0, &L->w_up));
  LC_TRY(take(ld, NAME("mlp.down_proj.weight"), dim, hid, 0, &L->w_down));
#undef NAME
  return join_layer(L);
}

static lc_status build(loader *ld, const lc_model_load_params *p) {
  lc_model *m = ld->m;
  lc_model_config *c = &m->info.config;
  *c = *lc_checkpoint_config(ld->ck);
  m->info.format = lc_checkpoint_format(ld->ck);
  if (p->max_seq_len < 0)
    return LC_FAIL(ld->ctx, LC_ERR_INVALID_ARGUMENT,
                   "lc_model_load: params.max_seq_len = %d, expected >= 0 (0: the checkpoint's)",
                   (int)p->max_seq_len);
  if (p->max_seq_len > 0) c->max_seq_len = p->max_seq_len;
  LC_TRY(check_config(ld->ctx, ld->path, c));
  hash_config(ld, c);
  m->layers = lc_calloc((size_t)c->n_layers, sizeof *m->layers);
  if (!m->layers)
    return LC_FAIL(ld->ctx, LC_ERR_OUT_OF_MEMORY, "lc_model_load: cannot allocate %d layers",
                   (int)c->n_layers);
  LC_TRY(take(ld, "model.embed_tokens.weight", c->vocab_size, c->dim, 0, &m->embed));
  for (int32_t i = 0; i < c->n_layers; i++) LC_TRY(load_layer(ld, i, &m->layers[i]));
  LC_TRY(take(ld, "model.norm.weight", 1, c->dim, 1, &m->final_norm));
  if (c->tied_embeddings)
    m->lm_head = m->embed;
  else
    LC_TRY(take(ld, "lm_head.weight", c->vocab_size, c->dim, 0, &m->lm_head));
  LC_TRY(lc_rope_create(ld->ctx, c->head_dim, c->max_seq_len, c->rope_theta, c->rope_style,
                        lc_checkpoint_inv_freq(ld->ck), &m->rope));
  lc_hasher_hex(ld->hash, m->info.weights_hash);
  return LC_OK;
}

lc_status lc_model_load(lc_context *ctx, const char *path, const lc_model_load_params *params,
                        lc_model **out) {
  static const char fn[] = "lc_model_load";
  LC_TRY(lc_check_ctx(ctx, fn));
  LC_TRY(lc_check_ptr(ctx, out, fn, "out"));
  *out = NULL;
  LC_TRY(lc_check_ptr(ctx, path, fn, "path"));
  lc_model_load_params p;
  lc_model_load_params_default(&p);
  if (params) p = *params;
  if (p.format != LC_FORMAT_AUTO && p.format != LC_FORMAT_LLAMA2C && p.format != LC_FORMAT_HF)
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: unknown format %d", fn, (int)p.format);

  char err[LC_ERR_LEN];
  err[0] = '\0';
  lc_checkpoint *ck = NULL;
  lc_status st = lc_checkpoint_open(path, p.format, &ck, err, sizeof err);
  if (st != LC_OK) {
    lc_checkpoint_close(ck);
    return LC_FAIL(ctx, st, "%s", err[0] ? err : "lc_model_load: cannot open the checkpoint");
  }
  lc_model *m = lc_calloc(1, sizeof *m);
  if (!m) {
    lc_checkpoint_close(ck);
    return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
  }
  m->ctx = ctx;
  loader ld = {ctx, ck, m, path, 0, lc_hasher_new(), NULL, 0};
  st = ld.hash ? build(&ld, &p)
               : LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: cannot create the model's hasher", fn);
  lc_hasher_free(ld.hash);
  free(ld.bits);
  lc_checkpoint_close(ck);
  if (st != LC_OK) {
    lc_model_free(m);
    return st;
  }
  *out = m;
  return LC_OK;
}

lc_status lc_model_get_info(const lc_model *m, lc_model_info *out) {
  if (!m || !out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_model_get_info: NULL argument");
  *out = m->info;
  return LC_OK;
}

lc_context *lc_model_context(const lc_model *m) {
  return m ? m->ctx : NULL;
}
