/* Handling of secret bytes: every key, salt and EKTKey in libperc passes
 * through these so that wiping and comparison are done one way. */
#ifndef PERC_SECRET_H
#define PERC_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* Overwrites len bytes with zeros in a way the compiler may not drop. */
void perc_wipe(void *p, size_t len);

/* Constant-time equality of two equally long buffers: the time taken does
 * not depend on where they differ. */
bool perc_secret_equal(const void *a, const void *b, size_t len);

#endif
