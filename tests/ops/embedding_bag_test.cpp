// SPDX-License-Identifier: Apache-2.0
//
// EmbeddingBag (ops/embedding_bag.hpp) on every level this CPU has against
// reference::embedding_bag, bit for bit: every row-wise format and float tables, dimensions
// around every vector width and chunk (1 to 300), bags empty, single and longer than the
// prefetch distance, sum / mean / weighted sums, int32 and int64 indices, strided output, codes
// at their maximum with large scales, nonzero padding bits in the last byte of sub-byte rows,
// and 1, 2 and 7 threads.
#include "qinfer/ops/embedding_bag.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "qinfer/runtime/thread_pool.hpp"
#include "support/errors.hpp"
#include "support/levels.hpp"
#include "support/random.hpp"

using namespace qinfer;

namespace {

struct Batch {
  std::vector<int64_t> indices;
  std::vector<int64_t> offsets{0};
  std::vector<float> weights;
};

Batch make_batch(test::Rng& rng, std::size_t rows, std::size_t bags) {
  Batch batch;
  for (std::size_t b = 0; b < bags; ++b) {
    const std::size_t n = b % 5 == 0 ? 0 : b % 5 == 1 ? 1 : rng.size(2, 40);
    for (std::size_t r = 0; r < n; ++r) batch.indices.push_back(rng.integer(0, rows - 1));
    batch.offsets.push_back(static_cast<int64_t>(batch.indices.size()));
  }
  batch.weights = rng.reals(batch.indices.size(), -2.0f, 2.0f);
  return batch;
}

template <class Table, class Index>
void check_table(const Table& table, std::size_t dim, const Batch& batch, ThreadPool& pool,
                 std::size_t threads) {
  const std::vector<Index> indices(batch.indices.begin(), batch.indices.end());
  const std::vector<Index> offsets(batch.offsets.begin(), batch.offsets.end());
  const std::size_t bags = offsets.size() - 1, stride = dim + 3;
  for (const EmbeddingBagOptions& options :
       {EmbeddingBagOptions{}, EmbeddingBagOptions{Pooling::mean},
        EmbeddingBagOptions{Pooling::sum, Span<const float>(batch.weights)}}) {
    std::vector<float> expected(bags * stride, -7.0f), ours(bags * stride, -7.0f);
    reference::embedding_bag(detail::as_table(table), Span<const Index>(indices),
                             Span<const Index>(offsets),
                             MatrixView<float>{expected.data(), bags, dim, stride, 1}, options);
    const MatrixView<float> out{ours.data(), bags, dim, stride, 1};
    if (threads == 1) {
      embedding_bag(table, Span<const Index>(indices), Span<const Index>(offsets), out, options);
    } else {
      embedding_bag(table, Span<const Index>(indices), Span<const Index>(offsets), out, options,
                    pool);
    }
    INFO("dim " << dim << ", threads " << threads << ", pooling "
                << static_cast<int>(options.pooling) << ", weighted "
                << !options.per_sample_weights.empty());
    // Bit for bit, the padding columns untouched.
    for (std::size_t i = 0; i < ours.size(); ++i) {
      INFO("element " << i);
      REQUIRE(std::memcmp(&ours[i], &expected[i], sizeof(float)) == 0);
    }
  }
}

template <class Format>
void check_format(test::Rng& rng, std::size_t rows, std::size_t dim, std::size_t threads) {
  std::vector<float> x = rng.reals(rows * dim, -50.0f, 80.0f);
  // Row 0 spans a huge range (codes at their maximum times a large scale), row 1 is constant.
  for (std::size_t j = 0; j < dim; ++j) {
    x[j] = j % 2 == 0 ? -3e4f : 3e4f;
    x[dim + j] = 1.5f;
  }
  const auto table = quantize_rowwise<Format>(row_major<const float>(x.data(), rows, dim));
  // The bytes as a file might hold them: every padding bit of each row's last code byte set.
  std::vector<uint8_t> bytes(table.bytes().begin(), table.bytes().end());
  const std::size_t used_bits = dim % Format::codes_per_byte * Format::bits;
  if (used_bits != 0) {
    for (std::size_t i = 0; i < rows; ++i) {
      bytes[i * Format::row_bytes(dim) + Format::code_bytes(dim) - 1] |=
          static_cast<uint8_t>(0xff << used_bits);
    }
  }
  const auto view = view_rowwise<Format>(Span<const uint8_t>(bytes), rows, dim);
  Batch batch = make_batch(rng, rows, 23);
  batch.indices.insert(batch.indices.begin(), {0, 0, 0});  // bag 0 mostly row 0
  for (std::size_t b = 1; b < batch.offsets.size(); ++b) batch.offsets[b] += 3;
  batch.weights.insert(batch.weights.begin(), {1.0f, 2.0f, 3.0f});
  ThreadPool pool(threads);
  check_table<RowwiseTableView<Format>, int64_t>(view, dim, batch, pool, threads);
  check_table<RowwiseTable<Format>, int32_t>(table, dim, batch, pool, threads);
}

void check_float(test::Rng& rng, std::size_t rows, std::size_t dim, std::size_t threads) {
  const std::vector<float> x = rng.reals(rows * dim, -1.0f, 1.0f);
  const Batch batch = make_batch(rng, rows, 23);
  ThreadPool pool(threads);
  check_table<MatrixView<const float>, int64_t>(row_major<const float>(x.data(), rows, dim), dim,
                                                batch, pool, threads);
}

}  // namespace

TEST_CASE("embedding_bag equals the reference on every level", "[embedding][simd]") {
  test::for_each_level("embedding_bag", [] {
    test::Rng rng(5);
    for (std::size_t dim : {1,  2,  3,  5,  7,  8,   9,   15,  16,  17,  31,  32, 33,
                            47, 63, 64, 65, 97, 127, 128, 129, 130, 191, 256, 300}) {
      check_format<Rowwise8>(rng, 61, dim, 1);
      check_format<Rowwise4>(rng, 61, dim, 1);
      check_format<Rowwise2>(rng, 61, dim, 1);
      check_float(rng, 61, dim, 1);
    }
    for (std::size_t dim : {13, 64, 200}) {
      check_format<RowwiseFormat<8, ScaleFormat::fp16>>(rng, 40, dim, 1);
      check_format<RowwiseFormat<4, ScaleFormat::fp32>>(rng, 40, dim, 1);
      check_format<RowwiseFormat<2, ScaleFormat::fp32>>(rng, 40, dim, 1);
    }
    for (std::size_t threads : {2, 7}) {
      check_format<Rowwise4>(rng, 300, 96, threads);
      check_float(rng, 300, 72, threads);
    }
  });
}

TEST_CASE("embedding_bag checks every index before writing", "[embedding][errors]") {
  const std::vector<float> x(10 * 4, 1.0f);
  const auto table = quantize_rowwise<Rowwise8>(row_major<const float>(x.data(), 10, 4));
  const std::vector<int32_t> indices = {1, 2, 10}, offsets = {0, 2, 3};
  std::vector<float> out(2 * 4, -7.0f);
  CHECK(test::error_of([&] {
          embedding_bag(table, Span<const int32_t>(indices), Span<const int32_t>(offsets),
                        row_major(out.data(), 2, 4));
        }) == Errc::index_out_of_range);
  CHECK(out == std::vector<float>(8, -7.0f));
  CHECK(test::error_of([&] {
          embedding_bag(row_major<const float>(x.data(), 10, 4), Span<const int32_t>(indices),
                        Span<const int32_t>(offsets), row_major(out.data(), 2, 4));
        }) == Errc::index_out_of_range);
  CHECK(test::error_of([&] {
          embedding_bag(MatrixView<const float>{x.data(), 10, 2, 4, 2},
                        Span<const int32_t>(indices), Span<const int32_t>(offsets),
                        row_major(out.data(), 2, 2));
        }) == Errc::invalid_argument);
  CHECK(out == std::vector<float>(8, -7.0f));
}
