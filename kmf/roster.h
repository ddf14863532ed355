/* perc-kmf's roster file (format: roster.c and kmf/README.md): which
 * conferences exist and who may join each. Needs only the KMF core, so the
 * fuzz target (tests/fuzz/fuzz_roster.c) runs it without the daemon. */
#ifndef PERC_KMF_ROSTER_H
#define PERC_KMF_ROSTER_H

#include <stddef.h>

#include <glib.h>

#include "perc/kmf.h"

/* Most octets a roster file may have, and entries a conference may list. */
#define ROSTER_MAX_FILE (1u << 20)
#define ROSTER_MAX_ENTRIES 4096

/* Parses text (len octets; path names it in messages) and applies it to
 * kmf: every conference it names becomes an explicit conference of the
 * core, open or with its allow list, and its name is added to confs
 * (char* set, owning). FALSE with *error naming the file and what is wrong
 * on any problem; conferences applied before the problem stay (the daemon
 * exits then). */
gboolean kmf_roster_apply(perc_kmf *kmf, GHashTable *confs, const char *path, const char *text,
                          size_t len, GError **error);

/* Reads the file at path and applies it (kmf_roster_apply). */
gboolean kmf_roster_load(perc_kmf *kmf, GHashTable *confs, const char *path, GError **error);

#endif
