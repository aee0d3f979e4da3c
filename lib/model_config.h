/*
 * lib/model_config.h — the rules a model config must satisfy for
 * lc_model_load to build and run it (lib/model_config.c).  One check, used by
 * the checkpoint loaders (lib/ckpt_common.c), by lc_model_load (lib/model.c)
 * and by lc_synth_write (lib/synth.c): a synthetic checkpoint is refused
 * before anything is written exactly when its load would be refused.
 */
#ifndef LC_MODEL_CONFIG_H
#define LC_MODEL_CONFIG_H

#include <stddef.h>

#include "layercast_model.h"

/* LC_OK, or the status of the first rule c breaks with a message (no
 * prefix: the caller adds its name and the file) in msg[msg_len]:
 *   LC_ERR_INVALID_ARGUMENT  arch or rope_style not one of the enum's values;
 *                            norm_eps or rope_theta not finite and > 0
 *   LC_ERR_SHAPE             a size (dim, hidden_dim, n_layers, n_heads,
 *                            n_kv_heads, head_dim, vocab_size, max_seq_len)
 *                            below 1; n_kv_heads not dividing n_heads; an odd
 *                            head_dim (RoPE rotates pairs)
 *   LC_ERR_OVERFLOW          n_heads * head_dim past INT32_MAX; max_seq_len
 *                            past LC_MAX_SEQ_LEN (the RoPE table's rows)
 *   LC_ERR_UNSUPPORTED       head_dim above LC_MAX_HEAD_DIM
 *                            (lc_canon_info.max_head_dim): attention and RoPE
 *                            are built for at most that many
 * from_file: the config was read from a checkpoint, so a broken rule other
 * than LC_ERR_UNSUPPORTED and LC_ERR_OVERFLOW is LC_ERR_FORMAT (the file is inconsistent), not
 * the caller's fault.  bos_id, eos_id, tied_embeddings, qkv_bias and qk_norm
 * are not checked: any value builds a model.  Records nothing for
 * lc_last_error: the caller does, in its own words. */
lc_status lc_model_config_check(const lc_model_config *c, int from_file, char *msg, size_t msg_len);

#endif /* LC_MODEL_CONFIG_H */
