// SPDX-License-Identifier: Apache-2.0
//
// The reference GEMM against a naive double-precision computation, for every output stage.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "qinfer/reference/gemm.hpp"
#include "support/random.hpp"

using namespace qinfer;
using reference::GemmOffsets;

namespace {

template <class TA, class TB>
struct Problem {
  std::size_t m, n, k, lda;
  bool transposed_b;
  std::vector<TA> a;
  std::vector<TB> b;
  int32_t a_zp;
  std::vector<int32_t> b_zps, bias;

  MatrixView<const TA> a_view() const { return {a.data(), m, k, lda, 1}; }
  // B is K x N; stored either row-major or as N x K (a transposed view).
  MatrixView<const TB> b_view() const {
    return transposed_b ? MatrixView<const TB>{b.data(), k, n, 1, k}
                        : MatrixView<const TB>{b.data(), k, n, n, 1};
  }
  double exact(std::size_t i, std::size_t j) const {
    double sum = bias.empty() ? 0.0 : bias[bias.size() == 1 ? 0 : j];
    const double zb = b_zps[b_zps.size() == 1 ? 0 : j];
    for (std::size_t p = 0; p < k; ++p) {
      const double bv = transposed_b ? b[j * k + p] : b[p * n + j];
      sum += (double(a[i * lda + p]) - a_zp) * (bv - zb);
    }
    return sum;
  }
};

template <class TA, class TB>
Problem<TA, TB> random_problem(test::Rng& rng, std::size_t m, std::size_t n, std::size_t k) {
  Problem<TA, TB> p{m, n, k, k + rng.size(0, 3), rng.coin(), {}, {}, 0, {}, {}};
  p.a = rng.integers<TA>(p.m * p.lda, StorageTraits<TA>::min, StorageTraits<TA>::max);
  p.b = rng.integers<TB>(n * k, StorageTraits<TB>::min, StorageTraits<TB>::max);
  p.a_zp = static_cast<int32_t>(rng.integer(StorageTraits<TA>::min, StorageTraits<TA>::max));
  p.b_zps =
      rng.integers<int32_t>(rng.coin() ? 1 : n, StorageTraits<TB>::min, StorageTraits<TB>::max);
  if (rng.coin()) p.bias = rng.integers<int32_t>(n, -100000, 100000);
  return p;
}

template <class TA, class TB>
void check_all_stages(test::Rng& rng, std::size_t m, std::size_t n, std::size_t k) {
  const auto p = random_problem<TA, TB>(rng, m, n, k);
  const GemmOffsets offsets{p.a_zp, p.b_zps, p.bias};
  INFO("m " << m << " n " << n << " k " << k << " transposed " << p.transposed_b);

  std::vector<int32_t> raw(m * n);
  reference::gemm(p.a_view(), p.b_view(), offsets, StoreInt32{}, row_major(raw.data(), m, n));
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) REQUIRE(raw[i * n + j] == p.exact(i, j));
  }

  std::vector<float> scales(n);
  for (float& s : scales) s = rng.real(1e-5f, 1e-2f);
  std::vector<float> real(m * n);
  reference::gemm(p.a_view(), p.b_view(), offsets, DequantizeFloat{scales},
                  row_major(real.data(), m, n));

  // Output scale so that results span the output range.
  double max_abs = 1.0;
  for (std::size_t i = 0; i < m * n; ++i) max_abs = std::max(max_abs, std::fabs(double(raw[i])));
  std::vector<float> multipliers(n);
  std::vector<QuantizedMultiplier> fixed(n);
  for (std::size_t j = 0; j < n; ++j) {
    multipliers[j] = static_cast<float>(rng.real(0.5f, 2.0f) * 127.0 / max_abs);
    fixed[j] = quantize_multiplier(multipliers[j]);
  }
  const int32_t out_zp = static_cast<int32_t>(rng.integer(-20, 20));
  std::vector<int8_t> by_float(m * n), by_fixed(m * n);
  reference::gemm(p.a_view(), p.b_view(), offsets,
                  RequantizeFloat<int8_t>{multipliers, out_zp, -100, 127},
                  row_major(by_float.data(), m, n));
  reference::gemm(p.a_view(), p.b_view(), offsets, RequantizeFixedPoint<int8_t>{fixed, out_zp},
                  row_major(by_fixed.data(), m, n));
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const double acc = p.exact(i, j);
      REQUIRE(real[i * n + j] == Approx(acc * scales[j]).epsilon(1e-6).margin(1e-30));
      const double ideal = acc * multipliers[j] + out_zp;
      REQUIRE(std::fabs(by_float[i * n + j] - std::clamp(ideal, -100.0, 127.0)) <= 0.5 + 1e-6);
      REQUIRE(std::fabs(by_fixed[i * n + j] - std::clamp(ideal, -128.0, 127.0)) <= 1.0);
    }
  }
}

}  // namespace

TEST_CASE("reference GEMM equals the exact sum for random shapes and all output stages", "[gemm]") {
  test::Rng rng;
  const std::size_t sizes[] = {1, 2, 3, 5, 7, 8, 13, 16, 31, 37, 64};
  for (int trial = 0; trial < 60; ++trial) {
    const std::size_t m = sizes[rng.integer(0, 10)], n = sizes[rng.integer(0, 10)],
                      k = sizes[rng.integer(0, 10)];
    switch (trial % 4) {
      case 0:
        check_all_stages<uint8_t, int8_t>(rng, m, n, k);
        break;
      case 1:
        check_all_stages<int8_t, int8_t>(rng, m, n, k);
        break;
      case 2:
        check_all_stages<uint8_t, uint8_t>(rng, m, n, k);
        break;
      default:
        check_all_stages<int8_t, uint8_t>(rng, m, n, k);
    }
  }
  check_all_stages<uint8_t, int8_t>(rng, 3, 5, 301);
}

TEST_CASE("a hand-computed GEMM", "[gemm]") {
  const uint8_t a[] = {1, 2, 3, 4};   // 2 x 2
  const int8_t b[] = {-1, 2, 3, -4};  // 2 x 2
  const int32_t bzp[] = {1};
  const int32_t bias[] = {10, 20};
  int32_t c[4];
  reference::gemm(row_major(a, 2, 2), row_major(b, 2, 2), GemmOffsets{1, bzp, bias}, StoreInt32{},
                  row_major(c, 2, 2));
  // (a - 1) = [[0, 1], [2, 3]], (b - 1) = [[-2, 1], [2, -5]]
  CHECK(c[0] == 10 + 2);
  CHECK(c[1] == 20 - 5);
  CHECK(c[2] == 10 - 4 + 6);
  CHECK(c[3] == 20 + 2 - 15);
}

TEST_CASE("int32 accumulation limits: exact at K = 65536, modulo 2^32 beyond", "[gemm]") {
  const std::size_t k = 65536;
  const std::vector<uint8_t> a(k, 255);
  const std::vector<int8_t> b(k, -128);
  const int32_t zero[] = {0};
  int32_t c = 0;
  reference::gemm(row_major(a.data(), 1, k), row_major(b.data(), k, 1), GemmOffsets{0, zero, {}},
                  StoreInt32{}, row_major(&c, 1, 1));
  CHECK(c == -255 * 128 * 65536);
  // (0 - 255) * (-128 - 127) * 40000 = 2,601,000,000 wraps like every int32 SIMD accumulator.
  const std::vector<uint8_t> a0(40000, 0);
  const std::vector<int8_t> b0(40000, -128);
  const int32_t zp127[] = {127};
  reference::gemm(row_major(a0.data(), 1, 40000), row_major(b0.data(), 40000, 1),
                  GemmOffsets{255, zp127, {}}, StoreInt32{}, row_major(&c, 1, 1));
  CHECK(c == static_cast<int32_t>(2601000000u));
}

TEST_CASE("reference GEMM rejects inconsistent arguments", "[gemm][error]") {
  const uint8_t a[6] = {};
  const int8_t b[6] = {};
  int32_t c[4] = {};
  const int32_t zp1[] = {0};
  const int32_t zp3[] = {0, 0, 0};
  auto code = [&](MatrixView<const uint8_t> av, MatrixView<const int8_t> bv, GemmOffsets o,
                  MatrixView<int32_t> cv) {
    try {
      reference::gemm(av, bv, o, StoreInt32{}, cv);
    } catch (const Error& e) {
      return e.status().code();
    }
    return Errc::ok;
  };
  CHECK(code(row_major(a, 2, 3), row_major(b, 3, 2), {0, zp1, {}}, row_major(c, 2, 2)) == Errc::ok);
  CHECK(code(row_major(a, 2, 3), row_major(b, 2, 3), {0, zp1, {}}, row_major(c, 2, 2)) ==
        Errc::shape_mismatch);
  CHECK(code(row_major(a, 2, 3), row_major(b, 3, 2), {0, zp3, {}}, row_major(c, 2, 2)) ==
        Errc::shape_mismatch);
  CHECK(code(row_major(a, 2, 3), row_major(b, 3, 2), {0, {}, {}}, row_major(c, 2, 2)) ==
        Errc::shape_mismatch);
  CHECK(code(row_major(a, 2, 3), row_major(b, 3, 2), {256, zp1, {}}, row_major(c, 2, 2)) ==
        Errc::invalid_zero_point);
  const int32_t bad_zp[] = {128};
  CHECK(code(row_major(a, 2, 3), row_major(b, 3, 2), {0, bad_zp, {}}, row_major(c, 2, 2)) ==
        Errc::invalid_zero_point);
  CHECK(code(row_major(a, 2, 3), row_major(b, 3, 2), {0, zp1, zp3}, row_major(c, 2, 2)) ==
        Errc::shape_mismatch);
  CHECK(code(MatrixView<const uint8_t>{nullptr, 2, 3, 3, 1}, row_major(b, 3, 2), {0, zp1, {}},
             row_major(c, 2, 2)) == Errc::null_pointer);
  const std::vector<float> three{1.0f, 1.0f, 1.0f};
  CHECK_THROWS_AS(
      reference::gemm(row_major(a, 2, 3), row_major(b, 3, 2), GemmOffsets{0, zp1, {}},
                      DequantizeFloat{three}, row_major(reinterpret_cast<float*>(c), 2, 2)),
      Error);
}
