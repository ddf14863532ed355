/* Leveled logging to stderr (see perc_daemon/log.h). */
#include "perc_daemon/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static GMutex log_lock;
static char log_program[64] = "perc";
/* Read without the lock by perc_log_enabled(), through GLib's atomics. */
static gint log_level = PERC_LOG_INFO;
static perc_log_sink_fn log_sink;
static void *log_sink_user;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void perc_log_init(const char *program, perc_log_level level)
{
    g_mutex_lock(&log_lock);
    if (program && *program) {
        /* Only the last path component: argv[0] may be a full path. */
        const char *slash = strrchr(program, '/');
        g_strlcpy(log_program, slash && slash[1] ? slash + 1 : program, sizeof log_program);
    }
    g_mutex_unlock(&log_lock);
    perc_log_set_level(level);
}

void perc_log_set_level(perc_log_level level)
{
    if (level > PERC_LOG_DEBUG)
        level = PERC_LOG_DEBUG;
    g_atomic_int_set(&log_level, (gint)level);
}

perc_log_level perc_log_get_level(void)
{
    return (perc_log_level)g_atomic_int_get(&log_level);
}

bool perc_log_enabled(perc_log_level level)
{
    return (gint)level <= g_atomic_int_get(&log_level);
}

gboolean perc_log_level_parse(const char *text, perc_log_level *out)
{
    if (!text || !out)
        return FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS(level_names); i++) {
        if (g_ascii_strcasecmp(text, level_names[i]) == 0) {
            *out = (perc_log_level)i;
            return TRUE;
        }
    }
    if (g_ascii_strcasecmp(text, "warning") == 0) {
        *out = PERC_LOG_WARN;
        return TRUE;
    }
    return FALSE;
}

const char *perc_log_level_name(perc_log_level level)
{
    return (size_t)level < G_N_ELEMENTS(level_names) ? level_names[level] : "?";
}

void perc_log_set_sink(perc_log_sink_fn sink, void *user)
{
    g_mutex_lock(&log_lock);
    log_sink = sink;
    log_sink_user = user;
    g_mutex_unlock(&log_lock);
}

/* Control characters from peers must not start a new log line or move the
 * terminal cursor. */
static void sanitize(char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            *s = '?';
    }
}

void perc_logv(perc_log_level level, const char *fmt, va_list ap)
{
    if (!perc_log_enabled(level) || !fmt)
        return;
    char line[PERC_LOG_LINE_MAX + 2];
    gint64 now_us = g_get_monotonic_time();

    g_mutex_lock(&log_lock);
    int head = snprintf(line, PERC_LOG_LINE_MAX + 1, "%" G_GINT64_FORMAT ".%06" G_GINT64_FORMAT
                        " %s[%ld] %s: ", now_us / G_USEC_PER_SEC, now_us % G_USEC_PER_SEC,
                        log_program, (long)getpid(), perc_log_level_name(level));
    if (head < 0)
        head = 0;
    size_t used = (size_t)head < PERC_LOG_LINE_MAX ? (size_t)head : PERC_LOG_LINE_MAX;
    int body = vsnprintf(line + used, PERC_LOG_LINE_MAX + 1 - used, fmt, ap);
    if (body > 0 && used + (size_t)body > PERC_LOG_LINE_MAX)
        memcpy(line + PERC_LOG_LINE_MAX - 3, "...", 4);
    sanitize(line + used);

    if (log_sink) {
        log_sink(log_sink_user, level, line);
    } else {
        size_t n = strlen(line);
        line[n] = '\n';
        /* One write per line, so lines of concurrent writers never mix. */
        fwrite(line, 1, n + 1, stderr);
        fflush(stderr);
    }
    g_mutex_unlock(&log_lock);
}

void perc_log(perc_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    perc_logv(level, fmt, ap);
    va_end(ap);
}

void perc_log_hex_public(perc_log_level level, const char *label, const void *data, size_t len)
{
    if (!perc_log_enabled(level))
        return;
    static const char digits[] = "0123456789abcdef";
    char hex[2 * PERC_LOG_HEX_MAX + 4];
    size_t shown = len < PERC_LOG_HEX_MAX ? len : PERC_LOG_HEX_MAX;
    const uint8_t *p = data;
    size_t o = 0;
    for (size_t i = 0; p && i < shown; i++) {
        hex[o++] = digits[p[i] >> 4];
        hex[o++] = digits[p[i] & 0x0f];
    }
    if (shown < len) {
        memcpy(hex + o, "...", 3);
        o += 3;
    }
    hex[o] = '\0';
    perc_log(level, "%s (%zu bytes): %s", label ? label : "data", len, hex);
}

void perc_log_limited(perc_log_limiter *lim, perc_log_level level, const char *fmt, ...)
{
    if (!perc_log_enabled(level) || !fmt)
        return;
    int64_t now = g_get_monotonic_time();
    if (lim->lines == 0 || now - lim->window_start_us >= PERC_LOG_LIMIT_WINDOW_S * G_USEC_PER_SEC) {
        lim->window_start_us = now;
        lim->lines = 0;
    }
    if (lim->lines >= PERC_LOG_LIMIT_BURST) {
        lim->suppressed++;
        return;
    }
    lim->lines++;
    char msg[PERC_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (lim->suppressed) {
        perc_log(level, "%s (%" G_GUINT64_FORMAT " similar lines suppressed)", msg,
                 lim->suppressed);
        lim->suppressed = 0;
    } else {
        perc_log(level, "%s", msg);
    }
}
