/* EKTKey over DTLS 1.2 (RFC 8870 §5.2.2, §5.4; DTLS-EKT.md §3).
 *
 * Server: EKTKeys wait in a queue; the head is in flight, sent in its own
 * epoch-1 handshake record with message_seq continuing the server's
 * handshake counter, and retransmitted (same message, new record number)
 * on our RFC 6347 §4.2.4 timer until an ACK names one of its records. Like
 * a DTLS flight, the next EKTKey goes out only after that, so the client
 * sees them in order.
 *
 * Client: an EKTKey is reported once and every copy is ACKed, since the
 * ACK of an earlier copy may have been lost. message_seq tells a
 * retransmission from a new one: the first EKTKey may carry any number
 * (RFC 6347 §4.2.2 restarts the count "in each handshake" and a stock DTLS
 * 1.2 stack expects 0 after Finished, while we, like DTLS 1.3, continue
 * it), each later one a higher number. */
#include <string.h>

#include "dtls_internal.h"
#include "perc/secret.h"

static void ekt_pop(perc_dtls *d)
{
    perc_wipe(&d->ekt[0], sizeof d->ekt[0]);
    memmove(&d->ekt[0], &d->ekt[1], (d->n_ekt - 1) * sizeof d->ekt[0]);
    d->n_ekt--;
    perc_wipe(&d->ekt[d->n_ekt], sizeof d->ekt[0]);
}

void perc_dtls_ekt_clear(perc_dtls *d)
{
    perc_wipe(d->ekt, sizeof d->ekt);
    d->n_ekt = 0;
    d->ekt_deadline = UINT64_MAX;
    d->ekt_retransmits = 0;
}

/* Sends the head of the queue in a fresh record and arms the timer. */
static int ekt_transmit(perc_dtls *d, uint64_t now_ns, bool retransmission)
{
    dtls_ekt_entry *e = &d->ekt[0];
    uint64_t seq;
    int rc = perc_dtls_send_own_record(d, DTLS_CT_HANDSHAKE, e->hs, e->hs_len, &seq);
    if (rc)
        return rc;
    e->sent_seq[e->n_sent % DTLS_EKT_SEQ_RING] = seq;
    e->n_sent++;
    if (retransmission) {
        /* RFC 6347 §4.2.4.1: double the timer, up to the maximum. */
        d->ekt_interval = d->ekt_interval > d->cfg.ekt_rtx_max_ns / 2 ? d->cfg.ekt_rtx_max_ns
                                                                      : 2 * d->ekt_interval;
        d->stats.ekt_key_retransmits++;
    } else {
        d->ekt_interval = d->cfg.ekt_rtx_initial_ns;
        d->ekt_retransmits = 0;
        d->stats.ekt_keys_sent++;
    }
    d->ekt_deadline = now_ns + d->ekt_interval;
    return PERC_OK;
}

int perc_dtls_send_ekt_key(perc_dtls *d, const perc_ekt_key_msg *msg, uint64_t now_ns)
{
    if (!d || !msg)
        return PERC_ERR_INVALID_ARG;
    /* RFC 8870 §5.2.1: without the server's supported_ekt_ciphers no
     * EKTKey may be sent. */
    if (d->cfg.role != PERC_DTLS_SERVER || d->state != PERC_DTLS_CONNECTED || d->ekt_cipher == 0)
        return PERC_ERR_STATE;
    if (msg->key_len != perc_ekt_cipher_key_len(d->ekt_cipher))
        return PERC_ERR_KEY_LENGTH;
    if (msg->salt_len > PERC_EKT_MAX_SALT_LEN || msg->ttl_s > PERC_EKT_MAX_TTL)
        return PERC_ERR_TOO_LARGE;
    if (d->n_ekt >= PERC_DTLS_MAX_EKT_QUEUE)
        return PERC_ERR_LIMIT;

    uint8_t body[DTLS_EKT_KEY_BODY_MAX];
    size_t body_len;
    dtls_ekt_entry *e = &d->ekt[d->n_ekt];
    int rc = perc_ekt_key_msg_encode(msg, body, sizeof body, &body_len);
    if (!rc)
        rc = perc_dtls_hs_encode(PERC_EKT_HS_EKT_KEY, d->hs_write_next, body, body_len, e->hs,
                                 sizeof e->hs, &e->hs_len);
    perc_wipe(body, sizeof body);
    if (rc) {
        perc_wipe(e, sizeof *e);
        return rc;
    }
    e->spi = msg->spi;
    e->message_seq = d->hs_write_next;
    e->n_sent = 0;
    d->n_ekt++;
    /* Sent now unless it waits behind an unacknowledged one. */
    if (d->n_ekt == 1 && (rc = ekt_transmit(d, now_ns, false))) {
        ekt_pop(d);
        return rc;
    }
    /* The message_seq is taken once the EKTKey is queued. */
    d->hs_write_next++;
    return PERC_OK;
}

size_t perc_dtls_ekt_pending(const perc_dtls *d) { return d ? d->n_ekt : 0; }

void perc_dtls_ekt_timer(perc_dtls *d, uint64_t now_ns)
{
    if (d->n_ekt == 0 || now_ns < d->ekt_deadline)
        return;
    if (d->cfg.ekt_max_retransmits && d->ekt_retransmits >= d->cfg.ekt_max_retransmits) {
        perc_dtls_fail(d, PERC_DTLS_REASON_EKT_TIMEOUT, "EKTKey was never acknowledged");
        return;
    }
    d->ekt_retransmits++;
    if (ekt_transmit(d, now_ns, true))
        perc_dtls_fail(d, PERC_DTLS_REASON_INTERNAL, "cannot retransmit the EKTKey");
}

void perc_dtls_ekt_ack_received(perc_dtls *d, const perc_dtls_recnum *nums, size_t n,
                                uint64_t now_ns)
{
    if (d->cfg.role != PERC_DTLS_SERVER || d->state != PERC_DTLS_CONNECTED || d->n_ekt == 0)
        return; /* late or duplicate ACK: nothing in flight */
    const dtls_ekt_entry *e = &d->ekt[0];
    size_t known = e->n_sent < DTLS_EKT_SEQ_RING ? e->n_sent : DTLS_EKT_SEQ_RING;
    bool match = false;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < known; j++)
            match = match || (nums[i].epoch == 1 && nums[i].seq == e->sent_seq[j]);
    if (!match)
        return;
    uint16_t spi = e->spi;
    d->stats.acks_received++;
    ekt_pop(d);
    d->ekt_deadline = UINT64_MAX;
    d->ekt_retransmits = 0;
    if (d->n_ekt > 0 && ekt_transmit(d, now_ns, false)) {
        perc_dtls_fail(d, PERC_DTLS_REASON_INTERNAL, "cannot send the next EKTKey");
        return;
    }
    if (d->cbs.ekt_key_acked)
        d->cbs.ekt_key_acked(d->cbs.user, d, spi);
}

static void send_ack(perc_dtls *d, uint64_t seq)
{
    /* RFC 9147 §7 RecordNumber: DTLS 1.2's 16-bit epoch and 48-bit
     * sequence number, widened. */
    perc_dtls_recnum rn = {1, seq};
    uint8_t body[2 + DTLS_ACK_ENTRY_LEN];
    size_t n;
    if (perc_dtls_ack_encode(&rn, 1, body, sizeof body, &n) ||
        perc_dtls_send_own_record(d, DTLS_CT_ACK, body, n, NULL)) {
        perc_dtls_fail(d, PERC_DTLS_REASON_INTERNAL, "cannot send the ACK");
        return;
    }
    d->stats.acks_sent++;
}

void perc_dtls_ekt_received(perc_dtls *d, uint64_t seq, const perc_dtls_hs *hs, uint64_t now_ns)
{
    (void)now_ns;
    if (d->cfg.role != PERC_DTLS_CLIENT)
        return;
    if (d->state != PERC_DTLS_CONNECTED) {
        /* It overtook the server's Finished. Dropped unanswered: OpenSSL
         * would take it for an unexpected message, and the server sends it
         * again on its timer. */
        return;
    }
    if (d->ekt_cipher == 0) {
        perc_dtls_fail_with_alert(d, DTLS_ALERT_UNEXPECTED_MESSAGE, PERC_DTLS_REASON_EKT,
                                  "EKTKey received without a negotiated EKT cipher");
        return;
    }
    if (d->ekt_rx_any && hs->message_seq <= d->ekt_rx_last_seq) {
        /* A retransmission: our ACK was lost or is late. */
        d->stats.ekt_key_duplicates++;
        send_ack(d, seq);
        return;
    }
    perc_ekt_key_msg msg;
    if (perc_ekt_key_msg_decode(hs->body.ptr, hs->body.len, &msg)) {
        perc_dtls_fail_with_alert(d, DTLS_ALERT_DECODE_ERROR, PERC_DTLS_REASON_EKT,
                                  "malformed EKTKey");
        return;
    }
    if (msg.key_len != perc_ekt_cipher_key_len(d->ekt_cipher)) {
        perc_ekt_key_msg_wipe(&msg);
        perc_dtls_fail_with_alert(d, DTLS_ALERT_ILLEGAL_PARAMETER, PERC_DTLS_REASON_EKT,
                                  "EKTKey length is not the negotiated cipher's");
        return;
    }
    int verdict = d->cbs.ekt_key ? d->cbs.ekt_key(d->cbs.user, d, &msg) : 0;
    perc_ekt_key_msg_wipe(&msg);
    if (d->state != PERC_DTLS_CONNECTED)
        return; /* the callback closed the association */
    if (verdict != 0) {
        perc_dtls_fail_with_alert(d, DTLS_ALERT_ILLEGAL_PARAMETER, PERC_DTLS_REASON_EKT,
                                  "EKTKey refused by the application");
        return;
    }
    d->ekt_rx_any = true;
    d->ekt_rx_last_seq = hs->message_seq;
    d->stats.ekt_keys_received++;
    send_ack(d, seq);
}
