/*
 * lib/model_config.c — lc_model_config_check (lib/model_config.h): the one
 * place that says which configs layercast can build and run.
 */
#include "lib/model_config.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_canon.h"

/* Writes the message and returns st, or LC_ERR_FORMAT for a file's config. */
static lc_status broken(lc_status st, int from_file, char *msg, size_t msg_len, const char *fmt,
                        ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static lc_status broken(lc_status st, int from_file, char *msg, size_t msg_len, const char *fmt,
                        ...) {
  if (msg && msg_len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msg_len, fmt, ap);
    va_end(ap);
  }
  return from_file && st != LC_ERR_UNSUPPORTED && st != LC_ERR_OVERFLOW ? LC_ERR_FORMAT : st;
}

lc_status lc_model_config_check(const lc_model_config *c, int from_file, char *msg,
                                size_t msg_len) {
  if (msg && msg_len) msg[0] = '\0';
  if (c->arch != LC_ARCH_LLAMA && c->arch != LC_ARCH_QWEN2 && c->arch != LC_ARCH_QWEN3)
    return broken(LC_ERR_INVALID_ARGUMENT, from_file, msg, msg_len,
                  "unknown arch %d (expected llama, qwen2 or qwen3)", (int)c->arch);
  const struct {
    const char *name;
    int32_t v;
  } sizes[] = {{"dim", c->dim},
               {"hidden_dim", c->hidden_dim},
               {"n_layers", c->n_layers},
               {"n_heads", c->n_heads},
               {"n_kv_heads", c->n_kv_heads},
               {"head_dim", c->head_dim},
               {"vocab_size", c->vocab_size},
               {"max_seq_len", c->max_seq_len}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    if (sizes[i].v < 1)
      return broken(LC_ERR_SHAPE, from_file, msg, msg_len, "config.%s must be >= 1; found %d",
                    sizes[i].name, (int)sizes[i].v);
  if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
    return broken(LC_ERR_SHAPE, from_file, msg, msg_len, "n_kv_heads %d must divide n_heads %d",
                  (int)c->n_kv_heads, (int)c->n_heads);
  if (c->head_dim % 2 != 0)
    return broken(LC_ERR_SHAPE, from_file, msg, msg_len,
                  "head_dim must be even (RoPE rotates pairs); found %d", (int)c->head_dim);
  if ((int64_t)c->n_heads * c->head_dim > INT32_MAX)
    return broken(LC_ERR_OVERFLOW, from_file, msg, msg_len,
                  "n_heads %d * head_dim %d overflows int32", (int)c->n_heads, (int)c->head_dim);
  if (c->max_seq_len > LC_MAX_SEQ_LEN)
    return broken(LC_ERR_OVERFLOW, from_file, msg, msg_len,
                  "config.max_seq_len %d is past the %d positions layercast supports "
                  "(LC_MAX_SEQ_LEN: the RoPE table holds every position; %d x head_dim %d "
                  "would take %lld bytes)",
                  (int)c->max_seq_len, LC_MAX_SEQ_LEN, (int)c->max_seq_len, (int)c->head_dim,
                  (long long)c->max_seq_len * c->head_dim * (long long)sizeof(float));
  if (c->head_dim > LC_MAX_HEAD_DIM)
    return broken(LC_ERR_UNSUPPORTED, from_file, msg, msg_len,
                  "head_dim %d is not supported: layercast's attention and RoPE take head_dim "
                  "up to %d (lc_canon_info.max_head_dim)",
                  (int)c->head_dim, LC_MAX_HEAD_DIM);
  if (!isfinite(c->norm_eps) || !(c->norm_eps > 0))
    return broken(LC_ERR_INVALID_ARGUMENT, from_file, msg, msg_len,
                  "norm_eps must be positive; found %g", (double)c->norm_eps);
  if (!isfinite(c->rope_theta) || !(c->rope_theta > 0))
    return broken(LC_ERR_INVALID_ARGUMENT, from_file, msg, msg_len,
                  "rope_theta must be positive; found %g", c->rope_theta);
  if (c->rope_style != LC_ROPE_INTERLEAVED && c->rope_style != LC_ROPE_HALF)
    return broken(LC_ERR_INVALID_ARGUMENT, from_file, msg, msg_len,
                  "unknown rope_style %d (expected LC_ROPE_INTERLEAVED or LC_ROPE_HALF)",
                  (int)c->rope_style);
  return LC_OK;
}
