// SPDX-License-Identifier: Apache-2.0
// Runs a test body once per instruction-set level this CPU has, each in its own SECTION with the
// cap set to that level, and says which levels were skipped.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "qinfer/core/cpu.hpp"
#include "support/cap_guard.hpp"

namespace qinfer::test {

// Whether QINFER_TEST_SKIP_LEVELS (level names, comma-separated) names `level`. The SIMD tests
// under qemu-x86_64 skip the scalar level, which the native runs test: its emulation took most
// of that run (the scalar GEMM tails alone 176 of 790 s).
inline bool skipped_by_environment(Isa level) {
  const char* list = std::getenv("QINFER_TEST_SKIP_LEVELS");
  if (list == nullptr) return false;
  const std::string names = "," + std::string(list) + ",";
  return names.find("," + std::string(isa_name(level)) + ",") != std::string::npos;
}

template <class Body>
void for_each_level(const char* what, Body body) {
  for (Isa level : all_isas) {
    if (!cpu_features().supports(level)) {
      WARN(what << " on " << isa_name(level) << " SKIPPED: not on this CPU");
      continue;
    }
    if (skipped_by_environment(level)) {
      WARN(what << " on " << isa_name(level) << " SKIPPED: QINFER_TEST_SKIP_LEVELS");
      continue;
    }
    SECTION(isa_name(level)) {
      const CapGuard guard;
      set_isa_cap(level);
      body();
    }
  }
}

}  // namespace qinfer::test
