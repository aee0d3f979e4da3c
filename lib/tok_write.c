/*
 * lib/tok_write.c — lc_tokenizer_write_bytes (layercast_text.h): the
 * byte-level tokenizer that lets a synthetic model take text.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/layercast_text.h"
#include "lib/exp_internal.h"

/* GPT-2's map of byte b to a character: the printable Latin-1 bytes stand
 * for themselves, the others for U+0100 onwards in byte order.  Writes the
 * UTF-8 of that character into u and returns its length. */
static size_t byte_char(int b, char u[2]) {
  const int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
  unsigned cp = (unsigned)b;
  if (!printable) {
    cp = 256;
    for (int c = 0; c < b; c++)
      cp += !((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE);
  }
  if (cp < 0x80) {
    u[0] = (char)cp;
    return 1;
  }
  u[0] = (char)(0xC0 | (cp >> 6));
  u[1] = (char)(0x80 | (cp & 0x3F));
  return 2;
}

static json_t *tokenizer_json(void) {
  json_t *vocab = json_object(), *added = json_array();
  int bad = !vocab || !added;
  for (int b = 0; b < 256 && !bad; b++) {
    char u[2];
    const size_t len = byte_char(b, u);
    bad = json_object_setn_new(vocab, u, len, json_integer(b)) != 0;
  }
  static const char *const sp[] = {"<|im_start|>", "<|im_end|>", "<|endoftext|>"};
  for (int i = 0; i < 3 && !bad; i++)
    bad =
        json_array_append_new(added, json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", 256 + i,
                                               "content", sp[i], "single_word", 0, "lstrip", 0,
                                               "rstrip", 0, "normalized", 0, "special", 1)) != 0;
  if (bad) {
    json_decref(vocab);
    json_decref(added);
    return NULL;
  }
  /* "o" takes the references over, also when json_pack fails */
  return json_pack(
      "{s:s, s:n, s:n, s:o, s:n, s:{s:s, s:b, s:b, s:b}, s:n, s:{s:s, s:b, s:b, s:b}, "
      "s:{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:[]}}",
      "version", "1.0", "truncation", "padding", "added_tokens", added, "normalizer",
      "pre_tokenizer", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex",
      1, "post_processor", "decoder", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1,
      "use_regex", 1, "model", "type", "BPE", "dropout", "unk_token", "continuing_subword_prefix",
      "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", 0, "vocab", vocab,
      "merges");
}

static lc_status write_json(const char *dir, const char *name, json_t *j) {
  static const char fn[] = "lc_tokenizer_write_bytes";
  char *path = lc_path_join(dir, name);
  char *text = j ? json_dumps(j, JSON_INDENT(1) | JSON_ENSURE_ASCII) : NULL;
  lc_status st = path && text ? lc_file_write_atomic(path, text, strlen(text), fn)
                              : LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  free(text);
  free(path);
  json_decref(j);
  return st;
}

lc_status lc_tokenizer_write_bytes(const char *dir) {
  if (!dir) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_tokenizer_write_bytes: NULL dir");
  LC_TRY(write_json(dir, "tokenizer.json", tokenizer_json()));
  json_t *cfg =
      json_pack("{s:s, s:s, s:b, s:s}", "eos_token", "<|im_end|>", "pad_token", "<|endoftext|>",
                "add_bos_token", 0, "chat_template",
                "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}");
  return write_json(dir, "tokenizer_config.json", cfg);
}
