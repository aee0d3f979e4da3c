/*
 * lib/tok_text.c — text handling for the tokenizers (lib/tok_internal.h):
 * UTF-8, the Unicode classes HF's added-token matching uses, the
 * tokenizer.json regexes (PCRE2), the normalizers (utf8proc for the Unicode
 * normal forms) and the pre-tokenizers (Split, ByteLevel, Metaspace), each
 * doing what the Hugging Face `tokenizers` library does with the same
 * description.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "lib/tok_internal.h"

/* ---- UTF-8 -------------------------------------------------------------------------*/

size_t tok_utf8_check(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    const unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    int need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
      need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0; /* no overlong forms */
      if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F; /* nothing past U+10FFFF */
    } else
      return i;
    if (len - i <= (size_t)need) return i;
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (int k = 2; k <= need; k++)
      if ((s[i + k] & 0xC0) != 0x80) return i;
    i += (size_t)need + 1;
  }
  return len;
}

uint32_t tok_utf8_next(const char *str, size_t *i) {
  const unsigned char *s = (const unsigned char *)str + *i;
  uint32_t c = s[0];
  if (c < 0x80) {
    *i += 1;
    return c;
  }
  if (c < 0xE0) {
    *i += 2;
    return (c & 0x1F) << 6 | (s[1] & 0x3F);
  }
  if (c < 0xF0) {
    *i += 3;
    return (c & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
  }
  *i += 4;
  return (c & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 |
         (s[3] & 0x3F);
}

int tok_utf8_put(uint32_t cp, char out[4]) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | cp >> 18);
  out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

int tok_is_white_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

int tok_is_word_char(uint32_t cp) {
  switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
      return 1;
    default:
      return 0;
  }
}

/* ---- regexes -------------------------------------------------------------------------*/

const char tok_gpt2_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* Oniguruma's \s (what HF's regexes mean) is Unicode White_Space; PCRE2's
 * \s under UCP lacks U+0085.  The class spelled out: */
#define WS_BODY "\\t-\\r\\x{20}\\x{85}\\p{Z}"

lc_status tok_regex_compile(const char *pattern, size_t len, const char *what, pcre2_code **out) {
  *out = NULL;
  tok_buf b = {0};
  int in_class = 0, oom = 0;
  for (size_t i = 0; i < len && !oom; i++) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < len) {
      const char e = pattern[i + 1];
      if (e == 's')
        oom = tok_buf_put(&b, in_class ? WS_BODY : "[" WS_BODY "]",
                          strlen(in_class ? WS_BODY : "[" WS_BODY "]"));
      else if (e == 'S' && !in_class)
        oom = tok_buf_put(&b, "[^" WS_BODY "]", strlen("[^" WS_BODY "]"));
      else
        oom = tok_buf_put(&b, pattern + i, 2);
      i++;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = 1;
      oom = tok_buf_put(&b, &c, 1);
      /* a ']' right after '[' or '[^' is literal */
      if (!oom && i + 1 < len && pattern[i + 1] == '^') oom = tok_buf_put(&b, pattern + ++i, 1);
      if (!oom && i + 1 < len && pattern[i + 1] == ']') oom = tok_buf_put(&b, pattern + ++i, 1);
      continue;
    }
    if (in_class && c == '[' && i + 1 < len && pattern[i + 1] == ':') {
      /* a POSIX class [:name:] inside a class */
      const char *end = NULL;
      for (size_t k = i + 2; k + 1 < len; k++)
        if (pattern[k] == ':' && pattern[k + 1] == ']') {
          end = pattern + k + 2;
          break;
        }
      if (end) {
        oom = tok_buf_put(&b, pattern + i, (size_t)(end - (pattern + i)));
        i = (size_t)(end - pattern) - 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = 0;
    oom = tok_buf_put(&b, &c, 1);
  }
  if (oom) {
    tok_buf_free(&b);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
  }
  int err = 0;
  PCRE2_SIZE erroff = 0;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)(b.p ? b.p : ""), b.len, PCRE2_UTF | PCRE2_UCP, &err,
                                 &erroff, NULL);
  tok_buf_free(&b);
  if (!re) {
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(err, msg, sizeof msg);
    if (err == PCRE2_ERROR_NOMEMORY)
      return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory compiling the regex", what);
    return LC_FAIL(NULL, LC_ERR_FORMAT, "%s: the regex '%.*s' does not compile: %s", what,
                   (int)(len > 200 ? 200 : len), pattern, (const char *)msg);
  }
  (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without JIT the interpreter runs */
  *out = re;
  return LC_OK;
}

lc_status tok_scratch_init(const lc_tokenizer *t, tok_scratch *s) {
  memset(s, 0, sizeof *s);
  int any_re = 0;
  for (int i = 0; i < t->n_pre; i++) any_re |= t->pre[i].re != NULL;
  for (int i = 0; i < t->n_norm; i++) any_re |= t->norm[i].re != NULL;
  if (!any_re) return LC_OK;
  s->md = pcre2_match_data_create(1, NULL);
  s->mctx = pcre2_match_context_create(NULL);
  if (!s->md || !s->mctx) {
    tok_scratch_free(s);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_tokenizer_encode: out of memory");
  }
  /* JIT code recurses on a stack of its own: 32 KiB first, up to 8 MiB for
   * long runs of one class; NULL (no JIT in this PCRE2) is fine. */
  s->jit = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
  if (s->jit) pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
  return LC_OK;
}

void tok_scratch_free(tok_scratch *s) {
  tok_buf_free(&s->arena);
  tok_buf_free(&s->word);
  tok_buf_free(&s->norm);
  tok_buf_free(&s->tmp);
  free(s->sym);
  free(s->heap);
  free(s->pa);
  free(s->pb);
  free(s->sp);
  free(s->seg1);
  free(s->seg2);
  pcre2_match_data_free(s->md);
  pcre2_match_context_free(s->mctx);
  pcre2_jit_stack_free(s->jit);
  memset(s, 0, sizeof *s);
}

/* The next match of re in subj[0, n) at or after *start: 1 (its range in
 * *a, *b; never empty), 0 (none), or a failure status in *st. */
static int regex_next(const pcre2_code *re, tok_scratch *s, const char *subj, size_t n,
                      size_t start, size_t *a, size_t *b, lc_status *st) {
  while (start <= n) {
    int rc = pcre2_match(re, (PCRE2_SPTR)subj, n, start, PCRE2_NO_UTF_CHECK, s->md, s->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* the interpreter keeps its frames on the heap */
      rc = pcre2_match(re, (PCRE2_SPTR)subj, n, start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, s->md,
                       s->mctx);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) {
      PCRE2_UCHAR msg[160];
      pcre2_get_error_message(rc, msg, sizeof msg);
      *st = LC_FAIL(NULL, rc == PCRE2_ERROR_NOMEMORY ? LC_ERR_OUT_OF_MEMORY : LC_ERR_UNSUPPORTED,
                    "lc_tokenizer_encode: the pre-tokenizer regex failed on this text (PCRE2: "
                    "%s)",
                    (const char *)msg);
      return 0;
    }
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
    if (ov[1] > ov[0]) {
      *a = ov[0];
      *b = ov[1];
      return 1;
    }
    /* an empty match splits nothing: search again one character later */
    if (ov[0] >= n) return 0;
    start = ov[0];
    (void)tok_utf8_next(subj, &start);
  }
  return 0;
}

/* ---- normalizers -----------------------------------------------------------------------*/

/* Replaces every match of (lit or re) in src[0, n) by rep into dst. */
static lc_status replace_all(tok_scratch *s, const char *src, size_t n, const char *lit,
                             size_t lit_len, const pcre2_code *re, const char *rep, size_t rep_len,
                             tok_buf *dst) {
  dst->len = 0;
  size_t pos = 0;
  lc_status st = LC_OK;
  for (;;) {
    size_t a = 0, b = 0;
    int found = 0;
    if (re) {
      found = regex_next(re, s, src, n, pos, &a, &b, &st);
      if (st != LC_OK) return st;
    } else if (lit_len > 0) {
      for (size_t i = pos; i + lit_len <= n; i++)
        if (src[i] == lit[0] && !memcmp(src + i, lit, lit_len)) {
          a = i;
          b = i + lit_len;
          found = 1;
          break;
        }
    }
    if (!found) break;
    if (tok_buf_put(dst, src + pos, a - pos) || tok_buf_put(dst, rep, rep_len)) goto oom;
    pos = b;
  }
  if (tok_buf_put(dst, src + pos, n - pos)) goto oom;
  return LC_OK;
oom:
  return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_tokenizer_encode: out of memory");
}

lc_status tok_normalize(const lc_tokenizer *t, tok_scratch *s, const char *text, size_t len) {
  static const char fn[] = "lc_tokenizer_encode";
  s->norm.len = 0;
  if (tok_buf_put(&s->norm, text, len)) goto oom;
  for (int k = 0; k < t->n_norm; k++) {
    const tok_norm *nm = &t->norm[k];
    switch (nm->kind) {
      case TOK_NORM_NFC:
      case TOK_NORM_NFD:
      case TOK_NORM_NFKC:
      case TOK_NORM_NFKD: {
        if (s->norm.len == 0) break;
        int opt = UTF8PROC_STABLE;
        if (nm->kind == TOK_NORM_NFC) opt |= UTF8PROC_COMPOSE;
        if (nm->kind == TOK_NORM_NFD) opt |= UTF8PROC_DECOMPOSE;
        if (nm->kind == TOK_NORM_NFKC) opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
        if (nm->kind == TOK_NORM_NFKD) opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
        utf8proc_uint8_t *dst = NULL;
        const utf8proc_ssize_t r =
            utf8proc_map((const utf8proc_uint8_t *)s->norm.p, (utf8proc_ssize_t)s->norm.len, &dst,
                         (utf8proc_option_t)opt);
        if (r < 0) {
          free(dst);
          if (r == UTF8PROC_ERROR_NOMEM) goto oom;
          return LC_FAIL(NULL, LC_ERR_INTERNAL, "%s: normalisation failed: %s", fn,
                         utf8proc_errmsg(r));
        }
        s->norm.len = 0;
        const int bad = tok_buf_put(&s->norm, dst, (size_t)r);
        free(dst);
        if (bad) goto oom;
        break;
      }
      case TOK_NORM_PREPEND:
        if (s->norm.len == 0) break;
        s->tmp.len = 0;
        if (tok_buf_put(&s->tmp, nm->a, nm->a_len) || tok_buf_put(&s->tmp, s->norm.p, s->norm.len))
          goto oom;
        s->norm.len = 0;
        if (tok_buf_put(&s->norm, s->tmp.p, s->tmp.len)) goto oom;
        break;
      case TOK_NORM_REPLACE:
        LC_TRY(replace_all(s, s->norm.p, s->norm.len, nm->a, nm->a_len, nm->re, nm->b, nm->b_len,
                           &s->tmp));
        s->norm.len = 0;
        if (tok_buf_put(&s->norm, s->tmp.p, s->tmp.len)) goto oom;
        break;
    }
  }
  return LC_OK;
oom:
  return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
}

lc_status tok_normalize_alloc(const lc_tokenizer *t, const char *text, size_t len, char **out,
                              size_t *out_len) {
  *out = NULL;
  tok_scratch s;
  LC_TRY(tok_scratch_init(t, &s));
  lc_status st = tok_normalize(t, &s, text, len);
  if (st == LC_OK && tok_buf_put(&s.norm, "", 1))
    st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  if (st == LC_OK) {
    *out = s.norm.p;
    *out_len = s.norm.len - 1;
    s.norm.p = NULL;
  }
  tok_scratch_free(&s);
  return st;
}

/* ---- pre-tokenizers ----------------------------------------------------------------------*/

static int push_piece(tok_piece **v, int64_t *n, int64_t *cap, tok_piece p) {
  if (*n == *cap) {
    int64_t c = *cap ? *cap * 2 : 64;
    tok_piece *q = lc_realloc(*v, (size_t)c * sizeof *q);
    if (!q) return 1;
    *v = q;
    *cap = c;
  }
  (*v)[(*n)++] = p;
  return 0;
}

static int push_span(tok_scratch *s, size_t a, size_t b, int32_t m) {
  if (s->nsp == s->cap_sp) {
    int64_t c = s->cap_sp ? s->cap_sp * 2 : 64;
    tok_span *q = lc_realloc(s->sp, (size_t)c * sizeof *q);
    if (!q) return 1;
    s->sp = q;
    s->cap_sp = c;
  }
  s->sp[s->nsp++] = (tok_span){a, b, m};
  return 0;
}

/* Splits piece p (text in the arena) by the matches of re or lit, keeping
 * them as behavior says; appends the non-empty parts to s->pb. */
static lc_status split_piece(tok_scratch *s, tok_piece p, const pcre2_code *re, const char *lit,
                             size_t lit_len, int behavior, int invert) {
  static const char fn[] = "lc_tokenizer_encode";
  /* 1. the piece as alternating (range, is_match) spans covering it */
  s->nsp = 0;
  size_t pos = 0;
  lc_status st = LC_OK;
  for (;;) {
    size_t a = 0, b = 0;
    int found = 0;
    const char *txt = s->arena.p + p.off;
    if (re) {
      found = regex_next(re, s, txt, p.len, pos, &a, &b, &st);
      if (st != LC_OK) return st;
    } else {
      for (size_t i = pos; i + lit_len <= p.len; i++)
        if (txt[i] == lit[0] && !memcmp(txt + i, lit, lit_len)) {
          a = i;
          b = i + lit_len;
          found = 1;
          break;
        }
    }
    if (!found) break;
    if (a > pos && push_span(s, pos, a, 0)) goto oom;
    if (push_span(s, a, b, 1)) goto oom;
    pos = b;
  }
  if (pos < p.len && push_span(s, pos, p.len, 0)) goto oom;
  if (invert)
    for (int64_t i = 0; i < s->nsp; i++) s->sp[i].m = !s->sp[i].m;
  /* 2. fold by behavior (HF's NormalizedString::split); m becomes "remove" */
  int64_t n = 0;
  int prev_match = 0;
  switch (behavior) {
    case TOK_SPLIT_ISOLATED:
      for (int64_t i = 0; i < s->nsp; i++) s->sp[i].m = 0;
      n = s->nsp;
      break;
    case TOK_SPLIT_REMOVED:
      n = s->nsp;
      break;
    case TOK_SPLIT_CONTIGUOUS:
      for (int64_t i = 0; i < s->nsp; i++) {
        const int m = s->sp[i].m;
        if (n > 0 && m == prev_match)
          s->sp[n - 1].b = s->sp[i].b;
        else
          s->sp[n++] = (tok_span){s->sp[i].a, s->sp[i].b, 0};
        prev_match = m;
      }
      break;
    case TOK_SPLIT_MERGED_WITH_PREVIOUS:
      for (int64_t i = 0; i < s->nsp; i++) {
        const int m = s->sp[i].m;
        if (n > 0 && m && !prev_match)
          s->sp[n - 1].b = s->sp[i].b;
        else
          s->sp[n++] = (tok_span){s->sp[i].a, s->sp[i].b, 0};
        prev_match = m;
      }
      break;
    case TOK_SPLIT_MERGED_WITH_NEXT: {
      /* from the right: a match joins the part after it */
      int64_t w = s->nsp;
      for (int64_t i = s->nsp - 1; i >= 0; i--) {
        const int m = s->sp[i].m;
        if (w < s->nsp && m && !prev_match)
          s->sp[w].a = s->sp[i].a;
        else
          s->sp[--w] = (tok_span){s->sp[i].a, s->sp[i].b, 0};
        prev_match = m;
      }
      memmove(s->sp, s->sp + w, (size_t)(s->nsp - w) * sizeof *s->sp);
      n = s->nsp - w;
      break;
    }
  }
  for (int64_t i = 0; i < n; i++) {
    if (s->sp[i].m || s->sp[i].b == s->sp[i].a) continue;
    const tok_piece q = {p.off + s->sp[i].a, s->sp[i].b - s->sp[i].a, p.orig0 && s->sp[i].a == 0};
    if (push_piece(&s->pb, &s->nb, &s->cap_b, q)) goto oom;
  }
  return LC_OK;
oom:
  return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
}

/* Appends to the arena: prefix, then the piece's text with every byte
 * string `from` replaced by `to`; *q gets the new piece. */
static int arena_rewrite(tok_scratch *s, tok_piece p, const char *prefix, size_t prefix_len,
                         const char *from, size_t from_len, const char *to, size_t to_len,
                         tok_piece *q) {
  size_t worst = prefix_len + p.len;
  if (from_len && to_len > from_len) worst += p.len / from_len * (to_len - from_len);
  if (tok_buf_reserve(&s->arena, worst)) return 1;
  const char *src = s->arena.p + p.off; /* stable: no realloc below */
  char *dst = s->arena.p + s->arena.len;
  size_t k = 0;
  memcpy(dst, prefix, prefix_len);
  k += prefix_len;
  for (size_t i = 0; i < p.len;) {
    if (from_len && i + from_len <= p.len && !memcmp(src + i, from, from_len)) {
      memcpy(dst + k, to, to_len);
      k += to_len;
      i += from_len;
    } else
      dst[k++] = src[i++];
  }
  *q = (tok_piece){s->arena.len, k, p.orig0};
  s->arena.len += k;
  return 0;
}

lc_status tok_pretokenize(const lc_tokenizer *t, tok_scratch *s, const char *text, size_t len,
                          int orig0) {
  static const char fn[] = "lc_tokenizer_encode";
  s->arena.len = 0;
  s->na = 0;
  if (len == 0) return LC_OK;
  if (tok_buf_put(&s->arena, text, len) ||
      push_piece(&s->pa, &s->na, &s->cap_a, (tok_piece){0, len, orig0}))
    goto oom;
  for (int k = 0; k < t->n_pre; k++) {
    const tok_pre *pr = &t->pre[k];
    s->nb = 0;
    for (int64_t i = 0; i < s->na; i++) {
      tok_piece p = s->pa[i];
      switch (pr->kind) {
        case TOK_PRE_SPLIT:
          LC_TRY(split_piece(s, p, pr->re, pr->lit, pr->lit_len, pr->behavior, pr->invert));
          break;
        case TOK_PRE_BYTELEVEL:
          if (pr->prefix && s->arena.p[p.off] != ' ' &&
              arena_rewrite(s, p, " ", 1, NULL, 0, NULL, 0, &p))
            goto oom;
          if (pr->re)
            LC_TRY(split_piece(s, p, pr->re, NULL, 0, TOK_SPLIT_ISOLATED, 0));
          else if (push_piece(&s->pb, &s->nb, &s->cap_b, p))
            goto oom;
          break;
        case TOK_PRE_METASPACE: {
          /* spaces become the replacement; then maybe a replacement in front */
          tok_piece q;
          if (arena_rewrite(s, p, "", 0, " ", 1, pr->rep, (size_t)pr->rep_len, &q)) goto oom;
          const int starts = q.len >= (size_t)pr->rep_len &&
                             !memcmp(s->arena.p + q.off, pr->rep, (size_t)pr->rep_len);
          if (!starts && (pr->prepend == 1 || (pr->prepend == 2 && q.orig0)) &&
              arena_rewrite(s, q, pr->rep, (size_t)pr->rep_len, NULL, 0, NULL, 0, &q))
            goto oom;
          if (pr->split)
            LC_TRY(split_piece(s, q, NULL, pr->rep, (size_t)pr->rep_len, TOK_SPLIT_MERGED_WITH_NEXT,
                               0));
          else if (push_piece(&s->pb, &s->nb, &s->cap_b, q))
            goto oom;
          break;
        }
      }
    }
    tok_piece *tv = s->pa;
    s->pa = s->pb;
    s->pb = tv;
    int64_t tc = s->cap_a;
    s->cap_a = s->cap_b;
    s->cap_b = tc;
    s->na = s->nb;
    s->nb = 0;
  }
  return LC_OK;
oom:
  return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
}
