/* Shared between signaling_table.c (what each message holds) and
 * signaling.c (decoding, validation, encoding).
 *
 * Every message type is a row: its JSON name, kind, who may send it and
 * the list of its members. Every member is a descriptor: its JSON name, a
 * value kind (which grammar and which C type), where it lives in
 * perc_sig_msg and whether it is required. Decoder, encoder, validator and
 * equality all walk the same rows, so they cannot disagree about a
 * message.
 */
#ifndef PERC_SIGNALING_INTERNAL_H
#define PERC_SIGNALING_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/signaling.h"

typedef enum sig_vkind {
    /* const char * members */
    SIG_V_ID,           /* request id: 1..64 printable ASCII */
    SIG_V_NAME,         /* 1..64 of A-Z a-z 0-9 . _ - */
    SIG_V_TEXT,         /* 1..max bytes of UTF-8, no control characters */
    SIG_V_TOKEN,        /* 1..256 printable ASCII */
    SIG_V_OFFER,        /* SDP offer (docs/signaling.md §2.1) */
    SIG_V_ANSWER,       /* SDP answer */
    SIG_V_FINGERPRINT,  /* "sha-256 AB:CD:..." */
    SIG_V_TLS_ID,
    SIG_V_MID,
    SIG_V_CAND_OR_END,  /* "candidate:..." or "" */
    SIG_V_UFRAG,
    SIG_V_PWD,
    /* other C types */
    SIG_V_BOOL,         /* bool; optional ones are encoded only when true */
    SIG_V_TRUE,         /* bool that must be true (ice-lite) */
    SIG_V_U32,          /* uint32_t in [min, max] */
    SIG_V_U16,          /* uint16_t in [min, max] */
    SIG_V_ROLE,         /* perc_sig_role, member `role` */
    SIG_V_CODE,         /* perc_sig_code, member `code` */
    SIG_V_DTLS_ROLE,    /* perc_sig_dtls_role, member `dtls_role` */
    SIG_V_CANDIDATES,   /* `candidates`/`candidate_count`: 1..16 candidates */
    SIG_V_SSRCS,        /* `ssrcs`/`ssrc_count`: 0..64 entries */
} sig_vkind;

typedef struct sig_field {
    const char *json;
    sig_vkind kind;
    size_t off;         /* offsetof(perc_sig_msg, member) for the scalar kinds */
    bool required;
    uint32_t min;       /* numbers */
    uint32_t max;       /* numbers; text length */
} sig_field;

typedef struct sig_type_row {
    const char *name;
    perc_sig_kind kind;
    unsigned senders;
    const sig_field *fields;
    size_t field_count;
} sig_type_row;

/* NULL for NONE or out of range. */
const sig_type_row *sig_type_row_of(perc_sig_type t);

/* hello: whether member `json` is required (1), optional (0) or not
 * allowed (-1) for `role`; members other than the role-dependent ones
 * are 0. */
int sig_hello_rule(perc_sig_role role, const char *json);

#endif
