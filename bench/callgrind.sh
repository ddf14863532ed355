#!/usr/bin/env bash
# Instruction counts of the micro benchmarks' hot paths under
# valgrind --tool=callgrind: unlike times, they do not drift with the load
# of a shared machine, so a regression shows as a larger count.
#
# Each benchmark lists its cases with --list (the 160-octet and the EKT
# cases); each case runs for exactly K operations in its --callgrind mode,
# and only bench_callgrind_chunk (the loop over those operations, set-up,
# packet preparation and a warm-up excluded) is collected. Ir per operation
# = total Ir / K.
#
# Usage: bench/callgrind.sh [BENCH_BIN_DIR] [OUT.json] [K]
#   defaults: build/bench/bench, bench/results/callgrind.json, 1000
# Counts are of valgrind's synthetic CPU: OpenSSL picks its code path from
# the CPUID valgrind reports (AES-NI and PCLMULQDQ, no AVX-512), so they are
# comparable between runs and machines, not with native cycles.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-"$root/build/bench/bench"}
out=${2:-"$root/bench/results/callgrind.json"}
k=${3:-1000}

if ! command -v valgrind >/dev/null 2>&1; then
    echo "callgrind: valgrind not found, skipping the instruction counts" \
         "(Debian: apt-get install valgrind)" >&2
    exit 0
fi
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rows=()
printf '%-40s %14s\n' "case" "Ir/op"
for b in bench_srtp bench_mdd_forward bench_ekt; do
    exe="$bin/$b"
    if [ ! -x "$exe" ]; then
        echo "callgrind: $exe not built, skipped" >&2
        continue
    fi
    while IFS= read -r c; do
        f="$tmp/cg.out"
        valgrind --tool=callgrind --toggle-collect=bench_callgrind_chunk \
                 --callgrind-out-file="$f" "$exe" --callgrind "$c" --iterations "$k" \
                 >"$tmp/log" 2>&1 || { echo "callgrind: $b $c failed:"; tail -20 "$tmp/log"; exit 1; }
        total=$(awk '/^totals:/ {print $2}' "$f")
        [ -n "$total" ] || total=$(awk '/^summary:/ {print $2}' "$f")
        per=$(awk -v t="$total" -v k="$k" 'BEGIN {printf "%.1f", t / k}')
        printf '%-40s %14s\n' "$c" "$per"
        rows+=("$b	$c	$total	$per")
    done < <("$exe" --list)
done

# The same ratios as the timed benchmarks, on counts: baseline Ir / ours Ir.
{
    echo "{"
    echo "  \"tool\": \"valgrind --tool=callgrind --toggle-collect=bench_callgrind_chunk\","
    echo "  \"valgrind\": \"$(valgrind --version)\","
    echo "  \"iterations\": $k,"
    echo "  \"cases\": ["
    n=${#rows[@]}
    for i in "${!rows[@]}"; do
        IFS=$'\t' read -r b c total per <<<"${rows[$i]}"
        sep=$([ "$i" -lt $((n - 1)) ] && echo "," || echo "")
        echo "    {\"benchmark\": \"$b\", \"name\": \"$c\", \"ir_total\": $total, \"ir_per_op\": $per}$sep"
    done
    echo "  ],"
    echo "  \"ratios\": ["
    first=1
    for r in "${rows[@]}"; do
        IFS=$'\t' read -r b c total per <<<"$r"
        case $c in */ours/*) ;; *) continue ;; esac
        for base in evp ceiling libsrtp; do
            bc=${c/\/ours\//\/$base\/}
            for r2 in "${rows[@]}"; do
                IFS=$'\t' read -r b2 c2 total2 per2 <<<"$r2"
                [ "$c2" = "$bc" ] || continue
                ratio=$(awk -v a="$per2" -v o="$per" 'BEGIN {printf "%.4f", a / o}')
                [ $first = 1 ] || echo ","
                first=0
                printf '    {"subject": "%s", "baseline": "%s", "ratio_baseline_ir_to_ours": %s}' \
                       "$c" "$c2" "$ratio"
            done
        done
    done
    echo
    echo "  ]"
    echo "}"
} >"$out"
echo "callgrind: $out"
