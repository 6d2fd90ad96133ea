#!/usr/bin/env bash
# Runs gemm_bench once per oneDNN ISA cap (oneDNN reads ONEDNN_MAX_CPU_ISA once per process):
# each process runs oneDNN (single-threaded: OMP_NUM_THREADS=1) beside the qinfer path and the
# instruction peak of the same ISA, with repetitions randomly interleaved, so that every ratio
# is measured side by side under the same load. Then writes the markdown table and the SVG
# plot of benchmarks/README.md into OUT_DIR.
#
#   benchmarks/run_gemm_table.sh [BUILD_DIR (build/default)] [OUT_DIR (benchmarks/results)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/default}
out=${2:-"$here/results"}
bench="$build/benchmarks/gemm_bench"
mkdir -p "$out"
run() {
  local cap=$1 filter=$2
  OMP_NUM_THREADS=1 ONEDNN_MAX_CPU_ISA=$cap "$bench" --benchmark_filter="$filter" \
    --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=true --benchmark_min_time=0.1 \
    --benchmark_format=json > "$out/$cap.json"
}
run AVX2 '^(gemm/avx2(-7bit)?/|onednn_int8/|peak/maddubs)'
run AVX2_VNNI '^(gemm/avxvnni/|onednn_int8/|peak/vpdpbusd ymm)'
run AVX512_CORE_VNNI '^(gemm/avx512vnni/|onednn_int8/|peak/vpdpbusd zmm)'
run AVX512_CORE_AMX \
  '^(gemm/(amx|scalar)/|gemm_2threads/|gemm_fixed_point/|stream_read/|pack_weights/|onednn_|peak/tdpbusd)'
python3 "$here/gemm_table.py" "$out"
