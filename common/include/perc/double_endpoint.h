/* The endpoint side of the double transform (RFC 8723, profiles 0x0009 and
 * 0x000A): what only endpoints (and the key distributor) hold, in three
 * layers like srtp.h:
 *
 *   key split            a double profile's master key and salt, or a whole
 *                        DTLS-SRTP exporter output, cut into the inner
 *                        (end-to-end) and outer (hop-by-hop) halves (§3,
 *                        §10.1, RFC 5764 §4.2).
 *   step functions       sender protection (§5.1) and the receiver's steps
 *                        (§5.3) at explicit ROCs, over caller-owned
 *                        sessions. A receiver does outer open, inspect (to
 *                        learn the ORIGINAL SEQ, from which it estimates the
 *                        inner index), inner open, each with its own ROC and
 *                        replay state (RFC 8723 §3: SEQ and ROC are tracked
 *                        separately for the two layers).
 *   perc_double_tx/rx    sessions plus per-SSRC state (double_stream.c):
 *                        the whole RFC 3711 behaviour on both layers.
 *
 * A double session is simply two RFC 7714 sessions: inner keys derived from
 * (inner master key, inner master salt), outer keys from the outer pair
 * (§3.1, spec README item 2). The inner session is per sender SSRC in PERC
 * (its master key arrives in that sender's EKT field); the outer one per hop
 * and direction.
 *
 * All work is in place as in srtp.h: buf holds the packet, len its length,
 * cap the room available, *out_len the new length. On failure buf may hold
 * partially processed bytes; the caller drops the packet. EKT fields are
 * not handled here: strip them before and append them after.
 */
#ifndef PERC_DOUBLE_ENDPOINT_H
#define PERC_DOUBLE_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/double.h"
#include "perc/error.h"
#include "perc/ohb.h"
#include "perc/profile.h"
#include "perc/rtp.h"
#include "perc/srtp.h"
#include "perc/srtp_stream.h"

/* ---- key split ---------------------------------------------------------- */

#define PERC_DOUBLE_SALT_LEN (2 * PERC_SRTP_SALT_LEN)     /* 24 octets, both profiles */
#define PERC_DOUBLE_MAX_KEY_LEN (2 * PERC_SRTP_MAX_KEY_LEN)
/* 2 * (64 + 24) for 0x000A; 0x0009 needs 2 * (32 + 24) = 112. */
#define PERC_DOUBLE_MAX_EXPORTER_LEN (2 * (PERC_DOUBLE_MAX_KEY_LEN + PERC_DOUBLE_SALT_LEN))

/* One half of a double master key: an ordinary RFC 7714 master key and
 * master salt. Secret: wipe with perc_double_master_wipe(). */
typedef struct perc_double_half {
    perc_srtp_cipher cipher;
    size_t key_len;                         /* 16 or 32 */
    uint8_t key[PERC_SRTP_MAX_KEY_LEN];
    uint8_t salt[PERC_SRTP_SALT_LEN];
} perc_double_half;

/* One direction's double master key, split (§10.1: first half inner,
 * second half outer, for the key and for the salt). */
typedef struct perc_double_master {
    perc_double_half inner;
    perc_double_half outer;
} perc_double_master;

/* A whole DTLS-SRTP exporter output for a double profile. client_write
 * protects what the DTLS client (the endpoint) sends, server_write the
 * other direction. In PERC the key distributor gives the MD the four outer
 * halves (RFC 9185 MediaKeys). */
typedef struct perc_double_keying {
    uint16_t profile;
    perc_double_master client_write;
    perc_double_master server_write;
} perc_double_keying;

/* 112 for 0x0009, 176 for 0x000A, 0 for any other profile. */
size_t perc_double_exporter_len(uint16_t profile);

/* Splits one direction's full master key (32 or 64 octets) and salt
 * (24 octets) of double profile `profile`. Errors: PERC_ERR_UNSUPPORTED
 * (not a double profile), PERC_ERR_KEY_LENGTH (lengths not the
 * profile's), PERC_ERR_INVALID_ARG (NULL). */
PERC_MUST_CHECK int perc_double_split_master(uint16_t profile, const uint8_t *key, size_t key_len,
                                             const uint8_t *salt, size_t salt_len,
                                             perc_double_master *out);

/* Splits an exporter output laid out as RFC 5764 §4.2 says:
 * client_write_key | server_write_key | client_write_salt |
 * server_write_salt, each of the double profile's length. Errors:
 * PERC_ERR_UNSUPPORTED, PERC_ERR_KEY_LENGTH (len not
 * perc_double_exporter_len(profile)), PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_double_split_exporter(uint16_t profile, const uint8_t *material, size_t len,
                                               perc_double_keying *out);

void perc_double_master_wipe(perc_double_master *m);
void perc_double_keying_wipe(perc_double_keying *k);

/* Session keys for one half: RFC 3711 §4.3 KDF (kdr 0) on that half's own
 * key and salt (§3.1). Errors as perc_srtp_kdf(). */
PERC_MUST_CHECK int perc_double_half_kdf(const perc_double_half *h, perc_srtp_session_keys *out);

/* ---- step functions ----------------------------------------------------- */

/* 12 + 4*15: the longest synthetic header (CSRCs kept, no extension). */
#define PERC_DOUBLE_MAX_SYNTHETIC_LEN (PERC_RTP_FIXED_HEADER_LEN + 4 * PERC_RTP_MAX_CSRC)

/* The inner AAD (§5.1 step 3, §5.3 step 4): hdr written with X cleared and
 * its extension block left out, CSRCs kept, P as it is. A receiver first
 * puts the OHB's originals into hdr (perc_ohb_restore). Errors:
 * PERC_ERR_INVALID_ARG (hdr not writable: PT > 127, CC > 15). */
PERC_MUST_CHECK int perc_double_synthetic_header(const perc_rtp_header *hdr,
                                                 uint8_t out[PERC_DOUBLE_MAX_SYNTHETIC_LEN],
                                                 size_t *out_len);

/* §5.1 steps 3-5: buf holds a plain RTP packet; its payload (padding
 * included) is inner-sealed under the synthetic header at inner_roc and
 * the header's SEQ, and the inner tag and the empty OHB (0x00) appended.
 * The result is the outer plaintext: header || inner ciphertext || inner
 * tag || 00, i.e. len + 17 octets. Errors: PERC_ERR_TRUNCATED /
 * PERC_ERR_BAD_VERSION (not an RTP packet), PERC_ERR_NOSPACE,
 * PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_double_inner_seal(perc_srtp_session *inner, uint32_t inner_roc,
                                           uint8_t *buf, size_t len, size_t cap, size_t *out_len);

/* The whole sender step (§5.1): perc_double_inner_seal, then the outer
 * seal over the full header (extensions included) at outer_roc. At the
 * sender both ROCs follow the same SEQ, so they are normally equal; they
 * are separate arguments because they are separate state. Grows the packet
 * by PERC_DOUBLE_MIN_OVERHEAD. Errors as perc_double_inner_seal, and
 * PERC_ERR_INVALID_ARG when inner == outer (the two layers must have
 * independent keys). */
PERC_MUST_CHECK int perc_double_protect(perc_srtp_session *inner, uint32_t inner_roc,
                                        perc_srtp_session *outer, uint32_t outer_roc,
                                        uint8_t *buf, size_t len, size_t cap, size_t *out_len);

/* What a receiver learns from an outer-decrypted packet before the inner
 * step: the header as received, the OHB, and the original PT/SEQ/marker
 * (received values where the OHB records nothing). Views point into buf. */
typedef struct perc_double_info {
    perc_rtp_header hdr;        /* as received: outer PT/SEQ/M, for codec choice and ordering */
    perc_ohb ohb;
    size_t ohb_len;
    uint8_t orig_pt;
    uint16_t orig_seq;          /* what the inner index is estimated from */
    bool orig_marker;
    size_t inner_ct_len;        /* inner ciphertext, i.e. payload incl. padding */
} perc_double_info;

/* §5.3 step 3 without the crypto: parses the header and the OHB of an
 * outer plaintext (header || inner ciphertext || inner tag || OHB).
 * Errors: PERC_ERR_TRUNCATED (also when no room for the inner tag is
 * left), PERC_ERR_BAD_VERSION, PERC_ERR_BAD_OHB. */
PERC_MUST_CHECK int perc_double_inspect(const uint8_t *buf, size_t len, perc_double_info *out);

/* §5.3 steps 3-5: verifies and decrypts the inner layer of an outer
 * plaintext at inner_roc (the ROC of the ORIGINAL SEQ). On success buf
 * holds the plain RTP packet with the original PT/SEQ/marker put back,
 * the received header extensions kept (they have no end-to-end
 * protection), inner tag and OHB removed. Errors: those of
 * perc_double_inspect, PERC_ERR_AUTH (inner tag does not verify: wrong
 * key or ROC, or the MD changed something it may not change),
 * PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_double_inner_open(perc_srtp_session *inner, uint32_t inner_roc,
                                           uint8_t *buf, size_t len, size_t *out_len);

/* The whole receiver step at explicit ROCs (for tools and tests): outer
 * open at outer_roc (PERC_ERR_AUTH if it fails), then perc_double_inner_open.
 * No replay checking: that needs state, see perc_double_rx. */
PERC_MUST_CHECK int perc_double_unprotect(perc_srtp_session *outer, uint32_t outer_roc,
                                          perc_srtp_session *inner, uint32_t inner_roc,
                                          uint8_t *buf, size_t len, size_t *out_len);

/* ---- sender and receiver objects (double_stream.c) ---------------------- */

#define PERC_DOUBLE_DEFAULT_MAX_STREAMS 64

/* Sender: one inner and one outer session, a ROC per SSRC sent that
 * follows SEQ (used for both layers: they are equal at the origin). */
typedef struct perc_double_tx perc_double_tx;

/* Keys are copied. max_streams 0 = the default. Errors:
 * PERC_ERR_INVALID_ARG, PERC_ERR_NOMEM, PERC_ERR_KEY_LENGTH,
 * PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_double_tx_new(const perc_srtp_session_keys *inner,
                                       const perc_srtp_session_keys *outer, size_t max_streams,
                                       perc_double_tx **out);
/* Wipes and frees; NULL is fine. */
void perc_double_tx_free(perc_double_tx *tx);
/* Sets ssrc's ROC before its next packet. PERC_ERR_LIMIT when the table is
 * full. */
PERC_MUST_CHECK int perc_double_tx_set_roc(perc_double_tx *tx, uint32_t ssrc, uint32_t roc);
/* ssrc's current ROC (for the ROC of a Full EKT field). PERC_ERR_NOT_FOUND
 * for an SSRC not sent yet and not set. */
PERC_MUST_CHECK int perc_double_tx_roc(const perc_double_tx *tx, uint32_t ssrc, uint32_t *roc);
/* perc_double_protect at the stream's ROC. Errors: those, PERC_ERR_LIMIT. */
PERC_MUST_CHECK int perc_double_tx_protect(perc_double_tx *tx, uint8_t *buf, size_t len, size_t cap,
                                           size_t *out_len);

/* Receiver: the outer session of the incoming hop with an outer ROC and
 * replay window per SSRC (index from the SEQ on the wire), and per sender
 * SSRC up to two inner keys (the newest installed and the one before it),
 * each with its own inner ROC and replay window (index from the ORIGINAL
 * SEQ). Both keys are tried, the one that opened the sender's latest
 * packet first, because around a sender's key change (RFC 8870 §4.3.1)
 * packets under the old and the new key arrive interleaved. Each layer's
 * state moves only after that layer authenticated. */
typedef struct perc_double_rx perc_double_rx;

PERC_MUST_CHECK int perc_double_rx_new(const perc_srtp_session_keys *outer, size_t max_streams,
                                       perc_double_rx **out);
void perc_double_rx_free(perc_double_rx *rx);
/* Installs ssrc's newest inner keys, e.g. from its EKT field, and the
 * inner ROC to assume for them (with a fresh replay window). The keys
 * installed before stay as the previous key, with their replay state, and
 * the ones before those are dropped; except when the newest keys never
 * opened a packet and the previous ones did: then the newest give way and
 * the previous stay (a sender announcing twice inside its key-change
 * delay still encrypts with the key in use). Errors:
 * PERC_ERR_LIMIT, PERC_ERR_NOMEM, PERC_ERR_KEY_LENGTH, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_double_rx_set_inner(perc_double_rx *rx, uint32_t ssrc,
                                             const perc_srtp_session_keys *inner, uint32_t roc);
/* The sender announced its newest inner key again with another ROC (its
 * SEQ wrapped between the announcement and the key's first use: RFC 8870
 * §4.3.1 has senders announce a new key for a while before using it).
 * Moves the ROC that key assumes, as long as no packet has opened under it
 * yet. Errors: PERC_ERR_NOT_FOUND (no key for ssrc), PERC_ERR_STATE (the
 * newest key already opened packets: its ROC is tracked from them). */
PERC_MUST_CHECK int perc_double_rx_refresh_inner_roc(perc_double_rx *rx, uint32_t ssrc,
                                                     uint32_t roc);
/* Sets the ROC the outer layer assumes for ssrc (resets its window). */
PERC_MUST_CHECK int perc_double_rx_set_outer_roc(perc_double_rx *rx, uint32_t ssrc, uint32_t roc);
/* Outer open (with replay check), inspect, inner open (with replay check).
 * info (may be NULL) gets perc_double_inspect's result: the outer PT and
 * SEQ, which the caller uses for codec choice and ordering (§5.3).
 * Errors: PERC_ERR_NO_KEY (no inner keys for the SSRC; nothing changes),
 * PERC_ERR_AUTH, PERC_ERR_REPLAY, PERC_ERR_REPLAY_OLD, PERC_ERR_LIMIT and
 * those of perc_double_inspect. */
PERC_MUST_CHECK int perc_double_rx_unprotect(perc_double_rx *rx, uint8_t *buf, size_t len,
                                             size_t *out_len, perc_double_info *info);

/* Which layer a receiver failure comes from, and which key opened. */
typedef enum perc_double_layer {
    PERC_DOUBLE_LAYER_NONE = 0,     /* success, or refused before either layer */
    PERC_DOUBLE_LAYER_OUTER = 1,    /* the hop-by-hop layer: wrong hop key, tampered, replayed hop index */
    PERC_DOUBLE_LAYER_INNER = 2,    /* the end-to-end layer: changed by the MD, wrong key, replayed */
} perc_double_layer;

typedef struct perc_double_rx_result {
    perc_double_layer failed_layer; /* on failure */
    bool previous_key;              /* on success: the previous inner key opened it */
} perc_double_rx_result;

/* perc_double_rx_unprotect, also saying where a failure happened (an
 * endpoint counts outer and inner authentication failures apart: only the
 * second can be the Media Distributor's doing) and which key opened the
 * packet. res may be NULL. Errors as perc_double_rx_unprotect. */
PERC_MUST_CHECK int perc_double_rx_unprotect_ex(perc_double_rx *rx, uint8_t *buf, size_t len,
                                                size_t *out_len, perc_double_info *info,
                                                perc_double_rx_result *res);

#endif
