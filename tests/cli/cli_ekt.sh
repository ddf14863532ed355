# perc-tool ekt: the digest's derived Full field, round trips, errors.
# Sourced by test_perc_tool.sh.

D=digest-derived-perc.txt
V=ekt_full_field_aeskw128
ekt_key=$(vec $D $V ekt_key)
srtp_key=$(vec $D $V srtp_master_key)
field=$(vec $D $V full_ekt_field)
expect_out "ekt wrap derived vector" "$field" \
    "$TOOL" ekt wrap --cipher aeskw128 --ekt-key "$ekt_key" --spi 1 --epoch 0 --ssrc 0x5501a0b2 \
    --roc 0 --srtp-key "$srtp_key"
expect_out "ekt unwrap derived vector" \
    '{"type":"full","cipher":"aeskw128","spi":1,"epoch":0,"length":47,"srtp_key":"000102030405060708090a0b0c0d0e0f","ssrc":1426170034,"roc":0}' \
    "$TOOL" ekt unwrap --ekt-key "$ekt_key" "$field"
# a whole packet ending in the field
expect_out "ekt unwrap at the end of a packet" \
    '{"type":"full","cipher":"aeskw128","spi":1,"epoch":0,"length":47,"srtp_key":"000102030405060708090a0b0c0d0e0f","ssrc":1426170034,"roc":0,"srtp_length":4}' \
    "$TOOL" ekt unwrap --ekt-key "$ekt_key" "deadbeef$field"
expect_out "ekt unwrap short" '{"type":"short","srtp_length":2}' \
    "$TOOL" ekt unwrap --ekt-key "$ekt_key" abcd00

# aeskw256 with a 32-octet inner key (double256), epoch and ROC set
k256=$(printf 'c1%.0s' $(seq 1 32))
s256=$(printf '5a%.0s' $(seq 1 32))
f=$("$TOOL" ekt wrap --cipher aeskw256 --ekt-key $k256 --spi 0xbeef --epoch 3 --ssrc 7 --roc 9 --srtp-key $s256)
# 41-octet plaintext -> 56-octet ciphertext (RFC 5649 length rule) + 7 = 63
[ ${#f} -eq 126 ] && ok || bad "ekt wrap aeskw256 length ${#f}"
expect_out "ekt unwrap aeskw256" \
    "{\"type\":\"full\",\"cipher\":\"aeskw256\",\"spi\":48879,\"epoch\":3,\"length\":63,\"srtp_key\":\"$s256\",\"ssrc\":7,\"roc\":9}" \
    "$TOOL" ekt unwrap --ekt-key $k256 "$f"

# errors
other=$(printf 'c0%.0s' $(seq 1 15))ce
expect_fail "ekt unwrap wrong key" 1 "does not unwrap" "$TOOL" ekt unwrap --ekt-key $other "$field"
corrupt=$(printf '%02x' $(( 0x${field:0:2} ^ 0x80 )))${field:2}
expect_fail "ekt unwrap corrupted" 1 "PERC_ERR_AUTH" "$TOOL" ekt unwrap --ekt-key "$ekt_key" "$corrupt"
expect_fail "ekt unwrap legacy type 1" 2 "malformed" "$TOOL" ekt unwrap --ekt-key "$ekt_key" abcd01
expect_fail "ekt unwrap length past packet" 2 "truncated" \
    "$TOOL" ekt unwrap --ekt-key "$ekt_key" "${field:4}"
expect_fail "ekt unwrap key size" 2 "16 (aeskw128) or 32" "$TOOL" ekt unwrap --ekt-key 0011 "$field"
expect_fail "ekt wrap key size" 2 "needs 16 octets" \
    "$TOOL" ekt wrap --cipher aeskw128 --ekt-key $k256 --spi 1 --epoch 0 --ssrc 1 --roc 0 --srtp-key "$srtp_key"
expect_fail "ekt wrap missing spi" 2 "missing --spi" \
    "$TOOL" ekt wrap --cipher aeskw128 --ekt-key "$ekt_key" --epoch 0 --ssrc 1 --roc 0 --srtp-key "$srtp_key"
expect_fail "ekt wrap epoch too big" 2 "larger than 65535" \
    "$TOOL" ekt wrap --cipher aeskw128 --ekt-key "$ekt_key" --spi 1 --epoch 65536 --ssrc 1 --roc 0 --srtp-key "$srtp_key"
expect_fail "ekt wrap srtp key too long" 2 "srtp-key" \
    "$TOOL" ekt wrap --cipher aeskw128 --ekt-key "$ekt_key" --spi 1 --epoch 0 --ssrc 1 --roc 0 \
    --srtp-key "$(printf '00%.0s' $(seq 1 240))"
expect_fail "ekt unwrap with wrap option" 2 "wrap option" \
    "$TOOL" ekt unwrap --ekt-key "$ekt_key" --spi 1 "$field"
expect_fail "ekt bad verb" 2 "expected 'wrap'" "$TOOL" ekt open
