/* perc-signaling message codec (common/include/perc/signaling.h,
 * docs/signaling.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perc/signaling.h"
#include "test_sig_fixtures.h"

static char *OFFER;

static int setup(void **state)
{
    (void)state;
    OFFER = sig_offer("F7gI", SIG_TLS_ID_1, 3735928559u, 305419896u);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(OFFER);
    return 0;
}

/* ---- helpers ---- */

static char *encode_ok(const perc_sig_msg *m)
{
    char *out = malloc(PERC_SIG_MAX_MESSAGE + 1);
    assert_non_null(out);
    size_t len = 0;
    perc_sig_error e;
    int rc = perc_sig_encode(m, out, PERC_SIG_MAX_MESSAGE + 1, &len, &e);
    if (rc != PERC_OK) {
        char why[512];
        perc_sig_error_text(&e, why, sizeof why);
        fail_msg("encode %s failed (%d): %s", perc_sig_type_name(m->type), rc, why);
    }
    assert_int_equal(strlen(out), len);
    return out;
}

static void decode_ok(const char *text, perc_sig_msg *m)
{
    perc_sig_error e;
    int rc = perc_sig_decode(text, strlen(text), m, &e);
    if (rc != PERC_OK) {
        char why[512];
        perc_sig_error_text(&e, why, sizeof why);
        fail_msg("decode failed (%d): %s\n%s", rc, why, text);
    }
}

/* Decoding `text` (len bytes) fails with rc, code, field and a reason
 * containing `reason`; the id given to the reply is `id` ("" none, NULL:
 * not checked). */
static void expect_fail_n(const char *text, size_t len, int rc, perc_sig_code code,
                          const char *field, const char *reason, const char *id)
{
    perc_sig_msg m;
    perc_sig_error e;
    int got = perc_sig_decode(text, len, &m, &e);
    if (got != rc || e.code != code || strcmp(e.field, field) != 0 || !e.reason ||
        !strstr(e.reason, reason) || (id && strcmp(e.id, id) != 0))
        fail_msg("want %d %s field \"%s\" reason \"%s\" id \"%s\"\n got %d %s field \"%s\" "
                 "reason \"%s\" id \"%s\"\n input: %.300s",
                 rc, perc_sig_code_name(code), field, reason, id ? id : "(any)", got,
                 perc_sig_code_name(e.code) ? perc_sig_code_name(e.code) : "none", e.field,
                 e.reason ? e.reason : "(null)", e.id, text);
    /* Nothing to free after a failure, and clearing is still safe. */
    assert_null(m.priv_);
    assert_null(m.sdp_model);
    perc_sig_msg_clear(&m);
}

static void expect_fail(const char *text, int rc, perc_sig_code code, const char *field,
                        const char *reason, const char *id)
{
    expect_fail_n(text, strlen(text), rc, code, field, reason, id);
}

static void bad_message(const char *text, const char *field, const char *reason)
{
    /* The reply's id: the message's "id" when it is a plain short one. */
    char id[80] = "";
    const char *p = strstr(text, "\"id\":\"");
    if (p) {
        p += 6;
        size_t n = strcspn(p, "\"");
        if (n >= 1 && n <= 64 && !memchr(p, ' ', n) && !memchr(p, '\\', n) &&
            (unsigned char)p[0] < 0x80) {
            memcpy(id, p, n);
            id[n] = '\0';
        }
    }
    expect_fail(text, PERC_ERR_MALFORMED, PERC_SIG_E_BAD_MESSAGE, field, reason, id);
}

static void bad_json(const char *text, const char *reason)
{
    expect_fail(text, PERC_ERR_MALFORMED, PERC_SIG_E_BAD_JSON, "", reason, "");
}

/* encode -> decode -> equal -> encode gives the same text; every
 * truncation fails; trailing garbage fails, trailing whitespace does not. */
static void roundtrip(const perc_sig_msg *m)
{
    char *text = encode_ok(m);
    size_t n = strlen(text);
    perc_sig_msg back;
    decode_ok(text, &back);
    if (!perc_sig_msg_equal(m, &back))
        fail_msg("decode(encode(m)) != m for %s: %s", perc_sig_type_name(m->type), text);
    char *again = encode_ok(&back);
    assert_string_equal(text, again);
    if (m->type == PERC_SIG_JOIN || m->type == PERC_SIG_ENDPOINT_OFFER ||
        m->type == PERC_SIG_ANSWER)
        assert_non_null(back.sdp_model);
    else
        assert_null(back.sdp_model);
    perc_sig_msg_clear(&back);
    perc_sig_msg_clear(&back); /* twice is fine */

    for (size_t cut = 0; cut < n; cut++) {
        perc_sig_msg t;
        perc_sig_error e;
        int rc = perc_sig_decode(text, cut, &t, &e);
        if (rc != PERC_ERR_MALFORMED || e.code != PERC_SIG_E_BAD_JSON)
            fail_msg("truncation at %zu of %s: rc %d code %d", cut, text, rc, e.code);
    }
    char *more = sig_fmt("%s x", text);
    expect_fail(more, PERC_ERR_MALFORMED, PERC_SIG_E_BAD_JSON, "", "bytes after", "");
    free(more);
    more = sig_fmt("{\"a\":1}%s", text);
    expect_fail(more, PERC_ERR_MALFORMED, PERC_SIG_E_BAD_JSON, "", "bytes after", "");
    free(more);
    more = sig_fmt(" \r\n\t%s \r\n\t", text);
    decode_ok(more, &back);
    assert_true(perc_sig_msg_equal(m, &back));
    perc_sig_msg_clear(&back);
    free(more);
    free(again);
    free(text);
}

static perc_sig_msg msg(perc_sig_type t)
{
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = t;
    return m;
}

static const char *const CANDS[] = {
    "candidate:1 1 udp 2130706431 192.0.2.1 40000 typ host",
    "candidate:2 1 UDP 2130706175 2001:db8::1 40000 typ host",
};

/* ---- tests ---- */

static void test_names(void **state)
{
    (void)state;
    for (int t = PERC_SIG_NONE + 1; t < PERC_SIG_TYPE_COUNT; t++) {
        const char *name = perc_sig_type_name((perc_sig_type)t);
        assert_non_null(name);
        assert_int_equal(perc_sig_type_from_name(name), t);
        assert_true(perc_sig_type_kind((perc_sig_type)t) >= PERC_SIG_KIND_REQUEST);
        assert_true(perc_sig_senders((perc_sig_type)t) != 0);
    }
    assert_null(perc_sig_type_name(PERC_SIG_NONE));
    assert_null(perc_sig_type_name(PERC_SIG_TYPE_COUNT));
    assert_int_equal(perc_sig_type_from_name("Hello"), PERC_SIG_NONE);
    assert_int_equal(perc_sig_type_from_name(NULL), PERC_SIG_NONE);
    for (int c = PERC_SIG_E_NONE + 1; c < PERC_SIG_E_COUNT; c++) {
        const char *name = perc_sig_code_name((perc_sig_code)c);
        assert_non_null(name);
        assert_int_equal(perc_sig_code_from_name(name), c);
    }
    assert_null(perc_sig_code_name(PERC_SIG_E_NONE));
    assert_int_equal(perc_sig_code_from_name("oops"), PERC_SIG_E_NONE);
    assert_string_equal(perc_sig_code_name(PERC_SIG_E_BAD_SDP), "bad-sdp");
    assert_string_equal(perc_sig_type_name(PERC_SIG_PARTICIPANT_LEFT), "participant-left");
    assert_string_equal(perc_sig_role_name(PERC_SIG_ROLE_MDD), "mdd");
    assert_null(perc_sig_role_name(PERC_SIG_ROLE_NONE));
    /* The direction table of docs/signaling.md §4. */
    assert_int_equal(perc_sig_senders(PERC_SIG_JOIN), PERC_SIG_FROM_ENDPOINT);
    assert_int_equal(perc_sig_senders(PERC_SIG_CANDIDATE),
                     PERC_SIG_FROM_ENDPOINT | PERC_SIG_FROM_SIGNALING);
    assert_int_equal(perc_sig_senders(PERC_SIG_ADMIT), PERC_SIG_FROM_KMF);
    assert_int_equal(perc_sig_senders(PERC_SIG_ENDPOINT_GONE), PERC_SIG_FROM_MDD);
    assert_int_equal(perc_sig_senders(PERC_SIG_LINK), PERC_SIG_FROM_SIGNALING);
    assert_int_equal(perc_sig_type_kind(PERC_SIG_LINK_INFO), PERC_SIG_KIND_REPLY);
    assert_int_equal(perc_sig_type_kind(PERC_SIG_EPOCH), PERC_SIG_KIND_EVENT);
    assert_string_equal(PERC_SIG_SUBPROTOCOL, "perc-signaling.v1");
}

/* Every message type, every member set (and a second form with the
 * optional ones absent where there are any). */
static void test_roundtrip_every_type(void **state)
{
    (void)state;
    perc_sig_msg m;

    m = msg(PERC_SIG_HELLO);
    m.id = "1";
    m.role = PERC_SIG_ROLE_ENDPOINT;
    m.conference = "standup";
    m.token = "s3cr3t";
    roundtrip(&m);
    m.token = NULL;
    roundtrip(&m);
    m = msg(PERC_SIG_HELLO);
    m.id = "h";
    m.role = PERC_SIG_ROLE_MDD;
    m.name = "mdd-1";
    m.token = "daemon-secret";
    m.capacity = 500;
    m.cascade = true;
    roundtrip(&m);
    m.cascade = false;
    roundtrip(&m);
    m = msg(PERC_SIG_HELLO);
    m.id = "h";
    m.role = PERC_SIG_ROLE_KMF;
    m.name = "kmf-1";
    m.token = "daemon-secret";
    m.fingerprint = SIG_KMF_FP;
    roundtrip(&m);

    m = msg(PERC_SIG_WELCOME);
    m.re = "1";
    m.session = "c7";
    roundtrip(&m);

    m = msg(PERC_SIG_ERROR);
    m.re = "2";
    m.code = PERC_SIG_E_BAD_SDP;
    m.reason = "sdp line 12: a=ice-pwd: too short \"quoted\" \\ and ünïcödé";
    m.field = "sdp";
    roundtrip(&m);
    m.re = NULL;
    m.field = NULL;
    roundtrip(&m);

    m = msg(PERC_SIG_OK);
    m.re = "9";
    roundtrip(&m);

    m = msg(PERC_SIG_JOIN);
    m.id = "2";
    m.conference = "standup";
    m.identity = "Alice Ünïcode <alice@example.org>";
    m.sdp = OFFER;
    roundtrip(&m);

    m = msg(PERC_SIG_ANSWER);
    m.re = "2";
    m.sdp = SIG_ANSWER;
    m.participant = "p1";
    m.mdd = "mdd-1";
    roundtrip(&m);

    m = msg(PERC_SIG_CANDIDATE);
    m.mid = "0";
    m.candidate = CANDS[0];
    roundtrip(&m);
    m.candidate = "";
    roundtrip(&m);

    m = msg(PERC_SIG_LEAVE);
    m.id = "3";
    roundtrip(&m);

    m = msg(PERC_SIG_JOINED);
    m.conference = "standup";
    m.participant = "p2";
    m.identity = "bob";
    roundtrip(&m); /* no SSRCs: receive-only */
    m.ssrc_count = 2;
    m.ssrcs[0] = (perc_sig_ssrc){4294967295u, PERC_SDP_AUDIO, "0"};
    m.ssrcs[1] = (perc_sig_ssrc){0, PERC_SDP_VIDEO, "video-1"};
    roundtrip(&m);

    m = msg(PERC_SIG_LEFT);
    m.conference = "standup";
    m.participant = "p2";
    m.reason = "leave";
    roundtrip(&m);

    m = msg(PERC_SIG_ENDED);
    m.conference = "standup";
    m.reason = "mdd-gone";
    roundtrip(&m);

    m = msg(PERC_SIG_PARTICIPANT);
    m.id = "s1";
    m.conference = "standup";
    m.participant = "p1";
    m.identity = "alice";
    m.fingerprint = SIG_KMF_FP;
    m.tls_id = SIG_TLS_ID_1;
    roundtrip(&m);

    m = msg(PERC_SIG_ADMIT);
    m.re = "s1";
    m.fingerprint = SIG_KMF_FP;
    m.tls_id = "kmf-tls_id+0123456789/AB";
    roundtrip(&m);

    m = msg(PERC_SIG_REFUSE);
    m.re = "s1";
    m.reason = "not on the list";
    roundtrip(&m);

    m = msg(PERC_SIG_KEYED);
    m.conference = "standup";
    m.participant = "p1";
    roundtrip(&m);

    m = msg(PERC_SIG_PARTICIPANT_LEFT);
    m.conference = "standup";
    m.participant = "p1";
    m.reason = "disconnected";
    roundtrip(&m);

    m = msg(PERC_SIG_EPOCH);
    m.conference = "standup";
    m.spi = 65535;
    m.members = 0;
    roundtrip(&m);
    m.spi = 0;
    m.members = 1000000;
    roundtrip(&m);

    m = msg(PERC_SIG_ENDPOINT_OFFER);
    m.id = "s2";
    m.conference = "standup";
    m.participant = "p1";
    m.sdp = OFFER;
    roundtrip(&m);

    m = msg(PERC_SIG_ENDPOINT_ANSWER);
    m.re = "s2";
    m.ice_ufrag = "mdd1";
    m.ice_pwd = "ZWxlY3Ryb25pYy1zZWNyZXQtcHdk";
    m.ice_lite = true;
    m.candidate_count = 2;
    m.candidates[0] = CANDS[0];
    m.candidates[1] = CANDS[1];
    m.end_of_candidates = true;
    roundtrip(&m);
    m.end_of_candidates = false;
    roundtrip(&m);

    m = msg(PERC_SIG_ENDPOINT_CANDIDATE);
    m.conference = "standup";
    m.participant = "p1";
    m.mid = "0";
    m.candidate = CANDS[1];
    roundtrip(&m);
    m.candidate = "";
    roundtrip(&m);

    m = msg(PERC_SIG_ENDPOINT_LEAVE);
    m.conference = "standup";
    m.participant = "p1";
    m.reason = "refused";
    roundtrip(&m);

    m = msg(PERC_SIG_ENDPOINT_GONE);
    m.conference = "standup";
    m.participant = "p1";
    m.reason = "no media for 30 s";
    roundtrip(&m);

    m = msg(PERC_SIG_LINK);
    m.id = "s5";
    m.conference = "standup";
    m.link = "l1";
    m.peer = "mdd-2";
    m.dtls_role = PERC_SIG_DTLS_CLIENT;
    roundtrip(&m);
    m.dtls_role = PERC_SIG_DTLS_SERVER;
    roundtrip(&m);

    m = msg(PERC_SIG_LINK_INFO);
    m.re = "s5";
    m.ice_ufrag = "lnk1";
    m.ice_pwd = "ZWxlY3Ryb25pYy1zZWNyZXQtcHdk";
    m.fingerprint = SIG_KMF_FP;
    m.candidate_count = 1;
    m.candidates[0] = CANDS[0];
    roundtrip(&m);

    m = msg(PERC_SIG_LINK_PEER);
    m.conference = "standup";
    m.link = "l1";
    m.peer = "mdd-1";
    m.ice_ufrag = "lnk1";
    m.ice_pwd = "ZWxlY3Ryb25pYy1zZWNyZXQtcHdk";
    m.fingerprint = SIG_KMF_FP;
    m.candidate_count = 2;
    m.candidates[0] = CANDS[0];
    m.candidates[1] = CANDS[1];
    roundtrip(&m);

    m = msg(PERC_SIG_UNLINK);
    m.conference = "standup";
    m.link = "l1";
    m.reason = "conference ended";
    roundtrip(&m);
}

/* The wire form is fixed: member order, no spaces, escapes. */
static void test_exact_text(void **state)
{
    (void)state;
    perc_sig_msg m = msg(PERC_SIG_HELLO);
    m.id = "1";
    m.role = PERC_SIG_ROLE_ENDPOINT;
    m.conference = "standup";
    m.token = "s3cr3t";
    char *t = encode_ok(&m);
    assert_string_equal(t, "{\"type\":\"hello\",\"id\":\"1\",\"role\":\"endpoint\",\"token\":"
                           "\"s3cr3t\",\"conference\":\"standup\"}");
    free(t);

    m = msg(PERC_SIG_JOINED);
    m.conference = "c";
    m.participant = "p2";
    m.identity = "tab\there \"q\" back\\slash \x01";
    m.ssrc_count = 1;
    m.ssrcs[0] = (perc_sig_ssrc){3735928559u, PERC_SDP_AUDIO, "0"};
    /* A control character in an identity is not allowed at all. */
    perc_sig_error e;
    char buf[512];
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, NULL, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "identity");
    m.identity = "\"q\" back\\slash";
    t = encode_ok(&m);
    assert_string_equal(t, "{\"type\":\"joined\",\"conference\":\"c\",\"participant\":\"p2\","
                           "\"identity\":\"\\\"q\\\" back\\\\slash\",\"ssrcs\":[{\"ssrc\":"
                           "3735928559,\"kind\":\"audio\",\"mid\":\"0\"}]}");
    free(t);

    m = msg(PERC_SIG_ENDPOINT_ANSWER);
    m.re = "s2";
    m.ice_ufrag = "mdd1";
    m.ice_pwd = "ZWxlY3Ryb25pYy1zZWNyZXQtcHdk";
    m.ice_lite = true;
    m.candidate_count = 1;
    m.candidates[0] = CANDS[0];
    t = encode_ok(&m);
    assert_string_equal(t, "{\"type\":\"endpoint-answer\",\"re\":\"s2\",\"ice-ufrag\":\"mdd1\","
                           "\"ice-pwd\":\"ZWxlY3Ryb25pYy1zZWNyZXQtcHdk\",\"ice-lite\":true,"
                           "\"candidates\":[\"candidate:1 1 udp 2130706431 192.0.2.1 40000 "
                           "typ host\"]}");
    free(t);

    /* SDP line ends are escaped. */
    m = msg(PERC_SIG_JOIN);
    m.id = "2";
    m.conference = "c";
    m.identity = "a";
    m.sdp = OFFER;
    t = encode_ok(&m);
    assert_non_null(strstr(t, "\"sdp\":\"v=0\\r\\no=- "));
    assert_null(strchr(t, '\r'));
    free(t);
}

/* The examples printed in docs/signaling.md decode as shown. */
static void test_doc_examples(void **state)
{
    (void)state;
    static const char *const EX[] = {
        "{\"type\":\"hello\",\"id\":\"1\",\"role\":\"endpoint\",\"conference\":\"standup\","
        "\"token\":\"s3cr3t\"}",
        "{\"type\":\"welcome\",\"re\":\"1\",\"session\":\"c7\"}",
        "{\"type\":\"hello\",\"id\":\"h\",\"role\":\"mdd\",\"name\":\"mdd-1\",\"token\":"
        "\"daemon-secret\",\"capacity\":500,\"cascade\":true}",
        "{\"type\":\"hello\",\"id\":\"h\",\"role\":\"kmf\",\"name\":\"kmf-1\",\"token\":"
        "\"daemon-secret\",\"fingerprint\":\"" SIG_KMF_FP "\"}",
        "{\"type\":\"error\",\"re\":\"2\",\"code\":\"bad-sdp\",\"reason\":\"sdp line 12: "
        "a=ice-pwd: not 22..256 ice-chars (letters, digits, + /)\",\"field\":\"sdp\"}",
    };
    for (size_t i = 0; i < sizeof EX / sizeof EX[0]; i++) {
        perc_sig_msg m;
        decode_ok(EX[i], &m);
        perc_sig_msg_clear(&m);
    }
    perc_sig_msg m;
    decode_ok(EX[2], &m);
    assert_int_equal(m.type, PERC_SIG_HELLO);
    assert_int_equal(m.role, PERC_SIG_ROLE_MDD);
    assert_int_equal(m.capacity, 500);
    assert_true(m.cascade);
    assert_string_equal(m.token, "daemon-secret");
    assert_null(m.conference);
    perc_sig_msg_clear(&m);
    assert_null(m.token);
}

static void test_bad_json(void **state)
{
    (void)state;
    expect_fail_n("", 0, PERC_ERR_MALFORMED, PERC_SIG_E_BAD_JSON, "", "empty", "");
    bad_json("nope", "not JSON");
    bad_json("{", "not JSON");
    bad_json("{\"type\":\"leave\",\"id\":\"1\",}", "not JSON");
    bad_json("{'type':'leave'}", "not JSON");
    bad_json("{\"type\":\"leave\" \"id\":\"1\"}", "not JSON");
    bad_json("{\"type\":\"leave\",\"id\":\"1\"}}", "bytes after");
    bad_json("{\"type\":\"leave\",\"id\":\"1\"}{}", "bytes after");
    /* Invalid UTF-8 anywhere: lone continuation, overlong, surrogate,
     * beyond U+10FFFF, truncated sequence. */
    bad_json("{\"type\":\"left\",\"conference\":\"c\",\"participant\":\"p1\",\"reason\":\"\x80\"}",
             "invalid UTF-8");
    bad_json("{\"type\":\"ok\",\"re\":\"1\",\"x\":\"\xC0\xAF\"}", "invalid UTF-8");
    bad_json("{\"type\":\"ok\",\"re\":\"1\",\"x\":\"\xED\xA0\x80\"}", "invalid UTF-8");
    bad_json("{\"type\":\"ok\",\"re\":\"1\",\"x\":\"\xF4\x90\x80\x80\"}", "invalid UTF-8");
    bad_json("{\"type\":\"ok\",\"re\":\"1\",\"x\":\"\xE2\x82\"}", "invalid UTF-8");
    bad_json("{\"type\":\"ok\",\"re\":\"1\"}\xFF", "invalid UTF-8");
    /* NUL bytes, raw control characters, \u0000, lone surrogate escapes. */
    static const char NUL_INSIDE[] = "{\"type\":\"ok\",\"re\":\"1\"}\0";
    expect_fail_n(NUL_INSIDE, sizeof NUL_INSIDE - 1, PERC_ERR_MALFORMED, PERC_SIG_E_BAD_JSON,
                  "", "NUL byte", "");
    bad_json("{\"type\":\"ok\",\"re\":\"1\",\"x\":\"a\tb\"}", "control character");
    bad_json("{\"type\":\"ok\",\"re\":\"1\",\"x\":\"a\nb\"}", "control character");
    bad_json("{\"type\":\"ok\",\"re\":\"1\",\"x\":\"a\\u0000b\"}", "\\u0000");
    bad_json("{\"type\":\"ok\",\"re\":\"1\",\"x\":\"\\ud800\"}", "not JSON");
    bad_json("{\"type\":\"ok\",\"re\":\"1\",\"x\":\"\\udc00\\ud800\"}", "not JSON");
    /* An escaped backslash before u0000 is just text. */
    perc_sig_msg m;
    decode_ok("{\"type\":\"ok\",\"re\":\"1\",\"x\":\"a\\\\u0000b\"}", &m);
    perc_sig_msg_clear(&m);
    /* Deep nesting: 16 levels are fine, 17 are not. */
    char deep[256];
    int n = snprintf(deep, sizeof deep, "{\"type\":\"ok\",\"re\":\"1\",\"x\":");
    for (int i = 0; i < 15; i++)
        deep[n++] = '[';
    for (int i = 0; i < 15; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    decode_ok(deep, &m);
    perc_sig_msg_clear(&m);
    n = snprintf(deep, sizeof deep, "{\"type\":\"ok\",\"re\":\"1\",\"x\":");
    for (int i = 0; i < 16; i++)
        deep[n++] = '[';
    for (int i = 0; i < 16; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    bad_json(deep, "nested deeper");
    assert_int_equal(perc_sig_decode(NULL, 1, &m, NULL), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_sig_decode("{}", 2, NULL, NULL), PERC_ERR_INVALID_ARG);
}

static void test_envelope(void **state)
{
    (void)state;
    bad_message("[1]", "", "not a JSON object");
    bad_message("\"leave\"", "", "not a JSON object");
    bad_message("42", "", "not a JSON object");
    bad_message("{}", "type", "missing");
    bad_message("{\"type\":5}", "type", "not a string");
    bad_message("{\"type\":null}", "type", "not a string");
    /* Unknown type: the id still reaches the reply. */
    expect_fail("{\"type\":\"frobnicate\",\"id\":\"7\"}", PERC_ERR_UNSUPPORTED,
                PERC_SIG_E_UNKNOWN_TYPE, "type", "no such message type", "7");
    expect_fail("{\"type\":\"Leave\",\"id\":\"7\"}", PERC_ERR_UNSUPPORTED,
                PERC_SIG_E_UNKNOWN_TYPE, "type", "no such message type", "7");
    /* id: required on requests, not allowed elsewhere, printable ASCII. */
    bad_message("{\"type\":\"leave\"}", "id", "missing");
    bad_message("{\"type\":\"leave\",\"id\":7}", "id", "not a string");
    bad_message("{\"type\":\"leave\",\"id\":null}", "id", "not a string");
    bad_message("{\"type\":\"leave\",\"id\":\"\"}", "id", "not 1..64 printable");
    bad_message("{\"type\":\"leave\",\"id\":\"a b\"}", "id", "not 1..64 printable");
    bad_message("{\"type\":\"leave\",\"id\":\"ü\"}", "id", "not 1..64 printable");
    char id65[100];
    snprintf(id65, sizeof id65, "{\"type\":\"leave\",\"id\":\"%065d\"}", 0);
    bad_message(id65, "id", "not 1..64 printable");
    expect_fail("{\"type\":\"candidate\",\"id\":\"5\",\"mid\":\"0\",\"candidate\":\"\"}",
                PERC_ERR_MALFORMED, PERC_SIG_E_BAD_MESSAGE, "id", "not a request", "5");
    bad_message("{\"type\":\"leave\",\"id\":\"5\",\"re\":\"4\"}", "re", "not a reply");
    bad_message("{\"type\":\"ok\"}", "re", "missing");
    /* Duplicate members, anywhere in the tree. */
    expect_fail("{\"type\":\"leave\",\"id\":\"1\",\"id\":\"2\"}", PERC_ERR_MALFORMED,
                PERC_SIG_E_BAD_MESSAGE, "id", "given twice", "");
    bad_message("{\"type\":\"leave\",\"type\":\"leave\",\"id\":\"1\"}", "type", "given twice");
    bad_message("{\"type\":\"ok\",\"re\":\"1\",\"x\":{\"a\":1,\"a\":2}}", "a", "given twice");
    /* Too many members. */
    char big[2048];
    int n = snprintf(big, sizeof big, "{\"type\":\"ok\",\"re\":\"1\"");
    for (int i = 0; i < 63; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, ",\"x%d\":%d", i, i);
    snprintf(big + n, sizeof big - (size_t)n, "}");
    bad_message(big, "", "more than 64 members");
    /* Unknown members are ignored (62 of them plus type and re: 64). */
    n = snprintf(big, sizeof big, "{\"type\":\"ok\",\"re\":\"1\"");
    for (int i = 0; i < 62; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, ",\"x%d\":[%d,{\"y\":null}]", i, i);
    snprintf(big + n, sizeof big - (size_t)n, "}");
    perc_sig_msg m;
    decode_ok(big, &m);
    assert_int_equal(m.type, PERC_SIG_OK);
    assert_string_equal(m.re, "1");
    perc_sig_msg_clear(&m);
}

static void test_members(void **state)
{
    (void)state;
    /* Missing, wrong JSON type, out of bounds, for each value kind. */
    bad_message("{\"type\":\"left\",\"participant\":\"p1\",\"reason\":\"x\"}", "conference",
                "missing");
    bad_message("{\"type\":\"left\",\"conference\":[],\"participant\":\"p1\",\"reason\":\"x\"}",
                "conference", "not a string");
    bad_message("{\"type\":\"left\",\"conference\":\"a/b\",\"participant\":\"p1\",\"reason\":"
                "\"x\"}",
                "conference", "not 1..64 characters");
    bad_message("{\"type\":\"left\",\"conference\":\"\",\"participant\":\"p1\",\"reason\":\"x\"}",
                "conference", "not 1..64 characters");
    bad_message("{\"type\":\"left\",\"conference\":\"c\",\"participant\":\"p1\",\"reason\":\"\"}",
                "reason", "empty");
    bad_message("{\"type\":\"left\",\"conference\":\"c\",\"participant\":\"p1\",\"reason\":"
                "\"a\\u0007b\"}",
                "reason", "control character");
    bad_message("{\"type\":\"left\",\"conference\":\"c\",\"participant\":\"p1\",\"reason\":"
                "\"a\\u007fb\"}",
                "reason", "control character");
    char *reason257 = malloc(300);
    memset(reason257, 'r', 257);
    reason257[257] = '\0';
    char *t = sig_fmt("{\"type\":\"left\",\"conference\":\"c\",\"participant\":\"p1\",\"reason\":"
                      "\"%s\"}",
                      reason257);
    bad_message(t, "reason", "longer than 256 bytes");
    free(t);
    reason257[256] = '\0';
    t = sig_fmt("{\"type\":\"left\",\"conference\":\"c\",\"participant\":\"p1\",\"reason\":"
                "\"%s\"}",
                reason257);
    perc_sig_msg m;
    decode_ok(t, &m);
    perc_sig_msg_clear(&m);
    free(t);
    /* 128 bytes of identity are fine (64 two-byte characters), 129 not. */
    char ident[300] = "";
    for (int i = 0; i < 64; i++)
        strcat(ident, "é");
    t = sig_fmt("{\"type\":\"joined\",\"conference\":\"c\",\"participant\":\"p1\",\"identity\":"
                "\"%s\",\"ssrcs\":[]}",
                ident);
    decode_ok(t, &m);
    perc_sig_msg_clear(&m);
    free(t);
    strcat(ident, "x");
    t = sig_fmt("{\"type\":\"joined\",\"conference\":\"c\",\"participant\":\"p1\",\"identity\":"
                "\"%s\",\"ssrcs\":[]}",
                ident);
    bad_message(t, "identity", "longer than 128 bytes");
    free(t);
    free(reason257);
    /* Booleans and enumerations. */
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"admin\"}", "role",
                "not \"endpoint\", \"mdd\" or \"kmf\"");
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":1}", "role", "not a string");
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"mdd\",\"name\":\"m\",\"token\":"
                "\"t\",\"capacity\":1,\"cascade\":\"yes\"}",
                "cascade", "not a boolean");
    bad_message("{\"type\":\"error\",\"code\":\"oops\",\"reason\":\"x\"}", "code",
                "not an error code");
    bad_message("{\"type\":\"link\",\"id\":\"s1\",\"conference\":\"c\",\"link\":\"l1\",\"peer\":"
                "\"m\",\"dtls-role\":\"both\"}",
                "dtls-role", "not \"client\" or \"server\"");
    /* Fingerprints, tls-ids, ICE credentials, mids. */
    bad_message("{\"type\":\"admit\",\"re\":\"s1\",\"fingerprint\":\"sha-1 "
                "4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB\",\"tls-id\":"
                "\"" SIG_TLS_ID_1 "\"}",
                "fingerprint", "not a sha-256 fingerprint");
    bad_message("{\"type\":\"admit\",\"re\":\"s1\",\"fingerprint\":\"sha-256 4A:AD\",\"tls-id\":"
                "\"" SIG_TLS_ID_1 "\"}",
                "fingerprint", "32 hex pairs");
    bad_message("{\"type\":\"admit\",\"re\":\"s1\",\"fingerprint\":\"sha-256 4AAD\",\"tls-id\":"
                "\"" SIG_TLS_ID_1 "\"}",
                "fingerprint", "hex pairs");
    bad_message("{\"type\":\"admit\",\"re\":\"s1\",\"fingerprint\":\"" SIG_KMF_FP "\","
                "\"tls-id\":\"short\"}",
                "tls-id", "not 20..255 characters");
    bad_message("{\"type\":\"admit\",\"re\":\"s1\",\"fingerprint\":\"" SIG_KMF_FP "\","
                "\"tls-id\":\"has=padding=000000000000\"}",
                "tls-id", "not 20..255 characters");
    bad_message("{\"type\":\"candidate\",\"mid\":\"a b\",\"candidate\":\"\"}", "mid",
                "not 1..63 SDP token");
    bad_message("{\"type\":\"endpoint-answer\",\"re\":\"s2\",\"ice-ufrag\":\"abc\",\"ice-pwd\":"
                "\"ZWxlY3Ryb25pYy1zZWNyZXQtcHdk\",\"ice-lite\":true,\"candidates\":[\"" 
                "candidate:1 1 udp 2130706431 192.0.2.1 40000 typ host\"]}",
                "ice-ufrag", "not 4..256 ice-chars");
    bad_message("{\"type\":\"endpoint-answer\",\"re\":\"s2\",\"ice-ufrag\":\"abcd\",\"ice-pwd\":"
                "\"short\",\"ice-lite\":true,\"candidates\":[\"candidate:1 1 udp 2130706431 "
                "192.0.2.1 40000 typ host\"]}",
                "ice-pwd", "not 22..256 ice-chars");
    bad_message("{\"type\":\"endpoint-answer\",\"re\":\"s2\",\"ice-ufrag\":\"abcd\",\"ice-pwd\":"
                "\"ZWxlY3Ryb25pYy1zZWNyZXQtcHdk\",\"ice-lite\":false,\"candidates\":[\""
                "candidate:1 1 udp 2130706431 192.0.2.1 40000 typ host\"]}",
                "ice-lite", "must be true");
    bad_message("{\"type\":\"endpoint-answer\",\"re\":\"s2\",\"ice-ufrag\":\"abcd\",\"ice-pwd\":"
                "\"ZWxlY3Ryb25pYy1zZWNyZXQtcHdk\",\"candidates\":[\"candidate:1 1 udp "
                "2130706431 192.0.2.1 40000 typ host\"]}",
                "ice-lite", "missing");
    /* Tokens: printable ASCII only. */
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"endpoint\",\"conference\":\"c\","
                "\"token\":\"with space\"}",
                "token", "not 1..256 printable");
}

static void test_hello_roles(void **state)
{
    (void)state;
    bad_message("{\"type\":\"hello\",\"id\":\"1\"}", "role", "missing");
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"endpoint\"}", "conference",
                "required for an endpoint");
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"endpoint\",\"conference\":\"c\","
                "\"name\":\"x\"}",
                "name", "not allowed for an endpoint");
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"endpoint\",\"conference\":\"c\","
                "\"cascade\":false}",
                "cascade", "not allowed for an endpoint");
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"mdd\",\"name\":\"m\",\"token\":"
                "\"t\"}",
                "capacity", "required for an mdd");
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"mdd\",\"name\":\"m\",\"capacity\":"
                "5}",
                "token", "required for an mdd");
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"mdd\",\"name\":\"m\",\"token\":"
                "\"t\",\"capacity\":5,\"conference\":\"c\"}",
                "conference", "not allowed for an mdd");
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"mdd\",\"name\":\"m\",\"token\":"
                "\"t\",\"capacity\":5,\"fingerprint\":\"" SIG_KMF_FP "\"}",
                "fingerprint", "not allowed for an mdd");
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"kmf\",\"name\":\"k\",\"token\":"
                "\"t\"}",
                "fingerprint", "required for a kmf");
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"kmf\",\"name\":\"k\",\"token\":"
                "\"t\",\"fingerprint\":\"" SIG_KMF_FP "\",\"capacity\":3}",
                "capacity", "not allowed for a kmf");
    /* Encoding applies the same rules. */
    perc_sig_msg m = msg(PERC_SIG_HELLO);
    m.id = "1";
    m.role = PERC_SIG_ROLE_KMF;
    m.name = "k";
    m.token = "t";
    m.fingerprint = SIG_KMF_FP;
    m.cascade = true;
    char buf[1024];
    perc_sig_error e;
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, NULL, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "cascade");
    m.cascade = false;
    m.fingerprint = NULL;
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, NULL, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "fingerprint");
}

static void test_numbers(void **state)
{
    (void)state;
    static const char *const OKS[] = {"5", "5.0", "5e0", "0.5e1", "1000000", "1"};
    for (size_t i = 0; i < sizeof OKS / sizeof OKS[0]; i++) {
        char *t = sig_fmt("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"mdd\",\"name\":\"m\","
                          "\"token\":\"t\",\"capacity\":%s}",
                          OKS[i]);
        perc_sig_msg m;
        decode_ok(t, &m);
        assert_true(m.capacity >= 1);
        perc_sig_msg_clear(&m);
        free(t);
    }
    static const char *const BADS[] = {"0", "1.5", "-1", "1000001", "1e400", "-0.5",
                                       "4294967296"};
    for (size_t i = 0; i < sizeof BADS / sizeof BADS[0]; i++) {
        char *t = sig_fmt("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"mdd\",\"name\":\"m\","
                          "\"token\":\"t\",\"capacity\":%s}",
                          BADS[i]);
        bad_message(t, "capacity", "not an integer in 1..1000000");
        free(t);
    }
    bad_message("{\"type\":\"hello\",\"id\":\"1\",\"role\":\"mdd\",\"name\":\"m\",\"token\":"
                "\"t\",\"capacity\":\"5\"}",
                "capacity", "not a number");
    bad_message("{\"type\":\"epoch\",\"conference\":\"c\",\"spi\":65536,\"members\":1}", "spi",
                "not an integer in 0..65535");
    bad_message("{\"type\":\"epoch\",\"conference\":\"c\",\"spi\":1,\"members\":-1}", "members",
                "not an integer in 0..1000000");
    bad_message("{\"type\":\"epoch\",\"conference\":\"c\",\"spi\":true,\"members\":1}", "spi",
                "not a number");
    perc_sig_msg m;
    decode_ok("{\"type\":\"epoch\",\"conference\":\"c\",\"spi\":-0,\"members\":1e6}", &m);
    assert_int_equal(m.spi, 0);
    assert_int_equal(m.members, 1000000);
    perc_sig_msg_clear(&m);
}

static void test_candidates_and_ssrcs(void **state)
{
    (void)state;
    bad_message("{\"type\":\"candidate\",\"mid\":\"0\",\"candidate\":\"candidate:1 1 UDP 0 "
                "192.0.2.1 1 typ host\"}",
                "candidate", "priority");
    bad_message("{\"type\":\"candidate\",\"mid\":\"0\",\"candidate\":\"a=candidate:1 1 UDP 1 "
                "192.0.2.1 1 typ host\"}",
                "candidate", "candidate:");
    bad_message("{\"type\":\"candidate\",\"mid\":\"0\",\"candidate\":null}", "candidate",
                "not a string");
    static const char HEAD[] = "{\"type\":\"link-info\",\"re\":\"s1\",\"ice-ufrag\":\"abcd\","
                               "\"ice-pwd\":\"ZWxlY3Ryb25pYy1zZWNyZXQtcHdk\",\"fingerprint\":"
                               "\"" SIG_KMF_FP "\",\"candidates\":";
    char *t = sig_fmt("%s[]}", HEAD);
    bad_message(t, "candidates", "empty array");
    free(t);
    t = sig_fmt("%s\"candidate:1 1 udp 1 192.0.2.1 4 typ host\"}", HEAD);
    bad_message(t, "candidates", "not an array");
    free(t);
    t = sig_fmt("%s[\"candidate:1 1 udp 1 192.0.2.1 4 typ host\",\"\"]}", HEAD);
    bad_message(t, "candidates[1]", "empty");
    free(t);
    t = sig_fmt("%s[\"candidate:1 1 udp 1 192.0.2.1 4 typ host\",3]}", HEAD);
    bad_message(t, "candidates[1]", "not a string");
    free(t);
    t = sig_fmt("%s[\"candidate:1 1 udp 1 192.0.2.1 4 typ host\",\"candidate:x\"]}", HEAD);
    expect_fail(t, PERC_ERR_MALFORMED, PERC_SIG_E_BAD_MESSAGE, "candidates[1]", "", "");
    free(t);
    char list[4096] = "[";
    for (int i = 0; i < 17; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list),
                 "%s\"candidate:%d 1 udp 1 192.0.2.1 4 typ host\"", i ? "," : "", i + 1);
    strcat(list, "]");
    t = sig_fmt("%s%s}", HEAD, list);
    bad_message(t, "candidates", "more than 16");
    free(t);

    static const char J[] = "{\"type\":\"joined\",\"conference\":\"c\",\"participant\":\"p1\","
                            "\"identity\":\"a\",\"ssrcs\":";
    t = sig_fmt("%s{}}", J);
    bad_message(t, "ssrcs", "not an array");
    free(t);
    t = sig_fmt("%s[1]}", J);
    bad_message(t, "ssrcs[0]", "not an object");
    free(t);
    t = sig_fmt("%s[{\"kind\":\"audio\",\"mid\":\"0\"}]}", J);
    bad_message(t, "ssrcs[0].ssrc", "missing");
    free(t);
    t = sig_fmt("%s[{\"ssrc\":4294967296,\"kind\":\"audio\",\"mid\":\"0\"}]}", J);
    bad_message(t, "ssrcs[0].ssrc", "not an integer");
    free(t);
    t = sig_fmt("%s[{\"ssrc\":1,\"kind\":\"text\",\"mid\":\"0\"}]}", J);
    bad_message(t, "ssrcs[0].kind", "not \"audio\" or \"video\"");
    free(t);
    t = sig_fmt("%s[{\"ssrc\":1,\"kind\":\"audio\"}]}", J);
    bad_message(t, "ssrcs[0].mid", "missing");
    free(t);
    t = sig_fmt("%s[{\"ssrc\":1,\"kind\":\"audio\",\"mid\":\"0\"},{\"ssrc\":1,\"kind\":\"video\","
                "\"mid\":\"1\"}]}",
                J);
    bad_message(t, "ssrcs[1].ssrc", "SSRC listed twice");
    free(t);
    char big[8192] = "[";
    for (int i = 0; i < 65; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big),
                 "%s{\"ssrc\":%d,\"kind\":\"audio\",\"mid\":\"0\"}", i ? "," : "", i);
    strcat(big, "]");
    t = sig_fmt("%s%s}", J, big);
    bad_message(t, "ssrcs", "more than 64 entries");
    free(t);
}

/* join carries an offer: everything perc_sdp_check_perc and docs/
 * signaling.md §2.1 want, with the SDP line in the error. */
static void expect_bad_offer(const char *sdp, unsigned line, const char *reason)
{
    char *js = sig_json_str(sdp);
    char *t = sig_fmt("{\"type\":\"join\",\"id\":\"2\",\"conference\":\"c\",\"identity\":\"a\","
                      "\"sdp\":%s}",
                      js);
    perc_sig_msg m;
    perc_sig_error e;
    int rc = perc_sig_decode(t, strlen(t), &m, &e);
    if (rc != PERC_ERR_MALFORMED || e.code != PERC_SIG_E_BAD_SDP || e.sdp_line != line ||
        strcmp(e.field, "sdp") != 0 || !e.reason || !strstr(e.reason, reason) ||
        strcmp(e.id, "2") != 0)
        fail_msg("want bad-sdp line %u \"%s\", got %d code %d line %u field %s \"%s\"", line,
                 reason, rc, e.code, e.sdp_line, e.field, e.reason ? e.reason : "(null)");
    char text[512];
    perc_sig_error_text(&e, text, sizeof text);
    char want[64];
    snprintf(want, sizeof want, "sdp line %u: ", line);
    if (line)
        assert_memory_equal(text, want, strlen(want));
    /* The same offer in endpoint-offer, and encoding refuses it too. */
    perc_sig_msg o = msg(PERC_SIG_ENDPOINT_OFFER);
    o.id = "s1";
    o.conference = "c";
    o.participant = "p1";
    o.sdp = sdp;
    char *buf = malloc(PERC_SIG_MAX_MESSAGE + 1);
    assert_int_equal(perc_sig_encode(&o, buf, PERC_SIG_MAX_MESSAGE + 1, NULL, &e),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(e.code, PERC_SIG_E_BAD_SDP);
    assert_string_equal(e.field, "sdp");
    free(buf);
    free(t);
    free(js);
}

/* The offer with `from` (a whole line with CRLF) replaced by `to`, every
 * occurrence. */
static char *offer_edit(const char *from, const char *to)
{
    size_t cap = strlen(OFFER) * 2 + 256;
    char *out = malloc(cap);
    out[0] = '\0';
    const char *p = OFFER, *q;
    while ((q = strstr(p, from)) != NULL) {
        strncat(out, p, (size_t)(q - p));
        strcat(out, to);
        p = q + strlen(from);
    }
    strcat(out, p);
    return out;
}

static void test_sdp_rules(void **state)
{
    (void)state;
    char *s;
    s = offer_edit("a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:"
                   "A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F\r\n",
                   "");
    expect_bad_offer(s, 7, "fingerprint");
    free(s);
    s = offer_edit("a=tls-id:" SIG_TLS_ID_1 "\r\n", "");
    expect_bad_offer(s, 8, "tls-id");
    free(s);
    s = offer_edit("a=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n", "");
    expect_bad_offer(s, 8, "a=ice-pwd");
    free(s);
    s = offer_edit("a=rtcp-mux\r\n", "");
    expect_bad_offer(s, 8, "rtcp-mux");
    free(s);
    s = offer_edit("a=mid:1\r\n", "");
    expect_bad_offer(s, 5, "mid");
    free(s);
    s = offer_edit("a=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n", "a=ice-pwd:short\r\n");
    expect_bad_offer(s, 12, "a=ice-pwd");
    free(s);
    s = offer_edit("a=setup:active\r\n", "a=setup:passive\r\n");
    expect_bad_offer(s, 8, "a=setup must be active or actpass");
    free(s);
    s = offer_edit("a=group:BUNDLE 0 1\r\n", "a=group:BUNDLE 0 1\r\na=ice-lite\r\n");
    expect_bad_offer(s, 0, "a=ice-lite in an offer");
    free(s);
    /* Not one transport. */
    char *v = sig_offer("F7gI", SIG_TLS_ID_1, 1, 2);
    char *w = strstr(v, "m=video");
    char *u = strstr(w, "a=ice-ufrag:F7gI");
    memcpy(u + strlen("a=ice-ufrag:"), "X7gI", 4);
    expect_bad_offer(v, 24, "ICE credentials differ");
    free(v);
    v = sig_offer("F7gI", SIG_TLS_ID_1, 1, 2);
    w = strstr(strstr(v, "m=video"), "a=tls-id:");
    w[strlen("a=tls-id:")] = 'X';
    expect_bad_offer(v, 24, "tls-id differs");
    free(v);
    /* The same SSRC in two sections (RFC 8843 §9.2). */
    v = sig_offer("F7gI", SIG_TLS_ID_1, 7, 7);
    expect_bad_offer(v, 24, "same SSRC in two m= sections");
    free(v);
    /* Not SDP at all. */
    expect_bad_offer("hello", 1, "");
    /* actpass is an acceptable offer. */
    s = offer_edit("a=setup:active\r\n", "a=setup:actpass\r\n");
    char *js = sig_json_str(s);
    char *t = sig_fmt("{\"type\":\"join\",\"id\":\"2\",\"conference\":\"c\",\"identity\":\"a\","
                      "\"sdp\":%s}",
                      js);
    perc_sig_msg m;
    decode_ok(t, &m);
    assert_int_equal(m.sdp_model->media_count, 2);
    perc_sig_msg_clear(&m);
    free(t);
    free(js);
    free(s);
    /* The answer rules: ice-lite and setup:passive. */
    js = sig_json_str(OFFER);
    t = sig_fmt("{\"type\":\"answer\",\"re\":\"2\",\"sdp\":%s,\"participant\":\"p1\",\"mdd\":"
                "\"m\"}",
                js);
    expect_fail(t, PERC_ERR_MALFORMED, PERC_SIG_E_BAD_SDP, "sdp", "lacks a=ice-lite", "");
    free(t);
    free(js);
    js = sig_json_str(SIG_ANSWER);
    t = sig_fmt("{\"type\":\"join\",\"id\":\"2\",\"conference\":\"c\",\"identity\":\"a\","
                "\"sdp\":%s}",
                js);
    expect_fail(t, PERC_ERR_MALFORMED, PERC_SIG_E_BAD_SDP, "sdp", "a=ice-lite in an offer", "2");
    free(t);
    free(js);
    bad_message("{\"type\":\"join\",\"id\":\"2\",\"conference\":\"c\",\"identity\":\"a\","
                "\"sdp\":\"\"}",
                "sdp", "empty");
}

/* Sizes: the message limit on decode and encode, at its exact edge. */
static void test_size_limits(void **state)
{
    (void)state;
    static const char HEAD[] = "{\"type\":\"ok\",\"re\":\"1\",\"pad\":\"";
    static const char TAIL[] = "\"}";
    size_t n = PERC_SIG_MAX_MESSAGE;
    char *t = malloc(n + 2);
    memcpy(t, HEAD, sizeof HEAD - 1);
    memset(t + sizeof HEAD - 1, 'x', n - (sizeof HEAD - 1) - (sizeof TAIL - 1));
    memcpy(t + n - (sizeof TAIL - 1), TAIL, sizeof TAIL);
    perc_sig_msg m;
    perc_sig_error e;
    assert_int_equal(perc_sig_decode(t, n, &m, &e), PERC_OK);
    perc_sig_msg_clear(&m);
    memmove(t + 1, t, n + 1);
    t[0] = ' ';
    expect_fail_n(t, n + 1, PERC_ERR_TOO_LARGE, PERC_SIG_E_TOO_LARGE, "", "longer than 65536",
                  "");
    free(t);

    /* An offer that is valid SDP (about 37 KB) but does not fit in a
     * message once escaped: long runs of '"', which JSON doubles. */
    char *sdp = malloc(PERC_SDP_MAX_INPUT + 1);
    perc_sdp *model = malloc(sizeof *model);
    size_t len = (size_t)snprintf(sdp, PERC_SDP_MAX_INPUT + 1, "%s", OFFER);
    char quotes[1001];
    memset(quotes, '"', 1000);
    quotes[1000] = '\0';
    for (int i = 0; i < 14; i++)
        len += (size_t)snprintf(sdp + len, PERC_SDP_MAX_INPUT + 1 - len,
                                "a=ssrc:305419896 x%d:%.200s\r\n", i, quotes);
    for (int i = 0; i < 31; i++)
        len += (size_t)snprintf(sdp + len, PERC_SDP_MAX_INPUT + 1 - len, "a=x-pad:%s\r\n",
                                quotes);
    perc_sdp_error se;
    int rc = perc_sdp_parse(sdp, len, model, &se);
    if (rc != PERC_OK)
        fail_msg("padded offer: %d line %u %s", rc, se.line, se.reason);
    perc_sig_msg j = msg(PERC_SIG_JOIN);
    j.id = "2";
    j.conference = "c";
    j.identity = "a";
    j.sdp = sdp;
    char *out = malloc(PERC_SIG_MAX_MESSAGE + 10);
    assert_int_equal(perc_sig_encode(&j, out, PERC_SIG_MAX_MESSAGE + 10, NULL, &e),
                     PERC_ERR_TOO_LARGE);
    assert_int_equal(perc_sig_encode(&j, out, 1000, NULL, &e), PERC_ERR_NOSPACE);
    free(out);
    free(model);
    free(sdp);
}

static void test_encode_errors(void **state)
{
    (void)state;
    char buf[2048];
    size_t len = 77;
    perc_sig_error e;
    perc_sig_msg m = msg(PERC_SIG_NONE);
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "type");
    m.type = PERC_SIG_TYPE_COUNT;
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_sig_encode(NULL, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    m = msg(PERC_SIG_LEAVE);
    m.id = "1";
    assert_int_equal(perc_sig_encode(&m, NULL, 10, &len, &e), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_sig_encode(&m, buf, 0, &len, &e), PERC_ERR_INVALID_ARG);

    m = msg(PERC_SIG_LEAVE);
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "id");
    assert_string_equal(e.reason, "missing");
    m.id = "1";
    m.re = "0";
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "re");
    m = msg(PERC_SIG_CANDIDATE);
    m.id = "1";
    m.mid = "0";
    m.candidate = "";
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "id");
    m.id = NULL;
    m.candidate = "candidate:garbage";
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "candidate");
    m.candidate = NULL;
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "candidate");

    m = msg(PERC_SIG_ERROR);
    m.reason = "x";
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "code");
    m.code = PERC_SIG_E_COUNT;
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    m.code = PERC_SIG_E_LIMIT;
    m.field = "";
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "field");
    m.field = NULL;
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_OK);
    assert_string_equal(buf, "{\"type\":\"error\",\"code\":\"limit\",\"reason\":\"x\"}");
    assert_int_equal(len, strlen(buf));
    /* NOSPACE at every short capacity; the output is always terminated. */
    for (size_t cap = 1; cap <= len; cap++) {
        memset(buf, 'z', sizeof buf);
        assert_int_equal(perc_sig_encode(&m, buf, cap, NULL, &e), PERC_ERR_NOSPACE);
        assert_int_equal(buf[0], '\0');
    }
    assert_int_equal(perc_sig_encode(&m, buf, len + 1, NULL, &e), PERC_OK);

    m = msg(PERC_SIG_ENDPOINT_ANSWER);
    m.re = "s1";
    m.ice_ufrag = "abcd";
    m.ice_pwd = "ZWxlY3Ryb25pYy1zZWNyZXQtcHdk";
    m.ice_lite = false;
    m.candidate_count = 1;
    m.candidates[0] = CANDS[0];
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "ice-lite");
    m.ice_lite = true;
    m.candidate_count = 0;
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "candidates");
    m.candidate_count = 17;
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    m.candidate_count = 2;
    m.candidates[1] = "";
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "candidates[1]");

    m = msg(PERC_SIG_JOINED);
    m.conference = "c";
    m.participant = "p1";
    m.identity = "a";
    m.ssrc_count = 2;
    m.ssrcs[0] = (perc_sig_ssrc){1, PERC_SDP_AUDIO, "0"};
    m.ssrcs[1] = (perc_sig_ssrc){1, PERC_SDP_VIDEO, "1"};
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "ssrcs[1].ssrc");
    m.ssrcs[1] = (perc_sig_ssrc){2, (perc_sdp_media_type)9, "1"};
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "ssrcs[1].kind");
    m.ssrcs[1] = (perc_sig_ssrc){2, PERC_SDP_VIDEO, NULL};
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "ssrcs[1].mid");
    m.ssrc_count = 65;
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "ssrcs");

    /* RFC 8870 SPIs are 16 bits: every value must be reportable (this was
     * once wrongly limited to 15 bits). */
    m = msg(PERC_SIG_EPOCH);
    m.conference = "c";
    m.spi = 40000;
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_OK);
    assert_non_null(strstr(buf, "\"spi\":40000"));
    m = msg(PERC_SIG_LINK);
    m.id = "s1";
    m.conference = "c";
    m.link = "l1";
    m.peer = "m";
    assert_int_equal(perc_sig_encode(&m, buf, sizeof buf, &len, &e), PERC_ERR_INVALID_ARG);
    assert_string_equal(e.field, "dtls-role");
}

static void test_error_text_and_misc(void **state)
{
    (void)state;
    perc_sig_error e;
    memset(&e, 0, sizeof e);
    char out[64];
    assert_int_equal(perc_sig_error_text(&e, out, sizeof out), strlen("no error"));
    assert_string_equal(out, "no error");
    e.code = PERC_SIG_E_BAD_MESSAGE;
    e.reason = "missing";
    snprintf(e.field, sizeof e.field, "ssrcs[0].mid");
    perc_sig_error_text(&e, out, sizeof out);
    assert_string_equal(out, "ssrcs[0].mid: missing");
    e.code = PERC_SIG_E_BAD_SDP;
    e.sdp_line = 12;
    snprintf(e.field, sizeof e.field, "sdp");
    e.reason = "a=ice-pwd: not 22..256 ice-chars (letters, digits, + /)";
    size_t n = perc_sig_error_text(&e, out, 20);
    assert_int_equal(n, 19);
    assert_string_equal(out, "sdp line 12: a=ice-");
    assert_int_equal(perc_sig_error_text(&e, out, 0), 0);
    assert_int_equal(perc_sig_error_text(&e, NULL, 10), 0);

    assert_true(perc_sig_valid_name("a-b_c.9"));
    assert_false(perc_sig_valid_name("a b"));
    assert_false(perc_sig_valid_name(""));
    assert_false(perc_sig_valid_name(NULL));
    assert_true(perc_sig_valid_text("ü", 2));
    assert_false(perc_sig_valid_text("ü", 1));
    perc_sdp_fingerprint fp;
    assert_int_equal(perc_sig_fingerprint_parse(SIG_KMF_FP, &fp), PERC_OK);
    assert_int_equal(fp.len, 32);
    assert_int_equal(fp.value[0], 0x4A);
    char upper[] = SIG_KMF_FP;
    memcpy(upper, "SHA", 3); /* hash names compare without case (RFC 8122 §5) */
    assert_int_equal(perc_sig_fingerprint_parse(upper, &fp), PERC_OK);
    assert_int_equal(fp.value[31], 0x65);
    assert_int_equal(perc_sig_fingerprint_parse("sha-1 4A:AD", &fp), PERC_ERR_MALFORMED);
    assert_int_equal(perc_sig_fingerprint_parse("sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:"
                                                "5D:49:6B:19:E5:7C:AB",
                                                &fp),
                     PERC_ERR_UNSUPPORTED);
    assert_int_equal(perc_sig_fingerprint_parse("sha-256  4A:AD", &fp), PERC_ERR_MALFORMED);
    assert_int_equal(perc_sig_fingerprint_parse(NULL, &fp), PERC_ERR_INVALID_ARG);

    /* Equality looks at members, not at pointers. */
    perc_sig_msg a = msg(PERC_SIG_KEYED), b = msg(PERC_SIG_KEYED);
    char c1[] = "conf", c2[] = "conf";
    a.conference = c1;
    b.conference = c2;
    a.participant = b.participant = "p1";
    assert_true(perc_sig_msg_equal(&a, &b));
    b.participant = "p2";
    assert_false(perc_sig_msg_equal(&a, &b));
    b.participant = NULL;
    assert_false(perc_sig_msg_equal(&a, &b));
    b = msg(PERC_SIG_LEFT);
    assert_false(perc_sig_msg_equal(&a, &b));
    assert_false(perc_sig_msg_equal(&a, NULL));
    perc_sig_msg_clear(NULL);
    perc_sig_msg_init(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_roundtrip_every_type),
        cmocka_unit_test(test_exact_text),
        cmocka_unit_test(test_doc_examples),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_hello_roles),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_candidates_and_ssrcs),
        cmocka_unit_test(test_sdp_rules),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_error_text_and_misc),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
