#!/usr/bin/env bash
# Invariant (RFC 8871 §3.1.1; docs/ARCHITECTURE.md): the Media Distributor's
# library, perc_hop, neither defines nor references any symbol that
# perc_e2e defines (EKT plaintext and key wrap, EKTKey, DTLS with EKT, the
# double transform's inner layer, the KMF). perc-mdd links perc_hop only, so
# it cannot contain the code that handles end-to-end keys.
# usage: hop_has_no_e2e_symbols.sh libperc_hop.a libperc_e2e.a
set -euo pipefail
hop=$1
e2e=$2
e2e_defined=$(nm --defined-only -g "$e2e" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u)
[ -n "$e2e_defined" ] || { echo "FAIL: no symbols found in $e2e"; exit 1; }
hop_all=$(nm -g "$hop" 2>/dev/null | awk '{ print $NF }' | grep -v ':$' | sort -u)
[ -n "$hop_all" ] || { echo "FAIL: no symbols found in $hop"; exit 1; }
shared=$(comm -12 <(echo "$e2e_defined") <(echo "$hop_all"))
if [ -n "$shared" ]; then
    echo "FAIL: perc_hop defines or references end-to-end symbols:"
    echo "$shared" | sed 's/^/  /'
    exit 1
fi
echo "perc_hop: $(echo "$hop_all" | wc -l) symbols, none of the $(echo "$e2e_defined" | wc -l) that perc_e2e defines"
