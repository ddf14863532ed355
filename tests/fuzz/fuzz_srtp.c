/* libFuzzer target for SRTP/SRTCP (perc/srtp.h).
 *
 * 1. The input as a received SRTP packet and as a received SRTCP packet,
 *    through the session and through a context: never a crash or an
 *    out-of-bounds read; whatever does open re-seals to the same bytes,
 *    and a second delivery to a context is a replay.
 * 2. When the input parses as RTP: seal then open must give back exactly
 *    the input, the header must stay in the clear, and the sealed packet
 *    with one bit flipped must not open. Same through a context pair.
 * 3. When the input looks like RTCP: SRTCP seal then open, both E forms,
 *    must give back the input, its index and its E bit.
 * Any broken invariant abort()s so the fuzzer reports it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/rtp.h"
#include "perc/srtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IN 4096
#define CAP (MAX_IN + PERC_SRTP_TAG_LEN + PERC_SRTCP_TRAILER_LEN)

static const uint8_t KEY[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t SALT[12] = {0x51, 0x75, 0x69, 0x64, 0x20, 0x70,
                                 0x72, 0x6f, 0x20, 0x71, 0x75, 0x6f};

static perc_srtp_session_keys g_keys;
static perc_srtp_session *g_session;

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void init_once(void)
{
    if (g_session)
        return;
    check(perc_srtp_keys_direct(PERC_AES128_GCM, KEY, sizeof KEY, SALT, sizeof SALT, &g_keys) ==
          PERC_OK);
    check(perc_srtp_session_new(&g_keys, &g_session) == PERC_OK);
}

static void receive(const uint8_t *data, size_t size, uint32_t roc)
{
    uint8_t buf[CAP];
    size_t n, m;
    uint32_t index;
    bool enc;
    /* Mutated input almost never authenticates; when it does (a seed is a
     * real packet under this key), sealing the result again must give
     * back exactly the input. */
    memcpy(buf, data, size);
    if (perc_srtp_open(g_session, buf, size, roc, &n) == PERC_OK) {
        check(n + PERC_SRTP_TAG_LEN == size);
        check(perc_srtp_seal(g_session, buf, n, sizeof buf, roc, &m) == PERC_OK);
        check(m == size && memcmp(buf, data, size) == 0);
    }
    memcpy(buf, data, size);
    if (perc_srtcp_open(g_session, buf, size, &index, &enc, &n) == PERC_OK) {
        check(n + PERC_SRTP_TAG_LEN + PERC_SRTCP_TRAILER_LEN == size);
        check(perc_srtcp_seal(g_session, buf, n, sizeof buf, index, enc, &m) == PERC_OK);
        check(m == size && memcmp(buf, data, size) == 0);
    }

    perc_srtp_ctx *ctx = NULL;
    check(perc_srtp_ctx_new(&g_keys, 4, &ctx) == PERC_OK);
    memcpy(buf, data, size);
    if (perc_srtp_unprotect(ctx, buf, size, &n) == PERC_OK) {
        check(n + PERC_SRTP_TAG_LEN == size);
        /* a second delivery is a replay */
        memcpy(buf, data, size);
        check(perc_srtp_unprotect(ctx, buf, size, &n) == PERC_ERR_REPLAY);
    }
    memcpy(buf, data, size);
    if (perc_srtcp_unprotect(ctx, buf, size, &n) == PERC_OK) {
        check(n + PERC_SRTP_TAG_LEN + PERC_SRTCP_TRAILER_LEN == size);
        memcpy(buf, data, size);
        check(perc_srtcp_unprotect(ctx, buf, size, &n) == PERC_ERR_REPLAY);
    }
    perc_srtp_ctx_free(ctx);
}

static void rtp_round_trip(const uint8_t *data, size_t size, uint32_t roc)
{
    perc_rtp_header h;
    if (perc_rtp_parse_header(data, size, &h) != PERC_OK)
        return;
    uint8_t buf[CAP];
    size_t n = 0, m = 0;
    memcpy(buf, data, size);
    check(perc_srtp_seal(g_session, buf, size, sizeof buf, roc, &n) == PERC_OK);
    check(n == size + PERC_SRTP_TAG_LEN);
    check(memcmp(buf, data, h.header_len) == 0); /* RFC 7714 §8: header in the clear */

    /* one flipped bit (chosen by the input) must not open */
    uint8_t bad[CAP];
    memcpy(bad, buf, n);
    size_t bit = (size_t)(data[size - 1] * 31u + size) % (n * 8);
    bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    check(perc_srtp_open(g_session, bad, n, roc, &m) != PERC_OK);

    check(perc_srtp_open(g_session, buf, n, roc, &m) == PERC_OK);
    check(m == size && memcmp(buf, data, size) == 0);

    /* the same through a sender and a receiver context */
    perc_srtp_ctx *tx = NULL, *rx = NULL;
    check(perc_srtp_ctx_new(&g_keys, 1, &tx) == PERC_OK);
    check(perc_srtp_ctx_new(&g_keys, 1, &rx) == PERC_OK);
    check(perc_srtp_ctx_set_roc(tx, h.ssrc, roc) == PERC_OK);
    check(perc_srtp_ctx_set_roc(rx, h.ssrc, roc) == PERC_OK);
    memcpy(buf, data, size);
    check(perc_srtp_protect(tx, buf, size, sizeof buf, &n) == PERC_OK);
    memcpy(bad, buf, n);
    check(perc_srtp_unprotect(rx, buf, n, &m) == PERC_OK);
    check(m == size && memcmp(buf, data, size) == 0);
    check(perc_srtp_unprotect(rx, bad, n, &m) == PERC_ERR_REPLAY);
    perc_srtp_ctx_free(tx);
    perc_srtp_ctx_free(rx);
}

static void rtcp_round_trip(const uint8_t *data, size_t size, uint32_t index)
{
    if (size < 8 || (data[0] >> 6) != 2)
        return;
    for (int e = 0; e < 2; e++) {
        uint8_t buf[CAP];
        size_t n = 0, m = 0;
        uint32_t got = 0;
        bool enc = false;
        memcpy(buf, data, size);
        check(perc_srtcp_seal(g_session, buf, size, sizeof buf, index, e != 0, &n) == PERC_OK);
        check(n == size + PERC_SRTP_TAG_LEN + PERC_SRTCP_TRAILER_LEN);
        check(memcmp(buf, data, 8) == 0);
        if (!e)
            check(memcmp(buf, data, size) == 0); /* E = 0: authenticated only */
        check(perc_srtcp_open(g_session, buf, n, &got, &enc, &m) == PERC_OK);
        check(m == size && memcmp(buf, data, size) == 0);
        check(got == index && enc == (e != 0));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > MAX_IN)
        return 0;
    init_once();
    uint32_t word = size >= 4 ? perc_load_u32(data + size - 4) : (uint32_t)size;
    receive(data, size, word & 3);
    rtp_round_trip(data, size, word >> 8);
    rtcp_round_trip(data, size, word & 0x7FFFFFFFu);
    return 0;
}
