/* Randomness for the cores on OpenSSL RAND_bytes (see perc_daemon/rand.h). */
#include "perc_daemon/rand.h"

#include <limits.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

int perc_daemon_random(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    if (len == 0)
        return PERC_OK;
    if (!buf)
        return PERC_ERR_INVALID_ARG;
    /* RAND_bytes takes an int length. */
    for (size_t off = 0; off < len;) {
        size_t chunk = len - off > (size_t)INT_MAX ? (size_t)INT_MAX : len - off;
        if (RAND_bytes(buf + off, (int)chunk) != 1) {
            OPENSSL_cleanse(buf, len);
            return PERC_ERR_RANDOM;
        }
        off += chunk;
    }
    return PERC_OK;
}
