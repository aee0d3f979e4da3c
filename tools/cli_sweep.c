/* tools/cli_sweep.c — `layercast sweep` (placeholder until it is written). */
#include <stdio.h>

#include "tools/cli.h"

int cmd_sweep(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "layercast sweep: not implemented yet\n");
  return 1;
}
