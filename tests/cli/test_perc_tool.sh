#!/usr/bin/env bash
# perc-tool as a program: each subcommand with good input (checked against
# vector files) and bad input (one-line error on stderr, the documented exit
# code, nothing on stdout).
# usage: test_perc_tool.sh PATH/TO/perc-tool PATH/TO/tests/vectors
set -u
TOOL=$1
VEC=$2
passed=0
failed=0

# vec FILE VECTOR FIELD: the hex value of FIELD in the block "# vector: VECTOR"
vec() {
    awk -v id="$2" -v f="$3" '
        /^# vector:/ { cur = $3 }
        /^$/ { cur = "" }
        cur == id && $1 == f && $2 == "=" { print $3; exit }' "$VEC/$1"
}

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# expect_out NAME EXPECTED CMD...: exit 0 and stdout equal to EXPECTED
expect_out() {
    local name=$1 want=$2
    shift 2
    local got
    got=$("$@" 2>/tmp/perc_tool_err.$$)
    local rc=$?
    if [ $rc -ne 0 ]; then
        bad "$name: exit $rc: $(cat /tmp/perc_tool_err.$$)"
    elif [ "$got" != "$want" ]; then
        bad "$name: got '$got' want '$want'"
    else
        ok
    fi
}

# expect_fail NAME CODE PATTERN CMD...: exit CODE, empty stdout, exactly one
# line on stderr matching PATTERN
expect_fail() {
    local name=$1 code=$2 pattern=$3
    shift 3
    local got
    got=$("$@" 2>/tmp/perc_tool_err.$$)
    local rc=$?
    local err
    err=$(cat /tmp/perc_tool_err.$$)
    if [ $rc -ne "$code" ]; then
        bad "$name: exit $rc want $code (stderr: $err)"
    elif [ -n "$got" ]; then
        bad "$name: printed '$got' on stdout"
    elif [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || ! printf '%s' "$err" | grep -q -- "$pattern"; then
        bad "$name: stderr '$err' does not match '$pattern' on one line"
    else
        ok
    fi
}

TESTS_DIR=$(dirname "$0")
for part in "$TESTS_DIR"/cli_*.sh; do
    # shellcheck source=/dev/null
    . "$part"
done

rm -f /tmp/perc_tool_err.$$
echo "perc-tool cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
