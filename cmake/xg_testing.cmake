# Test helpers shared by every directory.
#
# xg_unit_test(NAME SOURCES... LIBS ... LABELS ...): a doctest program registered with CTest.
# xg_fuzz_target(NAME SOURCE LIBS ... CORPUS dir): a libFuzzer target; in `make test` it runs for
#   XG_FUZZ_SHORT_SECONDS over its seed corpus (label `fuzz`); `make fuzz` runs it long (scripts/fuzz.sh).
set(XG_FUZZ_SHORT_SECONDS 5 CACHE STRING "Seconds per fuzz target inside make test")

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

# xg_add_object_to_executables(OBJLIB): links the object library OBJLIB into every executable defined so far
# under the top-level source directory (what a sanitizer's default options must be compiled into), except the
# ones built without the sanitizers (-fno-sanitize=all: the static zone init and pause).
function(xg_add_object_to_executables objlib)
  set(dirs ${PROJECT_SOURCE_DIR})
  while(dirs)
    list(POP_FRONT dirs dir)
    get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
    list(APPEND dirs ${subdirs})
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(t IN LISTS targets)
      get_target_property(type ${t} TYPE)
      get_target_property(link_opts ${t} LINK_OPTIONS)
      if(type STREQUAL "EXECUTABLE" AND NOT "-fno-sanitize=all" IN_LIST link_opts)
        target_sources(${t} PRIVATE $<TARGET_OBJECTS:${objlib}>)
      endif()
    endforeach()
  endwhile()
endfunction()
