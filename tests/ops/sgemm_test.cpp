// SPDX-License-Identifier: Apache-2.0
#include "qinfer/ops/sgemm.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "qinfer/runtime/thread_pool.hpp"
#include "support/cap_guard.hpp"
#include "support/random.hpp"

namespace qinfer {
namespace {

using test::CapGuard;

// The fp32 kernels each micro-kernel level of this CPU reaches (one cap per distinct kernel).
std::vector<Isa> sgemm_levels() {
  std::vector<Isa> levels;
  std::set<std::string> seen;
  for (Isa isa : all_isas) {
    if (!cpu_features().supports(isa)) continue;
    if (seen.insert(sgemm_microkernel(isa).name).second) levels.push_back(isa);
  }
  return levels;
}

// Checks C = A x B (+ C0) against a double-precision sum, with a bound from the magnitudes.
void check_product(const std::vector<float>& a, const std::vector<float>& b,
                   const std::vector<float>& c0, const std::vector<float>& c, std::size_t m,
                   std::size_t n, std::size_t k, bool transposed_a, bool transposed_b) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double sum = c0.empty() ? 0.0 : c0[i * n + j];
      double magnitude = std::abs(sum);
      for (std::size_t p = 0; p < k; ++p) {
        const double x = transposed_a ? a[p * m + i] : a[i * k + p];
        const double y = transposed_b ? b[j * k + p] : b[p * n + j];
        sum += x * y;
        magnitude += std::abs(x * y);
      }
      INFO("m " << m << " n " << n << " k " << k << " at " << i << ", " << j);
      REQUIRE(std::abs(c[i * n + j] - sum) <=
              1e-6 * static_cast<double>(k + 2) * magnitude + 1e-30);
    }
  }
}

TEST_CASE("sgemm matches a double-precision product on every fp32 kernel", "[sgemm]") {
  CapGuard guard;
  test::Rng rng(7);
  for (Isa isa : sgemm_levels()) {
    set_isa_cap(isa);
    INFO("kernel " << sgemm_microkernel(isa).name);
    for (int trial = 0; trial < 40; ++trial) {
      const std::size_t m = rng.size(1, 70), n = rng.size(1, 80);
      const std::size_t k = trial % 8 == 0 ? rng.size(250, 600) : rng.size(0, 40);
      const bool ta = rng.coin(), tb = rng.coin(), add = rng.coin();
      const std::vector<float> a = rng.reals(m * k, -1, 1), b = rng.reals(k * n, -1, 1);
      const std::vector<float> c0 = add ? rng.reals(m * n, -1, 1) : std::vector<float>{};
      std::vector<float> c = add ? c0 : rng.reals(m * n, -9, 9);
      const MatrixView<const float> av =
          ta ? MatrixView<const float>{a.data(), m, k, 1, m} : row_major(a.data(), m, k);
      const MatrixView<const float> bv =
          tb ? MatrixView<const float>{b.data(), k, n, 1, k} : row_major(b.data(), k, n);
      sgemm(av, bv, row_major(c.data(), m, n), add ? Accumulate::yes : Accumulate::no);
      check_product(a, b, c0, c, m, n, k, ta, tb);
    }
  }
}

TEST_CASE("sgemm gives the same bits for any number of workers", "[sgemm]") {
  test::Rng rng(8);
  const std::size_t m = 301, n = 45, k = 700;
  const std::vector<float> a = rng.reals(m * k, -1, 1), b = rng.reals(k * n, -1, 1);
  std::vector<float> serial(m * n), parallel(m * n);
  sgemm(row_major(a.data(), m, k), row_major(b.data(), k, n), row_major(serial.data(), m, n));
  for (std::size_t workers : {2, 7}) {
    ThreadPool pool(workers);
    sgemm(row_major(a.data(), m, k), row_major(b.data(), k, n), row_major(parallel.data(), m, n),
          Accumulate::no, pool);
    CHECK(parallel == serial);
  }
}

TEST_CASE("sgemm rejects mismatched shapes and scattered output columns", "[sgemm][errors]") {
  std::vector<float> a(6), b(6), c(9);
  CHECK_THROWS_AS(sgemm(row_major<const float>(a.data(), 2, 3),
                        row_major<const float>(b.data(), 2, 3), row_major(c.data(), 2, 3)),
                  Error);
  CHECK_THROWS_AS(sgemm(row_major<const float>(a.data(), 2, 3),
                        row_major<const float>(b.data(), 3, 2), row_major(c.data(), 3, 2)),
                  Error);
  CHECK_THROWS_AS(
      sgemm(row_major<const float>(a.data(), 2, 3), row_major<const float>(b.data(), 3, 2),
            MatrixView<float>{c.data(), 2, 2, 1, 2}),
      Error);
}

TEST_CASE("sgemm with K = 0 clears C or leaves it", "[sgemm]") {
  std::vector<float> c(6, 5.0f);
  sgemm(MatrixView<const float>{nullptr, 2, 0, 0, 1}, MatrixView<const float>{nullptr, 0, 3, 3, 1},
        row_major(c.data(), 2, 3), Accumulate::yes);
  CHECK(c == std::vector<float>(6, 5.0f));
  sgemm(MatrixView<const float>{nullptr, 2, 0, 0, 1}, MatrixView<const float>{nullptr, 0, 3, 3, 1},
        row_major(c.data(), 2, 3));
  CHECK(c == std::vector<float>(6, 0.0f));
}

TEST_CASE("sgemm reports the fp32 kernels it tested", "[sgemm][paths]") {
  for (Isa isa : sgemm_levels()) {
    std::printf("fp32 GEMM kernel %s: tested\n", sgemm_microkernel(isa).name);
  }
  SUCCEED();
}

}  // namespace
}  // namespace qinfer
