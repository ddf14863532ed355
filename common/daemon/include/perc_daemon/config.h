/* A small command-line parser for the daemons.
 *
 * A daemon declares its options once; from the declarations come parsing,
 * validation, the environment-variable equivalents and the --help text:
 *
 *     static const perc_opt opts[] = {
 *         { .name = "listen", .type = PERC_OPT_HOSTPORT, .def = "0.0.0.0:4433",
 *           .help = "where Media Distributors connect" },
 *         { .name = "cert", .type = PERC_OPT_FILE, .required = true,
 *           .help = "our certificate chain (PEM)" },
 *         { .name = "max-conferences", .type = PERC_OPT_UINT, .def = "64",
 *           .min = 1, .max = 100000, .help = "..." },
 *     };
 *     static const perc_config_spec spec = {
 *         .program = "perc-kmf", .version = PERC_VERSION, .env_prefix = "PERC_KMF",
 *         .summary = "PERC Key Management Function", .opts = opts,
 *         .n_opts = G_N_ELEMENTS(opts) };
 *     perc_config *cfg = perc_config_parse_or_exit(&spec, argc, argv);
 *
 * Each option "--name" has the environment variable PREFIX_NAME (upper case,
 * '-' becomes '_'): --listen is PERC_KMF_LISTEN. Precedence: the command
 * line beats the environment, which beats the default. An empty environment
 * variable counts as unset.
 *
 * Syntax: "--name VALUE" or "--name=VALUE"; a flag is "--name" (true),
 * "--no-name" or "--name=false". The last occurrence wins. "--" ends the
 * options; daemons take no positional arguments, so anything else is an
 * error. Every value is validated at parse time, so a daemon either starts
 * with a complete, typed configuration or exits with a message that names
 * the option (or variable) and what was wrong with it.
 *
 * Built in: --help, --version, and --log-level LEVEL (error, warn, info,
 * debug; PREFIX_LOG_LEVEL; default info).
 */
#ifndef PERC_DAEMON_CONFIG_H
#define PERC_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "perc_daemon/addr.h"
#include "perc_daemon/log.h"

typedef enum perc_opt_type {
    PERC_OPT_STRING = 0,  /* any non-empty text */
    PERC_OPT_HOSTPORT,    /* HOST:PORT, see addr.h */
    PERC_OPT_UINT,        /* decimal, within [min, max] */
    PERC_OPT_FLAG,        /* boolean: true/false, yes/no, on/off, 1/0 */
    PERC_OPT_FILE,        /* path of an existing, readable regular file */
} perc_opt_type;

typedef struct perc_opt {
    const char *name;     /* long name without "--": lower case, digits, '-' */
    perc_opt_type type;
    const char *def;      /* default in command-line form; NULL: none (a flag: false) */
    const char *metavar;  /* shown in --help ("HOST:PORT"); NULL: from the type */
    const char *help;     /* one line */
    uint64_t min, max;    /* PERC_OPT_UINT: inclusive range; max 0 means UINT64_MAX */
    bool required;        /* no value after command line, environment and default: error */
} perc_opt;

typedef struct perc_config_spec {
    const char *program;    /* "perc-kmf" */
    const char *version;    /* printed by --version */
    const char *summary;    /* one line under "Usage:" in --help */
    const char *env_prefix; /* "PERC_KMF" */
    const perc_opt *opts;
    size_t n_opts;
} perc_config_spec;

typedef enum perc_config_action {
    PERC_CONFIG_RUN = 0,  /* parsed: start the daemon */
    PERC_CONFIG_HELP,     /* --help was given: print perc_config_help(), exit 0 */
    PERC_CONFIG_VERSION,  /* --version was given: print the version, exit 0 */
} perc_config_action;

typedef enum perc_config_source {
    PERC_CONFIG_UNSET = 0,
    PERC_CONFIG_DEFAULT,
    PERC_CONFIG_ENV,
    PERC_CONFIG_CLI,
} perc_config_source;

typedef struct perc_config perc_config;

/* Parses argv (argv[0] is the program and is skipped) and the environment.
 * envp: a NULL-terminated "NAME=value" list; NULL reads the process
 * environment. On success *action says what to do; with PERC_CONFIG_RUN the
 * result is returned, otherwise NULL is returned without an error. --help
 * and --version act when reached, so an error in an earlier argument wins
 * but a broken environment does not stop --help.
 * Errors (NULL returned): PERC_DAEMON_ERROR_CONFIG with a message such as
 *   "--listen: '1.2.3.4' is not HOST:PORT (no ':PORT'; ...)"
 *   "PERC_KMF_MAX_CONFERENCES: 0 is out of range 1..100000"
 *   "unknown option --lisen", "--cert: /etc/x.pem: No such file or directory",
 *   "--cert is required (or PERC_KMF_CERT)";
 * PERC_DAEMON_ERROR_INVALID for a broken spec (duplicate or reserved
 * option names, a default that fails its own type). */
G_GNUC_WARN_UNUSED_RESULT perc_config *perc_config_parse(const perc_config_spec *spec, int argc,
                                                         char *const *argv,
                                                         const char *const *envp,
                                                         perc_config_action *action,
                                                         GError **error);

/* For main(): parses, prints --help or --version to stdout and exits 0,
 * prints an error and "Try '<program> --help'." to stderr and exits 2.
 * On success calls perc_log_init(program, --log-level) and returns. */
perc_config *perc_config_parse_or_exit(const perc_config_spec *spec, int argc, char **argv);

/* The --help text (g_free). */
char *perc_config_help(const perc_config_spec *spec);

void perc_config_free(perc_config *cfg);

/* Getters. `name` is the long name without "--". Asking for an option that
 * was not declared, or with the wrong type's getter, is a programming
 * error: it logs a critical GLib warning and returns the "unset" answer. */

/* PERC_OPT_STRING and PERC_OPT_FILE; NULL when unset. Valid until
 * perc_config_free. */
const char *perc_config_string(const perc_config *cfg, const char *name);

/* PERC_OPT_UINT: TRUE with *out set, FALSE when unset. */
gboolean perc_config_uint(const perc_config *cfg, const char *name, uint64_t *out);

/* PERC_OPT_FLAG. */
bool perc_config_flag(const perc_config *cfg, const char *name);

/* PERC_OPT_HOSTPORT: TRUE with *out set, FALSE when unset. */
gboolean perc_config_hostport(const perc_config *cfg, const char *name, perc_hostport *out);

/* Where the value came from (for a startup log line). */
perc_config_source perc_config_source_of(const perc_config *cfg, const char *name);

/* --log-level. */
perc_log_level perc_config_log_level(const perc_config *cfg);

/* A command-line problem the parser cannot express (two options that
 * exclude each other, a value of the wrong form): prints
 * "PROGRAM: <message>" and "Try 'PROGRAM --help'." on stderr and exits
 * with `code` (2 for every daemon, as for parser errors). */
G_NORETURN void perc_config_usage_exit(const perc_config_spec *spec, int code, const char *fmt,
                                       ...) G_GNUC_PRINTF(3, 4);

/* Parses a list of SHA-256 fingerprints ("AB:CD:..." or 64 hex digits,
 * separated by commas or spaces; a leading "sha-256" word is skipped) into
 * out[0..max). Returns how many; 0 with *why set (a static text naming the
 * problem) when the list is empty, too long, or an entry is not one. */
size_t perc_config_fingerprints(const char *text, uint8_t (*out)[32], size_t max,
                                const char **why, char *bad, size_t bad_cap);

#endif
