/* Command line and environment for the daemons (see perc_daemon/config.h). */
#include "perc_daemon/config.h"

#include "perc/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "perc_daemon/error.h"

/* Built-in options share the table with the declared ones. */
enum { BUILTIN_NONE = 0, BUILTIN_LOG_LEVEL, BUILTIN_HELP, BUILTIN_VERSION };

static const perc_opt builtin_log_level = {
    .name = "log-level", .type = PERC_OPT_STRING, .def = "info", .metavar = "LEVEL",
    .help = "error, warn, info or debug"};
static const perc_opt builtin_help = {
    .name = "help", .type = PERC_OPT_FLAG, .help = "print this help and exit"};
static const perc_opt builtin_version = {
    .name = "version", .type = PERC_OPT_FLAG, .help = "print the version and exit"};

typedef struct entry {
    const perc_opt *opt;
    int builtin;
    char *env;                  /* PREFIX_NAME */
    char *text;                 /* the value as given (owned), NULL: unset */
    perc_config_source source;
    uint64_t u;
    bool flag;
    perc_hostport hp;
    perc_log_level level;
} entry;

struct perc_config {
    entry *e;
    size_t n;
};

static void entries_free(entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_free(e[i].env);
        g_free(e[i].text);
    }
    g_free(e);
}

void perc_config_free(perc_config *cfg)
{
    if (!cfg)
        return;
    entries_free(cfg->e, cfg->n);
    g_free(cfg);
}

static char *env_name(const char *prefix, const char *name)
{
    GString *s = g_string_new(prefix ? prefix : "");
    if (s->len && s->str[s->len - 1] != '_')
        g_string_append_c(s, '_');
    for (const char *p = name; *p; p++)
        g_string_append_c(s, *p == '-' ? '_' : g_ascii_toupper(*p));
    return g_string_free(s, FALSE);
}

static gboolean name_ok(const char *name)
{
    if (!name || !*name || name[0] == '-' || strncmp(name, "no-", 3) == 0)
        return FALSE;
    for (const char *p = name; *p; p++)
        if (!(g_ascii_islower(*p) || g_ascii_isdigit(*p) || *p == '-'))
            return FALSE;
    return TRUE;
}

static gboolean parse_bool(const char *t, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(t, yes[i]) == 0) {
            *out = true;
            return TRUE;
        }
        if (g_ascii_strcasecmp(t, no[i]) == 0) {
            *out = false;
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean parse_u64(const char *t, uint64_t *out)
{
    if (!*t)
        return FALSE;
    uint64_t v = 0;
    for (; *t; t++) {
        if (!g_ascii_isdigit(*t))
            return FALSE;
        unsigned d = (unsigned)(*t - '0');
        if (v > (UINT64_MAX - d) / 10)
            return FALSE;
        v = v * 10 + d;
    }
    *out = v;
    return TRUE;
}

static uint64_t opt_max(const perc_opt *o)
{
    return o->max ? o->max : UINT64_MAX;
}

/* Validates and converts e->text. `label` names the source in messages.
 * check_files: FILE options must exist (not when checking a spec). */
static gboolean convert(entry *e, const char *label, gboolean check_files, GError **error)
{
    const perc_opt *o = e->opt;
    const char *t = e->text;
    if (e->builtin == BUILTIN_LOG_LEVEL) {
        if (!perc_log_level_parse(t, &e->level)) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                        "%s: '%s' is not a log level (error, warn, info or debug)", label, t);
            return FALSE;
        }
        return TRUE;
    }
    switch (o->type) {
    case PERC_OPT_STRING:
        if (!*t) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG, "%s: empty value",
                        label);
            return FALSE;
        }
        return TRUE;
    case PERC_OPT_HOSTPORT: {
        GError *inner = NULL;
        if (!perc_hostport_parse(t, &e->hp, &inner)) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG, "%s: %s", label,
                        inner->message);
            g_error_free(inner);
            return FALSE;
        }
        return TRUE;
    }
    case PERC_OPT_UINT:
        if (!parse_u64(t, &e->u)) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                        "%s: '%s' is not a non-negative decimal integer", label, t);
            return FALSE;
        }
        if (e->u < o->min || e->u > opt_max(o)) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                        "%s: %" G_GUINT64_FORMAT " is out of range %" G_GUINT64_FORMAT
                        "..%" G_GUINT64_FORMAT,
                        label, e->u, o->min, opt_max(o));
            return FALSE;
        }
        return TRUE;
    case PERC_OPT_FLAG:
        if (!parse_bool(t, &e->flag)) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                        "%s: '%s' is not a boolean (true/false, yes/no, on/off, 1/0)", label,
                        t);
            return FALSE;
        }
        return TRUE;
    case PERC_OPT_FILE: {
        if (!*t) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG, "%s: empty path",
                        label);
            return FALSE;
        }
        if (!check_files)
            return TRUE;
        struct stat st;
        if (stat(t, &st) != 0) {
            int err = errno;
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG, "%s: %s: %s",
                        label, t, g_strerror(err));
            return FALSE;
        }
        if (!S_ISREG(st.st_mode)) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                        "%s: %s: not a regular file", label, t);
            return FALSE;
        }
        if (access(t, R_OK) != 0) {
            int err = errno;
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG, "%s: %s: %s",
                        label, t, g_strerror(err));
            return FALSE;
        }
        return TRUE;
    }
    }
    g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID, "%s: unknown option type",
                label);
    return FALSE;
}

/* The table: the declared options, then the built-ins. */
static entry *build_table(const perc_config_spec *spec, size_t *n_out, GError **error)
{
    size_t n = spec->n_opts + 3;
    entry *e = g_new0(entry, n);
    for (size_t i = 0; i < spec->n_opts; i++)
        e[i].opt = &spec->opts[i];
    e[spec->n_opts] = (entry){.opt = &builtin_log_level, .builtin = BUILTIN_LOG_LEVEL};
    e[spec->n_opts + 1] = (entry){.opt = &builtin_help, .builtin = BUILTIN_HELP};
    e[spec->n_opts + 2] = (entry){.opt = &builtin_version, .builtin = BUILTIN_VERSION};

    for (size_t i = 0; i < n; i++) {
        const perc_opt *o = e[i].opt;
        if (!name_ok(o->name)) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                        "spec: invalid option name '%s'", o->name ? o->name : "(null)");
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(e[j].opt->name, o->name) == 0) {
                g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                            "spec: option --%s declared twice (or reserved)", o->name);
                goto fail;
            }
        }
        if (o->type == PERC_OPT_UINT && o->min > opt_max(o)) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                        "spec: --%s has min > max", o->name);
            goto fail;
        }
        e[i].env = env_name(spec->env_prefix, o->name);
        if (o->def) {
            /* A default must pass its own type (files are checked only when
             * the default is actually used). */
            e[i].text = g_strdup(o->def);
            char *label = g_strdup_printf("spec: default of --%s", o->name);
            GError *inner = NULL;
            gboolean ok = convert(&e[i], label, FALSE, &inner);
            g_free(label);
            g_free(e[i].text);
            e[i].text = NULL;
            if (!ok) {
                g_set_error_literal(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                                    inner->message);
                g_error_free(inner);
                goto fail;
            }
        }
    }
    *n_out = n;
    return e;
fail:
    entries_free(e, n);
    return NULL;
}

static void set_value(entry *e, const char *text, perc_config_source src)
{
    g_free(e->text);
    e->text = g_strdup(text);
    e->source = src;
}

static const char *env_lookup(const char *const *envp, const char *name)
{
    if (!envp)
        return g_getenv(name);
    size_t len = strlen(name);
    for (; *envp; envp++)
        if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
            return *envp + len + 1;
    return NULL;
}

perc_config *perc_config_parse(const perc_config_spec *spec, int argc, char *const *argv,
                               const char *const *envp, perc_config_action *action,
                               GError **error)
{
    g_return_val_if_fail(spec != NULL && action != NULL, NULL);
    g_return_val_if_fail(spec->opts != NULL || spec->n_opts == 0, NULL);
    *action = PERC_CONFIG_RUN;
    size_t n = 0;
    entry *e = build_table(spec, &n, error);
    if (!e)
        return NULL;

    /* 1. The command line: record raw text; convert after the environment so
     *    that precedence is settled first. */
    gboolean options_done = FALSE;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || strncmp(arg, "--", 2) != 0) {
            if (!options_done && strcmp(arg, "-h") == 0) {
                *action = PERC_CONFIG_HELP;
                goto no_config;
            }
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                        arg[0] == '-' && !options_done ? "unknown option %s"
                                                       : "unexpected argument '%s'",
                        arg);
            goto no_config;
        }
        if (arg[2] == '\0') {
            options_done = TRUE;
            continue;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        gboolean negated = FALSE;
        entry *hit = NULL;
        for (size_t k = 0; k < n && !hit; k++) {
            const char *on = e[k].opt->name;
            if (strlen(on) == name_len && strncmp(on, name, name_len) == 0)
                hit = &e[k];
            else if (e[k].opt->type == PERC_OPT_FLAG && !e[k].builtin && name_len > 3 &&
                     strncmp(name, "no-", 3) == 0 && strlen(on) == name_len - 3 &&
                     strncmp(on, name + 3, name_len - 3) == 0) {
                hit = &e[k];
                negated = TRUE;
            }
        }
        if (!hit) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                        "unknown option --%.*s", (int)name_len, name);
            goto no_config;
        }
        if (hit->builtin == BUILTIN_HELP || hit->builtin == BUILTIN_VERSION) {
            if (eq) {
                g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                            "--%s takes no value", hit->opt->name);
                goto no_config;
            }
            *action = hit->builtin == BUILTIN_HELP ? PERC_CONFIG_HELP : PERC_CONFIG_VERSION;
            goto no_config;
        }
        if (hit->opt->type == PERC_OPT_FLAG) {
            if (negated && eq) {
                g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                            "--no-%s takes no value", hit->opt->name);
                goto no_config;
            }
            set_value(hit, eq ? eq + 1 : negated ? "false" : "true", PERC_CONFIG_CLI);
            continue;
        }
        if (eq) {
            set_value(hit, eq + 1, PERC_CONFIG_CLI);
        } else if (i + 1 < argc) {
            set_value(hit, argv[++i], PERC_CONFIG_CLI);
        } else {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                        "--%s needs a value (%s)", hit->opt->name,
                        hit->opt->metavar ? hit->opt->metavar : "see --help");
            goto no_config;
        }
    }

    /* 2. The environment, then 3. defaults, for what the command line left
     *    unset; then convert every value, naming its source on error. */
    for (size_t k = 0; k < n; k++) {
        if (e[k].builtin == BUILTIN_HELP || e[k].builtin == BUILTIN_VERSION)
            continue;
        if (e[k].source == PERC_CONFIG_UNSET) {
            const char *v = env_lookup(envp, e[k].env);
            if (v && *v)
                set_value(&e[k], v, PERC_CONFIG_ENV);
            else if (e[k].opt->def)
                set_value(&e[k], e[k].opt->def, PERC_CONFIG_DEFAULT);
        }
        if (e[k].source == PERC_CONFIG_UNSET) {
            if (e[k].opt->required) {
                g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                            "--%s is required (or %s)", e[k].opt->name, e[k].env);
                goto no_config;
            }
            continue;
        }
        char *label = e[k].source == PERC_CONFIG_CLI   ? g_strdup_printf("--%s", e[k].opt->name)
                      : e[k].source == PERC_CONFIG_ENV ? g_strdup(e[k].env)
                                                       : g_strdup_printf("--%s (default)",
                                                                         e[k].opt->name);
        gboolean ok = convert(&e[k], label, TRUE, error);
        g_free(label);
        if (!ok)
            goto no_config;
    }

    perc_config *cfg = g_new0(perc_config, 1);
    cfg->e = e;
    cfg->n = n;
    return cfg;

no_config:
    entries_free(e, n);
    return NULL;
}

char *perc_config_help(const perc_config_spec *spec)
{
    g_return_val_if_fail(spec != NULL, NULL);
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "Usage: %s [OPTION]...\n", spec->program ? spec->program : "");
    if (spec->summary)
        g_string_append_printf(s, "%s\n", spec->summary);
    g_string_append(s, "\nOptions (each can also be set through the environment variable shown;\n"
                       "the command line wins over the environment, which wins over the "
                       "default):\n");
    size_t total = spec->n_opts + 3;
    for (size_t i = 0; i < total; i++) {
        const perc_opt *o = i < spec->n_opts ? &spec->opts[i]
                            : i == spec->n_opts     ? &builtin_log_level
                            : i == spec->n_opts + 1 ? &builtin_help
                                                    : &builtin_version;
        gboolean builtin_flag = i > spec->n_opts;
        static const char *const type_metavar[] = {"TEXT", "HOST:PORT", "N", "", "FILE"};
        const char *mv = o->metavar ? o->metavar
                         : (size_t)o->type < G_N_ELEMENTS(type_metavar) ? type_metavar[o->type]
                                                                        : "VALUE";
        GString *left = g_string_new(NULL);
        g_string_append_printf(left, "  --%s", o->name);
        if (o->type == PERC_OPT_FLAG && !builtin_flag)
            g_string_append_printf(left, ", --no-%s", o->name);
        else if (o->type != PERC_OPT_FLAG)
            g_string_append_printf(left, " %s", mv);
        const size_t col = 30;
        g_string_append(s, left->str);
        if (left->len + 2 > col) {
            g_string_append_c(s, '\n');
            g_string_append_printf(s, "%*s", (int)col, "");
        } else {
            g_string_append_printf(s, "%*s", (int)(col - left->len), "");
        }
        g_string_free(left, TRUE);
        g_string_append(s, o->help ? o->help : "");
        if (o->type == PERC_OPT_UINT && (o->min || o->max))
            g_string_append_printf(s, " (%" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT ")", o->min,
                                   opt_max(o));
        if (o->required)
            g_string_append(s, " (required)");
        if (o->def)
            g_string_append_printf(s, " [default: %s]", o->def);
        g_string_append_c(s, '\n');
        if (!builtin_flag) {
            char *env = env_name(spec->env_prefix, o->name);
            g_string_append_printf(s, "%*senv %s\n", (int)col, "", env);
            g_free(env);
        }
    }
    return g_string_free(s, FALSE);
}

perc_config *perc_config_parse_or_exit(const perc_config_spec *spec, int argc, char **argv)
{
    GError *err = NULL;
    perc_config_action action = PERC_CONFIG_RUN;
    perc_config *cfg = perc_config_parse(spec, argc, argv, NULL, &action, &err);
    const char *prog = spec && spec->program ? spec->program : "perc";
    if (!cfg && err) {
        fprintf(stderr, "%s: %s\nTry '%s --help'.\n", prog, err->message, prog);
        g_error_free(err);
        exit(2);
    }
    if (action == PERC_CONFIG_HELP) {
        char *h = perc_config_help(spec);
        fputs(h, stdout);
        g_free(h);
        exit(0);
    }
    if (action == PERC_CONFIG_VERSION) {
        printf("%s %s\n", prog, spec->version ? spec->version : "");
        exit(0);
    }
    perc_log_init(prog, perc_config_log_level(cfg));
    return cfg;
}

static const entry *find(const perc_config *cfg, const char *name, perc_opt_type type)
{
    g_return_val_if_fail(cfg != NULL && name != NULL, NULL);
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcmp(cfg->e[i].opt->name, name) == 0) {
            if (cfg->e[i].opt->type != type && !(type == PERC_OPT_STRING &&
                                                  cfg->e[i].opt->type == PERC_OPT_FILE)) {
                g_critical("perc_config: option --%s read with the wrong getter", name);
                return NULL;
            }
            return &cfg->e[i];
        }
    }
    g_critical("perc_config: option --%s was not declared", name);
    return NULL;
}

const char *perc_config_string(const perc_config *cfg, const char *name)
{
    const entry *e = find(cfg, name, PERC_OPT_STRING);
    return e ? e->text : NULL;
}

gboolean perc_config_uint(const perc_config *cfg, const char *name, uint64_t *out)
{
    const entry *e = find(cfg, name, PERC_OPT_UINT);
    if (!e || !e->text)
        return FALSE;
    if (out)
        *out = e->u;
    return TRUE;
}

bool perc_config_flag(const perc_config *cfg, const char *name)
{
    const entry *e = find(cfg, name, PERC_OPT_FLAG);
    return e && e->text && e->flag;
}

gboolean perc_config_hostport(const perc_config *cfg, const char *name, perc_hostport *out)
{
    const entry *e = find(cfg, name, PERC_OPT_HOSTPORT);
    if (!e || !e->text)
        return FALSE;
    if (out)
        *out = e->hp;
    return TRUE;
}

perc_config_source perc_config_source_of(const perc_config *cfg, const char *name)
{
    g_return_val_if_fail(cfg != NULL && name != NULL, PERC_CONFIG_UNSET);
    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->e[i].opt->name, name) == 0)
            return cfg->e[i].source;
    return PERC_CONFIG_UNSET;
}

perc_log_level perc_config_log_level(const perc_config *cfg)
{
    g_return_val_if_fail(cfg != NULL, PERC_LOG_INFO);
    for (size_t i = 0; i < cfg->n; i++)
        if (cfg->e[i].builtin == BUILTIN_LOG_LEVEL)
            return cfg->e[i].text ? cfg->e[i].level : PERC_LOG_INFO;
    return PERC_LOG_INFO;
}

void perc_config_usage_exit(const perc_config_spec *spec, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", spec->program);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", spec->program);
    exit(code);
}

size_t perc_config_fingerprints(const char *text, uint8_t (*out)[32], size_t max,
                                const char **why, char *bad, size_t bad_cap)
{
    size_t n = 0;
    *why = NULL;
    if (bad_cap)
        bad[0] = '\0';
    char **parts = g_strsplit_set(text ? text : "", ", ", -1);
    for (char **p = parts; *p && !*why; p++) {
        if (**p == '\0' || g_ascii_strcasecmp(*p, "sha-256") == 0)
            continue; /* "sha-256 AB:..." split at the space */
        if (n == max) {
            *why = "too many fingerprints";
        } else if (perc_tls_fingerprint_parse(*p, strlen(*p), out[n]) != PERC_OK) {
            *why = "not a SHA-256 fingerprint (32 hex pairs separated by ':')";
            if (bad_cap)
                g_strlcpy(bad, *p, bad_cap);
        } else {
            n++;
        }
    }
    g_strfreev(parts);
    if (!*why && n == 0)
        *why = "no fingerprint given";
    return *why ? 0 : n;
}
