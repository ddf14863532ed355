#!/usr/bin/env bash
# The project's main job: a whole PERC conference on this machine.
#
# Builds the programs (Release), makes a test PKI, and runs perc-signaling,
# perc-kmf, perc-mdd and three perc-endpoint processes on 127.0.0.1 for
# PERC_DEMO_SECONDS (default 15): alice talks (a speech-like WAV the demo
# generates, Opus-encoded), bob and carol send the synthetic source whose
# every packet the receivers verify; everyone records what they hear.
# Prints a progress line every second, then
# each endpoint's summary (per remote participant: received, verified,
# lost, rejected by reason), the key epochs the KMF sent, and a verdict.
# Leaves everything in an output folder (PERC_DEMO_OUT, default
# out/demo-<time>): the daemons' logs, each endpoint's statistics (JSON),
# the recordings (rec-<listener>/<speaker>.wav),
# a capture of the loopback traffic (conference.pcapng, when dumpcap can
# capture) and the key log that lets Wireshark/tshark decrypt its DTLS and
# tunnel TLS (keylog.txt: secrets of this demo only).
# Every process is stopped at the end, also on Ctrl-C.
# Installs the Debian packages it needs when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. tools/lib/deps.sh

seconds=${PERC_DEMO_SECONDS:-15}
out=${PERC_DEMO_OUT:-out/demo-$(date +%Y%m%d-%H%M%S)}
token="demo-daemon-token-$$-$RANDOM"

perc_install_packages $PERC_BUILD_PACKAGES $PERC_DEMO_PACKAGES
jobs=$(nproc 2>/dev/null || echo 2)
echo "== building (Release)"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPERC_TESTS=OFF >/dev/null
ninja -C build/release -j "$jobs" perc-signaling perc-kmf perc-mdd perc-endpoint perc-tool >/dev/null
bin=$root/build/release

mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "== output folder: $out"

pids=()
cleanup() {
    local rc=$?
    trap - INT TERM EXIT
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    exit $rc
}
trap cleanup EXIT
trap 'echo; echo "== interrupted: stopping everything"; exit 130' INT TERM

# Waits until file $1 contains $2 (up to $3 seconds); prints the match.
wait_for() {
    local file=$1 pattern=$2 limit=${3:-10} i
    for ((i = 0; i < limit * 10; i++)); do
        if grep -q -- "$pattern" "$file" 2>/dev/null; then
            grep -m1 -o -- "$pattern" "$file"
            return 0
        fi
        sleep 0.1
    done
    echo "error: '$pattern' did not appear in $file; its end:" >&2
    tail -20 "$file" >&2
    return 1
}

# An HTTP GET over bash's /dev/tcp (no curl on a minimal machine).
http_get() {
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
    cat <&3
    exec 3<&-
}
metric() { sed -n "s/^$1 //p" <<<"$2" | head -1; }

sh docker/gen-certs.sh "$out/certs" >/dev/null
"$bin/tools/perc-tool" wav speech "$out/speech.wav" --seconds 6 >/dev/null
: >"$out/keylog.txt"
chmod 600 "$out/keylog.txt"

# Capture first, so the whole conference is in it.
if command -v dumpcap >/dev/null 2>&1; then
    dumpcap -i lo -q -w "$out/conference.pcapng" >"$out/dumpcap.log" 2>&1 &
    pids+=($!)
    sleep 1
    kill -0 "${pids[-1]}" 2>/dev/null || echo "note: dumpcap could not capture (see dumpcap.log); no pcap"
else
    echo "note: dumpcap is not installed; no pcap"
fi

echo "== starting perc-signaling, perc-kmf, perc-mdd"
PERC_SIGNALING_TOKEN=$token "$bin/signaling/perc-signaling" --listen 127.0.0.1:0 \
    --conference demo >"$out/signaling.log" 2>&1 &
pids+=($!)
sig_port=$(wait_for "$out/signaling.log" "listening on ws://127.0.0.1:[0-9]*" | sed 's/.*://')
sig_url="ws://127.0.0.1:$sig_port/"

PERC_KMF_SIGNALING_TOKEN=$token "$bin/kmf/perc-kmf" --listen 127.0.0.1:0 \
    --cert "$out/certs/kmf.pem" --key "$out/certs/kmf.key" --tunnel-ca "$out/certs/ca.pem" \
    --signaling "$sig_url" --open --keylog "$out/keylog.txt" >"$out/kmf.log" 2>&1 &
pids+=($!)
kmf_port=$(wait_for "$out/kmf.log" "tunnel server listening on port [0-9]*" | sed 's/.* //')

PERC_MDD_SIGNALING_TOKEN=$token "$bin/mdd/perc-mdd" --signaling "$sig_url" \
    --kmf "127.0.0.1:$kmf_port" --cert "$out/certs/mdd.pem" --key "$out/certs/mdd.key" \
    --kmf-ca "$out/certs/ca.pem" --kmf-name kmf --media-address 127.0.0.1 \
    --metrics-listen 127.0.0.1:0 --keylog "$out/keylog.txt" >"$out/mdd.log" 2>&1 &
pids+=($!)
metrics_port=$(wait_for "$out/mdd.log" "metrics: http://127.0.0.1:[0-9]*" | sed 's/.*://')
wait_for "$out/mdd.log" "tunnel: connected to the KMF" >/dev/null
wait_for "$out/mdd.log" "signaling: welcome" >/dev/null

names=(alice bob carol)
echo "== starting ${#names[@]} endpoints for ${seconds} s: ${names[*]}"
ep_pids=()
for name in "${names[@]}"; do
    audio=()
    [ "$name" = alice ] && audio=(--audio-in "$out/speech.wav")
    "$bin/endpoint/perc-endpoint" --signaling "$sig_url" --conference demo --name "$name" \
        --media-address 127.0.0.1 --duration "$seconds" --stats "$out/$name.json" \
        "${audio[@]}" --record "$out/rec-$name" \
        >"$out/$name.out" 2>"$out/$name.log" &
    ep_pids+=($!)
    pids+=($!)
done

# Progress: one line a second from the MDD's counters (rewritten in place
# on a terminal, one line each otherwise).
cr='' nl=$'\n'
[ -t 1 ] && cr=$'\r' nl=''
start=$SECONDS
while :; do
    running=0
    for p in "${ep_pids[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
    [ "$running" = 0 ] && break
    m=$(http_get "$metrics_port" /metrics 2>/dev/null || true)
    printf '%s  t=%3ds  endpoints running %d  at the MDD: %s keyed, %s packets in, %s out, %s dropped %s' \
        "$cr" \
        $((SECONDS - start)) "$running" "$(metric perc_mdd_keys_installed_total "$m")" \
        "$(metric perc_mdd_rtp_in_total "$m")" "$(metric perc_mdd_packets_out_total "$m")" \
        "$(sed -n 's/^perc_mdd_drops_total{[^}]*} //p' <<<"$m" | awk '{s += $1} END {print s + 0}')" \
        "$nl"
    sleep 1
done
echo

codes=()
for i in "${!ep_pids[@]}"; do
    rc=0
    wait "${ep_pids[$i]}" || rc=$?
    codes+=("$rc")
done
http_get "$metrics_port" /stats.json 2>/dev/null | sed '1,/^\r*$/d' >"$out/mdd-stats.json" || true

for i in "${!names[@]}"; do
    echo
    echo "== ${names[$i]} (exit ${codes[$i]})"
    cat "$out/${names[$i]}.out"
done

echo
echo "== recordings (what each listener decoded of alice's speech)"
for name in "${names[@]}"; do
    for f in "$out/rec-$name"/*.wav; do
        [ -e "$f" ] || continue
        printf '  %-28s %s\n' "${f#"$out"/}" "$("$bin/tools/perc-tool" wav info "$f" 2>&1)"
    done
done

echo
echo "== key epochs (EKTKey SPIs the KMF sent; keys themselves are never logged)"
grep -E "first EKT parameter set, SPI|re-keyed|retired" "$out/kmf.log" |
    sed 's/^[0-9.]* perc-kmf\[[0-9]*\] [a-z]*: /  /' || echo "  (none logged)"

for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

echo
ok=1
for i in "${!names[@]}"; do [ "${codes[$i]}" = 0 ] || ok=0; done
if [ "$ok" = 1 ]; then
    echo "VERDICT: PASS: every endpoint verified media end to end from every other; the MDD forwarded it holding only hop-by-hop keys."
else
    echo "VERDICT: FAIL: an endpoint could not verify media from someone (exit codes: ${codes[*]}); see $out"
fi
echo "Logs, statistics, pcap and key log: $out"
[ "$ok" = 1 ]
