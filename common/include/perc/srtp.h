/* SRTP and SRTCP with AEAD AES-GCM (RFC 7714) on OpenSSL EVP: one crypto
 * context for one direction of one hop, in three layers:
 *
 *   perc_srtp_session_keys  session keys and salts, from the RFC 3711 §4.3
 *                           KDF (kdr = 0) or given directly (the RFC 7714
 *                           vectors are written that way).
 *   perc_srtp_session       the keys installed in the cipher; seal/open one
 *                           packet at an explicit ROC or SRTCP index. It keeps
 *                           no per-stream state, so one session can serve a
 *                           relay's many streams and the double transform's
 *                           inner layer.
 *   perc_srtp_ctx           a session plus per-SSRC state (sender ROC,
 *                           receiver ROC estimate and replay window, SRTCP
 *                           index): the whole RFC 3711 behaviour, like
 *                           libsrtp's srtp_t. See srtp_stream.h for the
 *                           state pieces on their own.
 *
 * All work is in place: buf holds the packet, len its length, cap the room
 * available, and *out_len gets the new length. On failure buf may hold
 * partially processed bytes (a payload that failed authentication is
 * zeroed); the caller drops the packet, and keeps a copy if it wants to try
 * another key.
 *
 * Errors common to the packet functions: PERC_ERR_INVALID_ARG (a NULL
 * argument), PERC_ERR_TOO_LARGE (over INT_MAX octets), PERC_ERR_CRYPTO
 * (OpenSSL failed). A session or context is not safe for concurrent use:
 * each packet runs through its one cipher context.
 */
#ifndef PERC_SRTP_H
#define PERC_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"
#include "perc/profile.h"

typedef struct perc_srtp_session_keys {
    perc_srtp_cipher cipher;
    uint8_t srtp_key[PERC_SRTP_MAX_KEY_LEN];
    uint8_t srtp_salt[PERC_SRTP_SALT_LEN];
    uint8_t srtcp_key[PERC_SRTP_MAX_KEY_LEN];
    uint8_t srtcp_salt[PERC_SRTP_SALT_LEN];
} perc_srtp_session_keys;

/* RFC 3711 §4.3 key derivation with key derivation rate 0 (the DTLS-SRTP
 * case): AES-CM PRF for 128-bit keys, AES-256-CM PRF (RFC 6188 §7) for
 * 256-bit keys. The 12-octet master salt fills the first 12 of the 14 salt
 * octets, as libsrtp does. Errors: PERC_ERR_KEY_LENGTH, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_srtp_kdf(perc_srtp_cipher cipher, const uint8_t *master_key, size_t key_len,
                                  const uint8_t *master_salt, size_t salt_len,
                                  perc_srtp_session_keys *out);

/* Uses key and salt directly as session key and salt for both SRTP and
 * SRTCP (no KDF). */
PERC_MUST_CHECK int perc_srtp_keys_direct(perc_srtp_cipher cipher, const uint8_t *key, size_t key_len,
                                          const uint8_t *salt, size_t salt_len,
                                          perc_srtp_session_keys *out);

void perc_srtp_keys_wipe(perc_srtp_session_keys *keys);

/* The PRF of the KDF above for one label, at kdr = 0: out_len (1..64)
 * octets of AES-CM keystream under master_key (16 or 32 octets). The
 * master salt may be 12 octets (padded with two zero octets, as
 * perc_srtp_kdf does) or RFC 3711's full 14 octets, for its Appendix B.3
 * vector. Labels (RFC 3711 §4.3.1): 0x00/0x02 SRTP key/salt, 0x03/0x05
 * SRTCP key/salt. Errors: PERC_ERR_KEY_LENGTH, PERC_ERR_INVALID_ARG,
 * PERC_ERR_NOMEM, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_srtp_prf(const uint8_t *master_key, size_t key_len,
                                  const uint8_t *master_salt, size_t salt_len, uint8_t label,
                                  uint8_t *out, size_t out_len);

/* The RFC 7714 IVs, for tools and tests (seal and open compute them
 * themselves): §8.1 salt XOR (00 00 || SSRC || ROC || SEQ), and §9.1 salt
 * XOR (00 00 || SSRC || 00 00 || 0 || 31-bit index); index's top bit is
 * ignored. */
void perc_srtp_make_iv(const uint8_t salt[PERC_SRTP_SALT_LEN], uint32_t ssrc, uint32_t roc,
                       uint16_t seq, uint8_t iv[PERC_SRTP_IV_LEN]);
void perc_srtcp_make_iv(const uint8_t salt[PERC_SRTP_SALT_LEN], uint32_t ssrc, uint32_t index,
                        uint8_t iv[PERC_SRTP_IV_LEN]);

typedef struct perc_srtp_session perc_srtp_session;

/* Installs keys (copied; the caller may wipe its copy). Errors:
 * PERC_ERR_KEY_LENGTH (keys->cipher unknown), PERC_ERR_NOMEM,
 * PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_srtp_session_new(const perc_srtp_session_keys *keys, perc_srtp_session **out);
/* Wipes and frees; NULL is fine. */
void perc_srtp_session_free(perc_srtp_session *s);
perc_srtp_cipher perc_srtp_session_cipher(const perc_srtp_session *s);
/* True when a and b protect SRTP with the same session key and salt (the
 * same object, or two built from equal keys). The double transform and the
 * relay use it to refuse a key where RFC 8723 §5.2 and §9 demand
 * independent ones. */
bool perc_srtp_session_same_key(const perc_srtp_session *a, const perc_srtp_session *b);

/* RFC 7714 §8: buf holds a plain RTP packet; the payload (padding included)
 * is encrypted and the tag appended. AAD is the whole header as sent.
 * Errors: PERC_ERR_TRUNCATED / PERC_ERR_BAD_VERSION (not an RTP header),
 * PERC_ERR_NOSPACE (cap < len + 16). */
PERC_MUST_CHECK int perc_srtp_seal(perc_srtp_session *s, uint8_t *buf, size_t len, size_t cap,
                                   uint32_t roc, size_t *out_len);
/* Verifies and decrypts an SRTP packet at the given ROC; *out_len excludes
 * the tag. PERC_ERR_AUTH if the tag does not verify; PERC_ERR_TRUNCATED /
 * PERC_ERR_BAD_VERSION if there is no RTP header and tag to verify. */
PERC_MUST_CHECK int perc_srtp_open(perc_srtp_session *s, uint8_t *buf, size_t len,
                                   uint32_t roc, size_t *out_len);

/* The AEAD step alone, for the double transform's inner layer, whose AAD is
 * a synthetic header (RFC 8723 §5.1 step 3): IV from ssrc/roc/seq per
 * RFC 7714 §8.1, data encrypted in place, tag written to tag. open_parts
 * returns PERC_ERR_AUTH (data zeroed) if the tag does not verify. */
PERC_MUST_CHECK int perc_srtp_seal_parts(perc_srtp_session *s, const uint8_t *aad, size_t aad_len,
                                         uint32_t ssrc, uint32_t roc, uint16_t seq,
                                         uint8_t *data, size_t data_len,
                                         uint8_t tag[PERC_SRTP_TAG_LEN]);
PERC_MUST_CHECK int perc_srtp_open_parts(perc_srtp_session *s, const uint8_t *aad, size_t aad_len,
                                         uint32_t ssrc, uint32_t roc, uint16_t seq,
                                         uint8_t *data, size_t data_len,
                                         const uint8_t tag[PERC_SRTP_TAG_LEN]);

/* RFC 7714 §9: buf holds a plain (compound) RTCP packet. With encrypt, AAD
 * is the first 8 octets and the E+index word, the rest is encrypted;
 * without, the whole packet is authenticated only. Appends tag and the
 * E||index word. index must be below 2^31 (else PERC_ERR_INVALID_ARG).
 * Errors: PERC_ERR_TRUNCATED (under 8 octets), PERC_ERR_BAD_VERSION,
 * PERC_ERR_NOSPACE (cap < len + 20). */
PERC_MUST_CHECK int perc_srtcp_seal(perc_srtp_session *s, uint8_t *buf, size_t len, size_t cap,
                                    uint32_t index, bool encrypt, size_t *out_len);
/* Verifies (and decrypts) an SRTCP packet; *out_len is the plain RTCP
 * length; *index and *encrypted report the trailer. Errors: PERC_ERR_AUTH,
 * PERC_ERR_TRUNCATED (under 8 + 16 + 4 octets), PERC_ERR_BAD_VERSION. */
PERC_MUST_CHECK int perc_srtcp_open(perc_srtp_session *s, uint8_t *buf, size_t len,
                                    uint32_t *index, bool *encrypted, size_t *out_len);

/* A session with per-SSRC state (RFC 3711 §3.3). */
typedef struct perc_srtp_ctx perc_srtp_ctx;

#define PERC_SRTP_DEFAULT_MAX_STREAMS 256

/* max_streams bounds memory (0 = PERC_SRTP_DEFAULT_MAX_STREAMS, at most
 * 2^30); a packet for one more SSRC gets PERC_ERR_LIMIT. A receiver adds a
 * stream only for a packet that authenticated. Errors: as
 * perc_srtp_session_new, PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_srtp_ctx_new(const perc_srtp_session_keys *keys, size_t max_streams,
                                      perc_srtp_ctx **out);
void perc_srtp_ctx_free(perc_srtp_ctx *ctx);
perc_srtp_session *perc_srtp_ctx_session(perc_srtp_ctx *ctx);

/* Forgets ssrc's stream (a participant left), freeing its slot for
 * another SSRC. PERC_ERR_NOT_FOUND if there is none. */
PERC_MUST_CHECK int perc_srtp_ctx_remove(perc_srtp_ctx *ctx, uint32_t ssrc);

/* Sets the ROC of ssrc's stream before its next packet, in both the sending
 * and the receiving direction (a late joiner learns it from EKT; the tool
 * takes it on the command line). The receiving side starts over: s_l and
 * the replay window are reset. Errors: PERC_ERR_LIMIT (a new SSRC and the
 * table is full), PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_srtp_ctx_set_roc(perc_srtp_ctx *ctx, uint32_t ssrc, uint32_t roc);

/* Sets the SRTCP index the sender gives ssrc's next packet: a sender that
 * restores its state (after a restart, under the same key) must not repeat
 * an index (RFC 3711 §3.4). 2^31 - 1 is the last index a key allows. Errors:
 * PERC_ERR_INVALID_ARG (index above 2^31 - 1), PERC_ERR_LIMIT (a new SSRC
 * and the table is full), PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_srtp_ctx_set_srtcp_index(perc_srtp_ctx *ctx, uint32_t ssrc,
                                                  uint32_t next_index);

/* Sender: ROC follows the SEQ values given (incremented when SEQ wraps).
 * Errors: as perc_srtp_seal, PERC_ERR_LIMIT, PERC_ERR_NOMEM,
 * PERC_ERR_KEY_EXHAUSTED (the 48-bit index would wrap). */
PERC_MUST_CHECK int perc_srtp_protect(perc_srtp_ctx *ctx, uint8_t *buf, size_t len, size_t cap,
                                      size_t *out_len);
/* Receiver: ROC estimated per RFC 3711 §3.3.1, replay window checked
 * (PERC_ERR_REPLAY, PERC_ERR_REPLAY_OLD), state updated only after the tag
 * verified. Errors: as perc_srtp_open, those two, PERC_ERR_LIMIT. */
PERC_MUST_CHECK int perc_srtp_unprotect(perc_srtp_ctx *ctx, uint8_t *buf, size_t len,
                                        size_t *out_len);
/* Sender: SRTCP index per SSRC, starting at 0, E = 1. Errors: as
 * perc_srtcp_seal, PERC_ERR_LIMIT, PERC_ERR_NOMEM, PERC_ERR_KEY_EXHAUSTED
 * (2^31 packets sent). */
PERC_MUST_CHECK int perc_srtcp_protect(perc_srtp_ctx *ctx, uint8_t *buf, size_t len, size_t cap,
                                       size_t *out_len);
/* Receiver: SRTCP replay window per SSRC (RFC 3711 §3.4); E = 0 packets
 * are accepted too. Errors: as perc_srtcp_open, PERC_ERR_REPLAY,
 * PERC_ERR_REPLAY_OLD, PERC_ERR_LIMIT. */
PERC_MUST_CHECK int perc_srtcp_unprotect(perc_srtp_ctx *ctx, uint8_t *buf, size_t len,
                                         size_t *out_len);

#endif
