/* Fuzz target for the double transform (RFC 8723): the OHB parser, the
 * receiver path under fixed keys, the MD rewrite, and the full
 * sender -> MD -> MD -> receiver round trip for inputs that are RTP
 * packets. Any broken invariant aborts.
 *
 * The fixed keys are those of tests/vectors/digest-derived-perc.txt, so
 * the seeds srtp_packet and forwarded_packet reach the success path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/double.h"
#include "perc/double_endpoint.h"
#include "perc/hex.h"
#include "perc/ohb.h"
#include "perc/rtp.h"
#include "perc/srtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IN 2048
#define CAP (MAX_IN + 4 * PERC_DOUBLE_MAX_OVERHEAD)

static perc_srtp_session *g_inner, *g_hop1, *g_hop2, *g_hop3;

static perc_srtp_session *session_hex(const char *key, const char *salt)
{
    uint8_t k[32], s[12];
    size_t kl, sl;
    perc_srtp_session_keys keys;
    perc_srtp_session *out = NULL;
    if (perc_hex_decode(key, k, sizeof k, &kl) || perc_hex_decode(salt, s, sizeof s, &sl) ||
        perc_srtp_keys_direct(PERC_AES128_GCM, k, kl, s, sl, &keys) ||
        perc_srtp_session_new(&keys, &out))
        abort();
    perc_srtp_keys_wipe(&keys);
    return out;
}

static void init_once(void)
{
    if (g_inner)
        return;
    g_inner = session_hex("000102030405060708090a0b0c0d0e0f", "517569642070726f2071756f");
    g_hop1 = session_hex("101112131415161718191a1b1c1d1e1f", "a0a1a2a3a4a5a6a7a8a9aaab");
    g_hop2 = session_hex("202122232425262728292a2b2c2d2e2f", "b0b1b2b3b4b5b6b7b8b9babb");
    g_hop3 = session_hex("303132333435363738393a3b3c3d3e3f", "c0c1c2c3c4c5c6c7c8c9cacb");
}

/* OHB: whatever parses writes back to the same octets (PT top bit aside,
 * which is ignored on read and written as 0), and restore/record agree. */
static void check_ohb(const uint8_t *data, size_t size)
{
    perc_ohb o;
    size_t n;
    if (perc_ohb_parse(data, size, &o, &n) != PERC_OK)
        return;
    if (n < 1 || n > PERC_OHB_MAX_LEN || n > size || n != perc_ohb_len(&o))
        abort();
    uint8_t out[PERC_OHB_MAX_LEN];
    perc_writer w;
    perc_writer_init(&w, out, sizeof out);
    perc_ohb_write(&w, &o);
    size_t wn;
    if (perc_writer_finish(&w, &wn) != PERC_OK || wn != n)
        abort();
    const uint8_t *in = data + size - n;
    for (size_t i = 0; i < n; i++) {
        uint8_t mask = (o.has_pt && i == 0) ? 0x7F : 0xFF;
        if ((in[i] & mask) != out[i])
            abort();
    }
    perc_ohb again;
    size_t an;
    if (perc_ohb_parse(out, wn, &again, &an) != PERC_OK || an != n ||
        again.has_pt != o.has_pt || again.pt != o.pt || again.has_seq != o.has_seq ||
        again.seq != o.seq || again.has_marker != o.has_marker || again.marker != o.marker)
        abort();
}

static perc_relay_change change_from(const uint8_t *data, size_t size, size_t salt)
{
    perc_relay_change c;
    memset(&c, 0, sizeof c);
    if (size == 0)
        return c;
    uint8_t a = data[(salt * 7) % size], b = data[(salt * 13 + 1) % size];
    uint8_t d = data[(salt * 5 + 2) % size];
    c.set_pt = (a & 1) != 0;
    c.pt = (uint8_t)(b & 0x7F);
    c.set_seq = (a & 2) != 0;
    c.seq = (uint16_t)((b << 8) | d);
    c.set_marker = (a & 4) != 0;
    c.marker = (a & 8) != 0;
    return c;
}

/* MD rewrite on the input taken as an outer plaintext: originals never
 * change, the header shows the requested values, only octets 1..3 and the
 * OHB move. */
static void check_rewrite(const uint8_t *data, size_t size)
{
    static uint8_t buf[CAP];
    perc_double_info before, after;
    if (size > MAX_IN || perc_double_inspect(data, size, &before) != PERC_OK)
        return;
    memcpy(buf, data, size);
    perc_relay_change c = change_from(data, size, 3);
    size_t n;
    if (perc_double_rewrite(buf, size, sizeof buf, &c, &n) != PERC_OK)
        abort(); /* inspect accepted it, and there is room */
    if (perc_double_inspect(buf, n, &after) != PERC_OK)
        abort();
    if (after.orig_pt != before.orig_pt || after.orig_seq != before.orig_seq ||
        after.orig_marker != before.orig_marker || after.inner_ct_len != before.inner_ct_len)
        abort();
    if ((c.set_pt && after.hdr.payload_type != c.pt) || (c.set_seq && after.hdr.seq != c.seq) ||
        (c.set_marker && after.hdr.marker != c.marker))
        abort();
    size_t keep = size - before.ohb_len;
    if (n != keep + after.ohb_len || buf[0] != data[0] || memcmp(buf + 4, data + 4, keep - 4) != 0)
        abort();
    /* After a rewrite no entry records the value the header carries anyway
     * (an entry set back to its original is dropped, §5.2 step 3). */
    if ((after.ohb.has_pt && after.ohb.pt == after.hdr.payload_type) ||
        (after.ohb.has_seq && after.ohb.seq == after.hdr.seq) ||
        (after.ohb.has_marker && after.ohb.marker == after.hdr.marker))
        abort();
}

/* Receiver with fixed keys, on both the sender's and the MD's hop key. */
static void check_receiver(const uint8_t *data, size_t size)
{
    static uint8_t buf[CAP];
    if (size > MAX_IN)
        return;
    perc_srtp_session *hops[2] = {g_hop1, g_hop2};
    for (int i = 0; i < 2; i++) {
        memcpy(buf, data, size);
        size_t n;
        if (perc_double_unprotect(hops[i], 0, g_inner, 0, buf, size, &n) != PERC_OK)
            continue;
        perc_rtp_header h;
        if (n + PERC_DOUBLE_MIN_OVERHEAD > size || perc_rtp_parse_header(buf, n, &h) != PERC_OK)
            abort();
    }
}

/* Inputs that are RTP packets: protect -> relay -> relay -> unprotect
 * gives the packet back. */
static void check_round_trip(const uint8_t *data, size_t size)
{
    static uint8_t buf[CAP];
    perc_rtp_packet p;
    if (size > MAX_IN || perc_rtp_parse(data, size, &p) != PERC_OK)
        return;
    uint32_t roc = size > 12 ? data[12] & 3u : 0;
    memcpy(buf, data, size);
    size_t n, out;
    /* RFC 8723 §5.1 step 1: only RFC 8285 extension blocks may be sent */
    if (p.hdr.extension && p.hdr.ext_profile != PERC_RTP_EXT_ONE_BYTE &&
        (p.hdr.ext_profile & PERC_RTP_EXT_TWO_BYTE_MASK) != PERC_RTP_EXT_TWO_BYTE) {
        if (perc_double_protect(g_inner, roc, g_hop1, roc, buf, size, sizeof buf, &n) !=
            PERC_ERR_UNSUPPORTED)
            abort();
        return;
    }
    if (perc_double_protect(g_inner, roc, g_hop1, roc, buf, size, sizeof buf, &n) != PERC_OK ||
        n != size + PERC_DOUBLE_MIN_OVERHEAD)
        abort();
    perc_relay_change c1 = change_from(data, size, 1);
    perc_relay_change c2 = change_from(data, size, 2);
    if (perc_double_relay(g_hop1, roc, g_hop2, 1, &c1, buf, n, sizeof buf, &n) != PERC_OK ||
        perc_double_relay(g_hop2, 1, g_hop3, 2, &c2, buf, n, sizeof buf, &n) != PERC_OK)
        abort();
    if (n < size + PERC_DOUBLE_MIN_OVERHEAD || n > size + PERC_DOUBLE_MAX_OVERHEAD)
        abort();
    if (perc_double_unprotect(g_hop3, 2, g_inner, roc, buf, n, &out) != PERC_OK || out != size ||
        memcmp(buf, data, size) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    check_ohb(data, size);
    check_rewrite(data, size);
    check_receiver(data, size);
    check_round_trip(data, size);
    return 0;
}
