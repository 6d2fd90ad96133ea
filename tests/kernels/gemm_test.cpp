// SPDX-License-Identifier: Apache-2.0
//
// The packed GEMM on every path this CPU has, against reference::gemm, exactly, in the style of
// XNNPACK's GemmMicrokernelTester: one fluent description of a problem, run for each stage.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "qinfer/kernels/gemm/dispatch.hpp"
#include "qinfer/ops/gemm.hpp"
#include "qinfer/reference/gemm.hpp"
#include "qinfer/runtime/parallel.hpp"
#include "qinfer/runtime/thread_pool.hpp"
#include "support/cap_guard.hpp"
#include "support/errors.hpp"
#include "support/levels.hpp"
#include "support/random.hpp"

using namespace qinfer;

namespace {

// Every level has a GEMM kernel of its own.
const Isa gemm_paths[] = {Isa::scalar, Isa::avx2, Isa::avxvnni, Isa::avx512vnni,
                          Isa::amx,    Isa::neon, Isa::dotprod, Isa::i8mm};

using test::CapGuard;

template <class TA, class TB>
class GemmTester {
 public:
  GemmTester& m(std::size_t v) {
    m_ = v;
    return *this;
  }
  GemmTester& n(std::size_t v) {
    n_ = v;
    return *this;
  }
  GemmTester& k(std::size_t v) {
    k_ = v;
    return *this;
  }
  GemmTester& a_stride_extra(std::size_t v) {
    a_extra_ = v;
    return *this;
  }
  GemmTester& c_stride_extra(std::size_t v) {
    c_extra_ = v;
    return *this;
  }
  GemmTester& a_zero_point(int32_t v) {
    a_zp_ = v;
    return *this;
  }
  GemmTester& b_zero_point(int32_t v) {
    b_zp_ = v;
    return *this;
  }
  GemmTester& per_channel_b_zero_points(bool v) {
    per_channel_zp_ = v;
    return *this;
  }
  GemmTester& bias(bool v) {
    bias_ = v;
    return *this;
  }
  // Constant operands instead of random ones (the int32-limit cases).
  GemmTester& fill(int32_t a, int32_t b) {
    fill_a_ = a;
    fill_b_ = b;
    return *this;
  }
  // Weights quantized to [-63, 63] and packed as SymmetricSevenBit (AVX2's fast kernel).
  GemmTester& seven_bit_weights(bool v) {
    seven_bit_ = v;
    return *this;
  }
  // Workers of a ThreadPool running the GEMM (1: the serial executor).
  GemmTester& threads(std::size_t v) {
    threads_ = v;
    return *this;
  }

  // Runs every stage on `path` and compares with the reference.
  void test(Isa path, test::Rng& rng) const {
    CapGuard guard;
    set_isa_cap(path);
    const std::size_t lda = k_ + a_extra_, ldc = n_ + c_extra_;
    std::vector<TA> a(std::max<std::size_t>(1, m_ * lda));
    std::vector<TB> b(std::max<std::size_t>(1, k_ * n_));
    for (TA& v : a)
      v = static_cast<TA>(fill_a_ ? *fill_a_
                                  : rng.integer(StorageTraits<TA>::min, StorageTraits<TA>::max));
    const int32_t b_min = seven_bit_ ? SymmetricSevenBit::qmin<TB> : StorageTraits<TB>::min;
    const int32_t b_max = seven_bit_ ? SymmetricSevenBit::qmax<TB> : StorageTraits<TB>::max;
    for (TB& v : b) v = static_cast<TB>(fill_b_ ? *fill_b_ : rng.integer(b_min, b_max));
    std::vector<int32_t> zps{seven_bit_ ? SymmetricSevenBit::zero_point<TB> : b_zp_};
    if (per_channel_zp_ && !seven_bit_)
      zps = rng.integers<int32_t>(n_, StorageTraits<TB>::min, StorageTraits<TB>::max);
    const std::vector<int32_t> bias =
        bias_ ? rng.integers<int32_t>(n_, -100000, 100000) : std::vector<int32_t>{};
    const MatrixView<const TA> av{a.data(), m_, k_, lda, 1};
    const MatrixView<const TB> bv{b.data(), k_, n_, n_, 1};
    const PackedWeights w =
        seven_bit_ ? pack_weights<SymmetricSevenBit>(bv, Span<const int32_t>(zps),
                                                     Span<const int32_t>(bias))
                   : pack_weights(bv, Span<const int32_t>(zps), Span<const int32_t>(bias));
    REQUIRE(w.seven_bit == seven_bit_);
    const reference::GemmOffsets offsets{a_zp_, zps, bias};

    // Per-channel scales spanning 1e-6 .. 1e3, and requantization multipliers scaled to the
    // accumulators so outputs cover the whole 8-bit range.
    std::vector<int32_t> raw(m_ * n_);
    reference::gemm(av, bv, offsets, StoreInt32{}, row_major(raw.data(), m_, n_));
    double max_abs = 1.0;
    for (int32_t v : raw) max_abs = std::max(max_abs, std::fabs(double(v)));
    std::vector<float> scales(n_), multipliers(n_);
    std::vector<QuantizedMultiplier> fixed(n_);
    for (std::size_t j = 0; j < n_; ++j) {
      scales[j] = std::pow(10.0f, rng.real(-6.0f, 3.0f));
      multipliers[j] = static_cast<float>(rng.real(0.3f, 3.0f) * 127.0 / max_abs);
      fixed[j] = quantize_multiplier(multipliers[j]);
    }
    const auto out_zp = static_cast<int32_t>(rng.integer(-20, 20));
    compare(av, bv, offsets, w, ldc, StoreInt32{});
    compare(av, bv, offsets, w, ldc, DequantizeFloat{scales});
    compare(av, bv, offsets, w, ldc, RequantizeFloat<int8_t>{multipliers, out_zp, -100, 120});
    compare(av, bv, offsets, w, ldc, RequantizeFloat<uint8_t>{multipliers, 128});
    compare(av, bv, offsets, w, ldc, RequantizeFixedPoint<int8_t>{fixed, out_zp});
    compare(av, bv, offsets, w, ldc,
            RequantizeFixedPoint<uint8_t, SingleRounding>{fixed, 100, 5, 250});
    // One multiplier for every column: the epilogues broadcast it instead of loading lanes.
    const std::vector<float> one{multipliers[0]}, one_scale{scales[0]};
    const std::vector<QuantizedMultiplier> one_fixed{fixed[0]};
    compare(av, bv, offsets, w, ldc, DequantizeFloat{one_scale});
    compare(av, bv, offsets, w, ldc, RequantizeFloat<int8_t>{one, out_zp});
    compare(av, bv, offsets, w, ldc, RequantizeFixedPoint<uint8_t>{one_fixed, 130, 2, 240});
  }

 private:
  template <class Stage>
  void compare(const MatrixView<const TA>& av, const MatrixView<const TB>& bv,
               const reference::GemmOffsets& offsets, const PackedWeights& w, std::size_t ldc,
               const Stage& stage) const {
    using Out = typename Stage::Output;
    std::vector<Out> expected(m_ * n_), actual(std::max<std::size_t>(1, m_ * ldc));
    reference::gemm(av, bv, offsets, stage, row_major(expected.data(), m_, n_));
    const MatrixView<Out> cv{actual.data(), m_, n_, ldc, 1};
    if (threads_ == 1) {
      gemm(av, offsets.a_zero_point, w, stage, cv);
    } else {
      ThreadPool pool(threads_);
      gemm(av, offsets.a_zero_point, w, stage, cv, pool);
    }
    for (std::size_t i = 0; i < m_; ++i) {
      for (std::size_t j = 0; j < n_; ++j) {
        const Out e = expected[i * n_ + j], g = actual[i * ldc + j];
        if (std::memcmp(&e, &g, sizeof(Out)) != 0) {
          FAIL_CHECK("kernel " << gemm_microkernel_for<TA>(active_isa(), w, m_).name << " threads "
                               << threads_ << " m " << m_ << " n " << n_ << " k " << k_ << " a_zp "
                               << a_zp_ << " at (" << i << ", " << j << "): expected " << double(e)
                               << " got " << double(g));
          return;
        }
      }
    }
  }

  std::size_t m_ = 1, n_ = 1, k_ = 1, a_extra_ = 0, c_extra_ = 0, threads_ = 1;
  int32_t a_zp_ = 0, b_zp_ = 0;
  bool per_channel_zp_ = false, bias_ = true, seven_bit_ = false;
  std::optional<int32_t> fill_a_, fill_b_;
};

template <class Body>
void for_each_path(Body body) {
  for (Isa path : gemm_paths) {
    if (!cpu_features().supports(path)) {
      WARN("GEMM path " << isa_name(path) << " SKIPPED: not on this CPU");
      continue;
    }
    if (test::skipped_by_environment(path)) {
      WARN("GEMM path " << isa_name(path) << " SKIPPED: QINFER_TEST_SKIP_LEVELS");
      continue;
    }
    SECTION(isa_name(path)) {
      body(path);
    }
  }
}

}  // namespace

TEST_CASE("packed GEMM equals the reference for every tail of MR, NR and KR", "[gemm][simd]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    for (std::size_t m = 1; m <= 17; ++m) {
      for (std::size_t n : {1, 15, 16, 17, 31, 32, 33, 64, 65}) {
        for (std::size_t k : {1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33}) {
          GemmTester<uint8_t, int8_t>()
              .m(m)
              .n(n)
              .k(k)
              .a_zero_point(static_cast<int32_t>(rng.integer(0, 255)))
              .seven_bit_weights((m + n + k) % 2 == 0)
              .test(path, rng);
        }
      }
    }
  });
}

TEST_CASE("packed GEMM over large and prime shapes, strides, zero points and signedness",
          "[gemm][simd]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    const std::size_t sizes[] = {1, 7, 8, 23, 64, 97, 128, 257, 293};
    for (int trial = 0; trial < 24; ++trial) {
      const std::size_t m = sizes[rng.integer(0, 8)], n = sizes[rng.integer(0, 8)],
                        k = sizes[rng.integer(0, 8)];
      const int32_t uint8_zps[] = {0, 1, 127, 128, 255};
      const int32_t int8_zps[] = {-128, -1, 0, 1, 127};
      const std::size_t a_extra = rng.size(0, 5), c_extra = rng.size(0, 3);
      const bool per_channel = rng.coin(), bias = rng.coin();
      switch (trial % 4) {
        case 0:
          GemmTester<uint8_t, int8_t>()
              .m(m)
              .n(n)
              .k(k)
              .a_stride_extra(a_extra)
              .c_stride_extra(c_extra)
              .a_zero_point(uint8_zps[rng.integer(0, 4)])
              .b_zero_point(static_cast<int32_t>(rng.integer(-128, 127)))
              .per_channel_b_zero_points(per_channel)
              .bias(bias)
              .test(path, rng);
          break;
        case 1:
          GemmTester<int8_t, int8_t>()
              .m(m)
              .n(n)
              .k(k)
              .a_stride_extra(a_extra)
              .c_stride_extra(c_extra)
              .a_zero_point(int8_zps[rng.integer(0, 4)])
              .per_channel_b_zero_points(per_channel)
              .bias(bias)
              .test(path, rng);
          break;
        case 2:
          GemmTester<uint8_t, uint8_t>()
              .m(m)
              .n(n)
              .k(k)
              .a_stride_extra(a_extra)
              .c_stride_extra(c_extra)
              .a_zero_point(uint8_zps[rng.integer(0, 4)])
              .b_zero_point(static_cast<int32_t>(rng.integer(0, 255)))
              .per_channel_b_zero_points(per_channel)
              .bias(bias)
              .test(path, rng);
          break;
        default:
          GemmTester<int8_t, uint8_t>()
              .m(m)
              .n(n)
              .k(k)
              .a_stride_extra(a_extra)
              .c_stride_extra(c_extra)
              .a_zero_point(int8_zps[rng.integer(0, 4)])
              .b_zero_point(128)
              .bias(bias)
              .test(path, rng);
      }
    }
  });
}

// N <= 32 (1x1 layers such as MobileNetV2's 32-to-16): tiles of up to 16 rows, rows stored four
// or two to a pack, and tasks of up to gemm_task_max_rows rows.
TEST_CASE("packed GEMM on narrow products: every row count, zero points, task boundaries",
          "[gemm][simd]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    for (std::size_t m = 1; m <= 40; ++m) {
      for (std::size_t n : {5, 16, 32}) {
        GemmTester<uint8_t, int8_t>()
            .m(m)
            .n(n)
            .k(m % 3 == 0 ? 32 : 29)
            .a_zero_point(static_cast<int32_t>(rng.integer(0, 255)))
            .per_channel_b_zero_points(m % 2 == 0)
            .c_stride_extra(m % 4)
            .test(path, rng);
      }
    }
    for (std::size_t m : {gemm_task_max_rows - 1, gemm_task_max_rows + 13}) {
      for (std::size_t threads : {1, 2}) {
        GemmTester<int8_t, int8_t>()
            .m(m)
            .n(16)
            .k(24)
            .per_channel_b_zero_points(true)
            .threads(threads)
            .test(path, rng);
      }
    }
  });
}

// Every row count through the first two 32-row tiles, on few panels (the AMX level packs only a
// partial last tile) and on many (it packs every tile), K with and without a partial 64-k chunk.
TEST_CASE("packed GEMM on every row count: AMX's packed partial tiles", "[gemm][simd][amx]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    for (std::size_t m = 1; m <= 48; ++m) {
      GemmTester<uint8_t, int8_t>()
          .m(m)
          .n(m % 4 == 1 ? 544 : 96)
          .k(m % 3 == 0   ? 64
             : m % 3 == 1 ? 100
                          : 161)
          .a_stride_extra(m % 5)
          .a_zero_point(static_cast<int32_t>(rng.integer(0, 255)))
          .per_channel_b_zero_points(m % 4 == 0)
          .test(path, rng);
    }
    for (std::size_t threads : {2, 7}) {
      GemmTester<int8_t, int8_t>().m(12).n(1056).k(200).threads(threads).test(path, rng);
    }
  });
}

// At least amx_pack_min_panels panels: the AMX level packs a task's activations once for all its
// panels. Row counts around its 16- and 32-row tiles, K with partial 64-k chunks.
TEST_CASE("packed GEMM on wide products: AMX's packed activations, every tile shape",
          "[gemm][simd][amx]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    GemmTester<uint8_t, int8_t>().m(17).n(512).k(100).a_zero_point(128).test(path, rng);
    GemmTester<int8_t, int8_t>()
        .m(33)
        .n(545)
        .k(577)
        .a_stride_extra(3)
        .a_zero_point(-1)
        .per_channel_b_zero_points(true)
        .test(path, rng);
    GemmTester<uint8_t, uint8_t>()
        .m(300)
        .n(520)
        .k(64)
        .c_stride_extra(5)
        .a_zero_point(255)
        .b_zero_point(3)
        .threads(2)
        .test(path, rng);
    GemmTester<int8_t, uint8_t>().m(48).n(1024).k(130).b_zero_point(128).test(path, rng);
    GemmTester<uint8_t, int8_t>().m(40).n(513).k(1090).a_zero_point(1).test(path, rng);
  });
}

TEST_CASE("packed GEMM at the int32 limits: K = 65536 of extreme codes", "[gemm][simd]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    GemmTester<uint8_t, int8_t>().m(3).n(33).k(65536).fill(255, -128).bias(false).test(path, rng);
    GemmTester<uint8_t, int8_t>().m(2).n(17).k(65536).fill(255, 127).bias(false).test(path, rng);
    // With zero points the true sum passes 2^31: both sides wrap modulo 2^32 identically.
    GemmTester<uint8_t, int8_t>()
        .m(2)
        .n(3)
        .k(40000)
        .fill(0, -128)
        .a_zero_point(255)
        .b_zero_point(127)
        .test(path, rng);
  });
}

TEST_CASE("packed GEMM rejects inconsistent arguments", "[gemm][error]") {
  const int8_t b[6] = {};
  const int32_t zp[] = {0};
  const PackedWeights w = pack_weights(row_major(b, 3, 2), Span<const int32_t>(zp), {});
  const uint8_t a[6] = {};
  int32_t c[4] = {};
  CHECK_NOTHROW(gemm(row_major(a, 2, 3), 0, w, StoreInt32{}, row_major(c, 2, 2)));
  CHECK_THROWS_AS(gemm(row_major(a, 3, 2), 0, w, StoreInt32{}, row_major(c, 3, 2)), Error);
  CHECK_THROWS_AS(gemm(row_major(a, 2, 3), 256, w, StoreInt32{}, row_major(c, 2, 2)), Error);
  CHECK_THROWS_AS(
      gemm(MatrixView<const uint8_t>{a, 2, 3, 6, 2}, 0, w, StoreInt32{}, row_major(c, 2, 2)),
      Error);
  const int32_t three[] = {0, 0, 0};
  CHECK_THROWS_AS(pack_weights(row_major(b, 3, 2), Span<const int32_t>(three), {}), Error);
}

TEST_CASE("packed GEMM with 7-bit weights at the int16 limit of vpmaddubsw", "[gemm][simd]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    // 255 x -63 twice is the largest pair vpmaddubsw sums here; any 8-bit code would overflow.
    GemmTester<uint8_t, int8_t>().m(5).n(40).k(1027).fill(255, -63).seven_bit_weights(true).test(
        path, rng);
    GemmTester<uint8_t, int8_t>().m(4).n(33).k(1000).fill(255, 63).seven_bit_weights(true).test(
        path, rng);
    GemmTester<int8_t, int8_t>().m(9).n(65).k(301).seven_bit_weights(true).test(path, rng);
    GemmTester<uint8_t, uint8_t>().m(3).n(31).k(97).seven_bit_weights(true).test(path, rng);
  });
}

TEST_CASE("packed GEMM gives identical results for 1, 2 and 7 threads", "[gemm][simd][threads]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    for (std::size_t threads : {1, 2, 7}) {
      GemmTester<uint8_t, int8_t>().m(300).n(290).k(67).a_zero_point(3).threads(threads).test(path,
                                                                                              rng);
      GemmTester<int8_t, int8_t>().m(1).n(1000).k(129).threads(threads).test(path, rng);
    }
  });
}

TEST_CASE("an engine's pool plugs in as a function pointer and context", "[gemm][threads]") {
  // A stand-in engine pool: runs the tasks in reverse order and counts them.
  struct ReversePool {
    std::size_t tasks_run = 0;
    static void run(void* pool, std::size_t tasks, ParallelForHook::Task task, void* context) {
      for (std::size_t i = tasks; i-- > 0;) task(context, i);
      static_cast<ReversePool*>(pool)->tasks_run += tasks;
    }
  } engine;
  test::Rng rng;
  std::vector<uint8_t> a(200 * 70);
  std::vector<int8_t> b(70 * 300);
  for (auto& v : a) v = static_cast<uint8_t>(rng.integer(0, 255));
  for (auto& v : b) v = static_cast<int8_t>(rng.integer(-128, 127));
  const int32_t zp[] = {0};
  const PackedWeights w = pack_weights(row_major(b.data(), 70, 300), Span<const int32_t>(zp), {});
  std::vector<int32_t> serial(200 * 300), hooked(200 * 300);
  gemm(row_major(a.data(), 200, 70), 7, w, StoreInt32{}, row_major(serial.data(), 200, 300));
  gemm(row_major(a.data(), 200, 70), 7, w, StoreInt32{}, row_major(hooked.data(), 200, 300),
       ParallelForHook{&ReversePool::run, &engine});
  CHECK(engine.tasks_run > 1);
  CHECK(serial == hooked);
}

TEST_CASE("each path's micro-kernel, called directly, computes its tile from the init row",
          "[gemm][simd]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    for (std::size_t k : {1, 3, 4, 15, 16, 17, 33, 64, 100}) {
      std::vector<uint8_t> a(gemm_max_mr * k);
      std::vector<int8_t> b(k * gemm_nr);
      for (auto& v : a) v = static_cast<uint8_t>(rng.integer(0, 255));
      for (auto& v : b) v = static_cast<int8_t>(rng.integer(-128, 127));
      const int32_t zp[] = {0};
      const PackedWeights w =
          pack_weights(row_major(b.data(), k, gemm_nr), Span<const int32_t>(zp), {});
      const GemmMicrokernel<uint8_t> kernel = gemm_microkernel<uint8_t>(path, w);
      CHECK(kernel.isa == path);
      REQUIRE(kernel.mr <= gemm_max_mr);
      CHECK(kernel.nr == gemm_nr);
      CHECK(kernel.kr == gemm_kr);
      const std::vector<int32_t> init = rng.integers<int32_t>(gemm_nr, -1000000, 1000000);
      if (kernel.begin != nullptr) kernel.begin();
      for (std::size_t rows = 1; rows <= kernel.mr; ++rows) {
        std::vector<int32_t> tile(gemm_max_mr * gemm_nr, 0);
        kernel.tile(a.data(), k, rows, k, w.panel(0), init.data(), tile.data());
        for (std::size_t m = 0; m < rows; ++m) {
          for (std::size_t n = 0; n < gemm_nr; ++n) {
            int64_t sum = init[n];
            for (std::size_t p = 0; p < k; ++p) {
              sum += (int64_t{a[m * k + p]} - kernel.activation_offset) * b[p * gemm_nr + n];
            }
            REQUIRE(tile[m * gemm_nr + n] == sum);
          }
        }
      }
      if (kernel.end != nullptr) kernel.end();
    }
  });
}

TEST_CASE("pack_weights holds codes to the weights' scheme", "[gemm][error]") {
  const int8_t in_range[4] = {-63, 63, 0, 5};
  const int8_t too_wide[4] = {-64, 63, 0, 5};
  const int32_t zero[] = {0}, one[] = {1};
  const auto w =
      pack_weights<SymmetricSevenBit>(row_major(in_range, 2, 2), Span<const int32_t>(zero), {});
  CHECK(w.seven_bit);
  CHECK_FALSE(pack_weights(row_major(in_range, 2, 2), Span<const int32_t>(zero), {}).seven_bit);
  CHECK_THROWS_AS(
      pack_weights<SymmetricSevenBit>(row_major(too_wide, 2, 2), Span<const int32_t>(zero), {}),
      Error);
  CHECK_THROWS_AS(
      pack_weights<SymmetricSevenBit>(row_major(in_range, 2, 2), Span<const int32_t>(one), {}),
      Error);
  CHECK_THROWS_AS(
      pack_weights<Symmetric<>>(row_major(in_range, 2, 2), Span<const int32_t>(one), {}), Error);
}

TEST_CASE("weights packed into a caller's buffer give the same products, every path",
          "[gemm][simd]") {
  test::Rng rng(31);
  const std::size_t m = 19, k = 37, n = 71;
  std::vector<uint8_t> a(m * k), b(k * n);
  for (uint8_t& v : a) v = static_cast<uint8_t>(rng.integer(0, 255));
  for (uint8_t& v : b) v = static_cast<uint8_t>(rng.integer(0, 255));
  std::vector<int32_t> zero_points(n), bias(n);
  for (std::size_t i = 0; i < n; ++i) {
    zero_points[i] = static_cast<int32_t>(rng.integer(0, 255));
    bias[i] = static_cast<int32_t>(rng.integer(-9999, 9999));
  }
  const MatrixView<const uint8_t> bv = row_major<const uint8_t>(b.data(), k, n);
  // Three panels of 10 groups: the panels' 3840 bytes, then 3 x 96 int32 per column.
  REQUIRE(packed_weights_size(k, n) == 3 * 10 * 128 + 3 * 96 * 4);
  AlignedVector<std::byte> buffer(packed_weights_size(k, n));
  const PackedWeights mine = pack_weights_into(Span<std::byte>(buffer), bv, zero_points, bias);
  const PackedWeights owned = pack_weights(bv, zero_points, bias);
  CHECK(mine.storage == nullptr);
  CHECK(reinterpret_cast<const std::byte*>(mine.data.data()) == buffer.data());
  CHECK(std::memcmp(mine.data.data(), owned.data.data(), owned.data.size()) == 0);
  const PackedWeights copy = owned;  // shares the buffer
  CHECK(copy.data.data() == owned.data.data());
  CHECK(copy.storage == owned.storage);
  for_each_path([&](Isa path) {
    const test::CapGuard guard;
    set_isa_cap(path);
    REQUIRE(active_isa() == path);
    std::vector<int32_t> from_buffer(m * n), from_owned(m * n), expected(m * n);
    gemm(row_major<const uint8_t>(a.data(), m, k), 7, mine, StoreInt32{},
         row_major(from_buffer.data(), m, n));
    gemm(row_major<const uint8_t>(a.data(), m, k), 7, copy, StoreInt32{},
         row_major(from_owned.data(), m, n));
    reference::gemm(row_major<const uint8_t>(a.data(), m, k), bv,
                    reference::GemmOffsets{7, zero_points, bias}, StoreInt32{},
                    row_major(expected.data(), m, n));
    CHECK(from_buffer == expected);
    CHECK(from_owned == expected);
  });
  // A buffer one byte short, or off the cache line, is refused; empty shapes need none.
  CHECK(test::error_of([&] {
          pack_weights_into(Span<std::byte>(buffer.data(), buffer.size() - 1), bv, zero_points,
                            bias);
        }) == Errc::invalid_argument);
  std::vector<std::byte> unaligned(buffer.size() + 64);
  std::byte* off = unaligned.data() + (reinterpret_cast<uintptr_t>(unaligned.data()) % 64 == 0);
  CHECK(test::error_of([&] {
          pack_weights_into(Span<std::byte>(off, buffer.size()), bv, zero_points, bias);
        }) == Errc::invalid_argument);
  CHECK(packed_weights_size(0, 5) == 32 * 3 * 4);
  CHECK(packed_weights_size(5, 0) == 0);
  CHECK(packed_weights_size(SIZE_MAX / 2, SIZE_MAX / 2) == 0);
}

TEST_CASE("packed GEMM with K = 0 applies the stage to the bias alone", "[gemm][simd]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    for (std::size_t m : {1, 7, 33}) {
      GemmTester<uint8_t, int8_t>().m(m).n(45).k(0).a_zero_point(9).b_zero_point(3).test(path, rng);
    }
  });
}

TEST_CASE("the GEMM dispatch table names the kernel of every level", "[gemm][paths]") {
  const int8_t b[4] = {};
  const int32_t zp[] = {0};
  const PackedWeights w = pack_weights(row_major(b, 2, 2), Span<const int32_t>(zp), {});
  for (Isa path : gemm_paths) {
    const bool here = cpu_features().supports(path);
    WARN("GEMM path " << isa_name(path) << ": "
                      << (here ? std::string("tested, kernel ") +
                                     gemm_microkernel<uint8_t>(path, w).name
                               : std::string("SKIPPED, not on this CPU")));
    if (here) CHECK(gemm_microkernel<uint8_t>(path, w).isa == path);
  }
  CHECK(gemm_microkernel<uint8_t>(Isa::scalar, w).isa == Isa::scalar);
}

#if QINFER_X86
TEST_CASE("the AMX level runs short, shallow and narrow products on AVX-512 VNNI",
          "[gemm][paths]") {
  const auto packed = [](std::size_t k, std::size_t n) {
    const std::vector<int8_t> b(k * n, 1);
    const int32_t zp[] = {0};
    return pack_weights(row_major(b.data(), k, n), Span<const int32_t>(zp), {});
  };
  const PackedWeights large = packed(amx_min_depth, amx_min_columns);
  CHECK(gemm_microkernel_for<uint8_t>(Isa::amx, large, amx_min_rows).isa == Isa::amx);
  CHECK(gemm_microkernel_for<int8_t>(Isa::amx, large, 1000).isa == Isa::amx);
  CHECK(gemm_microkernel_for<uint8_t>(Isa::amx, large, amx_min_rows - 1).isa == Isa::avx512vnni);
  CHECK(gemm_microkernel_for<uint8_t>(Isa::amx, packed(amx_min_depth - 1, 64), 100).isa ==
        Isa::avx512vnni);
  CHECK(gemm_microkernel_for<uint8_t>(Isa::amx, packed(256, amx_min_columns - 1), 100).isa ==
        Isa::avx512vnni);
  CHECK(gemm_microkernel_for<uint8_t>(Isa::avx512vnni, large, 1000).isa == Isa::avx512vnni);
  CHECK(gemm_microkernel<uint8_t>(Isa::amx, packed(1, 1)).isa == Isa::amx);
}
#endif
