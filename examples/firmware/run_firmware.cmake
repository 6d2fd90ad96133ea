# ctest's firmware check (cmake -P): builds the firmware example for the host, for a Cortex-M4
# and, with -DARMHF=ON, for 32-bit Arm Linux; runs each (the Cortex-M4 image on
# qemu-system-arm's mps2-an386 with semihosting, the Arm Linux one under qemu-arm), and passes
# when each reproduces the host model's outputs bit for bit and all print the same predictions.
# It also prints the Cortex-M4 image's flash and RAM use and fails if the image holds the heap,
# exceptions or RTTI.
#   -DSOURCE_DIR=<qinfer root> -DMODEL_HEADER_DIR=<dir of fashion_mnist_model.hpp>
#   -DWORK_DIR=<scratch dir> -DGENERATOR=<CMake generator> [-DARMHF=ON]
foreach(var SOURCE_DIR MODEL_HEADER_DIR WORK_DIR GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_firmware.cmake needs -D${var}=...")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT 300)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed (${result}): ${ARGN}\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

set(example "${SOURCE_DIR}/examples/firmware")
set(targets host cortex_m4)
if(ARMHF)
  list(APPEND targets armhf)
endif()
foreach(target ${targets})
  set(args -S ${example} -B ${WORK_DIR}/${target} -G ${GENERATOR} -DCMAKE_BUILD_TYPE=MinSizeRel
           -DMODEL_HEADER_DIR=${MODEL_HEADER_DIR})
  if(target STREQUAL "cortex_m4")
    list(APPEND args -DCMAKE_TOOLCHAIN_FILE=${SOURCE_DIR}/cmake/toolchains/arm-none-eabi-cortex-m4.cmake)
  elseif(target STREQUAL "armhf")
    list(APPEND args -DCMAKE_TOOLCHAIN_FILE=${SOURCE_DIR}/cmake/toolchains/arm-linux-gnueabihf.cmake)
  endif()
  run(${CMAKE_COMMAND} ${args})
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/${target})
endforeach()

set(image "${WORK_DIR}/cortex_m4/fashion_mnist_firmware.elf")
run(arm-none-eabi-nm -C ${image})
string(REGEX MATCHALL "[^\n]*(malloc|operator new|__cxa_throw|__cxa_allocate_exception|typeinfo for)[^\n]*"
       forbidden "${run_output}")
if(forbidden)
  message(FATAL_ERROR "the firmware image links the heap, exceptions or RTTI:\n${forbidden}")
endif()

# Flash holds the code, the constants (the model) and .data's initial values; RAM .data and
# .bss (the workspace and buffers; the stack comes on top).
run(arm-none-eabi-size -A ${image})
set(sections "${run_output}")
foreach(section text rodata data bss)
  string(REGEX MATCH "\n\\.${section}[ ]+([0-9]+)" match "${sections}")
  set(${section} ${CMAKE_MATCH_1})
endforeach()
math(EXPR flash "${text} + ${rodata} + ${data}")
math(EXPR ram "${data} + ${bss}")
message(STATUS "Cortex-M4 image: flash ${flash} bytes (.text ${text}, .rodata ${rodata}, .data ${data}), "
               "RAM ${ram} bytes (.data ${data}, .bss ${bss})")

run(${WORK_DIR}/host/fashion_mnist_firmware)
set(host "${run_output}")
run(qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none
    -chardev stdio,id=semihosting -semihosting-config enable=on,target=native,chardev=semihosting
    -kernel ${image})
set(cortex_m4 "${run_output}")
message(STATUS "host:\n${host}")
message(STATUS "Cortex-M4 (qemu mps2-an386):\n${cortex_m4}")
if(NOT host STREQUAL cortex_m4)
  message(FATAL_ERROR "the Cortex-M4 image and the host build differ")
endif()
if(ARMHF)
  run(qemu-arm -L /usr/arm-linux-gnueabihf ${WORK_DIR}/armhf/fashion_mnist_firmware)
  message(STATUS "32-bit Arm Linux (qemu-arm):\n${run_output}")
  if(NOT host STREQUAL run_output)
    message(FATAL_ERROR "the 32-bit Arm Linux build and the host build differ")
  endif()
endif()
