#!/usr/bin/env bash
# Scenario 9, scale (issue 7): 30 participants in one conference, from one
# perc-endpoint process (--participants 30: 30 independent identities, ICE
# agents, DTLS associations and keys; media starts once all are keyed) on
# its own host, through one MDD with --last-n 5 (it forwards only the 5
# loudest senders by RFC 6464 audio level to each receiver).
#
# Asserted (correctness, not performance, on this 2-core machine): all 30
# keyed and sent; every receiver verified media from at least 4 senders
# (5 selected, minus itself when it is one of them);
# nothing was rejected after a sender's first verified packet and no
# verified frame was corrupt; what the receivers verified is >= 99 % of
# the RTP the MDD says it forwarded, i.e. the selection was the only thing
# keeping packets from them. Recorded (scale.json in the work dir, and
# printed): per receiver verified counts, the MDD's packets in/out and
# not_selected drops, and its CPU time (utime+stime from /proc/PID/stat)
# and memory (VmRSS, VmHWM) over the media interval.
# Left out of the sanitizer build: 30 participants of ASan code on 2
# cores measure the sanitizer, not the scenario (the output says so).
. "$(dirname "$0")/lib.sh"
e2e_init scale "$@"
[ "$E2E_ASAN" = 1 ] && [ -z "${PERC_E2E_SCALE_UNDER_ASAN:-}" ] &&
    e2e_skip "sanitizer build: 30 participants under ASan on this machine time the sanitizer, not the scenario; runs in the normal build (PERC_E2E_SCALE_UNDER_ASAN=1 forces it)"

n=30
secs=15
e2e_host sig; e2e_host kmf; e2e_host mdd; e2e_host h-eps
e2e_start_signaling sig signaling --max-participants 64
e2e_start_kmf kmf
e2e_start_mdd mdd mdd-1 --last-n 5 --liveness-timeout 30
mdd_pid=${E2E_PID[mdd-1]}
tck=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$mdd_pid/stat"; }
mem() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$mdd_pid/status"; }

e2e_endpoint h-eps eps --participants "$n" --duration "$secs" --connect-timeout $((60 * E2E_SLOW))
e2e_wait_log eps "first verified packet" 90 >/dev/null
cpu0=$(cpu); t0=$(date +%s.%N)
sleep $((secs - 2))
cpu1=$(cpu); t1=$(date +%s.%N)
rss=$(mem VmRSS); hwm=$(mem VmHWM)
e2e_http mdd "${E2E_METRICS[mdd-1]}" /metrics >"$E2E_DIR/metrics-media.txt" ||
    e2e_fail "no /metrics from the MDD"
e2e_wait_exit eps 90
[ "$E2E_RC" = 0 ] || e2e_fail "perc-endpoint (30 participants) exited $E2E_RC"
e2e_http mdd "${E2E_METRICS[mdd-1]}" /metrics >"$E2E_DIR/metrics-end.txt" ||
    e2e_fail "no /metrics from the MDD after the call"
metrics_end=$(cat "$E2E_DIR/metrics-end.txt")

f=$E2E_DIR/eps.json
keyed=$(e2e_jq "$f" '[.participants[] | select(.state == "done")] | length')
[ "$keyed" = "$n" ] || e2e_fail "$keyed of $n participants ended in state done"
out=$(e2e_metric "$metrics_end" perc_mdd_packets_out_total)
rtp_in=$(e2e_metric "$metrics_end" perc_mdd_rtp_in_total)
not_sel=$(e2e_metric "$metrics_end" 'perc_mdd_drops_total{reason="not_selected"}')
read -r verified rejected_late bad min_senders max_senders sent <<<"$(e2e_jq "$f" '
    ([.participants[].remotes[].verified] | add) as $v
    | ([.participants[].remotes[] | .rejected_total - (.rejected_while_joining // 0)] | add) as $r
    | ([.participants[].remotes[] | .payload_bad] | add) as $b
    | [.participants[] | [.remotes[] | select(.verified > 0)] | length] as $s
    | ([.participants[].sent_packets] | add) as $sent
    | "\($v) \($r) \($b) \($s | min) \($s | max) \($sent)"')"
cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$tck" 'BEGIN { printf "%.2f", (b - a) / t }')
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
pct=$(awk -v c="$cpu_s" -v w="$wall" 'BEGIN { printf "%.1f", 100 * c / w }')
# RTP copies the MDD should have forwarded: every selected packet to each
# of the other n-1 (packets_out also counts RTCP, not_selected counts
# incoming packets).
expected=$(( (${rtp_in:-0} - ${not_sel:-0}) * (n - 1) ))
ratio=$(awk -v v="$verified" -v e="$expected" 'BEGIN { printf "%.4f", (e > 0) ? v / e : 0 }')

jq -n --argjson n "$n" --argjson secs "$secs" --argjson sent "$sent" --argjson verified "$verified" \
    --argjson out "${out:-0}" --argjson expected "$expected" --argjson rtp_in "${rtp_in:-0}" --argjson not_selected "${not_sel:-0}" \
    --argjson cpu "$cpu_s" --argjson wall "$wall" --argjson pct "$pct" \
    --argjson rss "${rss:-0}" --argjson hwm "${hwm:-0}" --arg mode "$E2E_MODE" \
    --slurpfile eps "$f" '{
      participants: $n, last_n: 5, media_seconds: $secs, mode: $mode,
      sent_packets: $sent, verified_packets: $verified, rtp_copies_forwarded: $expected,
      mdd: {rtp_in: $rtp_in, packets_out_incl_rtcp: $out, drops_not_selected: $not_selected,
            cpu_seconds: $cpu, over_wall_seconds: $wall, cpu_percent: $pct,
            vm_rss_kib: $rss, vm_hwm_kib: $hwm},
      per_receiver: [$eps[0].participants[] | {name, senders_verified: [.remotes[] | select(.verified > 0)] | length,
                                               verified: ([.remotes[].verified] | add)}]
    }' >"$E2E_DIR/scale.json"
echo "e2e: $n participants, $secs s: sent $sent, MDD rtp in $rtp_in, out $out, not_selected $not_sel"
echo "e2e: receivers verified $verified packets: $ratio of the $expected RTP copies the MDD forwarded ((rtp in - not selected) x $((n - 1))); senders verified per receiver: $min_senders..$max_senders"
echo "e2e: MDD: CPU $cpu_s s over $wall s of media ($pct % of one core), VmRSS $rss KiB, VmHWM $hwm KiB (recorded in scale.json)"

[ "$bad" = 0 ] || e2e_fail "$bad verified frames had a wrong synthetic payload"
[ "$rejected_late" = 0 ] || e2e_fail "$rejected_late packets rejected after their sender's first verified one"
# One of the 5 loudest is not sent its own media: 4 others at least.
[ "$min_senders" -ge 4 ] || e2e_fail "a receiver verified media from only $min_senders senders (last-N 5)"
awk -v r="$ratio" 'BEGIN { exit !(r >= 0.99) }' ||
    e2e_fail "receivers verified only $ratio of the packets the MDD forwarded"
[ "${not_sel:-0}" -gt 0 ] || e2e_fail "the MDD dropped nothing as not selected: was last-N 5 applied?"
e2e_pass "30 participants, last-N 5: all keyed, >= 99 % of the forwarded packets verified; MDD ${pct} % CPU, ${hwm} KiB peak RSS"
