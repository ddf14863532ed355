/* DTLS-SRTP between two Media Distributors of one conference (a cascade
 * link, RFC 8871 §4.5.1): the KMF is not involved, and what the link's
 * keys protect is the hop-by-hop (outer) layer of double-encrypted packets
 * and SRTCP, so the link uses a plain AES-GCM profile (RFC 7714:
 * SRTP_AEAD_AES_128_GCM 0x0007 first, SRTP_AEAD_AES_256_GCM 0x0008). No
 * EKT, no end-to-end key: this module lives in perc_hop.
 *
 * Sans-I/O like perc/dtls.h: the caller feeds datagrams and the time,
 * pulls datagrams to send, and runs the timer. Each side pins the other's
 * self-signed certificate by its SHA-256 fingerprint, learnt from
 * signaling (`link-peer`); a certificate with another fingerprint fails the
 * handshake before any key exists. DTLS 1.2, ECDHE-ECDSA-AES128-GCM-SHA256,
 * full handshakes only.
 *
 * Keys (RFC 5764 §4.2): the exporter output is cut into client_write and
 * server_write master keys and salts; the DTLS client protects what it
 * sends with client_write, the server with server_write. */
#ifndef PERC_DTLS_LINK_H
#define PERC_DTLS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "perc/error.h"
#include "perc/profile.h"

#define PERC_DTLS_LINK_FP_LEN 32
#define PERC_DTLS_LINK_MAX_DATAGRAM 1500

typedef struct perc_dtls_link perc_dtls_link;

typedef enum perc_dtls_link_state {
    PERC_DTLS_LINK_HANDSHAKING = 0,
    PERC_DTLS_LINK_CONNECTED = 1,
    PERC_DTLS_LINK_FAILED = 2,
} perc_dtls_link_state;

typedef struct perc_dtls_link_config {
    X509 *cert;                 /* our identity; EC key (references taken) */
    EVP_PKEY *key;
    bool client;                /* DTLS role, as signaling assigned it */
    uint8_t peer_fingerprint[PERC_DTLS_LINK_FP_LEN];
    /* Optional NSS key log (debugging only: secrets). */
    void (*keylog)(void *user, const char *line);
    void *keylog_user;
} perc_dtls_link_config;

/* One direction's SRTP master key and salt. Secret. */
typedef struct perc_dtls_link_master {
    size_t key_len;             /* 16 or 32 */
    uint8_t key[PERC_SRTP_MAX_KEY_LEN];
    uint8_t salt[PERC_SRTP_SALT_LEN];
} perc_dtls_link_master;

typedef struct perc_dtls_link_keys {
    uint16_t profile;           /* 0x0007 or 0x0008 */
    perc_dtls_link_master local;  /* what we send is protected with this */
    perc_dtls_link_master remote; /* what the peer sends */
} perc_dtls_link_keys;

/* Errors: PERC_ERR_INVALID_ARG (NULL, not an EC key, key not matching the
 * certificate), PERC_ERR_NOMEM, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_dtls_link_new(const perc_dtls_link_config *cfg, perc_dtls_link **out);
/* Wipes and frees; NULL is fine. */
void perc_dtls_link_free(perc_dtls_link *l);

/* The client sends its ClientHello (pull it); harmless on the server. */
PERC_MUST_CHECK int perc_dtls_link_start(perc_dtls_link *l, uint64_t now_ns);
/* One datagram from the peer. Errors: PERC_ERR_INVALID_ARG (empty, over
 * PERC_DTLS_LINK_MAX_DATAGRAM), PERC_ERR_STATE (already failed). A
 * datagram that makes the handshake fail returns PERC_OK: check the state
 * (and pull: there may be an alert). */
PERC_MUST_CHECK int perc_dtls_link_recv(perc_dtls_link *l, const uint8_t *data, size_t len,
                                        uint64_t now_ns);
/* The next datagram to send; *len 0 when none. PERC_ERR_NOSPACE when cap
 * is too small (PERC_DTLS_LINK_MAX_DATAGRAM always suffices). */
PERC_MUST_CHECK int perc_dtls_link_pull(perc_dtls_link *l, uint8_t *out, size_t cap, size_t *len);
/* When on_timeout wants to run (caller's clock); UINT64_MAX for never. */
uint64_t perc_dtls_link_next_timeout(const perc_dtls_link *l);
/* Handshake retransmission (RFC 6347 §4.2.4). PERC_ERR_STATE when failed. */
PERC_MUST_CHECK int perc_dtls_link_on_timeout(perc_dtls_link *l, uint64_t now_ns);

perc_dtls_link_state perc_dtls_link_get_state(const perc_dtls_link *l);
/* Why it failed ("peer certificate fingerprint differs from link-peer's",
 * "handshake retransmissions exhausted", an OpenSSL reason). */
const char *perc_dtls_link_failure(const perc_dtls_link *l);
/* Our certificate's fingerprint (for link-info). */
void perc_dtls_link_fingerprint(const perc_dtls_link *l, uint8_t out[PERC_DTLS_LINK_FP_LEN]);
/* The keys, once CONNECTED. Errors: PERC_ERR_STATE. The caller wipes out. */
PERC_MUST_CHECK int perc_dtls_link_get_keys(const perc_dtls_link *l, perc_dtls_link_keys *out);

#endif
