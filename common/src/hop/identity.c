/* Self-signed identities for pinned DTLS-SRTP peers: see perc/identity.h. */
#include "perc/identity.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/rand.h>

#define DEFAULT_CN "perc-dtls"
#define MAX_CN_LEN 64 /* X.520 ub-common-name */

int perc_identity_generate(const char *common_name, X509 **cert, EVP_PKEY **key)
{
    if (!cert || !key)
        return PERC_ERR_INVALID_ARG;
    const char *cn = common_name ? common_name : DEFAULT_CN;
    size_t cn_len = strlen(cn);
    if (cn_len == 0 || cn_len > MAX_CN_LEN)
        return PERC_ERR_INVALID_ARG;

    int rc = PERC_ERR_CRYPTO;
    X509 *x = NULL;
    BIGNUM *serial = NULL;
    uint8_t sn[16];
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    if (!pkey || !(x = X509_new()))
        goto out;
    /* A positive 128-bit serial (RFC 5280 §4.1.2.2), top bit clear. */
    if (RAND_bytes(sn, sizeof sn) != 1)
        goto out;
    sn[0] = (uint8_t)((sn[0] & 0x7F) | 0x40);
    X509_NAME *name = X509_get_subject_name(x);
    if (!(serial = BN_bin2bn(sn, sizeof sn, NULL)) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
        X509_set_version(x, X509_VERSION_3) != 1 ||
        /* Fixed dates: nobody checks them on a pinned identity, and the
         * library does not read the clock. 99991231235959Z is RFC 5280
         * §4.1.2.5's "no well-defined expiration date". */
        ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "20000101000000Z") != 1 ||
        ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "99991231235959Z") != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
                                   (int)cn_len, -1, 0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pkey) != 1 ||
        X509_sign(x, pkey, EVP_sha256()) <= 0)
        goto out;
    *cert = x;
    *key = pkey;
    x = NULL;
    pkey = NULL;
    rc = PERC_OK;
out:
    BN_free(serial);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

