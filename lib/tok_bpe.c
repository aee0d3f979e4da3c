/*
 * lib/tok_bpe.c — the tokenizers' tables and merge rules (lib/tok_internal.h):
 * buffers, the string and pair hash tables, Hugging Face BPE (merges in rank
 * order through a min-heap, as HF's Word::merge_all), and llama2.c's
 * tokenizer.bin (parsing, and its encoder: code points with byte fallback,
 * then the best-score merge repeated until none applies, as run.c does).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "lib/tok_internal.h"

/* ---- buffers -------------------------------------------------------------------*/

int tok_buf_reserve(tok_buf *b, size_t extra) {
  if (extra <= b->cap - b->len) return 0;
  if (extra > SIZE_MAX / 2 - b->len) return 1;
  size_t cap = b->cap ? b->cap : 64;
  while (cap - b->len < extra) cap *= 2;
  char *p = lc_realloc(b->p, cap);
  if (!p) return 1;
  b->p = p;
  b->cap = cap;
  return 0;
}

int tok_buf_put(tok_buf *b, const void *s, size_t n) {
  if (tok_buf_reserve(b, n)) return 1;
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}

void tok_buf_free(tok_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

int tok_ids_push(tok_ids *a, int32_t id) {
  if (a->n == a->cap) {
    if (a->cap > INT32_MAX) return 1;
    int64_t cap = a->cap ? a->cap * 2 : 64;
    int32_t *v = lc_realloc(a->v, (size_t)cap * sizeof *v);
    if (!v) return 1;
    a->v = v;
    a->cap = cap;
  }
  a->v[a->n++] = id;
  return 0;
}

/* ---- string table ------------------------------------------------------------------*/

static uint32_t table_size(uint32_t n) {
  uint32_t cap = 16;
  while (cap < 2u * n + 2u && cap < (1u << 31)) cap *= 2;
  return cap;
}

int tok_strtab_init(tok_strtab *t, uint32_t n) {
  const uint32_t cap = table_size(n);
  t->slots = lc_malloc((size_t)cap * sizeof *t->slots);
  if (!t->slots) return 1;
  for (uint32_t i = 0; i < cap; i++) t->slots[i].off = UINT32_MAX;
  t->mask = cap - 1;
  t->n = 0;
  return 0;
}

void tok_strtab_free(tok_strtab *t) {
  free(t->slots);
  t->slots = NULL;
  t->mask = t->n = 0;
}

static uint32_t hash_bytes(const char *s, size_t n) {
  return (uint32_t)XXH3_64bits(s, n);
}

int tok_strtab_put(tok_strtab *t, const char *pool, uint32_t off, uint32_t len, int32_t id,
                   int replace) {
  if (!t->slots || t->n >= t->mask / 2 + 1) return 1;
  const char *key = pool + off;
  const uint32_t h = hash_bytes(key, len);
  for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
    tok_strtab_slot *s = &t->slots[i];
    if (s->off == UINT32_MAX) {
      *s = (tok_strtab_slot){h, off, len, id};
      t->n++;
      return 0;
    }
    /* len 0: key may be NULL (an empty buffer), which memcmp may not take */
    if (s->hash == h && s->len == len && (len == 0 || !memcmp(pool + s->off, key, len))) {
      if (replace) s->id = id;
      return 0;
    }
  }
}

int32_t tok_strtab_get(const tok_strtab *t, const char *pool, const char *key, size_t len) {
  if (!t->slots || len > UINT32_MAX) return -1;
  const uint32_t h = hash_bytes(key, len);
  for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
    const tok_strtab_slot *s = &t->slots[i];
    if (s->off == UINT32_MAX) return -1;
    if (s->hash == h && s->len == len && (len == 0 || !memcmp(pool + s->off, key, len)))
      return s->id;
  }
}

/* ---- pair table -----------------------------------------------------------------------*/

static uint32_t hash_pair(uint64_t k) { /* splitmix64's finalizer */
  k ^= k >> 30;
  k *= 0xbf58476d1ce4e5b9ull;
  k ^= k >> 27;
  k *= 0x94d049bb133111ebull;
  k ^= k >> 31;
  return (uint32_t)k;
}

int tok_pairtab_init(tok_pairtab *t, uint32_t n) {
  const uint32_t cap = table_size(n);
  t->slots = lc_malloc((size_t)cap * sizeof *t->slots);
  if (!t->slots) return 1;
  for (uint32_t i = 0; i < cap; i++) t->slots[i].key = UINT64_MAX;
  t->mask = cap - 1;
  t->n = 0;
  return 0;
}

void tok_pairtab_free(tok_pairtab *t) {
  free(t->slots);
  t->slots = NULL;
  t->mask = t->n = 0;
}

int tok_pairtab_put(tok_pairtab *t, int32_t a, int32_t b, int32_t rank, int32_t merged) {
  if (!t->slots || t->n >= t->mask / 2 + 1) return 1;
  const uint64_t k = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
  for (uint32_t i = hash_pair(k) & t->mask;; i = (i + 1) & t->mask) {
    tok_pairtab_slot *s = &t->slots[i];
    if (s->key == UINT64_MAX || s->key == k) {
      if (s->key == UINT64_MAX) t->n++;
      *s = (tok_pairtab_slot){k, rank, merged};
      return 0;
    }
  }
}

const tok_pairtab_slot *tok_pairtab_get(const tok_pairtab *t, int32_t a, int32_t b) {
  if (!t->slots || a < 0 || b < 0) return NULL;
  const uint64_t k = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
  for (uint32_t i = hash_pair(k) & t->mask;; i = (i + 1) & t->mask) {
    const tok_pairtab_slot *s = &t->slots[i];
    if (s->key == UINT64_MAX) return NULL;
    if (s->key == k) return s;
  }
}

/* ---- pieces ---------------------------------------------------------------------------*/

lc_status tok_alloc_ids(lc_tokenizer *t, int32_t vocab_size, const char *path) {
  if (vocab_size < 1)
    return LC_FAIL(NULL, LC_ERR_FORMAT, "tokenizer '%s': the vocabulary is empty", path);
  t->vocab_size = vocab_size;
  t->piece_off = lc_calloc((size_t)vocab_size, sizeof *t->piece_off);
  t->piece_len = lc_calloc((size_t)vocab_size, sizeof *t->piece_len);
  t->flags = lc_calloc((size_t)vocab_size, sizeof *t->flags);
  if (!t->piece_off || !t->piece_len || !t->flags)
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "tokenizer '%s': out of memory for %d ids", path,
                   (int)vocab_size);
  return LC_OK;
}

void tok_set_piece(lc_tokenizer *t, int32_t id, uint32_t off, uint32_t len, uint8_t flags) {
  t->piece_off[id] = off;
  t->piece_len[id] = len;
  t->flags[id] = (uint8_t)(flags | TOK_F_PRESENT);
}

lc_status tok_pool_add(lc_tokenizer *t, const char *s, size_t n, uint32_t *off) {
  if (n > UINT32_MAX - 1 - t->pool.len)
    return LC_FAIL(NULL, LC_ERR_OVERFLOW, "tokenizer: the pieces exceed 4 GiB");
  *off = (uint32_t)t->pool.len;
  /* a NUL after each string keeps them printable as C strings */
  if (tok_buf_reserve(&t->pool, n + 1))
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "tokenizer: out of memory for the pieces");
  tok_buf_put(&t->pool, s, n);
  tok_buf_put(&t->pool, "", 1);
  return LC_OK;
}

/* GPT-2's bytes_to_unicode: the printable bytes ('!'..'~', 0xA1..0xAC,
 * 0xAE..0xFF) stand for themselves, the other 68 take the code points 256,
 * 257, ... in byte order.  So every byte has a visible character. */
void tok_bytelevel_tables(lc_tokenizer *t) {
  uint32_t next = 256;
  for (int b = 0; b < 256; b++) {
    const int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    t->b2u[b] = (uint16_t)(printable ? (uint32_t)b : next++);
  }
  for (int u = 0; u < 0x144; u++) t->u2b[u] = -1;
  for (int b = 0; b < 256; b++) t->u2b[t->b2u[b]] = (int16_t)b;
}

/* ---- scratch -----------------------------------------------------------------------------*/

static int grow(void **p, int64_t *cap, int64_t need, size_t elem) {
  if (need <= *cap) return 0;
  int64_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  if ((uint64_t)c > SIZE_MAX / elem) return 1;
  void *q = lc_realloc(*p, (size_t)c * elem);
  if (!q) return 1;
  *p = q;
  *cap = c;
  return 0;
}

static int heap_push(tok_scratch *s, tok_heap_item it, int mode);

/* Heap order: mode 0 (HF BPE) the lowest rank first, then the leftmost;
 * mode 1 (llama2.c) the highest score first, then the leftmost. */
static int before(const tok_heap_item *a, const tok_heap_item *b, int mode) {
  if (mode == 0) return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
  return a->key > b->key || (a->key == b->key && a->pos < b->pos);
}

static int heap_push(tok_scratch *s, tok_heap_item it, int mode) {
  if (grow((void **)&s->heap, &s->cap_heap, s->n_heap + 1, sizeof *s->heap)) return 1;
  int64_t i = s->n_heap++;
  while (i > 0) {
    int64_t p = (i - 1) / 2;
    if (!before(&it, &s->heap[p], mode)) break;
    s->heap[i] = s->heap[p];
    i = p;
  }
  s->heap[i] = it;
  return 0;
}

static tok_heap_item heap_pop(tok_scratch *s, int mode) {
  tok_heap_item top = s->heap[0], last = s->heap[--s->n_heap];
  int64_t i = 0, n = s->n_heap;
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && before(&s->heap[c + 1], &s->heap[c], mode)) c++;
    if (!before(&s->heap[c], &last, mode)) break;
    s->heap[i] = s->heap[c];
    i = c;
  }
  if (n > 0) s->heap[i] = last;
  return top;
}

/* ---- Hugging Face BPE --------------------------------------------------------------------*/

/* Appends a symbol; symbols form a doubly linked list in array order. */
static void sym_add(tok_scratch *s, int64_t *n, int32_t id, int32_t len) {
  const int64_t i = (*n)++;
  s->sym[i] = (tok_sym){id, (int32_t)(i - 1), -1, len};
  if (i > 0) s->sym[i - 1].next = (int32_t)i;
}

/* Pushes the merge of (pos, its next) when the pair is in the merges. */
static int bpe_push_pair(const lc_tokenizer *t, tok_scratch *s, int32_t pos) {
  const int32_t nx = s->sym[pos].next;
  if (pos < 0 || nx < 0) return 0;
  const tok_pairtab_slot *m = tok_pairtab_get(&t->merges, s->sym[pos].id, s->sym[nx].id);
  if (!m) return 0;
  tok_heap_item it = {0};
  it.rank = m->rank;
  it.pos = pos;
  it.merged = m->merged;
  return heap_push(s, it, 0);
}

lc_status tok_bpe_word(const lc_tokenizer *t, tok_scratch *s, const char *w, size_t n,
                       tok_ids *out) {
  static const char fn[] = "lc_tokenizer_encode";
  if (n == 0) return LC_OK;
  if (n > INT32_MAX / 4)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: a pre-token of %zu bytes is too long", fn,
                   n);
  /* The word as the vocabulary spells it: byte-level maps every byte to a
   * character (1 or 2 UTF-8 bytes). */
  const char *word = w;
  size_t wlen = n;
  if (t->byte_level) {
    s->word.len = 0;
    if (tok_buf_reserve(&s->word, 2 * n)) goto oom;
    for (size_t i = 0; i < n; i++)
      s->word.len += (size_t)tok_utf8_put(t->b2u[(unsigned char)w[i]], s->word.p + s->word.len);
    word = s->word.p;
    wlen = s->word.len;
  }
  if (t->ignore_merges) {
    const int32_t id = tok_strtab_get(&t->vocab, t->pool.p, word, wlen);
    if (id >= 0)
      return tok_ids_push(out, id) ? LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn)
                                   : LC_OK;
  }
  /* One symbol per character (a byte of w when byte-level); unknown ones
   * through byte fallback, else the unknown token (fused when asked). */
  if (grow((void **)&s->sym, &s->cap_sym, (int64_t)wlen + 1, sizeof *s->sym)) goto oom;
  int64_t nsym = 0;
  int32_t unk_len = 0; /* > 0: an unknown token waits to be added */
  for (size_t i = 0, k = 0; i < wlen; k++) {
    size_t j = i;
    (void)tok_utf8_next(word, &j);
    const int32_t clen = (int32_t)(j - i);
    /* byte-level: the k-th character stands for the byte w[k] */
    const int32_t id = t->byte_level ? t->byte_id[(unsigned char)w[k]]
                                     : tok_strtab_get(&t->vocab, t->pool.p, word + i, (size_t)clen);
    if (id >= 0) {
      if (unk_len) {
        sym_add(s, &nsym, t->unk_id, unk_len);
        unk_len = 0;
      }
      sym_add(s, &nsym, id, clen);
    } else {
      int done = 0;
      if (t->byte_fallback) { /* every byte of the character as <0xNN>, or none */
        int all = 1;
        for (int32_t b = 0; b < clen; b++) all &= t->fallback_id[(unsigned char)word[i + b]] >= 0;
        if (all) {
          if (grow((void **)&s->sym, &s->cap_sym, nsym + clen + 2, sizeof *s->sym)) goto oom;
          for (int32_t b = 0; b < clen; b++)
            sym_add(s, &nsym, t->fallback_id[(unsigned char)word[i + b]], 1);
          done = 1;
        }
      }
      if (!done && (t->unk_id >= 0 || t->unk_missing)) {
        if (t->unk_missing)
          return LC_FAIL(NULL, LC_ERR_FORMAT,
                         "%s: the text needs the unknown token '%s', which is not in the "
                         "vocabulary",
                         fn, t->unk_missing);
        if (unk_len && !t->fuse_unk) {
          sym_add(s, &nsym, t->unk_id, unk_len);
          unk_len = 0;
        }
        unk_len += clen;
      }
      /* neither: the character is dropped, as HF does */
    }
    i = j;
  }
  if (unk_len) sym_add(s, &nsym, t->unk_id, unk_len);

  /* Merges: the pair of lowest rank first, the leftmost among equals; an
   * entry whose pair changed since it was queued is skipped. */
  s->n_heap = 0;
  for (int32_t i = 0; i + 1 < nsym; i++)
    if (bpe_push_pair(t, s, i)) goto oom;
  while (s->n_heap > 0) {
    const tok_heap_item top = heap_pop(s, 0);
    tok_sym *a = &s->sym[top.pos];
    if (a->len == 0 || a->next < 0) continue;
    const int32_t nx = a->next;
    const tok_pairtab_slot *m = tok_pairtab_get(&t->merges, a->id, s->sym[nx].id);
    if (!m || m->merged != top.merged) continue;
    const tok_sym right = s->sym[nx];
    a->id = top.merged;
    a->len += right.len;
    a->next = right.next;
    s->sym[nx].len = 0;
    if (right.next >= 0) s->sym[right.next].prev = top.pos;
    if (a->prev >= 0 && bpe_push_pair(t, s, a->prev)) goto oom;
    if (bpe_push_pair(t, s, top.pos)) goto oom;
  }
  for (int64_t i = 0; i < nsym; i++)
    if (s->sym[i].len && tok_ids_push(out, s->sym[i].id)) goto oom;
  return LC_OK;
oom:
  return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
}

/* ---- llama2.c --------------------------------------------------------------------------*/

/* Reads a little-endian 4-byte value (the files are written on x86/ARM). */
static uint32_t rd_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

lc_status tok_llama2c_parse(lc_tokenizer *t, const char *path, const unsigned char *data,
                            size_t n) {
  /* Layout: int32 max_token_length, then per token: float32 score, int32
   * len, len bytes; the vocabulary size is the number of tokens to EOF. */
  if (n < 4)
    return LC_FAIL(NULL, LC_ERR_FORMAT,
                   "tokenizer.bin '%s': %zu bytes, shorter than its 4-byte header "
                   "(max_token_length)",
                   path, n);
  const int32_t max_len = (int32_t)rd_u32(data);
  if (max_len < 1 || max_len > (1 << 20))
    return LC_FAIL(NULL, LC_ERR_FORMAT,
                   "tokenizer.bin '%s': max_token_length %d, expected 1 .. 1048576 (is this a "
                   "llama2.c tokenizer file?)",
                   path, (int)max_len);
  int64_t count = 0;
  for (size_t pos = 4; pos < n;) {
    if (n - pos < 8)
      return LC_FAIL(NULL, LC_ERR_FORMAT,
                     "tokenizer.bin '%s': truncated at byte %zu: token %lld needs 8 bytes of "
                     "score and length, %zu left",
                     path, pos, (long long)count, n - pos);
    const int32_t len = (int32_t)rd_u32(data + pos + 4);
    if (len < 0 || len > max_len)
      return LC_FAIL(NULL, LC_ERR_FORMAT,
                     "tokenizer.bin '%s': token %lld at byte %zu has length %d, expected 0 .. "
                     "max_token_length %d",
                     path, (long long)count, pos, (int)len, (int)max_len);
    if (n - pos - 8 < (size_t)len)
      return LC_FAIL(NULL, LC_ERR_FORMAT,
                     "tokenizer.bin '%s': truncated: token %lld at byte %zu needs %d bytes, %zu "
                     "left",
                     path, (long long)count, pos, (int)len, n - pos - 8);
    pos += 8 + (size_t)len;
    if (++count >= INT32_MAX)
      return LC_FAIL(NULL, LC_ERR_FORMAT, "tokenizer.bin '%s': too many tokens", path);
  }
  if (count == 0)
    return LC_FAIL(NULL, LC_ERR_FORMAT, "tokenizer.bin '%s': no tokens after the header", path);
  t->type = LC_TOKENIZER_LLAMA2C;
  t->max_token_length = max_len;
  LC_TRY(tok_alloc_ids(t, (int32_t)count, path));
  t->scores = lc_malloc((size_t)count * sizeof *t->scores);
  if (!t->scores || tok_strtab_init(&t->vocab, (uint32_t)count))
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "tokenizer.bin '%s': out of memory", path);
  size_t pos = 4;
  for (int32_t id = 0; id < (int32_t)count; id++) {
    float score;
    memcpy(&score, data + pos, sizeof score);
    const uint32_t len = rd_u32(data + pos + 4);
    uint32_t off;
    LC_TRY(tok_pool_add(t, (const char *)data + pos + 8, len, &off));
    /* <unk>, <s>, </s> are ids 0, 1, 2 in llama2.c's files */
    tok_set_piece(t, id, off, len, id <= 2 ? TOK_F_SPECIAL : 0);
    t->scores[id] = score;
    /* a repeated piece keeps its first id */
    if (tok_strtab_put(&t->vocab, t->pool.p, off, len, id, 0))
      return LC_FAIL(NULL, LC_ERR_INTERNAL, "tokenizer.bin '%s': vocabulary table full", path);
    pos += 8 + len;
  }
  t->bos_id = count > 1 ? 1 : -1;
  t->eos_id = count > 2 ? 2 : -1;
  /* run.c encodes with BOS; tokenizer_config.json beside it may say otherwise */
  if (t->bos_id >= 0) {
    if (!(t->prefix = lc_malloc(sizeof *t->prefix)))
      return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "tokenizer.bin '%s': out of memory", path);
    t->prefix[0] = t->bos_id;
    t->n_prefix = 1;
  }
  return LC_OK;
}

/* The merge of symbols (pos, its next) if their concatenation is a piece
 * whose score beats run.c's floor of -1e10. */
static int l2c_push_pair(const lc_tokenizer *t, tok_scratch *s, int32_t pos) {
  if (pos < 0) return 0;
  const int32_t nx = s->sym[pos].next;
  if (nx < 0) return 0;
  const int32_t a = s->sym[pos].id, b = s->sym[nx].id;
  s->word.len = 0;
  if (tok_buf_put(&s->word, t->pool.p + t->piece_off[a], t->piece_len[a]) ||
      tok_buf_put(&s->word, t->pool.p + t->piece_off[b], t->piece_len[b]))
    return 1;
  const int32_t id = tok_strtab_get(&t->vocab, t->pool.p, s->word.p, s->word.len);
  if (id < 0 || !(t->scores[id] > -1e10f)) return 0;
  tok_heap_item it = {0};
  it.key = t->scores[id];
  it.pos = pos;
  it.merged = id;
  it.right = nx;
  it.lid = a;
  it.rid = b;
  return heap_push(s, it, 1);
}

lc_status tok_llama2c_encode(const lc_tokenizer *t, tok_scratch *s, const char *text, size_t len,
                             int bos, tok_ids *out) {
  static const char fn[] = "lc_tokenizer_encode";
  if (len > INT32_MAX / 2)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: %zu bytes of text is too long", fn, len);
  if (grow((void **)&s->sym, &s->cap_sym, (int64_t)len + 2, sizeof *s->sym)) goto oom;
  int64_t nsym = 0;
  if (bos) sym_add(s, &nsym, t->bos_id, 1);
  /* run.c: a dummy " " before non-empty text, then each code point as a
   * piece, or its bytes as ids byte + 3 */
  for (size_t i = 0, first = len > 0; i < len;) {
    size_t j = i;
    if (!first) (void)tok_utf8_next(text, &j);
    const char *c = first ? " " : text + i;
    const size_t clen = first ? 1 : j - i;
    const int32_t id = tok_strtab_get(&t->vocab, t->pool.p, c, clen);
    if (id >= 0) {
      sym_add(s, &nsym, id, (int32_t)clen);
    } else {
      for (size_t k = 0; k < clen; k++) {
        const int32_t b = (int32_t)(unsigned char)c[k] + 3;
        if (b >= t->vocab_size)
          return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                         "%s: the character at byte %zu is not in the vocabulary and its byte "
                         "fallback id %d is beyond the vocabulary's %d pieces",
                         fn, i, (int)b, (int)t->vocab_size);
        sym_add(s, &nsym, b, 1);
      }
    }
    first = 0;
    i = j;
  }
  /* the best score first, the leftmost among equal scores (run.c's scan) */
  s->n_heap = 0;
  for (int32_t i = 0; i + 1 < nsym; i++)
    if (l2c_push_pair(t, s, i)) goto oom;
  while (s->n_heap > 0) {
    const tok_heap_item top = heap_pop(s, 1);
    tok_sym *a = &s->sym[top.pos];
    if (a->len == 0 || a->next != top.right || a->id != top.lid || s->sym[top.right].len == 0 ||
        s->sym[top.right].id != top.rid)
      continue;
    const tok_sym right = s->sym[top.right];
    a->id = top.merged;
    a->len += right.len;
    a->next = right.next;
    s->sym[top.right].len = 0;
    if (right.next >= 0) s->sym[right.next].prev = top.pos;
    if (l2c_push_pair(t, s, a->prev) || l2c_push_pair(t, s, top.pos)) goto oom;
  }
  for (int64_t i = 0; i < nsym; i++)
    if (s->sym[i].len && tok_ids_push(out, s->sym[i].id)) goto oom;
  return LC_OK;
oom:
  return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
}
