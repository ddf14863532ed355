#!/usr/bin/env bash
# Scenario 6, a dishonest Media Distributor (issue 7): perc-mdd-dishonest
# (a test build, never installed) tampers with every N-th copy it forwards:
# flips a payload bit, changes the timestamp, changes the SSRC (each then
# sealed correctly with the receiver's hop key, so only the end-to-end
# layer can notice), replays a copy already sent, or sends a receiver the
# copy sealed for someone else (wrong outgoing key). Every receiver must
# reject each one and count the reason, and nothing tampered may count as
# verified: the endpoint checks every verified frame's synthetic payload
# (it names its SSRC, sequence number and timestamp and ends in a hash), so
# payload_bad = 0 means no corrupt frame got through (what a recording
# would have held: --record is not built yet).
#
# Two rounds with a fresh dishonest MDD each, because the binary counts
# its two kinds of attack on the same rotation (every N-th copy before
# sealing and every N-th after), so in one run a payload-tampered copy
# could be the one then replaced by another receiver's: its reason at the
# receiver would no longer match the MDD's count.
#   round A: payload, timestamp, ssrc -> inner_auth (payload, timestamp),
#            no_key (the SSRC nobody announced)
#   round B: replay, wrong-key        -> replay, outer_auth (or replay:
#            see the check at the end)
# The endpoints' counts must equal the MDD's exactly. To make that exact
# the round ends in this order: the endpoint process is frozen (SIGSTOP;
# nothing new to forward), the MDD drains, then exits (SIGTERM) and reports
# what it did; only then is the endpoint resumed and stopped, so every
# copy the MDD tampered with is in a receiver's socket buffer and counted.
# Three participants in one perc-endpoint process (--participants 3):
# their media starts once all three hold the EKTKey, so no tampered copy
# arrives while a receiver is still joining (which would be a no_key
# rejection of any kind).
. "$(dirname "$0")/lib.sh"
e2e_init dishonest "$@"

e2e_host sig; e2e_host kmf; e2e_host mdd; e2e_host h-eps
e2e_start_signaling sig
e2e_start_kmf kmf

every=7
secs=$((6 * E2E_SLOW))

# round NAME MODES: one round; leaves the MDD's counts in T_* and the sums
# of the receivers' rejections by reason in R_*.
round() {
    local r=$1 modes=$2 line
    E2E_MDD_BIN=$BIN_MDD_DISHONEST e2e_start_mdd mdd "mdd-$r" --misbehave "$modes" \
        --misbehave-every "$every"
    e2e_wait_log "mdd-$r" "THIS IS A DISHONEST MEDIA DISTRIBUTOR" >/dev/null
    e2e_endpoint h-eps "ep-$r" --participants 3 --duration 0
    # Media for $secs once all three are keyed.
    e2e_wait_log "ep-$r" "first verified packet" 30 >/dev/null
    sleep "$secs"
    kill -STOP "${E2E_PID[ep-$r]}"
    sleep 1
    e2e_stop "mdd-$r" TERM || e2e_fail "perc-mdd-dishonest did not exit cleanly"
    kill -CONT "${E2E_PID[ep-$r]}"
    # It was ended (mdd-gone, exit 4) when the MDD left signaling: the
    # order that makes the counts exact. Its JSON is judged below.
    e2e_stop "ep-$r" TERM || true
    line=$(e2e_wait_log "mdd-$r" "dishonest: tampered payload [0-9]+, timestamp [0-9]+, ssrc [0-9]+, replayed [0-9]+, wrong key [0-9]+" 5)
    echo "e2e: round $r ($modes): MDD: ${line#dishonest: }"
    read -r T_payload T_timestamp T_ssrc T_replay T_wrong <<<"$(tr -cs '0-9' ' ' <<<"$line")"
    local f=$E2E_DIR/ep-$r.json
    read -r R_inner R_nokey R_replay R_outer R_other <<<"$(e2e_jq "$f" '
        [.participants[].remotes[].rejected] as $r
        | [([$r[].inner_auth] | add), ([$r[].no_key] | add), ([$r[].replay] | add),
           ([$r[].outer_auth] | add),
           ([$r[] | to_entries[] | select(.key | IN("inner_auth","no_key","replay","outer_auth") | not) | .value] | add // 0)]
        | map(. // 0) | @tsv')"
    echo "e2e: round $r: receivers rejected: inner_auth $R_inner, no_key $R_nokey, replay $R_replay, outer_auth $R_outer, other $R_other"
    # Nothing tampered counted as verified; every verified frame was sound.
    local bad
    bad=$(e2e_jq "$f" '[.participants[].remotes[] | select(.payload_bad != 0 or .payload_ok != .verified)] | length')
    [ "$bad" = 0 ] || e2e_fail "round $r: a verified frame's synthetic payload was wrong (payload_bad != 0)"
    [ "$R_other" = 0 ] || e2e_fail "round $r: rejections for reasons the MDD's attacks do not explain"
    # Every participant still verified the two honest senders (most copies
    # are untouched).
    E2E_MESH_SENT_MIN=0 check_pairs "$f" || e2e_fail "round $r: honest media did not get through"
}

# Each of the three verified >= 75 % of each other's packets: 1 in $every
# copies is attacked (and a wrong-key copy replaces the real one).
check_pairs() {
    jq -e '
        [.participants[] as $p | .participants[] as $q | select($p.name != $q.name)
         | ($p.remotes[] | select(.identity == $q.name)) as $r
         | select($r.verified < 0.75 * $q.sent_packets)] | length == 0' "$1" >/dev/null
}

round A payload,timestamp,ssrc
[ "$((T_payload + T_timestamp))" -gt 0 ] && [ "$T_ssrc" -gt 0 ] || e2e_fail "round A: the MDD tampered with nothing"
[ "$R_inner" = "$((T_payload + T_timestamp))" ] ||
    e2e_fail "round A: $((T_payload + T_timestamp)) payload/timestamp copies tampered, $R_inner rejected for inner_auth"
[ "$R_nokey" = "$T_ssrc" ] || e2e_fail "round A: $T_ssrc SSRCs changed, $R_nokey rejected for no_key"
[ "$R_replay" = 0 ] && [ "$R_outer" = 0 ] || e2e_fail "round A: unexpected replay/outer_auth rejections"

round B replay,wrong-key
[ "$T_replay" -gt 0 ] && [ "$T_wrong" -gt 0 ] || e2e_fail "round B: the MDD tampered with nothing"
# A copy sealed for another receiver carries that receiver's sequence
# number (the MDD numbers each receiver's stream itself); when this
# receiver has already seen that number, the hop layer's replay check,
# which comes before authentication (RFC 3711 §3.3), rejects it as a
# replay; otherwise its tag fails (outer_auth). So: every attacked copy
# rejected, replays at least as many as replayed, and the rest outer_auth.
[ "$((R_replay + R_outer))" = "$((T_replay + T_wrong))" ] ||
    e2e_fail "round B: $((T_replay + T_wrong)) copies replayed or under the wrong key, $((R_replay + R_outer)) rejected (replay + outer_auth)"
[ "$R_replay" -ge "$T_replay" ] || e2e_fail "round B: $T_replay copies replayed, only $R_replay rejected as replays"
[ "$R_outer" -gt 0 ] || e2e_fail "round B: no wrong-key copy failed the hop authentication"
[ "$R_inner" = 0 ] && [ "$R_nokey" = 0 ] || e2e_fail "round B: unexpected inner_auth/no_key rejections"

e2e_pass "every tampered, replayed and wrongly keyed copy was rejected for its reason and counted; no corrupt frame verified"
