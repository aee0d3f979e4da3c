/*
 * lib/tok_json.c — reading Hugging Face tokenizer.json (a BPE model with its
 * normalizers, pre-tokenizers, post-processor and decoder) and the
 * tokenizer_config.json beside it, with jansson.  Every component this
 * library does not implement is refused by name (LC_ERR_UNSUPPORTED) rather
 * than approximated; docs/text.md lists what is supported.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "lib/tok_internal.h"

/* The parse of one file: where messages point. */
typedef struct jp {
  lc_tokenizer *t;
  const char *path;
  int has_template; /* the post-processor fixed the specials */
  int fused;        /* the decoder has joined the pieces (Fuse, ByteLevel) */
} jp;

/* "tokenizer.json 'PATH': where: message" with status st. */
static lc_status jfail(const jp *p, lc_status st, const char *where, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static lc_status jfail(const jp *p, lc_status st, const char *where, const char *fmt, ...) {
  char msg[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return LC_FAIL(NULL, st, "tokenizer.json '%s': %s: %s", p->path, where, msg);
}

static lc_status oom(const jp *p) {
  return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "tokenizer.json '%s': out of memory", p->path);
}

/* key of o as a string (bytes may include NUL): *s NULL when missing or
 * null and !required. */
static lc_status jstr(const jp *p, const json_t *o, const char *key, const char *where,
                      int required, const char **s, size_t *n) {
  *s = NULL;
  *n = 0;
  const json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v)) {
    if (required) return jfail(p, LC_ERR_FORMAT, where, "\"%s\" is missing", key);
    return LC_OK;
  }
  if (!json_is_string(v)) return jfail(p, LC_ERR_FORMAT, where, "\"%s\" is not a string", key);
  *s = json_string_value(v);
  *n = json_string_length(v);
  return LC_OK;
}

static lc_status jbool(const jp *p, const json_t *o, const char *key, const char *where, int def,
                       int *out) {
  const json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v)) {
    *out = def;
    return LC_OK;
  }
  if (!json_is_boolean(v))
    return jfail(p, LC_ERR_FORMAT, where, "\"%s\" is not true or false", key);
  *out = json_is_true(v);
  return LC_OK;
}

static lc_status jint(const jp *p, const json_t *o, const char *key, const char *where,
                      long long lo, long long hi, long long def, long long *out) {
  const json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v)) {
    *out = def;
    return LC_OK;
  }
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
    return jfail(p, LC_ERR_FORMAT, where, "\"%s\" is not an integer in %lld .. %lld", key, lo, hi);
  *out = json_integer_value(v);
  return LC_OK;
}

/* A component: an object with a "type" string. */
static lc_status jtype(const jp *p, const json_t *o, const char *where, const char **type) {
  if (!json_is_object(o)) return jfail(p, LC_ERR_FORMAT, where, "expected an object");
  size_t n;
  LC_TRY(jstr(p, o, "type", where, 1, type, &n));
  return LC_OK;
}

static char *dup_bytes(const char *s, size_t n) {
  char *d = lc_malloc(n + 1);
  if (!d) return NULL;
  if (n) memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* A {"String": s} or {"Regex": r} pattern: *lit or *re. */
static lc_status jpattern(const jp *p, const json_t *o, const char *where, char **lit,
                          size_t *lit_len, pcre2_code **re) {
  *lit = NULL;
  *lit_len = 0;
  *re = NULL;
  const json_t *pat = json_object_get(o, "pattern");
  if (!json_is_object(pat))
    return jfail(p, LC_ERR_FORMAT, where,
                 "\"pattern\" is not an object {\"String\"|\"Regex\": ...}");
  const json_t *sv = json_object_get(pat, "String"), *rv = json_object_get(pat, "Regex");
  if (json_is_string(sv)) {
    if (json_string_length(sv) == 0)
      return jfail(p, LC_ERR_FORMAT, where, "the \"String\" pattern is empty");
    *lit = dup_bytes(json_string_value(sv), json_string_length(sv));
    if (!*lit) return oom(p);
    *lit_len = json_string_length(sv);
    return LC_OK;
  }
  if (json_is_string(rv)) {
    char w[200];
    snprintf(w, sizeof w, "tokenizer.json '%s': %s", p->path, where);
    return tok_regex_compile(json_string_value(rv), json_string_length(rv), w, re);
  }
  return jfail(p, LC_ERR_FORMAT, where, "\"pattern\" has neither a \"String\" nor a \"Regex\"");
}

/* One UTF-8 character from key (Metaspace's replacement, Strip's content). */
static lc_status jchar(const jp *p, const json_t *o, const char *key, const char *where,
                       const char *def, char out[5], int *out_len) {
  const char *s;
  size_t n;
  LC_TRY(jstr(p, o, key, where, def == NULL, &s, &n));
  if (!s) {
    s = def;
    n = strlen(def);
  }
  size_t i = 0;
  if (n == 0 || n > 4 || tok_utf8_check(s, n) != n || (tok_utf8_next(s, &i), i != n))
    return jfail(p, LC_ERR_FORMAT, where, "\"%s\" is not a single character", key);
  memcpy(out, s, n);
  out[n] = '\0';
  *out_len = (int)n;
  return LC_OK;
}

/* ---- model -------------------------------------------------------------------------------*/

static lc_status parse_merges(jp *p, const json_t *merges) {
  lc_tokenizer *t = p->t;
  static const char w[] = "model.merges";
  if (!merges || json_is_null(merges)) merges = NULL;
  if (merges && !json_is_array(merges))
    return jfail(p, LC_ERR_FORMAT, w, "expected an array of \"a b\" strings or [a, b] pairs");
  const size_t n = merges ? json_array_size(merges) : 0;
  if (n >= INT32_MAX) return jfail(p, LC_ERR_FORMAT, w, "too many merges");
  if (tok_pairtab_init(&t->merges, (uint32_t)n)) return oom(p);
  tok_buf cat = {0};
  lc_status st = LC_OK;
  for (size_t i = 0; i < n && st == LC_OK; i++) {
    const json_t *m = json_array_get(merges, i);
    const char *a = NULL, *b = NULL;
    size_t an = 0, bn = 0;
    if (json_is_string(m)) {
      const char *s = json_string_value(m);
      const size_t sn = json_string_length(m);
      const char *sp = memchr(s, ' ', sn);
      if (sp && !memchr(sp + 1, ' ', sn - (size_t)(sp + 1 - s))) {
        a = s;
        an = (size_t)(sp - s);
        b = sp + 1;
        bn = sn - an - 1;
      }
    } else if (json_is_array(m) && json_array_size(m) == 2 &&
               json_is_string(json_array_get(m, 0)) && json_is_string(json_array_get(m, 1))) {
      a = json_string_value(json_array_get(m, 0));
      an = json_string_length(json_array_get(m, 0));
      b = json_string_value(json_array_get(m, 1));
      bn = json_string_length(json_array_get(m, 1));
    }
    if (!a) {
      st = jfail(p, LC_ERR_FORMAT, w, "merge %zu is neither \"a b\" (one space) nor [a, b]", i);
      break;
    }
    const int32_t ia = tok_strtab_get(&t->vocab, t->pool.p, a, an);
    const int32_t ib = tok_strtab_get(&t->vocab, t->pool.p, b, bn);
    cat.len = 0;
    if (tok_buf_put(&cat, a, an) || tok_buf_put(&cat, b, bn)) {
      st = oom(p);
      break;
    }
    const int32_t im = tok_strtab_get(&t->vocab, t->pool.p, cat.p, cat.len);
    if (ia < 0 || ib < 0 || im < 0) {
      st = jfail(p, LC_ERR_FORMAT, w,
                 "merge %zu ('%.*s' + '%.*s'): '%.*s' is not in the "
                 "vocabulary",
                 i, (int)(an > 60 ? 60 : an), a, (int)(bn > 60 ? 60 : bn), b,
                 ia < 0   ? (int)(an > 60 ? 60 : an)
                 : ib < 0 ? (int)(bn > 60 ? 60 : bn)
                          : (int)(cat.len > 120 ? 120 : cat.len),
                 ia < 0   ? a
                 : ib < 0 ? b
                          : cat.p);
      break;
    }
    if (tok_pairtab_put(&t->merges, ia, ib, (int32_t)i, im)) st = oom(p);
  }
  tok_buf_free(&cat);
  return st;
}

/* Ids the vocabulary and the added tokens may leave without a piece, past
 * twice their number (max_id's rule). */
#define TOK_MAX_ID_GAP 65536

/* The largest id of vocab and added_tokens (already checked to be objects/arrays). */
static lc_status max_id(const jp *p, const json_t *vocab, const json_t *added, int32_t *out) {
  long long mx = -1;
  const char *key;
  size_t key_len;
  const json_t *v;
  json_object_keylen_foreach((json_t *)vocab, key, key_len, v) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= INT32_MAX - 1)
      return jfail(p, LC_ERR_FORMAT, "model.vocab",
                   "the id of '%.*s' is not an integer in 0 .. "
                   "2^31 - 3",
                   (int)(key_len > 60 ? 60 : key_len), key);
    if (json_integer_value(v) > mx) mx = json_integer_value(v);
  }
  for (size_t i = 0; added && i < json_array_size(added); i++) {
    const json_t *a = json_array_get(added, i);
    const json_t *id = json_object_get(a, "id");
    if (!json_is_object(a) || !json_is_integer(id) || json_integer_value(id) < 0 ||
        json_integer_value(id) >= INT32_MAX - 1)
      return jfail(p, LC_ERR_FORMAT, "added_tokens",
                   "entry %zu has no integer \"id\" in 0 .. "
                   "2^31 - 3",
                   i);
    if (json_integer_value(id) > mx) mx = json_integer_value(id);
  }
  if (mx < 0) return jfail(p, LC_ERR_FORMAT, "model.vocab", "the vocabulary is empty");
  /* The id tables hold every id up to the largest (9 bytes each): a tiny
   * file naming id 2^31-3 would cost 19 GiB.  Real vocabularies are dense. */
  const long long entries = (long long)json_object_size(vocab) + (long long)json_array_size(added);
  if (mx + 1 > 2 * entries + TOK_MAX_ID_GAP)
    return jfail(p, LC_ERR_FORMAT, "model.vocab",
                 "the largest id %lld is past 2 x the %lld pieces + %d: layercast keeps a "
                 "table of every id up to the largest, and refuses one mostly empty",
                 mx, entries, TOK_MAX_ID_GAP);
  *out = (int32_t)mx;
  return LC_OK;
}

static lc_status parse_model(jp *p, const json_t *model, const json_t *added) {
  lc_tokenizer *t = p->t;
  static const char w[] = "model";
  if (!json_is_object(model)) return jfail(p, LC_ERR_FORMAT, w, "missing, or not an object");
  const char *type;
  size_t tn;
  LC_TRY(jstr(p, model, "type", w, 0, &type, &tn));
  if (type && strcmp(type, "BPE"))
    return jfail(p, LC_ERR_UNSUPPORTED, w,
                 "model type '%s' is not supported (only BPE: byte-level or SentencePiece-style)",
                 type);
  if (!type && !json_object_get(model, "merges"))
    return jfail(p, LC_ERR_UNSUPPORTED, w, "no \"type\" and no \"merges\": not a BPE model");
  const json_t *vocab = json_object_get(model, "vocab");
  if (!json_is_object(vocab)) return jfail(p, LC_ERR_FORMAT, "model.vocab", "not an object");
  if (json_object_size(vocab) >= INT32_MAX / 4)
    return jfail(p, LC_ERR_FORMAT, "model.vocab", "too many pieces");
  /* options */
  const json_t *drop = json_object_get(model, "dropout");
  if (drop && !json_is_null(drop) && !(json_is_number(drop) && json_number_value(drop) == 0))
    return jfail(p, LC_ERR_UNSUPPORTED, w, "BPE dropout (random merges) is not supported");
  const char *s;
  size_t n;
  LC_TRY(jstr(p, model, "continuing_subword_prefix", w, 0, &s, &n));
  if (s && n)
    return jfail(p, LC_ERR_UNSUPPORTED, w, "continuing_subword_prefix '%s' is not supported", s);
  LC_TRY(jstr(p, model, "end_of_word_suffix", w, 0, &s, &n));
  if (s && n) return jfail(p, LC_ERR_UNSUPPORTED, w, "end_of_word_suffix '%s' is not supported", s);
  LC_TRY(jbool(p, model, "byte_fallback", w, 0, &t->byte_fallback));
  LC_TRY(jbool(p, model, "fuse_unk", w, 0, &t->fuse_unk));
  LC_TRY(jbool(p, model, "ignore_merges", w, 0, &t->ignore_merges));
  /* ids: the model's and the added tokens' */
  int32_t mx = 0;
  LC_TRY(max_id(p, vocab, added, &mx));
  LC_TRY(tok_alloc_ids(t, mx + 1, p->path));
  if (tok_strtab_init(&t->vocab, (uint32_t)json_object_size(vocab))) return oom(p);
  const char *key;
  size_t key_len;
  const json_t *v;
  json_object_keylen_foreach((json_t *)vocab, key, key_len, v) {
    const int32_t id = (int32_t)json_integer_value(v);
    uint32_t off;
    LC_TRY(tok_pool_add(t, key, key_len, &off));
    if (!(t->flags[id] & TOK_F_PRESENT)) tok_set_piece(t, id, off, (uint32_t)key_len, 0);
    if (tok_strtab_put(&t->vocab, t->pool.p, off, (uint32_t)key_len, id, 1))
      return jfail(p, LC_ERR_INTERNAL, "model.vocab", "table full");
  }
  LC_TRY(jstr(p, model, "unk_token", w, 0, &s, &n));
  if (s) {
    t->unk_id = tok_strtab_get(&t->vocab, t->pool.p, s, n);
    if (t->unk_id < 0 && !(t->unk_missing = dup_bytes(s, n))) return oom(p);
  }
  return parse_merges(p, json_object_get(model, "merges"));
}

/* ---- added tokens -----------------------------------------------------------------------*/

static lc_status parse_added(jp *p, const json_t *added) {
  lc_tokenizer *t = p->t;
  static const char w[] = "added_tokens";
  const size_t n = added ? json_array_size(added) : 0;
  t->added = lc_calloc(n ? n : 1, sizeof *t->added);
  if (!t->added || tok_strtab_init(&t->added_tab, (uint32_t)n)) return oom(p);
  for (size_t i = 0; i < n; i++) {
    const json_t *a = json_array_get(added, i);
    const char *c;
    size_t cn;
    LC_TRY(jstr(p, a, "content", w, 1, &c, &cn));
    if (cn == 0) continue; /* HF ignores empty tokens */
    tok_added ad = {0};
    ad.id = (int32_t)json_integer_value(json_object_get(a, "id"));
    int special = 0, single = 0, lstrip = 0, rstrip = 0, normalized = 1;
    LC_TRY(jbool(p, a, "special", w, 0, &special));
    LC_TRY(jbool(p, a, "single_word", w, 0, &single));
    LC_TRY(jbool(p, a, "lstrip", w, 0, &lstrip));
    LC_TRY(jbool(p, a, "rstrip", w, 0, &rstrip));
    LC_TRY(jbool(p, a, "normalized", w, !special, &normalized));
    if (tok_strtab_get(&t->added_tab, t->pool.p, c, cn) >= 0) continue; /* repeated content */
    LC_TRY(tok_pool_add(t, c, cn, &ad.off));
    ad.len = (uint32_t)cn;
    ad.special = (uint8_t)special;
    ad.single_word = (uint8_t)single;
    ad.lstrip = (uint8_t)lstrip;
    ad.rstrip = (uint8_t)rstrip;
    ad.normalized = (uint8_t)normalized;
    ad.noff = ad.off;
    ad.nlen = ad.len;
    if (normalized && t->n_norm > 0) {
      char *nc = NULL;
      size_t nl = 0;
      LC_TRY(tok_normalize_alloc(t, c, cn, &nc, &nl));
      const lc_status st = tok_pool_add(t, nc, nl, &ad.noff);
      free(nc);
      LC_TRY(st);
      ad.nlen = (uint32_t)nl;
    }
    /* the piece of a normalized token is its normalized content (HF's
     * id_to_token), found by its content as written (token_to_id) */
    tok_set_piece(t, ad.id, ad.noff, ad.nlen,
                  (uint8_t)(TOK_F_ADDED | (special ? TOK_F_SPECIAL : 0)));
    if (tok_strtab_put(&t->added_tab, t->pool.p, ad.off, ad.len, ad.id, 0))
      return jfail(p, LC_ERR_INTERNAL, w, "table full");
    t->added[t->n_added++] = ad;
  }
  return tok_matchers_build(t);
}

/* ---- normalizers ----------------------------------------------------------------------------*/

static lc_status add_norm(jp *p, tok_norm nm) {
  lc_tokenizer *t = p->t;
  tok_norm *v = lc_realloc(t->norm, (size_t)(t->n_norm + 1) * sizeof *v);
  if (!v) {
    free(nm.a);
    free(nm.b);
    pcre2_code_free(nm.re);
    return oom(p);
  }
  t->norm = v;
  t->norm[t->n_norm++] = nm;
  return LC_OK;
}

static lc_status parse_normalizer(jp *p, const json_t *o, int depth) {
  static const char w[] = "normalizer";
  if (!o || json_is_null(o)) return LC_OK;
  if (depth > 16) return jfail(p, LC_ERR_FORMAT, w, "nested too deeply");
  const char *type;
  LC_TRY(jtype(p, o, w, &type));
  tok_norm nm = {0};
  if (!strcmp(type, "Sequence")) {
    const json_t *list = json_object_get(o, "normalizers");
    if (!json_is_array(list))
      return jfail(p, LC_ERR_FORMAT, w, "Sequence without a \"normalizers\" array");
    for (size_t i = 0; i < json_array_size(list); i++)
      LC_TRY(parse_normalizer(p, json_array_get(list, i), depth + 1));
    return LC_OK;
  }
  if (!strcmp(type, "NFC") || !strcmp(type, "NFD") || !strcmp(type, "NFKC") ||
      !strcmp(type, "NFKD")) {
    nm.kind = !strcmp(type, "NFC")    ? TOK_NORM_NFC
              : !strcmp(type, "NFD")  ? TOK_NORM_NFD
              : !strcmp(type, "NFKC") ? TOK_NORM_NFKC
                                      : TOK_NORM_NFKD;
    if (nm.kind == TOK_NORM_NFC) p->t->nfc = 1;
    return add_norm(p, nm);
  }
  if (!strcmp(type, "Prepend")) {
    const char *s;
    size_t n;
    LC_TRY(jstr(p, o, "prepend", w, 1, &s, &n));
    nm.kind = TOK_NORM_PREPEND;
    if (!(nm.a = dup_bytes(s, n))) return oom(p);
    nm.a_len = n;
    return add_norm(p, nm);
  }
  if (!strcmp(type, "Replace")) {
    const char *s;
    size_t n;
    LC_TRY(jstr(p, o, "content", w, 1, &s, &n));
    nm.kind = TOK_NORM_REPLACE;
    LC_TRY(jpattern(p, o, w, &nm.a, &nm.a_len, &nm.re));
    if (!(nm.b = dup_bytes(s, n))) {
      free(nm.a);
      pcre2_code_free(nm.re);
      return oom(p);
    }
    nm.b_len = n;
    return add_norm(p, nm);
  }
  return jfail(p, LC_ERR_UNSUPPORTED, w,
               "normalizer '%s' is not supported (supported: NFC, NFD, NFKC, NFKD, Prepend, "
               "Replace, Sequence)",
               type);
}

/* ---- pre-tokenizers ------------------------------------------------------------------------*/

static lc_status add_pre(jp *p, tok_pre pr) {
  lc_tokenizer *t = p->t;
  tok_pre *v = lc_realloc(t->pre, (size_t)(t->n_pre + 1) * sizeof *v);
  if (!v) {
    pcre2_code_free(pr.re);
    free(pr.lit);
    return oom(p);
  }
  t->pre = v;
  t->pre[t->n_pre++] = pr;
  return LC_OK;
}

static lc_status parse_pretok(jp *p, const json_t *o, int depth) {
  static const char w[] = "pre_tokenizer";
  lc_tokenizer *t = p->t;
  if (!o || json_is_null(o)) return LC_OK;
  if (depth > 16) return jfail(p, LC_ERR_FORMAT, w, "nested too deeply");
  const char *type;
  LC_TRY(jtype(p, o, w, &type));
  if (!strcmp(type, "Sequence")) {
    const json_t *list = json_object_get(o, "pretokenizers");
    if (!json_is_array(list))
      return jfail(p, LC_ERR_FORMAT, w, "Sequence without a \"pretokenizers\" array");
    for (size_t i = 0; i < json_array_size(list); i++)
      LC_TRY(parse_pretok(p, json_array_get(list, i), depth + 1));
    return LC_OK;
  }
  if (t->byte_level)
    return jfail(p, LC_ERR_UNSUPPORTED, w, "a '%s' pre-tokenizer after ByteLevel is not supported",
                 type);
  tok_pre pr = {0};
  if (!strcmp(type, "ByteLevel")) {
    int use_regex = 1;
    pr.kind = TOK_PRE_BYTELEVEL;
    LC_TRY(jbool(p, o, "add_prefix_space", w, 1, &pr.prefix));
    LC_TRY(jbool(p, o, "use_regex", w, 1, &use_regex));
    if (use_regex)
      LC_TRY(tok_regex_compile(tok_gpt2_regex, strlen(tok_gpt2_regex), "ByteLevel", &pr.re));
    t->byte_level = 1;
    return add_pre(p, pr);
  }
  if (!strcmp(type, "Split")) {
    const char *b;
    size_t bn;
    pr.kind = TOK_PRE_SPLIT;
    LC_TRY(jstr(p, o, "behavior", w, 1, &b, &bn));
    pr.behavior = !strcmp(b, "Removed")              ? TOK_SPLIT_REMOVED
                  : !strcmp(b, "Isolated")           ? TOK_SPLIT_ISOLATED
                  : !strcmp(b, "MergedWithPrevious") ? TOK_SPLIT_MERGED_WITH_PREVIOUS
                  : !strcmp(b, "MergedWithNext")     ? TOK_SPLIT_MERGED_WITH_NEXT
                  : !strcmp(b, "Contiguous")         ? TOK_SPLIT_CONTIGUOUS
                                                     : 0;
    if (!pr.behavior) return jfail(p, LC_ERR_FORMAT, w, "unknown Split behavior '%s'", b);
    LC_TRY(jbool(p, o, "invert", w, 0, &pr.invert));
    LC_TRY(jpattern(p, o, w, &pr.lit, &pr.lit_len, &pr.re));
    return add_pre(p, pr);
  }
  if (!strcmp(type, "Metaspace")) {
    pr.kind = TOK_PRE_METASPACE;
    LC_TRY(jchar(p, o, "replacement", w, "\xE2\x96\x81", pr.rep, &pr.rep_len));
    const char *ps;
    size_t pn;
    int aps = 1;
    LC_TRY(jstr(p, o, "prepend_scheme", w, 0, &ps, &pn));
    LC_TRY(jbool(p, o, "add_prefix_space", w, 1, &aps));
    pr.prepend = 1;
    if (ps) {
      pr.prepend = !strcmp(ps, "never")    ? 0
                   : !strcmp(ps, "always") ? 1
                   : !strcmp(ps, "first")  ? 2
                                           : -1;
      if (pr.prepend < 0) return jfail(p, LC_ERR_FORMAT, w, "unknown prepend_scheme '%s'", ps);
    }
    if (!aps) pr.prepend = 0;
    LC_TRY(jbool(p, o, "split", w, 1, &pr.split));
    return add_pre(p, pr);
  }
  return jfail(p, LC_ERR_UNSUPPORTED, w,
               "pre-tokenizer '%s' is not supported (supported: ByteLevel, Split, Metaspace, "
               "Sequence)",
               type);
}

/* ---- post-processor --------------------------------------------------------------------------*/

static lc_status put_ids(jp *p, int32_t **v, int32_t *n, const json_t *ids, const char *where) {
  for (size_t i = 0; i < json_array_size(ids); i++) {
    const json_t *x = json_array_get(ids, i);
    if (!json_is_integer(x) || json_integer_value(x) < 0 ||
        json_integer_value(x) >= p->t->vocab_size)
      return jfail(p, LC_ERR_FORMAT, where, "special token id %zu is not an id of the vocabulary",
                   i);
    int32_t *q = lc_realloc(*v, (size_t)(*n + 1) * sizeof *q);
    if (!q) return oom(p);
    *v = q;
    (*v)[(*n)++] = (int32_t)json_integer_value(x);
  }
  return LC_OK;
}

static lc_status parse_template(jp *p, const json_t *o) {
  static const char w[] = "post_processor (TemplateProcessing)";
  lc_tokenizer *t = p->t;
  const json_t *single = json_object_get(o, "single"), *sp = json_object_get(o, "special_tokens");
  if (!json_is_array(single)) return jfail(p, LC_ERR_FORMAT, w, "\"single\" is not an array");
  if (p->has_template) return jfail(p, LC_ERR_UNSUPPORTED, w, "more than one template");
  p->has_template = 1;
  int seen_a = 0;
  for (size_t i = 0; i < json_array_size(single); i++) {
    const json_t *it = json_array_get(single, i);
    const json_t *spc = json_object_get(it, "SpecialToken"), *seq = json_object_get(it, "Sequence");
    if (json_is_object(seq)) {
      const char *id;
      size_t n;
      LC_TRY(jstr(p, seq, "id", w, 1, &id, &n));
      if (strcmp(id, "A") || seen_a)
        return jfail(p, LC_ERR_FORMAT, w,
                     "the single template holds Sequence '%s' (expected A, "
                     "once)",
                     id);
      seen_a = 1;
    } else if (json_is_object(spc)) {
      const char *name;
      size_t n;
      LC_TRY(jstr(p, spc, "id", w, 1, &name, &n));
      const json_t *entry = json_object_get(sp, name);
      const json_t *ids = json_object_get(entry, "ids");
      if (!json_is_array(ids))
        return jfail(p, LC_ERR_FORMAT, w, "special token '%s' has no \"ids\" in \"special_tokens\"",
                     name);
      LC_TRY(seen_a ? put_ids(p, &t->suffix, &t->n_suffix, ids, w)
                    : put_ids(p, &t->prefix, &t->n_prefix, ids, w));
    } else {
      return jfail(p, LC_ERR_FORMAT, w, "item %zu is neither SpecialToken nor Sequence", i);
    }
  }
  if (!seen_a) return jfail(p, LC_ERR_FORMAT, w, "the single template has no Sequence A");
  return LC_OK;
}

/* Bert/Roberta processors: [cls] A [sep], each given as [token, id]. */
static lc_status parse_cls_sep(jp *p, const json_t *o, const char *type) {
  lc_tokenizer *t = p->t;
  if (p->has_template) return jfail(p, LC_ERR_UNSUPPORTED, type, "more than one template");
  p->has_template = 1;
  const char *keys[2] = {"cls", "sep"};
  for (int k = 0; k < 2; k++) {
    const json_t *pair = json_object_get(o, keys[k]);
    const json_t *id = json_array_get(pair, 1);
    if (!json_is_array(pair) || !json_is_integer(id))
      return jfail(p, LC_ERR_FORMAT, type, "\"%s\" is not [token, id]", keys[k]);
    json_t *one = json_array();
    if (!one || json_array_append(one, (json_t *)id)) {
      json_decref(one);
      return oom(p);
    }
    const lc_status st = k == 0 ? put_ids(p, &t->prefix, &t->n_prefix, one, type)
                                : put_ids(p, &t->suffix, &t->n_suffix, one, type);
    json_decref(one);
    LC_TRY(st);
  }
  return LC_OK;
}

static lc_status parse_post(jp *p, const json_t *o, int depth) {
  static const char w[] = "post_processor";
  if (!o || json_is_null(o)) return LC_OK;
  if (depth > 16) return jfail(p, LC_ERR_FORMAT, w, "nested too deeply");
  const char *type;
  LC_TRY(jtype(p, o, w, &type));
  if (!strcmp(type, "Sequence")) {
    const json_t *list = json_object_get(o, "processors");
    if (!json_is_array(list))
      return jfail(p, LC_ERR_FORMAT, w, "Sequence without a \"processors\" array");
    for (size_t i = 0; i < json_array_size(list); i++)
      LC_TRY(parse_post(p, json_array_get(list, i), depth + 1));
    return LC_OK;
  }
  if (!strcmp(type, "ByteLevel")) return LC_OK; /* offsets only */
  if (!strcmp(type, "TemplateProcessing")) return parse_template(p, o);
  if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing"))
    return parse_cls_sep(p, o, type);
  return jfail(p, LC_ERR_UNSUPPORTED, w,
               "post-processor '%s' is not supported (supported: TemplateProcessing, ByteLevel, "
               "BertProcessing, RobertaProcessing, Sequence)",
               type);
}

/* ---- decoder
 * ------------------------------------------------------------------------------------*/

static lc_status add_dec(jp *p, tok_dec d) {
  lc_tokenizer *t = p->t;
  tok_dec *v = lc_realloc(t->dec, (size_t)(t->n_dec + 1) * sizeof *v);
  if (!v) {
    free(d.a);
    free(d.b);
    return oom(p);
  }
  t->dec = v;
  t->dec[t->n_dec++] = d;
  return LC_OK;
}

static lc_status parse_decoder(jp *p, const json_t *o, int depth) {
  static const char w[] = "decoder";
  lc_tokenizer *t = p->t;
  if (!o || json_is_null(o)) {
    if (depth == 0) t->dec_join_space = 1; /* HF joins the pieces with spaces */
    return LC_OK;
  }
  if (depth > 16) return jfail(p, LC_ERR_FORMAT, w, "nested too deeply");
  const char *type;
  LC_TRY(jtype(p, o, w, &type));
  if (!strcmp(type, "Sequence")) {
    const json_t *list = json_object_get(o, "decoders");
    if (!json_is_array(list))
      return jfail(p, LC_ERR_FORMAT, w, "Sequence without a \"decoders\" array");
    for (size_t i = 0; i < json_array_size(list); i++)
      LC_TRY(parse_decoder(p, json_array_get(list, i), depth + 1));
    return LC_OK;
  }
  tok_dec d = {0};
  if (!strcmp(type, "Strip")) {
    char c[5];
    int cn = 0;
    long long start = 0, stop = 0;
    LC_TRY(jchar(p, o, "content", w, NULL, c, &cn));
    LC_TRY(jint(p, o, "start", w, 0, 1 << 20, 0, &start));
    LC_TRY(jint(p, o, "stop", w, 0, 1 << 20, 0, &stop));
    if (p->fused) {
      /* on the whole text: only a leading strip can be streamed */
      if (stop > 0 || cn != 1 || t->dec_strip_n > 0)
        return jfail(p, LC_ERR_UNSUPPORTED, w,
                     "Strip after Fuse/ByteLevel is supported only as one leading strip of an "
                     "ASCII character (stop 0)");
      t->dec_strip_n = (int)start;
      t->dec_strip_c = c[0];
      return LC_OK;
    }
    d.kind = TOK_DEC_STRIP;
    if (!(d.a = dup_bytes(c, (size_t)cn))) return oom(p);
    d.a_len = (size_t)cn;
    d.start = (int)start;
    d.stop = (int)stop;
    return add_dec(p, d);
  }
  if (!strcmp(type, "Fuse")) {
    p->fused = 1;
    return LC_OK;
  }
  if (p->fused)
    return jfail(p, LC_ERR_UNSUPPORTED, w,
                 "decoder step '%s' after Fuse/ByteLevel is not supported", type);
  if (!strcmp(type, "Replace")) {
    const char *s;
    size_t n;
    pcre2_code *re = NULL;
    LC_TRY(jstr(p, o, "content", w, 1, &s, &n));
    LC_TRY(jpattern(p, o, w, &d.a, &d.a_len, &re));
    if (re) {
      pcre2_code_free(re);
      return jfail(p, LC_ERR_UNSUPPORTED, w,
                   "a Replace decoder with a Regex pattern is not "
                   "supported");
    }
    d.kind = TOK_DEC_REPLACE;
    if (!(d.b = dup_bytes(s, n))) {
      free(d.a);
      return oom(p);
    }
    d.b_len = n;
    return add_dec(p, d);
  }
  if (!strcmp(type, "ByteFallback")) {
    d.kind = TOK_DEC_BYTEFALLBACK;
    return add_dec(p, d);
  }
  if (!strcmp(type, "Metaspace")) {
    char c[5];
    int cn = 0, aps = 1;
    const char *ps;
    size_t pn;
    LC_TRY(jchar(p, o, "replacement", w, "\xE2\x96\x81", c, &cn));
    LC_TRY(jstr(p, o, "prepend_scheme", w, 0, &ps, &pn));
    LC_TRY(jbool(p, o, "add_prefix_space", w, 1, &aps));
    d.kind = TOK_DEC_METASPACE;
    d.prepend = aps && !(ps && !strcmp(ps, "never"));
    if (!(d.a = dup_bytes(c, (size_t)cn))) return oom(p);
    d.a_len = (size_t)cn;
    return add_dec(p, d);
  }
  if (!strcmp(type, "ByteLevel")) {
    d.kind = TOK_DEC_BYTELEVEL;
    p->fused = 1; /* HF's ByteLevel decoder returns the joined text */
    return add_dec(p, d);
  }
  return jfail(p, LC_ERR_UNSUPPORTED, w,
               "decoder '%s' is not supported (supported: ByteLevel, Replace, ByteFallback, Fuse, "
               "Strip, Metaspace, Sequence)",
               type);
}

/* ---- the whole file --------------------------------------------------------------------------*/

lc_status tok_json_parse(lc_tokenizer *t, const char *path, const char *data, size_t n) {
  jp p = {t, path, 0, 0};
  json_error_t err;
  json_t *root = json_loadb(data, n, JSON_ALLOW_NUL, &err);
  if (!root && lc_json_oom(&err))
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "tokenizer.json '%s': out of memory", path);
  if (!root)
    return LC_FAIL(NULL, LC_ERR_FORMAT,
                   "tokenizer.json '%s': not valid JSON (line %d, column %d: "
                   "%s)",
                   path, err.line, err.column, err.text);
  lc_status st = LC_OK;
  const json_t *added = json_object_get(root, "added_tokens");
  if (!json_is_object(root))
    st = LC_FAIL(NULL, LC_ERR_FORMAT, "tokenizer.json '%s': the top level is not an object", path);
  else if (added && !json_is_null(added) && !json_is_array(added))
    st = jfail(&p, LC_ERR_FORMAT, "added_tokens", "not an array");
  if (added && !json_is_array(added)) added = NULL;
  if (st == LC_OK) st = parse_model(&p, json_object_get(root, "model"), added);
  if (st == LC_OK) st = parse_normalizer(&p, json_object_get(root, "normalizer"), 0);
  if (st == LC_OK) st = parse_pretok(&p, json_object_get(root, "pre_tokenizer"), 0);
  if (st == LC_OK) st = parse_added(&p, added);
  if (st == LC_OK) st = parse_post(&p, json_object_get(root, "post_processor"), 0);
  if (st == LC_OK) st = parse_decoder(&p, json_object_get(root, "decoder"), 0);
  json_decref(root);
  LC_TRY(st);
  /* the byte tables: GPT-2's map, and the <0xNN> pieces */
  tok_bytelevel_tables(t);
  for (int b = 0; b < 256; b++) {
    char buf[8];
    const int k = tok_utf8_put(t->b2u[b], buf);
    t->byte_id[b] = tok_strtab_get(&t->vocab, t->pool.p, buf, (size_t)k);
    snprintf(buf, sizeof buf, "<0x%02X>", b);
    t->fallback_id[b] = tok_strtab_get(&t->vocab, t->pool.p, buf, 6);
  }
  t->type = t->byte_level ? LC_TOKENIZER_BYTE_BPE : LC_TOKENIZER_SPM_BPE;
  if (t->n_prefix == 1) t->bos_id = t->prefix[0];
  if (t->n_suffix == 1) t->eos_id = t->suffix[0];
  t->specials_fixed = p.has_template;
  return LC_OK;
}

/* ---- tokenizer_config.json -----------------------------------------------------------------*/

/* A special token given as "name" or {"content": "name", ...}: its id, or -1. */
static int32_t config_token(const lc_tokenizer *t, const json_t *v) {
  if (json_is_object(v)) v = json_object_get(v, "content");
  if (!json_is_string(v)) return -1;
  int32_t id;
  const char *s = json_string_value(v);
  int32_t k = tok_strtab_get(&t->added_tab, t->pool.p, s, strlen(s));
  if (k < 0) k = tok_strtab_get(&t->vocab, t->pool.p, s, strlen(s));
  id = k;
  return id;
}

static lc_status set_one(int32_t **v, int32_t *n, int32_t id) {
  free(*v);
  *v = NULL;
  *n = 0;
  if (id < 0) return LC_OK;
  *v = lc_malloc(sizeof **v);
  if (!*v) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "tokenizer_config.json: out of memory");
  (*v)[0] = id;
  *n = 1;
  return LC_OK;
}

lc_status tok_config_apply(lc_tokenizer *t, const char *dir) {
  char *path = lc_malloc(strlen(dir) + 32);
  if (!path) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_tokenizer_load: out of memory");
  sprintf(path, "%s/tokenizer_config.json", dir);
  struct stat sb;
  lc_status st = LC_OK;
  if (stat(path, &sb) == 0) {
    json_error_t err;
    /* reals for integers: model_max_length is often 1e30 */
    json_t *root = json_load_file(path, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
    if (!root && lc_json_oom(&err)) {
      st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "tokenizer_config.json '%s': out of memory", path);
    } else if (!root || !json_is_object(root)) {
      st = LC_FAIL(NULL, LC_ERR_FORMAT, "tokenizer_config.json '%s': %s (line %d: %s)", path,
                   root ? "the top level is not an object" : "not valid JSON", err.line,
                   root ? "" : err.text);
    } else {
      const json_t *bos = json_object_get(root, "bos_token"),
                   *eos = json_object_get(root, "eos_token"),
                   *ab = json_object_get(root, "add_bos_token"),
                   *ae = json_object_get(root, "add_eos_token"),
                   *ct = json_object_get(root, "chat_template");
      const int32_t bos_id = config_token(t, bos), eos_id = config_token(t, eos);
      if (bos_id >= 0) t->bos_id = bos_id;
      if (eos_id >= 0) t->eos_id = eos_id;
      /* without a post-processor template, the config says what to add */
      if (!t->specials_fixed) {
        if (json_is_boolean(ab))
          st = set_one(&t->prefix, &t->n_prefix, json_is_true(ab) ? t->bos_id : -1);
        if (st == LC_OK && json_is_boolean(ae))
          st = set_one(&t->suffix, &t->n_suffix, json_is_true(ae) ? t->eos_id : -1);
      }
      const char *tmpl = NULL;
      if (json_is_string(ct)) {
        tmpl = json_string_value(ct);
      } else if (json_is_array(ct)) { /* [{name, template}]: "default", else the first */
        for (size_t i = 0; i < json_array_size(ct); i++) {
          const json_t *e = json_array_get(ct, i);
          const json_t *nm = json_object_get(e, "name"), *tp = json_object_get(e, "template");
          if (!json_is_string(tp)) continue;
          if (!tmpl || (json_is_string(nm) && !strcmp(json_string_value(nm), "default")))
            tmpl = json_string_value(tp);
          if (json_is_string(nm) && !strcmp(json_string_value(nm), "default")) break;
        }
      }
      if (st == LC_OK && tmpl && !(t->chat_template = lc_strdup(tmpl)))
        st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_tokenizer_load: out of memory");
    }
    json_decref(root);
  }
  /* newer model directories keep the template in a file of its own */
  if (st == LC_OK && !t->chat_template) {
    sprintf(path, "%s/chat_template.jinja", dir);
    FILE *f = stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size < (1 << 24)
                  ? fopen(path, "rb")
                  : NULL;
    if (f) {
      char *s = lc_malloc((size_t)sb.st_size + 1);
      const size_t got = s ? fread(s, 1, (size_t)sb.st_size, f) : 0;
      fclose(f);
      if (!s) {
        st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_tokenizer_load: out of memory");
      } else {
        s[got] = '\0';
        t->chat_template = s;
      }
    }
  }
  free(path);
  return st;
}
