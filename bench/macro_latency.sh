#!/usr/bin/env bash
# Macro benchmark: join latency and re-key latency, with real processes on
# 127.0.0.1 (perc-signaling, perc-kmf, perc-mdd, perc-endpoint), issue 8.
# KMF handshakes per KMF CPU-second are bench/macro_kmf.sh's.
#
# Per trial (a fresh conference each, so trials do not disturb each other):
#   1. K "existing" participants (one perc-endpoint --participants K, audio
#      only) join and send;
#   2. one more participant (the joiner) starts. Join latency = from its
#      start (process start, before its identity is generated) or from its
#      join message, to the first verified packet of each existing sender
#      (perc-endpoint --stats: start/join/first_verified_monotonic_ns);
#   3. the joiner leaves (--duration). The KMF logs the leave (the DTLS
#      close_notify reaching it through the MDD's tunnel) and the re-key
#      with the new EKTKey SPI. Re-key latency = from that log line to the
#      moment every remaining receiver has verified a packet of every
#      remaining sender opened with the sender's new key (the endpoint's
#      "keys" per remote SSRC: first_used_monotonic_ns of that SPI). It
#      includes the senders' key-change delay (RFC 8870 §4.3.1; 250 ms
#      by default), which is why "first_seen" (the new key had arrived at
#      the receiver) is reported beside it.
# Medians and 95th percentiles (nearest rank) over the trials.
#
# Every timestamp is CLOCK_MONOTONIC: the daemons' log lines and the
# endpoint's *_monotonic_ns fields share it, so no clock sync is needed.
#
# Usage: bench/macro_latency.sh [--smoke] [--trials N] [--existing K]
#          [--out DIR] [--bin BUILD_DIR]
# Writes DIR/macro_latency.json (and logs under DIR/macro_latency/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

trials=20
existing=3
out="$root/bench/results"
bin=${BUILD_DIR:-"$root/build/bench"}
smoke=0
while [ $# -gt 0 ]; do
    case $1 in
    --smoke) smoke=1 ;;
    --trials) trials=$2; shift ;;
    --existing) existing=$2; shift ;;
    --out) out=$2; shift ;;
    --bin) bin=$2; shift ;;
    *) echo "usage: bench/macro_latency.sh [--smoke] [--trials N] [--existing K] [--out DIR] [--bin BUILD_DIR]" >&2
       exit 2 ;;
    esac
    shift
done
if [ $smoke = 1 ]; then
    trials=2
fi
case $out in /*) ;; *) out="$PWD/$out" ;; esac
case $bin in /*) ;; *) bin="$PWD/$bin" ;; esac
json="$out/macro_latency.json"
out="$out/macro_latency"
rm -rf "$out"
mkdir -p "$out"
. "$root/bench/macro_lib.sh"
trap macro_cleanup EXIT
trap 'exit 130' INT TERM

for p in signaling/perc-signaling kmf/perc-kmf mdd/perc-mdd endpoint/perc-endpoint; do
    [ -x "$bin/$p" ] || { echo "macro_latency: $bin/$p not built" >&2; exit 1; }
done

macro_stack_start
echo "macro_latency: stack up (signaling $sig_url, KMF tunnel port $kmf_port, MDD metrics $metrics_port)"

# exec: run in the background (&), the function's subshell becomes
# perc-endpoint itself, so $! is its pid and SIGTERM reaches it.
ep() { exec "$bin/endpoint/perc-endpoint" --signaling "$sig_url" --media-address 127.0.0.1 "$@"; }

# ---- join and re-key trials ------------------------------------------------
for ((t = 1; t <= trials; t++)); do
    conf="lat-$t"
    d="$out/trial-$t"
    mkdir -p "$d"
    # The existing participants run until we stop them (SIGTERM), after
    # the re-key has had time to reach everyone.
    ep --conference "$conf" --name "ex$t" --participants "$existing" \
        --stats "$d/existing.json" >"$d/existing.out" 2>"$d/existing.log" &
    ex_pid=$!
    macro_pids+=("$ex_pid")
    if [ "$existing" -gt 1 ]; then
        macro_wait_for "$d/existing.log" "participants keyed: media starts" 20 >/dev/null
    else
        macro_wait_for "$d/existing.log" "keyed (EKT SPI" 20 >/dev/null
    fi
    # Half a second of media first: the existing senders have sent their
    # first Full EKT fields and are in their steady state.
    sleep 0.5
    # --duration 1: one second of media once keyed, then leave.
    ep --conference "$conf" --name "j$t" --duration 1 \
        --stats "$d/joiner.json" >"$d/joiner.out" 2>"$d/joiner.log" &
    j_pid=$!
    macro_pids+=("$j_pid")
    j_rc=0
    wait "$j_pid" || j_rc=$?
    # The re-key after the leave: EKTKey to each, key-change delay (250 ms),
    # then packets under the new keys; 1.5 s leaves a wide margin.
    sleep 1.5
    kill -TERM "$ex_pid" 2>/dev/null || true
    ex_rc=0
    wait "$ex_pid" || ex_rc=$?
    echo "$j_rc $ex_rc" >"$d/exit_codes"
    printf 'macro_latency: trial %d/%d done (exit codes joiner %s, existing %s)\n' \
        "$t" "$trials" "$j_rc" "$ex_rc"
done

# ---- analysis --------------------------------------------------------------------
python3 - "$out" "$json" "$trials" "$existing" "$smoke" <<'EOF'
import json, math, os, re, sys, statistics
out, json_path = sys.argv[1], sys.argv[2]
trials, existing = map(int, sys.argv[3:5])
smoke = sys.argv[5] == "1"

kmf_log = open(os.path.join(out, "kmf.log")).read().splitlines()
def log_time(pattern):
    for line in kmf_log:
        if re.search(pattern, line):
            return float(line.split()[0])
    return None
def rekey_spi(conf, who):
    for line in kmf_log:
        m = re.search(r"conference '%s' re-keyed \('%s' left\): SPI (\d+)" % (conf, who), line)
        if m:
            return int(m.group(1))
    return None

def stats(v):
    v = sorted(x for x in v if x is not None)
    if not v:
        return None
    # 95th percentile by nearest rank: with 20 trials the 19th value.
    return {"n": len(v), "median": round(statistics.median(v), 1),
            "p95": round(v[max(0, math.ceil(0.95 * len(v)) - 1)], 1),
            "min": round(v[0], 1), "max": round(v[-1], 1)}

rows = []
for t in range(1, trials + 1):
    d = os.path.join(out, "trial-%d" % t)
    row = {"trial": t}
    try:
        j = json.load(open(os.path.join(d, "joiner.json")))["participants"][0]
        ex = json.load(open(os.path.join(d, "existing.json")))["participants"]
    except (OSError, ValueError, IndexError) as e:
        row["error"] = "no stats JSON: %s" % e
        rows.append(row)
        continue
    ex_names = {p["name"] for p in ex}
    firsts = [r["first_verified_monotonic_ns"] for r in j["remotes"]
              if r.get("identity") in ex_names and r.get("first_verified_monotonic_ns")]
    for k in ("join_to_answer_ms", "join_to_ice_ms", "join_to_dtls_ms", "join_to_keyed_ms"):
        row[k] = j.get(k)
    if len(firsts) == len(ex_names) and j["start_monotonic_ns"]:
        # Until it has verified a packet of every existing sender.
        row["start_to_all_verified_ms"] = (max(firsts) - j["start_monotonic_ns"]) / 1e6
        row["join_to_all_verified_ms"] = (max(firsts) - j["join_monotonic_ns"]) / 1e6
        row["start_to_first_verified_ms"] = (min(firsts) - j["start_monotonic_ns"]) / 1e6
        row["start_to_join_ms"] = (j["join_monotonic_ns"] - j["start_monotonic_ns"]) / 1e6
    else:
        row["error"] = "the joiner did not verify every existing sender"
    # Re-key: the KMF's leave line, the new SPI, then every remaining
    # (receiver, sender) pair's first packet under that SPI.
    conf, who = "lat-%d" % t, "j%d" % t
    t_leave = log_time(r"participant '%s' left conference '%s'" % (who, conf))
    spi = rekey_spi(conf, who)
    seen, used, missing = [], [], 0
    for p in ex:
        for r in p["remotes"]:
            if r.get("identity") not in ex_names:
                continue
            ks = [k for k in r.get("keys", []) if k["spi"] == spi]
            # Audio only: one SSRC per sender.
            if not ks or not ks[0]["first_used_monotonic_ns"]:
                missing += 1
                continue
            seen.append(ks[0]["first_seen_monotonic_ns"] / 1e9)
            used.append(ks[0]["first_used_monotonic_ns"] / 1e9)
    row["rekey_spi"] = spi
    if t_leave is None or spi is None or missing or not used:
        row.setdefault("error", "re-key not observed (leave %s, SPI %s, %d pairs missing)"
                       % (t_leave, spi, missing))
    else:
        row["leave_to_all_new_key_seen_ms"] = (max(seen) - t_leave) * 1e3
        row["leave_to_all_new_key_used_ms"] = (max(used) - t_leave) * 1e3
        row["pairs"] = len(used)
    rows.append(row)

def col(name):
    return [r.get(name) for r in rows if "error" not in r]

result = {
    "benchmark": "macro_latency",
    "smoke": smoke,
    "trials": trials,
    "existing_participants": existing,
    "targets": {"join_median_ms": 150, "rekey_median_ms": 400},
    "join_start_to_all_verified_ms": stats(col("start_to_all_verified_ms")),
    "join_join_to_all_verified_ms": stats(col("join_to_all_verified_ms")),
    "join_start_to_first_verified_ms": stats(col("start_to_first_verified_ms")),
    "join_to_answer_ms": stats(col("join_to_answer_ms")),
    "join_to_ice_ms": stats(col("join_to_ice_ms")),
    "join_to_dtls_ms": stats(col("join_to_dtls_ms")),
    "join_to_keyed_ms": stats(col("join_to_keyed_ms")),
    "start_to_join_ms": stats(col("start_to_join_ms")),
    "rekey_leave_to_all_new_key_used_ms": stats(col("leave_to_all_new_key_used_ms")),
    "rekey_leave_to_all_new_key_seen_ms": stats(col("leave_to_all_new_key_seen_ms")),
    "failed_trials": sum(1 for r in rows if "error" in r),
    "rows": rows,
}
j, r = result["join_start_to_all_verified_ms"], result["rekey_leave_to_all_new_key_used_ms"]
result["verdict"] = {
    "join_median_lt_150ms": None if not j else j["median"] < 150,
    "rekey_median_lt_400ms": None if not r else r["median"] < 400,
}
json.dump(result, open(json_path, "w"), indent=2)

def show(label, s):
    if s:
        print("  %-52s median %7.1f  p95 %7.1f  (min %.1f, max %.1f, n=%d)"
              % (label, s["median"], s["p95"], s["min"], s["max"], s["n"]))
    else:
        print("  %-52s no data" % label)
print("macro_latency: %d trials, %d existing participants (%d failed)"
      % (trials, existing, result["failed_trials"]))
show("join: start -> every existing sender verified (ms)", result["join_start_to_all_verified_ms"])
show("join: join msg -> every existing sender verified", result["join_join_to_all_verified_ms"])
show("join: start -> join msg (signaling, ICE gathering)", result["start_to_join_ms"])
show("join: join msg -> answer", result["join_to_answer_ms"])
show("join: join msg -> ICE ready", result["join_to_ice_ms"])
show("join: join msg -> DTLS done", result["join_to_dtls_ms"])
show("join: join msg -> keyed (EKTKey)", result["join_to_keyed_ms"])
show("re-key: leave -> every pair under the new key", result["rekey_leave_to_all_new_key_used_ms"])
show("re-key: leave -> new key at every receiver", result["rekey_leave_to_all_new_key_seen_ms"])
for r in rows:
    if "error" in r:
        print("  trial %d: %s" % (r["trial"], r["error"]))
print("JSON: %s" % json_path)
EOF
