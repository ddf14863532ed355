# perc-tool srtp: RFC 7714 vectors (session keys) both ways, errors.
# Sourced by test_perc_tool.sh.

for bits in 128 256; do
    v=rfc7714_srtp_aead_aes_${bits}_gcm
    key=$(vec rfc7714-gcm.txt $v key)
    salt=$(vec rfc7714-gcm.txt $v salt)
    plain=$(vec rfc7714-gcm.txt $v rtp_packet)
    cipher=$(vec rfc7714-gcm.txt $v srtp_packet)
    expect_out "srtp protect $bits" "$cipher" \
        "$TOOL" srtp protect --profile aes${bits}gcm --session --key "$key" --salt "$salt" "$plain"
    expect_out "srtp unprotect $bits" "$plain" \
        "$TOOL" srtp unprotect --profile aes${bits}gcm --session --key "$key" --salt "$salt" "$cipher"
    expect_out "srtp unprotect $bits from stdin" "$plain" \
        sh -c "echo $cipher | '$TOOL' srtp unprotect --profile aes${bits}gcm --session --key $key --salt $salt -"

    for form in encrypted auth_only; do
        v=rfc7714_srtcp_aead_aes_${bits}_gcm_$form
        key=$(vec rfc7714-gcm.txt $v key)
        salt=$(vec rfc7714-gcm.txt $v salt)
        plain=$(vec rfc7714-gcm.txt $v rtcp_packet)
        cipher=$(vec rfc7714-gcm.txt $v srtcp_packet)
        extra=""
        [ $form = auth_only ] && extra=--auth-only
        expect_out "srtcp protect $bits $form" "$cipher" \
            "$TOOL" srtp protect --profile aes${bits}gcm --session --key "$key" --salt "$salt" \
            --rtcp --index 0x5d4 $extra "$plain"
        expect_out "srtcp unprotect $bits $form" "$plain" \
            "$TOOL" srtp unprotect --profile aes${bits}gcm --session --key "$key" --salt "$salt" \
            --rtcp "$cipher"
    done
done

# master keys: protect then unprotect round trip with a non-zero ROC
key=000102030405060708090a0b0c0d0e0f
salt=a0a1a2a3a4a5a6a7a8a9aaab
plain=8060000100000001cafebabe68656c6c6f
c=$("$TOOL" srtp protect --profile aes128gcm --key $key --salt $salt --roc 7 $plain)
expect_out "srtp master-key round trip" "$plain" \
    "$TOOL" srtp unprotect --profile aes128gcm --key $key --salt $salt --roc 7 "$c"
expect_fail "srtp wrong roc" 1 "authentication failed" \
    "$TOOL" srtp unprotect --profile aes128gcm --key $key --salt $salt --roc 8 "$c"

# the tag covers every octet: flip the last one
flipped=${c%??}$(printf '%02x' $(( 0x${c: -2} ^ 1 )))
expect_fail "srtp flipped tag" 1 "PERC_ERR_AUTH" \
    "$TOOL" srtp unprotect --profile aes128gcm --key $key --salt $salt --roc 7 "$flipped"

# bad input
expect_fail "srtp no verb" 2 "protect" "$TOOL" srtp
expect_fail "srtp bad verb" 2 "protect" "$TOOL" srtp frobnicate
expect_fail "srtp odd hex" 2 "PACKET: not valid hex" \
    "$TOOL" srtp protect --profile aes128gcm --key $key --salt $salt 8060001
expect_fail "srtp bad key hex" 2 "\-\-key: not valid hex" \
    "$TOOL" srtp protect --profile aes128gcm --key zz --salt $salt $plain
expect_fail "srtp short key" 2 "16-octet key" \
    "$TOOL" srtp protect --profile aes128gcm --key 0001 --salt $salt $plain
expect_fail "srtp 256 with 128 key" 2 "32-octet key" \
    "$TOOL" srtp protect --profile aes256gcm --key $key --salt $salt $plain
expect_fail "srtp unknown profile" 2 "unknown value" \
    "$TOOL" srtp protect --profile aes192gcm --key $key --salt $salt $plain
expect_fail "srtp missing key" 2 "missing --key" \
    "$TOOL" srtp protect --profile aes128gcm --salt $salt $plain
expect_fail "srtp unknown option" 2 "unknown option" \
    "$TOOL" srtp protect --frob --profile aes128gcm --key $key --salt $salt $plain
expect_fail "srtp roc too big" 2 "larger than" \
    "$TOOL" srtp protect --profile aes128gcm --key $key --salt $salt --roc 4294967296 $plain
expect_fail "srtp negative roc" 2 "not an unsigned integer" \
    "$TOOL" srtp protect --profile aes128gcm --key $key --salt $salt --roc -1 $plain
expect_fail "srtp index without rtcp" 2 "go with --rtcp" \
    "$TOOL" srtp protect --profile aes128gcm --key $key --salt $salt --index 1 $plain
expect_fail "srtp truncated packet" 2 "truncated" \
    "$TOOL" srtp unprotect --profile aes128gcm --key $key --salt $salt 8060
expect_fail "srtp not rtp" 2 "version" \
    "$TOOL" srtp protect --profile aes128gcm --key $key --salt $salt 0060000100000001cafebabe
expect_fail "srtp no packet" 2 "expected one PACKET" \
    "$TOOL" srtp protect --profile aes128gcm --key $key --salt $salt
expect_fail "srtcp truncated" 2 "truncated" \
    "$TOOL" srtp unprotect --profile aes128gcm --key $key --salt $salt --rtcp 81c8000d
