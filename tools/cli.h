/*
 * tools/cli.h — the subcommands of the layercast CLI, one file each
 * (tools/cli_<name>.c); tools/cli_main.c dispatches.  Each returns the
 * process exit status (tools/cli_common.h lists them).
 */
#ifndef LC_TOOLS_CLI_H
#define LC_TOOLS_CLI_H

#include <stdio.h>

#include "layercast_experiment.h"

int cmd_demo(int argc, char **argv);       /* cli_demo.c */
int cmd_generate(int argc, char **argv);   /* cli_generate.c */
int cmd_sweep(int argc, char **argv);      /* cli_sweep.c */
int cmd_compare(int argc, char **argv);    /* cli_compare.c */
int cmd_verify(int argc, char **argv);     /* cli_verify.c */
int cmd_synth(int argc, char **argv);      /* cli_synth.c */
int cmd_loglik(int argc, char **argv);     /* cli_loglik.c */
int cmd_perplexity(int argc, char **argv); /* cli_loglik.c */
int cmd_tokenize(int argc, char **argv);   /* cli_tokenize.c */

/* verify records (cli_records.c), dispatched by cmd_verify */
int cli_verify_records(int argc, char **argv);
/* The sweep's summary table (cli_sweep.c) and its SVG plots (cli_plot.c). */
void cli_print_sweep(FILE *f, const lc_sweep_result *res);
int cli_plot_sweep(const char *cmd, const lc_sweep_result *res, const char *dir);

#endif
