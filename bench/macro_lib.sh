# Shared helpers of the macro benchmarks (bench/macro_*.sh): real
# perc-signaling, perc-kmf and perc-mdd processes on 127.0.0.1, started the
# way tools/demo.sh starts them (port 0, the real port read from each
# daemon's log line, the daemon token through the environment), and the
# /proc and /metrics readings the benchmarks take. Sourced, not run.
#
# The caller sets: bin (build directory with signaling/, kmf/, mdd/,
# endpoint/), out (output folder, absolute). After macro_stack_start:
# sig_url, kmf_port, metrics_port, sig_pid, kmf_pid, mdd_pid.

macro_pids=()
macro_token="bench-daemon-token-$$-$RANDOM"

# Kills every process this script started (by pid, never by name).
macro_cleanup() {
    local p
    for p in "${macro_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${macro_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    macro_pids=()
}

# Waits until file $1 contains the regex $2 (up to $3 seconds); prints the
# first match. The daemons log their real port once they listen.
macro_wait_for() {
    local file=$1 pattern=$2 limit=${3:-15} i
    for ((i = 0; i < limit * 20; i++)); do
        if grep -q -- "$pattern" "$file" 2>/dev/null; then
            grep -m1 -o -- "$pattern" "$file"
            return 0
        fi
        sleep 0.05
    done
    echo "error: '$pattern' did not appear in $file; its end:" >&2
    tail -20 "$file" >&2
    return 1
}

# macro_stack_start [extra perc-mdd options...]: certificates, then
# signaling, KMF and MDD, each logging into $out/<name>.log.
macro_stack_start() {
    [ -f "$out/certs/ca.pem" ] || sh "$root/docker/gen-certs.sh" "$out/certs" >/dev/null
    PERC_SIGNALING_TOKEN=$macro_token "$bin/signaling/perc-signaling" --listen 127.0.0.1:0 \
        --conference bench --open-conferences >"$out/signaling.log" 2>&1 &
    sig_pid=$!
    macro_pids+=("$sig_pid")
    local p
    p=$(macro_wait_for "$out/signaling.log" "listening on ws://127.0.0.1:[0-9]*") || return 1
    sig_url="ws://127.0.0.1:${p##*:}/"

    PERC_KMF_SIGNALING_TOKEN=$macro_token "$bin/kmf/perc-kmf" --listen 127.0.0.1:0 \
        --cert "$out/certs/kmf.pem" --key "$out/certs/kmf.key" \
        --tunnel-ca "$out/certs/ca.pem" --signaling "$sig_url" --open >"$out/kmf.log" 2>&1 &
    kmf_pid=$!
    macro_pids+=("$kmf_pid")
    p=$(macro_wait_for "$out/kmf.log" "tunnel server listening on port [0-9]*") || return 1
    kmf_port=${p##* }

    # The liveness timeout is raised: under a load that starves the
    # endpoints a 5 s silence would remove them and end the measurement.
    PERC_MDD_SIGNALING_TOKEN=$macro_token "$bin/mdd/perc-mdd" --signaling "$sig_url" \
        --kmf "127.0.0.1:$kmf_port" --cert "$out/certs/mdd.pem" --key "$out/certs/mdd.key" \
        --kmf-ca "$out/certs/ca.pem" --kmf-name kmf --media-address 127.0.0.1 \
        --metrics-listen 127.0.0.1:0 --liveness-timeout 30 "$@" >"$out/mdd.log" 2>&1 &
    mdd_pid=$!
    macro_pids+=("$mdd_pid")
    p=$(macro_wait_for "$out/mdd.log" "metrics: http://127.0.0.1:[0-9]*") || return 1
    metrics_port=${p##*:}
    macro_wait_for "$out/mdd.log" "tunnel: connected to the KMF" >/dev/null || return 1
    macro_wait_for "$out/mdd.log" "signaling: welcome" >/dev/null || return 1
}

# The MDD's Prometheus text (curl if present, else bash's /dev/tcp). A
# saturated MDD serves /metrics late (its one event loop also forwards), so
# the timeout is long; an empty answer reads as zeros rather than ending
# the benchmark.
macro_metrics() {
    if command -v curl >/dev/null 2>&1; then
        curl -s --max-time 30 "http://127.0.0.1:$metrics_port/metrics" || true
    else
        exec 3<>"/dev/tcp/127.0.0.1/$metrics_port" || return 1
        printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
        cat <&3
        exec 3<&-
    fi
}

# macro_metric NAME TEXT: the value of an unlabelled metric (0 if absent).
macro_metric() { sed -n "s/^$1 //p" <<<"$2" | head -1 | awk '{print $1 + 0}'; }
# The sum of every labelled perc_mdd_drops_total{reason=...}.
macro_drops() { sed -n 's/^perc_mdd_drops_total{[^}]*} //p' <<<"$1" | awk '{s += $1} END {print s + 0}'; }

# CPU time (utime + stime, all threads) of process $1 in clock ticks
# (/proc/PID/stat fields 14 and 15; the command name in field 2 may hold
# spaces, so count from the closing parenthesis).
macro_cpu_ticks() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    s=${s##*) }
    awk '{print $12 + $13}' <<<"$s"
}
macro_clk_tck=$(getconf CLK_TCK 2>/dev/null || echo 100)

# CPU time of process $1 in nanoseconds: the first field of
# /proc/PID/task/TID/schedstat (the scheduler's sum_exec_runtime), summed
# over the live threads. Ticks (macro_cpu_ticks) are 10 ms at 100 Hz and
# sampled, too coarse for windows of a tenth of a second; this is exact.
# /proc/PID/schedstat alone would be the main thread only, hence the sum;
# a thread that exited during the window is missed (the daemons' threads
# live as long as the process). Bash builtins only (no program started),
# so a reading inside a measured window costs next to nothing. 0 if the
# process is gone.
macro_cpu_ns() {
    local f ns rest sum=0
    for f in /proc/"$1"/task/*/schedstat; do
        read -r ns rest 2>/dev/null <"$f" || continue
        sum=$((sum + ns))
    done
    echo "$sum"
}

# Resident set size of process $1 in KiB (/proc/PID/status VmRSS).
macro_rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# Seconds of CLOCK_MONOTONIC (the clock of the daemons' log lines and of
# the endpoint's *_monotonic_ns fields), as a decimal.
macro_now() { python3 -c 'import time; print("%.6f" % time.monotonic())'; }

# Datagrams the kernel dropped on the UDP sockets of process $1 (the
# "drops" column of /proc/net/udp and udp6 for the socket inodes among
# its file descriptors): receive buffer overflows, per side, so a loss can
# be put on the MDD or on the load generator.
macro_udp_drops() {
    local inodes
    inodes=$(ls -l "/proc/$1/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')
    [ -n "$inodes" ] || { echo 0; return; }
    cat /proc/net/udp /proc/net/udp6 2>/dev/null |
        awk -v list="$inodes" 'BEGIN {n = split(list, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1}
                               $10 in want {s += $NF} END {print s + 0}'
}
