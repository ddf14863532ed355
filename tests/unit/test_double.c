/* The double transform (RFC 8723): OHB (ohb.h), the Media Distributor step
 * (double.h) and the endpoint side (double_endpoint.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "perc/double.h"
#include "perc/double_endpoint.h"
#include "perc/ohb.h"
#include "perc/secret.h"
#include "perc/srtp.h"
#include "test_util.h"
#include "vectors.h"

#define BUF_CAP 1600

/* ---- helpers ------------------------------------------------------------ */

static tv_file g_vectors;

static int load_vectors(void **state)
{
    (void)state;
    return tv_load("digest-derived-perc.txt", &g_vectors);
}

static int free_vectors(void **state)
{
    (void)state;
    tv_free(&g_vectors);
    return 0;
}

static const tv_field *field(const char *vector, const char *name)
{
    const tv_block *b = tv_find(&g_vectors, vector);
    assert_non_null(b);
    const tv_field *f = tv_get(b, name);
    assert_non_null(f);
    return f;
}

#define V_SENDER "double_aes128_sender_no_modification"
#define V_MD "double_aes128_md_rewrites_pt_seq_marker"
#define V_SPLIT "double128_keying_material_split_and_media_keys"

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    }
    return false;
}

/* A session whose session key and salt are given directly (no KDF). */
static perc_srtp_session *session_direct(const uint8_t *key, size_t key_len, const uint8_t *salt)
{
    perc_srtp_session_keys k;
    perc_srtp_cipher c = key_len == 16 ? PERC_AES128_GCM : PERC_AES256_GCM;
    assert_int_equal(perc_srtp_keys_direct(c, key, key_len, salt, PERC_SRTP_SALT_LEN, &k), PERC_OK);
    perc_srtp_session *s = NULL;
    assert_int_equal(perc_srtp_session_new(&k, &s), PERC_OK);
    perc_srtp_keys_wipe(&k);
    return s;
}

static perc_srtp_session *session_from_vector(const char *vector, const char *key_name,
                                              const char *salt_name)
{
    const tv_field *k = field(vector, key_name);
    const tv_field *s = field(vector, salt_name);
    assert_int_equal(s->len, PERC_SRTP_SALT_LEN);
    return session_direct(k->data, k->len, s->data);
}

/* Deterministic session of the given cipher, keyed from seed. */
static perc_srtp_session *session_seeded(perc_srtp_cipher c, uint64_t seed)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    uint8_t key[32], salt[12];
    tu_rng_fill(&r, key, sizeof key);
    tu_rng_fill(&r, salt, sizeof salt);
    return session_direct(key, perc_cipher_key_len(c), salt);
}

/* A plain RTP packet: CC csrcs, optional one-byte-form extension block,
 * payload_len payload octets, optional padding. */
typedef struct pkt_spec {
    uint8_t pt;
    uint16_t seq;
    bool marker;
    uint32_t ts;
    uint32_t ssrc;
    uint8_t cc;
    bool ext;
    size_t payload_len;
    uint8_t padding;
} pkt_spec;

static size_t build_rtp(const pkt_spec *sp, uint8_t *buf, size_t cap)
{
    perc_rtp_header h;
    memset(&h, 0, sizeof h);
    h.payload_type = sp->pt;
    h.seq = sp->seq;
    h.marker = sp->marker;
    h.timestamp = sp->ts;
    h.ssrc = sp->ssrc;
    h.csrc_count = sp->cc;
    for (unsigned i = 0; i < sp->cc; i++)
        h.csrc[i] = 0xc0000000u + i;
    uint8_t extbuf[32];
    if (sp->ext) {
        perc_rtp_ext_builder b;
        perc_rtp_ext_builder_init(&b, extbuf, sizeof extbuf, false);
        const uint8_t level = 0x85; /* RFC 6464: voice, -5 dBov */
        const uint8_t mid[3] = {'a', 'b', 'c'};
        perc_rtp_ext_add(&b, 1, &level, 1);
        perc_rtp_ext_add(&b, 3, mid, sizeof mid);
        assert_int_equal(perc_rtp_ext_finish(&b, &h.ext_data, &h.ext_profile), PERC_OK);
        h.extension = true;
    }
    uint8_t payload[1200];
    assert_true(sp->payload_len <= sizeof payload);
    for (size_t i = 0; i < sp->payload_len; i++)
        payload[i] = (uint8_t)(i * 7 + sp->seq);
    perc_writer w;
    perc_writer_init(&w, buf, cap);
    perc_rtp_write(&w, &h, payload, sp->payload_len, sp->padding);
    size_t n;
    assert_int_equal(perc_writer_finish(&w, &n), PERC_OK);
    return n;
}

static const pkt_spec DEFAULT_PKT = {96, 1000, false, 0x11223344u, 0xdeadbeefu, 0, false, 40, 0};

/* An outer plaintext without crypto: header, `body` octets standing in for
 * inner ciphertext and tag, then the given OHB. */
static size_t build_outer_plain(const pkt_spec *sp, const perc_ohb *ohb, uint8_t *buf, size_t cap)
{
    pkt_spec s = *sp;
    s.payload_len = sp->payload_len + PERC_SRTP_TAG_LEN;
    s.padding = 0;
    size_t n = build_rtp(&s, buf, cap);
    perc_writer w;
    perc_writer_init(&w, buf + n, cap - n);
    perc_ohb_write(&w, ohb);
    size_t m;
    assert_int_equal(perc_writer_finish(&w, &m), PERC_OK);
    return n + m;
}

/* ---- OHB ---------------------------------------------------------------- */

static void test_ohb_every_config_octet(void **state)
{
    (void)state;
    /* Every value of the Config octet, after enough octets for PT and SEQ:
     * the 12 valid ones (Q, P free; M/B in {00, 01, 11}) parse and write
     * back identically, the rest are BAD_OHB. */
    size_t valid = 0;
    for (unsigned c = 0; c < 256; c++) {
        uint8_t in[5] = {0xee, 0x05, 0x12, 0x34, (uint8_t)c};
        perc_ohb o;
        size_t n = 99;
        int rc = perc_ohb_parse(in, sizeof in, &o, &n);
        bool reserved = (c & PERC_OHB_RESERVED) != 0;
        bool b_without_m = (c & (PERC_OHB_B | PERC_OHB_M)) == PERC_OHB_B;
        if (reserved || b_without_m) {
            assert_int_equal(rc, PERC_ERR_BAD_OHB);
            assert_int_equal(n, 99);
            continue;
        }
        valid++;
        assert_int_equal(rc, PERC_OK);
        assert_int_equal(n, 1 + ((c & PERC_OHB_PT) ? 1 : 0) + ((c & PERC_OHB_SEQ) ? 2 : 0));
        assert_int_equal(n, perc_ohb_len(&o));
        assert_int_equal(o.has_seq, (c & PERC_OHB_SEQ) != 0);
        assert_int_equal(o.has_pt, (c & PERC_OHB_PT) != 0);
        assert_int_equal(o.has_marker, (c & PERC_OHB_M) != 0);
        assert_int_equal(o.marker, (c & PERC_OHB_B) != 0);
        if (o.has_seq)
            assert_int_equal(o.seq, 0x1234);
        if (o.has_pt)
            assert_int_equal(o.pt, (c & PERC_OHB_SEQ) ? 0x05 : 0x34 & 0x7F);
        uint8_t out[PERC_OHB_MAX_LEN];
        perc_writer w;
        perc_writer_init(&w, out, sizeof out);
        perc_ohb_write(&w, &o);
        size_t wn;
        assert_int_equal(perc_writer_finish(&w, &wn), PERC_OK);
        assert_int_equal(wn, n);
        assert_memory_equal(out, in + sizeof in - n, n);
    }
    assert_int_equal(valid, 12);
}

static void test_ohb_vector(void **state)
{
    (void)state;
    const tv_field *f = field(V_MD, "ohb");
    perc_ohb o;
    size_t n;
    assert_int_equal(perc_ohb_parse(f->data, f->len, &o, &n), PERC_OK);
    assert_int_equal(n, 4);
    assert_true(o.has_pt && o.has_seq && o.has_marker);
    assert_int_equal(o.pt, 0x40);
    assert_int_equal(o.seq, 0xf17b);
    assert_false(o.marker);
}

static void test_ohb_reserved_and_b_without_m(void **state)
{
    (void)state;
    perc_ohb o;
    size_t n;
    const uint8_t reserved[] = {0x10};
    assert_int_equal(perc_ohb_parse(reserved, 1, &o, &n), PERC_ERR_BAD_OHB);
    const uint8_t reserved_hi[] = {0x80};
    assert_int_equal(perc_ohb_parse(reserved_hi, 1, &o, &n), PERC_ERR_BAD_OHB);
    const uint8_t b_only[] = {0x08};
    assert_int_equal(perc_ohb_parse(b_only, 1, &o, &n), PERC_ERR_BAD_OHB);
    const uint8_t b_only_pt[] = {0x61, 0x0a};
    assert_int_equal(perc_ohb_parse(b_only_pt, 2, &o, &n), PERC_ERR_BAD_OHB);
    const uint8_t b_and_m[] = {0x0c};
    assert_int_equal(perc_ohb_parse(b_and_m, 1, &o, &n), PERC_OK);
    assert_true(o.has_marker && o.marker);
}

static void test_ohb_pt_top_bit(void **state)
{
    (void)state;
    /* Top bit of the PT octet: ignored on read, written as zero. */
    const uint8_t in[] = {0xe1, 0x02};
    perc_ohb o;
    size_t n;
    assert_int_equal(perc_ohb_parse(in, sizeof in, &o, &n), PERC_OK);
    assert_int_equal(o.pt, 0x61);
    o.pt = 0xe1; /* a caller's stray top bit does not reach the wire either */
    uint8_t out[4];
    perc_writer w;
    perc_writer_init(&w, out, sizeof out);
    perc_ohb_write(&w, &o);
    assert_int_equal(perc_writer_finish(&w, &n), PERC_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0x61);
    assert_int_equal(out[1], 0x02);
}

static void test_ohb_truncations(void **state)
{
    (void)state;
    const uint8_t full[] = {0x40, 0xf1, 0x7b, 0x0f}; /* PT, SEQ, M with B */
    perc_ohb o;
    size_t n;
    assert_int_equal(perc_ohb_parse(full, sizeof full, &o, &n), PERC_OK);
    /* Read from the end, so a truncated block is one that lost its front. */
    for (size_t k = 0; k < sizeof full; k++) {
        n = 99;
        assert_int_equal(perc_ohb_parse(full + sizeof full - k, k, &o, &n), PERC_ERR_TRUNCATED);
        assert_int_equal(n, 99);
    }
    /* Cut at the back, the last octet left is taken as Config and fails. */
    for (size_t k = 1; k < sizeof full; k++)
        assert_int_not_equal(perc_ohb_parse(full, k, &o, &n), PERC_OK);
    const uint8_t seq_only[] = {0x12, 0x34, 0x01};
    for (size_t k = 0; k < sizeof seq_only; k++)
        assert_int_equal(perc_ohb_parse(seq_only + sizeof seq_only - k, k, &o, &n),
                         PERC_ERR_TRUNCATED);
    const uint8_t pt_only[] = {0x12, 0x02};
    assert_int_equal(perc_ohb_parse(pt_only + 1, 1, &o, &n), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_ohb_parse(pt_only, 0, &o, &n), PERC_ERR_TRUNCATED);
}

static void test_ohb_extra_bytes(void **state)
{
    (void)state;
    /* Octets before the block (the inner tag) are not part of it. */
    const uint8_t in[] = {0xaa, 0xbb, 0xcc, 0x40, 0xf1, 0x7b, 0x07};
    perc_ohb o;
    size_t n;
    assert_int_equal(perc_ohb_parse(in, sizeof in, &o, &n), PERC_OK);
    assert_int_equal(n, 4);
    assert_int_equal(o.seq, 0xf17b);
    /* An octet after a valid block becomes the Config octet: a reserved
     * one fails, a plausible one yields a different block. */
    const uint8_t trailing_bad[] = {0x40, 0xf1, 0x7b, 0x07, 0xf0};
    assert_int_equal(perc_ohb_parse(trailing_bad, sizeof trailing_bad, &o, &n), PERC_ERR_BAD_OHB);
    const uint8_t trailing_zero[] = {0x40, 0xf1, 0x7b, 0x07, 0x00};
    assert_int_equal(perc_ohb_parse(trailing_zero, sizeof trailing_zero, &o, &n), PERC_OK);
    assert_int_equal(n, 1);
    assert_false(o.has_pt || o.has_seq || o.has_marker);
}

static perc_rtp_header hdr_of(uint8_t pt, uint16_t seq, bool m)
{
    perc_rtp_header h;
    memset(&h, 0, sizeof h);
    h.payload_type = pt;
    h.seq = seq;
    h.marker = m;
    return h;
}

static void test_ohb_record_restore(void **state)
{
    (void)state;
    perc_ohb o;
    memset(&o, 0, sizeof o);
    /* No change: nothing recorded. */
    perc_rtp_header h = hdr_of(96, 100, false);
    perc_ohb_record(&o, &h, 96, 100, false);
    assert_int_equal(perc_ohb_len(&o), 1);

    /* Change PT: original recorded. */
    perc_ohb_record(&o, &h, 111, 100, false);
    assert_true(o.has_pt);
    assert_int_equal(o.pt, 96);
    assert_false(o.has_seq || o.has_marker);

    /* Change PT again (the header now carries 111): original kept. */
    h = hdr_of(111, 100, false);
    perc_ohb_record(&o, &h, 112, 100, false);
    assert_true(o.has_pt);
    assert_int_equal(o.pt, 96);

    /* Change SEQ and M as well: OHB grows to 4. */
    h = hdr_of(112, 100, false);
    perc_ohb_record(&o, &h, 112, 7, true);
    assert_int_equal(perc_ohb_len(&o), 4);
    assert_int_equal(o.seq, 100);
    assert_true(o.has_marker);
    assert_false(o.marker);

    /* Restore gives the original header fields. */
    perc_rtp_header r = hdr_of(112, 7, true);
    perc_ohb_restore(&o, &r);
    assert_int_equal(r.payload_type, 96);
    assert_int_equal(r.seq, 100);
    assert_false(r.marker);

    /* Set PT back: removed, OHB shrinks; the others stay. */
    h = hdr_of(112, 7, true);
    perc_ohb_record(&o, &h, 96, 7, true);
    assert_false(o.has_pt);
    assert_int_equal(perc_ohb_len(&o), 3);
    assert_true(o.has_seq && o.has_marker);

    /* Everything back: empty again. */
    h = hdr_of(96, 7, true);
    perc_ohb_record(&o, &h, 96, 100, false);
    assert_int_equal(perc_ohb_len(&o), 1);
    assert_false(o.has_pt || o.has_seq || o.has_marker);

    /* Original marker set, cleared by the MD: B recorded. */
    h = hdr_of(96, 100, true);
    perc_ohb_record(&o, &h, 96, 100, false);
    assert_true(o.has_marker && o.marker);
    r = hdr_of(96, 100, false);
    perc_ohb_restore(&o, &r);
    assert_true(r.marker);

    /* Restoring an empty OHB changes nothing. */
    perc_ohb empty;
    memset(&empty, 0, sizeof empty);
    r = hdr_of(5, 6, true);
    perc_ohb_restore(&empty, &r);
    assert_int_equal(r.payload_type, 5);
    assert_int_equal(r.seq, 6);
    assert_true(r.marker);
}

/* ---- rewrite (no crypto) ------------------------------------------------ */

static void test_rewrite_grows_and_shrinks(void **state)
{
    (void)state;
    uint8_t buf[BUF_CAP];
    perc_ohb o;
    memset(&o, 0, sizeof o);
    size_t len = build_outer_plain(&DEFAULT_PKT, &o, buf, sizeof buf);
    uint8_t orig[BUF_CAP];
    memcpy(orig, buf, len);
    size_t orig_len = len;

    perc_relay_change chg = {.set_pt = true, .pt = 100, .set_seq = true, .seq = 5,
                             .set_marker = true, .marker = true};
    assert_int_equal(perc_double_rewrite(buf, len, sizeof buf, &chg, &len), PERC_OK);
    assert_int_equal(len, orig_len + 3);
    perc_double_info info;
    assert_int_equal(perc_double_inspect(buf, len, &info), PERC_OK);
    assert_int_equal(info.hdr.payload_type, 100);
    assert_int_equal(info.hdr.seq, 5);
    assert_true(info.hdr.marker);
    assert_int_equal(info.orig_pt, 96);
    assert_int_equal(info.orig_seq, 1000);
    assert_false(info.orig_marker);
    assert_int_equal(info.inner_ct_len, DEFAULT_PKT.payload_len);
    /* Nothing but octets 1..3 and the OHB changed. */
    assert_int_equal(buf[0], orig[0]);
    assert_memory_equal(buf + 4, orig + 4, orig_len - 5);
    const uint8_t want_ohb[] = {96, 0x03, 0xe8, 0x07};
    assert_memory_equal(buf + len - 4, want_ohb, 4);

    /* Second change of SEQ only: the recorded original stays. */
    perc_relay_change chg2 = {.set_seq = true, .seq = 6};
    assert_int_equal(perc_double_rewrite(buf, len, sizeof buf, &chg2, &len), PERC_OK);
    assert_int_equal(len, orig_len + 3);
    assert_memory_equal(buf + len - 4, want_ohb, 4);

    /* PT and marker set back: the OHB shrinks to SEQ only. */
    perc_relay_change back = {.set_pt = true, .pt = 96, .set_marker = true, .marker = false};
    assert_int_equal(perc_double_rewrite(buf, len, sizeof buf, &back, &len), PERC_OK);
    assert_int_equal(len, orig_len + 2);
    const uint8_t want_seq[] = {0x03, 0xe8, 0x01};
    assert_memory_equal(buf + len - 3, want_seq, 3);

    /* SEQ set back too: identical to what the sender sent. */
    perc_relay_change seq_back = {.set_seq = true, .seq = 1000};
    assert_int_equal(perc_double_rewrite(buf, len, sizeof buf, &seq_back, &len), PERC_OK);
    assert_int_equal(len, orig_len);
    assert_memory_equal(buf, orig, orig_len);

    /* A change that sets the current values changes nothing. */
    perc_relay_change same = {.set_pt = true, .pt = 96, .set_seq = true, .seq = 1000,
                              .set_marker = true, .marker = false};
    assert_int_equal(perc_double_rewrite(buf, len, sizeof buf, &same, &len), PERC_OK);
    assert_int_equal(len, orig_len);
    assert_memory_equal(buf, orig, orig_len);
}

static void test_rewrite_two_mds(void **state)
{
    (void)state;
    uint8_t buf[BUF_CAP];
    perc_ohb o;
    memset(&o, 0, sizeof o);
    size_t len = build_outer_plain(&DEFAULT_PKT, &o, buf, sizeof buf);
    /* MD 1 renumbers SEQ; MD 2 renumbers again and changes PT. */
    perc_relay_change md1 = {.set_seq = true, .seq = 50000};
    assert_int_equal(perc_double_rewrite(buf, len, sizeof buf, &md1, &len), PERC_OK);
    perc_relay_change md2 = {.set_seq = true, .seq = 7, .set_pt = true, .pt = 120};
    assert_int_equal(perc_double_rewrite(buf, len, sizeof buf, &md2, &len), PERC_OK);
    perc_double_info info;
    assert_int_equal(perc_double_inspect(buf, len, &info), PERC_OK);
    assert_int_equal(info.hdr.seq, 7);
    assert_int_equal(info.hdr.payload_type, 120);
    /* The first MD's record (the true original) survives; MD 2's PT change
     * records the PT it received, which is the original. */
    assert_int_equal(info.orig_seq, 1000);
    assert_int_equal(info.orig_pt, 96);
    assert_false(info.ohb.has_marker);
}

static void test_rewrite_errors(void **state)
{
    (void)state;
    uint8_t buf[BUF_CAP];
    perc_ohb o;
    memset(&o, 0, sizeof o);
    size_t len = build_outer_plain(&DEFAULT_PKT, &o, buf, sizeof buf);
    uint8_t copy[BUF_CAP];
    memcpy(copy, buf, len);
    size_t out;

    /* No room for the grown OHB: refused, buf untouched. */
    perc_relay_change chg = {.set_seq = true, .seq = 1};
    assert_int_equal(perc_double_rewrite(buf, len, len + 1, &chg, &out), PERC_ERR_NOSPACE);
    assert_memory_equal(buf, copy, len);
    assert_int_equal(perc_double_rewrite(buf, len, len + 2, &chg, &out), PERC_OK);
    assert_int_equal(out, len + 2);
    memcpy(buf, copy, len);

    /* PT must fit 7 bits. */
    perc_relay_change bad_pt = {.set_pt = true, .pt = 128};
    assert_int_equal(perc_double_rewrite(buf, len, sizeof buf, &bad_pt, &out), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_double_rewrite(buf, len, sizeof buf, NULL, &out), PERC_ERR_INVALID_ARG);

    /* Invalid OHB. */
    buf[len - 1] = 0x08;
    assert_int_equal(perc_double_rewrite(buf, len, sizeof buf, &chg, &out), PERC_ERR_BAD_OHB);
    buf[len - 1] = 0x00;

    /* Every truncation of a valid outer plaintext fails cleanly: too short
     * for the header, the inner tag, or (cut at the back) its OHB. */
    for (size_t k = 0; k < len; k++) {
        memcpy(buf, copy, len);
        int rc = perc_double_rewrite(buf, k, sizeof buf, &chg, &out);
        if (k < PERC_RTP_FIXED_HEADER_LEN + PERC_SRTP_TAG_LEN + 1)
            assert_int_not_equal(rc, PERC_OK);
        else if (rc != PERC_OK)
            assert_true(rc == PERC_ERR_BAD_OHB || rc == PERC_ERR_TRUNCATED);
        perc_double_info info;
        rc = perc_double_inspect(copy, k, &info);
        if (k < PERC_RTP_FIXED_HEADER_LEN + PERC_SRTP_TAG_LEN + 1)
            assert_int_not_equal(rc, PERC_OK);
    }
    /* Header and OHB but no room for the inner tag. */
    const uint8_t short_body[] = {0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa, 0x00};
    assert_int_equal(perc_double_rewrite((uint8_t *)memcpy(buf, short_body, sizeof short_body),
                                         sizeof short_body, sizeof buf, &chg, &out),
                     PERC_ERR_TRUNCATED);
    perc_double_info info;
    assert_int_equal(perc_double_inspect(short_body, sizeof short_body, &info), PERC_ERR_TRUNCATED);
    /* Exactly header + tag + OHB: valid (empty payload). */
    uint8_t minimal[12 + 16 + 1] = {0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(perc_double_inspect(minimal, sizeof minimal, &info), PERC_OK);
    assert_int_equal(info.inner_ct_len, 0);
}

/* ---- key split ---------------------------------------------------------- */

static void test_split_vector(void **state)
{
    (void)state;
    const tv_field *exp = field(V_SPLIT, "exporter_output");
    assert_int_equal(exp->len, perc_double_exporter_len(PERC_PROFILE_DOUBLE_AES_128_GCM));
    perc_double_keying k;
    assert_int_equal(perc_double_split_exporter(PERC_PROFILE_DOUBLE_AES_128_GCM, exp->data,
                                                exp->len, &k),
                     PERC_OK);
    assert_int_equal(k.profile, 0x0009);
    const tv_field *f;
    f = field(V_SPLIT, "client_inner_key");
    assert_int_equal(k.client_write.inner.key_len, 16);
    assert_int_equal(k.client_write.inner.cipher, PERC_AES128_GCM);
    assert_memory_equal(k.client_write.inner.key, f->data, 16);
    f = field(V_SPLIT, "client_outer_key");
    assert_int_equal(k.client_write.outer.key_len, 16);
    assert_memory_equal(k.client_write.outer.key, f->data, 16);
    f = field(V_SPLIT, "client_inner_salt");
    assert_memory_equal(k.client_write.inner.salt, f->data, 12);
    f = field(V_SPLIT, "client_outer_salt");
    assert_memory_equal(k.client_write.outer.salt, f->data, 12);
    /* Server halves from the vector's full server_write values. */
    const tv_field *sk = field(V_SPLIT, "server_write_master_key");
    const tv_field *ss = field(V_SPLIT, "server_write_master_salt");
    assert_memory_equal(k.server_write.inner.key, sk->data, 16);
    assert_memory_equal(k.server_write.outer.key, sk->data + 16, 16);
    assert_memory_equal(k.server_write.inner.salt, ss->data, 12);
    assert_memory_equal(k.server_write.outer.salt, ss->data + 12, 12);
    /* The media_keys_message carries these outer halves. */
    const tv_field *mk = field(V_SPLIT, "media_keys_message");
    assert_true(contains(mk->data, mk->len, k.client_write.outer.key, 16));
    assert_true(contains(mk->data, mk->len, k.server_write.outer.key, 16));
    assert_true(contains(mk->data, mk->len, k.client_write.outer.salt, 12));
    assert_true(contains(mk->data, mk->len, k.server_write.outer.salt, 12));

    /* split_master on client_write gives the same. */
    const tv_field *ck = field(V_SPLIT, "client_write_master_key");
    const tv_field *cs = field(V_SPLIT, "client_write_master_salt");
    perc_double_master m;
    assert_int_equal(perc_double_split_master(0x0009, ck->data, ck->len, cs->data, cs->len, &m),
                     PERC_OK);
    assert_int_equal(m.inner.key_len, 16);
    assert_int_equal(m.outer.key_len, 16);
    assert_memory_equal(m.inner.key, k.client_write.inner.key, 16);
    assert_memory_equal(m.outer.key, k.client_write.outer.key, 16);
    assert_memory_equal(m.inner.salt, k.client_write.inner.salt, 12);
    assert_memory_equal(m.outer.salt, k.client_write.outer.salt, 12);

    perc_double_keying_wipe(&k);
    perc_double_master_wipe(&m);
    const uint8_t zero[sizeof k] = {0};
    assert_memory_equal(&k, zero, sizeof k);
}

static void test_split_256_and_errors(void **state)
{
    (void)state;
    uint8_t mat[PERC_DOUBLE_MAX_EXPORTER_LEN];
    for (size_t i = 0; i < sizeof mat; i++)
        mat[i] = (uint8_t)i;
    assert_int_equal(perc_double_exporter_len(0x000A), 176);
    assert_int_equal(perc_double_exporter_len(0x0009), 112);
    assert_int_equal(perc_double_exporter_len(0x0007), 0);
    perc_double_keying k;
    assert_int_equal(perc_double_split_exporter(0x000A, mat, 176, &k), PERC_OK);
    assert_int_equal(k.client_write.inner.key_len, 32);
    assert_int_equal(k.client_write.inner.cipher, PERC_AES256_GCM);
    assert_int_equal(k.client_write.inner.key[0], 0x00);
    assert_int_equal(k.client_write.outer.key[0], 0x20);
    assert_int_equal(k.server_write.inner.key[0], 0x40);
    assert_int_equal(k.server_write.outer.key[0], 0x60);
    assert_int_equal(k.client_write.inner.salt[0], 0x80);
    assert_int_equal(k.client_write.outer.salt[0], 0x8c);
    assert_int_equal(k.server_write.inner.salt[0], 0x98);
    assert_int_equal(k.server_write.outer.salt[0], 0xa4);
    assert_int_equal(k.server_write.outer.salt[11], 0xaf);

    assert_int_equal(perc_double_split_exporter(0x000A, mat, 175, &k), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_double_split_exporter(0x000A, mat, 112, &k), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_double_split_exporter(0x0009, mat, 113, &k), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_double_split_exporter(0x0007, mat, 56, &k), PERC_ERR_UNSUPPORTED);
    assert_int_equal(perc_double_split_exporter(0x1234, mat, 56, &k), PERC_ERR_UNSUPPORTED);
    perc_double_master m;
    assert_int_equal(perc_double_split_master(0x0009, mat, 32, mat, 12, &m), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_double_split_master(0x0009, mat, 16, mat, 24, &m), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_double_split_master(0x000A, mat, 32, mat, 24, &m), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_double_split_master(0x0008, mat, 32, mat, 12, &m), PERC_ERR_UNSUPPORTED);

    /* KDF per half gives different inner and outer session keys. */
    perc_srtp_session_keys ki, ko;
    assert_int_equal(perc_double_half_kdf(&k.client_write.inner, &ki), PERC_OK);
    assert_int_equal(perc_double_half_kdf(&k.client_write.outer, &ko), PERC_OK);
    assert_int_equal(ki.cipher, PERC_AES256_GCM);
    assert_memory_not_equal(ki.srtp_key, ko.srtp_key, 32);
    assert_memory_not_equal(ki.srtp_salt, ko.srtp_salt, 12);
    perc_srtp_keys_wipe(&ki);
    perc_srtp_keys_wipe(&ko);
    perc_double_keying_wipe(&k);
}

/* ---- derived vectors ---------------------------------------------------- */

static void test_sender_vector(void **state)
{
    (void)state;
    perc_srtp_session *in = session_from_vector(V_SENDER, "inner_session_key", "inner_session_salt");
    perc_srtp_session *out =
        session_from_vector(V_SENDER, "outer_session_key", "outer_session_salt");
    const tv_field *rtp = field(V_SENDER, "rtp_packet");
    uint8_t buf[BUF_CAP];
    memcpy(buf, rtp->data, rtp->len);

    /* Inner AAD = synthetic header. */
    perc_rtp_header h;
    assert_int_equal(perc_rtp_parse_header(buf, rtp->len, &h), PERC_OK);
    uint8_t syn[PERC_DOUBLE_MAX_SYNTHETIC_LEN];
    size_t syn_len;
    assert_int_equal(perc_double_synthetic_header(&h, syn, &syn_len), PERC_OK);
    const tv_field *aad = field(V_SENDER, "inner_aad");
    assert_int_equal(syn_len, aad->len);
    assert_memory_equal(syn, aad->data, aad->len);

    /* Inner seal: header || inner ciphertext || tag || 00 = outer plaintext. */
    size_t n;
    assert_int_equal(perc_double_inner_seal(in, 0, buf, rtp->len, sizeof buf, &n), PERC_OK);
    const tv_field *ct = field(V_SENDER, "inner_ciphertext_and_tag");
    const tv_field *op = field(V_SENDER, "outer_plaintext");
    assert_int_equal(n, 12 + op->len);
    assert_memory_equal(buf, rtp->data, 12);
    assert_memory_equal(buf + 12, ct->data, ct->len);
    assert_memory_equal(buf + 12, op->data, op->len);

    /* The whole sender step. */
    memcpy(buf, rtp->data, rtp->len);
    assert_int_equal(perc_double_protect(in, 0, out, 0, buf, rtp->len, sizeof buf, &n), PERC_OK);
    const tv_field *srtp = field(V_SENDER, "srtp_packet");
    assert_int_equal(n, srtp->len);
    assert_int_equal(n, rtp->len + PERC_DOUBLE_MIN_OVERHEAD);
    assert_memory_equal(buf, srtp->data, n);

    /* And back. */
    assert_int_equal(perc_double_unprotect(out, 0, in, 0, buf, n, &n), PERC_OK);
    assert_int_equal(n, rtp->len);
    assert_memory_equal(buf, rtp->data, n);

    /* Errors: same session for both layers, not enough room. */
    memcpy(buf, rtp->data, rtp->len);
    assert_int_equal(perc_double_protect(in, 0, in, 0, buf, rtp->len, sizeof buf, &n),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_double_protect(in, 0, out, 0, buf, rtp->len,
                                         rtp->len + PERC_DOUBLE_MIN_OVERHEAD - 1, &n),
                     PERC_ERR_NOSPACE);
    assert_memory_equal(buf, rtp->data, rtp->len);
    assert_int_equal(perc_double_inner_seal(in, 0, buf, rtp->len, rtp->len + 16, &n),
                     PERC_ERR_NOSPACE);
    assert_int_equal(perc_double_protect(in, 0, out, 0, buf, 11, sizeof buf, &n),
                     PERC_ERR_TRUNCATED);

    perc_srtp_session_free(in);
    perc_srtp_session_free(out);
}

static void test_md_vector(void **state)
{
    (void)state;
    perc_srtp_session *in = session_from_vector(V_SENDER, "inner_session_key", "inner_session_salt");
    perc_srtp_session *hop_in =
        session_from_vector(V_SENDER, "outer_session_key", "outer_session_salt");
    perc_srtp_session *hop_out = session_from_vector(V_MD, "md_to_receiver_outer_session_key",
                                                     "md_to_receiver_outer_session_salt");
    const tv_field *srtp = field(V_SENDER, "srtp_packet");
    const tv_field *fwd = field(V_MD, "forwarded_packet");
    const perc_relay_change chg = {.set_pt = true, .pt = 0x61, .set_seq = true, .seq = 0x1234,
                                   .set_marker = true, .marker = true};
    uint8_t buf[BUF_CAP];
    size_t n;

    /* Step by step: outer open, rewrite gives modified_header || outer_plaintext. */
    memcpy(buf, srtp->data, srtp->len);
    assert_int_equal(perc_srtp_open(hop_in, buf, srtp->len, 0, &n), PERC_OK);
    assert_int_equal(perc_double_rewrite(buf, n, sizeof buf, &chg, &n), PERC_OK);
    const tv_field *mh = field(V_MD, "modified_header");
    const tv_field *op = field(V_MD, "outer_plaintext");
    const tv_field *ohb = field(V_MD, "ohb");
    assert_int_equal(n, mh->len + op->len);
    assert_memory_equal(buf, mh->data, mh->len);
    assert_memory_equal(buf + mh->len, op->data, op->len);
    assert_memory_equal(buf + n - ohb->len, ohb->data, ohb->len);

    /* The relay in one call. */
    memcpy(buf, srtp->data, srtp->len);
    assert_int_equal(perc_double_relay(hop_in, 0, hop_out, 0, &chg, buf, srtp->len, sizeof buf, &n),
                     PERC_OK);
    assert_int_equal(n, fwd->len);
    assert_memory_equal(buf, fwd->data, n);

    /* Receiver: back to the original RTP packet. */
    perc_double_info info;
    assert_int_equal(perc_srtp_open(hop_out, buf, n, 0, &n), PERC_OK);
    assert_int_equal(perc_double_inspect(buf, n, &info), PERC_OK);
    assert_int_equal(info.hdr.payload_type, 0x61);
    assert_int_equal(info.hdr.seq, 0x1234);
    assert_true(info.hdr.marker);
    assert_int_equal(info.orig_pt, 0x40);
    assert_int_equal(info.orig_seq, 0xf17b);
    assert_false(info.orig_marker);
    assert_int_equal(perc_double_inner_open(in, 0, buf, n, &n), PERC_OK);
    const tv_field *rtp = field(V_SENDER, "rtp_packet");
    assert_int_equal(n, rtp->len);
    assert_memory_equal(buf, rtp->data, n);

    /* Same via perc_double_unprotect. */
    memcpy(buf, fwd->data, fwd->len);
    assert_int_equal(perc_double_unprotect(hop_out, 0, in, 0, buf, fwd->len, &n), PERC_OK);
    assert_memory_equal(buf, rtp->data, rtp->len);

    /* Relay without changes is a plain re-seal: the receiver still gets it. */
    memcpy(buf, srtp->data, srtp->len);
    assert_int_equal(perc_double_relay(hop_in, 0, hop_out, 0, NULL, buf, srtp->len, sizeof buf, &n),
                     PERC_OK);
    assert_int_equal(n, srtp->len);
    assert_int_equal(perc_double_unprotect(hop_out, 0, in, 0, buf, n, &n), PERC_OK);
    assert_memory_equal(buf, rtp->data, rtp->len);

    perc_srtp_session_free(in);
    perc_srtp_session_free(hop_in);
    perc_srtp_session_free(hop_out);
}

static void test_relay_refuses_same_session(void **state)
{
    (void)state;
    perc_srtp_session *hop = session_from_vector(V_SENDER, "outer_session_key", "outer_session_salt");
    const tv_field *srtp = field(V_SENDER, "srtp_packet");
    uint8_t buf[BUF_CAP];
    memcpy(buf, srtp->data, srtp->len);
    size_t n;
    assert_int_equal(perc_double_relay(hop, 0, hop, 0, NULL, buf, srtp->len, sizeof buf, &n),
                     PERC_ERR_INVALID_ARG);
    /* Refused before anything happened. */
    assert_memory_equal(buf, srtp->data, srtp->len);
    /* A second session built from the same key is the same key: refused
     * too (RFC 8723 §5.2 is about keys, not objects). */
    perc_srtp_session *twin = session_from_vector(V_SENDER, "outer_session_key", "outer_session_salt");
    assert_int_equal(perc_double_relay(hop, 0, twin, 0, NULL, buf, srtp->len, sizeof buf, &n),
                     PERC_ERR_INVALID_ARG);
    assert_memory_equal(buf, srtp->data, srtp->len);
    /* and the sender refuses equal keys for its two layers */
    pkt_spec sp = DEFAULT_PKT;
    size_t plen = build_rtp(&sp, buf, sizeof buf);
    assert_int_equal(perc_double_protect(hop, 0, twin, 0, buf, plen, sizeof buf, &n),
                     PERC_ERR_INVALID_ARG);
    perc_srtp_session_free(twin);
    perc_srtp_session_free(hop);
}

/* §5.1 step 1: only RFC 8285 extension blocks may be sent. */
static void test_sender_refuses_non_rfc8285_extensions(void **state)
{
    (void)state;
    perc_srtp_session *in = session_seeded(PERC_AES128_GCM, 41), *out = session_seeded(PERC_AES128_GCM, 42);
    uint8_t buf[BUF_CAP];
    pkt_spec sp = DEFAULT_PKT;
    sp.ext = true;
    size_t len = build_rtp(&sp, buf, sizeof buf), n;
    /* the "defined by profile" word sits right after the fixed header */
    buf[12] = 0x12;
    buf[13] = 0x34;
    assert_int_equal(perc_double_protect(in, 0, out, 0, buf, len, sizeof buf, &n), PERC_ERR_UNSUPPORTED);
    buf[12] = 0x10; /* two-byte form, app bits 0x5 */
    buf[13] = 0x05;
    assert_int_equal(perc_double_protect(in, 0, out, 0, buf, len, sizeof buf, &n), PERC_OK);
    perc_srtp_session_free(in);
    perc_srtp_session_free(out);
}

/* The sender's ROC moves only when a packet was protected, and the 48-bit
 * index never wraps (it would reuse GCM nonces on both layers). */
static void test_tx_roc_only_moves_on_success(void **state)
{
    (void)state;
    perc_srtp_session_keys inner, hop;
    uint8_t key[16] = {1}, salt[12] = {2};
    assert_int_equal(perc_srtp_keys_direct(PERC_AES128_GCM, key, 16, salt, 12, &inner), PERC_OK);
    key[0] = 3;
    assert_int_equal(perc_srtp_keys_direct(PERC_AES128_GCM, key, 16, salt, 12, &hop), PERC_OK);
    perc_double_tx *tx;
    assert_int_equal(perc_double_tx_new(&inner, &hop, 0, &tx), PERC_OK);
    pkt_spec sp = DEFAULT_PKT;
    uint8_t buf[BUF_CAP];
    size_t len, n;
    uint32_t roc;
    sp.seq = 0xFFFF;
    len = build_rtp(&sp, buf, sizeof buf);
    assert_int_equal(perc_double_tx_protect(tx, buf, len, sizeof buf, &n), PERC_OK);
    sp.seq = 0x0000; /* wraps: ROC 1 */
    len = build_rtp(&sp, buf, sizeof buf);
    assert_int_equal(perc_double_tx_protect(tx, buf, len, len + 4, &n), PERC_ERR_NOSPACE);
    assert_int_equal(perc_double_tx_roc(tx, sp.ssrc, &roc), PERC_OK);
    assert_int_equal(roc, 0);
    assert_int_equal(perc_double_tx_protect(tx, buf, len, sizeof buf, &n), PERC_OK);
    assert_int_equal(perc_double_tx_roc(tx, sp.ssrc, &roc), PERC_OK);
    assert_int_equal(roc, 1);

    assert_int_equal(perc_double_tx_set_roc(tx, sp.ssrc, UINT32_MAX), PERC_OK);
    sp.seq = 0xFFFF;
    len = build_rtp(&sp, buf, sizeof buf);
    assert_int_equal(perc_double_tx_protect(tx, buf, len, sizeof buf, &n), PERC_OK);
    sp.seq = 0x0000;
    len = build_rtp(&sp, buf, sizeof buf);
    assert_int_equal(perc_double_tx_protect(tx, buf, len, sizeof buf, &n), PERC_ERR_KEY_EXHAUSTED);
    perc_double_tx_free(tx);
    perc_srtp_keys_wipe(&inner);
    perc_srtp_keys_wipe(&hop);
}

/* ---- receiver rejections ------------------------------------------------ */

typedef struct trio {
    perc_srtp_session *inner, *hop1, *hop2;
} trio;

static trio trio_new(perc_srtp_cipher c, uint64_t seed)
{
    trio t = {session_seeded(c, seed), session_seeded(c, seed + 1), session_seeded(c, seed + 2)};
    return t;
}

static void trio_free(trio *t)
{
    perc_srtp_session_free(t->inner);
    perc_srtp_session_free(t->hop1);
    perc_srtp_session_free(t->hop2);
}

static void test_receiver_rejects_tampering(void **state)
{
    (void)state;
    trio t = trio_new(PERC_AES128_GCM, 11);
    uint8_t plain[BUF_CAP], wire[BUF_CAP], buf[BUF_CAP];
    size_t plen = build_rtp(&DEFAULT_PKT, plain, sizeof plain);
    memcpy(wire, plain, plen);
    size_t wlen, n;
    assert_int_equal(perc_double_protect(t.inner, 0, t.hop1, 0, wire, plen, sizeof wire, &wlen),
                     PERC_OK);

    /* A bit flipped anywhere on the wire: outer authentication fails. */
    for (size_t i = 0; i < wlen; i++) {
        memcpy(buf, wire, wlen);
        buf[i] ^= 0x01;
        int rc = perc_double_unprotect(t.hop1, 0, t.inner, 0, buf, wlen, &n);
        assert_int_not_equal(rc, PERC_OK);
        if (i >= 12)
            assert_int_equal(rc, PERC_ERR_AUTH);
    }

    /* A dishonest MD holding the outer keys: changes a field the OHB cannot
     * record, re-seals with a valid outgoing key. The outer check passes,
     * the inner one does not. */
    enum { TS, SSRC, PAYLOAD, P_BIT, OHB_LIE, TAG };
    for (int what = TS; what <= TAG; what++) {
        memcpy(buf, wire, wlen);
        assert_int_equal(perc_srtp_open(t.hop1, buf, wlen, 0, &n), PERC_OK);
        switch (what) {
        case TS:
            buf[7] ^= 0x01;
            break;
        case SSRC:
            buf[11] ^= 0x80;
            break;
        case PAYLOAD:
            buf[12] ^= 0x40;
            break;
        case P_BIT:
            buf[0] ^= 0x20; /* P bit */
            break;
        case OHB_LIE: {
            /* Claim the original SEQ was 999 while keeping SEQ 1000. */
            perc_relay_change chg = {.set_seq = true, .seq = 999};
            assert_int_equal(perc_double_rewrite(buf, n, sizeof buf, &chg, &n), PERC_OK);
            /* Now SEQ 999 on the wire, 1000 in the OHB; swap them. */
            buf[2] = 0x03;
            buf[3] = 0xe8;
            buf[n - 3] = 0x03;
            buf[n - 2] = 0xe7;
            break;
        }
        case TAG:
            buf[n - 2] ^= 0xff; /* last inner tag octet (OHB is 1 octet) */
            break;
        }
        assert_int_equal(perc_srtp_seal(t.hop2, buf, n, sizeof buf, 0, &n), PERC_OK);
        size_t m;
        uint8_t keep[BUF_CAP];
        memcpy(keep, buf, n);
        assert_int_equal(perc_srtp_open(t.hop2, keep, n, 0, &m), PERC_OK);
        assert_int_equal(perc_double_unprotect(t.hop2, 0, t.inner, 0, buf, n, &m), PERC_ERR_AUTH);
    }

    /* Wrong inner ROC, or wrong outer ROC: rejected. */
    memcpy(buf, wire, wlen);
    assert_int_equal(perc_double_unprotect(t.hop1, 0, t.inner, 1, buf, wlen, &n), PERC_ERR_AUTH);
    memcpy(buf, wire, wlen);
    assert_int_equal(perc_double_unprotect(t.hop1, 1, t.inner, 0, buf, wlen, &n), PERC_ERR_AUTH);
    /* The MD's outer key cannot open the inner layer (inner keys differ). */
    memcpy(buf, wire, wlen);
    assert_int_equal(perc_double_unprotect(t.hop1, 0, t.hop1, 0, buf, wlen, &n), PERC_ERR_AUTH);

    /* Every truncation of the wire packet fails cleanly. */
    for (size_t k = 0; k < wlen; k++) {
        memcpy(buf, wire, k);
        assert_int_not_equal(perc_double_unprotect(t.hop1, 0, t.inner, 0, buf, k, &n), PERC_OK);
    }
    /* Every truncation of the outer plaintext fails the inner step. */
    memcpy(buf, wire, wlen);
    size_t olen;
    assert_int_equal(perc_srtp_open(t.hop1, buf, wlen, 0, &olen), PERC_OK);
    uint8_t outer_plain[BUF_CAP];
    memcpy(outer_plain, buf, olen);
    for (size_t k = 0; k < olen; k++) {
        memcpy(buf, outer_plain, k);
        assert_int_not_equal(perc_double_inner_open(t.inner, 0, buf, k, &n), PERC_OK);
    }
    /* Trailing octets after the outer tag: authentication fails. */
    memcpy(buf, wire, wlen);
    buf[wlen] = 0;
    assert_int_equal(perc_double_unprotect(t.hop1, 0, t.inner, 0, buf, wlen + 1, &n), PERC_ERR_AUTH);
    trio_free(&t);
}

static void test_csrc_extensions_padding(void **state)
{
    (void)state;
    trio t = trio_new(PERC_AES128_GCM, 21);
    pkt_spec sp = DEFAULT_PKT;
    sp.cc = 3;
    sp.ext = true;
    sp.padding = 5;
    sp.marker = true;
    uint8_t plain[BUF_CAP], buf[BUF_CAP];
    size_t plen = build_rtp(&sp, plain, sizeof plain);
    perc_rtp_packet p;
    assert_int_equal(perc_rtp_parse(plain, plen, &p), PERC_OK);
    assert_int_equal(p.padding_len, 5);
    assert_true(p.hdr.extension);
    size_t hl = p.hdr.header_len;

    /* Inner AAD: 12 + 4*CC octets, X cleared, P kept. */
    uint8_t syn[PERC_DOUBLE_MAX_SYNTHETIC_LEN];
    size_t syn_len;
    assert_int_equal(perc_double_synthetic_header(&p.hdr, syn, &syn_len), PERC_OK);
    assert_int_equal(syn_len, 12 + 4 * 3);
    assert_int_equal(syn[0], plain[0] & ~0x10);
    assert_true(syn[0] & 0x20);
    assert_memory_equal(syn + 1, plain + 1, syn_len - 1);

    memcpy(buf, plain, plen);
    size_t n;
    assert_int_equal(perc_double_protect(t.inner, 0, t.hop1, 0, buf, plen, sizeof buf, &n), PERC_OK);
    assert_int_equal(n, plen + PERC_DOUBLE_MIN_OVERHEAD);
    /* The header, extensions included, travels in clear. */
    assert_memory_equal(buf, plain, hl);

    /* The MD decrypts, changes an extension element's value (same length)
     * and the marker, re-seals. The inner check still passes (extensions
     * are outside the inner AAD); the receiver sees the changed extension. */
    assert_int_equal(perc_srtp_open(t.hop1, buf, n, 0, &n), PERC_OK);
    size_t ext_at = 12 + 4 * 3 + 4; /* first element header */
    assert_int_equal(buf[ext_at], 0x10); /* id 1, len 1 */
    buf[ext_at + 1] = 0x7f;
    perc_relay_change chg = {.set_marker = true, .marker = false, .set_pt = true, .pt = 97};
    assert_int_equal(perc_double_rewrite(buf, n, sizeof buf, &chg, &n), PERC_OK);
    assert_int_equal(perc_srtp_seal(t.hop2, buf, n, sizeof buf, 0, &n), PERC_OK);

    size_t out;
    assert_int_equal(perc_double_unprotect(t.hop2, 0, t.inner, 0, buf, n, &out), PERC_OK);
    assert_int_equal(out, plen);
    assert_int_equal(buf[ext_at + 1], 0x7f);
    buf[ext_at + 1] = plain[ext_at + 1];
    assert_memory_equal(buf, plain, plen);
    perc_rtp_packet q;
    assert_int_equal(perc_rtp_parse(buf, out, &q), PERC_OK);
    assert_int_equal(q.padding_len, 5);
    assert_true(q.hdr.marker);
    assert_int_equal(q.hdr.payload_type, 96);

    /* The MD may even drop the extension block entirely. */
    memcpy(buf, plain, plen);
    assert_int_equal(perc_double_protect(t.inner, 0, t.hop1, 0, buf, plen, sizeof buf, &n), PERC_OK);
    assert_int_equal(perc_srtp_open(t.hop1, buf, n, 0, &n), PERC_OK);
    size_t ext_len = hl - (12 + 12);
    buf[0] &= (uint8_t)~0x10;
    memmove(buf + 24, buf + hl, n - hl);
    n -= ext_len;
    assert_int_equal(perc_srtp_seal(t.hop2, buf, n, sizeof buf, 0, &n), PERC_OK);
    assert_int_equal(perc_double_unprotect(t.hop2, 0, t.inner, 0, buf, n, &out), PERC_OK);
    assert_int_equal(out, plen - ext_len);
    assert_memory_equal(buf + 1, plain + 1, 23);
    assert_memory_equal(buf + 24, plain + hl, plen - hl);

    /* But changing a CSRC breaks the inner check. */
    memcpy(buf, plain, plen);
    assert_int_equal(perc_double_protect(t.inner, 0, t.hop1, 0, buf, plen, sizeof buf, &n), PERC_OK);
    assert_int_equal(perc_srtp_open(t.hop1, buf, n, 0, &n), PERC_OK);
    buf[12 + 4] ^= 1;
    assert_int_equal(perc_srtp_seal(t.hop2, buf, n, sizeof buf, 0, &n), PERC_OK);
    assert_int_equal(perc_double_unprotect(t.hop2, 0, t.inner, 0, buf, n, &out), PERC_ERR_AUTH);

    /* Adding X + extension to a packet sent without one is also fine. */
    pkt_spec plain_sp = DEFAULT_PKT;
    size_t p2 = build_rtp(&plain_sp, plain, sizeof plain);
    pkt_spec with_ext = plain_sp;
    with_ext.ext = true;
    uint8_t ext_pkt[BUF_CAP];
    size_t e2 = build_rtp(&with_ext, ext_pkt, sizeof ext_pkt);
    size_t add = e2 - p2;
    memcpy(buf, plain, p2);
    assert_int_equal(perc_double_protect(t.inner, 0, t.hop1, 0, buf, p2, sizeof buf, &n), PERC_OK);
    assert_int_equal(perc_srtp_open(t.hop1, buf, n, 0, &n), PERC_OK);
    memmove(buf + 12 + add, buf + 12, n - 12);
    memcpy(buf, ext_pkt, 12 + add);
    n += add;
    assert_int_equal(perc_srtp_seal(t.hop2, buf, n, sizeof buf, 0, &n), PERC_OK);
    assert_int_equal(perc_double_unprotect(t.hop2, 0, t.inner, 0, buf, n, &out), PERC_OK);
    assert_int_equal(out, e2);
    assert_memory_equal(buf, ext_pkt, e2);
    trio_free(&t);
}

/* ---- separate inner and outer ROC --------------------------------------- */

static void roc_wrap_with_objects(perc_srtp_cipher c)
{
    /* Keys from a DTLS-SRTP style split, through the KDF. */
    uint16_t profile = c == PERC_AES128_GCM ? 0x0009 : 0x000A;
    uint8_t mat[PERC_DOUBLE_MAX_EXPORTER_LEN];
    tu_rng r;
    tu_rng_seed(&r, profile);
    tu_rng_fill(&r, mat, sizeof mat);
    perc_double_keying k;
    assert_int_equal(perc_double_split_exporter(profile, mat, perc_double_exporter_len(profile), &k),
                     PERC_OK);
    perc_srtp_session_keys inner, up, down;
    assert_int_equal(perc_double_half_kdf(&k.client_write.inner, &inner), PERC_OK);
    assert_int_equal(perc_double_half_kdf(&k.client_write.outer, &up), PERC_OK);
    assert_int_equal(perc_double_half_kdf(&k.server_write.outer, &down), PERC_OK);
    perc_double_keying_wipe(&k);

    perc_double_tx *tx;
    perc_double_rx *rx;
    perc_srtp_session *md_in, *md_out;
    assert_int_equal(perc_double_tx_new(&inner, &up, 0, &tx), PERC_OK);
    assert_int_equal(perc_double_rx_new(&down, 0, &rx), PERC_OK);
    assert_int_equal(perc_srtp_session_new(&up, &md_in), PERC_OK);
    assert_int_equal(perc_srtp_session_new(&down, &md_out), PERC_OK);

    pkt_spec sp = DEFAULT_PKT;
    sp.seq = 10;
    uint8_t plain[BUF_CAP], buf[BUF_CAP];
    size_t n, out;

    /* Before the inner key is known: NO_KEY, and nothing moves. */
    size_t plen = build_rtp(&sp, plain, sizeof plain);
    memcpy(buf, plain, plen);
    assert_int_equal(perc_double_tx_protect(tx, buf, plen, sizeof buf, &n), PERC_OK);
    perc_relay_change first = {.set_seq = true, .seq = 0xFFEF};
    assert_int_equal(perc_double_relay(md_in, 0, md_out, 0, &first, buf, n, sizeof buf, &n),
                     PERC_OK);
    uint8_t early[BUF_CAP];
    size_t early_len = n;
    memcpy(early, buf, n);
    assert_int_equal(perc_double_rx_unprotect(rx, buf, n, &out, NULL), PERC_ERR_NO_KEY);
    assert_int_equal(perc_double_rx_set_inner(rx, sp.ssrc, &inner, 0), PERC_OK);
    assert_int_equal(perc_double_rx_unprotect(rx, early, early_len, &out, NULL), PERC_OK);
    assert_memory_equal(early, plain, plen);

    /* The MD renumbers the outgoing SEQ starting at 0xFFF0, so the outer
     * SEQ wraps (outer ROC 0 -> 1) while the inner SEQ (11, 12, ...) does
     * not. The receiver tracks both. */
    uint32_t md_roc = 0;
    uint16_t md_seq = 0xFFF0;
    for (int i = 0; i < 40; i++) {
        sp.seq = (uint16_t)(11 + i);
        sp.marker = (i % 5) == 0;
        plen = build_rtp(&sp, plain, sizeof plain);
        memcpy(buf, plain, plen);
        assert_int_equal(perc_double_tx_protect(tx, buf, plen, sizeof buf, &n), PERC_OK);
        perc_relay_change chg = {.set_seq = true, .seq = md_seq, .set_pt = (i & 1) != 0, .pt = 100};
        assert_int_equal(perc_double_relay(md_in, 0, md_out, md_roc, &chg, buf, n, sizeof buf, &n),
                         PERC_OK);
        uint8_t copy[BUF_CAP];
        memcpy(copy, buf, n);
        size_t copy_len = n;
        perc_double_info info;
        assert_int_equal(perc_double_rx_unprotect(rx, buf, n, &out, &info), PERC_OK);
        assert_int_equal(out, plen);
        assert_memory_equal(buf, plain, plen);
        assert_int_equal(info.hdr.seq, md_seq);
        assert_int_equal(info.orig_seq, sp.seq);
        assert_int_equal(info.hdr.payload_type, (i & 1) ? 100 : 96);
        /* Replay of the same wire packet: the outer window refuses it. */
        assert_int_equal(perc_double_rx_unprotect(rx, copy, copy_len, &out, NULL), PERC_ERR_REPLAY);
        md_seq++;
        if (md_seq == 0)
            md_roc++;
    }
    assert_int_equal(md_roc, 1);
    uint32_t roc;
    assert_int_equal(perc_double_tx_roc(tx, sp.ssrc, &roc), PERC_OK);
    assert_int_equal(roc, 0);
    assert_int_equal(perc_double_tx_roc(tx, 1234, &roc), PERC_ERR_NOT_FOUND);

    /* An inner replay under a fresh outer SEQ: the MD (or an attacker with
     * the hop key) re-sends an old packet with a new outer SEQ. Outer
     * accepts, inner window refuses. */
    sp.seq = 20;
    sp.marker = false;
    plen = build_rtp(&sp, plain, sizeof plain);
    memcpy(buf, plain, plen);
    /* Re-create packet with SEQ 20 as the sender sent it (same ROC, same
     * key, so identical bytes). */
    perc_srtp_session *in_s, *up_s;
    assert_int_equal(perc_srtp_session_new(&inner, &in_s), PERC_OK);
    assert_int_equal(perc_srtp_session_new(&up, &up_s), PERC_OK);
    assert_int_equal(perc_double_protect(in_s, 0, up_s, 0, buf, plen, sizeof buf, &n), PERC_OK);
    perc_relay_change chg = {.set_seq = true, .seq = md_seq};
    assert_int_equal(perc_double_relay(md_in, 0, md_out, md_roc, &chg, buf, n, sizeof buf, &n),
                     PERC_OK);
    assert_int_equal(perc_double_rx_unprotect(rx, buf, n, &out, NULL), PERC_ERR_REPLAY);

    /* Inner SEQ wraps at the sender while the MD's SEQ does not (a second
     * source of this sender, starting near the wrap). */
    sp.ssrc = 0x0badcafe;
    assert_int_equal(perc_double_rx_set_inner(rx, sp.ssrc, &inner, 0), PERC_OK);
    md_roc = 0;
    md_seq = 100;
    for (int i = 0; i < 20; i++) {
        sp.seq = (uint16_t)(0xFFF5 + i);
        plen = build_rtp(&sp, plain, sizeof plain);
        memcpy(buf, plain, plen);
        assert_int_equal(perc_double_tx_protect(tx, buf, plen, sizeof buf, &n), PERC_OK);
        perc_relay_change c2 = {.set_seq = true, .seq = md_seq++};
        assert_int_equal(perc_double_relay(md_in, sp.seq >= 0xFFF5 ? 0 : 1, md_out, md_roc, &c2, buf,
                                           n, sizeof buf, &n),
                         PERC_OK);
        assert_int_equal(perc_double_rx_unprotect(rx, buf, n, &out, NULL), PERC_OK);
        assert_memory_equal(buf, plain, plen);
    }
    assert_int_equal(perc_double_tx_roc(tx, sp.ssrc, &roc), PERC_OK);
    assert_int_equal(roc, 1);

    perc_srtp_session_free(in_s);
    perc_srtp_session_free(up_s);
    perc_srtp_session_free(md_in);
    perc_srtp_session_free(md_out);
    perc_double_tx_free(tx);
    perc_double_rx_free(rx);
    perc_srtp_keys_wipe(&inner);
    perc_srtp_keys_wipe(&up);
    perc_srtp_keys_wipe(&down);
}

static void test_roc_wrap_128(void **state)
{
    (void)state;
    roc_wrap_with_objects(PERC_AES128_GCM);
}

static void test_roc_wrap_256(void **state)
{
    (void)state;
    roc_wrap_with_objects(PERC_AES256_GCM);
}

static void test_explicit_rocs(void **state)
{
    (void)state;
    /* Step functions with explicit, different ROCs for each layer and hop. */
    for (int c = 0; c < 2; c++) {
        trio t = trio_new(c ? PERC_AES256_GCM : PERC_AES128_GCM, 31);
        pkt_spec sp = DEFAULT_PKT;
        sp.seq = 0xfffe;
        uint8_t plain[BUF_CAP], buf[BUF_CAP];
        size_t plen = build_rtp(&sp, plain, sizeof plain);
        memcpy(buf, plain, plen);
        size_t n;
        assert_int_equal(perc_double_protect(t.inner, 7, t.hop1, 7, buf, plen, sizeof buf, &n),
                         PERC_OK);
        perc_relay_change chg = {.set_seq = true, .seq = 3};
        assert_int_equal(perc_double_relay(t.hop1, 7, t.hop2, 2, &chg, buf, n, sizeof buf, &n),
                         PERC_OK);
        uint8_t fwd[BUF_CAP];
        memcpy(fwd, buf, n);
        size_t out;
        /* The outer ROC is the MD's (2), the inner the sender's (7). */
        assert_int_equal(perc_double_unprotect(t.hop2, 2, t.inner, 7, buf, n, &out), PERC_OK);
        assert_memory_equal(buf, plain, plen);
        memcpy(buf, fwd, n);
        assert_int_equal(perc_double_unprotect(t.hop2, 7, t.inner, 7, buf, n, &out), PERC_ERR_AUTH);
        memcpy(buf, fwd, n);
        assert_int_equal(perc_double_unprotect(t.hop2, 2, t.inner, 2, buf, n, &out), PERC_ERR_AUTH);
        /* Relay at the wrong incoming ROC: refused. */
        memcpy(buf, fwd, n);
        assert_int_equal(perc_double_relay(t.hop2, 3, t.hop1, 0, NULL, buf, n, sizeof buf, &n),
                         PERC_ERR_AUTH);
        trio_free(&t);
    }
}

static void test_rx_limits_and_errors(void **state)
{
    (void)state;
    tu_rng r;
    tu_rng_seed(&r, 5);
    perc_srtp_session_keys inner, hop;
    uint8_t key[16], salt[12];
    tu_rng_fill(&r, key, 16);
    tu_rng_fill(&r, salt, 12);
    assert_int_equal(perc_srtp_keys_direct(PERC_AES128_GCM, key, 16, salt, 12, &inner), PERC_OK);
    tu_rng_fill(&r, key, 16);
    assert_int_equal(perc_srtp_keys_direct(PERC_AES128_GCM, key, 16, salt, 12, &hop), PERC_OK);

    perc_double_tx *tx;
    perc_double_rx *rx;
    assert_int_equal(perc_double_tx_new(&inner, &hop, 1, &tx), PERC_OK);
    assert_int_equal(perc_double_rx_new(&hop, 1, &rx), PERC_OK);
    assert_int_equal(perc_double_rx_set_inner(rx, 1, &inner, 0), PERC_OK);
    assert_int_equal(perc_double_rx_set_inner(rx, 1, &inner, 0), PERC_OK); /* replace */
    assert_int_equal(perc_double_rx_set_inner(rx, 2, &inner, 0), PERC_ERR_LIMIT);

    pkt_spec sp = DEFAULT_PKT;
    sp.ssrc = 1;
    uint8_t plain[BUF_CAP], buf[BUF_CAP];
    size_t plen = build_rtp(&sp, plain, sizeof plain), n, out;
    memcpy(buf, plain, plen);
    assert_int_equal(perc_double_tx_protect(tx, buf, plen, sizeof buf, &n), PERC_OK);
    /* A forged packet does not take an outer slot: after it, the real one
     * still gets in. */
    uint8_t forged[BUF_CAP];
    memcpy(forged, buf, n);
    forged[n - 1] ^= 1;
    assert_int_equal(perc_double_rx_unprotect(rx, forged, n, &out, NULL), PERC_ERR_AUTH);
    assert_int_equal(perc_double_rx_unprotect(rx, buf, n, &out, NULL), PERC_OK);
    assert_memory_equal(buf, plain, plen);

    sp.ssrc = 2;
    plen = build_rtp(&sp, plain, sizeof plain);
    memcpy(buf, plain, plen);
    assert_int_equal(perc_double_tx_protect(tx, buf, plen, sizeof buf, &n), PERC_ERR_LIMIT);
    assert_int_equal(perc_double_tx_set_roc(tx, 3, 0), PERC_ERR_LIMIT);
    assert_int_equal(perc_double_rx_set_outer_roc(rx, 3, 0), PERC_ERR_LIMIT);
    assert_int_equal(perc_double_rx_set_outer_roc(rx, 1, 0), PERC_OK);

    assert_int_equal(perc_double_tx_new(NULL, &hop, 0, &tx), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_double_rx_unprotect(rx, buf, 5, &out, NULL), PERC_ERR_TRUNCATED);
    perc_double_tx_free(tx);
    perc_double_rx_free(rx);
    perc_double_tx_free(NULL);
    perc_double_rx_free(NULL);
    perc_srtp_keys_wipe(&inner);
    perc_srtp_keys_wipe(&hop);
}

static void test_random_round_trips(void **state)
{
    (void)state;
    /* Random shapes (CC, extensions, padding, sizes, changes) through
     * sender -> MD -> MD -> receiver. */
    tu_rng r;
    tu_rng_seed(&r, 77);
    for (int c = 0; c < 2; c++) {
        trio t = trio_new(c ? PERC_AES256_GCM : PERC_AES128_GCM, 41);
        perc_srtp_session *hop3 = session_seeded(c ? PERC_AES256_GCM : PERC_AES128_GCM, 99);
        for (int i = 0; i < 200; i++) {
            pkt_spec sp;
            sp.pt = (uint8_t)tu_rng_below(&r, 128);
            sp.seq = (uint16_t)tu_rng_next(&r);
            sp.marker = tu_rng_below(&r, 2) != 0;
            sp.ts = (uint32_t)tu_rng_next(&r);
            sp.ssrc = (uint32_t)tu_rng_next(&r);
            sp.cc = (uint8_t)tu_rng_below(&r, 16);
            sp.ext = tu_rng_below(&r, 2) != 0;
            sp.payload_len = tu_rng_below(&r, 300);
            sp.padding = (uint8_t)tu_rng_below(&r, 3) == 0 ? (uint8_t)(1 + tu_rng_below(&r, 255)) : 0;
            uint8_t plain[BUF_CAP], buf[BUF_CAP];
            size_t plen = build_rtp(&sp, plain, sizeof plain), n, out;
            uint32_t roc = tu_rng_below(&r, 3);
            memcpy(buf, plain, plen);
            assert_int_equal(perc_double_protect(t.inner, roc, t.hop1, roc, buf, plen, sizeof buf, &n),
                             PERC_OK);
            perc_relay_change c1 = {tu_rng_below(&r, 2) != 0, (uint8_t)tu_rng_below(&r, 128),
                                    tu_rng_below(&r, 2) != 0, (uint16_t)tu_rng_next(&r),
                                    tu_rng_below(&r, 2) != 0, tu_rng_below(&r, 2) != 0};
            perc_relay_change c2 = {tu_rng_below(&r, 2) != 0, (uint8_t)tu_rng_below(&r, 128),
                                    tu_rng_below(&r, 2) != 0, (uint16_t)tu_rng_next(&r),
                                    tu_rng_below(&r, 2) != 0, tu_rng_below(&r, 2) != 0};
            assert_int_equal(perc_double_relay(t.hop1, roc, t.hop2, 5, &c1, buf, n, sizeof buf, &n),
                             PERC_OK);
            assert_true(n >= plen + PERC_DOUBLE_MIN_OVERHEAD);
            assert_true(n <= plen + PERC_DOUBLE_MAX_OVERHEAD);
            assert_int_equal(perc_double_relay(t.hop2, 5, hop3, 9, &c2, buf, n, sizeof buf, &n),
                             PERC_OK);
            assert_int_equal(perc_double_unprotect(hop3, 9, t.inner, roc, buf, n, &out), PERC_OK);
            assert_int_equal(out, plen);
            assert_memory_equal(buf, plain, plen);
        }
        perc_srtp_session_free(hop3);
        trio_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ohb_every_config_octet),
        cmocka_unit_test(test_ohb_vector),
        cmocka_unit_test(test_ohb_reserved_and_b_without_m),
        cmocka_unit_test(test_ohb_pt_top_bit),
        cmocka_unit_test(test_ohb_truncations),
        cmocka_unit_test(test_ohb_extra_bytes),
        cmocka_unit_test(test_ohb_record_restore),
        cmocka_unit_test(test_rewrite_grows_and_shrinks),
        cmocka_unit_test(test_rewrite_two_mds),
        cmocka_unit_test(test_rewrite_errors),
        cmocka_unit_test(test_split_vector),
        cmocka_unit_test(test_split_256_and_errors),
        cmocka_unit_test(test_sender_vector),
        cmocka_unit_test(test_md_vector),
        cmocka_unit_test(test_relay_refuses_same_session),
        cmocka_unit_test(test_sender_refuses_non_rfc8285_extensions),
        cmocka_unit_test(test_tx_roc_only_moves_on_success),
        cmocka_unit_test(test_receiver_rejects_tampering),
        cmocka_unit_test(test_csrc_extensions_padding),
        cmocka_unit_test(test_roc_wrap_128),
        cmocka_unit_test(test_roc_wrap_256),
        cmocka_unit_test(test_explicit_rocs),
        cmocka_unit_test(test_rx_limits_and_errors),
        cmocka_unit_test(test_random_round_trips),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
