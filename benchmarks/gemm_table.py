#!/usr/bin/env python3
"""Turns the JSON of run_gemm_table.sh into benchmarks/results/gemm_table.md and gemm.svg."""
import json
import pathlib
import subprocess
import sys

out = pathlib.Path(sys.argv[1])
gops = {}  # (benchmark family, variant, shape) -> median GOPS
gbps = {}
for path in sorted(out.glob("*.json")):
    for b in json.loads(path.read_text())["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        parts = b["run_name"].split("/")
        key = tuple(parts) if len(parts) == 3 else (parts[0], parts[1], "")
        if "GOPS" in b:
            gops[key] = b["GOPS"] / 1e9
        if "weight_GBps" in b:
            gbps[key] = b["weight_GBps"] / 1e9

shapes = ["256x256x256", "512x512x512", "1024x1024x1024", "2048x2048x2048", "1x4096x4096",
          "8x4096x4096", "32x4096x4096", "128x4096x4096", "3136x64x576"]
paths = ["scalar", "avx2", "avx2-7bit", "avxvnni", "avx512vnni", "amx"]
peers = {"avx2": "AVX2", "avx2-7bit": "AVX2", "avxvnni": "AVX2_VNNI",
         "avx512vnni": "AVX512_CORE_VNNI", "amx": "AVX512_CORE_AMX"}


def get(*key):
    return gops.get(key)


def fmt(v, digits=0):
    return "–" if v is None else f"{v:.{digits}f}"


def ratio(a, b):
    return "–" if a is None or b is None else f"{a / b:.2f}"


best = next((p for p in reversed(paths) if get("gemm", p, "1024x1024x1024")), "scalar")
lines = ["| shape | " + " | ".join(paths) + " | oneDNN AVX2 / AVX2_VNNI / AVX512_VNNI / AMX"
         " | oneDNN fp32 | ratios vs oneDNN: avx2 (7-bit) / avxvnni / avx512vnni / amx"
         f" | {best} 2 threads (x 1 thread) | {best} fixed-point |",
         "|" + " --- |" * (len(paths) + 6)]
for s in shapes:
    ours = [get("gemm", p, s) for p in paths]
    onednn = [get("onednn_int8", c, s) for c in ["AVX2", "AVX2_VNNI", "AVX512_CORE_VNNI",
                                                    "AVX512_CORE_AMX"]]
    ratios = " / ".join([f"{ratio(get('gemm', 'avx2', s), onednn[0])} "
                         f"({ratio(get('gemm', 'avx2-7bit', s), onednn[0])})"] +
                        [ratio(get("gemm", p, s), get("onednn_int8", peers[p], s))
                         for p in ["avxvnni", "avx512vnni", "amx"]])
    two = get("gemm_2threads", best, s)
    lines.append(f"| {s} | " + " | ".join(fmt(v) for v in ours) + " | " +
                 " / ".join(fmt(v) for v in onednn) +
                 f" | {fmt(get('onednn_fp32', 'AVX512_CORE_AMX', s))} | {ratios} | "
                 f"{fmt(two)} ({ratio(two, get('gemm', best, s))}) | "
                 f"{fmt(get('gemm_fixed_point', best, s))} |")
peaks = {k[1]: v for k, v in gops.items() if k[0] == "peak"}
lines.append("")
lines.append("Instruction peaks (GOPS, one core): " +
             ", ".join(f"{name} {v:.0f}" for name, v in sorted(peaks.items())) + ".")
m1 = "1x4096x4096"
lines.append(f"M = 1 weight bytes read: stream read {fmt(gbps.get(('stream_read', m1, '')), 1)} GB/s, "
             + ", ".join(f"{p} {fmt(gbps.get(('gemm', p, m1)), 1)}" for p in paths[1:]) +
             f", oneDNN AVX512_VNNI {fmt(gbps.get(('onednn_int8', 'AVX512_CORE_VNNI', m1)), 1)}"
             f", oneDNN AMX {fmt(gbps.get(('onednn_int8', 'AVX512_CORE_AMX', m1)), 1)} GB/s.")
(out / "gemm_table.md").write_text("\n".join(lines) + "\n")

# The plot: GOPS per shape (log scale), each path beside oneDNN on the same ISA, and the peaks.
series = [("gemm", p, f"qinfer {p}") for p in ["avx2", "avx2-7bit", "avxvnni", "avx512vnni", "amx"]]
series += [("onednn_int8", c, f"oneDNN {c}") for c in ["AVX2", "AVX2_VNNI", "AVX512_CORE_VNNI",
                                                       "AVX512_CORE_AMX"]]
series.append(("onednn_fp32", "AVX512_CORE_AMX", "oneDNN fp32"))
rows = ["shape " + " ".join(f'"{label}"' for _, _, label in series)]
for s in shapes:
    rows.append(s + " " + " ".join(fmt(get(f, v, s), 1).replace("–", "NaN") for f, v, _ in series))
(out / "gemm.dat").write_text("\n".join(rows) + "\n")
peak_lines = "".join(
    f'set arrow from graph 0, first {v:.0f} to graph 1, first {v:.0f} nohead dt 2 lc rgb "gray"\n'
    f'set label "{name} peak" at graph 0.01, first {v * 1.08:.0f} font ",9" tc rgb "gray"\n'
    for name, v in peaks.items())
script = f"""set terminal svg size 1200,600 dynamic font "sans,11"
set output "{out / 'gemm.svg'}"
set title "int8 GEMM, one thread: qinfer paths against oneDNN 2.6 on the same ISA (GOPS, log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set logscale y
set yrange [5:*]
set ylabel "GOPS"
set xtics rotate by -20 font ",10"
set key outside right top font ",10"
{peak_lines}plot for [i=2:{len(series) + 1}] "{out / 'gemm.dat'}" using i:xtic(1) title columnheader(i)
"""
subprocess.run(["gnuplot"], input=script, text=True, check=True)
print((out / "gemm_table.md").read_text())
