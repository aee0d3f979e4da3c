/*
 * tools/cli_main.c — the layercast command-line tool: dispatch to the
 * subcommands (tools/cli.h), `version` and the overview.
 */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/cli_common.h"

static int cmd_version(void) {
  lc_canon_info ci;
  lc_canon_get_info(&ci);
  printf(
      "layercast %s (canonical order v%d: matmul segment %d, attention partition %d, "
      "%d reduction lanes, head_dim <= %d)\n",
      lc_version_string(), ci.version, ci.matmul_seg_len, ci.attn_partition, ci.reduce_lanes,
      ci.max_head_dim);
  return 0;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: layercast <command> [options]\n"
          "\n"
          "commands:\n"
          "  demo      a small reproducibility sweep on an embedded synthetic model\n"
          "            (CPU; and the GPU when present); demo --matmul: one matmul row\n"
          "  generate  run a model on token ids: any backend, mode, batch and row position\n"
          "  sweep     accuracy-variance study over batch sizes, positions, modes, backends\n"
          "  compare   teacher-forced replay of one configuration's tokens under another\n"
          "  verify    GPU vs CPU, op by op and whole model; or two run records\n"
          "  synth     write a synthetic Llama/Qwen checkpoint from a seed\n"
          "  loglik    log-probability of a continuation after a context (teacher-forced)\n"
          "  perplexity\n"
          "            sliding-window perplexity of a token sequence\n"
          "  tokenize  text to token ids and back, with a model's tokenizer\n"
          "  version   library version and canonical-order constants\n"
          "\n"
          "'layercast <command> --help' describes a command.  Exit status: 0 success,\n"
          "1 failure, 2 bad usage or input, 3 strict was not reproducible (a bug),\n"
          "4 nothing was run or checked (e.g. no GPU for a GPU-only request).\n");
}

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    int (*fn)(int, char **);
  } cmds[] = {{"demo", cmd_demo},       {"generate", cmd_generate},     {"sweep", cmd_sweep},
              {"compare", cmd_compare}, {"verify", cmd_verify},         {"synth", cmd_synth},
              {"loglik", cmd_loglik},   {"perplexity", cmd_perplexity}, {"tokenize", cmd_tokenize}};
  if (argc < 2) {
    usage(stderr);
    return CLI_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) return cmd_version();
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (!strcmp(cmd, cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "layercast: unknown command '%s'\n", cmd);
  usage(stderr);
  return CLI_USAGE;
}
