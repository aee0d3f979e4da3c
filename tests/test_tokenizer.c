/*
 * tests/test_tokenizer.c — the tokenizers (layercast_text.h, lib/tokenizer.c
 * and lib/tok_*.c) on files this test writes: a byte-level BPE
 * tokenizer.json with the Llama 3 split regex, a SentencePiece-style one with
 * byte fallback (both forms: Prepend/Replace normalizers and Metaspace), and
 * a llama2.c tokenizer.bin.  Known answers are derived by hand in the
 * comments; random strings check decode(encode(s)) == s and the streaming
 * detokenizer; truncated and corrupted files must give clear errors (the
 * sanitizer build checks that nothing leaks).  The real Llama 2, Llama 3 and
 * Qwen3 files are used when tools/fetch-tokenizers.sh has put them in
 * LC_TOKENIZERS_DIR (default .cache/tokenizers), and skipped otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <utf8proc.h>

#include "layercast_text.h"
#include "test_util.h"

#ifndef LC_TOKENIZERS_DIR
#define LC_TOKENIZERS_DIR LC_SOURCE_DIR "/.cache/tokenizers"
#endif

/* ---- files --------------------------------------------------------------------------*/

static char g_dir[256]; /* this test's folder */

static int make_dir(void **state) {
  (void)state;
  lct_tmpdir_make(g_dir, sizeof g_dir, "tok");
  return 0;
}

static int remove_dir(void **state) {
  (void)state;
  int rc = lct_tmpdir_remove(g_dir);
  g_dir[0] = '\0';
  return rc == 0 ? 0 : -1;
}

static void path_in(char *out, size_t n, const char *name) {
  snprintf(out, n, "%s/%s", g_dir, name);
}

static void write_json(const char *path, json_t *j) {
  char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
  assert_non_null(s);
  lct_write_file(path, s, strlen(s));
  free(s);
}

static lc_tokenizer *load_ok(const char *path) {
  lc_tokenizer *t = NULL;
  lc_status st = lc_tokenizer_load(path, &t);
  if (st != LC_OK) fail_msg("loading %s: %s", path, lc_last_error(NULL));
  assert_non_null(t);
  return t;
}

/* Loading must fail with `want`, a message holding `needle`, and *out NULL. */
static void load_fails(const char *path, lc_status want, const char *needle) {
  lc_tokenizer *t = (lc_tokenizer *)0x1;
  lc_status st = lc_tokenizer_load(path, &t);
  if (st != want || t != NULL || (needle && !strstr(lc_last_error(NULL), needle))) {
    if (st == LC_OK) lc_tokenizer_free(t);
    fail_msg("loading %s: expected %s with '%s', got %s: %s", path, lc_status_name(want),
             needle ? needle : "", lc_status_name(st), lc_last_error(NULL));
  }
}

/* ---- encode / decode helpers ----------------------------------------------------------*/

static int32_t *enc(const lc_tokenizer *t, const char *s, size_t n, unsigned flags,
                    int32_t *n_ids) {
  int32_t *ids = NULL;
  lc_status st = lc_tokenizer_encode(t, s, n, flags, &ids, n_ids);
  if (st != LC_OK) fail_msg("encode '%s': %s", s, lc_last_error(NULL));
  assert_non_null(ids);
  return ids;
}

static char *dec(const lc_tokenizer *t, const int32_t *ids, int32_t n, unsigned flags,
                 size_t *len) {
  char *s = NULL;
  lc_status st = lc_tokenizer_decode(t, ids, n, flags, &s, len);
  if (st != LC_OK) fail_msg("decode: %s", lc_last_error(NULL));
  assert_non_null(s);
  return s;
}

static void print_ids(const char *label, const int32_t *v, int32_t n) {
  print_message("%s [", label);
  for (int32_t i = 0; i < n; i++) print_message(i ? ", %d" : "%d", (int)v[i]);
  print_message("]\n");
}

/* encode(s) must be exactly want[0 .. nw). */
static void expect_ids(const lc_tokenizer *t, const char *s, unsigned flags, const int32_t *want,
                       int32_t nw) {
  int32_t n = 0;
  int32_t *ids = enc(t, s, strlen(s), flags, &n);
  if (n != nw || memcmp(ids, want, (size_t)n * sizeof *ids)) {
    print_error("encode '%s' (flags %u):\n", s, flags);
    print_ids("  want", want, nw);
    print_ids("  got ", ids, n);
    free(ids);
    fail();
  }
  free(ids);
}
#define EXPECT_IDS(t, s, flags, ...)                                                 \
  do {                                                                               \
    const int32_t want_[] = {__VA_ARGS__};                                           \
    expect_ids((t), (s), (flags), want_, (int32_t)(sizeof want_ / sizeof want_[0])); \
  } while (0)

static void expect_text(const lc_tokenizer *t, const int32_t *ids, int32_t n, unsigned flags,
                        const char *want) {
  size_t len = 0;
  char *s = dec(t, ids, n, flags, &len);
  if (len != strlen(want) || memcmp(s, want, len)) {
    print_ids("decode", ids, n);
    fail_msg("decode: want '%s', got '%s'", want, s);
  }
  free(s);
}
#define EXPECT_TEXT(t, flags, want, ...)                                              \
  do {                                                                                \
    const int32_t ids_[] = {__VA_ARGS__};                                             \
    expect_text((t), ids_, (int32_t)(sizeof ids_ / sizeof ids_[0]), (flags), (want)); \
  } while (0)

/* ---- the byte-level tokenizer ------------------------------------------------------------*/

/* GPT-2's bytes_to_unicode, written again here: printable bytes stand for
 * themselves, the others take 256, 257, ... in byte order. */
static int printable(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
}
static uint32_t b2u(int b) {
  int k = 0;
  for (int x = 0; x < b; x++) k += !printable(x);
  return printable(b) ? (uint32_t)b : 256u + (uint32_t)k;
}
static size_t put_utf8(uint32_t cp, char *o) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | cp >> 18);
  o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}
/* s in the byte-level spelling (a space is U+0120 'Ġ'), in buf. */
static const char *bl(const char *s, char *buf) {
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) k += put_utf8(b2u(*p), buf + k);
  buf[k] = '\0';
  return buf;
}

/* Llama 3's pre-tokenizer regex (contractions, letters with one leading
 * non-letter, digits in groups of up to three, punctuation, newlines,
 * spaces). */
static const char LLAMA3_RE[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* Merges in rank order; the merged piece of rank r gets id 256 + r.  Ids
 * 0..255 are the 256 byte characters (id = byte value). */
static const char *const BL_MERGES[][2] = {
    {"h", "e"},    /* 256 he */
    {"l", "l"},    /* 257 ll */
    {" ", "t"},    /* 258 Ġt */
    {"he", "ll"},  /* 259 hell */
    {"hell", "o"}, /* 260 hello */
    {" t", "he"},  /* 261 Ġthe */
    {"1", "2"},    /* 262 12 */
    {"12", "3"},   /* 263 123 */
    {"'", "s"},    /* 264 's */
    {" ", " "},    /* 265 ĠĠ */
};
enum {
  BL_N_MERGES = 10,
  BL_WORLD = 266,
  BL_BOS = 300,
  BL_EOT = 301,
  BL_TOOL = 302,
  BL_TOOLS = 303
};

typedef struct bl_opts {
  int ignore_merges;
  int nfc;
  int template_bos; /* TemplateProcessing: <|bos|> $A */
  int pairs;        /* merges as [a, b] pairs instead of "a b" */
} bl_opts;

static json_t *added_token(int id, const char *content, int special, int normalized) {
  return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", content,
                   "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", normalized, "special",
                   special);
}

static json_t *bl_json(bl_opts o) {
  char a[64], b[64], m[128];
  json_t *vocab = json_object();
  for (int x = 0; x < 256; x++) {
    char c[8] = {0};
    put_utf8(b2u(x), c);
    json_object_set_new(vocab, c, json_integer(x));
  }
  json_t *merges = json_array();
  for (int r = 0; r < BL_N_MERGES; r++) {
    char ab[64];
    snprintf(ab, sizeof ab, "%s%s", BL_MERGES[r][0], BL_MERGES[r][1]);
    json_object_set_new(vocab, bl(ab, m), json_integer(256 + r));
    bl(BL_MERGES[r][0], a);
    bl(BL_MERGES[r][1], b);
    if (o.pairs) {
      json_array_append_new(merges, json_pack("[s, s]", a, b));
    } else {
      snprintf(m, sizeof m, "%s %s", a, b);
      json_array_append_new(merges, json_string(m));
    }
  }
  /* a piece no merge builds: only ignore_merges finds it */
  json_object_set_new(vocab, bl(" world", m), json_integer(BL_WORLD));
  json_t *added = json_array();
  json_array_append_new(added, added_token(BL_BOS, "<|bos|>", 1, 0));
  json_array_append_new(added, added_token(BL_EOT, "<|eot|>", 1, 0));
  json_array_append_new(added, added_token(BL_TOOL, "<tool>", 0, 0));
  json_array_append_new(added, added_token(BL_TOOLS, "<tool>s", 0, 0));
  json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE",
                            "dropout", "unk_token", "continuing_subword_prefix",
                            "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
                            "ignore_merges", o.ignore_merges, "vocab", vocab, "merges", merges);
  json_t *pre = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b, s:b}]}", "type",
                          "Sequence", "pretokenizers", "type", "Split", "pattern", "Regex",
                          LLAMA3_RE, "behavior", "Isolated", "invert", 0, "type", "ByteLevel",
                          "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 0);
  json_t *post =
      o.template_bos
          ? json_pack("{s:s, s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}], s:[], s:{s:{s:s, s:[i], s:[s]}}}",
                      "type", "TemplateProcessing", "single", "SpecialToken", "id", "<|bos|>",
                      "type_id", 0, "Sequence", "id", "A", "type_id", 0, "pair", "special_tokens",
                      "<|bos|>", "id", "<|bos|>", "ids", BL_BOS, "tokens", "<|bos|>")
          : json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0,
                      "trim_offsets", 0, "use_regex", 0);
  json_t *root = json_pack("{s:s, s:n, s:n, s:o, s:o, s:o, s:o, s:o, s:o}", "version", "1.0",
                           "truncation", "padding", "added_tokens", added, "normalizer",
                           o.nfc ? json_pack("{s:s}", "type", "NFC") : json_null(), "pre_tokenizer",
                           pre, "post_processor", post, "decoder",
                           json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel",
                                     "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1),
                           "model", model);
  assert_non_null(root);
  return root;
}

static lc_tokenizer *bl_load(bl_opts o, const char *name) {
  char path[512];
  path_in(path, sizeof path, name);
  json_t *j = bl_json(o);
  write_json(path, j);
  json_decref(j);
  return load_ok(path);
}

/* Byte-level BPE: the regex's splits and the merges by rank, by hand. */
static void test_tokenizer_bytelevel_known(void **state) {
  (void)state;
  for (int pairs = 0; pairs < 2; pairs++) {
    lc_tokenizer *t = bl_load((bl_opts){1, 1, 1, pairs}, "bl.json");
    lc_tokenizer_info ti;
    assert_int_equal(lc_tokenizer_get_info(t, &ti), LC_OK);
    assert_int_equal(ti.type, LC_TOKENIZER_BYTE_BPE);
    assert_int_equal(ti.vocab_size, 304);
    assert_int_equal(ti.n_added, 4);
    assert_int_equal(ti.bos_id, BL_BOS);
    assert_int_equal(ti.add_bos, 1);
    assert_int_equal(ti.add_eos, 0);
    assert_int_equal(ti.nfc, 1);
    /* h e l l o: he (rank 0), then ll (1), hell (3), hello (4) */
    EXPECT_IDS(t, "hello", 0, 260);
    EXPECT_IDS(t, "hello", LC_ENCODE_ADD_SPECIAL, BL_BOS, 260);
    /* Ġ t h e: he (0) before Ġt (2), then Ġthe (5) */
    EXPECT_IDS(t, "hello the", 0, 260, 261);
    /* digits in groups of up to three: 123 | 45; 123 | 456 | 7 */
    EXPECT_IDS(t, "12345", 0, 263, '4', '5');
    EXPECT_IDS(t, "1234567", 0, 263, '4', '5', '6', '7');
    /* contractions, case-insensitive: it | 's; IT | 'S (no merge for 'S) */
    EXPECT_IDS(t, "it's", 0, 'i', 't', 264);
    EXPECT_IDS(t, "IT'S", 0, 'I', 'T', '\'', 'S');
    /* "a  b": a | Ġ | Ġb (\s+(?!\S) leaves the last space to the word), so
     * the ĠĠ merge never sees two spaces together */
    EXPECT_IDS(t, "a  b", 0, 'a', ' ', ' ', 'b');
    /* "a   \n\nb": \s*[\r\n]+ takes "   \n\n" whole: ĠĠ (9) leftmost, Ġ, Ċ, Ċ */
    EXPECT_IDS(t, "a   \n\nb", 0, 'a', 265, ' ', '\n', '\n', 'b');
    /* trailing spaces: a | ĠĠ (one pre-token, merged) */
    EXPECT_IDS(t, "a  ", 0, 'a', 265);
    /* multi-byte UTF-8: each byte a symbol; 日本 is one pre-token of 6 bytes */
    EXPECT_IDS(t, "\xE6\x97\xA5\xE6\x9C\xAC", 0, 0xE6, 0x97, 0xA5, 0xE6, 0x9C, 0xAC);
    /* an emoji is punctuation-like for the regex: " ?[^\s\p{L}\p{N}]+" */
    EXPECT_IDS(t, "x \xF0\x9F\x98\x80", 0, 'x', ' ', 0xF0, 0x9F, 0x98, 0x80);
    /* NFC: e + U+0301 becomes U+00E9 (C3 A9) before anything else */
    EXPECT_IDS(t, "e\xCC\x81", 0, 0xC3, 0xA9);
    EXPECT_IDS(t, "\xC3\xA9", 0, 0xC3, 0xA9);
    /* the empty text: nothing, or only the specials */
    int32_t n = -1;
    int32_t *ids = enc(t, "", 0, 0, &n);
    assert_int_equal(n, 0);
    free(ids);
    EXPECT_IDS(t, "", LC_ENCODE_ADD_SPECIAL, BL_BOS);
    /* decoding: bytes back, U+FFFD for a byte that is not UTF-8 alone */
    EXPECT_TEXT(t, 0, "hello the", 260, 261);
    EXPECT_TEXT(t, 0, "<|bos|>hello", BL_BOS, 260);
    EXPECT_TEXT(t, LC_DECODE_SKIP_SPECIAL, "hello", BL_BOS, 260);
    EXPECT_TEXT(t, 0,
                "a\xEF\xBF\xBD"
                "b",
                'a', 0xE6, 'b');                                                 /* cut sequence */
    EXPECT_TEXT(t, 0, "\xEF\xBF\xBD\xEF\xBF\xBD", 0xC0, 0xAF);                   /* overlong: 2 */
    EXPECT_TEXT(t, 0, "\xEF\xBF\xBD", 0xF0, 0x9F, 0x98);                         /* one subpart */
    EXPECT_TEXT(t, 0, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 0xED, 0xA0, 0x80); /* surrogate */
    /* pieces and ids */
    const char *p = NULL;
    size_t pl = 0;
    char m[64];
    assert_int_equal(lc_tokenizer_piece(t, 261, &p, &pl), LC_OK);
    assert_int_equal(pl, strlen(bl(" the", m)));
    assert_memory_equal(p, bl(" the", m), pl);
    assert_int_equal(lc_tokenizer_piece(t, 280, &p, &pl), LC_ERR_OUT_OF_RANGE); /* a hole */
    assert_int_equal(lc_tokenizer_piece(t, 304, &p, &pl), LC_ERR_OUT_OF_RANGE);
    assert_int_equal(lc_tokenizer_piece(t, -1, &p, &pl), LC_ERR_OUT_OF_RANGE);
    int32_t id = -1;
    assert_int_equal(lc_tokenizer_token_id(t, bl(" the", m), &id), LC_OK);
    assert_int_equal(id, 261);
    assert_int_equal(lc_tokenizer_token_id(t, "<|eot|>", &id), LC_OK);
    assert_int_equal(id, BL_EOT);
    assert_int_equal(lc_tokenizer_token_id(t, "nope", &id), LC_ERR_NOT_FOUND);
    const int32_t bad[] = {260, 280};
    char *s = (char *)0x1;
    assert_int_equal(lc_tokenizer_decode(t, bad, 2, 0, &s, NULL), LC_ERR_OUT_OF_RANGE);
    assert_null(s);
    assert_null(lc_tokenizer_chat_template(t)); /* loaded from a file alone */
    lc_tokenizer_free(t);
  }
}

/* ignore_merges: a pre-token that is a piece is used whole, merges or not. */
static void test_tokenizer_bytelevel_ignore_merges(void **state) {
  (void)state;
  lc_tokenizer *t = bl_load((bl_opts){1, 0, 0, 0}, "a.json");
  EXPECT_IDS(t, "hello world", 0, 260, BL_WORLD);
  EXPECT_IDS(t, "hello world", LC_ENCODE_ADD_SPECIAL, 260, BL_WORLD); /* no template: none */
  lc_tokenizer_free(t);
  t = bl_load((bl_opts){0, 0, 0, 0}, "b.json");
  EXPECT_IDS(t, "hello world", 0, 260, ' ', 'w', 'o', 'r', 'l', 'd');
  lc_tokenizer_free(t);
}

/* Added tokens: matched in the text first, longest first; --plain and
 * SKIP_SPECIAL. */
static void test_tokenizer_added_tokens(void **state) {
  (void)state;
  lc_tokenizer *t = bl_load((bl_opts){1, 1, 1, 0}, "bl.json");
  EXPECT_IDS(t, "<|bos|>hi<tool>", 0, BL_BOS, 'h', 'i', BL_TOOL);
  EXPECT_IDS(t, "<|bos|>hi<tool>", LC_ENCODE_ADD_SPECIAL, BL_BOS, BL_BOS, 'h', 'i', BL_TOOL);
  /* longest first: <tool>s, not <tool> then s */
  EXPECT_IDS(t, "<tool>s<tool>", 0, BL_TOOLS, BL_TOOL);
  /* a space before an added token stays with the text before it */
  EXPECT_IDS(t, "hello <|eot|>", 0, 260, ' ', BL_EOT);
  /* plain: the regex sees "<|", "bos", "|>", "hi", "<tool", ">": bytes */
  EXPECT_IDS(t, "<|bos|>hi<tool>", LC_ENCODE_PLAIN, '<', '|', 'b', 'o', 's', '|', '>', 'h', 'i',
             '<', 't', 'o', 'o', 'l', '>');
  /* a partial token is text */
  EXPECT_IDS(t, "<|bos", 0, '<', '|', 'b', 'o', 's');
  /* decoding: special tokens dropped on request, the others kept */
  EXPECT_TEXT(t, 0, "<|bos|>hi<|eot|><tool>", BL_BOS, 'h', 'i', BL_EOT, BL_TOOL);
  EXPECT_TEXT(t, LC_DECODE_SKIP_SPECIAL, "hi<tool>", BL_BOS, 'h', 'i', BL_EOT, BL_TOOL);
  lc_tokenizer_free(t);
}

/* ---- the SentencePiece-style tokenizer ------------------------------------------------------*/

/* Ids: <unk> 0, <s> 1, </s> 2, <0x00>..<0xFF> 3..258, then the pieces
 * below; merges in rank order (the merged piece is in the list). */
static const char *const SPM_PIECES[] = {
    "\xE2\x96\x81",      /* 259 ▁ */
    "h",                 /* 260 */
    "e",                 /* 261 */
    "l",                 /* 262 */
    "o",                 /* 263 */
    "\xE2\x96\x81h",     /* 264 ▁h */
    "el",                /* 265 */
    "\xE2\x96\x81hel",   /* 266 ▁hel */
    "lo",                /* 267 */
    "\xE2\x96\x81hello", /* 268 ▁hello */
    "w",                 /* 269 */
    "or",                /* 270 */
    "ld",                /* 271 */
    "\xE2\x96\x81w",     /* 272 ▁w */
    "\xE2\x96\x81wor",   /* 273 ▁wor */
    "\xE2\x96\x81world", /* 274 ▁world */
    "r",                 /* 275 */
    "d",                 /* 276 */
    "\xE6\x97\xA5",      /* 277 日 */
};
#define U "\xE2\x96\x81"
static const char *const SPM_MERGES[][2] = {
    {U, "h"},        /* rank 0 */
    {"e", "l"},      /* 1 */
    {U "h", "el"},   /* 2 */
    {"l", "o"},      /* 3 */
    {U "hel", "lo"}, /* 4 */
    {U, "w"},        /* 5 */
    {"o", "r"},      /* 6 */
    {U "w", "or"},   /* 7 */
    {"l", "d"},      /* 8 */
    {U "wor", "ld"}, /* 9 */
};

/* form 0: Llama 2 (normalizers Prepend + Replace, no pre-tokenizer, decoder
 * Replace/ByteFallback/Fuse/Strip); form 1: Metaspace pre-tokenizer
 * (prepend_scheme first, split false) as Mistral v0.3; form 2: like 0
 * without byte fallback (unknown characters as <unk>, fused). */
static json_t *spm_json(int form) {
  json_t *vocab = json_object();
  json_object_set_new(vocab, "<unk>", json_integer(0));
  json_object_set_new(vocab, "<s>", json_integer(1));
  json_object_set_new(vocab, "</s>", json_integer(2));
  for (int b = 0; b < 256; b++) {
    char k[8];
    snprintf(k, sizeof k, "<0x%02X>", b);
    json_object_set_new(vocab, k, json_integer(3 + b));
  }
  for (size_t i = 0; i < sizeof SPM_PIECES / sizeof SPM_PIECES[0]; i++)
    json_object_set_new(vocab, SPM_PIECES[i], json_integer(259 + (int)i));
  json_t *merges = json_array();
  for (size_t r = 0; r < sizeof SPM_MERGES / sizeof SPM_MERGES[0]; r++) {
    char m[64];
    snprintf(m, sizeof m, "%s %s", SPM_MERGES[r][0], SPM_MERGES[r][1]);
    json_array_append_new(merges, json_string(m));
  }
  json_t *added = json_array();
  json_array_append_new(added, added_token(0, "<unk>", 1, 0));
  json_array_append_new(added, added_token(1, "<s>", 1, 0));
  json_array_append_new(added, added_token(2, "</s>", 1, 0));
  json_t *model =
      json_pack("{s:s, s:n, s:s, s:n, s:n, s:b, s:b, s:o, s:o}", "type", "BPE", "dropout",
                "unk_token", "<unk>", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk",
                1, "byte_fallback", form != 2, "vocab", vocab, "merges", merges);
  json_t *norm = form == 1 ? json_null()
                           : json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:{s:s}, s:s}]}", "type",
                                       "Sequence", "normalizers", "type", "Prepend", "prepend", U,
                                       "type", "Replace", "pattern", "String", " ", "content", U);
  json_t *pre = form == 1 ? json_pack("{s:s, s:s, s:s, s:b}", "type", "Metaspace", "replacement", U,
                                      "prepend_scheme", "first", "split", 0)
                          : json_null();
  json_t *post = json_pack(
      "{s:s, s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}], s:[], s:{s:{s:s, s:[i], s:[s]}}}", "type",
      "TemplateProcessing", "single", "SpecialToken", "id", "<s>", "type_id", 0, "Sequence", "id",
      "A", "type_id", 0, "pair", "special_tokens", "<s>", "id", "<s>", "ids", 1, "tokens", "<s>");
  json_t *decoder = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}, {s:s, s:s, s:i, s:i}]}",
                              "type", "Sequence", "decoders", "type", "Replace", "pattern",
                              "String", U, "content", " ", "type", "ByteFallback", "type", "Fuse",
                              "type", "Strip", "content", " ", "start", 1, "stop", 0);
  json_t *root =
      json_pack("{s:s, s:n, s:n, s:o, s:o, s:o, s:o, s:o, s:o}", "version", "1.0", "truncation",
                "padding", "added_tokens", added, "normalizer", norm, "pre_tokenizer", pre,
                "post_processor", post, "decoder", decoder, "model", model);
  assert_non_null(root);
  return root;
}

static lc_tokenizer *spm_load(int form, const char *name) {
  char path[512];
  path_in(path, sizeof path, name);
  json_t *j = spm_json(form);
  write_json(path, j);
  json_decref(j);
  return load_ok(path);
}

/* SentencePiece-style BPE: ▁ prepended, spaces as ▁, merges by rank. */
static void test_tokenizer_spm_known(void **state) {
  (void)state;
  for (int form = 0; form < 2; form++) {
    lc_tokenizer *t = spm_load(form, "spm.json");
    lc_tokenizer_info ti;
    assert_int_equal(lc_tokenizer_get_info(t, &ti), LC_OK);
    assert_int_equal(ti.type, LC_TOKENIZER_SPM_BPE);
    assert_int_equal(ti.vocab_size, 278);
    assert_int_equal(ti.bos_id, 1);
    /* ▁hello▁world: ▁h (0), el (1), ▁hel (2), lo (3), ▁hello (4); ▁w (5),
     * or (6), ▁wor (7), ld (8), ▁world (9) */
    EXPECT_IDS(t, "hello world", 0, 268, 274);
    EXPECT_IDS(t, "hello world", LC_ENCODE_ADD_SPECIAL, 1, 268, 274);
    /* two leading spaces: ▁▁▁hello (Llama 2: Prepend then Replace);
     * Metaspace "first" adds none when the text starts with a space */
    if (form == 0) EXPECT_IDS(t, "  hello", 0, 259, 259, 268);
    if (form == 1) EXPECT_IDS(t, "  hello", 0, 259, 268);
    /* byte fallback: é is not a piece: <0xC3> <0xA9> */
    EXPECT_IDS(t, "h\xC3\xA9", 0, 264, 3 + 0xC3, 3 + 0xA9);
    /* a piece outside ASCII */
    EXPECT_IDS(t, "\xE6\x97\xA5", 0, 259, 277);
    /* after an added token, Llama 2's normalizer prepends ▁ again (a piece
     * of text on its own); Metaspace "first" does not */
    if (form == 0) EXPECT_IDS(t, "hello<s>world", 0, 268, 1, 274);
    if (form == 1) EXPECT_IDS(t, "hello<s>world", 0, 268, 1, 269, 270, 271);
    /* decoding: ▁ -> space, bytes joined, one leading space stripped */
    EXPECT_TEXT(t, LC_DECODE_SKIP_SPECIAL, "hello world", 1, 268, 274);
    EXPECT_TEXT(t, 0, "<s> hello world", 1, 268, 274); /* the strip sees '<' first */
    EXPECT_TEXT(t, 0, "h\xC3\xA9", 264, 3 + 0xC3, 3 + 0xA9);
    EXPECT_TEXT(t, 0, "  hello", 259, 259, 268);
    EXPECT_TEXT(t, 0,
                "\xEF\xBF\xBD"
                "A",
                3 + 0xC3, 3 + 'A'); /* <0xC3> alone */
    lc_tokenizer_free(t);
  }
  /* without byte fallback: unknown characters as one fused <unk> */
  lc_tokenizer *t = spm_load(2, "unk.json");
  EXPECT_IDS(t, "h\xC3\xA9\xC3\xA9h", 0, 264, 0, 260);
  lc_tokenizer_free(t);
}

/* ---- llama2.c tokenizer.bin ------------------------------------------------------------------*/

typedef struct l2c_piece {
  const char *s;
  float score;
} l2c_piece;

/* <unk>, BOS, EOS, the 256 <0xNN>, then these (ids 259 ...). */
static const l2c_piece L2C_PIECES[] = {
    {" ", -1.0f},   /* 259 */
    {"a", -2.0f},   /* 260 */
    {"b", -3.0f},   /* 261 */
    {"c", -4.0f},   /* 262 */
    {"ab", -5.0f},  /* 263 */
    {"bc", -1.5f},  /* 264 */
    {" a", -6.0f},  /* 265 */
    {" ab", -7.0f}, /* 266 */
    {"x", -2.0f},   /* 267 */
    {"y", -2.0f},   /* 268 */
    {"z", -2.0f},   /* 269 */
    {"xy", -3.0f},  /* 270 */
    {"yz", -3.0f},  /* 271 */
};
enum { L2C_N = 259 + (int)(sizeof L2C_PIECES / sizeof L2C_PIECES[0]) };

/* The file image into *out (malloc'ed), *n bytes. */
static unsigned char *l2c_image(size_t *n) {
  size_t cap = 1 << 16, k = 0;
  unsigned char *p = lct_malloc(cap);
  const int32_t max_len = 8;
  memcpy(p, &max_len, 4);
  k = 4;
  for (int id = 0; id < L2C_N; id++) {
    char buf[16];
    const char *s;
    float score = 0.0f;
    if (id == 0)
      s = "<unk>";
    else if (id == 1)
      s = "\n<s>\n";
    else if (id == 2)
      s = "\n</s>\n";
    else if (id < 259) {
      snprintf(buf, sizeof buf, "<0x%02X>", id - 3);
      s = buf;
    } else {
      s = L2C_PIECES[id - 259].s;
      score = L2C_PIECES[id - 259].score;
    }
    const int32_t len = (int32_t)strlen(s);
    memcpy(p + k, &score, 4);
    memcpy(p + k + 4, &len, 4);
    memcpy(p + k + 8, s, (size_t)len);
    k += 8 + (size_t)len;
  }
  *n = k;
  return p;
}

/* run.c's rule: the dummy " ", code points, then the best score merged
 * first (the leftmost among equals). */
static void test_tokenizer_llama2c_known(void **state) {
  (void)state;
  char path[512];
  path_in(path, sizeof path, "tokenizer.bin");
  size_t n;
  unsigned char *img = l2c_image(&n);
  lct_write_file(path, img, n);
  free(img);
  lc_tokenizer *t = load_ok(path);
  lc_tokenizer_info ti;
  assert_int_equal(lc_tokenizer_get_info(t, &ti), LC_OK);
  assert_int_equal(ti.type, LC_TOKENIZER_LLAMA2C);
  assert_int_equal(ti.vocab_size, L2C_N);
  assert_int_equal(ti.bos_id, 1);
  assert_int_equal(ti.eos_id, 2);
  assert_int_equal(ti.add_bos, 1);
  /* " abc": pairs " a" -6, "ab" -5, "bc" -1.5: bc first, then " a" */
  EXPECT_IDS(t, "abc", 0, 265, 264);
  /* " ab": ab (-5) beats " a" (-6), then " ab" */
  EXPECT_IDS(t, "ab", 0, 266);
  EXPECT_IDS(t, "ab", LC_ENCODE_ADD_SPECIAL, 1, 266);
  /* equal scores: xy and yz are both -3: the leftmost, xy */
  EXPECT_IDS(t, "xyz", 0, 259, 270, 269);
  /* not a piece: bytes, id = byte + 3 */
  EXPECT_IDS(t, "\xC3\xA9", 0, 259, 3 + 0xC3, 3 + 0xA9);
  int32_t k = -1;
  int32_t *ids = enc(t, "", 0, 0, &k);
  assert_int_equal(k, 0); /* no dummy prefix for empty text */
  free(ids);
  EXPECT_IDS(t, "", LC_ENCODE_ADD_SPECIAL, 1);
  /* decoding: no leading space right after BOS; <0xNN> is a byte */
  EXPECT_TEXT(t, LC_DECODE_SKIP_SPECIAL, "ab", 1, 266);
  EXPECT_TEXT(t, 0, " ab", 266);
  EXPECT_TEXT(t, 0, "\n<s>\nab", 1, 266);
  EXPECT_TEXT(t, LC_DECODE_SKIP_SPECIAL, "\xC3\xA9", 1, 259, 3 + 0xC3, 3 + 0xA9);
  lc_tokenizer_free(t);
}

/* A tokenizer.bin whose pieces are all empty (found by tests/fuzz/
 * fuzz_tokenizer.c): loading and encoding return statuses; the lookup of
 * the empty concatenation of two empty pieces passed a NULL key to memcmp
 * (undefined behaviour, reported by UBSan). */
static void test_tokenizer_llama2c_empty_pieces(void **state) {
  (void)state;
  char path[512];
  path_in(path, sizeof path, "tokenizer.bin");
  unsigned char img[4 + 8 * 300];
  const int32_t max_len = 8, zero = 0;
  memcpy(img, &max_len, 4);
  for (int i = 0; i < 300; i++) {
    memcpy(img + 4 + 8 * i, &zero, 4); /* score 0.0f */
    memcpy(img + 8 + 8 * i, &zero, 4); /* length 0 */
  }
  lct_write_file(path, img, sizeof img);
  lc_tokenizer *t = load_ok(path);
  int32_t *ids = NULL, n = -1;
  lc_status st = lc_tokenizer_encode(t, "ab c", 4, 0, &ids, &n);
  if (st == LC_OK) {
    assert_true(n >= 0);
    free(ids);
  } else {
    assert_null(ids);
    assert_true(lc_last_error(NULL)[0] != '\0');
  }
  lc_tokenizer_free(t);
}

/* A byte-level tokenizer.json whose vocabulary holds an empty piece ("")
 * decodes it to nothing, alone and between other ids, through decode and the
 * streaming detokenizer.  Found by fuzz_tokenizer: the empty piece reached the
 * output stage as a NULL buffer plus 0, undefined behaviour that clang's UBSan
 * reports and gcc's (this suite's sanitizer build) does not; the fuzz seed
 * tokenizer/empty-piece.json (tests/fuzz/fuzz_seeds.c) replays it under clang
 * in every CI fuzz stage.  Here: the decoded text. */
static void test_tokenizer_json_empty_piece(void **state) {
  (void)state;
  enum { EMPTY = 299 };
  char path[512];
  path_in(path, sizeof path, "empty.json");
  json_t *j = bl_json((bl_opts){0, 0, 0, 0});
  json_object_set_new(json_object_get(json_object_get(j, "model"), "vocab"), "",
                      json_integer(EMPTY));
  write_json(path, j);
  json_decref(j);
  lc_tokenizer *t = load_ok(path);
  static const int32_t ids[][3] = {{EMPTY, EMPTY, EMPTY}, {'a', EMPTY, 'b'}};
  static const char *const want[] = {"", "ab"};
  for (int c = 0; c < 2; c++) {
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(lc_tokenizer_decode(t, ids[c], 3, 0, &text, &len), LC_OK);
    assert_int_equal(len, strlen(want[c]));
    assert_memory_equal(text, want[c], len);
    free(text);
    lc_detokenizer *d = NULL;
    assert_int_equal(lc_detokenizer_create(t, 0, &d), LC_OK);
    size_t got = 0;
    char cat[8];
    for (int i = 0; i <= 3; i++) {
      const char *piece = NULL;
      size_t plen = 0;
      assert_int_equal(i < 3 ? lc_detokenizer_push(d, ids[c][i], &piece, &plen)
                             : lc_detokenizer_flush(d, &piece, &plen),
                       LC_OK);
      assert_true(got + plen <= sizeof cat);
      if (plen) memcpy(cat + got, piece, plen);
      got += plen;
    }
    assert_int_equal(got, strlen(want[c]));
    assert_memory_equal(cat, want[c], got);
    lc_detokenizer_free(d);
  }
  lc_tokenizer_free(t);
}

/* tokenizer.bin cut anywhere: a cut between two tokens is a smaller valid
 * file; anywhere else LC_ERR_FORMAT naming the offset.  Bad lengths and
 * headers too. */
static void test_tokenizer_llama2c_corrupt(void **state) {
  (void)state;
  char path[512];
  path_in(path, sizeof path, "tokenizer.bin");
  size_t n;
  unsigned char *img = l2c_image(&n);
  /* token boundaries */
  int *boundary = lct_malloc((n + 1) * sizeof *boundary);
  memset(boundary, 0, (n + 1) * sizeof *boundary);
  for (size_t k = 4; k < n;) {
    int32_t len;
    memcpy(&len, img + k + 4, 4);
    k += 8 + (size_t)len;
    boundary[k] = 1;
  }
  lct_rng r = lct_rng_new(11);
  for (int trial = 0; trial < 120; trial++) {
    const size_t cut = trial < 12 ? (size_t)trial : (size_t)lct_range(&r, 0, (int64_t)n - 1);
    lct_write_file(path, img, cut);
    if (boundary[cut]) {
      lc_tokenizer *t = load_ok(path);
      lc_tokenizer_free(t);
    } else {
      load_fails(path, LC_ERR_FORMAT, "tokenizer.bin");
    }
  }
  free(boundary);
  /* a negative length, a length past max_token_length, a zero header */
  const int32_t bad_len[] = {-1, 9, 1 << 30};
  for (int i = 0; i < 3; i++) {
    unsigned char *c = lct_malloc(n);
    memcpy(c, img, n);
    memcpy(c + 4 + 4, &bad_len[i], 4); /* token 0's length */
    lct_write_file(path, c, n);
    load_fails(path, LC_ERR_FORMAT, "length");
    free(c);
  }
  const int32_t bad_max[] = {0, -5, 1 << 21};
  for (int i = 0; i < 3; i++) {
    unsigned char *c = lct_malloc(n);
    memcpy(c, img, n);
    memcpy(c, &bad_max[i], 4);
    lct_write_file(path, c, n);
    load_fails(path, LC_ERR_FORMAT, "max_token_length");
    free(c);
  }
  free(img);
}

/* ---- malformed tokenizer.json
 * ----------------------------------------------------------------------*/

/* Writes j (stolen) to name and expects loading to fail. */
static void json_fails(json_t *j, lc_status want, const char *needle) {
  char path[512];
  path_in(path, sizeof path, "bad.json");
  write_json(path, j);
  json_decref(j);
  load_fails(path, want, needle);
}

static void test_tokenizer_json_malformed(void **state) {
  (void)state;
  char path[512];
  path_in(path, sizeof path, "bad.json");
  json_t *good = bl_json((bl_opts){1, 1, 1, 0});
  char *text = json_dumps(good, JSON_COMPACT);
  const size_t len = strlen(text);
  /* every strict prefix of a compact JSON document is invalid JSON */
  lct_rng r = lct_rng_new(5);
  for (int trial = 0; trial < 60; trial++) {
    const size_t cut = trial < 4 ? (size_t)trial + 1 : (size_t)lct_range(&r, 1, (int64_t)len - 1);
    lct_write_file(path, text, cut);
    load_fails(path, LC_ERR_FORMAT, cut == 0 ? NULL : "not valid JSON");
  }
  free(text);
  /* components this library does not implement, refused by name */
  json_t *j = json_deep_copy(good);
  json_object_set_new(json_object_get(j, "model"), "type", json_string("Unigram"));
  json_fails(j, LC_ERR_UNSUPPORTED, "Unigram");
  j = json_deep_copy(good);
  json_object_set_new(json_object_get(j, "model"), "type", json_string("WordPiece"));
  json_fails(j, LC_ERR_UNSUPPORTED, "WordPiece");
  j = json_deep_copy(good);
  json_object_set_new(j, "normalizer", json_pack("{s:s}", "type", "Lowercase"));
  json_fails(j, LC_ERR_UNSUPPORTED, "Lowercase");
  j = json_deep_copy(good);
  json_object_set_new(j, "pre_tokenizer", json_pack("{s:s}", "type", "Whitespace"));
  json_fails(j, LC_ERR_UNSUPPORTED, "Whitespace");
  j = json_deep_copy(good);
  json_object_set_new(j, "decoder", json_pack("{s:s}", "type", "WordPiece"));
  json_fails(j, LC_ERR_UNSUPPORTED, "WordPiece");
  j = json_deep_copy(good);
  json_object_set_new(json_object_get(j, "model"), "dropout", json_real(0.1));
  json_fails(j, LC_ERR_UNSUPPORTED, "dropout");
  /* inconsistent content */
  j = json_deep_copy(good);
  json_array_append_new(json_object_get(json_object_get(j, "model"), "merges"),
                        json_string("h zzz"));
  json_fails(j, LC_ERR_FORMAT, "merge 10");
  j = json_deep_copy(good);
  json_array_append_new(json_object_get(json_object_get(j, "model"), "merges"),
                        json_string("nospace"));
  json_fails(j, LC_ERR_FORMAT, "merge 10");
  j = json_deep_copy(good);
  json_object_set_new(json_object_get(json_object_get(j, "model"), "vocab"), "q", json_string("7"));
  json_fails(j, LC_ERR_FORMAT, "model.vocab");
  j = json_deep_copy(good);
  json_object_set_new(json_object_get(json_object_get(j, "model"), "vocab"), "q", json_integer(-3));
  json_fails(j, LC_ERR_FORMAT, "model.vocab");
  j = json_deep_copy(good);
  json_object_set_new(json_object_get(j, "pre_tokenizer"), "pretokenizers",
                      json_pack("[{s:s, s:{s:s}, s:s}]", "type", "Split", "pattern", "Regex",
                                "(unclosed", "behavior", "Isolated"));
  json_fails(j, LC_ERR_FORMAT, "does not compile");
  j = json_deep_copy(good);
  json_object_del(j, "model");
  json_fails(j, LC_ERR_FORMAT, "model");
  j = json_deep_copy(good);
  json_array_append_new(json_object_get(j, "added_tokens"), json_pack("{s:s}", "content", "x"));
  json_fails(j, LC_ERR_FORMAT, "added_tokens");
  /* not starting with '{': read as a tokenizer.bin, whose header is wrong */
  json_fails(json_string("just a string"), LC_ERR_FORMAT, "max_token_length");
  json_decref(good);
}

/* Random byte changes in a good tokenizer.json: loading fails cleanly or
 * gives a tokenizer that encodes and decodes. */
static void test_tokenizer_json_fuzz(void **state) {
  (void)state;
  char path[512];
  path_in(path, sizeof path, "fuzz.json");
  json_t *good = spm_json(0);
  char *text = json_dumps(good, JSON_COMPACT);
  json_decref(good);
  const size_t len = strlen(text);
  lct_rng r = lct_rng_new(99);
  int ok = 0, failed = 0;
  for (int trial = 0; trial < 150; trial++) {
    char *c = lct_malloc(len);
    memcpy(c, text, len);
    const int edits = (int)lct_range(&r, 1, 4);
    for (int e = 0; e < edits; e++) {
      static const char alphabet[] = "{}[]\":,0123456789-abc \\u\xC3";
      c[lct_range(&r, 0, (int64_t)len - 1)] = alphabet[lct_range(&r, 0, sizeof alphabet - 2)];
    }
    lct_write_file(path, c, len);
    free(c);
    lc_tokenizer *t = NULL;
    lc_status st = lc_tokenizer_load(path, &t);
    if (st == LC_OK) {
      ok++;
      int32_t *ids = NULL, n = 0;
      if (lc_tokenizer_encode(t, "hello world \xC3\xA9!", 15, LC_ENCODE_ADD_SPECIAL, &ids, &n) ==
          LC_OK) {
        char *s = NULL;
        lc_tokenizer_decode(t, ids, n, 0, &s, NULL);
        free(s);
      }
      free(ids);
      lc_tokenizer_free(t);
    } else {
      failed++;
      assert_null(t);
      if (st != LC_ERR_FORMAT && st != LC_ERR_UNSUPPORTED)
        fail_msg("fuzz trial %d: unexpected %s: %s", trial, lc_status_name(st),
                 lc_last_error(NULL));
    }
  }
  free(text);
  print_message("fuzzed tokenizer.json: %d loaded, %d refused\n", ok, failed);
}

/* Text that is not UTF-8: LC_ERR_INVALID_ARGUMENT naming the byte offset. */
static void test_tokenizer_invalid_utf8(void **state) {
  (void)state;
  lc_tokenizer *t = bl_load((bl_opts){1, 1, 1, 0}, "bl.json");
  static const struct {
    const char *s;
    size_t off;
  } cases[] = {{"\xC3(", 0},      {"ab\xFF", 2},           {"x\xC0\xAF", 1}, {"\xED\xA0\x80", 0},
               {"ok\xE6\x97", 2}, {"\xF4\x90\x80\x80", 0}, {"abc\x80", 3},   {"\xF0\x9F\x98", 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int32_t *ids = (int32_t *)0x1, n = 7;
    lc_status st = lc_tokenizer_encode(t, cases[i].s, strlen(cases[i].s), 0, &ids, &n);
    char needle[64];
    snprintf(needle, sizeof needle, "byte offset %zu", cases[i].off);
    if (st != LC_ERR_INVALID_ARGUMENT || ids != NULL || n != 0 ||
        !strstr(lc_last_error(NULL), needle))
      fail_msg("case %zu: expected INVALID_ARGUMENT with '%s', got %s: %s", i, needle,
               lc_status_name(st), lc_last_error(NULL));
  }
  int32_t *ids = NULL, n = 0;
  assert_int_equal(lc_tokenizer_encode(NULL, "a", 1, 0, &ids, &n), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_tokenizer_encode(t, NULL, 1, 0, &ids, &n), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_tokenizer_encode(t, "a", 1, 0x80, &ids, &n), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_tokenizer_encode(t, NULL, 0, 0, &ids, &n), LC_OK);
  assert_int_equal(n, 0);
  free(ids);
  lc_tokenizer_free(t);
}

/* NFC of s[0, n) (malloc'ed, NUL-terminated) through utf8proc. */
static char *nfc(const char *s, size_t n, size_t *out_len) {
  utf8proc_uint8_t *d = NULL;
  utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &d,
                                    UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  assert_true(r >= 0);
  *out_len = (size_t)r;
  return (char *)d;
}

/* ---- random text
 * ----------------------------------------------------------------------------------*/

/* A random valid UTF-8 string of up to max_cp code points into buf (NUL
 * terminated, no U+0000 and no U+2581, which SentencePiece decodes as a
 * space); combining marks only when marks. */
static size_t rand_text(lct_rng *r, char *buf, int max_cp, int marks) {
  static const uint32_t ranges[][2] = {{0x20, 0x7E},       {0x20, 0x7E},     {0x20, 0x7E},
                                       {0x30, 0x39},       {0x09, 0x0D},     {0xA0, 0x17F},
                                       {0x370, 0x3FF},     {0x400, 0x45F},   {0x4E00, 0x9FFF},
                                       {0x3040, 0x30FF},   {0xAC00, 0xD7A3}, {0x1F300, 0x1F64F},
                                       {0x1F900, 0x1F9FF}, {0x2000, 0x206F}, {0xE000, 0xE0FF},
                                       {0x10000, 0x1007F}, {0x300, 0x36F}};
  const int nr = (int)(sizeof ranges / sizeof ranges[0]) - (marks ? 0 : 1);
  const int n = (int)lct_range(r, 0, max_cp);
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    int which = (int)lct_range(r, 0, nr - 1);
    uint32_t cp = (uint32_t)lct_range(r, ranges[which][0], ranges[which][1]);
    if (lct_range(r, 0, 9) == 0)
      cp = (const uint32_t[]){' ', '\n', 0x3000, 0x85, 0x2028}[lct_range(r, 0, 4)];
    k += put_utf8(cp, buf + k);
  }
  buf[k] = '\0';
  return k;
}

/* decode(encode(s)) == s on random strings for the three kinds, and
 * NFC(s) for the tokenizer that normalises; re-encoding the decoded text
 * gives the same ids. */
static void test_tokenizer_round_trip_random(void **state) {
  (void)state;
  char path[512];
  path_in(path, sizeof path, "tokenizer.bin");
  size_t n;
  unsigned char *img = l2c_image(&n);
  lct_write_file(path, img, n);
  free(img);
  lc_tokenizer *tk[4] = {bl_load((bl_opts){1, 0, 0, 0}, "bl.json"), spm_load(0, "spm.json"),
                         load_ok(path), bl_load((bl_opts){0, 1, 1, 0}, "nfc.json")};
  const char *names[4] = {"byte-level", "sentencepiece", "llama2c", "byte-level NFC"};
  /* flags: byte-level and SentencePiece without specials, added tokens as
   * text; llama2.c with BOS, which its decoder needs to drop the dummy space */
  const unsigned ef[4] = {LC_ENCODE_PLAIN, LC_ENCODE_PLAIN, LC_ENCODE_ADD_SPECIAL, LC_ENCODE_PLAIN};
  const unsigned df[4] = {0, 0, LC_DECODE_SKIP_SPECIAL, 0};
  lct_rng r = lct_rng_new(2024);
  char buf[4 * 64 + 1];
  for (int k = 0; k < 4; k++) {
    for (int trial = 0; trial < 1500; trial++) {
      const size_t len = rand_text(&r, buf, 40, k == 3);
      size_t wl = len;
      char *want = k == 3 ? nfc(buf, len, &wl) : buf;
      int32_t m = 0;
      int32_t *ids = enc(tk[k], buf, len, ef[k], &m);
      size_t dl = 0;
      char *d = dec(tk[k], ids, m, df[k], &dl);
      if (dl != wl || memcmp(d, want, wl))
        fail_msg("%s round trip, trial %d: '%s' came back as '%s'", names[k], trial, buf, d);
      int32_t m2 = 0;
      int32_t *ids2 = enc(tk[k], d, dl, ef[k], &m2);
      if (m2 != m || memcmp(ids, ids2, (size_t)m * sizeof *ids))
        fail_msg("%s: re-encoding the decoded '%s' gives other ids", names[k], buf);
      free(ids2);
      if (want != buf) free(want);
      free(d);
      free(ids);
    }
    lc_tokenizer_free(tk[k]);
  }
}

/* The detokenizer: pushes and a flush concatenate to decode(); the text
 * is valid UTF-8 whatever the ids; a character split over byte tokens comes
 * out whole once complete. */
static void test_tokenizer_detokenizer_stream(void **state) {
  (void)state;
  char path[512];
  path_in(path, sizeof path, "tokenizer.bin");
  size_t n;
  unsigned char *img = l2c_image(&n);
  lct_write_file(path, img, n);
  free(img);
  lc_tokenizer *tk[3] = {bl_load((bl_opts){1, 1, 1, 0}, "bl.json"), spm_load(0, "spm.json"),
                         load_ok(path)};
  lct_rng r = lct_rng_new(77);
  for (int k = 0; k < 3; k++) {
    lc_tokenizer_info ti;
    lc_tokenizer_get_info(tk[k], &ti);
    for (int trial = 0; trial < 600; trial++) {
      int32_t ids[32];
      const int32_t m = (int32_t)lct_range(&r, 0, 32);
      for (int32_t i = 0; i < m; i++) {
        do ids[i] = (int32_t)lct_range(&r, 0, ti.vocab_size - 1);
        while (lc_tokenizer_piece(tk[k], ids[i], &(const char *){NULL}, NULL) != LC_OK);
      }
      const unsigned flags = trial & 1 ? LC_DECODE_SKIP_SPECIAL : 0;
      size_t wl = 0;
      char *want = dec(tk[k], ids, m, flags, &wl);
      lc_detokenizer *d = NULL;
      assert_int_equal(lc_detokenizer_create(tk[k], flags, &d), LC_OK);
      char got[4096];
      size_t gl = 0;
      for (int32_t i = 0; i <= m; i++) {
        const char *p = NULL;
        size_t pl = 0;
        assert_int_equal(
            i < m ? lc_detokenizer_push(d, ids[i], &p, &pl) : lc_detokenizer_flush(d, &p, &pl),
            LC_OK);
        assert_true(gl + pl < sizeof got);
        memcpy(got + gl, p, pl);
        gl += pl;
      }
      lc_detokenizer_free(d);
      if (gl != wl || memcmp(got, want, wl))
        fail_msg("tokenizer %d trial %d: streamed text differs from decode()", k, trial);
      /* valid UTF-8: encoding it must not fail on the check */
      int32_t *e = NULL, en = 0;
      lc_status st = lc_tokenizer_encode(tk[k], want, wl, LC_ENCODE_PLAIN, &e, &en);
      if (st == LC_ERR_INVALID_ARGUMENT)
        fail_msg("decode gave invalid UTF-8: %s", lc_last_error(NULL));
      free(e);
      free(want);
    }
  }
  /* 日 as three byte tokens: nothing, nothing, then 日 */
  lc_detokenizer *d = NULL;
  assert_int_equal(lc_detokenizer_create(tk[0], 0, &d), LC_OK);
  const char *p;
  size_t pl;
  assert_int_equal(lc_detokenizer_push(d, 0xE6, &p, &pl), LC_OK);
  assert_int_equal(pl, 0);
  assert_int_equal(lc_detokenizer_push(d, 0x97, &p, &pl), LC_OK);
  assert_int_equal(pl, 0);
  assert_int_equal(lc_detokenizer_push(d, 0xA5, &p, &pl), LC_OK);
  assert_int_equal(pl, 3);
  assert_memory_equal(p, "\xE6\x97\xA5", 3);
  /* an unfinished sequence at the end: one U+FFFD */
  assert_int_equal(lc_detokenizer_push(d, 0xE6, &p, &pl), LC_OK);
  assert_int_equal(pl, 0);
  assert_int_equal(lc_detokenizer_flush(d, &p, &pl), LC_OK);
  assert_int_equal(pl, 3);
  assert_memory_equal(p, "\xEF\xBF\xBD", 3);
  assert_int_equal(lc_detokenizer_push(d, 99999, &p, &pl), LC_ERR_OUT_OF_RANGE);
  lc_detokenizer_free(d);
  /* SentencePiece: only the very first space is stripped */
  assert_int_equal(lc_detokenizer_create(tk[1], LC_DECODE_SKIP_SPECIAL, &d), LC_OK);
  assert_int_equal(lc_detokenizer_push(d, 1, &p, &pl), LC_OK);
  assert_int_equal(pl, 0);
  assert_int_equal(lc_detokenizer_push(d, 268, &p, &pl), LC_OK);
  assert_string_equal(p, "hello");
  assert_int_equal(lc_detokenizer_push(d, 274, &p, &pl), LC_OK);
  assert_string_equal(p, " world");
  lc_detokenizer_free(d);
  lc_detokenizer_free(NULL);
  for (int k = 0; k < 3; k++) lc_tokenizer_free(tk[k]);
}

/* ---- directories and tokenizer_config.json
 * ----------------------------------------------------------*/

static void test_tokenizer_config(void **state) {
  (void)state;
  char path[512];
  /* a template in the post-processor: the config names bos/eos and the
   * chat template ("default" from a list); add_bos_token does not override */
  json_t *j = bl_json((bl_opts){1, 0, 1, 0});
  path_in(path, sizeof path, "tokenizer.json");
  write_json(path, j);
  json_decref(j);
  static const char cfg[] =
      "{\"add_bos_token\": false, \"bos_token\": {\"content\": \"<|bos|>\", \"lstrip\": false},"
      " \"eos_token\": \"<|eot|>\", \"model_max_length\": 1000000000000000019884624838656,"
      " \"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
      " {\"name\": \"default\", \"template\": \"{{ messages }}\"}]}";
  path_in(path, sizeof path, "tokenizer_config.json");
  lct_write_file(path, cfg, strlen(cfg));
  lc_tokenizer *t = load_ok(g_dir);
  lc_tokenizer_info ti;
  assert_int_equal(lc_tokenizer_get_info(t, &ti), LC_OK);
  assert_int_equal(ti.bos_id, BL_BOS);
  assert_int_equal(ti.eos_id, BL_EOT);
  assert_int_equal(ti.add_bos, 1);
  assert_string_equal(lc_tokenizer_chat_template(t), "{{ messages }}");
  lc_tokenizer_free(t);
  /* no template: the config's add_bos_token / add_eos_token decide */
  j = bl_json((bl_opts){1, 0, 0, 0});
  path_in(path, sizeof path, "tokenizer.json");
  write_json(path, j);
  json_decref(j);
  static const char cfg2[] =
      "{\"add_bos_token\": true, \"add_eos_token\": true, \"bos_token\": \"<|bos|>\","
      " \"eos_token\": \"<|eot|>\", \"chat_template\": \"plain\"}";
  path_in(path, sizeof path, "tokenizer_config.json");
  lct_write_file(path, cfg2, strlen(cfg2));
  t = load_ok(g_dir);
  EXPECT_IDS(t, "hello", LC_ENCODE_ADD_SPECIAL, BL_BOS, 260, BL_EOT);
  assert_string_equal(lc_tokenizer_chat_template(t), "plain");
  lc_tokenizer_free(t);
  /* a malformed config is an error, not ignored */
  path_in(path, sizeof path, "tokenizer_config.json");
  lct_write_file(path, "{\"add_bos_token\": tru", 21);
  load_fails(g_dir, LC_ERR_FORMAT, "tokenizer_config.json");
  /* a directory with tokenizer.bin only: llama2.c */
  remove(path);
  path_in(path, sizeof path, "tokenizer.json");
  remove(path);
  load_fails(g_dir, LC_ERR_NOT_FOUND, "neither");
  size_t n;
  unsigned char *img = l2c_image(&n);
  path_in(path, sizeof path, "tokenizer.bin");
  lct_write_file(path, img, n);
  free(img);
  t = load_ok(g_dir);
  assert_int_equal(lc_tokenizer_get_info(t, &ti), LC_OK);
  assert_int_equal(ti.type, LC_TOKENIZER_LLAMA2C);
  lc_tokenizer_free(t);
}

static void test_tokenizer_load_errors(void **state) {
  (void)state;
  lc_tokenizer *t = (lc_tokenizer *)0x1;
  assert_int_equal(lc_tokenizer_load(NULL, &t), LC_ERR_INVALID_ARGUMENT);
  assert_null(t);
  assert_int_equal(lc_tokenizer_load("x", NULL), LC_ERR_INVALID_ARGUMENT);
  load_fails("/nonexistent/tokenizer.json", LC_ERR_NOT_FOUND, "does not exist");
  char path[512];
  path_in(path, sizeof path, "empty.bin");
  lct_write_file(path, "", 0);
  load_fails(path, LC_ERR_FORMAT, "shorter");
  lc_tokenizer_free(NULL);
  assert_string_equal(lc_tokenizer_type_name(LC_TOKENIZER_SPM_BPE), "sentencepiece-bpe");
  assert_string_equal(lc_tokenizer_type_name((lc_tokenizer_type)99), "unknown");
  lc_tokenizer_info ti;
  assert_int_equal(lc_tokenizer_get_info(NULL, &ti), LC_ERR_INVALID_ARGUMENT);
  assert_null(lc_tokenizer_chat_template(NULL));
}

/* ---- threads
 * ----------------------------------------------------------------------------------------*/

typedef struct th_arg {
  const lc_tokenizer *t;
  uint64_t seed;
  int bad;
} th_arg;

static void *th_main(void *p) {
  th_arg *a = p;
  lct_rng r = lct_rng_new(a->seed);
  char buf[4 * 64 + 1];
  for (int i = 0; i < 300 && !a->bad; i++) {
    const size_t len = rand_text(&r, buf, 40, 0);
    int32_t *ids = NULL, n = 0;
    char *d = NULL;
    size_t dl = 0;
    if (lc_tokenizer_encode(a->t, buf, len, LC_ENCODE_PLAIN, &ids, &n) != LC_OK ||
        lc_tokenizer_decode(a->t, ids, n, 0, &d, &dl) != LC_OK || dl != len || memcmp(d, buf, len))
      a->bad = 1;
    free(ids);
    free(d);
  }
  return NULL;
}

/* One tokenizer, four threads encoding at once: every round trip holds. */
static void test_tokenizer_threads(void **state) {
  (void)state;
  lc_tokenizer *t = bl_load((bl_opts){1, 0, 0, 0}, "bl.json");
  pthread_t th[4];
  th_arg a[4];
  for (int i = 0; i < 4; i++) {
    a[i] = (th_arg){t, 100 + (uint64_t)i, 0};
    assert_int_equal(pthread_create(&th[i], NULL, th_main, &a[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(a[i].bad, 0);
  }
  lc_tokenizer_free(t);
}

/* ---- the real files
 * ---------------------------------------------------------------------------------*/

static const char *tokenizers_dir(void) {
  const char *d = getenv("LC_TOKENIZERS_DIR");
  return d && *d ? d : LC_TOKENIZERS_DIR;
}

/* dir/name when it holds a tokenizer.json, else NULL after a message. */
static const char *real_dir(const char *name, char *buf, size_t n) {
  snprintf(buf, n, "%s/%s/tokenizer.json", tokenizers_dir(), name);
  struct stat sb;
  if (stat(buf, &sb) != 0) {
    print_message("skipped: no %s (run tools/fetch-tokenizers.sh, or set LC_TOKENIZERS_DIR)\n",
                  buf);
    return NULL;
  }
  snprintf(buf, n, "%s/%s", tokenizers_dir(), name);
  return buf;
}

/* Round trips of random strings (to their NFC when the tokenizer
 * normalises), added tokens as plain text. */
static void real_round_trips(const lc_tokenizer *t, const char *name, int trials) {
  lc_tokenizer_info ti;
  lc_tokenizer_get_info(t, &ti);
  lct_rng r = lct_rng_new(7);
  char buf[4 * 64 + 1];
  for (int i = 0; i < trials; i++) {
    const size_t len = rand_text(&r, buf, 60, 1);
    size_t wl = len;
    char *want = ti.nfc ? nfc(buf, len, &wl) : buf;
    int32_t n = 0;
    int32_t *ids = enc(t, buf, len, LC_ENCODE_PLAIN, &n);
    size_t dl = 0;
    char *d = dec(t, ids, n, 0, &dl);
    if (dl != wl || memcmp(d, want, wl))
      fail_msg("%s round trip: '%s' came back as '%s'", name, buf, d);
    if (want != buf) free(want);
    free(d);
    free(ids);
  }
}

/* Ids checked against Hugging Face tokenizers 0.23.2 on the same files
 * (tools/tok_check.py does this on a large corpus). */
static void test_tokenizer_real_llama3(void **state) {
  (void)state;
  char buf[1024];
  const char *d = real_dir("llama3", buf, sizeof buf);
  if (!d) skip();
  lc_tokenizer *t = load_ok(d);
  lc_tokenizer_info ti;
  lc_tokenizer_get_info(t, &ti);
  assert_int_equal(ti.type, LC_TOKENIZER_BYTE_BPE);
  assert_int_equal(ti.vocab_size, 128256);
  assert_int_equal(ti.bos_id, 128000);
  assert_int_equal(ti.eos_id, 128001);
  assert_non_null(lc_tokenizer_chat_template(t));
  EXPECT_IDS(t, "The year 2024 has 366 days.", LC_ENCODE_ADD_SPECIAL, 791, 1060, 220, 2366, 19, 706,
             220, 18044, 2919, 13);
  EXPECT_IDS(t, "I'm here, they'RE not.\n\n\n  x", 0, 40, 2846, 1618, 11, 814, 95253, 539, 4286,
             220, 865);
  EXPECT_IDS(t, "Hello world! 12345 <|im_start|> <s>x", 0, 9906, 1917, 0, 220, 4513, 1774, 83739,
             318, 5011, 91, 29, 366, 82, 29357);
  EXPECT_IDS(t, "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x80 e\xCC\x81", 0, 102433,
             102158, 91416, 384, 54939);
  real_round_trips(t, "llama3", 400);
  lc_tokenizer_free(t);
}

static void test_tokenizer_real_qwen3(void **state) {
  (void)state;
  char buf[1024];
  const char *d = real_dir("qwen3", buf, sizeof buf);
  if (!d) skip();
  lc_tokenizer *t = load_ok(d);
  lc_tokenizer_info ti;
  lc_tokenizer_get_info(t, &ti);
  assert_int_equal(ti.type, LC_TOKENIZER_BYTE_BPE);
  assert_int_equal(ti.nfc, 1);
  assert_int_equal(ti.eos_id, 151645);
  assert_int_equal(ti.add_bos, 0);
  EXPECT_IDS(t, "<|im_start|>user\nWhat is 2+2?<|im_end|>\n", LC_ENCODE_ADD_SPECIAL, 151644, 872,
             198, 3838, 374, 220, 17, 10, 17, 30, 151645, 198);
  EXPECT_IDS(t, "The year 2024 has 366 days.", 0, 785, 1042, 220, 17, 15, 17, 19, 702, 220, 18, 21,
             21, 2849, 13);
  /* NFC: e + U+0301 is encoded as U+00E9 */
  EXPECT_IDS(t, "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x80 e\xCC\x81", 0, 101059,
             102819, 90316, 3958);
  real_round_trips(t, "qwen3", 400);
  lc_tokenizer_free(t);
}

static void test_tokenizer_real_llama2(void **state) {
  (void)state;
  char buf[1024];
  const char *d = real_dir("llama2", buf, sizeof buf);
  if (!d) skip();
  lc_tokenizer *t = load_ok(d);
  lc_tokenizer_info ti;
  lc_tokenizer_get_info(t, &ti);
  assert_int_equal(ti.type, LC_TOKENIZER_SPM_BPE);
  assert_int_equal(ti.vocab_size, 32000);
  assert_int_equal(ti.bos_id, 1);
  assert_int_equal(ti.add_bos, 1);
  EXPECT_IDS(t, "Hello, world!", LC_ENCODE_ADD_SPECIAL, 1, 22557, 28725, 1526, 28808);
  EXPECT_IDS(t, "  two spaces\tand tab\n", LC_ENCODE_ADD_SPECIAL, 1, 259, 989, 10599, 12, 391, 7683,
             13);
  EXPECT_IDS(t, "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x80 e\xCC\x81",
             LC_ENCODE_ADD_SPECIAL, 1, 28705, 29142, 29119, 30321, 28705, 30575, 317, 28949);
  EXPECT_TEXT(t, 0, "<s> Hello, world!", 1, 22557, 28725, 1526, 28808);
  real_round_trips(t, "llama2", 400);
  lc_tokenizer_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_tokenizer_bytelevel_known, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_bytelevel_ignore_merges, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_added_tokens, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_spm_known, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_llama2c_known, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_llama2c_corrupt, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_llama2c_empty_pieces, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_json_empty_piece, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_json_malformed, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_json_fuzz, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_invalid_utf8, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_round_trip_random, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_detokenizer_stream, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_config, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_load_errors, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_tokenizer_threads, make_dir, remove_dir),
      cmocka_unit_test(test_tokenizer_real_llama3),
      cmocka_unit_test(test_tokenizer_real_qwen3),
      cmocka_unit_test(test_tokenizer_real_llama2),
  };
  return LCT_RUN(tests);
}
