// SPDX-License-Identifier: Apache-2.0
//
// Quantize a float layer, run it as an int8 GEMM and compare with the float result.
//
//   activations x [M, K] -> uint8, affine, calibrated from the data
//   weights     W [K, N] -> int8, symmetric per output channel (the TFLite/PyTorch default)
//   y = x W            -> int8 GEMM, int32 accumulators, dequantized to float per channel
#include <qinfer/qinfer.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

int main() {
  constexpr std::size_t m = 64, k = 256, n = 32;
  std::mt19937 rng(42);
  std::normal_distribution<float> gaussian(0.0f, 1.0f);
  std::vector<float> x(m * k), w(k * n);
  for (float& v : x) v = std::max(0.0f, gaussian(rng));  // post-ReLU activations
  for (float& v : w) v = gaussian(rng) * 0.05f;

  // Activations: one (scale, zero point) from the data's range.
  const auto x_quantizer = qinfer::AffineQuantizer<uint8_t>::from_data(x);
  std::vector<uint8_t> x8(x.size());
  x_quantizer.quantize(x, x8);

  // Weights: one symmetric scale per output channel (axis 1 of [K, N]).
  const std::size_t w_dims[] = {k, n};
  const auto w_quantizer =
      qinfer::PerAxisQuantizer<int8_t, qinfer::SymmetricNarrow>::from_data(w, w_dims, 1);
  std::vector<int8_t> w8(w.size());
  w_quantizer.quantize(w, w_dims, w8);

  // int8 GEMM with the dequantize output stage: y = acc * x_scale * w_scale[n].
  std::vector<float> scales(n);
  for (std::size_t j = 0; j < n; ++j)
    scales[j] = x_quantizer.params().scale * w_quantizer.params()[j].scale;
  // The weights are packed once for the kernels; the GEMM runs on the best kernel this CPU has.
  const int32_t w_zero_point[] = {0};
  const qinfer::PackedWeights packed = qinfer::pack_weights<qinfer::SymmetricNarrow>(
      qinfer::row_major(w8.data(), k, n), w_zero_point, {});
  std::vector<float> y(m * n);
  qinfer::gemm(qinfer::row_major(x8.data(), m, k), x_quantizer.params().zero_point, packed,
               qinfer::DequantizeFloat{scales}, qinfer::row_major(y.data(), m, n));

  double signal = 0.0, noise = 0.0, max_error = 0.0;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double exact = 0.0;
      for (std::size_t p = 0; p < k; ++p) exact += double(x[i * k + p]) * w[p * n + j];
      const double error = y[i * n + j] - exact;
      signal += exact * exact;
      noise += error * error;
      max_error = std::max(max_error, std::fabs(error));
    }
  }
  std::printf(
      "qinfer %d.%d.%d: int8 GEMM %zux%zux%zu, activations uint8 (scale %.5f, zero point %d), "
      "weights int8 per-channel symmetric\n",
      qinfer::version_major, qinfer::version_minor, qinfer::version_patch, m, k, n,
      x_quantizer.params().scale, x_quantizer.params().zero_point);
  std::printf("kernel: %s\n",
              qinfer::gemm_microkernel_for<uint8_t>(qinfer::active_isa(), packed, m).name);
  std::printf("y[0][0]: int8 %.5f, float %.5f\n", y[0], [&] {
    double e = 0.0;
    for (std::size_t p = 0; p < k; ++p) e += double(x[p]) * w[p * n];
    return e;
  }());
  std::printf("error against float: max |dy| = %.5f, RMS = %.5f, SQNR = %.1f dB\n", max_error,
              std::sqrt(noise / (m * n)), 10.0 * std::log10(signal / noise));
  return 0;
}
