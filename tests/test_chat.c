/*
 * tests/test_chat.c — chat formats and stop ids (layercast_text.h, "Chat
 * templates"): each built-in format rendered against text written out by
 * hand from the families' published templates, detection from a template's
 * markers, a user's JSON format and its errors, message errors, and the
 * eos_token_id lists of a model folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layercast_text.h"
#include "test_util.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static char *render(const char *name, const lc_chat_message *m, int32_t n, int gen) {
  lc_chat_template *c = NULL;
  assert_int_equal(lc_chat_template_builtin(name, &c), LC_OK);
  assert_string_equal(lc_chat_template_name(c), name);
  char *text = NULL;
  assert_int_equal(lc_chat_apply(c, m, n, gen, &text), LC_OK);
  lc_chat_template_free(c);
  return text;
}

static void expect(const char *name, const lc_chat_message *m, int32_t n, int gen,
                   const char *want) {
  char *got = render(name, m, n, gen);
  if (strcmp(got, want) != 0) fail_msg("%s: got\n[%s]\nwant\n[%s]", name, got, want);
  free(got);
}

static const lc_chat_message conv[] = {{"system", "Be brief."},
                                       {"user", "  What is 2+2?\n"},
                                       {"assistant", "4"},
                                       {"user", "And 3+3?"}};

static void test_chat_builtin_formats(void **state) {
  (void)state;
  /* Llama 3: contents trimmed, BOS written as text, the assistant header as
   * the generation prompt */
  expect("llama3", conv, 4, 1,
         "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\n");
  /* ChatML: contents as given, no default system message */
  expect("chatml", conv + 1, 1, 1,
         "<|im_start|>user\n  What is 2+2?\n<|im_end|>\n<|im_start|>assistant\n");
  expect("chatml", conv, 2, 0,
         "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n  What is 2+2?\n"
         "<|im_end|>\n");
  /* Qwen2.5: its default system message when none is given */
  expect("qwen2.5", conv + 3, 1, 1,
         "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
         "assistant.<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n");
  expect("qwen2.5", conv, 1, 0, "<|im_start|>system\nBe brief.<|im_end|>\n");
  /* Llama 2: the system message inside the first [INST], answers closed by
   * </s>, every user turn opening with <s> */
  expect("llama2", conv, 4, 1,
         "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWhat is 2+2? [/INST] 4 </s>"
         "<s>[INST] And 3+3? [/INST]");
  expect("llama2", conv + 3, 1, 1, "<s>[INST] And 3+3? [/INST]");
  /* plain: each content and a newline; the tokenizer adds the BOS */
  expect("plain", conv + 2, 2, 1, "4\nAnd 3+3?\n");
  lc_chat_template *c = NULL;
  assert_int_equal(lc_chat_template_builtin("plain", &c), LC_OK);
  assert_int_equal(lc_chat_template_add_bos(c), 1);
  lc_chat_template_free(c);
  assert_int_equal(lc_chat_template_builtin("llama3", &c), LC_OK);
  assert_int_equal(lc_chat_template_add_bos(c), 0);
  lc_chat_template_free(c);
}

static void test_chat_detect_and_errors(void **state) {
  (void)state;
  static const struct {
    const char *jinja, *want;
  } cases[] = {
      {"{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}"
       "<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}",
       "llama3"},
      {"{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}",
       "chatml"},
      {"{%- if not system %}<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a "
       "helpful assistant.<|im_end|>{% endif %}<|im_start|>",
       "qwen2.5"},
      {"{{ bos_token + '[INST] ' + '<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' }}", "llama2"},
  };
  for (size_t i = 0; i < N_OF(cases); i++) {
    lc_chat_template *c = NULL;
    assert_int_equal(lc_chat_template_detect(cases[i].jinja, &c), LC_OK);
    assert_string_equal(lc_chat_template_name(c), cases[i].want);
    lc_chat_template_free(c);
  }
  lc_chat_template *c = (lc_chat_template *)1;
  assert_int_equal(lc_chat_template_detect("{{ messages[0].content }}", &c), LC_ERR_UNSUPPORTED);
  assert_null(c);
  assert_non_null(strstr(lc_last_error(NULL), "name one"));
  assert_int_equal(lc_chat_template_builtin("vicuna", &c), LC_ERR_NOT_FOUND);
  assert_non_null(strstr(lc_last_error(NULL), "llama3, chatml"));
  assert_int_equal(lc_chat_template_select("nope", NULL, &c), LC_ERR_NOT_FOUND);
  assert_int_equal(lc_chat_template_select(NULL, NULL, &c), LC_ERR_NOT_FOUND);
  assert_int_equal(lc_chat_template_builtin(NULL, &c), LC_ERR_INVALID_ARGUMENT);
  /* message errors */
  assert_int_equal(lc_chat_template_builtin("chatml", &c), LC_OK);
  char *text = (char *)1;
  const lc_chat_message bad_role[] = {{"user", "a"}, {"tool", "b"}};
  assert_int_equal(lc_chat_apply(c, bad_role, 2, 1, &text), LC_ERR_INVALID_ARGUMENT);
  assert_null(text);
  assert_non_null(strstr(lc_last_error(NULL), "'tool'"));
  const lc_chat_message late_system[] = {{"user", "a"}, {"system", "b"}};
  assert_int_equal(lc_chat_apply(c, late_system, 2, 1, &text), LC_ERR_INVALID_ARGUMENT);
  const lc_chat_message no_content[] = {{"user", NULL}};
  assert_int_equal(lc_chat_apply(c, no_content, 1, 1, &text), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_chat_apply(c, conv, 0, 1, &text), LC_ERR_INVALID_ARGUMENT);
  lc_chat_template_free(c);
  lc_chat_template_free(NULL);
}

static void write_file(const char *path, const char *s) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(s, f);
  fclose(f);
}

static void test_chat_user_format_file(void **state) {
  (void)state;
  char root[256], path[300];
  lct_tmpdir_make(root, sizeof root, "chat");
  snprintf(path, sizeof path, "%s/fmt.json", root);
  write_file(path,
             "{\"begin\": \"<BOS>\", \"add_bos\": false, \"trim\": true,\n"
             " \"system\": {\"prefix\": \"[S]\", \"suffix\": \"[/S]\"},\n"
             " \"user\": {\"prefix\": \"[U]\", \"suffix\": \"[/U]\"},\n"
             " \"assistant\": {\"prefix\": \"[A]\", \"suffix\": \"[/A]\"},\n"
             " \"generation_prompt\": \"[A]\", \"default_system\": \"sys\"}\n");
  lc_chat_template *c = NULL;
  assert_int_equal(lc_chat_template_select(path, NULL, &c), LC_OK);
  assert_string_equal(lc_chat_template_name(c), "custom");
  char *text = NULL;
  assert_int_equal(lc_chat_apply(c, conv + 1, 2, 1, &text), LC_OK);
  assert_string_equal(text, "<BOS>[S]sys[/S][U]What is 2+2?[/U][A]4[/A][A]");
  free(text);
  lc_chat_template_free(c);
  /* missing keys are empty strings */
  write_file(path, "{\"user\": {\"prefix\": \"Q: \"}, \"generation_prompt\": \"A:\"}");
  assert_int_equal(lc_chat_template_load(path, &c), LC_OK);
  assert_int_equal(lc_chat_apply(c, conv + 3, 1, 1, &text), LC_OK);
  assert_string_equal(text, "Q: And 3+3?A:");
  free(text);
  lc_chat_template_free(c);
  /* errors name the file and the key */
  static const char *const bad[] = {"{\"user\": {\"prefix\": 3}}",
                                    "{\"users\": {}}",
                                    "{\"add_bos\": \"yes\"}",
                                    "[1, 2]",
                                    "{\"user\": ",
                                    "{\"user\": \"x\"}"};
  static const char *const why[] = {"'user'",    "'users'", "'add_bos'",
                                    "top level", "line 1",  "'user'"};
  for (size_t i = 0; i < N_OF(bad); i++) {
    write_file(path, bad[i]);
    c = (lc_chat_template *)1;
    assert_int_equal(lc_chat_template_load(path, &c), LC_ERR_FORMAT);
    assert_null(c);
    if (!strstr(lc_last_error(NULL), why[i]) || !strstr(lc_last_error(NULL), "fmt.json"))
      fail_msg("case %zu: %s", i, lc_last_error(NULL));
  }
  snprintf(path, sizeof path, "%s/none.json", root);
  assert_int_equal(lc_chat_template_load(path, &c), LC_ERR_NOT_FOUND);
  assert_int_equal(lc_chat_template_load(root, &c), LC_ERR_IO);
  assert_int_equal(lct_tmpdir_remove(root), 0);
}

static void test_chat_stop_ids(void **state) {
  (void)state;
  char root[256], path[300];
  lct_tmpdir_make(root, sizeof root, "stops");
  int32_t ids[8], n = -1;
  /* no files: none */
  assert_int_equal(lc_stop_ids_for_model(root, NULL, ids, 8, &n), LC_OK);
  assert_int_equal(n, 0);
  snprintf(path, sizeof path, "%s/config.json", root);
  write_file(path, "{\"eos_token_id\": 128001, \"bos_token_id\": 128000}");
  snprintf(path, sizeof path, "%s/generation_config.json", root);
  write_file(path, "{\"eos_token_id\": [128001, 128008, 128009]}");
  assert_int_equal(lc_stop_ids_for_model(root, NULL, ids, 8, &n), LC_OK);
  assert_int_equal(n, 3);
  assert_int_equal(ids[0], 128001);
  assert_int_equal(ids[1], 128008);
  assert_int_equal(ids[2], 128009);
  /* too small an array, a bad list, a broken file */
  assert_int_equal(lc_stop_ids_for_model(root, NULL, ids, 2, &n), LC_ERR_SHAPE);
  write_file(path, "{\"eos_token_id\": [1, \"x\"]}");
  assert_int_equal(lc_stop_ids_for_model(root, NULL, ids, 8, &n), LC_ERR_FORMAT);
  assert_non_null(strstr(lc_last_error(NULL), "generation_config.json"));
  write_file(path, "{\"eos_token_id\": ");
  assert_int_equal(lc_stop_ids_for_model(root, NULL, ids, 8, &n), LC_ERR_FORMAT);
  write_file(path, "{\"eos_token_id\": null}");
  assert_int_equal(lc_stop_ids_for_model(root, NULL, ids, 8, &n), LC_OK);
  assert_int_equal(n, 1);
  assert_int_equal(lc_stop_ids_for_model(NULL, NULL, ids, 8, &n), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lct_tmpdir_remove(root), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chat_builtin_formats),
      cmocka_unit_test(test_chat_detect_and_errors),
      cmocka_unit_test(test_chat_user_format_file),
      cmocka_unit_test(test_chat_stop_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
