// SPDX-License-Identifier: Apache-2.0
// Restores the ISA cap a test changed, whatever happens in the test.
#pragma once

#include <optional>

#include "qinfer/core/cpu.hpp"

namespace qinfer::test {

struct CapGuard {
  std::optional<Isa> saved = isa_cap();
  ~CapGuard() { set_isa_cap(saved); }
};

}  // namespace qinfer::test
