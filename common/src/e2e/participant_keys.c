/* The participant's keys: the DTLS association with the Key Distributor,
 * the hop-by-hop keys it exports, the EKTKeys it delivers, and our own
 * end-to-end master keys made on every EKTKey. */
#include <string.h>

#include "participant_internal.h"
#include "perc/profile.h"
#include "perc/secret.h"

/* The inner salt is the first 12 octets of the EKTKey's salt (RFC 8871
 * §6.3; spec digest ekt.md §8). */
#define INNER_SALT_LEN PERC_SRTP_SALT_LEN

static void fail_association(perc_participant *p, const char *what, int rc)
{
    pp_log(p, PERC_PARTICIPANT_LOG_ERROR, "%s failed: %s", what, perc_err_name(rc));
    p->state = PERC_PARTICIPANT_FAILED;
    pp_keys_wipe(p);
    if (perc_dtls_close(p->dtls, p->now) != PERC_OK)
        pp_log(p, PERC_PARTICIPANT_LOG_DEBUG, "association already over");
}

static int half_session(const perc_double_half *h, perc_srtp_session **out)
{
    perc_srtp_session_keys sk;
    int rc = perc_double_half_kdf(h, &sk);
    if (rc == PERC_OK)
        rc = perc_srtp_session_new(&sk, out);
    perc_srtp_keys_wipe(&sk);
    return rc;
}

static void on_connected(void *user, perc_dtls *d, uint16_t profile, uint8_t cipher)
{
    perc_participant *p = user;
    perc_double_keying k;
    memset(&k, 0, sizeof k);
    perc_srtp_session_keys rx_keys;
    memset(&rx_keys, 0, sizeof rx_keys);
    int rc = perc_dtls_get_keying(d, &k);
    if (rc)
        goto fail;
    /* RFC 8871 §4.5.1 step 5: we send under client_write's outer half and
     * receive under server_write's. The inner halves stay unused: our
     * end-to-end keys are our own, announced by EKT. */
    if ((rc = half_session(&k.client_write.outer, &p->outer_tx)) ||
        (rc = half_session(&k.server_write.outer, &p->rtcp_rx)) ||
        (rc = perc_double_half_kdf(&k.server_write.outer, &rx_keys)) ||
        (rc = perc_double_rx_new(&rx_keys, p->cfg.max_remote_ssrcs, &p->rx)))
        goto fail;
    p->cipher = k.client_write.inner.cipher;
    p->inner_key_len = k.client_write.inner.key_len;
    perc_ekt_rx_config ec = {.master_key_len = p->inner_key_len, .salt_len = INNER_SALT_LEN};
    if ((rc = perc_ekt_rx_new(&ec, &p->ekt_rx)))
        goto fail;
    perc_double_keying_wipe(&k);
    perc_srtp_keys_wipe(&rx_keys);
    p->profile = profile;
    p->ekt_cipher = cipher;
    p->state = PERC_PARTICIPANT_WAITING_EKT;
    p->rtcp_next_ns = p->now + p->cfg.rtcp_interval_ns;
    pp_log(p, PERC_PARTICIPANT_LOG_INFO, "connected to the key distributor: profile 0x%04x, EKT cipher %u",
           profile, cipher);
    perc_participant_event ev = {.type = PERC_PARTICIPANT_EV_CONNECTED, .profile = profile};
    pp_event(p, &ev);
    return;
fail:
    perc_double_keying_wipe(&k);
    perc_srtp_keys_wipe(&rx_keys);
    fail_association(p, "installing the hop keys", rc);
}

int pp_tx_make_key(perc_participant *p, pp_tx *t)
{
    uint8_t key[PERC_SRTP_MAX_KEY_LEN];
    perc_srtp_session_keys sk;
    memset(&sk, 0, sizeof sk);
    perc_srtp_session *s = NULL;
    int rc;
    /* RFC 8870 §6: a fresh random key, never derived from another one. */
    if (p->cfg.random(p->cfg.random_user, key, p->inner_key_len) != 0) {
        rc = PERC_ERR_RANDOM;
        goto out;
    }
    if ((rc = perc_srtp_kdf(p->cipher, key, p->inner_key_len, p->params.salt, INNER_SALT_LEN, &sk)) ||
        (rc = perc_srtp_session_new(&sk, &s)))
        goto out;
    if ((rc = perc_ekt_tx_set_key(t->ekt, &p->params, key, p->inner_key_len, p->now)))
        goto out;
    /* Mirror the scheduler (perc_ekt_tx_set_key): with a delay, the key
     * that was encrypting keeps doing so until the delay ends, even when
     * another change comes in the middle of it (RFC 8870 §4.3.1). */
    if (t->has_key && p->cfg.ekt.key_change_delay_ns > 0) {
        if (!t->old_active) {
            perc_srtp_session_free(t->inner_old);
            t->inner_old = t->inner_cur;
            t->old_active = true;
        } else {
            perc_srtp_session_free(t->inner_cur);
        }
    } else {
        perc_srtp_session_free(t->inner_cur);
        perc_srtp_session_free(t->inner_old);
        t->inner_old = NULL;
        t->old_active = false;
    }
    t->inner_cur = s;
    s = NULL;
    t->has_key = true;
    t->key_owed = false;
    t->st_out.keys++;
    t->st_out.spi = p->params.spi;
out:
    perc_srtp_session_free(s);
    perc_srtp_keys_wipe(&sk);
    perc_wipe(key, sizeof key);
    return rc;
}

static int on_ekt_key(void *user, perc_dtls *d, const perc_ekt_key_msg *msg)
{
    (void)d;
    perc_participant *p = user;
    if (!p->ekt_rx)
        return -1;
    perc_ekt_params np;
    int rc = perc_ekt_params_from_msg(&np, p->ekt_cipher, msg, p->now);
    if (rc == PERC_OK && np.salt_len < INNER_SALT_LEN)
        rc = PERC_ERR_KEY_LENGTH;
    /* Kept with every earlier set: senders that have not re-keyed yet still
     * use theirs (RFC 8870 §4.3). A different set under a known SPI is
     * refused, which answers the EKTKey with an alert (§4.1, §5.2.2). */
    if (rc == PERC_OK)
        rc = perc_ekt_rx_add_params(p->ekt_rx, &np);
    if (rc) {
        perc_ekt_params_wipe(&np);
        pp_log(p, PERC_PARTICIPANT_LOG_ERROR, "EKTKey refused: %s", perc_err_name(rc));
        return -1;
    }
    perc_ekt_params_wipe(&p->params);
    p->params = np;
    perc_ekt_params_wipe(&np);
    p->has_params = true;
    p->stats.ekt_keys++;
    /* RFC 8870 §4.5, RFC 8871 §4.5.2: a new EKTKey means a new master key
     * for each of our SSRCs. One that cannot be made now (the random
     * source failed) is owed and made before that SSRC's next packet. */
    for (size_t i = 0; i < p->n_tx; i++) {
        pp_tx *t = &p->tx[i];
        t->key_owed = true;
        if ((rc = pp_tx_make_key(p, t)))
            pp_log(p, PERC_PARTICIPANT_LOG_WARNING, "new key for SSRC 0x%08x deferred: %s", t->ssrc,
                   perc_err_name(rc));
    }
    p->state = PERC_PARTICIPANT_READY;
    pp_log(p, PERC_PARTICIPANT_LOG_INFO, "EKTKey SPI %u received; fresh end-to-end keys", p->params.spi);
    perc_participant_event ev = {.type = PERC_PARTICIPANT_EV_EKT_KEY, .spi = p->params.spi};
    pp_event(p, &ev);
    return 0;
}

static void on_closed(void *user, perc_dtls *d, const perc_dtls_close_info *info)
{
    (void)d;
    perc_participant *p = user;
    if (p->state != PERC_PARTICIPANT_CLOSED)
        p->state = info->state == PERC_DTLS_CLOSED ? PERC_PARTICIPANT_CLOSED : PERC_PARTICIPANT_FAILED;
    pp_keys_wipe(p);
    pp_log(p, PERC_PARTICIPANT_LOG_INFO, "association ended: %s (%s)",
           perc_dtls_reason_name(info->reason), info->detail);
    perc_participant_event ev = {.type = PERC_PARTICIPANT_EV_CLOSED, .reason = info->reason};
    pp_event(p, &ev);
}

static bool on_authorize(void *user, const uint8_t fingerprint[PERC_DTLS_FINGERPRINT_LEN],
                         const uint8_t *tls_id, size_t tls_id_len)
{
    perc_participant *p = user;
    if (!p->cfg.authorize_kmf)
        return true;
    return p->cfg.authorize_kmf(p->cfg.authorize_user, fingerprint, tls_id, tls_id_len);
}

int pp_dtls_new(perc_participant *p)
{
    const perc_participant_config *c = &p->cfg;
    perc_dtls_config dc;
    perc_dtls_config_init(&dc, PERC_DTLS_CLIENT);
    if (c->n_profiles > PERC_DTLS_MAX_PROFILES || c->n_ekt_ciphers > PERC_DTLS_MAX_EKT_CIPHERS)
        return PERC_ERR_INVALID_ARG;
    memcpy(dc.srtp_profiles, c->profiles, sizeof dc.srtp_profiles);
    dc.n_srtp_profiles = c->n_profiles;
    memcpy(dc.ekt_ciphers, c->ekt_ciphers, sizeof dc.ekt_ciphers);
    dc.n_ekt_ciphers = c->n_ekt_ciphers;
    int rc;
    if ((rc = perc_dtls_config_set_tls_id(&dc, c->tls_id, c->tls_id_len)) ||
        (rc = perc_dtls_config_expect_peer_tls_id(&dc, c->kmf_tls_id, c->kmf_tls_id_len)))
        return rc;
    if (c->check_kmf_fingerprint)
        perc_dtls_config_expect_peer_fingerprint(&dc, c->kmf_fingerprint);
    if (c->dtls_mtu)
        dc.mtu = c->dtls_mtu;
    dc.handshake_rtx_initial_ms = c->dtls_handshake_rtx_initial_ms;
    perc_dtls_callbacks cbs = {
        .user = p,
        .connected = on_connected,
        .ekt_key = on_ekt_key,
        .closed = on_closed,
        .authorize = on_authorize,
    };
    return perc_dtls_new(c->dtls_ctx, &dc, &cbs, &p->dtls);
}

void pp_keys_wipe(perc_participant *p)
{
    perc_srtp_session_free(p->outer_tx);
    perc_srtp_session_free(p->rtcp_rx);
    perc_double_rx_free(p->rx);
    perc_ekt_rx_free(p->ekt_rx);
    p->outer_tx = NULL;
    p->rtcp_rx = NULL;
    p->rx = NULL;
    p->ekt_rx = NULL;
    perc_ekt_params_wipe(&p->params);
    p->has_params = false;
    /* Our own end-to-end keys live in the sessions and in the EKT
     * schedulers; this is only called when the association is over. */
    for (size_t i = 0; i < p->n_tx; i++) {
        pp_tx_free(&p->tx[i]);
        perc_ekt_tx_free(p->tx[i].ekt);
        p->tx[i].ekt = NULL;
    }
    for (size_t i = 0; i < p->n_remotes; i++) {
        perc_wipe(p->remotes[i].key, sizeof p->remotes[i].key);
        p->remotes[i].has_key = false;
        p->remotes[i].st.has_key = false;
    }
}

int perc_participant_export_ekt_params(const perc_participant *p, perc_ekt_params *out)
{
    if (!p || !out)
        return PERC_ERR_INVALID_ARG;
    if (!p->has_params)
        return PERC_ERR_NO_KEY;
    *out = p->params;
    return PERC_OK;
}
