# A shared library shaped like one of NVIDIA's driver libraries (libcuda.so.1, libnvidia-ml.so.1): SONAME
# <OUTPUT_NAME>.so.1 plus the link-time symlink, only the symbols its version script EXPORTS lists, and nothing
# left undefined, except in sanitized builds, which take the sanitizer runtime from the (instrumented) program.
#   xg_driver_library(TARGET OUTPUT_NAME cuda DIRECTORY <dir> EXPORTS <exports.map>)
function(xg_driver_library target)
  cmake_parse_arguments(A "" "OUTPUT_NAME;DIRECTORY;EXPORTS" "" ${ARGN})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ${A_OUTPUT_NAME}
    SOVERSION 1
    LIBRARY_OUTPUT_DIRECTORY ${A_DIRECTORY}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(${target} PRIVATE -Wl,--version-script=${A_EXPORTS})
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${A_EXPORTS})
  if(NOT XG_SANITIZE)
    target_link_options(${target} PRIVATE -Wl,--no-undefined)
  endif()
endfunction()
