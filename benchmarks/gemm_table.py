#!/usr/bin/env python3
"""Turns the JSON of run_gemm_table.sh (one or more result directories, medians across them)
into gemm_table.md and gemm.svg in the first directory."""
import json
import pathlib
import statistics
import subprocess
import sys

# Several result directories (runs at different times) give per-cell medians across runs.
dirs = [pathlib.Path(d) for d in sys.argv[1:]]
out = dirs[0]
samples = {}  # (family, variant, shape, counter) -> medians of the runs
for d in dirs:
    for path in sorted(d.glob("*.json")):
        for b in json.loads(path.read_text())["benchmarks"]:
            if b.get("aggregate_name") != "median":
                continue
            parts = b["run_name"].split("/")
            key = tuple(parts) if len(parts) == 3 else (parts[0], parts[1], "")
            for counter in ("GOPS", "weight_GBps", "bytes_per_second"):
                if counter in b:
                    samples.setdefault(key + (counter,), []).append(b[counter] / 1e9)
gops = {k[:3]: statistics.median(v) for k, v in samples.items() if k[3] == "GOPS"}
gbps = {k[:3]: statistics.median(v) for k, v in samples.items() if k[3] == "weight_GBps"}
packing = {k[:3]: statistics.median(v) for k, v in samples.items() if k[3] == "bytes_per_second"}

shapes = ["256x256x256", "512x512x512", "1024x1024x1024", "2048x2048x2048", "1x4096x4096",
          "8x4096x4096", "32x4096x4096", "128x4096x4096", "3136x64x576"]


def get(*key):
    return gops.get(key)


def fmt(v, digits=0):
    return "–" if v is None else f"{v:.{digits}f}"


def ratio(a, b):
    return "–" if a is None or b is None else f"{a / b:.2f}"


def pair(path, cap, s):
    ours, theirs = get("gemm", path, s), get("onednn_int8", cap, s)
    return f"{fmt(ours)} / {fmt(theirs)} ({ratio(ours, theirs)})"


lines = ["| shape | avx2 exact, 7-bit / oneDNN AVX2 | avxvnni / oneDNN AVX2_VNNI"
         " | avx512vnni / oneDNN AVX512_CORE_VNNI | amx / oneDNN AMX | oneDNN fp32"
         " | amx vs fp32 | amx 2 threads (x 1) | amx fixed-point | scalar | pack_weights GB/s |",
         "|" + " --- |" * 11]
for s in shapes:
    avx2, seven, onednn_avx2 = (get("gemm", "avx2", s), get("gemm", "avx2-7bit", s),
                                get("onednn_int8", "AVX2", s))
    fp32 = get("onednn_fp32", "AVX512_CORE_AMX", s)
    two = get("gemm_2threads", "amx", s)
    lines.append(
        f"| {s} | {fmt(avx2)}, {fmt(seven)} / {fmt(onednn_avx2)} ({ratio(avx2, onednn_avx2)}, "
        f"{ratio(seven, onednn_avx2)}) | {pair('avxvnni', 'AVX2_VNNI', s)} | "
        f"{pair('avx512vnni', 'AVX512_CORE_VNNI', s)} | {pair('amx', 'AVX512_CORE_AMX', s)} | "
        f"{fmt(fp32)} | {ratio(get('gemm', 'amx', s), fp32)} | "
        f"{fmt(two)} ({ratio(two, get('gemm', 'amx', s))}) | "
        f"{fmt(get('gemm_fixed_point', 'amx', s))} | {fmt(get('gemm', 'scalar', s), 1)} | "
        f"{fmt(packing.get(('pack_weights', s, '')), 2)} |")
peaks = {k[1]: v for k, v in gops.items() if k[0] == "peak"}
lines.append("")
lines.append("Instruction peaks (GOPS, one core, same runs): " +
             ", ".join(f"{name} {v:.0f}" for name, v in sorted(peaks.items())) + ".")
m1 = "1x4096x4096"
lines.append(f"M = 1, weight bytes read per second: stream read "
             f"{fmt(gbps.get(('stream_read', m1, '')), 1)} GB/s; "
             + ", ".join(f"{p} {fmt(gbps.get(('gemm', p, m1)), 1)}"
                         for p in ["avx2", "avx2-7bit", "avxvnni", "avx512vnni", "amx"]) +
             f"; oneDNN AVX512_CORE_VNNI "
             f"{fmt(gbps.get(('onednn_int8', 'AVX512_CORE_VNNI', m1)), 1)}, oneDNN AMX "
             f"{fmt(gbps.get(('onednn_int8', 'AVX512_CORE_AMX', m1)), 1)} GB/s.")
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
# Peaks as dashed horizontal lines with their names at the left end.
peak_lines = "".join(
    f'set arrow from graph 0, first {v:.0f} to graph 1, first {v:.0f} nohead dt 2 lc rgb "gray40"\n'
    f'set label "{name} peak" at graph 0.005, first {v * 1.1:.0f} font ",9" tc rgb "gray30"\n'
    for name, v in sorted(peaks.items()))
data = out / "gemm.dat"
script = f"""set terminal svg size 1280,640 dynamic font "sans,11" noenhanced
set output "{out / 'gemm.svg'}"
set title "int8 GEMM, one thread: qinfer paths against oneDNN 2.6 on the same ISA (GOPS, log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set logscale y
set yrange [5:*]
set ylabel "GOPS"
set xtics rotate by -30 scale 0 font ",10"
set bmargin 7
set key outside right top font ",10"
{peak_lines}plot "{data}" using 2:xtic(1) title columnheader(2), \\
     for [i=3:{len(series) + 1}] "{data}" using i title columnheader(i)
"""
subprocess.run(["gnuplot"], input=script, text=True, check=True)
print((out / "gemm_table.md").read_text())
