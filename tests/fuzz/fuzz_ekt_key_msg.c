/* Fuzz target for the EKTKey handshake message body and the
 * supported_ekt_ciphers extension bodies (perc/ekt.h).
 *
 * Every decoder runs on the whole input. Invariants checked:
 *  - whatever decodes encodes back to exactly the input;
 *  - a decoded EKTKey gives a parameter set for a cipher exactly when its
 *    key has that cipher's length; a failed decode leaves no key bytes;
 *  - a decoded client list always lets the server select one of its own
 *    ciphers or report that there is none.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/ekt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i])
            return 0;
    }
    return 1;
}

static void key_msg(const uint8_t *data, size_t size)
{
    static perc_ekt_key_msg m;
    static uint8_t out[2 + 256 + 2 + 256 + 2 + 3];
    memset(&m, 0x5A, sizeof m);
    if (perc_ekt_key_msg_decode(data, size, &m) != PERC_OK) {
        CHECK(all_zero(&m, sizeof m));
        return;
    }
    size_t n = 0;
    CHECK(perc_ekt_key_msg_encode(&m, out, sizeof out, &n) == PERC_OK);
    CHECK(n == size && memcmp(out, data, n) == 0);

    for (uint8_t c = 1; c <= 2; c++) {
        perc_ekt_params p;
        int rc = perc_ekt_params_from_msg(&p, c, &m, 0);
        CHECK((rc == PERC_OK) == (m.key_len == perc_ekt_cipher_key_len(c)));
        if (rc == PERC_OK) {
            CHECK(p.spi == m.spi && p.ttl_s == m.ttl_s && p.salt_len == m.salt_len);
            CHECK(memcmp(p.key, m.key, p.key_len) == 0);
        }
        perc_ekt_params_wipe(&p);
    }
    perc_ekt_key_msg_wipe(&m);
}

static void client_ext(const uint8_t *data, size_t size)
{
    uint8_t list[PERC_EKT_MAX_CIPHERS], out[1 + PERC_EKT_MAX_CIPHERS];
    size_t count = 0, n = 0;
    if (perc_ekt_ciphers_client_decode(data, size, list, sizeof list, &count) != PERC_OK)
        return;
    CHECK(count >= 1 && count <= PERC_EKT_MAX_CIPHERS);
    CHECK(perc_ekt_ciphers_client_encode(list, count, out, sizeof out, &n) == PERC_OK);
    CHECK(n == size && memcmp(out, data, n) == 0);
    const uint8_t ours[] = {PERC_EKT_CIPHER_AESKW_128, PERC_EKT_CIPHER_AESKW_256};
    uint8_t chosen = 0;
    int rc = perc_ekt_cipher_select(list, count, ours, sizeof ours, &chosen);
    CHECK(rc == PERC_OK || rc == PERC_ERR_NOT_FOUND);
    if (rc == PERC_OK) {
        CHECK(chosen == 1 || chosen == 2);
        CHECK(memchr(list, chosen, count) != NULL);
    } else {
        CHECK(memchr(list, 1, count) == NULL && memchr(list, 2, count) == NULL);
    }
}

static void server_ext(const uint8_t *data, size_t size)
{
    uint8_t c = 0, out[1];
    size_t n = 0;
    if (perc_ekt_cipher_server_decode(data, size, &c) != PERC_OK)
        return;
    CHECK(size == 1 && c != 0);
    CHECK(perc_ekt_cipher_server_encode(c, out, sizeof out, &n) == PERC_OK);
    CHECK(n == 1 && out[0] == data[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    key_msg(data, size);
    client_ext(data, size);
    server_ext(data, size);
    return 0;
}
