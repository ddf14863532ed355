# perc-tool double: the digest's derived vectors (session keys there, so the
# tool's master-key path is checked by round trips), relay, EKT handling.
# Sourced by test_perc_tool.sh.

D=digest-derived-perc.txt
# protect/unprotect round trip with master keys, both profiles, ROC, EKT
plain=8060f17b8041f8d35501a0b247616c6c69612065737420
for p in double128 double256; do
    if [ $p = double128 ]; then klen=32; else klen=64; fi
    key=$(printf "01%.0s" $(seq 1 $klen))
    salt=0102030405060708090a0b0c0d0e0f101112131415161718
    c=$("$TOOL" double protect --profile $p --key "$key" --salt $salt --roc 3 $plain)
    [ ${#c} -eq $(( ${#plain} + 2 * 33 )) ] && ok || bad "double protect $p: length ${#c}"
    expect_out "double round trip $p" "$plain" \
        "$TOOL" double unprotect --profile $p --key "$key" --salt $salt --roc 3 "$c"
    expect_fail "double wrong roc $p" 1 "PERC_ERR_AUTH" \
        "$TOOL" double unprotect --profile $p --key "$key" --salt $salt --roc 4 "$c"
    ce=$("$TOOL" double protect --profile $p --key "$key" --salt $salt --roc 3 --ekt $plain)
    [ "$ce" = "${c}00" ] && ok || bad "double protect --ekt $p appends a Short field"
    expect_out "double unprotect --ekt $p" "$plain" \
        "$TOOL" double unprotect --profile $p --key "$key" --salt $salt --roc 3 --ekt "$ce"
done

# relay: the derived MD vector needs session keys, so check relay by a
# round trip instead: protect, relay with a PT/SEQ/M change, unprotect with
# the receiver's key (inner half unchanged, outer half = the out hop's key).
inner=000102030405060708090a0b0c0d0e0f
outer_in=101112131415161718191a1b1c1d1e1f
outer_out=202122232425262728292a2b2c2d2e2f
isalt=404142434445464748494a4b
osalt_in=4c4d4e4f5051525354555657
osalt_out=58595a5b5c5d5e5f60616263
c=$("$TOOL" double protect --profile double128 --key $inner$outer_in --salt $isalt$osalt_in $plain)
r=$("$TOOL" double relay --profile double128 --in-key $outer_in --in-salt $osalt_in \
        --out-key $outer_out --out-salt $osalt_out --pt 97 --seq 0x1234 --marker 1 "$c")
# received header as rewritten: PT 97 with M set = 0xe1, SEQ 1234
[ "${r:0:8}" = "80e11234" ] && ok || bad "double relay header ${r:0:8}"
# the OHB (PT 60, SEQ f17b, config 07) grew the packet by 3 octets
[ ${#r} -eq $(( ${#c} + 6 )) ] && ok || bad "double relay length"
expect_out "double relay then unprotect restores the original" "$plain" \
    "$TOOL" double unprotect --profile double128 --key $inner$outer_out --salt $isalt$osalt_out "$r"
expect_fail "double relay output does not open with the incoming hop key" 1 "PERC_ERR_AUTH" \
    "$TOOL" double unprotect --profile double128 --key $inner$outer_in --salt $isalt$osalt_in "$r"

# relay with --ekt re-appends the field unchanged (a made-up Full field: the
# relay never opens it)
full=$(printf 'ab%.0s' $(seq 1 24))00070000001f02
ce=${c}${full}
re=$("$TOOL" double relay --profile double128 --in-key $outer_in --in-salt $osalt_in \
        --out-key $outer_out --out-salt $osalt_out --seq 7 --ekt "$ce")
[ "${re: -${#full}}" = "$full" ] && ok || bad "double relay --ekt keeps the field"
expect_out "double unprotect --ekt after relay" "$plain" \
    "$TOOL" double unprotect --profile double128 --key $inner$outer_out --salt $isalt$osalt_out --ekt "$re"

# bad input
expect_fail "double same hop keys" 2 "forbids" \
    "$TOOL" double relay --profile double128 --in-key $outer_in --in-salt $osalt_in \
    --out-key $outer_in --out-salt $osalt_in "$c"
expect_fail "double relay with --key" 2 "not a relay option" \
    "$TOOL" double relay --profile double128 --key $inner$outer_in --in-key $outer_in \
    --in-salt $osalt_in --out-key $outer_out --out-salt $osalt_out "$c"
expect_fail "double protect with --pt" 2 "relay option" \
    "$TOOL" double protect --profile double128 --key $inner$outer_in --salt $isalt$osalt_in --pt 9 $plain
expect_fail "double short key" 2 "32-octet key" \
    "$TOOL" double protect --profile double128 --key $inner --salt $isalt$osalt_in $plain
expect_fail "double relay long key" 2 "outer key is 16 octets" \
    "$TOOL" double relay --profile double128 --in-key $inner$outer_in --in-salt $osalt_in \
    --out-key $outer_out --out-salt $osalt_out "$c"
expect_fail "double pt too big" 2 "larger than 127" \
    "$TOOL" double relay --profile double128 --in-key $outer_in --in-salt $osalt_in \
    --out-key $outer_out --out-salt $osalt_out --pt 128 "$c"
expect_fail "double marker 2" 2 "larger than 1" \
    "$TOOL" double relay --profile double128 --in-key $outer_in --in-salt $osalt_in \
    --out-key $outer_out --out-salt $osalt_out --marker 2 "$c"
expect_fail "double bad verb" 2 "expected 'protect'" "$TOOL" double encrypt
expect_fail "double truncated" 2 "truncated" \
    "$TOOL" double unprotect --profile double128 --key $inner$outer_in --salt $isalt$osalt_in 8060f17b
expect_fail "double bad EKT field" 2 "EKT field" \
    "$TOOL" double unprotect --profile double128 --key $inner$outer_in --salt $isalt$osalt_in --ekt "${c}01"
expect_fail "double tampered" 1 "PERC_ERR_AUTH" \
    "$TOOL" double unprotect --profile double128 --key $inner$outer_in --salt $isalt$osalt_in "${c%??}00"
