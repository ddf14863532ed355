#!/usr/bin/env bash
# docker/ without a container engine (none runs on CI machines):
#   1. docker-compose validates docker/compose.yml (and with the endpoint
#      count and last-N overridden from the environment);
#   2. every program the Dockerfile builds is a CMake target of this tree,
#      and every file it copies exists;
#   3. docker/gen-certs.sh makes a PKI the daemons accept: both leaf
#      certificates verify against the CA with the DNS names compose uses,
#      keys are private, and a second run keeps the same files.
# Exit 77 (skipped) when docker-compose or openssl is missing.
# usage: test_compose.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
command -v docker-compose >/dev/null || { echo "SKIP: docker-compose not installed"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

cfg=$(docker-compose -f "$src/docker/compose.yml" config) || fail "compose.yml does not validate"
for svc in certs signaling kmf mdd endpoint; do
    grep -q "^  $svc:" <<<"$cfg" || fail "service $svc missing"
done
grep -q "replicas: 3" <<<"$cfg" || fail "default endpoint count is not 3"
cfg5=$(PERC_ENDPOINTS=5 PERC_LAST_N=2 docker-compose -f "$src/docker/compose.yml" config)
grep -q "replicas: 5" <<<"$cfg5" || fail "PERC_ENDPOINTS does not set the endpoint count"
grep -A20 "perc-mdd" <<<"$cfg5" | grep -q "'2'\|- \"2\"\|- 2$" || fail "PERC_LAST_N does not reach perc-mdd"

# Programs the Dockerfile builds must be targets here.
targets=$(ninja -C "$build" -t targets all 2>/dev/null | sed 's/:.*//')
for prog in $(grep -o 'ninja -C /build [a-z -]*' "$src/docker/Dockerfile" | cut -d' ' -f4-); do
    grep -qx "$prog" <<<"$(basename -a $targets)" || fail "Dockerfile builds $prog, not a target of this tree"
done
for f in $(grep -o '^COPY [^ ]*' "$src/docker/Dockerfile" | awk '{print $2}' | grep -v '^--from' | grep -v '^\.$'); do
    [ -e "$src/$f" ] || fail "Dockerfile copies $f, which does not exist"
done

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sh "$src/docker/gen-certs.sh" "$dir/certs" >/dev/null
for name in kmf mdd; do
    openssl verify -CAfile "$dir/certs/ca.pem" "$dir/certs/$name.pem" >/dev/null ||
        fail "$name.pem does not verify against ca.pem"
    openssl x509 -in "$dir/certs/$name.pem" -noout -ext subjectAltName | grep -q "DNS:$name" ||
        fail "$name.pem lacks DNS:$name"
    [ "$(stat -c %a "$dir/certs/$name.key")" = 600 ] || fail "$name.key is not private (0600)"
done
[ ! -e "$dir/certs/ca.key" ] || fail "the CA key was left behind"
before=$(sha256sum "$dir/certs/kmf.pem")
sh "$src/docker/gen-certs.sh" "$dir/certs" >/dev/null
[ "$before" = "$(sha256sum "$dir/certs/kmf.pem")" ] || fail "a second run replaced the certificates"
echo "compose.yml valid; Dockerfile programs are targets; gen-certs PKI verifies"
