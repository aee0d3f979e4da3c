/*
 * tests/fuzz/fuzz_tokenizer.c — lc_tokenizer_load on a tokenizer.json or a
 * tokenizer.bin (the input is the file; the loader tells them apart by
 * content: lib/tokenizer.c, tok_json.c, tok_bpe.c).
 * Asserts: a failed load leaves a status, a message and no tokenizer.  A
 * loaded one reports its info (vocab_size >= 1, ids in range); then for a
 * few texts (fixed ones and the input's last 48 bytes) encode either
 * succeeds with ids inside the vocabulary or fails with a status (invalid
 * UTF-8 must fail); decode of those ids succeeds, NUL-terminated, and
 * equals the concatenation of a detokenizer's pushes and flush (the
 * streaming promise of layercast_text.h).  Byte-exact round trips are not
 * asserted: a fuzzed vocabulary may lack pieces, normalise, or map text to
 * <unk>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/layercast_text.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const lc_tokenizer *t, const lc_tokenizer_info *info, const char *s,
                       size_t n, unsigned enc_flags) {
  int32_t *ids = NULL, n_ids = -1;
  lc_status st = lc_tokenizer_encode(t, s, n, enc_flags, &ids, &n_ids);
  if (!fuzz_valid_utf8((const uint8_t *)s, n))
    FUZZ_CHECK(st != LC_OK, "encode took %zu bytes of invalid UTF-8", n);
  if (st != LC_OK) {
    FUZZ_CHECK(lc_last_error(NULL)[0] != '\0', "encode failed without a message");
    return;
  }
  FUZZ_CHECK(ids != NULL && n_ids >= 0, "encode: ids %p n %d", (void *)ids, n_ids);
  for (int32_t i = 0; i < n_ids; i++)
    FUZZ_CHECK(ids[i] >= 0 && ids[i] < info->vocab_size, "id %d outside [0, %d)", ids[i],
               info->vocab_size);
  for (unsigned dec_flags = 0; dec_flags <= LC_DECODE_SKIP_SPECIAL; dec_flags++) {
    char *text = NULL;
    size_t len = (size_t)-1;
    st = lc_tokenizer_decode(t, ids, n_ids, dec_flags, &text, &len);
    FUZZ_CHECK(st == LC_OK, "decode of encoded ids: %s", lc_last_error(NULL));
    FUZZ_CHECK(text != NULL && text[len] == '\0', "decode: not NUL-terminated");
    lc_detokenizer *d = NULL;
    st = lc_detokenizer_create(t, dec_flags, &d);
    FUZZ_CHECK(st == LC_OK && d != NULL, "lc_detokenizer_create: %s", lc_last_error(NULL));
    char *cat = malloc(len + 1);
    FUZZ_CHECK(cat != NULL, "malloc");
    size_t got = 0;
    for (int32_t i = 0; i <= n_ids; i++) {
      const char *piece = NULL;
      size_t plen = 0;
      st = i < n_ids ? lc_detokenizer_push(d, ids[i], &piece, &plen)
                     : lc_detokenizer_flush(d, &piece, &plen);
      FUZZ_CHECK(st == LC_OK, "detokenizer: %s", lc_last_error(NULL));
      FUZZ_CHECK(got + plen <= len, "detokenizer gives more than decode (%zu > %zu)", got + plen,
                 len);
      if (plen) memcpy(cat + got, piece, plen);
      got += plen;
    }
    FUZZ_CHECK(got == len && memcmp(cat, text, len) == 0,
               "the detokenizer's %zu bytes differ from decode's %zu", got, len);
    free(cat);
    lc_detokenizer_free(d);
    free(text);
  }
  free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[256];
  fuzz_path(path, sizeof path, "tokenizer.file");
  fuzz_write(path, data, size);
  lc_tokenizer *t = (lc_tokenizer *)path;
  lc_status st = lc_tokenizer_load(path, &t);
  if (st != LC_OK) {
    fuzz_check_failed("lc_tokenizer_load", st, t, NULL);
    return 0;
  }
  FUZZ_CHECK(t != NULL, "LC_OK without a tokenizer");
  lc_tokenizer_info info;
  FUZZ_CHECK(lc_tokenizer_get_info(t, &info) == LC_OK, "lc_tokenizer_get_info");
  FUZZ_CHECK(info.vocab_size >= 1, "vocab_size %d", info.vocab_size);
  FUZZ_CHECK(info.bos_id >= -1 && info.bos_id < info.vocab_size, "bos_id %d", info.bos_id);
  FUZZ_CHECK(info.eos_id >= -1 && info.eos_id < info.vocab_size, "eos_id %d", info.eos_id);
  static const char *const texts[] = {"",
                                      "Hello, world!",
                                      " 12 + 30 = 42\n",
                                      "\xc3\xa9t\xc3\xa9",
                                      "<|im_start|>user\nhi<|im_end|>",
                                      "\xff\xfe"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    for (unsigned f = 0; f < 4; f++) check_text(t, &info, texts[i], strlen(texts[i]), f);
  size_t tail = size < 48 ? size : 48;
  check_text(t, &info, (const char *)data + size - tail, tail, 0);
  /* pieces and lookups of every id near the ends */
  for (int32_t id = -1; id <= info.vocab_size; id++) {
    if (id > 8 && id < info.vocab_size - 8) id = info.vocab_size - 8;
    const char *piece = NULL;
    size_t plen = 0;
    st = lc_tokenizer_piece(t, id, &piece, &plen);
    if (id < 0 || id >= info.vocab_size) FUZZ_CHECK(st != LC_OK, "piece of id %d", id);
  }
  lc_tokenizer_free(t);
  return 0;
}
