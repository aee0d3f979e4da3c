/*
 * lib/exp_util.c — the experiment engine's shared helpers (exp_internal.h):
 * splitmix64, JSON, atomic files and the run-record reader.
 */
#define _POSIX_C_SOURCE 200809L /* getline, mkdir, stat */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/exp_internal.h"

double lc_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- JSON ---------------------------------------------------------------------*/

json_t *lc_json_i32_array(const int32_t *v, int64_t n) {
  json_t *a = json_array();
  for (int64_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, json_integer(v[i]))) {
      json_decref(a);
      return NULL;
    }
  return a;
}

json_t *lc_json_real_or_null(double x) {
  return isfinite(x) ? json_real(x) : json_null();
}

json_t *lc_json_f32_array(const float *v, int64_t n) {
  json_t *a = json_array();
  for (int64_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, lc_json_real_or_null((double)v[i]))) {
      json_decref(a);
      return NULL;
    }
  return a;
}

int lc_json_put(json_t *o, const char *key, json_t *v) {
  return !v || json_object_set_new(o, key, v) != 0;
}

char *lc_json_line(const json_t *j) {
  /* 9 significant digits round-trip every binary32; summaries' doubles keep
   * their first 9 digits, plenty for reading */
  return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
}

int32_t lc_json_ids(const json_t *a, int32_t **out) {
  *out = NULL;
  if (!json_is_array(a) || json_array_size(a) > (size_t)INT32_MAX / 2) return -1;
  size_t n = json_array_size(a);
  int32_t *v = lc_malloc((n ? n : 1) * sizeof *v);
  if (!v) return -2;
  for (size_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(a, i);
    if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > INT32_MAX) {
      free(v);
      return -1;
    }
    v[i] = (int32_t)json_integer_value(e);
  }
  *out = v;
  return (int32_t)n;
}

int32_t lc_json_f32s(const json_t *a, float **out) {
  *out = NULL;
  if (!json_is_array(a) || json_array_size(a) > (size_t)INT32_MAX / 2) return -1;
  size_t n = json_array_size(a);
  float *v = lc_malloc((n ? n : 1) * sizeof *v);
  if (!v) return -2;
  for (size_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(a, i);
    if (json_is_null(e)) {
      v[i] = NAN;
    } else if (json_is_number(e)) {
      v[i] = (float)json_number_value(e);
    } else {
      free(v);
      return -1;
    }
  }
  *out = v;
  return (int32_t)n;
}

/* ---- files ----------------------------------------------------------------------*/

char *lc_path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = lc_malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

int lc_path_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

lc_status lc_file_write_atomic(const char *path, const void *data, size_t len, const char *fn) {
  size_t pl = strlen(path);
  char *tmp = lc_malloc(pl + 5);
  if (!tmp) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  memcpy(tmp, path, pl);
  memcpy(tmp + pl, ".tmp", 5);
  FILE *f = fopen(tmp, "wb");
  int ok = f && fwrite(data, 1, len, f) == len;
  int err = errno;
  if (f && fclose(f) != 0) ok = 0, err = errno;
  if (ok && rename(tmp, path) != 0) ok = 0, err = errno;
  lc_status st = LC_OK;
  if (!ok) {
    st = LC_FAIL(NULL, LC_ERR_IO, "%s: cannot write '%s': %s", fn, path, strerror(err));
    remove(tmp);
  }
  free(tmp);
  return st;
}

lc_status lc_dir_make(const char *dir, const char *fn) {
  if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
    struct stat sb;
    if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return LC_OK;
    return LC_FAIL(NULL, LC_ERR_IO, "%s: '%s' exists and is not a directory", fn, dir);
  }
  return LC_FAIL(NULL, LC_ERR_IO, "%s: cannot create the directory '%s': %s", fn, dir,
                 strerror(errno));
}

lc_status lc_file_open_read(const char *path, const char *what, const char *fn, FILE **out) {
  *out = NULL;
  struct stat sb;
  if (stat(path, &sb) != 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return LC_FAIL(NULL, LC_ERR_NOT_FOUND, "%s: the %s '%s' does not exist", fn, what, path);
    return LC_FAIL(NULL, LC_ERR_IO, "%s: cannot read the %s '%s': %s", fn, what, path,
                   strerror(errno));
  }
  if (S_ISDIR(sb.st_mode))
    return LC_FAIL(NULL, LC_ERR_IO, "%s: the %s '%s' is a directory, not a file", fn, what, path);
  FILE *f = fopen(path, "r");
  if (!f)
    return LC_FAIL(NULL, LC_ERR_IO, "%s: cannot open the %s '%s': %s", fn, what, path,
                   strerror(errno));
  *out = f;
  return LC_OK;
}

/* ---- run records ----------------------------------------------------------------*/

json_t *lc_run_setup_json(const lc_run_setup *s) {
  json_t *o = json_object(), *smp = json_object();
  int bad = !o || !smp;
  if (!bad) {
    bad |= lc_json_put(o, "model", json_string(s->model ? s->model : ""));
    bad |= lc_json_put(o, "weights_hash", json_string(s->weights_hash));
    bad |= lc_json_put(o, "prompts_hash", json_string(s->prompts_hash));
    bad |= lc_json_put(o, "max_new", json_integer(s->max_new));
    json_t *stop = json_array();
    for (int32_t i = 0; stop && i < s->stop.n; i++)
      bad |= json_array_append_new(stop, json_integer(s->stop.ids[i])) != 0;
    bad |= lc_json_put(o, "stop", stop);
    bad |= lc_json_put(smp, "temperature", json_real(s->gen.sampler.temperature));
    bad |= lc_json_put(smp, "top_k", json_integer(s->gen.sampler.top_k));
    bad |= lc_json_put(smp, "top_p", json_real(s->gen.sampler.top_p));
    bad |= lc_json_put(smp, "seed", json_integer((json_int_t)s->gen.sampler.seed));
    bad |= lc_json_put(o, "sampler", smp);
    smp = NULL;
    bad |= lc_json_put(o, "prefill_chunk", json_integer(s->gen.prefill_chunk));
    bad |= lc_json_put(o, "kv_dtype", json_string(s->kv_dtype == LC_DTYPE_BF16 ? "bf16" : "f32"));
    bad |= lc_json_put(o, "neighbours", json_string(s->random_neighbours ? "random" : "file"));
    bad |= lc_json_put(o, "neighbour_seed", json_integer((json_int_t)s->neighbour_seed));
  }
  json_decref(smp);
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

int lc_run_setup_diff(const json_t *a, const json_t *b, char *msg, size_t len) {
  int n = 0;
  size_t used = 0;
  msg[0] = '\0';
  const char *key;
  json_t *va;
  /* the keys of both, a's first; "model" (the path) is informative only */
  for (int side = 0; side < 2; side++) {
    const json_t *x = side ? b : a, *y = side ? a : b;
    json_object_foreach((json_t *)x, key, va) {
      if (!strcmp(key, "model")) continue;
      const json_t *vb = json_object_get(y, key);
      if (side && vb) continue; /* seen from a already */
      if (vb && json_equal(va, (json_t *)vb)) continue;
      const json_t *ja = side ? vb : va, *jb = side ? va : vb; /* a's value, b's value */
      char *sa = ja ? json_dumps(ja, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
      char *sb = jb ? json_dumps(jb, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
      if (used < len) {
        int w = snprintf(msg + used, len - used, "%s%s: %s | %s", n ? "; " : "", key,
                         sa ? sa : "(absent)", sb ? sb : "(absent)");
        used += w > 0 ? (size_t)w : 0;
      }
      free(sa);
      free(sb);
      n++;
    }
  }
  return n;
}

int lc_rec_version(const json_t *rec) {
  const json_t *v = json_object_get(rec, "record_version");
  return json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

void lc_rec_file_free(lc_rec_file *f) {
  if (!f) return;
  for (int64_t i = 0; i < f->n; i++) json_decref(f->v[i].json);
  free(f->v);
  memset(f, 0, sizeof *f);
}

lc_status lc_rec_file_read(const char *path, int allow_cut, lc_rec_file *out) {
  static const char fn[] = "reading run records";
  memset(out, 0, sizeof *out);
  FILE *f = NULL;
  LC_TRY(lc_file_open_read(path, "record file", fn, &f));
  char *line = NULL;
  size_t cap = 0, vcap = 0;
  ssize_t len;
  long lineno = 0, bytes = 0;
  lc_status st = LC_OK;
  while (st == LC_OK && (len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    const int complete = len > 0 && line[len - 1] == '\n';
    size_t i = 0;
    while (i < (size_t)len && strchr(" \t\r\n", line[i])) i++;
    if (i == (size_t)len) {
      bytes += (long)len;
      continue;
    }
    json_error_t je;
    json_t *j = json_loadb(line, (size_t)len, 0, &je);
    if (!j && lc_json_oom(&je)) {
      st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s:%ld: out of memory", path, lineno);
      break;
    }
    if (!j && !complete && allow_cut) {
      out->cut_tail = 1; /* an interrupted write: the line is dropped */
      break;
    }
    if (!j || !json_is_object(json_object_get(j, "cell")) ||
        !json_is_array(json_object_get(j, "sequences"))) {
      st = LC_FAIL(NULL, LC_ERR_FORMAT,
                   "%s:%ld: expected a run record (an object with \"cell\" and \"sequences\"), "
                   "found %s",
                   path, lineno, j ? "another JSON value" : je.text);
      json_decref(j);
      break;
    }
    if (out->n == (int64_t)vcap) {
      size_t nc = vcap ? 2 * vcap : 64;
      lc_rec_line *nv = lc_realloc(out->v, nc * sizeof *nv);
      if (!nv) {
        json_decref(j);
        st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
        break;
      }
      out->v = nv;
      vcap = nc;
    }
    out->v[out->n].json = j;
    out->v[out->n].lineno = lineno;
    out->n++;
    bytes += (long)len;
  }
  if (st == LC_OK && ferror(f))
    st = LC_FAIL(NULL, LC_ERR_IO, "%s: reading '%s' failed: %s", fn, path, strerror(errno));
  out->valid_bytes = bytes;
  free(line);
  fclose(f);
  if (st != LC_OK) lc_rec_file_free(out);
  return st;
}

lc_status lc_decode_output(const lc_tokenizer *t, const int32_t *ids, int32_t n, char **text) {
  *text = NULL;
  int32_t *keep = lc_malloc((size_t)(n > 0 ? n : 1) * sizeof *keep), k = 0;
  if (!keep) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "decoding an output: out of memory");
  for (int32_t i = 0; i < n; i++) {
    const char *piece;
    size_t len;
    if (lc_tokenizer_piece(t, ids[i], &piece, &len) == LC_OK) keep[k++] = ids[i];
  }
  lc_status st = lc_tokenizer_decode(t, keep, k, LC_DECODE_SKIP_SPECIAL, text, NULL);
  free(keep);
  return st;
}
