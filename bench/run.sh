#!/usr/bin/env bash
# The one benchmark command: builds Release and runs every benchmark, then
# writes JSON per benchmark, a combined summary.json, callgrind instruction
# counts and PNG plots (gnuplot) into an output folder.
#
# Usage: bench/run.sh [--smoke] [--runs R] [--n N] [--out DIR] [--no-callgrind] [--no-macro]
#   --smoke         every benchmark for about one second (no callgrind); the
#                   macro benchmarks for a few seconds each
#   --runs R        runs per benchmark (each figure is the median over them)
#   --n N           handshakes per run of bench_kmf_handshakes (default 200)
#   --out DIR       output folder (default bench/results/, not committed)
#   --no-callgrind  skip the valgrind instruction counts
#   --no-macro      skip the macro benchmarks (real processes on 127.0.0.1:
#                   bench/macro_mdd_load.sh, bench/macro_latency.sh,
#                   bench/macro_kmf.sh; about seven minutes without --smoke)
# BUILD_DIR overrides the build directory (default build/bench).
# Installs valgrind and gnuplot-nox (tools/lib/deps.sh) when they are
# missing and it can; without them it says what it skipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/tools/lib/deps.sh"

smoke=0
callgrind=1
macro=1
runs=""
kmf_n=""
out="$root/bench/results"
while [ $# -gt 0 ]; do
    case $1 in
    --smoke) smoke=1 ;;
    --no-callgrind) callgrind=0 ;;
    --no-macro) macro=0 ;;
    --runs) runs=$2; shift ;;
    --n) kmf_n=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "usage: bench/run.sh [--smoke] [--runs R] [--n N] [--out DIR] [--no-callgrind] [--no-macro]" >&2
       exit 2 ;;
    esac
    shift
done
case $out in /*) ;; *) out="$PWD/$out" ;; esac
build=${BUILD_DIR:-"$root/build/bench"}
case $build in /*) ;; *) build="$root/$build" ;; esac

perc_install_packages $PERC_BUILD_PACKAGES libsrtp2-dev $PERC_BENCH_PACKAGES ||
    echo "warning: could not install packages; benchmarks that need them are skipped" >&2

# A fresh build directory does not need the unit tests (and their CMocka).
configure=(-G Ninja -DCMAKE_BUILD_TYPE=Release)
[ -f "$build/CMakeCache.txt" ] || configure+=(-DPERC_TESTS=OFF)
cmake -S "$root" -B "$build" "${configure[@]}" >/dev/null
targets=(bench_kmf_handshakes perc_micro_benches)
# The macro benchmarks run the programs themselves.
[ $macro = 1 ] && targets+=(perc-signaling perc-kmf perc-mdd perc-endpoint)
cmake --build "$build" --target "${targets[@]}" -j "$(nproc 2>/dev/null || echo 2)"
mkdir -p "$out"

machine="$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(openssl version 2>/dev/null || echo 'openssl CLI not found')"
echo "machine: $machine"

micro_args=()
kmf_args=()
[ -n "$runs" ] && micro_args+=(--runs "$runs") && kmf_args+=(--runs "$runs")
[ -n "$kmf_n" ] && kmf_args+=(--n "$kmf_n")
if [ $smoke = 1 ]; then
    micro_args+=(--smoke)
    # about a second: a few handshakes, three runs
    [ -n "$kmf_n" ] || kmf_args+=(--n 40)
    [ -n "$runs" ] || kmf_args+=(--runs 3)
    callgrind=0
fi

names=()
for b in bench_srtp bench_mdd_forward bench_ekt; do
    if [ ! -x "$build/bench/$b" ]; then
        echo "== $b: not built (libsrtp2 missing?), skipped"
        continue
    fi
    echo; echo "== $b"
    "$build/bench/$b" "${micro_args[@]}" --out "$out/${b#bench_}.json"
    names+=("${b#bench_}")
done
echo; echo "== bench_kmf_handshakes"
"$build/bench/bench_kmf_handshakes" "${kmf_args[@]}" --out "$out/kmf_handshakes.json"
names+=(kmf_handshakes)

if [ $macro = 1 ]; then
    macro_args=(--bin "$build" --out "$out")
    [ $smoke = 1 ] && macro_args+=(--smoke)
    for b in macro_mdd_load macro_latency macro_kmf; do
        echo; echo "== $b (real processes on 127.0.0.1)"
        if "$root/bench/$b.sh" "${macro_args[@]}"; then
            names+=("$b")
        else
            echo "warning: $b failed; see $out/$b/" >&2
        fi
    done
fi

if [ $callgrind = 1 ]; then
    echo; echo "== callgrind instruction counts"
    "$root/bench/callgrind.sh" "$build/bench" "$out/callgrind.json"
fi

# summary.json: every benchmark's JSON under its name.
{
    echo "{"
    echo "  \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
    echo "  \"machine\": \"$machine\","
    echo "  \"smoke\": $([ $smoke = 1 ] && echo true || echo false),"
    echo "  \"benchmarks\": {"
    parts=()
    for n in "${names[@]}"; do
        parts+=("$n")
    done
    [ $callgrind = 1 ] && [ -f "$out/callgrind.json" ] && parts+=(callgrind)
    for i in "${!parts[@]}"; do
        sep=$([ "$i" -lt $((${#parts[@]} - 1)) ] && echo "," || echo "")
        echo "    \"${parts[$i]}\": $(cat "$out/${parts[$i]}.json")$sep"
    done
    echo "  }"
    echo "}"
} >"$out/summary.json"

echo; echo "== summary: ratios (baseline ns / ours ns, medians over runs; targets reported, not asserted)"
printf '%-44s %8s %8s %s\n' "ratio" "median" "target" ""
cat "$out"/*.ratios.tsv 2>/dev/null | grep -v '^#' |
    awk -F'\t' '{ t = ($6 > 0) ? sprintf(">=%.2f", $6) : "-"; m = ($7 == "-") ? "" : $7;
                 gsub("_", " ", m); printf "%-44s %8.3f %8s %s\n", $2, $3, t, m }'
if [ -f "$out/macro_mdd_load.json" ] || [ -f "$out/macro_latency.json" ] ||
    [ -f "$out/macro_kmf.json" ]; then
    echo; echo "== summary: macro benchmarks (targets reported, not asserted)"
    python3 "$root/bench/macro_summary.py" "$out"
fi
echo "JSON: $out/summary.json (and one file per benchmark)"

if command -v gnuplot >/dev/null 2>&1; then
    for n in "${names[@]}"; do
        [ -f "$out/$n.ratios.tsv" ] || continue
        gnuplot -e "name='$n'; dir='$out'" "$root/bench/plot.gp"
    done
    if [ -f "$out/macro_mdd_load.steps.tsv" ]; then
        gnuplot -e "dir='$out'" "$root/bench/plot_macro.gp"
    fi
    echo "plots: $(cd "$out" && ls *.png 2>/dev/null | tr '\n' ' ')"
else
    echo "plots: skipped, gnuplot not found (Debian: apt-get install gnuplot-nox)"
fi
