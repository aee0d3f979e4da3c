/*
 * tools/cli_verify_records.c — `layercast verify records A.jsonl B.jsonl`:
 * two run records of `layercast sweep` (maybe from two machines), runs
 * matched by grid cell and prompt; strict runs must have equal token hashes,
 * the other modes' agreement is reported; and the differences of the two
 * environment fingerprints.  Exit status: 0 pass, 1 a strict run differs or
 * an error, 2 bad usage.
 *
 * (Moved unchanged out of tools/cli_verify.c, which keeps `verify ops` and
 * `verify model`; the computation moves to lib/verify_records.c next.)
 */
#define _GNU_SOURCE /* getline */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

/* ---- verify records ---------------------------------------------------------------*/

/* One run: its match key (grid cell and prompt), token hash and tokens. */
typedef struct rec_run {
  char key[256];
  char mode[32];
  char hash[80];
  int32_t *tokens;
  int32_t n_tokens; /* -1: no token list in the record */
} rec_run;

typedef struct rec_file {
  rec_run *runs;
  size_t n;
  json_t *fingerprint; /* the first record's, or NULL */
} rec_file;

static void rec_file_free(rec_file *f) {
  for (size_t i = 0; i < f->n; i++) free(f->runs[i].tokens);
  free(f->runs);
  json_decref(f->fingerprint);
}

static const json_t *jget(const json_t *o, const char *a, const char *b) {
  const json_t *v = json_object_get(o, a);
  if (!v && b) v = json_object_get(o, b);
  return v;
}

/* A value as a short string for the key. */
static void jstr(const json_t *v, char *out, size_t n) {
  if (!v)
    snprintf(out, n, "-");
  else if (json_is_string(v))
    snprintf(out, n, "%s", json_string_value(v));
  else if (json_is_integer(v))
    snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  else if (json_is_real(v))
    snprintf(out, n, "%g", json_real_value(v));
  else
    snprintf(out, n, "?");
}

static rec_run *rec_push(rec_file *rf, size_t *rcap) {
  if (rf->n == *rcap) {
    size_t nc = *rcap ? 2 * *rcap : 64;
    rec_run *nr = realloc(rf->runs, nc * sizeof *nr);
    if (!nr) return NULL;
    rf->runs = nr;
    *rcap = nc;
  }
  rec_run *r = &rf->runs[rf->n++];
  memset(r, 0, sizeof *r);
  r->n_tokens = -1;
  return r;
}

/* Reads a runs.jsonl file (docs/metrics.md, "Run records"): one run per
 * line, {"cell": {"backend", "mode", "batch_size", "position", "repeat",
 * ...}, "fingerprint": {...}, "sequences": [{"prompt": i, "tokens": [...],
 * "tokens_hash": "..."}, ...]}; one rec_run per (run, sequence). */
static int read_records(const char *path, rec_file *rf) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "layercast verify records: cannot open '%s'\n", path);
    return -1;
  }
  char *line = NULL;
  size_t cap = 0, rcap = 0;
  long lineno = 0;
  int rc = 0;
  while (rc == 0 && getline(&line, &cap, f) != -1) {
    lineno++;
    const char *p = line;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (!*p) continue;
    json_error_t je;
    json_t *j = json_loads(line, 0, &je);
    const json_t *cell = json_object_get(j, "cell");
    const json_t *seqs = json_object_get(j, "sequences");
    if (!json_is_object(cell) || !json_is_array(seqs)) {
      fprintf(stderr,
              "layercast verify records: %s:%ld: expected a run record (an object with \"cell\" "
              "and \"sequences\"), found %s\n",
              path, lineno, j ? "another JSON value" : je.text);
      json_decref(j);
      rc = -1;
      break;
    }
    char be[32], mo[32], ba[32], po[32], re[32];
    jstr(jget(cell, "backend", NULL), be, sizeof be);
    jstr(jget(cell, "mode", NULL), mo, sizeof mo);
    jstr(jget(cell, "batch_size", "batch"), ba, sizeof ba);
    jstr(jget(cell, "position", NULL), po, sizeof po);
    jstr(jget(cell, "repeat", NULL), re, sizeof re);
    for (size_t si = 0; si < json_array_size(seqs); si++) {
      const json_t *q = json_array_get(seqs, si);
      rec_run *r = rec_push(rf, &rcap);
      if (!r) {
        rc = -1;
        break;
      }
      char pr[32];
      jstr(json_object_get(q, "prompt"), pr, sizeof pr);
      snprintf(r->key, sizeof r->key, "%s %s batch=%s pos=%s prompt=%s rep=%s", be, mo, ba, po, pr,
               re);
      snprintf(r->mode, sizeof r->mode, "%s", mo);
      jstr(json_object_get(q, "tokens_hash"), r->hash, sizeof r->hash);
      const json_t *tk = json_object_get(q, "tokens");
      if (json_is_array(tk)) {
        size_t n = json_array_size(tk);
        r->tokens = malloc((n ? n : 1) * sizeof(int32_t));
        if (!r->tokens) {
          rc = -1;
          break;
        }
        r->n_tokens = (int32_t)n;
        for (size_t i = 0; i < n; i++)
          r->tokens[i] = (int32_t)json_integer_value(json_array_get(tk, i));
      }
    }
    if (!rf->fingerprint) {
      json_t *fp = json_object_get(j, "fingerprint");
      if (fp) rf->fingerprint = json_incref(fp);
    }
    json_decref(j);
  }
  free(line);
  fclose(f);
  if (rc == 0 && rf->n == 0) {
    fprintf(stderr, "layercast verify records: no runs in '%s'\n", path);
    rc = -1;
  }
  return rc;
}

/* Prints the leaves of two fingerprints that differ ("a.b: x | y"). */
static int fp_diff(const json_t *a, const json_t *b, const char *prefix) {
  int n = 0;
  if (json_is_object(a) && json_is_object(b)) {
    const char *k;
    json_t *va;
    json_object_foreach((json_t *)a, k, va) {
      char p[256];
      snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", k);
      n += fp_diff(va, json_object_get(b, k), p);
    }
    json_t *vb;
    json_object_foreach((json_t *)b, k, vb) {
      if (json_object_get(a, k)) continue;
      char sb[128];
      jstr(vb, sb, sizeof sb);
      printf("    %s%s%s: (absent) | %s\n", prefix, *prefix ? "." : "", k, sb);
      n++;
    }
    return n;
  }
  if (json_equal((json_t *)a, (json_t *)b)) return 0;
  char *sa = a ? json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
  char *sb = b ? json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
  printf("    %s: %s | %s\n", prefix, sa ? sa : "(absent)", sb ? sb : "(absent)");
  free(sa);
  free(sb);
  return 1;
}

/* Modes whose runs promise bitwise reproducibility across machines. */
static int bitwise_mode(const char *mode) {
  return !strcmp(mode, "strict");
}

static void verify_records_usage(FILE *f) {
  fprintf(f,
          "usage: layercast verify records A.jsonl B.jsonl\n"
          "\n"
          "Matches the runs of two run-record files (runs.jsonl of `layercast sweep`,\n"
          "maybe from two machines) by grid cell (backend, mode, batch, position,\n"
          "repeat) and prompt.  Strict runs promise bitwise reproducibility: their token\n"
          "hashes must be equal (else exit 1).  Other modes' agreement is reported (same\n"
          "tokens or not, Div_Index: the first 0-based index where the tokens differ)\n"
          "without failing.  The two environment fingerprints' differences are listed.\n");
}

static int32_t div_index(const int32_t *a, int32_t na, const int32_t *b, int32_t nb) {
  const int32_t n = na < nb ? na : nb;
  for (int32_t i = 0; i < n; i++)
    if (a[i] != b[i]) return i;
  return na == nb ? -1 : n;
}

int cmd_verify_records(int argc, char **argv) {
  if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    verify_records_usage(stdout);
    return 0;
  }
  if (argc != 3) {
    verify_records_usage(stderr);
    return 2;
  }
  rec_file fa = {NULL, 0, NULL}, fb = {NULL, 0, NULL};
  int rc = 1;
  if (read_records(argv[1], &fa) || read_records(argv[2], &fb)) goto done;
  printf("layercast verify records\n  A: %s (%zu sequences)\n  B: %s (%zu sequences)\n", argv[1],
         fa.n, argv[2], fb.n);
  printf("\n  environment fingerprints (each file's first run), A | B:\n");
  if (!fa.fingerprint || !fb.fingerprint)
    printf("    (a file has no \"fingerprint\")\n");
  else if (fp_diff(fa.fingerprint, fb.fingerprint, "") == 0)
    printf("    identical\n");
  int n_match = 0, n_fail = 0, n_same = 0, n_unmatched = 0;
  /* per mode: sequences matched and agreeing */
  char mname[8][32];
  int mmatch[8] = {0}, msame[8] = {0}, n_m = 0;
  printf("\n  %-56s %-8s %s\n", "sequence (backend mode batch position prompt repeat)", "tokens",
         "Div_Index");
  for (size_t i = 0; i < fa.n; i++) {
    const rec_run *a = &fa.runs[i], *b = NULL;
    for (size_t j = 0; j < fb.n && !b; j++)
      if (!strcmp(fb.runs[j].key, a->key)) b = &fb.runs[j];
    if (!b) {
      n_unmatched++;
      continue;
    }
    n_match++;
    int same;
    int32_t di = -1;
    if (a->n_tokens >= 0 && b->n_tokens >= 0) {
      di = div_index(a->tokens, a->n_tokens, b->tokens, b->n_tokens);
      same = di < 0;
    } else {
      same = strcmp(a->hash, b->hash) == 0 && strcmp(a->hash, "-") != 0;
    }
    if (strcmp(a->hash, "-") && strcmp(b->hash, "-") && strcmp(a->hash, b->hash)) same = 0;
    n_same += same;
    int mi = 0;
    while (mi < n_m && strcmp(mname[mi], a->mode)) mi++;
    if (mi == n_m && n_m < 8) snprintf(mname[n_m++], sizeof mname[0], "%s", a->mode);
    if (mi < 8) mmatch[mi]++, msame[mi] += same;
    const int fail = bitwise_mode(a->mode) && !same;
    n_fail += fail;
    if (!same || fail)
      printf("  %-56s %-8s %d%s\n", a->key, same ? "same" : "DIFFER", di,
             fail ? "  FAIL (strict promises equal bits)" : "");
  }
  printf("  (sequences with the same tokens are not listed)\n\n");
  for (int mi = 0; mi < n_m; mi++)
    printf("  %-12s %4d of %4d matched sequences with the same tokens%s\n", mname[mi], msame[mi],
           mmatch[mi],
           bitwise_mode(mname[mi]) ? " (bitwise promised: must be all)" : " (reported only)");
  for (size_t j = 0; j < fb.n; j++) {
    int found = 0;
    for (size_t i = 0; i < fa.n && !found; i++) found = !strcmp(fa.runs[i].key, fb.runs[j].key);
    n_unmatched += !found;
  }
  printf("  %d sequences matched, %d with the same tokens, %d differ; %d without a partner\n",
         n_match, n_same, n_match - n_same, n_unmatched);
  if (n_match == 0) {
    fprintf(stderr, "layercast verify records: no run of A matches a run of B\n");
    goto done;
  }
  printf("%s\n", n_fail ? "FAIL: strict runs differ" : "PASS");
  rc = n_fail ? 1 : 0;
done:
  rec_file_free(&fa);
  rec_file_free(&fb);
  return rc;
}
