// SPDX-License-Identifier: Apache-2.0
//
// EmbeddingBag (ops/embedding_bag.hpp), one thread: pooled lookups from a float table and from
// the same table row-wise quantized to 8, 4 and 2 bits, side by side on the same bags, on each
// level this CPU has. Tables of 2^20 rows (256 or 512 MiB as floats, beyond every cache) at
// dimensions 64 and 128, and one of 4096 rows that the caches hold. Bags of 32 uniformly random
// rows, 256 bags per call, cycling through 64 different batches so that the rows touched (half
// a million per cycle) do not stay in the 32 MiB L3. Counters: rows/s (lookups per second) and
// GB/s of row bytes read.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "qinfer/ops/embedding_bag.hpp"

namespace {

constexpr std::size_t bags = 256, pooling_factor = 32, batches = 64;

struct Tables {
  std::vector<float> floats;
  qinfer::RowwiseTable<qinfer::Rowwise8> q8;
  qinfer::RowwiseTable<qinfer::Rowwise4> q4;
  qinfer::RowwiseTable<qinfer::Rowwise2> q2;
  std::vector<std::vector<int64_t>> indices;
  std::vector<int64_t> offsets;
};

// A cheap generator: the big tables hold 2^27 values.
uint64_t next(uint64_t& state) {
  state = state * 6364136223846793005ull + 1442695040888963407ull;
  return state >> 33;
}

const Tables& tables(std::size_t rows, std::size_t dim) {
  static std::map<std::pair<std::size_t, std::size_t>, std::unique_ptr<Tables>> cache;
  auto& slot = cache[{rows, dim}];
  if (!slot) {
    slot = std::make_unique<Tables>();
    Tables& t = *slot;
    uint64_t state = rows * 31 + dim;
    t.floats.resize(rows * dim);
    for (float& x : t.floats) x = static_cast<float>(next(state) % 20001) * 1e-4f - 1.0f;
    const auto view = qinfer::row_major<const float>(t.floats.data(), rows, dim);
    t.q8 = qinfer::quantize_rowwise<qinfer::Rowwise8>(view);
    t.q4 = qinfer::quantize_rowwise<qinfer::Rowwise4>(view);
    t.q2 = qinfer::quantize_rowwise<qinfer::Rowwise2>(view);
    t.indices.resize(batches);
    for (auto& batch : t.indices) {
      batch.resize(bags * pooling_factor);
      for (int64_t& i : batch) i = static_cast<int64_t>(next(state) % rows);
    }
    for (std::size_t b = 0; b <= bags; ++b)
      t.offsets.push_back(static_cast<int64_t>(b * pooling_factor));
  }
  return *slot;
}

template <class Table>
void embedding_bench(benchmark::State& state, qinfer::Isa path, std::size_t rows, std::size_t dim,
                     const Table& (*pick)(const Tables&), std::size_t row_bytes) {
  const Tables& t = tables(rows, dim);
  const Table& table = pick(t);
  std::vector<float> out(bags * dim);
  const auto previous = qinfer::isa_cap();
  qinfer::set_isa_cap(path);
  std::size_t batch = 0;
  for (auto _ : state) {
    static_cast<void>(qinfer::embedding_bag(table, qinfer::Span<const int64_t>(t.indices[batch]),
                                            qinfer::Span<const int64_t>(t.offsets),
                                            qinfer::row_major(out.data(), bags, dim)));
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
    batch = (batch + 1) % batches;
  }
  qinfer::set_isa_cap(previous);
  const double lookups =
      static_cast<double>(bags * pooling_factor) * static_cast<double>(state.iterations());
  state.counters["rows/s"] = benchmark::Counter(lookups, benchmark::Counter::kIsRate);
  state.counters["GB/s"] =
      benchmark::Counter(lookups * static_cast<double>(row_bytes), benchmark::Counter::kIsRate);
}

const qinfer::MatrixView<const float>& float_table(const Tables& t) {
  // The view lives beside the tables it points into, for the benchmark's whole run.
  static std::map<const Tables*, qinfer::MatrixView<const float>> views;
  auto [it, inserted] = views.try_emplace(&t);
  if (inserted)
    it->second = {t.floats.data(), t.floats.size() / t.q8.dim(), t.q8.dim(), t.q8.dim(), 1};
  return it->second;
}

void register_shape(std::size_t rows, std::size_t dim) {
  const std::string shape = std::to_string(rows) + "x" + std::to_string(dim);
  for (qinfer::Isa path :
       {qinfer::Isa::scalar, qinfer::Isa::avx2, qinfer::Isa::avx512vnni, qinfer::Isa::neon}) {
    if (!qinfer::cpu_features().supports(path)) continue;
    const std::string suffix = std::string("/") + qinfer::isa_name(path) + "/" + shape;
    benchmark::RegisterBenchmark(("embedding_bag/fp32" + suffix).c_str(),
                                 embedding_bench<qinfer::MatrixView<const float>>, path, rows, dim,
                                 float_table, dim * sizeof(float));
    benchmark::RegisterBenchmark(
        ("embedding_bag/rowwise8" + suffix).c_str(),
        embedding_bench<qinfer::RowwiseTable<qinfer::Rowwise8>>, path, rows, dim,
        +[](const Tables& t) -> const qinfer::RowwiseTable<qinfer::Rowwise8>& { return t.q8; },
        qinfer::Rowwise8::row_bytes(dim));
    benchmark::RegisterBenchmark(
        ("embedding_bag/rowwise4" + suffix).c_str(),
        embedding_bench<qinfer::RowwiseTable<qinfer::Rowwise4>>, path, rows, dim,
        +[](const Tables& t) -> const qinfer::RowwiseTable<qinfer::Rowwise4>& { return t.q4; },
        qinfer::Rowwise4::row_bytes(dim));
    benchmark::RegisterBenchmark(
        ("embedding_bag/rowwise2" + suffix).c_str(),
        embedding_bench<qinfer::RowwiseTable<qinfer::Rowwise2>>, path, rows, dim,
        +[](const Tables& t) -> const qinfer::RowwiseTable<qinfer::Rowwise2>& { return t.q2; },
        qinfer::Rowwise2::row_bytes(dim));
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_shape(std::size_t{1} << 20, 64);
  register_shape(std::size_t{1} << 20, 128);
  register_shape(4096, 128);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
