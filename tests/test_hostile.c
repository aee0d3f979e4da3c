/*
 * tests/test_hostile.c — hostile sizes (issue 13, item 5): shapes and counts
 * at and around the int32/int64 boundaries, in config.json, safetensors
 * headers, llama2.c headers, session and generation parameters and the
 * tokenizer's counts.  Each case must end in its expected status with a
 * message, never wrap, crash or hang, and never ask for absurd memory first:
 * an allocation hook refuses (and counts) every single request above
 * LCT_BIG_ALLOC while the probes run, so a library that sized a buffer from
 * an unchecked value reports LC_ERR_OUT_OF_MEMORY here instead of the status
 * the case expects, and the case fails naming the request.
 *
 * The files are small and real (a tiny synthetic model rewritten); the two
 * files larger than 4 GiB are sparse (ftruncate), so they cost no disk.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "layercast_experiment.h"
#include "layercast_model.h"
#include "layercast_text.h"
#include "test_util.h"

/* Largest single allocation a probe may ask for.  The tiny model's whole
 * working set is well below 1 MiB; 256 MiB is far above anything a
 * rejected input should cost, and far below the multi-GiB buffers a wrapped
 * or unchecked size asks for. */
#define LCT_BIG_ALLOC ((size_t)256 << 20)

static struct {
  int64_t n;      /* requests refused */
  size_t largest; /* the largest of them */
} g_big;

static int big_hook(void *opaque, lc_alloc_kind kind, size_t bytes) {
  (void)opaque;
  (void)kind;
  if (bytes <= LCT_BIG_ALLOC) return 0;
  g_big.n++;
  if (bytes > g_big.largest) g_big.largest = bytes;
  return 1;
}

static char g_dir[256];                           /* this test's temporary folder */
static lc_model_format g_format = LC_FORMAT_AUTO; /* what try_load asks for */

static int setup(void **state) {
  (void)state;
  lct_tmpdir_make(g_dir, sizeof g_dir, "hostile");
  memset(&g_big, 0, sizeof g_big);
  g_format = LC_FORMAT_AUTO;
  lc_set_alloc_hook(big_hook, NULL);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  lc_set_alloc_hook(NULL, NULL);
  int rc = lct_tmpdir_remove(g_dir);
  g_dir[0] = '\0';
  return rc == 0 ? 0 : -1;
}

/* Fails unless st == want, the message is non-empty and contains `needle`
 * (NULL: any), and no allocation above LCT_BIG_ALLOC was asked for. */
static void check_case(const char *what, lc_status st, lc_status want, const char *msg,
                       const char *needle) {
  int64_t big = g_big.n;
  size_t largest = g_big.largest;
  memset(&g_big, 0, sizeof g_big);
  if (st != want) {
    print_error("%s: expected %s, got %s: %s\n", what, lc_status_name(want), lc_status_name(st),
                msg ? msg : "");
    fail();
  }
  if (big) {
    print_error(
        "%s: %s as expected, but %lld allocation(s) above %zu bytes were asked for "
        "first (largest %zu bytes)\n",
        what, lc_status_name(st), (long long)big, LCT_BIG_ALLOC, largest);
    fail();
  }
  if (want != LC_OK && (!msg || !msg[0])) {
    print_error("%s: %s with an empty message\n", what, lc_status_name(st));
    fail();
  }
  if (want != LC_OK && needle && !strstr(msg, needle)) {
    print_error("%s: message \"%s\" lacks \"%s\"\n", what, msg, needle);
    fail();
  }
}

/* ---- files --------------------------------------------------------------------------*/

static void path_in(char *out, size_t n, const char *a, const char *b) {
  snprintf(out, n, "%s/%s", a, b);
}

/* Grows (sparsely) or cuts a file to `size` bytes. */
static void set_size(const char *path, uint64_t size) {
  int fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)size), 0);
  assert_int_equal(close(fd), 0);
}

static void write_at(const char *path, uint64_t off, const void *data, size_t n) {
  int fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, data, n, (off_t)off), (ssize_t)n);
  assert_int_equal(close(fd), 0);
}

/* Loads path on a CPU strict context; returns the status and copies the
 * message (lc_last_error) into msg.  A model that loads is freed. */
static lc_status try_load(const char *path, int32_t max_seq, char *msg, size_t msg_len,
                          char hash[LC_HASH_HEX_LEN]) {
  lc_context *ctx = lct_cpu(LC_MODE_STRICT);
  lc_model_load_params p;
  lc_model_load_params_default(&p);
  p.max_seq_len = max_seq;
  p.format = g_format;
  lc_model *m = (lc_model *)0x1;
  lc_status st = lc_model_load(ctx, path, &p, &m);
  snprintf(msg, msg_len, "%s", st == LC_OK ? "" : lc_last_error(ctx));
  if (st == LC_OK) {
    assert_non_null(m);
    if (hash) {
      lc_model_info info;
      assert_int_equal(lc_model_get_info(m, &info), LC_OK);
      memcpy(hash, info.weights_hash, LC_HASH_HEX_LEN);
    }
  } else {
    assert_null(m);
  }
  lc_model_free(m);
  lc_context_free(ctx);
  return st;
}

/* ---- 1. config.json ---------------------------------------------------------------*/

/* Writes good config `base` with the edits "key=json value" (value DELETE
 * removes the key) applied, to path. */
static void write_config(const char *path, const json_t *base, const char *const *edits, int n) {
  json_t *r = json_deep_copy(base);
  assert_non_null(r);
  for (int i = 0; i < n; i++) {
    char spec[256];
    snprintf(spec, sizeof spec, "%s", edits[i]);
    char *v = strchr(spec, '=');
    assert_non_null(v);
    *v++ = '\0';
    if (strcmp(v, "DELETE") == 0) {
      json_object_del(r, spec);
      continue;
    }
    json_error_t je;
    json_t *val = json_loads(v, JSON_DECODE_ANY, &je);
    if (!val) { /* past int64: jansson refuses it; write the raw text */
      char *text = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
      assert_non_null(text);
      char *raw = lct_malloc(strlen(text) + strlen(spec) + strlen(v) + 16);
      sprintf(raw, "{\"%s\": %s, %s", spec, v, text + 1);
      lct_write_file(path, raw, strlen(raw));
      free(raw);
      free(text);
      json_decref(r);
      return;
    }
    json_object_set_new(r, spec, val);
  }
  assert_int_equal(json_dump_file(r, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER), 0);
  json_decref(r);
}

/* Every size key of config.json at and around the boundaries, and
 * combinations whose products overflow int32 or int64, fails with its
 * status and a message naming the key, before any large allocation. */
static void test_hostile_hf_config(void **state) {
  (void)state;
  char dir[512], cfg[600], msg[1024];
  path_in(dir, sizeof dir, g_dir, "m");
  path_in(cfg, sizeof cfg, dir, "config.json");
  lct_synth_tiny(dir, 7, LC_DTYPE_BF16, 1, 64); /* dim 32, 4/2 heads of 8, vocab 64 */
  json_error_t je;
  json_t *base = json_load_file(cfg, JSON_PRESERVE_ORDER, &je);
  assert_non_null(base);
  int n_cases = 0;

  static const char *const keys[] = {
      "hidden_size", "intermediate_size", "num_attention_heads",     "num_key_value_heads",
      "head_dim",    "vocab_size",        "max_position_embeddings", "num_hidden_layers"};
  /* values outside [1, 2^31-1]: the key's range check (LC_ERR_FORMAT) */
  static const char *const outside[] = {"2147483648",
                                        "4294967296",
                                        "9223372036854775807",
                                        "-1",
                                        "0",
                                        "-2147483648",
                                        "-9223372036854775808",
                                        "1e300",
                                        "2147483647.0",
                                        "18446744073709551616"};
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
    for (size_t v = 0; v < sizeof outside / sizeof outside[0]; v++) {
      char e[128], what[160];
      snprintf(e, sizeof e, "%s=%s", keys[k], outside[v]);
      const char *edits[] = {e};
      write_config(cfg, base, edits, 1);
      snprintf(what, sizeof what, "config %s", e);
      lc_status st = try_load(dir, 0, msg, sizeof msg, NULL);
      /* past int64 the file is not valid JSON for jansson: its message */
      const int raw = strcmp(outside[v], "18446744073709551616") == 0;
      check_case(what, st, LC_ERR_FORMAT, msg, raw ? "config.json" : keys[k]);
      n_cases++;
    }
  }
  /* 2^31-1 itself: inside the key's range, refused by what it implies */
  static const struct {
    const char *edit;
    lc_status want;
    const char *needle;
  } at_max[] = {
      {"hidden_size=2147483647", LC_ERR_FORMAT, "model.embed_tokens.weight"},
      {"intermediate_size=2147483647", LC_ERR_FORMAT, "mlp.gate_proj.weight"},
      {"num_attention_heads=2147483647", LC_ERR_FORMAT, "num_key_value_heads 2"},
      {"num_key_value_heads=2147483647", LC_ERR_FORMAT, "num_key_value_heads 2147483647"},
      {"head_dim=2147483647", LC_ERR_FORMAT, "head_dim must be even"},
      {"head_dim=2147483646", LC_ERR_FORMAT, "overflows int32"},
      {"vocab_size=2147483647", LC_ERR_FORMAT, "model.embed_tokens.weight"},
      {"num_hidden_layers=2147483647", LC_ERR_FORMAT, "model.layers.2."},
      /* the RoPE table holds every position: 2^31-1 of them would take 64 GiB */
      {"max_position_embeddings=2147483647", LC_ERR_OVERFLOW, "max_seq_len"},
      {"max_position_embeddings=16777217", LC_ERR_OVERFLOW, "max_seq_len"},
  };
  for (size_t i = 0; i < sizeof at_max / sizeof at_max[0]; i++) {
    const char *edits[] = {at_max[i].edit};
    write_config(cfg, base, edits, 1);
    lc_status st = try_load(dir, 0, msg, sizeof msg, NULL);
    check_case(at_max[i].edit, st, at_max[i].want, msg, at_max[i].needle);
    n_cases++;
  }
  /* combinations whose products overflow */
  static const struct {
    const char *edits[4];
    lc_status want;
    const char *needle;
  } combos[] = {
      /* vocab x hidden = 2^50 elements: a 2 PiB embedding the file lacks */
      {{"vocab_size=1073741824", "hidden_size=1048576", NULL}, LC_ERR_FORMAT, "embed_tokens"},
      /* heads x head_dim = 2^32 */
      {{"num_attention_heads=1048576", "num_key_value_heads=1048576", "head_dim=4096", NULL},
       LC_ERR_FORMAT,
       "overflows int32"},
      /* heads x head_dim = 2^31 exactly (one past INT32_MAX) */
      {{"num_attention_heads=8388608", "num_key_value_heads=8388608", "head_dim=256", NULL},
       LC_ERR_FORMAT,
       "overflows int32"},
      /* head_dim derived: 2^31-1 / 1, odd */
      {{"hidden_size=2147483647", "num_attention_heads=1", "num_key_value_heads=1",
        "head_dim=DELETE"},
       LC_ERR_FORMAT,
       "head_dim must be even"},
      /* an even head_dim past what attention takes */
      {{"head_dim=65536", NULL}, LC_ERR_UNSUPPORTED, "head_dim 65536"},
      /* hidden and intermediate both 2^31-1: 2^62 elements per MLP matrix */
      {{"hidden_size=2147483647", "intermediate_size=2147483647", NULL},
       LC_ERR_FORMAT,
       "model.embed_tokens.weight"},
      /* layers x everything: 2^31-1 layers of 2^31-1-wide matrices */
      {{"num_hidden_layers=2147483647", "hidden_size=2147483646", "intermediate_size=2147483647",
        "vocab_size=2147483647"},
       LC_ERR_FORMAT,
       "model.embed_tokens.weight"},
      /* every position of every layer: max positions and layers together */
      {{"num_hidden_layers=2147483647", "max_position_embeddings=2147483647", NULL},
       LC_ERR_OVERFLOW,
       "max_seq_len"},
  };
  for (size_t i = 0; i < sizeof combos / sizeof combos[0]; i++) {
    int n = 0;
    char what[256] = "config";
    while (n < 4 && combos[i].edits[n]) {
      strncat(what, " ", sizeof what - strlen(what) - 1);
      strncat(what, combos[i].edits[n], sizeof what - strlen(what) - 1);
      n++;
    }
    write_config(cfg, base, combos[i].edits, n);
    lc_status st = try_load(dir, 0, msg, sizeof msg, NULL);
    check_case(what, st, combos[i].want, msg, combos[i].needle);
    n_cases++;
  }
  /* the same limit through the load parameters and lc_synth_write */
  write_config(cfg, base, NULL, 0);
  lc_status st = try_load(dir, INT32_MAX, msg, sizeof msg, NULL);
  check_case("params.max_seq_len = 2^31-1", st, LC_ERR_OVERFLOW, msg, "max_seq_len");
  st = try_load(dir, 1 << 10, msg, sizeof msg, NULL);
  check_case("params.max_seq_len = 1024", st, LC_OK, msg, NULL);
  lc_synth_params sp;
  lc_synth_params_default(&sp);
  sp.config.max_seq_len = INT32_MAX;
  char sdir[600];
  path_in(sdir, sizeof sdir, g_dir, "synth");
  st = lc_synth_write(sdir, &sp);
  check_case("lc_synth_write max_seq_len = 2^31-1", st, LC_ERR_OVERFLOW, lc_last_error(NULL),
             "max_seq_len");
  assert_false(access(sdir, F_OK) == 0); /* refused before anything is written */
  n_cases += 3;
  json_decref(base);
  printf("hostile hf config: %d cases probed\n", n_cases);
}

/* ---- 2. safetensors headers ----------------------------------------------------------*/

/* The header of a safetensors file (parsed) and where its data starts. */
static json_t *st_header(const unsigned char *raw, uint64_t *hl) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = (n << 8) | raw[i];
  json_error_t je;
  json_t *h = json_loadb((const char *)raw + 8, (size_t)n, JSON_PRESERVE_ORDER, &je);
  assert_non_null(h);
  *hl = n;
  return h;
}

/* Writes header text `text` (padded to 8) and data[0..data_len) to path. */
static void st_write(const char *path, const char *text, const unsigned char *data,
                     size_t data_len) {
  size_t hl = strlen(text), padded = hl;
  while (padded % 8) padded++;
  unsigned char *out = lct_malloc(8 + padded + data_len);
  for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)padded >> (8 * i));
  memcpy(out + 8, text, hl);
  memset(out + 8 + hl, ' ', padded - hl);
  if (data_len) memcpy(out + 8 + padded, data, data_len);
  lct_write_file(path, out, 8 + padded + data_len);
  free(out);
}

/* The good header with tensor `name`'s field set to the JSON text `value`
 * (spliced as text, so values past int64 reach the loader as written). */
static char *st_edit(const json_t *h, const char *name, const char *field, const char *value) {
  json_t *c = json_deep_copy(h);
  json_t *t = json_object_get(c, name);
  if (!t) {
    t = json_pack("{s:s, s:[i], s:[i, i]}", "dtype", "F32", "shape", 1, "data_offsets", 0, 4);
    json_object_set_new(c, name, t);
  }
  json_object_set_new(t, field, json_string("@@"));
  char *text = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(c);
  assert_non_null(text);
  char *at = strstr(text, "\"@@\"");
  assert_non_null(at);
  char *out = lct_malloc(strlen(text) + strlen(value) + 1);
  memcpy(out, text, (size_t)(at - text));
  strcpy(out + (at - text), value);
  strcat(out, at + 4);
  free(text);
  return out;
}

/* Headers describing tensors past 4 GiB, offsets past the file or near
 * UINT64_MAX, element counts and byte sizes that overflow int64: each is
 * LC_ERR_FORMAT naming the tensor, before any large allocation.  A real
 * (sparse) file of more than 4 GiB whose tensors lie past the 4 GiB mark
 * loads, with the same weights as the compact file. */
static void test_hostile_safetensors(void **state) {
  (void)state;
  char dir[512], st_path[600], msg[1024];
  path_in(dir, sizeof dir, g_dir, "m");
  path_in(st_path, sizeof st_path, dir, "model.safetensors");
  lct_synth_tiny(dir, 11, LC_DTYPE_F32, 1, 64);
  char good_hash[LC_HASH_HEX_LEN];
  check_case("the tiny model", try_load(dir, 0, msg, sizeof msg, good_hash), LC_OK, msg, NULL);
  size_t len;
  unsigned char *raw = lct_read_file(st_path, &len);
  uint64_t hl;
  json_t *h = st_header(raw, &hl);
  const unsigned char *data = raw + 8 + hl;
  const size_t data_len = len - 8 - hl;
  int n_cases = 0;

  const char *norm = "model.norm.weight"; /* F32 [32] */
  char past[96], huge_end[96];
  snprintf(past, sizeof past, "[0, %llu]", (unsigned long long)data_len + 4);
  snprintf(huge_end, sizeof huge_end, "[%llu, 9223372036854775807]",
           (unsigned long long)data_len - 128);
  static const char *const dummy = "hostile.extra";
  const struct {
    const char *tensor, *field, *value;
    const char *needle;
  } cases[] = {
      /* a tensor of 4 GiB + 128 bytes, with offsets that say so, in a small file */
      {norm, "shape", "[1073741856]", "hold 128 bytes"},
      {norm, "data_offsets", "[0, 4294967424]", "run past the data section"},
      /* 2^31 x 2^31 F32 = 2^64 bytes: the byte size overflows int64 */
      {norm, "shape", "[2147483648, 2147483648]", "byte size overflows"},
      /* element counts past int64 */
      {norm, "shape", "[4294967296, 4294967296]", "element count overflows"},
      {norm, "shape", "[9223372036854775807, 2]", "element count overflows"},
      {norm, "shape", "[2147483648, 1073741824]", "byte size overflows"}, /* 2^61 x 4 */
      /* a dimension past int64 (jansson stops at int64: invalid JSON) */
      {norm, "shape", "[18446744073709551615]", "invalid JSON header"},
      {norm, "shape", "[1e300]", "non-negative integers"},
      {norm, "shape", "[-9223372036854775808]", "non-negative integers"},
      /* offsets near and past the top of int64 / uint64 */
      {norm, "data_offsets", past, "run past the data section"},
      {norm, "data_offsets", huge_end, "run past the data section"},
      {norm, "data_offsets", "[9223372036854775807, 9223372036854775807]",
       "run past the data section"},
      {norm, "data_offsets", "[9223372036854775680, 9223372036854775807]",
       "run past the data section"},
      {norm, "data_offsets", "[18446744073709551487, 18446744073709551615]", "invalid JSON header"},
      {norm, "data_offsets", "[-128, 0]", "0 <= begin <= end"},
      {norm, "data_offsets", "[-9223372036854775808, 9223372036854775807]", "0 <= begin <= end"},
      {norm, "data_offsets", "[0, 1e300]", "[begin, end] integers"},
      /* an extra tensor the model does not read, described larger than 4 GiB */
      {dummy, "shape", "[2147483648, 4]", "hostile.extra"},
      {dummy, "data_offsets", "[0, 4294967296]", "hostile.extra"},
      /* a required tensor 2^31 rows long (int32 row count + 1) */
      {"model.embed_tokens.weight", "shape", "[2147483648, 32]", "model.embed_tokens.weight"},
      {"model.embed_tokens.weight", "shape", "[2147483647, 32]", "model.embed_tokens.weight"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *text = st_edit(h, cases[i].tensor, cases[i].field, cases[i].value);
    st_write(st_path, text, data, data_len);
    free(text);
    char what[256];
    snprintf(what, sizeof what, "safetensors %s.%s = %s", cases[i].tensor, cases[i].field,
             cases[i].value);
    check_case(what, try_load(dir, 0, msg, sizeof msg, NULL), LC_ERR_FORMAT, msg, cases[i].needle);
    n_cases++;
  }
  /* the header length field: 2^63, 2^64-1, just past the file */
  const uint64_t lens[] = {(uint64_t)1 << 63, UINT64_MAX, (uint64_t)len - 7, (uint64_t)1 << 32};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    unsigned char *cp = lct_malloc(len);
    memcpy(cp, raw, len);
    for (int b = 0; b < 8; b++) cp[b] = (unsigned char)(lens[i] >> (8 * b));
    lct_write_file(st_path, cp, len);
    free(cp);
    char what[96];
    snprintf(what, sizeof what, "safetensors header length %llu", (unsigned long long)lens[i]);
    check_case(what, try_load(dir, 0, msg, sizeof msg, NULL), LC_ERR_FORMAT, msg, "header length");
    n_cases++;
  }

  /* A file of 4 GiB + 8 KiB (sparse): model.norm.weight moved past 4 GiB,
   * and an extra F32 tensor of 4 GiB + 64 bytes in front of it. */
  {
    const uint64_t big = ((uint64_t)1 << 32) + 64, norm_at = (uint64_t)data_len + big;
    json_t *c = json_deep_copy(h);
    json_t *nt = json_object_get(c, norm);
    json_int_t nb = json_integer_value(json_array_get(json_object_get(nt, "data_offsets"), 0));
    json_object_set_new(nt, "data_offsets",
                        json_pack("[I, I]", (json_int_t)norm_at, (json_int_t)norm_at + 128));
    json_object_set_new(
        c, dummy,
        json_pack("{s:s, s:[I], s:[I, I]}", "dtype", "F32", "shape", (json_int_t)(big / 4),
                  "data_offsets", (json_int_t)data_len, (json_int_t)(data_len + big)));
    char *text = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(c);
    st_write(st_path, text, data, data_len);
    size_t hl2 = strlen(text);
    while (hl2 % 8) hl2++;
    free(text);
    set_size(st_path, 8 + hl2 + norm_at + 128 + 8192);
    write_at(st_path, 8 + hl2 + norm_at, data + nb, 128);
    char hash[LC_HASH_HEX_LEN];
    lc_status st = try_load(dir, 0, msg, sizeof msg, hash);
    check_case("a 4 GiB safetensors file, norm past 4 GiB", st, LC_OK, msg, NULL);
    assert_string_equal(hash, good_hash);
    /* the same file cut short: the norm now runs past its end */
    set_size(st_path, 8 + hl2 + norm_at + 64);
    check_case("the 4 GiB file cut inside the norm", try_load(dir, 0, msg, sizeof msg, NULL),
               LC_ERR_FORMAT, msg, "run past the data section");
    n_cases += 2;
  }
  json_decref(h);
  free(raw);
  printf("hostile safetensors: %d cases probed\n", n_cases);
}

/* ---- 3. llama2.c headers ---------------------------------------------------------------*/

/* llama2.c headers with INT32_MAX, INT32_MIN and overflowing products, in a
 * file of 28 bytes (or a few KiB): LC_ERR_FORMAT naming the field, never a
 * read past the file.  A consistent header whose file is larger than 4 GiB
 * (sparse) and holds 2^29 positions is refused by the position limit before
 * its RoPE table is built. */
static void test_hostile_llama2c(void **state) {
  (void)state;
  char path[512], msg[1024];
  path_in(path, sizeof path, g_dir, "hostile.bin");
  g_format = LC_FORMAT_LLAMA2C; /* AUTO refuses sizes past 2^24 as not llama2.c */
  const int32_t ok[7] = {16, 24, 2, 4, 2, 40, 8};
  static const char *const names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                       "n_kv_heads", "vocab_size", "seq_len"};
  int n_cases = 0;
  const int32_t values[] = {INT32_MAX, INT32_MIN, INT32_MAX - 1, INT32_MIN + 1, 0, -1};
  for (int f = 0; f < 7; f++) {
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
      int32_t h[7];
      memcpy(h, ok, sizeof h);
      h[f] = values[v];
      unsigned char file[28 + 4096];
      memset(file, 0, sizeof file);
      memcpy(file, h, 28);
      lct_write_file(path, file, sizeof file);
      char what[96];
      snprintf(what, sizeof what, "llama2.c %s = %d", names[f], (int)values[v]);
      lc_status st = try_load(path, 0, msg, sizeof msg, NULL);
      /* every such header is inconsistent with a 4 KiB file, or invalid */
      check_case(what, st, LC_ERR_FORMAT, msg, "hostile.bin");
      n_cases++;
    }
  }
  /* products that overflow int64 (elements or bytes) */
  const int32_t overflow[][7] = {
      {1 << 30, 1 << 30, 1 << 30, 1 << 10, 1 << 10, 40, 8},
      {INT32_MAX - 1, INT32_MAX, INT32_MAX, 1, 1, INT32_MAX, INT32_MAX},
      {INT32_MAX - 1, INT32_MAX, INT32_MAX, 1, 1, -INT32_MAX, INT32_MAX},
      {1 << 30, 1 << 30, INT32_MAX, 1 << 29, 1 << 29, INT32_MAX, 8},
      {1 << 30, 16, 1, 1 << 29, 1 << 29, -INT32_MAX, INT32_MAX},
  };
  for (size_t i = 0; i < sizeof overflow / sizeof overflow[0]; i++) {
    lct_write_file(path, overflow[i], 28);
    char what[64];
    snprintf(what, sizeof what, "llama2.c overflowing header %zu", i);
    check_case(what, try_load(path, 0, msg, sizeof msg, NULL), LC_ERR_FORMAT, msg, "too large");
    n_cases++;
  }
  /* header of a 4 GiB + file: dim 2, 1 head of 2, 2^29 positions; the RoPE
   * rows alone are 2^29 * 2 floats */
  {
    const int32_t h[7] = {2, 2, 1, 1, 1, 4, 1 << 29};
    const int64_t floats = 4 * 2 + 1 * (2 + 4 + 4 + 4 + 4 + 2 + 3 * 4) + 2 + (int64_t)h[6] * 2;
    lct_write_file(path, h, 28);
    set_size(path, 28 + (uint64_t)floats * 4);
    check_case("llama2.c 4 GiB file of 2^29 positions", try_load(path, 0, msg, sizeof msg, NULL),
               LC_ERR_OVERFLOW, msg, "max_seq_len");
    /* one float short: the size check comes first */
    set_size(path, 28 + (uint64_t)floats * 4 - 4);
    check_case("llama2.c 4 GiB file one float short", try_load(path, 0, msg, sizeof msg, NULL),
               LC_ERR_FORMAT, msg, "truncated");
    n_cases += 2;
  }
  printf("hostile llama2.c: %d cases probed\n", n_cases);
}

/* ---- 4. sessions, generation, scoring, prompts, sweeps --------------------------------*/

typedef struct tiny {
  lc_context *ctx;
  lc_model *m;
  lc_session *s;
} tiny;

static tiny tiny_open(void) {
  char dir[512];
  path_in(dir, sizeof dir, g_dir, "tiny");
  lct_synth_tiny(dir, 3, LC_DTYPE_BF16, 1, 64);
  tiny t = {lct_cpu(LC_MODE_STRICT), NULL, NULL};
  lc_status st = lc_model_load(t.ctx, dir, NULL, &t.m);
  if (st != LC_OK) fail_msg("load: %s", lc_last_error(NULL));
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.n_slots = 2;
  st = lc_session_create(t.m, &sp, &t.s);
  if (st != LC_OK) fail_msg("session: %s", lc_last_error(NULL));
  return t;
}

static void tiny_close(tiny *t) {
  lc_session_free(t->s);
  lc_model_free(t->m);
  lc_context_free(t->ctx);
}

/* Session sizes at INT32_MAX and KV caches whose bytes overflow: refused
 * (LC_ERR_SHAPE, LC_ERR_OVERFLOW) before the cache is allocated; a cache the
 * caller asked for that is simply too large for memory is
 * LC_ERR_OUT_OF_MEMORY (the hook refuses it here). */
static void test_hostile_session(void **state) {
  (void)state;
  tiny t = tiny_open();
  int n_cases = 0;
  const struct {
    int32_t n_slots, max_len, max_tokens;
    lc_status want;
    const char *needle;
    int big_ok; /* the caller asked for that much: a refused allocation is the answer */
  } cases[] = {
      {INT32_MAX, 0, 0, LC_ERR_OVERFLOW, "2^40", 0}, /* 2^31 slots x 64 x 16 x 4 = 2^43 */
      {INT32_MAX, 64, INT32_MAX, LC_ERR_OVERFLOW, "2^40", 0},
      {1 << 29, 64, 0, LC_ERR_OVERFLOW, "2^40", 0},
      /* 2^39 bytes per buffer, 2^41 over 2 layers of K and V */
      {1 << 27, 64, 0, LC_ERR_OVERFLOW, "more than 2^40 bytes in all", 0},
      {INT32_MIN, 0, 0, LC_ERR_SHAPE, "n_slots", 0},
      {-1, 0, 0, LC_ERR_SHAPE, "n_slots", 0},
      {1, INT32_MAX, 0, LC_ERR_SHAPE, "max_len = 2147483647", 0},
      {1, 65, 0, LC_ERR_SHAPE, "max_len = 65", 0},
      {1, INT32_MIN, 0, LC_ERR_SHAPE, "max_len", 0},
      {1, 0, INT32_MAX, LC_ERR_OVERFLOW, "2147483647 x 32 elements", 0},
      {1, 0, INT32_MIN, LC_ERR_SHAPE, "max_tokens", 0},
      {1, 0, 1 << 26, LC_ERR_OVERFLOW, "more than one op takes", 0}, /* 2^26 x 32 = 2^31 */
      /* representable, and asked for: 2^31-1 slots of 1 position = 128 GiB per layer */
      {INT32_MAX, 1, 1, LC_ERR_OUT_OF_MEMORY, NULL, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    lc_session_params p;
    lc_session_params_default(&p);
    p.n_slots = cases[i].n_slots;
    p.max_len = cases[i].max_len;
    p.max_tokens = cases[i].max_tokens;
    lc_session *s = (lc_session *)0x1;
    lc_status st = lc_session_create(t.m, &p, &s);
    assert_null(s);
    char what[128];
    snprintf(what, sizeof what, "session n_slots %d max_len %d max_tokens %d", (int)p.n_slots,
             (int)p.max_len, (int)p.max_tokens);
    if (cases[i].big_ok) memset(&g_big, 0, sizeof g_big);
    check_case(what, st, cases[i].want, lc_last_error(NULL), cases[i].needle);
    n_cases++;
  }
  tiny_close(&t);
  printf("hostile session: %d cases probed\n", n_cases);
}

/* lc_generate, lc_loglik and lc_perplexity with counts at the boundary:
 * lengths are checked against the session before the prompt is read (a
 * 4-token buffer with a length of 2^31-1 is safe), and a join step of
 * 2^31-1 is skipped to, not stepped through. */
static void test_hostile_generation(void **state) {
  (void)state;
  tiny t = tiny_open();
  int n_cases = 0;
  int32_t prompt[4] = {1, 2, 3, 4}, out[8];
  lc_gen_params gp = {{0}, 0};
  lc_sampler_params_default(&gp.sampler);
  const struct {
    int32_t prompt_len, max_new, join_step, prefill_chunk;
    lc_status want;
    const char *needle;
  } gens[] = {
      {4, INT32_MAX, 0, 0, LC_ERR_SHAPE, "max_new_tokens 2147483647"},
      {INT32_MAX, 1, 0, 0, LC_ERR_SHAPE, "prompt_len 2147483647"},
      {INT32_MAX, INT32_MAX, 0, 0, LC_ERR_SHAPE, "4294967294 positions"},
      {INT32_MIN, 1, 0, 0, LC_ERR_INVALID_ARGUMENT, "prompt_len"},
      {4, INT32_MIN, 0, 0, LC_ERR_INVALID_ARGUMENT, "max_new_tokens"},
      {4, 1, INT32_MIN, 0, LC_ERR_INVALID_ARGUMENT, "join_step"},
      {4, 1, 0, INT32_MIN, LC_ERR_INVALID_ARGUMENT, "prefill_chunk"},
      {4, 2, INT32_MAX, 0, LC_OK, NULL},
      {4, 8, 0, INT32_MAX, LC_OK, NULL},
  };
  for (size_t i = 0; i < sizeof gens / sizeof gens[0]; i++) {
    lc_gen_sequence q;
    memset(&q, 0, sizeof q);
    q.prompt = prompt;
    q.prompt_len = gens[i].prompt_len;
    q.max_new_tokens = gens[i].max_new;
    q.join_step = gens[i].join_step;
    q.tokens = out;
    q.n_generated = -7;
    gp.prefill_chunk = gens[i].prefill_chunk;
    double t0 = lct_now_s();
    lc_status st = lc_generate(t.s, &q, 1, &gp);
    char what[160];
    snprintf(what, sizeof what, "lc_generate prompt_len %d max_new %d join %d chunk %d",
             (int)q.prompt_len, (int)q.max_new_tokens, (int)q.join_step, (int)gp.prefill_chunk);
    check_case(what, st, gens[i].want, lc_last_error(NULL), gens[i].needle);
    assert_true(lct_now_s() - t0 < 5.0);
    if (st == LC_OK)
      assert_int_equal(q.n_generated, gens[i].max_new);
    else
      assert_int_equal(q.n_generated, -7);
    n_cases++;
  }
  gp.prefill_chunk = 0;
  const int64_t bad_n[] = {-1, INT64_MIN};
  for (size_t i = 0; i < 2; i++) {
    lc_gen_sequence q;
    memset(&q, 0, sizeof q);
    check_case("lc_generate n_seqs < 0", lc_generate(t.s, &q, bad_n[i], &gp),
               LC_ERR_INVALID_ARGUMENT, lc_last_error(NULL), "n_seqs");
    n_cases++;
  }
  /* log-likelihoods: the counts' sum is taken in int64 before any read */
  const struct {
    int32_t n_ctx, n_cont;
    lc_status want;
    const char *needle;
  } lls[] = {
      {INT32_MAX, INT32_MAX, LC_ERR_SHAPE, "4294967294 positions"},
      {INT32_MAX, 1, LC_ERR_SHAPE, "n_context 2147483647"},
      {1, INT32_MAX, LC_ERR_SHAPE, "n_cont 2147483647"},
      {INT32_MIN, 1, LC_ERR_INVALID_ARGUMENT, "n_context"},
      {1, INT32_MIN, LC_ERR_INVALID_ARGUMENT, "n_cont"},
      {2, 2, LC_OK, NULL},
  };
  for (size_t i = 0; i < sizeof lls / sizeof lls[0]; i++) {
    double sum = 0;
    lc_status st =
        lc_loglik(t.s, prompt, lls[i].n_ctx, prompt + 2, lls[i].n_cont, NULL, NULL, &sum, NULL);
    char what[96];
    snprintf(what, sizeof what, "lc_loglik n_context %d n_cont %d", (int)lls[i].n_ctx,
             (int)lls[i].n_cont);
    check_case(what, st, lls[i].want, lc_last_error(NULL), lls[i].needle);
    n_cases++;
  }
  /* perplexity: n is int64 and read in full, so only n below 2 is probed
   * with a huge magnitude; window and stride are checked before reading */
  const struct {
    int64_t n;
    int32_t window, stride;
    lc_status want;
    const char *needle;
  } pps[] = {
      {INT64_MIN, 0, 0, LC_ERR_INVALID_ARGUMENT, "n = -9223372036854775808"},
      {4, INT32_MAX, 0, LC_ERR_SHAPE, "window = 2147483647"},
      {4, INT32_MIN, 0, LC_ERR_INVALID_ARGUMENT, "window"},
      {4, 0, INT32_MAX, LC_ERR_INVALID_ARGUMENT, "stride = 2147483647"},
      {4, 0, INT32_MIN, LC_ERR_INVALID_ARGUMENT, "stride"},
      {4, 64, 63, LC_OK, NULL},
  };
  for (size_t i = 0; i < sizeof pps / sizeof pps[0]; i++) {
    lc_perplexity_result r;
    lc_status st = lc_perplexity(t.s, prompt, pps[i].n, pps[i].window, pps[i].stride, &r);
    char what[128];
    snprintf(what, sizeof what, "lc_perplexity n %lld window %d stride %d", (long long)pps[i].n,
             (int)pps[i].window, (int)pps[i].stride);
    check_case(what, st, pps[i].want, lc_last_error(NULL), pps[i].needle);
    n_cases++;
  }
  tiny_close(&t);
  printf("hostile generation: %d cases probed\n", n_cases);
}

/* Prompt lists, target batches and sweep grids at the boundary: refused
 * before the batch or the grid is allocated. */
static void test_hostile_experiment(void **state) {
  (void)state;
  tiny t = tiny_open();
  int n_cases = 0;
  /* random prompt lists */
  const struct {
    int32_t n, min_len, max_len, vocab, start;
    lc_status want;
  } rnd[] = {
      {INT32_MAX, 1, INT32_MAX, 64, 0, LC_ERR_INVALID_ARGUMENT},
      {1, 1, (1 << 24) + 1, 64, 0, LC_ERR_INVALID_ARGUMENT},
      {-1, 1, 4, 64, 0, LC_ERR_INVALID_ARGUMENT},
      {INT32_MIN, 1, 4, 64, 0, LC_ERR_INVALID_ARGUMENT},
      {1, INT32_MIN, 4, 64, 0, LC_ERR_INVALID_ARGUMENT},
      {1, 1, 4, INT32_MIN, 0, LC_ERR_INVALID_ARGUMENT},
      {2, 1, 4, INT32_MAX, 0, LC_OK},
      /* a list of 1 prompt cannot take 2^31-1 more: its count is int32 */
      {INT32_MAX, 1, 1, 64, 1, LC_ERR_OVERFLOW},
  };
  for (size_t i = 0; i < sizeof rnd / sizeof rnd[0]; i++) {
    lc_prompt_list ps = {NULL, 0};
    if (rnd[i].start)
      assert_int_equal(lc_prompt_list_random(&ps, 1, rnd[i].start, 1, 4, 64), LC_OK);
    double t0 = lct_now_s();
    lc_status st =
        lc_prompt_list_random(&ps, 5, rnd[i].n, rnd[i].min_len, rnd[i].max_len, rnd[i].vocab);
    char what[128];
    snprintf(what, sizeof what, "lc_prompt_list_random n %d len %d..%d vocab %d on %d", rnd[i].n,
             rnd[i].min_len, rnd[i].max_len, rnd[i].vocab, rnd[i].start);
    check_case(what, st, rnd[i].want, lc_last_error(NULL), "lc_prompt_list_random");
    assert_true(lct_now_s() - t0 < 5.0);
    assert_int_equal(ps.n, rnd[i].start + (st == LC_OK ? rnd[i].n : 0));
    for (int32_t p = 0; st == LC_OK && p < ps.n; p++)
      for (int32_t k = 0; k < ps.v[p].n_tokens; k++) assert_true(ps.v[p].tokens[k] >= 0);
    lc_prompt_list_free(&ps);
    n_cases++;
  }
  /* session parameters for a target batch */
  lc_session_params sp;
  const struct {
    int32_t batch, max_prompt, max_new, chunk;
    lc_status want;
  } tsp[] = {
      {INT32_MAX, INT32_MAX, INT32_MAX, 0, LC_ERR_OVERFLOW},
      {1, INT32_MAX, 1, 0, LC_ERR_OVERFLOW},
      {1, 1, INT32_MAX, 0, LC_ERR_OVERFLOW},
      {INT32_MAX, 2, 0, 0, LC_ERR_OVERFLOW},
      {INT32_MAX, 1, 0, 0, LC_OK},
      {INT32_MIN, 1, 0, 0, LC_ERR_INVALID_ARGUMENT},
  };
  for (size_t i = 0; i < sizeof tsp / sizeof tsp[0]; i++) {
    lc_status st = lc_target_session_params(tsp[i].batch, tsp[i].max_prompt, tsp[i].max_new,
                                            tsp[i].chunk, LC_DTYPE_F32, &sp);
    char what[128];
    snprintf(what, sizeof what, "lc_target_session_params %d %d %d", tsp[i].batch,
             tsp[i].max_prompt, tsp[i].max_new);
    check_case(what, st, tsp[i].want, lc_last_error(NULL), "lc_target_session_params");
    n_cases++;
  }
  /* a target batch larger than the session (2 slots, 64 positions) */
  lc_prompt tgt = {(int32_t[]){1, 2, 3}, 3, NULL, 0, NULL, NULL};
  int32_t toks[4];
  const struct {
    int32_t batch, position, max_new;
    lc_status want;
    const char *needle;
  } tgs[] = {
      {INT32_MAX, 0, 1, LC_ERR_SHAPE, "cache slots"},
      {INT32_MAX, INT32_MAX - 1, 1, LC_ERR_SHAPE, "batch"},
      {1, 0, INT32_MAX, LC_ERR_SHAPE, "max_new"},
      {INT32_MAX, 0, INT32_MAX, LC_ERR_SHAPE, "cache slots"},
      {1, INT32_MAX, 1, LC_ERR_INVALID_ARGUMENT, "position"},
      {2, 1, 4, LC_OK, NULL},
  };
  for (size_t i = 0; i < sizeof tgs / sizeof tgs[0]; i++) {
    lc_target_params tp;
    memset(&tp, 0, sizeof tp);
    tp.target = &tgt;
    tp.batch = tgs[i].batch;
    tp.position = tgs[i].position;
    tp.max_new = tgs[i].max_new;
    tp.neighbour_seed = 1;
    lc_sampler_params_default(&tp.gen.sampler);
    int32_t n_out = -1;
    lc_status st = lc_generate_target(t.s, &tp, toks, NULL, &n_out);
    char what[128];
    snprintf(what, sizeof what, "lc_generate_target batch %d position %d max_new %d", tp.batch,
             tp.position, tp.max_new);
    check_case(what, st, tgs[i].want, lc_last_error(NULL), tgs[i].needle);
    n_cases++;
  }
  /* positions: labels past int32 and at the top of the batch */
  assert_int_equal(lc_position_resolve("2147483646", INT32_MAX), INT32_MAX - 1);
  assert_int_equal(lc_position_resolve("2147483647", INT32_MAX), -1);
  assert_int_equal(lc_position_resolve("4294967296", INT32_MAX), -1);
  assert_int_equal(lc_position_resolve("99999999999999999999", INT32_MAX), -1);
  assert_int_equal(lc_position_resolve("last", INT32_MAX), INT32_MAX - 1);
  assert_int_equal(lc_position_resolve("middle", INT32_MAX), INT32_MAX / 2);
  assert_int_equal(lc_neighbour_max_len(INT32_MAX), 1 << 20);
  n_cases += 7;
  /* sweep grids: batch sizes and grid sizes past int32 */
  char dir[512];
  path_in(dir, sizeof dir, g_dir, "tiny");
  lc_prompt_list ps = {NULL, 0};
  assert_int_equal(lc_prompt_list_random(&ps, 1, 2, 1, 4, 64), LC_OK);
  const int32_t big_batches[] = {INT32_MAX}, neg_batches[] = {INT32_MIN}, one[] = {1},
                two[] = {1, 2};
  const char *const pos1[] = {"first"};
  const struct {
    const int32_t *batches;
    int32_t n_batches, repeats;
    lc_status want;
    const char *needle;
  } sws[] = {
      {big_batches, 1, 1, LC_ERR_INVALID_ARGUMENT, "batch size 2147483647"},
      {neg_batches, 1, 1, LC_ERR_INVALID_ARGUMENT, "batch size -2147483648"},
      {one, 1, INT32_MIN, LC_ERR_INVALID_ARGUMENT, "repeats"},
      /* 2 batch sizes x 2^31-1 repeats: more runs than a group counts (int32) */
      {two, 2, INT32_MAX, LC_ERR_OVERFLOW, "runs"},
  };
  for (size_t i = 0; i < sizeof sws / sizeof sws[0]; i++) {
    lc_sweep_params p;
    lc_sweep_params_default(&p);
    const lc_backend cpu[] = {LC_BACKEND_CPU};
    const lc_mode strict[] = {LC_MODE_STRICT};
    p.model = dir;
    p.backends = cpu;
    p.n_backends = 1;
    p.modes = strict;
    p.n_modes = 1;
    p.batch_sizes = sws[i].batches;
    p.n_batch_sizes = sws[i].n_batches;
    p.positions = pos1;
    p.n_positions = 1;
    p.repeats = sws[i].repeats;
    p.prompts = &ps;
    p.max_new = 1;
    lc_sweep_result *res = (lc_sweep_result *)0x1;
    lc_status st = lc_sweep_run(&p, &res);
    char what[96];
    snprintf(what, sizeof what, "lc_sweep_run batch %d repeats %d", (int)sws[i].batches[0],
             (int)sws[i].repeats);
    check_case(what, st, sws[i].want, lc_last_error(NULL), sws[i].needle);
    assert_null(res);
    n_cases++;
  }
  lc_prompt_list_free(&ps);
  tiny_close(&t);
  printf("hostile experiment: %d cases probed\n", n_cases);
}

/* ---- 5. tokenizer counts ---------------------------------------------------------------*/

/* The tokenizer's counts: encode refuses more than 2^31-1 bytes before it
 * reads the text; decode refuses negative counts; ids at INT32_MAX and
 * INT32_MIN are out of range everywhere.  (decode takes any n >= 0 and
 * reads ids[0..n), so no huge positive n is passed.)  A tokenizer.json whose
 * one piece has id 2^31-3 (a 2^31-entry table from a tiny file) is
 * refused before the table is allocated. */
static void test_hostile_tokenizer(void **state) {
  (void)state;
  assert_int_equal(lc_tokenizer_write_bytes(g_dir), LC_OK);
  lc_tokenizer *tk = NULL;
  if (lc_tokenizer_load(g_dir, &tk) != LC_OK) fail_msg("load: %s", lc_last_error(NULL));
  int n_cases = 0;
  const char text[] = "abcd";
  const size_t lens[] = {(size_t)INT32_MAX + 1, (size_t)UINT32_MAX + 1, SIZE_MAX};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    int32_t *ids = (int32_t *)0x1, n = -1;
    lc_status st = lc_tokenizer_encode(tk, text, lens[i], 0, &ids, &n);
    char what[64];
    snprintf(what, sizeof what, "lc_tokenizer_encode len %zu", lens[i]);
    check_case(what, st, LC_ERR_INVALID_ARGUMENT, lc_last_error(NULL), "2 GiB");
    assert_null(ids);
    assert_int_equal(n, 0);
    n_cases++;
  }
  const int64_t neg[] = {-1, INT64_MIN};
  for (size_t i = 0; i < 2; i++) {
    char *out = (char *)0x1;
    int32_t ids[1] = {65};
    check_case("lc_tokenizer_decode n < 0", lc_tokenizer_decode(tk, ids, neg[i], 0, &out, NULL),
               LC_ERR_INVALID_ARGUMENT, lc_last_error(NULL), "negative count");
    assert_null(out);
    n_cases++;
  }
  const int32_t bad_ids[] = {INT32_MAX, INT32_MIN, -1, 259};
  for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
    int32_t ids[3] = {65, bad_ids[i], 66};
    char *out = NULL;
    char what[64];
    snprintf(what, sizeof what, "id %d", (int)bad_ids[i]);
    check_case(what, lc_tokenizer_decode(tk, ids, 3, 0, &out, NULL), LC_ERR_OUT_OF_RANGE,
               lc_last_error(NULL), "vocabulary");
    const char *piece = NULL;
    size_t plen = 0;
    check_case(what, lc_tokenizer_piece(tk, bad_ids[i], &piece, &plen), LC_ERR_OUT_OF_RANGE,
               lc_last_error(NULL), "vocabulary");
    lc_detokenizer *d = NULL;
    assert_int_equal(lc_detokenizer_create(tk, 0, &d), LC_OK);
    const char *dt = NULL;
    size_t dl = 0;
    check_case(what, lc_detokenizer_push(d, bad_ids[i], &dt, &dl), LC_ERR_OUT_OF_RANGE,
               lc_last_error(NULL), "vocabulary");
    lc_detokenizer_free(d);
    n_cases += 3;
  }
  lc_tokenizer_free(tk);
  /* a sparse vocabulary: the largest id it allows, in a 100-byte file */
  char tdir[512], tpath[600];
  path_in(tdir, sizeof tdir, g_dir, "sparse");
  assert_int_equal(mkdir(tdir, 0700), 0);
  path_in(tpath, sizeof tpath, tdir, "tokenizer.json");
  const char *ids_[] = {"2147483644", "2147483645", "1073741824"};
  for (size_t i = 0; i < sizeof ids_ / sizeof ids_[0]; i++) {
    char js[256];
    snprintf(js, sizeof js,
             "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": %s}, \"merges\": []}}",
             ids_[i]);
    lct_write_file(tpath, js, strlen(js));
    lc_tokenizer *sp = (lc_tokenizer *)0x1;
    lc_status st = lc_tokenizer_load(tdir, &sp);
    char what[96];
    snprintf(what, sizeof what, "tokenizer.json with id %s", ids_[i]);
    check_case(what, st, LC_ERR_FORMAT, lc_last_error(NULL), "model.vocab");
    assert_null(sp);
    n_cases++;
  }
  printf("hostile tokenizer: %d cases probed\n", n_cases);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_hostile_hf_config, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_safetensors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_llama2c, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_session, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_generation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_experiment, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_tokenizer, setup, teardown),
  };
  return LCT_RUN(tests);
}
