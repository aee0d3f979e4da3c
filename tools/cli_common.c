/* tools/cli_common.c — shared helpers of the layercast subcommands (cli_common.h). */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno, mkdir */
#include "tools/cli_common.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ---------------------------------------------------------------*/

int cli_fail(const char *cmd, const char *what, lc_status st, const lc_context *ctx) {
  const char *msg = lc_last_error(ctx);
  fprintf(stderr, "layercast %s: %s: %s\n", cmd, what, lc_status_string(st));
  if (msg && *msg) fprintf(stderr, "  %s\n", msg);
  return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "layercast %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(see 'layercast %s --help')\n", cmd);
  return 2;
}

/* ---- option values ---------------------------------------------------------*/

int cli_parse_i64(const char *cmd, const char *opt, const char *s, int64_t lo, int64_t hi,
                  int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = s ? strtoll(s, &end, 10) : 0;
  if (!s || !*s || !end || *end || errno || v < lo || v > hi)
    return cli_usage_error(cmd, "%s: expected an integer in [%lld, %lld], got '%s'", opt,
                           (long long)lo, (long long)hi, s ? s : "");
  *out = v;
  return 0;
}

int cli_parse_i32(const char *cmd, const char *opt, const char *s, int32_t lo, int32_t hi,
                  int32_t *out) {
  int64_t v = 0;
  int rc = cli_parse_i64(cmd, opt, s, lo, hi, &v);
  if (!rc) *out = (int32_t)v;
  return rc;
}

int cli_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = (s && *s != '-') ? strtoull(s, &end, 0) : 0;
  if (!s || !*s || *s == '-' || !end || *end || errno)
    return cli_usage_error(cmd, "%s: expected an unsigned integer, got '%s'", opt, s ? s : "");
  *out = v;
  return 0;
}

int cli_parse_f32(const char *cmd, const char *opt, const char *s, float lo, float hi, float *out) {
  char *end = NULL;
  errno = 0;
  double v = s ? strtod(s, &end) : 0.0;
  if (!s || !*s || !end || *end || errno || !(v >= lo && v <= hi))
    return cli_usage_error(cmd, "%s: expected a number in [%g, %g], got '%s'", opt, (double)lo,
                           (double)hi, s ? s : "");
  *out = (float)v;
  return 0;
}

void cli_free_list(char **items, int n) {
  if (!items) return;
  for (int i = 0; i < n; i++) free(items[i]);
  free(items);
}

int cli_split_list(const char *cmd, const char *opt, const char *s, char ***items, int *n) {
  *items = NULL;
  *n = 0;
  size_t len = strlen(s);
  int cap = 1;
  for (size_t i = 0; i < len; i++) cap += s[i] == ',';
  char **v = calloc((size_t)cap, sizeof *v);
  if (!v) return cli_usage_error(cmd, "%s: out of memory", opt);
  int k = 0;
  const char *p = s;
  for (;;) {
    const char *c = strchr(p, ',');
    size_t l = c ? (size_t)(c - p) : strlen(p);
    if (l == 0) {
      cli_free_list(v, k);
      return cli_usage_error(cmd, "%s: empty item in '%s'", opt, s);
    }
    v[k] = malloc(l + 1);
    if (!v[k]) {
      cli_free_list(v, k);
      return cli_usage_error(cmd, "%s: out of memory", opt);
    }
    memcpy(v[k], p, l);
    v[k][l] = '\0';
    k++;
    if (!c) break;
    p = c + 1;
  }
  *items = v;
  *n = k;
  return 0;
}

int cli_parse_tokens(const char *cmd, const char *opt, const char *s, int32_t **tokens,
                     int32_t *n) {
  *tokens = NULL;
  *n = 0;
  size_t len = strlen(s);
  int32_t *v = malloc((len / 2 + 1) * sizeof *v);
  if (!v) return cli_usage_error(cmd, "%s: out of memory", opt);
  int32_t k = 0;
  const char *p = s;
  for (;;) {
    while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') p++;
    if (!*p) break;
    char *end = NULL;
    errno = 0;
    long long t = strtoll(p, &end, 10);
    if (end == p || errno || t < 0 || t > INT32_MAX ||
        (*end && *end != ' ' && *end != ',' && *end != '\t' && *end != '\n')) {
      free(v);
      return cli_usage_error(cmd, "%s: expected token ids like \"1 2 3\", got '%s'", opt, s);
    }
    v[k++] = (int32_t)t;
    p = end;
  }
  if (k == 0) {
    free(v);
    return cli_usage_error(cmd, "%s: no token ids in '%s'", opt, s);
  }
  *tokens = v;
  *n = k;
  return 0;
}

/* ---- context and model -------------------------------------------------------*/

void cli_model_opts_default(cli_model_opts *o) {
  memset(o, 0, sizeof *o);
  o->backend = LC_BACKEND_CPU;
  o->mode = LC_MODE_STRICT;
  o->threads = 1;
}

int cli_open(const char *cmd, const cli_model_opts *o, int quiet_unavailable, lc_context **ctx,
             lc_model **model) {
  *ctx = NULL;
  *model = NULL;
  lc_context_params cp;
  lc_context_params_default(&cp);
  cp.backend = o->backend;
  cp.mode = o->mode;
  cp.device = o->device;
  cp.cpu_threads = o->threads;
  lc_status st = lc_context_create(&cp, ctx);
  if (st != LC_OK) {
    if (quiet_unavailable && (st == LC_ERR_UNSUPPORTED || st == LC_ERR_NO_DEVICE)) return 3;
    char what[128];
    snprintf(what, sizeof what, "creating a %s context in %s mode", lc_backend_name(o->backend),
             lc_mode_name(o->mode));
    return cli_fail(cmd, what, st, NULL);
  }
  if (!o->model) return 0;
  lc_model_load_params lp;
  lc_model_load_params_default(&lp);
  lp.max_seq_len = o->max_seq_len;
  st = lc_model_load(*ctx, o->model, &lp, model);
  if (st != LC_OK) {
    char what[1100];
    snprintf(what, sizeof what, "loading '%s'", o->model);
    cli_fail(cmd, what, st, *ctx);
    lc_context_free(*ctx);
    *ctx = NULL;
    *model = NULL;
    return 1;
  }
  return 0;
}

void cli_close(lc_context *ctx, lc_model *model) {
  lc_model_free(model);
  lc_context_free(ctx);
}

/* ---- prompts -------------------------------------------------------------------*/

void cli_prompts_free(cli_prompts *ps) {
  if (!ps) return;
  for (int32_t i = 0; i < ps->n; i++) {
    free(ps->v[i].tokens);
    free(ps->v[i].answer);
  }
  free(ps->v);
  ps->v = NULL;
  ps->n = 0;
}

static int grow_prompts(cli_prompts *ps) {
  cli_prompt *nv = realloc(ps->v, ((size_t)ps->n + 1) * sizeof *nv);
  if (!nv) return 1;
  ps->v = nv;
  memset(&ps->v[ps->n], 0, sizeof ps->v[ps->n]);
  return 0;
}

int cli_prompts_add(const char *cmd, cli_prompts *ps, const int32_t *tokens, int32_t n) {
  if (n < 1 || grow_prompts(ps)) {
    fprintf(stderr, "layercast %s: out of memory (or an empty prompt)\n", cmd);
    return 1;
  }
  int32_t *t = malloc((size_t)n * sizeof *t);
  if (!t) {
    fprintf(stderr, "layercast %s: out of memory\n", cmd);
    return 1;
  }
  memcpy(t, tokens, (size_t)n * sizeof *t);
  ps->v[ps->n].tokens = t;
  ps->v[ps->n].n = n;
  ps->n++;
  return 0;
}

/* an array of non-negative int32 from JSON; 0, or 1 with why set */
static int json_ids(const json_t *a, int32_t **out, int32_t *n, const char **why) {
  *out = NULL;
  *n = 0;
  if (!json_is_array(a)) {
    *why = "not an array";
    return 1;
  }
  size_t k = json_array_size(a);
  if (k > (size_t)INT32_MAX) {
    *why = "too long";
    return 1;
  }
  int32_t *v = malloc((k ? k : 1) * sizeof *v);
  if (!v) {
    *why = "out of memory";
    return 1;
  }
  for (size_t i = 0; i < k; i++) {
    const json_t *e = json_array_get(a, i);
    if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > INT32_MAX) {
      free(v);
      *why = "holds something other than token ids (integers >= 0)";
      return 1;
    }
    v[i] = (int32_t)json_integer_value(e);
  }
  *out = v;
  *n = (int32_t)k;
  return 0;
}

int cli_read_prompts(const char *cmd, const char *path, cli_prompts *out) {
  out->v = NULL;
  out->n = 0;
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "layercast %s: cannot open the prompt file '%s': %s\n", cmd, path,
            strerror(errno));
    return 1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  long lineno = 0;
  int rc = 0;
  while ((len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    size_t i = 0;
    while (i < (size_t)len &&
           (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n'))
      i++;
    if (i == (size_t)len) continue; /* blank line */
    json_error_t err;
    json_t *j = json_loadb(line, (size_t)len, 0, &err);
    const char *why = NULL;
    if (!j) {
      fprintf(stderr, "layercast %s: %s:%ld: not JSON (%s)\n", cmd, path, lineno, err.text);
      rc = 1;
      break;
    }
    int32_t *t = NULL, *a = NULL, nt = 0, na = 0;
    const char *field = "\"tokens\"";
    const json_t *jt = json_object_get(j, "tokens"), *ja = json_object_get(j, "answer");
    if (!json_is_object(j) || !jt) {
      why = "expected an object with \"tokens\": [ids...]";
    } else if (json_ids(jt, &t, &nt, &why)) {
      /* why set: "tokens" ... */
    } else if (nt < 1) {
      why = "\"tokens\" is empty (a prompt needs at least one token)";
    } else if (ja && !json_is_null(ja) && json_ids(ja, &a, &na, &why)) {
      field = "\"answer\"";
    }
    json_decref(j);
    if (!why && grow_prompts(out)) why = "out of memory";
    if (why) {
      int named = strncmp(why, "holds", 5) == 0 || strncmp(why, "not an", 6) == 0 ||
                  strncmp(why, "too long", 8) == 0;
      fprintf(stderr, "layercast %s: %s:%ld: %s%s%s\n", cmd, path, lineno, named ? field : "",
              named ? " " : "", why);
      free(t);
      free(a);
      rc = 1;
      break;
    }
    out->v[out->n].tokens = t;
    out->v[out->n].n = nt;
    out->v[out->n].answer = a;
    out->v[out->n].n_answer = na;
    out->n++;
  }
  if (!rc && ferror(f)) {
    fprintf(stderr, "layercast %s: reading '%s' failed\n", cmd, path);
    rc = 1;
  }
  free(line);
  fclose(f);
  if (!rc && out->n == 0) {
    fprintf(stderr, "layercast %s: '%s' holds no prompts\n", cmd, path);
    rc = 1;
  }
  if (rc) cli_prompts_free(out);
  return rc;
}

int cli_check_vocab(const char *cmd, const cli_prompts *ps, int32_t vocab) {
  for (int32_t p = 0; p < ps->n; p++) {
    for (int32_t i = 0; i < ps->v[p].n; i++)
      if (ps->v[p].tokens[i] >= vocab) {
        fprintf(stderr,
                "layercast %s: prompt %d: token %d at index %d is past the vocabulary (%d)\n", cmd,
                (int)p, (int)ps->v[p].tokens[i], (int)i, (int)vocab);
        return 1;
      }
  }
  return 0;
}

/* ---- RNG -------------------------------------------------------------------*/

uint64_t cli_rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int64_t cli_rng_range(uint64_t *s, int64_t lo, int64_t hi) {
  uint64_t span = (uint64_t)(hi - lo) + 1u;
  return lo + (int64_t)(cli_rng_next(s) % span); /* bias < span/2^64: irrelevant here */
}

int cli_random_prompts(const char *cmd, uint64_t seed, int32_t n, int32_t min_len, int32_t max_len,
                       int32_t vocab, cli_prompts *out) {
  out->v = NULL;
  out->n = 0;
  uint64_t s = seed;
  int32_t *buf = malloc((size_t)max_len * sizeof *buf);
  if (!buf) {
    fprintf(stderr, "layercast %s: out of memory\n", cmd);
    return 1;
  }
  for (int32_t p = 0; p < n; p++) {
    int32_t len = (int32_t)cli_rng_range(&s, min_len, max_len);
    for (int32_t i = 0; i < len; i++) buf[i] = (int32_t)cli_rng_range(&s, 0, vocab - 1);
    if (cli_prompts_add(cmd, out, buf, len)) {
      free(buf);
      cli_prompts_free(out);
      return 1;
    }
  }
  free(buf);
  return 0;
}

/* ---- JSON and files ------------------------------------------------------------*/

json_t *cli_json_i32_array(const int32_t *v, int64_t n) {
  json_t *a = json_array();
  for (int64_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, json_integer(v[i]))) {
      json_decref(a);
      return NULL;
    }
  return a;
}

json_t *cli_json_real(double x) {
  return isfinite(x) ? json_real(x) : json_null();
}

json_t *cli_json_f32_array(const float *v, int64_t n) {
  json_t *a = json_array();
  for (int64_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, cli_json_real((double)v[i]))) {
      json_decref(a);
      return NULL;
    }
  return a;
}

int cli_json_write_line(const char *cmd, FILE *f, const json_t *j) {
  /* 9 significant digits round-trip every binary32; doubles of summaries
   * keep their first 9 digits, plenty for reading */
  char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
  if (!s || fputs(s, f) < 0 || fputc('\n', f) == EOF) {
    free(s);
    fprintf(stderr, "layercast %s: writing JSON failed\n", cmd);
    return 1;
  }
  free(s);
  return 0;
}

int cli_write_file(const char *cmd, const char *path, const char *data, size_t len) {
  size_t pl = strlen(path);
  char *tmp = malloc(pl + 5);
  if (!tmp) {
    fprintf(stderr, "layercast %s: out of memory\n", cmd);
    return 1;
  }
  memcpy(tmp, path, pl);
  memcpy(tmp + pl, ".tmp", 5);
  FILE *f = fopen(tmp, "wb");
  int ok = f && fwrite(data, 1, len, f) == len;
  if (f && fclose(f) != 0) ok = 0;
  if (ok && rename(tmp, path) != 0) ok = 0;
  if (!ok) {
    fprintf(stderr, "layercast %s: cannot write '%s': %s\n", cmd, path, strerror(errno));
    remove(tmp);
  }
  free(tmp);
  return ok ? 0 : 1;
}

int cli_json_write_file(const char *cmd, const char *path, const json_t *j) {
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
  if (!s) {
    fprintf(stderr, "layercast %s: building '%s' failed (out of memory)\n", cmd, path);
    return 1;
  }
  size_t len = strlen(s);
  char *t = realloc(s, len + 2);
  if (!t) {
    free(s);
    return 1;
  }
  t[len] = '\n';
  t[len + 1] = '\0';
  int rc = cli_write_file(cmd, path, t, len + 1);
  free(t);
  return rc;
}

void cli_csv_field(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

int cli_mkdir(const char *cmd, const char *dir) {
  if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
    struct stat sb;
    if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return 0;
  }
  fprintf(stderr, "layercast %s: cannot create the directory '%s': %s\n", cmd, dir,
          strerror(errno ? errno : ENOTDIR));
  return 1;
}

char *cli_path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

/* ---- run records ----------------------------------------------------------------*/

static int jput(json_t *o, const char *k, json_t *v) {
  return !v || json_object_set_new(o, k, v) != 0;
}

json_t *cli_record_sequence(int32_t prompt_index, const int32_t *prompt, int32_t prompt_len,
                            const int32_t *tokens, int32_t n, const lc_token_record *records,
                            int full) {
  char ph[LC_HASH_HEX_LEN], th[LC_HASH_HEX_LEN], lh[LC_HASH_HEX_LEN];
  if (lc_hash_tokens(prompt, prompt_len, ph) != LC_OK || lc_hash_tokens(tokens, n, th) != LC_OK)
    return NULL;
  json_t *o = json_object();
  if (!o) return NULL;
  int bad = jput(o, "prompt", json_integer(prompt_index));
  bad |= jput(o, "prompt_hash", json_string(ph));
  bad |= jput(o, "n_tokens", json_integer(n));
  bad |= jput(o, "tokens", cli_json_i32_array(tokens, n));
  bad |= jput(o, "tokens_hash", json_string(th));
  if (records && !bad) {
    size_t cnt = (size_t)(n > 0 ? n : 1);
    float *lg = malloc(cnt * sizeof *lg), *p1 = malloc(cnt * sizeof *p1),
          *mg = malloc(cnt * sizeof *mg);
    if (!lg || !p1 || !mg) bad = 1;
    for (int32_t i = 0; !bad && i < n; i++) {
      lg[i] = records[i].logit;
      p1[i] = records[i].top1_prob;
      mg[i] = records[i].margin;
    }
    if (!bad) {
      bad |= jput(o, "logit", cli_json_f32_array(lg, n));
      bad |= jput(o, "top1_prob", cli_json_f32_array(p1, n));
      bad |= jput(o, "margin", cli_json_f32_array(mg, n));
      /* the bits of the top-k logits and of every whole logit vector */
      if (cli_hash_records(records, n, lh) != LC_OK)
        bad = 1;
      else
        bad |= jput(o, "logits_hash", json_string(lh));
    }
    if (!bad && full) {
      json_t *ids = json_array(), *lgs = json_array();
      bad |= jput(o, "top_ids", ids);
      bad |= jput(o, "top_logits", lgs);
      for (int32_t i = 0; !bad && i < n; i++) {
        bad |= json_array_append_new(ids,
                                     cli_json_i32_array(records[i].top_ids, LC_CAPTURE_TOP_K)) != 0;
        bad |= json_array_append_new(
                   lgs, cli_json_f32_array(records[i].top_logits, LC_CAPTURE_TOP_K)) != 0;
      }
    }
    free(lg);
    free(p1);
    free(mg);
  }
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *cli_fingerprint(const char *cmd, const lc_context *ctx) {
  char *s = NULL;
  lc_status st = lc_env_fingerprint_json(ctx, &s);
  if (st != LC_OK) {
    cli_fail(cmd, "environment fingerprint", st, ctx);
    return NULL;
  }
  json_error_t err;
  json_t *j = json_loads(s, 0, &err);
  lc_string_free(s);
  if (!j) fprintf(stderr, "layercast %s: fingerprint JSON unreadable: %s\n", cmd, err.text);
  return j;
}

/* ---- progress bar ------------------------------------------------------------------*/

double cli_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress_draw(cli_progress *p) {
  double el = cli_now_s() - p->t0;
  double frac = p->total > 0 ? (double)p->done / (double)p->total : 1.0;
  if (frac > 1.0) frac = 1.0;
  int w = 30, fill = (int)(frac * w);
  char bar[32];
  for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
  bar[w] = '\0';
  double eta = frac > 0.0 ? el * (1.0 - frac) / frac : 0.0;
  fprintf(stderr, "\r%-16s [%s] %5.1f%%  %6.1fs  eta %6.1fs ", p->label, bar, 100.0 * frac, el,
          eta);
  fflush(stderr);
  p->last = cli_now_s();
}

void cli_progress_start(cli_progress *p, const char *label, int64_t total, int on) {
  memset(p, 0, sizeof *p);
  p->on = on < 0 ? isatty(fileno(stderr)) : on;
  p->total = total;
  p->t0 = cli_now_s();
  snprintf(p->label, sizeof p->label, "%s", label);
  if (p->on) progress_draw(p);
}

void cli_progress_add(cli_progress *p, int64_t units) {
  p->done += units;
  if (p->on && cli_now_s() - p->last >= 0.1) progress_draw(p);
}

void cli_progress_end(cli_progress *p) {
  if (!p->on) return;
  progress_draw(p);
  fputc('\n', stderr);
}

/* ---- generation with a target row -----------------------------------------------*/

int32_t cli_neighbour_max_len(int32_t target_len) {
  int64_t m = 2 * (int64_t)target_len;
  if (m < 4) m = 4;
  return m > (1 << 20) ? (1 << 20) : (int32_t)m;
}

int cli_session_for(const char *cmd, lc_model *m, int32_t batch, int32_t max_prompt,
                    int32_t max_new, int32_t prefill_chunk, lc_dtype kv_dtype, lc_session **out) {
  *out = NULL;
  int64_t max_len = (int64_t)max_prompt + max_new;
  int64_t per_row = prefill_chunk > 0 && prefill_chunk < max_prompt ? prefill_chunk : max_prompt;
  int64_t max_tokens = (int64_t)batch * per_row;
  if (max_tokens < batch) max_tokens = batch;
  if (max_len > INT32_MAX || max_tokens > INT32_MAX) {
    fprintf(stderr, "layercast %s: a batch of %d rows of %lld tokens is too large\n", cmd,
            (int)batch, (long long)max_len);
    return 1;
  }
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.n_slots = batch;
  sp.max_len = (int32_t)max_len;
  sp.max_tokens = (int32_t)max_tokens;
  sp.kv_dtype = kv_dtype;
  lc_status st = lc_session_create(m, &sp, out);
  if (st != LC_OK) return cli_fail(cmd, "creating a session", st, lc_model_context(m));
  return 0;
}

int cli_run_target(const char *cmd, const cli_target_run *r, int32_t *tokens,
                   lc_token_record *records, int32_t *n_out) {
  *n_out = 0;
  int32_t B = r->batch;
  lc_gen_sequence *seqs = calloc((size_t)B, sizeof *seqs);
  int32_t *scratch = NULL; /* neighbours' outputs, then random prompts */
  int32_t rmax = cli_neighbour_max_len(r->target->n);
  size_t per = (size_t)(r->max_new > 0 ? r->max_new : 1);
  scratch = malloc((size_t)B * (per + (r->pool ? 0 : (size_t)rmax)) * sizeof *scratch);
  if (!seqs || !scratch) {
    free(seqs);
    free(scratch);
    fprintf(stderr, "layercast %s: out of memory for a batch of %d\n", cmd, (int)B);
    return 1;
  }
  /* random neighbours: a stream per (seed, target, batch, position) so that
   * every cell gets its own, reproducible neighbours */
  uint64_t rs = r->neighbour_seed ^ (0x51ED270B27A8B13Dull * ((uint64_t)r->target_index + 1u)) ^
                ((uint64_t)B << 40) ^ ((uint64_t)r->position << 20);
  int32_t *rand_prompts = scratch + (size_t)B * per;
  for (int32_t i = 0; i < B; i++) {
    lc_gen_sequence *q = &seqs[i];
    q->max_new_tokens = r->max_new;
    q->join_step = 0;
    q->stop_token = r->stop_token;
    if (i == r->position) {
      /* the target's sampler stream depends only on its prompt index */
      q->seq_id = (uint64_t)r->target_index;
      q->prompt = r->target->tokens;
      q->prompt_len = r->target->n;
      q->tokens = tokens;
      q->records = records;
      continue;
    }
    q->seq_id = ((uint64_t)1 << 32) + (uint64_t)i;
    q->tokens = scratch + (size_t)i * per;
    q->records = NULL;
    if (r->pool) {
      /* the target's successors in the pool, cycled: row position+k holds
       * prompt target+k (mod n), rows before the target wrap around */
      int64_t k = ((int64_t)i - r->position + B) % B;
      const cli_prompt *src = &r->pool->v[((int64_t)r->target_index + k) % r->pool->n];
      q->prompt = src->tokens;
      q->prompt_len = src->n;
    } else {
      int32_t *pp = rand_prompts + (size_t)i * (size_t)rmax;
      int32_t len = (int32_t)cli_rng_range(&rs, 1, rmax);
      for (int32_t t = 0; t < len; t++) pp[t] = (int32_t)cli_rng_range(&rs, 0, r->vocab - 1);
      q->prompt = pp;
      q->prompt_len = len;
    }
  }
  lc_status st = lc_generate(r->session, seqs, B, &r->gen);
  int rc = 0;
  if (st != LC_OK) {
    rc = cli_fail(cmd, "lc_generate", st, NULL); /* NULL: this thread's last failure */
  } else {
    *n_out = seqs[r->position].n_generated;
  }
  free(seqs);
  free(scratch);
  return rc;
}

/* ---- positions and record headers ------------------------------------------------*/

int32_t cli_resolve_position(const char *label, int32_t batch) {
  if (!strcmp(label, "first")) return 0;
  if (!strcmp(label, "middle")) return batch / 2;
  if (!strcmp(label, "last")) return batch - 1;
  char *end = NULL;
  errno = 0;
  long v = strtol(label, &end, 10);
  if (!*label || *end || errno || v < 0 || v >= batch) return -1;
  return (int32_t)v;
}

json_t *cli_record_new(const char *cmd, const char *kind, const lc_context *ctx, const char *model,
                       int32_t batch, int32_t position, const char *position_label, int32_t repeat,
                       const lc_gen_params *gp, int32_t max_new, lc_dtype kv_dtype,
                       const char *neighbours, uint64_t neighbour_seed, const json_t *fingerprint) {
  json_t *o = json_object(), *cell = json_object(), *smp = json_object();
  int bad = !o || !cell || !smp;
  if (!bad) {
    bad |= jput(cell, "backend", json_string(lc_backend_name(lc_context_backend(ctx))));
    bad |= jput(cell, "mode", json_string(lc_mode_name(lc_context_mode(ctx))));
    bad |= jput(cell, "batch_size", json_integer(batch));
    bad |= jput(cell, "position", json_integer(position));
    bad |= jput(cell, "position_label", json_string(position_label));
    bad |= jput(cell, "repeat", json_integer(repeat));
    bad |= jput(smp, "temperature", json_real(gp->sampler.temperature));
    bad |= jput(smp, "top_k", json_integer(gp->sampler.top_k));
    bad |= jput(smp, "top_p", json_real(gp->sampler.top_p));
    bad |= jput(smp, "seed", json_integer((json_int_t)gp->sampler.seed));
    bad |= jput(o, "record_version", json_integer(LC_RUN_RECORD_VERSION));
    bad |= jput(o, "kind", json_string(kind));
    bad |= jput(o, "cell", cell);
    cell = NULL;
    bad |= jput(o, "model", json_string(model ? model : ""));
    bad |= jput(o, "max_new", json_integer(max_new));
    bad |= jput(o, "sampler", smp);
    smp = NULL;
    bad |= jput(o, "prefill_chunk", json_integer(gp->prefill_chunk));
    bad |= jput(o, "kv_dtype", json_string(kv_dtype == LC_DTYPE_BF16 ? "bf16" : "f32"));
    bad |= jput(o, "neighbours", json_string(neighbours));
    bad |= jput(o, "neighbour_seed", json_integer((json_int_t)neighbour_seed));
    bad |= jput(o, "fingerprint", fingerprint ? json_deep_copy(fingerprint) : json_null());
    bad |= jput(o, "sequences", json_array());
  }
  json_decref(cell);
  json_decref(smp);
  if (bad) {
    json_decref(o);
    fprintf(stderr, "layercast %s: building a run record failed (out of memory?)\n", cmd);
    return NULL;
  }
  return o;
}

lc_status cli_hash_records(const lc_token_record *recs, int32_t n, char hex[LC_HASH_HEX_LEN]) {
  enum { W = LC_CAPTURE_TOP_K + 2 }; /* per token: top-k logits, then the 64-bit hash */
  float *v = malloc((size_t)(n > 0 ? n : 1) * W * sizeof *v);
  if (!v) return LC_ERR_OUT_OF_MEMORY;
  for (int32_t i = 0; i < n; i++) {
    memcpy(v + (size_t)i * W, recs[i].top_logits, LC_CAPTURE_TOP_K * sizeof(float));
    uint32_t h[2] = {(uint32_t)recs[i].logits_hash, (uint32_t)(recs[i].logits_hash >> 32)};
    memcpy(v + (size_t)i * W + LC_CAPTURE_TOP_K, h, sizeof h);
  }
  lc_status st = lc_hash_f32_bits(v, (int64_t)n * W, hex);
  free(v);
  return st;
}
