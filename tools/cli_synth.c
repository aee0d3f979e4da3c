/* tools/cli_synth.c — `layercast synth` (placeholder until it is written). */
#include <stdio.h>

#include "tools/cli.h"

int cmd_synth(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "layercast synth: not implemented yet\n");
  return 1;
}
