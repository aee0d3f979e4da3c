/* tests/fuzz/fuzz_common.c — see fuzz_common.h. */
#define _XOPEN_SOURCE 700

#include "tests/fuzz/fuzz_common.h"

#include "include/layercast_model.h"

#include <dirent.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];
static lc_context *g_ctx;

_Noreturn void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
  fprintf(stderr, "FUZZ CHECK FAILED at %s:%d: %s: ", file, line, cond);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}

void fuzz_split(const uint8_t *data, size_t size, fuzz_parts *out) {
  const size_t sep_len = sizeof FUZZ_SEP - 1;
  out->count = 0;
  size_t start = 0;
  for (size_t i = 0; out->count < FUZZ_MAX_PARTS - 1 && i + sep_len <= size; i++) {
    if (memcmp(data + i, FUZZ_SEP, sep_len) != 0) continue;
    out->p[out->count] = data + start;
    out->n[out->count] = i - start;
    out->count++;
    start = i + sep_len;
    i = start - 1;
  }
  out->p[out->count] = data + start;
  out->n[out->count] = size - start;
  out->count++;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  remove(path); /* best effort: a leftover file is only clutter */
  return 0;
}

static void cleanup(void) {
  lc_context_free(g_ctx);
  g_ctx = NULL;
  if (g_dir[0]) nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_tmpdir(void) {
  if (!g_dir[0]) {
    const char *base = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/lc_fuzz.XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
    FUZZ_CHECK(mkdtemp(g_dir) != NULL, "mkdtemp(%s)", g_dir);
    atexit(cleanup);
  }
  return g_dir;
}

void fuzz_path(char *buf, size_t cap, const char *name) {
  int n = snprintf(buf, cap, "%s/%s", fuzz_tmpdir(), name);
  FUZZ_CHECK(n > 0 && (size_t)n < cap, "path too long: %s", name);
}

void fuzz_write(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  FUZZ_CHECK(f != NULL, "fopen(%s)", path);
  FUZZ_CHECK(n == 0 || fwrite(data, 1, n, f) == n, "fwrite(%s)", path);
  FUZZ_CHECK(fclose(f) == 0, "fclose(%s)", path);
}

void fuzz_clear_dir(const char *path) {
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *e;
  char buf[512];
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(buf, sizeof buf, "%s/%s", path, e->d_name);
    nftw(buf, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  }
  closedir(d);
}

char *fuzz_strndup(const void *data, size_t n) {
  char *s = malloc(n + 1);
  FUZZ_CHECK(s != NULL, "malloc(%zu)", n + 1);
  if (n) memcpy(s, data, n);
  s[n] = '\0';
  return s;
}

lc_context *fuzz_context(void) {
  if (!g_ctx) {
    fuzz_tmpdir(); /* registers the cleanup that frees the context too */
    lc_context_params p;
    lc_context_params_default(&p);
    lc_status st = lc_context_create(&p, &g_ctx);
    FUZZ_CHECK(st == LC_OK, "lc_context_create: %s", lc_last_error(NULL));
  }
  return g_ctx;
}

void fuzz_check_failed(const char *what, lc_status st, const void *obj, const lc_context *ctx) {
  if (getenv("LC_FUZZ_VERBOSE")) fprintf(stderr, "%s: %s\n", what, lc_last_error(NULL));
  FUZZ_CHECK(st != LC_OK, "%s", what);
  FUZZ_CHECK(obj == NULL, "%s failed with %s but left an object behind", what, lc_status_name(st));
  const char *msg = lc_last_error(NULL);
  FUZZ_CHECK(msg != NULL && msg[0] != '\0', "%s failed with %s and no message", what,
             lc_status_name(st));
  if (ctx) {
    msg = lc_last_error(ctx);
    FUZZ_CHECK(msg != NULL && msg[0] != '\0', "%s failed with %s and no context message", what,
               lc_status_name(st));
  }
}

int fuzz_valid_utf8(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t k;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      k = 1, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      k = 2, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      k = 3, cp = c & 0x07;
    } else {
      return 0;
    }
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (s[i + j] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += k + 1;
  }
  return 1;
}

void fuzz_check_model(lc_model *m, int want) {
  if (getenv("LC_FUZZ_VERBOSE")) fprintf(stderr, "model loaded\n");
  lc_model_info info;
  memset(&info, 0xa5, sizeof info);
  lc_status st = lc_model_get_info(m, &info);
  FUZZ_CHECK(st == LC_OK, "lc_model_get_info: %s", lc_last_error(NULL));
  FUZZ_CHECK((int)info.format == want, "format %d, expected %d", (int)info.format, (int)want);
  const lc_model_config *c = &info.config;
  FUZZ_CHECK(c->dim > 0 && c->hidden_dim > 0 && c->n_layers > 0 && c->n_heads > 0 &&
                 c->n_kv_heads > 0 && c->n_heads % c->n_kv_heads == 0 && c->head_dim > 0 &&
                 c->vocab_size > 0 && c->max_seq_len > 0,
             "a loaded model with shapes dim %d hidden %d layers %d heads %d/%d head_dim %d "
             "vocab %d seq %d",
             c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim,
             c->vocab_size, c->max_seq_len);
  FUZZ_CHECK(info.n_params > 0 && info.weights_bytes == 2 * (size_t)info.n_params,
             "n_params %lld, weights_bytes %zu", (long long)info.n_params, info.weights_bytes);
  FUZZ_CHECK(info.n_tensors > 0, "n_tensors %lld", (long long)info.n_tensors);
  FUZZ_CHECK(memchr(info.weights_hash, '\0', sizeof info.weights_hash) != NULL &&
                 strlen(info.weights_hash) > 0,
             "weights_hash is not a string");
  FUZZ_CHECK(lc_model_context(m) != NULL, "lc_model_context");
}
