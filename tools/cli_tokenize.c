/*
 * tools/cli_tokenize.c — `layercast tokenize`: text to token ids (with their
 * pieces) and ids to text, through a model directory's tokenizer
 * (layercast_text.h); --jsonl encodes many strings with one load, for
 * cross-checks (tools/tok-check.sh).
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "layercast_text.h"
#include "lib/tok_internal.h" /* tok_utf8_check */
#include "tools/cli.h"
#include "tools/cli_common.h"

static const char *const CMD = "tokenize";

/* A piece for a terminal: control characters and bytes that are not
 * UTF-8 escaped (\n, \x01). */
static void print_piece(FILE *f, const char *p, size_t n) {
  for (size_t i = 0; i < n;) {
    const unsigned char c = (unsigned char)p[i];
    const size_t ok = tok_utf8_check(p + i, n - i);
    if (c >= 0x80 && ok > 0) { /* a run of valid multi-byte text */
      size_t j = i;
      while (j < n && (unsigned char)p[j] >= 0x80 && j - i < ok) j++;
      fwrite(p + i, 1, j - i, f);
      i = j;
      continue;
    }
    if (c == '\n')
      fputs("\\n", f);
    else if (c == '\t')
      fputs("\\t", f);
    else if (c == '\r')
      fputs("\\r", f);
    else if (c == '\\')
      fputs("\\\\", f);
    else if (c < 0x20 || c >= 0x7F)
      fprintf(f, "\\x%02X", c);
    else
      fputc(c, f);
    i++;
  }
}

/* A JSON string of arbitrary bytes: invalid UTF-8 as U+FFFD. */
static json_t *json_bytes(const char *p, size_t n) {
  if (tok_utf8_check(p, n) == n) return json_stringn(p, n);
  tok_buf b = {0};
  for (size_t i = 0; i < n;) {
    const size_t ok = tok_utf8_check(p + i, n - i);
    if (tok_buf_put(&b, p + i, ok)) break;
    i += ok;
    if (i < n) {
      if (tok_buf_put(&b, "\xEF\xBF\xBD", 3)) break;
      i++;
    }
  }
  json_t *s = b.p ? json_stringn(b.p, b.len) : json_string("");
  tok_buf_free(&b);
  return s;
}

static json_t *json_ids(const int32_t *ids, int32_t n) {
  json_t *a = json_array();
  for (int32_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, json_integer(ids[i]))) {
      json_decref(a);
      return NULL;
    }
  return a;
}

/* Prints one JSON value on a line; 0 or CLI_FAIL. */
static int print_json(json_t *o) {
  char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
  json_decref(o);
  if (!s) {
    fprintf(stderr, "layercast %s: out of memory printing JSON\n", CMD);
    return CLI_FAIL;
  }
  puts(s);
  free(s);
  return 0;
}

static int do_encode(const lc_tokenizer *tok, const char *text, size_t len, unsigned eflags,
                     unsigned dflags, int as_json) {
  int32_t *ids = NULL, n = 0;
  lc_status st = lc_tokenizer_encode(tok, text, len, eflags, &ids, &n);
  if (st != LC_OK) return cli_fail(CMD, "encoding", st, cli_status_rc(st));
  char *dec = NULL;
  size_t dlen = 0;
  st = lc_tokenizer_decode(tok, ids, n, dflags, &dec, &dlen);
  if (st != LC_OK) {
    free(ids);
    return cli_fail(CMD, "decoding", st, cli_status_rc(st));
  }
  int rc = 0;
  if (as_json) {
    json_t *o = json_object(), *pieces = json_array();
    for (int32_t i = 0; o && pieces && i < n; i++) {
      const char *p;
      size_t pl;
      lc_tokenizer_piece(tok, ids[i], &p, &pl);
      json_array_append_new(pieces, json_bytes(p, pl));
    }
    if (o && pieces) {
      json_object_set_new(o, "ids", json_ids(ids, n));
      json_object_set_new(o, "pieces", pieces);
      json_object_set_new(o, "text", json_bytes(dec, dlen));
    } else {
      json_decref(pieces);
    }
    rc = print_json(o);
  } else {
    printf("%d ids:", (int)n);
    for (int32_t i = 0; i < n; i++) printf(" %d", (int)ids[i]);
    printf("\n");
    for (int32_t i = 0; i < n; i++) {
      const char *p;
      size_t pl;
      lc_tokenizer_piece(tok, ids[i], &p, &pl);
      printf("%6d %8d  ", (int)i, (int)ids[i]);
      print_piece(stdout, p, pl);
      printf("\n");
    }
  }
  free(dec);
  free(ids);
  return rc;
}

/* --jsonl: one JSON string (or {"text": ...}) per line in, one
 * {"ids": [...], "text": decoded} per line out; a line {"ids": [...]} is
 * decoded only ({"text": ...}).  A line that fails gives {"error":
 * message, "status": name} and the run goes on. */
static int do_jsonl(const lc_tokenizer *tok, const char *path, unsigned eflags, unsigned dflags) {
  FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
  if (!f) {
    fprintf(stderr, "layercast %s: cannot open '%s'\n", CMD, path);
    return CLI_USAGE;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  long lineno = 0;
  int rc = 0;
  while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    if (strspn(line, " \t\r\n") == (size_t)len) continue;
    json_error_t je;
    json_t *in = json_loadb(line, (size_t)len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    json_t *s = json_is_object(in) ? json_object_get(in, "text") : in;
    json_t *in_ids = json_is_object(in) ? json_object_get(in, "ids") : NULL;
    int32_t *ids = NULL, n = 0;
    if (json_is_array(in_ids)) {
      n = (int32_t)json_array_size(in_ids);
      ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
      for (int32_t i = 0; ids && i < n; i++) {
        const json_t *x = json_array_get(in_ids, (size_t)i);
        ids[i] = json_is_integer(x) && json_integer_value(x) >= INT32_MIN &&
                         json_integer_value(x) <= INT32_MAX
                     ? (int32_t)json_integer_value(x)
                     : -1;
      }
    } else if (!json_is_string(s)) {
      fprintf(stderr,
              "layercast %s: %s:%ld: expected a JSON string, {\"text\": ...} or {\"ids\": "
              "[...]}\n",
              CMD, path, lineno);
      json_decref(in);
      rc = CLI_USAGE;
      break;
    }
    char *dec = NULL;
    size_t dlen = 0;
    lc_status st = LC_OK;
    if (!ids)
      st = json_is_array(in_ids) ? LC_ERR_OUT_OF_MEMORY
                                 : lc_tokenizer_encode(tok, json_string_value(s),
                                                       json_string_length(s), eflags, &ids, &n);
    if (st == LC_OK) st = lc_tokenizer_decode(tok, ids, n, dflags, &dec, &dlen);
    json_t *o = json_object();
    if (o && st == LC_OK) {
      if (!json_is_array(in_ids)) json_object_set_new(o, "ids", json_ids(ids, n));
      json_object_set_new(o, "text", json_bytes(dec, dlen));
    } else if (o) {
      json_object_set_new(o, "error", json_string(lc_last_error(NULL)));
      json_object_set_new(o, "status", json_string(lc_status_name(st)));
    }
    rc = print_json(o);
    free(ids);
    free(dec);
    json_decref(in);
  }
  free(line);
  if (f != stdin) fclose(f);
  return rc;
}

int cmd_tokenize(int argc, char **argv) {
  const char *model = NULL, *text = NULL, *text_file = NULL, *ids_s = NULL, *jsonl = NULL;
  int no_special = 0, plain = 0, skip_special = 0, as_json = 0, info = 0;
  const cli_opt opts[] = {
      {"model", CLI_STR, &model, 0, 0, NULL, "PATH",
       "model directory (tokenizer.json, else tokenizer.bin), or one of those files"},
      {"text", CLI_STR, &text, 0, 0, NULL, "S", "encode S"},
      {"text-file", CLI_STR, &text_file, 0, 0, NULL, "F", "encode the bytes of file F"},
      {"ids", CLI_STR, &ids_s, 0, 0, NULL, "IDS", "decode token ids (\"1 2 3\" or \"1,2,3\")"},
      {"jsonl", CLI_STR, &jsonl, 0, 0, NULL, "F",
       "encode each line of F (a JSON string or {\"text\": ...}; - for stdin),\nprinting "
       "{\"ids\": [...], \"text\": decoded} per line; {\"ids\": [...]} lines\nare decoded"},
      {"no-special", CLI_FLAG, &no_special, 0, 0, NULL, NULL,
       "encode without the BOS/EOS the tokenizer adds"},
      {"plain", CLI_FLAG, &plain, 0, 0, NULL, NULL,
       "added tokens written in the text (<|im_start|>) stay plain text"},
      {"skip-special", CLI_FLAG, &skip_special, 0, 0, NULL, NULL, "decoding drops special tokens"},
      {"json", CLI_FLAG, &as_json, 0, 0, NULL, NULL, "print JSON (ids, pieces, text)"},
      {"info", CLI_FLAG, &info, 0, 0, NULL, NULL, "print what the tokenizer is"},
      CLI_END};
  const cli_cmd cmd = {
      "tokenize", "--model PATH (--text S | --text-file F | --ids IDS | --jsonl F) [options]",
      "Encodes text into token ids, printing each id with its piece (pieces as the vocabulary\n"
      "spells them: byte-level with G-dot for a space, SentencePiece with U+2581), or decodes\n"
      "ids into text.  Encoding adds the tokenizer's BOS/EOS unless --no-special and matches\n"
      "added tokens such as <|im_start|> in the text unless --plain.",
      opts,
      "Supported: Hugging Face tokenizer.json with a BPE model (byte-level as Llama 3 and Qwen,\n"
      "or SentencePiece-style as Llama 2 and Mistral) and llama2.c tokenizer.bin; docs/text.md."};
  int rc = cli_parse(&cmd, argc, argv);
  if (rc) return rc < 0 ? 0 : rc;
  if (!model) return cli_usage_error(CMD, "--model PATH is required");
  const int n_in = (text != NULL) + (text_file != NULL) + (ids_s != NULL) + (jsonl != NULL);
  if (n_in > 1) return cli_usage_error(CMD, "give one of --text, --text-file, --ids, --jsonl");
  if (n_in == 0 && !info)
    return cli_usage_error(CMD, "give --text S, --text-file F, --ids IDS or --jsonl F");
  lc_tokenizer *tok = NULL;
  lc_status st = lc_tokenizer_load(model, &tok);
  if (st != LC_OK) return cli_fail(CMD, "loading the tokenizer", st, cli_status_rc(st));
  const unsigned eflags = (no_special ? 0u : (unsigned)LC_ENCODE_ADD_SPECIAL) |
                          (plain ? (unsigned)LC_ENCODE_PLAIN : 0u);
  const unsigned dflags = skip_special ? (unsigned)LC_DECODE_SKIP_SPECIAL : 0u;
  if (info) {
    lc_tokenizer_info ti;
    lc_tokenizer_get_info(tok, &ti);
    const char *ct = lc_tokenizer_chat_template(tok);
    fprintf(n_in ? stderr : stdout,
            "tokenizer: %s, %d ids (%d added), bos %d, eos %d, adds bos %d eos %d, nfc %d, "
            "chat template %s\n",
            lc_tokenizer_type_name(ti.type), (int)ti.vocab_size, (int)ti.n_added, (int)ti.bos_id,
            (int)ti.eos_id, (int)ti.add_bos, (int)ti.add_eos, (int)ti.nfc, ct ? "yes" : "no");
  }
  if (text) {
    rc = do_encode(tok, text, strlen(text), eflags, dflags, as_json);
  } else if (text_file) {
    char *buf = NULL;
    size_t n = 0;
    rc = cli_read_file(CMD, text_file, SIZE_MAX, &buf, &n);
    if (!rc) rc = do_encode(tok, buf, n, eflags, dflags, as_json);
    free(buf);
  } else if (jsonl) {
    rc = do_jsonl(tok, jsonl, eflags, dflags);
  } else if (ids_s) {
    int32_t *ids = NULL, n = 0;
    rc = cli_parse_tokens(CMD, "--ids", ids_s, &ids, &n);
    char *dec = NULL;
    size_t dlen = 0;
    if (!rc) {
      st = lc_tokenizer_decode(tok, ids, n, dflags, &dec, &dlen);
      if (st != LC_OK) rc = cli_fail(CMD, "decoding", st, cli_status_rc(st));
    }
    if (!rc && as_json) {
      json_t *o = json_object();
      if (o) {
        json_object_set_new(o, "ids", json_ids(ids, n));
        json_object_set_new(o, "text", json_bytes(dec, dlen));
      }
      rc = print_json(o);
    } else if (!rc) {
      fwrite(dec, 1, dlen, stdout);
      printf("\n");
    }
    free(dec);
    free(ids);
  }
  lc_tokenizer_free(tok);
  return rc;
}
