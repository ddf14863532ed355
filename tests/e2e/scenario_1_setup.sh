#!/usr/bin/env bash
# Scenario 1, session setup (issue 7): three endpoints, one MDD, one KMF,
# each program on its own host. Every endpoint verifies >= 99 % of every
# other's packets end to end, nothing is rejected, and the daemons' logs
# show the flow of docs/signaling.md §6.1 for each of them: the KMF keyed
# all three (one EKT SPI), the MDD installed hop-by-hop keys for all three.
. "$(dirname "$0")/lib.sh"
e2e_init setup "$@"

e2e_host sig; e2e_host kmf; e2e_host mdd
e2e_host h-alice; e2e_host h-bob; e2e_host h-carol
e2e_start_signaling sig
e2e_start_kmf kmf
e2e_start_mdd mdd mdd-1

secs=8
for n in alice bob carol; do e2e_endpoint "h-$n" "$n" --duration "$secs"; done
for n in alice bob carol; do
    e2e_wait_exit "$n" $((secs + 30))
    [ "$E2E_RC" = 0 ] || e2e_fail "$n exited $E2E_RC"
done

echo "e2e: what each endpoint verified of the others:"
e2e_check_mesh 0.99 alice bob carol
for n in alice bob carol; do
    st=$(e2e_jq "$E2E_DIR/$n.json" '.participants[0].state')
    [ "$st" = done ] || e2e_fail "$n ended in state $st"
    rej=$(e2e_jq "$E2E_DIR/$n.json" '[.participants[0].remotes[].rejected_total - (.participants[0].remotes[].rejected_while_joining // 0)] | add')
    [ "$rej" = 0 ] || e2e_fail "$n rejected $rej packets after the first verified one"
done

# The daemons' side of the flow.
admitted=$(e2e_log_count kmf "participant '(alice|bob|carol)' admitted to conference 'e2e'")
[ "$admitted" = 3 ] || e2e_fail "the KMF logged $admitted admissions, not 3"
keyed=$(e2e_log_count mdd-1 "hop-by-hop keys installed")
[ "$keyed" -ge 3 ] || e2e_fail "the MDD installed hop-by-hop keys $keyed times, not 3"
spis=$(jq -r '.participants[0].ekt_spis[]' "$E2E_DIR"/{alice,bob,carol}.json | sort -u | wc -l)
echo "e2e: EKT SPIs seen by the endpoints: $spis distinct"
[ "$spis" -ge 1 ] || e2e_fail "no EKT SPI at the endpoints"
e2e_pass "3 endpoints on 3 hosts verified >= 99 % of each other's packets through 1 MDD, keyed by 1 KMF"
