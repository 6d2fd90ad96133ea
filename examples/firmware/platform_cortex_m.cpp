// SPDX-License-Identifier: Apache-2.0
//
// Start-up and I/O of the firmware example on a Cortex-M4 (qemu's mps2-an386 board): the vector
// table, a reset handler that enables the FPU and sets up .data and .bss, and ARM semihosting
// (bkpt 0xab) for text and the exit status. No C library start-up, no heap.
#include <cstdint>
#include <cstring>

#include "platform.hpp"

namespace {

// ARM semihosting operations (ARM IHI 0069).
constexpr int sys_write0 = 0x04;
constexpr int sys_exit = 0x18;
constexpr uintptr_t application_exit = 0x20026;  // ADP_Stopped_ApplicationExit
constexpr uintptr_t run_time_error = 0x20023;    // ADP_Stopped_RunTimeErrorUnknown

int semihost(int operation, uintptr_t argument) {
  register int r0 asm("r0") = operation;
  register uintptr_t r1 asm("r1") = argument;
  asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

}  // namespace

void platform_write(const char* text) {
  semihost(sys_write0, reinterpret_cast<uintptr_t>(text));
}

void platform_exit(int status) {
  // An AArch32 SYS_EXIT carries only a reason: qemu exits 0 for application_exit, 1 otherwise.
  semihost(sys_exit, status == 0 ? application_exit : run_time_error);
  for (;;) {
  }
}

extern "C" {

// From the linker script.
extern uint32_t __stack_top__;
extern uint32_t __data_load__[], __data_start__[], __data_end__[];
extern uint32_t __bss_start__[], __bss_end__[];
extern void (*__init_array_start__[])();
extern void (*__init_array_end__[])();

[[noreturn]] void reset_handler() {
  // Full access to coprocessors 10 and 11, the FPU, before any floating-point instruction.
  volatile uint32_t& cpacr = *reinterpret_cast<volatile uint32_t*>(0xe000ed88);
  cpacr = cpacr | (0xfu << 20);
  asm volatile("dsb\n\tisb" ::: "memory");
  std::memcpy(__data_start__, __data_load__,
              static_cast<std::size_t>(__data_end__ - __data_start__) * sizeof(uint32_t));
  std::memset(__bss_start__, 0,
              static_cast<std::size_t>(__bss_end__ - __bss_start__) * sizeof(uint32_t));
  for (void (**init)() = __init_array_start__; init != __init_array_end__; ++init) (*init)();
  platform_exit(run_example());
}

[[noreturn]] void fault_handler() {
  platform_write("fault\n");
  platform_exit(2);
}

// The initial stack pointer, then the handlers of reset and the 14 system exceptions.
using Handler = void (*)();
__attribute__((section(".vectors"), used)) const Handler vectors[16] = {
    reinterpret_cast<Handler>(&__stack_top__),
    reset_handler,
    fault_handler,  // NMI
    fault_handler,  // hard fault
    fault_handler,  // memory management
    fault_handler,  // bus fault
    fault_handler,  // usage fault
};

}  // extern "C"
