/*
 * lib/prompts.c — prompt lists (layercast_experiment.h): JSONL files of
 * {"tokens": [ids]}, {"prompt": "text"} or {"messages": [...]}, each with an
 * optional "answer" (ids or text), random prompts from a seed, and the
 * prompts' hash that run records carry.
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lib/exp_internal.h"

void lc_prompt_list_free(lc_prompt_list *ps) {
  if (!ps) return;
  for (int32_t i = 0; i < ps->n; i++) {
    free(ps->v[i].tokens);
    free(ps->v[i].answer);
    free(ps->v[i].text);
    free(ps->v[i].answer_text);
  }
  free(ps->v);
  ps->v = NULL;
  ps->n = 0;
}

/* Appends p (its arrays are taken over); 1 when out of memory. */
static int push(lc_prompt_list *ps, lc_prompt p) {
  if (ps->n == INT32_MAX) return 1;
  lc_prompt *nv = lc_realloc(ps->v, ((size_t)ps->n + 1) * sizeof *nv);
  if (!nv) return 1;
  ps->v = nv;
  ps->v[ps->n++] = p;
  return 0;
}

static int32_t *dup_ids(const int32_t *v, int32_t n) {
  int32_t *d = lc_malloc((size_t)(n > 0 ? n : 1) * sizeof *d);
  if (d && n > 0) memcpy(d, v, (size_t)n * sizeof *d);
  return d;
}

lc_status lc_prompt_list_add(lc_prompt_list *ps, const int32_t *tokens, int32_t n,
                             const int32_t *answer, int32_t n_answer) {
  static const char fn[] = "lc_prompt_list_add";
  if (!ps || !tokens || n < 1 || n_answer < 0 || (n_answer > 0 && !answer))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "%s: need a list, n >= 1 tokens and n_answer >= 0 (got n = %d, n_answer = %d)",
                   fn, (int)n, (int)n_answer);
  for (int32_t i = 0; i < n; i++)
    if (tokens[i] < 0)
      return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: token %d at index %d is negative", fn,
                     (int)tokens[i], (int)i);
  lc_prompt p = {dup_ids(tokens, n),    n,    answer ? dup_ids(answer, n_answer) : NULL,
                 answer ? n_answer : 0, NULL, NULL};
  if (!p.tokens || (answer && !p.answer) || push(ps, p)) {
    free(p.tokens);
    free(p.answer);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  }
  return LC_OK;
}

lc_status lc_prompt_list_random(lc_prompt_list *ps, uint64_t seed, int32_t n, int32_t min_len,
                                int32_t max_len, int32_t vocab) {
  static const char fn[] = "lc_prompt_list_random";
  if (!ps || n < 0 || min_len < 1 || max_len < min_len || max_len > (1 << 24) || vocab < 1)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "%s: need n >= 0, 1 <= min_len <= max_len <= 2^24, vocab >= 1 (got %d, %d, %d, "
                   "%d)",
                   fn, (int)n, (int)min_len, (int)max_len, (int)vocab);
  if (n > INT32_MAX - ps->n) /* the list counts its prompts in an int32 */
    return LC_FAIL(NULL, LC_ERR_OVERFLOW,
                   "%s: n = %d more prompts on a list of %d exceed the list's limit of 2^31-1", fn,
                   (int)n, (int)ps->n);
  int32_t *buf = lc_malloc((size_t)max_len * sizeof *buf);
  if (!buf) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  const int32_t n0 = ps->n;
  uint64_t s = seed;
  lc_status st = LC_OK;
  for (int32_t p = 0; p < n && st == LC_OK; p++) {
    int32_t len = (int32_t)lc_splitmix_range(&s, min_len, max_len);
    for (int32_t i = 0; i < len; i++) buf[i] = (int32_t)lc_splitmix_range(&s, 0, vocab - 1);
    st = lc_prompt_list_add(ps, buf, len, NULL, 0);
  }
  free(buf);
  if (st != LC_OK) /* leave the list as it was */
    while (ps->n > n0) {
      ps->n--;
      free(ps->v[ps->n].tokens);
      free(ps->v[ps->n].answer);
    }
  return st;
}

/* A why that starts with OOM makes the line's status LC_ERR_OUT_OF_MEMORY;
 * any other why is LC_ERR_FORMAT. */
#define OOM "out of memory"

/* The why for a call inside a prompt line that failed with st: its
 * message, marked as out of memory when it was. */
static const char *sub_failure(lc_status st, char *why_buf, size_t why_len) {
  snprintf(why_buf, why_len, "%s%s", st == LC_ERR_OUT_OF_MEMORY ? OOM ": " : "",
           lc_last_error(NULL));
  return why_buf;
}

/* An array of token ids; NULL why on success. */
static const char *ids_of(const json_t *a, int32_t **out, int32_t *n) {
  if (!json_is_array(a)) return "is not an array";
  int32_t k = lc_json_ids(a, out);
  if (k == -2) return OOM;
  if (k < 0) return "holds something other than token ids (integers >= 0)";
  *n = k;
  return NULL;
}

static void prompt_clear(lc_prompt *p) {
  free(p->tokens);
  free(p->answer);
  free(p->text);
  free(p->answer_text);
  memset(p, 0, sizeof *p);
}

/* Renders messages (a JSON array) with the chat format and its generation
 * prompt into *text; NULL why on success, else why, in why_buf. */
static const char *render_messages(const json_t *jm, const lc_chat_template *chat, char **text,
                                   char *why_buf, size_t why_len) {
  if (!json_is_array(jm) || json_array_size(jm) == 0)
    return "is not a non-empty array of {\"role\", \"content\"} objects";
  const size_t n = json_array_size(jm);
  if (n > INT32_MAX) return "has too many messages";
  lc_chat_message *m = lc_calloc(n, sizeof *m);
  if (!m) return "out of memory";
  const char *why = NULL;
  for (size_t i = 0; i < n && !why; i++) {
    const json_t *e = json_array_get(jm, i);
    const json_t *r = json_object_get(e, "role"), *c = json_object_get(e, "content");
    if (!json_is_object(e) || !json_is_string(r) || !json_is_string(c)) {
      snprintf(why_buf, why_len, "message %zu is not {\"role\": string, \"content\": string}", i);
      why = why_buf;
    } else {
      m[i].role = json_string_value(r);
      m[i].content = json_string_value(c);
    }
  }
  lc_status st = why ? LC_OK : lc_chat_apply(chat, m, (int32_t)n, 1, text);
  if (st != LC_OK) why = sub_failure(st, why_buf, why_len);
  free(m);
  return why;
}

/* Fills p from one parsed line; NULL why on success, else why (pointing at
 * a literal or into why_buf) and the field in *field. */
static const char *prompt_of(const json_t *j, const lc_prompt_text_params *tp, lc_prompt *p,
                             const char **field, char *why_buf, size_t why_len) {
  const json_t *jt = json_object_get(j, "tokens"), *jp = json_object_get(j, "prompt"),
               *jm = json_object_get(j, "messages"), *ja = json_object_get(j, "answer"),
               *jx = json_object_get(j, "text");
  *field = "";
  if (!json_is_object(j) || (!jt && !jp && !jm))
    return "expected an object with \"tokens\": [ids...], \"prompt\": \"text\" or "
           "\"messages\": [...]";
  if (!!jt + !!jp + !!jm > 1) return "give one of \"tokens\", \"prompt\" and \"messages\"";
  const lc_tokenizer *tok = tp ? tp->tokenizer : NULL;
  const lc_chat_template *chat = tp ? tp->chat : NULL;
  if (jt) {
    const char *why = ids_of(jt, &p->tokens, &p->n_tokens);
    if (why) return *field = "\"tokens\" ", why;
    if (p->n_tokens < 1)
      return *field = "\"tokens\" ", "is empty (a prompt needs at least one token)";
    if (jx && !json_is_string(jx)) return *field = "\"text\" ", "is not a string";
    if (jx && !(p->text = lc_strdup(json_string_value(jx)))) return "out of memory";
  } else {
    *field = jp ? "\"prompt\" " : "\"messages\" ";
    if (jp && !json_is_string(jp)) return "is not a string";
    if (!tok)
      return "is text: give the model's tokenizer (a Hugging Face folder holds one; for a "
             "llama2.c checkpoint name its tokenizer.bin)";
    if ((jm || tp->chat_prompts) && !chat)
      return "needs a chat format (the tokenizer's template, or one named)";
    unsigned flags = LC_ENCODE_ADD_SPECIAL;
    if (jm) {
      const char *why = render_messages(jm, chat, &p->text, why_buf, why_len);
      if (why) return why;
      if (!lc_chat_template_add_bos(chat)) flags = 0;
    } else if (tp->chat_prompts) {
      lc_chat_message m = {"user", json_string_value(jp)};
      lc_status st = lc_chat_apply(chat, &m, 1, 1, &p->text);
      if (st != LC_OK) return sub_failure(st, why_buf, why_len);
      if (!lc_chat_template_add_bos(chat)) flags = 0;
    } else if (!(p->text = lc_strdup(json_string_value(jp)))) {
      return "out of memory";
    }
    lc_status st =
        lc_tokenizer_encode(tok, p->text, strlen(p->text), flags, &p->tokens, &p->n_tokens);
    if (st != LC_OK) return sub_failure(st, why_buf, why_len);
  }
  if (p->n_tokens < 1) return "gives no tokens (a prompt needs at least one)";
  *field = "\"answer\" ";
  if (ja && json_is_string(ja)) {
    if (!(p->answer_text = lc_strdup(json_string_value(ja)))) return "out of memory";
  } else if (ja && !json_is_null(ja)) {
    const char *why = ids_of(ja, &p->answer, &p->n_answer);
    if (why) return why;
  }
  *field = "";
  return NULL;
}

lc_status lc_prompt_list_read_text(const char *path, const lc_prompt_text_params *tp,
                                   lc_prompt_list *out) {
  static const char fn[] = "reading prompts";
  if (!path || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_prompt_list_read: NULL argument");
  out->v = NULL;
  out->n = 0;
  FILE *f = NULL;
  LC_TRY(lc_file_open_read(path, "prompt file", fn, &f));
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  long lineno = 0;
  lc_status st = LC_OK;
  while (st == LC_OK && (len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    size_t i = 0;
    while (i < (size_t)len && strchr(" \t\r\n", line[i])) i++;
    if (i == (size_t)len) continue; /* blank line */
    json_error_t err;
    json_t *j = json_loadb(line, (size_t)len, 0, &err);
    if (!j && lc_json_oom(&err)) {
      st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s:%ld: out of memory", path, lineno);
      break;
    }
    if (!j) {
      st = LC_FAIL(NULL, LC_ERR_FORMAT, "%s:%ld: not JSON (%s)", path, lineno, err.text);
      break;
    }
    lc_prompt p;
    memset(&p, 0, sizeof p);
    char why_buf[LC_ERR_LEN];
    const char *field = "";
    const char *why = prompt_of(j, tp, &p, &field, why_buf, sizeof why_buf);
    json_decref(j);
    if (why) {
      st = LC_FAIL(NULL, strncmp(why, OOM, strlen(OOM)) ? LC_ERR_FORMAT : LC_ERR_OUT_OF_MEMORY,
                   "%s:%ld: %s%s", path, lineno, field, why);
    } else if (push(out, p)) {
      st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory at %s:%ld", fn, path, lineno);
    } else {
      continue;
    }
    prompt_clear(&p);
  }
  if (st == LC_OK && ferror(f))
    st = LC_FAIL(NULL, LC_ERR_IO, "%s: reading '%s' failed: %s", fn, path, strerror(errno));
  free(line);
  fclose(f);
  if (st == LC_OK && out->n == 0)
    st = LC_FAIL(NULL, LC_ERR_FORMAT, "%s: '%s' holds no prompts", fn, path);
  if (st != LC_OK) lc_prompt_list_free(out);
  return st;
}

lc_status lc_prompt_list_read(const char *path, lc_prompt_list *out) {
  return lc_prompt_list_read_text(path, NULL, out);
}

lc_status lc_prompt_list_check_vocab(const lc_prompt_list *ps, int32_t vocab) {
  if (!ps) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_prompt_list_check_vocab: NULL");
  for (int32_t p = 0; p < ps->n; p++)
    for (int k = 0; k < 2; k++) {
      const int32_t *v = k ? ps->v[p].answer : ps->v[p].tokens;
      const int32_t n = k ? ps->v[p].n_answer : ps->v[p].n_tokens;
      for (int32_t i = 0; v && i < n; i++)
        if (v[i] < 0 || v[i] >= vocab)
          return LC_FAIL(NULL, LC_ERR_OUT_OF_RANGE,
                         "prompt %d: %s id %d at index %d is outside the model's vocabulary "
                         "(0 .. %d)",
                         (int)p, k ? "answer" : "token", (int)v[i], (int)i, (int)vocab - 1);
    }
  return LC_OK;
}

lc_status lc_prompt_list_hash(const lc_prompt_list *ps, char hex[LC_HASH_HEX_LEN]) {
  if (!ps || !hex) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_prompt_list_hash: NULL");
  lc_hasher *h = lc_hasher_new();
  if (!h) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_prompt_list_hash: out of memory");
  lc_hasher_u64(h, (uint64_t)ps->n);
  for (int32_t p = 0; p < ps->n; p++) {
    const lc_prompt *q = &ps->v[p];
    lc_hasher_u64(h, (uint64_t)q->n_tokens);
    for (int32_t i = 0; i < q->n_tokens; i++) lc_hasher_u64(h, (uint64_t)q->tokens[i]);
    /* an absent answer and an empty one differ */
    lc_hasher_u64(h, q->answer ? (uint64_t)q->n_answer : UINT64_MAX);
    for (int32_t i = 0; q->answer && i < q->n_answer; i++) lc_hasher_u64(h, (uint64_t)q->answer[i]);
    if (q->answer_text) { /* lists without text answers hash as before */
      const size_t n = strlen(q->answer_text);
      lc_hasher_u64(h, UINT64_MAX - 1);
      lc_hasher_u64(h, (uint64_t)n);
      lc_hasher_update(h, q->answer_text, n);
    }
  }
  lc_hasher_hex(h, hex);
  lc_hasher_free(h);
  return LC_OK;
}

lc_status lc_prompt_list_write(const lc_prompt_list *ps, const char *path) {
  static const char fn[] = "lc_prompt_list_write";
  if (!ps || !path) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  if (!m) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  int bad = 0;
  for (int32_t p = 0; p < ps->n && !bad; p++) {
    json_t *o = json_object();
    bad = !o || lc_json_put(o, "tokens", lc_json_i32_array(ps->v[p].tokens, ps->v[p].n_tokens));
    if (!bad && ps->v[p].text) bad = lc_json_put(o, "text", json_string(ps->v[p].text));
    if (!bad && ps->v[p].answer)
      bad = lc_json_put(o, "answer", lc_json_i32_array(ps->v[p].answer, ps->v[p].n_answer));
    else if (!bad && ps->v[p].answer_text)
      bad = lc_json_put(o, "answer", json_string(ps->v[p].answer_text));
    char *s = bad ? NULL : lc_json_line(o);
    bad = bad || !s || fputs(s, m) < 0 || fputc('\n', m) == EOF;
    free(s);
    json_decref(o);
  }
  if (fclose(m) != 0) bad = 1;
  lc_status st = bad ? LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn)
                     : lc_file_write_atomic(path, buf, len, fn);
  free(buf);
  return st;
}
