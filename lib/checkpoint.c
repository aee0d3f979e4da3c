/*
 * lib/checkpoint.c — lc_checkpoint_open: format detection and dispatch to a
 * loader (lib/ckpt_llama2c.c, lib/ckpt_hf.c).  The object, its accessors
 * and what the loaders share are in lib/ckpt_common.c.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/ckpt_internal.h"

/* ---- detection ---------------------------------------------------------------*/

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* AUTO: a directory or *.json is Hugging Face; a file whose first bytes are a
 * safetensors header is refused (its config.json is needed); a file starting
 * with 7 plausible int32 (sizes 1 .. 2^24, vocab_size nonzero) is llama2.c,
 * whose validation then names anything inconsistent. */
static lc_status detect(const char *path, lc_model_format *fmt, lc_ckpt_err *e) {
  struct stat st;
  if (stat(path, &st) != 0) return lc_ckpt_fail_open(e, path, errno, "");
  if (S_ISDIR(st.st_mode) || ends_with(path, ".json")) {
    *fmt = LC_FORMAT_HF;
    return LC_OK;
  }
  unsigned char b[28] = {0};
  FILE *f = fopen(path, "rb");
  if (!f) return lc_ckpt_fail_open(e, path, errno, "");
  size_t got = fread(b, 1, sizeof b, f);
  fclose(f);
  if (got >= 9 && b[8] == '{') {
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    if (n + 8 <= (uint64_t)st.st_size)
      return lc_ckpt_fail(e, LC_ERR_FORMAT,
                          "%s: this is a safetensors file, which holds weights without their "
                          "config; give the path of the Hugging Face model folder that holds it "
                          "beside its config.json instead",
                          path);
  }
  int32_t h[7] = {0};
  memcpy(h, b, sizeof h);
  if (got >= 8 && (uint32_t)h[0] == LC_LLAMA2C_MAGIC) {
    *fmt = LC_FORMAT_LLAMA2C; /* the loader names the version */
    return LC_OK;
  }
  const int32_t lim = 1 << 24;
  int plausible = got == sizeof b && h[5] != 0 && h[5] >= -lim && h[5] <= lim;
  for (int i = 0; i < 7 && plausible; i++)
    if (i != 5 && (h[i] < 1 || h[i] > lim)) plausible = 0;
  if (!plausible)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: not a recognised checkpoint: layercast loads a Hugging Face model "
                        "folder (config.json beside model.safetensors, or beside "
                        "model.safetensors.index.json and its shards) or a llama2.c .bin file "
                        "(legacy version 0 export: a header of 7 int32 sizes 1 .. 2^24, then fp32 "
                        "weights); this file is neither (found %zu bytes%s; as a llama2.c header "
                        "it would read dim %d, hidden_dim %d, n_layers %d, n_heads %d, "
                        "n_kv_heads %d, vocab_size %d, seq_len %d)",
                        path, (size_t)st.st_size, got < sizeof b ? ", shorter than the header" : "",
                        (int)h[0], (int)h[1], (int)h[2], (int)h[3], (int)h[4], (int)h[5],
                        (int)h[6]);
  *fmt = LC_FORMAT_LLAMA2C;
  return LC_OK;
}

/* ---- dispatch ----------------------------------------------------------------*/

lc_status lc_checkpoint_open(const char *path, lc_model_format format, lc_checkpoint **out,
                             char *err, size_t err_len) {
  char local[1024]; /* the sink when the caller gives none */
  lc_ckpt_err e = {err, err_len};
  if (!err || err_len == 0) {
    e.buf = local;
    e.len = sizeof local;
  }
  e.buf[0] = '\0';
  if (!out) return lc_ckpt_fail(&e, LC_ERR_INVALID_ARGUMENT, "lc_checkpoint_open: out is NULL");
  *out = NULL;
  if (!path) return lc_ckpt_fail(&e, LC_ERR_INVALID_ARGUMENT, "lc_checkpoint_open: path is NULL");
  if (format != LC_FORMAT_AUTO && format != LC_FORMAT_LLAMA2C && format != LC_FORMAT_HF)
    return lc_ckpt_fail(&e, LC_ERR_INVALID_ARGUMENT,
                        "lc_checkpoint_open: unknown format %d (expected AUTO, LLAMA2C or HF)",
                        (int)format);
  if (format == LC_FORMAT_AUTO) LC_TRY(detect(path, &format, &e));
  lc_checkpoint *c;
  LC_TRY(lc_ckpt_new(format, &c, &e));
  lc_status st = format == LC_FORMAT_LLAMA2C ? lc_ckpt_open_llama2c(c, path, &e)
                                             : lc_ckpt_open_hf(c, path, &e);
  if (st != LC_OK) {
    lc_checkpoint_close(c);
    return st;
  }
  *out = c;
  return LC_OK;
}
