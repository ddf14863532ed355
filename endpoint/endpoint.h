/* perc-endpoint: the trusted conference participant (RFC 8871 §2), as a
 * thin I/O shell around libperc's participant core (perc/participant.h).
 *
 * The parts, one concern each:
 *   main.c                options, wiring, signals, shutdown, exit code
 *   participant_session.c one participant: its own ICE agent and stream,
 *                         signaling client, DTLS identity, perc_participant
 *                         and timer; join, answer, ICE, DTLS, media, leave
 *   media_source.c        the synthetic source: 20 ms audio frames with an
 *                         RFC 6464 level, optional video frames split into
 *                         several packets with the marker on the last
 *   video_spec.c          the --video WxH@FPS:KBPS parser (pure, tested)
 *   stats.c               per remote participant bookkeeping, the progress
 *                         line, the summary table and the --stats JSON
 *
 * Everything runs on one GLib main loop; nothing here is thread-safe. */
#ifndef PERC_ENDPOINT_H
#define PERC_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "perc/participant.h"
#include "perc_daemon/clock.h"
#include "perc_daemon/ice.h"
#include "perc_daemon/log.h"
#include "perc_daemon/sigclient.h"
#include "perc_daemon/ws.h"
#include "audio_opus.h"
#include "video_spec.h"

/* Exit codes (the demo and the end-to-end tests rely on them). */
#define EP_EXIT_OK 0
#define EP_EXIT_UNVERIFIED 1     /* a remote sender had nothing verified */
#define EP_EXIT_USAGE 2
#define EP_EXIT_REFUSED 3        /* signaling error `refused` (the KMF said no) */
#define EP_EXIT_CONNECT 4        /* could not connect, join or key */

#define EP_AUDIO_PT 111          /* opus/48000/2 in the offer */
#define EP_VIDEO_PT 96           /* VP8/90000 in the offer */
#define EP_AUDIO_LEVEL_ID 1      /* RFC 6464 extension id in the offer */
#define EP_MAX_REMOTE_SSRCS 64
#define EP_MAX_ROSTER 64
#define EP_MAX_SPIS 16
#define EP_MAX_ADDRESSES 8

typedef struct ep_app ep_app;
typedef struct ep_session ep_session;

/* ---- options --------------------------------------------------------------- */

typedef struct ep_options {
    const char *signaling_url;
    const char *signaling_ca;        /* wss:// trust anchors; NULL: system store */
    const char *conference;
    const char *token;               /* a secret: never logged */
    const char *name;                /* display identity (NAME-i with several) */
    const char *identity_dir;        /* DIR/cert.pem + DIR/key.pem; NULL: ephemeral */
    bool pin_kmf;
    uint8_t kmf_fingerprint[32];
    uint64_t duration_s;             /* 0: until SIGINT/SIGTERM */
    unsigned participants;
    const char *const *addresses;    /* ICE host candidate addresses; NULL: all non-loopback */
    size_t n_addresses;
    bool video;
    ep_video_spec video_spec;
    const char *stats_file;
    bool have_key_change_delay;
    uint64_t key_change_delay_ms;
    uint64_t connect_timeout_s;      /* start to keyed */
    bool rejoin;                     /* join again after losing the MDD, KMF or signaling */
    const char *export_keys;         /* TEST ONLY: append EKTKeys (secrets!) to this file */
    uint16_t srtp_profiles[2];       /* use_srtp offer, preferred first; 0 of them: the default */
    size_t n_srtp_profiles;
    /* Real audio (audio_opus.c, audio_rx.c): --audio-in, loaded once,
     * mono (stereo averaged), shared by every local participant; NULL:
     * the synthetic audio payload. --record DIR: decoded audio per remote
     * participant (NULL: decoded and counted, not written). */
    const char *audio_in;
    int16_t *audio_pcm;
    size_t audio_samples;
    uint32_t audio_rate;
    const char *record_dir;
} ep_options;

/* ---- the synthetic media source (media_source.c) ------------------------------ */

/* Hands one packet to the sender; returns false if it could not be sent
 * (already logged and counted by the caller). */
typedef bool (*ep_send_fn)(void *user, uint32_t ssrc, uint8_t pt, uint32_t ts, bool marker,
                           const uint8_t *payload, size_t len, const perc_audio_level *level);

typedef struct ep_media_source {
    uint32_t audio_ssrc;
    uint32_t video_ssrc;             /* 0: no video */
    ep_video_spec video;
    unsigned level_offset;           /* makes each participant's audio level differ */
    bool started;
    uint64_t next_audio_ns, next_video_ns;
    uint32_t audio_seq, video_seq;   /* synthetic payload sequence numbers */
    uint32_t audio_ts, video_ts;     /* RTP timestamps (48 kHz, 90 kHz) */
    uint64_t audio_frames, video_frames, keyframes;
    bool keyframe_due;               /* a PLI/FIR asked for one */
    uint64_t send_failures;
    ep_opus_tx *opus;                /* --audio-in: Opus audio instead of synthetic */
    uint64_t opus_errors;            /* frames the encoder failed on */
} ep_media_source;

void ep_media_init(ep_media_source *m, uint32_t audio_ssrc, uint32_t video_ssrc,
                   const ep_video_spec *video, unsigned level_offset);
/* Starts the clock at now (first frames due at once). */
void ep_media_start(ep_media_source *m, uint64_t now);
/* The next time a frame is due; UINT64_MAX when not started. */
uint64_t ep_media_next_due(const ep_media_source *m);
/* Sends every frame due at now. A source far behind (the loop stalled)
 * skips ahead instead of bursting. */
void ep_media_run(ep_media_source *m, uint64_t now, ep_send_fn send, void *user);
void ep_media_request_keyframe(ep_media_source *m);
/* --audio-in: send pcm (n mono samples at rate) encoded with Opus instead
 * of the synthetic audio payload. false (why) if the encoder cannot be
 * made. */
bool ep_media_use_audio(ep_media_source *m, const int16_t *pcm, size_t n, uint32_t rate,
                        char *why, size_t cap);
void ep_media_free(ep_media_source *m);

/* ---- statistics (stats.c) ------------------------------------------------------- */

/* What signaling's roster says about one remote participant (`joined`). */
typedef struct ep_roster_entry {
    char participant[PERC_SIG_MAX_NAME + 1];
    char identity[PERC_SIG_MAX_IDENTITY + 1];
    uint32_t ssrcs[PERC_SIG_MAX_SSRCS];
    bool ssrc_video[PERC_SIG_MAX_SSRCS];
    size_t n_ssrcs;
    bool left;
    uint64_t joined_ns;
} ep_roster_entry;

typedef enum ep_payload_kind {
    EP_PAYLOAD_UNKNOWN = 0,          /* no audio frame yet (or a video stream) */
    EP_PAYLOAD_SYNTH,                /* perc/synth_payload.h */
    EP_PAYLOAD_OPUS,                 /* real audio (--audio-in at the sender) */
} ep_payload_kind;

/* Our own checks on one remote SSRC's frames, beside the core's counters. */
typedef struct ep_remote_track {
    uint32_t ssrc;
    uint64_t frames;                 /* frames popped */
    uint64_t payload_ok;             /* synthetic payload intact and from this SSRC */
    uint64_t payload_bad;
    uint64_t out_of_order;
    bool have_seq;
    uint32_t last_seq;
    uint64_t first_verified_ns;      /* 0: none yet */
    /* The core's rejections before the first verified frame: a receiver
     * that joins while a sender is already sending drops its packets
     * until a Full EKT field brings the key (RFC 8870 §4.3.2, §4.6). */
    uint64_t rejected_while_joining;
    uint16_t spis[EP_MAX_SPIS];
    size_t n_spis;
    /* Real audio (audio_rx.c): what the stream's payload is, and for Opus
     * its decoder, recording and counts. */
    ep_payload_kind payload_kind;
    struct ep_audio_rx *audio;
    bool audio_failed;               /* no decoder could be made */
    uint64_t opus_decoded, opus_decode_errors, opus_late;
    uint64_t opus_samples, opus_concealed_samples;   /* at 48 kHz */
} ep_remote_track;

typedef struct ep_stats {
    ep_roster_entry roster[EP_MAX_ROSTER];
    size_t n_roster;
    ep_remote_track tracks[EP_MAX_REMOTE_SSRCS];
    size_t n_tracks;
    uint16_t ekt_spis[EP_MAX_SPIS];  /* EKTKey SPIs received, in order */
    size_t n_ekt_spis;
    uint64_t ekt_keys;
    uint64_t unknown_ssrc_frames;    /* verified frames from an SSRC no roster entry names */
    uint64_t send_errors;
    uint64_t ice_send_failures;
    uint64_t garbage_in;             /* datagrams that are neither DTLS, RTP nor RTCP */
    uint64_t rejoins;                /* --rejoin: times the session joined again */
} ep_stats;

ep_roster_entry *ep_stats_roster_add(ep_stats *st, const perc_sig_msg *joined, uint64_t now);
ep_roster_entry *ep_stats_roster_find(ep_stats *st, const char *participant);
ep_roster_entry *ep_stats_roster_by_ssrc(ep_stats *st, uint32_t ssrc);
ep_remote_track *ep_stats_track(ep_stats *st, uint32_t ssrc);   /* finds or adds; NULL if full */
void ep_stats_add_spi(uint16_t *spis, size_t *n, uint16_t spi);

/* One verified frame: checks the synthetic payload (origin = the SSRC,
 * RTP timestamp, order) and counts it. */
void ep_stats_on_frame(ep_session *s, const perc_participant_frame *f);

/* "alice-1 [media] sent 250 | bob-2 249/250 | carol-3 250/250" */
void ep_stats_progress_line(const ep_session *s, char *out, size_t cap);
/* The table printed at exit (stdout), all sessions. */
void ep_stats_print_summary(ep_app *app);
/* Writes the --stats JSON. false (logged) on failure. */
bool ep_stats_write_json(ep_app *app, const char *path);
/* Remote senders with packets received and none verified: logs each and
 * returns how many. */
size_t ep_stats_unverified(const ep_session *s);

/* ---- received real audio (audio_rx.c) ---------------------------------------------- */

typedef struct ep_audio_rx ep_audio_rx;

/* A verified frame of remote SSRC t: when it is audio of an Opus stream,
 * decodes it (and records it with --record) and returns true; false for
 * anything the synthetic payload check should see. */
bool ep_audio_rx_on_frame(ep_session *s, ep_remote_track *t, const perc_participant_frame *f);
/* The roster learnt who sends these SSRCs: a recording begun under
 * ssrc-XXXXXXXX (its first packet came before the `joined` event) is
 * renamed to the identity's name. */
void ep_audio_rx_roster_update(ep_session *s, const ep_roster_entry *r);
/* Finalises every recording of s (sizes patched, logged) and frees the
 * decoders. */
void ep_audio_rx_close_all(ep_session *s);
/* Adds the audio fields of a remote participant (its SSRCs) to its --stats
 * object: audio_payload, opus_ssrcs, opus_frames_decoded, ... */
struct cJSON;
void ep_audio_rx_json(const ep_session *s, const uint32_t *ssrcs, size_t n, struct cJSON *remote);
const char *ep_payload_kind_name(ep_payload_kind k);

/* ---- one participant (participant_session.c) -------------------------------------- */

typedef enum ep_session_state {
    EP_SESS_CONNECTING = 0,  /* signaling hello and ICE gathering */
    EP_SESS_JOINING,         /* join sent, waiting for the answer */
    EP_SESS_KEYING,          /* answer in: ICE, then DTLS to the KMF, then the EKTKey */
    EP_SESS_MEDIA,           /* READY: sending and receiving */
    EP_SESS_LEAVING,         /* leave sent, waiting for ok */
    EP_SESS_DONE,            /* left, or never joined */
    EP_SESS_FAILED,          /* see exit_code and error */
} ep_session_state;

const char *ep_session_state_name(ep_session_state s);

struct ep_session {
    ep_app *app;
    unsigned index;                  /* 1-based */
    char name[PERC_SIG_MAX_IDENTITY + 1];
    ep_session_state state;
    int exit_code;                   /* when FAILED */
    char error[320];

    /* identity */
    X509 *cert;
    EVP_PKEY *key;
    perc_dtls_ctx *dctx;
    char fingerprint_text[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    char tls_id[48];
    uint32_t audio_ssrc, video_ssrc;

    /* ICE */
    perc_ice_agent *agent;
    perc_ice_stream *ice;
    bool gathered;
    perc_ice_state ice_state;

    /* signaling */
    perc_sigclient *sig;
    bool welcomed;
    char join_id[32], leave_id[32];
    char participant[PERC_SIG_MAX_NAME + 1];
    char mdd[PERC_SIG_MAX_NAME + 1];
    char kmf_fingerprint_text[PERC_DTLS_FINGERPRINT_TEXT_LEN];

    /* keys and media */
    perc_participant *p;
    bool started;                    /* perc_participant_start done */
    perc_deadline_timer *timer;
    guint connect_timeout_src;
    guint dtls_fallback_src;
    ep_media_source media;
    bool sending;
    perc_participant_frame *frame;   /* pop buffer (2 KiB) */
    uint16_t profile;

    /* times (perc_clock_now_ns) */
    uint64_t start_ns, join_ns, answer_ns, ice_ns, connected_ns, ready_ns, media_ns;

    ep_stats stats;
    perc_log_limiter lim_garbage, lim_reject, lim_send, lim_payload, lim_rtcp;

    /* --rejoin */
    guint rejoin_src;
    unsigned rejoin_delay_ms;        /* backoff, reset once keyed */
    bool no_rejoin;                  /* the next failure is final (connect timeout) */
};

/* Creates the session: identity, ICE agent and stream, signaling client.
 * false (err filled) when something cannot even start. */
bool ep_session_start(ep_session *s, ep_app *app, unsigned index, GError **err);
/* Stops media (it stays keyed and receiving). */
void ep_session_stop_media(ep_session *s);
/* Starts media if keyed (the app decides when: see ep_app_media_gate). */
void ep_session_start_media(ep_session *s);
/* Leave: close the association (close_notify, RTCP BYE) and send `leave`;
 * state LEAVING until signaling answers, or DONE at once. */
void ep_session_leave(ep_session *s);
/* Frees everything (keys wiped). */
void ep_session_free(ep_session *s);
bool ep_session_finished(const ep_session *s);

/* ---- the program (main.c) ------------------------------------------------------------ */

struct ep_app {
    GMainLoop *loop;
    perc_ws_context *ws;
    ep_options opt;
    ep_session *sessions;
    size_t n_sessions;
    uint64_t start_ns, stop_ns;
    bool stopping;
    bool media_gate_open;
    guint gate_src, duration_src, drain_src, grace_src;
};

/* A session changed state: the app re-checks the media gate (with several
 * participants, media starts when every one is keyed) and whether it is
 * time to quit (every session finished). */
void ep_app_session_changed(ep_app *app);

#endif
