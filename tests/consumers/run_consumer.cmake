# Configures, builds and runs tests/consumers/project in a fresh directory for one MODE.
# Inputs: QINFER_SOURCE_DIR, QINFER_BINARY_DIR (the build being tested), WORK_DIR, MODE,
# CMAKE_CXX_COMPILER, CMAKE_GENERATOR, WITH_C (the find_package mode also consumes the installed
# C library and tool).
set(work ${WORK_DIR}/${MODE})
file(REMOVE_RECURSE ${work})
file(MAKE_DIRECTORY ${work})

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}")
  endif()
endfunction()

set(args -G ${CMAKE_GENERATOR} -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER} -DQINFER_CONSUME=${MODE})
if(MODE STREQUAL "add_subdirectory")
  list(APPEND args -DQINFER_SOURCE_DIR=${QINFER_SOURCE_DIR})
elseif(MODE STREQUAL "find_package")
  # Install the suite's own build of qinfer into a private prefix, as a packager would
  # (`cmake --install <build> --prefix <dir>`): the headers, the CMake package and the .pc
  # files, and, if WITH_C, the C library and the tool that build carries.
  run(${CMAKE_COMMAND} --install ${QINFER_BINARY_DIR} --prefix ${work}/prefix)
  list(APPEND args -DCMAKE_PREFIX_PATH=${work}/prefix -DQINFER_CONSUME_C=${WITH_C})
  set(installed include/qinfer/version.h include/qinfer/c/qinfer.h share/pkgconfig/qinfer.pc)
  if(WITH_C)
    list(APPEND installed bin/qinfer_model_header lib/pkgconfig/qinfer_c.pc)
  endif()
  foreach(file ${installed})
    if(NOT EXISTS ${work}/prefix/${file})
      message(FATAL_ERROR "cmake --install did not install ${file}")
    endif()
  endforeach()
  # pkg-config's view of the same prefix: a C program built with its flags alone.
  find_program(PKG_CONFIG pkg-config)
  if(PKG_CONFIG AND WITH_C)
    set(ENV{PKG_CONFIG_PATH} ${work}/prefix/lib/pkgconfig:${work}/prefix/share/pkgconfig)
    execute_process(COMMAND ${PKG_CONFIG} --cflags --libs qinfer_c OUTPUT_VARIABLE flags
                    RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
    execute_process(COMMAND ${PKG_CONFIG} --modversion qinfer OUTPUT_VARIABLE version
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0 OR NOT flags MATCHES "-lqinfer_c")
      message(FATAL_ERROR "pkg-config does not know qinfer_c: ${flags}")
    endif()
    separate_arguments(flags UNIX_COMMAND "${flags}")
    run(cc -std=c99 -Wall -Wextra -Wpedantic -Werror
        ${CMAKE_CURRENT_LIST_DIR}/project/c_consumer.c ${flags} -o ${work}/pkg_config_consumer)
    execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${work}/prefix/lib
                            ${work}/pkg_config_consumer RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "the pkg-config consumer failed (qinfer ${version})")
    endif()
    message(STATUS "pkg-config: qinfer ${version}, qinfer_c links")
  endif()
elseif(MODE STREQUAL "vendored")
  file(COPY ${QINFER_SOURCE_DIR}/include/qinfer DESTINATION ${work}/vendor)
  list(APPEND args -DQINFER_VENDORED_INCLUDE=${work}/vendor)
endif()

run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/project -B ${work}/build ${args})
run(${CMAKE_COMMAND} --build ${work}/build)
run(${work}/build/consumer)
if(MODE STREQUAL "find_package" AND WITH_C)
  run(${work}/build/c_consumer_qinfer_c)
  run(${work}/build/c_consumer_qinfer_c_static)
endif()
