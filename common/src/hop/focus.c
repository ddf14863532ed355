/* The conference focus (perc/focus.h): lifetime, connections and hello,
 * message dispatch, the output queue, timers, queries. The join itself is
 * in focus_join.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "focus_internal.h"
#include "perc/secret.h"

/* ---- small helpers ---- */

void focus_log(perc_focus *f, perc_focus_log_level level, const char *fmt, ...)
{
    if (!f->cfg.log)
        return;
    char line[FOCUS_TEXT_CAP];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    f->cfg.log(f->cfg.log_user, level, line);
}

void focus_num_name(char *out, size_t cap, char prefix, uint64_t n)
{
    snprintf(out, cap, "%c%llu", prefix, (unsigned long long)n);
}

uint64_t focus_name_num(const char *s, char prefix)
{
    if (!s || s[0] != prefix || s[1] < '1' || s[1] > '9')
        return 0;
    uint64_t v = 0;
    for (const char *p = s + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v;
}

void focus_cut(char *dst, size_t max, const char *src)
{
    size_t n = strlen(src);
    if (n > max) {
        n = max;
        /* src[n] is the first byte left out: never a continuation byte. */
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void free_secret(char *s)
{
    if (s) {
        perc_wipe(s, strlen(s));
        free(s);
    }
}

static int grow(void **arr, size_t *cap, size_t count, size_t elem)
{
    if (count < *cap)
        return PERC_OK;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *n = realloc(*arr, ncap * elem);
    if (!n)
        return PERC_ERR_NOMEM;
    *arr = n;
    *cap = ncap;
    return PERC_OK;
}

focus_conn *focus_conn_find(const perc_focus *f, uint64_t id)
{
    for (size_t i = 0; i < f->conn_count; i++) {
        if (f->conns[i]->id == id)
            return f->conns[i];
    }
    return NULL;
}

focus_conn *focus_daemon_find(const perc_focus *f, perc_sig_role role, const char *name)
{
    for (size_t i = 0; i < f->conn_count; i++) {
        focus_conn *c = f->conns[i];
        if (c->role == role && strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

focus_conf *focus_conf_find(const perc_focus *f, const char *id)
{
    for (size_t i = 0; i < f->conf_count; i++) {
        if (strcmp(f->confs[i]->id, id) == 0)
            return f->confs[i];
    }
    return NULL;
}

int focus_conf_add(perc_focus *f, focus_conf *c)
{
    int rc = grow((void **)&f->confs, &f->conf_cap, f->conf_count, sizeof *f->confs);
    if (rc)
        return rc;
    f->confs[f->conf_count++] = c;
    return PERC_OK;
}

static void conf_free(focus_conf *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->token_count; i++)
        free_secret(c->tokens[i]);
    for (size_t i = 0; i < c->part_count; i++)
        focus_part_free(c->parts[i]);
    free(c->parts);
    free(c);
}

void focus_conf_remove(perc_focus *f, focus_conf *c)
{
    for (size_t i = 0; i < f->conf_count; i++) {
        if (f->confs[i] == c) {
            memmove(&f->confs[i], &f->confs[i + 1], (f->conf_count - i - 1) * sizeof *f->confs);
            f->conf_count--;
            break;
        }
    }
    conf_free(c);
}

/* ---- outputs ---- */

static int push(perc_focus *f, perc_focus_out_kind kind, uint64_t conn, perc_sig_type type,
                const char *text, size_t len)
{
    focus_out *o = malloc(sizeof *o + len + 1);
    if (!o)
        return PERC_ERR_NOMEM;
    o->next = NULL;
    o->kind = kind;
    o->conn = conn;
    o->type = type;
    o->len = len;
    if (len)
        memcpy(o->text, text, len);
    o->text[len] = '\0';
    if (f->tail)
        f->tail->next = o;
    else
        f->head = o;
    f->tail = o;
    f->out_count++;
    return PERC_OK;
}

int focus_send(perc_focus *f, uint64_t conn, const perc_sig_msg *m)
{
    perc_sig_error e;
    size_t len = 0;
    int rc = perc_sig_encode(m, f->enc, PERC_SIG_MAX_MESSAGE + 1, &len, &e);
    if (rc) {
        char why[FOCUS_TEXT_CAP];
        perc_sig_error_text(&e, why, sizeof why);
        focus_log(f, PERC_FOCUS_LOG_ERROR, "internal: cannot encode %s for conn %llu: %s",
                  perc_sig_type_name(m->type) ? perc_sig_type_name(m->type) : "?",
                  (unsigned long long)conn, why);
        return rc;
    }
    rc = push(f, PERC_FOCUS_OUT_SEND, conn, m->type, f->enc, len);
    if (rc == PERC_OK) {
        f->stats.msgs_out[m->type]++;
        if (m->type == PERC_SIG_ERROR)
            f->stats.errors_sent++;
    }
    return rc;
}

int focus_send_error(perc_focus *f, uint64_t conn, const char *re, perc_sig_code code,
                     const char *field, const char *reason)
{
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = PERC_SIG_ERROR;
    m.re = re && re[0] ? re : NULL;
    m.code = code;
    /* Reasons are built from peer-supplied text in places; keep them
     * within bounds and valid rather than fail to say anything. */
    char r[PERC_SIG_MAX_REASON + 1];
    focus_cut(r, PERC_SIG_MAX_REASON, reason);
    m.reason = perc_sig_valid_text(r, PERC_SIG_MAX_REASON) ? r : perc_sig_code_name(code);
    m.field = field && perc_sig_valid_text(field, PERC_SIG_MAX_FIELD) ? field : NULL;
    focus_log(f, PERC_FOCUS_LOG_INFO, "conn %llu: error %s%s%s: %s", (unsigned long long)conn,
              perc_sig_code_name(code), m.re ? " re " : "", m.re ? m.re : "", m.reason);
    return focus_send(f, conn, &m);
}

int perc_focus_pop(perc_focus *f, perc_focus_output *out)
{
    if (!f || !out)
        return PERC_ERR_INVALID_ARG;
    free(f->popped);
    f->popped = NULL;
    focus_out *o = f->head;
    if (!o)
        return PERC_ERR_NOT_FOUND;
    f->head = o->next;
    if (!f->head)
        f->tail = NULL;
    f->out_count--;
    f->popped = o;
    out->kind = o->kind;
    out->conn = o->conn;
    out->text = o->kind == PERC_FOCUS_OUT_SEND ? o->text : NULL;
    out->len = o->len;
    out->type = o->type;
    return PERC_OK;
}

size_t perc_focus_pending(const perc_focus *f) { return f ? f->out_count : 0; }

/* ---- lifetime ---- */

int perc_focus_new(const perc_focus_config *cfg, perc_focus **out)
{
    if (!cfg || !out || !cfg->random || !cfg->daemon_token)
        return PERC_ERR_INVALID_ARG;
    size_t tl = strlen(cfg->daemon_token);
    if (tl < 1 || tl > PERC_SIG_MAX_TOKEN)
        return PERC_ERR_INVALID_ARG;
    for (size_t i = 0; i < tl; i++) {
        unsigned char ch = (unsigned char)cfg->daemon_token[i];
        if (ch < 0x21 || ch > 0x7E)
            return PERC_ERR_INVALID_ARG;
    }
    perc_focus *f = calloc(1, sizeof *f);
    if (!f)
        return PERC_ERR_NOMEM;
    f->cfg = *cfg;
    f->daemon_token = dup_str(cfg->daemon_token);
    f->enc = malloc(PERC_SIG_MAX_MESSAGE + 1);
    if (!f->daemon_token || !f->enc) {
        perc_focus_free(f);
        return PERC_ERR_NOMEM;
    }
    f->cfg.daemon_token = NULL;
#define DEFAULT(field, value) \
    if (!f->cfg.field)        \
    f->cfg.field = (value)
    DEFAULT(hello_timeout_ns, PERC_FOCUS_DEFAULT_HELLO_TIMEOUT_NS);
    DEFAULT(join_timeout_ns, PERC_FOCUS_DEFAULT_JOIN_TIMEOUT_NS);
    DEFAULT(key_timeout_ns, PERC_FOCUS_DEFAULT_KEY_TIMEOUT_NS);
    DEFAULT(max_connections, PERC_FOCUS_DEFAULT_MAX_CONNECTIONS);
    DEFAULT(max_conferences, PERC_FOCUS_DEFAULT_MAX_CONFERENCES);
    DEFAULT(max_participants, PERC_FOCUS_DEFAULT_MAX_PARTICIPANTS);
    DEFAULT(max_pending, PERC_FOCUS_DEFAULT_MAX_PENDING);
#undef DEFAULT
    *out = f;
    return PERC_OK;
}

void perc_focus_free(perc_focus *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->conf_count; i++)
        conf_free(f->confs[i]);
    free(f->confs);
    for (size_t i = 0; i < f->conn_count; i++)
        free(f->conns[i]);
    free(f->conns);
    for (size_t i = 0; i < f->link_count; i++)
        focus_link_free(f->links[i]);
    free(f->links);
    while (f->head) {
        focus_out *o = f->head;
        f->head = o->next;
        free(o);
    }
    free(f->popped);
    free_secret(f->daemon_token);
    free(f->enc);
    free(f);
}

int perc_focus_add_conference(perc_focus *f, const perc_focus_conference_config *cc)
{
    if (!f || !cc || !perc_sig_valid_name(cc->id) ||
        cc->token_count > PERC_FOCUS_MAX_JOIN_TOKENS || (cc->token_count && !cc->tokens) ||
        (!cc->open && cc->token_count == 0) || (cc->kmf && !perc_sig_valid_name(cc->kmf)))
        return PERC_ERR_INVALID_ARG;
    for (size_t i = 0; i < cc->token_count; i++) {
        const char *t = cc->tokens[i];
        size_t n = t ? strlen(t) : 0;
        if (n < 1 || n > PERC_SIG_MAX_TOKEN)
            return PERC_ERR_INVALID_ARG;
        for (size_t k = 0; k < n; k++) {
            if ((unsigned char)t[k] < 0x21 || (unsigned char)t[k] > 0x7E)
                return PERC_ERR_INVALID_ARG;
        }
    }
    if (focus_conf_find(f, cc->id))
        return PERC_ERR_STATE;
    if (f->conf_count >= f->cfg.max_conferences)
        return PERC_ERR_LIMIT;
    focus_conf *c = calloc(1, sizeof *c);
    if (!c)
        return PERC_ERR_NOMEM;
    snprintf(c->id, sizeof c->id, "%s", cc->id);
    c->configured = true;
    c->open = cc->open;
    if (cc->kmf)
        snprintf(c->kmf_name, sizeof c->kmf_name, "%s", cc->kmf);
    c->max_participants = cc->max_participants;
    for (size_t i = 0; i < cc->token_count; i++) {
        if (!(c->tokens[i] = dup_str(cc->tokens[i]))) {
            conf_free(c);
            return PERC_ERR_NOMEM;
        }
        c->token_count++;
    }
    int rc = focus_conf_add(f, c);
    if (rc)
        conf_free(c);
    return rc;
}

/* ---- connections ---- */

int perc_focus_open(perc_focus *f, uint64_t conn, uint64_t now)
{
    if (!f)
        return PERC_ERR_INVALID_ARG;
    if (focus_conn_find(f, conn))
        return PERC_ERR_STATE;
    if (f->conn_count >= f->cfg.max_connections)
        return PERC_ERR_LIMIT;
    int rc = grow((void **)&f->conns, &f->conn_cap, f->conn_count, sizeof *f->conns);
    if (rc)
        return rc;
    focus_conn *c = calloc(1, sizeof *c);
    if (!c)
        return PERC_ERR_NOMEM;
    c->id = conn;
    c->opened = now;
    c->session = ++f->session_seq;
    c->window_start = now;
    f->conns[f->conn_count++] = c;
    focus_log(f, PERC_FOCUS_LOG_DEBUG, "conn %llu: open (session c%llu)",
              (unsigned long long)conn, (unsigned long long)c->session);
    return PERC_OK;
}

static void conn_remove(perc_focus *f, focus_conn *c)
{
    for (size_t i = 0; i < f->conn_count; i++) {
        if (f->conns[i] == c) {
            memmove(&f->conns[i], &f->conns[i + 1], (f->conn_count - i - 1) * sizeof *f->conns);
            f->conn_count--;
            break;
        }
    }
    free(c);
}

static int conn_drop(perc_focus *f, focus_conn *c, uint64_t now)
{
    int rc = focus_conn_gone(f, c, now);
    focus_log(f, PERC_FOCUS_LOG_INFO, "conn %llu: closed (%s%s%s)", (unsigned long long)c->id,
              c->role ? perc_sig_role_name(c->role) : "no hello", c->name[0] ? " " : "",
              c->name);
    conn_remove(f, c);
    return rc;
}

int focus_close(perc_focus *f, uint64_t conn, uint64_t now)
{
    focus_conn *c = focus_conn_find(f, conn);
    if (!c)
        return PERC_ERR_NOT_FOUND;
    int rc = push(f, PERC_FOCUS_OUT_CLOSE, conn, PERC_SIG_NONE, "", 0);
    int rc2 = conn_drop(f, c, now);
    return rc ? rc : rc2;
}

int perc_focus_closed(perc_focus *f, uint64_t conn, uint64_t now)
{
    if (!f)
        return PERC_ERR_INVALID_ARG;
    focus_conn *c = focus_conn_find(f, conn);
    if (!c)
        return PERC_ERR_NOT_FOUND;
    return conn_drop(f, c, now);
}

/* ---- hello (docs/signaling.md §3) ---- */

static bool token_ok(const char *want, const char *got)
{
    size_t n = strlen(want);
    return got && strlen(got) == n && perc_secret_equal(want, got, n);
}

static int welcome(perc_focus *f, focus_conn *c, const perc_sig_msg *m)
{
    char session[FOCUS_NAME_CAP];
    focus_num_name(session, sizeof session, 'c', c->session);
    perc_sig_msg w;
    perc_sig_msg_init(&w);
    w.type = PERC_SIG_WELCOME;
    w.re = m->id;
    w.session = session;
    return focus_send(f, c->id, &w);
}

static int on_hello(perc_focus *f, focus_conn *c, const perc_sig_msg *m, uint64_t now)
{
    if (c->role != PERC_SIG_ROLE_NONE)
        return focus_send_error(f, c->id, m->id, PERC_SIG_E_BAD_STATE, NULL,
                                "hello already accepted on this connection");
    if (m->role == PERC_SIG_ROLE_ENDPOINT) {
        focus_conf *conf = focus_conf_find(f, m->conference);
        if (!conf && !f->cfg.auto_create)
            return focus_send_error(f, c->id, m->id, PERC_SIG_E_UNKNOWN_CONFERENCE, "conference",
                                    "no such conference");
        if (conf && !conf->open) {
            bool ok = false;
            for (size_t i = 0; i < conf->token_count; i++)
                ok |= token_ok(conf->tokens[i], m->token);
            if (!ok) {
                int rc = focus_send_error(f, c->id, m->id, PERC_SIG_E_AUTH_FAILED, "token",
                                          m->token ? "wrong join token for this conference"
                                                   : "this conference needs a join token");
                int rc2 = focus_close(f, c->id, now);
                return rc ? rc : rc2;
            }
        }
        c->role = PERC_SIG_ROLE_ENDPOINT;
        snprintf(c->conference, sizeof c->conference, "%s", m->conference);
        focus_log(f, PERC_FOCUS_LOG_INFO, "conn %llu: endpoint for conference %s",
                  (unsigned long long)c->id, c->conference);
        return welcome(f, c, m);
    }
    if (!token_ok(f->daemon_token, m->token)) {
        int rc = focus_send_error(f, c->id, m->id, PERC_SIG_E_AUTH_FAILED, "token",
                                  "wrong daemon token");
        int rc2 = focus_close(f, c->id, now);
        return rc ? rc : rc2;
    }
    if (focus_daemon_find(f, m->role, m->name))
        return focus_send_error(f, c->id, m->id, PERC_SIG_E_DUPLICATE, "name",
                                m->role == PERC_SIG_ROLE_MDD
                                    ? "a media distributor of this name is connected"
                                    : "a key distributor of this name is connected");
    c->role = m->role;
    c->seq = ++f->reg_seq;
    snprintf(c->name, sizeof c->name, "%s", m->name);
    if (m->role == PERC_SIG_ROLE_MDD) {
        c->capacity = m->capacity;
        c->cascade = m->cascade;
        focus_log(f, PERC_FOCUS_LOG_INFO,
                  "conn %llu: media distributor %s registered (capacity %lu%s)",
                  (unsigned long long)c->id, c->name, (unsigned long)c->capacity,
                  c->cascade ? ", cascade" : "");
    } else {
        snprintf(c->fingerprint, sizeof c->fingerprint, "%s", m->fingerprint);
        focus_log(f, PERC_FOCUS_LOG_INFO, "conn %llu: key distributor %s registered (%s)",
                  (unsigned long long)c->id, c->name, c->fingerprint);
    }
    int rc = welcome(f, c, m);
    if (rc == PERC_OK && m->role == PERC_SIG_ROLE_KMF)
        rc = focus_kmf_registered(f, c);
    return rc;
}

/* ---- dispatch ---- */

static unsigned role_bit(perc_sig_role r)
{
    switch (r) {
    case PERC_SIG_ROLE_ENDPOINT:
        return PERC_SIG_FROM_ENDPOINT;
    case PERC_SIG_ROLE_MDD:
        return PERC_SIG_FROM_MDD;
    case PERC_SIG_ROLE_KMF:
        return PERC_SIG_FROM_KMF;
    default:
        return 0;
    }
}

/* Endpoints are limited to max_msgs_per_sec in a one-second window. */
static bool rate_ok(perc_focus *f, focus_conn *c, uint64_t now)
{
    if (!f->cfg.max_msgs_per_sec || c->role == PERC_SIG_ROLE_MDD || c->role == PERC_SIG_ROLE_KMF)
        return true;
    if (now - c->window_start >= PERC_FOCUS_SECOND || now < c->window_start) {
        c->window_start = now;
        c->window_count = 0;
    }
    return ++c->window_count <= f->cfg.max_msgs_per_sec;
}

static int dispatch(perc_focus *f, focus_conn *c, const perc_sig_msg *m, uint64_t now)
{
    if (m->type == PERC_SIG_HELLO)
        return on_hello(f, c, m, now);
    if (c->role == PERC_SIG_ROLE_NONE)
        return focus_send_error(f, c->id, m->id, PERC_SIG_E_NOT_AUTHENTICATED, NULL,
                                "say hello first");
    if (!(perc_sig_senders(m->type) & role_bit(c->role))) {
        char why[FOCUS_TEXT_CAP];
        snprintf(why, sizeof why, "%s may not send %s", perc_sig_role_name(c->role),
                 perc_sig_type_name(m->type));
        return focus_send_error(f, c->id, m->id, PERC_SIG_E_FORBIDDEN, "type", why);
    }
    if (m->type == PERC_SIG_ERROR) {
        if (c->role == PERC_SIG_ROLE_ENDPOINT) {
            /* Never answer an error with an error: that could loop. */
            focus_log(f, PERC_FOCUS_LOG_WARNING, "conn %llu: endpoint reports error %s: %s",
                      (unsigned long long)c->id, perc_sig_code_name(m->code), m->reason);
            return PERC_OK;
        }
        return focus_on_daemon_error(f, c, m, now);
    }
    switch (c->role) {
    case PERC_SIG_ROLE_ENDPOINT:
        if (m->type == PERC_SIG_JOIN)
            return focus_on_join(f, c, m, now);
        if (m->type == PERC_SIG_CANDIDATE)
            return focus_on_candidate(f, c, m);
        return focus_on_leave(f, c, m, now);
    case PERC_SIG_ROLE_KMF:
        return focus_on_kmf(f, c, m, now);
    default:
        return focus_on_mdd(f, c, m, now);
    }
}

int perc_focus_recv(perc_focus *f, uint64_t conn, const char *text, size_t len, uint64_t now)
{
    if (!f || (!text && len))
        return PERC_ERR_INVALID_ARG;
    focus_conn *c = focus_conn_find(f, conn);
    if (!c)
        return PERC_ERR_NOT_FOUND;
    if (!rate_ok(f, c, now)) {
        f->stats.msgs_in_invalid++;
        return focus_send_error(f, conn, NULL, PERC_SIG_E_RATE_LIMITED, NULL,
                                "too many messages per second; this one was not processed");
    }
    perc_sig_msg m;
    perc_sig_error e;
    int rc = perc_sig_decode(text, len, &m, &e);
    if (rc == PERC_ERR_NOMEM || rc == PERC_ERR_INVALID_ARG)
        return rc;
    if (rc) {
        f->stats.msgs_in_invalid++;
        char why[FOCUS_TEXT_CAP];
        perc_sig_error_text(&e, why, sizeof why);
        rc = focus_send_error(f, conn, e.id, e.code, e.field[0] ? e.field : NULL, why);
        if (e.code == PERC_SIG_E_TOO_LARGE) {
            /* The daemon did not keep the bytes: the stream is lost. */
            int rc2 = focus_close(f, conn, now);
            rc = rc ? rc : rc2;
        }
        return rc;
    }
    f->stats.msgs_in[m.type]++;
    rc = dispatch(f, c, &m, now);
    perc_sig_msg_clear(&m);
    return rc;
}

/* ---- timers ---- */

uint64_t perc_focus_next_timeout(const perc_focus *f)
{
    if (!f)
        return UINT64_MAX;
    uint64_t t = focus_part_next_timeout(f);
    for (size_t i = 0; i < f->conn_count; i++) {
        const focus_conn *c = f->conns[i];
        if (c->role == PERC_SIG_ROLE_NONE && c->opened + f->cfg.hello_timeout_ns < t)
            t = c->opened + f->cfg.hello_timeout_ns;
    }
    return t;
}

int perc_focus_on_timeout(perc_focus *f, uint64_t now)
{
    if (!f)
        return PERC_ERR_INVALID_ARG;
    int rc = focus_part_timers(f, now);
    for (size_t i = 0; i < f->conn_count;) {
        focus_conn *c = f->conns[i];
        if (c->role != PERC_SIG_ROLE_NONE || c->opened + f->cfg.hello_timeout_ns > now) {
            i++;
            continue;
        }
        f->stats.timeouts++;
        int r = focus_send_error(f, c->id, NULL, PERC_SIG_E_TIMEOUT, NULL,
                                 "no hello in time; closing");
        int r2 = focus_close(f, c->id, now);
        rc = rc ? rc : r ? r : r2;
    }
    return rc;
}

/* ---- queries ---- */

void perc_focus_get_stats(const perc_focus *f, perc_focus_stats *out)
{
    if (!f || !out)
        return;
    *out = f->stats;
    out->connections = f->conn_count;
    out->endpoints = out->mdds = out->kmfs = 0;
    for (size_t i = 0; i < f->conn_count; i++) {
        switch (f->conns[i]->role) {
        case PERC_SIG_ROLE_ENDPOINT:
            out->endpoints++;
            break;
        case PERC_SIG_ROLE_MDD:
            out->mdds++;
            break;
        case PERC_SIG_ROLE_KMF:
            out->kmfs++;
            break;
        default:
            break;
        }
    }
    out->conferences = f->conf_count;
    out->participants = out->joined = out->pending = 0;
    for (size_t i = 0; i < f->conf_count; i++) {
        const focus_conf *c = f->confs[i];
        out->participants += c->part_count;
        for (size_t k = 0; k < c->part_count; k++) {
            perc_focus_part_state s = c->parts[k]->state;
            out->joined += s == PERC_FOCUS_JOINED;
            out->pending += s == PERC_FOCUS_WAITING_KMF || s == PERC_FOCUS_WAITING_MDD;
        }
    }
}

const char *perc_focus_part_state_name(perc_focus_part_state s)
{
    switch (s) {
    case PERC_FOCUS_WAITING_KMF:
        return "waiting-kmf";
    case PERC_FOCUS_WAITING_MDD:
        return "waiting-mdd";
    case PERC_FOCUS_ANSWERED:
        return "answered";
    case PERC_FOCUS_JOINED:
        return "joined";
    }
    return NULL;
}

size_t perc_focus_conference_count(const perc_focus *f) { return f ? f->conf_count : 0; }

int perc_focus_conference_find(const perc_focus *f, const char *id, size_t *index)
{
    if (!f || !id || !index)
        return PERC_ERR_INVALID_ARG;
    for (size_t i = 0; i < f->conf_count; i++) {
        if (strcmp(f->confs[i]->id, id) == 0) {
            *index = i;
            return PERC_OK;
        }
    }
    return PERC_ERR_NOT_FOUND;
}

int perc_focus_conference_at(const perc_focus *f, size_t index, perc_focus_conference_info *out)
{
    if (!f || !out)
        return PERC_ERR_INVALID_ARG;
    if (index >= f->conf_count)
        return PERC_ERR_NOT_FOUND;
    const focus_conf *c = f->confs[index];
    memset(out, 0, sizeof *out);
    out->id = c->id;
    out->configured = c->configured;
    out->open = c->open;
    out->participants = c->part_count;
    for (size_t k = 0; k < c->part_count; k++)
        out->joined += c->parts[k]->state == PERC_FOCUS_JOINED;
    for (size_t k = 0; k < c->mdd_count; k++) {
        const focus_conn *m = focus_conn_find(f, c->mdds[k]);
        if (m)
            out->mdds[out->mdd_count++] = m->name;
    }
    const focus_conn *kmf = focus_kmf_for(f, c);
    out->kmf = kmf ? kmf->name : NULL;
    out->has_epoch = c->has_epoch;
    out->spi = c->spi;
    out->members = c->members;
    out->epochs = c->epochs;
    for (size_t k = 0; k < f->link_count; k++)
        out->links += f->links[k]->conf == c;
    return PERC_OK;
}

int perc_focus_participant_at(const perc_focus *f, size_t conf, size_t index,
                              perc_focus_participant_info *out)
{
    if (!f || !out)
        return PERC_ERR_INVALID_ARG;
    if (conf >= f->conf_count || index >= f->confs[conf]->part_count)
        return PERC_ERR_NOT_FOUND;
    const focus_part *p = f->confs[conf]->parts[index];
    memset(out, 0, sizeof *out);
    out->id = p->id;
    out->identity = p->identity;
    out->state = p->state;
    out->mdd = p->mdd_told ? p->mdd_name : NULL;
    out->conn = p->endpoint;
    out->since = p->since;
    out->ssrc_count = p->ssrc_count;
    memcpy(out->ssrcs, p->ssrcs, sizeof out->ssrcs);
    return PERC_OK;
}

size_t perc_focus_daemon_count(const perc_focus *f)
{
    size_t n = 0;
    for (size_t i = 0; f && i < f->conn_count; i++)
        n += f->conns[i]->role == PERC_SIG_ROLE_MDD || f->conns[i]->role == PERC_SIG_ROLE_KMF;
    return n;
}

int perc_focus_daemon_at(const perc_focus *f, size_t index, perc_focus_daemon_info *out)
{
    if (!f || !out)
        return PERC_ERR_INVALID_ARG;
    const focus_conn *def = focus_kmf_for(f, NULL);
    for (size_t i = 0; i < f->conn_count; i++) {
        const focus_conn *c = f->conns[i];
        if (c->role != PERC_SIG_ROLE_MDD && c->role != PERC_SIG_ROLE_KMF)
            continue;
        if (index--)
            continue;
        memset(out, 0, sizeof *out);
        out->role = c->role;
        out->name = c->name;
        out->conn = c->id;
        out->capacity = c->capacity;
        out->load = c->load;
        out->cascade = c->cascade;
        out->fingerprint = c->role == PERC_SIG_ROLE_KMF ? c->fingerprint : NULL;
        out->serving = c == def;
        return PERC_OK;
    }
    return PERC_ERR_NOT_FOUND;
}
