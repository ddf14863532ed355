/* Internals of the DTLS adapter (perc/dtls.h), shared by dtls*.c and used
 * directly by the unit tests and the fuzz target:
 *
 *   dtls.c         the object: SSL and memory BIOs, handshake pump, output
 *                  queue, OpenSSL timer, states and events
 *   dtls_cert.c    identities, fingerprints, the peer-certificate check
 *   dtls_ext.c     extensions 39 and 56, the double use_srtp profiles
 *   dtls_record.c  DTLS 1.2 AES-GCM records: key derivation, seal and open,
 *                  handshake header and ACK codecs, the interceptor
 *   dtls_ekt.c     EKTKey send queue and retransmission (server), EKTKey
 *                  reception and ACK (client)
 */
#ifndef PERC_DTLS_INTERNAL_H
#define PERC_DTLS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "perc/bytes.h"
#include "perc/dtls.h"

/* ---- DTLS 1.2 record layer constants (RFC 6347 §4.1, RFC 5288) ---------- */

#define DTLS_CT_CHANGE_CIPHER_SPEC 20
#define DTLS_CT_ALERT 21
#define DTLS_CT_HANDSHAKE 22
#define DTLS_CT_APPLICATION_DATA 23
#define DTLS_CT_ACK 26                  /* RFC 9147 §7, used by RFC 8870 with DTLS 1.2 */
#define DTLS_VERSION_1_2 0xFEFDu
#define DTLS_RECORD_HEADER_LEN 13       /* type, version, epoch, seq48, length */
#define DTLS_HS_HEADER_LEN 12           /* type, length24, message_seq, offset24, frag_len24 */
#define DTLS_GCM_EXPLICIT_LEN 8         /* explicit nonce: OpenSSL uses epoch || seq */
#define DTLS_GCM_TAG_LEN 16
#define DTLS_GCM_OVERHEAD (DTLS_GCM_EXPLICIT_LEN + DTLS_GCM_TAG_LEN)
#define DTLS_MAX_PLAINTEXT 16384        /* 2^14 */
#define DTLS_SEQ_MAX ((UINT64_C(1) << 48) - 1)
#define DTLS_KEY_LEN 16                 /* ECDHE-ECDSA-AES128-GCM-SHA256 */
#define DTLS_FIXED_IV_LEN 4
#define DTLS_RANDOM_LEN 32
#define DTLS_MASTER_SECRET_LEN 48
/* The shim only opens records that could be an EKTKey or an ACK; anything
 * longer is OpenSSL's. EKTKey: 12 + 2 + 256 + 2 + 256 + 2 + 3 = 533. */
#define DTLS_SHIM_MAX_PLAINTEXT 1024
#define DTLS_EKT_KEY_BODY_MAX (2 + 256 + 2 + PERC_EKT_MAX_SALT_LEN + 2 + 3)
#define DTLS_ACK_ENTRY_LEN 16           /* RecordNumber: uint64 epoch, uint64 sequence_number */
#define DTLS_ACK_MAX_ENTRIES 32

/* TLS AlertDescription values we send ourselves. */
#define DTLS_ALERT_UNEXPECTED_MESSAGE 10
#define DTLS_ALERT_BAD_CERTIFICATE 42
#define DTLS_ALERT_ILLEGAL_PARAMETER 47
#define DTLS_ALERT_ACCESS_DENIED 49
#define DTLS_ALERT_DECODE_ERROR 50

/* One record of a datagram. Views point into the datagram. */
typedef struct perc_dtls_rec {
    uint8_t type;
    uint16_t version;
    uint16_t epoch;
    uint64_t seq;                       /* 48 bits */
    perc_view whole;                    /* header and fragment */
    perc_view fragment;
} perc_dtls_rec;

/* Reads the next record. PERC_ERR_TRUNCATED when fewer than 13 octets are
 * left or the length runs past the end (r does not move then). */
PERC_MUST_CHECK int perc_dtls_rec_read(perc_reader *r, perc_dtls_rec *out);

/* Epoch-1 keys of ECDHE-ECDSA-AES128-GCM-SHA256 (RFC 5246 §6.3 key block
 * with mac_key_length 0, RFC 5288 §3). Secret. */
typedef struct perc_dtls_rec_keys {
    bool ready;
    uint8_t client_key[DTLS_KEY_LEN];
    uint8_t server_key[DTLS_KEY_LEN];
    uint8_t client_iv[DTLS_FIXED_IV_LEN];
    uint8_t server_iv[DTLS_FIXED_IV_LEN];
} perc_dtls_rec_keys;

/* TLS 1.2 PRF (SHA-256) "key expansion" over server_random ||
 * client_random. Errors: PERC_ERR_INVALID_ARG, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_dtls_rec_keys_derive(const uint8_t *master, size_t master_len,
                                              const uint8_t client_random[DTLS_RANDOM_LEN],
                                              const uint8_t server_random[DTLS_RANDOM_LEN],
                                              perc_dtls_rec_keys *out);
void perc_dtls_rec_keys_wipe(perc_dtls_rec_keys *k);

/* One AES-128-GCM record as OpenSSL builds it: explicit nonce = epoch ||
 * seq; nonce = fixed IV || explicit; AAD = epoch || seq || type || version
 * || plaintext length. Errors: PERC_ERR_INVALID_ARG (seq over 48 bits),
 * PERC_ERR_TOO_LARGE (plaintext over 2^14), PERC_ERR_NOSPACE,
 * PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_dtls_rec_seal(const uint8_t key[DTLS_KEY_LEN],
                                       const uint8_t iv[DTLS_FIXED_IV_LEN], uint8_t type,
                                       uint16_t epoch, uint64_t seq, const uint8_t *pt,
                                       size_t pt_len, uint8_t *out, size_t cap, size_t *out_len);
/* Errors: PERC_ERR_TRUNCATED (fragment shorter than nonce and tag),
 * PERC_ERR_NOSPACE, PERC_ERR_AUTH (tag mismatch: pt is wiped),
 * PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_dtls_rec_open(const uint8_t key[DTLS_KEY_LEN],
                                       const uint8_t iv[DTLS_FIXED_IV_LEN],
                                       const perc_dtls_rec *rec, uint8_t *pt, size_t cap,
                                       size_t *pt_len);

/* A whole, unfragmented handshake message. */
typedef struct perc_dtls_hs {
    uint8_t msg_type;
    uint16_t message_seq;
    perc_view body;
} perc_dtls_hs;

/* Errors: PERC_ERR_TRUNCATED, PERC_ERR_TRAILING, PERC_ERR_UNSUPPORTED (a
 * fragment: we never fragment what we send). */
PERC_MUST_CHECK int perc_dtls_hs_decode(const uint8_t *in, size_t len, perc_dtls_hs *out);
/* Errors: PERC_ERR_TOO_LARGE (body over 2^24 - 1), PERC_ERR_NOSPACE. */
PERC_MUST_CHECK int perc_dtls_hs_encode(uint8_t msg_type, uint16_t message_seq, const uint8_t *body,
                                        size_t body_len, uint8_t *out, size_t cap,
                                        size_t *out_len);

typedef struct perc_dtls_recnum {
    uint64_t epoch;
    uint64_t seq;
} perc_dtls_recnum;

/* ACK body (RFC 9147 §7): RecordNumber record_numbers<2..2^16-1>.
 * Encode errors: PERC_ERR_INVALID_ARG (n = 0), PERC_ERR_TOO_LARGE,
 * PERC_ERR_NOSPACE. Decode errors: PERC_ERR_TRUNCATED, PERC_ERR_TRAILING,
 * PERC_ERR_MALFORMED (empty, or not a whole number of entries),
 * PERC_ERR_NOSPACE (more than cap entries). */
PERC_MUST_CHECK int perc_dtls_ack_encode(const perc_dtls_recnum *nums, size_t n, uint8_t *out,
                                         size_t cap, size_t *out_len);
PERC_MUST_CHECK int perc_dtls_ack_decode(const uint8_t *in, size_t len, perc_dtls_recnum *nums,
                                         size_t cap, size_t *n);

/* What the interceptor makes of one record. */
typedef enum perc_dtls_shim_kind {
    PERC_DTLS_SHIM_PASS = 0,    /* OpenSSL's: hand it over unchanged */
    PERC_DTLS_SHIM_EKT_KEY,     /* client: authentic handshake record holding an EKTKey */
    PERC_DTLS_SHIM_ACK,         /* server: authentic ACK record */
    PERC_DTLS_SHIM_BAD,         /* authentic and ours, but not well formed */
} perc_dtls_shim_kind;

typedef struct perc_dtls_shim_result {
    perc_dtls_shim_kind kind;
    perc_dtls_hs hs;            /* EKT_KEY: body points into pt */
    size_t n_acked;             /* ACK */
    perc_dtls_recnum acked[DTLS_ACK_MAX_ENTRIES];
} perc_dtls_shim_result;

/* Classifies one record for the side `is_server` with the association's
 * epoch-1 keys (PASS while keys are not ready). Only epoch-1 DTLS 1.2
 * records of content type 22 (client side) or 26 (server side) that
 * authenticate under the peer's write key are ours; a client leaves other
 * handshake messages (a retransmitted Finished) to OpenSSL. pt (cap
 * DTLS_SHIM_MAX_PLAINTEXT) receives the plaintext of an EKTKey record;
 * the caller wipes it. Never fails: anything it cannot use is PASS. */
void perc_dtls_shim_classify(const perc_dtls_rec_keys *keys, bool is_server,
                             const perc_dtls_rec *rec, uint8_t *pt, size_t cap,
                             perc_dtls_shim_result *res);

/* ---- extensions (dtls_ext.c) -------------------------------------------- */

/* use_srtp body (RFC 5764 §4.1.1): profiles<2..2^16-1>, mki<0..255>. Gives
 * the client's profiles that are also in ours, in the CLIENT's order,
 * without repeats (order needs room for n_ours), and the MKI length. Errors: PERC_ERR_TRUNCATED, PERC_ERR_TRAILING,
 * PERC_ERR_MALFORMED (empty or odd list). */
PERC_MUST_CHECK int perc_dtls_use_srtp_match(const uint8_t *in, size_t len, const uint16_t *ours,
                                             size_t n_ours, uint16_t *order, size_t *n_order,
                                             size_t *mki_len);

/* external_session_id body: opaque session_id<20..255>. Decode errors:
 * PERC_ERR_TRUNCATED, PERC_ERR_TRAILING, PERC_ERR_MALFORMED (length outside
 * 20..255). out needs PERC_DTLS_TLS_ID_MAX octets. */
PERC_MUST_CHECK int perc_dtls_tls_id_encode(const uint8_t *id, size_t len, uint8_t *out, size_t cap,
                                            size_t *out_len);
PERC_MUST_CHECK int perc_dtls_tls_id_decode(const uint8_t *in, size_t len, uint8_t *out,
                                            size_t *out_len);

/* Registers extensions 39 and 56 and the ClientHello hook on ctx. */
PERC_MUST_CHECK int perc_dtls_ext_setup_ctx(SSL_CTX *ctx);
/* Puts the configured double profiles into ssl's use_srtp list. */
PERC_MUST_CHECK int perc_dtls_ext_setup_ssl(perc_dtls *d);

/* ---- certificates (dtls_cert.c) ----------------------------------------- */

/* SSL_CTX_set_cert_verify_callback hook: fingerprint, tls-id, authorize. */
int perc_dtls_cert_verify_cb(X509_STORE_CTX *store, void *arg);

/* ---- the object (dtls.c) ------------------------------------------------ */

typedef struct dtls_out_node {
    struct dtls_out_node *next;
    size_t len;
    uint8_t data[];
} dtls_out_node;

#define DTLS_OUT_QUEUE_MAX 64
#define DTLS_EKT_SEQ_RING 16            /* record numbers remembered per EKTKey */

/* One EKTKey waiting for its ACK. hs is the whole handshake message:
 * secret. */
typedef struct dtls_ekt_entry {
    uint16_t spi;
    uint16_t message_seq;
    size_t hs_len;
    uint8_t hs[DTLS_HS_HEADER_LEN + DTLS_EKT_KEY_BODY_MAX];
    uint64_t sent_seq[DTLS_EKT_SEQ_RING];   /* epoch-1 record numbers it went out in */
    size_t n_sent;
} dtls_ekt_entry;

struct perc_dtls_ctx {
    SSL_CTX *ssl_ctx;
    perc_dtls_keylog_fn keylog;
    void *keylog_user;
    uint8_t fingerprint[PERC_DTLS_FINGERPRINT_LEN];
};

struct perc_dtls {
    perc_dtls_config cfg;
    perc_dtls_callbacks cbs;
    perc_dtls_keylog_fn keylog;
    void *keylog_user;

    SSL *ssl;
    BIO *rbio;                          /* memory BIOs owned by ssl */
    BIO *wbio;

    perc_dtls_state state;
    perc_dtls_close_info close_info;
    /* A failure our OpenSSL callbacks decided on; reported when OpenSSL
     * returns the error. */
    perc_dtls_reason pending_reason;
    const char *pending_detail;
    int alert_received;                 /* -1 = none */
    int alert_sent;

    /* negotiation */
    uint16_t profile;
    uint8_t ekt_cipher;
    uint8_t ext39_out[1 + PERC_DTLS_MAX_EKT_CIPHERS];
    uint8_t ext56_out[1 + PERC_DTLS_TLS_ID_MAX];
    /* server: the tls-id cfg.choose_tls_id gave for this client */
    bool own_tls_id_chosen;
    uint8_t own_tls_id[PERC_DTLS_TLS_ID_MAX];
    size_t own_tls_id_len;
    bool peer_tls_id_seen;
    uint8_t peer_tls_id[PERC_DTLS_TLS_ID_MAX];
    size_t peer_tls_id_len;
    bool peer_fp_seen;
    uint8_t peer_fp[PERC_DTLS_FINGERPRINT_LEN];

    /* our handshake message_seq counter, seen through the message callback */
    bool hs_written;
    uint16_t hs_write_next;             /* next message_seq we send */

    /* keys */
    bool keying_valid;
    perc_double_keying keying;
    perc_dtls_rec_keys rec_keys;

    uint64_t ossl_deadline;             /* UINT64_MAX = no OpenSSL timer */

    /* server: EKTKey queue, ekt[0] in flight */
    dtls_ekt_entry ekt[PERC_DTLS_MAX_EKT_QUEUE];
    size_t n_ekt;
    uint64_t ekt_deadline;              /* UINT64_MAX = no EKTKey in flight */
    uint64_t ekt_interval;
    unsigned ekt_retransmits;

    /* client: EKTKeys received */
    bool ekt_rx_any;
    uint16_t ekt_rx_last_seq;

    dtls_out_node *out_head;
    dtls_out_node *out_tail;
    size_t n_out;

    perc_dtls_stats stats;
};

/* Queues one datagram for pull (copied). Errors: PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_dtls_out_push(perc_dtls *d, const uint8_t *p, size_t len);
/* Moves whatever OpenSSL wrote into the output queue, one record (or
 * several up to the MTU) per datagram. Errors: PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_dtls_flush_ssl(perc_dtls *d);
/* Ends the association: state FAILED or CLOSED, every key wiped, the
 * EKTKey queue dropped, the closed event reported (once). Queued output
 * (an alert) stays for pull. alert = -1 when none. */
void perc_dtls_end(perc_dtls *d, perc_dtls_state state, perc_dtls_reason reason, int alert,
                   bool alert_from_peer, const char *detail);
/* The same for a failure of ours without an alert on the wire. */
void perc_dtls_fail(perc_dtls *d, perc_dtls_reason reason, const char *detail);

/* ---- our own records (dtls_record.c) ------------------------------------ */

/* Derives the epoch-1 record keys once OpenSSL has the master secret (the
 * client has it before the handshake completes). PERC_OK and keys not
 * ready when it is too early; PERC_ERR_CRYPTO otherwise. */
PERC_MUST_CHECK int perc_dtls_derive_record_keys(perc_dtls *d);

/* Seals pt as a record of `type` under our epoch-1 write key with a
 * sequence number taken from OpenSSL (seq steal: OpenSSL writes a one-octet
 * application data record, which is discarded unsent, and its epoch and
 * sequence number are used for ours) and queues it as its own datagram.
 * *seq_out receives the sequence number. Errors: PERC_ERR_STATE (no keys,
 * OpenSSL refused to write), PERC_ERR_CRYPTO, PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_dtls_send_own_record(perc_dtls *d, uint8_t type, const uint8_t *pt,
                                              size_t pt_len, uint64_t *seq_out);

/* Sends a fatal alert in our own record, then ends the association. */
void perc_dtls_fail_with_alert(perc_dtls *d, uint8_t alert, perc_dtls_reason reason,
                               const char *detail);

/* The interceptor: walks the datagram's records, handles ours, and writes
 * the others to OpenSSL's read BIO unchanged and in order. Errors:
 * PERC_ERR_NOMEM, PERC_ERR_CRYPTO (BIO write failed). */
PERC_MUST_CHECK int perc_dtls_intercept(perc_dtls *d, const uint8_t *data, size_t len,
                                        uint64_t now_ns);

/* ---- EKTKey exchange (dtls_ekt.c) --------------------------------------- */

/* Client: an authentic EKTKey record (seq = its record sequence number). */
void perc_dtls_ekt_received(perc_dtls *d, uint64_t seq, const perc_dtls_hs *hs, uint64_t now_ns);
/* Server: an authentic ACK. */
void perc_dtls_ekt_ack_received(perc_dtls *d, const perc_dtls_recnum *nums, size_t n,
                                uint64_t now_ns);
/* Server: retransmits the EKTKey in flight if its deadline passed. */
void perc_dtls_ekt_timer(perc_dtls *d, uint64_t now_ns);
/* Wipes and drops every queued EKTKey. */
void perc_dtls_ekt_clear(perc_dtls *d);

#endif
