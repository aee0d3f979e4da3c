/*
 * lib/ckpt_internal.h — shared between the checkpoint loaders
 * (lib/checkpoint.c: the object, llama2.c files and format detection;
 * lib/ckpt_hf.c: config.json and safetensors).
 */
#ifndef LC_CKPT_INTERNAL_H
#define LC_CKPT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/checkpoint.h"
#include "lib/lc_internal.h"

typedef struct lc_ckpt_map {
  void *addr; /* read-only mapping of the whole file */
  size_t len; /* file size in bytes */
} lc_ckpt_map;

struct lc_checkpoint {
  lc_model_format format;
  lc_model_config config;
  double *inv_freq;       /* [head_dim/2] or NULL, malloc'ed */
  lc_tensor_src *tensors; /* [n_tensors], malloc'ed */
  int64_t n_tensors, cap_tensors;
  lc_ckpt_map *maps; /* [n_maps] every mapped file, unmapped at close */
  int64_t n_maps, cap_maps;
  void **copies; /* [n_copies] aligned copies of unaligned tensors */
  int64_t n_copies, cap_copies;
};

/* Error sink: a caller buffer (may be NULL / 0 long). */
typedef struct lc_ckpt_err {
  char *buf;
  size_t len;
} lc_ckpt_err;

/* Writes the message into the sink and returns st. */
lc_status lc_ckpt_fail(lc_ckpt_err *e, lc_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Maps path read-only (kept by c until close); *addr and *len get the mapping.
 * An empty file maps to addr NULL, len 0. */
lc_status lc_ckpt_map_file(lc_checkpoint *c, const char *path, const void **addr, size_t *len,
                           lc_ckpt_err *e);
/* Appends a tensor (name copied; LC_ERR_FORMAT if longer than 127 bytes or a
 * duplicate). */
lc_status lc_ckpt_add_tensor(lc_checkpoint *c, const lc_tensor_src *t, lc_ckpt_err *e);
/* Keeps a malloc'ed buffer until close (freed at once if keeping fails). */
lc_status lc_ckpt_keep_copy(lc_checkpoint *c, void *p, lc_ckpt_err *e);

/* Checks the tensors the config calls for (checkpoint.h's list): present,
 * with the expected shape.  `where` describes the file(s) for messages. */
lc_status lc_ckpt_check_required(const lc_checkpoint *c, const char *where, lc_ckpt_err *e);

/* The Hugging Face loader (lib/ckpt_hf.c): path is a directory or its
 * config.json. */
lc_status lc_ckpt_open_hf(lc_checkpoint *c, const char *path, lc_ckpt_err *e);

/* Element size of a supported dtype (F32 4, BF16/F16 2). */
size_t lc_ckpt_dtype_size(lc_dtype d);

#endif /* LC_CKPT_INTERNAL_H */
