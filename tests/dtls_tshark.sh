#!/usr/bin/env bash
# The DTLS adapter on the wire (DTLS-EKT.md §4): runs test_dtls_udp (a
# handshake, an EKTKey, its ACK and close_notify over UDP on loopback) under
# a tshark capture with a key log, then has tshark decrypt the capture and
# checks that the injected EKTKey record authenticates (auth_tag(OK)) and
# decrypts to a handshake message of type 26.
#
# Usage: dtls_tshark.sh PATH/TO/test_dtls_udp
# Exit: 0 pass, 1 fail, 77 skipped (no tshark, or capturing not permitted),
# registered with ctest's SKIP_RETURN_CODE so a skip is not a pass.
set -euo pipefail

bin=${1:?usage: dtls_tshark.sh PATH/TO/test_dtls_udp}
skip() { echo "dtls_tshark: skipped: $*"; exit 77; }
fail() { echo "dtls_tshark: FAILED: $*"; exit 1; }

command -v tshark >/dev/null 2>&1 || skip "tshark is not installed"

work=$(mktemp -d)
cap_pid=
cleanup() {
    [ -n "$cap_pid" ] && kill "$cap_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$((40000 + RANDOM % 20000))
tshark -i lo -f "udp port $port" -w "$work/cap.pcapng" >"$work/capture.log" 2>&1 &
cap_pid=$!
for _ in $(seq 100); do
    grep -q "Capturing on" "$work/capture.log" 2>/dev/null && break
    kill -0 "$cap_pid" 2>/dev/null || skip "tshark cannot capture here: $(tail -1 "$work/capture.log")"
    sleep 0.1
done
grep -q "Capturing on" "$work/capture.log" || skip "tshark did not start capturing"
sleep 1 # dumpcap announces itself slightly before the filter is live

PERC_DTLS_UDP_PORT=$port PERC_DTLS_KEYLOG="$work/keylog" "$bin" >"$work/run.log" 2>&1 ||
    { cat "$work/run.log"; fail "test_dtls_udp failed"; }
sleep 1
kill -INT "$cap_pid"
wait "$cap_pid" || true
cap_pid=

grep -q '^CLIENT_RANDOM ' "$work/keylog" || fail "no key log line was written"

tshark -r "$work/cap.pcapng" -o "tls.keylog_file:$work/keylog" \
    -o "tls.debug_file:$work/debug.txt" -d "udp.port==$port,dtls" -x \
    -Y 'dtls.record.content_type == 22 && dtls.record.epoch == 1' >"$work/decoded.txt" 2>&1 ||
    fail "tshark could not read the capture"

# Every epoch-1 handshake record (both Finished messages and the EKTKey)
# decrypted with a good tag.
read -r records ok < <(awk '
    /^dissect_dtls_record:/ { inrec = ($0 ~ /content_type 22 epoch 1 /); if (inrec) n++ }
    inrec && /auth_tag\(OK\)/ { good++; inrec = 0 }
    END { print n + 0, good + 0 }' "$work/debug.txt")
[ "$records" -ge 3 ] || fail "expected at least 3 epoch-1 handshake records, tshark saw $records"
[ "$ok" = "$records" ] || fail "only $ok of $records epoch-1 handshake records authenticated"

# One of them is the EKTKey: msg_type 26 (0x1a), unfragmented.
ekt=$(awk '/^Decrypted DTLS/ { getline; if ($2 == "1a") print }' "$work/decoded.txt")
[ -n "$ekt" ] || { cat "$work/decoded.txt"; fail "no decrypted record holds handshake type 26"; }
echo "dtls_tshark: EKTKey record decrypted by tshark with a good tag: $ekt"
