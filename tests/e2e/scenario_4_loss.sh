#!/usr/bin/env bash
# Scenario 4, loss (issue 7): carol's link (both directions, her host's
# eth0 and the bridge port toward her) loses 10 % of the packets at random
# and reorders a quarter of them (tc netem). Her DTLS with the KMF and her
# EKTKey must complete by retransmission, and media between her and the
# others must still verify >= 85 %.
#
# Random loss might happen to spare the handshake, so on top of it her
# host drops, deterministically (iptables in her namespace), the first
# DTLS handshake datagram she receives (the KMF's first flight) and the
# first protected handshake record (epoch 1: the KMF's Finished or the
# EKTKey): each must be retransmitted for her to get keyed at all.
# Where the kernel has no netem qdisc (this project's CI VM: no sch_netem,
# no tc classifiers), the loss is made by iptables' statistic match on
# both directions instead and there is no reordering; the output says so.
# netns mode only: in loopback mode there is no link of hers to shape.
. "$(dirname "$0")/lib.sh"
e2e_init loss "$@"
[ "$E2E_MODE" = netns ] ||
    e2e_skip "needs network namespaces to shape one endpoint's link ($E2E_MODE_WHY)"
command -v tc >/dev/null 2>&1 || e2e_skip "tc (iproute2) is not installed"

e2e_host sig; e2e_host kmf; e2e_host mdd
e2e_host h-alice; e2e_host h-bob; e2e_host h-carol
have_netem=1
if e2e_shape h-carol loss 10% delay 15ms reorder 25% 50%; then
    echo "e2e: carol's link: netem loss 10% delay 15ms reorder 25% 50%, both directions"
else
    have_netem=0
    command -v iptables >/dev/null 2>&1 ||
        e2e_skip "neither tc netem ($(head -1 "$E2E_DIR/netem.err")) nor iptables to make loss"
fi
have_iptables=0
# u32: the first octet of the UDP payload is 22 (DTLS handshake); then the
# epoch (octets 3-4) is 0 (plaintext flight) or 1 (protected record).
# statistic nth: the rule matches its first packet only.
if command -v iptables >/dev/null 2>&1 &&
    e2e_in h-carol iptables -A INPUT -p udp -m u32 \
        --u32 "0>>22&0x3C@8>>24=0x16&&0>>22&0x3C@9&0xFFFF=0" \
        -m statistic --mode nth --every 1000000 --packet 0 -j DROP 2>"$E2E_DIR/iptables.err" &&
    e2e_in h-carol iptables -A INPUT -p udp -m u32 \
        --u32 "0>>22&0x3C@8>>24=0x16&&0>>22&0x3C@9&0xFFFF=1" \
        -m statistic --mode nth --every 1000000 --packet 0 -j DROP 2>>"$E2E_DIR/iptables.err"; then
    have_iptables=1
else
    echo "e2e: note: iptables u32/statistic unavailable ($(head -1 "$E2E_DIR/iptables.err" 2>/dev/null)); only random loss"
fi

if [ "$have_netem" = 0 ]; then
    # After the deterministic drops, so they still see their first packet.
    e2e_drop_random h-carol 0.10
    echo "e2e: NOTE: this kernel has no netem qdisc ($(head -1 "$E2E_DIR/netem.err")):" \
        "carol's link loses 10 % each way by iptables (statistic random), WITHOUT reordering"
fi

e2e_start_signaling sig
e2e_start_kmf kmf
e2e_start_mdd mdd mdd-1

# carol first, so the others' media starts after she can receive it.
secs=10
# --rejoin: ICE alone (libnice's checks toward the MDD's lite agent) was
# seen to give up under this loss ("no candidate pair works" after ~5 s, 1
# run in 5); carol then joins again, as a user's client would. The output
# says when that happened.
e2e_endpoint h-carol carol --duration "$secs" --rejoin
e2e_wait_log carol "carol: keyed" 30 >/dev/null
for n in alice bob; do e2e_endpoint "h-$n" "$n" --duration "$secs"; done
for n in carol alice bob; do
    e2e_wait_exit "$n" $((secs + 40))
    [ "$E2E_RC" = 0 ] || e2e_fail "$n exited $E2E_RC"
done

rejoins=$(e2e_log_count carol "carol: joining again")
[ "$rejoins" = 0 ] || echo "e2e: NOTE: carol had to join again $rejoins time(s): $(grep -m1 -E 'rejoining in' "$E2E_DIR/carol.log" | sed 's/^[0-9.]* //')"
e2e_jq "$E2E_DIR/carol.json" -r '.participants[0] |
    "e2e: carol: DTLS done \(.join_to_dtls_ms) ms, keyed \(.join_to_keyed_ms) ms after her join"'
if [ "$have_iptables" = 1 ]; then
    drops=$(e2e_in h-carol iptables -L INPUT -v -n -x | awk '/DROP/ && /u32/ { print $1 }' | tr '\n' ' ')
    echo "e2e: deterministic drops at carol (first flight, first protected record): $drops"
    [ "$drops" = "1 1 " ] || e2e_fail "the deterministic drops did not both happen ($drops): no retransmission shown"
fi
dtls=$(e2e_jq "$E2E_DIR/carol.json" '.participants[0].join_to_dtls_ms')
# The lost first flight costs at least the DTLS initial timer (1 s).
awk -v d="$dtls" 'BEGIN { exit !(d >= 900) }' || [ "$have_iptables" = 0 ] ||
    e2e_fail "carol's DTLS took only $dtls ms although her first flight was dropped"

echo "e2e: verified under loss (carol's link) and without (alice <-> bob):"
# The measure is verified / what the receiver should have had (verified +
# lost + rejected); against all the sender sent only a loose sanity bound,
# since alice and bob miss carol's first packets (she starts first).
bad=0
for n in alice bob; do
    E2E_MESH_SENT_MIN=0.75 e2e_check_pair 0.85 carol "$n" || bad=1
    E2E_MESH_SENT_MIN=0.75 e2e_check_pair 0.85 "$n" carol || bad=1
done
[ "$bad" = 0 ] || e2e_fail "media across carol's lossy link verified below 85 %"
e2e_check_mesh 0.99 alice bob
lost=$(e2e_jq "$E2E_DIR/alice.json" '.participants[0].remotes[] | select(.identity == "carol") | .lost')
[ "$lost" -gt 0 ] || e2e_fail "alice lost none of carol's packets: was the link shaped?"
how="netem 10 % loss + reordering"
[ "$have_netem" = 1 ] || how="10 % loss (iptables; no netem: no reordering)"
e2e_pass "carol keyed through dropped DTLS records by retransmission; >= 85 % verified across her link with $how"
