/*
 * tests/fuzz/fuzz_chat.c — lc_chat_template_load on a chat format JSON file,
 * and lc_chat_template_detect on the same bytes as a Jinja template
 * (lib/chat.c).
 * Asserts: failure leaves a status, a message and no template; a loaded or
 * detected template has a name and renders a system + user + assistant
 * conversation (with and without the generation prompt) to a string.
 */
#include <stdlib.h>
#include <string.h>

#include "include/layercast_text.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void render(const lc_chat_template *c) {
  FUZZ_CHECK(lc_chat_template_name(c) != NULL, "name");
  static const lc_chat_message msgs[] = {
      {"system", "Be brief."}, {"user", "What is 2+2?"}, {"assistant", "4"}};
  for (int32_t n = 1; n <= 3; n++) {
    for (int gen = 0; gen <= 1; gen++) {
      char *text = NULL;
      lc_status st = lc_chat_apply(c, msgs, n, gen, &text);
      FUZZ_CHECK(st == LC_OK && text != NULL, "lc_chat_apply: %s", lc_last_error(NULL));
      free(text);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[256];
  fuzz_path(path, sizeof path, "chat.json");
  fuzz_write(path, data, size);
  lc_chat_template *c = (lc_chat_template *)path;
  lc_status st = lc_chat_template_load(path, &c);
  if (st == LC_OK) {
    FUZZ_CHECK(c != NULL, "LC_OK without a template");
    render(c);
    lc_chat_template_free(c);
  } else {
    fuzz_check_failed("lc_chat_template_load", st, c, NULL);
  }
  char *jinja = fuzz_strndup(data, size);
  c = (lc_chat_template *)path;
  st = lc_chat_template_detect(jinja, &c);
  if (st == LC_OK) {
    FUZZ_CHECK(c != NULL, "LC_OK without a template");
    render(c);
    lc_chat_template_free(c);
  } else {
    fuzz_check_failed("lc_chat_template_detect", st, c, NULL);
  }
  free(jinja);
  return 0;
}
