#!/usr/bin/env bash
# Builds and runs every test of the project:
#   1. the normal build (gcc) and its ctest,
#   2. an ASan+UBSan build (clang, every finding fatal) and its ctest,
#   3. each libFuzzer target for a short fixed time on a copy of its seed
#      corpus (PERC_FUZZ_SECONDS, default 20).
# Installs the Debian packages it needs when they are missing.
# Usage: tools/test.sh [--quick]   (--quick: step 1 only)
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/lib/deps.sh

quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${PERC_FUZZ_SECONDS:-20}

perc_install_packages $PERC_BUILD_PACKAGES $PERC_TEST_PACKAGES

step() { echo; echo "== $*"; }

# Release (-O3) as the demo builds it: gcc's optimiser finds warnings that
# -O2 does not, and -Werror must hold for what users build.
step "normal build (gcc, Release) and tests"
cmake -S . -B build/gcc -G Ninja -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build/gcc -j "$jobs"
(cd build/gcc && ctest --output-on-failure -j "$jobs")
[ "$quick" = 1 ] && exit 0

step "ASan + UBSan build (clang) and tests"
cmake -S . -B build/asan -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
      -DPERC_SANITIZE=ON >/dev/null
ninja -C build/asan -j "$jobs"
(cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs")

step "libFuzzer targets, ${fuzz_seconds}s each"
cmake -S . -B build/fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DPERC_FUZZ=ON -DPERC_TESTS=OFF >/dev/null
ninja -C build/fuzz -j "$jobs"
fuzzers=$(find build/fuzz/tests -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x | sort)
[ -n "$fuzzers" ] || { echo "error: no fuzz targets were built" >&2; exit 1; }
passed=0
failed=0
for bin in $fuzzers; do
    name=$(basename "$bin")
    seeds="tests/fuzz/corpus/${name#fuzz_}"
    [ -d "$seeds" ] || { echo "error: $name has no seed corpus at $seeds" >&2; exit 1; }
    work=$(mktemp -d)
    cp -r "$seeds/." "$work/"
    if "$bin" -max_total_time="$fuzz_seconds" -print_final_stats=0 "$work" \
           >"build/fuzz/$name.log" 2>&1; then
        echo "fuzz: $name ok ($(ls "$work" | wc -l) corpus files after the run)"
        passed=$((passed + 1))
    else
        echo "fuzz: $name FAILED; log:"; tail -40 "build/fuzz/$name.log"
        failed=$((failed + 1))
    fi
    rm -rf "$work"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
