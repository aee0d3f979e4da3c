/* tools/cli_common.c — shared pieces of the layercast subcommands (cli_common.h). */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno, clock_gettime */
#include "tools/cli_common.h"

#include "lib/exp_internal.h" /* lc_file_write_atomic */

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ---------------------------------------------------------------*/

int cli_fail(const char *cmd, const char *what, lc_status st, int rc) {
  /* the library's message is "STATUS (file:line): text": the text first,
   * the status and place after it for bug reports */
  const char *msg = lc_last_error(NULL), *text = strstr(msg, "): ");
  text = text ? text + 3 : msg;
  fprintf(stderr, "layercast %s: %s%s%s [%s]\n", cmd, what ? what : "", what ? ": " : "",
          *text ? text : lc_status_string(st), lc_status_name(st));
  return rc;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "layercast %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(see 'layercast %s --help')\n", cmd);
  return CLI_USAGE;
}

int cli_status_rc(lc_status st) {
  switch (st) {
    case LC_ERR_INVALID_ARGUMENT:
    case LC_ERR_OUT_OF_RANGE:
    case LC_ERR_SHAPE:
      return CLI_USAGE;
    case LC_ERR_NO_DEVICE:
    case LC_ERR_UNSUPPORTED:
      return CLI_NOTHING;
    default:
      return CLI_FAIL;
  }
}

/* ---- option tables -------------------------------------------------------------*/

void cli_help(const cli_cmd *c, FILE *f) {
  fprintf(f, "usage: layercast %s %s\n\n%s\n", c->name, c->synopsis, c->about);
  if (c->opts[0].name) fprintf(f, "\n");
  for (const cli_opt *o = c->opts; o->name; o++) {
    char head[64];
    snprintf(head, sizeof head, "--%s%s%s", o->name, o->meta ? " " : "", o->meta ? o->meta : "");
    fprintf(f, "  %-22s ", head);
    for (const char *h = o->help; *h; h++) {
      fputc(*h, f);
      if (*h == '\n') fprintf(f, "  %-22s ", "");
    }
    fputc('\n', f);
  }
  fprintf(f, "  %-22s this text\n", "-h, --help");
  if (c->epilog) fprintf(f, "\n%s\n", c->epilog);
}

static int parse_value(const cli_cmd *c, const cli_opt *o, const char *v) {
  char *end = NULL;
  errno = 0;
  switch (o->type) {
    case CLI_FLAG:
      *(int *)o->dst = 1;
      return 0;
    case CLI_STR:
      *(const char **)o->dst = v;
      return 0;
    case CLI_I32: {
      long long x = strtoll(v, &end, 10);
      if (!*v || *end || errno || x < o->lo || x > o->hi)
        return cli_usage_error(c->name, "--%s: expected an integer in [%.0f, %.0f], got '%s'",
                               o->name, o->lo, o->hi, v);
      *(int32_t *)o->dst = (int32_t)x;
      return 0;
    }
    case CLI_U64: {
      unsigned long long x = *v == '-' ? 0 : strtoull(v, &end, 0);
      if (!*v || *v == '-' || !end || *end || errno)
        return cli_usage_error(c->name, "--%s: expected an unsigned integer, got '%s'", o->name, v);
      *(uint64_t *)o->dst = x;
      return 0;
    }
    case CLI_F32: {
      double x = strtod(v, &end);
      if (!*v || *end || errno || !(x >= o->lo && x <= o->hi))
        return cli_usage_error(c->name, "--%s: expected a number in [%g, %g], got '%s'", o->name,
                               o->lo, o->hi, v);
      *(float *)o->dst = (float)x;
      return 0;
    }
    case CLI_CHOICE: {
      int i = 0;
      for (const char *p = o->choices; *p; i++) {
        size_t l = strcspn(p, "|");
        if (strlen(v) == l && !strncmp(p, v, l)) {
          *(int *)o->dst = i;
          return 0;
        }
        p += l + (p[l] == '|');
      }
      return cli_usage_error(c->name, "--%s: expected one of %s, got '%s'", o->name, o->choices, v);
    }
    case CLI_STOP: {
      lc_stop_set *s = o->dst;
      s->n = 0;
      if (!strcmp(v, "none")) return 0;
      for (const char *p = v;;) {
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX || s->n == LC_MAX_STOP_TOKENS ||
            (*end && *end != ','))
          return cli_usage_error(c->name,
                                 "--%s: expected 'none' or up to %d token ids 'T[,T...]', got '%s'",
                                 o->name, LC_MAX_STOP_TOKENS, v);
        s->ids[s->n++] = (int32_t)x;
        if (!*end) return 0;
        p = end + 1;
      }
    }
    case CLI_BACKEND:
      if (lc_backend_from_name(v, (lc_backend *)o->dst) == LC_OK) return 0;
      return cli_usage_error(c->name, "--%s: expected cpu or cuda, got '%s'", o->name, v);
    case CLI_MODE:
      if (lc_mode_from_name(v, (lc_mode *)o->dst) == LC_OK) return 0;
      return cli_usage_error(
          c->name,
          "--%s: expected strict, fast, bf16, reference, vendor-bf16 or vendor-fp32, got '%s'",
          o->name, v);
  }
  return CLI_USAGE;
}

int cli_parse(const cli_cmd *c, int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      cli_help(c, stdout);
      return -1;
    }
    if (strncmp(a, "--", 2) || !a[2])
      return cli_usage_error(c->name, "unexpected argument '%s'", a);
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t nl = eq ? (size_t)(eq - name) : strlen(name);
    const cli_opt *o = c->opts;
    while (o->name && (strlen(o->name) != nl || strncmp(o->name, name, nl))) o++;
    if (!o->name) return cli_usage_error(c->name, "unknown option '--%.*s'", (int)nl, name);
    const char *v = NULL;
    if (o->type == CLI_FLAG) {
      if (eq) return cli_usage_error(c->name, "--%s takes no value", o->name);
    } else if (eq) {
      v = eq + 1;
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      return cli_usage_error(c->name, "--%s needs a value (%s)", o->name, o->meta ? o->meta : "");
    }
    int rc = parse_value(c, o, v);
    if (rc) return rc;
  }
  return CLI_OK;
}

/* ---- lists -------------------------------------------------------------------*/

void cli_list_free(cli_list *l) {
  for (int32_t i = 0; l && i < l->n; i++) free(l->v[i]);
  if (l) free(l->v);
  if (l) l->v = NULL, l->n = 0;
}

int cli_split(const char *cmd, const char *opt, const char *s, cli_list *out) {
  out->v = NULL;
  out->n = 0;
  int32_t cap = 1;
  for (const char *p = s; *p; p++) cap += *p == ',';
  if (!(out->v = calloc((size_t)cap, sizeof *out->v))) return cli_usage_error(cmd, "out of memory");
  for (const char *p = s;;) {
    size_t l = strcspn(p, ",");
    if (l == 0) {
      cli_list_free(out);
      return cli_usage_error(cmd, "%s: empty item in '%s'", opt, s);
    }
    if (!(out->v[out->n] = strndup(p, l))) {
      cli_list_free(out);
      return cli_usage_error(cmd, "out of memory");
    }
    out->n++;
    if (!p[l]) return 0;
    p += l + 1;
  }
}

int cli_list_i32(const char *cmd, const char *opt, const cli_list *l, int32_t lo, int32_t hi,
                 int32_t **out) {
  if (!(*out = malloc((size_t)l->n * sizeof **out))) return cli_usage_error(cmd, "out of memory");
  for (int32_t i = 0; i < l->n; i++) {
    char *end = NULL;
    errno = 0;
    long long x = strtoll(l->v[i], &end, 10);
    if (*end || errno || x < lo || x > hi) {
      free(*out);
      *out = NULL;
      return cli_usage_error(cmd, "%s: expected integers in [%d, %d], got '%s'", opt, (int)lo,
                             (int)hi, l->v[i]);
    }
    (*out)[i] = (int32_t)x;
  }
  return 0;
}

int cli_list_backends(const char *cmd, const cli_list *l, lc_backend **out) {
  if (!(*out = malloc((size_t)l->n * sizeof **out))) return cli_usage_error(cmd, "out of memory");
  for (int32_t i = 0; i < l->n; i++)
    if (lc_backend_from_name(l->v[i], &(*out)[i]) != LC_OK) {
      free(*out);
      *out = NULL;
      return cli_usage_error(cmd, "--backends: unknown backend '%s' (cpu, cuda)", l->v[i]);
    }
  return 0;
}

int cli_list_modes(const char *cmd, const cli_list *l, lc_mode **out) {
  if (!(*out = malloc((size_t)l->n * sizeof **out))) return cli_usage_error(cmd, "out of memory");
  for (int32_t i = 0; i < l->n; i++)
    if (lc_mode_from_name(l->v[i], &(*out)[i]) != LC_OK) {
      free(*out);
      *out = NULL;
      return cli_usage_error(cmd,
                             "--modes: unknown mode '%s' (strict, fast, bf16, reference, "
                             "vendor-bf16, vendor-fp32)",
                             l->v[i]);
    }
  return 0;
}

int cli_parse_tokens(const char *cmd, const char *opt, const char *s, int32_t **tokens,
                     int32_t *n) {
  *tokens = NULL;
  *n = 0;
  int32_t *v = malloc((strlen(s) / 2 + 1) * sizeof *v);
  if (!v) return cli_usage_error(cmd, "%s: out of memory", opt);
  int32_t k = 0;
  for (const char *p = s;;) {
    p += strspn(p, " ,\t\n");
    if (!*p) break;
    char *end = NULL;
    errno = 0;
    long long t = strtoll(p, &end, 10);
    if (end == p || errno || t < 0 || t > INT32_MAX || (*end && !strchr(" ,\t\n", *end))) {
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

int cli_load_prompts(const char *cmd, const char *ids, const char *file, lc_prompt_list *out) {
  out->v = NULL;
  out->n = 0;
  if (!ids == !file)
    return cli_usage_error(cmd, "give exactly one of --prompt IDS and --prompts FILE");
  if (file) {
    lc_status st = lc_prompt_list_read(file, out);
    return st == LC_OK ? 0 : cli_fail(cmd, "--prompts", st, cli_status_rc(st));
  }
  int32_t *t = NULL, n = 0;
  int rc = cli_parse_tokens(cmd, "--prompt", ids, &t, &n);
  if (rc) return rc;
  lc_status st = lc_prompt_list_add(out, t, n, NULL, 0);
  free(t);
  return st == LC_OK ? 0 : cli_fail(cmd, "--prompt", st, CLI_FAIL);
}

/* ---- progress bar ------------------------------------------------------------------*/

double cli_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_start(cli_progress *p, const char *label, int enabled) {
  memset(p, 0, sizeof *p);
  p->on = enabled && isatty(fileno(stderr));
  p->t0 = cli_now_s();
  snprintf(p->label, sizeof p->label, "%s", label);
}

void cli_progress_cb(void *user, int64_t done, int64_t total) {
  cli_progress *p = user;
  const double t = cli_now_s();
  if (!p->on || (t - p->last < 0.1 && done < total)) return;
  p->last = t;
  double frac = total > 0 ? (double)done / (double)total : 1.0, el = t - p->t0;
  if (frac > 1.0) frac = 1.0;
  char bar[31];
  for (int i = 0; i < 30; i++) bar[i] = i < (int)(frac * 30) ? '#' : '.';
  bar[30] = '\0';
  fprintf(stderr, "\r%-16s [%s] %5.1f%%  %6.1fs  eta %6.1fs ", p->label, bar, 100.0 * frac, el,
          frac > 0.0 ? el * (1.0 - frac) / frac : 0.0);
  fflush(stderr);
}

void cli_progress_end(cli_progress *p) {
  if (p->on && p->last > 0.0) fputc('\n', stderr);
}

/* ---- output files ------------------------------------------------------------------*/

int cli_write_file(const char *cmd, const char *path, const void *data, size_t len) {
  lc_status st = lc_file_write_atomic(path, data, len, "writing the output");
  return st == LC_OK ? 0 : cli_fail(cmd, NULL, st, CLI_FAIL);
}
