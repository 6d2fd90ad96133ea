// SPDX-License-Identifier: Apache-2.0
//
// What the firmware example needs from its platform: text out and an exit status. The Cortex-M
// build gets both from semihosting (platform_cortex_m.cpp), the host build from stdio. Each
// platform's entry point calls run_example() (main.cpp), whose result is the exit status.
#pragma once

int run_example();

void platform_write(const char* text);
[[noreturn]] void platform_exit(int status);
