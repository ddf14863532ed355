/* Shared between tls.c (contexts, connections, record flow) and
 * tls_verify.c (peer authentication). Not part of the public API. */
#ifndef PERC_TLS_INTERNAL_H
#define PERC_TLS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "perc/tls.h"

#define TLS_REASON_CAP 192

struct perc_tls_ctx {
    unsigned refs;                  /* the caller's handle + one per connection */
    perc_tls_role role;
    SSL_CTX *ssl_ctx;
    bool has_ca;                    /* verify the peer's chain against trust anchors */
    uint8_t (*pins)[PERC_TLS_FINGERPRINT_LEN];
    size_t n_pins;
    char *peer_name;                /* NULL: not checked */
    bool peer_name_is_ip;
    perc_tls_keylog_fn keylog;
    void *keylog_user;
};

struct perc_tls {
    perc_tls_ctx *ctx;              /* counted reference */
    SSL *ssl;
    BIO *rbio;                      /* ciphertext from the peer (owned by ssl) */
    BIO *wbio;                      /* ciphertext to the peer (owned by ssl) */
    perc_tls_state state;
    int fail_err;                   /* in FAILED: returned by every later call */
    bool verify_refused;            /* our verification refused the peer */
    bool have_peer_fp;
    uint8_t peer_fp[PERC_TLS_FINGERPRINT_LEN];
    char reason[TLS_REASON_CAP];
};

/* The SSL_CTX certificate verification callback (SSL_CTX_set_cert_verify_callback):
 * replaces OpenSSL's default so that pins, chain verification and the name
 * check are applied as the context says. arg is the perc_tls_ctx. */
int perc_tls_verify_peer(X509_STORE_CTX *xs, void *arg);

/* Sets tls->reason (printf-style). */
void perc_tls_set_reason(perc_tls *tls, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
