/*
 * lib/checkpoint.h — what a checkpoint loader hands to the model builder.
 *
 * lib/checkpoint.c detects the format and hands the path to its loader:
 * lib/ckpt_llama2c.c for llama2.c files, lib/ckpt_hf.c for Hugging Face
 * directories (config.json + safetensors, one file or shards with an index).
 * The loader maps the files, validates every header against the file sizes
 * and the config, and exposes the tensors under Hugging Face names with the
 * shapes the model expects:
 *
 *   model.embed_tokens.weight                 [vocab][dim]
 *   model.layers.{i}.input_layernorm.weight   [dim]
 *   model.layers.{i}.self_attn.q_proj.weight  [n_heads*head_dim][dim]
 *   model.layers.{i}.self_attn.k_proj.weight  [n_kv_heads*head_dim][dim]
 *   model.layers.{i}.self_attn.v_proj.weight  [n_kv_heads*head_dim][dim]
 *   model.layers.{i}.self_attn.{q,k,v}_proj.bias   (qkv_bias)
 *   model.layers.{i}.self_attn.{q,k}_norm.weight [head_dim] (qk_norm)
 *   model.layers.{i}.self_attn.o_proj.weight  [dim][n_heads*head_dim]
 *   model.layers.{i}.post_attention_layernorm.weight [dim]
 *   model.layers.{i}.mlp.gate_proj.weight     [hidden][dim]   (llama2.c w1)
 *   model.layers.{i}.mlp.up_proj.weight       [hidden][dim]   (llama2.c w3)
 *   model.layers.{i}.mlp.down_proj.weight     [dim][hidden]   (llama2.c w2)
 *   model.norm.weight                         [dim]
 *   lm_head.weight                            [vocab][dim]    (absent if tied)
 *
 * Data pointers point into the mapped files (or into an aligned copy when a
 * tensor's offset is not aligned to its element size) and live until
 * lc_checkpoint_close().
 */
#ifndef LC_CHECKPOINT_H
#define LC_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "layercast_model.h"

typedef struct lc_tensor_src {
  char name[128];
  lc_dtype dtype;   /* F32, BF16 or F16 */
  int32_t ndim;     /* 1 or 2 */
  int64_t shape[2]; /* [rows][cols], or [n] with shape[1] = 1 */
  const void *data; /* host, aligned to the element size */
  size_t bytes;     /* rows * cols * element size */
} lc_tensor_src;

typedef struct lc_checkpoint lc_checkpoint;

/* Opens and validates.  On failure returns the status, writes a message
 * naming the file, what was expected and what was found into err, and
 * leaves nothing open.  format: LC_FORMAT_AUTO, _LLAMA2C or _HF. */
lc_status lc_checkpoint_open(const char *path, lc_model_format format, lc_checkpoint **out,
                             char *err, size_t err_len);
void lc_checkpoint_close(lc_checkpoint *c); /* NULL accepted */

lc_model_format lc_checkpoint_format(const lc_checkpoint *c);
const lc_model_config *lc_checkpoint_config(const lc_checkpoint *c);
/* rope_scaling, when the config has one: inv_freq [head_dim/2] to hand to
 * lc_rope_create, or NULL (plain theta). */
const double *lc_checkpoint_inv_freq(const lc_checkpoint *c);
/* The tensor of that name, or NULL. */
const lc_tensor_src *lc_checkpoint_find(const lc_checkpoint *c, const char *name);
int64_t lc_checkpoint_n_tensors(const lc_checkpoint *c);

#endif /* LC_CHECKPOINT_H */
