/* Encrypted Key Transport (RFC 8870): the end-to-end half.
 *
 * Framing of the EKT field is hop-by-hop material and lives in
 * perc/ekt_field.h; everything here touches an EKTKey or an SRTP master key
 * and belongs to perc_e2e (endpoints and the Key Distributor only):
 *
 *   perc_ekt_params       an EKT parameter set: cipher, EKTKey, master salt,
 *                         SPI, TTL (§4.1, §5.2.2)
 *   perc_ekt_plaintext_*  EKTPlaintext = len || master key || SSRC || ROC
 *   perc_ekt_full_field_* wrap a master key into a Full field, unwrap one
 *   perc_ekt_key_msg_*    the EKTKey handshake message body (§5.2.2)
 *   perc_ekt_ciphers_*    the supported_ekt_ciphers extension (§5.2.1)
 *   perc_ekt_rx_*         the receiver of §4.3.2: parameter sets by SPI,
 *                         what each sender announced, epochs
 *   perc_ekt_tx_*         the sender's timing rules of §4.3.1 and §4.6
 *
 * PERC and the double transform (RFC 8723): the EKT field carries only the
 * INNER (end-to-end) half of the double master key, 16 octets for
 * DOUBLE_AEAD_AES_128_GCM and 32 for DOUBLE_AEAD_AES_256_GCM (RFC 8870
 * §4.3.2 step 6, RFC 8871). These functions carry whatever key bytes they
 * are given; passing the inner half is the caller's job. The inner salt is
 * the first 12 octets of the EKTKey's srtp_master_salt (spec digest ekt.md
 * §8), and the ROC in the field is the inner ROC.
 *
 * Times are monotonic nanoseconds supplied by the caller.
 */
#ifndef PERC_EKT_H
#define PERC_EKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/bytes.h"
#include "perc/ekt_field.h"
#include "perc/error.h"

/* ---- ciphers and limits ------------------------------------------------ */

/* On-the-wire values of the TLS enum EKTCipherType (§5.2.1). The IANA
 * table of §7.2 numbers them 0 and 1; the extension's enum is what peers
 * send, so we follow it (spec digest README item 5). 0 is reserved. */
typedef enum perc_ekt_cipher {
    PERC_EKT_CIPHER_AESKW_128 = 1,
    PERC_EKT_CIPHER_AESKW_256 = 2,
} perc_ekt_cipher;

#define PERC_EKT_EXT_SUPPORTED_CIPHERS 39   /* TLS ExtensionType (§5.2.1) */
#define PERC_EKT_HS_EKT_KEY 26              /* HandshakeType ekt_key (§5.2.2) */

#define PERC_EKT_MAX_EKTKEY_LEN 32
#define PERC_EKT_MAX_SALT_LEN 256           /* srtp_master_salt<1..256> */
#define PERC_EKT_MAX_TTL 0xFFFFFFu          /* uint24 seconds */
#define PERC_EKT_MAX_MASTER_KEY_LEN 242     /* §4.1: SRTPMasterKey = 1*242BYTE */
/* §4.4.1: each cipher may wrap at most T = 2^48 different plaintexts. */
#define PERC_EKT_CIPHER_LIMIT (UINT64_C(1) << 48)

/* EKTKey length of the cipher: 16, 32, or 0 for a value we do not know. */
size_t perc_ekt_cipher_key_len(uint8_t cipher);

/* ---- parameter set ------------------------------------------------------ */

/* One EKT parameter set (§4.1): each distinct set has a distinct SPI. The
 * whole struct is secret: wipe it with perc_ekt_params_wipe(). */
typedef struct perc_ekt_params {
    perc_ekt_cipher cipher;
    uint16_t spi;
    uint32_t ttl_s;             /* ekt_ttl in seconds */
    uint64_t received_ns;       /* when the EKTKey arrived: the TTL runs from here */
    size_t key_len;
    uint8_t key[PERC_EKT_MAX_EKTKEY_LEN];
    size_t salt_len;
    uint8_t salt[PERC_EKT_MAX_SALT_LEN];
} perc_ekt_params;

/* Fills p (key and salt copied). A ttl of 0 is a zero lifetime: RFC 8870
 * gives 0 no "forever" meaning, so such a set is expired at once.
 * Errors: PERC_ERR_INVALID_ARG (unknown cipher, NULL), PERC_ERR_KEY_LENGTH
 * (key length not the cipher's, salt empty or over 256 octets),
 * PERC_ERR_TOO_LARGE (ttl over 24 bits). */
PERC_MUST_CHECK int perc_ekt_params_set(perc_ekt_params *p, uint8_t cipher, const uint8_t *key,
                                        size_t key_len, const uint8_t *salt, size_t salt_len,
                                        uint16_t spi, uint32_t ttl_s, uint64_t now_ns);

/* True once now_ns is ttl_s seconds or more after received_ns (§4.3.2: the
 * EKTKey must then not be used to encrypt or decrypt). */
bool perc_ekt_params_expired(const perc_ekt_params *p, uint64_t now_ns);

/* Same cipher, SPI, EKTKey and salt (constant time over the secrets); the
 * TTL and arrival time are not compared, so a retransmitted EKTKey equals
 * the original. */
bool perc_ekt_params_same(const perc_ekt_params *a, const perc_ekt_params *b);

void perc_ekt_params_wipe(perc_ekt_params *p);

/* ---- EKTPlaintext and the Full field's ciphertext ------------------------ */

typedef struct perc_ekt_plaintext {
    size_t master_key_len;
    uint8_t master_key[PERC_EKT_MAX_MASTER_KEY_LEN];
    uint32_t ssrc;
    uint32_t roc;
} perc_ekt_plaintext;

/* len(1) || key || SSRC(4) || ROC(4) (§4.1). Errors: PERC_ERR_INVALID_ARG
 * (key empty or over 242 octets), PERC_ERR_NOSPACE. */
PERC_MUST_CHECK int perc_ekt_plaintext_encode(const uint8_t *master_key, size_t key_len,
                                              uint32_t ssrc, uint32_t roc, uint8_t *out,
                                              size_t cap, size_t *out_len);

/* Parses exactly one EKTPlaintext. Errors: PERC_ERR_TRUNCATED,
 * PERC_ERR_TRAILING, PERC_ERR_MALFORMED (key length 0 or over 242). On
 * failure *out is wiped. */
PERC_MUST_CHECK int perc_ekt_plaintext_decode(const uint8_t *in, size_t len,
                                              perc_ekt_plaintext *out);

void perc_ekt_plaintext_wipe(perc_ekt_plaintext *pt);

/* §4.3.1: wraps EKTPlaintext(master_key, ssrc, roc) under p and writes the
 * whole Full field (ciphertext || SPI || epoch || Length || 0x02).
 * Errors: PERC_ERR_INVALID_ARG (empty key), PERC_ERR_TOO_LARGE (the
 * ciphertext would exceed 251 octets: keys over 231 octets),
 * PERC_ERR_NOSPACE, PERC_ERR_KEY_LENGTH, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_ekt_full_field_make(const perc_ekt_params *p, const uint8_t *master_key,
                                             size_t key_len, uint32_t ssrc, uint32_t roc,
                                             uint16_t epoch, uint8_t *out, size_t cap,
                                             size_t *out_len);

/* §4.3.2 steps 3-4: unwraps f under p. Nothing about the packet is
 * checked here (SSRC, key length: see perc_ekt_rx_process).
 * Errors: PERC_ERR_UNKNOWN_SPI (f->spi is not p's), PERC_ERR_AUTH (the key
 * wrap did not verify), PERC_ERR_MALFORMED (it verified but does not hold
 * an EKTPlaintext). *out is wiped on failure. */
PERC_MUST_CHECK int perc_ekt_full_field_open(const perc_ekt_params *p, const perc_ekt_full *f,
                                             perc_ekt_plaintext *out);

/* ---- EKTKey handshake message (§5.2.2) --------------------------------- */

/* struct { opaque ekt_key_value<1..256>; opaque srtp_master_salt<1..256>;
 *          uint16 ekt_spi; uint24 ekt_ttl; } EKTKey;
 * Both vectors have two-octet length prefixes. Secret: wipe after use. */
typedef struct perc_ekt_key_msg {
    size_t key_len;
    uint8_t key[256];
    size_t salt_len;
    uint8_t salt[PERC_EKT_MAX_SALT_LEN];
    uint16_t spi;
    uint32_t ttl_s;             /* 24 bits */
} perc_ekt_key_msg;

/* Errors: PERC_ERR_INVALID_ARG (key or salt empty or over 256 octets),
 * PERC_ERR_TOO_LARGE (ttl over 24 bits), PERC_ERR_NOSPACE. */
PERC_MUST_CHECK int perc_ekt_key_msg_encode(const perc_ekt_key_msg *m, uint8_t *out, size_t cap,
                                            size_t *out_len);
/* Parses exactly one body. Errors: PERC_ERR_TRUNCATED, PERC_ERR_TRAILING,
 * PERC_ERR_MALFORMED (a vector of length 0 or over 256). On failure *out is
 * wiped, so no partial key material is left behind. The key length is not
 * checked against a cipher here: perc_ekt_params_from_msg() does that. */
PERC_MUST_CHECK int perc_ekt_key_msg_decode(const uint8_t *in, size_t len, perc_ekt_key_msg *out);
void perc_ekt_key_msg_wipe(perc_ekt_key_msg *m);

/* A parameter set from a received EKTKey under the negotiated cipher; the
 * TTL starts at now_ns. Errors as perc_ekt_params_set(). */
PERC_MUST_CHECK int perc_ekt_params_from_msg(perc_ekt_params *p, uint8_t cipher,
                                             const perc_ekt_key_msg *m, uint64_t now_ns);

/* ---- supported_ekt_ciphers extension (§5.2.1) --------------------------- */

#define PERC_EKT_MAX_CIPHERS 255

/* ClientHello body: EKTCipherType supported_ciphers<1..255>, a one-octet
 * length then one octet per cipher, in preference order. Values we do not
 * know are carried (a client may offer them); 0 is reserved and refused.
 * Encode errors: PERC_ERR_INVALID_ARG (empty list, over 255, a 0 value),
 * PERC_ERR_NOSPACE. Decode errors: PERC_ERR_TRUNCATED, PERC_ERR_TRAILING,
 * PERC_ERR_MALFORMED (empty list, a 0 value), PERC_ERR_NOSPACE (more
 * ciphers than cap). */
PERC_MUST_CHECK int perc_ekt_ciphers_client_encode(const uint8_t *ciphers, size_t n, uint8_t *out,
                                                   size_t cap, size_t *out_len);
PERC_MUST_CHECK int perc_ekt_ciphers_client_decode(const uint8_t *in, size_t len, uint8_t *ciphers,
                                                   size_t cap, size_t *n);

/* ServerHello / EncryptedExtensions body: the single selected cipher.
 * Errors: PERC_ERR_INVALID_ARG / PERC_ERR_MALFORMED for 0, PERC_ERR_NOSPACE,
 * PERC_ERR_TRUNCATED, PERC_ERR_TRAILING. */
PERC_MUST_CHECK int perc_ekt_cipher_server_encode(uint8_t cipher, uint8_t *out, size_t cap,
                                                  size_t *out_len);
PERC_MUST_CHECK int perc_ekt_cipher_server_decode(const uint8_t *in, size_t len, uint8_t *cipher);

/* Server choice: the first cipher in the client's (preference-ordered) list
 * that is also in ours. PERC_ERR_NOT_FOUND when there is none: the server
 * then omits the extension and no EKTKey may be sent. */
PERC_MUST_CHECK int perc_ekt_cipher_select(const uint8_t *offered, size_t n_offered,
                                           const uint8_t *ours, size_t n_ours, uint8_t *chosen);

/* ---- receiver (§4.3.2) -------------------------------------------------- */

typedef struct perc_ekt_rx perc_ekt_rx;

#define PERC_EKT_RX_DEFAULT_MAX_SETS 8
#define PERC_EKT_RX_DEFAULT_MAX_STREAMS 256
#define PERC_EKT_RX_MAX_KEY_LEN 32
#define PERC_EKT_RX_MAX_SALT_LEN 32

typedef struct perc_ekt_rx_config {
    /* The master key length the SRTP transform takes from EKT (§4.3.2
     * step 6): 16 for DOUBLE_AEAD_AES_128_GCM, 32 for the 256 variant (the
     * inner half only). 1..32. */
    size_t master_key_len;
    /* How many leading octets of a set's srtp_master_salt the transform
     * uses (§4.3.2 step 4): 12 for AES-GCM. 1..32. */
    size_t salt_len;
    size_t max_sets;            /* parameter sets kept; 0 = default */
    size_t max_streams;         /* (SPI, SSRC) pairs remembered; 0 = default */
} perc_ekt_rx_config;

/* Errors: PERC_ERR_INVALID_ARG (lengths out of range), PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_ekt_rx_new(const perc_ekt_rx_config *cfg, perc_ekt_rx **out);
/* Wipes every key and frees; NULL is fine. */
void perc_ekt_rx_free(perc_ekt_rx *rx);

/* Adds a parameter set (copied). Sets are kept across key changes (§4.3:
 * senders switch at their own pace); when max_sets are held, the one added
 * longest ago is dropped with what was learned under it. Adding a set equal
 * to one held (a retransmitted EKTKey) is a no-op. Errors:
 * PERC_ERR_STATE (that SPI is held with a different key or salt: §4.1 says
 * distinct sets have distinct SPIs, so the caller should answer the EKTKey
 * with an alert), PERC_ERR_KEY_LENGTH (salt shorter than cfg salt_len),
 * PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_ekt_rx_add_params(perc_ekt_rx *rx, const perc_ekt_params *p);
/* Drops a set and what was learned under it. PERC_ERR_NOT_FOUND if absent. */
PERC_MUST_CHECK int perc_ekt_rx_remove_params(perc_ekt_rx *rx, uint16_t spi);
/* Forgets what was learned for ssrc under every set (the source left). */
void perc_ekt_rx_forget_ssrc(perc_ekt_rx *rx, uint32_t ssrc);

typedef enum perc_ekt_rx_kind {
    PERC_EKT_RX_NONE = 0,       /* nothing usable (an error came back) */
    PERC_EKT_RX_SHORT,          /* Short field: process SRTP as usual */
    PERC_EKT_RX_FULL_NEW_KEY,   /* a key not yet committed for this SSRC */
    PERC_EKT_RX_FULL_REPEAT,    /* the committed key again: nothing to do */
    PERC_EKT_RX_EXTENSION,      /* unknown type: field skipped (§4.3.2 step 1) */
} perc_ekt_rx_kind;

/* What perc_ekt_rx_process() found. Secret (master key, salt): wipe with
 * perc_ekt_rx_result_wipe() after use. */
typedef struct perc_ekt_rx_result {
    perc_ekt_rx_kind kind;
    /* Whether the SRTP packet (buf[0..srtp_len)) may still go to SRTP with
     * keys already known. True for every success and for the errors that
     * only discard the field: PERC_ERR_SSRC_MISMATCH (§4.3.2 step 5),
     * PERC_ERR_STALE_EPOCH, PERC_ERR_UNKNOWN_SPI and PERC_ERR_EXPIRED. False
     * where the RFC says to drop the packet: PERC_ERR_AUTH, PERC_ERR_KEY_LENGTH,
     * PERC_ERR_MALFORMED, and framing errors. */
    bool packet_usable;
    size_t srtp_len;            /* valid when packet_usable */
    uint8_t type;               /* the field's type octet */
    /* Full fields: */
    uint16_t spi;
    uint16_t epoch;
    uint32_t ssrc;
    uint32_t roc;               /* NEW_KEY and REPEAT: the ROC in the plaintext */
    /* NEW_KEY only: */
    size_t master_key_len;
    uint8_t master_key[PERC_EKT_RX_MAX_KEY_LEN];
    size_t salt_len;
    uint8_t salt[PERC_EKT_RX_MAX_SALT_LEN];
} perc_ekt_rx_result;

/* §4.3.2 for one received SRTP packet (pkt, with its EKT field) whose RTP
 * header carries packet_ssrc. Reports the field kind and, for a new key,
 * the master key, ROC, salt (first salt_len octets of the set's salt), SPI
 * and epoch. For the double transform the key is the inner half and the
 * ROC initialises the inner ROC.
 *
 * Epoch handling (spec digest ekt.md §4.3, README item 6): the epoch is not
 * authenticated, so a new key is only remembered as a candidate; the stored
 * epoch moves when the caller reports, with perc_ekt_rx_commit(), that an
 * SRTP packet authenticated under that key. A Full field whose ciphertext
 * equals the committed one (periodic repetition) is FULL_REPEAT without an
 * unwrap. One that unwraps to the committed key again (the sender's ROC
 * changed, or an epoch was tampered with) is also FULL_REPEAT. One whose
 * ciphertext equals the candidate's is NEW_KEY again without an unwrap.
 *
 * Errors (see packet_usable above for what to do with the packet):
 *   PERC_ERR_TRUNCATED / PERC_ERR_MALFORMED  field framing (ekt_field.h),
 *                                 or an EKTPlaintext that does not parse
 *   PERC_ERR_UNKNOWN_SPI         no set with that SPI (§4.3.2 step 2)
 *   PERC_ERR_EXPIRED             the set is past its TTL
 *   PERC_ERR_STALE_EPOCH         epoch below the committed one, or equal to
 *                                it with a different key
 *   PERC_ERR_AUTH                the key wrap did not verify (step 3)
 *   PERC_ERR_SSRC_MISMATCH       plaintext SSRC is not packet_ssrc (step 5)
 *   PERC_ERR_KEY_LENGTH          key length is not master_key_len (step 6)
 *   PERC_ERR_INVALID_ARG         NULL arguments
 */
PERC_MUST_CHECK int perc_ekt_rx_process(perc_ekt_rx *rx, const uint8_t *pkt, size_t len,
                                        uint32_t packet_ssrc, uint64_t now_ns,
                                        perc_ekt_rx_result *res);

/* The caller's SRTP packet from ssrc authenticated under the candidate key
 * that FULL_NEW_KEY reported with (spi, epoch): that key and epoch become
 * the committed ones. Errors: PERC_ERR_STATE (no such candidate: it was
 * already committed, or a later Full field replaced it). */
PERC_MUST_CHECK int perc_ekt_rx_commit(perc_ekt_rx *rx, uint16_t spi, uint32_t ssrc,
                                       uint16_t epoch);

void perc_ekt_rx_result_wipe(perc_ekt_rx_result *res);

/* ---- sender timing (§4.3.1, §4.5, §4.6) --------------------------------- */

typedef struct perc_ekt_tx perc_ekt_tx;

typedef struct perc_ekt_tx_config {
    unsigned initial_full;          /* Full fields at the start and after each key change */
    uint64_t repeat_interval_ns;    /* periodic Full field (§4.6: 100 ms for audio) */
    uint64_t key_change_delay_ns;   /* keep the old key this long (§4.3.1: 250 ms) */
    uint64_t cipher_limit;          /* wraps allowed per EKTKey (T = 2^48) */
} perc_ekt_tx_config;

/* 3, 100 ms, 250 ms, 2^48. */
void perc_ekt_tx_config_default(perc_ekt_tx_config *cfg);

/* One outbound SRTP stream (one SSRC). cfg NULL = defaults.
 * Errors: PERC_ERR_INVALID_ARG (initial_full 0 or cipher_limit 0),
 * PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_ekt_tx_new(const perc_ekt_tx_config *cfg, uint32_t ssrc,
                                    perc_ekt_tx **out);
/* Wipes every key and frees; NULL is fine. */
void perc_ekt_tx_free(perc_ekt_tx *tx);

/* Starts using a new master key (and possibly a new parameter set, copied).
 * The epoch is 0 for the first key and whenever p has a different SPI from
 * the current set, else the current epoch + 1 (§4.1). §4.5: a new EKTKey
 * requires a new master key, which is why the set comes with the key. The
 * next initial_full packets carry Full fields; packets stay encrypted with
 * the key in use before for key_change_delay_ns. Master keys must be fresh
 * random bytes (§6); reusing the current one is refused.
 * Errors: PERC_ERR_INVALID_ARG (empty key or the current key again),
 * PERC_ERR_STATE (p has the current SPI but a different EKTKey or salt),
 * PERC_ERR_KEY_LENGTH (p's EKTKey does not fit its cipher),
 * PERC_ERR_EXPIRED (p is past its TTL), PERC_ERR_KEY_EXHAUSTED (epoch
 * 65535 already used under this SPI: the wrap-around is undefined, get a
 * new EKTKey), PERC_ERR_TOO_LARGE (key over 231 octets). */
PERC_MUST_CHECK int perc_ekt_tx_set_key(perc_ekt_tx *tx, const perc_ekt_params *p,
                                        const uint8_t *master_key, size_t key_len,
                                        uint64_t now_ns);

typedef struct perc_ekt_tx_packet {
    bool full;                  /* the field written is a Full field */
    bool use_old_key;           /* in the key-change delay: encrypt with the previous key */
    perc_view key;              /* the master key to encrypt this packet with; valid
                                 * until the next perc_ekt_tx_* call */
    uint16_t spi;               /* of the current set */
    uint16_t epoch;             /* of the newest key */
    size_t field_len;
} perc_ekt_tx_packet;

/* Decides the EKT field of the next packet and writes it to field[0..cap).
 * roc is the ROC of this packet (for the double transform: the inner ROC).
 * A Full field is sent for the first initial_full packets after
 * perc_ekt_tx_set_key(), whenever repeat_interval_ns has passed since the
 * last Full field, and when force_full is set (e.g. on a video intra frame,
 * §4.6). Its ciphertext is cached and rebuilt only when the ROC changes.
 * Errors: PERC_ERR_STATE (no key set yet), PERC_ERR_EXPIRED (the set is
 * past its TTL: no more encryption under it), PERC_ERR_KEY_EXHAUSTED (the
 * set already wrapped cipher_limit plaintexts), PERC_ERR_NOSPACE,
 * PERC_ERR_CRYPTO. Nothing is advanced on failure. */
PERC_MUST_CHECK int perc_ekt_tx_next(perc_ekt_tx *tx, uint32_t roc, bool force_full,
                                     uint64_t now_ns, uint8_t *field, size_t cap,
                                     perc_ekt_tx_packet *out);

#endif
