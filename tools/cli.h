/*
 * tools/cli.h — the subcommands of the layercast CLI, one file each
 * (tools/cli_<name>.c); tools/layercast.c dispatches.  Each returns the
 * process exit status: 0 success, 1 failure, 2 bad usage (verify also 4:
 * nothing was checked).
 */
#ifndef LC_TOOLS_CLI_H
#define LC_TOOLS_CLI_H

int cmd_generate(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_verify_records(int argc, char **argv); /* tools/cli_verify_records.c */
int cmd_synth(int argc, char **argv);

#endif
