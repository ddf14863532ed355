/* The --keylog option of the daemons: NSS key log lines (DTLS and TLS
 * secrets, for Wireshark/tshark) appended to one file per process. DEBUG
 * ONLY: whoever reads the file decrypts the handshakes, and through them
 * the EKTKeys and hop keys. The file is created 0600; opening it logs a
 * warning that says so. */
#ifndef PERC_DAEMON_KEYLOG_H
#define PERC_DAEMON_KEYLOG_H

#include <glib.h>

/* Opens (appends to) path. Errors: G_FILE_ERROR with "path: reason". */
G_GNUC_WARN_UNUSED_RESULT gboolean perc_keylog_open(const char *path, GError **error);
/* Whether a key log is open. */
gboolean perc_keylog_enabled(void);
/* A perc_tls / perc_dtls keylog callback: one line, flushed at once. */
void perc_keylog_line(void *user, const char *line);
void perc_keylog_close(void);

#endif
