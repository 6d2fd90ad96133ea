// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <optional>

#include "qinfer/core/cpu.hpp"
#include "qinfer/quant/quantize.hpp"
#include "support/cap_guard.hpp"

using namespace qinfer;

using test::CapGuard;

TEST_CASE("ISA names parse back to their levels", "[cpu]") {
  for (Isa isa : all_isas) CHECK(parse_isa(isa_name(isa)) == isa);
  CHECK_THROWS_AS(parse_isa("avx512"), Error);
  CHECK_THROWS_AS(parse_isa(nullptr), Error);
}

TEST_CASE("detection reports what this CPU has and what runs", "[cpu][paths]") {
  const CpuInfo info = cpu_info();
  const CpuFeatures& f = info.features;
  WARN("detected: best " << isa_name(info.best) << ", active " << isa_name(info.active) << ", cap "
                         << (info.cap ? isa_name(*info.cap) : "none") << "; avx2 " << f.avx2
                         << " avxvnni " << f.avxvnni << " avx512f " << f.avx512f << " avx512bw "
                         << f.avx512bw << " avx512vl " << f.avx512vl << " avx512vnni "
                         << f.avx512vnni << " amx_int8 " << f.amx_int8 << " neon " << f.neon
                         << " dotprod " << f.dotprod << " i8mm " << f.i8mm);
  CHECK(f.supports(info.best));
  CHECK(f.supports(info.active));
  CHECK(info.active <= info.best);
  // Each level implies the ones before it in its family.
  if (f.supports(Isa::amx)) CHECK(f.supports(Isa::avx512vnni));
  if (f.supports(Isa::avx512vnni)) CHECK(f.supports(Isa::avx2));
  if (f.supports(Isa::avxvnni)) CHECK(f.supports(Isa::avx2));
  if (f.supports(Isa::i8mm)) CHECK(f.supports(Isa::dotprod));
  if (f.supports(Isa::dotprod)) CHECK(f.supports(Isa::neon));
  CHECK_FALSE((f.supports(Isa::avx2) && f.supports(Isa::neon)));
}

TEST_CASE("a cap limits the active level and the conversion path", "[cpu]") {
  CapGuard guard;
  const Isa best = cpu_features().best();

  SECTION("no cap runs the best level") {
    set_isa_cap(std::nullopt);
    CHECK(active_isa() == best);
  }
  SECTION("scalar runs the scalar reference everywhere") {
    set_isa_cap(Isa::scalar);
    CHECK(active_isa() == Isa::scalar);
    CHECK(best_convert_path() == ConvertPath::scalar);
  }
  SECTION("a cap above the CPU's best changes nothing") {
    set_isa_cap(is_arm_isa(best) ? Isa::i8mm : Isa::amx);
    CHECK(active_isa() == best);
  }
  SECTION("avx2 excludes every wider x86 kernel") {
    set_isa_cap(Isa::avx2);
    CHECK(active_isa() <= Isa::avx2);
    CHECK(best_convert_path() != ConvertPath::avx512);
    if (cpu_features().supports(Isa::avx2)) {
      CHECK(active_isa() == Isa::avx2);
      CHECK(best_convert_path() == ConvertPath::avx2);
    }
  }
  SECTION("a level of the other architecture leaves scalar") {
    set_isa_cap(is_arm_isa(best) ? Isa::avx2 : Isa::neon);
    CHECK(active_isa() == Isa::scalar);
    CHECK(best_convert_path() == ConvertPath::scalar);
  }
  SECTION("set_isa_cap returns the previous cap") {
    set_isa_cap(Isa::avx2);
    CHECK(set_isa_cap(Isa::scalar) == Isa::avx2);
    CHECK(set_isa_cap(std::nullopt) == Isa::scalar);
  }
}

// Run by ctest with QINFER_ISA set (tests/CMakeLists.txt); hidden from the default run.
TEST_CASE("QINFER_ISA caps the level from the environment", "[.isa-env]") {
  const char* requested = std::getenv("QINFER_ISA");
  REQUIRE(requested != nullptr);
  const CpuInfo info = cpu_info();
  WARN("QINFER_ISA=" << requested << ": active " << isa_name(info.active));
  if (std::strcmp(requested, "not-an-isa") == 0) {
    CHECK_FALSE(info.environment_cap_valid);
    CHECK_FALSE(info.cap.has_value());
    CHECK(info.active == info.best);
    return;
  }
  CHECK(info.environment_cap_valid);
  REQUIRE(info.cap == parse_isa(requested));
  CHECK(within_cap(info.active, info.cap));
}
