/* Helpers for the perc_daemon tests: bounded waits on a GLib main context
 * (a bug must fail the test, never hang it), certificates made in memory
 * and written to a temporary directory. */
#ifndef PERC_DAEMON_TEST_UTIL_H
#define PERC_DAEMON_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* Iterates ctx until pred(data) is true or timeout_ms passed (a g_timeout
 * source on ctx is the guard). Returns pred's final answer. */
typedef gboolean (*dt_pred)(void *data);
gboolean dt_wait(GMainContext *ctx, dt_pred pred, void *data, guint timeout_ms);

/* Waits until *counter >= target. */
gboolean dt_wait_count(GMainContext *ctx, const int *counter, int target, guint timeout_ms);

/* Runs ctx for ms milliseconds (lets pending events settle). */
void dt_spin(GMainContext *ctx, guint ms);

/* A P-256 key and its certificate. */
typedef struct dt_ident {
    X509 *cert;
    EVP_PKEY *key;
} dt_ident;

dt_ident dt_make_ca(const char *cn);
/* An end-entity certificate for serverAuth and clientAuth, with DNS and IP
 * subjectAltNames (dns may be NULL; 127.0.0.1 is always included). */
dt_ident dt_make_leaf(const char *cn, const dt_ident *issuer, const char *dns);
void dt_ident_free(dt_ident *id);

/* A fresh directory under /tmp; dt_tmpdir_free removes it and its files. */
char *dt_tmpdir_new(void);
void dt_tmpdir_free(char *dir);

/* Writes dir/name with the given certificate and/or key (PEM); returns the
 * path (g_free). */
char *dt_write_pem(const char *dir, const char *name, X509 *cert, EVP_PKEY *key);

/* The PKI of a test stack, written to dir: a CA (ca.pem), the KMF's
 * certificate and key (kmf.pem, kmf.key; DNS kmf.test) and the Media
 * Distributor's (mdd.pem, mdd.key; DNS mdd.test), all issued by the CA.
 * The two leaf certificates stay loaded, for their fingerprints.
 * dt_stack_pki_free frees the memory; dt_tmpdir_free removes the files. */
typedef struct dt_stack_pki {
    char *ca_pem, *kmf_pem, *kmf_key, *mdd_pem, *mdd_key;
    X509 *kmf_cert, *mdd_cert;
} dt_stack_pki;

void dt_stack_pki_make(const char *dir, dt_stack_pki *out);
void dt_stack_pki_free(dt_stack_pki *pki);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
uint16_t dt_free_tcp_port(void);

#endif
