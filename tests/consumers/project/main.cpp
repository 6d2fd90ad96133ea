// SPDX-License-Identifier: Apache-2.0
// A consumer's program: quantize, run the reference GEMM, dequantize.
#include <qinfer/qinfer.hpp>

#include <cstdio>
#include <vector>

int main() {
  const std::vector<float> a{0.5f, -1.0f, 2.0f, 0.25f};
  const auto qa = qinfer::AffineQuantizer<uint8_t>::from_data(a);
  std::vector<uint8_t> a8(a.size());
  qa.quantize(a, a8);
  const int8_t b[] = {10, -20, 30, -40};  // 2 x 2, scale 0.05
  const int32_t b_zero_point[] = {0};
  const std::vector<float> scales{qa.params().scale * 0.05f};
  float c[4];
  qinfer::reference::gemm(qinfer::row_major(a8.data(), 2, 2), qinfer::row_major(b, 2, 2),
                          qinfer::reference::GemmOffsets{qa.params().zero_point, b_zero_point, {}},
                          qinfer::DequantizeFloat{scales}, qinfer::row_major(c, 2, 2));
  // Row 0 of A * B in float: 0.5 * 0.5 + (-1) * 1.5 = -1.25.
  std::printf("c[0][0] = %.4f (float: -1.2500), simd %s\n", c[0],
              qinfer::simd_enabled ? "on" : "off");
  return (c[0] > -1.27f && c[0] < -1.23f) ? 0 : 1;
}
