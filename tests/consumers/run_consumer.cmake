# Configures, builds and runs tests/consumers/project in a fresh directory for one MODE.
# Inputs: QINFER_SOURCE_DIR, WORK_DIR, MODE, CMAKE_CXX_COMPILER, CMAKE_GENERATOR.
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
  # Install qinfer alone (no tests) into a private prefix first.
  run(${CMAKE_COMMAND} -S ${QINFER_SOURCE_DIR} -B ${work}/qinfer-build -G ${CMAKE_GENERATOR}
      -DQINFER_BUILD_TESTS=OFF -DQINFER_BUILD_BENCHMARKS=OFF -DQINFER_BUILD_EXAMPLES=OFF
      -DCMAKE_INSTALL_PREFIX=${work}/prefix)
  run(${CMAKE_COMMAND} --install ${work}/qinfer-build)
  list(APPEND args -DCMAKE_PREFIX_PATH=${work}/prefix)
elseif(MODE STREQUAL "vendored")
  file(COPY ${QINFER_SOURCE_DIR}/include/qinfer DESTINATION ${work}/vendor)
  list(APPEND args -DQINFER_VENDORED_INCLUDE=${work}/vendor)
endif()

run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/project -B ${work}/build ${args})
run(${CMAKE_COMMAND} --build ${work}/build)
run(${work}/build/consumer)
