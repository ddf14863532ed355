#!/usr/bin/env bash
# Invariant (RFC 8871 §3.1.1, issue "perc-mdd"): the perc-mdd program holds
# hop-by-hop keys only, by construction. Checked on the linked binary: it
# contains no function that libperc's end-to-end library (perc_e2e: EKT
# plaintext and key wrap, EKTKey, DTLS with EKT, the inner layer of the
# double transform, the KMF) defines, and links no such object. A program
# that did link perc_e2e (perc-kmf) is checked too, so the test can fail.
# usage: mdd_binary_has_no_e2e.sh perc-mdd libperc_e2e.a perc-kmf
set -euo pipefail
mdd=$1
e2e=$2
control=$3
e2e_defined=$(nm --defined-only -g "$e2e" 2>/dev/null | awk 'NF == 3 && $2 ~ /[TDBR]/ { print $3 }' | sort -u)
[ -n "$e2e_defined" ] || { echo "FAIL: no symbols found in $e2e"; exit 1; }
defined_in() { nm --defined-only "$1" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u; }
mdd_syms=$(defined_in "$mdd")
[ -n "$mdd_syms" ] || { echo "FAIL: no symbols in $mdd (stripped?)"; exit 1; }
shared=$(comm -12 <(echo "$e2e_defined") <(echo "$mdd_syms"))
if [ -n "$shared" ]; then
    echo "FAIL: $mdd contains end-to-end code:"
    echo "$shared" | sed 's/^/  /' | head -40
    exit 1
fi
# The same check must catch a program that links perc_e2e.
control_shared=$(comm -12 <(echo "$e2e_defined") <(defined_in "$control") | wc -l)
if [ "$control_shared" -eq 0 ]; then
    echo "FAIL: the check found no end-to-end symbol even in $control: it cannot detect any"
    exit 1
fi
echo "perc-mdd: $(echo "$mdd_syms" | wc -l) symbols, none of the $(echo "$e2e_defined" | wc -l) perc_e2e defines ($control has $control_shared of them)"
