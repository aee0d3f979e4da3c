/*
 * tests/fuzz/fuzz_prompts.c — lc_prompt_list_read on a JSONL prompt file
 * (lib/prompts.c).
 * Asserts: failure leaves a status, a message and an empty list; success
 * gives n >= 1 prompts, each with n_tokens >= 1 ids >= 0 and n_answer >= 0;
 * the list hashes, writes (lc_prompt_list_write), reads back and hashes the
 * same.  Then the same file through lc_prompt_list_read_text ("prompt" and
 * "messages" lines too), with the byte-level tokenizer of
 * lc_tokenizer_write_bytes and the chatml format, chat prompts on and off:
 * a clean failure as above, or prompts whose ids lie in the tokenizer's
 * vocabulary (259 ids).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "include/layercast_experiment.h"
#include "include/layercast_text.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a list read with LC_OK holds: n >= 1 prompts, each with >= 1 ids
 * >= 0 and n_answer >= 0 ids. */
static void check_list(const lc_prompt_list *ps) {
  FUZZ_CHECK(ps->n >= 1 && ps->v != NULL, "LC_OK with %d prompts", ps->n);
  for (int32_t i = 0; i < ps->n; i++) {
    const lc_prompt *p = &ps->v[i];
    FUZZ_CHECK(p->n_tokens >= 1 && p->tokens != NULL, "prompt %d: %d tokens", i, p->n_tokens);
    for (int32_t j = 0; j < p->n_tokens; j++)
      FUZZ_CHECK(p->tokens[j] >= 0, "prompt %d token %d = %d", i, j, p->tokens[j]);
    FUZZ_CHECK(p->n_answer >= 0 && (p->n_answer == 0 || p->answer != NULL), "prompt %d answer", i);
  }
}

/* The text side, made once per process (freed at exit). */
static lc_tokenizer *g_tok;
static lc_chat_template *g_chat;

static void free_text(void) {
  lc_tokenizer_free(g_tok);
  lc_chat_template_free(g_chat);
}

static void text_setup(void) {
  if (g_tok) return;
  char dir[256];
  fuzz_path(dir, sizeof dir, "tok");
  FUZZ_CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
  FUZZ_CHECK(lc_tokenizer_write_bytes(dir) == LC_OK, "%s", lc_last_error(NULL));
  FUZZ_CHECK(lc_tokenizer_load(dir, &g_tok) == LC_OK, "%s", lc_last_error(NULL));
  FUZZ_CHECK(lc_chat_template_builtin("chatml", &g_chat) == LC_OK, "%s", lc_last_error(NULL));
  atexit(free_text);
}

static void read_text(const char *path, int chat_prompts) {
  text_setup();
  lc_prompt_text_params tp = {g_tok, g_chat, chat_prompts};
  lc_prompt_list ps = {NULL, 0};
  lc_status st = lc_prompt_list_read_text(path, &tp, &ps);
  if (st != LC_OK) {
    fuzz_check_failed("lc_prompt_list_read_text", st, ps.v, NULL);
    FUZZ_CHECK(ps.n == 0, "a failed read left n = %d", ps.n);
    return;
  }
  check_list(&ps);
  lc_prompt_list_free(&ps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[256], path2[256];
  fuzz_path(path, sizeof path, "prompts.jsonl");
  fuzz_path(path2, sizeof path2, "prompts2.jsonl");
  fuzz_write(path, data, size);
  read_text(path, 0);
  read_text(path, 1);
  lc_prompt_list ps = {NULL, 0};
  lc_status st = lc_prompt_list_read(path, &ps);
  if (st != LC_OK) {
    fuzz_check_failed("lc_prompt_list_read", st, ps.v, NULL);
    FUZZ_CHECK(ps.n == 0, "a failed read left n = %d", ps.n);
    return 0;
  }
  check_list(&ps);
  char h1[LC_HASH_HEX_LEN], h2[LC_HASH_HEX_LEN];
  FUZZ_CHECK(lc_prompt_list_hash(&ps, h1) == LC_OK, "hash: %s", lc_last_error(NULL));
  st = lc_prompt_list_write(&ps, path2);
  FUZZ_CHECK(st == LC_OK, "write: %s", lc_last_error(NULL));
  lc_prompt_list back = {NULL, 0};
  st = lc_prompt_list_read(path2, &back);
  FUZZ_CHECK(st == LC_OK, "reading back what lc_prompt_list_write wrote: %s", lc_last_error(NULL));
  FUZZ_CHECK(back.n == ps.n, "read back %d prompts of %d", back.n, ps.n);
  FUZZ_CHECK(lc_prompt_list_hash(&back, h2) == LC_OK, "hash");
  FUZZ_CHECK(strcmp(h1, h2) == 0, "the hash changed through write and read: %s %s", h1, h2);
  lc_prompt_list_free(&back);
  lc_prompt_list_free(&ps);
  FUZZ_CHECK(ps.n == 0 && ps.v == NULL, "lc_prompt_list_free leaves it empty");
  return 0;
}
