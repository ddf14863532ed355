/* One participant of perc-endpoint: its own DTLS identity, ICE agent and
 * stream, signaling connection and perc_participant core, on the shared
 * main loop. The flow (docs/signaling.md §6.1, RFC 8871 §4.5.1):
 *
 *   connect + hello ─┐
 *   ICE gathering ───┴─> join(offer) -> answer: the MDD's ICE-lite
 *   credentials and candidates, the KMF's fingerprint and tls-id
 *   -> ICE (we are the full, controlling agent) -> once a pair works, the
 *   DTLS handshake to the KMF through the MDD (we are the client) -> hop
 *   keys, then the EKTKey -> media (the app decides when: main.c) -> leave.
 *
 * Everything a peer can send us per packet is handled without ending the
 * session: a datagram the core refuses is counted by reason there and
 * logged here through rate limiters. What ends a session: a refused or
 * failed join, a failed ICE or DTLS association, signaling ending our
 * participation, or not being keyed within --connect-timeout. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "endpoint.h"
#include "perc/bytes.h"
#include "perc/demux.h"
#include "perc/hex.h"
#include "perc/sdp.h"
#include "perc/secret.h"
#include "perc_daemon/error.h"
#include "perc_daemon/rand.h"

/* How long a CONNECTED pair may wait for its nomination before DTLS
 * starts anyway (see start_dtls). */
#define DTLS_FALLBACK_MS 300
/* ... and how long after READY it starts (see ice_state). */
#define DTLS_READY_DELAY_MS 0

/* Every datagram the core produces fits (perc/participant.h). */
static uint8_t g_dgram[PERC_DTLS_MAX_DATAGRAM];

const char *ep_session_state_name(ep_session_state s)
{
    switch (s) {
    case EP_SESS_CONNECTING: return "connecting";
    case EP_SESS_JOINING: return "joining";
    case EP_SESS_KEYING: return "keying";
    case EP_SESS_MEDIA: return "media";
    case EP_SESS_LEAVING: return "leaving";
    case EP_SESS_DONE: return "done";
    case EP_SESS_FAILED: return "failed";
    }
    return "?";
}

bool ep_session_finished(const ep_session *s)
{
    return s->state == EP_SESS_DONE || s->state == EP_SESS_FAILED;
}

static void pump(ep_session *s);

/* ---- ending ------------------------------------------------------------------ */

static void cancel_connect_timeout(ep_session *s)
{
    if (s->connect_timeout_src) {
        g_source_remove(s->connect_timeout_src);
        s->connect_timeout_src = 0;
    }
    if (s->dtls_fallback_src) {
        g_source_remove(s->dtls_fallback_src);
        s->dtls_fallback_src = 0;
    }
}

/* Closes the association if it is open: close_notify to the KMF and an RTCP
 * BYE for our SSRCs (RFC 3550 §6.6), queued and sent now. */
static void close_association(ep_session *s)
{
    if (!s->p)
        return;
    perc_participant_state ps = perc_participant_get_state(s->p);
    if (ps == PERC_PARTICIPANT_IDLE || ps == PERC_PARTICIPANT_FAILED ||
        ps == PERC_PARTICIPANT_CLOSED)
        return;
    int rc = perc_participant_close(s->p, perc_clock_now_ns());
    if (rc != PERC_OK)
        perc_log_debug("%s: close: %s", s->name, perc_strerror(rc));
    pump(s);
}

static void send_leave(ep_session *s)
{
    if (!s->sig || !s->welcomed)
        return;
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = PERC_SIG_LEAVE;
    m.id = perc_sigclient_next_id(s->sig, "leave", s->leave_id, sizeof s->leave_id);
    if (!perc_sigclient_send(s->sig, &m))
        s->leave_id[0] = '\0';
}

static void fail(ep_session *s, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static bool schedule_rejoin(ep_session *s);

/* The session is over for a reason other than our own leave. */
static void fail(ep_session *s, int code, const char *fmt, ...)
{
    if (ep_session_finished(s))
        return;
    ep_session_state was = s->state;
    va_list ap;
    va_start(ap, fmt);
    g_vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
    if (code == EP_EXIT_CONNECT && schedule_rejoin(s)) {
        /* --rejoin: the same clean-up, then a new join (see below). */
        ep_session_stop_media(s);
        close_association(s);
        if (was == EP_SESS_KEYING || was == EP_SESS_MEDIA)
            send_leave(s);
        cancel_connect_timeout(s);
        perc_deadline_timer_cancel(s->timer);
        ep_app_session_changed(s->app);
        return;
    }
    s->exit_code = code;
    s->state = EP_SESS_FAILED;
    perc_log_error("%s: %s", s->name, s->error);
    ep_session_stop_media(s);
    close_association(s);
    /* Signaling holds us as a participant from the answer on: tell it we
     * go, so the KMF re-keys and the MDD drops us at once (§6.4). */
    if (was == EP_SESS_KEYING || was == EP_SESS_MEDIA)
        send_leave(s);
    cancel_connect_timeout(s);
    perc_deadline_timer_cancel(s->timer);
    ep_app_session_changed(s->app);
}

/* ---- --rejoin ------------------------------------------------------------------------- */

static const perc_ice_callbacks g_ice_cbs;
static gboolean on_connect_timeout(gpointer user);

/* A new attempt: a fresh association (new participant core, new ICE
 * stream and credentials, new tls-id: RFC 8842 wants a new one per
 * association) on the same signaling connection, identity and SSRCs, so
 * the others see the same streams continue under new keys. */
static gboolean do_rejoin(gpointer user)
{
    ep_session *s = user;
    s->rejoin_src = 0;
    if (s->app->stopping || ep_session_finished(s))
        return G_SOURCE_REMOVE;
    perc_participant_free(s->p); /* wipes its keys */
    s->p = NULL;
    s->started = false;
    perc_ice_stream_free(s->ice);
    s->ice = NULL;
    s->gathered = false;
    s->ice_state = PERC_ICE_GATHERING;
    s->participant[0] = s->mdd[0] = s->join_id[0] = s->leave_id[0] = '\0';
    s->ice_ns = s->connected_ns = s->ready_ns = s->answer_ns = 0;
    uint8_t raw[16];
    GError *err = NULL;
    if (perc_daemon_random(NULL, raw, sizeof raw) != PERC_OK ||
        perc_hex_encode(raw, sizeof raw, s->tls_id, sizeof s->tls_id) != PERC_OK ||
        !(s->ice = perc_ice_stream_new(s->agent, &g_ice_cbs, s, &err))) {
        s->no_rejoin = true;
        fail(s, EP_EXIT_CONNECT, "cannot rejoin: %s", err ? err->message : "no randomness");
        if (err)
            g_error_free(err);
        return G_SOURCE_REMOVE;
    }
    s->state = EP_SESS_CONNECTING;
    s->stats.rejoins++;
    s->connect_timeout_src =
        g_timeout_add_seconds((guint)s->app->opt.connect_timeout_s, on_connect_timeout, s);
    perc_log_info("%s: joining again (attempt %" G_GUINT64_FORMAT ")", s->name, s->stats.rejoins);
    return G_SOURCE_REMOVE;
}

/* With --rejoin, a lost MDD, KMF association or signaling connection is
 * not the end: schedule a new join after a backoff (0.25 s doubling to
 * 4 s, reset once keyed). false when this failure is final. */
static bool schedule_rejoin(ep_session *s)
{
    if (!s->app->opt.rejoin || s->no_rejoin || s->app->stopping)
        return false;
    s->rejoin_delay_ms = s->rejoin_delay_ms ? MIN(s->rejoin_delay_ms * 2, 4000u) : 250u;
    perc_log_warn("%s: %s; rejoining in %u ms", s->name, s->error, s->rejoin_delay_ms);
    if (s->rejoin_src)
        g_source_remove(s->rejoin_src);
    s->rejoin_src = g_timeout_add(s->rejoin_delay_ms, do_rejoin, s);
    s->state = EP_SESS_CONNECTING; /* not finished: the app keeps running */
    s->gathered = false;           /* nothing joins before do_rejoin */
    return true;
}

/* ---- datagrams out and the timer ---------------------------------------------- */

static void flush(ep_session *s)
{
    for (;;) {
        size_t len = 0;
        int rc = perc_participant_pop_datagram(s->p, g_dgram, sizeof g_dgram, &len);
        if (rc != PERC_OK || len == 0)
            return;
        if (!perc_ice_stream_send(s->ice, g_dgram, len)) {
            s->stats.ice_send_failures++;
            perc_log_limited(&s->lim_send, PERC_LOG_DEBUG,
                             "%s: a %zu-byte datagram could not be sent (ICE %s)", s->name, len,
                             perc_ice_state_name(s->ice_state));
        }
    }
}

static void rearm(ep_session *s)
{
    if (!s->p || ep_session_finished(s)) {
        perc_deadline_timer_cancel(s->timer);
        return;
    }
    uint64_t t = perc_participant_next_timeout(s->p);
    if (s->sending) {
        uint64_t m = ep_media_next_due(&s->media);
        t = m < t ? m : t;
    }
    perc_deadline_timer_arm(s->timer, t);
}

static const char *remote_name(ep_session *s, uint32_t ssrc)
{
    ep_roster_entry *r = ep_stats_roster_by_ssrc(&s->stats, ssrc);
    return r ? r->identity : "an unknown sender";
}

/* TEST ONLY (--export-keys): one line per EKTKey, "EKTKEY <name> <spi>
 * <cipher> <key hex>", appended to a file only the owner can read. The
 * key is a secret: this exists so a test can hand a departed participant's
 * keys to perc-tool and show they open nothing sent after the re-key. */
static void export_ekt_key(ep_session *s)
{
    perc_ekt_params prm;
    if (perc_participant_export_ekt_params(s->p, &prm) != PERC_OK)
        return;
    char hex[2 * PERC_EKT_MAX_EKTKEY_LEN + 1];
    int fd = open(s->app->opt.export_keys, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0 && perc_hex_encode(prm.key, prm.key_len, hex, sizeof hex) == PERC_OK) {
        char *line = g_strdup_printf("EKTKEY %s %u %u %s\n", s->name, prm.spi,
                                     (unsigned)prm.cipher, hex);
        ssize_t w = write(fd, line, strlen(line));
        if (w < 0 || (size_t)w != strlen(line))
            perc_log_warn("%s: --export-keys: write failed", s->name);
        perc_wipe(line, strlen(line));
        g_free(line);
    } else {
        perc_log_warn("%s: --export-keys: cannot write %s", s->name, s->app->opt.export_keys);
    }
    if (fd >= 0)
        close(fd);
    perc_wipe(hex, sizeof hex);
    perc_ekt_params_wipe(&prm);
}

static void on_core_event(ep_session *s, const perc_participant_event *ev)
{
    uint64_t now = perc_clock_now_ns();
    switch (ev->type) {
    case PERC_PARTICIPANT_EV_CONNECTED:
        s->connected_ns = now;
        s->profile = ev->profile;
        perc_log_info("%s: DTLS with the KMF done (profile 0x%04x), hop-by-hop keys installed; "
                      "waiting for the EKTKey",
                      s->name, ev->profile);
        break;
    case PERC_PARTICIPANT_EV_EKT_KEY:
        if (s->app->opt.export_keys)
            export_ekt_key(s);
        s->stats.ekt_keys++;
        ep_stats_add_spi(s->stats.ekt_spis, &s->stats.n_ekt_spis, ev->spi);
        if (s->state == EP_SESS_KEYING) {
            s->ready_ns = now;
            s->state = EP_SESS_MEDIA;
            s->rejoin_delay_ms = 0;
            cancel_connect_timeout(s);
            perc_log_info("%s: keyed (EKT SPI %u) %.0f ms after the join", s->name, ev->spi,
                          (double)(now - s->join_ns) / 1e6);
            ep_app_session_changed(s->app);
        } else {
            /* A re-key: the core gave each of our SSRCs a fresh key and
             * keeps the old one for the key-change delay (RFC 8870 §4.3.1). */
            perc_log_info("%s: re-keyed: EKT SPI %u", s->name, ev->spi);
        }
        break;
    case PERC_PARTICIPANT_EV_REMOTE_KEY: {
        ep_remote_track *t = ep_stats_track(&s->stats, ev->ssrc);
        if (t)
            ep_stats_add_spi(t->spis, &t->n_spis, ev->spi);
        perc_log_debug("%s: new end-to-end key of SSRC %08x (%s), SPI %u epoch %u", s->name,
                       ev->ssrc, remote_name(s, ev->ssrc), ev->spi, ev->epoch);
        break;
    }
    case PERC_PARTICIPANT_EV_KEYFRAME_REQUEST:
        if (ev->ssrc == s->video_ssrc)
            ep_media_request_keyframe(&s->media);
        perc_log_debug("%s: %s for SSRC %08x from %08x", s->name, ev->fir ? "FIR" : "PLI",
                       ev->ssrc, ev->sender_ssrc);
        break;
    case PERC_PARTICIPANT_EV_NACK:
        perc_log_debug("%s: NACK for SSRC %08x (pid %u): synthetic media is not retransmitted",
                       s->name, ev->ssrc, ev->nack_pid);
        break;
    case PERC_PARTICIPANT_EV_BYE:
        perc_log_info("%s: SSRC %08x (%s) said BYE", s->name, ev->ssrc, remote_name(s, ev->ssrc));
        break;
    case PERC_PARTICIPANT_EV_CLOSED:
        if (s->state == EP_SESS_LEAVING || s->state == EP_SESS_DONE || s->app->stopping ||
            ev->reason == PERC_DTLS_REASON_LOCAL_CLOSE) {
            perc_log_info("%s: DTLS association closed (%s)", s->name,
                          perc_dtls_reason_name(ev->reason));
        } else if (ev->reason == PERC_DTLS_REASON_FINGERPRINT) {
            fail(s, EP_EXIT_CONNECT,
                 "DTLS handshake with the KMF failed: its certificate is not the %s one (%s); "
                 "no key was accepted",
                 s->app->opt.pin_kmf ? "pinned (--kmf-fingerprint)" : "announced (answer SDP)",
                 s->kmf_fingerprint_text);
        } else {
            fail(s, EP_EXIT_CONNECT, "the DTLS association with the KMF ended: %s",
                 perc_dtls_reason_name(ev->reason));
        }
        break;
    }
}

/* Moves everything the core has: datagrams out, frames to the checks,
 * events; then re-arms the timer. */
static void pump(ep_session *s)
{
    if (!s->p)
        return;
    flush(s);
    while (perc_participant_pop_frame(s->p, s->frame) == PERC_OK)
        ep_stats_on_frame(s, s->frame);
    perc_participant_event ev;
    while (perc_participant_pop_event(s->p, &ev) == PERC_OK) {
        on_core_event(s, &ev);
        if (!s->p)
            return;
    }
    flush(s);
    rearm(s);
}

static bool media_send(void *user, uint32_t ssrc, uint8_t pt, uint32_t ts, bool marker,
                       const uint8_t *payload, size_t len, const perc_audio_level *level)
{
    ep_session *s = user;
    uint64_t now = perc_clock_now_ns();
    int rc = perc_participant_send_rtp(s->p, ssrc, pt, ts, marker, payload, len, level, now);
    if (rc == PERC_ERR_LIMIT) {
        flush(s); /* the send queue was full: empty it and try once more */
        rc = perc_participant_send_rtp(s->p, ssrc, pt, ts, marker, payload, len, level, now);
    }
    if (rc != PERC_OK) {
        s->stats.send_errors++;
        perc_log_limited(&s->lim_send, PERC_LOG_WARN, "%s: cannot send on SSRC %08x: %s",
                         s->name, ssrc, perc_strerror(rc));
        return false;
    }
    flush(s);
    return true;
}

static void on_timer(void *user, uint64_t now)
{
    ep_session *s = user;
    if (!s->p)
        return;
    if (perc_participant_next_timeout(s->p) <= now) {
        int rc = perc_participant_on_timeout(s->p, now);
        if (rc != PERC_OK)
            perc_log_warn("%s: timer: %s", s->name, perc_strerror(rc));
    }
    if (s->sending)
        ep_media_run(&s->media, now, media_send, s);
    pump(s);
}

void ep_session_start_media(ep_session *s)
{
    if (s->state != EP_SESS_MEDIA || s->sending)
        return;
    s->sending = true;
    s->media_ns = perc_clock_now_ns();
    ep_media_start(&s->media, s->media_ns);
    perc_log_info("%s: sending audio (SSRC %08x)%s", s->name, s->audio_ssrc,
                  s->video_ssrc ? " and video" : "");
    rearm(s);
}

void ep_session_stop_media(ep_session *s)
{
    s->sending = false;
    if (s->p)
        rearm(s);
}

/* ---- ICE ------------------------------------------------------------------------- */

static void maybe_join(ep_session *s);

static void ice_gathered(void *user, perc_ice_stream *st)
{
    (void)st;
    ep_session *s = user;
    s->gathered = true;
    maybe_join(s);
}

/* Starts the DTLS handshake once the MDD can answer us. Only after ICE:
 * a ClientHello sent before a pair works is lost and costs a full
 * retransmission timeout. And preferably after READY, not CONNECTED: the
 * MDD is an ICE-lite agent that can send to us only once it has seen our
 * nomination, so a KMF flight it relays earlier is lost too. */
static void start_dtls(ep_session *s)
{
    if (!s->p || s->started || ep_session_finished(s) || s->state == EP_SESS_LEAVING)
        return;
    if (s->dtls_fallback_src) {
        g_source_remove(s->dtls_fallback_src);
        s->dtls_fallback_src = 0;
    }
    s->ice_ns = perc_clock_now_ns();
    char remote[80] = "?";
    if (!perc_ice_stream_remote_address(s->ice, remote, sizeof remote))
        g_strlcpy(remote, "?", sizeof remote);
    perc_log_info("%s: ICE %s with the Media Distributor at %s; DTLS to the KMF", s->name,
                  perc_ice_state_name(s->ice_state), remote);
    int rc = perc_participant_start(s->p, s->ice_ns);
    if (rc != PERC_OK) {
        fail(s, EP_EXIT_CONNECT, "cannot start DTLS: %s", perc_strerror(rc));
        return;
    }
    s->started = true;
    pump(s);
}

static gboolean on_dtls_fallback(gpointer user)
{
    ep_session *s = user;
    s->dtls_fallback_src = 0;
    start_dtls(s);
    return G_SOURCE_REMOVE;
}

static void ice_state(void *user, perc_ice_stream *st, perc_ice_state state)
{
    (void)st;
    ep_session *s = user;
    s->ice_state = state;
    perc_log_debug("%s: ICE %s", s->name, perc_ice_state_name(state));
    if ((state == PERC_ICE_READY || state == PERC_ICE_CONNECTED) && s->p && !s->started) {
        /* READY: at once (the MDD holds what the KMF sends us until its
         * lite agent has seen our nomination, so nothing is lost).
         * CONNECTED without READY waits a little for the nomination, then
         * goes ahead on the working pair. */
        guint ms = state == PERC_ICE_READY ? DTLS_READY_DELAY_MS : DTLS_FALLBACK_MS;
        if (s->dtls_fallback_src)
            g_source_remove(s->dtls_fallback_src);
        s->dtls_fallback_src = g_timeout_add(ms, on_dtls_fallback, s);
    } else if (state == PERC_ICE_FAILED && !ep_session_finished(s) &&
               s->state != EP_SESS_LEAVING) {
        fail(s, EP_EXIT_CONNECT, "ICE with the Media Distributor failed: no candidate pair works");
    }
}

static void ice_recv(void *user, perc_ice_stream *st, const uint8_t *data, size_t len)
{
    (void)st;
    ep_session *s = user;
    if (!s->p) {
        s->stats.garbage_in++;
        perc_log_limited(&s->lim_garbage, PERC_LOG_WARN,
                         "%s: ignored a %zu-byte datagram that arrived before the answer", s->name,
                         len);
        return;
    }
    int rc = perc_participant_recv(s->p, data, len, perc_clock_now_ns());
    perc_participant_state ps = perc_participant_get_state(s->p);
    if (rc != PERC_OK && (ps == PERC_PARTICIPANT_CLOSED || ps == PERC_PARTICIPANT_FAILED)) {
        /* After our close: the KMF's close_notify, another participant's
         * last RTCP. Nothing to warn about. */
        perc_log_debug("%s: a %zu-byte datagram after the association ended: %s", s->name, len,
                       perc_strerror(rc));
    } else if (rc == PERC_ERR_UNSUPPORTED || rc == PERC_ERR_INVALID_ARG) {
        /* Neither DTLS, RTP nor RTCP (RFC 7983), empty or oversized. */
        s->stats.garbage_in++;
        perc_log_limited(&s->lim_garbage, PERC_LOG_WARN,
                         "%s: dropped a %zu-byte datagram that is not DTLS, RTP or RTCP "
                         "(first octet 0x%02x)",
                         s->name, len, len ? data[0] : 0);
    } else if (rc != PERC_OK) {
        perc_demux_class c = perc_demux_classify(data, len);
        if (c == PERC_DEMUX_RTP && len >= 12) {
            uint32_t ssrc = perc_load_u32(data + 8);
            perc_log_limited(&s->lim_reject, PERC_LOG_WARN,
                             "%s: dropped RTP from SSRC %08x (%s, %zu bytes): %s", s->name, ssrc,
                             remote_name(s, ssrc), len, perc_strerror(rc));
        } else if (c == PERC_DEMUX_RTCP) {
            perc_log_limited(&s->lim_rtcp, PERC_LOG_WARN, "%s: dropped SRTCP (%zu bytes): %s",
                             s->name, len, perc_strerror(rc));
        } else {
            perc_log_limited(&s->lim_reject, PERC_LOG_WARN,
                             "%s: dropped a %zu-byte %s datagram: %s", s->name, len,
                             c == PERC_DEMUX_DTLS ? "DTLS" : "media", perc_strerror(rc));
        }
    }
    pump(s);
}

static const perc_ice_callbacks g_ice_cbs = {ice_gathered, ice_state, ice_recv};

/* ---- signaling --------------------------------------------------------------------- */

/* The offer (docs/signaling.md §2.1): one BUNDLE transport with rtcp-mux,
 * our ICE credentials and host candidates, our certificate's fingerprint,
 * setup:active (we are the DTLS client, RFC 8871 §4.5.1), our tls-id
 * (RFC 8842), the audio level extension (RFC 6464) and our SSRCs (RFC
 * 5576). */
#define TRANSPORT_FMT                                                                           \
    "c=IN IP4 0.0.0.0\r\na=mid:%s\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"                        \
    "a=fingerprint:sha-256 %s\r\na=setup:active\r\na=tls-id:%s\r\na=sendrecv\r\na=rtcp-mux\r\n"

static char *build_offer(ep_session *s, GError **err)
{
    char *ufrag = NULL, *pwd = NULL;
    if (!perc_ice_stream_local_credentials(s->ice, &ufrag, &pwd)) {
        g_set_error(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE, "ICE has no credentials");
        return NULL;
    }
    char **cands = perc_ice_stream_local_candidates(s->ice);
    if (!cands || !cands[0]) {
        g_strfreev(cands);
        g_free(ufrag);
        g_free(pwd);
        g_set_error(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE,
                    "ICE found no local address to offer (give --media-address)");
        return NULL;
    }
    uint64_t sess_id = 0;
    int rc = perc_daemon_random(NULL, (uint8_t *)&sess_id, sizeof sess_id);
    (void)rc; /* the o= session id only has to be unlikely to repeat */
    sess_id &= UINT64_C(0x3FFFFFFFFFFFFFFF);
    GString *o = g_string_new(NULL);
    g_string_append_printf(o,
                           "v=0\r\no=- %" G_GUINT64_FORMAT " 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                           "a=group:BUNDLE a0%s\r\n",
                           sess_id, s->video_ssrc ? " v0" : "");
    g_string_append_printf(o, "m=audio 9 UDP/TLS/RTP/SAVPF %u\r\n", EP_AUDIO_PT);
    g_string_append_printf(o, TRANSPORT_FMT, "a0", ufrag, pwd, s->fingerprint_text, s->tls_id);
    g_string_append_printf(o,
                           "a=extmap:%u urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
                           "a=rtpmap:%u opus/48000/2\r\na=ssrc:%u cname:%s\r\n",
                           EP_AUDIO_LEVEL_ID, EP_AUDIO_PT, s->audio_ssrc, s->name);
    /* Candidates once, in the first section: BUNDLE shares the transport
     * (RFC 8843 §7.1). */
    for (char **c = cands; *c; c++)
        g_string_append_printf(o, "a=%s\r\n", *c);
    g_string_append(o, "a=end-of-candidates\r\n");
    if (s->video_ssrc) {
        g_string_append_printf(o, "m=video 9 UDP/TLS/RTP/SAVPF %u\r\n", EP_VIDEO_PT);
        g_string_append_printf(o, TRANSPORT_FMT, "v0", ufrag, pwd, s->fingerprint_text, s->tls_id);
        g_string_append_printf(o, "a=rtpmap:%u VP8/90000\r\na=ssrc:%u cname:%s\r\n", EP_VIDEO_PT,
                               s->video_ssrc, s->name);
    }
    g_strfreev(cands);
    g_free(ufrag);
    if (pwd)
        perc_wipe(pwd, strlen(pwd));
    g_free(pwd);
    return g_string_free(o, FALSE);
}

static void maybe_join(ep_session *s)
{
    if (s->state != EP_SESS_CONNECTING || !s->welcomed || !s->gathered || s->app->stopping)
        return;
    GError *err = NULL;
    char *sdp = build_offer(s, &err);
    if (!sdp) {
        fail(s, EP_EXIT_CONNECT, "cannot build the offer: %s", err->message);
        g_error_free(err);
        return;
    }
    perc_sig_msg j;
    perc_sig_msg_init(&j);
    j.type = PERC_SIG_JOIN;
    j.id = perc_sigclient_next_id(s->sig, "join", s->join_id, sizeof s->join_id);
    j.conference = s->app->opt.conference;
    j.identity = s->name;
    j.sdp = sdp;
    bool sent = perc_sigclient_send(s->sig, &j);
    g_free(sdp);
    if (!sent) {
        /* Logged by the client; the connection is probably going down and
         * the welcome after the reconnection tries again. */
        return;
    }
    s->join_ns = perc_clock_now_ns();
    s->state = EP_SESS_JOINING;
    perc_log_info("%s: joining conference %s", s->name, s->app->opt.conference);
}

static void core_log(void *user, perc_participant_log_level level, const char *msg)
{
    ep_session *s = user;
    perc_log_level l = level >= PERC_PARTICIPANT_LOG_ERROR     ? PERC_LOG_ERROR
                       : level == PERC_PARTICIPANT_LOG_WARNING ? PERC_LOG_WARN
                       : level == PERC_PARTICIPANT_LOG_INFO    ? PERC_LOG_INFO
                                                               : PERC_LOG_DEBUG;
    perc_log(l, "%s: %s", s->name, msg);
}

static int core_random(void *user, uint8_t *buf, size_t len)
{
    return perc_daemon_random(user, buf, len);
}

/* A reply we cannot use: say so to signaling (never to an error) and give
 * up the session. */
static void bad_answer(ep_session *s, const char *what)
{
    if (!perc_sigclient_send_error(s->sig, NULL, PERC_SIG_E_BAD_SDP, what, "sdp"))
        perc_log_debug("%s: the error about the answer was not sent", s->name);
    /* Signaling counts us as a participant once it answered. */
    s->state = EP_SESS_KEYING;
    fail(s, EP_EXIT_CONNECT, "unusable answer from signaling: %s", what);
}

/* The answer: the MDD's ICE transport, the KMF's fingerprint and tls-id
 * (docs/signaling.md §6.1). */
static void on_answer(ep_session *s, const perc_sig_msg *m)
{
    if (s->state != EP_SESS_JOINING || !m->re || strcmp(m->re, s->join_id) != 0) {
        perc_log_warn("%s: signaling sent an answer we did not ask for (state %s): ignored",
                      s->name, ep_session_state_name(s->state));
        return;
    }
    s->answer_ns = perc_clock_now_ns();
    g_strlcpy(s->participant, m->participant, sizeof s->participant);
    g_strlcpy(s->mdd, m->mdd, sizeof s->mdd);
    const perc_sdp *a = m->sdp_model;
    if (!a || a->media_count == 0) {
        bad_answer(s, "the answer has no media section");
        return;
    }
    const char *ufrag = NULL, *pwd = NULL, *kmf_tls_id = NULL;
    const perc_sdp_fingerprint *fp = NULL;
    if (perc_sdp_effective_ice(a, 0, &ufrag, &pwd) != PERC_OK) {
        bad_answer(s, "the answer has no ICE credentials");
        return;
    }
    if (perc_sdp_effective_fingerprint(a, 0, &fp) != PERC_OK || fp->len != 32) {
        bad_answer(s, "the answer has no sha-256 fingerprint of the KMF");
        return;
    }
    if (perc_sdp_effective_tls_id(a, 0, &kmf_tls_id) != PERC_OK) {
        bad_answer(s, "the answer has no tls-id of the KMF");
        return;
    }
    char announced[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    int rc = perc_dtls_fingerprint_format(fp->value, announced, sizeof announced);
    if (rc != PERC_OK) {
        bad_answer(s, "the answer's fingerprint cannot be formatted");
        return;
    }

    perc_participant_config cfg;
    perc_participant_config_init(&cfg);
    cfg.dtls_ctx = s->dctx;
    rc = perc_participant_config_set_tls_ids(&cfg, (const uint8_t *)s->tls_id, strlen(s->tls_id),
                                             (const uint8_t *)kmf_tls_id, strlen(kmf_tls_id));
    if (rc != PERC_OK) {
        bad_answer(s, "the KMF's tls-id is not 20..255 characters");
        return;
    }
    /* Which KMF certificate the handshake accepts (RFC 8871 §5.3: the
     * endpoint must know it talks to the real Key Distributor). With a
     * pin, the pin and nothing else: a signaling server that substitutes
     * its own KMF's fingerprint in the answer cannot make us accept it
     * (docs/signaling.md §8). */
    cfg.check_kmf_fingerprint = true;
    if (s->app->opt.pin_kmf) {
        memcpy(cfg.kmf_fingerprint, s->app->opt.kmf_fingerprint, sizeof cfg.kmf_fingerprint);
        rc = perc_dtls_fingerprint_format(s->app->opt.kmf_fingerprint, s->kmf_fingerprint_text,
                                          sizeof s->kmf_fingerprint_text);
        (void)rc; /* 32 octets into a buffer of the documented size */
        if (memcmp(fp->value, s->app->opt.kmf_fingerprint, 32) != 0)
            perc_log_error("%s: the answer names KMF fingerprint sha-256 %s, but "
                           "--kmf-fingerprint pins sha-256 %s: only the pinned certificate "
                           "will be accepted",
                           s->name, announced, s->kmf_fingerprint_text);
    } else {
        memcpy(cfg.kmf_fingerprint, fp->value, sizeof cfg.kmf_fingerprint);
        g_strlcpy(s->kmf_fingerprint_text, announced, sizeof s->kmf_fingerprint_text);
    }
    cfg.ssrcs[0] = s->audio_ssrc;
    cfg.n_ssrcs = 1;
    if (s->video_ssrc) {
        cfg.ssrcs[1] = s->video_ssrc;
        cfg.n_ssrcs = 2;
        rc = perc_participant_config_set_video_pt(&cfg, EP_VIDEO_PT);
        (void)rc; /* a constant below 128 */
    }
    g_strlcpy(cfg.cname, s->name, sizeof cfg.cname);
    cfg.audio_level_id = EP_AUDIO_LEVEL_ID;
    if (s->app->opt.n_srtp_profiles) {
        memcpy(cfg.profiles, s->app->opt.srtp_profiles,
               s->app->opt.n_srtp_profiles * sizeof cfg.profiles[0]);
        cfg.n_profiles = s->app->opt.n_srtp_profiles;
    }
    if (s->app->opt.have_key_change_delay)
        cfg.ekt.key_change_delay_ns = s->app->opt.key_change_delay_ms * PERC_NSEC_PER_MSEC;
    /* A lost first flight costs this much, not OpenSSL's 1 s. */
    cfg.dtls_handshake_rtx_initial_ms = 400;
    cfg.random = core_random;
    cfg.log = core_log;
    cfg.log_user = s;
    cfg.log_level = perc_log_enabled(PERC_LOG_DEBUG) ? PERC_PARTICIPANT_LOG_DEBUG
                                                     : PERC_PARTICIPANT_LOG_INFO;
    rc = perc_participant_new(&cfg, &s->p);
    if (rc != PERC_OK) {
        s->state = EP_SESS_KEYING;
        fail(s, EP_EXIT_CONNECT, "cannot create the participant: %s", perc_strerror(rc));
        return;
    }
    s->state = EP_SESS_KEYING;

    GError *err = NULL;
    if (!perc_ice_stream_set_remote_credentials(s->ice, ufrag, pwd, &err)) {
        char what[200];
        g_snprintf(what, sizeof what, "the MDD's ICE credentials: %s", err->message);
        g_error_free(err);
        bad_answer(s, what);
        return;
    }
    size_t added = 0;
    for (size_t i = 0; i < a->media[0].candidate_count; i++) {
        char text[PERC_SDP_MAX_LINE];
        if (perc_sdp_candidate_format(&a->media[0].candidates[i], text, sizeof text, NULL) !=
            PERC_OK)
            continue;
        if (!perc_ice_stream_add_remote_candidate(s->ice, text, &err)) {
            perc_log_warn("%s: skipped a candidate of the answer: %s", s->name, err->message);
            g_clear_error(&err);
            continue;
        }
        added++;
    }
    if (perc_sdp_effective_setup(a, 0) != PERC_SDP_SETUP_PASSIVE)
        perc_log_warn("%s: the answer does not say setup:passive; we are the DTLS client anyway "
                      "(RFC 8871 §4.5.1)",
                      s->name);
    if (a->media[0].attrs.end_of_candidates || a->attrs.end_of_candidates)
        perc_ice_stream_remote_gathering_done(s->ice);
    perc_log_info("%s: answered: participant %s on %s, %zu MDD candidate(s), KMF sha-256 %s",
                  s->name, s->participant, s->mdd, added, announced);
}

static void on_sig_error(ep_session *s, const perc_sig_msg *m)
{
    const char *code = perc_sig_code_name(m->code);
    if (!code)
        code = "?";
    bool to_join = m->re && s->join_id[0] && strcmp(m->re, s->join_id) == 0;
    bool to_leave = m->re && s->leave_id[0] && strcmp(m->re, s->leave_id) == 0;
    if (s->state == EP_SESS_LEAVING && (to_join || to_leave)) {
        /* A leave while the join waited cancels it (§4.2); an error to the
         * leave means there was nothing to leave. Either way we are out. */
        if (to_leave) {
            s->state = EP_SESS_DONE;
            ep_app_session_changed(s->app);
        }
        return;
    }
    if (!s->welcomed) {
        /* An error to the hello: a wrong token, an unknown conference. */
        fail(s, m->code == PERC_SIG_E_REFUSED ? EP_EXIT_REFUSED : EP_EXIT_CONNECT,
             "signaling refused our hello for conference %s: %s: %s", s->app->opt.conference,
             code, m->reason);
        return;
    }
    if (to_join && s->state == EP_SESS_JOINING) {
        if (m->code == PERC_SIG_E_REFUSED)
            fail(s, EP_EXIT_REFUSED, "join refused by the KMF: %s", m->reason);
        else
            fail(s, EP_EXIT_CONNECT, "join failed: %s: %s", code, m->reason);
        return;
    }
    /* Anything else was logged by the client; the session goes on. */
}

static void on_candidate(ep_session *s, const perc_sig_msg *m)
{
    if (s->state != EP_SESS_KEYING && s->state != EP_SESS_MEDIA) {
        perc_log_warn("%s: a candidate before the answer: ignored", s->name);
        return;
    }
    if (!m->candidate[0]) {
        perc_ice_stream_remote_gathering_done(s->ice);
        return;
    }
    GError *err = NULL;
    if (!perc_ice_stream_add_remote_candidate(s->ice, m->candidate, &err)) {
        perc_log_warn("%s: skipped a trickled candidate: %s", s->name, err->message);
        g_error_free(err);
    }
}

static void on_joined(ep_session *s, const perc_sig_msg *m)
{
    ep_roster_entry *r = ep_stats_roster_add(&s->stats, m, perc_clock_now_ns());
    if (!r) {
        perc_log_warn("%s: roster full: %s (%s) not tracked", s->name, m->identity,
                      m->participant);
        return;
    }
    perc_log_info("%s: %s joined as %s with %zu SSRC(s)", s->name, r->identity, r->participant,
                  r->n_ssrcs);
    ep_audio_rx_roster_update(s, r);
    /* The newcomer needs our keys: Full EKT fields on our next packets. */
    if (s->p && perc_participant_announce_keys(s->p) != PERC_OK)
        perc_log_debug("%s: could not schedule Full EKT fields", s->name);
}

static bool sig_message(void *user, perc_sigclient *c, const perc_sig_msg *m)
{
    (void)c;
    ep_session *s = user;
    switch (m->type) {
    case PERC_SIG_ANSWER:
        on_answer(s, m);
        return true;
    case PERC_SIG_ERROR:
        on_sig_error(s, m);
        return true;
    case PERC_SIG_CANDIDATE:
        on_candidate(s, m);
        return true;
    case PERC_SIG_JOINED:
        on_joined(s, m);
        return true;
    case PERC_SIG_LEFT: {
        ep_roster_entry *r = ep_stats_roster_find(&s->stats, m->participant);
        if (r)
            r->left = true;
        perc_log_info("%s: %s (%s) left: %s", s->name, r ? r->identity : "?", m->participant,
                      m->reason);
        return true;
    }
    case PERC_SIG_ENDED:
        if (s->state == EP_SESS_LEAVING) {
            s->state = EP_SESS_DONE;
            ep_app_session_changed(s->app);
        } else {
            fail(s, EP_EXIT_CONNECT, "signaling ended our participation: %s", m->reason);
        }
        return true;
    case PERC_SIG_OK:
        if (s->state == EP_SESS_LEAVING) {
            perc_log_info("%s: left conference %s", s->name, s->app->opt.conference);
            s->state = EP_SESS_DONE;
            ep_app_session_changed(s->app);
        }
        return true;
    default:
        return false;
    }
}

static void sig_welcome(void *user, perc_sigclient *c, const char *session)
{
    (void)c;
    (void)session;
    ep_session *s = user;
    s->welcomed = true;
    maybe_join(s);
}

static void sig_closed(void *user, perc_sigclient *c, int code, const char *reason)
{
    (void)c;
    ep_session *s = user;
    s->welcomed = false;
    switch (s->state) {
    case EP_SESS_JOINING:
    case EP_SESS_KEYING:
    case EP_SESS_MEDIA:
        /* Signaling treats a dropped connection as a leave (§6.4): the KMF
         * re-keys without us and the MDD drops us. */
        fail(s, EP_EXIT_CONNECT, "lost the signaling connection (%d %s): our participation ended",
             code, reason ? reason : "");
        break;
    case EP_SESS_LEAVING:
        s->state = EP_SESS_DONE;
        ep_app_session_changed(s->app);
        break;
    default:
        break; /* connecting: the client retries until --connect-timeout */
    }
}

static const perc_sigclient_callbacks g_sig_cbs = {sig_welcome, sig_message, sig_closed};

static gboolean on_connect_timeout(gpointer user)
{
    ep_session *s = user;
    s->connect_timeout_src = 0;
    s->no_rejoin = true; /* --rejoin tries within the timeout, not forever */
    uint64_t secs = s->app->opt.connect_timeout_s;
    switch (s->state) {
    case EP_SESS_CONNECTING:
        if (!s->welcomed)
            fail(s, EP_EXIT_CONNECT, "no welcome from signaling at %s within %" G_GUINT64_FORMAT
                 " s (unreachable?)",
                 s->app->opt.signaling_url, secs);
        else
            fail(s, EP_EXIT_CONNECT, "ICE gathering did not finish within %" G_GUINT64_FORMAT " s",
                 secs);
        break;
    case EP_SESS_JOINING:
        fail(s, EP_EXIT_CONNECT, "no answer to the join within %" G_GUINT64_FORMAT " s", secs);
        break;
    case EP_SESS_KEYING: {
        const char *where = !s->ice_ns ? "ICE with the Media Distributor did not connect"
                            : !s->connected_ns ? "the DTLS handshake with the KMF did not finish"
                                               : "no EKTKey from the KMF";
        fail(s, EP_EXIT_CONNECT, "not keyed within %" G_GUINT64_FORMAT " s: %s", secs, where);
        break;
    }
    default:
        break;
    }
    return G_SOURCE_REMOVE;
}

/* ---- identity ------------------------------------------------------------------------ */

static bool load_identity(ep_session *s, const char *dir, GError **err)
{
    char *paths[2] = {g_build_filename(dir, "cert.pem", NULL),
                      g_build_filename(dir, "key.pem", NULL)};
    bool ok = false;
    FILE *f = fopen(paths[0], "r");
    if (!f) {
        g_set_error(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG, "--identity: %s: %s",
                    paths[0], g_strerror(errno));
        goto out;
    }
    s->cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!s->cert) {
        g_set_error(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                    "--identity: %s: not a PEM certificate", paths[0]);
        goto out;
    }
    f = fopen(paths[1], "r");
    if (!f) {
        g_set_error(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG, "--identity: %s: %s",
                    paths[1], g_strerror(errno));
        goto out;
    }
    s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!s->key) {
        g_set_error(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                    "--identity: %s: not an unencrypted PEM private key", paths[1]);
        goto out;
    }
    ok = true;
out:
    g_free(paths[0]);
    g_free(paths[1]);
    return ok;
}

static uint32_t fresh_ssrc(const ep_app *app)
{
    for (;;) {
        uint32_t v = 0;
        if (perc_daemon_random(NULL, (uint8_t *)&v, sizeof v) != PERC_OK)
            v = (uint32_t)g_random_int();
        bool used = v == 0;
        for (size_t i = 0; i < app->n_sessions && !used; i++)
            used = app->sessions[i].audio_ssrc == v || app->sessions[i].video_ssrc == v;
        if (!used)
            return v;
    }
}

bool ep_session_start(ep_session *s, ep_app *app, unsigned index, GError **err)
{
    const ep_options *o = &app->opt;
    s->app = app;
    s->index = index;
    s->start_ns = perc_clock_now_ns();
    if (o->participants > 1)
        g_snprintf(s->name, sizeof s->name, "%s-%u", o->name, index);
    else
        g_strlcpy(s->name, o->name, sizeof s->name);
    s->frame = g_new0(perc_participant_frame, 1);
    s->timer = perc_deadline_timer_new(NULL, on_timer, s);

    /* Identity: the certificate whose fingerprint goes into the offer and
     * that the KMF's roster may name. */
    if (o->identity_dir) {
        if (!load_identity(s, o->identity_dir, err))
            return false;
    } else if (perc_dtls_identity_generate("perc-endpoint", &s->cert, &s->key) != PERC_OK) {
        g_set_error(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE,
                    "cannot generate a DTLS identity");
        return false;
    }
    perc_dtls_ctx_config cc = {s->cert, s->key, NULL, NULL};
    int rc = perc_dtls_ctx_new(&cc, &s->dctx);
    if (rc != PERC_OK) {
        g_set_error(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG,
                    "DTLS identity%s%s: %s (an ECDSA P-256 key matching the certificate is "
                    "needed)",
                    o->identity_dir ? " in " : "", o->identity_dir ? o->identity_dir : "",
                    perc_strerror(rc));
        return false;
    }
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
    perc_dtls_ctx_fingerprint(s->dctx, fp);
    rc = perc_dtls_fingerprint_format(fp, s->fingerprint_text, sizeof s->fingerprint_text);
    (void)rc; /* 32 octets into a buffer of the documented size */

    /* Our tls-id (RFC 8842 §4): fresh per association, so the KMF can tell
     * this join from any other with the same certificate. */
    uint8_t raw[16];
    if (perc_daemon_random(NULL, raw, sizeof raw) != PERC_OK ||
        perc_hex_encode(raw, sizeof raw, s->tls_id, sizeof s->tls_id) != PERC_OK) {
        g_set_error(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE, "no randomness");
        return false;
    }
    s->audio_ssrc = fresh_ssrc(app);
    s->video_ssrc = o->video ? fresh_ssrc(app) : 0;
    ep_media_init(&s->media, s->audio_ssrc, s->video_ssrc, o->video ? &o->video_spec : NULL,
                  index);
    if (o->audio_pcm) {
        char why[160];
        if (!ep_media_use_audio(&s->media, o->audio_pcm, o->audio_samples, o->audio_rate, why,
                                sizeof why)) {
            g_set_error(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG, "--audio-in: %s", why);
            return false;
        }
    }

    perc_ice_agent_options io = {.controlling = true,
                                 .addresses = o->addresses,
                                 .n_addresses = o->n_addresses};
    s->agent = perc_ice_agent_new(NULL, &io, err);
    if (!s->agent)
        return false;
    s->ice = perc_ice_stream_new(s->agent, &g_ice_cbs, s, err);
    if (!s->ice)
        return false;

    perc_sig_msg hello;
    perc_sig_msg_init(&hello);
    hello.type = PERC_SIG_HELLO;
    hello.role = PERC_SIG_ROLE_ENDPOINT;
    hello.conference = o->conference;
    hello.token = o->token;
    perc_sigclient_options so = {.url = o->signaling_url, .ca_file = o->signaling_ca,
                                 .hello = &hello};
    s->sig = perc_sigclient_new(app->ws, &so, &g_sig_cbs, s, err);
    if (!s->sig)
        return false;
    s->connect_timeout_src =
        g_timeout_add_seconds((guint)o->connect_timeout_s, on_connect_timeout, s);
    perc_log_info("%s: DTLS identity sha-256 %s, SSRC %08x%s", s->name, s->fingerprint_text,
                  s->audio_ssrc, s->video_ssrc ? " (audio)" : "");
    return true;
}

void ep_session_leave(ep_session *s)
{
    ep_session_stop_media(s);
    if (ep_session_finished(s) || s->state == EP_SESS_LEAVING)
        return;
    close_association(s);
    cancel_connect_timeout(s);
    if (s->state != EP_SESS_CONNECTING && s->welcomed) {
        send_leave(s);
        if (s->leave_id[0]) {
            s->state = EP_SESS_LEAVING;
            return;
        }
    }
    s->state = EP_SESS_DONE;
}

void ep_session_free(ep_session *s)
{
    cancel_connect_timeout(s);
    if (s->rejoin_src) {
        g_source_remove(s->rejoin_src);
        s->rejoin_src = 0;
    }
    perc_sigclient_free(s->sig);
    s->sig = NULL;
    perc_participant_free(s->p); /* wipes every key */
    s->p = NULL;
    perc_ice_agent_free(s->agent);
    s->agent = NULL;
    s->ice = NULL;
    perc_deadline_timer_free(s->timer);
    s->timer = NULL;
    perc_dtls_ctx_free(s->dctx);
    s->dctx = NULL;
    X509_free(s->cert);
    EVP_PKEY_free(s->key);
    s->cert = NULL;
    s->key = NULL;
    if (s->frame)
        perc_wipe(s->frame, sizeof *s->frame);
    g_free(s->frame);
    s->frame = NULL;
    ep_media_free(&s->media);
    ep_audio_rx_close_all(s); /* --record: the WAV sizes are patched here */
}
