# perc-tool vectors: prints exactly the published file, deterministically.
# Sourced by test_perc_tool.sh.
out=$("$TOOL" vectors)
want=$(cat "$VEC/perc-vectors.txt")
[ "$out" = "$want" ] && ok || bad "perc-tool vectors differs from tests/vectors/perc-vectors.txt"
[ "$("$TOOL" vectors)" = "$out" ] && ok || bad "perc-tool vectors is not deterministic"
expect_fail "vectors takes no argument" 2 "unexpected argument" "$TOOL" vectors extra
expect_fail "unknown command" 2 "unknown command" "$TOOL" frob
expect_out "version" "perc-tool 0.1.0" "$TOOL" --version
"$TOOL" --help | grep -q "double relay" && ok || bad "--help lists the commands"
for c in srtp double ekt tunnel vectors; do
    "$TOOL" $c --help | grep -q "usage: perc-tool $c" && ok || bad "$c --help"
done
