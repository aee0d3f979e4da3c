/*
 * lib/ckpt_internal.h — the checkpoint object and what the loaders share.
 *
 * Dependencies point one way:
 *   lib/checkpoint.c   detection + dispatch (lc_checkpoint_open)
 *     -> lib/ckpt_llama2c.c   llama2.c files
 *     -> lib/ckpt_hf.c        config.json + safetensors
 *          -> lib/ckpt_common.c   the object, maps, tensor table, errors
 * A format file calls only lib/ckpt_common.c, never the other format nor
 * the dispatch.
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

/* ---- lib/ckpt_common.c ------------------------------------------------------*/

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

/* A path that cannot be opened (errnum from errno): LC_ERR_NOT_FOUND
 * "no such file or directory: 'path'" when it does not exist (ENOENT,
 * ENOTDIR), else LC_ERR_IO "path: cannot open: reason"; hint ("" for none)
 * is appended. */
lc_status lc_ckpt_fail_open(lc_ckpt_err *e, const char *path, int errnum, const char *hint);

/* A new, empty checkpoint of that format (freed by lc_checkpoint_close). */
lc_status lc_ckpt_new(lc_model_format format, lc_checkpoint **out, lc_ckpt_err *e);

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
 * with the expected shape.  `where` describes the file(s) for messages.
 * missing (may be NULL) gets the name of an absent tensor, else "". */
lc_status lc_ckpt_check_required(const lc_checkpoint *c, const char *where, char *missing,
                                 size_t missing_len, lc_ckpt_err *e);

/* The config c holds, by the rules lc_model_load applies
 * (lib/model_config.h): LC_ERR_UNSUPPORTED for what layercast does not
 * implement (head_dim above LC_MAX_HEAD_DIM), LC_ERR_FORMAT for the rest. */
lc_status lc_ckpt_check_config(const lc_checkpoint *c, const char *where, lc_ckpt_err *e);

/* Element size of a supported dtype (F32 4, BF16/F16 2). */
size_t lc_ckpt_dtype_size(lc_dtype d);

/* ---- the loaders: each fills an empty c (config, tensors) or fails, leaving
 * what it made in c for lc_checkpoint_close ---------------------------------*/

/* "ak42" little-endian: the header of llama2.c's versioned exports (1, 2),
 * which lib/ckpt_llama2c.c refuses by name and detection hands to it. */
#define LC_LLAMA2C_MAGIC 0x616b3432u

/* lib/ckpt_llama2c.c: path is a llama2.c .bin file. */
lc_status lc_ckpt_open_llama2c(lc_checkpoint *c, const char *path, lc_ckpt_err *e);

/* lib/ckpt_hf.c: path is a Hugging Face directory or its config.json. */
lc_status lc_ckpt_open_hf(lc_checkpoint *c, const char *path, lc_ckpt_err *e);

#endif /* LC_CKPT_INTERNAL_H */
