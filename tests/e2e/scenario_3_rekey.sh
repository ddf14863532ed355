#!/usr/bin/env bash
# Scenario 3, leave and re-key (issue 7; docs/signaling.md §6.4; RFC 8870
# §4.3.1, RFC 8871 §4.5.1): alice, bob and carol talk; carol leaves. The
# KMF re-keys the conference: alice and bob get a new EKTKey (new SPI) and
# send under fresh end-to-end keys. A capture of what they send after the
# re-key, handed with carol's old keys to perc-tool, decrypts nothing: no
# Full EKT field in it unwraps under any EKTKey carol ever held, so she
# cannot learn the new end-to-end keys (and the outer layer is under hop
# keys she never had).
#
# Controls, so "nothing" means something: the same method with carol's key
# on what was sent before she left does unwrap (she could read that), and
# with alice's new EKTKey on the capture after the re-key unwraps bob's
# fields. carol's keys come from perc-endpoint --export-keys (a test-only
# option: it writes secrets, here into this scenario's work dir, 0600).
# The capture is on the MDD host's link (dumpcap in its namespace; on lo
# in loopback mode).
. "$(dirname "$0")/lib.sh"
e2e_init rekey "$@"
command -v dumpcap >/dev/null 2>&1 && command -v tshark >/dev/null 2>&1 ||
    e2e_skip "dumpcap/tshark are not installed (tools/lib/deps.sh installs tshark)"
"$BIN_EP" --help | grep -q -- --export-keys ||
    e2e_fail "perc-endpoint has no --export-keys (needed to obtain a departed endpoint's keys)"

e2e_host sig; e2e_host kmf; e2e_host mdd
e2e_host h-alice; e2e_host h-bob; e2e_host h-carol
e2e_start_signaling sig
e2e_start_kmf kmf
e2e_start_mdd mdd mdd-1

if [ "$E2E_MODE" = netns ]; then cap_if=eth0; else cap_if=lo; fi
E2E_ENV=()
e2e_spawn mdd dumpcap dumpcap -i "$cap_if" -q -w "$E2E_DIR/capture.pcapng" \
    -f "udp and not port 53"
e2e_wait_log dumpcap "File: |Capturing on" 10 >/dev/null || true
sleep 0.5

for n in alice bob; do
    e2e_endpoint "h-$n" "$n" --duration 0 --export-keys "$E2E_DIR/$n.keys"
done
e2e_endpoint h-carol carol --duration 6 --export-keys "$E2E_DIR/carol.keys"
for n in alice bob carol; do e2e_wait_log "$n" "first verified packet" 30 >/dev/null; done
sleep 1
pre_from=$(date +%s.%N)
sleep 2
pre_to=$(date +%s.%N)

# carol leaves by herself (--duration); the KMF re-keys.
e2e_wait_exit carol 40
[ "$E2E_RC" = 0 ] || e2e_fail "carol exited $E2E_RC"
rekey=$(e2e_wait_log kmf "conference 'e2e' re-keyed \('carol' left\): SPI [0-9]+" 10)
new_spi=${rekey##* }
echo "e2e: KMF: ${rekey}"
for n in alice bob; do e2e_wait_log "$n" "$n: re-keyed: EKT SPI $new_spi" 10 >/dev/null; done
# The senders keep their old end-to-end key for the key-change delay (250
# ms, RFC 8870 §4.3.1) while announcing the new one; start after it.
sleep 1
post_from=$(date +%s.%N)
sleep 3
post_to=$(date +%s.%N)
for n in alice bob; do e2e_stop "$n" TERM || e2e_fail "$n did not exit cleanly"; done
e2e_stop dumpcap TERM || true

# New EKTKey and new end-to-end keys at alice and bob.
for n in alice bob; do
    e2e_jq "$E2E_DIR/$n.json" '.participants[0].ekt_spis | map(tostring) | join(" ")' |
        grep -qw "$new_spi" || e2e_fail "$n never received the EKTKey of SPI $new_spi"
    keys=$(e2e_jq "$E2E_DIR/$n.json" '[.participants[0].sent[].keys] | min')
    [ "$keys" -ge 2 ] || e2e_fail "$n did not change her/his end-to-end key ($keys keys)"
done
for pair in "alice bob" "bob alice"; do
    read -r a b <<<"$pair"
    e2e_jq "$E2E_DIR/$a.json" --arg b "$b" \
        '.participants[0].remotes[] | select(.identity == $b) | .spis | map(tostring) | join(" ")' |
        grep -qw "$new_spi" || e2e_fail "$a never got $b's end-to-end key under SPI $new_spi"
done
grep -q "^EKTKEY carol " "$E2E_DIR/carol.keys" || e2e_fail "carol exported no EKTKey"
grep -q "^EKTKEY carol [0-9]* [0-9]* " "$E2E_DIR/carol.keys" &&
    ! grep -q "^EKTKEY carol $new_spi " "$E2E_DIR/carol.keys" ||
    e2e_fail "carol's key file holds the post-leave SPI $new_spi"
echo "e2e: carol held EKTKey SPIs: $(awk '$2 == "carol" { print $3 }' "$E2E_DIR/carol.keys" | sort -u | tr '\n' ' ')"

# RTP (not RTCP, STUN or DTLS) that alice (or bob) sent to the MDD in a
# time window, one hex packet per line.
ip_of() { echo "${E2E_HOST_IP[h-$1]}"; }
rtp_from() {
    local who=$1 from=$2 to=$3
    tshark -r "$E2E_DIR/capture.pcapng" -Y "ip.src == $(ip_of "$who") && ip.dst == ${E2E_HOST_IP[mdd]} && frame.time_epoch >= $from && frame.time_epoch <= $to" \
        -T fields -e udp.payload 2>/dev/null | tr -d ':' |
        awk '{ b0 = substr($0, 1, 2); b1 = substr($0, 3, 2) }
             b0 ~ /^[89ab]/ && !(b1 >= "c8" && b1 <= "cc")'
}
# unwrap_count KEYHEX: how many of stdin's packets end in a Full EKT field
# that unwraps under KEYHEX ("full" counts every Full field seen).
unwrap_count() {
    local key=$1 pkt out ok=0 full=0
    while read -r pkt; do
        [ "${pkt: -2}" = 02 ] || continue   # Full EKT field: message type 2 last
        full=$((full + 1))
        if out=$("$BIN_TOOL" ekt unwrap --ekt-key "$key" "$pkt" 2>/dev/null) &&
            grep -q '"ssrc"' <<<"$out"; then
            ok=$((ok + 1))
        fi
    done
    echo "$ok $full"
}

for w in pre post; do
    for who in alice bob; do
        eval "rtp_from $who \$${w}_from \$${w}_to" >"$E2E_DIR/$w-$who.hex"
        [ -s "$E2E_DIR/$w-$who.hex" ] || e2e_fail "the capture holds no RTP from $who ($w)"
    done
done

# carol's keys, on both windows.
declare -A ok_pre=() ok_post=()
total_post=0
while read -r _ _ spi _ key; do
    for who in alice bob; do
        read -r ok full < <(unwrap_count "$key" <"$E2E_DIR/pre-$who.hex")
        echo "e2e: before the leave: carol's EKTKey SPI $spi unwraps $ok of $full Full EKT fields $who sent"
        ok_pre[$who]=$((${ok_pre[$who]:-0} + ok))
        read -r ok full < <(unwrap_count "$key" <"$E2E_DIR/post-$who.hex")
        echo "e2e: after the re-key: carol's EKTKey SPI $spi unwraps $ok of $full Full EKT fields $who sent"
        ok_post[$who]=$((${ok_post[$who]:-0} + ok))
        [ "$full" -gt 0 ] || e2e_fail "no Full EKT field from $who after the re-key: nothing was tried"
    done
done < <(awk '$1 == "EKTKEY" && $2 == "carol"' "$E2E_DIR/carol.keys" | sort -u -k3,3)
for who in alice bob; do
    [ "${ok_pre[$who]}" -gt 0 ] || e2e_fail "control failed: carol's keys unwrapped nothing $who sent while she was in"
    [ "${ok_post[$who]}" = 0 ] || e2e_fail "carol's old keys unwrapped ${ok_post[$who]} EKT fields $who sent after the re-key"
done
# Control: alice's new EKTKey opens bob's fields after the re-key.
akey=$(awk -v s="$new_spi" '$1 == "EKTKEY" && $2 == "alice" && $3 == s { print $5; exit }' "$E2E_DIR/alice.keys")
[ -n "$akey" ] || e2e_fail "alice exported no EKTKey of SPI $new_spi"
read -r ok full < <(unwrap_count "$akey" <"$E2E_DIR/post-bob.hex")
echo "e2e: control: alice's new EKTKey (SPI $new_spi) unwraps $ok of $full Full EKT fields bob sent after the re-key"
[ "$ok" -gt 0 ] && [ "$ok" = "$full" ] || e2e_fail "control failed: the new EKTKey did not open bob's post-re-key EKT fields"

e2e_pass "carol left; alice and bob re-keyed (SPI $new_spi, fresh end-to-end keys); carol's old keys unwrap none of their post-re-key EKT fields (the controls do)"
