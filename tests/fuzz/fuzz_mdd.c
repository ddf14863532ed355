/* Fuzz target for the Media Distributor forwarding core (perc/mdd.h).
 *
 * Input: records of [flags][len_hi][len_lo][len octets]. flags bit 0: RTCP
 * (else RTP); bit 1: the target outer-seals the octets itself with the
 * sender's client_write key (RTP: at ROC 0, then a Short EKT field; RTCP:
 * at the record's index), so the deep paths run; bits 2-3: the sender
 * (endpoint 1..3). Every output packet must open under its receiver's
 * server_write key; anything else aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/ekt_field.h"
#include "perc/mdd.h"
#include "perc/srtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NEP 3
#define MAX_RECORDS 16

static perc_srtp_session *g_client[NEP], *g_server[NEP];
static uint8_t g_ck[NEP][16], g_cs[NEP][12], g_sk[NEP][16], g_ss[NEP][12];

static perc_srtp_session *session(const uint8_t *k, const uint8_t *s)
{
    perc_srtp_session_keys keys;
    perc_srtp_session *out = NULL;
    if (perc_srtp_kdf(PERC_AES128_GCM, k, 16, s, 12, &keys) || perc_srtp_session_new(&keys, &out))
        abort();
    perc_srtp_keys_wipe(&keys);
    return out;
}

static void init_once(void)
{
    if (g_client[0])
        return;
    for (int i = 0; i < NEP; i++) {
        for (int j = 0; j < 16; j++) {
            g_ck[i][j] = (uint8_t)(i * 16 + j);
            g_sk[i][j] = (uint8_t)(0x80 + i * 16 + j);
        }
        for (int j = 0; j < 12; j++) {
            g_cs[i][j] = (uint8_t)(0x40 + i * 16 + j);
            g_ss[i][j] = (uint8_t)(0xC0 + i * 16 + j);
        }
        g_client[i] = session(g_ck[i], g_cs[i]);
        g_server[i] = session(g_sk[i], g_ss[i]);
    }
}

static void check_output(perc_mdd *m, uint64_t sender)
{
    static uint8_t out[PERC_MDD_MAX_PACKET + 64];
    static uint8_t tmp[PERC_MDD_MAX_PACKET + 64];
    uint64_t h;
    size_t len;
    while (perc_mdd_pop(m, &h, out, sizeof out, &len) == PERC_OK) {
        if (h < 1 || h > NEP || h == sender)
            abort();
        perc_srtp_session *s = g_server[h - 1];
        uint32_t idx;
        bool enc;
        size_t n;
        memcpy(tmp, out, len);
        if (perc_srtcp_open(s, tmp, len, &idx, &enc, &n) == PERC_OK)
            continue;
        perc_ekt_field f;
        if (perc_ekt_field_find(out, len, &f) != PERC_OK)
            abort();
        bool ok = false;
        for (uint32_t roc = 0; roc <= MAX_RECORDS && !ok; roc++) {
            memcpy(tmp, out, f.srtp_len);
            ok = perc_srtp_open(s, tmp, f.srtp_len, roc, &n) == PERC_OK;
        }
        if (!ok)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[PERC_MDD_MAX_PACKET + 64];
    init_once();
    perc_mdd_config cfg = {.max_endpoints = NEP, .max_ssrcs = 4, .queue_len = 8,
                           .audio_level_id = 1, .last_n = 1, .hold_ns = 1000};
    perc_mdd *m = NULL;
    if (perc_mdd_new(&cfg, &m) != PERC_OK)
        abort();
    for (int i = 0; i < NEP; i++) {
        if (perc_mdd_endpoint_add(m, (uint64_t)i + 1, 0) != PERC_OK ||
            perc_mdd_endpoint_set_keys(m, (uint64_t)i + 1, 0x0009, g_ck[i], 16, g_cs[i], 12, g_sk[i],
                                       16, g_ss[i], 12) != PERC_OK)
            abort();
    }
    size_t pos = 0;
    for (uint32_t rec = 0; rec < MAX_RECORDS && pos + 3 <= size; rec++) {
        uint8_t flags = data[pos];
        size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        if (len > PERC_MDD_MAX_PACKET)
            len = PERC_MDD_MAX_PACKET;
        memcpy(buf, data + pos, len);
        pos += len;
        uint64_t sender = 1u + (uint64_t)((flags >> 2) & 3u) % NEP;
        bool rtcp = flags & 1;
        size_t n = len;
        if (flags & 2) {
            perc_srtp_session *c = g_client[sender - 1];
            size_t e;
            if (rtcp) {
                if (len > PERC_MDD_MAX_PACKET - 20 ||
                    perc_srtcp_seal(c, buf, len, sizeof buf, rec, true, &n) != PERC_OK)
                    n = len;
            } else if (len <= PERC_MDD_MAX_PACKET - 17 &&
                       perc_srtp_seal(c, buf, len, sizeof buf, 0, &n) == PERC_OK &&
                       perc_ekt_short_build(buf + n, sizeof buf - n, &e) == PERC_OK) {
                n += e;
            }
        }
        uint64_t now = (uint64_t)rec * 700;
        int rc = rtcp ? perc_mdd_rtcp_in(m, sender, buf, n, now) : perc_mdd_rtp_in(m, sender, buf, n, now);
        if (rc > 0)
            abort();
        check_output(m, sender);
    }
    uint64_t dl;
    if (perc_mdd_next_timeout(m, &dl) == PERC_OK && perc_mdd_on_timeout(m, dl) != PERC_OK)
        abort();
    perc_mdd_event ev;
    while (perc_mdd_pop_event(m, &ev) == PERC_OK) {
    }
    perc_mdd_free(m);
    return 0;
}
