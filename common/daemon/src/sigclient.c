/* perc-signaling client: see perc_daemon/sigclient.h. */
#include "perc_daemon/sigclient.h"

#include <string.h>

#include "perc/secret.h"
#include "perc_daemon/error.h"
#include "perc_daemon/log.h"

struct perc_sigclient {
    perc_ws_client *ws;
    perc_sigclient_callbacks cbs;
    void *user;
    perc_sig_msg hello;         /* strings below are ours */
    char *token, *name, *fingerprint, *conference;
    bool welcomed;
    unsigned seq;
    char hello_id[32];
};

/* One encode buffer for the process: everything runs on one loop. */
static char g_buf[PERC_SIG_MAX_MESSAGE + 1];

bool perc_sigclient_is_welcomed(const perc_sigclient *c) { return c->welcomed; }

const char *perc_sigclient_next_id(perc_sigclient *c, const char *prefix, char *buf, size_t cap)
{
    g_snprintf(buf, cap, "%s-%u", prefix, ++c->seq);
    return buf;
}

bool perc_sigclient_send(perc_sigclient *c, const perc_sig_msg *m)
{
    size_t len = 0;
    perc_sig_error err;
    memset(&err, 0, sizeof err);
    if (perc_sig_encode(m, g_buf, sizeof g_buf, &len, &err) != PERC_OK) {
        char why[256];
        perc_sig_error_text(&err, why, sizeof why);
        perc_log_warn("signaling: cannot encode %s: %s", perc_sig_type_name(m->type), why);
        return false;
    }
    if (!perc_ws_client_is_open(c->ws)) {
        perc_log_warn("signaling: not connected; %s not sent", perc_sig_type_name(m->type));
        return false;
    }
    GError *e = NULL;
    bool ok = perc_ws_client_send(c->ws, g_buf, len, &e);
    /* The hello carries the token: leave nothing of it in the buffer. */
    perc_wipe(g_buf, len);
    if (!ok) {
        perc_log_warn("signaling: %s not sent: %s", perc_sig_type_name(m->type), e->message);
        g_error_free(e);
        return false;
    }
    perc_log_debug("signaling: sent %s", perc_sig_type_name(m->type));
    return true;
}

bool perc_sigclient_send_error(perc_sigclient *c, const char *re, perc_sig_code code,
                               const char *reason, const char *field)
{
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = PERC_SIG_ERROR;
    m.re = (re && re[0]) ? re : NULL;
    m.code = code;
    m.reason = reason;
    m.field = (field && field[0]) ? field : NULL;
    return perc_sigclient_send(c, &m);
}

static void on_open(void *user, perc_ws_client *ws)
{
    (void)ws;
    perc_sigclient *c = user;
    c->welcomed = false;
    perc_log_info("signaling: connected; saying hello as %s%s%s",
                  perc_sig_role_name(c->hello.role), c->name ? " " : "", c->name ? c->name : "");
    perc_sig_msg m = c->hello;
    m.id = perc_sigclient_next_id(c, "hello", c->hello_id, sizeof c->hello_id);
    (void)perc_sigclient_send(c, &m);
}

static void on_message(void *user, perc_ws_client *ws, const char *text, size_t len)
{
    (void)ws;
    perc_sigclient *c = user;
    perc_sig_msg m;
    perc_sig_error err;
    memset(&err, 0, sizeof err);
    if (perc_sig_decode(text, len, &m, &err) != PERC_OK) {
        char why[256];
        perc_sig_error_text(&err, why, sizeof why);
        perc_log_warn("signaling: bad message (%zu bytes): %s", len, why);
        if (err.type != PERC_SIG_ERROR) /* never an error in reply to an error */
            (void)perc_sigclient_send_error(c, err.id, err.code ? err.code : PERC_SIG_E_BAD_MESSAGE,
                                            why, err.field);
        return;
    }
    if (m.type == PERC_SIG_ERROR) {
        perc_log_warn("signaling: error %s%s%s: %s", perc_sig_code_name(m.code),
                      m.re ? " in reply to " : "", m.re ? m.re : "", m.reason);
        if (m.code == PERC_SIG_E_AUTH_FAILED)
            perc_log_error("signaling refused our token (auth-failed)");
    }
    if (m.type == PERC_SIG_WELCOME) {
        if (c->welcomed || !m.re || strcmp(m.re, c->hello_id) != 0) {
            perc_log_warn("signaling: unexpected welcome ignored");
        } else {
            c->welcomed = true;
            perc_log_info("signaling: welcome (session %s)", m.session);
            if (c->cbs.welcome)
                c->cbs.welcome(c->user, c, m.session);
        }
    } else if (!c->welcomed && m.type != PERC_SIG_ERROR) {
        perc_log_warn("signaling: %s before welcome ignored", perc_sig_type_name(m.type));
    } else if (!c->cbs.message || !c->cbs.message(c->user, c, &m)) {
        if (m.type != PERC_SIG_ERROR)
            perc_log_warn("signaling: unexpected %s ignored", perc_sig_type_name(m.type));
        if (perc_sig_type_kind(m.type) == PERC_SIG_KIND_REQUEST)
            (void)perc_sigclient_send_error(c, m.id, PERC_SIG_E_FORBIDDEN,
                                            "not a request this role answers", NULL);
    }
    perc_sig_msg_clear(&m);
}

static void on_close(void *user, perc_ws_client *ws, int code, const char *reason)
{
    (void)ws;
    perc_sigclient *c = user;
    c->welcomed = false;
    perc_log_warn("signaling: connection ended (%d %s); reconnecting", code, reason);
    if (c->cbs.closed)
        c->cbs.closed(c->user, c, code, reason);
}

static const perc_ws_client_callbacks ws_cbs = {on_open, on_message, on_close};

perc_sigclient *perc_sigclient_new(perc_ws_context *ctx, const perc_sigclient_options *opts,
                                   const perc_sigclient_callbacks *cbs, void *user,
                                   GError **error)
{
    if (!opts->hello || opts->hello->type != PERC_SIG_HELLO) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "signaling client: no hello message");
        return NULL;
    }
    perc_sigclient *c = g_new0(perc_sigclient, 1);
    c->cbs = *cbs;
    c->user = user;
    c->hello = *opts->hello;
    c->hello.id = NULL;
    c->token = g_strdup(opts->hello->token);
    c->name = g_strdup(opts->hello->name);
    c->fingerprint = g_strdup(opts->hello->fingerprint);
    c->conference = g_strdup(opts->hello->conference);
    c->hello.token = c->token;
    c->hello.name = c->name;
    c->hello.fingerprint = c->fingerprint;
    c->hello.conference = c->conference;
    perc_ws_client_options o;
    memset(&o, 0, sizeof o);
    o.url = opts->url;
    o.subprotocol = PERC_SIG_SUBPROTOCOL;
    o.ca_file = opts->ca_file;
    o.max_message = PERC_SIG_MAX_MESSAGE;
    o.backoff_initial_ms = opts->backoff_initial_ms ? opts->backoff_initial_ms : 250;
    o.backoff_max_ms = opts->backoff_max_ms ? opts->backoff_max_ms : 10000;
    c->ws = perc_ws_client_new(ctx, &o, &ws_cbs, c, error);
    if (!c->ws) {
        perc_sigclient_free(c);
        return NULL;
    }
    perc_log_info("signaling: connecting to %s", opts->url);
    return c;
}

void perc_sigclient_free(perc_sigclient *c)
{
    if (!c)
        return;
    perc_ws_client_free(c->ws);
    if (c->token)
        perc_wipe(c->token, strlen(c->token));
    g_free(c->token);
    g_free(c->name);
    g_free(c->fingerprint);
    g_free(c->conference);
    g_free(c);
}
