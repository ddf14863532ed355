# perc-tool wav: speech writes a deterministic 48 kHz mono test signal of
# the asked length that the strict reader (info) accepts and finds loud
# enough; info refuses what perc-endpoint --audio-in would refuse; errors.
# Sourced by test_perc_tool.sh.

wdir=$(mktemp -d)
if "$TOOL" wav speech "$wdir/a.wav" 2>/tmp/perc_tool_err.$$ && [ "$(stat -c %s "$wdir/a.wav")" = 384044 ]; then
    ok
else
    bad "wav speech: $(cat /tmp/perc_tool_err.$$), $(stat -c %s "$wdir/a.wav" 2>&1) octets (want 4 s = 384044)"
fi
"$TOOL" wav speech "$wdir/b.wav" --seconds 4 2>/dev/null
if cmp -s "$wdir/a.wav" "$wdir/b.wav"; then ok; else bad "wav speech is not deterministic"; fi
info=$("$TOOL" wav info "$wdir/a.wav" 2>/tmp/perc_tool_err.$$)
case "$info" in
    '{"rate": 48000, "channels": 1, "frames": 192000, "seconds": 4.000, "level_dbov": '*) ok ;;
    *) bad "wav info: '$info' $(cat /tmp/perc_tool_err.$$)" ;;
esac
# Speech-like: loud while talking (RMS over the whole file, pauses
# included, above -30 dBov), peaks at -6 dBFS.
level=$(printf '%s' "$info" | sed -n 's/.*"level_dbov": \([0-9]*\).*/\1/p')
if [ -n "$level" ] && [ "$level" -lt 30 ] && printf '%s' "$info" | grep -q '"peak": 16384'; then
    ok
else
    bad "wav info: level '$level' / peak in '$info'"
fi
"$TOOL" wav speech "$wdir/c.wav" --seconds 1 2>/dev/null
if [ "$(stat -c %s "$wdir/c.wav")" = 96044 ]; then ok; else bad "wav speech --seconds 1"; fi
expect_fail "wav no verb" 2 "expected 'speech' or 'info'" "$TOOL" wav
expect_fail "wav speech no file" 2 "expected one FILE.wav" "$TOOL" wav speech
expect_fail "wav speech --seconds 0" 2 "1..600" "$TOOL" wav speech "$wdir/d.wav" --seconds 0
expect_fail "wav speech --seconds 601" 2 "larger than 600" "$TOOL" wav speech "$wdir/d.wav" --seconds 601
expect_fail "wav speech bad dir" 1 "No such file" "$TOOL" wav speech "$wdir/no/such.wav"
expect_fail "wav info missing" 2 "No such file" "$TOOL" wav info "$wdir/none.wav"
printf 'not a wav file at all' >"$wdir/junk.wav"
expect_fail "wav info junk" 2 "not a RIFF file" "$TOOL" wav info "$wdir/junk.wav"
head -c 100 "$wdir/a.wav" >"$wdir/cut.wav"
expect_fail "wav info truncated" 2 "truncated" "$TOOL" wav info "$wdir/cut.wav"
# 24-bit PCM: the byte at offset 34 is bits per sample.
cp "$wdir/c.wav" "$wdir/w24.wav" && printf '\030' | dd of="$wdir/w24.wav" bs=1 seek=34 conv=notrunc 2>/dev/null
expect_fail "wav info 24-bit" 2 "24-bit PCM not supported" "$TOOL" wav info "$wdir/w24.wav"
rm -rf "$wdir"
