/* Errors of the daemon I/O library (perc_daemon).
 *
 * Convention for the whole library, chosen because everything here runs on
 * GLib: a fallible call returns gboolean (or a pointer, NULL on failure) and
 * fills a GError. Messages are meant for an operator's log and name what
 * failed ("--listen: port 70000 is out of range 0..65535", "bind
 * 127.0.0.1:4433: Address already in use"). Socket and resolver failures
 * keep GLib's G_IO_ERROR / G_RESOLVER_ERROR domain and code (prefixed with
 * what we were doing); everything else is in PERC_DAEMON_ERROR below. No
 * message ever carries key material.
 *
 * The one exception is perc_daemon_random() (rand.h): its signature is the
 * randomness callback libperc's cores take, so it returns a perc_err.
 */
#ifndef PERC_DAEMON_ERROR_H
#define PERC_DAEMON_ERROR_H

#include <glib.h>

#define PERC_DAEMON_ERROR (perc_daemon_error_quark())

typedef enum perc_daemon_error {
    PERC_DAEMON_ERROR_INVALID = 1, /* bad argument, malformed text (address, option, URL) */
    PERC_DAEMON_ERROR_CONFIG,      /* the command line or environment was rejected */
    PERC_DAEMON_ERROR_STATE,       /* not open yet, or already closed */
    PERC_DAEMON_ERROR_LIMIT,       /* a send queue or message size limit was hit */
    PERC_DAEMON_ERROR_TLS,         /* libperc's TLS layer refused (the message says why) */
    PERC_DAEMON_ERROR_WS,          /* libwebsockets refused */
} perc_daemon_error;

GQuark perc_daemon_error_quark(void);

#endif
