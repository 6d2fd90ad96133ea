// SPDX-License-Identifier: Apache-2.0
// Wide enough that the detection and path reports stay on one line each.
#define CATCH_CONFIG_CONSOLE_WIDTH 200
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
