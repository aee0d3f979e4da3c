/*
 * lib/chat.c — chat formats (layercast_text.h): the built-in formats of the
 * supported families, detection from a Jinja template's markers, a user's
 * format from a JSON file, rendering, and the stop ids of a model folder.
 *
 * A format is data, not code: text at the start, a prefix and a suffix per
 * role, the generation prompt, and two switches (trim the contents; fold the
 * system message into the first user message, as Llama 2 does).
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "include/layercast_text.h"
#include "lib/lc_internal.h"
#include "lib/tok_internal.h" /* tok_buf */

enum { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT, N_ROLES };
static const char *const role_names[N_ROLES] = {"system", "user", "assistant"};

struct lc_chat_template {
  char *name;
  char *begin;
  char *prefix[N_ROLES];
  char *suffix[N_ROLES];
  char *gen_prompt;
  char *default_system; /* NULL: none */
  int add_bos;
  int trim;
  int fold_system; /* the system message goes inside the first user turn */
};

void lc_chat_template_free(lc_chat_template *c) {
  if (!c) return;
  free(c->name);
  free(c->begin);
  for (int r = 0; r < N_ROLES; r++) {
    free(c->prefix[r]);
    free(c->suffix[r]);
  }
  free(c->gen_prompt);
  free(c->default_system);
  free(c);
}

const char *lc_chat_template_name(const lc_chat_template *c) {
  return c ? c->name : "unknown";
}

int lc_chat_template_add_bos(const lc_chat_template *c) {
  return c ? c->add_bos : 0;
}

/* The built-in formats, as rows of strings; see the header for the shapes. */
typedef struct builtin {
  const char *name;
  const char *begin;
  const char *prefix[N_ROLES];
  const char *suffix[N_ROLES];
  const char *gen_prompt;
  const char *default_system;
  int add_bos, trim, fold_system;
} builtin;

#define QWEN25_SYSTEM "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

static const builtin builtins[] = {
    {"llama3",
     "<|begin_of_text|>",
     {"<|start_header_id|>system<|end_header_id|>\n\n",
      "<|start_header_id|>user<|end_header_id|>\n\n",
      "<|start_header_id|>assistant<|end_header_id|>\n\n"},
     {"<|eot_id|>", "<|eot_id|>", "<|eot_id|>"},
     "<|start_header_id|>assistant<|end_header_id|>\n\n",
     NULL,
     0,
     1,
     0},
    {"chatml",
     "",
     {"<|im_start|>system\n", "<|im_start|>user\n", "<|im_start|>assistant\n"},
     {"<|im_end|>\n", "<|im_end|>\n", "<|im_end|>\n"},
     "<|im_start|>assistant\n",
     NULL,
     0,
     0,
     0},
    {"qwen2.5",
     "",
     {"<|im_start|>system\n", "<|im_start|>user\n", "<|im_start|>assistant\n"},
     {"<|im_end|>\n", "<|im_end|>\n", "<|im_end|>\n"},
     "<|im_start|>assistant\n",
     QWEN25_SYSTEM,
     0,
     0,
     0},
    /* Llama 2: each user turn opens "<s>[INST] " and closes " [/INST]"; an
     * answer is " ANSWER </s>"; the system message sits inside the first
     * user turn between <<SYS>> markers. */
    {"llama2",
     "",
     {"<<SYS>>\n", "<s>[INST] ", " "},
     {"\n<</SYS>>\n\n", " [/INST]", " </s>"},
     "",
     NULL,
     0,
     1,
     1},
    {"plain", "", {"", "", ""}, {"\n", "\n", "\n"}, "", NULL, 1, 0, 0},
};
#define N_BUILTINS (sizeof builtins / sizeof builtins[0])

static char *dup_or_empty(const char *s) {
  return lc_strdup(s ? s : "");
}

static lc_status from_builtin(const builtin *b, lc_chat_template **out) {
  lc_chat_template *c = lc_calloc(1, sizeof *c);
  int bad = !c;
  if (c) {
    c->name = lc_strdup(b->name);
    c->begin = dup_or_empty(b->begin);
    c->gen_prompt = dup_or_empty(b->gen_prompt);
    c->default_system = b->default_system ? lc_strdup(b->default_system) : NULL;
    bad = !c->name || !c->begin || !c->gen_prompt || (b->default_system && !c->default_system);
    for (int r = 0; r < N_ROLES; r++) {
      c->prefix[r] = dup_or_empty(b->prefix[r]);
      c->suffix[r] = dup_or_empty(b->suffix[r]);
      bad |= !c->prefix[r] || !c->suffix[r];
    }
    c->add_bos = b->add_bos;
    c->trim = b->trim;
    c->fold_system = b->fold_system;
  }
  if (bad) {
    lc_chat_template_free(c);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "chat template: out of memory");
  }
  *out = c;
  return LC_OK;
}

lc_status lc_chat_template_builtin(const char *name, lc_chat_template **out) {
  if (out) *out = NULL;
  if (!name || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_chat_template_builtin: NULL argument");
  for (size_t i = 0; i < N_BUILTINS; i++)
    if (strcmp(name, builtins[i].name) == 0) return from_builtin(&builtins[i], out);
  return LC_FAIL(NULL, LC_ERR_NOT_FOUND,
                 "unknown chat format '%s' (known: llama3, chatml, qwen2.5, llama2, plain; or a "
                 "JSON file of per-role prefixes and suffixes)",
                 name);
}

lc_status lc_chat_template_detect(const char *jinja, lc_chat_template **out) {
  if (out) *out = NULL;
  if (!jinja || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_chat_template_detect: NULL argument");
  const char *name = NULL;
  if (strstr(jinja, "<|start_header_id|>") && strstr(jinja, "<|eot_id|>"))
    name = "llama3";
  else if (strstr(jinja, "<|im_start|>"))
    name = strstr(jinja, QWEN25_SYSTEM) ? "qwen2.5" : "chatml";
  else if (strstr(jinja, "[INST]") && strstr(jinja, "<<SYS>>"))
    name = "llama2";
  if (!name)
    return LC_FAIL(NULL, LC_ERR_UNSUPPORTED,
                   "the model's chat template matches no built-in format (llama3, chatml, "
                   "qwen2.5, llama2): name one with --chat-format, or give a JSON file of "
                   "per-role prefixes and suffixes");
  return lc_chat_template_builtin(name, out);
}

/* A string member of o, or "" when absent; -1 when present but not a string. */
static int get_str(json_t *o, const char *key, char **dst) {
  json_t *v = json_object_get(o, key);
  if (v && !json_is_string(v)) return -1;
  *dst = lc_strdup(v ? json_string_value(v) : "");
  return *dst ? 0 : -2;
}

lc_status lc_chat_template_load(const char *path, lc_chat_template **out) {
  if (out) *out = NULL;
  if (!path || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_chat_template_load: NULL argument");
  struct stat sb;
  if (stat(path, &sb) != 0)
    return LC_FAIL(NULL, errno == ENOENT ? LC_ERR_NOT_FOUND : LC_ERR_IO,
                   "chat format file '%s': %s", path, strerror(errno));
  if (!S_ISREG(sb.st_mode))
    return LC_FAIL(NULL, LC_ERR_IO, "chat format file '%s' is not a regular file", path);
  json_error_t je;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!root && lc_json_oom(&je))
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "chat format file '%s': out of memory", path);
  if (!root)
    return LC_FAIL(NULL, LC_ERR_FORMAT, "chat format file '%s', line %d: %s", path, je.line,
                   je.text);
  lc_chat_template *c = lc_calloc(1, sizeof *c);
  const char *badkey = NULL;
  int rc = 0;
  if (!c) rc = -2;
  if (!rc && !json_is_object(root)) badkey = "(top level: expected an object)", rc = -1;
  if (!rc) {
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
      static const char *const known[] = {
          "begin",     "add_bos",           "trim",          "system", "user",
          "assistant", "generation_prompt", "default_system"};
      int ok = 0;
      for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok |= strcmp(key, known[i]) == 0;
      if (!ok) {
        badkey = key;
        rc = -1;
        break;
      }
    }
  }
  if (!rc && (c->name = lc_strdup("custom")) == NULL) rc = -2;
  if (!rc && (rc = get_str(root, "begin", &c->begin)) == -1) badkey = "begin";
  if (!rc && (rc = get_str(root, "generation_prompt", &c->gen_prompt)) == -1)
    badkey = "generation_prompt";
  for (int r = 0; r < N_ROLES && !rc; r++) {
    json_t *o = json_object_get(root, role_names[r]);
    if (o && !json_is_object(o)) {
      badkey = role_names[r];
      rc = -1;
      break;
    }
    json_t *empty = o ? NULL : json_object();
    if (!o && !empty) rc = -2;
    if (!rc && (rc = get_str(o ? o : empty, "prefix", &c->prefix[r])) == -1) badkey = role_names[r];
    if (!rc && (rc = get_str(o ? o : empty, "suffix", &c->suffix[r])) == -1) badkey = role_names[r];
    json_decref(empty);
  }
  if (!rc) {
    json_t *ds = json_object_get(root, "default_system");
    if (ds && !json_is_string(ds) && !json_is_null(ds))
      badkey = "default_system", rc = -1;
    else if (ds && json_is_string(ds) && !(c->default_system = lc_strdup(json_string_value(ds))))
      rc = -2;
  }
  for (int k = 0; k < 2 && !rc; k++) {
    const char *key = k ? "trim" : "add_bos";
    json_t *b = json_object_get(root, key);
    if (b && !json_is_boolean(b)) {
      badkey = key;
      rc = -1;
    } else if (b) {
      *(k ? &c->trim : &c->add_bos) = json_is_true(b);
    }
  }
  char key_copy[64]; /* badkey may point into root: copy it before the free */
  snprintf(key_copy, sizeof key_copy, "%s", badkey ? badkey : "?");
  json_decref(root);
  if (rc) {
    lc_chat_template_free(c);
    if (rc == -2) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "chat format file: out of memory");
    return LC_FAIL(NULL, LC_ERR_FORMAT,
                   "chat format file '%s': bad or unknown key '%s' (expected begin, add_bos, "
                   "trim, system/user/assistant {prefix, suffix}, generation_prompt, "
                   "default_system)",
                   path, key_copy);
  }
  *out = c;
  return LC_OK;
}

lc_status lc_chat_template_select(const char *name, const lc_tokenizer *t, lc_chat_template **out) {
  if (out) *out = NULL;
  if (!out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_chat_template_select: NULL out");
  if (!name || strcmp(name, "auto") == 0) {
    const char *jinja = t ? lc_tokenizer_chat_template(t) : NULL;
    if (!jinja)
      return LC_FAIL(NULL, LC_ERR_NOT_FOUND,
                     "no chat template to detect a format from (the tokenizer has none): name "
                     "one (llama3, chatml, qwen2.5, llama2, plain) or give a JSON file");
    return lc_chat_template_detect(jinja, out);
  }
  for (size_t i = 0; i < N_BUILTINS; i++)
    if (strcmp(name, builtins[i].name) == 0) return from_builtin(&builtins[i], out);
  if (!strchr(name, '/') && !strstr(name, ".json")) return lc_chat_template_builtin(name, out);
  return lc_chat_template_load(name, out);
}

/* The rendered text: tok_buf's growth, with out-of-memory remembered so
 * that rendering goes on unchecked and is checked once at the end. */
typedef struct sbuf {
  tok_buf b;
  int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
  if (!b->oom) b->oom = tok_buf_put(&b->b, s, n) != 0;
}
static void puts_(sbuf *b, const char *s) {
  put(b, s, strlen(s));
}

/* Appends s, trimmed of leading and trailing ASCII whitespace when trim. */
static void put_content(sbuf *b, const char *s, int trim) {
  size_t n = strlen(s);
  if (trim) {
    while (n && strchr(" \t\n\r\f\v", s[0])) s++, n--;
    while (n && strchr(" \t\n\r\f\v", s[n - 1])) n--;
  }
  put(b, s, n);
}

static int role_index(const char *role) {
  for (int r = 0; r < N_ROLES; r++)
    if (role && strcmp(role, role_names[r]) == 0) return r;
  return -1;
}

lc_status lc_chat_apply(const lc_chat_template *c, const lc_chat_message *msgs, int32_t n,
                        int add_generation_prompt, char **text) {
  static const char fn[] = "lc_chat_apply";
  if (text) *text = NULL;
  if (!c || !msgs || n < 1 || !text)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: need a format, n >= 1 messages and text",
                   fn);
  for (int32_t i = 0; i < n; i++) {
    const int r = role_index(msgs[i].role);
    if (r < 0 || !msgs[i].content)
      return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                     "%s: message %d has role '%s'%s (roles: system, user, assistant)", fn, (int)i,
                     msgs[i].role ? msgs[i].role : "(null)",
                     msgs[i].content ? "" : " and no content");
    if (r == ROLE_SYSTEM && i > 0)
      return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                     "%s: message %d is a system message; only the first may be", fn, (int)i);
  }
  const int has_system = role_index(msgs[0].role) == ROLE_SYSTEM;
  const char *system = has_system ? msgs[0].content : c->default_system;
  sbuf b = {{NULL, 0, 0}, 0};
  puts_(&b, c->begin);
  int system_pending = 0;
  if (system) {
    if (c->fold_system)
      system_pending = 1;
    else {
      puts_(&b, c->prefix[ROLE_SYSTEM]);
      put_content(&b, system, c->trim);
      puts_(&b, c->suffix[ROLE_SYSTEM]);
    }
  }
  for (int32_t i = has_system; i < n; i++) {
    const int r = role_index(msgs[i].role);
    puts_(&b, c->prefix[r]);
    if (system_pending && r == ROLE_USER) {
      puts_(&b, c->prefix[ROLE_SYSTEM]);
      put_content(&b, system, c->trim);
      puts_(&b, c->suffix[ROLE_SYSTEM]);
      system_pending = 0;
    }
    put_content(&b, msgs[i].content, c->trim);
    puts_(&b, c->suffix[r]);
  }
  if (add_generation_prompt) puts_(&b, c->gen_prompt);
  put(&b, "", 1); /* the NUL */
  if (b.oom) {
    tok_buf_free(&b.b);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  }
  *text = b.b.p;
  return LC_OK;
}

/* Adds the eos_token_id of a JSON file (int, list of ints, or absent) to
 * ids.  LC_OK when the file is absent. */
static lc_status add_file_eos(const char *dir, const char *file, int32_t *ids, int32_t cap,
                              int32_t *n) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "path too long: '%s/%s'", dir, file);
  struct stat sb;
  if (stat(path, &sb) != 0) return LC_OK;
  json_error_t je;
  json_t *root = json_load_file(path, 0, &je);
  if (!root && lc_json_oom(&je))
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "'%s': out of memory", path);
  if (!root) return LC_FAIL(NULL, LC_ERR_FORMAT, "'%s', line %d: %s", path, je.line, je.text);
  json_t *v = json_is_object(root) ? json_object_get(root, "eos_token_id") : NULL;
  lc_status st = LC_OK;
  if (!json_is_object(root))
    st = LC_FAIL(NULL, LC_ERR_FORMAT, "'%s': expected a JSON object", path);
  size_t len = v ? (json_is_array(v) ? json_array_size(v) : 1) : 0;
  for (size_t i = 0; i < len && st == LC_OK; i++) {
    json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
    if (json_is_null(e)) continue;
    if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > INT32_MAX) {
      st = LC_FAIL(NULL, LC_ERR_FORMAT, "'%s': eos_token_id must be a token id or a list of them",
                   path);
      break;
    }
    const int32_t id = (int32_t)json_integer_value(e);
    int seen = 0;
    for (int32_t k = 0; k < *n; k++) seen |= ids[k] == id;
    if (seen) continue;
    if (*n >= cap) {
      st = LC_FAIL(NULL, LC_ERR_SHAPE, "'%s': more than %d stop ids", path, (int)cap);
      break;
    }
    ids[(*n)++] = id;
  }
  json_decref(root);
  return st;
}

lc_status lc_stop_ids_for_model(const char *model_dir, const lc_tokenizer *t, int32_t *ids,
                                int32_t cap, int32_t *n) {
  if (!model_dir || !ids || cap < 1 || !n)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "lc_stop_ids_for_model: need a folder, ids, cap >= 1 and n");
  int32_t k = 0;
  lc_status st = add_file_eos(model_dir, "config.json", ids, cap, &k);
  if (st == LC_OK) st = add_file_eos(model_dir, "generation_config.json", ids, cap, &k);
  lc_tokenizer_info ti;
  if (st == LC_OK && t && lc_tokenizer_get_info(t, &ti) == LC_OK && ti.eos_id >= 0) {
    int seen = 0;
    for (int32_t i = 0; i < k; i++) seen |= ids[i] == ti.eos_id;
    if (!seen) {
      if (k >= cap)
        st = LC_FAIL(NULL, LC_ERR_SHAPE, "more than %d stop ids", (int)cap);
      else
        ids[k++] = ti.eos_id;
    }
  }
  if (st == LC_OK) *n = k;
  return st;
}
