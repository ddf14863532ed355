#!/bin/sh
# Makes the test PKI a compose deployment needs, once, in DIR (a volume):
#   ca.pem             the CA the tunnel's two ends trust (RFC 9185 §5.2:
#                      the MD <-> KMF tunnel is mutually authenticated TLS)
#   kmf.pem, kmf.key   the KMF's tunnel certificate (DNS name "kmf")
#   mdd.pem, mdd.key   the MDD's tunnel certificate (DNS name "mdd")
# ECDSA P-256 keys; the KMF also uses its key for DTLS with endpoints.
# Existing files are kept, so restarts reuse the same identities.
# usage: perc-gen-certs DIR
set -eu
dir=${1:?usage: perc-gen-certs DIR}
mkdir -p "$dir"
cd "$dir"
if [ -f ca.pem ] && [ -f kmf.pem ] && [ -f mdd.pem ]; then
    echo "perc-gen-certs: $dir already holds the certificates"
    exit 0
fi
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
    -subj "/CN=PERC compose CA" -keyout ca.key -out ca.pem 2>/dev/null
for name in kmf mdd; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=$name" -keyout "$name.key" -out "$name.csr" 2>/dev/null
    printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$name" > "$name.ext"
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
        -extfile "$name.ext" -out "$name.pem" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
done
rm -f ca.key ca.srl
chmod 0644 ca.pem kmf.pem mdd.pem
# Keys stay 0600: every container runs as the image's user "perc".
echo "perc-gen-certs: wrote ca.pem, kmf.pem/key, mdd.pem/key in $dir"
