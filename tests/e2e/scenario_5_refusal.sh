#!/usr/bin/env bash
# Scenario 5, refusal (issue 7; docs/signaling.md §6.3): the KMF runs with
# a roster that names alice and bob. While they talk, mallory (not on the
# roster) tries to join from her own host: her join is refused, she gets a
# clear error (exit 3 and the KMF's reason), she is never keyed, the MDD
# never receives keys for her (no hop-by-hop keys installed for her
# participant, told to drop her), and alice and bob notice nothing.
. "$(dirname "$0")/lib.sh"
e2e_init refusal "$@"

e2e_host sig; e2e_host kmf; e2e_host mdd
e2e_host h-alice; e2e_host h-bob; e2e_host h-mallory
cat >"$E2E_DIR/roster.json" <<'JSON'
{"conferences": {"e2e": {"open": false,
                         "allow": [{"identity": "alice"}, {"identity": "bob"}]}}}
JSON
e2e_start_signaling sig
e2e_start_kmf kmf kmf --roster "$E2E_DIR/roster.json"
e2e_start_mdd mdd mdd-1

secs=8
e2e_endpoint h-alice alice --duration "$secs"
e2e_endpoint h-bob bob --duration "$secs"
e2e_wait_log kmf "participant 'bob' admitted" 20 >/dev/null
e2e_wait_log kmf "participant 'alice' admitted" 20 >/dev/null

# mallory, mid-call.
e2e_endpoint h-mallory mallory --duration 3
e2e_wait_exit mallory 30
echo "e2e: mallory exited $E2E_RC; her error:"
grep -E "error|refused" "$E2E_DIR/mallory.log" | head -3 | sed 's/^/  /'
[ "$E2E_RC" = 3 ] || e2e_fail "mallory exited $E2E_RC, not 3 (refused)"
grep -q "'mallory' is not on the roster of conference 'e2e'" "$E2E_DIR/mallory.log" ||
    e2e_fail "mallory's log does not give the KMF's reason"
[ "$(e2e_jq "$E2E_DIR/mallory.json" '.participants[0].ekt_spis | length')" = 0 ] ||
    e2e_fail "mallory received an EKTKey"
[ "$(e2e_jq "$E2E_DIR/mallory.json" '.participants[0].exit_code')" = 3 ] ||
    e2e_fail "mallory's stats do not say exit code 3"

# Her participant id in signaling, from the KMF's log.
pid=$(sed -n "s/.*participant \(p[0-9]*\) (mallory) of conference e2e.*/\1/p" "$E2E_DIR/kmf.log" | head -1)
[ -n "$pid" ] || e2e_fail "the KMF was never told about mallory"
echo "e2e: mallory was participant $pid"
grep -q "refus" <(grep "mallory" "$E2E_DIR/kmf.log") || e2e_fail "the KMF did not log the refusal"
# The MDD: asked for an answer (signaling asks both in parallel), then
# told to drop her; never keys (MediaKeys come only after the KMF's DTLS).
if grep -q "e2e/$pid: hop-by-hop keys installed" "$E2E_DIR/mdd-1.log"; then
    e2e_fail "the MDD installed keys for mallory"
fi
e2e_wait_log mdd-1 "e2e/$pid: endpoint removed" 10 | sed 's/^/e2e: MDD: /'
[ "$(e2e_log_count kmf "participant 'mallory' admitted")" = 0 ] || e2e_fail "the KMF admitted mallory"

for n in alice bob; do
    e2e_wait_exit "$n" $((secs + 30))
    [ "$E2E_RC" = 0 ] || e2e_fail "$n exited $E2E_RC"
    grep -q mallory "$E2E_DIR/$n.json" && e2e_fail "$n's statistics name mallory"
done
e2e_check_mesh 0.99 alice bob
e2e_pass "mallory refused with the roster's reason (exit 3), never keyed, no keys for her at the MDD; alice and bob unaffected"
