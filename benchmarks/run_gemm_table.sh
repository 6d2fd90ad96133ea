#!/usr/bin/env bash
# Runs gemm_bench for qinfer's paths and, in the same binary, oneDNN under each ISA cap (one
# process per cap: oneDNN reads ONEDNN_MAX_CPU_ISA once), single-threaded (OMP_NUM_THREADS=1),
# medians of 3 repetitions; then writes the markdown table and the SVG plot of
# benchmarks/README.md into OUT_DIR.
#
#   benchmarks/run_gemm_table.sh [BUILD_DIR (build/default)] [OUT_DIR (benchmarks/results)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/default}
out=${2:-"$here/results"}
bench="$build/benchmarks/gemm_bench"
mkdir -p "$out"
common=(--benchmark_repetitions=3 --benchmark_report_aggregates_only=true
        --benchmark_min_time=0.2 --benchmark_format=json)
"$bench" --benchmark_filter='^(gemm|gemm_fixed_point|gemm_2threads|stream_read|peak)/' \
  "${common[@]}" > "$out/qinfer.json"
for cap in AVX2 AVX2_VNNI AVX512_CORE_VNNI AVX512_CORE_AMX; do
  OMP_NUM_THREADS=1 ONEDNN_MAX_CPU_ISA=$cap "$bench" --benchmark_filter='^onednn' \
    "${common[@]}" > "$out/onednn_$cap.json"
done
python3 "$here/gemm_table.py" "$out"
