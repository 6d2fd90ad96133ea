# Warnings for qinfer's own targets (tests, benchmarks, examples); never pushed onto consumers.
option(QINFER_WERROR "Treat warnings as errors in qinfer's own targets" ON)
add_library(qinfer_warnings INTERFACE)
target_compile_options(qinfer_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                       -Wno-sign-conversion)
if(QINFER_WERROR)
  target_compile_options(qinfer_warnings INTERFACE -Werror)
endif()
