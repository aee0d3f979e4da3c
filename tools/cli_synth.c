/*
 * tools/cli_synth.c — `layercast synth`: write a synthetic Llama/Qwen-shaped
 * Hugging Face checkpoint (config.json + safetensors) from a seed.
 */
#define _GNU_SOURCE /* getopt_long */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/cli_common.h"

static const char *const CMD = "synth";

static void synth_usage(FILE *f) {
  lc_synth_params d;
  lc_synth_params_default(&d);
  fprintf(
      f,
      "usage: layercast synth --out DIR [options]\n"
      "\n"
      "Writes a synthetic checkpoint (config.json and model.safetensors, or shards with an\n"
      "index) whose weights are a function of the seed and the tensor names.\n"
      "\n"
      "  --out DIR          the model directory (created if missing)\n"
      "  --preset NAME      tiny (the library default: dim %d, %d layers, vocab %d) or\n"
      "                     llama3-8b-shape (dim 4096, hidden 14336, 32 heads, 8 kv heads,\n"
      "                     head_dim 128, vocab 128256, theta 500000, 2 layers unless --layers)\n"
      "  --arch A           llama | qwen2 (q/k/v biases) | qwen3 (q/k norm)\n"
      "  --dim N            hidden size\n"
      "  --hidden N         feed-forward size\n"
      "  --layers N         transformer blocks\n"
      "  --heads N          query heads\n"
      "  --kv-heads N       key/value heads (divides --heads)\n"
      "  --head-dim N       per-head size (default dim / heads)\n"
      "  --vocab N          vocabulary size\n"
      "  --max-seq N        positions (RoPE table)\n"
      "  --theta X          RoPE base\n"
      "  --norm-eps X       RMSNorm epsilon\n"
      "  --seed S           weight seed (default %llu)\n"
      "  --dtype T          bf16 | f16 | f32 tensors in the files\n"
      "  --shards N         1: model.safetensors; > 1: N shards + index\n"
      "  --tied             tie the output projection to the embedding table\n"
      "  --untied           separate output projection\n"
      "  -h, --help         this text\n",
      (int)d.config.dim, (int)d.config.n_layers, (int)d.config.vocab_size,
      (unsigned long long)d.seed);
}

enum {
  O_OUT = 256,
  O_PRESET,
  O_ARCH,
  O_DIM,
  O_HIDDEN,
  O_LAYERS,
  O_HEADS,
  O_KV,
  O_HEADDIM,
  O_VOCAB,
  O_MAXSEQ,
  O_THETA,
  O_EPS,
  O_SEED,
  O_DTYPE,
  O_SHARDS,
  O_TIED,
  O_UNTIED,
  O_END
};

int cmd_synth(int argc, char **argv) {
  static const struct option opts[] = {{"out", required_argument, 0, O_OUT},
                                       {"preset", required_argument, 0, O_PRESET},
                                       {"arch", required_argument, 0, O_ARCH},
                                       {"dim", required_argument, 0, O_DIM},
                                       {"hidden", required_argument, 0, O_HIDDEN},
                                       {"layers", required_argument, 0, O_LAYERS},
                                       {"heads", required_argument, 0, O_HEADS},
                                       {"kv-heads", required_argument, 0, O_KV},
                                       {"head-dim", required_argument, 0, O_HEADDIM},
                                       {"vocab", required_argument, 0, O_VOCAB},
                                       {"max-seq", required_argument, 0, O_MAXSEQ},
                                       {"theta", required_argument, 0, O_THETA},
                                       {"norm-eps", required_argument, 0, O_EPS},
                                       {"seed", required_argument, 0, O_SEED},
                                       {"dtype", required_argument, 0, O_DTYPE},
                                       {"shards", required_argument, 0, O_SHARDS},
                                       {"tied", no_argument, 0, O_TIED},
                                       {"untied", no_argument, 0, O_UNTIED},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  /* collect first, apply after: the preset sets the base whatever its place */
  const char *val[O_END] = {0};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'h') {
      synth_usage(stdout);
      return 0;
    }
    if (c < O_OUT || c >= O_END) {
      synth_usage(stderr);
      return 2;
    }
    val[c] = optarg ? optarg : "1";
  }
  if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
  if (!val[O_OUT]) return cli_usage_error(CMD, "--out DIR is required");

  lc_synth_params p;
  lc_synth_params_default(&p);
  lc_model_config *m = &p.config;
  if (val[O_PRESET]) {
    if (lc_synth_params_preset(&p, val[O_PRESET]) != LC_OK) {
      return cli_usage_error(CMD, "--preset: expected tiny or llama3-8b-shape, got '%s'",
                             val[O_PRESET]);
    }
  }
  int rc = 0;
  int32_t v;
  if (val[O_ARCH] && lc_arch_from_name(val[O_ARCH], &m->arch) != LC_OK)
    return cli_usage_error(CMD, "--arch: expected llama, qwen2 or qwen3, got '%s'", val[O_ARCH]);
#define INTOPT(o, name, field)                               \
  if (!rc && val[o]) {                                       \
    rc = cli_parse_i32(CMD, name, val[o], 1, INT32_MAX, &v); \
    if (!rc) field = v;                                      \
  }
  INTOPT(O_DIM, "--dim", m->dim)
  INTOPT(O_HIDDEN, "--hidden", m->hidden_dim)
  INTOPT(O_LAYERS, "--layers", m->n_layers)
  INTOPT(O_HEADS, "--heads", m->n_heads)
  INTOPT(O_KV, "--kv-heads", m->n_kv_heads)
  INTOPT(O_HEADDIM, "--head-dim", m->head_dim)
  INTOPT(O_VOCAB, "--vocab", m->vocab_size)
  INTOPT(O_MAXSEQ, "--max-seq", m->max_seq_len)
  INTOPT(O_SHARDS, "--shards", p.n_shards)
#undef INTOPT
  if (rc) return rc;
  /* dim or heads changed without an explicit head_dim: keep dim / heads */
  if (!val[O_HEADDIM] && (val[O_DIM] || val[O_HEADS]) && m->n_heads > 0)
    m->head_dim = m->dim / m->n_heads;
  if (val[O_THETA]) {
    float t;
    if ((rc = cli_parse_f32(CMD, "--theta", val[O_THETA], 1.0f, 1e12f, &t))) return rc;
    m->rope_theta = t;
  }
  if (val[O_EPS] && (rc = cli_parse_f32(CMD, "--norm-eps", val[O_EPS], 0.0f, 1.0f, &m->norm_eps)))
    return rc;
  if (val[O_SEED] && (rc = cli_parse_u64(CMD, "--seed", val[O_SEED], &p.seed))) return rc;
  if (val[O_DTYPE]) {
    if (!strcmp(val[O_DTYPE], "bf16"))
      p.dtype = LC_DTYPE_BF16;
    else if (!strcmp(val[O_DTYPE], "f16") || !strcmp(val[O_DTYPE], "fp16"))
      p.dtype = LC_DTYPE_F16;
    else if (!strcmp(val[O_DTYPE], "f32") || !strcmp(val[O_DTYPE], "fp32"))
      p.dtype = LC_DTYPE_F32;
    else
      return cli_usage_error(CMD, "--dtype: expected bf16, f16 or f32, got '%s'", val[O_DTYPE]);
  }
  if (val[O_TIED] && val[O_UNTIED]) return cli_usage_error(CMD, "--tied and --untied conflict");
  if (val[O_TIED]) m->tied_embeddings = 1;
  if (val[O_UNTIED]) m->tied_embeddings = 0;
  m->qkv_bias = m->arch == LC_ARCH_QWEN2;
  m->qk_norm = m->arch == LC_ARCH_QWEN3;

  lc_status st = lc_synth_write(val[O_OUT], &p);
  if (st != LC_OK) {
    char what[1100];
    snprintf(what, sizeof what, "writing '%s'", val[O_OUT]);
    return cli_fail(CMD, what, st, NULL);
  }
  printf(
      "wrote %s: %s, dim %d, hidden %d, %d layers, %d/%d heads x %d, vocab %d, max_seq %d, "
      "%s, seed %llu, %d shard%s%s\n",
      val[O_OUT], lc_arch_name(m->arch), (int)m->dim, (int)m->hidden_dim, (int)m->n_layers,
      (int)m->n_heads, (int)m->n_kv_heads, (int)m->head_dim, (int)m->vocab_size,
      (int)m->max_seq_len,
      p.dtype == LC_DTYPE_BF16  ? "bf16"
      : p.dtype == LC_DTYPE_F16 ? "f16"
                                : "f32",
      (unsigned long long)p.seed, (int)p.n_shards, p.n_shards == 1 ? "" : "s",
      m->tied_embeddings ? ", tied" : "");
  return 0;
}
