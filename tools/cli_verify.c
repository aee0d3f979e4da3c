/* tools/cli_verify.c — `layercast verify` (placeholder until it is written). */
#include <stdio.h>

#include "tools/cli.h"

int cmd_verify(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "layercast verify: not implemented yet\n");
  return 1;
}
