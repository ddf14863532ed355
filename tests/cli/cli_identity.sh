# perc-tool identity: new writes DIR/cert.pem + DIR/key.pem (key mode 0600)
# and prints the fingerprint; show prints the same; existing files are kept
# unless --force; errors. Sourced by test_perc_tool.sh.

idt=$(mktemp -d)
fp=$("$TOOL" identity new "$idt/alice" --name alice 2>/tmp/perc_tool_err.$$)
rc=$?
if [ $rc -ne 0 ]; then
    bad "identity new: exit $rc: $(cat /tmp/perc_tool_err.$$)"
elif ! printf '%s' "$fp" | grep -Eq '^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$'; then
    bad "identity new: printed '$fp', not 'sha-256 AB:CD:...'"
else
    ok
fi
if [ "$(stat -c %a "$idt/alice/key.pem")" = 600 ] && [ "$(stat -c %a "$idt/alice")" = 700 ]; then
    ok
else
    bad "identity new: key.pem mode $(stat -c %a "$idt/alice/key.pem"), DIR mode $(stat -c %a "$idt/alice")"
fi
expect_out "identity show prints the same fingerprint" "$fp" "$TOOL" identity show "$idt/alice"
# An independent check of the fingerprint and of the key type.
if command -v openssl >/dev/null 2>&1; then
    ofp=$(openssl x509 -in "$idt/alice/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
    if [ "sha-256 $ofp" = "$fp" ] &&
        openssl pkey -in "$idt/alice/key.pem" -noout -text 2>/dev/null | grep -q "prime256v1\|P-256"; then
        ok
    else
        bad "identity new: openssl sees fingerprint '$ofp' or not a P-256 key"
    fi
fi
expect_fail "identity new keeps existing files" 2 "use --force" "$TOOL" identity new "$idt/alice"
expect_out "identity show unchanged after a refused new" "$fp" "$TOOL" identity show "$idt/alice"
fp2=$("$TOOL" identity new "$idt/alice" --force 2>/dev/null)
if [ -n "$fp2" ] && [ "$fp2" != "$fp" ] && [ "$(stat -c %a "$idt/alice/key.pem")" = 600 ]; then
    ok
else
    bad "identity new --force: '$fp2' (was '$fp')"
fi
expect_fail "identity no verb" 2 "expected 'new' or 'show'" "$TOOL" identity
expect_fail "identity new no DIR" 2 "expected one DIR" "$TOOL" identity new
expect_fail "identity new two DIRs" 2 "unexpected argument" "$TOOL" identity new "$idt/a" "$idt/b"
expect_fail "identity new name too long" 2 "1..64" "$TOOL" identity new "$idt/b" \
    --name "$(printf 'x%.0s' $(seq 1 65))"
touch "$idt/file"
expect_fail "identity new DIR is a file" 2 "not a directory" "$TOOL" identity new "$idt/file"
expect_fail "identity show missing" 2 "No such file" "$TOOL" identity show "$idt/none"
echo "not a certificate" >"$idt/file2.pem"
mkdir "$idt/junk" && cp "$idt/file2.pem" "$idt/junk/cert.pem"
expect_fail "identity show junk" 2 "not a PEM certificate" "$TOOL" identity show "$idt/junk"
rm -rf "$idt"
