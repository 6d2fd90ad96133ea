// SPDX-License-Identifier: Apache-2.0
//
// Row-wise quantized tables (quant/rowwise.hpp): fbgemm's fused layouts byte for byte against
// hand-built rows, the quantizer's rounding and error bound, the sizes the formats promise, and
// the rejection of bad tables and bytes.
#include "qinfer/quant/rowwise.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "support/errors.hpp"
#include "support/random.hpp"

using namespace qinfer;

namespace {

template <class Format>
RowwiseTable<Format> quantize(const std::vector<float>& x, std::size_t rows, std::size_t dim) {
  return quantize_rowwise<Format>(row_major<const float>(x.data(), rows, dim));
}

std::vector<uint8_t> float_bytes(float v) {
  std::vector<uint8_t> b(4);
  std::memcpy(b.data(), &v, 4);
  return b;
}

}  // namespace

TEST_CASE("8-bit rows are fbgemm's fused 8-bit rowwise bytes", "[rowwise]") {
  const std::vector<float> x = {-1.0f, 0.0f, 0.5f, 1.55f};
  const auto t = quantize<Rowwise8>(x, 1, 4);
  const float scale = (1.55f - -1.0f) / 255.0f;
  std::vector<uint8_t> expected;
  for (float v : x) expected.push_back(static_cast<uint8_t>(std::nearbyint((v + 1.0f) / scale)));
  CHECK(expected == std::vector<uint8_t>{0, 100, 150, 255});
  for (uint8_t b : float_bytes(scale)) expected.push_back(b);
  for (uint8_t b : float_bytes(-1.0f)) expected.push_back(b);
  CHECK(std::vector<uint8_t>(t.bytes().begin(), t.bytes().end()) == expected);
  CHECK(t.view().value(0, 0) == -1.0f);
}

TEST_CASE("4- and 2-bit rows pack codes from each byte's low bits, with fp16 scale and bias",
          "[rowwise]") {
  // 0..15 is scale 1 and bias 0 at 4 bits: the codes are the values. With five elements the
  // third byte's high nibble is padding, zero.
  const auto t4 = quantize<Rowwise4>({0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 15.0f}, 1, 6);
  CHECK(std::vector<uint8_t>(t4.bytes().begin(), t4.bytes().end()) ==
        std::vector<uint8_t>{0x10, 0x32, 0xf4, 0x00, 0x3c, 0x00, 0x00});
  const auto t5 = quantize<Rowwise4>({0.0f, 1.0f, 2.0f, 3.0f, 15.0f}, 1, 5);
  CHECK(std::vector<uint8_t>(t5.bytes().begin(), t5.bytes().end()) ==
        std::vector<uint8_t>{0x10, 0x32, 0x0f, 0x00, 0x3c, 0x00, 0x00});
  // 2 bits: -3..0 in steps of 1 (scale 1, bias -3 = 0xc200 in fp16).
  const auto t2 =
      quantize<Rowwise2>({-3.0f, -2.0f, -1.0f, 0.0f, 0.0f, -1.0f, -2.0f, -3.0f, -1.0f}, 1, 9);
  CHECK(std::vector<uint8_t>(t2.bytes().begin(), t2.bytes().end()) ==
        std::vector<uint8_t>{0xe4, 0x1b, 0x02, 0x00, 0x3c, 0x00, 0xc2});
  CHECK(t2.view().value(0, 8) == -1.0f);
}

TEST_CASE("row-wise bytes load as they are stored", "[rowwise]") {
  // Two fbgemm 4-bit rows of 3 built by hand: scale 0.5 (0x3800), bias -2 (0xc000); scale 2
  // (0x4000), bias 1 (0x3c00).
  const std::vector<uint8_t> bytes = {0x21, 0x0f, 0x00, 0x38, 0x00, 0xc0,
                                      0x10, 0x03, 0x00, 0x40, 0x00, 0x3c};
  const RowwiseTableView<Rowwise4> t = view_rowwise<Rowwise4>(Span<const uint8_t>(bytes), 2, 3);
  std::vector<float> x(6);
  dequantize_rowwise(t, row_major(x.data(), 2, 3));
  CHECK(x == std::vector<float>{-1.5f, -1.0f, 5.5f, 1.0f, 3.0f, 7.0f});
}

TEST_CASE("the formats shrink a float table as promised at dimensions 64 to 128", "[rowwise]") {
  for (std::size_t dim : {64, 96, 128}) {
    const double fp32 = 4.0 * static_cast<double>(dim);
    INFO("dim " << dim);
    CHECK(fp32 / static_cast<double>(Rowwise8::row_bytes(dim)) >= 3.5);
    CHECK(fp32 / static_cast<double>(Rowwise4::row_bytes(dim)) >= 6.5);
    CHECK(fp32 / static_cast<double>(Rowwise2::row_bytes(dim)) >= 12.0);
  }
  CHECK(Rowwise8::row_bytes(64) == 72);
  CHECK(Rowwise4::row_bytes(64) == 36);
  CHECK(Rowwise2::row_bytes(7) == 6);
}

template <class Format>
void check_error_bound() {
  test::Rng rng(7);
  const std::size_t rows = 50, dim = 37;
  std::vector<float> x = rng.reals(rows * dim, -3.0f, 5.0f);
  for (std::size_t j = 0; j < dim; ++j) x[j] = 0.25f;  // a constant row: scale 0, exact
  const auto t = quantize<Format>(x, rows, dim);
  const auto view = t.view();
  CHECK(view.scale(0) == 0.0f);
  for (std::size_t i = 0; i < rows; ++i) {
    float min = x[i * dim], max = x[i * dim];
    for (std::size_t j = 0; j < dim; ++j) {
      min = std::min(min, x[i * dim + j]);
      max = std::max(max, x[i * dim + j]);
    }
    // Half a step, plus what storing the bias and scale rounded can add: the bias's own
    // rounding, and the top code's reach short of max by up to max_code x the scale's rounding.
    const float scale = view.scale(i);
    const float bound =
        0.5f * scale + std::fabs(view.bias(i) - min) +
        std::fabs(static_cast<float>(Format::max_code) * scale - (max - view.bias(i))) + 1e-6f;
    for (std::size_t j = 0; j < dim; ++j) {
      INFO("row " << i << ", column " << j);
      REQUIRE(std::fabs(view.value(i, j) - x[i * dim + j]) <= bound);
    }
    CHECK(bound <= (max - min) / static_cast<float>(Format::max_code) * 0.52f + 0.01f);
  }
}

TEST_CASE("row-wise quantization errs by at most half a step", "[rowwise]") {
  check_error_bound<Rowwise8>();
  check_error_bound<Rowwise4>();
  check_error_bound<Rowwise2>();
  check_error_bound<RowwiseFormat<8, ScaleFormat::fp16>>();
  check_error_bound<RowwiseFormat<4, ScaleFormat::fp32>>();
}

TEST_CASE("bad tables and bytes are rejected", "[rowwise][errors]") {
  std::vector<float> x(2 * 8, 1.0f);
  x[11] = std::numeric_limits<float>::quiet_NaN();
  CHECK(test::error_of([&] { quantize<Rowwise8>(x, 2, 8); }) == Errc::invalid_argument);
  x[11] = 1e6f;  // fine in fp32, beyond fp16
  CHECK(test::error_of([&] { quantize<Rowwise8>(x, 2, 8); }) == Errc::ok);
  CHECK(test::error_of([&] { quantize<Rowwise4>(x, 2, 8); }) == Errc::invalid_range);
  x[11] = -1e6f;  // a minimum that fp16 rounds to -infinity, and an infinite scale
  CHECK(test::error_of([&] { quantize<Rowwise2>(x, 2, 8); }) == Errc::invalid_range);
  x[11] = 1.0f;
  CHECK(test::error_of([&] {
          quantize_rowwise<Rowwise8>(MatrixView<const float>{x.data(), 2, 4, 8, 2});
        }) == Errc::invalid_argument);

  std::vector<uint8_t> bytes(2 * Rowwise8::row_bytes(4), 0);
  const auto view = [&](std::size_t rows, std::size_t dim) {
    return test::error_of([&] { view_rowwise<Rowwise8>(Span<const uint8_t>(bytes), rows, dim); });
  };
  CHECK(view(2, 4) == Errc::ok);
  CHECK(view(2, 5) == Errc::shape_mismatch);
  CHECK(view(3, 4) == Errc::shape_mismatch);
  CHECK(view(std::numeric_limits<std::size_t>::max() / 4, 4) == Errc::size_overflow);
  const float inf = std::numeric_limits<float>::infinity();
  std::memcpy(&bytes[Rowwise8::row_bytes(4) + 4 + 4], &inf, 4);  // row 1's bias
  CHECK(view(2, 4) == Errc::invalid_scale);
  std::vector<uint8_t> half_bytes(Rowwise4::row_bytes(4), 0);
  half_bytes[2] = 0x00;
  half_bytes[3] = 0x7e;  // a NaN scale
  CHECK(test::error_of([&] { view_rowwise<Rowwise4>(Span<const uint8_t>(half_bytes), 1, 4); }) ==
        Errc::invalid_scale);
  CHECK(test::error_of([&] { view_rowwise<Rowwise4>(Span<const uint8_t>(nullptr, 0), 0, 4); }) ==
        Errc::ok);
}
