/* tools/cli_compare.c — `layercast compare` (placeholder until it is written). */
#include <stdio.h>

#include "tools/cli.h"

int cmd_compare(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "layercast compare: not implemented yet\n");
  return 1;
}
