/*
 * lib/alloc.c — the allocation hook (lc_set_alloc_hook) and the wrappers
 * every allocation of the library goes through.
 */
#define _POSIX_C_SOURCE 200809L /* strndup */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/lc_alloc.h"

/* Read on every allocation, written only by lc_set_alloc_hook, which the
 * header says runs while no other thread is inside the library. */
static lc_alloc_hook_fn hook_fn;
static void *hook_opaque;

void lc_set_alloc_hook(lc_alloc_hook_fn fn, void *opaque) {
  hook_fn = fn;
  hook_opaque = fn ? opaque : NULL;
}

int lc_alloc_refused(lc_alloc_kind kind, size_t bytes) {
  lc_alloc_hook_fn fn = hook_fn;
  return fn && fn(hook_opaque, kind, bytes) != 0;
}

void *lc_malloc(size_t n) {
  return lc_alloc_refused(LC_ALLOC_HOST, n) ? NULL : malloc(n);
}

void *lc_calloc(size_t count, size_t size) {
  /* The hook sees the product; calloc itself checks the overflow. */
  size_t bytes = size && count > (size_t)-1 / size ? (size_t)-1 : count * size;
  return lc_alloc_refused(LC_ALLOC_HOST, bytes) ? NULL : calloc(count, size);
}

void *lc_realloc(void *p, size_t n) {
  return lc_alloc_refused(LC_ALLOC_HOST, n) ? NULL : realloc(p, n);
}

char *lc_strdup(const char *s) {
  return lc_alloc_refused(LC_ALLOC_HOST, strlen(s) + 1) ? NULL : strdup(s);
}

char *lc_strndup(const char *s, size_t n) {
  return lc_alloc_refused(LC_ALLOC_HOST, n + 1) ? NULL : strndup(s, n);
}

void *lc_aligned_alloc(size_t align, size_t n) {
  return lc_alloc_refused(LC_ALLOC_HOST, n) ? NULL : aligned_alloc(align, n);
}

int lc_json_oom(const json_error_t *e) {
  if (!e) return 0;
  if (json_error_code(e) == json_error_out_of_memory) return 1;
  /* jansson returns from a failed allocation of its lexer's buffer before
   * it fills the error in: the error is then still the initial one (line
   * -1, no text), which no parse or read error leaves. */
  return e->line == -1 && e->text[0] == '\0';
}
