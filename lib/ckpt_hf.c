/*
 * lib/ckpt_hf.c — Hugging Face checkpoints: config.json (jansson) and
 * safetensors, one file (model.safetensors) or shards listed by
 * model.safetensors.index.json ({"weight_map": {tensor: shard file}}).
 *
 * safetensors: u64 little-endian N, then N bytes of JSON
 *   {name: {"dtype": "BF16", "shape": [rows, cols], "data_offsets": [b, e]},
 *    "__metadata__": {...}}
 * then the data; b and e count from the data start (8 + N).  Every file is
 * mapped once, read-only; tensors point into the maps (or into an aligned
 * copy when b is not a multiple of the element size).
 *
 * Validation (docs/models.md): header length within the file and < 100 MiB,
 * a JSON object, dtype F32/BF16/F16 for the tensors the model needs (other
 * safetensors dtypes are only allowed on tensors it ignores), shapes of 1 or
 * 2 positive dimensions, e - b == numel * element size (checked products),
 * within the file, no two tensors overlapping; then every required tensor
 * with its shape (lib/ckpt_common.c, lc_ckpt_check_required).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "lib/ckpt_internal.h"

#define LC_ST_MAX_HEADER ((uint64_t)100 << 20) /* 100 MiB */
#define LC_PATH_LEN 4096

/* ---- small helpers ----------------------------------------------------------*/

static const char *json_kind(const json_t *v) {
  if (!v) return "nothing";
  switch (json_typeof(v)) {
    case JSON_OBJECT:
      return "an object";
    case JSON_ARRAY:
      return "an array";
    case JSON_STRING:
      return "a string";
    case JSON_INTEGER:
      return "an integer";
    case JSON_REAL:
      return "a real number";
    case JSON_TRUE:
      return "true";
    case JSON_FALSE:
      return "false";
    case JSON_NULL:
      return "null";
  }
  return "an unknown value";
}

static lc_status join_path(char *out, const char *dir, const char *name, lc_ckpt_err *e) {
  int n = snprintf(out, LC_PATH_LEN, "%s/%s", dir, name);
  if (n < 0 || n >= LC_PATH_LEN)
    return lc_ckpt_fail(e, LC_ERR_INVALID_ARGUMENT, "%s/%s: path longer than %d bytes", dir, name,
                        LC_PATH_LEN - 1);
  return LC_OK;
}

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* ---- config.json ------------------------------------------------------------*/

typedef struct cfg_reader {
  const char *file; /* for messages */
  json_t *root;
  lc_ckpt_err *e;
} cfg_reader;

/* An integer key in [lo, hi].  Absent or null: *out = def when !required. */
static lc_status cfg_int(cfg_reader *r, const char *key, int required, int64_t def, int64_t lo,
                         int64_t hi, int64_t *out) {
  json_t *v = json_object_get(r->root, key);
  if (!v || json_is_null(v)) {
    if (required)
      return lc_ckpt_fail(r->e, LC_ERR_FORMAT, "%s: required key \"%s\" is %s", r->file, key,
                          v ? "null" : "missing");
    *out = def;
    return LC_OK;
  }
  if (!json_is_integer(v))
    return lc_ckpt_fail(r->e, LC_ERR_FORMAT, "%s: key \"%s\" must be an integer; found %s", r->file,
                        key, json_kind(v));
  int64_t x = (int64_t)json_integer_value(v);
  if (x < lo || x > hi)
    return lc_ckpt_fail(r->e, LC_ERR_FORMAT, "%s: key \"%s\" must be in [%lld, %lld]; found %lld",
                        r->file, key, (long long)lo, (long long)hi, (long long)x);
  *out = x;
  return LC_OK;
}

/* A number (integer or real) key, finite and > 0. */
static lc_status cfg_num(cfg_reader *r, json_t *obj, const char *key, int required, double def,
                         double *out) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) {
    if (required)
      return lc_ckpt_fail(r->e, LC_ERR_FORMAT, "%s: required key \"%s\" is %s", r->file, key,
                          v ? "null" : "missing");
    *out = def;
    return LC_OK;
  }
  if (!json_is_number(v))
    return lc_ckpt_fail(r->e, LC_ERR_FORMAT, "%s: key \"%s\" must be a number; found %s", r->file,
                        key, json_kind(v));
  double x = json_number_value(v);
  if (!isfinite(x) || !(x > 0))
    return lc_ckpt_fail(r->e, LC_ERR_FORMAT, "%s: key \"%s\" must be a positive number; found %g",
                        r->file, key, x);
  *out = x;
  return LC_OK;
}

/* A boolean key; absent or null: def. */
static lc_status cfg_bool(cfg_reader *r, const char *key, int def, int *out) {
  json_t *v = json_object_get(r->root, key);
  if (!v || json_is_null(v)) {
    *out = def;
    return LC_OK;
  }
  if (!json_is_boolean(v))
    return lc_ckpt_fail(r->e, LC_ERR_FORMAT, "%s: key \"%s\" must be true or false; found %s",
                        r->file, key, json_kind(v));
  *out = json_is_true(v);
  return LC_OK;
}

/* bos_token_id / eos_token_id: an integer, a list (its first integer), or
 * null / absent (-1). */
static lc_status cfg_token(cfg_reader *r, const char *key, int32_t *out) {
  json_t *v = json_object_get(r->root, key);
  *out = -1;
  if (!v || json_is_null(v)) return LC_OK;
  json_t *x = v;
  if (json_is_array(v)) {
    if (json_array_size(v) == 0) return LC_OK;
    x = json_array_get(v, 0);
  }
  if (!json_is_integer(x))
    return lc_ckpt_fail(r->e, LC_ERR_FORMAT,
                        "%s: key \"%s\" must be an integer, a list of integers or null; found %s",
                        r->file, key, json_kind(x));
  json_int_t t = json_integer_value(x);
  if (t < -1 || t > INT32_MAX)
    return lc_ckpt_fail(r->e, LC_ERR_FORMAT, "%s: key \"%s\" = %lld is not a token id", r->file,
                        key, (long long)t);
  *out = (int32_t)t;
  return LC_OK;
}

/* The scaling object rs (rope_scaling, or transformers 5's rope_parameters:
 * `key` names it in messages): {"rope_type"|"type": "default"|"linear"|
 * "llama3", ...}.  inv_freq as transformers' _compute_*_parameters, in
 * double, from g->rope_theta. */
static lc_status cfg_rope_scaling(cfg_reader *r, lc_checkpoint *c, json_t *rs, const char *key) {
  json_t *t = json_object_get(rs, "rope_type");
  if (!t || json_is_null(t)) t = json_object_get(rs, "type");
  if (!json_is_string(t))
    return lc_ckpt_fail(r->e, LC_ERR_FORMAT,
                        "%s: %s needs a string \"rope_type\" (or \"type\"); found %s", r->file, key,
                        json_kind(t));
  const char *type = json_string_value(t);
  if (strcmp(type, "default") == 0) return LC_OK;
  int linear = strcmp(type, "linear") == 0, llama3 = strcmp(type, "llama3") == 0;
  if (!linear && !llama3)
    return lc_ckpt_fail(r->e, LC_ERR_UNSUPPORTED,
                        "%s: %s type \"%s\" is not supported (layercast implements \"default\", "
                        "\"linear\" and \"llama3\")",
                        r->file, key, type);
  const lc_model_config *g = &c->config;
  double factor, low = 0, high = 0, orig = 0;
  LC_TRY(cfg_num(r, rs, "factor", 1, 0, &factor));
  if (llama3) {
    LC_TRY(cfg_num(r, rs, "low_freq_factor", 1, 0, &low));
    LC_TRY(cfg_num(r, rs, "high_freq_factor", 1, 0, &high));
    LC_TRY(cfg_num(r, rs, "original_max_position_embeddings", 1, 0, &orig));
    if (!(high > low))
      return lc_ckpt_fail(r->e, LC_ERR_FORMAT,
                          "%s: rope_scaling llama3: high_freq_factor (%g) must exceed "
                          "low_freq_factor (%g)",
                          r->file, high, low);
  }
  int64_t half = g->head_dim / 2;
  double *f = lc_malloc((size_t)half * sizeof *f);
  if (!f) return lc_ckpt_fail(r->e, LC_ERR_OUT_OF_MEMORY, "out of memory");
  const double two_pi = 6.283185307179586476925286766559;
  for (int64_t i = 0; i < half; i++) {
    double base = 1.0 / pow(g->rope_theta, (double)(2 * i) / (double)g->head_dim);
    if (linear) {
      f[i] = base / factor;
      continue;
    }
    double low_wavelen = orig / low, high_wavelen = orig / high;
    double wavelen = two_pi / base;
    double v = wavelen > low_wavelen ? base / factor : base;
    if (!(wavelen < high_wavelen) && !(wavelen > low_wavelen)) {
      double smooth = (orig / wavelen - low) / (high - low);
      v = (1.0 - smooth) * v / factor + smooth * v;
    }
    f[i] = v;
  }
  c->inv_freq = f;
  return LC_OK;
}

/* An optional object key: *out = NULL when absent or null. */
static lc_status cfg_object(cfg_reader *r, const char *key, json_t **out) {
  json_t *v = json_object_get(r->root, key);
  *out = NULL;
  if (!v || json_is_null(v)) return LC_OK;
  if (!json_is_object(v))
    return lc_ckpt_fail(r->e, LC_ERR_FORMAT, "%s: key \"%s\" must be an object or null; found %s",
                        r->file, key, json_kind(v));
  *out = v;
  return LC_OK;
}

/* partial_rotary_factor in obj: absent, null or 1 (RoPE over the whole
 * head); transformers rotates only that fraction of each head otherwise. */
static lc_status cfg_full_rotary(cfg_reader *r, json_t *obj, const char *where) {
  json_t *v = obj ? json_object_get(obj, "partial_rotary_factor") : NULL;
  if (!v || json_is_null(v)) return LC_OK;
  if (!json_is_number(v))
    return lc_ckpt_fail(r->e, LC_ERR_FORMAT,
                        "%s: key %s\"partial_rotary_factor\" must be a "
                        "number; found %s",
                        r->file, where, json_kind(v));
  if (json_number_value(v) == 1.0) return LC_OK;
  return lc_ckpt_fail(r->e, LC_ERR_UNSUPPORTED,
                      "%s: %spartial_rotary_factor = %g is not supported: layercast applies RoPE "
                      "to the whole head (1)",
                      r->file, where, json_number_value(v));
}

/* RoPE from rope_theta + rope_scaling (transformers before 5) or from
 * rope_parameters (transformers 5: {"rope_type", "rope_theta", ...}): sets
 * rope_theta; *scaling (named *key) is the object cfg_rope_scaling reads,
 * or NULL. */
static lc_status cfg_rope(cfg_reader *r, lc_checkpoint *c, json_t **scaling, const char **key) {
  json_t *rs, *rp;
  LC_TRY(cfg_object(r, "rope_scaling", &rs));
  LC_TRY(cfg_object(r, "rope_parameters", &rp));
  if (rs && rp)
    return lc_ckpt_fail(r->e, LC_ERR_FORMAT,
                        "%s: both \"rope_scaling\" and \"rope_parameters\" are given; expected "
                        "one (transformers before 5 writes rope_scaling and rope_theta, "
                        "transformers 5 writes rope_parameters)",
                        r->file);
  double theta;
  LC_TRY(cfg_num(r, r->root, "rope_theta", 0, 10000.0, &theta));
  if (rp && json_object_get(rp, "rope_theta") && !json_is_null(json_object_get(rp, "rope_theta"))) {
    double inner;
    LC_TRY(cfg_num(r, rp, "rope_theta", 1, 0, &inner));
    json_t *outer = json_object_get(r->root, "rope_theta");
    if (outer && !json_is_null(outer) && inner != theta)
      return lc_ckpt_fail(r->e, LC_ERR_FORMAT,
                          "%s: rope_theta %g and rope_parameters.rope_theta %g disagree", r->file,
                          theta, inner);
    theta = inner;
  }
  c->config.rope_theta = theta;
  LC_TRY(cfg_full_rotary(r, r->root, ""));
  LC_TRY(cfg_full_rotary(r, rs, "rope_scaling."));
  LC_TRY(cfg_full_rotary(r, rp, "rope_parameters."));
  *scaling = rs ? rs : rp;
  *key = rs ? "rope_scaling" : "rope_parameters";
  return LC_OK;
}

/* hidden_act / hidden_activation: absent, null, "silu" or "swish" (both
 * SiLU in transformers' ACT2FN). */
static lc_status cfg_activation(cfg_reader *r, const char *key) {
  json_t *v = json_object_get(r->root, key);
  if (!v || json_is_null(v)) return LC_OK;
  if (!json_is_string(v))
    return lc_ckpt_fail(r->e, LC_ERR_FORMAT, "%s: key \"%s\" must be a string; found %s", r->file,
                        key, json_kind(v));
  const char *a = json_string_value(v);
  if (strcmp(a, "silu") == 0 || strcmp(a, "swish") == 0) return LC_OK;
  return lc_ckpt_fail(r->e, LC_ERR_UNSUPPORTED,
                      "%s: %s = \"%s\" is not supported: layercast's MLP is "
                      "down(silu(gate(x)) * up(x)) (\"silu\", or its alias \"swish\")",
                      r->file, key, a);
}

/* A soft-capping key: absent or null (none). */
static lc_status cfg_no_softcap(cfg_reader *r, const char *key) {
  json_t *v = json_object_get(r->root, key);
  if (!v || json_is_null(v)) return LC_OK;
  if (!json_is_number(v))
    return lc_ckpt_fail(r->e, LC_ERR_FORMAT, "%s: key \"%s\" must be a number or null; found %s",
                        r->file, key, json_kind(v));
  return lc_ckpt_fail(r->e, LC_ERR_UNSUPPORTED,
                      "%s: %s = %g is not supported: layercast applies no soft-capping (null)",
                      r->file, key, json_number_value(v));
}

/* Attention over all earlier positions in every layer.  Sliding windows as
 * transformers decides them (Qwen2Config, Qwen3Config): only with
 * use_sliding_window true and sliding_window not null (absent: 4096), in the
 * layers layer_types marks "sliding_attention" or, without layer_types, in
 * layers max_window_layers (absent: 28) and up. */
static lc_status cfg_full_attention(cfg_reader *r, int64_t n_layers) {
  int use = 0;
  int64_t window = 0, max_full = 0;
  LC_TRY(cfg_bool(r, "use_sliding_window", 0, &use));
  json_t *lt = json_object_get(r->root, "layer_types");
  int64_t first_sliding = -1, n_sliding = 0;
  if (lt && !json_is_null(lt)) {
    if (!json_is_array(lt) || (int64_t)json_array_size(lt) != n_layers)
      return lc_ckpt_fail(r->e, LC_ERR_FORMAT,
                          "%s: key \"layer_types\" must be a list of num_hidden_layers (%lld) "
                          "strings; found %s%s",
                          r->file, (long long)n_layers, json_kind(lt),
                          json_is_array(lt) ? " of another length" : "");
    for (size_t i = 0; i < json_array_size(lt); i++) {
      json_t *x = json_array_get(lt, i);
      const char *k = json_is_string(x) ? json_string_value(x) : NULL;
      if (k && strcmp(k, "full_attention") == 0) continue;
      if (k && strcmp(k, "sliding_attention") == 0) {
        if (first_sliding < 0) first_sliding = (int64_t)i;
        n_sliding++;
        continue;
      }
      if (!k)
        return lc_ckpt_fail(r->e, LC_ERR_FORMAT, "%s: layer_types[%zu] must be a string; found %s",
                            r->file, i, json_kind(x));
      return lc_ckpt_fail(r->e, LC_ERR_UNSUPPORTED,
                          "%s: layer_types[%zu] = \"%s\" is not supported (layercast implements "
                          "\"full_attention\")",
                          r->file, i, k);
    }
  }
  if (!use) return LC_OK; /* transformers then sets sliding_window to None */
  json_t *sw = json_object_get(r->root, "sliding_window");
  if (sw && json_is_null(sw)) return LC_OK;
  LC_TRY(cfg_int(r, "sliding_window", 0, 4096, 1, INT64_MAX, &window));
  if (!lt || json_is_null(lt)) {
    LC_TRY(cfg_int(r, "max_window_layers", 0, 28, 0, INT64_MAX, &max_full));
    first_sliding = max_full < n_layers ? max_full : -1;
    n_sliding = max_full < n_layers ? n_layers - max_full : 0;
  }
  if (n_sliding == 0) return LC_OK;
  return lc_ckpt_fail(r->e, LC_ERR_UNSUPPORTED,
                      "%s: use_sliding_window = true with sliding_window = %lld gives %lld of the "
                      "%lld layers (the first: layer %lld) sliding-window attention, which is not "
                      "supported (layercast implements full causal attention: "
                      "use_sliding_window false, or no layer past max_window_layers)",
                      r->file, (long long)window, (long long)n_sliding, (long long)n_layers,
                      (long long)first_sliding);
}

/* The keys that change what the model computes and that layercast does not
 * implement beyond their defaults: refused by name, value and what is
 * supported, instead of being run as something else.  Keys that only
 * describe (architectures, torch_dtype, attention_dropout,
 * initializer_range, use_cache, pretraining_tp, ...) are not read. */
static lc_status cfg_computation(cfg_reader *r, const char *type, lc_arch arch, int64_t n_layers) {
  int attn_bias = 0, mlp_bias = 0;
  LC_TRY(cfg_bool(r, "attention_bias", 0, &attn_bias));
  LC_TRY(cfg_bool(r, "mlp_bias", 0, &mlp_bias));
  /* qwen2's q/k/v biases come with its model_type; transformers' Qwen2
   * ignores attention_bias. */
  if (attn_bias && arch != LC_ARCH_QWEN2)
    return lc_ckpt_fail(r->e, LC_ERR_UNSUPPORTED,
                        "%s: attention_bias = true is not supported for %s: it adds biases to the "
                        "q, k, v and o projections; layercast supports false",
                        r->file, type);
  if (mlp_bias)
    return lc_ckpt_fail(r->e, LC_ERR_UNSUPPORTED,
                        "%s: mlp_bias = true is not supported: it adds biases to the gate, up and "
                        "down projections; layercast supports false",
                        r->file);
  LC_TRY(cfg_activation(r, "hidden_act"));
  LC_TRY(cfg_activation(r, "hidden_activation"));
  LC_TRY(cfg_no_softcap(r, "attn_logit_softcapping"));
  LC_TRY(cfg_no_softcap(r, "final_logit_softcapping"));
  LC_TRY(cfg_full_attention(r, n_layers));
  json_t *q = json_object_get(r->root, "quantization_config");
  if (q && !json_is_null(q)) {
    json_t *m = json_is_object(q) ? json_object_get(q, "quant_method") : NULL;
    return lc_ckpt_fail(r->e, LC_ERR_UNSUPPORTED,
                        "%s: quantization_config (quant_method \"%s\") is not supported: "
                        "layercast reads unquantized F32, BF16 or F16 weights (no "
                        "quantization_config)",
                        r->file, json_is_string(m) ? json_string_value(m) : "?");
  }
  return LC_OK;
}

static lc_status read_config(lc_checkpoint *c, const char *cfg_path, lc_ckpt_err *e) {
  struct stat sb;
  if (stat(cfg_path, &sb) != 0)
    return lc_ckpt_fail_open(e, cfg_path, errno,
                             ": a Hugging Face model folder holds config.json beside "
                             "model.safetensors (or beside model.safetensors.index.json and its "
                             "shards); a llama2.c checkpoint is loaded from its .bin file");
  json_error_t jerr;
  json_t *root = json_load_file(cfg_path, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    if (lc_json_oom(&jerr))
      return lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", cfg_path);
    if (jerr.line < 0) /* jansson could not read the file */
      return lc_ckpt_fail(e, LC_ERR_IO, "%s: %s", cfg_path, jerr.text);
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: invalid JSON at line %d, column %d: %s", cfg_path,
                        jerr.line, jerr.column, jerr.text);
  }
  cfg_reader rd = {cfg_path, root, e}, *r = &rd;
  lc_status st = LC_OK;
  lc_model_config *g = &c->config;
  memset(g, 0, sizeof *g);
#define CFG_TRY(expr)          \
  do {                         \
    st = (expr);               \
    if (st != LC_OK) goto out; \
  } while (0)
  if (!json_is_object(root)) {
    st = lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: expected a JSON object; found %s", cfg_path,
                      json_kind(root));
    goto out;
  }
  json_t *mt = json_object_get(root, "model_type");
  if (!json_is_string(mt)) {
    st = lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: key \"model_type\" must be a string; found %s",
                      cfg_path, json_kind(mt));
    goto out;
  }
  const char *type = json_string_value(mt);
  if (strcmp(type, "llama") == 0) {
    g->arch = LC_ARCH_LLAMA;
  } else if (strcmp(type, "qwen2") == 0) {
    g->arch = LC_ARCH_QWEN2;
    g->qkv_bias = 1;
  } else if (strcmp(type, "qwen3") == 0) {
    g->arch = LC_ARCH_QWEN3;
    g->qk_norm = 1;
  } else {
    st = lc_ckpt_fail(e, LC_ERR_UNSUPPORTED,
                      "%s: model_type \"%s\" is not supported (expected llama, qwen2 or qwen3)",
                      cfg_path, type);
    goto out;
  }
  int64_t dim, hid, nl, nh, nkv, hd, vocab, maxpos;
  CFG_TRY(cfg_int(r, "hidden_size", 1, 0, 1, INT32_MAX, &dim));
  CFG_TRY(cfg_int(r, "intermediate_size", 1, 0, 1, INT32_MAX, &hid));
  CFG_TRY(cfg_int(r, "num_hidden_layers", 1, 0, 1, INT32_MAX, &nl));
  CFG_TRY(cfg_int(r, "num_attention_heads", 1, 0, 1, INT32_MAX, &nh));
  CFG_TRY(cfg_int(r, "num_key_value_heads", 0, nh, 1, INT32_MAX, &nkv));
  CFG_TRY(cfg_int(r, "head_dim", 0, dim / nh, 1, INT32_MAX, &hd));
  CFG_TRY(cfg_int(r, "vocab_size", 1, 0, 1, INT32_MAX, &vocab));
  CFG_TRY(cfg_int(r, "max_position_embeddings", 1, 0, 1, INT32_MAX, &maxpos));
  double eps;
  CFG_TRY(cfg_num(r, root, "rms_norm_eps", 0, 1e-6, &eps));
  int tied;
  CFG_TRY(cfg_bool(r, "tie_word_embeddings", 0, &tied));
  if (nh > dim || dim % nh != 0) {
    if (!json_is_integer(json_object_get(root, "head_dim"))) {
      st = lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: num_attention_heads %lld must divide hidden_size %lld when "
                        "head_dim is not given",
                        cfg_path, (long long)nh, (long long)dim);
      goto out;
    }
  }
  if (nkv > nh || nh % nkv != 0) {
    st = lc_ckpt_fail(e, LC_ERR_FORMAT,
                      "%s: num_key_value_heads %lld must divide num_attention_heads %lld", cfg_path,
                      (long long)nkv, (long long)nh);
    goto out;
  }
  if (hd % 2 != 0) {
    st = lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: head_dim must be even for RoPE; found %lld", cfg_path,
                      (long long)hd);
    goto out;
  }
  if (nh * hd > INT32_MAX) {
    st = lc_ckpt_fail(e, LC_ERR_FORMAT,
                      "%s: num_attention_heads %lld * head_dim %lld overflows int32", cfg_path,
                      (long long)nh, (long long)hd);
    goto out;
  }
  CFG_TRY(cfg_computation(r, type, g->arch, nl));
  g->dim = (int32_t)dim;
  g->hidden_dim = (int32_t)hid;
  g->n_layers = (int32_t)nl;
  g->n_heads = (int32_t)nh;
  g->n_kv_heads = (int32_t)nkv;
  g->head_dim = (int32_t)hd;
  g->vocab_size = (int32_t)vocab;
  g->max_seq_len = (int32_t)maxpos;
  g->norm_eps = (float)eps;
  g->rope_style = LC_ROPE_HALF;
  g->tied_embeddings = tied;
  json_t *scaling = NULL;
  const char *scaling_key = "";
  CFG_TRY(cfg_rope(r, c, &scaling, &scaling_key));
  CFG_TRY(lc_ckpt_check_config(c, cfg_path, e));
  CFG_TRY(cfg_token(r, "bos_token_id", &g->bos_id));
  CFG_TRY(cfg_token(r, "eos_token_id", &g->eos_id));
  if (scaling) CFG_TRY(cfg_rope_scaling(r, c, scaling, scaling_key));
#undef CFG_TRY
out:
  json_decref(root);
  return st;
}

/* ---- safetensors --------------------------------------------------------------*/

/* Element size of a safetensors dtype; 0 if unknown.  *ok: one layercast reads. */
static size_t st_dtype(const char *s, lc_dtype *d, int *ok) {
  static const struct {
    const char *name;
    size_t size;
  } other[] = {{"F64", 8},     {"I64", 8},     {"U64", 8},     {"I32", 4}, {"U32", 4},
               {"I16", 2},     {"U16", 2},     {"I8", 1},      {"U8", 1},  {"BOOL", 1},
               {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"F8_E8M0", 1}, {"C64", 8}};
  *ok = 1;
  if (strcmp(s, "F32") == 0) return *d = LC_DTYPE_F32, 4;
  if (strcmp(s, "BF16") == 0) return *d = LC_DTYPE_BF16, 2;
  if (strcmp(s, "F16") == 0) return *d = LC_DTYPE_F16, 2;
  *ok = 0;
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
    if (strcmp(s, other[i].name) == 0) return other[i].size;
  return 0;
}

typedef struct st_span {
  uint64_t begin, end;
  const char *name; /* borrowed from the JSON */
} st_span;

static int span_cmp(const void *a, const void *b) {
  const st_span *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

/* A tensor skipped because layercast does not read it (dtype or rank). */
typedef struct st_skipped {
  char name[128];
  char why[64];
} st_skipped;

typedef struct hf_state {
  st_skipped *skipped;
  int64_t n_skipped, cap_skipped;
} hf_state;

static lc_status note_skipped(hf_state *s, const char *name, const char *why, lc_ckpt_err *e) {
  if (s->n_skipped == s->cap_skipped) {
    int64_t cap = s->cap_skipped ? 2 * s->cap_skipped : 16;
    st_skipped *q = lc_realloc(s->skipped, (size_t)cap * sizeof *q);
    if (!q) return lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "out of memory");
    s->skipped = q;
    s->cap_skipped = cap;
  }
  snprintf(s->skipped[s->n_skipped].name, sizeof s->skipped[0].name, "%s", name);
  snprintf(s->skipped[s->n_skipped].why, sizeof s->skipped[0].why, "%s", why);
  s->n_skipped++;
  return LC_OK;
}

/* One tensor entry of a header. */
static lc_status st_tensor(lc_checkpoint *c, hf_state *hs, const char *file, const char *name,
                           json_t *v, const unsigned char *data, uint64_t data_len, st_span *span,
                           lc_ckpt_err *e) {
  if (!json_is_object(v))
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: tensor %s: expected an object; found %s", file, name,
                        json_kind(v));
  json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape");
  json_t *jo = json_object_get(v, "data_offsets");
  if (!json_is_string(jd))
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: tensor %s: \"dtype\" must be a string; found %s",
                        file, name, json_kind(jd));
  if (!json_is_array(js))
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: tensor %s: \"shape\" must be an array; found %s",
                        file, name, json_kind(js));
  if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
      !json_is_integer(json_array_get(jo, 1)))
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: tensor %s: \"data_offsets\" must be [begin, end] integers; found %s",
                        file, name, json_kind(jo));
  const char *dts = json_string_value(jd);
  lc_dtype dt = LC_DTYPE_F32;
  int supported;
  size_t es = st_dtype(dts, &dt, &supported);
  if (es == 0)
    return lc_ckpt_fail(e, LC_ERR_UNSUPPORTED,
                        "%s: tensor %s has dtype \"%s\", which layercast does not know "
                        "(it reads F32, BF16 and F16)",
                        file, name, dts);
  size_t rank = json_array_size(js);
  if (rank > 8)
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: tensor %s: rank %zu is not plausible", file, name,
                        rank);
  int64_t dims[8] = {0}, numel = 1;
  for (size_t i = 0; i < rank; i++) {
    json_t *d = json_array_get(js, i);
    if (!json_is_integer(d) || json_integer_value(d) < 0)
      return lc_ckpt_fail(e, LC_ERR_FORMAT,
                          "%s: tensor %s: shape entries must be non-negative integers; found %s",
                          file, name, json_kind(d));
    dims[i] = (int64_t)json_integer_value(d);
    if (__builtin_mul_overflow(numel, dims[i], &numel))
      return lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: tensor %s: element count overflows", file, name);
  }
  int64_t nbytes;
  if (__builtin_mul_overflow(numel, (int64_t)es, &nbytes))
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: tensor %s: byte size overflows", file, name);
  json_int_t b = json_integer_value(json_array_get(jo, 0));
  json_int_t en = json_integer_value(json_array_get(jo, 1));
  if (b < 0 || en < b)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: tensor %s: data_offsets [%lld, %lld] must satisfy 0 <= begin <= end",
                        file, name, (long long)b, (long long)en);
  if ((uint64_t)en > data_len)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: tensor %s: data_offsets [%lld, %lld] run past the data section of "
                        "%llu bytes (truncated file?)",
                        file, name, (long long)b, (long long)en, (unsigned long long)data_len);
  if ((int64_t)(en - b) != nbytes)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: tensor %s: data_offsets [%lld, %lld] hold %lld bytes; dtype %s with "
                        "%lld elements needs %lld",
                        file, name, (long long)b, (long long)en, (long long)(en - b), dts,
                        (long long)numel, (long long)nbytes);
  span->begin = (uint64_t)b;
  span->end = (uint64_t)en;
  span->name = name;
  if (strlen(name) >= sizeof(((lc_tensor_src *)0)->name))
    return note_skipped(hs, name, "name longer than 127 bytes", e);
  if (!supported) {
    char why[64];
    snprintf(why, sizeof why, "dtype %s", dts);
    return note_skipped(hs, name, why, e);
  }
  if (rank < 1 || rank > 2 || numel == 0) {
    char why[64];
    snprintf(why, sizeof why, "rank %zu with %lld elements", rank, (long long)numel);
    return note_skipped(hs, name, why, e);
  }
  lc_tensor_src t;
  memset(&t, 0, sizeof t);
  snprintf(t.name, sizeof t.name, "%s", name);
  t.dtype = dt;
  t.ndim = (int32_t)rank;
  t.shape[0] = dims[0];
  t.shape[1] = rank == 2 ? dims[1] : 1;
  t.bytes = (size_t)nbytes;
  const unsigned char *p = data + b;
  if ((uintptr_t)p % es != 0) {
    void *copy = lc_malloc((size_t)nbytes); /* malloc aligns to at least 8 */
    if (!copy)
      return lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "%s: tensor %s: out of memory (%lld bytes)",
                          file, name, (long long)nbytes);
    memcpy(copy, p, (size_t)nbytes);
    LC_TRY(lc_ckpt_keep_copy(c, copy, e));
    p = copy;
  }
  t.data = p;
  lc_status st = lc_ckpt_add_tensor(c, &t, e);
  if (st != LC_OK && st == LC_ERR_FORMAT)
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: tensor %s appears twice", file, name);
  return st;
}

/* Maps and parses one safetensors file, adding its tensors to c. */
static lc_status st_open(lc_checkpoint *c, hf_state *hs, const char *file, lc_ckpt_err *e) {
  const void *addr;
  size_t len;
  LC_TRY(lc_ckpt_map_file(c, file, &addr, &len, e));
  const unsigned char *u = addr;
  if (len < 8)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: a safetensors file starts with an 8-byte header length; found a file "
                        "of %zu bytes",
                        file, len);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = (n << 8) | u[i];
  if (n > (uint64_t)len - 8)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: header length %llu runs past the end of the file (%zu bytes; "
                        "truncated or not a safetensors file)",
                        file, (unsigned long long)n, len);
  if (n > LC_ST_MAX_HEADER || n < 2)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: header length %llu is not plausible (expected 2 .. %llu bytes)", file,
                        (unsigned long long)n, (unsigned long long)LC_ST_MAX_HEADER);
  json_error_t jerr;
  json_t *root = json_loadb((const char *)u + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
  if (!root && lc_json_oom(&jerr))
    return lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "%s: out of memory reading the header", file);
  if (!root)
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: invalid JSON header at line %d, column %d: %s", file,
                        jerr.line, jerr.column, jerr.text);
  lc_status st = LC_OK;
  st_span *spans = NULL;
  if (!json_is_object(root)) {
    st = lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: the header must be a JSON object; found %s", file,
                      json_kind(root));
    goto out;
  }
  size_t cap = json_object_size(root);
  spans = lc_malloc((cap ? cap : 1) * sizeof *spans);
  if (!spans) {
    st = lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "out of memory");
    goto out;
  }
  size_t ns = 0;
  const char *key;
  json_t *v;
  const unsigned char *data = u + 8 + n;
  uint64_t data_len = (uint64_t)len - 8 - n;
  json_object_foreach(root, key, v) {
    if (strcmp(key, "__metadata__") == 0) continue;
    st = st_tensor(c, hs, file, key, v, data, data_len, &spans[ns], e);
    if (st != LC_OK) goto out;
    ns++;
  }
  qsort(spans, ns, sizeof *spans, span_cmp);
  const st_span *prev = NULL;
  for (size_t i = 0; i < ns; i++) {
    if (spans[i].begin == spans[i].end) continue;
    if (prev && spans[i].begin < prev->end) {
      st = lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: tensors %s [%llu, %llu] and %s [%llu, %llu] overlap",
                        file, prev->name, (unsigned long long)prev->begin,
                        (unsigned long long)prev->end, spans[i].name,
                        (unsigned long long)spans[i].begin, (unsigned long long)spans[i].end);
      goto out;
    }
    prev = &spans[i];
  }
out:
  free(spans);
  json_decref(root);
  return st;
}

/* ---- the directory ---------------------------------------------------------------*/

static int has_tensor_in(const lc_checkpoint *c, int64_t from, int64_t to, const char *name) {
  for (int64_t i = from; i < to; i++)
    if (strcmp(c->tensors[i].name, name) == 0) return 1;
  return 0;
}

static const char *skipped_why(const hf_state *hs, const char *name) {
  for (int64_t i = 0; i < hs->n_skipped; i++)
    if (strcmp(hs->skipped[i].name, name) == 0) return hs->skipped[i].why;
  return NULL;
}

/* Sharded weights: map each shard named by the index once, then check that
 * every tensor the index lists is in the shard it names. */
static lc_status open_index(lc_checkpoint *c, hf_state *hs, const char *dir, const char *idx_path,
                            lc_ckpt_err *e) {
  json_error_t jerr;
  json_t *root = json_load_file(idx_path, JSON_REJECT_DUPLICATES, &jerr);
  if (!root && lc_json_oom(&jerr))
    return lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", idx_path);
  if (!root)
    return lc_ckpt_fail(e, jerr.line < 0 ? LC_ERR_IO : LC_ERR_FORMAT,
                        "%s: invalid JSON at line %d, column %d: %s", idx_path, jerr.line,
                        jerr.column, jerr.text);
  lc_status st = LC_OK;
  const char **shards = NULL;
  int64_t *first = NULL;
  size_t n_shards = 0;
  json_t *wm = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
  if (!json_is_object(wm)) {
    st = lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: expected an object \"weight_map\"; found %s", idx_path,
                      json_kind(json_is_object(root) ? wm : root));
    goto out;
  }
  size_t cap = json_object_size(wm) + 1;
  shards = lc_malloc(cap * sizeof *shards);
  first = lc_malloc((cap + 1) * sizeof *first);
  if (!shards || !first) {
    st = lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "out of memory");
    goto out;
  }
  const char *key;
  json_t *v;
  json_object_foreach(wm, key, v) {
    if (!json_is_string(v)) {
      st = lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: weight_map[\"%s\"] must be a file name string; found %s", idx_path,
                        key, json_kind(v));
      goto out;
    }
    const char *f = json_string_value(v);
    if (f[0] == '\0' || strchr(f, '/') || strcmp(f, "..") == 0 || strcmp(f, ".") == 0) {
      st = lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: weight_map[\"%s\"] = \"%s\" must be a file name in the same folder",
                        idx_path, key, f);
      goto out;
    }
    size_t k = 0;
    while (k < n_shards && strcmp(shards[k], f) != 0) k++;
    if (k == n_shards) shards[n_shards++] = f;
  }
  if (n_shards == 0) {
    st = lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: weight_map is empty", idx_path);
    goto out;
  }
  for (size_t k = 0; k < n_shards; k++) {
    char p[LC_PATH_LEN], hint[LC_PATH_LEN + 64];
    st = join_path(p, dir, shards[k], e);
    if (st != LC_OK) goto out;
    struct stat sb;
    if (stat(p, &sb) != 0) {
      snprintf(hint, sizeof hint, ", a shard that %s names", idx_path);
      st = lc_ckpt_fail_open(e, p, errno, hint);
      goto out;
    }
    first[k] = c->n_tensors;
    st = st_open(c, hs, p, e);
    if (st != LC_OK) goto out;
  }
  first[n_shards] = c->n_tensors;
  json_object_foreach(wm, key, v) {
    const char *f = json_string_value(v);
    size_t k = 0;
    while (strcmp(shards[k], f) != 0) k++;
    if (!has_tensor_in(c, first[k], first[k + 1], key) && !skipped_why(hs, key)) {
      st = lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: tensor %s is listed in shard %s, but %s/%s does not contain it",
                        idx_path, key, f, dir, f);
      goto out;
    }
  }
out:
  free(shards);
  free(first);
  json_decref(root);
  return st;
}

lc_status lc_ckpt_open_hf(lc_checkpoint *c, const char *path, lc_ckpt_err *e) {
  char dir[LC_PATH_LEN], cfg[LC_PATH_LEN], wpath[LC_PATH_LEN];
  struct stat sb;
  if (stat(path, &sb) != 0) return lc_ckpt_fail_open(e, path, errno, "");
  if (strlen(path) >= LC_PATH_LEN)
    return lc_ckpt_fail(e, LC_ERR_INVALID_ARGUMENT, "path longer than %d bytes", LC_PATH_LEN - 1);
  if (S_ISDIR(sb.st_mode)) {
    snprintf(dir, sizeof dir, "%s", path);
    LC_TRY(join_path(cfg, dir, "config.json", e));
  } else {
    snprintf(cfg, sizeof cfg, "%s", path);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
      dir[1] = '\0';
    else if (slash)
      *slash = '\0';
    else
      snprintf(dir, sizeof dir, ".");
  }
  LC_TRY(read_config(c, cfg, e));

  hf_state hs = {0};
  lc_status st;
  char where[LC_PATH_LEN + 32];
  LC_TRY(join_path(wpath, dir, "model.safetensors.index.json", e));
  if (file_exists(wpath)) {
    st = open_index(c, &hs, dir, wpath, e);
    snprintf(where, sizeof where, "%s", wpath);
  } else {
    LC_TRY(join_path(wpath, dir, "model.safetensors", e));
    if (!file_exists(wpath)) {
      return lc_ckpt_fail(e, LC_ERR_NOT_FOUND,
                          "%s: no weights: no such file or directory: '%s', nor "
                          "model.safetensors.index.json with its shards; a Hugging Face model "
                          "folder holds them beside config.json",
                          dir, wpath);
    }
    st = st_open(c, &hs, wpath, e);
    snprintf(where, sizeof where, "%s", wpath);
  }
  if (st == LC_OK && c->config.tied_embeddings) {
    /* checkpoint.h: lm_head is absent when tied; a stored copy is ignored. */
    for (int64_t i = 0; i < c->n_tensors; i++) {
      if (strcmp(c->tensors[i].name, "lm_head.weight") == 0) {
        memmove(&c->tensors[i], &c->tensors[i + 1],
                (size_t)(c->n_tensors - i - 1) * sizeof c->tensors[0]);
        c->n_tensors--;
        break;
      }
    }
  }
  if (st == LC_OK) {
    char missing[128];
    st = lc_ckpt_check_required(c, where, missing, sizeof missing, e);
    const char *why = missing[0] ? skipped_why(&hs, missing) : NULL;
    if (why) /* a required tensor layercast skipped: say why (dtype or rank) */
      st = lc_ckpt_fail(e, strncmp(why, "dtype", 5) == 0 ? LC_ERR_UNSUPPORTED : LC_ERR_FORMAT,
                        "%s: tensor %s has %s; layercast reads F32, BF16 or F16 tensors of "
                        "1 or 2 dimensions",
                        where, missing, why);
  }
  free(hs.skipped);
  return st;
}
