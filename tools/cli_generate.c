/* tools/cli_generate.c — `layercast generate` (placeholder until it is written). */
#include <stdio.h>

#include "tools/cli.h"

int cmd_generate(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "layercast generate: not implemented yet\n");
  return 1;
}
