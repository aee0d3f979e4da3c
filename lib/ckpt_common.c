/*
 * lib/ckpt_common.c — what every checkpoint loader shares: the checkpoint
 * object (lib/ckpt_internal.h) and its accessors (lib/checkpoint.h), the
 * error sink, read-only file maps, the tensor table, and the check of the
 * tensors a config calls for.  It calls no loader: lib/ckpt_llama2c.c and
 * lib/ckpt_hf.c build on it, lib/checkpoint.c picks between them.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/ckpt_internal.h"
#include "lib/model_config.h"

/* ---- the object --------------------------------------------------------------*/

lc_status lc_ckpt_new(lc_model_format format, lc_checkpoint **out, lc_ckpt_err *e) {
  *out = lc_calloc(1, sizeof **out);
  if (!*out) return lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "out of memory");
  (*out)->format = format;
  return LC_OK;
}

void lc_checkpoint_close(lc_checkpoint *c) {
  if (!c) return;
  for (int64_t i = 0; i < c->n_maps; i++) munmap(c->maps[i].addr, c->maps[i].len);
  for (int64_t i = 0; i < c->n_copies; i++) free(c->copies[i]);
  free(c->maps);
  free(c->copies);
  free(c->tensors);
  free(c->inv_freq);
  free(c);
}

lc_model_format lc_checkpoint_format(const lc_checkpoint *c) {
  return c ? c->format : LC_FORMAT_AUTO;
}

const lc_model_config *lc_checkpoint_config(const lc_checkpoint *c) {
  return c ? &c->config : NULL;
}

const double *lc_checkpoint_inv_freq(const lc_checkpoint *c) {
  return c ? c->inv_freq : NULL;
}

const lc_tensor_src *lc_checkpoint_find(const lc_checkpoint *c, const char *name) {
  if (!c || !name) return NULL;
  for (int64_t i = 0; i < c->n_tensors; i++)
    if (strcmp(c->tensors[i].name, name) == 0) return &c->tensors[i];
  return NULL;
}

int64_t lc_checkpoint_n_tensors(const lc_checkpoint *c) {
  return c ? c->n_tensors : 0;
}

/* ---- errors, maps, tensor table ------------------------------------------*/

lc_status lc_ckpt_fail(lc_ckpt_err *e, lc_status st, const char *fmt, ...) {
  if (e && e->buf && e->len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->buf, e->len, fmt, ap);
    va_end(ap);
  }
  return st;
}

lc_status lc_ckpt_fail_open(lc_ckpt_err *e, const char *path, int errnum, const char *hint) {
  if (errnum == ENOENT || errnum == ENOTDIR)
    return lc_ckpt_fail(e, LC_ERR_NOT_FOUND, "no such file or directory: '%s'%s", path, hint);
  return lc_ckpt_fail(e, LC_ERR_IO, "%s: cannot open: %s%s", path, strerror(errnum), hint);
}

size_t lc_ckpt_dtype_size(lc_dtype d) {
  return d == LC_DTYPE_F32 ? 4 : 2;
}

lc_status lc_ckpt_map_file(lc_checkpoint *c, const char *path, const void **addr, size_t *len,
                           lc_ckpt_err *e) {
  *addr = NULL;
  *len = 0;
  if (c->n_maps == c->cap_maps) {
    int64_t cap = c->cap_maps ? c->cap_maps * 2 : 4;
    lc_ckpt_map *m = lc_realloc(c->maps, (size_t)cap * sizeof *m);
    if (!m) return lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    c->maps = m;
    c->cap_maps = cap;
  }
  int fd = open(path, O_RDONLY);
  if (fd < 0) return lc_ckpt_fail_open(e, path, errno, "");
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return lc_ckpt_fail(e, LC_ERR_IO, "%s: cannot stat: %s", path, strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return lc_ckpt_fail(e, LC_ERR_IO, "%s: not a regular file", path);
  }
  if ((uintmax_t)st.st_size > (uintmax_t)SIZE_MAX) {
    close(fd);
    return lc_ckpt_fail(e, LC_ERR_OVERFLOW, "%s: %jd bytes do not fit in memory", path,
                        (intmax_t)st.st_size);
  }
  size_t n = (size_t)st.st_size;
  void *p = NULL;
  if (n > 0) {
    p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      close(fd);
      return lc_ckpt_fail(e, LC_ERR_IO, "%s: cannot map %zu bytes: %s", path, n, strerror(err));
    }
  }
  close(fd);
  if (p) {
    c->maps[c->n_maps].addr = p;
    c->maps[c->n_maps].len = n;
    c->n_maps++;
  }
  *addr = p;
  *len = n;
  return LC_OK;
}

lc_status lc_ckpt_keep_copy(lc_checkpoint *c, void *p, lc_ckpt_err *e) {
  if (c->n_copies == c->cap_copies) {
    int64_t cap = c->cap_copies ? c->cap_copies * 2 : 8;
    void **q = lc_realloc(c->copies, (size_t)cap * sizeof *q);
    if (!q) {
      free(p);
      return lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "out of memory keeping a tensor copy");
    }
    c->copies = q;
    c->cap_copies = cap;
  }
  c->copies[c->n_copies++] = p;
  return LC_OK;
}

lc_status lc_ckpt_add_tensor(lc_checkpoint *c, const lc_tensor_src *t, lc_ckpt_err *e) {
  if (lc_checkpoint_find(c, t->name))
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "tensor %s appears twice", t->name);
  if (c->n_tensors == c->cap_tensors) {
    int64_t cap = c->cap_tensors ? c->cap_tensors * 2 : 64;
    lc_tensor_src *q = lc_realloc(c->tensors, (size_t)cap * sizeof *q);
    if (!q) return lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "out of memory for the tensor table");
    c->tensors = q;
    c->cap_tensors = cap;
  }
  c->tensors[c->n_tensors++] = *t;
  return LC_OK;
}

/* ---- required tensors ----------------------------------------------------*/

/* One required tensor; when it is absent its name goes to missing[]. */
static lc_status check_one(const lc_checkpoint *c, const char *where, char *missing,
                           size_t missing_len, lc_ckpt_err *e, const char *name, int ndim,
                           int64_t rows, int64_t cols) {
  char want[64], got[64];
  if (ndim == 2)
    snprintf(want, sizeof want, "[%lld, %lld]", (long long)rows, (long long)cols);
  else
    snprintf(want, sizeof want, "[%lld]", (long long)rows);
  const lc_tensor_src *t = lc_checkpoint_find(c, name);
  if (!t) {
    if (missing && missing_len) snprintf(missing, missing_len, "%s", name);
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: tensor %s is missing (expected shape %s)", where,
                        name, want);
  }
  int64_t want_cols = ndim == 2 ? cols : 1;
  if (t->ndim != ndim || t->shape[0] != rows || t->shape[1] != want_cols) {
    if (t->ndim == 2)
      snprintf(got, sizeof got, "[%lld, %lld]", (long long)t->shape[0], (long long)t->shape[1]);
    else
      snprintf(got, sizeof got, "[%lld]", (long long)t->shape[0]);
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: tensor %s has shape %s; the config expects %s",
                        where, name, got, want);
  }
  return LC_OK;
}

lc_status lc_ckpt_check_required(const lc_checkpoint *c, const char *where, char *missing,
                                 size_t missing_len, lc_ckpt_err *e) {
  if (missing && missing_len) missing[0] = '\0';
  const lc_model_config *g = &c->config;
  int64_t dim = g->dim, hid = g->hidden_dim, hd = g->head_dim;
  int64_t qd = (int64_t)g->n_heads * hd, kvd = (int64_t)g->n_kv_heads * hd;
  char n[128];
#define LC_CHECK(...)                                                             \
  do {                                                                            \
    lc_status st_ = check_one(c, where, missing, missing_len, e, n, __VA_ARGS__); \
    if (st_ != LC_OK) return st_;                                                 \
  } while (0)
  snprintf(n, sizeof n, "model.embed_tokens.weight");
  LC_CHECK(2, g->vocab_size, dim);
  for (int32_t i = 0; i < g->n_layers; i++) {
    snprintf(n, sizeof n, "model.layers.%d.input_layernorm.weight", (int)i);
    LC_CHECK(1, dim, 1);
    snprintf(n, sizeof n, "model.layers.%d.self_attn.q_proj.weight", (int)i);
    LC_CHECK(2, qd, dim);
    snprintf(n, sizeof n, "model.layers.%d.self_attn.k_proj.weight", (int)i);
    LC_CHECK(2, kvd, dim);
    snprintf(n, sizeof n, "model.layers.%d.self_attn.v_proj.weight", (int)i);
    LC_CHECK(2, kvd, dim);
    if (g->qkv_bias) {
      snprintf(n, sizeof n, "model.layers.%d.self_attn.q_proj.bias", (int)i);
      LC_CHECK(1, qd, 1);
      snprintf(n, sizeof n, "model.layers.%d.self_attn.k_proj.bias", (int)i);
      LC_CHECK(1, kvd, 1);
      snprintf(n, sizeof n, "model.layers.%d.self_attn.v_proj.bias", (int)i);
      LC_CHECK(1, kvd, 1);
    }
    if (g->qk_norm) {
      snprintf(n, sizeof n, "model.layers.%d.self_attn.q_norm.weight", (int)i);
      LC_CHECK(1, hd, 1);
      snprintf(n, sizeof n, "model.layers.%d.self_attn.k_norm.weight", (int)i);
      LC_CHECK(1, hd, 1);
    }
    snprintf(n, sizeof n, "model.layers.%d.self_attn.o_proj.weight", (int)i);
    LC_CHECK(2, dim, qd);
    snprintf(n, sizeof n, "model.layers.%d.post_attention_layernorm.weight", (int)i);
    LC_CHECK(1, dim, 1);
    snprintf(n, sizeof n, "model.layers.%d.mlp.gate_proj.weight", (int)i);
    LC_CHECK(2, hid, dim);
    snprintf(n, sizeof n, "model.layers.%d.mlp.up_proj.weight", (int)i);
    LC_CHECK(2, hid, dim);
    snprintf(n, sizeof n, "model.layers.%d.mlp.down_proj.weight", (int)i);
    LC_CHECK(2, dim, hid);
  }
  snprintf(n, sizeof n, "model.norm.weight");
  LC_CHECK(1, dim, 1);
  if (!g->tied_embeddings) {
    snprintf(n, sizeof n, "lm_head.weight");
    LC_CHECK(2, g->vocab_size, dim);
  }
#undef LC_CHECK
  return LC_OK;
}

/* ---- the config --------------------------------------------------------------*/

lc_status lc_ckpt_check_config(const lc_checkpoint *c, const char *where, lc_ckpt_err *e) {
  char msg[256];
  lc_status st = lc_model_config_check(&c->config, 1, msg, sizeof msg);
  if (st != LC_OK) return lc_ckpt_fail(e, st, "%s: %s", where, msg);
  return LC_OK;
}
