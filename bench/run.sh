#!/bin/sh
# Builds the benchmarks in Release and runs them. Results (JSON) go to
# bench/results/ (not committed). Options are passed to every benchmark,
# e.g. bench/run.sh --n 200 --runs 5.
# BUILD_DIR overrides the build directory (default build/bench).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-"$root/build/bench"}
case $build in /*) ;; *) build="$root/$build" ;; esac
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target bench_kmf_handshakes -j "$(nproc 2>/dev/null || echo 2)"
mkdir -p "$root/bench/results"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(openssl version 2>/dev/null || echo 'openssl CLI not found')"
"$build/bench/bench_kmf_handshakes" --out "$root/bench/results/kmf_handshakes.json" "$@"
