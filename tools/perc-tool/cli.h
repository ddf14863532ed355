/* Command-line plumbing shared by perc-tool's subcommands: option parsing,
 * hex and integer arguments, and one-line error reporting.
 *
 * Exit codes: 0 success, 1 the input was well-formed but processing failed
 * (a tag did not verify, a replay, an unwrap failure), 2 bad usage or
 * malformed input. */
#ifndef PERC_TOOL_CLI_H
#define PERC_TOOL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILED 1
#define CLI_EXIT_USAGE 2

/* Largest binary argument accepted (a packet, a key, a field). */
#define CLI_MAX_BYTES 65536

typedef struct cli_opt {
    const char *name;       /* without the leading "--" */
    bool takes_value;
    const char *value;      /* set by cli_parse */
    bool present;
} cli_opt;

typedef struct cli_cmd {
    const char *prog;       /* "perc-tool srtp protect", for messages */
    const char *usage;      /* full --help text */
    cli_opt *opts;
    size_t n_opts;
    const char *pos[4];
    size_t n_pos;
    size_t max_pos;
} cli_cmd;

/* Parses argv (the words after the subcommand). Returns -1 after printing
 * help (exit 0), 0 on success, or CLI_EXIT_USAGE after printing an error. */
int cli_parse(cli_cmd *cmd, int argc, char **argv);

cli_opt *cli_find(cli_cmd *cmd, const char *name);
bool cli_has(cli_cmd *cmd, const char *name);

/* Prints "PROG: message" on stderr and returns code. */
int cli_fail(const cli_cmd *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Decodes a hex argument ("-" reads it from stdin). what names it in
 * errors. Returns 0 or CLI_EXIT_USAGE (error printed). */
int cli_hex_arg(const cli_cmd *cmd, const char *what, const char *text, uint8_t *out, size_t cap,
                size_t *len);
/* The value of a required hex option. */
int cli_hex_opt(cli_cmd *cmd, const char *name, uint8_t *out, size_t cap, size_t *len);
/* Unsigned integer option (decimal or 0x hex) no larger than max; absent
 * options give dflt. */
int cli_uint_opt(cli_cmd *cmd, const char *name, uint64_t max, uint64_t dflt, uint64_t *out);
/* The single positional argument as hex. */
int cli_hex_positional(cli_cmd *cmd, const char *what, uint8_t *out, size_t cap, size_t *len);
/* A required option that must be one of choices[]; *index gets its position. */
int cli_choice_opt(cli_cmd *cmd, const char *name, const char *const *choices, size_t n,
                   size_t *index);

/* Reports a libperc error: "PROG: what: text (NAME)". Wire-format errors
 * (bad input) exit CLI_EXIT_USAGE, everything else CLI_EXIT_FAILED. */
int cli_perc_fail(const cli_cmd *cmd, int perc_rc, const char *what);

/* Prints bytes as one line of lowercase hex on stdout. */
void cli_print_hex(const uint8_t *p, size_t len);

/* Reads all of stdin as text (NUL-terminated, caller frees); NULL on error. */
char *cli_read_stdin(void);

#endif
