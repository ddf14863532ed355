/* The double transform of RFC 8723 (profiles 0x0009 and 0x000A).
 *
 * Media Distributor side (perc_hop): perc_double_rewrite() changes PT, SEQ
 * and the marker of an outer-decrypted packet and records the originals in
 * its OHB (§5.2); perc_double_relay() is outer open + rewrite + outer seal
 * with the outgoing hop's session. Nothing here touches inner keys.
 *
 * Endpoint side (perc_e2e, declared in double_endpoint.h): the key split,
 * the sender's inner-then-outer protection and the receiver's steps.
 */
#ifndef PERC_DOUBLE_H
#define PERC_DOUBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"
#include "perc/ohb.h"
#include "perc/srtp.h"

/* Inner tag + OHB + outer tag at the least (§8). */
#define PERC_DOUBLE_MIN_OVERHEAD (2 * PERC_SRTP_TAG_LEN + 1)
#define PERC_DOUBLE_MAX_OVERHEAD (2 * PERC_SRTP_TAG_LEN + PERC_OHB_MAX_LEN)

/* Header changes a Media Distributor makes on one forwarded packet. */
typedef struct perc_relay_change {
    bool set_pt;
    uint8_t pt;
    bool set_seq;
    uint16_t seq;
    bool set_marker;
    bool marker;
} perc_relay_change;

/* buf holds an outer-decrypted packet (header || inner ciphertext || inner
 * tag || OHB, no outer tag, no EKT field). Applies chg to the header and
 * updates the OHB (which may grow by up to 3 octets or shrink). Fields
 * whose set_* flag is clear keep their value. Errors: PERC_ERR_BAD_OHB /
 * PERC_ERR_TRUNCATED / PERC_ERR_BAD_VERSION for a packet that is not a
 * valid double packet (too short for header, inner tag and OHB),
 * PERC_ERR_NOSPACE when the grown OHB does not fit cap (buf is then
 * unchanged), PERC_ERR_INVALID_ARG for a PT above 127 or NULL pointers. */
PERC_MUST_CHECK int perc_double_rewrite(uint8_t *buf, size_t len, size_t cap,
                                        const perc_relay_change *chg, size_t *out_len);

/* The whole Media Distributor step for one receiver (§5.2): outer open with
 * `in` at in_roc, rewrite (chg may be NULL), outer seal with `out` at
 * out_roc (the ROC of the SEQ as sent). `in` and `out` must be sessions of
 * different keys (§5.2, §9); passing the same session is refused with
 * PERC_ERR_INVALID_ARG. buf holds the packet without its EKT field.
 * Errors: PERC_ERR_AUTH (outer tag does not verify under `in` at in_roc),
 * those of perc_double_rewrite, PERC_ERR_NOSPACE, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_double_relay(perc_srtp_session *in, uint32_t in_roc,
                                      perc_srtp_session *out, uint32_t out_roc,
                                      const perc_relay_change *chg,
                                      uint8_t *buf, size_t len, size_t cap, size_t *out_len);

#endif
