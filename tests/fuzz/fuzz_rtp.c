/* Fuzz target for the RTP header parser and RFC 8285 extensions.
 *
 * Invariants checked on every input that parses:
 *  - every view (payload, extension block, elements) lies inside the input;
 *  - writing the parsed packet back gives the input again, except for the
 *    content of padding octets before the count, which are not kept;
 *  - the written packet parses to the same header;
 *  - rebuilding the extension block from the elements the iterator yields
 *    gives a block that iterates to the same elements, and perc_rtp_ext_find
 *    returns the first element of each ID.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

#define MAX_ELEMS 1024

static bool inside(perc_view v, const uint8_t *base, size_t len)
{
    if (v.len == 0)
        return true;
    return v.ptr >= base && v.len <= len && (size_t)(v.ptr - base) <= len - v.len;
}

static void same_header(const perc_rtp_header *a, const perc_rtp_header *b)
{
    CHECK(a->extension == b->extension);
    CHECK(a->csrc_count == b->csrc_count);
    CHECK(a->marker == b->marker);
    CHECK(a->payload_type == b->payload_type);
    CHECK(a->seq == b->seq);
    CHECK(a->timestamp == b->timestamp);
    CHECK(a->ssrc == b->ssrc);
    CHECK(memcmp(a->csrc, b->csrc, sizeof(uint32_t) * a->csrc_count) == 0);
    CHECK(a->header_len == b->header_len);
    if (a->extension) {
        CHECK(a->ext_profile == b->ext_profile);
        CHECK(a->ext_data.len == b->ext_data.len);
        CHECK(a->ext_data.len == 0 || memcmp(a->ext_data.ptr, b->ext_data.ptr, a->ext_data.len) == 0);
    }
}

static void check_extensions(const perc_rtp_header *h)
{
    static perc_rtp_ext_elem elems[MAX_ELEMS];
    perc_rtp_ext_iter it;
    if (perc_rtp_ext_iter_init(&it, h) != PERC_OK)
        return;
    bool two_byte = it.two_byte;
    size_t n = 0;
    int rc;
    perc_rtp_ext_elem e;
    while ((rc = perc_rtp_ext_next(&it, &e)) == 1) {
        CHECK(n < MAX_ELEMS); /* every element takes at least one octet */
        CHECK(inside(e.data, h->ext_data.ptr, h->ext_data.len));
        CHECK(e.id != 0);
        CHECK(two_byte || (e.id <= 14 && e.data.len >= 1 && e.data.len <= 16));
        perc_audio_level al;
        CHECK(perc_audio_level_parse(e.data, &al) == (e.data.len ? PERC_OK : PERC_ERR_TRUNCATED));
        elems[n++] = e;
    }
    CHECK(rc <= 0);
    if (rc < 0)
        return;

    /* find returns the first element with that ID */
    for (size_t i = 0; i < n; i++) {
        perc_view v;
        CHECK(perc_rtp_ext_find(h, elems[i].id, &v) == PERC_OK);
        size_t first = 0;
        while (elems[first].id != elems[i].id)
            first++;
        CHECK(v.ptr == elems[first].data.ptr && v.len == elems[first].data.len);
    }

    /* rebuild and compare the element lists */
    static uint8_t block[4 * 65535 + 8];
    perc_rtp_ext_builder b;
    perc_rtp_ext_builder_init(&b, block, sizeof block, two_byte);
    for (size_t i = 0; i < n; i++)
        perc_rtp_ext_add(&b, elems[i].id, elems[i].data.ptr, elems[i].data.len);
    perc_rtp_header h2 = *h;
    CHECK(perc_rtp_ext_finish(&b, &h2.ext_data, &h2.ext_profile) == PERC_OK);
    CHECK(h2.ext_data.len <= h->ext_data.len); /* only padding can go */
    if (two_byte)
        h2.ext_profile = h->ext_profile; /* keep the app bits */
    CHECK(perc_rtp_ext_iter_init(&it, &h2) == PERC_OK);
    for (size_t i = 0; i < n; i++) {
        CHECK(perc_rtp_ext_next(&it, &e) == 1);
        CHECK(e.id == elems[i].id && e.data.len == elems[i].data.len);
        CHECK(e.data.len == 0 || memcmp(e.data.ptr, elems[i].data.ptr, e.data.len) == 0);
    }
    CHECK(perc_rtp_ext_next(&it, &e) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    perc_rtp_header hdr;
    int hrc = perc_rtp_parse_header(data, size, &hdr);
    if (hrc == PERC_OK) {
        CHECK(hdr.header_len <= size);
        CHECK(hdr.header_len == 12 + 4u * hdr.csrc_count +
                                    (hdr.extension ? 4 + hdr.ext_data.len : 0));
        CHECK(inside(hdr.ext_data, data, size));
        check_extensions(&hdr);
    }

    perc_rtp_packet p;
    int rc = perc_rtp_parse(data, size, &p);
    if (hrc != PERC_OK) {
        CHECK(rc == hrc);
        return 0;
    }
    if (rc != PERC_OK) {
        /* only the padding can make a whole packet fail once the header parsed */
        CHECK(hdr.padding);
        return 0;
    }
    same_header(&hdr, &p.hdr);
    CHECK(inside(p.payload, data, size));
    CHECK(p.hdr.header_len + p.payload.len + p.padding_len == size);
    CHECK(p.hdr.padding == (p.padding_len > 0));

    static uint8_t out[4 * 65535 + 128 + 65536];
    if (size > sizeof out)
        return 0;
    perc_writer w;
    perc_writer_init(&w, out, sizeof out);
    perc_rtp_write(&w, &p.hdr, p.payload.ptr, p.payload.len, p.padding_len);
    size_t len;
    CHECK(perc_writer_finish(&w, &len) == PERC_OK);
    CHECK(len == size);
    /* identical except the padding octets before the count, written as 0 */
    size_t kept = size - p.padding_len;
    CHECK(memcmp(out, data, kept) == 0);
    CHECK(p.padding_len == 0 || out[size - 1] == data[size - 1]);

    perc_rtp_packet q;
    CHECK(perc_rtp_parse(out, len, &q) == PERC_OK);
    same_header(&p.hdr, &q.hdr);
    CHECK(q.payload.len == p.payload.len && q.padding_len == p.padding_len);
    return 0;
}
