// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "qinfer/version.h"

namespace qinfer {

inline constexpr int version_major = QINFER_VERSION_MAJOR;
inline constexpr int version_minor = QINFER_VERSION_MINOR;
inline constexpr int version_patch = QINFER_VERSION_PATCH;

}  // namespace qinfer
