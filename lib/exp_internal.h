/*
 * lib/exp_internal.h — what the experiment engine's files share
 * (lib/prompts.c, records.c, target.c, sweep.c, sweep_summary.c, replay.c,
 * verify_records.c): JSON building and reading (jansson), files written
 * atomically, the run-record reader, and the splitmix64 stream behind every
 * generated input.
 */
#ifndef LC_EXP_INTERNAL_H
#define LC_EXP_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "layercast_experiment.h"
#include "lib/lc_internal.h"
#include "lib/rng.h" /* splitmix64: every generated input */

/* Seconds on CLOCK_MONOTONIC (the sweep's and the probe's timings). */
double lc_now_s(void);

/* ---- JSON ----------------------------------------------------------------------*/
/* Arrays; floats with 9 significant digits (the shortest that round-trips
 * every binary32), non-finite values as null.  NULL when out of memory. */
json_t *lc_json_i32_array(const int32_t *v, int64_t n);
json_t *lc_json_f32_array(const float *v, int64_t n);
json_t *lc_json_real_or_null(double x);
/* A generated output as text: lc_tokenizer_decode with special tokens
 * skipped, and ids the tokenizer does not have skipped too (a model's
 * embedding may have more rows than its tokenizer has ids; Hugging Face's
 * decode skips them as well).  *text malloc'ed. */
lc_status lc_decode_output(const lc_tokenizer *t, const int32_t *ids, int32_t n, char **text);

/* json_object_set_new that reports failure (v NULL included): 1, else 0. */
int lc_json_put(json_t *o, const char *key, json_t *v);
/* Compact one-line dump (no newline), reals with 9 digits; NULL on failure. */
char *lc_json_line(const json_t *j);
/* An array of non-negative int32 into *out (malloc'ed, >= 1 element
 * allocated); -1 when a is not such an array, -2 when memory runs out. */
int32_t lc_json_ids(const json_t *a, int32_t **out);
/* An array of numbers (null: NaN) into *out (malloc'ed); -1 otherwise, -2
 * when memory runs out. */
int32_t lc_json_f32s(const json_t *a, float **out);

/* ---- files ---------------------------------------------------------------------*/
/* Writes len bytes to path through path.tmp and a rename: the file is
 * either the old one or the whole new one.  LC_ERR_IO naming the path. */
lc_status lc_file_write_atomic(const char *path, const void *data, size_t len, const char *fn);
/* Creates dir (one level); an existing directory is fine.  LC_ERR_IO. */
lc_status lc_dir_make(const char *dir, const char *fn);
/* Removes dir's summary.json, summary.csv and summary_prompts.csv (those
 * lc_sweep_write_summary writes; lib/sweep_summary.c). */
void lc_sweep_summary_remove(const char *dir);
/* Opens a text file to read: LC_ERR_NOT_FOUND (missing), LC_ERR_IO (a
 * directory, unreadable), each naming `what` and the path. */
lc_status lc_file_open_read(const char *path, const char *what, const char *fn, FILE **out);

/* ---- run records -----------------------------------------------------------------*/
/* Builds the "setup" object of lc_run_setup (NULL when out of memory). */
json_t *lc_run_setup_json(const lc_run_setup *s);
/* Names the setup fields on which a and b differ in msg ("field: a | b; ..."),
 * returns how many differ (the informative "model" path is not compared). */
int lc_run_setup_diff(const json_t *a, const json_t *b, char *msg, size_t len);

/* One parsed record line. */
typedef struct lc_rec_line {
  json_t *json; /* the whole record (owned) */
  long lineno;  /* 1-based line in the file */
} lc_rec_line;

typedef struct lc_rec_file {
  lc_rec_line *v; /* [n] */
  int64_t n;
  int cut_tail;     /* 1: the last line was cut (no newline, not JSON): dropped */
  long valid_bytes; /* bytes of the complete lines kept */
} lc_rec_file;

/* Reads a runs.jsonl file: one run record (an object with "cell" and
 * "sequences") per non-blank line.  allow_cut: a last line without its
 * newline that does not parse is dropped and reported in cut_tail (an
 * interrupted write) instead of failing.  LC_ERR_NOT_FOUND, LC_ERR_IO,
 * LC_ERR_FORMAT (file:line and what), LC_ERR_OUT_OF_MEMORY. */
lc_status lc_rec_file_read(const char *path, int allow_cut, lc_rec_file *out);
void lc_rec_file_free(lc_rec_file *f);

/* The record's version, or 0 when absent. */
int lc_rec_version(const json_t *rec);

#endif /* LC_EXP_INTERNAL_H */
