/* Internal: one GSource watching one file descriptor, whose condition can
 * change without re-creating the source (G_IO_OUT comes and goes with a
 * partial write). g_socket_create_source() fixes its condition at creation;
 * this does not. */
#ifndef PERC_DAEMON_FDWATCH_H
#define PERC_DAEMON_FDWATCH_H

#include <glib.h>

typedef struct fdwatch fdwatch;

/* Called with the condition that is ready. May call fdwatch_set or
 * fdwatch_free on its own watch. */
typedef void (*fdwatch_fn)(void *user, GIOCondition ready);

fdwatch *fdwatch_new(GMainContext *ctx, int fd, GIOCondition cond, fdwatch_fn fn, void *user);
void fdwatch_set(fdwatch *w, GIOCondition cond);
GIOCondition fdwatch_get(const fdwatch *w);
void fdwatch_free(fdwatch *w);

#endif
