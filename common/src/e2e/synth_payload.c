/* The synthetic test payload (perc/synth_payload.h). */
#include "perc/synth_payload.h"

#include <string.h>

#include <openssl/evp.h>

#include "perc/bytes.h"

static uint8_t filler_octet(uint32_t sender, uint32_t seq, size_t i)
{
    /* Cheap, position dependent and different per (sender, seq), so a
     * filler copied from another packet or shifted by an octet shows. */
    return (uint8_t)(sender * 31u + seq * 7u + (uint32_t)i * 13u);
}

static int checksum(const uint8_t *data, size_t len, uint8_t out[PERC_SYNTH_CHECKSUM_LEN])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 ||
        md_len < PERC_SYNTH_CHECKSUM_LEN)
        return PERC_ERR_CRYPTO;
    memcpy(out, md, PERC_SYNTH_CHECKSUM_LEN);
    return PERC_OK;
}

int perc_synth_encode(const perc_synth_payload *p, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!p || !out || !out_len || p->len < PERC_SYNTH_MIN_LEN || p->len > PERC_SYNTH_MAX_LEN)
        return PERC_ERR_INVALID_ARG;
    if (cap < p->len)
        return PERC_ERR_NOSPACE;
    perc_writer w;
    perc_writer_init(&w, out, cap);
    perc_write_u32(&w, PERC_SYNTH_MAGIC);
    perc_write_u8(&w, PERC_SYNTH_VERSION);
    perc_write_u8(&w, 0);
    perc_write_u16(&w, (uint16_t)p->len);
    perc_write_u32(&w, p->sender_id);
    perc_write_u32(&w, p->seq);
    perc_write_u32(&w, p->rtp_ts);
    size_t filler = p->len - PERC_SYNTH_MIN_LEN;
    for (size_t i = 0; i < filler; i++)
        perc_write_u8(&w, filler_octet(p->sender_id, p->seq, i));
    uint8_t *sum = perc_write_reserve(&w, PERC_SYNTH_CHECKSUM_LEN);
    int rc = perc_writer_finish(&w, out_len);
    if (rc)
        return rc;
    return checksum(out, p->len - PERC_SYNTH_CHECKSUM_LEN, sum);
}

static int fail(perc_synth_payload *out, perc_synth_status *why, perc_synth_status s, int rc)
{
    memset(out, 0, sizeof *out);
    if (why)
        *why = s;
    return rc;
}

int perc_synth_decode(const uint8_t *in, size_t len, perc_synth_payload *out,
                      perc_synth_status *why)
{
    if (why)
        *why = PERC_SYNTH_OK;
    if (!out)
        return PERC_ERR_INVALID_ARG;
    if (!in && len)
        return fail(out, why, PERC_SYNTH_SHORT, PERC_ERR_INVALID_ARG);
    if (len < PERC_SYNTH_MIN_LEN)
        return fail(out, why, PERC_SYNTH_SHORT, PERC_ERR_TRUNCATED);

    perc_reader r;
    perc_reader_init(&r, in, len);
    uint32_t magic, sender, seq, ts;
    uint8_t version, flags;
    uint16_t total;
    /* Lengths were checked above, so the fixed header reads cannot fail;
     * they are checked anyway rather than trusted. */
    if (perc_read_u32(&r, &magic) || perc_read_u8(&r, &version) || perc_read_u8(&r, &flags) ||
        perc_read_u16(&r, &total) || perc_read_u32(&r, &sender) || perc_read_u32(&r, &seq) ||
        perc_read_u32(&r, &ts))
        return fail(out, why, PERC_SYNTH_SHORT, PERC_ERR_TRUNCATED);
    if (magic != PERC_SYNTH_MAGIC)
        return fail(out, why, PERC_SYNTH_BAD_MAGIC, PERC_ERR_MALFORMED);
    if (version != PERC_SYNTH_VERSION)
        return fail(out, why, PERC_SYNTH_BAD_VERSION, PERC_ERR_UNSUPPORTED);
    if (flags != 0)
        return fail(out, why, PERC_SYNTH_BAD_FLAGS, PERC_ERR_MALFORMED);
    if (total < PERC_SYNTH_MIN_LEN || total > PERC_SYNTH_MAX_LEN)
        return fail(out, why, PERC_SYNTH_BAD_LENGTH, PERC_ERR_MALFORMED);
    if (len < total)
        return fail(out, why, PERC_SYNTH_SHORT, PERC_ERR_TRUNCATED);
    if (len > total)
        return fail(out, why, PERC_SYNTH_LONG, PERC_ERR_TRAILING);

    /* The checksum first: a corrupted payload is reported as such, not by
     * whichever field the corruption happened to hit. */
    uint8_t want[PERC_SYNTH_CHECKSUM_LEN];
    int rc = checksum(in, len - PERC_SYNTH_CHECKSUM_LEN, want);
    if (rc)
        return fail(out, why, PERC_SYNTH_BAD_CHECKSUM, rc);
    if (memcmp(want, in + len - PERC_SYNTH_CHECKSUM_LEN, PERC_SYNTH_CHECKSUM_LEN) != 0)
        return fail(out, why, PERC_SYNTH_BAD_CHECKSUM, PERC_ERR_MALFORMED);
    size_t filler = len - PERC_SYNTH_MIN_LEN;
    for (size_t i = 0; i < filler; i++) {
        if (in[PERC_SYNTH_HEADER_LEN + i] != filler_octet(sender, seq, i))
            return fail(out, why, PERC_SYNTH_BAD_FILLER, PERC_ERR_MALFORMED);
    }
    out->sender_id = sender;
    out->seq = seq;
    out->rtp_ts = ts;
    out->len = len;
    return PERC_OK;
}

const char *perc_synth_status_name(perc_synth_status s)
{
    switch (s) {
    case PERC_SYNTH_OK: return "ok";
    case PERC_SYNTH_SHORT: return "short";
    case PERC_SYNTH_LONG: return "long";
    case PERC_SYNTH_BAD_MAGIC: return "bad_magic";
    case PERC_SYNTH_BAD_VERSION: return "bad_version";
    case PERC_SYNTH_BAD_FLAGS: return "bad_flags";
    case PERC_SYNTH_BAD_LENGTH: return "bad_length";
    case PERC_SYNTH_BAD_FILLER: return "bad_filler";
    case PERC_SYNTH_BAD_CHECKSUM: return "bad_checksum";
    }
    return "unknown";
}
