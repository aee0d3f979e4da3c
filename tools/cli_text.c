/*
 * tools/cli_text.c — the text options that generate and sweep share: which
 * tokenizer and chat format, prompts given as text, and the default stop
 * ids.  The library does the work (layercast_text.h); this picks files and
 * prints errors.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/tok_internal.h" /* tok_buf */
#include "tools/cli_common.h"

static int is_dir(const char *p) {
  struct stat sb;
  return p && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int has_file(const char *dir, const char *name) {
  char path[4096];
  struct stat sb;
  return snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path &&
         stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int cli_text_open(const char *cmd, cli_text *t, const char *model) {
  t->tok = NULL;
  t->tmpl = NULL;
  const char *path = t->tokenizer;
  if (!path && is_dir(model) &&
      (has_file(model, "tokenizer.json") || has_file(model, "tokenizer.bin")))
    path = model;
  if (path) {
    lc_status st = lc_tokenizer_load(path, &t->tok);
    if (st != LC_OK) return cli_fail(cmd, "loading the tokenizer", st, cli_status_rc(st));
  }
  if (t->chat || t->chat_format) {
    if (!t->tok)
      return cli_usage_error(cmd,
                             "--chat and --chat-format need a tokenizer: the model folder has "
                             "none; name one with --tokenizer");
    lc_status st = lc_chat_template_select(t->chat_format, t->tok, &t->tmpl);
    if (st != LC_OK) {
      cli_text_close(t);
      return cli_fail(cmd, "the chat format", st, cli_status_rc(st));
    }
  }
  return 0;
}

void cli_text_close(cli_text *t) {
  lc_chat_template_free(t->tmpl);
  lc_tokenizer_free(t->tok);
  t->tmpl = NULL;
  t->tok = NULL;
}

int cli_text_stop(const char *cmd, const cli_text *t, const char *model, lc_stop_set *stop) {
  if (stop->n >= 0) return 0;
  stop->n = 0;
  if (!t->tok) return 0;
  int32_t n = 0;
  lc_status st;
  if (is_dir(model)) {
    st = lc_stop_ids_for_model(model, t->tok, stop->ids, LC_MAX_STOP_TOKENS, &n);
  } else {
    lc_tokenizer_info ti;
    st = lc_tokenizer_get_info(t->tok, &ti);
    if (st == LC_OK && ti.eos_id >= 0) stop->ids[n++] = ti.eos_id;
  }
  if (st != LC_OK) return cli_fail(cmd, "the model's stop ids", st, CLI_FAIL);
  stop->n = n;
  return 0;
}

int cli_load_prompts_text(const char *cmd, const char *ids, const char *text, const char *file,
                          cli_text *t, lc_prompt_list *out) {
  out->v = NULL;
  out->n = 0;
  if ((ids != NULL) + (text != NULL) + (file != NULL) != 1)
    return cli_usage_error(cmd, "give exactly one of --prompt IDS, --text S and --prompts FILE");
  if (!text) {
    if (!file) return cli_load_prompts(cmd, ids, NULL, out);
    lc_prompt_text_params tp = {t->tok, t->tmpl, t->chat};
    lc_status st = lc_prompt_list_read_text(file, &tp, out);
    return st == LC_OK ? 0 : cli_fail(cmd, "--prompts", st, cli_status_rc(st));
  }
  if (!t->tok)
    return cli_usage_error(cmd,
                           "--text needs a tokenizer: the model folder has none; name one with "
                           "--tokenizer");
  char *rendered = NULL;
  unsigned flags = LC_ENCODE_ADD_SPECIAL;
  lc_status st = LC_OK;
  if (t->tmpl) {
    lc_chat_message m = {"user", text};
    st = lc_chat_apply(t->tmpl, &m, 1, 1, &rendered);
    if (!lc_chat_template_add_bos(t->tmpl)) flags = 0;
  }
  const char *s = rendered ? rendered : text;
  int32_t *tok = NULL, n = 0;
  if (st == LC_OK) st = lc_tokenizer_encode(t->tok, s, strlen(s), flags, &tok, &n);
  if (st == LC_OK && n < 1) {
    free(rendered);
    free(tok);
    return cli_usage_error(cmd, "--text gives no tokens");
  }
  if (st == LC_OK) st = lc_prompt_list_add(out, tok, n, NULL, 0);
  if (st == LC_OK && !(out->v[0].text = strdup(s))) st = LC_ERR_OUT_OF_MEMORY;
  free(rendered);
  free(tok);
  if (st != LC_OK) {
    lc_prompt_list_free(out);
    return cli_fail(cmd, "--text", st, cli_status_rc(st));
  }
  return 0;
}

int cli_read_file(const char *cmd, const char *path, size_t max, char **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "layercast %s: cannot open '%s': %s\n", cmd, path, strerror(errno));
    return errno == ENOENT ? CLI_USAGE : CLI_FAIL;
  }
  tok_buf b = {NULL, 0, 0};
  char chunk[65536];
  size_t k;
  int rc = 0;
  while (!rc && (k = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (b.len + k > max) {
      fprintf(stderr, "layercast %s: '%s' is larger than %zu bytes\n", cmd, path, max);
      rc = CLI_FAIL;
    } else if (tok_buf_put(&b, chunk, k)) {
      fprintf(stderr, "layercast %s: out of memory reading '%s'\n", cmd, path);
      rc = CLI_FAIL;
    }
  }
  if (!rc && (ferror(f) || tok_buf_put(&b, "", 1))) {
    fprintf(stderr, "layercast %s: cannot read '%s'\n", cmd, path);
    rc = CLI_FAIL;
  }
  fclose(f);
  if (rc) {
    tok_buf_free(&b);
    return rc;
  }
  *buf = b.p;
  *len = b.len - 1;
  return 0;
}
