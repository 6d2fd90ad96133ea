// SPDX-License-Identifier: Apache-2.0
//
// reference::embedding_bag: hand-checked bags (sum, mean, weighted, empty) over a row-wise and a
// float table, agreement with pooling the dequantized rows, offsets from lengths, and the
// rejection of bad indices, offsets and weights with the output untouched.
#include "qinfer/reference/embedding_bag.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "support/errors.hpp"
#include "support/random.hpp"

using namespace qinfer;

namespace {

// Three 4-bit rows of 2 with values exact in float: row i is (scale_i q + bias_i).
//   row 0: scale 0.5, bias -1, codes (2, 5)  -> (0, 1.5)
//   row 1: scale 2,   bias 1,  codes (0, 15) -> (1, 31)
//   row 2: scale 1,   bias 0,  codes (7, 3)  -> (7, 3)
const std::vector<uint8_t> hand_bytes = {0x52, 0x00, 0x38, 0x00, 0xbc,  //
                                         0xf0, 0x00, 0x40, 0x00, 0x3c,  //
                                         0x37, 0x00, 0x3c, 0x00, 0x00};

RowwiseTableView<Rowwise4> hand_table() {
  return view_rowwise<Rowwise4>(Span<const uint8_t>(hand_bytes), 3, 2);
}

}  // namespace

TEST_CASE("embedding_bag: hand-checked bags", "[embedding]") {
  const auto table = hand_table();
  const std::vector<int64_t> indices = {0, 1, 2, 2, 1};
  const std::vector<int64_t> offsets = {0, 2, 2, 5};  // bags {0, 1}, {}, {2, 2, 1}
  std::vector<float> out(3 * 2, -9.0f);
  const auto run = [&](const EmbeddingBagOptions& options) {
    reference::embedding_bag(table, Span<const int64_t>(indices), Span<const int64_t>(offsets),
                             row_major(out.data(), 3, 2), options);
    return out;
  };
  CHECK(run({}) == std::vector<float>{1.0f, 32.5f, 0.0f, 0.0f, 15.0f, 37.0f});
  CHECK(run({Pooling::mean}) == std::vector<float>{0.5f, 16.25f, 0.0f, 0.0f, 5.0f, 37.0f / 3.0f});
  const std::vector<float> weights = {2.0f, -1.0f, 0.5f, 0.5f, 4.0f};
  CHECK(run({Pooling::sum, Span<const float>(weights)}) ==
        std::vector<float>{-1.0f, -28.0f, 0.0f, 0.0f, 11.0f, 127.0f});

  // The same bags over the dequantized table as floats, with int32 indices.
  std::vector<float> rows(3 * 2);
  dequantize_rowwise(table, row_major(rows.data(), 3, 2));
  const std::vector<int32_t> indices32(indices.begin(), indices.end());
  const std::vector<int32_t> offsets32(offsets.begin(), offsets.end());
  std::vector<float> floats(3 * 2, -9.0f);
  reference::embedding_bag(row_major<const float>(rows.data(), 3, 2),
                           Span<const int32_t>(indices32), Span<const int32_t>(offsets32),
                           row_major(floats.data(), 3, 2));
  CHECK(floats == run({}));
}

TEST_CASE("embedding_bag agrees with pooling the dequantized rows", "[embedding]") {
  test::Rng rng(11);
  const std::size_t rows = 200, dim = 45, bags = 30;
  const std::vector<float> x = rng.reals(rows * dim, -2.0f, 3.0f);
  const auto table = quantize_rowwise<Rowwise8>(row_major<const float>(x.data(), rows, dim));
  std::vector<float> dequantized(rows * dim);
  dequantize_rowwise(table.view(), row_major(dequantized.data(), rows, dim));
  std::vector<int64_t> offsets = {0}, indices;
  for (std::size_t b = 0; b < bags; ++b) {
    const std::size_t n = rng.size(0, 40);
    for (std::size_t r = 0; r < n; ++r) indices.push_back(rng.integer(0, rows - 1));
    offsets.push_back(static_cast<int64_t>(indices.size()));
  }
  const std::vector<float> weights = rng.reals(indices.size(), -1.0f, 2.0f);
  std::vector<float> ours(bags * dim), floats(bags * dim);
  for (const EmbeddingBagOptions& options :
       {EmbeddingBagOptions{}, EmbeddingBagOptions{Pooling::mean},
        EmbeddingBagOptions{Pooling::sum, Span<const float>(weights)}}) {
    reference::embedding_bag(table.view(), Span<const int64_t>(indices),
                             Span<const int64_t>(offsets), row_major(ours.data(), bags, dim),
                             options);
    reference::embedding_bag(row_major<const float>(dequantized.data(), rows, dim),
                             Span<const int64_t>(indices), Span<const int64_t>(offsets),
                             row_major(floats.data(), bags, dim), options);
    // Same sums, rounded in another order: within a few ulps of the terms' magnitudes.
    for (std::size_t i = 0; i < ours.size(); ++i)
      REQUIRE(ours[i] == Approx(floats[i]).margin(1e-4));
  }
}

TEST_CASE("offsets_from_lengths", "[embedding]") {
  const std::vector<int32_t> lengths = {2, 0, 3};
  CHECK(offsets_from_lengths(Span<const int32_t>(lengths)) == std::vector<int32_t>{0, 2, 2, 5});
  const std::vector<int32_t> negative = {1, -1};
  CHECK(test::error_of([&] { offsets_from_lengths(Span<const int32_t>(negative)); }) ==
        Errc::invalid_argument);
  const std::vector<int32_t> huge = {std::numeric_limits<int32_t>::max(), 1};
  CHECK(test::error_of([&] { offsets_from_lengths(Span<const int32_t>(huge)); }) ==
        Errc::size_overflow);
}

TEST_CASE("embedding_bag rejects bad indices, offsets, weights and outputs, writing nothing",
          "[embedding][errors]") {
  const auto table = hand_table();
  std::vector<int64_t> indices = {0, 1, 2};
  std::vector<int64_t> offsets = {0, 1, 3};
  std::vector<float> weights(3, 1.0f);
  std::vector<float> out(2 * 2, -9.0f);
  std::size_t out_rows = 2, out_cols = 2;
  EmbeddingBagOptions options;
  const auto run = [&] {
    return test::error_of([&] {
      reference::embedding_bag(table, Span<const int64_t>(indices), Span<const int64_t>(offsets),
                               row_major(out.data(), out_rows, out_cols), options);
    });
  };
  const auto untouched = [&] { return out == std::vector<float>(4, -9.0f); };
  indices[2] = 3;
  CHECK(run() == Errc::index_out_of_range);
  indices[2] = -1;
  CHECK(run() == Errc::index_out_of_range);
  indices[2] = std::numeric_limits<int64_t>::min();
  CHECK(run() == Errc::index_out_of_range);
  CHECK(untouched());
  indices[2] = 2;
  offsets = {1, 1, 3};
  CHECK(run() == Errc::invalid_argument);
  offsets = {0, 2, 1};
  CHECK(run() == Errc::invalid_argument);
  offsets = {0, 1, 2};
  CHECK(run() == Errc::shape_mismatch);
  offsets = {};
  CHECK(run() == Errc::invalid_argument);
  offsets = {0, 1, 3};
  options.per_sample_weights = Span<const float>(weights.data(), 2);
  CHECK(run() == Errc::shape_mismatch);
  options.per_sample_weights = Span<const float>(weights);
  options.pooling = Pooling::mean;
  CHECK(run() == Errc::invalid_argument);
  options = {};
  out_cols = 3;
  CHECK(run() == Errc::shape_mismatch);
  out_cols = 2;
  out_rows = 1;
  CHECK(run() == Errc::shape_mismatch);
  CHECK(untouched());
  out_rows = 2;
  CHECK(run() == Errc::ok);
  CHECK(out == std::vector<float>{0.0f, 1.5f, 8.0f, 34.0f});
}
