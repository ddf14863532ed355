#!/usr/bin/env bash
# Scenario 10, wire conformance (issue 7): alice and bob join conference
# 'e2e', carol and dave conference 'e2e-256' (carol prefers 0x000A), all
# through one MDD keyed by one KMF, while we capture, on the MDD host, both the
# endpoints' UDP (ICE, DTLS, SRTP) and the MDD<->KMF tunnel (TCP, TLS 1.3).
# With the daemons' key logs (--keylog) tshark decrypts what it can, and a
# small analyser (python3, below) checks what tshark cannot name:
#
#  1. every DTLS ClientHello from an endpoint offers use_srtp (14) with
#     exactly the profiles 0x0009 and 0x000A and no MKI (RFC 8870 §4 forbids
#     MKI with EKT), and carries extensions 39 (supported_ekt_ciphers, RFC
#     8870 §5.2.1) and 56 (external_session_id, RFC 8844; RFC 9185 §5.1);
#     every ServerHello answers 39, 56 and one of the offered profiles,
#     the one of the endpoint's conference (0x0009 for alice and bob,
#     0x000A for carol and for dave, who prefers 0x0009), and each
#     EKTKey is of its conference's EKT cipher (16 octets with 0x0009,
#     32 with 0x000A: RFC 8870 §6);
#  2. every encrypted DTLS record authenticates under the KMF's key log:
#     tshark decrypts the handshake/alert records with a good tag, among
#     them the EKTKey (handshake type 26, RFC 8870 §5.2.2) to each endpoint
#     (also the re-key after alice leaves); tshark 4.0 does not dissect
#     content type 26 (ACK) at all, so the analyser decrypts those records
#     itself (AES-GCM from the key log's master secret; self-tested on the
#     EKTKey records, whose plaintext must equal tshark's) and checks that
#     each EKTKey record is followed by an ACK from that endpoint naming
#     its record number (RFC 9147 §7 form, as docs/conformance.md E54);
#  3. the tunnel's TLS decrypts (no record is left undecrypted) with the
#     key logs (each daemon's alone too), and each direction of each
#     connection parses as a stream of TunnelMessages (RFC 9185 §6.1:
#     type(1) | length(2) | body) with well-formed bodies: SupportedProfiles
#     first from the MD (version 0, 0x0009 0x000A), TunneledDtls holding
#     whole DTLS records under random (v4) UUIDs, MediaKeys, and
#     EndpointDisconnect; the MD relays every DTLS datagram byte for byte
#     both ways (RFC 9185 §5.3), except the closing alerts of an
#     association that an EndpointDisconnect ended (see relay() below);
#  4. every MediaKeys carries only the hop-by-hop halves (RFC 9185 §6.4,
#     RFC 8871 §6.2): for 0x0009 16-octet keys and 12-octet salts (of the
#     double profile's 32/24), for 0x000A 32-octet keys and 12-octet salts,
#     an empty MKI, the profile the DTLS handshake of that association
#     negotiated, and different client and server write keys; both
#     profiles occur.
#
# Secrets: the key logs, tshark's debug file (it holds decrypted
# plaintexts, the EKTKeys among them) and the capture stay in the work dir
# (0600); nothing secret is printed, also not on failure.
. "$(dirname "$0")/lib.sh"
e2e_init wire "$@"
for t in tshark dumpcap python3; do
    command -v "$t" >/dev/null 2>&1 ||
        e2e_skip "$t is not installed (tools/lib/deps.sh installs tshark; python3 runs the analyser)"
done
umask 077

e2e_host sig; e2e_host kmf; e2e_host mdd
for n in alice bob carol dave; do e2e_host "h-$n"; done
e2e_start_signaling sig signaling --conference e2e-256
e2e_start_kmf kmf kmf --keylog "$E2E_DIR/kmf.keylog"
mdd_ip=${E2E_HOST_IP[mdd]}
kmf_ip=${E2E_HOST_IP[kmf]}

# The capture starts before the MDD does, so it holds the tunnel's TLS
# handshake. On the MDD host's link everything we check passes by; on lo
# (loopback mode) the host filter keeps out the rest of the machine.
if [ "$E2E_MODE" = netns ]; then cap_if=eth0; else cap_if=lo; fi
cap=$E2E_DIR/capture.pcapng
e2e_spawn mdd dumpcap dumpcap -i "$cap_if" -q -w "$cap" \
    -f "(udp and host $mdd_ip) or (tcp and host $kmf_ip and port $E2E_KMF_PORT)"
for ((i = 0; i < 100; i++)); do
    grep -q "Capturing on" "$E2E_DIR/dumpcap.log" 2>/dev/null && break
    e2e_alive dumpcap || e2e_skip "dumpcap cannot capture on $cap_if: $(tail -1 "$E2E_DIR/dumpcap.log")"
    sleep 0.1
done
grep -q "Capturing on" "$E2E_DIR/dumpcap.log" || e2e_skip "dumpcap did not start capturing on $cap_if"
sleep 0.5 # dumpcap announces itself slightly before the filter is live

e2e_start_mdd mdd mdd-1 --keylog "$E2E_DIR/mdd.keylog"
# Two conferences, so that both double profiles cross the wire. In 'e2e'
# everyone prefers 0x0009. In 'e2e-256' carol prefers 0x000A and keys
# first; dave prefers 0x0009 but gets 0x000A, the profile of the
# conference he joins (the KMF keeps one per conference). In each the
# first leaves first, so the other also receives a re-key's EKTKey (and
# ACKs it).
e2e_endpoint h-alice alice --duration 2
E2E_CONF=e2e-256 e2e_endpoint h-carol carol --duration 2 --srtp-profiles 0x000A,0x0009
e2e_wait_log carol "carol: keyed" 20 >/dev/null
e2e_endpoint h-bob bob --duration 4
E2E_CONF=e2e-256 e2e_endpoint h-dave dave --duration 4
for n in alice bob carol dave; do
    e2e_wait_exit "$n" 40
    [ "$E2E_RC" = 0 ] || e2e_fail "$n exited $E2E_RC"
done
sleep 0.5 # the last tunnel messages (EndpointDisconnect) into the capture
e2e_stop dumpcap INT || true
e2e_wait_log kmf "conference 'e2e' re-keyed \('alice' left\)" 5 >/dev/null
e2e_wait_log kmf "conference 'e2e-256' re-keyed \('carol' left\)" 5 >/dev/null
# Media flows in each conference, on its profile. The second of each pair
# joined after the first began sending: only what arrived after the join
# is counted.
echo "e2e: media in each conference:"
E2E_MESH_SENT_MIN=0 e2e_check_mesh 0.99 alice bob
E2E_MESH_SENT_MIN=0 e2e_check_mesh 0.99 carol dave

# ---- tshark ---------------------------------------------------------------------------------

for f in kmf mdd; do
    grep -q '^CLIENT_RANDOM \|^CLIENT_TRAFFIC_SECRET_0 ' "$E2E_DIR/$f.keylog" 2>/dev/null ||
        e2e_fail "perc-$f --keylog wrote no key log lines"
done
keylog=$E2E_DIR/wire.keylog
cat "$E2E_DIR/kmf.keylog" "$E2E_DIR/mdd.keylog" >"$keylog"

# The MDD's ICE ports: decode them as DTLS rather than trust tshark's
# heuristics, which miss records they do not know (content type 26, the
# ACK). The analyser compares tshark's ClientHello count with the raw
# datagrams', so a DTLS datagram tshark failed to dissect cannot go unseen.
decode=()
for p in $(grep -o "ICE port [0-9]*" "$E2E_DIR/mdd-1.log" | awk '{ print $3 }' | sort -u); do
    decode+=(-d "udp.port==$p,dtls")
done
[ ${#decode[@]} -gt 0 ] || e2e_fail "no 'ICE port N' in the MDD's log"

tsh() { tshark -r "$cap" -o "tls.keylog_file:$keylog" "$@" 2>>"$E2E_DIR/tshark.log"; }
# All UDP with the DTLS handshake fields tshark names; its debug file has
# every DTLS record it decrypted (frame, record number, tag check, plaintext).
tsh -o "tls.debug_file:$E2E_DIR/tshark-debug.txt" "${decode[@]}" -Y udp -T fields \
    -E separator=/t -E occurrence=a -E aggregator=, \
    -e frame.number -e ip.src -e udp.srcport -e ip.dst -e udp.dstport \
    -e dtls.handshake.type -e dtls.handshake.extension.type \
    -e dtls.use_srtp.protection_profile -e dtls.use_srtp.mki_length -e udp.payload \
    >"$E2E_DIR/udp.tsv" || e2e_fail "tshark could not read the capture (tshark.log)"
# The tunnel: the decrypted application data of each TLS record, in order.
tunnel_fields=(-Y "tcp.port == $E2E_KMF_PORT" -T fields -E separator=/t -E occurrence=a
    -E aggregator=, -e frame.number -e tcp.stream -e tcp.srcport -e data.data)
tsh "${tunnel_fields[@]}" >"$E2E_DIR/tunnel.tsv" || e2e_fail "tshark could not read the tunnel"
# TLS 1.3 records that tshark could not decrypt: application-data records
# that yield neither data nor a handshake message nor an alert.
undecrypted=$(tsh -Y "tcp.port == $E2E_KMF_PORT && tls.record.opaque_type == 23 && !data && !tls.handshake.type && !tls.alert_message" |
    wc -l)
# Each daemon's key log alone decrypts the whole tunnel too.
tunnel_bytes() { tshark -r "$cap" -o "tls.keylog_file:$1" "${tunnel_fields[@]}" 2>/dev/null |
    cut -f4 | tr -d ',:\n' | wc -c; }
both=$(tunnel_bytes "$keylog")
for f in kmf mdd; do
    alone=$(tunnel_bytes "$E2E_DIR/$f.keylog")
    echo "e2e: tunnel plaintext decrypted with the $f's key log alone: $((alone / 2)) octets (with both: $((both / 2)))"
    [ "$alone" = "$both" ] && [ "$both" -gt 0 ] || e2e_fail "the $f's key log alone does not decrypt the tunnel"
done
[ "$undecrypted" = 0 ] || {
    tsh -Y "tcp.port == $E2E_KMF_PORT && tls.record.opaque_type == 23 && !data && !tls.handshake.type && !tls.alert_message" >&2
    e2e_fail "$undecrypted tunnel frames hold TLS records tshark could not decrypt (listed above)"
}

# ---- the analyser -----------------------------------------------------------------------------

# On failure: tshark's one-line view of the DTLS and tunnel frames (the
# FAIL lines name frame numbers in it; summaries hold no secrets).
explain() {
    echo "---- tshark: DTLS and tunnel frames (decrypted with the key logs) ----"
    tsh "${decode[@]}" -Y "dtls || udp.payload[0] == 0x1a || (tcp.port == $E2E_KMF_PORT && tls)" || true
    e2e_fail "wire conformance (see the FAIL lines and the frames above)"
}
python3 - "$E2E_DIR" "$mdd_ip" "$E2E_KMF_PORT" \
    "${E2E_HOST_IP[h-alice]}=0x0009,${E2E_HOST_IP[h-bob]}=0x0009,${E2E_HOST_IP[h-carol]}=0x000A,${E2E_HOST_IP[h-dave]}=0x000A" \
    <<'PY' || explain
import hashlib, hmac, os, subprocess, sys
from collections import Counter, defaultdict

work, mdd_ip, kmf_port = sys.argv[1], sys.argv[2], sys.argv[3]
# The profile each endpoint (by address) must end up with.
want_profile = {ip: int(p, 16) for ip, p in (x.split("=") for x in sys.argv[4].split(","))}
failures = []
def fail(msg):
    failures.append(msg)
    print("  FAIL: " + msg)
def hx(s): return bytes.fromhex(s.replace(":", ""))

# ---- UDP: datagrams, DTLS records ----
udp = []   # dicts per frame
for line in open(os.path.join(work, "udp.tsv")):
    f = line.rstrip("\n").split("\t")
    if len(f) < 10 or not f[9]:
        continue
    udp.append(dict(frame=int(f[0]), src=(f[1], int(f[2])), dst=(f[3], int(f[4])),
                    hs_types=f[5], exts=f[6], profiles=f[7], mki=f[8], payload=hx(f[9])))

def dtls_records(b):
    """Whole DTLS 1.x records of a datagram, or None if it does not split into them."""
    recs, i = [], 0
    while i < len(b):
        if len(b) - i < 13: return None
        ct, ver, epoch, seq, ln = b[i], b[i+1:i+3], int.from_bytes(b[i+3:i+5], "big"), \
            int.from_bytes(b[i+5:i+11], "big"), int.from_bytes(b[i+11:i+13], "big")
        if not 20 <= ct <= 63 or ver[0] != 0xfe or i + 13 + ln > len(b): return None
        recs.append(dict(ct=ct, ver=ver, epoch=epoch, seq=seq, frag=b[i+13:i+13+ln], hdr=b[i:i+13]))
        i += 13 + ln
    return recs

# RFC 7983 demultiplexing: first octet 20..63 is DTLS.
dtls_dgrams = [d for d in udp if 20 <= d["payload"][0] <= 63]
for d in dtls_dgrams:
    d["recs"] = dtls_records(d["payload"])
    if d["recs"] is None:
        fail(f"frame {d['frame']}: a DTLS datagram that is not a sequence of whole records")
        d["recs"] = []
    d["to_ep"] = d["src"][0] == mdd_ip
    d["ep"] = d["dst"] if d["to_ep"] else d["src"]
eps = sorted({d["ep"] for d in dtls_dgrams})

# ---- check 1: ClientHello / ServerHello extensions (tshark's fields) ----
print("e2e: [1] DTLS ClientHello and ServerHello (tshark: raw extension types):")
def has_hs(d, t): return str(t) in d["hs_types"].split(",")
def raw_has_hs(d, t):
    return any(r["ct"] == 22 and r["epoch"] == 0 and r["frag"][:1] == bytes([t]) for r in d["recs"])
chs = [d for d in dtls_dgrams if not d["to_ep"] and has_hs(d, 1)]
raw_chs = [d for d in dtls_dgrams if not d["to_ep"] and raw_has_hs(d, 1)]
if len(chs) != len(raw_chs):
    fail(f"tshark dissected {len(chs)} ClientHellos, the datagrams hold {len(raw_chs)}")
ch_eps = set()
for d in chs:
    exts = [int(x) for x in d["exts"].split(",") if x]
    profs = sorted(int(x, 16) for x in d["profiles"].split(",") if x)
    ok = 14 in exts and profs == [0x0009, 0x000A] and 39 in exts and 56 in exts and d["mki"] == "0"
    print(f"  frame {d['frame']} ClientHello from {d['src'][0]}: extensions {exts}, "
          f"use_srtp profiles {[f'0x{p:04X}' for p in profs]}, MKI length {d['mki'] or '-'}"
          f"{'' if ok else '  <- WRONG'}")
    if not ok:
        fail(f"frame {d['frame']}: the ClientHello does not offer use_srtp 0x0009+0x000A without MKI and extensions 39, 56")
    ch_eps.add(d["src"])
if set(eps) != ch_eps or len(eps) != len(want_profile):
    fail(f"ClientHellos seen from {sorted(ch_eps)}, DTLS endpoints {eps} (want {len(want_profile)}, each with a ClientHello)")
negotiated = {}
for d in dtls_dgrams:
    if d["to_ep"] and has_hs(d, 2):
        exts = [int(x) for x in d["exts"].split(",") if x]
        profs = [int(x, 16) for x in d["profiles"].split(",") if x]
        ok = 39 in exts and 56 in exts and len(profs) == 1 and profs[0] in (0x0009, 0x000A)
        print(f"  frame {d['frame']} ServerHello to {d['dst'][0]}: extensions {exts}, "
              f"use_srtp {[f'0x{p:04X}' for p in profs]}{'' if ok else '  <- WRONG'}")
        if not ok:
            fail(f"frame {d['frame']}: the ServerHello does not answer 39, 56 and one offered profile")
        if profs: negotiated[d["ep"]] = profs[0]
# One profile per conference: carol's choice binds dave, who prefers 0x0009.
for ep in eps:
    want = want_profile.get(ep[0])
    got = negotiated.get(ep)
    print(f"  {ep[0]} negotiated {f'0x{got:04X}' if got else 'nothing'} (its conference's: 0x{want or 0:04X})")
    if got != want:
        fail(f"{ep[0]} negotiated {got}, not its conference's profile 0x{want or 0:04X}")

# ---- check 2: every encrypted DTLS record authenticates; EKTKey and ACK ----
# tshark's debug file, per frame: the records it dissected, its tag
# verdict and the plaintext.
dbg = defaultdict(list)
frame, cur, in_pt = None, None, False
for line in open(os.path.join(work, "tshark-debug.txt"), errors="replace"):
    if line.startswith("dissect_dtls enter frame #"):
        frame = int(line.split("#")[1].split()[0]) if "(first time)" in line else None
        cur, in_pt = None, False
    elif line.startswith("dissect_ssl enter frame"):
        frame, cur, in_pt = None, None, False
    elif frame is None:
        continue
    elif line.startswith("dissect_dtls_record: content_type"):
        w = line.split()
        cur = dict(ct=int(w[2]), epoch=int(w[4]), seq=int(w[6]), ok=False, pt=b"")
        dbg[frame].append(cur)
        in_pt = False
    elif cur is not None and line.startswith("auth_tag(OK)"):
        cur["ok"] = True
    elif cur is not None and line.startswith("Plaintext["):
        in_pt = cur["ok"]
    elif in_pt and line.startswith("| "):
        cur["pt"] += bytes(int(t, 16) for t in line[1:50].split())
    else:
        in_pt = False

# AES-GCM (DTLS 1.2, RFC 5288) with the openssl command for the block
# cipher, for the records tshark 4.0 does not dissect (content type 26).
SUITES = {0xC02B: (16, hashlib.sha256), 0xC02F: (16, hashlib.sha256),
          0xC02C: (32, hashlib.sha384), 0xC030: (32, hashlib.sha384)}
def aes_ecb(key, data):
    r = subprocess.run(["openssl", "enc", f"-aes-{len(key) * 8}-ecb", "-nopad", "-K", key.hex()],
                       input=data, capture_output=True, check=True)
    return r.stdout
def gmul(x, y):
    z, v = 0, x
    for i in range(127, -1, -1):
        if (y >> i) & 1: z ^= v
        v = (v >> 1) ^ (0xE1 << 120) if v & 1 else v >> 1
    return z
def ghash(h, aad, c):
    def blocks(b): return [b[i:i+16].ljust(16, b"\0") for i in range(0, len(b), 16)]
    y = 0
    for blk in blocks(aad) + blocks(c) + [(len(aad) * 8).to_bytes(8, "big") + (len(c) * 8).to_bytes(8, "big")]:
        y = gmul(y ^ int.from_bytes(blk, "big"), h)
    return y
def gcm_open(key, nonce, aad, ct, tag):
    n = (len(ct) + 15) // 16
    ctrs = b"".join(nonce + (i + 1).to_bytes(4, "big") for i in range(n + 1))
    ks = aes_ecb(key, bytes(16) + ctrs)
    h, ej0, stream = int.from_bytes(ks[:16], "big"), ks[16:32], ks[32:]
    want = (ghash(h, aad, ct) ^ int.from_bytes(ej0, "big")).to_bytes(16, "big")
    return bytes(a ^ b for a, b in zip(ct, stream)) if hmac.compare_digest(want, tag) else None
def p_hash(hf, secret, seed, n):
    out, a = b"", seed
    while len(out) < n:
        a = hmac.new(secret, a, hf).digest()
        out += hmac.new(secret, a + seed, hf).digest()
    return out[:n]

masters = {}
for line in open(os.path.join(work, "kmf.keylog")):
    w = line.split()
    if len(w) == 3 and w[0] == "CLIENT_RANDOM":
        masters[bytes.fromhex(w[1])] = bytes.fromhex(w[2])
def hello_fields(d, t):
    for r in d["recs"]:
        f = r["frag"]
        if r["ct"] == 22 and r["epoch"] == 0 and f[:1] == bytes([t]) and len(f) >= 12 + 35:
            body = f[12:]
            rnd = body[2:34]
            if t == 2:
                sid = body[34]
                return rnd, int.from_bytes(body[35 + sid:37 + sid], "big")
            return rnd, None
    return None, None
keys = {}   # endpoint -> (client key, client iv, server key, server iv)
for ep in eps:
    cr = next((hello_fields(d, 1)[0] for d in dtls_dgrams if d["ep"] == ep and not d["to_ep"] and hello_fields(d, 1)[0]), None)
    sr, suite = next((hello_fields(d, 2) for d in dtls_dgrams if d["ep"] == ep and d["to_ep"] and hello_fields(d, 2)[0]), (None, None))
    if cr is None or sr is None or cr not in masters:
        fail(f"{ep[0]}: no ClientHello/ServerHello random or no master secret for it in the KMF's key log")
        continue
    if suite not in SUITES:
        fail(f"{ep[0]}: cipher suite 0x{suite:04X} is not one the analyser decrypts (AES-GCM only)")
        continue
    kl, hf = SUITES[suite]
    kb = p_hash(hf, masters[cr], b"key expansion" + sr + cr, 2 * kl + 8)
    keys[ep] = (kb[:kl], kb[2*kl:2*kl+4], kb[kl:2*kl], kb[2*kl+4:2*kl+8])
def open_record(ep, from_client, r):
    if ep not in keys: return None
    ck, civ, sk, siv = keys[ep]
    key, iv = (ck, civ) if from_client else (sk, siv)
    f = r["frag"]
    if len(f) < 24: return None
    pt_len = len(f) - 24
    aad = r["epoch"].to_bytes(2, "big") + r["seq"].to_bytes(6, "big") + bytes([r["ct"]]) + r["ver"] + pt_len.to_bytes(2, "big")
    return gcm_open(key, iv + f[:8], aad, f[8:-16], f[-16:])

print("e2e: [2] encrypted DTLS records (KMF key log), EKTKey and ACK:")
enc_total, enc_ok, by_tshark, by_us, selftest = 0, 0, 0, 0, 0
ekts, acks = [], []   # (frame, ep, epoch, seq) / (frame, ep, acked record numbers)
ekt_key_lens = defaultdict(set)   # endpoint address -> EKTKey lengths it received
for d in dtls_dgrams:
    theirs = [x for x in dbg.get(d["frame"], []) if x["epoch"] >= 1]
    for r in d["recs"]:
        if r["epoch"] == 0:
            continue
        enc_total += 1
        t = next((x for x in theirs if x["ct"] == r["ct"] and x["epoch"] == r["epoch"] and x["seq"] == r["seq"]), None)
        if r["ct"] == 26:
            # tshark 4.0 skips this content type; our own decryption.
            pt = open_record(d["ep"], not d["to_ep"], r)
            if pt is None:
                fail(f"frame {d['frame']}: the content type 26 record {r['epoch']}/{r['seq']} does not authenticate")
                continue
            enc_ok += 1; by_us += 1
            n = int.from_bytes(pt[:2], "big")
            if d["to_ep"] or n % 16 or len(pt) != 2 + n or n == 0:
                fail(f"frame {d['frame']}: the content type 26 record is not an ACK from the endpoint "
                     f"(RFC 9147 §7 RecordNumber list), {len(pt)} octets")
                continue
            nums = [(int.from_bytes(pt[2+i:10+i], "big"), int.from_bytes(pt[10+i:18+i], "big")) for i in range(0, n, 16)]
            acks.append((d["frame"], d["ep"], nums))
            continue
        if t is None or not t["ok"]:
            fail(f"frame {d['frame']}: tshark did not authenticate the record type {r['ct']} epoch {r['epoch']} seq {r['seq']}"
                 f" ({'not dissected' if t is None else 'no auth_tag(OK)'})")
            continue
        enc_ok += 1; by_tshark += 1
        if r["ct"] == 22 and t["pt"][:1] == b"\x1a":
            ekts.append((d["frame"], d["ep"], r["epoch"], r["seq"]))
            if not d["to_ep"]:
                fail(f"frame {d['frame']}: an EKTKey from an endpoint")
            # self-test of the analyser's decryption against tshark's
            mine = open_record(d["ep"], False, r)
            if mine != t["pt"]:
                fail(f"frame {d['frame']}: the analyser's AES-GCM disagrees with tshark on the EKTKey record")
            else:
                selftest += 1
            body = t["pt"][12:]
            kl = int.from_bytes(body[:2], "big") if len(body) >= 2 else -1
            sl = int.from_bytes(body[2+kl:4+kl], "big") if kl >= 0 and len(body) >= 4 + kl else -1
            if t["pt"][1:4] != t["pt"][9:12] or kl not in (16, 32) or sl < 12 or len(body) != 2 + kl + 2 + sl + 2 + 3:
                fail(f"frame {d['frame']}: the EKTKey body (RFC 8870 §5.2.2) is malformed or fragmented")
            # The EKT cipher follows the conference's profile (RFC 8870 §6):
            # the KMF's aeskw_128 for 0x0009, aeskw_256 for 0x000A.
            want_kl = 32 if want_profile.get(d["ep"][0]) == 0x000A else 16
            ekt_key_lens[d["ep"][0]].add(kl)
            if kl != want_kl:
                fail(f"frame {d['frame']}: a {kl}-octet EKTKey to {d['ep'][0]}, whose conference's profile wants {want_kl}")
for ip in sorted(ekt_key_lens):
    print(f"  EKTKeys to {ip}: {sorted(ekt_key_lens[ip])}-octet keys")
print(f"  {enc_total} encrypted DTLS records; {enc_ok} authenticate ({by_tshark} decrypted by tshark with "
      f"auth_tag(OK), {by_us} ACK records by the analyser, whose AES-GCM matched tshark on {selftest} EKTKey records)")
# An EKTKey (record R to endpoint X) is followed by an ACK from X naming R,
# unless X had already left (its DTLS close_notify / the MD's disconnect).
closed = {}
for d in dtls_dgrams:
    for x in dbg.get(d["frame"], []):
        if not d["to_ep"] and x["ct"] == 21 and x["ok"] and x["pt"][:2] == b"\x01\x00":
            closed.setdefault(d["ep"], d["frame"])
for ep in eps:
    mine = [e for e in ekts if e[1] == ep]
    if not mine:
        fail(f"{ep[0]}: no EKTKey record reached it")
    for fr, _, epoch, seq in mine:
        ack = next((a for a in acks if a[1] == ep and a[0] > fr and (epoch, seq) in a[2]), None)
        if ack:
            print(f"  frame {fr}: EKTKey (handshake type 26) to {ep[0]}, record {epoch}/{seq}; "
                  f"frame {ack[0]}: its ACK, record numbers {[f'{e}/{s}' for e, s in ack[2]]}")
        elif ep in closed and closed[ep] < fr:
            print(f"  frame {fr}: EKTKey to {ep[0]} after it had sent close_notify (frame {closed[ep]}): no ACK expected")
        else:
            fail(f"frame {fr}: no ACK from {ep[0]} names the EKTKey record {epoch}/{seq}")

# ---- check 3: the tunnel, TunnelMessage framing ----
print("e2e: [3] tunnel TLS decrypted; TunnelMessage framing (RFC 9185 §6):")
streams = defaultdict(lambda: {"md": [], "kd": []})
for line in open(os.path.join(work, "tunnel.tsv")):
    f = line.rstrip("\n").split("\t")
    if len(f) < 4 or not f[3]:
        continue
    # by port: in loopback mode the MDD's tunnel comes from 127.0.0.1
    side = "kd" if f[2] == kmf_port else "md"
    for chunk in f[3].split(","):
        streams[int(f[1])][side].append((int(f[0]), hx(chunk)))
if not streams:
    fail("no decrypted application data in the tunnel")
NAMES = {1: "SupportedProfiles", 2: "UnsupportedVersion", 3: "MediaKeys", 4: "TunneledDtls", 5: "EndpointDisconnect"}
counts = Counter()
tunneled = {"md": [], "kd": []}   # (frame, uuid, dtls bytes)
media_keys, disconnected, assoc_seen = [], {}, set()
disc_count = Counter()
def v4(u): return (u[6] >> 4) == 4 and (u[8] & 0xC0) == 0x80
for sno, sides in sorted(streams.items()):
    for side in ("md", "kd"):
        buf, frames = b"", []
        for fr, chunk in sides[side]:
            frames += [fr] * len(chunk)
            buf += chunk
        i, first = 0, True
        while i < len(buf):
            where = f"stream {sno} {side.upper()}->{'KD' if side == 'md' else 'MD'} frame {frames[i]} offset {i}"
            if len(buf) - i < 3:
                fail(f"{where}: {len(buf) - i} trailing octets, not a TunnelMessage header"); break
            t, ln = buf[i], int.from_bytes(buf[i+1:i+3], "big")
            if i + 3 + ln > len(buf):
                fail(f"{where}: {NAMES.get(t, t)} of length {ln} runs past the end of the stream"); break
            b, fr = buf[i+3:i+3+ln], frames[i + 2 + ln]
            i += 3 + ln
            counts[(side, t)] += 1
            if side == "md" and first and t != 1:
                fail(f"{where}: the MD's first message is {NAMES.get(t, t)}, not SupportedProfiles (§5.3)")
            first = False
            if t == 1:
                pl = int.from_bytes(b[1:3], "big") if ln >= 3 else -1
                profs = [int.from_bytes(b[3+k:5+k], "big") for k in range(0, max(pl, 0), 2)]
                if side != "md" or ln < 3 or b[0] != 0 or pl < 2 or pl % 2 or ln != 3 + pl:
                    fail(f"{where}: malformed SupportedProfiles {b.hex()}")
                elif profs != [0x0009, 0x000A]:
                    fail(f"{where}: SupportedProfiles lists {[hex(p) for p in profs]}, not 0x0009 0x000A")
            elif t == 3:
                ok = side == "kd" and ln >= 19
                if ok:
                    u, prof, j, vec = b[:16], int.from_bytes(b[16:18], "big"), 18, []
                    for _ in range(5):   # mki, client key, server key, client salt, server salt
                        if j >= ln or j + 1 + b[j] > ln: ok = False; break
                        vec.append(b[j+1:j+1+b[j]]); j += 1 + b[j]
                    ok = ok and j == ln and all(len(v) >= 1 for v in vec[1:])
                if not ok:
                    fail(f"{where}: malformed MediaKeys ({ln} octets)")
                else:
                    media_keys.append((fr, u, prof, vec, where))
            elif t == 4:
                dl = int.from_bytes(b[16:18], "big") if ln >= 18 else -1
                if ln < 19 or dl < 1 or ln != 18 + dl:
                    fail(f"{where}: malformed TunneledDtls ({ln} octets)"); continue
                u, dt = b[:16], b[18:]
                if side == "md":
                    if not v4(u): fail(f"{where}: association id {u.hex()} is not a random (version 4) UUID")
                    assoc_seen.add(u)
                elif u not in assoc_seen:
                    fail(f"{where}: TunneledDtls for an association the MD never opened")
                if dtls_records(dt) is None:
                    fail(f"{where}: TunneledDtls does not hold whole DTLS records")
                tunneled[side].append((fr, u, dt))
            elif t == 5:
                if ln != 16:
                    fail(f"{where}: malformed EndpointDisconnect ({ln} octets)")
                else:
                    disconnected.setdefault(b, fr)
                    disc_count[(side, b)] += 1
            elif t == 2:
                fail(f"{where}: UnsupportedVersion {b.hex()} (the KMF refused our tunnel version)")
            else:
                fail(f"{where}: unknown message type {t}")
for side in ("md", "kd"):
    print(f"  {side.upper()}->{'KD' if side == 'md' else 'MD'}: " +
          ", ".join(f"{NAMES[t]} {counts[(side, t)]}" for t in NAMES if counts[(side, t)]) +
          f" ({sum(len(c) for s in streams.values() for _, c in s[side])} octets, all parsed)")
twice = [u for (side, u), n in disc_count.items() if side == "kd" and n > 1]
if twice:
    # Not against RFC 9185 (it says nothing about repeats), but worth seeing.
    print(f"  note: the KMF sent EndpointDisconnect more than once for {len(twice)} association(s)")
if counts[("md", 1)] != len(streams):
    fail(f"{counts[('md', 1)]} SupportedProfiles on {len(streams)} tunnel connection(s)")

# The MD relays DTLS both ways (RFC 9185 §5.3 (3)), byte for byte, in
# order, also for a second after signaling's leave (perc-mdd's linger).
# Only the closing alerts of an association may go unrelayed, after an
# EndpointDisconnect: when the KMF ends the association first (it hears of
# the leave from signaling too), the MD drops the endpoint at once, and the
# endpoint's answering close_notify finds nobody. Anything else unrelayed (a handshake record, an EKTKey, an
# ACK; an alert followed by relayed datagrams of the same association, or
# with no EndpointDisconnect for it) is a failure.
def rec_types(b):
    return "+".join(f"{r['ct']}/e{r['epoch']}" for r in (dtls_records(b) or []))
def relay(src, dst, dst_of, what):
    """src: [(frame, key, bytes)] in order; dst: [(frame, key, bytes)]; dst_of maps a src key to a dst key.
    Returns (relayed, trailing unrelayed); fails on the rest."""
    pending = list(dst)
    missing = defaultdict(list)
    relayed = 0
    for fr, k, b in src:
        hit = next((x for x in pending if x[0] > fr and x[1] == dst_of(k) and x[2] == b), None)
        if hit:
            pending.remove(hit)
            relayed += 1
            # an earlier unrelayed datagram of this association was not its last
            for mfr, mb in missing.pop(k, []):
                fail(f"frame {mfr}: {what} ({rec_types(mb)}) was never relayed, though later ones were")
        else:
            missing[k].append((fr, b))
    trailing = 0
    for k, lst in missing.items():
        u = k if isinstance(k, bytes) else ep_assoc.get(k)
        for mfr, mb in lst:
            alerts_only = all(r["ct"] == 21 for r in (dtls_records(mb) or [{"ct": 0}]))
            if alerts_only and u in disconnected:
                trailing += 1
            else:
                fail(f"frame {mfr}: {what} ({rec_types(mb)}) was never relayed"
                     f"{'' if alerts_only else ' (not just an alert)'}"
                     f"{'' if u in disconnected else ', and no EndpointDisconnect ended its association'}")
    return relayed, trailing, pending

assoc_ep, ep_assoc = {}, {}
for fr, u, dt in tunneled["md"]:
    d = next((d for d in dtls_dgrams if not d["to_ep"] and d["payload"] == dt and d["frame"] < fr), None)
    if d is not None:
        if assoc_ep.setdefault(u, d["ep"]) != d["ep"] or ep_assoc.setdefault(d["ep"], u) != u:
            fail(f"association {u.hex()} and endpoint {d['ep'][0]} are not one to one")
up_src = [(d["frame"], d["ep"], d["payload"]) for d in dtls_dgrams if not d["to_ep"]]
n_up, trail_up, invented = relay(up_src, tunneled["md"], lambda ep: ep_assoc.get(ep),
                                 "an endpoint's DTLS datagram to the MD")
for fr, u, dt in invented:
    fail(f"frame {fr}: the MD tunneled DTLS ({rec_types(dt)}) that no endpoint sent before")
down_dst = [(d["frame"], d["ep"], d["payload"]) for d in dtls_dgrams if d["to_ep"]]
n_down, trail_down, invented = relay(tunneled["kd"], down_dst, lambda u: assoc_ep.get(u),
                                     "the KMF's TunneledDtls")
for fr, ep, b in invented:
    fail(f"frame {fr}: the MD sent {ep[0]} DTLS ({rec_types(b)}) the KMF never tunneled")
print(f"  DTLS relayed byte for byte: {n_up} datagrams endpoint->KMF, {n_down} KMF->endpoint; "
      f"closing alerts unrelayed after the MD dropped the endpoint: {trail_up} endpoint->KMF, {trail_down} KMF->endpoint")

# ---- check 4: MediaKeys carry the hop-by-hop halves ----
print("e2e: [4] MediaKeys (RFC 9185 §6.4, RFC 8871 §6.2):")
HALF = {0x0009: (16, 12), 0x000A: (32, 12)}
if len(media_keys) < len(eps):
    fail(f"{len(media_keys)} MediaKeys for {len(eps)} endpoints")
for prof in sorted(HALF):
    if not any(mk[2] == prof for mk in media_keys):
        fail(f"no MediaKeys for profile 0x{prof:04X}: that branch was not exercised")
for fr, u, prof, (mki, ckey, skey, csalt, ssalt), where in media_keys:
    ep = assoc_ep.get(u)
    kl, sl = HALF.get(prof, (None, None))
    print(f"  frame {fr}: MediaKeys for {ep[0] if ep else '?'} (association {u.hex()[:8]}...): profile 0x{prof:04X}, "
          f"MKI {len(mki)}, client/server write key {len(ckey)}/{len(skey)}, salt {len(csalt)}/{len(ssalt)} octets")
    if kl is None:
        fail(f"{where}: MediaKeys profile 0x{prof:04X} is not a double profile")
    elif (len(ckey), len(skey), len(csalt), len(ssalt)) != (kl, kl, sl, sl):
        fail(f"{where}: MediaKeys for 0x{prof:04X} must carry {kl}-octet keys and {sl}-octet salts (the halves)")
    if mki:
        fail(f"{where}: MediaKeys carries an MKI (EKT forbids one)")
    if ckey == skey:
        fail(f"{where}: the client and server write keys are equal")
    if ep is None:
        fail(f"{where}: MediaKeys for an association that carried no endpoint's DTLS")
    elif negotiated.get(ep) != prof:
        fail(f"{where}: MediaKeys profile 0x{prof:04X}, the DTLS handshake negotiated {negotiated.get(ep)}")

if failures:
    print(f"e2e: {len(failures)} wire conformance failure(s)")
    sys.exit(1)
PY

e2e_pass "ClientHellos offer 0x0009/0x000A, 39, 56; one profile per conference (0x0009 and 0x000A); every DTLS record authenticates, each EKTKey (type 26) is ACKed; the tunnel decrypts and every TunnelMessage parses; MediaKeys carry the halves of both profiles"
