/* SDP and JSON helpers shared by test_signaling.c and test_focus.c. */
#ifndef PERC_TEST_SIG_FIXTURES_H
#define PERC_TEST_SIG_FIXTURES_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An endpoint's offer as perc-endpoint writes it: audio and video
 * bundled, rtcp-mux, trickle ICE with a host and a srflx candidate, the
 * fingerprint at session level, setup:active and tls-id per section, an
 * SSRC per section, the audio level extension. Placeholders: ice-ufrag,
 * tls-id, audio SSRC, video SSRC. */
#define SIG_OFFER_FMT                                                                          \
    "v=0\r\n"                                                                                  \
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"                                           \
    "s=-\r\n"                                                                                  \
    "t=0 0\r\n"                                                                                \
    "a=group:BUNDLE 0 1\r\n"                                                                   \
    "a=ice-options:trickle\r\n"                                                                \
    "a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:" \
    "34:8E:5E:EA:6F:AF:52:CE:E6:0F\r\n"                                                        \
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n"                                                    \
    "c=IN IP4 0.0.0.0\r\n"                                                                     \
    "a=mid:0\r\n"                                                                              \
    "a=ice-ufrag:%s\r\n"                                                                       \
    "a=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n"                                                     \
    "a=setup:active\r\n"                                                                       \
    "a=tls-id:%s\r\n"                                                                          \
    "a=sendrecv\r\n"                                                                           \
    "a=rtcp-mux\r\n"                                                                           \
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"                               \
    "a=extmap:2 urn:example:not-kept\r\n"                                                      \
    "a=rtpmap:111 opus/48000/2\r\n"                                                            \
    "a=ssrc:%lu cname:perc-endpoint\r\n"                                                       \
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"                                                \
    "a=candidate:1 1 UDP 2122260223 192.0.2.10 54400 typ host\r\n"                             \
    "a=candidate:3 1 UDP 1686052607 203.0.113.5 61000 typ srflx raddr 192.0.2.10 rport "       \
    "54400\r\n"                                                                                \
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"                                                    \
    "c=IN IP4 0.0.0.0\r\n"                                                                     \
    "a=mid:1\r\n"                                                                              \
    "a=ice-ufrag:%s\r\n"                                                                       \
    "a=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n"                                                     \
    "a=setup:active\r\n"                                                                       \
    "a=tls-id:%s\r\n"                                                                          \
    "a=sendonly\r\n"                                                                           \
    "a=rtcp-mux\r\n"                                                                           \
    "a=rtpmap:96 VP8/90000\r\n"                                                                \
    "a=ssrc:%lu cname:perc-endpoint\r\n"                                                       \
    "a=rtcp-fb:96 nack pli\r\n"

#define SIG_TLS_ID_1 "dGxzLWlkLWVuZHBvaW50LTE"
#define SIG_TLS_ID_2 "dGxzLWlkLWVuZHBvaW50LTI"

/* The offer with the given ufrag, tls-id and SSRCs; free() it. */
static inline char *sig_offer(const char *ufrag, const char *tls_id, uint32_t audio,
                              uint32_t video)
{
    size_t cap = sizeof SIG_OFFER_FMT + 256;
    char *s = malloc(cap);
    if (!s)
        abort();
    snprintf(s, cap, SIG_OFFER_FMT, ufrag, tls_id, (unsigned long)audio, ufrag, tls_id,
             (unsigned long)video);
    return s;
}

/* A valid PERC answer (ICE-lite, setup:passive). */
#define SIG_ANSWER                                                                             \
    "v=0\r\n"                                                                                  \
    "o=perc-mdd 1 1 IN IP4 192.0.2.1\r\n"                                                      \
    "s=-\r\n"                                                                                  \
    "t=0 0\r\n"                                                                                \
    "a=group:BUNDLE 0\r\n"                                                                     \
    "a=ice-lite\r\n"                                                                           \
    "a=ice-ufrag:mdd1\r\n"                                                                     \
    "a=ice-pwd:ZWxlY3Ryb25pYy1zZWNyZXQtcHdk\r\n"                                               \
    "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:B4:2F:" \
    "E4:A2:1B:5C:A8:3A:96:75:3C:65\r\n"                                                        \
    "a=setup:passive\r\n"                                                                      \
    "m=audio 40000 UDP/TLS/RTP/SAVPF 111\r\n"                                                  \
    "c=IN IP4 192.0.2.1\r\n"                                                                   \
    "a=mid:0\r\n"                                                                              \
    "a=tls-id:kmf-tls_id+0123456789/AB\r\n"                                                    \
    "a=rtcp-mux\r\n"                                                                           \
    "a=rtpmap:111 opus/48000/2\r\n"                                                            \
    "a=candidate:1 1 udp 2130706431 192.0.2.1 40000 typ host\r\n"

#define SIG_KMF_FP                                                                             \
    "sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:B4:2F:E4:A2:1B:5C:A8:" \
    "3A:96:75:3C:65"

/* printf into a fresh buffer; free() it. */
static inline char *sig_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *sig_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    char *s = malloc((size_t)n + 1);
    if (!s)
        abort();
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* A JSON string literal (quoted, escaped) for s; free() it. */
static inline char *sig_json_str(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(n * 6 + 3);
    if (!o)
        abort();
    size_t k = 0;
    o[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            o[k++] = '\\';
            o[k++] = (char)c;
        } else if (c == '\r') {
            o[k++] = '\\';
            o[k++] = 'r';
        } else if (c == '\n') {
            o[k++] = '\\';
            o[k++] = 'n';
        } else if (c < 0x20) {
            k += (size_t)snprintf(o + k, 7, "\\u%04x", c);
        } else {
            o[k++] = (char)c;
        }
    }
    o[k++] = '"';
    o[k] = '\0';
    return o;
}

#endif
