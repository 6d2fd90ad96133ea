// SPDX-License-Identifier: Apache-2.0
#include <cstdio>
#include <cstdlib>

#include "platform.hpp"

void platform_write(const char* text) {
  std::fputs(text, stdout);
}

void platform_exit(int status) {
  std::fflush(stdout);
  std::exit(status);
}

int main() {
  platform_exit(run_example());
}
