# ROOT as installed from PyPI (pip install ROOT).
#
# The wheel's ROOTConfig-targets.cmake points at a directory that only existed on the
# machine that built the wheel (.../mock_site_packages/ROOT), so find_package(ROOT)
# fails with a fatal error. We locate the package through Python instead, without
# importing it, and define the few imported targets and tools this project needs.
#
# Defines: ROOT_SYS_DIR, ROOT_INCLUDE_DIR, ROOT_LIBRARY_DIR, ROOT_ROOTCLING, ROOT::Core.

execute_process(
  COMMAND "${Python3_EXECUTABLE}" -c
    "import importlib.util, os; s = importlib.util.find_spec('ROOT'); print(os.path.dirname(s.origin) if s else '')"
  OUTPUT_VARIABLE ROOT_SYS_DIR OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0 OR NOT ROOT_SYS_DIR OR NOT EXISTS "${ROOT_SYS_DIR}/lib/libCore.so")
  message(FATAL_ERROR
    "ROOT was not found in the Python environment of ${Python3_EXECUTABLE}: "
    "install it with `pip install ROOT==0.1a12` (or run `make demo`, which sets up .venv)")
endif()

set(ROOT_INCLUDE_DIR "${ROOT_SYS_DIR}/include")
set(ROOT_LIBRARY_DIR "${ROOT_SYS_DIR}/lib")
find_program(ROOT_ROOTCLING rootcling PATHS "${ROOT_SYS_DIR}/bin" NO_DEFAULT_PATH REQUIRED)

if(NOT TARGET ROOT::Core)
  add_library(ROOT::Core SHARED IMPORTED)
  set_target_properties(ROOT::Core PROPERTIES
    IMPORTED_LOCATION "${ROOT_LIBRARY_DIR}/libCore.so"
    INTERFACE_INCLUDE_DIRECTORIES "${ROOT_INCLUDE_DIR}")
endif()
message(STATUS "ROOT from the Python package in ${ROOT_SYS_DIR}")

# rootcling_dictionary(<target> HEADERS <h>... LINKDEF <file> INCLUDE_DIRS <dir>...
#                      DEPENDS <file>... [ROOTMAP_DECL <C++ declaration>])
# (write a semicolon in the declaration as $<SEMICOLON>: CMake splits arguments at ';')
# Generates the dictionary source of a shared library target and adds it to the target;
# the rootmap (for autoloading) and the _rdict.pcm land next to the library.
set(_rootmap_script "${CMAKE_CURRENT_LIST_DIR}/AddRootmapDecls.cmake")
function(rootcling_dictionary target)
  cmake_parse_arguments(ARG "" "LINKDEF;ROOTMAP_DECL" "HEADERS;INCLUDE_DIRS;DEPENDS" ${ARGN})
  set(_dict "${CMAKE_CURRENT_BINARY_DIR}/G__${target}.cxx")
  set(_libdir "${CMAKE_BINARY_DIR}/lib")
  set(_incs)
  foreach(_d IN LISTS ARG_INCLUDE_DIRS)
    list(APPEND _incs "-I${_d}")
  endforeach()
  add_custom_command(
    OUTPUT "${_dict}" "${_libdir}/lib${target}_rdict.pcm" "${_libdir}/lib${target}.rootmap"
    COMMAND "${ROOT_ROOTCLING}" -f "${_dict}"
            -s "${_libdir}/lib${target}.so"
            -rml "lib${target}.so"
            -rmf "${_libdir}/lib${target}.rootmap"
            ${_incs} ${ARG_HEADERS} "${ARG_LINKDEF}"
    COMMAND "${CMAKE_COMMAND}" "-DROOTMAP=${_libdir}/lib${target}.rootmap"
            "-DDECL=${ARG_ROOTMAP_DECL}" -P "${_rootmap_script}"
    DEPENDS ${ARG_LINKDEF} ${ARG_DEPENDS} "${_rootmap_script}"
    COMMENT "rootcling: dictionary of ${target}"
    VERBATIM)
  target_sources(${target} PRIVATE "${_dict}")
  # The dictionary is compiled with the target's standard (C++20, like the SOFIE engine
  # it includes); ROOT's headers warn that the wheel was built as C++17, which only
  # matters for ROOT's own classes, none of which cross this library's interface.
  set_source_files_properties("${_dict}" PROPERTIES COMPILE_OPTIONS "-Wno-cpp")
endfunction()
