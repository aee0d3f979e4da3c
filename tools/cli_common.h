/*
 * tools/cli_common.h — what the layercast subcommands share: option tables
 * (parsing and --help text from one list), error reports, lists, the
 * progress bar and atomic output files.  The work itself is the library's
 * (layercast_experiment.h); a subcommand parses, calls, prints.
 *
 * Exit status of every subcommand: 0 success, 1 failure (an error, or a
 * check that failed), 2 bad usage or bad input, 3 a broken promise (strict
 * was not reproducible: demo), 4 nothing was run or checked (everything was
 * skipped: no GPU, an empty grid, records that are not comparable).
 */
#ifndef LC_TOOLS_CLI_COMMON_H
#define LC_TOOLS_CLI_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include "layercast.h"
#include "layercast_experiment.h"
#include "layercast_metrics.h"
#include "layercast_model.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_BROKEN = 3, CLI_NOTHING = 4 };

/* ---- option tables ---------------------------------------------------------*/
typedef enum cli_type {
  CLI_FLAG,    /* int *: set to 1 */
  CLI_STR,     /* const char **: the argument */
  CLI_I32,     /* int32_t *, within [lo, hi] */
  CLI_U64,     /* uint64_t * */
  CLI_F32,     /* float *, within [lo, hi] */
  CLI_CHOICE,  /* int *: the index of the argument in `choices` ("a|b|c") */
  CLI_BACKEND, /* lc_backend * */
  CLI_MODE,    /* lc_mode * */
  CLI_STOP,    /* lc_stop_set *: "none" or ids "T[,T...]" (up to LC_MAX_STOP_TOKENS) */
} cli_type;

typedef struct cli_opt {
  const char *name; /* without the dashes; NULL ends a table */
  cli_type type;
  void *dst;
  double lo, hi;       /* CLI_I32, CLI_F32 */
  const char *choices; /* CLI_CHOICE */
  const char *meta;    /* the argument's name in the help ("N", "PATH") */
  const char *help;    /* '\n' continues on an indented line */
} cli_opt;

typedef struct cli_cmd {
  const char *name;     /* "sweep", "verify model" */
  const char *synopsis; /* after "usage: layercast <name> " */
  const char *about;    /* a paragraph, printed before the options */
  const cli_opt *opts;
  const char *epilog; /* after the options, or NULL */
} cli_cmd;

/* The sampler's options, for lc_gen_params g (generate and sweep). */
#define CLI_SAMPLER_OPTS(g)                                                                \
  {"temperature",                                                                          \
   CLI_F32,                                                                                \
   &(g).sampler.temperature,                                                               \
   0,                                                                                      \
   1e6,                                                                                    \
   NULL,                                                                                   \
   "X",                                                                                    \
   "0 (default): greedy; else sampling"},                                                  \
      {"top-k", CLI_I32, &(g).sampler.top_k, 0, INT32_MAX, NULL, "K", "(default 0: off)"}, \
      {"top-p", CLI_F32, &(g).sampler.top_p, 1e-9, 1, NULL, "P", "(default 1: off)"}, {    \
    "seed", CLI_U64, &(g).sampler.seed, 0, 0, NULL, "S", "sampler seed (default 0)"        \
  }
/* The end of an option table. */
#define CLI_END \
  { NULL, 0, NULL, 0, 0, NULL, NULL, NULL }

/* Parses argv[1..argc) against c->opts ("--name value", "--name=value";
 * -h/--help prints the help to stdout).  Positional arguments are refused.
 * Returns CLI_OK, -1 after --help (exit 0), or CLI_USAGE after printing
 * why. */
int cli_parse(const cli_cmd *c, int argc, char **argv);
void cli_help(const cli_cmd *c, FILE *f);

/* ---- errors ---------------------------------------------------------------*/
/* "layercast <cmd>: <what>: <the library's message> [STATUS]" for the
 * calling thread's last failure (lc_last_error(NULL)); returns `rc`. */
int cli_fail(const char *cmd, const char *what, lc_status st, int rc);
/* "layercast <cmd>: <printf message>" and the --help hint; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The exit status a library failure means: 2 for bad values (INVALID_ARGUMENT,
 * OUT_OF_RANGE, SHAPE), 4 when the backend is missing here (NO_DEVICE,
 * UNSUPPORTED), else 1 (a file that is missing or corrupt included). */
int cli_status_rc(lc_status st);

/* ---- lists -----------------------------------------------------------------*/
/* "a,b,c" into malloc'ed items (empty items refused); 0 or 2 (printed). */
typedef struct cli_list {
  char **v;
  int32_t n;
} cli_list;
int cli_split(const char *cmd, const char *opt, const char *s, cli_list *out);
void cli_list_free(cli_list *l);
int cli_list_i32(const char *cmd, const char *opt, const cli_list *l, int32_t lo, int32_t hi,
                 int32_t **out);
int cli_list_backends(const char *cmd, const cli_list *l, lc_backend **out);
int cli_list_modes(const char *cmd, const cli_list *l, lc_mode **out);
/* Token ids "1 2 3" or "1,2,3" (malloc'ed); 0 or 2 (printed). */
int cli_parse_tokens(const char *cmd, const char *opt, const char *s, int32_t **tokens, int32_t *n);
/* Prompts from --prompt IDS (one) or --prompts FILE; 0, 1 or 2 (printed). */
int cli_load_prompts(const char *cmd, const char *ids, const char *file, lc_prompt_list *out);

/* ---- text: tokenizer, chat format, text prompts (tools/cli_text.c) --------*/
typedef struct cli_text {
  const char *tokenizer;   /* --tokenizer PATH, or NULL: the model folder's */
  const char *chat_format; /* --chat-format NAME|FILE, or NULL: detected */
  int chat;                /* --chat: a text prompt is a user message */
  lc_tokenizer *tok;       /* loaded by cli_text_open, or NULL: no text */
  lc_chat_template *tmpl;  /* loaded when chat, chat_format or a prompt needs it */
} cli_text;
#define CLI_TEXT_OPTS(t)                                                                          \
  {"tokenizer",                                                                                   \
   CLI_STR,                                                                                       \
   &(t).tokenizer,                                                                                \
   0,                                                                                             \
   0,                                                                                             \
   NULL,                                                                                          \
   "PATH",                                                                                        \
   "tokenizer.json, tokenizer.bin or a folder (default: the model\nfolder's, when it has "        \
   "one)"},                                                                                       \
      {"chat", CLI_FLAG, &(t).chat, 0,                                                            \
       0,      NULL,     NULL,      "text prompts are user messages in the model's chat format"}, \
  {                                                                                               \
    "chat-format", CLI_STR, &(t).chat_format, 0, 0, NULL, "F",                                    \
        "llama3 | chatml | qwen2.5 | llama2 | plain | a JSON file of per-role\nprefixes and "     \
        "suffixes (default: detected from the tokenizer's template)"                              \
  }
/* Loads the tokenizer (--tokenizer, else model's folder when it holds
 * tokenizer.json or tokenizer.bin; none otherwise) and, when --chat or
 * --chat-format asks, the chat format.  0, 1 or 2 (printed). */
int cli_text_open(const char *cmd, cli_text *t, const char *model);
void cli_text_close(cli_text *t);
/* A --stop left unset (n == -1) becomes the model's end-of-sequence ids
 * when a tokenizer is loaded (lc_stop_ids_for_model), else none.  0 or 1. */
int cli_text_stop(const char *cmd, const cli_text *t, const char *model, lc_stop_set *stop);
/* Prompts from --prompt IDS, --text S or --prompts FILE (token ids or text
 * lines); 0, 1 or 2 (printed). */
/* A whole file into *buf (malloc'ed, NUL-terminated, at most max bytes)
 * and *len; 0, 1 or 2 (printed: 2 for a missing file). */
int cli_read_file(const char *cmd, const char *path, size_t max, char **buf, size_t *len);
int cli_load_prompts_text(const char *cmd, const char *ids, const char *text, const char *file,
                          cli_text *t, lc_prompt_list *out);

/* ---- progress bar (stderr, only on a terminal) ----------------------------*/
typedef struct cli_progress {
  int on;
  double t0, last;
  char label[32];
} cli_progress;
void cli_progress_start(cli_progress *p, const char *label, int enabled);
void cli_progress_cb(void *p, int64_t done, int64_t total); /* an lc_progress_fn */
void cli_progress_end(cli_progress *p);
double cli_now_s(void);

/* ---- output files -------------------------------------------------------------*/
/* Writes data to path through path.tmp and a rename; 0 or 1 (printed). */
int cli_write_file(const char *cmd, const char *path, const void *data, size_t len);

#endif
