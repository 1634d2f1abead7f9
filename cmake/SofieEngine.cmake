# The genuine SOFIE engine, built from the `sofie` source distribution on PyPI.
#
# The sdist is fetched with pip into the build tree (never into the source tree) and its
# SOFIE/core and SOFIE/parsers directories are added as subprojects. Object files live in
# the build tree, so a re-configure does not rebuild the engine when nothing changed.
#
# Everything that knows where SOFIE comes from lives in this file: a build against a ROOT
# that ships TMVA SOFIE would replace it (option SOFIE_PYTORCH_USE_ROOT_SOFIE, untested here).

set(SOFIE_SDIST_VERSION "0.1.0" CACHE STRING "Version of the sofie source distribution on PyPI")
set(SOFIE_SOURCE_DIR "" CACHE PATH "An unpacked sofie source distribution (skips the download)")

if(NOT SOFIE_SOURCE_DIR)
  set(_sdist_dir "${CMAKE_BINARY_DIR}/_deps/sofie-sdist")
  set(_unpacked "${_sdist_dir}/sofie-${SOFIE_SDIST_VERSION}")
  if(NOT EXISTS "${_unpacked}/SOFIE/core/CMakeLists.txt")
    message(STATUS "Fetching sofie==${SOFIE_SDIST_VERSION} source distribution with pip")
    file(MAKE_DIRECTORY "${_sdist_dir}")
    execute_process(
      COMMAND "${Python3_EXECUTABLE}" -m pip download --quiet --no-binary :all: --no-deps
              "sofie==${SOFIE_SDIST_VERSION}" -d "${_sdist_dir}"
      RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "pip could not download sofie==${SOFIE_SDIST_VERSION} (exit ${_rc})")
    endif()
    file(ARCHIVE_EXTRACT INPUT "${_sdist_dir}/sofie-${SOFIE_SDIST_VERSION}.tar.gz"
         DESTINATION "${_sdist_dir}")
  endif()
  set(SOFIE_SOURCE_DIR "${_unpacked}")
endif()

set(_sofie "${SOFIE_SOURCE_DIR}/SOFIE")
if(NOT EXISTS "${_sofie}/core/CMakeLists.txt" OR NOT EXISTS "${_sofie}/parsers/CMakeLists.txt")
  message(FATAL_ERROR "No SOFIE/core and SOFIE/parsers in ${SOFIE_SOURCE_DIR}")
endif()

# The engine needs C++20 (std::span and friends); our own code does not.
set(_saved_std "${CMAKE_CXX_STANDARD}")
set(CMAKE_CXX_STANDARD 20)
add_subdirectory("${_sofie}/core" "${CMAKE_BINARY_DIR}/sofie/core" EXCLUDE_FROM_ALL)
add_subdirectory("${_sofie}/parsers" "${CMAKE_BINARY_DIR}/sofie/parsers" EXCLUDE_FROM_ALL)
set(CMAKE_CXX_STANDARD "${_saved_std}")
foreach(_t SOFIE_core SOFIE_parsers)
  set_target_properties(${_t} PROPERTIES
    CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON
    LIBRARY_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/lib")
endforeach()

set(SOFIE_CORE_INCLUDE_DIR "${_sofie}/core/inc")
set(SOFIE_PARSERS_INCLUDE_DIR "${_sofie}/parsers/inc")
# The engine's ONNX node reader (onnx.hxx), which our own operators' parse functions use.
set(SOFIE_PARSERS_SOURCE_DIR "${_sofie}/parsers/src")
