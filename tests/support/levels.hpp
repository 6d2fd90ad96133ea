// SPDX-License-Identifier: Apache-2.0
// Runs a test body once per instruction-set level this CPU has, each in its own SECTION with the
// cap set to that level, and says which levels were skipped.
#pragma once

#include <catch2/catch.hpp>

#include "qinfer/core/cpu.hpp"
#include "support/cap_guard.hpp"

namespace qinfer::test {

template <class Body>
void for_each_level(const char* what, Body body) {
  for (Isa level : all_isas) {
    if (!cpu_features().supports(level)) {
      WARN(what << " on " << isa_name(level) << " SKIPPED: not on this CPU");
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
