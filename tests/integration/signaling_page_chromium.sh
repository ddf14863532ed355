#!/bin/bash
# The perc-signaling status page in headless Chromium: starts perc-signaling,
# joins one endpoint through scripted KMF and MDD clients
# (test_signaling_process --page-client), dumps the DOM Chromium renders
# after the page's script ran, and checks it shows the conference, the
# participant's identity, its MDD and the KMF's key epoch: live data that
# only the page's fetch() of /status.json can have put there.
#
# Usage: signaling_page_chromium.sh PERC-SIGNALING TEST_SIGNALING_PROCESS
# Exit 77 (skipped) when Chromium is missing and cannot be installed (one
# apt-get attempt, as root) or cannot run here; never a pass without it.
set -u
SIGD=$1
CLIENT=$2

find_chromium() {
    for c in /usr/bin/chromium /usr/bin/chromium-browser; do
        if [ -x "$c" ]; then CHROMIUM=$c; return 0; fi
    done
    return 1
}

CHROMIUM=""
if ! find_chromium; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== chromium missing: trying apt-get install chromium (once)"
        export DEBIAN_FRONTEND=noninteractive
        timeout 600 apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
            { timeout 120 apt-get update -qq >/dev/null 2>&1 &&
              timeout 600 apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; }
    fi
    if ! find_chromium; then
        echo "SKIP: chromium is not installed and could not be installed"
        exit 77
    fi
fi
if ! timeout 60 "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1 &&
   ! timeout 60 "$CHROMIUM" --version >/dev/null 2>&1; then
    echo "SKIP: $CHROMIUM does not run here"
    exit 77
fi

TMP=$(mktemp -d)
SIGD_PID=""
CLIENT_PID=""
cleanup() {
    exec 3>&- 2>/dev/null
    [ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null
    [ -n "$SIGD_PID" ] && kill "$SIGD_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- perc-signaling log"; cat "$TMP/sigd.log"; exit 1; }

PERC_SIGNALING_TOKEN=daemon-secret "$SIGD" --listen 127.0.0.1:0 --conference page-conf \
    >"$TMP/sigd.log" 2>&1 &
SIGD_PID=$!
PORT=""
for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*listening on ws:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/sigd.log")
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || fail "perc-signaling did not start"

mkfifo "$TMP/in"
exec 3<>"$TMP/in"
"$CLIENT" --page-client "$PORT" page-conf page-alice 3>&- <"$TMP/in" >"$TMP/client.out" 2>&1 &
CLIENT_PID=$!
for _ in $(seq 1 100); do
    grep -q '^READY' "$TMP/client.out" && break
    sleep 0.1
done
grep -q '^READY' "$TMP/client.out" || { cat "$TMP/client.out"; fail "scripted clients did not join"; }

timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$TMP/profile" \
    --virtual-time-budget=5000 --dump-dom "http://127.0.0.1:$PORT/" 3>&- >"$TMP/dom.html" 2>"$TMP/chromium.err"
rc=$?
[ $rc = 0 ] || { cat "$TMP/chromium.err"; fail "chromium exited with $rc"; }

check() {
    grep -q -- "$1" "$TMP/dom.html" || { cat "$TMP/dom.html"; fail "the rendered page lacks '$1'"; }
}
check 'Conference page-conf'
check '<td>page-alice</td>'
check '<td>joined</td>'
check '<td>mdd-1</td>'
check 'SPI 7, 1 members'
check '1234 audio (mid 0)'
check '<td>kmf-1</td>'

# The participant leaves (the client exits): status.json no longer lists it.
exec 3>&-
wait "$CLIENT_PID"
CLIENT_PID=""
kill -TERM "$SIGD_PID"
wait "$SIGD_PID"
rc=$?
SIGD_PID=""
[ $rc = 0 ] || fail "perc-signaling exited with $rc after SIGTERM"
echo "PASS: the status page rendered live data in $CHROMIUM"
