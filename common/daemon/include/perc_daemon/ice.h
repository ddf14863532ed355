/* ICE (RFC 8445) on libnice, for the Media Distributor (ICE-lite, RFC 8445
 * §2.5: it only answers checks) and the endpoint (full ICE, controlling).
 *
 * One perc_ice_agent per process (or per participant in multi-participant
 * mode) wraps one NiceAgent on the daemon's GMainContext; each
 * perc_ice_stream is one NiceAgent stream with ONE component: PERC media is
 * bundled with rtcp-mux (RFC 8843, RFC 5761), so RTP, RTCP, DTLS and STUN
 * share one 5-tuple and are told apart by the first octet (RFC 7983,
 * perc/demux.h). libnice consumes STUN itself; the `recv` callback gets
 * everything else.
 *
 * Candidates travel as the text after "a=" in SDP, "candidate:..." (RFC
 * 8839 §5.1), the form perc-signaling carries (docs/signaling.md).
 *
 * What libnice does that callers must know (../shared/design/DTLS-EKT.md):
 * it skips loopback addresses unless they are named as local addresses, so
 * tests pass "127.0.0.1"; sends fail before a pair is connected; a lite
 * agent's state becomes READY when the controlling peer nominates a pair.
 *
 * Callbacks come from the main loop. They may call any function here,
 * including perc_ice_stream_free on their own stream (the wrapper defers
 * the libnice teardown until the callback returns).
 */
#ifndef PERC_DAEMON_ICE_H
#define PERC_DAEMON_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

typedef struct perc_ice_agent perc_ice_agent;
typedef struct perc_ice_stream perc_ice_stream;

typedef enum perc_ice_state {
    PERC_ICE_GATHERING = 0,     /* local candidates not known yet */
    PERC_ICE_CHECKING,          /* waiting for (lite) or running (full) connectivity checks */
    PERC_ICE_CONNECTED,         /* a pair works: sending is possible */
    PERC_ICE_READY,             /* a pair is nominated */
    PERC_ICE_FAILED,            /* every check failed (full agents only) */
} perc_ice_state;

const char *perc_ice_state_name(perc_ice_state s);

typedef struct perc_ice_agent_options {
    bool lite;                  /* ICE-lite (always controlled) */
    bool controlling;           /* a full agent's role; ignored when lite */
    /* Host candidate addresses (IPv4 or IPv6 literals). None: every
     * interface libnice finds, loopback excluded. */
    const char *const *addresses;
    size_t n_addresses;
    /* Local UDP ports for host candidates; 0/0: any. */
    uint16_t port_min, port_max;
} perc_ice_agent_options;

typedef struct perc_ice_callbacks {
    /* Local candidates are all known (perc_ice_stream_local_candidates). */
    void (*gathered)(void *user, perc_ice_stream *s);
    void (*state)(void *user, perc_ice_stream *s, perc_ice_state state);
    /* A non-STUN datagram arrived on the stream's socket. */
    void (*recv)(void *user, perc_ice_stream *s, const uint8_t *data, size_t len);
} perc_ice_callbacks;

/* Errors: PERC_DAEMON_ERROR_INVALID (an address that is not an IP
 * literal, port_min > port_max), PERC_DAEMON_ERROR_STATE (libnice failed). */
G_GNUC_WARN_UNUSED_RESULT perc_ice_agent *perc_ice_agent_new(GMainContext *ctx,
                                                            const perc_ice_agent_options *opts,
                                                            GError **error);
/* Frees every stream (no callbacks) and the agent. NULL is fine. */
void perc_ice_agent_free(perc_ice_agent *agent);

/* Adds a stream and starts gathering; `gathered` follows from the loop.
 * cbs is copied. Errors: PERC_DAEMON_ERROR_STATE. */
G_GNUC_WARN_UNUSED_RESULT perc_ice_stream *perc_ice_stream_new(perc_ice_agent *agent,
                                                              const perc_ice_callbacks *cbs,
                                                              void *user, GError **error);
/* Removes the stream: its socket closes, no more callbacks. NULL is fine. */
void perc_ice_stream_free(perc_ice_stream *s);

perc_ice_state perc_ice_stream_state(const perc_ice_stream *s);

/* Our ufrag and password (g_free both). FALSE if libnice has none. */
gboolean perc_ice_stream_local_credentials(perc_ice_stream *s, char **ufrag, char **pwd);

/* Our candidates as "candidate:..." strings, NULL-terminated (g_strfreev);
 * empty before `gathered`. */
char **perc_ice_stream_local_candidates(perc_ice_stream *s);

/* The peer's credentials (RFC 8839 §5.4 syntax checked by the caller).
 * Errors: PERC_DAEMON_ERROR_INVALID. */
G_GNUC_WARN_UNUSED_RESULT gboolean perc_ice_stream_set_remote_credentials(perc_ice_stream *s,
                                                                          const char *ufrag,
                                                                          const char *pwd,
                                                                          GError **error);

/* One peer candidate, "candidate:..." (with or without a leading "a=").
 * Component 1 only; a UDP candidate of another component is ignored (TRUE).
 * Errors: PERC_DAEMON_ERROR_INVALID (libnice cannot parse it, or not UDP). */
G_GNUC_WARN_UNUSED_RESULT gboolean perc_ice_stream_add_remote_candidate(perc_ice_stream *s,
                                                                        const char *candidate,
                                                                        GError **error);

/* The peer said it has no more candidates (RFC 8838 end-of-candidates). */
void perc_ice_stream_remote_gathering_done(perc_ice_stream *s);

/* Sends one datagram on the selected pair. Returns FALSE (no GError: this
 * is the per-packet path) when no pair is connected yet or the socket
 * would block; the caller counts it as a drop. */
gboolean perc_ice_stream_send(perc_ice_stream *s, const uint8_t *data, size_t len);

/* The selected pair's remote address as "ip:port" into buf; FALSE when no
 * pair is selected. */
gboolean perc_ice_stream_remote_address(perc_ice_stream *s, char *buf, size_t cap);

/* The local UDP port of the stream's host candidate (0 before gathering). */
uint16_t perc_ice_stream_local_port(perc_ice_stream *s);

#endif
