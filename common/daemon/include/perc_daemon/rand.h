/* The randomness source libperc's cores take (they own none): the
 * `random` callback of perc_tunnel_md_config, perc_dtls, the EKT sender...
 *
 *     cfg.random = perc_daemon_random;
 *     cfg.random_user = NULL;
 *
 * Backed by OpenSSL's RAND_bytes (its DRBG, seeded from the OS). */
#ifndef PERC_DAEMON_RAND_H
#define PERC_DAEMON_RAND_H

#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"

/* Fills buf with len cryptographically strong random bytes. `user` is
 * ignored. Returns PERC_OK, or PERC_ERR_RANDOM when OpenSSL cannot (buf is
 * then wiped, never left half-filled), or PERC_ERR_INVALID_ARG for a NULL
 * buf with len > 0. Thread-safe. */
PERC_MUST_CHECK int perc_daemon_random(void *user, uint8_t *buf, size_t len);

#endif
