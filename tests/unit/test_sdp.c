/* SDP subset parser and writer (common/include/perc/sdp.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perc/sdp.h"

/* An endpoint's offer: audio and video bundled, rtcp-mux, ICE with two
 * host candidates and one server-reflexive one, DTLS fingerprint at
 * session level, setup:active and tls-id per section. Written in the
 * writer's canonical order, so write(parse(OFFER)) == OFFER. */
static const char OFFER[] =
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:"
    "8E:5E:EA:6F:AF:52:CE:E6:0F\r\n"
    "a=msid-semantic: WMS perc\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n"                             /* line 9 */
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:0\r\n"
    "a=ice-ufrag:F7gI\r\n"
    "a=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n"
    "a=setup:active\r\n"
    "a=tls-id:dGxzLWlkLWVuZHBvaW50LTE\r\n"
    "a=sendrecv\r\n"
    "a=rtcp-mux\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=ssrc:3735928559 cname:perc-endpoint-1\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=candidate:1 1 UDP 2122260223 192.0.2.10 54400 typ host\r\n"
    "a=candidate:2 1 UDP 2122194687 198.51.100.7 54401 typ host generation 0\r\n"
    "a=candidate:3 1 UDP 1686052607 203.0.113.5 61000 typ srflx raddr 192.0.2.10 rport 54400\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"                                /* line 26 */
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:1\r\n"
    "a=ice-ufrag:F7gI\r\n"
    "a=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n"
    "a=setup:active\r\n"
    "a=tls-id:dGxzLWlkLWVuZHBvaW50LTE\r\n"
    "a=sendrecv\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=ssrc:305419896 cname:perc-endpoint-1\r\n"
    "a=rtcp-fb:96 nack pli\r\n";

/* The answer signaling builds: the Media Distributor's ICE-lite
 * credentials and candidates (one IPv6), the KMF's fingerprint and tls-id,
 * setup:passive, all at session level. */
static const char ANSWER[] =
    "v=0\r\n"
    "o=perc-mdd 1 1 IN IP4 192.0.2.1\r\n"
    "s=PERC conference\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=ice-lite\r\n"
    "a=ice-ufrag:mdd1\r\n"
    "a=ice-pwd:ZWxlY3Ryb25pYy1zZWNyZXQtcHdk\r\n"
    "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:B4:2F:E4:"
    "A2:1B:5C:A8:3A:96:75:3C:65\r\n"
    "a=setup:passive\r\n"
    "a=tls-id:kmf-tls_id+0123456789/AB\r\n"
    "m=audio 40000 UDP/TLS/RTP/SAVPF 111\r\n"
    "c=IN IP4 192.0.2.1\r\n"
    "a=mid:0\r\n"
    "a=sendrecv\r\n"
    "a=rtcp-mux\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=candidate:1 1 udp 2130706431 192.0.2.1 40000 typ host\r\n"
    "a=candidate:2 1 UDP 2130706175 2001:db8::1 40000 typ host\r\n"
    "a=end-of-candidates\r\n"
    "m=video 40000 UDP/TLS/RTP/SAVPF 96\r\n"
    "c=IN IP4 192.0.2.1\r\n"
    "a=mid:1\r\n"
    "a=sendrecv\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:96 VP8/90000\r\n";

static const uint8_t OFFER_FP[32] = {
    0xD2, 0xFA, 0x0E, 0xC3, 0x22, 0x59, 0x5E, 0x14, 0x95, 0x69, 0x92, 0x3D, 0x13, 0xB4, 0x84, 0x24,
    0x2C, 0xC2, 0xA2, 0xC0, 0x3E, 0xFD, 0x34, 0x8E, 0x5E, 0xEA, 0x6F, 0xAF, 0x52, 0xCE, 0xE6, 0x0F};

static perc_sdp *new_sdp(void)
{
    perc_sdp *s = calloc(1, sizeof *s);
    assert_non_null(s);
    return s;
}

static perc_sdp *parse_ok(const char *text)
{
    perc_sdp *s = new_sdp();
    perc_sdp_error e;
    int rc = perc_sdp_parse(text, strlen(text), s, &e);
    if (rc != PERC_OK)
        fail_msg("parse failed (%d) at line %u: %s", rc, e.line, e.reason ? e.reason : "?");
    return s;
}

/* Parses `text` and requires the error code, the line and a reason that
 * contains `reason`. */
static void expect_error_n(const char *text, size_t len, int rc, unsigned line, const char *reason)
{
    perc_sdp *s = new_sdp();
    perc_sdp_error e = {0, NULL};
    int got = perc_sdp_parse(text, len, s, &e);
    if (got != rc || e.line != line || !e.reason || !strstr(e.reason, reason))
        fail_msg("want %d at line %u (\"%s\"), got %d at line %u (\"%s\")", rc, line, reason, got,
                 e.line, e.reason ? e.reason : "(null)");
    free(s);
}

static void expect_error(const char *text, int rc, unsigned line, const char *reason)
{
    expect_error_n(text, strlen(text), rc, line, reason);
}

/* A minimal session plus one audio section, with `extra` (CRLF lines)
 * inserted at line 8, i.e. as the section's first attribute. */
static char *with_lines(const char *extra)
{
    static const char HEAD[] = "v=0\r\n"
                               "o=- 1 1 IN IP4 127.0.0.1\r\n"
                               "s=-\r\n"
                               "t=0 0\r\n"
                               "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
                               "c=IN IP4 0.0.0.0\r\n"
                               "a=mid:0\r\n";
    size_t n = strlen(HEAD) + strlen(extra) + 1;
    char *t = malloc(n);
    assert_non_null(t);
    snprintf(t, n, "%s%s", HEAD, extra);
    return t;
}

static void expect_line_error(const char *extra, int rc, unsigned line, const char *reason)
{
    char *t = with_lines(extra);
    expect_error(t, rc, line, reason);
    free(t);
}

static void expect_line_ok(const char *extra)
{
    char *t = with_lines(extra);
    free(parse_ok(t));
    free(t);
}

static char *write_ok(const perc_sdp *s)
{
    char *out = malloc(PERC_SDP_MAX_INPUT + 1);
    assert_non_null(out);
    size_t len = 0;
    perc_sdp_error e;
    int rc = perc_sdp_write(s, out, PERC_SDP_MAX_INPUT + 1, &len, &e);
    if (rc != PERC_OK)
        fail_msg("write failed (%d) at line %u: %s", rc, e.line, e.reason ? e.reason : "?");
    assert_int_equal(strlen(out), len);
    return out;
}

static void test_offer_fields(void **state)
{
    (void)state;
    perc_sdp *s = parse_ok(OFFER);
    assert_false(s->bare_lf);
    assert_string_equal(s->origin_username, "-");
    assert_true(s->origin_sess_id == 4611731400430051336ull);
    assert_int_equal(s->origin_sess_version, 2);
    assert_int_equal(s->origin_addrtype, PERC_SDP_IP4);
    assert_string_equal(s->origin_address, "127.0.0.1");
    assert_string_equal(s->session_name, "-");
    assert_false(s->connection.present);
    assert_int_equal(s->time_start, 0);
    assert_int_equal(s->time_stop, 0);
    assert_true(s->bundle);
    assert_int_equal(s->bundle_count, 2);
    assert_string_equal(s->bundle_mids[0], "0");
    assert_string_equal(s->bundle_mids[1], "1");
    assert_false(s->ice_lite);
    assert_string_equal(s->attrs.ice_options, "trickle");
    assert_int_equal(s->attrs.fingerprint_count, 1);
    assert_string_equal(s->attrs.fingerprints[0].hash, "sha-256");
    assert_int_equal(s->attrs.fingerprints[0].len, 32);
    assert_memory_equal(s->attrs.fingerprints[0].value, OFFER_FP, 32);
    assert_true(perc_sdp_fingerprint_is_sha256(&s->attrs.fingerprints[0]));
    assert_int_equal(s->media_count, 2);

    const perc_sdp_media *a = &s->media[0];
    assert_int_equal(a->type, PERC_SDP_AUDIO);
    assert_int_equal(a->port, 9);
    assert_int_equal(a->port_count, 0);
    assert_int_equal(a->proto, PERC_SDP_UDP_TLS_RTP_SAVPF);
    assert_int_equal(a->fmt_count, 2);
    assert_int_equal(a->fmts[0], 111);
    assert_int_equal(a->fmts[1], 0);
    assert_true(a->connection.present);
    assert_string_equal(a->connection.address, "0.0.0.0");
    assert_string_equal(a->mid, "0");
    assert_true(a->rtcp_mux);
    assert_string_equal(a->attrs.ice_ufrag, "F7gI");
    assert_string_equal(a->attrs.ice_pwd, "x9cml/YzichV2+XlhiMu8g");
    assert_int_equal(a->attrs.setup, PERC_SDP_SETUP_ACTIVE);
    assert_string_equal(a->attrs.tls_id, "dGxzLWlkLWVuZHBvaW50LTE");
    assert_int_equal(a->attrs.direction, PERC_SDP_SENDRECV);
    assert_int_equal(a->attrs.fingerprint_count, 0);
    assert_int_equal(a->attrs.extmap_count, 1);
    assert_int_equal(a->attrs.extmaps[0].id, 1);
    assert_int_equal(a->attrs.extmaps[0].direction, PERC_SDP_DIR_NONE);
    assert_string_equal(a->attrs.extmaps[0].uri, "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    assert_string_equal(a->attrs.extmaps[0].attributes, "");
    assert_int_equal(a->rtpmap_count, 2);
    assert_int_equal(a->rtpmaps[0].pt, 111);
    assert_string_equal(a->rtpmaps[0].name, "opus");
    assert_int_equal(a->rtpmaps[0].clock, 48000);
    assert_int_equal(a->rtpmaps[0].channels, 2);
    assert_int_equal(a->rtpmaps[1].pt, 0);
    assert_string_equal(a->rtpmaps[1].name, "PCMU");
    assert_int_equal(a->rtpmaps[1].clock, 8000);
    assert_int_equal(a->rtpmaps[1].channels, 0);
    assert_int_equal(a->ssrc_count, 1);
    assert_true(a->ssrcs[0].ssrc == 3735928559u);
    assert_string_equal(a->ssrcs[0].attribute, "cname");
    assert_true(a->ssrcs[0].has_value);
    assert_string_equal(a->ssrcs[0].value, "perc-endpoint-1");
    assert_int_equal(a->line, 9);

    assert_int_equal(a->candidate_count, 3);
    const perc_sdp_candidate *c = &a->candidates[0];
    assert_string_equal(c->foundation, "1");
    assert_int_equal(c->component, 1);
    assert_string_equal(c->transport, "UDP");
    assert_true(perc_sdp_candidate_is_udp(c));
    assert_int_equal(c->priority, 2122260223u);
    assert_string_equal(c->address, "192.0.2.10");
    assert_int_equal(c->port, 54400);
    assert_int_equal(c->type, PERC_SDP_CAND_HOST);
    assert_false(c->has_raddr);
    assert_false(c->has_rport);
    assert_string_equal(c->extensions, "");
    c = &a->candidates[1];
    assert_string_equal(c->address, "198.51.100.7");
    assert_int_equal(c->port, 54401);
    assert_string_equal(c->extensions, "generation 0");
    c = &a->candidates[2];
    assert_string_equal(c->foundation, "3");
    assert_int_equal(c->priority, 1686052607u);
    assert_string_equal(c->address, "203.0.113.5");
    assert_int_equal(c->port, 61000);
    assert_int_equal(c->type, PERC_SDP_CAND_SRFLX);
    assert_true(c->has_raddr);
    assert_string_equal(c->raddr, "192.0.2.10");
    assert_true(c->has_rport);
    assert_int_equal(c->rport, 54400);
    assert_false(a->attrs.end_of_candidates);

    const perc_sdp_media *v = &s->media[1];
    assert_int_equal(v->type, PERC_SDP_VIDEO);
    assert_int_equal(v->fmt_count, 1);
    assert_int_equal(v->fmts[0], 96);
    assert_string_equal(v->mid, "1");
    assert_int_equal(v->rtpmap_count, 1);
    assert_string_equal(v->rtpmaps[0].name, "VP8");
    assert_int_equal(v->rtpmaps[0].clock, 90000);
    assert_int_equal(v->ssrc_count, 1);
    assert_int_equal(v->ssrcs[0].ssrc, 305419896u);
    assert_int_equal(v->candidate_count, 0);
    assert_int_equal(v->line, 26);

    /* kept as text, in order: session a=msid-semantic, audio fmtp, video rtcp-fb */
    assert_int_equal(s->raw_count, 3);
    assert_int_equal(s->raw[0].media, -1);
    assert_int_equal(s->raw[0].type, 'a');
    assert_string_equal(perc_sdp_raw_text(s, &s->raw[0]), "msid-semantic: WMS perc");
    assert_int_equal(s->raw[1].media, 0);
    assert_string_equal(perc_sdp_raw_text(s, &s->raw[1]), "fmtp:111 minptime=10;useinbandfec=1");
    assert_int_equal(s->raw[2].media, 1);
    assert_string_equal(perc_sdp_raw_text(s, &s->raw[2]), "rtcp-fb:96 nack pli");

    /* effective values: video inherits the session-level fingerprint */
    size_t idx = 9;
    assert_int_equal(perc_sdp_find_media(s, "1", &idx), PERC_OK);
    assert_int_equal(idx, 1);
    assert_int_equal(perc_sdp_find_media(s, "2", &idx), PERC_ERR_NOT_FOUND);
    const char *u, *p, *t;
    assert_int_equal(perc_sdp_effective_ice(s, 1, &u, &p), PERC_OK);
    assert_string_equal(u, "F7gI");
    assert_string_equal(p, "x9cml/YzichV2+XlhiMu8g");
    const perc_sdp_fingerprint *fp;
    assert_int_equal(perc_sdp_effective_fingerprint(s, 1, &fp), PERC_OK);
    assert_ptr_equal(fp, &s->attrs.fingerprints[0]);
    assert_int_equal(perc_sdp_effective_tls_id(s, 0, &t), PERC_OK);
    assert_string_equal(t, "dGxzLWlkLWVuZHBvaW50LTE");
    assert_int_equal(perc_sdp_effective_setup(s, 1), PERC_SDP_SETUP_ACTIVE);
    assert_int_equal(perc_sdp_effective_direction(s, 0), PERC_SDP_SENDRECV);
    assert_true(perc_sdp_has_ice_option(s, 0, "trickle"));
    assert_false(perc_sdp_has_ice_option(s, 0, "ice2"));
    assert_int_equal(perc_sdp_effective_ice(s, 2, &u, &p), PERC_ERR_INVALID_ARG);
    perc_sdp_error e;
    assert_int_equal(perc_sdp_check_perc(s, &e), PERC_OK);
    free(s);
}

static void test_answer_fields(void **state)
{
    (void)state;
    perc_sdp *s = parse_ok(ANSWER);
    assert_true(s->ice_lite);
    assert_string_equal(s->origin_username, "perc-mdd");
    assert_string_equal(s->session_name, "PERC conference");
    assert_int_equal(s->attrs.setup, PERC_SDP_SETUP_PASSIVE);
    assert_string_equal(s->attrs.tls_id, "kmf-tls_id+0123456789/AB");
    assert_string_equal(s->attrs.ice_ufrag, "mdd1");
    const perc_sdp_media *a = &s->media[0];
    assert_int_equal(a->port, 40000);
    assert_string_equal(a->connection.address, "192.0.2.1");
    assert_int_equal(a->candidate_count, 2);
    assert_string_equal(a->candidates[0].transport, "udp");
    assert_true(perc_sdp_candidate_is_udp(&a->candidates[0]));
    assert_string_equal(a->candidates[1].address, "2001:db8::1");
    perc_sdp_host_kind kind;
    assert_int_equal(perc_sdp_address_kind(a->candidates[1].address, &kind), PERC_OK);
    assert_int_equal(kind, PERC_SDP_HOST_IP6);
    assert_true(a->attrs.end_of_candidates);
    assert_false(s->media[1].attrs.end_of_candidates);

    /* everything DTLS/ICE comes from the session level for both sections */
    for (size_t i = 0; i < 2; i++) {
        const char *u, *p, *t;
        const perc_sdp_fingerprint *fp;
        assert_int_equal(perc_sdp_effective_ice(s, i, &u, &p), PERC_OK);
        assert_string_equal(u, "mdd1");
        assert_string_equal(p, "ZWxlY3Ryb25pYy1zZWNyZXQtcHdk");
        assert_int_equal(perc_sdp_effective_fingerprint(s, i, &fp), PERC_OK);
        assert_int_equal(fp->value[0], 0x4A);
        assert_int_equal(fp->value[31], 0x65);
        assert_int_equal(perc_sdp_effective_tls_id(s, i, &t), PERC_OK);
        assert_string_equal(t, "kmf-tls_id+0123456789/AB");
        assert_int_equal(perc_sdp_effective_setup(s, i), PERC_SDP_SETUP_PASSIVE);
    }
    perc_sdp_error e;
    assert_int_equal(perc_sdp_check_perc(s, &e), PERC_OK);

    /* a media-level value overrides the session's */
    snprintf(s->media[1].attrs.tls_id, sizeof s->media[1].attrs.tls_id, "%s",
             "override-override-override");
    const char *t;
    assert_int_equal(perc_sdp_effective_tls_id(s, 1, &t), PERC_OK);
    assert_string_equal(t, "override-override-override");
    assert_int_equal(perc_sdp_effective_tls_id(s, 0, &t), PERC_OK);
    assert_string_equal(t, "kmf-tls_id+0123456789/AB");
    free(s);
}

static void round_trip(const char *text, bool canonical)
{
    perc_sdp *a = parse_ok(text);
    char *out = write_ok(a);
    if (canonical)
        assert_string_equal(out, text);
    perc_sdp *b = parse_ok(out);
    assert_true(perc_sdp_equal(a, b));
    char *again = write_ok(b);
    assert_string_equal(out, again);
    free(a);
    free(b);
    free(out);
    free(again);
}

static void test_round_trips(void **state)
{
    (void)state;
    round_trip(OFFER, true);
    round_trip(ANSWER, true);
    /* a non-canonical spelling: lower-case fingerprint, attributes in
     * another order, extras of every kind */
    round_trip("v=0\r\n"
               "o=alice 1 2 IN IP6 2001:db8::2\r\n"
               "s=x y z\r\n"
               "i=session info\r\n"
               "u=https://example.org/\r\n"
               "e=alice@example.org\r\n"
               "p=+1 555 0100\r\n"
               "c=IN IP6 ::\r\n"
               "b=AS:512\r\n"
               "t=3034423619 3042462419\r\n"
               "r=604800 3600 0 90000\r\n"
               "z=2882844526 -1h\r\n"
               "k=prompt\r\n"
               "a=tls-id:abcdefghijklmnopqrstuvwxyz\r\n"
               "a=recvonly\r\n"
               "a=extmap:3/sendonly http://example.org/ext x=1 y\r\n"
               "a=group:LS a b\r\n"
               "a=end-of-candidates\r\n"
               "m=video 5004/2 RTP/SAVPF 97 98\r\n"
               "i=camera\r\n"
               "b=TIAS:1000000\r\n"
               "k=clear:xyz\r\n"
               "a=rtcp-fb:* ccm fir\r\n"
               "a=candidate:abc+/ 2 tcp 1 host-1.example.com 9 typ prflx raddr ::1 rport 0 tcptype active\r\n"
               "a=fingerprint:SHA-1 aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd\r\n"
               "a=rtpmap:97 H264/90000\r\n"
               "a=ssrc-group:FID 1 2\r\n"
               "a=ssrc:1 msid:stream track with spaces\r\n"
               "a=ssrc:2 label\r\n"
               "a=x-unknown\r\n"
               "a=inactive\r\n",
               false);
}

/* Cutting the offer at every byte: a parse succeeds only at a line end;
 * anything else fails with a line number and a reason. Each prefix lives in
 * an exact-size allocation so ASan sees any read past it. */
static void truncations_of(const char *text)
{
    size_t len = strlen(text);
    perc_sdp *s = new_sdp();
    for (size_t cut = 0; cut < len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, text, cut);
        perc_sdp_error e = {0, NULL};
        int rc = perc_sdp_parse(copy, cut, s, &e);
        if (rc == PERC_OK) {
            assert_true(cut > 0 && text[cut - 1] == '\n');
        } else {
            assert_true(e.line >= 1);
            assert_non_null(e.reason);
            if (cut > 0 && text[cut - 1] != '\n')
                assert_int_equal(rc, PERC_ERR_TRUNCATED);
        }
        free(copy);
    }
    /* trailing bytes after the last line end */
    size_t n = len + 3;
    char *more = malloc(n);
    assert_non_null(more);
    memcpy(more, text, len);
    memcpy(more + len, "a=x", 3);
    perc_sdp_error e;
    assert_int_equal(perc_sdp_parse(more, n, s, &e), PERC_ERR_TRUNCATED);
    free(more);
    free(s);
}

static void test_truncations(void **state)
{
    (void)state;
    truncations_of(OFFER);
    truncations_of(ANSWER);
    /* cut right after the first m= line: the section is complete and valid */
    const char *m = strstr(OFFER, "c=IN IP4 0.0.0.0");
    perc_sdp *s = new_sdp();
    perc_sdp_error e;
    assert_int_equal(perc_sdp_parse(OFFER, (size_t)(m - OFFER), s, &e), PERC_ERR_MALFORMED);
    assert_int_equal(e.line, 9);
    assert_string_equal(e.reason, "m= section has no c= line and there is no session-level c=");
    free(s);
}

static void test_structure_errors(void **state)
{
    (void)state;
    expect_error("", PERC_ERR_TRUNCATED, 1, "empty description");
    expect_error("o=- 1 1 IN IP4 1.2.3.4\r\n", PERC_ERR_MALFORMED, 1, "first line is not v=");
    expect_error("v=1\r\n", PERC_ERR_BAD_VERSION, 1, "v=: version is not 0");
    expect_error("v=0\r\n", PERC_ERR_MALFORMED, 2, "missing o= line");
    expect_error("v=0\r\ns=-\r\n", PERC_ERR_MALFORMED, 2, "second line is not o=");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nt=0 0\r\n", PERC_ERR_MALFORMED, 3,
                 "third line is not s=");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\n", PERC_ERR_MALFORMED, 4,
                 "missing t= line");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nm=audio 9 RTP/SAVPF 0\r\n",
                 PERC_ERR_MALFORMED, 4, "m= before the t= line");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nc=IN IP4 0.0.0.0\r\n",
                 PERC_ERR_MALFORMED, 5, "out of the RFC 8866");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\na=x\r\nt=0 0\r\n", PERC_ERR_MALFORMED, 5,
                 "out of the RFC 8866");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nt=0 0\r\n",
                 PERC_ERR_UNSUPPORTED, 5, "only one time description");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nr=1 2 3\r\n", PERC_ERR_MALFORMED, 4,
                 "before the t= line");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\ni=a\r\ni=b\r\n", PERC_ERR_MALFORMED, 5,
                 "i=: appears twice");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nx=1\r\n", PERC_ERR_MALFORMED, 4,
                 "unknown line type");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nA=1\r\n", PERC_ERR_MALFORMED, 5,
                 "not a lower-case letter");
    expect_error("v=0\r\no=- 1 1 IN XX 1.2.3.4\r\n", PERC_ERR_UNSUPPORTED, 2,
                 "o=: addrtype is not IP4 or IP6");
    expect_error("v=0\r\no=- 1 1 ATM IP4 1.2.3.4\r\n", PERC_ERR_UNSUPPORTED, 2,
                 "o=: nettype is not IN");
    expect_error("v=0\r\no=- 1 1 IN IP4\r\n", PERC_ERR_MALFORMED, 2, "o=: expected 6 fields");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4 x\r\n", PERC_ERR_MALFORMED, 2,
                 "o=: expected 6 fields");
    expect_error("v=0\r\no=- 1  1 IN IP4 1.2.3.4\r\n", PERC_ERR_MALFORMED, 2, "o=: empty field");
    expect_error("v=0\r\no=- 18446744073709551616 1 IN IP4 1.2.3.4\r\n", PERC_ERR_MALFORMED, 2,
                 "sess-id");
    expect_error("v=0\r\no=- 1 1 IN IP6 1.2.3.4\r\n", PERC_ERR_MALFORMED, 2,
                 "o=: address is not a valid address of its addrtype");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=\r\n", PERC_ERR_MALFORMED, 3,
                 "empty value after '='");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns= x\r\n", PERC_ERR_MALFORMED, 3,
                 "space after '='");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=  \r\n", PERC_ERR_MALFORMED, 3,
                 "space after '='");
    /* ... except the single space RFC 8866 §5.3 recommends for "no name" */
    round_trip("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns= \r\nt=0 0\r\n", true);
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n\r\n", PERC_ERR_MALFORMED, 3, "empty line");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nsx\r\n", PERC_ERR_MALFORMED, 3,
                 "line is not <type>=<value>");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-", PERC_ERR_TRUNCATED, 3,
                 "line does not end with CRLF");
    /* media sections */
    /* the second section (line 8) lacks c=; the first has one */
    expect_line_error("m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n", PERC_ERR_MALFORMED, 8,
                      "m= section has no c= line");
    expect_line_error("b=AS:1\r\n", PERC_ERR_MALFORMED, 8, "out of the RFC 8866");
    expect_line_error("s=x\r\n", PERC_ERR_MALFORMED, 8, "not allowed in a media section");
    expect_line_error("a=rtcp-mux\r\nm=audio 9 RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\nc=IN IP4 0.0.0.0\r\n",
                      PERC_ERR_UNSUPPORTED, 11, "more than one c= line");
    expect_line_error("m=audio 65536 UDP/TLS/RTP/SAVPF 0\r\n", PERC_ERR_MALFORMED, 8,
                      "m=: port is not 0..65535");
    expect_line_error("m=audio 9/0 UDP/TLS/RTP/SAVPF 0\r\n", PERC_ERR_MALFORMED, 8,
                      "m=: port count");
    expect_line_error("m=audio 9 UDP/TLS/RTP/SAVPF 128\r\n", PERC_ERR_MALFORMED, 8,
                      "m=: payload type is not 0..127");
    expect_line_error("m=audio 9 UDP/TLS/RTP/SAVPF 0 0\r\n", PERC_ERR_MALFORMED, 8,
                      "m=: payload type listed twice");
    expect_line_error("m=audio 9 UDP/TLS/RTP/SAVPF\r\n", PERC_ERR_MALFORMED, 8, "m=: expected");
    expect_line_error("m=audio 9 UDP/TLS/RTP/SAVPF 0 \r\n", PERC_ERR_MALFORMED, 8,
                      "m=: empty field");
    expect_line_error("m=audio 9 RTP/AVP 0\r\n", PERC_ERR_UNSUPPORTED, 8, "m=: proto");
    expect_line_error("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
                      PERC_ERR_UNSUPPORTED, 8, "m=: media is not audio or video");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 7\r\n"
                 "m=audio 9 RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n",
                 PERC_ERR_MALFORMED, 5, "a=group:BUNDLE: a mid names no media section");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 0\r\n",
                 PERC_ERR_MALFORMED, 5, "mid listed twice");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
                 "a=group:BUNDLE 1\r\n",
                 PERC_ERR_UNSUPPORTED, 6, "only one BUNDLE group");
}

static void test_attribute_errors(void **state)
{
    (void)state;
    /* duplicates of single-instance attributes */
    expect_line_error("a=ice-ufrag:abcd\r\na=ice-ufrag:efgh\r\n", PERC_ERR_MALFORMED, 9,
                      "a=ice-ufrag: appears twice");
    expect_line_error("a=ice-pwd:abcdefghijklmnopqrstuv\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n",
                      PERC_ERR_MALFORMED, 9, "a=ice-pwd: appears twice");
    expect_line_error("a=setup:active\r\na=setup:active\r\n", PERC_ERR_MALFORMED, 9,
                      "a=setup: appears twice");
    expect_line_error("a=tls-id:abcdefghijklmnopqrst\r\na=tls-id:abcdefghijklmnopqrst\r\n",
                      PERC_ERR_MALFORMED, 9, "a=tls-id: appears twice");
    expect_line_error("a=mid:1\r\n", PERC_ERR_MALFORMED, 8, "a=mid: appears twice");
    expect_line_error("a=rtcp-mux\r\na=rtcp-mux\r\n", PERC_ERR_MALFORMED, 9,
                      "a=rtcp-mux: appears twice");
    expect_line_error("a=sendrecv\r\na=recvonly\r\n", PERC_ERR_MALFORMED, 9,
                      "more than one direction attribute");
    expect_line_error("a=end-of-candidates\r\na=end-of-candidates\r\n", PERC_ERR_MALFORMED, 9,
                      "a=end-of-candidates: appears twice");
    expect_line_error("a=ice-options:trickle\r\na=ice-options:ice2\r\n", PERC_ERR_MALFORMED, 9,
                      "a=ice-options: appears twice");
    expect_line_error("m=video 9 RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n",
                      PERC_ERR_MALFORMED, 10, "a=mid: already used by another media section");
    /* levels and values */
    expect_line_error("a=ice-lite\r\n", PERC_ERR_MALFORMED, 8,
                      "a=ice-lite: only allowed at session level");
    expect_line_error("a=group:BUNDLE 0\r\n", PERC_ERR_MALFORMED, 8,
                      "a=group: only allowed at session level");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n"
                 "a=candidate:1 1 UDP 1 1.2.3.4 1 typ host\r\n",
                 PERC_ERR_MALFORMED, 5, "a=candidate: only allowed in a media section");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\na=rtcp-mux\r\n",
                 PERC_ERR_MALFORMED, 5, "a=rtcp-mux: only allowed in a media section");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\na=fmtp:0 x\r\n",
                 PERC_ERR_MALFORMED, 5, "a=fmtp: only allowed in a media section");
    expect_line_error("a=rtcp-mux:yes\r\n", PERC_ERR_MALFORMED, 8, "a=rtcp-mux: takes no value");
    expect_line_error("a=ice-ufrag\r\n", PERC_ERR_MALFORMED, 8, "a=ice-ufrag: missing value");
    expect_line_error("a=ice-ufrag:\r\n", PERC_ERR_MALFORMED, 8, "empty attribute value");
    expect_line_error("a=:x\r\n", PERC_ERR_MALFORMED, 8, "attribute name is not a token");
    expect_line_error("a=setup:client\r\n", PERC_ERR_MALFORMED, 8, "a=setup: not active");
    expect_line_error("a=mid:a b\r\n", PERC_ERR_MALFORMED, 8, "a=mid: appears twice");
    /* numbers */
    expect_line_error("a=rtpmap:128 x/1\r\n", PERC_ERR_MALFORMED, 8,
                      "a=rtpmap: payload type is not 0..127");
    expect_line_error("a=rtpmap:112 opus/48000/2\r\n", PERC_ERR_MALFORMED, 8,
                      "a=rtpmap: payload type not on the m= line");
    expect_line_error("a=rtpmap:111 opus/48000/2\r\na=rtpmap:111 opus/48000/2\r\n",
                      PERC_ERR_MALFORMED, 9, "a=rtpmap: second rtpmap");
    expect_line_error("a=rtpmap:111 opus/0\r\n", PERC_ERR_MALFORMED, 8, "clock rate");
    expect_line_error("a=rtpmap:111 opus\r\n", PERC_ERR_MALFORMED, 8, "missing /<clock rate>");
    expect_line_error("a=rtpmap:111 opus/48000/2/1\r\n", PERC_ERR_MALFORMED, 8, "too many");
    expect_line_error("a=rtpmap:111 opus/48000/\r\n", PERC_ERR_MALFORMED, 8, "empty part");
    expect_line_error("a=fmtp:112 x=1\r\n", PERC_ERR_MALFORMED, 8,
                      "a=fmtp: payload type not on the m= line");
    expect_line_error("a=fmtp:111\r\n", PERC_ERR_MALFORMED, 8, "a=fmtp: missing parameters");
    expect_line_error("a=rtcp-fb:112 nack\r\n", PERC_ERR_MALFORMED, 8,
                      "a=rtcp-fb: payload type not on the m= line");
    expect_line_error("a=extmap:0 urn:x:y\r\n", PERC_ERR_MALFORMED, 8, "a=extmap: id is not 1..255");
    expect_line_error("a=extmap:256 urn:x:y\r\n", PERC_ERR_MALFORMED, 8,
                      "a=extmap: id is not 1..255");
    expect_line_ok("a=extmap:255 urn:x:y\r\n");
    expect_line_error("a=extmap:1/both urn:x:y\r\n", PERC_ERR_MALFORMED, 8, "a=extmap: direction");
    expect_line_error("a=extmap:1 not-a-uri\r\n", PERC_ERR_MALFORMED, 8, "a=extmap: URI");
    expect_line_error("a=extmap:1 urn:x:y\r\na=extmap:1 urn:x:z\r\n", PERC_ERR_MALFORMED, 9,
                      "a=extmap: id used twice");
    expect_line_error("a=ssrc:4294967296 cname:x\r\n", PERC_ERR_MALFORMED, 8,
                      "a=ssrc: SSRC is not 0..2^32-1");
    expect_line_ok("a=ssrc:4294967295 cname:x\r\n");
    expect_line_error("a=ssrc:1 cname:\r\n", PERC_ERR_MALFORMED, 8, "a=ssrc: empty value");
    expect_line_error("a=ssrc:1\r\n", PERC_ERR_MALFORMED, 8, "a=ssrc: expected");
    expect_line_error("a=ssrc:x cname:a\r\n", PERC_ERR_MALFORMED, 8, "a=ssrc: SSRC");
    expect_line_error("a=ssrc-group:FID 1 4294967296\r\n", PERC_ERR_MALFORMED, 8,
                      "a=ssrc-group: SSRC");
    /* characters */
    expect_line_error("a=x:b\x01r\r\n", PERC_ERR_MALFORMED, 8, "control character");
    expect_line_error("a=x:b\tr\r\n", PERC_ERR_MALFORMED, 8, "control character");
    expect_line_error("a=x:b\rr\r\n", PERC_ERR_MALFORMED, 8, "CR not followed by LF");
    expect_line_error("a=x:b\x7f\r\n", PERC_ERR_MALFORMED, 8, "control character");
    expect_line_error("a=x:\xff\r\n", PERC_ERR_MALFORMED, 8, "invalid UTF-8");
    expect_line_error("a=x:\xc0\xaf\r\n", PERC_ERR_MALFORMED, 8, "invalid UTF-8");
    expect_line_error("a=x:\xed\xa0\x80\r\n", PERC_ERR_MALFORMED, 8, "invalid UTF-8");
    expect_line_ok("a=x:caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xa7\r\n");
    char *t = with_lines("a=x:ab\r\n");
    size_t n = strlen(t);
    t[n - 4] = '\0';    /* NUL inside the last line */
    expect_error_n(t, n, PERC_ERR_MALFORMED, 8, "NUL byte");
    free(t);
}

static void test_candidates(void **state)
{
    (void)state;
    static const char *const GOOD[] = {
        "a=candidate:1 1 UDP 2122260223 192.0.2.10 54400 typ host\r\n",
        "a=candidate:a+/Z 256 udp 1 ::1 0 typ relay raddr 0.0.0.0 rport 0\r\n",
        "a=candidate:1 1 UDP 2147483647 2001:db8:0:0:1:0:0:1 1 typ host\r\n",
        "a=candidate:1 1 UDP 1 ::ffff:192.0.2.1 1 typ host\r\n",
        "a=candidate:1 1 UDP 1 fe80:: 1 typ host\r\n",
        "a=candidate:1 1 UDP 1 1:2:3:4:5:6:7:8 1 typ host\r\n",
        "a=candidate:1 1 UDP 1 host-1.example.com 1 typ host\r\n",
        "a=candidate:1 1 UDP 1 1f4712db-ea17-4bcf-a596-105139dfd8bf.local 1 typ host\r\n",
        "a=candidate:1 1 UDP 1 192.0.2.1 1 typ srflx\r\n",             /* raddr is optional here */
        "a=candidate:1 1 TCP 1 192.0.2.1 9 typ host tcptype active\r\n",
        "a=candidate:12345678901234567890123456789012 1 UDP 1 192.0.2.1 1 typ host\r\n",
    };
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++)
        expect_line_ok(GOOD[i]);
    static const struct {
        const char *line;
        int rc;
        const char *reason;
    } BAD[] = {
        {"a=candidate:1 0 UDP 1 192.0.2.1 1 typ host\r\n", PERC_ERR_MALFORMED, "component-id"},
        {"a=candidate:1 257 UDP 1 192.0.2.1 1 typ host\r\n", PERC_ERR_MALFORMED, "component-id"},
        {"a=candidate:1 1 UDP 0 192.0.2.1 1 typ host\r\n", PERC_ERR_MALFORMED, "priority"},
        {"a=candidate:1 1 UDP 2147483648 192.0.2.1 1 typ host\r\n", PERC_ERR_MALFORMED,
         "priority"},
        {"a=candidate:1 1 UDP 1 192.0.2.1 65536 typ host\r\n", PERC_ERR_MALFORMED, "port"},
        {"a=candidate:1 1 UDP 1 192.0.2.1 1 typ host raddr 1.2.3.4 rport 65536\r\n",
         PERC_ERR_MALFORMED, "rport"},
        {"a=candidate:1 1 UDP 1 256.0.2.1 1 typ host\r\n", PERC_ERR_MALFORMED,
         "connection-address"},
        {"a=candidate:1 1 UDP 1 1.2.3 1 typ host\r\n", PERC_ERR_MALFORMED, "connection-address"},
        {"a=candidate:1 1 UDP 1 01.2.3.4 1 typ host\r\n", PERC_ERR_MALFORMED,
         "connection-address"},
        {"a=candidate:1 1 UDP 1 2001:db8:::1 1 typ host\r\n", PERC_ERR_MALFORMED,
         "connection-address"},
        {"a=candidate:1 1 UDP 1 1::2::3 1 typ host\r\n", PERC_ERR_MALFORMED, "connection-address"},
        {"a=candidate:1 1 UDP 1 1:2:3:4:5:6:7:8:9 1 typ host\r\n", PERC_ERR_MALFORMED,
         "connection-address"},
        {"a=candidate:1 1 UDP 1 12345::1 1 typ host\r\n", PERC_ERR_MALFORMED,
         "connection-address"},
        {"a=candidate:1 1 UDP 1 -bad.example 1 typ host\r\n", PERC_ERR_MALFORMED,
         "connection-address"},
        {"a=candidate:1 1 UDP 1 bad..example 1 typ host\r\n", PERC_ERR_MALFORMED,
         "connection-address"},
        {"a=candidate:1 1 UDP 1 a_b.example 1 typ host\r\n", PERC_ERR_MALFORMED,
         "connection-address"},
        {"a=candidate:1 1 UDP 1 192.0.2.1 1 type host\r\n", PERC_ERR_MALFORMED, "\"typ\""},
        {"a=candidate:1 1 UDP 1 192.0.2.1 1 typ bogus\r\n", PERC_ERR_UNSUPPORTED, "type is not"},
        {"a=candidate:1 1 UDP 1 192.0.2.1 1 typ\r\n", PERC_ERR_MALFORMED, "too few fields"},
        {"a=candidate:1 1 UDP 1 192.0.2.1 1 typ host \r\n", PERC_ERR_MALFORMED, "empty field"},
        {"a=candidate:1  1 UDP 1 192.0.2.1 1 typ host\r\n", PERC_ERR_MALFORMED, "empty field"},
        {"a=candidate:1 1 UDP 1 192.0.2.1 1 typ host generation\r\n", PERC_ERR_MALFORMED,
         "extension name without a value"},
        {"a=candidate:1 1 UDP 1 192.0.2.1 1 typ host rport 1 raddr 1.2.3.4\r\n",
         PERC_ERR_MALFORMED, "out of place"},
        {"a=candidate:1 1 UDP 1 192.0.2.1 1 typ host x 1 raddr 1.2.3.4\r\n", PERC_ERR_MALFORMED,
         "out of place"},
        {"a=candidate:1-2 1 UDP 1 192.0.2.1 1 typ host\r\n", PERC_ERR_MALFORMED, "foundation"},
        {"a=candidate:123456789012345678901234567890123 1 UDP 1 192.0.2.1 1 typ host\r\n",
         PERC_ERR_MALFORMED, "foundation"},
        {"a=candidate:1 1 U(P 1 192.0.2.1 1 typ host\r\n", PERC_ERR_MALFORMED, "transport"},
        {"a=candidate:1 1 UDP 1 192.0.2.1 1 typ host x caf\xc3\xa9\r\n", PERC_ERR_MALFORMED,
         "visible ASCII"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        expect_line_error(BAD[i].line, BAD[i].rc, 8, BAD[i].reason);

    /* too many candidates in one section */
    char *lines = malloc(64 * (PERC_SDP_MAX_CANDIDATES + 1));
    assert_non_null(lines);
    lines[0] = '\0';
    for (int i = 0; i <= PERC_SDP_MAX_CANDIDATES; i++)
        sprintf(lines + strlen(lines), "a=candidate:%d 1 UDP 1 192.0.2.1 %d typ host\r\n", i, i);
    expect_line_error(lines, PERC_ERR_LIMIT, 8 + PERC_SDP_MAX_CANDIDATES,
                      "a=candidate: more than 16");
    free(lines);
}

static void test_trickle_candidate(void **state)
{
    (void)state;
    static const char LINE[] =
        "candidate:3 1 UDP 1686052607 203.0.113.5 61000 typ srflx raddr 192.0.2.10 rport 54400 "
        "generation 0 network-id 1";
    perc_sdp_candidate c;
    perc_sdp_error e;
    assert_int_equal(perc_sdp_candidate_parse(LINE, strlen(LINE), &c, &e), PERC_OK);
    assert_int_equal(c.type, PERC_SDP_CAND_SRFLX);
    assert_string_equal(c.raddr, "192.0.2.10");
    assert_int_equal(c.rport, 54400);
    assert_string_equal(c.extensions, "generation 0 network-id 1");
    char out[PERC_SDP_MAX_LINE];
    size_t len;
    assert_int_equal(perc_sdp_candidate_format(&c, out, sizeof out, &len), PERC_OK);
    assert_string_equal(out, LINE);
    assert_int_equal(len, strlen(LINE));
    assert_int_equal(perc_sdp_candidate_format(&c, out, len, &len), PERC_ERR_NOSPACE);
    perc_sdp_candidate back;
    assert_int_equal(perc_sdp_candidate_parse(out, strlen(out), &back, NULL), PERC_OK);
    assert_true(perc_sdp_candidate_equal(&c, &back));

    /* "a=" prefix, line ends and other lines are not trickle candidates */
    static const char *const BAD[] = {
        "a=candidate:1 1 UDP 1 192.0.2.1 1 typ host",
        "candidate:1 1 UDP 1 192.0.2.1 1 typ host\r\n",
        "candidate:1 1 UDP 1 192.0.2.1 1 typ host\n",
        "ice-ufrag:abcd",
        "candidate:",
        "",
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        e.line = 0;
        assert_int_not_equal(perc_sdp_candidate_parse(BAD[i], strlen(BAD[i]), &c, &e), PERC_OK);
        assert_int_equal(e.line, 1);
        assert_non_null(e.reason);
    }
    /* every truncation fails with a reason, or is a shorter valid
     * candidate (cut inside a number or after a pair) that formats back to
     * exactly the truncated text */
    for (size_t cut = 0; cut < sizeof LINE - 1; cut++) {
        char *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, LINE, cut);
        e.reason = NULL;
        int rc = perc_sdp_candidate_parse(copy, cut, &c, &e);
        if (rc == PERC_OK) {
            assert_int_equal(perc_sdp_candidate_format(&c, out, sizeof out, &len), PERC_OK);
            assert_int_equal(len, cut);
            assert_memory_equal(out, LINE, cut);
        } else {
            assert_non_null(e.reason);
        }
        free(copy);
    }
    /* the formatter refuses what the parser would reject */
    assert_int_equal(perc_sdp_candidate_parse(LINE, strlen(LINE), &c, NULL), PERC_OK);
    c.priority = 0;
    assert_int_equal(perc_sdp_candidate_format(&c, out, sizeof out, NULL), PERC_ERR_INVALID_ARG);
    c.priority = 1;
    snprintf(c.address, sizeof c.address, "not an address");
    assert_int_equal(perc_sdp_candidate_format(&c, out, sizeof out, NULL), PERC_ERR_INVALID_ARG);
    snprintf(c.address, sizeof c.address, "192.0.2.1");
    c.type = 0;
    assert_int_equal(perc_sdp_candidate_format(&c, out, sizeof out, NULL), PERC_ERR_INVALID_ARG);
}

static void test_fingerprints(void **state)
{
    (void)state;
    static const char FP31[] = "D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:"
                               "FD:34:8E:5E:EA:6F:AF:52:CE:E6";
    char line[512];
    /* wrong octet count */
    snprintf(line, sizeof line, "a=fingerprint:sha-256 %s\r\n", FP31);
    expect_line_error(line, PERC_ERR_MALFORMED, 8, "a=fingerprint: sha-256 needs 32 octets");
    snprintf(line, sizeof line, "a=fingerprint:sha-256 %s:0F:00\r\n", FP31);
    expect_line_error(line, PERC_ERR_MALFORMED, 8, "a=fingerprint: sha-256 needs 32 octets");
    snprintf(line, sizeof line, "a=fingerprint:sha-1 %s\r\n", FP31);
    expect_line_error(line, PERC_ERR_MALFORMED, 8, "wrong length for the hash function");
    /* lower, upper and mixed case all give the same octets */
    static const char *const CASES[] = {
        "a=fingerprint:sha-256 d2:fa:0e:c3:22:59:5e:14:95:69:92:3d:13:b4:84:24:2c:c2:a2:c0:3e:"
        "fd:34:8e:5e:ea:6f:af:52:ce:e6:0f\r\n",
        "a=fingerprint:SHA-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:"
        "FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F\r\n",
        "a=fingerprint:Sha-256 d2:FA:0e:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:"
        "FD:34:8E:5E:EA:6F:AF:52:CE:E6:0f\r\n",
    };
    for (size_t i = 0; i < 3; i++) {
        char *t = with_lines(CASES[i]);
        perc_sdp *s = parse_ok(t);
        const perc_sdp_fingerprint *fp;
        assert_int_equal(perc_sdp_effective_fingerprint(s, 0, &fp), PERC_OK);
        assert_string_equal(fp->hash, "sha-256");
        assert_memory_equal(fp->value, OFFER_FP, 32);
        char *out = write_ok(s);
        assert_non_null(strstr(out, "a=fingerprint:sha-256 D2:FA:0E:C3:"));
        free(out);
        free(s);
        free(t);
    }
    /* syntax */
    expect_line_error("a=fingerprint:sha-256 D2FA:0E\r\n", PERC_ERR_MALFORMED, 8,
                      "expected hex pairs separated by colons");
    expect_line_error("a=fingerprint:sha-256 D2:FA:\r\n", PERC_ERR_MALFORMED, 8,
                      "expected hex pairs separated by colons");
    expect_line_error("a=fingerprint:sha-256 D2:F\r\n", PERC_ERR_MALFORMED, 8,
                      "expected hex pairs separated by colons");
    expect_line_error("a=fingerprint:sha-256 D2:FG\r\n", PERC_ERR_MALFORMED, 8,
                      "expected hex pairs separated by colons");
    expect_line_error("a=fingerprint:sha-256 D2-FA\r\n", PERC_ERR_MALFORMED, 8,
                      "expected hex pairs separated by colons");
    expect_line_error("a=fingerprint:sha-256\r\n", PERC_ERR_MALFORMED, 8, "a=fingerprint: expected");
    expect_line_error("a=fingerprint:sha-256  D2\r\n", PERC_ERR_MALFORMED, 8,
                      "a=fingerprint: empty field");
    /* other hash functions are kept and flagged */
    char *t = with_lines("a=fingerprint:sha-1 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:"
                         "BB:CC:DD\r\na=fingerprint:x-new 01:02\r\n");
    perc_sdp *s = parse_ok(t);
    assert_int_equal(s->media[0].attrs.fingerprint_count, 2);
    assert_false(perc_sdp_fingerprint_is_sha256(&s->media[0].attrs.fingerprints[0]));
    assert_string_equal(s->media[0].attrs.fingerprints[1].hash, "x-new");
    assert_int_equal(s->media[0].attrs.fingerprints[1].len, 2);
    const perc_sdp_fingerprint *fp;
    assert_int_equal(perc_sdp_effective_fingerprint(s, 0, &fp), PERC_ERR_UNSUPPORTED);
    free(s);
    free(t);
    /* 65 octets is over our bound; five fingerprints at one level too */
    char big[400] = "a=fingerprint:x-big 00";
    for (int i = 1; i < 65; i++)
        strcat(big, ":00");
    strcat(big, "\r\n");
    expect_line_error(big, PERC_ERR_LIMIT, 8, "longer than 64 octets");
    expect_line_error("a=fingerprint:a 01\r\na=fingerprint:b 01\r\na=fingerprint:c 01\r\n"
                      "a=fingerprint:d 01\r\na=fingerprint:e 01\r\n",
                      PERC_ERR_LIMIT, 12, "more than 4");
}

static void test_ice_and_tls_id_bounds(void **state)
{
    (void)state;
    char line[600], value[300];
    /* tls-id: 20..255 of A-Z a-z 0-9 + / - _ */
    memset(value, 'a', sizeof value);
    value[19] = '\0';
    snprintf(line, sizeof line, "a=tls-id:%s\r\n", value);
    expect_line_error(line, PERC_ERR_MALFORMED, 8, "a=tls-id: not 20..255");
    memset(value, 'a', sizeof value);
    value[20] = '\0';
    snprintf(line, sizeof line, "a=tls-id:%s\r\n", value);
    expect_line_ok(line);
    memset(value, 'Z', sizeof value);
    value[255] = '\0';
    snprintf(line, sizeof line, "a=tls-id:%s\r\n", value);
    expect_line_ok(line);
    memset(value, 'Z', sizeof value);
    value[256] = '\0';
    snprintf(line, sizeof line, "a=tls-id:%s\r\n", value);
    expect_line_error(line, PERC_ERR_MALFORMED, 8, "a=tls-id: not 20..255");
    expect_line_ok("a=tls-id:+/-_0123456789abcdefXYZ\r\n");
    expect_line_error("a=tls-id:abcdefghijklmnopqrs=\r\n", PERC_ERR_MALFORMED, 8, "a=tls-id");
    expect_line_error("a=tls-id:abcdefghijklmnopqrs.\r\n", PERC_ERR_MALFORMED, 8, "a=tls-id");
    expect_line_error("a=tls-id:abcdefghij klmnopqrst\r\n", PERC_ERR_MALFORMED, 8, "a=tls-id");
    /* ice-ufrag 4..256, ice-pwd 22..256, ice-chars only */
    expect_line_error("a=ice-ufrag:abc\r\n", PERC_ERR_MALFORMED, 8, "a=ice-ufrag: not 4..256");
    expect_line_ok("a=ice-ufrag:ab+/\r\n");
    expect_line_error("a=ice-ufrag:ab-c\r\n", PERC_ERR_MALFORMED, 8, "a=ice-ufrag");
    memset(value, 'u', sizeof value);
    value[256] = '\0';
    snprintf(line, sizeof line, "a=ice-ufrag:%s\r\n", value);
    expect_line_ok(line);
    value[256] = 'u';
    value[257] = '\0';
    snprintf(line, sizeof line, "a=ice-ufrag:%s\r\n", value);
    expect_line_error(line, PERC_ERR_MALFORMED, 8, "a=ice-ufrag: not 4..256");
    expect_line_error("a=ice-pwd:abcdefghijklmnopqrstu\r\n", PERC_ERR_MALFORMED, 8,
                      "a=ice-pwd: not 22..256");
    expect_line_ok("a=ice-pwd:abcdefghijklmnopqrstuv\r\n");
    expect_line_error("a=ice-options:trickle  ice2\r\n", PERC_ERR_MALFORMED, 8, "a=ice-options");
    expect_line_error("a=ice-options:tri-ckle\r\n", PERC_ERR_MALFORMED, 8, "a=ice-options");
}

static void test_lf_only_and_unknown(void **state)
{
    (void)state;
    /* the offer with bare LF line ends: accepted, flagged, same model */
    size_t n = strlen(OFFER);
    char *lf = malloc(n + 1);
    assert_non_null(lf);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (OFFER[i] != '\r')
            lf[j++] = OFFER[i];
    }
    lf[j] = '\0';
    perc_sdp *a = parse_ok(lf);
    perc_sdp *b = parse_ok(OFFER);
    assert_true(a->bare_lf);
    assert_false(b->bare_lf);
    assert_true(perc_sdp_equal(a, b));
    char *out = write_ok(a);
    assert_string_equal(out, OFFER);    /* written back with CRLF */
    free(out);
    free(a);
    free(b);
    free(lf);

    /* unknown attributes and other lines survive in order */
    static const char TEXT[] = "v=0\r\n"
                               "o=- 1 1 IN IP4 127.0.0.1\r\n"
                               "s=-\r\n"
                               "c=IN IP4 0.0.0.0\r\n"
                               "t=0 0\r\n"
                               "a=x-first:1\r\n"
                               "a=extmap-allow-mixed\r\n"
                               "a=x-first:2\r\n"
                               "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
                               "b=AS:64\r\n"
                               "a=msid:stream track\r\n"
                               "a=rtcp-rsize\r\n"
                               "a=rtcp:9 IN IP4 0.0.0.0\r\n";
    perc_sdp *s = parse_ok(TEXT);
    assert_int_equal(s->raw_count, 7);
    static const char *const WANT[] = {"x-first:1", "extmap-allow-mixed", "x-first:2", "AS:64",
                                       "msid:stream track", "rtcp-rsize", "rtcp:9 IN IP4 0.0.0.0"};
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(perc_sdp_raw_text(s, &s->raw[i]), WANT[i]);
    assert_int_equal(s->raw[3].type, 'b');
    assert_int_equal(s->raw[3].media, 0);
    out = write_ok(s);
    assert_string_equal(out, TEXT);
    free(out);
    free(s);
}

/* Appends one full media section (every per-section bound reached except
 * raw lines): m, c, 32 rtpmap, 16 ssrc, 16 extmap, 16 candidates = 82 lines. */
static size_t full_section(char *text, size_t at)
{
    at += (size_t)sprintf(text + at, "m=audio 9 RTP/SAVPF");
    for (int p = 0; p < PERC_SDP_MAX_FMT; p++)
        at += (size_t)sprintf(text + at, " %d", p);
    at += (size_t)sprintf(text + at, "\r\nc=IN IP4 0.0.0.0\r\n");
    for (int p = 0; p < PERC_SDP_MAX_RTPMAP; p++)
        at += (size_t)sprintf(text + at, "a=rtpmap:%d x/8000\r\n", p);
    for (int p = 0; p < PERC_SDP_MAX_SSRC; p++)
        at += (size_t)sprintf(text + at, "a=ssrc:%d cname:x\r\n", p);
    for (int p = 0; p < PERC_SDP_MAX_EXTMAP; p++)
        at += (size_t)sprintf(text + at, "a=extmap:%d urn:x:%d\r\n", p + 1, p);
    for (int p = 0; p < PERC_SDP_MAX_CANDIDATES; p++)
        at += (size_t)sprintf(text + at, "a=candidate:%d 1 UDP 1 192.0.2.1 %d typ host\r\n", p, p);
    return at;
}

static void test_size_limits(void **state)
{
    (void)state;
    /* a line of 1024 bytes is fine, 1025 is not (with CRLF or LF) */
    char *line = malloc(PERC_SDP_MAX_LINE + 8);
    assert_non_null(line);
    memset(line, 'x', PERC_SDP_MAX_LINE + 8);
    memcpy(line, "a=x:", 4);
    memcpy(line + PERC_SDP_MAX_LINE, "\r\n", 3);
    expect_line_ok(line);
    memset(line, 'x', PERC_SDP_MAX_LINE + 8);
    memcpy(line, "a=x:", 4);
    memcpy(line + PERC_SDP_MAX_LINE + 1, "\r\n", 3);
    expect_line_error(line, PERC_ERR_LIMIT, 8, "line longer than 1024 bytes");
    memset(line, 'x', PERC_SDP_MAX_LINE + 8);
    memcpy(line, "a=x:", 4);
    memcpy(line + PERC_SDP_MAX_LINE + 1, "\n", 2);
    expect_line_error(line, PERC_ERR_LIMIT, 8, "line longer than 1024 bytes");
    free(line);

    perc_sdp *s = new_sdp();
    perc_sdp_error e;
    char *text = malloc(2 * PERC_SDP_MAX_INPUT);
    assert_non_null(text);

    /* more than 256 raw lines */
    static const char HEAD[] = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                               "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n";
    size_t at = (size_t)sprintf(text, "%s", HEAD);
    for (int i = 0; i < 300; i++)
        at += (size_t)sprintf(text + at, "a=rtcp-fb:* x\r\n");
    expect_error(text, PERC_ERR_LIMIT, 7 + PERC_SDP_MAX_RAW, "more than 256 lines kept as text");
    /* more than 4 media sections */
    at = (size_t)sprintf(text, "%s", HEAD);
    for (int i = 0; i < 4; i++)
        at += (size_t)sprintf(text + at, "m=audio 9 RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\n");
    expect_error(text, PERC_ERR_LIMIT, 13, "more than 4 media sections");
    /* more than 16 ssrc, 32 rtpmap, 16 extmap */
    at = (size_t)sprintf(text, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    at = full_section(text, at);
    memcpy(text + at, "a=ssrc:1 x\r\n", 13);
    expect_error(text, PERC_ERR_LIMIT, 87, "a=ssrc: more than 16");
    memcpy(text + at, "a=rtpmap:1 x/1\r\n", 17);
    expect_error(text, PERC_ERR_LIMIT, 87, "a=rtpmap: more than 32");
    memcpy(text + at, "a=extmap:99 urn:x\r\n", 20);
    expect_error(text, PERC_ERR_LIMIT, 87, "a=extmap: more than 16");

    /* the line bound: 4 full sections (4 + 4 * 82 = 332 lines) and
     * rtcp-fb lines up to line 513 */
    at = (size_t)sprintf(text, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    for (int k = 0; k < PERC_SDP_MAX_MEDIA; k++)
        at = full_section(text, at);
    for (int i = 332; i < PERC_SDP_MAX_LINES + 1; i++)
        at += (size_t)sprintf(text + at, "a=rtcp-fb:* x\r\n");
    assert_int_equal(perc_sdp_parse(text, at, s, &e), PERC_ERR_LIMIT);
    assert_int_equal(e.line, PERC_SDP_MAX_LINES + 1);
    assert_string_equal(e.reason, "more than 512 lines");
    /* one line less fits, and round-trips */
    at -= strlen("a=rtcp-fb:* x\r\n");
    assert_int_equal(perc_sdp_parse(text, at, s, &e), PERC_OK);
    assert_int_equal(s->media_count, PERC_SDP_MAX_MEDIA);
    char *out = write_ok(s);
    perc_sdp *s2 = parse_ok(out);
    assert_true(perc_sdp_equal(s, s2));
    free(s2);
    free(out);

    /* input longer than 65536 bytes: long candidate and rtcp-fb lines */
    at = (size_t)sprintf(text, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    char host[254];
    memset(host, 'h', sizeof host);
    for (int i = 60; i < 253; i += 61)
        host[i] = '.';
    host[253] = '\0';
    char pad[781];
    memset(pad, 'p', sizeof pad);
    pad[780] = '\0';
    unsigned ln = 4, crossing = 0;
    for (int k = 0; k < PERC_SDP_MAX_MEDIA; k++) {
        at += (size_t)sprintf(text + at, "m=audio 9 RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\n");
        ln += 2;
        for (int p = 0; p < PERC_SDP_MAX_CANDIDATES + 10; p++) {
            if (p < PERC_SDP_MAX_CANDIDATES)
                at += (size_t)sprintf(text + at,
                                      "a=candidate:%d 1 UDP 1 %s %d typ relay raddr %s rport 1 "
                                      "x-pad-%0200d 1\r\n",
                                      p, host, p, host, 0);
            else
                at += (size_t)sprintf(text + at, "a=rtcp-fb:* %s\r\n", pad);
            ln++;
            if (!crossing && at > PERC_SDP_MAX_INPUT)
                crossing = ln;
        }
    }
    assert_true(crossing > 0);
    assert_int_equal(perc_sdp_parse(text, at, s, &e), PERC_ERR_LIMIT);
    assert_int_equal(e.line, crossing);
    assert_string_equal(e.reason, "description longer than 65536 bytes");

    free(text);
    free(s);
}

static void test_builder_and_writer_errors(void **state)
{
    (void)state;
    perc_sdp *s = new_sdp();
    perc_sdp_init(s);
    s->origin_sess_id = 42;
    s->bundle = true;
    s->bundle_count = 1;
    strcpy(s->bundle_mids[0], "a");
    s->ice_lite = true;
    strcpy(s->attrs.ice_ufrag, "mdd1");
    strcpy(s->attrs.ice_pwd, "0123456789012345678901");
    s->attrs.fingerprint_count = 1;
    strcpy(s->attrs.fingerprints[0].hash, "sha-256");
    memcpy(s->attrs.fingerprints[0].value, OFFER_FP, 32);
    s->attrs.fingerprints[0].len = 32;
    s->attrs.setup = PERC_SDP_SETUP_PASSIVE;
    strcpy(s->attrs.tls_id, "kmf-0123456789abcdefg");
    size_t k = 99;
    assert_int_equal(perc_sdp_add_media(s, PERC_SDP_AUDIO, &k), PERC_OK);
    assert_int_equal(k, 0);
    perc_sdp_media *m = &s->media[0];
    m->fmts[0] = 111;
    m->fmt_count = 1;
    strcpy(m->mid, "a");
    m->rtcp_mux = true;
    m->rtpmap_count = 1;
    m->rtpmaps[0] = (perc_sdp_rtpmap){.pt = 111, .name = "opus", .clock = 48000, .channels = 2};
    m->attrs.extmap_count = 1;
    m->attrs.extmaps[0].id = 1;
    strcpy(m->attrs.extmaps[0].uri, "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    m->candidate_count = 1;
    perc_sdp_candidate *c = &m->candidates[0];
    strcpy(c->foundation, "1");
    c->component = 1;
    strcpy(c->transport, "UDP");
    c->priority = 2130706431;
    strcpy(c->address, "192.0.2.1");
    c->port = 40000;
    c->type = PERC_SDP_CAND_HOST;
    m->attrs.end_of_candidates = true;
    /* raw lines are kept in canonical order whatever the call order */
    assert_int_equal(perc_sdp_add_raw(s, 0, 'a', "fmtp:111 minptime=10"), PERC_OK);
    assert_int_equal(perc_sdp_add_raw(s, 0, 'b', "AS:64"), PERC_OK);
    assert_int_equal(perc_sdp_add_raw(s, -1, 'a', "x-conference:42"), PERC_OK);
    assert_int_equal(perc_sdp_add_raw(s, 0, 'i', "audio"), PERC_OK);
    assert_int_equal(perc_sdp_add_raw(s, -1, 'a', "ice-ufrag:abcd"), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_sdp_add_raw(s, -1, 'a', "group:BUNDLE a"), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_sdp_add_raw(s, -1, 'a', "fmtp:111 x"), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_sdp_add_raw(s, 0, 'a', "fmtp:112 x"), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_sdp_add_raw(s, 0, 'u', "https://x"), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_sdp_add_raw(s, 0, 'a', "x\r\na=y"), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_sdp_add_raw(s, 1, 'a', "x"), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_sdp_add_raw(s, -1, 'a', " x"), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_sdp_add_raw(s, -1, 'a', ""), PERC_ERR_INVALID_ARG);

    char *out = write_ok(s);
    static const char WANT[] =
        "v=0\r\n"
        "o=- 42 0 IN IP4 127.0.0.1\r\n"
        "s=-\r\n"
        "t=0 0\r\n"
        "a=group:BUNDLE a\r\n"
        "a=ice-lite\r\n"
        "a=ice-ufrag:mdd1\r\n"
        "a=ice-pwd:0123456789012345678901\r\n"
        "a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:"
        "FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F\r\n"
        "a=setup:passive\r\n"
        "a=tls-id:kmf-0123456789abcdefg\r\n"
        "a=x-conference:42\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        "i=audio\r\n"
        "c=IN IP4 0.0.0.0\r\n"
        "b=AS:64\r\n"
        "a=mid:a\r\n"
        "a=rtcp-mux\r\n"
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
        "a=rtpmap:111 opus/48000/2\r\n"
        "a=fmtp:111 minptime=10\r\n"
        "a=candidate:1 1 UDP 2130706431 192.0.2.1 40000 typ host\r\n"
        "a=end-of-candidates\r\n";
    assert_string_equal(out, WANT);
    perc_sdp *back = parse_ok(out);
    assert_true(perc_sdp_equal(s, back));
    perc_sdp_error e;
    assert_int_equal(perc_sdp_check_perc(back, &e), PERC_OK);
    free(back);

    /* every buffer shorter than text + NUL is refused */
    size_t len = strlen(out);
    char *small = malloc(len + 1);
    assert_non_null(small);
    for (size_t cap = 0; cap <= len; cap++)
        assert_int_equal(perc_sdp_write(s, small, cap, NULL, NULL), PERC_ERR_NOSPACE);
    assert_int_equal(perc_sdp_write(s, small, len + 1, NULL, NULL), PERC_OK);
    assert_string_equal(small, out);
    free(small);
    free(out);

    /* what the parser would reject cannot be written */
    perc_sdp *bad = new_sdp();
    char buf[4096];
#define EXPECT_WRITE_ERROR(mutation, rc, part)                                              \
    do {                                                                                      \
        memcpy(bad, s, sizeof *s);                                                            \
        mutation;                                                                             \
        perc_sdp_error we = {0, NULL};                                                        \
        assert_int_equal(perc_sdp_write(bad, buf, sizeof buf, NULL, &we), rc);                \
        assert_non_null(we.reason);                                                           \
        if (!strstr(we.reason, part))                                                         \
            fail_msg("reason \"%s\" lacks \"%s\"", we.reason, part);                          \
        /* even with no room at all, validation comes first */                                \
        assert_int_equal(perc_sdp_write(bad, buf, 0, NULL, NULL), rc);                        \
    } while (0)
    EXPECT_WRITE_ERROR(strcpy(bad->attrs.ice_ufrag, "abc"), PERC_ERR_INVALID_ARG, "a=ice-ufrag");
    EXPECT_WRITE_ERROR(strcpy(bad->attrs.tls_id, "short"), PERC_ERR_INVALID_ARG, "a=tls-id");
    EXPECT_WRITE_ERROR(bad->media[0].candidates[0].priority = 0, PERC_ERR_INVALID_ARG, "priority");
    EXPECT_WRITE_ERROR(strcpy(bad->session_name, " x"), PERC_ERR_INVALID_ARG, "space after");
    EXPECT_WRITE_ERROR(strcpy(bad->session_name, ""), PERC_ERR_INVALID_ARG, "empty value");
    EXPECT_WRITE_ERROR(strcpy(bad->session_name, "a\r\nb"), PERC_ERR_INVALID_ARG, "CR");
    EXPECT_WRITE_ERROR(strcpy(bad->origin_username, "a b"), PERC_ERR_INVALID_ARG, "o=");
    EXPECT_WRITE_ERROR(strcpy(bad->attrs.fingerprints[0].hash, "SHA-256"), PERC_ERR_INVALID_ARG,
                       "a=fingerprint");
    EXPECT_WRITE_ERROR(bad->attrs.fingerprints[0].len = 31, PERC_ERR_INVALID_ARG,
                       "sha-256 needs 32 octets");
    EXPECT_WRITE_ERROR(bad->media[0].rtpmaps[0].pt = 96, PERC_ERR_INVALID_ARG,
                       "payload type not on the m= line");
    EXPECT_WRITE_ERROR(strcpy(bad->bundle_mids[0], "zz"), PERC_ERR_INVALID_ARG,
                       "a mid names no media section");
    EXPECT_WRITE_ERROR(bad->media[0].connection.present = false, PERC_ERR_INVALID_ARG,
                       "no c= line");
    EXPECT_WRITE_ERROR(bad->media[0].fmt_count = 0, PERC_ERR_INVALID_ARG, "no payload types");
    EXPECT_WRITE_ERROR(bad->media[0].attrs.extmaps[0].id = 0, PERC_ERR_INVALID_ARG, "a=extmap");
    EXPECT_WRITE_ERROR(bad->media[0].candidate_count = PERC_SDP_MAX_CANDIDATES + 1, PERC_ERR_LIMIT,
                       "more than 16");
    EXPECT_WRITE_ERROR(bad->attrs.setup = (perc_sdp_setup)9, PERC_ERR_INVALID_ARG, "a=setup");
    EXPECT_WRITE_ERROR(memset(bad->media[0].mid, 'x', sizeof bad->media[0].mid),
                       PERC_ERR_INVALID_ARG, "NUL");
    EXPECT_WRITE_ERROR(bad->media[0].ssrc_count = 1; bad->media[0].ssrcs[0].has_value = true,
                       PERC_ERR_INVALID_ARG, "a=ssrc");
    EXPECT_WRITE_ERROR((void)0; perc_sdp_raw tmp = bad->raw[0]; bad->raw[0] = bad->raw[1];
                       bad->raw[1] = tmp, PERC_ERR_INVALID_ARG, "out of order");
#undef EXPECT_WRITE_ERROR
    assert_int_equal(perc_sdp_add_media(s, 0, NULL), PERC_ERR_INVALID_ARG);
    for (int i = 1; i < PERC_SDP_MAX_MEDIA; i++)
        assert_int_equal(perc_sdp_add_media(s, PERC_SDP_VIDEO, NULL), PERC_OK);
    assert_int_equal(perc_sdp_add_media(s, PERC_SDP_VIDEO, NULL), PERC_ERR_LIMIT);

    /* check_perc names what is missing and where */
    perc_sdp *p = parse_ok(OFFER);
    p->media[1].attrs.tls_id[0] = '\0';
    assert_int_equal(perc_sdp_check_perc(p, &e), PERC_ERR_MALFORMED);
    assert_int_equal(e.line, 26);
    assert_string_equal(e.reason, "m= section has no a=tls-id");
    p->media[1].rtcp_mux = false;
    assert_int_equal(perc_sdp_check_perc(p, &e), PERC_ERR_MALFORMED);
    assert_string_equal(e.reason, "m= section has no a=rtcp-mux");
    p->bundle = false;
    p->bundle_count = 0;
    assert_int_equal(perc_sdp_check_perc(p, &e), PERC_ERR_MALFORMED);
    assert_int_equal(e.line, 1);
    free(p);
    free(bad);
    free(s);
}

static void test_addresses(void **state)
{
    (void)state;
    static const struct {
        const char *addr;
        int rc;
        perc_sdp_host_kind kind;
    } CASES[] = {
        {"0.0.0.0", PERC_OK, PERC_SDP_HOST_IP4},
        {"255.255.255.255", PERC_OK, PERC_SDP_HOST_IP4},
        {"256.0.0.0", PERC_ERR_MALFORMED, 0},
        {"1.2.3.4.5", PERC_ERR_MALFORMED, 0},
        {"1.2.3.", PERC_ERR_MALFORMED, 0},
        {"::", PERC_OK, PERC_SDP_HOST_IP6},
        {"::1", PERC_OK, PERC_SDP_HOST_IP6},
        {"1::", PERC_OK, PERC_SDP_HOST_IP6},
        {"1:2:3:4:5:6:7::", PERC_OK, PERC_SDP_HOST_IP6},
        {"1:2:3:4:5:6::8", PERC_OK, PERC_SDP_HOST_IP6},
        {"1:2:3:4:5:6:1.2.3.4", PERC_OK, PERC_SDP_HOST_IP6},
        {"::ffff:1.2.3.4", PERC_OK, PERC_SDP_HOST_IP6},
        {"1:2:3:4:5:6:7:8:9", PERC_ERR_MALFORMED, 0},
        {"1:2:3:4:5:6:7", PERC_ERR_MALFORMED, 0},
        {":1:2:3:4:5:6:7", PERC_ERR_MALFORMED, 0},
        {"1:2:3:4:5:6:7:", PERC_ERR_MALFORMED, 0},
        {":::", PERC_ERR_MALFORMED, 0},
        {"1:2:3:4:5:6:7:1.2.3.4", PERC_ERR_MALFORMED, 0},
        {"1.2.3.4::", PERC_ERR_MALFORMED, 0},
        {"fe80::1%eth0", PERC_ERR_MALFORMED, 0},
        {"g::1", PERC_ERR_MALFORMED, 0},
        {"localhost", PERC_OK, PERC_SDP_HOST_NAME},
        {"a.b-c.example", PERC_OK, PERC_SDP_HOST_NAME},
        {"1f4712db-ea17-4bcf-a596-105139dfd8bf.local", PERC_OK, PERC_SDP_HOST_NAME},
        {"example.com.", PERC_ERR_MALFORMED, 0},
        {"a-.example", PERC_ERR_MALFORMED, 0},
        {"", PERC_ERR_MALFORMED, 0},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        perc_sdp_host_kind kind = 0;
        int rc = perc_sdp_address_kind(CASES[i].addr, &kind);
        if (rc != CASES[i].rc || (rc == PERC_OK && kind != CASES[i].kind))
            fail_msg("address \"%s\": rc %d kind %d", CASES[i].addr, rc, kind);
    }
    char label[80];
    memset(label, 'a', sizeof label);
    label[63] = '\0';
    perc_sdp_host_kind kind;
    assert_int_equal(perc_sdp_address_kind(label, &kind), PERC_OK);
    label[63] = 'a';
    label[64] = '\0';
    assert_int_equal(perc_sdp_address_kind(label, &kind), PERC_ERR_MALFORMED);
    /* c= with multicast suffixes is kept as written */
    perc_sdp *s = parse_ok("v=0\r\no=- 1 1 IN IP4 host.example\r\ns=-\r\nc=IN IP4 224.2.36.42/127/3\r\n"
                           "t=0 0\r\n");
    assert_string_equal(s->connection.address, "224.2.36.42/127/3");
    assert_string_equal(s->origin_address, "host.example");
    free(s);
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 224.2.36.42/256\r\n",
                 PERC_ERR_MALFORMED, 4, "multicast suffix");
    expect_error("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP6 ff15::101/3/2\r\n",
                 PERC_ERR_MALFORMED, 4, "multicast suffix");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offer_fields),
        cmocka_unit_test(test_answer_fields),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_attribute_errors),
        cmocka_unit_test(test_candidates),
        cmocka_unit_test(test_trickle_candidate),
        cmocka_unit_test(test_fingerprints),
        cmocka_unit_test(test_ice_and_tls_id_bounds),
        cmocka_unit_test(test_lf_only_and_unknown),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_builder_and_writer_errors),
        cmocka_unit_test(test_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
