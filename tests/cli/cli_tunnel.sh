# perc-tool tunnel: the RFC 9185 §7 example, the derived MediaKeys and
# EndpointDisconnect messages, round trips of every type, errors.
# Sourced by test_perc_tool.sh.

sp=$(vec tunnel-examples.txt supported_profiles_double128_double256 tunnel_message)
expect_out "tunnel encode §7 example" "$sp" \
    "$TOOL" tunnel encode '{"type":"supported_profiles","version":0,"profiles":[9,10]}'
expect_out "tunnel decode §7 example" '{"type":"supported_profiles","version":0,"profiles":[9,10]}' \
    "$TOOL" tunnel decode "$sp"

D=digest-derived-perc.txt
V=double128_keying_material_split_and_media_keys
mk=$(vec $D $V media_keys_message)
ed=$(vec $D $V endpoint_disconnect_message)
mk_json='{"type":"media_keys","association_id":"9f3c2b1a-7d4e-4c5b-8a69-0e1f2d3c4b5a","profile":9,"mki":"","client_write_key":"101112131415161718191a1b1c1d1e1f","server_write_key":"303132333435363738393a3b3c3d3e3f","client_write_salt":"4c4d4e4f5051525354555657","server_write_salt":"6465666768696a6b6c6d6e6f"}'
expect_out "tunnel decode derived MediaKeys" "$mk_json" "$TOOL" tunnel decode "$mk"
expect_out "tunnel encode derived MediaKeys" "$mk" "$TOOL" tunnel encode "$mk_json"
expect_out "tunnel decode derived EndpointDisconnect" \
    '{"type":"endpoint_disconnect","association_id":"9f3c2b1a-7d4e-4c5b-8a69-0e1f2d3c4b5a"}' \
    "$TOOL" tunnel decode "$ed"
expect_out "tunnel unsupported_version is 4 octets" "02000101" \
    "$TOOL" tunnel encode '{"type":"unsupported_version","highest_version":1}'
td='{"type":"tunneled_dtls","association_id":"9f3c2b1a-7d4e-4c5b-8a69-0e1f2d3c4b5a","dtls":"16fefd0000000000000000000501020304"}'
h=$("$TOOL" tunnel encode "$td")
expect_out "tunnel tunneled_dtls round trip" "$td" "$TOOL" tunnel decode "$h"
expect_out "tunnel encode from stdin" "$sp" \
    sh -c "echo '{\"type\":\"supported_profiles\",\"version\":0,\"profiles\":[9,10]}' | '$TOOL' tunnel encode -"

# errors
expect_fail "tunnel decode truncated" 2 "truncated" "$TOOL" tunnel decode "${sp%??}"
expect_fail "tunnel decode trailing" 2 "trailing" "$TOOL" tunnel decode "${sp}00"
expect_fail "tunnel decode unknown type" 2 "type 9 is not" "$TOOL" tunnel decode 090000
expect_fail "tunnel decode other version" 2 "version 1" "$TOOL" tunnel decode 0100070100040009000a
expect_fail "tunnel decode odd profiles" 2 "malformed" "$TOOL" tunnel decode 010006000003000900
expect_fail "tunnel encode no profiles" 2 "malformed\|invalid" \
    "$TOOL" tunnel encode '{"type":"supported_profiles","version":0,"profiles":[]}'
expect_fail "tunnel encode unknown type" 2 "unknown message type" "$TOOL" tunnel encode '{"type":"hello"}'
expect_fail "tunnel encode typo field" 2 "\"profile\": is not a field" \
    "$TOOL" tunnel encode '{"type":"supported_profiles","version":0,"profile":[9]}'
expect_fail "tunnel encode bad uuid" 2 "association_id" \
    "$TOOL" tunnel encode '{"type":"endpoint_disconnect","association_id":"nope"}'
expect_fail "tunnel encode bad hex" 2 "\"dtls\": not valid hex" \
    "$TOOL" tunnel encode '{"type":"tunneled_dtls","association_id":"9f3c2b1a-7d4e-4c5b-8a69-0e1f2d3c4b5a","dtls":"0g"}'
expect_fail "tunnel encode empty dtls" 2 "tunneled_dtls" \
    "$TOOL" tunnel encode '{"type":"tunneled_dtls","association_id":"9f3c2b1a-7d4e-4c5b-8a69-0e1f2d3c4b5a","dtls":""}'
expect_fail "tunnel encode not json" 2 "not a JSON object" "$TOOL" tunnel encode '{"type":'
expect_fail "tunnel encode version range" 2 "from 0 to 255" \
    "$TOOL" tunnel encode '{"type":"unsupported_version","highest_version":256}'
expect_fail "tunnel bad verb" 2 "expected 'encode'" "$TOOL" tunnel parse 00
