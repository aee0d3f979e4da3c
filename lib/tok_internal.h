/*
 * lib/tok_internal.h — the tokenizers' private structures (layercast_text.h,
 * "Tokenizers").  One lc_tokenizer holds one of three pipelines:
 *
 *   tokenizer.json   added tokens -> normalizers -> pre-tokenizers -> BPE
 *                    (merge rank order) -> post-processor template; decode:
 *                    pieces -> decoder steps -> bytes -> UTF-8 (lossy)
 *   tokenizer.bin    llama2.c: code points (byte fallback id = byte + 3) ->
 *                    greedy best-score merges; decode: pieces, <0xNN> bytes
 *
 * Files: lib/tokenizer.c (public API, loading, encode driver, decode and
 * the detokenizer), lib/tok_json.c (tokenizer.json and
 * tokenizer_config.json), lib/tok_bpe.c (hash tables, the two merge rules,
 * tokenizer.bin), lib/tok_text.c (UTF-8, normalizers, pre-tokenizers:
 * PCRE2 and utf8proc).
 *
 * Everything here is immutable after loading: encode and decode keep their
 * state in a tok_scratch of their own, so one tokenizer serves many threads.
 */
#ifndef LC_TOK_INTERNAL_H
#define LC_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "layercast_text.h"
#include "lib/lc_internal.h"

/* ---- growable buffers -------------------------------------------------------*/
typedef struct tok_buf {
  char *p;    /* bytes, not NUL-terminated unless a caller adds one */
  size_t len; /* bytes used */
  size_t cap; /* bytes allocated */
} tok_buf;
/* 0 on success, 1 when out of memory (the buffer is left as it was). */
int tok_buf_reserve(tok_buf *b, size_t extra);
int tok_buf_put(tok_buf *b, const void *s, size_t n);
void tok_buf_free(tok_buf *b);

typedef struct tok_ids {
  int32_t *v; /* [n] */
  int64_t n, cap;
} tok_ids;
int tok_ids_push(tok_ids *a, int32_t id); /* 0, or 1 when out of memory */

/* ---- hash tables (open addressing, linear probing, power-of-two size) -------*/
/* byte string -> id; keys live in a pool the caller passes to every call. */
typedef struct tok_strtab_slot {
  uint32_t hash; /* low 32 bits of XXH3-64 of the key */
  uint32_t off;  /* key offset in the pool; UINT32_MAX: empty slot */
  uint32_t len;  /* key bytes */
  int32_t id;
} tok_strtab_slot;
typedef struct tok_strtab {
  tok_strtab_slot *slots; /* [mask + 1] */
  uint32_t mask;
  uint32_t n; /* keys stored */
} tok_strtab;
/* Room for n keys at load factor <= 1/2.  0, or 1 when out of memory. */
int tok_strtab_init(tok_strtab *t, uint32_t n);
void tok_strtab_free(tok_strtab *t);
/* Inserts pool[off, off+len) -> id; an existing equal key keeps its id
 * unless replace.  0, or 1 when the table is full (sized too small). */
int tok_strtab_put(tok_strtab *t, const char *pool, uint32_t off, uint32_t len, int32_t id,
                   int replace);
/* The id of key[0, len), or -1. */
int32_t tok_strtab_get(const tok_strtab *t, const char *pool, const char *key, size_t len);

/* (left id, right id) -> (rank, merged id): the BPE merges. */
typedef struct tok_pairtab_slot {
  uint64_t key; /* left << 32 | right; UINT64_MAX: empty */
  int32_t rank;
  int32_t merged;
} tok_pairtab_slot;
typedef struct tok_pairtab {
  tok_pairtab_slot *slots; /* [mask + 1] */
  uint32_t mask;
  uint32_t n;
} tok_pairtab;
int tok_pairtab_init(tok_pairtab *t, uint32_t n);
void tok_pairtab_free(tok_pairtab *t);
/* Inserts or replaces (a later merge of the same pair wins, as in HF). */
int tok_pairtab_put(tok_pairtab *t, int32_t a, int32_t b, int32_t rank, int32_t merged);
/* The slot of (a, b), or NULL. */
const tok_pairtab_slot *tok_pairtab_get(const tok_pairtab *t, int32_t a, int32_t b);

/* ---- pipeline components of tokenizer.json -----------------------------------*/
typedef enum tok_norm_kind {
  TOK_NORM_NFC = 1,
  TOK_NORM_NFD,
  TOK_NORM_NFKC,
  TOK_NORM_NFKD,
  TOK_NORM_PREPEND, /* a: the prefix, added to non-empty text */
  TOK_NORM_REPLACE, /* a: literal pattern (or re), b: replacement */
} tok_norm_kind;

typedef struct tok_norm {
  tok_norm_kind kind;
  char *a, *b; /* malloc'ed, NUL-terminated (lengths below) */
  size_t a_len, b_len;
  pcre2_code *re; /* Replace with a Regex pattern, else NULL */
} tok_norm;

/* How a Split keeps what its pattern matched (HF SplitDelimiterBehavior). */
typedef enum tok_split_behavior {
  TOK_SPLIT_REMOVED = 1,
  TOK_SPLIT_ISOLATED,
  TOK_SPLIT_MERGED_WITH_PREVIOUS,
  TOK_SPLIT_MERGED_WITH_NEXT,
  TOK_SPLIT_CONTIGUOUS,
} tok_split_behavior;

typedef enum tok_pre_kind {
  TOK_PRE_SPLIT = 1, /* re or lit, behavior, invert */
  TOK_PRE_BYTELEVEL, /* add_prefix_space; re: the GPT-2 regex when use_regex */
  TOK_PRE_METASPACE, /* rep, prepend (0 never, 1 always, 2 first), split */
} tok_pre_kind;

typedef struct tok_pre {
  tok_pre_kind kind;
  pcre2_code *re; /* SPLIT with a Regex pattern; BYTELEVEL with use_regex */
  char *lit;      /* SPLIT with a String pattern (malloc'ed) */
  size_t lit_len; /* bytes of lit */
  int behavior;   /* tok_split_behavior */
  int invert;     /* SPLIT: the pattern selects what lies between matches */
  int prefix;     /* BYTELEVEL: add_prefix_space */
  char rep[5];    /* METASPACE: the replacement character, UTF-8 */
  int rep_len;    /* its bytes */
  int prepend;    /* METASPACE: 0 never, 1 always, 2 first */
  int split;      /* METASPACE: split on the replacement (MergedWithNext) */
} tok_pre;

typedef enum tok_dec_kind {
  TOK_DEC_REPLACE = 1, /* a -> b in each piece */
  TOK_DEC_BYTEFALLBACK,
  TOK_DEC_FUSE,
  TOK_DEC_STRIP,     /* a: the character; start, stop counts */
  TOK_DEC_METASPACE, /* a: the replacement; prepend != never removes it in piece 0 */
  TOK_DEC_BYTELEVEL,
} tok_dec_kind;

typedef struct tok_dec {
  tok_dec_kind kind;
  char *a, *b; /* malloc'ed, NUL-terminated */
  size_t a_len, b_len;
  int start, stop; /* STRIP */
  int prepend;     /* METASPACE: 1 unless prepend_scheme is never */
} tok_dec;

/* An added token: matched in the text before the model runs. */
typedef struct tok_added {
  int32_t id;
  uint32_t off, len;   /* content, in the pool */
  uint32_t noff, nlen; /* content after the normalizers (normalized tokens), in the pool */
  uint8_t special, single_word, lstrip, rstrip, normalized;
} tok_added;

/* Leftmost-longest matching over a set of added tokens: their indices
 * bucketed by first byte, longest first within a bucket. */
typedef struct tok_matcher {
  int32_t *order;      /* indices into lc_tokenizer.added, [n] */
  int32_t n;           /* tokens in the set */
  int32_t bucket[257]; /* order[bucket[b] .. bucket[b+1]) start with byte b */
  int use_normalized;  /* 1: match the normalized contents */
} tok_matcher;

/* Per-id flags. */
enum {
  TOK_F_PRESENT = 1u, /* the id has a piece (ids may have holes) */
  TOK_F_ADDED = 2u,   /* an added token */
  TOK_F_SPECIAL = 4u, /* dropped by LC_DECODE_SKIP_SPECIAL */
};

struct lc_tokenizer {
  lc_tokenizer_type type;
  int32_t vocab_size;   /* largest id + 1 */
  tok_buf pool;         /* every string below: pieces, added contents */
  uint32_t *piece_off;  /* [vocab_size] offset of id's piece in pool */
  uint32_t *piece_len;  /* [vocab_size] its bytes */
  uint8_t *flags;       /* [vocab_size] TOK_F_* */
  tok_strtab vocab;     /* the model's piece -> id */
  tok_strtab added_tab; /* added token content -> id */

  tok_added *added; /* [n_added] */
  int32_t n_added;
  tok_matcher m_raw, m_norm; /* non-normalized / normalized added tokens */

  /* BPE (tokenizer.json) */
  tok_pairtab merges;
  int ignore_merges;    /* a whole pre-token found in the vocabulary is used as is */
  int byte_fallback;    /* unknown characters as <0xNN> pieces */
  int fuse_unk;         /* consecutive unknown characters give one unk */
  int32_t unk_id;       /* -1: none */
  char *unk_missing;    /* unk_token named but absent from the vocabulary (malloc'ed), or NULL */
  int byte_level;       /* pre-tokens are mapped byte -> character (GPT-2) before BPE */
  int32_t byte_id[256]; /* byte_level: the id of each byte's character, -1 if absent */
  int32_t fallback_id[256]; /* id of "<0xNN>", -1 if absent */
  uint16_t b2u[256];        /* GPT-2 bytes_to_unicode: byte -> code point (< 0x144) */
  int16_t u2b[0x144];       /* its inverse; -1 where undefined */

  tok_norm *norm; /* [n_norm] applied in order */
  int n_norm;
  tok_pre *pre; /* [n_pre] applied in order */
  int n_pre;
  tok_dec *dec; /* [n_dec] per-piece steps, in order, up to Fuse */
  int n_dec;
  int dec_join_space; /* no decoder: pieces joined with ' ' (HF's default) */
  int dec_strip_n;    /* after Fuse: strip up to this many leading dec_strip_c */
  char dec_strip_c;   /* an ASCII character */

  int32_t *prefix, *suffix; /* LC_ENCODE_ADD_SPECIAL: ids before / after */
  int32_t n_prefix, n_suffix;
  int specials_fixed;     /* the post-processor set prefix/suffix: the config may not */
  int32_t bos_id, eos_id; /* -1: none */
  int nfc;                /* an NFC normalizer is in the chain */
  char *chat_template;    /* malloc'ed, or NULL */

  /* llama2.c */
  float *scores;            /* [vocab_size] merge scores */
  int32_t max_token_length; /* from the file header */
};

/* ---- per-call scratch (encode) ------------------------------------------------*/
typedef struct tok_sym {
  int32_t id;
  int32_t prev, next; /* neighbours alive; -1 at the ends */
  int32_t len;        /* bytes; 0: merged into its left neighbour */
} tok_sym;

typedef struct tok_heap_item {
  float key;    /* llama2.c: the score (max first); BPE: unused */
  int32_t rank; /* BPE: merge rank (min first) */
  int32_t pos;  /* left symbol */
  int32_t merged;
  int32_t right;    /* llama2.c: right symbol when pushed */
  int32_t lid, rid; /* llama2.c: ids when pushed */
} tok_heap_item;

typedef struct tok_piece {
  size_t off, len; /* in the scratch arena */
  int orig0;       /* starts at offset 0 of the original text (Metaspace "first") */
} tok_piece;

/* A range of text: a regex span (m: it matched; then "remove"), or a
 * segment between added tokens (m: the token's id, -1 for text). */
typedef struct tok_span {
  size_t a, b;
  int32_t m;
} tok_span;

typedef struct tok_scratch {
  tok_buf arena; /* pre-token text */
  tok_buf word;  /* mapped word (byte-level); llama2.c pair text */
  tok_buf norm;  /* normalized segment */
  tok_buf tmp;   /* normalizer steps */
  tok_sym *sym;  /* [cap_sym] */
  int64_t cap_sym;
  tok_heap_item *heap;
  int64_t n_heap, cap_heap;
  tok_piece *pa, *pb; /* pre-token lists */
  int64_t na, nb, cap_a, cap_b;
  tok_span *sp; /* Split spans */
  int64_t nsp, cap_sp;
  tok_span *seg1, *seg2; /* added-token segments of the text / of a normalized segment */
  int64_t n1, cap1, n2, cap2;
  pcre2_match_data *md;      /* per call, for every regex of the tokenizer */
  pcre2_match_context *mctx; /* with jit stack */
  pcre2_jit_stack *jit;
} tok_scratch;

lc_status tok_scratch_init(const lc_tokenizer *t, tok_scratch *s);
void tok_scratch_free(tok_scratch *s);

/* ---- lib/tok_text.c -------------------------------------------------------------*/
/* Offset of the first byte that is not part of valid UTF-8, or len. */
size_t tok_utf8_check(const char *s, size_t len);
/* Decodes the code point at s[*i] (valid UTF-8) and advances *i. */
uint32_t tok_utf8_next(const char *s, size_t *i);
int tok_utf8_put(uint32_t cp, char out[4]); /* bytes written */
/* Unicode White_Space (what Rust's char::is_whitespace and \s in Oniguruma take). */
int tok_is_white_space(uint32_t cp);
/* Rust regex's \w: letters, marks, decimal and letter numbers, connector punctuation. */
int tok_is_word_char(uint32_t cp);

/* Compiles a tokenizer.json regex (Oniguruma syntax, as HF runs it) with
 * PCRE2 (UTF, UCP; JIT when available).  \s and \S are rewritten to the
 * Unicode White_Space set Oniguruma uses (PCRE2's \s leaves out U+0085).
 * LC_ERR_FORMAT naming `what` and the offending offset, LC_ERR_OUT_OF_MEMORY. */
lc_status tok_regex_compile(const char *pattern, size_t len, const char *what, pcre2_code **out);
/* The GPT-2 pre-tokenizer regex (ByteLevel with use_regex). */
extern const char tok_gpt2_regex[];

/* Applies t's normalizers to text into s->norm (replacing its contents). */
lc_status tok_normalize(const lc_tokenizer *t, tok_scratch *s, const char *text, size_t len);
/* Normalizes a string for load-time use (normalized added tokens): out malloc'ed. */
lc_status tok_normalize_alloc(const lc_tokenizer *t, const char *text, size_t len, char **out,
                              size_t *out_len);
/* Runs t's pre-tokenizers over text: the words in s->pa[0 .. s->na),
 * ranges of s->arena.  orig0: text starts at offset 0 of the input. */
lc_status tok_pretokenize(const lc_tokenizer *t, tok_scratch *s, const char *text, size_t len,
                          int orig0);

/* ---- lib/tok_bpe.c ----------------------------------------------------------------*/
/* HF BPE on one pre-token (bytes; mapped through b2u first when byte_level):
 * ids appended to out. */
lc_status tok_bpe_word(const lc_tokenizer *t, tok_scratch *s, const char *w, size_t n,
                       tok_ids *out);
/* llama2.c's encoder on text (valid UTF-8): BOS when bos (merged along, as
 * run.c does), the dummy prefix, code points, merges. */
lc_status tok_llama2c_encode(const lc_tokenizer *t, tok_scratch *s, const char *text, size_t len,
                             int bos, tok_ids *out);
/* Parses a tokenizer.bin image (data, n bytes) into t (type, pieces, scores,
 * vocab).  LC_ERR_FORMAT naming path and the byte offset, LC_ERR_OUT_OF_MEMORY. */
lc_status tok_llama2c_parse(lc_tokenizer *t, const char *path, const unsigned char *data, size_t n);
/* Allocates the per-id arrays for vocab_size ids (holes until filled). */
lc_status tok_alloc_ids(lc_tokenizer *t, int32_t vocab_size, const char *path);
/* Sets id's piece to pool[off, off+len) with flags. */
void tok_set_piece(lc_tokenizer *t, int32_t id, uint32_t off, uint32_t len, uint8_t flags);
/* Appends bytes to t->pool; *off gets their offset.  LC_ERR_OVERFLOW past
 * 4 GiB, LC_ERR_OUT_OF_MEMORY. */
lc_status tok_pool_add(lc_tokenizer *t, const char *s, size_t n, uint32_t *off);
/* The GPT-2 byte <-> unicode tables into t->b2u / t->u2b. */
void tok_bytelevel_tables(lc_tokenizer *t);

/* ---- lib/tok_json.c ----------------------------------------------------------------*/
/* Parses a tokenizer.json image into t.  LC_ERR_FORMAT, LC_ERR_UNSUPPORTED,
 * LC_ERR_OUT_OF_MEMORY, each naming path. */
lc_status tok_json_parse(lc_tokenizer *t, const char *path, const char *data, size_t n);
/* Reads tokenizer_config.json (and chat_template.jinja) beside a loaded
 * tokenizer: add_bos/eos, bos/eos tokens, the chat template.  A missing
 * file is fine; a malformed one gives LC_ERR_FORMAT. */
lc_status tok_config_apply(lc_tokenizer *t, const char *dir);

/* ---- lib/tokenizer.c ----------------------------------------------------------------*/
/* Builds t->m_raw / t->m_norm from t->added. */
lc_status tok_matchers_build(lc_tokenizer *t);

#endif /* LC_TOK_INTERNAL_H */
