#!/usr/bin/env bash
# Macro benchmark: perc-mdd forwarding over real UDP sockets on 127.0.0.1
# (issue 8, and the performance part of issue 5), with perc-signaling,
# perc-kmf, perc-mdd and perc-endpoint as real processes.
#
# Load: N participants (default 8) in perc-endpoint processes (--procs,
# default 2, so the load can use both cores; each process is one thread),
# every participant sending audio (50 packets/s) and video at 120 frames/s
# of P packets of about 1150 octets each. The MDD forwards every packet to
# the N-1 others, so it sends N(N-1)(120P+50) packets/s. Steps raise P
# (--steps "1 2 4 8 12 16") until receivers lose packets; one step past the
# first lossy one is not run.
#
# Why N stays at 8 (the MDD's limits, measured and reported, not hidden):
# perc-mdd runs one forwarding core for all its endpoints, whatever their
# conference, and the core keeps at most 16 outgoing SSRCs per receiver
# (PERC_MDD_DEFAULT_MAX_SSRCS). With audio and video each participant
# receives 2(N-1) SSRCs: N <= 9, and more load comes from more packets per
# sender, not from more senders.
#
# Per step, over a window (30 s; --smoke: 2 s) after a warm-up:
#   - MDD packets in and out and drops by reason (/metrics deltas);
#   - the MDD's CPU time (utime+stime of /proc/PID/stat, all threads) and
#     the load generators' CPU time: forwarded packets per MDD CPU-second
#     is the per-core figure; the CPU shares say which side is the
#     bottleneck on this 2-core machine;
#   - the MDD's RSS (/proc/PID/status VmRSS);
#   - the kernel's UDP counters (/proc/net/snmp: receive buffer errors,
#     machine-wide) over the window;
#   - at the receivers (perc-endpoint --stats, whole run): received,
#     verified, lost (by original SEQ), rejected.
# A step is loss-free when receivers lost nothing, rejected nothing after
# joining, and the MDD dropped nothing.
#
# Memory per connected endpoint, first: RSS of perc-mdd with 4 audio-only
# endpoints connected and forwarding, then with M more (--mem-endpoints,
# default 12): (RSS_4+M - RSS_4) / M (see that section for why). perc-mdd allocates its forwarding
# core's per-endpoint tables for --capacity endpoints at start, so that
# difference does not include them: their size per slot is measured apart
# as (RSS at --capacity 4000 - RSS at --capacity 1) / 3999 of an idle
# perc-mdd.
#
# Usage: bench/macro_mdd_load.sh [--smoke] [--window S] [--steps "P..."]
#          [--participants N] [--procs K] [--mem-endpoints M] [--out DIR]
#          [--bin BUILD_DIR]
# Writes DIR/macro_mdd_load.json (logs under DIR/macro_mdd_load/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

window=30
warmup=3
steps="1 2 4 8 12 16"
n=8
procs=2
mem_n=12
out="$root/bench/results"
bin=${BUILD_DIR:-"$root/build/bench"}
smoke=0
while [ $# -gt 0 ]; do
    case $1 in
    --smoke) smoke=1 ;;
    --window) window=$2; shift ;;
    --steps) steps=$2; shift ;;
    --participants) n=$2; shift ;;
    --procs) procs=$2; shift ;;
    --mem-endpoints) mem_n=$2; shift ;;
    --out) out=$2; shift ;;
    --bin) bin=$2; shift ;;
    *) echo "usage: bench/macro_mdd_load.sh [--smoke] [--window S] [--steps \"P...\"] [--participants N] [--procs K] [--mem-endpoints M] [--out DIR] [--bin BUILD_DIR]" >&2
       exit 2 ;;
    esac
    shift
done
if [ $smoke = 1 ]; then
    window=2
    warmup=1
    steps="1 4"
    mem_n=4
fi
[ "$mem_n" -le 13 ] || { echo "macro_mdd_load: --mem-endpoints at most 13 (4 + M <= 17)" >&2; exit 2; }
case $out in /*) ;; *) out="$PWD/$out" ;; esac
case $bin in /*) ;; *) bin="$PWD/$bin" ;; esac
json="$out/macro_mdd_load.json"
out="$out/macro_mdd_load"
rm -rf "$out"
mkdir -p "$out"
. "$root/bench/macro_lib.sh"
trap macro_cleanup EXIT
trap 'exit 130' INT TERM

for p in signaling/perc-signaling kmf/perc-kmf mdd/perc-mdd endpoint/perc-endpoint; do
    [ -x "$bin/$p" ] || { echo "macro_mdd_load: $bin/$p not built" >&2; exit 1; }
done

# exec: with &, the subshell becomes perc-endpoint, so $! is its pid.
ep() { exec "$bin/endpoint/perc-endpoint" --signaling "$sig_url" --media-address 127.0.0.1 "$@"; }

# The kernel's UDP counters (machine-wide: other processes count too).
udp_counters() { awk '/^Udp:/ {if (h) {print $4, $6, $7; exit} h = 1}' /proc/net/snmp; }

# Starts `total` participants over `k` processes, each process its share,
# all in conference "load"; extra perc-endpoint options follow. Sets
# load_pids and waits until every process has started its media.
start_load() {
    local dir=$1 total=$2 k=$3 i each rest count
    shift 3
    load_pids=()
    each=$((total / k))
    rest=$((total % k))
    for ((i = 1; i <= k; i++)); do
        count=$each
        [ "$i" -le "$rest" ] && count=$((count + 1))
        [ "$count" -gt 0 ] || continue
        ep --conference load --name "$(basename "$dir")-g$i" --participants "$count" \
            --stats "$dir/g$i.json" "$@" >"$dir/g$i.out" 2>"$dir/g$i.log" &
        load_pids+=($!)
        macro_pids+=($!)
    done
    for ((i = 1; i <= ${#load_pids[@]}; i++)); do
        macro_wait_for "$dir/g$i.log" "media starts\|: sending audio" 30 >/dev/null
    done
}

# ---- core preallocation per endpoint slot (idle perc-mdd, no peers) -------------
# Nothing listens at these URLs: perc-mdd keeps retrying, which is enough to
# read the RSS of its allocations at start.
prealloc_rss() {
    PERC_MDD_SIGNALING_TOKEN=x "$bin/mdd/perc-mdd" --signaling ws://127.0.0.1:9/ \
        --kmf 127.0.0.1:9 --cert "$out/certs/mdd.pem" --key "$out/certs/mdd.key" \
        --kmf-ca "$out/certs/ca.pem" --media-address 127.0.0.1 --capacity "$1" \
        >"$out/prealloc-$1.log" 2>&1 &
    local pid=$!
    sleep 1
    macro_rss_kib "$pid"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
sh "$root/docker/gen-certs.sh" "$out/certs" >/dev/null
rss_cap1=$(prealloc_rss 1)
rss_cap4000=$(prealloc_rss 4000)

macro_stack_start
echo "macro_mdd_load: stack up (MDD pid $mdd_pid, metrics port $metrics_port)"

# ---- memory per connected endpoint ---------------------------------------------
# RSS only grows (malloc keeps what it freed) and the first endpoints pay
# one-time costs (the core's output queue being touched, OpenSSL and
# libnice state made once), so the marginal cost per endpoint is measured
# between two connected populations: a base group (4, audio only) is
# connected and forwarding, then M more join, all staying connected:
# (RSS with 4+M - RSS with 4) / M. 4+M <= 17 keeps every receiver within
# the core's 16 outgoing SSRCs (audio only: one SSRC each).
sleep 1
rss0=$(macro_rss_kib "$mdd_pid")
mem_hold=$((warmup * 2 + 8))
d="$out/mem-base"
mkdir -p "$d"
start_load "$d" 4 1 --duration "$mem_hold"
base_pid=${load_pids[0]}
sleep "$warmup"
rss_base=$(macro_rss_kib "$mdd_pid")
d="$out/mem"
mkdir -p "$d"
start_load "$d" "$mem_n" "$procs" --duration "$mem_hold"
sleep "$warmup"
m=$(macro_metrics)
mem_endpoints=$(macro_metric perc_mdd_endpoints "$m")
rss_m=$(macro_rss_kib "$mdd_pid")
for p in "${load_pids[@]}" "$base_pid"; do wait "$p" || true; done
echo "macro_mdd_load: memory: RSS $rss0 KiB with 0 endpoints, $rss_base KiB with 4, $rss_m KiB with $mem_endpoints"

# ---- load steps ----------------------------------------------------------------
: >"$out/steps.tsv"
: >"$out/nonmedia_drops.txt"
: >"$out/socket_drops.txt"
for p in $steps; do
    d="$out/step-$p"
    mkdir -p "$d"
    # 120 frames/s of P packets: 1100*P kbit/s makes frames of 1146*P
    # octets, i.e. P packets of at most 1200 octets.
    kbps=$((1100 * p))
    us0=$(udp_counters)
    # Each process counts --duration from its own media start; the margin
    # keeps both sending until the window has closed.
    start_load "$d" "$n" "$procs" --video "640x360@120:$kbps" --duration $((warmup + window + 5))
    sleep "$warmup"
    m0=$(macro_metrics)
    c0=$(macro_cpu_ticks "$mdd_pid")
    g0=0
    for q in "${load_pids[@]}"; do g0=$((g0 + $(macro_cpu_ticks "$q"))); done
    u0=$(udp_counters)
    t0=$(macro_now)
    sleep "$window"
    m1=$(macro_metrics)
    c1=$(macro_cpu_ticks "$mdd_pid")
    g1=0
    for q in "${load_pids[@]}"; do g1=$((g1 + $(macro_cpu_ticks "$q"))); done
    u1=$(udp_counters)
    t1=$(macro_now)
    rss=$(macro_rss_kib "$mdd_pid")
    # Socket drops since each socket was made: the MDD's include earlier
    # steps (subtracted below), the generators' are this step's alone.
    sd_mdd=$(macro_udp_drops "$mdd_pid")
    sd_gen=0
    for q in "${load_pids[@]}"; do sd_gen=$((sd_gen + $(macro_udp_drops "$q"))); done
    echo "$p $sd_mdd $sd_gen" >>"$out/socket_drops.txt"
    early=0
    for q in "${load_pids[@]}"; do kill -0 "$q" 2>/dev/null || early=1; done
    for q in "${load_pids[@]}"; do wait "$q" || true; done
    us1=$(udp_counters)
    # One TSV line per step for the analysis below.
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$p" "$kbps" "$t0" "$t1" \
        "$(macro_metric perc_mdd_rtp_in_total "$m0")" "$(macro_metric perc_mdd_rtp_in_total "$m1")" \
        "$(macro_metric perc_mdd_packets_out_total "$m0")" "$(macro_metric perc_mdd_packets_out_total "$m1")" \
        "$(macro_drops "$m0")" "$(macro_drops "$m1")" "$c0" "$c1" "$g0" "$g1" "$rss" \
        "$(paste -d' ' <(echo "$u0") <(echo "$u1") <(echo "$us0") <(echo "$us1") <(echo "$early"))" \
        >>"$out/steps.tsv"
    # Drops of media only: a DTLS or tunnel message dropped around joins
    # and leaves is not forwarding loss.
    md0=$(grep -E '^perc_mdd_drops_total\{reason="(tunnel_message|no_tunnel|not_media)"\}' <<<"$m0" | awk '{s += $2} END {print s + 0}')
    md1=$(grep -E '^perc_mdd_drops_total\{reason="(tunnel_message|no_tunnel|not_media)"\}' <<<"$m1" | awk '{s += $2} END {print s + 0}')
    echo "$p $md0 $md1" >>"$out/nonmedia_drops.txt"
    grep '^perc_mdd_drops_total' <<<"$m1" >"$d/drops.txt" || true
    lossy=$(python3 - "$d" <<'EOF'
import glob, json, sys
lost = rej = 0
for f in glob.glob(sys.argv[1] + "/g*.json"):
    for p in json.load(open(f))["participants"]:
        for r in p["remotes"]:
            lost += r["lost"]
            rej += r["rejected_total"] - r["rejected_while_joining"]
print(1 if lost or rej else 0)
EOF
)
    printf 'macro_mdd_load: step P=%s done (%s)\n' "$p" "$([ "$lossy" = 1 ] && echo "loss" || echo "no loss")"
    # Growing the load past the first lossy step tells nothing new.
    [ "$lossy" = 1 ] && break
done

# ---- analysis --------------------------------------------------------------------
python3 - "$out" "$json" "$n" "$procs" "$window" "$macro_clk_tck" "$rss0" "$rss_m" \
    "$mem_endpoints" "$rss_cap1" "$rss_cap4000" "$smoke" "$(nproc)" "$rss_base" <<'EOF'
import glob, json, os, sys
out, json_path = sys.argv[1], sys.argv[2]
n, procs, window, tck = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
rss0, rss_m, mem_eps = int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
cap1, cap4000, smoke, ncpu = int(sys.argv[10]), int(sys.argv[11]), sys.argv[12] == "1", int(sys.argv[13])
rss_base = int(sys.argv[14])

steps = []
for line in open(os.path.join(out, "steps.tsv")):
    f = line.rstrip("\n").split("\t")
    p, kbps = int(f[0]), int(f[1])
    t0, t1 = float(f[2]), float(f[3])
    rin0, rin1, o0, o1, d0, d1 = (int(float(x)) for x in f[4:10])
    c0, c1, g0, g1, rss = (int(x) for x in f[10:15])
    u = [int(x) for x in f[15].split()]
    early = u[12] == 1
    nm = {int(a): (int(b), int(c)) for a, b, c in
          (l.split() for l in open(os.path.join(out, "nonmedia_drops.txt")))}[p]
    dt = t1 - t0
    mdd_cpu = (c1 - c0) / tck
    gen_cpu = (g1 - g0) / tck
    fwd = o1 - o0
    recv = dict(sent=0, received=0, verified=0, lost=0, rejected_after_join=0, payload_bad=0)
    for jf in sorted(glob.glob(os.path.join(out, "step-%d" % p, "g*.json"))):
        for part in json.load(open(jf))["participants"]:
            recv["sent"] += part["sent_packets"]
            for r in part["remotes"]:
                recv["received"] += r["received"]
                recv["verified"] += r["verified"]
                recv["lost"] += r["lost"]
                recv["payload_bad"] += r["payload_bad"]
                recv["rejected_after_join"] += r["rejected_total"] - r["rejected_while_joining"]
    drops = (d1 - d0) - (nm[1] - nm[0])
    sd = [l.split() for l in open(os.path.join(out, "socket_drops.txt"))]
    idx = [int(x[0]) for x in sd].index(p)
    sd_mdd = int(sd[idx][1]) - (int(sd[idx - 1][1]) if idx else 0)
    sd_gen = int(sd[idx][2])
    loss_free = (recv["lost"] == 0 and recv["rejected_after_join"] == 0 and drops == 0
                 and recv["payload_bad"] == 0)
    steps.append({
        "packets_per_frame": p, "video_kbps": kbps, "participants": n,
        "window_s": round(dt, 3),
        "mdd_in_pps": round((rin1 - rin0) / dt, 1),
        "mdd_out_pps": round(fwd / dt, 1),
        "mdd_media_drops": drops,
        "mdd_other_drops": nm[1] - nm[0],
        "generator_exited_in_window": early,
        "mdd_cpu_s": mdd_cpu,
        "mdd_cpu_share": round(mdd_cpu / dt, 3),
        "forwarded_per_mdd_cpu_s": round(fwd / mdd_cpu, 1) if mdd_cpu else None,
        "load_generator_cpu_s": None if early else gen_cpu,
        "load_generator_cpu_share": None if early else round(gen_cpu / dt, 3),
        "machine_cpu_share_used_by_benchmark": None if early else round((mdd_cpu + gen_cpu) / dt / ncpu, 3),
        "mdd_rss_kib": rss,
        "udp_in_errors": u[3] - u[0], "udp_rcvbuf_errors": u[4] - u[1],
        "udp_sndbuf_errors": u[5] - u[2],
        "udp_rcvbuf_errors_whole_step": u[10] - u[7],
        "socket_drops_mdd": sd_mdd,
        "socket_drops_load_generators": sd_gen,
        "udp_sndbuf_errors_whole_step": u[11] - u[8],
        "receivers_whole_run": recv,
        "loss_free": loss_free,
    })

zero_loss = [s for s in steps if s["loss_free"]]
best = max(zero_loss, key=lambda s: s["mdd_out_pps"]) if zero_loss else None
# mem_eps counts the base group's 4 too.
added = mem_eps - 4
mem_per_ep = (rss_m - rss_base) / added if added > 0 else None
first4 = (rss_base - rss0) / 4.0
slot = (cap4000 - cap1) / 3999.0
result = {
    "benchmark": "macro_mdd_load",
    "smoke": smoke,
    "cpus": ncpu,
    "participants": n, "load_processes": procs,
    "targets": {"forwarded_per_core_pps": 100000, "memory_per_endpoint_kib": 64},
    "steps": steps,
    "zero_loss_max": None if not best else {
        "mdd_out_pps": best["mdd_out_pps"],
        "forwarded_per_mdd_cpu_s": best["forwarded_per_mdd_cpu_s"],
        "packets_per_frame": best["packets_per_frame"],
    },
    "max_forwarded_per_mdd_cpu_s": max((s["forwarded_per_mdd_cpu_s"] or 0) for s in steps) if steps else None,
    "memory": {
        "rss_kib_0_endpoints": rss0, "rss_kib_4_endpoints": rss_base,
        "rss_kib_4_plus_m_endpoints": rss_m, "m": added,
        "first_4_endpoints_per_endpoint_kib": round(first4, 1),
        "per_endpoint_kib": round(mem_per_ep, 1) if mem_per_ep is not None else None,
        "idle_rss_kib_capacity_1": cap1, "idle_rss_kib_capacity_4000": cap4000,
        "core_prealloc_per_slot_kib": round(slot, 2),
        "per_endpoint_with_prealloc_kib": round(mem_per_ep + slot, 1) if mem_per_ep is not None else None,
    },
}
zl = result["zero_loss_max"]
result["verdict"] = {
    "forwarding_ge_100k_per_core_zero_loss": None if not zl or not zl["forwarded_per_mdd_cpu_s"]
        else zl["forwarded_per_mdd_cpu_s"] >= 100000,
    "wall_rate_ge_100k_zero_loss": None if not zl else zl["mdd_out_pps"] >= 100000,
    "memory_lt_64kib": None if mem_per_ep is None else mem_per_ep + slot < 64,
}
json.dump(result, open(json_path, "w"), indent=2)
# For bench/plot_macro.gp: one line per step.
with open(json_path[:-len(".json")] + ".steps.tsv", "w") as tsv:
    tsv.write("# P\tout_pps\tforwarded_per_mdd_cpu_s\tmdd_cpu_share\tgen_cpu_share\treceiver_lost\n")
    for s in steps:
        tsv.write("%d\t%.1f\t%s\t%.3f\t%.3f\t%d\n" % (s["packets_per_frame"], s["mdd_out_pps"],
                  s["forwarded_per_mdd_cpu_s"] or 0, s["mdd_cpu_share"],
                  s["load_generator_cpu_share"] or 0, s["receivers_whole_run"]["lost"]))

print("macro_mdd_load: %d participants in %d processes, %g s windows, %d CPUs" % (n, procs, window, ncpu))
print("  %4s %9s %9s %10s %6s %7s %7s %11s %6s %6s" % ("P", "in/s", "out/s", "out/MDDcpu", "drops",
      "MDDcpu", "gencpu", "recv lost", "RSS", "loss"))
for s in steps:
    print("  %4d %9.0f %9.0f %10s %6d %6.0f%% %6.0f%% %11d %5dK %6s" % (
        s["packets_per_frame"], s["mdd_in_pps"], s["mdd_out_pps"],
        "%.0f" % s["forwarded_per_mdd_cpu_s"] if s["forwarded_per_mdd_cpu_s"] else "-",
        s["mdd_media_drops"], 100 * s["mdd_cpu_share"], 100 * (s["load_generator_cpu_share"] or 0),
        s["receivers_whole_run"]["lost"], s["mdd_rss_kib"], "no" if s["loss_free"] else "YES"))
if zl:
    print("  zero-loss maximum: %.0f packets/s out of the MDD (%s per MDD CPU-second)"
          % (zl["mdd_out_pps"], zl["forwarded_per_mdd_cpu_s"]))
mm = result["memory"]
print("  memory: RSS %d KiB with 0 endpoints, %d with 4, %d with %d -> %s KiB per added endpoint"
      " (the first 4: %.0f each), plus %.2f KiB per preallocated core slot"
      % (rss0, rss_base, rss_m, mem_eps, mm["per_endpoint_kib"], first4, slot))
print("JSON: %s" % json_path)
EOF
