/* Self-signed ECDSA identities for DTLS-SRTP peers that are pinned by
 * certificate fingerprint (RFC 8122 §5, RFC 8842) rather than chained to a
 * CA: endpoints without a persistent identity, and Media Distributors on a
 * cascade link. In perc_hop, so the Media Distributor can make one. */
#ifndef PERC_IDENTITY_H
#define PERC_IDENTITY_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "perc/error.h"

/* A fresh ECDSA P-256 key and a self-signed certificate for it (SHA-256
 * signature, CN = common_name or "perc-dtls" when NULL, a random 128-bit
 * serial, valid from 2000-01-01 to 9999-12-31: nobody checks dates on a
 * pinned identity, and fixed dates keep the clock out). The caller owns
 * both results (X509_free, EVP_PKEY_free). Errors: PERC_ERR_INVALID_ARG
 * (NULL outputs, common name empty or over 64 characters),
 * PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_identity_generate(const char *common_name, X509 **cert, EVP_PKEY **key);

#endif
