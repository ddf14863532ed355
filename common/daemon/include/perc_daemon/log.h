/* Leveled logging for the daemons: one line per message on stderr,
 *
 *     12345.678901 perc-kmf[4242] info: tunnel from 10.0.0.2:40312 opened
 *
 * The timestamp is CLOCK_MONOTONIC in seconds (g_get_monotonic_time()), the
 * same clock every process on the machine reads, so the logs of the four
 * daemons in one end-to-end test interleave correctly when sorted.
 *
 * SECRETS ARE NEVER LOGGED. No key, salt, EKTKey, master secret, private key,
 * DTLS/TLS key log line, bearer token or password may be passed to any
 * function here, at any level, in any form (hex, base64, length-revealing
 * prefixes). perc_log_hex_public() exists for public wire data only:
 * fingerprints, SPIs, SSRCs, packet headers. When in doubt, log the length.
 *
 * Control characters in a message (a peer's close reason, a URL path) are
 * replaced by '?', so a peer cannot forge log lines. Lines longer than
 * PERC_LOG_LINE_MAX are cut and end with "...".
 *
 * Thread-safe: lines from several threads never interleave. The level and
 * the sink are process-wide.
 */
#ifndef PERC_DAEMON_LOG_H
#define PERC_DAEMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define PERC_LOG_LINE_MAX 2048

typedef enum perc_log_level {
    PERC_LOG_ERROR = 0, /* the daemon cannot do its job (exits, or a peer is lost for good) */
    PERC_LOG_WARN = 1,  /* something failed and was handled (a refused peer, a retry) */
    PERC_LOG_INFO = 2,  /* lifecycle: listening, connected, joined, closed */
    PERC_LOG_DEBUG = 3, /* per-message detail */
} perc_log_level;

/* Names the program in every line (a copy is kept) and sets the level.
 * Before it is called the name is "perc" and the level PERC_LOG_INFO. */
void perc_log_init(const char *program, perc_log_level level);

void perc_log_set_level(perc_log_level level);
perc_log_level perc_log_get_level(void);

/* Whether a message at `level` would be emitted: guard expensive argument
 * formatting with it. */
bool perc_log_enabled(perc_log_level level);

/* "error", "warn" (or "warning"), "info", "debug", in any case. FALSE on
 * anything else (*out untouched). */
gboolean perc_log_level_parse(const char *text, perc_log_level *out);

/* "error", "warn", "info", "debug"; "?" for an invalid value. */
const char *perc_log_level_name(perc_log_level level);

void perc_log(perc_log_level level, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void perc_logv(perc_log_level level, const char *fmt, va_list ap) G_GNUC_PRINTF(2, 0);

#define perc_log_error(...) perc_log(PERC_LOG_ERROR, __VA_ARGS__)
#define perc_log_warn(...) perc_log(PERC_LOG_WARN, __VA_ARGS__)
#define perc_log_info(...) perc_log(PERC_LOG_INFO, __VA_ARGS__)
#define perc_log_debug(...) perc_log(PERC_LOG_DEBUG, __VA_ARGS__)

/* Logs "<label> (<len> bytes): 0a1b2c..." for PUBLIC data only (see above:
 * never a secret). At most PERC_LOG_HEX_MAX bytes are shown, then "...". */
#define PERC_LOG_HEX_MAX 64
void perc_log_hex_public(perc_log_level level, const char *label, const void *data, size_t len);

/* Rate-limited logging for what a peer can trigger per packet (garbage on
 * a media port, failed authentication): at most PERC_LOG_LIMIT_BURST lines
 * per PERC_LOG_LIMIT_WINDOW_S seconds per limiter; the first line after a
 * window with suppressed lines ends with "(N similar lines suppressed)".
 * A limiter starts zeroed ({0}); one per kind of message. */
#define PERC_LOG_LIMIT_BURST 5
#define PERC_LOG_LIMIT_WINDOW_S 10
typedef struct perc_log_limiter {
    int64_t window_start_us;
    unsigned lines;
    uint64_t suppressed;
} perc_log_limiter;
void perc_log_limited(perc_log_limiter *lim, perc_log_level level, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* Receives each emitted line (formatted as above, without the newline)
 * instead of stderr. NULL restores stderr. For tests, and for a daemon that
 * wants its logs elsewhere. Called with the logging lock held: the sink
 * must not log. */
typedef void (*perc_log_sink_fn)(void *user, perc_log_level level, const char *line);
void perc_log_set_sink(perc_log_sink_fn sink, void *user);

#endif
