/*
 * lib/tokenizer.c — the tokenizers' public API (layercast_text.h,
 * "Tokenizers"): loading a directory or a file, the encode driver (UTF-8
 * check, added tokens, normalizers, pre-tokenizers, the model, the
 * post-processor's specials), decoding through the detokenizer (so that a
 * whole decode and a stream of pushes give the same text by construction),
 * and the lookups.  The pipeline parts live in lib/tok_*.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/tok_internal.h"

const char *lc_tokenizer_type_name(lc_tokenizer_type t) {
  switch (t) {
    case LC_TOKENIZER_BYTE_BPE:
      return "byte-bpe";
    case LC_TOKENIZER_SPM_BPE:
      return "sentencepiece-bpe";
    case LC_TOKENIZER_LLAMA2C:
      return "llama2c";
  }
  return "unknown";
}

/* ---- loading ------------------------------------------------------------------------*/

#define TOK_MAX_FILE ((size_t)1 << 30)

/* The whole of path into *data (malloc'ed, NUL-terminated), *n bytes.
 * LC_ERR_NOT_FOUND, LC_ERR_IO, LC_ERR_FORMAT (too large). */
static lc_status read_file(const char *path, const char *what, char **data, size_t *n) {
  *data = NULL;
  *n = 0;
  struct stat sb;
  if (stat(path, &sb) != 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return LC_FAIL(NULL, LC_ERR_NOT_FOUND, "lc_tokenizer_load: the %s '%s' does not exist", what,
                     path);
    return LC_FAIL(NULL, LC_ERR_IO, "lc_tokenizer_load: cannot read the %s '%s': %s", what, path,
                   strerror(errno));
  }
  if (S_ISDIR(sb.st_mode))
    return LC_FAIL(NULL, LC_ERR_IO, "lc_tokenizer_load: the %s '%s' is a directory", what, path);
  if ((uint64_t)sb.st_size > TOK_MAX_FILE)
    return LC_FAIL(NULL, LC_ERR_FORMAT,
                   "lc_tokenizer_load: the %s '%s' has %lld bytes, more than the 1 GiB a "
                   "tokenizer file may have",
                   what, path, (long long)sb.st_size);
  FILE *f = fopen(path, "rb");
  if (!f)
    return LC_FAIL(NULL, LC_ERR_IO, "lc_tokenizer_load: cannot open the %s '%s': %s", what, path,
                   strerror(errno));
  const size_t size = (size_t)sb.st_size;
  char *p = lc_malloc(size + 1);
  if (!p) {
    fclose(f);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_tokenizer_load: out of memory for '%s'", path);
  }
  const size_t got = size ? fread(p, 1, size, f) : 0;
  const int err = ferror(f);
  fclose(f);
  if (got != size || err) {
    free(p);
    return LC_FAIL(NULL, LC_ERR_IO, "lc_tokenizer_load: reading '%s' failed (%zu of %zu bytes)",
                   path, got, size);
  }
  p[size] = '\0';
  *data = p;
  *n = size;
  return LC_OK;
}

static int is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Loads one file, told apart by content: JSON starts with '{'. */
static lc_status load_file(lc_tokenizer *t, const char *path) {
  char *data = NULL;
  size_t n = 0;
  LC_TRY(read_file(path, "tokenizer file", &data, &n));
  size_t i = 0;
  while (i < n && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) i++;
  lc_status st;
  if (i < n && data[i] == '{')
    st = tok_json_parse(t, path, data, n);
  else
    st = tok_llama2c_parse(t, path, (const unsigned char *)data, n);
  free(data);
  return st;
}

lc_status lc_tokenizer_load(const char *path, lc_tokenizer **out) {
  static const char fn[] = "lc_tokenizer_load";
  if (!out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
  *out = NULL;
  if (!path) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: path is NULL", fn);
  if (!lc_path_exists(path))
    return LC_FAIL(NULL, LC_ERR_NOT_FOUND,
                   "%s: '%s' does not exist (give a model directory, a "
                   "tokenizer.json or a tokenizer.bin)",
                   fn, path);
  lc_tokenizer *t = lc_calloc(1, sizeof *t);
  if (!t) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  t->unk_id = t->bos_id = t->eos_id = -1;
  lc_status st = LC_OK;
  if (is_dir(path)) {
    char *tj = lc_path_join(path, "tokenizer.json"), *tb = lc_path_join(path, "tokenizer.bin");
    if (!tj || !tb)
      st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    else if (lc_path_exists(tj))
      st = load_file(t, tj);
    else if (lc_path_exists(tb))
      st = load_file(t, tb);
    else
      st = LC_FAIL(NULL, LC_ERR_NOT_FOUND,
                   "%s: the directory '%s' has neither a tokenizer.json nor a tokenizer.bin", fn,
                   path);
    free(tj);
    free(tb);
    if (st == LC_OK) st = tok_config_apply(t, path);
  } else {
    st = load_file(t, path);
  }
  if (st != LC_OK) {
    lc_tokenizer_free(t);
    return st;
  }
  *out = t;
  return LC_OK;
}

void lc_tokenizer_free(lc_tokenizer *t) {
  if (!t) return;
  tok_buf_free(&t->pool);
  free(t->piece_off);
  free(t->piece_len);
  free(t->flags);
  tok_strtab_free(&t->vocab);
  tok_strtab_free(&t->added_tab);
  free(t->added);
  free(t->m_raw.order);
  free(t->m_norm.order);
  tok_pairtab_free(&t->merges);
  free(t->unk_missing);
  for (int i = 0; i < t->n_norm; i++) {
    free(t->norm[i].a);
    free(t->norm[i].b);
    pcre2_code_free(t->norm[i].re);
  }
  free(t->norm);
  for (int i = 0; i < t->n_pre; i++) {
    pcre2_code_free(t->pre[i].re);
    free(t->pre[i].lit);
  }
  free(t->pre);
  for (int i = 0; i < t->n_dec; i++) {
    free(t->dec[i].a);
    free(t->dec[i].b);
  }
  free(t->dec);
  free(t->prefix);
  free(t->suffix);
  free(t->chat_template);
  free(t->scores);
  free(t);
}

lc_status lc_tokenizer_get_info(const lc_tokenizer *t, lc_tokenizer_info *out) {
  if (!t || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_tokenizer_get_info: NULL argument");
  memset(out, 0, sizeof *out);
  out->type = t->type;
  out->vocab_size = t->vocab_size;
  out->n_added = t->n_added;
  out->bos_id = t->bos_id;
  out->eos_id = t->eos_id;
  out->add_bos = t->n_prefix > 0;
  out->add_eos = t->n_suffix > 0;
  out->nfc = t->nfc;
  return LC_OK;
}

const char *lc_tokenizer_chat_template(const lc_tokenizer *t) {
  return t ? t->chat_template : NULL;
}

lc_status lc_tokenizer_piece(const lc_tokenizer *t, int32_t id, const char **piece, size_t *len) {
  if (!t || !piece)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_tokenizer_piece: NULL argument");
  if (id < 0 || id >= t->vocab_size || !(t->flags[id] & TOK_F_PRESENT))
    return LC_FAIL(NULL, LC_ERR_OUT_OF_RANGE,
                   "lc_tokenizer_piece: id %d is not in the vocabulary (0 .. %d%s)", (int)id,
                   (int)t->vocab_size - 1,
                   id >= 0 && id < t->vocab_size ? ", and this id has no piece" : "");
  *piece = t->pool.p + t->piece_off[id];
  if (len) *len = t->piece_len[id];
  return LC_OK;
}

lc_status lc_tokenizer_token_id(const lc_tokenizer *t, const char *piece, int32_t *id) {
  if (!t || !piece || !id)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_tokenizer_token_id: NULL argument");
  const size_t n = strlen(piece);
  int32_t k = tok_strtab_get(&t->added_tab, t->pool.p, piece, n);
  if (k < 0) k = tok_strtab_get(&t->vocab, t->pool.p, piece, n);
  if (k < 0)
    return LC_FAIL(NULL, LC_ERR_NOT_FOUND,
                   "lc_tokenizer_token_id: '%.100s' is not in the "
                   "vocabulary",
                   piece);
  *id = k;
  return LC_OK;
}

/* ---- added tokens ---------------------------------------------------------------------*/

static void content_of(const lc_tokenizer *t, const tok_added *a, int normalized, const char **s,
                       uint32_t *n) {
  *s = t->pool.p + (normalized ? a->noff : a->off);
  *n = normalized ? a->nlen : a->len;
}

lc_status tok_matchers_build(lc_tokenizer *t) {
  for (int which = 0; which < 2; which++) {
    tok_matcher *m = which ? &t->m_norm : &t->m_raw;
    m->use_normalized = which;
    int32_t n = 0;
    for (int32_t i = 0; i < t->n_added; i++) n += t->added[i].normalized == which;
    m->order = lc_malloc((size_t)(n ? n : 1) * sizeof *m->order);
    if (!m->order) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_tokenizer_load: out of memory");
    /* counting sort by first byte, then longest first within a bucket */
    int32_t count[257] = {0};
    for (int32_t i = 0; i < t->n_added; i++) {
      if (t->added[i].normalized != which) continue;
      const char *s;
      uint32_t len;
      content_of(t, &t->added[i], which, &s, &len);
      if (len) count[(unsigned char)s[0] + 1]++;
    }
    for (int b = 0; b < 256; b++) count[b + 1] += count[b];
    for (int b = 0; b < 257; b++) m->bucket[b] = count[b];
    int32_t fill[256];
    for (int b = 0; b < 256; b++) fill[b] = count[b];
    m->n = 0;
    for (int32_t i = 0; i < t->n_added; i++) {
      if (t->added[i].normalized != which) continue;
      const char *s;
      uint32_t len;
      content_of(t, &t->added[i], which, &s, &len);
      if (!len) continue;
      m->order[fill[(unsigned char)s[0]]++] = i;
      m->n++;
    }
    for (int b = 0; b < 256; b++) /* insertion sort: buckets are small */
      for (int32_t i = m->bucket[b] + 1; i < m->bucket[b + 1]; i++) {
        const int32_t v = m->order[i];
        const char *vs;
        uint32_t vl;
        content_of(t, &t->added[v], which, &vs, &vl);
        int32_t j = i;
        for (; j > m->bucket[b]; j--) {
          const char *us;
          uint32_t ul;
          content_of(t, &t->added[m->order[j - 1]], which, &us, &ul);
          if (ul >= vl) break;
          m->order[j] = m->order[j - 1];
        }
        m->order[j] = v;
      }
  }
  return LC_OK;
}

static int push_seg(tok_span **v, int64_t *n, int64_t *cap, size_t a, size_t b, int32_t m) {
  if (*n == *cap) {
    int64_t c = *cap ? *cap * 2 : 16;
    tok_span *q = lc_realloc(*v, (size_t)c * sizeof *q);
    if (!q) return 1;
    *v = q;
    *cap = c;
  }
  (*v)[(*n)++] = (tok_span){a, b, m};
  return 0;
}

/* Start of the code point that ends at s[i) (i > 0). */
static size_t utf8_prev(const char *s, size_t i) {
  do i--;
  while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80);
  return i;
}

/* HF AddedVocabulary::find_matches: the text cut into added tokens (m = id)
 * and the text between them (m = -1), leftmost-longest, with single_word,
 * lstrip and rstrip as the tokens ask. */
static int find_matches(const lc_tokenizer *t, const tok_matcher *m, const char *text, size_t n,
                        tok_span **segs, int64_t *nseg, int64_t *cap) {
  *nseg = 0;
  size_t pos = 0, start_offset = 0;
  while (pos < n && m->n > 0) {
    const tok_added *hit = NULL;
    size_t ms = 0;
    uint32_t ml = 0;
    for (size_t i = pos; i < n && !hit; i++) {
      const unsigned b = (unsigned char)text[i];
      for (int32_t k = m->bucket[b]; k < m->bucket[b + 1]; k++) {
        const tok_added *a = &t->added[m->order[k]];
        const char *s;
        uint32_t len;
        content_of(t, a, m->use_normalized, &s, &len);
        if (len <= n - i && !memcmp(text + i, s, len)) {
          hit = a;
          ms = i;
          ml = len;
          break;
        }
      }
    }
    if (!hit) break;
    size_t start = ms, stop = ms + ml;
    pos = stop; /* the next search starts after this match, whatever is done with it */
    if (hit->single_word) {
      int start_space = 1, stop_space = 1;
      if (start > 0) {
        size_t k = utf8_prev(text, start);
        start_space = !tok_is_word_char(tok_utf8_next(text, &k));
      }
      if (stop < n) {
        size_t k = stop;
        stop_space = !tok_is_word_char(tok_utf8_next(text, &k));
      }
      if (!start_space || !stop_space) continue;
    }
    if (hit->lstrip) {
      size_t ns = start;
      while (ns > 0) {
        const size_t k = utf8_prev(text, ns);
        size_t kk = k;
        if (!tok_is_white_space(tok_utf8_next(text, &kk))) break;
        ns = k;
      }
      start = ns > start_offset ? ns : start_offset;
    }
    if (hit->rstrip)
      while (stop < n) {
        size_t k = stop;
        if (!tok_is_white_space(tok_utf8_next(text, &k))) break;
        stop = k;
      }
    if (start_offset < start && push_seg(segs, nseg, cap, start_offset, start, -1)) return 1;
    if (push_seg(segs, nseg, cap, start, stop, hit->id)) return 1;
    if (stop > start_offset) start_offset = stop;
  }
  if (start_offset < n && push_seg(segs, nseg, cap, start_offset, n, -1)) return 1;
  return 0;
}

/* ---- encode ------------------------------------------------------------------------------*/

/* Pre-tokenizers and the model on one normalized piece of text. */
static lc_status encode_words(const lc_tokenizer *t, tok_scratch *s, const char *text, size_t n,
                              int orig0, tok_ids *out) {
  if (n == 0) return LC_OK;
  if (t->n_pre == 0) return tok_bpe_word(t, s, text, n, out);
  LC_TRY(tok_pretokenize(t, s, text, n, orig0));
  for (int64_t i = 0; i < s->na; i++)
    LC_TRY(tok_bpe_word(t, s, s->arena.p + s->pa[i].off, s->pa[i].len, out));
  return LC_OK;
}

/* A segment of the input between added tokens: normalizers, then the
 * normalized added tokens, then the words. */
static lc_status encode_segment(const lc_tokenizer *t, tok_scratch *s, const char *text, size_t n,
                                int orig0, unsigned flags, tok_ids *out) {
  if (n == 0) return LC_OK;
  const char *nt = text;
  size_t nn = n;
  if (t->n_norm > 0) {
    LC_TRY(tok_normalize(t, s, text, n));
    nt = s->norm.p;
    nn = s->norm.len;
  }
  if ((flags & LC_ENCODE_PLAIN) || t->m_norm.n == 0) return encode_words(t, s, nt, nn, orig0, out);
  if (find_matches(t, &t->m_norm, nt, nn, &s->seg2, &s->n2, &s->cap2))
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_tokenizer_encode: out of memory");
  for (int64_t i = 0; i < s->n2; i++) {
    const tok_span g = s->seg2[i];
    if (g.m >= 0) {
      if (tok_ids_push(out, g.m))
        return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_tokenizer_encode: out of memory");
    } else {
      LC_TRY(encode_words(t, s, nt + g.a, g.b - g.a, orig0 && g.a == 0, out));
    }
  }
  return LC_OK;
}

lc_status lc_tokenizer_encode(const lc_tokenizer *t, const char *text, size_t len, unsigned flags,
                              int32_t **ids, int32_t *n_ids) {
  static const char fn[] = "lc_tokenizer_encode";
  if (ids) *ids = NULL;
  if (n_ids) *n_ids = 0;
  if (!t || !ids || !n_ids || (!text && len > 0))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
  if (flags & ~(unsigned)(LC_ENCODE_ADD_SPECIAL | LC_ENCODE_PLAIN))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn, flags);
  if (len > (size_t)INT32_MAX)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: %zu bytes of text, more than 2 GiB", fn,
                   len);
  const size_t bad = tok_utf8_check(text, len);
  if (bad < len)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "%s: the text is not valid UTF-8 at byte offset %zu (byte 0x%02X)", fn, bad,
                   (unsigned)(unsigned char)text[bad]);
  tok_scratch s;
  LC_TRY(tok_scratch_init(t, &s));
  tok_ids out = {0};
  lc_status st = LC_OK;
  const int special = (flags & LC_ENCODE_ADD_SPECIAL) != 0;
  if (t->type == LC_TOKENIZER_LLAMA2C) {
    /* BOS goes through the merges with the text, as in run.c */
    st = tok_llama2c_encode(t, &s, text, len, special && t->n_prefix > 0, &out);
  } else {
    for (int32_t i = 0; special && i < t->n_prefix && st == LC_OK; i++)
      if (tok_ids_push(&out, t->prefix[i])) st = LC_ERR_OUT_OF_MEMORY;
    if (st == LC_OK && !(flags & LC_ENCODE_PLAIN) && t->m_raw.n > 0) {
      if (find_matches(t, &t->m_raw, text, len, &s.seg1, &s.n1, &s.cap1)) st = LC_ERR_OUT_OF_MEMORY;
      for (int64_t i = 0; i < s.n1 && st == LC_OK; i++) {
        const tok_span g = s.seg1[i];
        if (g.m >= 0)
          st = tok_ids_push(&out, g.m) ? LC_ERR_OUT_OF_MEMORY : LC_OK;
        else
          st = encode_segment(t, &s, text + g.a, g.b - g.a, g.a == 0, flags, &out);
      }
    } else if (st == LC_OK) {
      st = encode_segment(t, &s, text, len, 1, flags, &out);
    }
  }
  for (int32_t i = 0; special && i < t->n_suffix && st == LC_OK; i++)
    if (tok_ids_push(&out, t->suffix[i])) st = LC_ERR_OUT_OF_MEMORY;
  if (st == LC_OK && out.n > INT32_MAX) st = LC_ERR_OVERFLOW;
  if (st == LC_OK && !out.v && tok_ids_push(&out, 0) == 0) out.n = 0; /* never NULL */
  if (st == LC_OK && !out.v) st = LC_ERR_OUT_OF_MEMORY;
  tok_scratch_free(&s);
  if (st != LC_OK) {
    free(out.v);
    if (st == LC_ERR_OUT_OF_MEMORY) return LC_FAIL(NULL, st, "%s: out of memory", fn);
    if (st == LC_ERR_OVERFLOW) return LC_FAIL(NULL, st, "%s: more than 2^31 ids", fn);
    return st; /* recorded where it happened */
  }
  *ids = out.v;
  *n_ids = (int32_t)out.n;
  return LC_OK;
}

/* ---- decode --------------------------------------------------------------------------------*/

struct lc_detokenizer {
  const lc_tokenizer *t;
  unsigned flags;
  int64_t index;         /* pieces the decoder saw so far */
  int32_t prev;          /* llama2.c: the previous id, -1 at the start */
  int strip_left;        /* leading characters the whole-text Strip may still remove */
  unsigned char pend[4]; /* an unfinished UTF-8 sequence */
  int npend, need;       /* its bytes; continuation bytes still expected */
  unsigned char lo, hi;  /* the range of the next continuation byte */
  tok_buf out;           /* what the last call returns */
  tok_buf t1, t2;        /* piece transformations */
};

static void detok_reset(lc_detokenizer *d) {
  d->index = 0;
  d->prev = -1;
  d->strip_left = d->t->dec_strip_n;
  d->npend = d->need = 0;
}

static const char REPL[3] = {(char)0xEF, (char)0xBF, (char)0xBD}; /* U+FFFD */

/* Bytes into valid UTF-8: each maximal invalid subpart becomes U+FFFD
 * (Unicode's "best practice", Python's errors="replace"); an unfinished
 * sequence at the end waits in pend. */
static int utf8_feed(lc_detokenizer *d, const unsigned char *b, size_t n, tok_buf *dst) {
  if (tok_buf_reserve(dst, 3 * n + 8)) return 1;
  for (size_t i = 0; i < n; i++) {
    const unsigned c = b[i];
    if (d->need > 0) {
      if (c >= d->lo && c <= d->hi) {
        d->pend[d->npend++] = (unsigned char)c;
        d->lo = 0x80;
        d->hi = 0xBF;
        if (--d->need == 0) {
          tok_buf_put(dst, d->pend, (size_t)d->npend);
          d->npend = 0;
        }
        continue;
      }
      tok_buf_put(dst, REPL, 3); /* the sequence so far was a maximal subpart */
      d->npend = d->need = 0;
    }
    if (c < 0x80) {
      tok_buf_put(dst, &b[i], 1);
      continue;
    }
    d->lo = 0x80;
    d->hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
      d->need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
      d->need = 2;
      if (c == 0xE0) d->lo = 0xA0;
      if (c == 0xED) d->hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      d->need = 3;
      if (c == 0xF0) d->lo = 0x90;
      if (c == 0xF4) d->hi = 0x8F;
    } else {
      tok_buf_put(dst, REPL, 3);
      continue;
    }
    d->pend[0] = (unsigned char)c;
    d->npend = 1;
  }
  return 0;
}

/* The decoded bytes of one piece go out through the whole-text Strip.  An
 * empty piece (a vocabulary entry "", whose buffer may be NULL) emits
 * nothing and leaves the strip as it was. */
static int emit(lc_detokenizer *d, const char *p, size_t n, tok_buf *dst) {
  if (n == 0) return 0;
  size_t i = 0;
  while (d->strip_left > 0 && i < n) {
    if (p[i] != d->t->dec_strip_c) {
      d->strip_left = 0;
      break;
    }
    d->strip_left--;
    i++;
  }
  if (i < n) d->strip_left = 0;
  return utf8_feed(d, (const unsigned char *)p + i, n - i, dst);
}

/* "<0xNN>": 1 and the byte in *b. */
static int byte_piece(const char *p, size_t n, unsigned char *b) {
  if (n != 6 || memcmp(p, "<0x", 3) || p[5] != '>') return 0;
  unsigned v = 0;
  for (int k = 3; k < 5; k++) {
    const char c = p[k];
    const unsigned x = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                       : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                       : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                              : 16u;
    if (x > 15) return 0;
    v = v * 16 + x;
  }
  *b = (unsigned char)v;
  return 1;
}

/* Replaces in t1 every `from` by `to` (to NULL: removes), into t2, swapped back. */
static int piece_replace(lc_detokenizer *d, const char *from, size_t from_len, const char *to,
                         size_t to_len) {
  tok_buf *a = &d->t1, *b = &d->t2;
  b->len = 0;
  for (size_t i = 0; i < a->len;) {
    if (from_len && i + from_len <= a->len && !memcmp(a->p + i, from, from_len)) {
      if (tok_buf_put(b, to, to_len)) return 1;
      i += from_len;
    } else {
      if (tok_buf_put(b, a->p + i, 1)) return 1;
      i++;
    }
  }
  const tok_buf tmp = *a;
  *a = *b;
  *b = tmp;
  return 0;
}

/* The decoder's per-piece steps on t1 (HF's decode_chain before Fuse). */
static int piece_steps(lc_detokenizer *d) {
  const lc_tokenizer *t = d->t;
  for (int k = 0; k < t->n_dec; k++) {
    const tok_dec *st = &t->dec[k];
    switch (st->kind) {
      case TOK_DEC_REPLACE:
        if (piece_replace(d, st->a, st->a_len, st->b, st->b_len)) return 1;
        break;
      case TOK_DEC_BYTEFALLBACK: {
        unsigned char b;
        if (byte_piece(d->t1.p, d->t1.len, &b)) {
          d->t1.p[0] = (char)b;
          d->t1.len = 1;
        }
        break;
      }
      case TOK_DEC_STRIP: {
        size_t a = 0, z = d->t1.len;
        for (int i = 0;
             i < st->start && z - a >= st->a_len && !memcmp(d->t1.p + a, st->a, st->a_len); i++)
          a += st->a_len;
        for (int i = 0; i < st->stop && z - a >= st->a_len &&
                        !memcmp(d->t1.p + z - st->a_len, st->a, st->a_len);
             i++)
          z -= st->a_len;
        memmove(d->t1.p, d->t1.p + a, z - a);
        d->t1.len = z - a;
        break;
      }
      case TOK_DEC_METASPACE:
        if (piece_replace(d, st->a, st->a_len, d->index == 0 && st->prepend ? "" : " ",
                          d->index == 0 && st->prepend ? 0 : 1))
          return 1;
        break;
      case TOK_DEC_BYTELEVEL: {
        /* each character back to its byte; a piece with any other
         * character (an added token such as "<|im_start|>" maps, one with
         * a space does not) stays as it is */
        if (tok_utf8_check(d->t1.p, d->t1.len) != d->t1.len) break;
        d->t2.len = 0;
        if (tok_buf_reserve(&d->t2, d->t1.len)) return 1;
        int ok = 1;
        for (size_t i = 0; i < d->t1.len && ok;) {
          const uint32_t cp = tok_utf8_next(d->t1.p, &i);
          ok = cp < 0x144 && t->u2b[cp] >= 0;
          if (ok) d->t2.p[d->t2.len++] = (char)t->u2b[cp];
        }
        if (ok) {
          const tok_buf tmp = d->t1;
          d->t1 = d->t2;
          d->t2 = tmp;
        }
        break;
      }
      case TOK_DEC_FUSE:
        break;
    }
  }
  return 0;
}

/* Decodes one id, appending complete text to dst. */
static lc_status detok_push(lc_detokenizer *d, int32_t id, tok_buf *dst) {
  const lc_tokenizer *t = d->t;
  if (id < 0 || id >= t->vocab_size || !(t->flags[id] & TOK_F_PRESENT))
    return LC_FAIL(NULL, LC_ERR_OUT_OF_RANGE,
                   "lc_tokenizer_decode: id %d is not in the "
                   "vocabulary (0 .. %d)",
                   (int)id, (int)t->vocab_size - 1);
  const char *p = t->pool.p + t->piece_off[id];
  size_t n = t->piece_len[id];
  const int skip = (d->flags & LC_DECODE_SKIP_SPECIAL) && (t->flags[id] & TOK_F_SPECIAL);
  int oom = 0;
  if (t->type == LC_TOKENIZER_LLAMA2C) {
    /* run.c: no leading space right after BOS; <0xNN> pieces are bytes */
    const int32_t prev = d->prev;
    d->prev = id;
    if (skip) return LC_OK;
    if (prev == t->bos_id && t->bos_id >= 0 && n > 0 && p[0] == ' ') {
      p++;
      n--;
    }
    unsigned char b;
    if (byte_piece(p, n, &b))
      oom = emit(d, (const char *)&b, 1, dst);
    else
      oom = emit(d, p, n, dst);
  } else {
    if (skip) return LC_OK;
    d->t1.len = 0;
    if (t->dec_join_space && d->index > 0) oom = tok_buf_put(&d->t1, " ", 1);
    oom = oom || tok_buf_put(&d->t1, p, n) || piece_steps(d);
    d->index++;
    oom = oom || emit(d, d->t1.p, d->t1.len, dst);
  }
  return oom ? LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_tokenizer_decode: out of memory") : LC_OK;
}

static int detok_flush(lc_detokenizer *d, tok_buf *dst) {
  int oom = 0;
  if (d->npend > 0) oom = tok_buf_put(dst, REPL, 3);
  detok_reset(d);
  return oom;
}

lc_status lc_tokenizer_decode(const lc_tokenizer *t, const int32_t *ids, int64_t n, unsigned flags,
                              char **text, size_t *len) {
  static const char fn[] = "lc_tokenizer_decode";
  if (text) *text = NULL;
  if (len) *len = 0;
  if (!t || !text || (!ids && n > 0) || n < 0)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: NULL argument or negative count", fn);
  if (flags & ~(unsigned)LC_DECODE_SKIP_SPECIAL)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn, flags);
  lc_detokenizer d = {0};
  d.t = t;
  d.flags = flags;
  detok_reset(&d);
  tok_buf out = {0};
  lc_status st = LC_OK;
  for (int64_t i = 0; i < n && st == LC_OK; i++) st = detok_push(&d, ids[i], &out);
  if (st == LC_OK && (detok_flush(&d, &out) || tok_buf_put(&out, "", 1)))
    st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  tok_buf_free(&d.t1);
  tok_buf_free(&d.t2);
  if (st != LC_OK) {
    tok_buf_free(&out);
    return st;
  }
  *text = out.p;
  if (len) *len = out.len - 1;
  return LC_OK;
}

lc_status lc_detokenizer_create(const lc_tokenizer *t, unsigned flags, lc_detokenizer **out) {
  if (out) *out = NULL;
  if (!t || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_detokenizer_create: NULL argument");
  if (flags & ~(unsigned)LC_DECODE_SKIP_SPECIAL)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_detokenizer_create: unknown flags 0x%x",
                   flags);
  lc_detokenizer *d = lc_calloc(1, sizeof *d);
  if (!d) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_detokenizer_create: out of memory");
  d->t = t;
  d->flags = flags;
  detok_reset(d);
  *out = d;
  return LC_OK;
}

static lc_status detok_result(lc_detokenizer *d, const char **text, size_t *len) {
  if (tok_buf_put(&d->out, "", 1))
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_detokenizer: out of memory");
  *text = d->out.p;
  if (len) *len = d->out.len - 1;
  return LC_OK;
}

lc_status lc_detokenizer_push(lc_detokenizer *d, int32_t id, const char **text, size_t *len) {
  if (!d || !text)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_detokenizer_push: NULL argument");
  d->out.len = 0;
  LC_TRY(detok_push(d, id, &d->out));
  return detok_result(d, text, len);
}

lc_status lc_detokenizer_flush(lc_detokenizer *d, const char **text, size_t *len) {
  if (!d || !text)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_detokenizer_flush: NULL argument");
  d->out.len = 0;
  if (detok_flush(d, &d->out))
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_detokenizer_flush: out of memory");
  return detok_result(d, text, len);
}

void lc_detokenizer_free(lc_detokenizer *d) {
  if (!d) return;
  tok_buf_free(&d->out);
  tok_buf_free(&d->t1);
  tok_buf_free(&d->t2);
  free(d);
}
