/* Fuzz target for perc-kmf's roster file parser (kmf/roster.c, compiled in
 * here), applied to a fresh KMF core per input. Invariants: a refusal
 * comes with a message that names the option and the file; an accepted
 * roster made exactly the conferences it reports, each explicit and
 * either open or with at most ROSTER_MAX_ENTRIES allow entries; the core
 * never logs an error, and logs single lines only. The input is given without a terminating NUL, in a
 * buffer of exactly its length, so ASan sees any read past it. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../../kmf/roster.c"

#include "perc/dtls.h"
#include "perc/kmf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PATH "fuzz-roster.json"

static perc_dtls_ctx *g_ctx;

static int fixed_random(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    memset(buf, 0x5A, len);
    return 0;
}

static void core_log(void *user, perc_kmf_log_level level, const char *msg)
{
    (void)user;
    if (level >= PERC_KMF_LOG_ERROR)
        abort();
    for (const char *p = msg; *p; p++) /* one line, whatever the file holds */
        if ((unsigned char)*p < 0x20)
            abort();
}

static void init_once(void)
{
    if (g_ctx)
        return;
    perc_log_init("fuzz_roster", PERC_LOG_ERROR); /* the parser's info lines */
    X509 *cert;
    EVP_PKEY *key;
    if (perc_dtls_identity_generate("fuzz-kmf", &cert, &key) != PERC_OK)
        abort();
    perc_dtls_ctx_config cc = {cert, key, NULL, NULL};
    if (perc_dtls_ctx_new(&cc, &g_ctx) != PERC_OK)
        abort();
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void check_accepted(const perc_kmf *k, GHashTable *confs)
{
    perc_kmf_stats st;
    perc_kmf_get_stats(k, &st);
    if (st.conferences != g_hash_table_size(confs))
        abort();
    GHashTableIter it;
    gpointer name;
    g_hash_table_iter_init(&it, confs);
    while (g_hash_table_iter_next(&it, &name, NULL)) {
        perc_kmf_conference_info ci;
        if (perc_kmf_conference_info_get(k, name, &ci) != PERC_OK || !ci.explicit_conference ||
            (ci.open && ci.n_roster != 0) || ci.n_roster > ROSTER_MAX_ENTRIES || ci.members ||
            ci.announced)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);

    perc_kmf_config cfg;
    perc_kmf_config_init(&cfg);
    cfg.dtls_ctx = g_ctx;
    cfg.random = fixed_random;
    cfg.log = core_log;
    cfg.log_level = PERC_KMF_LOG_DEBUG;
    perc_kmf *k;
    if (perc_kmf_new(&cfg, &k) != PERC_OK)
        abort();
    GHashTable *confs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GError *err = NULL;
    if (kmf_roster_apply(k, confs, PATH, text, size, &err)) {
        if (err)
            abort();
        check_accepted(k, confs);
    } else {
        if (!err || !g_str_has_prefix(err->message, "--roster: " PATH ": ") ||
            strlen(err->message) <= strlen("--roster: " PATH ": "))
            abort();
        g_error_free(err);
    }
    g_hash_table_destroy(confs);
    perc_kmf_free(k);
    free(text);
    return 0;
}
