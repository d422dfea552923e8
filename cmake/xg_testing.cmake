# Test helpers shared by every directory.
#
# xg_unit_test(NAME SOURCES... LIBS ... LABELS ...): a doctest program registered with CTest.
# xg_fuzz_target(NAME SOURCE LIBS ... CORPUS dir): a libFuzzer target; in `make test` it runs for
#   XG_FUZZ_SHORT_SECONDS over its seed corpus (label `fuzz`); `make fuzz` runs it long (scripts/fuzz.sh).
set(XG_FUZZ_SHORT_SECONDS 10 CACHE STRING "Seconds per fuzz target inside make test")

function(xg_unit_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE xg_test_support ${T_LIBS})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()

function(xg_fuzz_target name)
  cmake_parse_arguments(F "" "SOURCE;CORPUS" "LIBS" ${ARGN})
  if(NOT XG_FUZZ)
    return()
  endif()
  add_executable(${name} ${F_SOURCE})
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}.corpus)
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                   ${CMAKE_SOURCE_DIR}/scripts/run-fuzz.sh $<TARGET_FILE:${name}> ${F_CORPUS} ${work}
                   ${XG_FUZZ_SHORT_SECONDS})
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 300)
  # scripts/fuzz.sh (make fuzz) finds each target's seed corpus here.
  file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/${name}.seeds CONTENT "${F_CORPUS}")
endfunction()

add_library(xg_test_support STATIC ${PROJECT_SOURCE_DIR}/tests/support/doctest_main.cc
                                   ${PROJECT_SOURCE_DIR}/tests/support/child.cc)
target_include_directories(xg_test_support PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(xg_test_support PUBLIC doctest::doctest)
