"""The macro benchmarks' lines of bench/run.sh's summary table, from
macro_mdd_load.json, macro_latency.json and macro_kmf.json in the output
folder (argv[1]).
Targets are reported, never asserted."""
import json
import os
import sys

out = sys.argv[1]


def load(name):
    path = os.path.join(out, name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None


def row(name, value, target, met):
    verdict = "" if met is None else ("met" if met else "NOT met")
    print("%-50s %18s %9s %s" % (name, value, target, verdict))


print("%-50s %18s %9s" % ("figure", "measured", "target"))
m = load("macro_mdd_load")
if m:
    z = m["zero_loss_max"] or {}
    v = m["verdict"]
    row("MDD forwarded per MDD CPU-second, zero loss",
        "%.0f" % (z.get("forwarded_per_mdd_cpu_s") or 0), ">=100000",
        v["forwarding_ge_100k_per_core_zero_loss"])
    row("MDD packets/s out, zero-loss maximum (wall)", "%.0f" % (z.get("mdd_out_pps") or 0),
        "-", None)
    row("MDD memory per connected endpoint, KiB",
        "%s" % m["memory"]["per_endpoint_with_prealloc_kib"], "<64", v["memory_lt_64kib"])
lat = load("macro_latency")
if lat:
    for key, label, target, verdict in (
            ("join_start_to_all_verified_ms", "join: start -> all senders verified, ms",
             "<150", "join_median_lt_150ms"),
            ("rekey_leave_to_all_new_key_used_ms", "re-key: leave -> all on the new key, ms",
             "<400", "rekey_median_lt_400ms")):
        s = lat[key]
        row(label, "-" if not s else "%.1f (p95 %.1f)" % (s["median"], s["p95"]), target,
            lat["verdict"][verdict])
kmf = load("macro_kmf")
if kmf:
    # The median over the rounds after the warm-up, with their range.
    s = kmf["handshakes_per_kmf_cpu_s"]
    row("KMF handshakes per KMF CPU-second (real tunnel)",
        "-" if not s else "%.0f (%.0f..%.0f)" % (s["median"], s["min"], s["max"]), ">=500",
        kmf["verdict"]["kmf_ge_500_per_core"])
