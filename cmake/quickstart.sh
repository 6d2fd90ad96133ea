#!/usr/bin/env bash
# qinfer quick start for a fresh Debian 12 machine.
#
#   cmake/quickstart.sh demo [ARGS]  install what is missing, build, run the Fashion-MNIST demo
#                                    (ARGS go to it; --help lists them)
#   cmake/quickstart.sh test   install what is missing, build and run the whole test suite in the
#                              default (g++ Release), sanitize (ASan + UBSan) and clang presets,
#                              and cross-built for AArch64 under qemu with three CPU models
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ cmake ninja-build catch2 libxsimd-dev libbenchmark-dev libonnx-testdata clang-14 qemu-user
          g++-aarch64-linux-gnu dataset-fashion-mnist zlib1g-dev libclang-rt-14-dev)
# For the tests only: PyTorch itself (a model trained in PyTorch gives PyTorch's outputs here);
# the Cortex-M4 and 32-bit Arm Linux toolchains and emulators (the firmware example); Doxygen (the
# API reference builds without a warning); pkg-config (the installed package is found by it).
if [ "${1:-}" = test ]; then
  packages+=(python3-torch gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib
             qemu-system-arm g++-arm-linux-gnueabihf doxygen pkg-config)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "qinfer needs these Debian packages; install them and run this again:"
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

case "${1:-}" in
  demo)
    shift
    cmake --preset default >/dev/null
    cmake --build --preset default --target fashion_mnist
    ./build/default/examples/fashion_mnist --cache build/default/fashion_mnist_cnn.safetensors \
      --save-model build/default/fashion_mnist_int8.qinfer "$@"
    ;;
  test)
    for preset in default sanitize clang aarch64; do
      echo "== workflow preset: $preset"
      cmake --workflow --preset "$preset"
    done
    echo "== SIMD paths this run tested and skipped"
    echo "host:"
    ./build/default/tests/qinfer_tests "[paths]" | grep -E "detected:|conversion path|GEMM path|fp32 GEMM kernel"
    for cpu in max cortex-a76 cortex-a72; do
      echo "aarch64 under qemu, QEMU_CPU=$cpu:"
      QEMU_CPU=$cpu qemu-aarch64 -L /usr/aarch64-linux-gnu ./build/aarch64/tests/qinfer_tests "[paths]" |
        grep -E "detected:|conversion path|GEMM path|fp32 GEMM kernel"
    done
    ;;
  *)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac
