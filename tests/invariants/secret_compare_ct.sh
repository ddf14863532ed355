#!/usr/bin/env bash
# Invariant I3 (secrets compared in constant time), checked with valgrind's
# memcheck as a taint tracker: see secret_compare_ct.c. The checks must run
# clean, and the control (an early-exit comparison) must be reported, or
# the check proves nothing. Exit 77 = skipped (no valgrind).
# usage: secret_compare_ct.sh secret_compare_ct
set -uo pipefail
bin=$1
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
vg() { valgrind --tool=memcheck --error-exitcode=99 --track-origins=yes "$@" 2>&1; }

out=$(vg "$bin"); rc=$?
if [ "$rc" -ne 0 ]; then
    echo "FAIL: a comparison of secrets depends on their bytes (exit $rc):"
    echo "$out" | grep -v '^==[0-9]*== *$' | head -60
    exit 1
fi
out=$(vg "$bin" --control); rc=$?
if [ "$rc" -ne 99 ] || ! grep -q "depends on uninitialised value" <<<"$out"; then
    echo "FAIL: the control (an early-exit comparison) was not reported (exit $rc): the check cannot fail"
    echo "$out" | head -40
    exit 1
fi
echo "perc_secret_equal and perc_ekt_params_same: no branch or address depends on the secrets;"
echo "the early-exit control was reported ($(grep -c 'depends on uninitialised value' <<<"$out") error(s))"
