#!/usr/bin/env python3
"""Prints the markdown table of benchmarks/README.md from depthwise_bench JSON files (one per
run; each cell is the median across runs of the per-run medians)."""
import json
import statistics
import sys

samples = {}  # (kind, layer) -> per-run medians of GOPS
for path in sys.argv[1:]:
    with open(path) as f:
        for b in json.load(f)["benchmarks"]:
            if b.get("aggregate_name") != "median":
                continue
            parts = b["run_name"].split("/")
            layer, kind = "/".join(parts[-2:]), "/".join(parts[:-2])
            samples.setdefault((kind, layer), []).append(b["GOPS"] / 1e9)
gops = {k: statistics.median(v) for k, v in samples.items()}
# MobileNetV2's order: input size descending, then channels, then stride.
layers = sorted(dict.fromkeys(layer for _, layer in gops),
                key=lambda l: (-int(l.split("x")[0]), int(l.split("x")[2].split("/")[0]),
                               l.split("/s")[1]))
columns = [("depthwise/avx512vnni", "avx512vnni bytes"),
           ("depthwise-int16/avx512vnni", "avx512vnni int16"), ("depthwise/avxvnni", "avxvnni"),
           ("depthwise/avx2", "avx2"),
           ("onednn_int8", "oneDNN int8"), ("onednn_fp32", "oneDNN fp32")]
print("| layer (input, channels, stride) | " + " | ".join(c[1] for c in columns) +
      " | bytes / oneDNN int8 | bytes / oneDNN fp32 |")
print("| --- " * (len(columns) + 3) + "|")
ratios = []
for layer in layers:
    cells = [gops.get((kind, layer)) for kind, _ in columns]
    best, int8, fp32 = cells[0], cells[4], cells[5]
    ratio = best / int8 if best and int8 else None
    if ratio:
        ratios.append(ratio)
    tail = f" | {ratio:.2f} | {best / fp32:.2f} |" if ratio and fp32 else " | – | – |"
    print(f"| {layer} | " + " | ".join(f"{c:.1f}" if c else "–" for c in cells) + tail)
if ratios:
    print(f"\nmedian bytes / oneDNN int8: {statistics.median(ratios):.2f}")
