/* Fuzz target for the RTCP compound walk and the typed parsers.
 *
 * Every packet the walk yields lies inside the input and its body inside the
 * packet. Each packet is given to the typed parser of its type; what parses
 * is written back with the typed writer and must equal the original packet
 * (the P bit, length and padding aside: writers emit unpadded packets),
 * except FIR, whose unused media SSRC and reserved bits are not kept: there
 * the output must parse back to the same entries.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/rtcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

/* One packet of at most 65536 words. */
static uint8_t out[4 * 65536 + 4];

static bool inside(perc_view v, const uint8_t *base, size_t len)
{
    if (v.len == 0)
        return true;
    return v.ptr >= base && v.len <= len && (size_t)(v.ptr - base) <= len - v.len;
}

static size_t finish(const perc_writer *w)
{
    size_t len = 0;
    CHECK(perc_writer_finish(w, &len) == PERC_OK);
    return len;
}

/* The typed writer's output equals the packet, the P bit and padding aside. */
static void check_same(const perc_rtcp_view *v, const uint8_t *o, size_t len)
{
    CHECK(len == PERC_RTCP_HEADER_LEN + v->body.len);
    CHECK(o[0] == (v->packet.ptr[0] & 0xDF));
    CHECK(o[1] == v->packet.ptr[1]);
    CHECK(v->body.len == 0 || memcmp(o + 4, v->body.ptr, v->body.len) == 0);
    perc_rtcp_view again;
    CHECK(perc_rtcp_parse_packet(o, len, &again) == PERC_OK);
}

static void check_sdes(const perc_rtcp_view *v)
{
    perc_rtcp_sdes_iter it;
    if (perc_rtcp_sdes_iter_init(&it, v) != PERC_OK)
        return;
    if (perc_rtcp_check_sdes(v) != PERC_OK)
        return;
    perc_writer w;
    perc_writer_init(&w, out, sizeof out);
    perc_rtcp_sdes_writer s;
    perc_rtcp_sdes_begin(&s, &w);
    uint32_t ssrc;
    int rc;
    while ((rc = perc_rtcp_sdes_next_chunk(&it, &ssrc)) == 1) {
        perc_rtcp_sdes_add_chunk(&s, ssrc);
        perc_rtcp_sdes_item item;
        while ((rc = perc_rtcp_sdes_next_item(&it, &item)) == 1) {
            CHECK(item.type != 0);
            CHECK(inside(item.value, v->body.ptr, v->body.len));
            perc_rtcp_sdes_add_item(&s, item.type, item.value.ptr, item.value.len);
        }
        CHECK(rc == 0); /* the packet was checked whole */
    }
    CHECK(rc == 0);
    perc_rtcp_sdes_end(&s);
    check_same(v, out, finish(&w));
}

static void check_fb(const perc_rtcp_view *v)
{
    perc_rtcp_fb fb;
    if (perc_rtcp_parse_fb(v, &fb) != PERC_OK)
        return;
    CHECK(inside(fb.fci, v->body.ptr, v->body.len));
    perc_writer w;
    perc_writer_init(&w, out, sizeof out);
    perc_rtcp_write_fb(&w, &fb);
    check_same(v, out, finish(&w));

    uint32_t targets[8];
    size_t n = 0;
    int rc = perc_rtcp_fb_targets(v, targets, 8, &n);
    CHECK(rc == PERC_OK || rc == PERC_ERR_NOSPACE || rc == PERC_ERR_TRUNCATED);
    if (rc == PERC_OK)
        CHECK(n <= 8);
    if (rc == PERC_ERR_NOSPACE)
        CHECK(n > 8);

    if (fb.pt == PERC_RTCP_RTPFB && fb.fmt == PERC_RTCP_FMT_NACK) {
        perc_rtcp_nack nack;
        if (perc_rtcp_parse_nack(v, &nack) == PERC_OK) {
            CHECK(nack.count >= 1 && nack.count * 4 == nack.fci.len);
            perc_writer_init(&w, out, sizeof out);
            perc_rtcp_mark m = perc_rtcp_begin(&w, PERC_RTCP_FMT_NACK, PERC_RTCP_RTPFB);
            perc_write_u32(&w, nack.sender_ssrc);
            perc_write_u32(&w, nack.media_ssrc);
            for (size_t i = 0; i < nack.count; i++) {
                perc_rtcp_nack_item item = perc_rtcp_nack_get(&nack, i);
                uint16_t seqs[17];
                size_t k = perc_rtcp_nack_expand(item, seqs);
                CHECK(k >= 1 && k <= 17 && seqs[0] == item.pid);
                perc_write_u16(&w, item.pid);
                perc_write_u16(&w, item.blp);
            }
            perc_rtcp_end(&w, m, 0);
            check_same(v, out, finish(&w));
        }
    }
    if (fb.pt == PERC_RTCP_PSFB && fb.fmt == PERC_RTCP_FMT_PLI) {
        perc_rtcp_pli pli;
        if (perc_rtcp_parse_pli(v, &pli) == PERC_OK) {
            perc_writer_init(&w, out, sizeof out);
            perc_rtcp_write_pli(&w, pli.sender_ssrc, pli.media_ssrc);
            check_same(v, out, finish(&w));
        }
    }
    if (fb.pt == PERC_RTCP_PSFB && fb.fmt == PERC_RTCP_FMT_FIR) {
        perc_rtcp_fir fir;
        if (perc_rtcp_parse_fir(v, &fir) == PERC_OK) {
            CHECK(fir.count >= 1 && fir.count * 8 == fir.fci.len);
            CHECK(rc != PERC_OK || n == fir.count);
            perc_writer_init(&w, out, sizeof out);
            perc_rtcp_mark m = perc_rtcp_begin(&w, PERC_RTCP_FMT_FIR, PERC_RTCP_PSFB);
            perc_write_u32(&w, fir.sender_ssrc);
            perc_write_u32(&w, 0);
            bool canonical = fir.media_ssrc == 0;
            for (size_t i = 0; i < fir.count; i++) {
                perc_rtcp_fir_entry e = perc_rtcp_fir_get(&fir, i);
                CHECK(rc != PERC_OK || i >= 8 || targets[i] == e.ssrc);
                const uint8_t *raw = fir.fci.ptr + 8 * i;
                canonical = canonical && raw[5] == 0 && raw[6] == 0 && raw[7] == 0;
                perc_write_u32(&w, e.ssrc);
                perc_write_u8(&w, e.seq);
                perc_write_u24(&w, 0);
            }
            perc_rtcp_end(&w, m, 0);
            size_t len = finish(&w);
            if (canonical) {
                check_same(v, out, len);
            } else {
                perc_rtcp_view v2;
                perc_rtcp_fir fir2;
                CHECK(perc_rtcp_parse_packet(out, len, &v2) == PERC_OK);
                CHECK(perc_rtcp_parse_fir(&v2, &fir2) == PERC_OK);
                CHECK(fir2.count == fir.count && fir2.sender_ssrc == fir.sender_ssrc);
                for (size_t i = 0; i < fir.count; i++) {
                    perc_rtcp_fir_entry a = perc_rtcp_fir_get(&fir, i);
                    perc_rtcp_fir_entry b = perc_rtcp_fir_get(&fir2, i);
                    CHECK(a.ssrc == b.ssrc && a.seq == b.seq);
                }
            }
        }
    }
}

static void check_packet(const perc_rtcp_view *v)
{
    perc_writer w;
    perc_writer_init(&w, out, sizeof out);
    switch (v->pt) {
    case PERC_RTCP_SR: {
        static perc_rtcp_sr sr;
        if (perc_rtcp_parse_sr(v, &sr) == PERC_OK) {
            CHECK(inside(sr.ext, v->body.ptr, v->body.len));
            perc_rtcp_write_sr(&w, &sr);
            check_same(v, out, finish(&w));
        }
        break;
    }
    case PERC_RTCP_RR: {
        static perc_rtcp_rr rr;
        if (perc_rtcp_parse_rr(v, &rr) == PERC_OK) {
            CHECK(inside(rr.ext, v->body.ptr, v->body.len));
            perc_rtcp_write_rr(&w, &rr);
            check_same(v, out, finish(&w));
        }
        break;
    }
    case PERC_RTCP_SDES:
        check_sdes(v);
        break;
    case PERC_RTCP_BYE: {
        perc_rtcp_bye bye;
        if (perc_rtcp_parse_bye(v, &bye) == PERC_OK) {
            CHECK(inside(bye.reason, v->body.ptr, v->body.len));
            perc_rtcp_write_bye(&w, &bye);
            check_same(v, out, finish(&w));
        }
        break;
    }
    case PERC_RTCP_APP: {
        perc_rtcp_app app;
        if (perc_rtcp_parse_app(v, &app) == PERC_OK) {
            CHECK(inside(app.data, v->body.ptr, v->body.len));
            perc_rtcp_write_app(&w, &app);
            check_same(v, out, finish(&w));
        }
        break;
    }
    case PERC_RTCP_RTPFB:
    case PERC_RTCP_PSFB:
        check_fb(v);
        break;
    default:
        break;
    }
    uint32_t ssrc;
    int rc = perc_rtcp_sender_ssrc(v, &ssrc);
    CHECK(rc == PERC_OK || rc == PERC_ERR_NOT_FOUND || rc == PERC_ERR_TRUNCATED ||
          rc == PERC_ERR_UNSUPPORTED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    perc_rtcp_iter it;
    perc_rtcp_view v;
    perc_rtcp_iter_init(&it, data, size);
    size_t n = 0, end = 0;
    int rc;
    while ((rc = perc_rtcp_next(&it, &v)) == 1) {
        CHECK(v.packet.ptr == data + end); /* packets are contiguous */
        CHECK(inside(v.packet, data, size));
        CHECK(v.packet.len % 4 == 0 && v.packet.len >= PERC_RTCP_HEADER_LEN);
        CHECK(v.body.ptr == v.packet.ptr + PERC_RTCP_HEADER_LEN);
        CHECK(v.body.len + v.padding_len + PERC_RTCP_HEADER_LEN == v.packet.len);
        CHECK(v.padding == (v.padding_len > 0));
        end += v.packet.len;
        n++;
        check_packet(&v);
    }
    CHECK(rc <= 0);
    CHECK(perc_rtcp_next(&it, &v) == rc); /* the end, or the error, is sticky */
    if (rc == 0)
        CHECK(end == size);

    size_t count = 0;
    int crc = perc_rtcp_check_compound(data, size, true, &count);
    if (size == 0)
        CHECK(crc == PERC_ERR_TRUNCATED);
    else
        CHECK(crc == rc && (crc != PERC_OK || count == n));

    perc_rtcp_view one;
    if (perc_rtcp_parse_packet(data, size, &one) == PERC_OK)
        CHECK(n == 1 && one.packet.len == size);
    return 0;
}
