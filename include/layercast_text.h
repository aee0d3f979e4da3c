/*
 * layercast_text.h — text in, text out: tokenizers, chat templates and the
 * answer extraction that scores a dataset.
 *
 * Tokenizers load from a Hugging Face model directory (tokenizer.json, with
 * tokenizer_config.json beside it when present) or a named file: a
 * tokenizer.json, or a llama2.c tokenizer.bin.  Three families:
 *
 *   byte-level BPE    tokenizer.json with a BPE model and a ByteLevel
 *                     pre-tokenizer/decoder (Llama 3, Qwen2/2.5/3): Split
 *                     regex pre-tokenizers (PCRE2), ignore_merges, merges as
 *                     "a b" strings or pairs, NFC normalisation (utf8proc).
 *   SentencePiece BPE tokenizer.json in the SentencePiece style (Llama 2,
 *                     Mistral, TinyLlama): the U+2581 replacement and
 *                     prepend, byte_fallback with <0xNN> pieces.
 *   llama2.c          tokenizer.bin: pieces with scores, merged as run.c does.
 *
 * Added tokens (special or not) are matched in the text before the model
 * runs, longest first, unless the caller asks for plain text.  Errors follow
 * layercast.h: a status and lc_last_error(NULL).  Objects are immutable once
 * loaded: encode and decode may run on many threads at once.
 */
#ifndef LAYERCAST_TEXT_H
#define LAYERCAST_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "layercast.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== *
 *  Tokenizers
 * ======================================================================== */

typedef struct lc_tokenizer lc_tokenizer;

typedef enum lc_tokenizer_type {
  LC_TOKENIZER_BYTE_BPE = 1, /* tokenizer.json, BPE + ByteLevel */
  LC_TOKENIZER_SPM_BPE = 2,  /* tokenizer.json, BPE in the SentencePiece style */
  LC_TOKENIZER_LLAMA2C = 3,  /* llama2.c tokenizer.bin */
} lc_tokenizer_type;

/* "byte-bpe", "sentencepiece-bpe", "llama2c"; "unknown" otherwise. */
LC_API const char *lc_tokenizer_type_name(lc_tokenizer_type t);

/* Loads a tokenizer.  path is a directory (its tokenizer.json, else its
 * tokenizer.bin; tokenizer_config.json beside it supplies add_bos_token,
 * add_eos_token, bos/eos tokens and the chat template when present, else
 * chat_template.jinja the template), a tokenizer.json, or a tokenizer.bin
 * (told apart by content).  docs/text.md lists what is supported.
 * LC_ERR_INVALID_ARGUMENT (NULL), LC_ERR_NOT_FOUND, LC_ERR_IO,
 * LC_ERR_FORMAT (malformed JSON or binary, tokenizer_config.json included;
 * the message names the file and what is wrong; also ids outside
 * 0 .. 2^31-3, and a tokenizer.json whose largest id is past twice its
 * pieces + 65536, since a table of every id up to the largest is kept),
 * LC_ERR_UNSUPPORTED (a
 * model type, normaliser, pre-tokenizer, post-processor or decoder this
 * library does not implement: the message names it), LC_ERR_OUT_OF_MEMORY.
 * On failure *out is NULL. */
LC_API lc_status lc_tokenizer_load(const char *path, lc_tokenizer **out);
LC_API void lc_tokenizer_free(lc_tokenizer *t); /* NULL accepted */

typedef struct lc_tokenizer_info {
  lc_tokenizer_type type;
  int32_t vocab_size; /* largest id + 1, added tokens included */
  int32_t n_added;    /* added tokens */
  int32_t bos_id;     /* -1: none */
  int32_t eos_id;     /* -1: none */
  int32_t add_bos;    /* 1: LC_ENCODE_ADD_SPECIAL prepends bos_id */
  int32_t add_eos;    /* 1: LC_ENCODE_ADD_SPECIAL appends eos_id */
  int32_t nfc;        /* 1: text is NFC-normalised before encoding */
} lc_tokenizer_info;

LC_API lc_status lc_tokenizer_get_info(const lc_tokenizer *t, lc_tokenizer_info *out);

/* The chat template string of tokenizer_config.json, or NULL when it had
 * none (or the tokenizer was loaded from a file alone).  Owned by t. */
LC_API const char *lc_tokenizer_chat_template(const lc_tokenizer *t);

enum {
  LC_ENCODE_ADD_SPECIAL = 1u, /* add BOS/EOS as the post-processor's template
                                 says; without a template, as
                                 tokenizer_config.json's add_bos_token /
                                 add_eos_token say (llama2.c: BOS) */
  LC_ENCODE_PLAIN = 2u,       /* added tokens in the text are plain text */
};

/* Encodes len bytes of text (need not be NUL-terminated; len 0 gives no
 * ids, or only the specials) into *ids (malloc'ed, release with free();
 * never NULL on success) and *n_ids.  Text that is not valid UTF-8 gives
 * LC_ERR_INVALID_ARGUMENT naming the byte offset; so does len above
 * 2^31-1 (checked before the text is read); LC_ERR_OVERFLOW when the ids
 * would number more than 2^31-1. */
LC_API lc_status lc_tokenizer_encode(const lc_tokenizer *t, const char *text, size_t len,
                                     unsigned flags, int32_t **ids, int32_t *n_ids);

enum {
  LC_DECODE_SKIP_SPECIAL = 1u, /* drop added tokens flagged special */
};

/* Decodes ids[0..n) into *text (malloc'ed, NUL-terminated, release with
 * free()) and *len (bytes, without the NUL; len may be NULL).  n has no
 * upper limit: every id is read; n < 0 is LC_ERR_INVALID_ARGUMENT.  Bytes that do not
 * form valid UTF-8 become U+FFFD, one per maximal invalid subpart (as
 * Python's errors="replace").  LC_ERR_OUT_OF_RANGE for an id outside the
 * vocabulary. */
LC_API lc_status lc_tokenizer_decode(const lc_tokenizer *t, const int32_t *ids, int64_t n,
                                     unsigned flags, char **text, size_t *len);

/* The vocabulary string of id as stored (byte-level pieces in their
 * mapped form, SentencePiece pieces with U+2581), owned by t. */
LC_API lc_status lc_tokenizer_piece(const lc_tokenizer *t, int32_t id, const char **piece,
                                    size_t *len);
/* The id of a piece or added token; LC_ERR_NOT_FOUND when absent. */
LC_API lc_status lc_tokenizer_token_id(const lc_tokenizer *t, const char *piece, int32_t *id);

/* Incremental decoding for streaming: each pushed id yields the text that
 * is now complete; bytes of an unfinished UTF-8 sequence are held until a
 * later id completes them.  decode(ids) equals the concatenation of every
 * push and the final flush.  A detokenizer is used by one thread at a
 * time; flags: LC_DECODE_SKIP_SPECIAL.  Create: LC_ERR_INVALID_ARGUMENT,
 * LC_ERR_OUT_OF_MEMORY; push: LC_ERR_OUT_OF_RANGE for an id outside the
 * vocabulary (d is unchanged). */
typedef struct lc_detokenizer lc_detokenizer;
LC_API lc_status lc_detokenizer_create(const lc_tokenizer *t, unsigned flags, lc_detokenizer **out);
/* *text points into d (valid until the next call on d), *len may be 0. */
LC_API lc_status lc_detokenizer_push(lc_detokenizer *d, int32_t id, const char **text, size_t *len);
/* The held bytes, invalid ones as U+FFFD; d starts afresh. */
LC_API lc_status lc_detokenizer_flush(lc_detokenizer *d, const char **text, size_t *len);
LC_API void lc_detokenizer_free(lc_detokenizer *d); /* NULL accepted */

/* Writes a byte-level tokenizer for synthetic models into the directory
 * dir (which must exist): tokenizer.json with the 256 bytes as ids 0..255
 * (GPT-2's byte-to-character map, no merges) and ChatML's <|im_start|>,
 * <|im_end|>, <|endoftext|> as 256..258, and tokenizer_config.json (eos
 * <|im_end|>, a ChatML chat template).  A model with a vocabulary of at
 * least 259 then takes text; the demo uses it.  Files are written under a
 * temporary name and renamed.  LC_ERR_INVALID_ARGUMENT, LC_ERR_IO,
 * LC_ERR_OUT_OF_MEMORY. */
LC_API lc_status lc_tokenizer_write_bytes(const char *dir);

/* ======================================================================== *
 *  Chat templates
 * ======================================================================== */

/* A chat format: per-role prefix and suffix strings around each message's
 * content, text at the start, and the generation prompt that opens the
 * assistant's turn.  Not a Jinja engine: the built-in formats reproduce the
 * templates of the supported families for system/user/assistant turns
 * (docs/text.md lists where they differ from the Jinja originals):
 *   "llama3"   <|begin_of_text|><|start_header_id|>ROLE<|end_header_id|>\n\n
 *              CONTENT(trimmed)<|eot_id|> ... ; prompt: the assistant header
 *   "chatml"   <|im_start|>ROLE\nCONTENT<|im_end|>\n ... (Qwen2, Qwen3)
 *   "qwen2.5"  chatml with Qwen2.5's default system message
 *   "llama2"   <s>[INST] <<SYS>>\nSYSTEM\n<</SYS>>\n\nUSER [/INST] ANSWER </s>
 *   "plain"    each content and a newline; encoded with the
 *              tokenizer's BOS. */
typedef struct lc_chat_template lc_chat_template;

typedef struct lc_chat_message {
  const char *role;    /* "system", "user" or "assistant" */
  const char *content; /* NUL-terminated UTF-8 */
} lc_chat_message;

/* A built-in format by name.  LC_ERR_NOT_FOUND for an unknown name (the
 * message lists the known ones), LC_ERR_INVALID_ARGUMENT for NULL. */
LC_API lc_status lc_chat_template_builtin(const char *name, lc_chat_template **out);

/* The built-in format whose markers a Jinja template carries
 * (<|start_header_id|>, <|im_start|> with or without Qwen2.5's default
 * system message, [INST] with <<SYS>>).  LC_ERR_UNSUPPORTED when none
 * matches: name a format or supply a file instead. */
LC_API lc_status lc_chat_template_detect(const char *jinja, lc_chat_template **out);

/* A user's format from a JSON file:
 *   {"begin": "...", "add_bos": false, "trim": false,
 *    "system": {"prefix": "...", "suffix": "..."}, "user": {...},
 *    "assistant": {...}, "generation_prompt": "...",
 *    "default_system": "..." (optional)}
 * Missing strings are empty.  LC_ERR_NOT_FOUND, LC_ERR_IO, LC_ERR_FORMAT
 * (the message names the file and the key). */
LC_API lc_status lc_chat_template_load(const char *path, lc_chat_template **out);

/* What a user asks for: name NULL or "auto" detects from the tokenizer's
 * chat template (t may then not be NULL); a built-in name; else a path to
 * a JSON file as above. */
LC_API lc_status lc_chat_template_select(const char *name, const lc_tokenizer *t,
                                         lc_chat_template **out);

LC_API void lc_chat_template_free(lc_chat_template *c); /* NULL accepted */
/* The built-in name, or "custom" for a file.  Never NULL. */
LC_API const char *lc_chat_template_name(const lc_chat_template *c);
/* 1 when the rendered text is to be encoded with LC_ENCODE_ADD_SPECIAL
 * (the format does not write the BOS itself). */
LC_API int lc_chat_template_add_bos(const lc_chat_template *c);

/* Renders n >= 1 messages, then the generation prompt when
 * add_generation_prompt, into *text (malloc'ed, free()).
 * LC_ERR_INVALID_ARGUMENT for NULL, an unknown role, or a system message
 * anywhere but first. */
LC_API lc_status lc_chat_apply(const lc_chat_template *c, const lc_chat_message *msgs, int32_t n,
                               int add_generation_prompt, char **text);

/* The ids generation stops on for a model directory: every eos_token_id
 * of its config.json and generation_config.json (an int or a list), then
 * the tokenizer's eos_id (t may be NULL), without repeats, in that order.
 * *n may be 0.  Files that are absent are skipped; a file that is present
 * but malformed gives LC_ERR_FORMAT. */
LC_API lc_status lc_stop_ids_for_model(const char *model_dir, const lc_tokenizer *t, int32_t *ids,
                                       int32_t cap, int32_t *n);

/* ======================================================================== *
 *  Answers: extraction and scoring (docs/metrics.md, "Scored datasets")
 * ======================================================================== */

/* The rules, in short (docs/metrics.md, "Scored datasets: answer extraction",
 * states them in full, with examples):
 *
 *   NUMBER  the last number: [sign] digits, thousands groups "1,234,567"
 *           only where the grouping is valid, decimals ("3.5", ".5"; the
 *           "." that ends "It is 3." is no point), fractions a/b of
 *           integers; a '%' after it is ignored.  Normalised to one
 *           canonical form per value: "1,234.50" -> "1234.5", "-0" -> "0",
 *           "2/4" and "0.50" -> "0.5", "-3/6" -> "-0.5", "4/6" -> "2/3".
 *           Equal forms <=> equal rationals (exact; fractions with a part
 *           past 2^64-1 are compared as written, unreduced).
 *   BOXED   the content of the \boxed{...} that starts last among those
 *           whose braces close (nested braces balanced; "\{", "\}" are
 *           literal), or of "\boxed 42"; whitespace removed, surrounding $
 *           removed; a content that is one number (also \frac{a}{b},
 *           "\$18", "50\%") takes NUMBER's form, any other stays a string.
 *           Not a mathematical equivalence checker: "x+1" != "1+x".
 *   EXACT   the whole text, trimmed, each whitespace run one space;
 *           case-sensitive.
 *   CHOICE  a letter A-J, the first tier that finds one: the last \boxed
 *           when it is a letter or "(B)"; the last "answer"/"option"/
 *           "choice" phrase ("The answer is (B)", "Answer: B"); the last
 *           "(B)"; the last capital A-J standing alone.
 *
 * Texts are bytes: len bytes, any values (invalid UTF-8 too; a NUL counts
 * as whitespace); only ASCII (and U+2212 as a minus) has meaning.  Every
 * call is linear in len and thread-safe (no shared state). */
typedef enum lc_answer_kind {
  LC_ANSWER_NUMBER = 1, /* the last number in the text */
  LC_ANSWER_BOXED = 2,  /* the content of the last \boxed{...} (nested braces) */
  LC_ANSWER_EXACT = 3,  /* the whole text, trimmed, equal to the answer */
  LC_ANSWER_CHOICE = 4, /* a choice letter, A to J */
} lc_answer_kind;

/* "number", "boxed", "exact", "choice"; "unknown" otherwise. */
LC_API const char *lc_answer_kind_name(lc_answer_kind k);
/* The kind of a name printed by lc_answer_kind_name (exact, lower case).
 * LC_ERR_INVALID_ARGUMENT for NULL or an unknown name. */
LC_API lc_status lc_answer_kind_from_name(const char *name, lc_answer_kind *out);

/* The answer that kind k finds in len bytes of text (need not be
 * NUL-terminated), normalised, in *out (malloc'ed, NUL-terminated, release
 * with free()), or *out = NULL when the text holds none (an LC_OK result).
 * LC_ERR_INVALID_ARGUMENT for NULL text or out, an unknown kind, len over
 * 2^40; LC_ERR_OUT_OF_MEMORY.  On failure *out is NULL. */
LC_API lc_status lc_answer_extract(lc_answer_kind k, const char *text, size_t len, char **out);

typedef struct lc_answer_score {
  int32_t found;   /* 1: an answer was extracted from the output */
  int32_t correct; /* 1: it equals the expected answer after normalisation */
  char *extracted; /* normalised extraction (malloc'ed), NULL when not found */
  char *expected;  /* the expected answer normalised (malloc'ed) */
} lc_answer_score;

/* Scores a model output (len bytes) against the expected answer
 * (NUL-terminated), which is normalised by the same rules: "1,234" and
 * "1234" are the same NUMBER, "B" and "(B)" the same CHOICE; for BOXED an
 * expected text without a \boxed is itself the content ("\frac{1}{2}").
 * correct = (both normalised strings are equal).  An expected answer from
 * which kind k extracts nothing (a NUMBER without a number, an empty EXACT
 * or BOXED, a CHOICE without a letter A-J) gives LC_ERR_INVALID_ARGUMENT,
 * as do NULL pointers, an unknown kind and len over 2^40;
 * LC_ERR_OUT_OF_MEMORY.  *out is zeroed first and holds nothing to release
 * on failure; on success release it with lc_answer_score_clear. */
LC_API lc_status lc_answer_score_text(lc_answer_kind k, const char *output, size_t len,
                                      const char *expected, lc_answer_score *out);
LC_API void lc_answer_score_clear(lc_answer_score *s); /* NULL accepted; zeroes it */

#ifdef __cplusplus
}
#endif
#endif /* LAYERCAST_TEXT_H */
