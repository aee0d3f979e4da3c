/*
 * lib/lc_alloc.h — every host allocation lib/ and cpu_ref/ make goes through
 * these, so that lc_set_alloc_hook() sees (and may fail) each one.  Same
 * contracts as the C functions they wrap; the memory is released with free().
 */
#ifndef LC_ALLOC_H
#define LC_ALLOC_H

#include <stddef.h>

#include "layercast.h"

void *lc_malloc(size_t n);
void *lc_calloc(size_t count, size_t size);
void *lc_realloc(void *p, size_t n); /* on failure p is untouched */
char *lc_strdup(const char *s);
char *lc_strndup(const char *s, size_t n);
void *lc_aligned_alloc(size_t align, size_t n);
/* Nonzero when the hook refuses an allocation of `bytes` (cudaMalloc sites ask
 * with LC_ALLOC_DEVICE). */
int lc_alloc_refused(lc_alloc_kind kind, size_t bytes);
/* 1 when a failed jansson load failed for want of memory (its allocator
 * returned NULL), 0 for a parse or read error. */
struct json_error_t;
int lc_json_oom(const struct json_error_t *e);

#endif /* LC_ALLOC_H */
