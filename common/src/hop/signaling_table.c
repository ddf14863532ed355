/* The messages of docs/signaling.md §3-§5 as data: names, kinds, senders
 * and members of every type; names of the error codes and roles. */
#include <string.h>

#include "signaling_internal.h"

#define OFF(member) offsetof(perc_sig_msg, member)
#define STR(json, kind, member, req, max) {json, kind, OFF(member), req, 0, max}
#define REQ true
#define OPT false

#define F_ID STR("id", SIG_V_ID, id, REQ, 0)
#define F_RE STR("re", SIG_V_ID, re, REQ, 0)
#define F_CONFERENCE STR("conference", SIG_V_NAME, conference, REQ, 0)
#define F_PARTICIPANT STR("participant", SIG_V_NAME, participant, REQ, 0)
#define F_IDENTITY STR("identity", SIG_V_TEXT, identity, REQ, PERC_SIG_MAX_IDENTITY)
#define F_REASON STR("reason", SIG_V_TEXT, reason, REQ, PERC_SIG_MAX_REASON)
#define F_FINGERPRINT STR("fingerprint", SIG_V_FINGERPRINT, fingerprint, REQ, 0)
#define F_TLS_ID STR("tls-id", SIG_V_TLS_ID, tls_id, REQ, 0)
#define F_MID STR("mid", SIG_V_MID, mid, REQ, 0)
#define F_CANDIDATE STR("candidate", SIG_V_CAND_OR_END, candidate, REQ, 0)
#define F_UFRAG STR("ice-ufrag", SIG_V_UFRAG, ice_ufrag, REQ, 0)
#define F_PWD STR("ice-pwd", SIG_V_PWD, ice_pwd, REQ, 0)
#define F_CANDIDATES {"candidates", SIG_V_CANDIDATES, 0, REQ, 0, 0}
#define F_LINK STR("link", SIG_V_NAME, link, REQ, 0)
#define F_PEER STR("peer", SIG_V_NAME, peer, REQ, 0)

static const sig_field HELLO[] = {
    F_ID,
    {"role", SIG_V_ROLE, 0, REQ, 0, 0},
    STR("token", SIG_V_TOKEN, token, OPT, 0),
    STR("conference", SIG_V_NAME, conference, OPT, 0),
    STR("name", SIG_V_NAME, name, OPT, 0),
    {"capacity", SIG_V_U32, OFF(capacity), OPT, 1, PERC_SIG_MAX_CAPACITY},
    {"cascade", SIG_V_BOOL, OFF(cascade), OPT, 0, 0},
    STR("fingerprint", SIG_V_FINGERPRINT, fingerprint, OPT, 0),
};
static const sig_field WELCOME[] = {F_RE, STR("session", SIG_V_NAME, session, REQ, 0)};
static const sig_field ERROR_[] = {
    STR("re", SIG_V_ID, re, OPT, 0),
    {"code", SIG_V_CODE, 0, REQ, 0, 0},
    F_REASON,
    STR("field", SIG_V_TEXT, field, OPT, PERC_SIG_MAX_FIELD),
};
static const sig_field OK_[] = {F_RE};
static const sig_field JOIN[] = {F_ID, F_CONFERENCE, F_IDENTITY,
                                 STR("sdp", SIG_V_OFFER, sdp, REQ, 0)};
static const sig_field ANSWER[] = {F_RE, STR("sdp", SIG_V_ANSWER, sdp, REQ, 0), F_PARTICIPANT,
                                   STR("mdd", SIG_V_NAME, mdd, REQ, 0)};
static const sig_field CANDIDATE[] = {F_MID, F_CANDIDATE};
static const sig_field LEAVE[] = {F_ID};
static const sig_field JOINED[] = {F_CONFERENCE, F_PARTICIPANT, F_IDENTITY,
                                   {"ssrcs", SIG_V_SSRCS, 0, REQ, 0, 0}};
static const sig_field LEFT[] = {F_CONFERENCE, F_PARTICIPANT, F_REASON};
static const sig_field ENDED[] = {F_CONFERENCE, F_REASON};
static const sig_field PARTICIPANT[] = {F_ID, F_CONFERENCE, F_PARTICIPANT, F_IDENTITY,
                                        F_FINGERPRINT, F_TLS_ID};
static const sig_field ADMIT[] = {F_RE, F_FINGERPRINT, F_TLS_ID};
static const sig_field REFUSE[] = {F_RE, F_REASON};
static const sig_field KEYED[] = {F_CONFERENCE, F_PARTICIPANT};
static const sig_field PARTICIPANT_LEFT[] = {F_CONFERENCE, F_PARTICIPANT, F_REASON};
static const sig_field EPOCH[] = {
    F_CONFERENCE,
    {"spi", SIG_V_U16, OFF(spi), REQ, 0, PERC_SIG_MAX_SPI},
    {"members", SIG_V_U32, OFF(members), REQ, 0, PERC_SIG_MAX_MEMBERS_COUNT},
};
static const sig_field ENDPOINT_OFFER[] = {F_ID, F_CONFERENCE, F_PARTICIPANT,
                                           STR("sdp", SIG_V_OFFER, sdp, REQ, 0)};
static const sig_field ENDPOINT_ANSWER[] = {
    F_RE, F_UFRAG, F_PWD,
    {"ice-lite", SIG_V_TRUE, OFF(ice_lite), REQ, 0, 0},
    F_CANDIDATES,
    {"end-of-candidates", SIG_V_BOOL, OFF(end_of_candidates), OPT, 0, 0},
};
static const sig_field ENDPOINT_CANDIDATE[] = {F_CONFERENCE, F_PARTICIPANT, F_MID, F_CANDIDATE};
static const sig_field ENDPOINT_LEAVE[] = {F_CONFERENCE, F_PARTICIPANT, F_REASON};
static const sig_field ENDPOINT_GONE[] = {F_CONFERENCE, F_PARTICIPANT, F_REASON};
static const sig_field LINK[] = {F_ID, F_CONFERENCE, F_LINK, F_PEER,
                                 {"dtls-role", SIG_V_DTLS_ROLE, 0, REQ, 0, 0}};
static const sig_field LINK_INFO[] = {F_RE, F_UFRAG, F_PWD, F_FINGERPRINT, F_CANDIDATES};
static const sig_field LINK_PEER[] = {F_CONFERENCE, F_LINK, F_PEER, F_UFRAG,
                                      F_PWD, F_FINGERPRINT, F_CANDIDATES};
static const sig_field UNLINK[] = {F_CONFERENCE, F_LINK, F_REASON};

#define E PERC_SIG_FROM_ENDPOINT
#define M PERC_SIG_FROM_MDD
#define K PERC_SIG_FROM_KMF
#define S PERC_SIG_FROM_SIGNALING
#define ROW(name, kind, senders, fields) \
    {name, kind, senders, fields, sizeof fields / sizeof fields[0]}

static const sig_type_row ROWS[PERC_SIG_TYPE_COUNT] = {
    [PERC_SIG_HELLO] = ROW("hello", PERC_SIG_KIND_REQUEST, E | M | K, HELLO),
    [PERC_SIG_WELCOME] = ROW("welcome", PERC_SIG_KIND_REPLY, S, WELCOME),
    [PERC_SIG_ERROR] = ROW("error", PERC_SIG_KIND_REPLY, E | M | K | S, ERROR_),
    [PERC_SIG_OK] = ROW("ok", PERC_SIG_KIND_REPLY, S, OK_),
    [PERC_SIG_JOIN] = ROW("join", PERC_SIG_KIND_REQUEST, E, JOIN),
    [PERC_SIG_ANSWER] = ROW("answer", PERC_SIG_KIND_REPLY, S, ANSWER),
    [PERC_SIG_CANDIDATE] = ROW("candidate", PERC_SIG_KIND_EVENT, E | S, CANDIDATE),
    [PERC_SIG_LEAVE] = ROW("leave", PERC_SIG_KIND_REQUEST, E, LEAVE),
    [PERC_SIG_JOINED] = ROW("joined", PERC_SIG_KIND_EVENT, S, JOINED),
    [PERC_SIG_LEFT] = ROW("left", PERC_SIG_KIND_EVENT, S, LEFT),
    [PERC_SIG_ENDED] = ROW("ended", PERC_SIG_KIND_EVENT, S, ENDED),
    [PERC_SIG_PARTICIPANT] = ROW("participant", PERC_SIG_KIND_REQUEST, S, PARTICIPANT),
    [PERC_SIG_ADMIT] = ROW("admit", PERC_SIG_KIND_REPLY, K, ADMIT),
    [PERC_SIG_REFUSE] = ROW("refuse", PERC_SIG_KIND_REPLY, K, REFUSE),
    [PERC_SIG_KEYED] = ROW("keyed", PERC_SIG_KIND_EVENT, K, KEYED),
    [PERC_SIG_PARTICIPANT_LEFT] = ROW("participant-left", PERC_SIG_KIND_EVENT, S,
                                      PARTICIPANT_LEFT),
    [PERC_SIG_EPOCH] = ROW("epoch", PERC_SIG_KIND_EVENT, K, EPOCH),
    [PERC_SIG_ENDPOINT_OFFER] = ROW("endpoint-offer", PERC_SIG_KIND_REQUEST, S, ENDPOINT_OFFER),
    [PERC_SIG_ENDPOINT_ANSWER] = ROW("endpoint-answer", PERC_SIG_KIND_REPLY, M, ENDPOINT_ANSWER),
    [PERC_SIG_ENDPOINT_CANDIDATE] = ROW("endpoint-candidate", PERC_SIG_KIND_EVENT, M | S,
                                        ENDPOINT_CANDIDATE),
    [PERC_SIG_ENDPOINT_LEAVE] = ROW("endpoint-leave", PERC_SIG_KIND_EVENT, S, ENDPOINT_LEAVE),
    [PERC_SIG_ENDPOINT_GONE] = ROW("endpoint-gone", PERC_SIG_KIND_EVENT, M, ENDPOINT_GONE),
    [PERC_SIG_LINK] = ROW("link", PERC_SIG_KIND_REQUEST, S, LINK),
    [PERC_SIG_LINK_INFO] = ROW("link-info", PERC_SIG_KIND_REPLY, M, LINK_INFO),
    [PERC_SIG_LINK_PEER] = ROW("link-peer", PERC_SIG_KIND_EVENT, S, LINK_PEER),
    [PERC_SIG_UNLINK] = ROW("unlink", PERC_SIG_KIND_EVENT, S, UNLINK),
};

const sig_type_row *sig_type_row_of(perc_sig_type t)
{
    if ((int)t <= (int)PERC_SIG_NONE || (int)t >= (int)PERC_SIG_TYPE_COUNT)
        return NULL;
    return &ROWS[t];
}

const char *perc_sig_type_name(perc_sig_type t)
{
    const sig_type_row *r = sig_type_row_of(t);
    return r ? r->name : NULL;
}

perc_sig_type perc_sig_type_from_name(const char *name)
{
    if (!name)
        return PERC_SIG_NONE;
    for (int t = PERC_SIG_NONE + 1; t < PERC_SIG_TYPE_COUNT; t++) {
        if (strcmp(ROWS[t].name, name) == 0)
            return (perc_sig_type)t;
    }
    return PERC_SIG_NONE;
}

perc_sig_kind perc_sig_type_kind(perc_sig_type t)
{
    const sig_type_row *r = sig_type_row_of(t);
    return r ? r->kind : (perc_sig_kind)0;
}

unsigned perc_sig_senders(perc_sig_type t)
{
    const sig_type_row *r = sig_type_row_of(t);
    return r ? r->senders : 0u;
}

static const char *const CODE_NAMES[PERC_SIG_E_COUNT] = {
    [PERC_SIG_E_BAD_JSON] = "bad-json",
    [PERC_SIG_E_BAD_MESSAGE] = "bad-message",
    [PERC_SIG_E_UNKNOWN_TYPE] = "unknown-type",
    [PERC_SIG_E_TOO_LARGE] = "too-large",
    [PERC_SIG_E_BAD_SDP] = "bad-sdp",
    [PERC_SIG_E_NOT_AUTHENTICATED] = "not-authenticated",
    [PERC_SIG_E_AUTH_FAILED] = "auth-failed",
    [PERC_SIG_E_FORBIDDEN] = "forbidden",
    [PERC_SIG_E_BAD_STATE] = "bad-state",
    [PERC_SIG_E_UNKNOWN_CONFERENCE] = "unknown-conference",
    [PERC_SIG_E_UNKNOWN_PARTICIPANT] = "unknown-participant",
    [PERC_SIG_E_UNKNOWN_REQUEST] = "unknown-request",
    [PERC_SIG_E_DUPLICATE] = "duplicate",
    [PERC_SIG_E_REFUSED] = "refused",
    [PERC_SIG_E_UNAVAILABLE] = "unavailable",
    [PERC_SIG_E_LIMIT] = "limit",
    [PERC_SIG_E_RATE_LIMITED] = "rate-limited",
    [PERC_SIG_E_TIMEOUT] = "timeout",
    [PERC_SIG_E_INTERNAL] = "internal",
};

const char *perc_sig_code_name(perc_sig_code c)
{
    if ((int)c <= (int)PERC_SIG_E_NONE || (int)c >= (int)PERC_SIG_E_COUNT)
        return NULL;
    return CODE_NAMES[c];
}

perc_sig_code perc_sig_code_from_name(const char *name)
{
    if (!name)
        return PERC_SIG_E_NONE;
    for (int c = PERC_SIG_E_NONE + 1; c < PERC_SIG_E_COUNT; c++) {
        if (strcmp(CODE_NAMES[c], name) == 0)
            return (perc_sig_code)c;
    }
    return PERC_SIG_E_NONE;
}

const char *perc_sig_role_name(perc_sig_role r)
{
    switch (r) {
    case PERC_SIG_ROLE_ENDPOINT:
        return "endpoint";
    case PERC_SIG_ROLE_MDD:
        return "mdd";
    case PERC_SIG_ROLE_KMF:
        return "kmf";
    case PERC_SIG_ROLE_NONE:
        break;
    }
    return NULL;
}

/* docs/signaling.md §3: the role-dependent members of hello. */
int sig_hello_rule(perc_sig_role role, const char *json)
{
    static const struct {
        const char *json;
        signed char rule[3];    /* endpoint, mdd, kmf: 1 required, 0 optional, -1 not allowed */
    } RULES[] = {
        {"token", {0, 1, 1}},
        {"conference", {1, -1, -1}},
        {"name", {-1, 1, 1}},
        {"capacity", {-1, 1, -1}},
        {"cascade", {-1, 0, -1}},
        {"fingerprint", {-1, -1, 1}},
    };
    if (role < PERC_SIG_ROLE_ENDPOINT || role > PERC_SIG_ROLE_KMF)
        return 0;
    for (size_t i = 0; i < sizeof RULES / sizeof RULES[0]; i++) {
        if (strcmp(RULES[i].json, json) == 0)
            return RULES[i].rule[role - 1];
    }
    return 0;
}
