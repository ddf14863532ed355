#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perc/error.h"
#include "perc/hex.h"

int cli_parse(cli_cmd *cmd, int argc, char **argv)
{
    cmd->n_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(cmd->usage, stdout);
            return -1;
        }
        if (strncmp(a, "--", 2) == 0) {
            cli_opt *o = cli_find(cmd, a + 2);
            if (!o)
                return cli_fail(cmd, CLI_EXIT_USAGE, "unknown option %s (see --help)", a);
            if (o->present)
                return cli_fail(cmd, CLI_EXIT_USAGE, "option %s given twice", a);
            o->present = true;
            if (o->takes_value) {
                if (i + 1 >= argc)
                    return cli_fail(cmd, CLI_EXIT_USAGE, "option %s needs a value", a);
                o->value = argv[++i];
            }
            continue;
        }
        if (cmd->n_pos >= cmd->max_pos)
            return cli_fail(cmd, CLI_EXIT_USAGE, "unexpected argument '%.40s' (see --help)", a);
        cmd->pos[cmd->n_pos++] = a;
    }
    return 0;
}

cli_opt *cli_find(cli_cmd *cmd, const char *name)
{
    for (size_t i = 0; i < cmd->n_opts; i++)
        if (strcmp(cmd->opts[i].name, name) == 0)
            return &cmd->opts[i];
    return NULL;
}

bool cli_has(cli_cmd *cmd, const char *name)
{
    cli_opt *o = cli_find(cmd, name);
    return o && o->present;
}

int cli_fail(const cli_cmd *cmd, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cmd->prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

char *cli_read_stdin(void)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= 4 * CLI_MAX_BYTES) { /* hex of the largest input and then some */
                free(buf);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - 1 - len, stdin);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(stdin)) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

int cli_hex_arg(const cli_cmd *cmd, const char *what, const char *text, uint8_t *out, size_t cap,
                size_t *len)
{
    char *owned = NULL;
    if (strcmp(text, "-") == 0) {
        owned = cli_read_stdin();
        if (!owned)
            return cli_fail(cmd, CLI_EXIT_USAGE, "%s: cannot read stdin", what);
        text = owned;
    }
    int rc = perc_hex_decode(text, out, cap, len);
    free(owned);
    if (rc == PERC_ERR_NOSPACE)
        return cli_fail(cmd, CLI_EXIT_USAGE, "%s: longer than %zu bytes", what, cap);
    if (rc != PERC_OK)
        return cli_fail(cmd, CLI_EXIT_USAGE, "%s: not valid hex (need an even number of hex digits)",
                        what);
    return 0;
}

int cli_hex_opt(cli_cmd *cmd, const char *name, uint8_t *out, size_t cap, size_t *len)
{
    cli_opt *o = cli_find(cmd, name);
    if (!o || !o->present)
        return cli_fail(cmd, CLI_EXIT_USAGE, "missing --%s", name);
    char what[64];
    snprintf(what, sizeof what, "--%s", name);
    return cli_hex_arg(cmd, what, o->value, out, cap, len);
}

int cli_uint_opt(cli_cmd *cmd, const char *name, uint64_t max, uint64_t dflt, uint64_t *out)
{
    cli_opt *o = cli_find(cmd, name);
    if (!o || !o->present) {
        *out = dflt;
        return 0;
    }
    const char *s = o->value;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (*s == '\0' || *s == '-' || *end != '\0' || errno == ERANGE)
        return cli_fail(cmd, CLI_EXIT_USAGE, "--%s: '%.40s' is not an unsigned integer", name, s);
    if (v > max)
        return cli_fail(cmd, CLI_EXIT_USAGE, "--%s: %llu is larger than %llu", name, v,
                        (unsigned long long)max);
    *out = v;
    return 0;
}

int cli_hex_positional(cli_cmd *cmd, const char *what, uint8_t *out, size_t cap, size_t *len)
{
    if (cmd->n_pos != 1)
        return cli_fail(cmd, CLI_EXIT_USAGE, "expected one %s argument (hex, or - for stdin)", what);
    return cli_hex_arg(cmd, what, cmd->pos[0], out, cap, len);
}

int cli_choice_opt(cli_cmd *cmd, const char *name, const char *const *choices, size_t n,
                   size_t *index)
{
    cli_opt *o = cli_find(cmd, name);
    if (!o || !o->present)
        return cli_fail(cmd, CLI_EXIT_USAGE, "missing --%s", name);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(o->value, choices[i]) == 0) {
            *index = i;
            return 0;
        }
    }
    return cli_fail(cmd, CLI_EXIT_USAGE, "--%s: unknown value '%.40s'", name, o->value);
}

void cli_print_hex(const uint8_t *p, size_t len)
{
    static const char DIGITS[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        putchar(DIGITS[p[i] >> 4]);
        putchar(DIGITS[p[i] & 0x0F]);
    }
    putchar('\n');
}

int cli_perc_fail(const cli_cmd *cmd, int perc_rc, const char *what)
{
    int code = (perc_rc <= -100 && perc_rc > -200) ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
    return cli_fail(cmd, code, "%s: %s (%s)", what, perc_strerror(perc_rc), perc_err_name(perc_rc));
}
