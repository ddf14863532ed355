/* Fuzz target for the conference focus (perc/focus.h).
 *
 * The input is a script, one step per line: a connection digit 0-7, an
 * operation and its argument:
 *   <d>o          the connection opens
 *   <d>m<text>    it sends <text> (the rest of the line) as one message
 *   <d>c          it closes
 *   <d>t          time advances by <d> * 5 seconds and the timers run
 * The focus is built with auto_create, cascade, a rate limit and a
 * configured conference with a join token, so that every path is reachable.
 * Request ids are deterministic (s1, s2, ...), so seed scripts can answer
 * them.
 * Invariants: no call fails except as documented; every output it queues
 * decodes with perc_sig_decode (the focus never sends an invalid message)
 * and goes to a connection that is open or being closed; the status queries
 * agree with each other; freeing releases everything (ASan). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/focus.h"
#include "perc/signaling.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_random(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    memset(buf, 0x5A, len);
    return 0;
}

static bool open_conns[8];

static void drain(perc_focus *f)
{
    perc_focus_output o;
    while (perc_focus_pop(f, &o) == PERC_OK) {
        if (o.conn >= 8)
            abort();
        if (o.kind == PERC_FOCUS_OUT_CLOSE) {
            open_conns[o.conn] = false;
            continue;
        }
        if (o.kind != PERC_FOCUS_OUT_SEND || !o.text || strlen(o.text) != o.len)
            abort();
        perc_sig_msg m;
        perc_sig_error e;
        if (perc_sig_decode(o.text, o.len, &m, &e) != PERC_OK || m.type != o.type)
            abort();
        if (!(perc_sig_senders(m.type) & PERC_SIG_FROM_SIGNALING))
            abort();
        perc_sig_msg_clear(&m);
    }
}

static void check_queries(const perc_focus *f)
{
    perc_focus_stats st;
    perc_focus_get_stats(f, &st);
    if (st.joined + st.pending > st.participants ||
        st.conferences != perc_focus_conference_count(f))
        abort();
    size_t parts = 0;
    for (size_t i = 0; i < perc_focus_conference_count(f); i++) {
        perc_focus_conference_info ci;
        if (perc_focus_conference_at(f, i, &ci) != PERC_OK || ci.joined > ci.participants)
            abort();
        parts += ci.participants;
        for (size_t k = 0; k < ci.participants; k++) {
            perc_focus_participant_info pi;
            if (perc_focus_participant_at(f, i, k, &pi) != PERC_OK || !pi.id ||
                !perc_focus_part_state_name(pi.state))
                abort();
        }
    }
    if (parts != st.participants)
        abort();
    for (size_t i = 0; i < perc_focus_daemon_count(f); i++) {
        perc_focus_daemon_info di;
        if (perc_focus_daemon_at(f, i, &di) != PERC_OK)
            abort();
        if (di.role == PERC_SIG_ROLE_MDD && di.load > st.participants)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    perc_focus_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.daemon_token = "daemon-secret";
    cfg.auto_create = true;
    cfg.cascade = true;
    cfg.max_msgs_per_sec = 50;
    cfg.max_participants = 6;
    cfg.max_pending = 4;
    cfg.random = fuzz_random;
    perc_focus *f;
    if (perc_focus_new(&cfg, &f) != PERC_OK)
        abort();
    static const char *const TOKENS[] = {"join-token"};
    perc_focus_conference_config cc = {.id = "closed", .tokens = TOKENS, .token_count = 1};
    if (perc_focus_add_conference(f, &cc) != PERC_OK)
        abort();
    memset(open_conns, 0, sizeof open_conns);
    uint64_t now = 1000000000000ull;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        if (line_end - p >= 2 && p[0] >= '0' && p[0] <= '7') {
            uint64_t conn = (uint64_t)(p[0] - '0');
            int rc = PERC_OK;
            switch (p[1]) {
            case 'o':
                rc = perc_focus_open(f, conn, now);
                if (rc == PERC_OK)
                    open_conns[conn] = true;
                else if (rc != PERC_ERR_STATE || !open_conns[conn])
                    abort();
                break;
            case 'm':
                rc = perc_focus_recv(f, conn, p + 2, (size_t)(line_end - p - 2), now);
                if (rc != PERC_OK && !(rc == PERC_ERR_NOT_FOUND && !open_conns[conn]))
                    abort();
                break;
            case 'c':
                rc = perc_focus_closed(f, conn, now);
                if (rc != PERC_OK && !(rc == PERC_ERR_NOT_FOUND && !open_conns[conn]))
                    abort();
                open_conns[conn] = false;
                break;
            case 't':
                now += conn * 5000000000ull;
                if (perc_focus_next_timeout(f) < now - conn * 5000000000ull)
                    abort(); /* a timer was left overdue */
                if (perc_focus_on_timeout(f, now) != PERC_OK)
                    abort();
                if (perc_focus_next_timeout(f) <= now)
                    abort();
                break;
            default:
                break;
            }
            drain(f);
            check_queries(f);
        }
        p = line_end + (nl ? 1 : 0);
    }
    perc_focus_free(f);
    return 0;
}
