# Shared code of the end-to-end scenarios (tests/e2e/scenario_*.sh).
# Sourced, never run. Each scenario script:
#
#   . "$(dirname "$0")/lib.sh"
#   e2e_init scenario_name "$@"      # binaries and work dir from the arguments
#   e2e_host sig; e2e_host kmf; ...  # one host each
#   e2e_start_signaling sig; e2e_start_kmf kmf; e2e_start_mdd mdd mdd-1
#   e2e_endpoint ep1 alice --duration 5 ...
#   ... assertions on the --stats JSON (jq) and the logs ...
#   e2e_pass "what was shown"
#
# Hosts. Where we may (root, and `ip netns add` works) every host is its
# own network namespace, joined to the others by a veth pair to a Linux
# bridge that lives in a namespace of its own, so nothing of the machine's
# own network is touched and scenarios running at the same time cannot see
# each other: host N has 10.77.0.N/24 on its eth0. Elsewhere ("loopback"
# mode) host N is the address 127.0.0.(10+N) on this machine's lo. Every
# scenario prints which mode it ran in. tc netem shapes a host's link in
# netns mode only (in loopback mode there is no per-host link).
#
# Daemons listen on port 0 and we read the port from their "listening" log
# line, so nothing depends on a fixed free port. Every process a scenario
# starts and every namespace it makes are removed by the EXIT trap, also
# when an assertion fails or the test is killed by ctest's timeout
# (SIGTERM); on failure the trap prints the logs that explain it.
#
# Secrets: the daemon token is generated per run and passed to the
# daemons through their environment variables, never on a command line or
# in the output; key logs are written only where a scenario asks for one
# (files inside the scenario's work dir).

set -euo pipefail

# ---- arguments and set-up ---------------------------------------------------------------

# e2e_init NAME SIG KMF MDD MDD_DISHONEST ENDPOINT TOOL WORKDIR
# (what tests/e2e/CMakeLists.txt passes). Makes WORKDIR/NAME afresh.
e2e_init() {
    E2E_NAME=$1
    if [ $# -ne 8 ]; then
        echo "usage: $0 perc-signaling perc-kmf perc-mdd perc-mdd-dishonest perc-endpoint perc-tool WORKDIR" >&2
        exit 2
    fi
    BIN_SIG=$2 BIN_KMF=$3 BIN_MDD=$4 BIN_MDD_DISHONEST=$5 BIN_EP=$6 BIN_TOOL=$7
    local b
    for b in "$BIN_SIG" "$BIN_KMF" "$BIN_MDD" "$BIN_MDD_DISHONEST" "$BIN_EP" "$BIN_TOOL"; do
        [ -x "$b" ] || { echo "error: $b is not an executable" >&2; exit 2; }
    done
    E2E_DIR=$8/$E2E_NAME
    rm -rf "$E2E_DIR"
    mkdir -p "$E2E_DIR"
    E2E_DIR=$(cd "$E2E_DIR" && pwd)
    E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    E2E_T0=$(date +%s.%N)

    # A sanitizer build is several times slower: scenarios scale their
    # waits by E2E_SLOW and may leave out what does not fit.
    E2E_ASAN=0
    case "$BIN_MDD" in *asan*) E2E_ASAN=1 ;; esac
    [ -n "${PERC_E2E_ASAN:-}" ] && E2E_ASAN=$PERC_E2E_ASAN
    E2E_SLOW=1
    [ "$E2E_ASAN" = 1 ] && E2E_SLOW=3
    # Leaks are the unit tests' business; a daemon killed at the end of a
    # scenario must not turn its exit into a failure report.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0

    command -v jq >/dev/null 2>&1 || e2e_skip "jq is not installed (tools/lib/deps.sh installs it)"
    command -v openssl >/dev/null 2>&1 || e2e_skip "openssl is not installed"

    # Namespace names carry the scenario's name and our pid: two scenarios
    # (or two runs) never share one.
    E2E_TAG="pe2e-$(printf '%s' "$E2E_NAME" | cut -c1-10)-$$"
    E2E_HOSTS=()
    declare -gA E2E_HOST_IP=() E2E_HOST_NS=()
    declare -gA E2E_PID=() E2E_CMD=() E2E_CMD_ENV=()
    E2E_BRIDGE_NS=""
    E2E_CLEAN_FILES=()

    trap e2e_cleanup EXIT
    trap 'echo "e2e: interrupted (signal)" >&2; exit 143' TERM INT HUP

    e2e_pick_mode
    E2E_TOKEN="e2e-$(openssl rand -hex 16)"
    # The test PKI (CA, KMF and MDD tunnel certificates) of the demo.
    sh "$E2E_LIB_DIR/../../docker/gen-certs.sh" "$E2E_DIR/certs" >/dev/null
    echo "e2e: $E2E_NAME: mode $E2E_MODE$([ "$E2E_ASAN" = 1 ] && echo ', sanitizer build (waits x3)'); work dir $E2E_DIR"
}

# netns when we are root and a namespace can be made, else loopback.
e2e_pick_mode() {
    E2E_MODE=loopback
    if [ -n "${PERC_E2E_FORCE_LOOPBACK:-}" ]; then
        E2E_MODE_WHY="PERC_E2E_FORCE_LOOPBACK is set"
    elif [ "$(id -u)" -ne 0 ]; then
        E2E_MODE_WHY="not root"
    elif ! command -v ip >/dev/null 2>&1; then
        E2E_MODE_WHY="no ip command (iproute2)"
    elif ! ip netns add "$E2E_TAG-br" 2>"$E2E_DIR/netns-probe.err"; then
        E2E_MODE_WHY="ip netns add failed: $(head -1 "$E2E_DIR/netns-probe.err")"
    else
        E2E_BRIDGE_NS="$E2E_TAG-br"
        if ip -n "$E2E_BRIDGE_NS" link add br0 type bridge 2>>"$E2E_DIR/netns-probe.err" &&
            ip -n "$E2E_BRIDGE_NS" link set br0 up && ip -n "$E2E_BRIDGE_NS" link set lo up; then
            E2E_MODE=netns
            E2E_MODE_WHY="root, namespaces available"
        else
            E2E_MODE_WHY="could not make a bridge: $(tail -1 "$E2E_DIR/netns-probe.err")"
            ip netns del "$E2E_BRIDGE_NS" 2>/dev/null || true
            E2E_BRIDGE_NS=""
        fi
    fi
    echo "e2e: mode: $E2E_MODE ($E2E_MODE_WHY)"
}

# e2e_host NAME: a new host; its address is E2E_HOST_IP[NAME].
e2e_host() {
    local name=$1 n=$((${#E2E_HOSTS[@]} + 1))
    E2E_HOSTS+=("$name")
    if [ "$E2E_MODE" = netns ]; then
        local ns="$E2E_TAG-$n"
        ip netns add "$ns"
        E2E_HOST_NS[$name]=$ns
        # The host's end is eth0 in its namespace, the other end vh<N> on
        # the bridge; both made directly in their namespaces.
        ip -n "$ns" link add eth0 type veth peer name "vh$n" netns "$E2E_BRIDGE_NS"
        ip -n "$E2E_BRIDGE_NS" link set "vh$n" master br0 up
        ip -n "$ns" addr add "10.77.0.$n/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
        E2E_HOST_IP[$name]=10.77.0.$n
    else
        E2E_HOST_NS[$name]=""
        E2E_HOST_IP[$name]=127.0.0.$((10 + n))
    fi
}

# e2e_in HOST CMD...: runs CMD on HOST (in its namespace), in the foreground.
e2e_in() {
    local host=$1
    shift
    if [ -n "${E2E_HOST_NS[$host]}" ]; then
        ip netns exec "${E2E_HOST_NS[$host]}" "$@"
    else
        "$@"
    fi
}

# e2e_shape HOST NETEM-ARGS...: tc netem on both directions of HOST's link
# (its eth0, and the bridge port toward it). netns mode only. Returns 1
# (changing nothing) when the kernel has no netem qdisc.
e2e_shape() {
    local host=$1 n
    shift
    [ "$E2E_MODE" = netns ] || e2e_fail "e2e_shape needs netns mode"
    for n in "${!E2E_HOSTS[@]}"; do [ "${E2E_HOSTS[$n]}" = "$host" ] && break; done
    ip netns exec "${E2E_HOST_NS[$host]}" tc qdisc add dev eth0 root netem "$@" \
        2>"$E2E_DIR/netem.err" || return 1
    ip netns exec "$E2E_BRIDGE_NS" tc qdisc add dev "vh$((n + 1))" root netem "$@"
}

# e2e_drop_random HOST PROBABILITY: without netem, random loss on both
# directions of HOST's traffic by iptables (statistic match) in its
# namespace; no reordering. netns mode only.
e2e_drop_random() {
    local host=$1 p=$2 chain
    for chain in INPUT OUTPUT; do
        e2e_in "$host" iptables -A "$chain" -m statistic --mode random --probability "$p" -j DROP
    done
}

# ---- processes -----------------------------------------------------------------------------

# e2e_spawn HOST NAME CMD...: starts CMD on HOST in the background; stdout
# into NAME.out, stderr into NAME.log (in the work dir). E2E_PID[NAME] is
# the program's own pid (ip netns exec execs it), so signals reach it.
# Environment for the program: set E2E_ENV=("VAR=value" ...) before.
e2e_spawn() {
    local host=$1 name=$2
    shift 2
    E2E_CMD[$name]="$(printf '%q ' "$host" "$@")"
    local envs=("${E2E_ENV[@]+"${E2E_ENV[@]}"}")
    E2E_CMD_ENV[$name]="$(printf '%q ' "${envs[@]+"${envs[@]}"}")"
    if [ -n "${E2E_HOST_NS[$host]}" ]; then
        ip netns exec "${E2E_HOST_NS[$host]}" env "${envs[@]+"${envs[@]}"}" "$@" \
            >>"$E2E_DIR/$name.out" 2>>"$E2E_DIR/$name.log" &
    else
        env "${envs[@]+"${envs[@]}"}" "$@" >>"$E2E_DIR/$name.out" 2>>"$E2E_DIR/$name.log" &
    fi
    E2E_PID[$name]=$!
}

e2e_alive() { kill -0 "${E2E_PID[$1]}" 2>/dev/null; }

# e2e_stop NAME [SIGNAL]: signals NAME (default TERM) and reaps it; prints
# nothing, returns its exit status. Escalates to KILL after 10 s (x slow).
e2e_stop() {
    local name=$1 sig=${2:-TERM} pid=${E2E_PID[$1]:-} i rc=0
    [ -n "$pid" ] || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 100 * E2E_SLOW; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    # (braces: bash reports "Killed" for the job on the shell's stderr)
    { wait "$pid"; } 2>/dev/null || rc=$?
    unset "E2E_PID[$name]"
    return $rc
}

# e2e_wait_exit NAME SECONDS: waits for NAME to exit by itself; sets
# E2E_RC to its exit status. Fails the scenario on timeout.
e2e_wait_exit() {
    local name=$1 limit=$2 pid=${E2E_PID[$1]} i
    for ((i = 0; i < limit * 10 * E2E_SLOW; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        e2e_fail "$name did not exit within $((limit * E2E_SLOW)) s"
    fi
    E2E_RC=0
    { wait "$pid"; } 2>/dev/null || E2E_RC=$?
    unset "E2E_PID[$name]"
}

# e2e_wait_log NAME PATTERN [SECONDS]: waits until NAME's log has a line
# matching the extended regex PATTERN; prints the first match.
e2e_wait_log() {
    local name=$1 pattern=$2 limit=${3:-20} i file=$E2E_DIR/$1.log
    for ((i = 0; i < limit * 10 * E2E_SLOW; i++)); do
        if grep -Eq -- "$pattern" "$file" 2>/dev/null; then
            grep -Eo -m1 -- "$pattern" "$file"
            return 0
        fi
        if [ -n "${E2E_PID[$name]:-}" ] && ! kill -0 "${E2E_PID[$name]}" 2>/dev/null; then
            e2e_fail "$name exited while we waited for '$pattern' in its log"
        fi
        sleep 0.1
    done
    e2e_fail "'$pattern' did not appear in $name's log within $((limit * E2E_SLOW)) s"
}

# e2e_wait_log_n NAME PATTERN N [SECONDS]: waits until NAME's log has N
# lines matching PATTERN (a restarted daemon appends to its log).
e2e_wait_log_n() {
    local name=$1 pattern=$2 n=$3 limit=${4:-20} i
    for ((i = 0; i < limit * 10 * E2E_SLOW; i++)); do
        [ "$(e2e_log_count "$name" "$pattern")" -ge "$n" ] && return 0
        sleep 0.1
    done
    e2e_fail "'$pattern' did not appear $n times in $name's log within $((limit * E2E_SLOW)) s"
}

# e2e_progress_verified NAME REMOTE: the verified count of REMOTE in NAME's
# latest progress line (stdout, once a second: "... | bob 249/250 | ...").
e2e_progress_verified() {
    grep -o "| $2 [0-9]*/" "$E2E_DIR/$1.out" 2>/dev/null | tail -1 | tr -dc '0-9'
}

# e2e_log_count NAME PATTERN: how many lines of NAME's log match.
e2e_log_count() { grep -Ec -- "$2" "$E2E_DIR/$1.log" 2>/dev/null || true; }

# ---- the stack -------------------------------------------------------------------------------

# e2e_start_signaling HOST [NAME] [ARGS...]: sets E2E_SIG_URL.
e2e_start_signaling() {
    local host=$1 name=${2:-signaling}
    shift $(($# >= 2 ? 2 : 1))
    E2E_ENV=("PERC_SIGNALING_TOKEN=$E2E_TOKEN")
    e2e_spawn "$host" "$name" "$BIN_SIG" --listen "${E2E_HOST_IP[$host]}:0" \
        --conference "${E2E_CONF:-e2e}" --log-level debug "$@"
    E2E_ENV=()
    local url
    url=$(e2e_wait_log "$name" "listening on ws://[0-9.]+:[0-9]+")
    E2E_SIG_URL="ws://${url#listening on ws://}/"
}

# e2e_start_kmf HOST [NAME] [ARGS...]: --open unless ARGS name a roster;
# sets E2E_KMF_ADDR (IP:PORT of its tunnel server). Restarting it (same
# NAME) reuses the port it had, so the MDD's reconnects find it again.
e2e_start_kmf() {
    local host=$1 name=${2:-kmf} port
    shift $(($# >= 2 ? 2 : 1))
    local policy=(--open)
    case " $* " in *" --roster "*) policy=() ;; esac
    port=${E2E_KMF_PORT:-0}
    E2E_ENV=("PERC_KMF_SIGNALING_TOKEN=$E2E_TOKEN")
    e2e_spawn "$host" "$name" "$BIN_KMF" --listen "${E2E_HOST_IP[$host]}:$port" \
        --cert "$E2E_DIR/certs/kmf.pem" --key "$E2E_DIR/certs/kmf.key" \
        --tunnel-ca "$E2E_DIR/certs/ca.pem" --signaling "$E2E_SIG_URL" \
        "${policy[@]+"${policy[@]}"}" --log-level debug "$@"
    E2E_ENV=()
    port=$(e2e_wait_log "$name" "tunnel server listening on port [0-9]+")
    E2E_KMF_PORT=${port##* }
    E2E_KMF_ADDR=${E2E_HOST_IP[$host]}:$E2E_KMF_PORT
    e2e_wait_log "$name" "signaling: welcome" >/dev/null
}

# e2e_start_mdd HOST NAME [ARGS...]: waits until it is connected to the KMF
# and to signaling; E2E_METRICS[NAME] is its /metrics HOST:PORT.
# E2E_MDD_BIN overrides the binary (the dishonest test build).
declare -gA E2E_METRICS=()
e2e_start_mdd() {
    local host=$1 name=$2 m
    shift 2
    E2E_ENV=("PERC_MDD_SIGNALING_TOKEN=$E2E_TOKEN")
    e2e_spawn "$host" "$name" "${E2E_MDD_BIN:-$BIN_MDD}" --signaling "$E2E_SIG_URL" \
        --kmf "$E2E_KMF_ADDR" --cert "$E2E_DIR/certs/mdd.pem" --key "$E2E_DIR/certs/mdd.key" \
        --kmf-ca "$E2E_DIR/certs/ca.pem" --kmf-name kmf --name "$name" \
        --media-address "${E2E_HOST_IP[$host]}" \
        --metrics-listen "${E2E_HOST_IP[$host]}:0" --log-level debug "$@"
    E2E_ENV=()
    m=$(e2e_wait_log "$name" "metrics: http://[0-9.]+:[0-9]+")
    E2E_METRICS[$name]=${m#metrics: http://}
    e2e_wait_log "$name" "tunnel: connected to the KMF" >/dev/null
    e2e_wait_log "$name" "signaling: welcome" >/dev/null
}

# e2e_restart NAME: starts NAME again exactly as it was started (same
# host, arguments and environment as recorded by e2e_spawn); its new
# output is appended to the same files.
e2e_restart() {
    local name=$1
    eval "E2E_ENV=(${E2E_CMD_ENV[$name]})"
    eval "e2e_spawn ${E2E_CMD[$name]%% *} $name ${E2E_CMD[$name]#* }"
    E2E_ENV=()
}

# e2e_endpoint HOST NAME [ARGS...]: perc-endpoint in the background,
# stats into NAME.json, progress and summary into NAME.out, log NAME.log.
e2e_endpoint() {
    local host=$1 name=$2
    shift 2
    e2e_spawn "$host" "$name" "$BIN_EP" --signaling "$E2E_SIG_URL" \
        --conference "${E2E_CONF:-e2e}" --name "$name" \
        --media-address "${E2E_HOST_IP[$host]}" --stats "$E2E_DIR/$name.json" \
        --connect-timeout $((20 * E2E_SLOW)) "$@"
}

# e2e_http HOST HOSTPORT PATH: an HTTP GET from HOST (the MDD's metrics
# listen on its own address, reachable only inside the namespaces).
e2e_http() {
    e2e_in "$1" curl -fsS --max-time 5 "http://$2$3"
}

# e2e_metric TEXT NAME: one sample of a Prometheus text ("" if absent).
e2e_metric() { sed -n "s/^$2 //p" <<<"$1" | head -1; }

# ---- JSON statistics ---------------------------------------------------------------------------

# e2e_jq FILE FILTER [jq args...]: jq -r on an endpoint's stats.
e2e_jq() {
    local f=$1
    shift
    [ -s "$f" ] || e2e_fail "no statistics file $f"
    jq -r "$@" "$f"
}

# e2e_check_mesh MIN_RATIO NAME...: every named endpoint (one process, one
# participant each, stats NAME.json) verified at least MIN_RATIO of the
# packets of every other, measured against what that other sent while
# the receiver was in the call: verified / (verified + lost + rejected)
# in the receiver's counters (RTP sequence gaps count as lost; packets
# rejected before the sender's key arrived, RFC 8870 §4.6, do not count),
# and also against the sender's own sent_packets with the looser bound
# E2E_MESH_SENT_MIN (default 0.95: separate processes start media when
# each is keyed, so a receiver misses a sender's first packets; 0 for a
# receiver that joined late). Fails on a
# corrupt payload that was counted verified. Prints one line per pair.
e2e_check_mesh() {
    local min=$1 a b bad=0
    shift
    for a in "$@"; do
        for b in "$@"; do
            [ "$a" = "$b" ] || e2e_check_pair "$min" "$a" "$b" || bad=1
        done
    done
    [ "$bad" = 0 ] || e2e_fail "an endpoint did not verify >= $min of another's packets"
}

# e2e_check_pair MIN_RATIO A B: A verified enough of B (as above); prints
# the line, returns 1 when not.
e2e_check_pair() {
    local min=$1 a=$2 b=$3 line v l rj pb rwj sent ok
    line=$(jq -r --arg b "$b" --slurpfile s "$E2E_DIR/$b.json" '
        .participants[0] as $p
        | ([$p.remotes[] | select(.identity == $b)] | first) as $r
        | ($s[0].participants[0].sent_packets) as $sent
        | if $r == null then "none 0 0 0 0 \($sent)"
          else "\($r.verified) \($r.lost) \($r.rejected_total) \($r.payload_bad) \($r.rejected_while_joining // 0) \($sent)" end' \
        "$E2E_DIR/$a.json") || e2e_fail "cannot read $a.json / $b.json"
    read -r v l rj pb rwj sent <<<"$line"
    if [ "$v" = none ]; then
        echo "  $a <- $b: no statistics about $b"
        return 1
    fi
    ok=$(awk -v v="$v" -v l="$l" -v r="$rj" -v w="$rwj" -v m="$min" -v s="$sent" \
        -v ms="${E2E_MESH_SENT_MIN:-0.95}" \
        'BEGIN { d = v + l + r - w; print (d > 0 && v >= m * d && v >= ms * s) ? 1 : 0 }')
    printf '  %s <- %s: verified %s, lost %s, rejected %s (%s while joining), payload_bad %s; %s sent %s\n' \
        "$a" "$b" "$v" "$l" "$rj" "$rwj" "$pb" "$b" "$sent"
    [ "$ok" = 1 ] || { echo "    below $min"; return 1; }
    [ "$pb" = 0 ] || { echo "    corrupt payloads counted"; return 1; }
}

# ---- outcome -------------------------------------------------------------------------------

e2e_elapsed() { awk -v a="$E2E_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# e2e_fail MESSAGE: the scenario failed; the EXIT trap prints the logs.
e2e_fail() {
    echo "E2E FAIL [$E2E_NAME, $E2E_MODE mode]: $*" >&2
    E2E_FAILED=1
    exit 1
}

# e2e_skip REASON: exit 77 (ctest SKIP_RETURN_CODE), only for an
# environment in which the scenario cannot possibly run.
e2e_skip() {
    echo "E2E SKIP [${E2E_NAME:-?}]: $*"
    E2E_SKIPPED=1
    exit 77
}

e2e_pass() {
    echo "E2E PASS [$E2E_NAME, $E2E_MODE mode, $(e2e_elapsed) s]: $*"
}

# Prints every log of the work dir (the tail of long ones).
e2e_dump_logs() {
    local f
    for f in "$E2E_DIR"/*.log "$E2E_DIR"/*.out; do
        [ -s "$f" ] || continue
        echo "---- $(basename "$f") (last 80 lines of $(wc -l <"$f")) ----"
        tail -n 80 "$f"
    done
    for f in "$E2E_DIR"/*.json; do
        [ -s "$f" ] || continue
        echo "---- $(basename "$f") (summary) ----"
        jq -c '.participants[]? | {name, state, exit_code, error, sent_packets,
               remotes: [.remotes[]? | {identity, received, verified, lost, rejected_total, rejected}]}' \
            "$f" 2>/dev/null || head -c 2000 "$f"
    done
    echo "---- end of logs (all files in $E2E_DIR) ----"
}

e2e_cleanup() {
    local rc=$?
    trap - EXIT TERM INT HUP
    set +e
    local name
    for name in "${!E2E_PID[@]}"; do kill -TERM "${E2E_PID[$name]}" 2>/dev/null; done
    sleep 0.3
    for name in "${!E2E_PID[@]}"; do
        kill -KILL "${E2E_PID[$name]}" 2>/dev/null
        { wait "${E2E_PID[$name]}"; } 2>/dev/null
    done
    if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
        [ -n "${E2E_FAILED:-}" ] || echo "E2E FAIL [${E2E_NAME:-?}]: exit status $rc (a command failed; see above)" >&2
        e2e_dump_logs >&2
    fi
    local ns
    for ns in "${E2E_HOST_NS[@]}"; do [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null; done
    [ -n "${E2E_BRIDGE_NS:-}" ] && ip netns del "$E2E_BRIDGE_NS" 2>/dev/null
    exit "$rc"
}
