/*
 * tools/cli_synth.c — `layercast synth`: write a synthetic Llama/Qwen-shaped
 * Hugging Face checkpoint (config.json + safetensors) from a seed
 * (lc_synth_write).
 */
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/cli_common.h"

static const char *const CMD = "synth";

/* 1 when --name was given on the command line. */
static int given(int argc, char **argv, const char *name) {
  const size_t l = strlen(name);
  for (int i = 1; i < argc; i++)
    if (!strncmp(argv[i], "--", 2) && !strncmp(argv[i] + 2, name, l) &&
        (argv[i][2 + l] == '\0' || argv[i][2 + l] == '='))
      return 1;
  return 0;
}

int cmd_synth(int argc, char **argv) {
  lc_synth_params d;
  lc_synth_params_default(&d);
  const char *out = NULL, *preset = NULL, *arch = NULL;
  int32_t dim = 0, hidden = 0, layers = 0, heads = 0, kv = 0, hd = 0, vocab = 0, max_seq = 0,
          shards = 0;
  float theta = 0, eps = 0;
  uint64_t seed = 0;
  int dtype = 0, tied = 0, untied = 0;
  char about[512];
  snprintf(about, sizeof about,
           "Writes a synthetic checkpoint (config.json and model.safetensors, or shards with an\n"
           "index) whose weights are a function of the seed and the tensor names.  The folder\n"
           "then holds exactly this model's files (an earlier model's are replaced).  Presets:\n"
           "tiny (the default: dim %d, %d layers, vocab %d); llama3-8b-shape (dim 4096, hidden\n"
           "14336, 32/8 heads of 128, vocab 128256, theta 500000, 2 layers unless --layers).",
           (int)d.config.dim, (int)d.config.n_layers, (int)d.config.vocab_size);
  const cli_opt opts[] = {
      {"out", CLI_STR, &out, 0, 0, NULL, "DIR", "the model directory (created if missing)"},
      {"preset", CLI_STR, &preset, 0, 0, NULL, "NAME", "tiny | llama3-8b-shape (applied first)"},
      {"arch", CLI_STR, &arch, 0, 0, NULL, "A", "llama | qwen2 (q/k/v biases) | qwen3 (q/k norm)"},
      {"dim", CLI_I32, &dim, 1, INT32_MAX, NULL, "N", "hidden size"},
      {"hidden", CLI_I32, &hidden, 1, INT32_MAX, NULL, "N", "feed-forward size"},
      {"layers", CLI_I32, &layers, 1, INT32_MAX, NULL, "N", "transformer blocks"},
      {"heads", CLI_I32, &heads, 1, INT32_MAX, NULL, "N", "query heads"},
      {"kv-heads", CLI_I32, &kv, 1, INT32_MAX, NULL, "N", "key/value heads (divides --heads)"},
      {"head-dim", CLI_I32, &hd, 1, INT32_MAX, NULL, "N", "per-head size (default dim / heads)"},
      {"vocab", CLI_I32, &vocab, 1, INT32_MAX, NULL, "N", "vocabulary size"},
      {"max-seq", CLI_I32, &max_seq, 1, INT32_MAX, NULL, "N", "positions (RoPE table)"},
      {"theta", CLI_F32, &theta, 1, 1e12, NULL, "X", "RoPE base"},
      {"norm-eps", CLI_F32, &eps, 0, 1, NULL, "X", "RMSNorm epsilon"},
      {"seed", CLI_U64, &seed, 0, 0, NULL, "S", "weight seed"},
      {"dtype", CLI_CHOICE, &dtype, 0, 0, "bf16|f16|f32|fp16|fp32", "T", "tensors in the files"},
      {"shards", CLI_I32, &shards, 1, 1 << 16, NULL, "N",
       "1: model.safetensors; > 1: N shards + index"},
      {"tied", CLI_FLAG, &tied, 0, 0, NULL, NULL, "tie the output projection to the embedding"},
      {"untied", CLI_FLAG, &untied, 0, 0, NULL, NULL, "separate output projection"},
      CLI_END};
  const cli_cmd cmd = {"synth", "--out DIR [options]", about, opts, NULL};
  int rc = cli_parse(&cmd, argc, argv);
  if (rc) return rc < 0 ? 0 : rc;
  if (!out) return cli_usage_error(CMD, "--out DIR is required");
  if (tied && untied) return cli_usage_error(CMD, "--tied and --untied conflict");
  lc_synth_params p = d;
  lc_model_config *m = &p.config;
  if (preset && lc_synth_params_preset(&p, preset) != LC_OK)
    return cli_usage_error(CMD, "--preset: expected tiny or llama3-8b-shape, got '%s'", preset);
  if (arch && lc_arch_from_name(arch, &m->arch) != LC_OK)
    return cli_usage_error(CMD, "--arch: expected llama, qwen2 or qwen3, got '%s'", arch);
  const struct {
    const char *name;
    int32_t v, *field;
  } ints[] = {{"dim", dim, &m->dim},
              {"hidden", hidden, &m->hidden_dim},
              {"layers", layers, &m->n_layers},
              {"heads", heads, &m->n_heads},
              {"kv-heads", kv, &m->n_kv_heads},
              {"head-dim", hd, &m->head_dim},
              {"vocab", vocab, &m->vocab_size},
              {"max-seq", max_seq, &m->max_seq_len},
              {"shards", shards, &p.n_shards}};
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    if (given(argc, argv, ints[i].name)) *ints[i].field = ints[i].v;
  /* dim or heads changed without an explicit head_dim: keep dim / heads */
  if (!given(argc, argv, "head-dim") && (dim || heads)) m->head_dim = m->dim / m->n_heads;
  if (heads && !kv && m->n_heads % m->n_kv_heads)
    return cli_usage_error(CMD,
                           "--heads %d: the %s's %d key/value heads do not divide it (--kv-heads "
                           "was not given); give --kv-heads N with N dividing %d",
                           (int)heads, preset ? "preset" : "default model", (int)m->n_kv_heads,
                           (int)heads);
  if (given(argc, argv, "theta")) m->rope_theta = theta;
  if (given(argc, argv, "norm-eps")) m->norm_eps = eps;
  if (given(argc, argv, "seed")) p.seed = seed;
  if (given(argc, argv, "dtype"))
    p.dtype = (const lc_dtype[]){LC_DTYPE_BF16, LC_DTYPE_F16, LC_DTYPE_F32, LC_DTYPE_F16,
                                 LC_DTYPE_F32}[dtype];
  if (tied || untied) m->tied_embeddings = tied;
  m->qkv_bias = m->arch == LC_ARCH_QWEN2;
  m->qk_norm = m->arch == LC_ARCH_QWEN3;
  lc_status st = lc_synth_write(out, &p);
  if (st != LC_OK) return cli_fail(CMD, "writing the model", st, cli_status_rc(st));
  printf(
      "wrote %s: %s, dim %d, hidden %d, %d layers, %d/%d heads x %d, vocab %d, max_seq %d, "
      "%s, seed %llu, %d shard%s%s\n",
      out, lc_arch_name(m->arch), (int)m->dim, (int)m->hidden_dim, (int)m->n_layers,
      (int)m->n_heads, (int)m->n_kv_heads, (int)m->head_dim, (int)m->vocab_size,
      (int)m->max_seq_len, (const char *[]){"f32", "bf16", "f16"}[p.dtype],
      (unsigned long long)p.seed, (int)p.n_shards, p.n_shards == 1 ? "" : "s",
      m->tied_embeddings ? ", tied" : "");
  return 0;
}
