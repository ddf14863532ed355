/* Fuzz target for the EKT receiver (perc_ekt_rx_* in perc/ekt.h).
 *
 * The input is a sequence of packets, each framed as
 *   flags(1) ssrc(4) len(2) packet(len)
 * and processed in order against a receiver holding two fixed parameter
 * sets (SPI 1: AESKW128, the EKTKey of the derived vector; SPI 2:
 * AESKW256), with room for only four streams so eviction is exercised.
 * flags bit 0: commit a reported new key; bit 1: forget the SSRC after;
 * bit 2: jump the clock past the TTL of SPI 2.
 *
 * Invariants checked:
 *  - an error reports no kind and no key; packet_usable implies a srtp_len
 *    inside the packet;
 *  - a reported key (NEW_KEY) or repeat really is in the packet: the
 *    field, unwrapped here independently with the set's EKTKey, holds that
 *    key, ROC and the packet's SSRC; the salt is the set's first 12 octets;
 *  - committing a just-reported new key succeeds, and the same field is a
 *    repeat afterwards.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/ekt.h"
#include "perc/keywrap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

#define MS UINT64_C(1000000)
#define S UINT64_C(1000000000)

static perc_ekt_params sets[2];

static void make_sets(void)
{
    uint8_t ek[32], salt[16];
    for (size_t i = 0; i < sizeof ek; i++)
        ek[i] = (uint8_t)(0xc0 + i);
    for (size_t i = 0; i < sizeof salt; i++)
        salt[i] = (uint8_t)(0xa0 + i);
    CHECK(perc_ekt_params_set(&sets[0], PERC_EKT_CIPHER_AESKW_128, ek, 16, salt, 16, 1, 3600, 0) ==
          PERC_OK);
    CHECK(perc_ekt_params_set(&sets[1], PERC_EKT_CIPHER_AESKW_256, ek, 32, salt, 12, 2, 60, 0) ==
          PERC_OK);
}

static const perc_ekt_params *set_of(uint16_t spi)
{
    for (size_t i = 0; i < 2; i++) {
        if (sets[i].spi == spi)
            return &sets[i];
    }
    return NULL;
}

/* Unwraps the packet's field ourselves; the receiver's answer must agree. */
static void verify_claim(const uint8_t *pkt, size_t len, uint32_t ssrc,
                         const perc_ekt_rx_result *res)
{
    perc_ekt_field fld;
    perc_ekt_full f;
    CHECK(perc_ekt_field_find(pkt, len, &fld) == PERC_OK && fld.type == PERC_EKT_TYPE_FULL);
    CHECK(fld.srtp_len == res->srtp_len);
    CHECK(perc_ekt_full_parse(fld.field.ptr, fld.field.len, &f) == PERC_OK);
    CHECK(f.spi == res->spi);
    const perc_ekt_params *p = set_of(f.spi);
    CHECK(p != NULL);
    uint8_t pt[PERC_EKT_CIPHERTEXT_MAX];
    size_t n = 0;
    CHECK(perc_keywrap_unwrap(p->key, p->key_len, f.ciphertext.ptr, f.ciphertext.len, pt, sizeof pt,
                              &n) == PERC_OK);
    CHECK(n == 1 + 16 + 8 && pt[0] == 16);
    CHECK(perc_load_u32(pt + 17) == ssrc);
    CHECK(perc_load_u32(pt + 21) == res->roc);
    if (res->kind == PERC_EKT_RX_FULL_NEW_KEY) {
        CHECK(res->master_key_len == 16 && memcmp(res->master_key, pt + 1, 16) == 0);
        CHECK(res->salt_len == 12 && memcmp(res->salt, p->salt, 12) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        make_sets();
        ready = true;
    }
    perc_ekt_rx *rx = NULL;
    perc_ekt_rx_config cfg = {.master_key_len = 16, .salt_len = 12, .max_streams = 4};
    CHECK(perc_ekt_rx_new(&cfg, &rx) == PERC_OK);
    CHECK(perc_ekt_rx_add_params(rx, &sets[0]) == PERC_OK);
    CHECK(perc_ekt_rx_add_params(rx, &sets[1]) == PERC_OK);

    perc_reader r;
    perc_reader_init(&r, data, size);
    uint64_t now = 0;
    for (;;) {
        uint8_t flags;
        uint32_t ssrc;
        perc_view pkt;
        if (perc_read_u8(&r, &flags) || perc_read_u32(&r, &ssrc) ||
            perc_read_vector(&r, 2, &pkt))
            break;
        now += (flags & 4) ? 61 * S : 10 * MS;

        perc_ekt_rx_result res;
        int rc = perc_ekt_rx_process(rx, pkt.ptr, pkt.len, ssrc, now, &res);
        if (rc != PERC_OK) {
            CHECK(rc < 0);
            CHECK(res.kind == PERC_EKT_RX_NONE && res.master_key_len == 0);
        }
        if (res.packet_usable)
            CHECK(res.srtp_len < pkt.len);
        if (rc == PERC_OK && (res.kind == PERC_EKT_RX_FULL_NEW_KEY ||
                              res.kind == PERC_EKT_RX_FULL_REPEAT)) {
            CHECK(res.ssrc == ssrc);
            verify_claim(pkt.ptr, pkt.len, ssrc, &res);
        }
        if (rc == PERC_OK && res.kind == PERC_EKT_RX_FULL_NEW_KEY && (flags & 1)) {
            CHECK(perc_ekt_rx_commit(rx, res.spi, ssrc, res.epoch) == PERC_OK);
            perc_ekt_rx_result again;
            CHECK(perc_ekt_rx_process(rx, pkt.ptr, pkt.len, ssrc, now, &again) == PERC_OK);
            CHECK(again.kind == PERC_EKT_RX_FULL_REPEAT);
        }
        if (flags & 2)
            perc_ekt_rx_forget_ssrc(rx, ssrc);
        perc_ekt_rx_result_wipe(&res);
    }
    perc_ekt_rx_free(rx);
    return 0;
}
