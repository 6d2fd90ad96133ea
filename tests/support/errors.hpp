// SPDX-License-Identifier: Apache-2.0
// The error code a call throws, for tests of the error paths.
#pragma once

#include "qinfer/core/error.hpp"

namespace qinfer::test {

// The code of the qinfer::Error `call` throws, or Errc::ok.
template <class Call>
Errc error_of(Call call) {
  try {
    call();
  } catch (const Error& e) {
    return e.status().code();
  }
  return Errc::ok;
}

}  // namespace qinfer::test
