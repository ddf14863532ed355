/* The --keylog file: see perc_daemon/keylog.h. */
#include "perc_daemon/keylog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "perc_daemon/log.h"

static FILE *g_keylog;

gboolean perc_keylog_open(const char *path, GError **error)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int err = errno;
    FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (!f) {
        if (fd >= 0) {
            err = errno;
            close(fd);
        }
        g_set_error(error, G_FILE_ERROR, (gint)g_file_error_from_errno(err), "%s: %s", path,
                    g_strerror(err));
        return FALSE;
    }
    if (g_keylog)
        fclose(g_keylog);
    g_keylog = f;
    perc_log_warn("--keylog is enabled: DTLS/TLS secrets are written to %s; DEBUGGING ONLY, "
                  "never in production",
                  path);
    return TRUE;
}

gboolean perc_keylog_enabled(void) { return g_keylog != NULL; }

void perc_keylog_line(void *user, const char *line)
{
    (void)user;
    if (g_keylog) {
        fprintf(g_keylog, "%s\n", line);
        fflush(g_keylog);
    }
}

void perc_keylog_close(void)
{
    if (g_keylog)
        fclose(g_keylog);
    g_keylog = NULL;
}
