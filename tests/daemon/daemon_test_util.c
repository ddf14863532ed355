/* Helpers for the perc_daemon tests (see daemon_test_util.h). */
#include "daemon_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static gboolean on_guard(gpointer data)
{
    *(gboolean *)data = TRUE;
    return G_SOURCE_REMOVE;
}

gboolean dt_wait(GMainContext *ctx, dt_pred pred, void *data, guint timeout_ms)
{
    gboolean expired = FALSE;
    GSource *guard = g_timeout_source_new(timeout_ms);
    g_source_set_callback(guard, on_guard, &expired, NULL);
    g_source_attach(guard, ctx);
    while (!pred(data) && !expired)
        g_main_context_iteration(ctx, TRUE);
    g_source_destroy(guard);
    g_source_unref(guard);
    return pred(data);
}

typedef struct count_target {
    const int *counter;
    int target;
} count_target;

static gboolean count_reached(void *data)
{
    count_target *t = data;
    return *t->counter >= t->target;
}

gboolean dt_wait_count(GMainContext *ctx, const int *counter, int target, guint timeout_ms)
{
    count_target t = {counter, target};
    return dt_wait(ctx, count_reached, &t, timeout_ms);
}

static gboolean never(void *data)
{
    (void)data;
    return FALSE;
}

void dt_spin(GMainContext *ctx, guint ms)
{
    (void)dt_wait(ctx, never, NULL, ms);
}

static void add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

static dt_ident make_ident(const char *cn, const dt_ident *issuer, int is_ca, const char *dns)
{
    static int64_t serial = 1;
    dt_ident id;
    id.key = EVP_EC_gen("P-256");
    assert_non_null(id.key);
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set_int64(X509_get_serialNumber(x), serial++), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
    assert_int_equal(X509_set_pubkey(x, id.key), 1);
    X509_NAME *name = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)cn, -1, -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert) : name),
                     1);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer ? issuer->cert : x, x, NULL, NULL, 0);
    add_ext(x, &v3, NID_subject_key_identifier, "hash");
    if (issuer)
        add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
    if (is_ca) {
        add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, &v3, NID_key_usage, "critical,digitalSignature");
        add_ext(x, &v3, NID_ext_key_usage, "serverAuth,clientAuth");
        char san[256];
        snprintf(san, sizeof san, "%s%s%sIP:127.0.0.1", dns ? "DNS:" : "", dns ? dns : "",
                 dns ? "," : "");
        add_ext(x, &v3, NID_subject_alt_name, san);
    }
    assert_true(X509_sign(x, issuer ? issuer->key : id.key, EVP_sha256()) > 0);
    id.cert = x;
    return id;
}

dt_ident dt_make_ca(const char *cn)
{
    return make_ident(cn, NULL, 1, NULL);
}

dt_ident dt_make_leaf(const char *cn, const dt_ident *issuer, const char *dns)
{
    return make_ident(cn, issuer, 0, dns);
}

void dt_ident_free(dt_ident *id)
{
    X509_free(id->cert);
    EVP_PKEY_free(id->key);
    id->cert = NULL;
    id->key = NULL;
}

char *dt_tmpdir_new(void)
{
    GError *err = NULL;
    char *dir = g_dir_make_tmp("perc_daemon_test_XXXXXX", &err);
    assert_non_null(dir);
    return dir;
}

/* Removes dir and everything below it (tests make subdirectories:
 * identities, recordings). Symbolic links are removed, not followed. */
static void remove_tree(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d))) {
            char *path = g_build_filename(dir, name, NULL);
            if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK))
                remove_tree(path);
            else
                (void)g_remove(path);
            g_free(path);
        }
        g_dir_close(d);
    }
    (void)g_rmdir(dir);
}

void dt_tmpdir_free(char *dir)
{
    if (!dir)
        return;
    remove_tree(dir);
    g_free(dir);
}

char *dt_write_pem(const char *dir, const char *name, X509 *cert, EVP_PKEY *key)
{
    char *path = g_build_filename(dir, name, NULL);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (cert)
        assert_int_equal(PEM_write_X509(f, cert), 1);
    if (key)
        assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    return path;
}

void dt_stack_pki_make(const char *dir, dt_stack_pki *out)
{
    memset(out, 0, sizeof *out);
    dt_ident ca = dt_make_ca("perc test CA");
    dt_ident kmf = dt_make_leaf("kmf", &ca, "kmf.test");
    dt_ident mdd = dt_make_leaf("mdd", &ca, "mdd.test");
    out->ca_pem = dt_write_pem(dir, "ca.pem", ca.cert, NULL);
    out->kmf_pem = dt_write_pem(dir, "kmf.pem", kmf.cert, NULL);
    out->kmf_key = dt_write_pem(dir, "kmf.key", NULL, kmf.key);
    out->mdd_pem = dt_write_pem(dir, "mdd.pem", mdd.cert, NULL);
    out->mdd_key = dt_write_pem(dir, "mdd.key", NULL, mdd.key);
    /* The certificates are kept; only the keys and the CA go. */
    out->kmf_cert = kmf.cert;
    out->mdd_cert = mdd.cert;
    kmf.cert = NULL;
    mdd.cert = NULL;
    dt_ident_free(&ca);
    dt_ident_free(&kmf);
    dt_ident_free(&mdd);
}

void dt_stack_pki_free(dt_stack_pki *pki)
{
    char **paths[] = {&pki->ca_pem, &pki->kmf_pem, &pki->kmf_key, &pki->mdd_pem, &pki->mdd_key};
    for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
        g_free(*paths[i]);
        *paths[i] = NULL;
    }
    X509_free(pki->kmf_cert);
    X509_free(pki->mdd_cert);
    pki->kmf_cert = NULL;
    pki->mdd_cert = NULL;
}

uint16_t dt_free_tcp_port(void)
{
    GSocket *s = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                              NULL);
    assert_non_null(s);
    GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    GSocketAddress *a = g_inet_socket_address_new(lo, 0);
    assert_true(g_socket_bind(s, a, TRUE, NULL));
    GSocketAddress *local = g_socket_get_local_address(s, NULL);
    uint16_t port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
    g_object_unref(local);
    g_object_unref(a);
    g_object_unref(lo);
    g_socket_close(s, NULL);
    g_object_unref(s);
    return port;
}
