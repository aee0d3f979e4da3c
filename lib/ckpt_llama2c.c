/*
 * lib/ckpt_llama2c.c — the llama2.c loader ("legacy" version 0 export, fp32),
 * /work/shared/models/README.md:
 *   int32 header[7]: dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 *                    vocab_size (negative: untied classifier), seq_len
 *   fp32 token_embedding[vocab][dim]
 *        rms_att[L][dim], wq[L][dim][dim], wk[L][kv_dim][dim],
 *        wv[L][kv_dim][dim], wo[L][dim][dim], rms_ffn[L][dim],
 *        w1[L][hidden][dim], w2[L][dim][hidden], w3[L][hidden][dim],
 *        rms_final[dim], freq_cis_real[seq_len][head_dim/2],
 *        freq_cis_imag[seq_len][head_dim/2], (untied) wcls[vocab][dim]
 * The file is mapped read-only and the tensors point into the map.
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "lib/ckpt_internal.h"

/* a*b into *out without overflow past INT64_MAX (a, b >= 0). */
static int mul_ok(int64_t a, int64_t b, int64_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}
static int add_ok(int64_t a, int64_t b, int64_t *out) {
  return !__builtin_add_overflow(a, b, out);
}

lc_status lc_ckpt_open_llama2c(lc_checkpoint *c, const char *path, lc_ckpt_err *e) {
  const void *addr;
  size_t len;
  LC_TRY(lc_ckpt_map_file(c, path, &addr, &len, e));
  if (len < 28)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: a llama2.c checkpoint starts with a 28-byte header (7 int32); "
                        "found a file of %zu bytes",
                        path, len);
  int32_t h[7];
  memcpy(h, addr, sizeof h);
  if ((uint32_t)h[0] == LC_LLAMA2C_MAGIC)
    return lc_ckpt_fail(e, LC_ERR_UNSUPPORTED,
                        "%s: llama2.c export version %d (magic \"ak42\") is not supported; "
                        "layercast reads the legacy version 0 export (export.py --version 0)",
                        path, (int)h[1]);
  const char *names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                          "n_kv_heads", "vocab_size", "seq_len"};
  for (int i = 0; i < 7; i++) {
    if (i == 5 ? (h[i] == 0 || h[i] == INT32_MIN) : h[i] <= 0)
      return lc_ckpt_fail(e, LC_ERR_FORMAT,
                          "%s: llama2.c header field %s must be %s; found %d (header: dim %d, "
                          "hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, "
                          "seq_len %d)",
                          path, names[i], i == 5 ? "nonzero" : "positive", (int)h[i], (int)h[0],
                          (int)h[1], (int)h[2], (int)h[3], (int)h[4], (int)h[5], (int)h[6]);
  }
  int32_t dim = h[0], hidden = h[1], n_layers = h[2], n_heads = h[3], n_kv = h[4];
  int32_t vocab = h[5] < 0 ? -h[5] : h[5], seq_len = h[6];
  int tied = h[5] > 0;
  if (dim % n_heads != 0)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: llama2.c header: n_heads %d must divide dim %d (found remainder %d)",
                        path, (int)n_heads, (int)dim, (int)(dim % n_heads));
  if (n_kv > n_heads || n_heads % n_kv != 0)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: llama2.c header: n_kv_heads %d must divide n_heads %d", path,
                        (int)n_kv, (int)n_heads);
  int32_t head_dim = dim / n_heads;
  if (head_dim % 2 != 0)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: llama2.c header: head_dim = dim / n_heads = %d must be even", path,
                        (int)head_dim);
  int64_t kv_dim = (int64_t)n_kv * head_dim;

  /* Element counts, each checked. */
  int64_t L = n_layers, D = dim, H = hidden, V = vocab, S = seq_len;
  int64_t n_embed, n_dd, n_kvd, n_hd, n_rope, per_layer, t1, t2, total;
  int ok = mul_ok(V, D, &n_embed) && mul_ok(D, D, &n_dd) && mul_ok(kv_dim, D, &n_kvd) &&
           mul_ok(H, D, &n_hd) && mul_ok(S, head_dim / 2, &n_rope);
  /* per layer: 2 norms, wq, wk, wv, wo, w1, w2, w3 */
  ok = ok && mul_ok(n_dd, 2, &t1) && mul_ok(n_kvd, 2, &t2) && add_ok(t1, t2, &per_layer) &&
       mul_ok(n_hd, 3, &t1) && add_ok(per_layer, t1, &per_layer) &&
       add_ok(per_layer, 2 * D, &per_layer);
  ok = ok && mul_ok(per_layer, L, &total) && add_ok(total, n_embed, &total) &&
       add_ok(total, D, &total) && mul_ok(n_rope, 2, &t1) && add_ok(total, t1, &total);
  if (ok && !tied) ok = add_ok(total, n_embed, &total);
  int64_t want_bytes = 0;
  ok = ok && mul_ok(total, 4, &want_bytes) && add_ok(want_bytes, 28, &want_bytes);
  if (!ok || (uint64_t)want_bytes > (uint64_t)SIZE_MAX)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: llama2.c header (dim %d, hidden_dim %d, n_layers %d, n_heads %d, "
                        "n_kv_heads %d, vocab_size %d, seq_len %d) describes a file too large to "
                        "exist (size overflows 64 bits); found %zu bytes",
                        path, (int)h[0], (int)h[1], (int)h[2], (int)h[3], (int)h[4], (int)h[5],
                        (int)h[6], len);
  if ((uint64_t)want_bytes != (uint64_t)len)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: llama2.c checkpoint (dim %d, hidden_dim %d, n_layers %d, n_heads %d, "
                        "n_kv_heads %d, vocab_size %d %s, seq_len %d) must be exactly %lld bytes; "
                        "found %zu bytes (%s)",
                        path, (int)h[0], (int)h[1], (int)h[2], (int)h[3], (int)h[4], (int)h[5],
                        tied ? "(shared classifier)" : "(separate classifier wcls)", (int)h[6],
                        (long long)want_bytes, len,
                        (uint64_t)len < (uint64_t)want_bytes ? "truncated" : "trailing bytes");

  lc_model_config *g = &c->config;
  memset(g, 0, sizeof *g);
  g->arch = LC_ARCH_LLAMA;
  g->dim = dim;
  g->hidden_dim = hidden;
  g->n_layers = n_layers;
  g->n_heads = n_heads;
  g->n_kv_heads = n_kv;
  g->head_dim = head_dim;
  g->vocab_size = vocab;
  g->max_seq_len = seq_len;
  g->norm_eps = 1e-5f;
  g->rope_theta = 10000.0;
  g->rope_style = LC_ROPE_INTERLEAVED;
  g->tied_embeddings = tied;
  g->qkv_bias = 0;
  g->qk_norm = 0;
  g->bos_id = 1;
  g->eos_id = 2;
  LC_TRY(lc_ckpt_check_config(c, path, e));

  const float *p = (const float *)((const char *)addr + 28);
  const float *embed = p;
  p += n_embed;
  const float *rms_att = p;
  p += L * D;
  const float *wq = p;
  p += L * n_dd;
  const float *wk = p;
  p += L * n_kvd;
  const float *wv = p;
  p += L * n_kvd;
  const float *wo = p;
  p += L * n_dd;
  const float *rms_ffn = p;
  p += L * D;
  const float *w1 = p;
  p += L * n_hd;
  const float *w2 = p;
  p += L * n_hd;
  const float *w3 = p;
  p += L * n_hd;
  const float *rms_final = p;
  p += D;
  p += 2 * n_rope;
  const float *wcls = tied ? NULL : p;

#define LC_ADD(nm, ptr, r, cc, nd)                 \
  do {                                             \
    lc_tensor_src t_;                              \
    memset(&t_, 0, sizeof t_);                     \
    snprintf(t_.name, sizeof t_.name, "%s", (nm)); \
    t_.dtype = LC_DTYPE_F32;                       \
    t_.ndim = (nd);                                \
    t_.shape[0] = (r);                             \
    t_.shape[1] = (cc);                            \
    t_.data = (ptr);                               \
    t_.bytes = (size_t)(r) * (size_t)(cc)*4u;      \
    LC_TRY(lc_ckpt_add_tensor(c, &t_, e));         \
  } while (0)
  char nm[128];
  LC_ADD("model.embed_tokens.weight", embed, V, D, 2);
  for (int64_t l = 0; l < L; l++) {
    snprintf(nm, sizeof nm, "model.layers.%lld.input_layernorm.weight", (long long)l);
    LC_ADD(nm, rms_att + l * D, D, 1, 1);
    snprintf(nm, sizeof nm, "model.layers.%lld.self_attn.q_proj.weight", (long long)l);
    LC_ADD(nm, wq + l * n_dd, D, D, 2);
    snprintf(nm, sizeof nm, "model.layers.%lld.self_attn.k_proj.weight", (long long)l);
    LC_ADD(nm, wk + l * n_kvd, kv_dim, D, 2);
    snprintf(nm, sizeof nm, "model.layers.%lld.self_attn.v_proj.weight", (long long)l);
    LC_ADD(nm, wv + l * n_kvd, kv_dim, D, 2);
    snprintf(nm, sizeof nm, "model.layers.%lld.self_attn.o_proj.weight", (long long)l);
    LC_ADD(nm, wo + l * n_dd, D, D, 2);
    snprintf(nm, sizeof nm, "model.layers.%lld.post_attention_layernorm.weight", (long long)l);
    LC_ADD(nm, rms_ffn + l * D, D, 1, 1);
    snprintf(nm, sizeof nm, "model.layers.%lld.mlp.gate_proj.weight", (long long)l);
    LC_ADD(nm, w1 + l * n_hd, H, D, 2);
    snprintf(nm, sizeof nm, "model.layers.%lld.mlp.down_proj.weight", (long long)l);
    LC_ADD(nm, w2 + l * n_hd, D, H, 2);
    snprintf(nm, sizeof nm, "model.layers.%lld.mlp.up_proj.weight", (long long)l);
    LC_ADD(nm, w3 + l * n_hd, H, D, 2);
  }
  LC_ADD("model.norm.weight", rms_final, D, 1, 1);
  if (!tied) LC_ADD("lm_head.weight", wcls, V, D, 2);
#undef LC_ADD
  return lc_ckpt_check_required(c, path, NULL, 0, e);
}
