/* A re-targetable file-descriptor watch (see fdwatch.h). */
#include "fdwatch.h"

typedef struct fd_source {
    GSource base;
    fdwatch *w;
} fd_source;

struct fdwatch {
    fd_source *src;
    gpointer tag;
    GIOCondition cond;
    fdwatch_fn fn;
    void *user;
};

static gboolean fd_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    (void)cb, (void)data;
    fdwatch *w = ((fd_source *)source)->w;
    if (!w)
        return G_SOURCE_REMOVE;
    GIOCondition ready = g_source_query_unix_fd(source, w->tag);
    if (ready)
        w->fn(w->user, ready); /* w may be gone after this */
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs fd_funcs = {
    .prepare = NULL,
    .check = NULL,
    .dispatch = fd_dispatch,
    .finalize = NULL,
};

fdwatch *fdwatch_new(GMainContext *ctx, int fd, GIOCondition cond, fdwatch_fn fn, void *user)
{
    fdwatch *w = g_new0(fdwatch, 1);
    w->fn = fn;
    w->user = user;
    w->cond = cond;
    w->src = (fd_source *)g_source_new(&fd_funcs, sizeof(fd_source));
    w->src->w = w;
    g_source_set_name(&w->src->base, "perc-fdwatch");
    w->tag = g_source_add_unix_fd(&w->src->base, fd, cond);
    g_source_attach(&w->src->base, ctx);
    return w;
}

void fdwatch_set(fdwatch *w, GIOCondition cond)
{
    if (w->cond == cond)
        return;
    w->cond = cond;
    g_source_modify_unix_fd(&w->src->base, w->tag, cond);
}

GIOCondition fdwatch_get(const fdwatch *w)
{
    return w->cond;
}

void fdwatch_free(fdwatch *w)
{
    if (!w)
        return;
    w->src->w = NULL;
    g_source_remove_unix_fd(&w->src->base, w->tag);
    g_source_destroy(&w->src->base);
    g_source_unref(&w->src->base);
    g_free(w);
}
