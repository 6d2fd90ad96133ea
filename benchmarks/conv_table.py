#!/usr/bin/env python3
"""Prints the markdown table of benchmarks/README.md from conv_bench JSON files: pass the files of
runs with ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI and of unrestricted (AMX) runs, named *VNNI*.json
and *AMX*.json, one or more of each (only VNNI runs on a CPU without AMX: the fp32 column then
compares the AVX-512 VNNI path with oneDNN fp32 of the VNNI runs); each cell is the median across
runs of the per-run medians."""
import json
import statistics
import sys

samples = {}  # (kind, cap, layer) -> per-run medians of GOPS
for path in sys.argv[1:]:
    cap = "vnni" if "VNNI" in path else "amx"
    with open(path) as f:
        for b in json.load(f)["benchmarks"]:
            if b.get("aggregate_name") != "median":
                continue
            parts = b["run_name"].split("/")
            kind = parts[0] + "/" + parts[1]
            layer = "/".join(parts[-2:])
            samples.setdefault((kind, cap, layer), []).append(b["GOPS"] / 1e9)
gops = {k: statistics.median(v) for k, v in samples.items()}


def order(layer):
    """Network, then input size descending, then channels: the order of the networks' layers."""
    net, shape = layer.split("/")
    size, channels = shape.split("x", 1)
    cin, rest = channels.split("-", 1)
    return net, -int(size), int(cin), rest


layers = sorted(dict.fromkeys(k[2] for k in gops), key=order)


def cell(kind_prefix, cap, layer):
    for (kind, c, l), v in gops.items():
        if kind.startswith(kind_prefix) and c == cap and l == layer:
            return v
    return None


best = "amx" if any(k[1] == "amx" for k in gops) else "vnni"
best_kind = "conv/amx" if best == "amx" else "conv/avx512vnni"
print("| layer (input x in - out, kernel, stride) | avx512vnni | oneDNN VNNI | ratio | amx | "
      f"oneDNN AMX | ratio | oneDNN fp32 | {'amx' if best == 'amx' else 'avx512vnni'} / fp32 |")
print("| --- " * 9 + "|")
ratios = {"vnni": {"1x1": [], "kxk": []}, "amx": {"1x1": [], "kxk": []}, "fp32": []}
for layer in layers:
    v, ov = cell("conv/avx512vnni", "vnni", layer), cell("onednn_int8", "vnni", layer)
    a, oa = cell("conv/amx", "amx", layer), cell("onednn_int8", "amx", layer)
    f = cell("onednn_fp32", best, layer)
    b = cell(best_kind, best, layer)
    kind = "1x1" if "-k1s" in layer else "kxk"
    row = [layer]
    for q, o, cap in ((v, ov, "vnni"), (a, oa, "amx")):
        row += [f"{q:.0f}" if q else "–", f"{o:.0f}" if o else "–",
                f"{q / o:.2f}" if q and o else "–"]
        if q and o:
            ratios[cap][kind].append(q / o)
    row += [f"{f:.0f}" if f else "–", f"{b / f:.1f}" if b and f else "–"]
    if b and f:
        ratios["fp32"].append(b / f)
    print("| " + " | ".join(row) + " |")
print()
for cap in ("vnni", "amx"):
    for kind in ("1x1", "kxk"):
        r = ratios[cap][kind]
        if r:
            print(f"{cap} {kind}: median ratio {statistics.median(r):.2f}, min {min(r):.2f} "
                  f"over {len(r)} layers")
if ratios["fp32"]:
    print(f"{best} / oneDNN fp32: min {min(ratios['fp32']):.1f}")
