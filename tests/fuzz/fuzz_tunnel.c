/* Fuzz target for the RFC 9185 tunnel codec and framer.
 *
 * The input is a tunnel byte stream. Invariants checked:
 *   1. Every whole message in it that decodes re-encodes to exactly its own
 *      bytes, with the announced length; cutting its last octet makes it
 *      fail as truncated.
 *   2. The framer, fed the stream in pseudo-random chunk sizes (derived from
 *      the input, so a crash reproduces), yields the same messages with the
 *      same results as walking the stream by the length fields.
 *   3. UUID text that parses formats back to a UUID that parses the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/bytes.h"
#include "perc/tunnel.h"
#include "perc/tunnel_framer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t g_out[PERC_TUNNEL_MAX_MSG];

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

/* Decodes one whole frame and checks the round trip; returns the decode
 * result. */
static int check_frame(const uint8_t *frame, size_t len)
{
    perc_tunnel_msg m;
    int rc = perc_tunnel_decode(frame, len, &m);
    if (rc != PERC_OK)
        return rc;
    size_t want;
    if (perc_tunnel_encoded_len(&m, &want) != PERC_OK || want != len)
        abort();
    perc_writer w;
    perc_writer_init(&w, g_out, sizeof g_out);
    size_t n;
    if (perc_tunnel_encode(&w, &m) != PERC_OK || perc_writer_finish(&w, &n) != PERC_OK ||
        n != len || memcmp(g_out, frame, len) != 0)
        abort();
    perc_tunnel_msg cut;
    if (perc_tunnel_decode(frame, len - 1, &cut) != PERC_ERR_TRUNCATED)
        abort();
    if (m.type == PERC_TUNNEL_MEDIA_KEYS)
        (void)perc_tunnel_media_keys_check(&m.media_keys);
    if (m.type == PERC_TUNNEL_SUPPORTED_PROFILES) {
        size_t count = perc_tunnel_profile_count(&m.supported_profiles);
        if (count == 0 || !perc_tunnel_profiles_contain(&m.supported_profiles,
                                                        perc_tunnel_profile_at(&m.supported_profiles,
                                                                               count - 1)))
            abort();
    }
    return rc;
}

/* The whole-buffer walk: the frame at *off, or false at the end. */
static bool next_frame(const uint8_t *data, size_t size, size_t *off, size_t *len)
{
    uint8_t type;
    size_t n;
    if (perc_tunnel_peek(data + *off, size - *off, &type, &n) != PERC_OK || n > size - *off)
        return false;
    *len = n;
    return true;
}

static void check_uuid_text(const uint8_t *data, size_t size)
{
    if (size < PERC_UUID_TEXT_LEN)
        return;
    perc_uuid u, back;
    if (perc_uuid_parse((const char *)data, PERC_UUID_TEXT_LEN, &u) != PERC_OK)
        return;
    char text[PERC_UUID_TEXT_LEN + 1];
    if (perc_uuid_format(&u, text, sizeof text) != PERC_OK ||
        perc_uuid_parse(text, PERC_UUID_TEXT_LEN, &back) != PERC_OK || !perc_uuid_equal(&u, &back))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The input taken as a single message, trailing bytes and all. */
    perc_tunnel_msg whole;
    if (perc_tunnel_decode(data, size, &whole) == PERC_OK && check_frame(data, size) != PERC_OK)
        abort();
    check_uuid_text(data, size);

    perc_tunnel_framer *f;
    if (perc_tunnel_framer_new(&f) != PERC_OK)
        return 0;

    uint64_t seed = 0xcbf29ce484222325ull ^ size;
    for (size_t i = 0; i < size && i < 64; i++)
        seed = (seed ^ data[i]) * 0x100000001b3ull;
    if (seed == 0)
        seed = 1;

    size_t fed = 0, walked = 0;
    while (fed < size) {
        uint64_t r = next_rand(&seed);
        size_t chunk = (r & 7) == 0 ? (size_t)(r >> 8) % 70000 : 1 + (size_t)(r >> 8) % 24;
        if (chunk > size - fed)
            chunk = size - fed;
        size_t took;
        int rc = perc_tunnel_framer_feed(f, data + fed, chunk, &took);
        if (rc != PERC_OK && !(rc == PERC_ERR_LIMIT && chunk > 0 && took == 0))
            abort();
        fed += took;
        for (;;) {
            perc_tunnel_msg m;
            bool have;
            rc = perc_tunnel_framer_next(f, &m, &have);
            if (!have)
                break;
            size_t len;
            if (!next_frame(data, size, &walked, &len))
                abort(); /* the framer made up a message */
            if (m.type != data[walked] || m.body.len != len - PERC_TUNNEL_HEADER_LEN ||
                memcmp(m.body.ptr, data + walked + PERC_TUNNEL_HEADER_LEN, m.body.len) != 0)
                abort();
            if (check_frame(data + walked, len) != rc)
                abort();
            walked += len;
        }
    }
    /* Everything whole came out; what is left is an incomplete message. */
    size_t len;
    if (next_frame(data, size, &walked, &len) ||
        perc_tunnel_framer_buffered(f) != size - walked)
        abort();
    perc_tunnel_framer_free(f);
    return 0;
}
