/* RTCP packets as views into the caller's bytes, and their serialization:
 * the compound walk and SR, RR, SDES, BYE, APP of RFC 3550 §6.4-§6.7, the
 * feedback messages of RFC 4585 §6 (generic NACK, PLI) and RFC 5104 §4.3.1
 * (FIR).
 *
 * In PERC, RTCP is protected hop by hop only (RFC 8723 §6, RFC 8871 §7): a
 * Media Distributor decrypts it, may read, rewrite, drop or originate it.
 * These functions work on the plaintext compound, i.e. after SRTCP
 * processing, without the SRTCP trailer.
 *
 * Reading: perc_rtcp_next() walks a compound and yields one perc_rtcp_view
 * per packet (header fields, whole packet, body without padding); the typed
 * parsers take such a view. Every parser rejects what runs past its packet
 * and what is left over inside it.
 *
 * Writing: the typed writers emit one unpadded packet each and compute the
 * length field. perc_rtcp_begin()/perc_rtcp_end() do the same for a packet
 * whose body the caller writes, and can add padding.
 */
#ifndef PERC_RTCP_H
#define PERC_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/bytes.h"
#include "perc/error.h"

#define PERC_RTCP_HEADER_LEN 4
#define PERC_RTCP_MAX_COUNT 31          /* the 5-bit RC / SC / FMT field */
#define PERC_RTCP_REPORT_BLOCK_LEN 24
#define PERC_RTCP_SENDER_INFO_LEN 20
/* Range of the 24-bit signed cumulative number of packets lost. */
#define PERC_RTCP_LOST_MIN (-8388608)
#define PERC_RTCP_LOST_MAX 8388607

/* Packet types (RFC 3550 §12.1, RFC 4585 §6.1, RFC 3611). */
#define PERC_RTCP_SR 200
#define PERC_RTCP_RR 201
#define PERC_RTCP_SDES 202
#define PERC_RTCP_BYE 203
#define PERC_RTCP_APP 204
#define PERC_RTCP_RTPFB 205
#define PERC_RTCP_PSFB 206
#define PERC_RTCP_XR 207

/* Feedback message types (FMT): RFC 4585 §6.2.1, §6.3.1; RFC 5104 §4.2, §4.3. */
#define PERC_RTCP_FMT_NACK 1            /* RTPFB */
#define PERC_RTCP_FMT_TMMBR 3           /* RTPFB */
#define PERC_RTCP_FMT_TMMBN 4           /* RTPFB */
#define PERC_RTCP_FMT_PLI 1             /* PSFB */
#define PERC_RTCP_FMT_FIR 4             /* PSFB */
#define PERC_RTCP_FMT_TSTR 5            /* PSFB */
#define PERC_RTCP_FMT_TSTN 6            /* PSFB */

/* SDES item types (RFC 3550 §6.5). */
#define PERC_RTCP_SDES_END 0
#define PERC_RTCP_SDES_CNAME 1
#define PERC_RTCP_SDES_NAME 2
#define PERC_RTCP_SDES_EMAIL 3
#define PERC_RTCP_SDES_PHONE 4
#define PERC_RTCP_SDES_LOC 5
#define PERC_RTCP_SDES_TOOL 6
#define PERC_RTCP_SDES_NOTE 7
#define PERC_RTCP_SDES_PRIV 8

/* ---- one packet of a compound ---------------------------------------- */

typedef struct perc_rtcp_view {
    bool padding;           /* P */
    uint8_t count;          /* RC, SC, APP subtype or FMT (5 bits) */
    uint8_t pt;             /* packet type */
    perc_view packet;       /* the whole packet: header, body and padding */
    perc_view body;         /* after the 4-octet header, padding removed */
    uint8_t padding_len;    /* 0 when P is clear, else the last octet */
} perc_rtcp_view;

typedef struct perc_rtcp_iter {
    perc_reader r;
    int err;                /* sticky: once a packet fails, the walk stays failed */
} perc_rtcp_iter;

void perc_rtcp_iter_init(perc_rtcp_iter *it, const uint8_t *buf, size_t len);

/* 1 and the next packet, 0 after the last one, or a negative error:
 * PERC_ERR_TRUNCATED (fewer than 4 octets left, or a length field running
 * past the buffer), PERC_ERR_BAD_VERSION (V != 2), PERC_ERR_MALFORMED
 * (padding count 0 or larger than the body, or padding on a packet that is
 * not the last of the compound). After an error every further call returns
 * the same error. Only the header is checked; the body is the typed
 * parsers' business. */
PERC_MUST_CHECK int perc_rtcp_next(perc_rtcp_iter *it, perc_rtcp_view *out);

/* Parses buf as exactly one packet: the errors of perc_rtcp_next(), and
 * PERC_ERR_TRAILING if bytes follow the packet, PERC_ERR_TRUNCATED if buf
 * is empty. */
PERC_MUST_CHECK int perc_rtcp_parse_packet(const uint8_t *buf, size_t len, perc_rtcp_view *out);

/* Walks a whole compound and checks the RFC 3550 §6.1 rule that it starts
 * with an SR or RR (PERC_ERR_MALFORMED otherwise), unless reduced_size is
 * set (RFC 5506 §3 allows a lone packet of any type then). *n_packets (may
 * be NULL) gets the number of packets. Errors: those of perc_rtcp_next(),
 * PERC_ERR_TRUNCATED for an empty buffer. */
PERC_MUST_CHECK int perc_rtcp_check_compound(const uint8_t *buf, size_t len, bool reduced_size,
                                             size_t *n_packets);

/* The SSRC of the packet's originator: the first word of SR, RR, APP, XR
 * and feedback packets, the first chunk's SSRC of SDES, the first SSRC of
 * BYE. PERC_ERR_NOT_FOUND for SDES or BYE with a count of 0,
 * PERC_ERR_TRUNCATED if the body is too short, PERC_ERR_UNSUPPORTED for
 * other packet types (whose layout we do not know). */
PERC_MUST_CHECK int perc_rtcp_sender_ssrc(const perc_rtcp_view *p, uint32_t *out);

/* ---- generic writing --------------------------------------------------- */

typedef struct perc_rtcp_mark {
    size_t at;              /* where the packet's header starts */
} perc_rtcp_mark;

/* Writes a header with a zero length field; the caller writes the body
 * (whole 32-bit words) and then calls perc_rtcp_end(). count > 31 sets
 * PERC_ERR_INVALID_ARG on the writer. */
perc_rtcp_mark perc_rtcp_begin(perc_writer *w, uint8_t count, uint8_t pt);

/* Appends padding_len octets of padding (0 for none; else a multiple of 4,
 * the last octet holding the count, and P is set), then fills in the length
 * field. A body that is not whole words, or a bad padding_len, sets
 * PERC_ERR_INVALID_ARG; a packet over 65536 words sets PERC_ERR_TOO_LARGE. */
void perc_rtcp_end(perc_writer *w, perc_rtcp_mark m, uint8_t padding_len);

/* ---- SR and RR (RFC 3550 §6.4) ---------------------------------------- */

typedef struct perc_rtcp_report_block {
    uint32_t ssrc;              /* the source this block reports on */
    uint8_t fraction_lost;      /* fixed point, 8 fraction bits */
    int32_t cumulative_lost;    /* 24-bit signed: PERC_RTCP_LOST_MIN..MAX */
    uint32_t ext_highest_seq;   /* cycles << 16 | highest SEQ received */
    uint32_t jitter;            /* interarrival jitter, RTP timestamp units */
    uint32_t lsr;               /* middle 32 bits of the last SR's NTP time */
    uint32_t dlsr;              /* delay since that SR, 1/65536 s */
} perc_rtcp_report_block;

typedef struct perc_rtcp_sr {
    uint32_t ssrc;
    uint64_t ntp_timestamp;
    uint32_t rtp_timestamp;
    uint32_t packet_count;
    uint32_t octet_count;
    uint8_t report_count;
    perc_rtcp_report_block reports[PERC_RTCP_MAX_COUNT];
    perc_view ext;              /* profile-specific extension, whole words */
} perc_rtcp_sr;

typedef struct perc_rtcp_rr {
    uint32_t ssrc;
    uint8_t report_count;
    perc_rtcp_report_block reports[PERC_RTCP_MAX_COUNT];
    perc_view ext;              /* profile-specific extension, whole words */
} perc_rtcp_rr;

/* Errors: PERC_ERR_INVALID_ARG if p is not an SR (RR), PERC_ERR_TRUNCATED
 * if the body is shorter than its report count says, PERC_ERR_MALFORMED if
 * the body is not whole words. Octets after the report blocks are the
 * profile-specific extension (RFC 3550 §6.4.1), not an error. */
PERC_MUST_CHECK int perc_rtcp_parse_sr(const perc_rtcp_view *p, perc_rtcp_sr *out);
PERC_MUST_CHECK int perc_rtcp_parse_rr(const perc_rtcp_view *p, perc_rtcp_rr *out);

/* report_count > 31, a cumulative_lost out of range or an ext that is not
 * whole words set PERC_ERR_INVALID_ARG on the writer. */
void perc_rtcp_write_sr(perc_writer *w, const perc_rtcp_sr *sr);
void perc_rtcp_write_rr(perc_writer *w, const perc_rtcp_rr *rr);

/* ---- SDES (RFC 3550 §6.5) ---------------------------------------------- */

typedef struct perc_rtcp_sdes_item {
    uint8_t type;               /* PERC_RTCP_SDES_CNAME, ... (never 0) */
    perc_view value;            /* 0..255 octets, not NUL-terminated */
} perc_rtcp_sdes_item;

typedef struct perc_rtcp_sdes_iter {
    perc_reader r;
    uint8_t chunks_left;
    bool in_chunk;
    int err;
} perc_rtcp_sdes_iter;

/* PERC_ERR_INVALID_ARG if p is not an SDES packet, PERC_ERR_MALFORMED if
 * its body is not whole words. */
PERC_MUST_CHECK int perc_rtcp_sdes_iter_init(perc_rtcp_sdes_iter *it, const perc_rtcp_view *p);

/* 1 and the next chunk's SSRC/CSRC (skipping what is left of the previous
 * chunk), 0 after the last chunk the header's count announces, or an
 * error: PERC_ERR_TRUNCATED, PERC_ERR_MALFORMED (non-null padding after an
 * item list), PERC_ERR_TRAILING (words after the last chunk). Sticky. */
PERC_MUST_CHECK int perc_rtcp_sdes_next_chunk(perc_rtcp_sdes_iter *it, uint32_t *ssrc);

/* 1 and the current chunk's next item, 0 at the end of its item list (the
 * terminating null octets are consumed and checked), or an error as for
 * perc_rtcp_sdes_next_chunk(). 0 also when no chunk is open. */
PERC_MUST_CHECK int perc_rtcp_sdes_next_item(perc_rtcp_sdes_iter *it, perc_rtcp_sdes_item *out);

/* Walks the whole packet; PERC_OK if it is well formed, else the error. */
PERC_MUST_CHECK int perc_rtcp_check_sdes(const perc_rtcp_view *p);

/* The first item of `type` in the chunk of `ssrc` (e.g. its CNAME).
 * PERC_ERR_NOT_FOUND if absent; the errors of the iterator if the packet
 * is malformed before the item is reached. */
PERC_MUST_CHECK int perc_rtcp_sdes_find(const perc_rtcp_view *p, uint32_t ssrc, uint8_t type,
                                        perc_view *value);

/* Writes an SDES packet chunk by chunk:
 *   perc_rtcp_sdes_begin(&s, w);
 *   perc_rtcp_sdes_add_chunk(&s, ssrc);
 *   perc_rtcp_sdes_add_item(&s, PERC_RTCP_SDES_CNAME, cname, len);
 *   perc_rtcp_sdes_end(&s);
 * The item list of each chunk is terminated and null-padded to a word
 * boundary, and the count and length fields are filled in at the end.
 * An item before any chunk, item type 0, a value over 255 octets or a 32nd
 * chunk set PERC_ERR_INVALID_ARG on the writer. */
typedef struct perc_rtcp_sdes_writer {
    perc_writer *w;
    perc_rtcp_mark mark;
    uint8_t chunks;
    bool in_chunk;
} perc_rtcp_sdes_writer;

void perc_rtcp_sdes_begin(perc_rtcp_sdes_writer *s, perc_writer *w);
void perc_rtcp_sdes_add_chunk(perc_rtcp_sdes_writer *s, uint32_t ssrc);
void perc_rtcp_sdes_add_item(perc_rtcp_sdes_writer *s, uint8_t type, const uint8_t *value, size_t len);
void perc_rtcp_sdes_end(perc_rtcp_sdes_writer *s);

/* ---- BYE (RFC 3550 §6.6) ----------------------------------------------- */

typedef struct perc_rtcp_bye {
    uint8_t count;
    uint32_t ssrc[PERC_RTCP_MAX_COUNT];
    bool has_reason;
    perc_view reason;           /* 0..255 octets */
} perc_rtcp_bye;

/* Errors: PERC_ERR_INVALID_ARG (not a BYE), PERC_ERR_TRUNCATED,
 * PERC_ERR_MALFORMED (body not whole words, non-null octets padding the
 * reason), PERC_ERR_TRAILING (words after the padded reason). */
PERC_MUST_CHECK int perc_rtcp_parse_bye(const perc_rtcp_view *p, perc_rtcp_bye *out);

/* count > 31 or a reason over 255 octets set PERC_ERR_INVALID_ARG. */
void perc_rtcp_write_bye(perc_writer *w, const perc_rtcp_bye *bye);

/* ---- APP (RFC 3550 §6.7) ----------------------------------------------- */

typedef struct perc_rtcp_app {
    uint8_t subtype;            /* 5 bits, in the count field */
    uint32_t ssrc;
    uint8_t name[4];            /* four ASCII characters */
    perc_view data;             /* application data, whole words */
} perc_rtcp_app;

/* Errors: PERC_ERR_INVALID_ARG (not APP), PERC_ERR_TRUNCATED,
 * PERC_ERR_MALFORMED (body not whole words). */
PERC_MUST_CHECK int perc_rtcp_parse_app(const perc_rtcp_view *p, perc_rtcp_app *out);

/* subtype > 31 or data that is not whole words set PERC_ERR_INVALID_ARG. */
void perc_rtcp_write_app(perc_writer *w, const perc_rtcp_app *app);

/* ---- feedback (RFC 4585 §6.1, RFC 5104 §4.3.1) ------------------------- */

/* The common feedback layout of PT 205 and 206, any FMT. */
typedef struct perc_rtcp_fb {
    uint8_t pt;                 /* PERC_RTCP_RTPFB or PERC_RTCP_PSFB */
    uint8_t fmt;
    uint32_t sender_ssrc;       /* "SSRC of packet sender" */
    uint32_t media_ssrc;        /* "SSRC of media source" */
    perc_view fci;              /* feedback control information, whole words */
} perc_rtcp_fb;

/* Errors: PERC_ERR_INVALID_ARG (not PT 205/206), PERC_ERR_TRUNCATED (body
 * under 8 octets), PERC_ERR_MALFORMED (body not whole words). */
PERC_MUST_CHECK int perc_rtcp_parse_fb(const perc_rtcp_view *p, perc_rtcp_fb *out);

/* pt not 205/206, fmt > 31 or fci not whole words set PERC_ERR_INVALID_ARG. */
void perc_rtcp_write_fb(perc_writer *w, const perc_rtcp_fb *fb);

/* The SSRCs the feedback is addressed to, which is where a Media
 * Distributor routes it: for FIR, TSTR, TSTN, TMMBR and TMMBN the SSRC of
 * each FCI entry (their header media SSRC is unused, RFC 5104 §4.2, §4.3),
 * for every other FMT the media source SSRC of the header. Writes up to
 * cap SSRCs into out and the number found into *n. Errors: those of
 * perc_rtcp_parse_fb(), PERC_ERR_TRUNCATED (FCI not whole 8-octet entries
 * for the entry-based FMTs), PERC_ERR_NOSPACE (more than cap; *n holds the
 * number needed). */
PERC_MUST_CHECK int perc_rtcp_fb_targets(const perc_rtcp_view *p, uint32_t *out, size_t cap,
                                         size_t *n);

/* Generic NACK, RTPFB FMT 1 (RFC 4585 §6.2.1). */
typedef struct perc_rtcp_nack_item {
    uint16_t pid;               /* a lost SEQ */
    uint16_t blp;               /* bit i set: pid + i + 1 lost too */
} perc_rtcp_nack_item;

typedef struct perc_rtcp_nack {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    size_t count;               /* number of PID/BLP pairs, at least 1 */
    perc_view fci;
} perc_rtcp_nack;

/* Errors: PERC_ERR_INVALID_ARG (not RTPFB FMT 1), PERC_ERR_TRUNCATED,
 * PERC_ERR_MALFORMED (no PID/BLP pair: §6.2.1 wants at least one). */
PERC_MUST_CHECK int perc_rtcp_parse_nack(const perc_rtcp_view *p, perc_rtcp_nack *out);
/* Pair i (i < n->count; out of range gives {0, 0}). */
perc_rtcp_nack_item perc_rtcp_nack_get(const perc_rtcp_nack *n, size_t i);
/* The SEQs one pair reports lost, in order; returns how many (1..17). */
size_t perc_rtcp_nack_expand(perc_rtcp_nack_item item, uint16_t out[17]);
/* n == 0 sets PERC_ERR_INVALID_ARG. */
void perc_rtcp_write_nack(perc_writer *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                          const perc_rtcp_nack_item *items, size_t n);

/* Picture Loss Indication, PSFB FMT 1 (RFC 4585 §6.3.1): no FCI. */
typedef struct perc_rtcp_pli {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
} perc_rtcp_pli;

/* Errors: PERC_ERR_INVALID_ARG (not PSFB FMT 1), PERC_ERR_TRUNCATED,
 * PERC_ERR_MALFORMED, PERC_ERR_TRAILING (an FCI is present). */
PERC_MUST_CHECK int perc_rtcp_parse_pli(const perc_rtcp_view *p, perc_rtcp_pli *out);
void perc_rtcp_write_pli(perc_writer *w, uint32_t sender_ssrc, uint32_t media_ssrc);

/* Full Intra Request, PSFB FMT 4 (RFC 5104 §4.3.1). */
typedef struct perc_rtcp_fir_entry {
    uint32_t ssrc;              /* the media sender asked for a decoder refresh */
    uint8_t seq;                /* command sequence number */
} perc_rtcp_fir_entry;

typedef struct perc_rtcp_fir {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;        /* unused by FIR, sent as 0 */
    size_t count;               /* number of entries, at least 1 */
    perc_view fci;
} perc_rtcp_fir;

/* Errors: PERC_ERR_INVALID_ARG (not PSFB FMT 4), PERC_ERR_TRUNCATED (FCI
 * not whole 8-octet entries), PERC_ERR_MALFORMED (no entry). The reserved
 * bits of each entry are ignored, as §4.3.1.1 asks of receivers. */
PERC_MUST_CHECK int perc_rtcp_parse_fir(const perc_rtcp_view *p, perc_rtcp_fir *out);
/* Entry i (i < f->count; out of range gives {0, 0}). */
perc_rtcp_fir_entry perc_rtcp_fir_get(const perc_rtcp_fir *f, size_t i);
/* Writes media SSRC 0 and zero reserved bits; n == 0 sets
 * PERC_ERR_INVALID_ARG. */
void perc_rtcp_write_fir(perc_writer *w, uint32_t sender_ssrc, const perc_rtcp_fir_entry *entries,
                         size_t n);

#endif
