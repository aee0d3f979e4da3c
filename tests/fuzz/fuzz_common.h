/*
 * tests/fuzz/fuzz_common.h — what every libFuzzer target in tests/fuzz/
 * shares: a per-process temporary directory (made once, removed at exit),
 * writing an input to a file of a fixed name in it, splitting an input into
 * parts, and the checks every loader target makes.
 *
 * A check that fails prints what broke and calls abort(), which libFuzzer
 * reports as a crash and saves the input (the fuzz targets may abort; the
 * library never does).
 */
#ifndef LC_FUZZ_COMMON_H
#define LC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "layercast.h"

/* Separates the parts of an input that becomes several files (a Hugging
 * Face folder, two record files).  Text, so that JSON stays mutable. */
#define FUZZ_SEP "\n--lcfuzz--\n"
#define FUZZ_MAX_PARTS 8

/* The input's parts: p[i] points into data, n[i] bytes; returns how many
 * (1 .. FUZZ_MAX_PARTS; the last part takes the rest). */
typedef struct fuzz_parts {
  const uint8_t *p[FUZZ_MAX_PARTS];
  size_t n[FUZZ_MAX_PARTS];
  int count;
} fuzz_parts;
void fuzz_split(const uint8_t *data, size_t size, fuzz_parts *out);

/* The process's temporary directory (mkdtemp on first use; removed with
 * everything in it at exit). */
const char *fuzz_tmpdir(void);
/* tmpdir/name into buf (aborts when it does not fit). */
void fuzz_path(char *buf, size_t cap, const char *name);
/* Writes n bytes to path (replacing it); aborts on an I/O error. */
void fuzz_write(const char *path, const void *data, size_t n);
/* Removes every entry of the directory path (not the directory). */
void fuzz_clear_dir(const char *path);
/* A NUL-terminated malloc'ed copy of n bytes. */
char *fuzz_strndup(const void *data, size_t n);

/* A CPU strict context made once per process (freed at exit). */
lc_context *fuzz_context(void);

/* Aborts with the message when cond is false. */
#define FUZZ_CHECK(cond, ...)                                       \
  do {                                                              \
    if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
  } while (0)
_Noreturn void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...);

/* With LC_FUZZ_VERBOSE set in the environment, fuzz_check_failed prints the
 * message and fuzz_check_model a line (to see what a seed does). */

/* What a failed load must leave: a status other than LC_OK, *out NULL, a
 * non-empty lc_last_error(NULL) (and lc_last_error(ctx) when ctx != NULL). */
void fuzz_check_failed(const char *what, lc_status st, const void *obj, const lc_context *ctx);

/* Checks a loaded model: lc_model_get_info works, its format is want, its
 * shapes are positive and consistent, n_params and weights_bytes agree. */
struct lc_model;
void fuzz_check_model(struct lc_model *m, int want_format);

/* 1 when the n bytes are valid UTF-8 (shortest forms, no surrogates). */
int fuzz_valid_utf8(const uint8_t *s, size_t n);

#endif /* LC_FUZZ_COMMON_H */
