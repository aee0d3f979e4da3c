/*
 * lib/verify_records.c — two run-record files, maybe from two machines,
 * compared run by run (lc_verify_records, layercast_experiment.h).
 *
 * Records are comparable only when they were made with one setup (the same
 * weights, prompts and generation settings: the "setup" object of record
 * version 2).  Sequences are matched by cell (backend, mode, batch size,
 * position, repeat) and prompt; strict, fast and bf16 runs promise equal
 * bits, so a difference there fails; other modes' agreement is reported.  The two
 * environment fingerprints (each file's first record) are diffed for the
 * reader.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/exp_internal.h"

static const char FN[] = "lc_verify_records";

/* One sequence of a file: its match key, mode, token hash and tokens. */
typedef struct rec_seq {
  char key[160];
  char mode[32];
  char hash[40];
  int32_t *tokens;
  int32_t n_tokens; /* -1: no token list */
} rec_seq;

typedef struct rec_set {
  lc_rec_file file;
  rec_seq *seqs;
  int64_t n;
} rec_set;

static void rec_set_free(rec_set *s) {
  for (int64_t i = 0; i < s->n; i++) free(s->seqs[i].tokens);
  free(s->seqs);
  lc_rec_file_free(&s->file);
}

/* A value as a short string for the key. */
static void jstr(const json_t *v, char *out, size_t n) {
  if (json_is_string(v))
    snprintf(out, n, "%s", json_string_value(v));
  else if (json_is_integer(v))
    snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  else
    snprintf(out, n, "-");
}

static lc_status load_set(const char *path, rec_set *s) {
  memset(s, 0, sizeof *s);
  LC_TRY(lc_rec_file_read(path, 0, &s->file));
  int64_t total = 0;
  for (int64_t i = 0; i < s->file.n; i++) {
    const json_t *rec = s->file.v[i].json;
    if (lc_rec_version(rec) < 2 || !json_is_object(json_object_get(rec, "setup")))
      return LC_FAIL(NULL, LC_ERR_FORMAT,
                     "%s:%ld: record_version %d has no \"setup\" (weights and prompts hashes): "
                     "records from before layercast 0.1 cannot be checked for comparability; "
                     "make them again",
                     path, s->file.v[i].lineno, lc_rec_version(rec));
    total += (int64_t)json_array_size(json_object_get(rec, "sequences"));
  }
  if (total == 0) return LC_FAIL(NULL, LC_ERR_FORMAT, "%s: no runs in '%s'", FN, path);
  s->seqs = lc_calloc((size_t)total, sizeof *s->seqs);
  if (!s->seqs) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  for (int64_t i = 0; i < s->file.n; i++) {
    const json_t *rec = s->file.v[i].json, *cell = json_object_get(rec, "cell");
    char be[32], mo[32], ba[32], po[32], re[32], tp[32] = "1";
    jstr(json_object_get(cell, "backend"), be, sizeof be);
    jstr(json_object_get(cell, "mode"), mo, sizeof mo);
    jstr(json_object_get(cell, "batch_size"), ba, sizeof ba);
    jstr(json_object_get(cell, "position"), po, sizeof po);
    jstr(json_object_get(cell, "repeat"), re, sizeof re);
    if (json_object_get(cell, "tp")) /* absent before the tp axis: 1 */
      jstr(json_object_get(cell, "tp"), tp, sizeof tp);
    const json_t *seqs = json_object_get(rec, "sequences");
    for (size_t k = 0; k < json_array_size(seqs); k++) {
      const json_t *q = json_array_get(seqs, k);
      rec_seq *r = &s->seqs[s->n++];
      char pr[32];
      jstr(json_object_get(q, "prompt"), pr, sizeof pr);
      if (snprintf(r->key, sizeof r->key, "%s %s batch=%s tp=%s pos=%s prompt=%s rep=%s", be, mo,
                   ba, tp, po, pr, re) >= (int)sizeof r->key)
        return LC_FAIL(NULL, LC_ERR_FORMAT, "%s:%ld: a cell's fields are too long", path,
                       s->file.v[i].lineno);
      /* a (cell, prompt) is run once per file: a second one could not be
       * matched to anything (found by tests/fuzz/fuzz_records.c) */
      for (int64_t j = 0; j + 1 < s->n; j++)
        if (!strcmp(s->seqs[j].key, r->key))
          return LC_FAIL(NULL, LC_ERR_FORMAT,
                         "%s:%ld: %s appears a second time (a records file holds each cell and "
                         "prompt once)",
                         path, s->file.v[i].lineno, r->key);
      snprintf(r->mode, sizeof r->mode, "%s", mo);
      jstr(json_object_get(q, "tokens_hash"), r->hash, sizeof r->hash);
      r->n_tokens = -1;
      const json_t *tk = json_object_get(q, "tokens");
      /* Without either there is nothing to compare: such a sequence would
       * count as a bitwise failure even against itself. */
      if (!tk && !strcmp(r->hash, "-"))
        return LC_FAIL(NULL, LC_ERR_FORMAT,
                       "%s:%ld: sequence %zu has neither \"tokens\" nor a \"tokens_hash\" "
                       "(lc_run_record_add writes both)",
                       path, s->file.v[i].lineno, k);
      if (tk) {
        r->n_tokens = lc_json_ids(tk, &r->tokens);
        if (r->n_tokens == -2)
          return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        if (r->n_tokens < 0)
          return LC_FAIL(NULL, LC_ERR_FORMAT,
                         "%s:%ld: sequence %zu: \"tokens\" is not a list of "
                         "token ids",
                         path, s->file.v[i].lineno, k);
      }
    }
  }
  return LC_OK;
}

/* The leaves of two fingerprints that differ, as "key: a | b" lines. */
static void fp_diff(const json_t *a, const json_t *b, const char *prefix, FILE *out) {
  if (json_is_object(a) && json_is_object(b)) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v) {
      char p[256];
      if (snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", k) < (int)sizeof p)
        fp_diff(v, json_object_get(b, k), p, out);
    }
    json_object_foreach((json_t *)b, k, v) {
      if (json_object_get(a, k)) continue;
      char p[256];
      if (snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", k) < (int)sizeof p)
        fp_diff(NULL, v, p, out);
    }
    return;
  }
  if (a && b && json_equal((json_t *)a, (json_t *)b)) return;
  char *sa = a ? json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
  char *sb = b ? json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
  fprintf(out, "%s: %s | %s\n", prefix, sa ? sa : "(absent)", sb ? sb : "(absent)");
  free(sa);
  free(sb);
}

/* Modes whose runs promise bitwise reproducibility across machines: strict
 * everywhere, fast and bf16 across sm_90 GPUs and the CPU emulation
 * (docs/numerics.md 10.4). */
static int bitwise_mode(const char *mode) {
  return !strcmp(mode, "strict") || !strcmp(mode, "fast") || !strcmp(mode, "bf16");
}

void lc_records_report_free(lc_records_report *r) {
  if (!r) return;
  free(r->diffs);
  free(r->modes);
  free(r->fingerprint_diff);
  free(r);
}

static const rec_seq *find(const rec_set *s, const char *key) {
  for (int64_t j = 0; j < s->n; j++)
    if (!strcmp(s->seqs[j].key, key)) return &s->seqs[j];
  return NULL;
}

static lc_status compare_sets(const rec_set *A, const rec_set *B, lc_records_report *r) {
  r->n_a = A->n;
  r->n_b = B->n;
  r->diffs = lc_calloc((size_t)A->n, sizeof *r->diffs);
  r->modes = lc_calloc((size_t)A->n, sizeof *r->modes);
  if (!r->diffs || !r->modes) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  for (int64_t i = 0; i < A->n; i++) {
    const rec_seq *a = &A->seqs[i], *b = find(B, a->key);
    if (!b) {
      r->n_unmatched++;
      continue;
    }
    r->n_matched++;
    int same;
    int32_t di = -1;
    if (a->n_tokens >= 0 && b->n_tokens >= 0) {
      di = lc_div_index(a->tokens, a->n_tokens, b->tokens, b->n_tokens);
      same = di < 0;
    } else {
      same = strcmp(a->hash, b->hash) == 0 && strcmp(a->hash, "-") != 0;
    }
    if (strcmp(a->hash, "-") && strcmp(b->hash, "-") && strcmp(a->hash, b->hash)) same = 0;
    r->n_same += same;
    int32_t m = 0;
    while (m < r->n_modes && strcmp(r->modes[m].mode, a->mode)) m++;
    if (m == r->n_modes) {
      snprintf(r->modes[m].mode, sizeof r->modes[m].mode, "%s", a->mode);
      r->modes[m].bitwise_promised = bitwise_mode(a->mode);
      r->n_modes++;
    }
    r->modes[m].matched++;
    r->modes[m].same += same;
    if (same) continue;
    lc_records_diff *d = &r->diffs[r->n_diffs++];
    snprintf(d->key, sizeof d->key, "%s", a->key);
    snprintf(d->mode, sizeof d->mode, "%s", a->mode);
    d->div_index = di;
    d->fail = bitwise_mode(a->mode);
    r->n_fail += d->fail;
  }
  for (int64_t j = 0; j < B->n; j++) r->n_unmatched += !find(A, B->seqs[j].key);
  if (r->n_matched == 0)
    return LC_FAIL(NULL, LC_ERR_MISMATCH,
                   "not comparable: no run of the first file matches a run of the second (same "
                   "backend, mode, batch size, position, repeat and prompt): nothing to compare");
  return LC_OK;
}

lc_status lc_verify_records(const char *path_a, const char *path_b, lc_records_report **out) {
  if (!out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: out is NULL", FN);
  *out = NULL;
  if (!path_a || !path_b) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: NULL path", FN);
  rec_set A, B;
  memset(&B, 0, sizeof B);
  lc_records_report *r = lc_calloc(1, sizeof *r);
  lc_status st = r ? load_set(path_a, &A) : LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: oom", FN);
  if (st == LC_OK) st = load_set(path_b, &B);
  /* every record of both files must share one setup */
  for (int f = 0; f < 2 && st == LC_OK; f++) {
    const rec_set *S = f ? &B : &A;
    const json_t *ref = json_object_get(A.file.v[0].json, "setup");
    for (int64_t i = 0; i < S->file.n && st == LC_OK; i++) {
      char diff[400];
      if (lc_run_setup_diff(ref, json_object_get(S->file.v[i].json, "setup"), diff, sizeof diff))
        st = LC_FAIL(NULL, LC_ERR_MISMATCH,
                     "not comparable: %s:%ld was made with another setup than %s:%ld: %s (first "
                     "| this one)",
                     f ? path_b : path_a, S->file.v[i].lineno, path_a, A.file.v[0].lineno, diff);
    }
  }
  if (st == LC_OK) st = compare_sets(&A, &B, r);
  if (st == LC_OK) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (m) {
      fp_diff(json_object_get(A.file.v[0].json, "fingerprint"),
              json_object_get(B.file.v[0].json, "fingerprint"), "", m);
      if (fclose(m) != 0) {
        free(buf);
        buf = NULL;
      }
    }
    r->fingerprint_diff = buf;
    if (!buf) st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  }
  if (r) rec_set_free(&A);
  rec_set_free(&B);
  if (st != LC_OK) {
    lc_records_report_free(r);
    return st;
  }
  *out = r;
  return LC_OK;
}
