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

# ---- Reusing an engine built by another configuration of this project
# The wheel test (test/python/test_pip_install.py) builds the wheel next to the make build;
# compiling the engine twice costs about 8 minutes on 2 cores. With SOFIE_ENGINE_PREBUILT_DIR
# (the make build's build/lib) the libraries found there are used instead, but only when
# the signature they were built with (the engine's sources, the compiler, the build type
# and every flag that reaches its compilation) equals this configuration's; otherwise the
# engine is compiled as usual. The signature file is written when the engine is linked.
set(SOFIE_ENGINE_PREBUILT_DIR "" CACHE PATH
    "A directory with libSOFIE_core.so, libSOFIE_parsers.so and SOFIE_engine.signature from another build of this project, reused when built from the same sources with the same compiler and flags")

function(_sofie_engine_signature sofie_dir out_var)
  file(GLOB_RECURSE _files LIST_DIRECTORIES false RELATIVE "${sofie_dir}"
       "${sofie_dir}/core/*" "${sofie_dir}/parsers/*")
  list(SORT _files)
  set(_sources "")
  foreach(_f IN LISTS _files)
    file(SHA256 "${sofie_dir}/${_f}" _h)
    string(APPEND _sources "${_f} ${_h}\n")
  endforeach()
  string(SHA256 _sources_hash "${_sources}")
  string(TOUPPER "${CMAKE_BUILD_TYPE}" _cfg)
  get_filename_component(_cxx "${CMAKE_CXX_COMPILER}" REALPATH)
  set(_text "sofie-sources ${_sources_hash}\n")
  string(APPEND _text "compiler ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION} ${_cxx}\n")
  string(APPEND _text "build-type ${CMAKE_BUILD_TYPE}\n")
  string(APPEND _text "cxx-standard 20\n")
  foreach(_v CMAKE_CXX_FLAGS CMAKE_CXX_FLAGS_${_cfg} CMAKE_SHARED_LINKER_FLAGS
             CMAKE_SHARED_LINKER_FLAGS_${_cfg} CMAKE_INTERPROCEDURAL_OPTIMIZATION
             CMAKE_CXX_COMPILER_TARGET CMAKE_SYSROOT)
    string(APPEND _text "${_v} ${${_v}}\n")
  endforeach()
  set(${out_var} "${_text}" PARENT_SCOPE)
endfunction()

_sofie_engine_signature("${_sofie}" SOFIE_ENGINE_SIGNATURE)
set(_signature_name "SOFIE_engine.signature")
set(SOFIE_ENGINE_REUSED "" CACHE INTERNAL "The directory whose engine libraries this build uses")
set(SOFIE_ENGINE_REUSED "")
if(SOFIE_ENGINE_PREBUILT_DIR)
  set(_pre "${SOFIE_ENGINE_PREBUILT_DIR}")
  set(_their "")
  if(EXISTS "${_pre}/${_signature_name}")
    file(READ "${_pre}/${_signature_name}" _their)
  endif()
  if(NOT EXISTS "${_pre}/libSOFIE_core.so" OR NOT EXISTS "${_pre}/libSOFIE_parsers.so")
    message(STATUS "SOFIE engine: no libraries in ${_pre}, building it")
  elseif(NOT _their STREQUAL SOFIE_ENGINE_SIGNATURE)
    message(STATUS "SOFIE engine: ${_pre} was built from other sources or with other flags, building it\n"
                   "  theirs:\n${_their}  ours:\n${SOFIE_ENGINE_SIGNATURE}")
  else()
    set(SOFIE_ENGINE_REUSED "${_pre}")
  endif()
endif()
set(SOFIE_ENGINE_REUSED "${SOFIE_ENGINE_REUSED}" CACHE INTERNAL "" FORCE)

if(SOFIE_ENGINE_REUSED)
  message(STATUS "SOFIE engine: reusing ${SOFIE_ENGINE_REUSED} (same sources, compiler and flags)")
  add_library(SOFIE_core SHARED IMPORTED)
  set_target_properties(SOFIE_core PROPERTIES
    IMPORTED_LOCATION "${SOFIE_ENGINE_REUSED}/libSOFIE_core.so"
    IMPORTED_SONAME "libSOFIE_core.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_sofie}/core/inc")
  add_library(SOFIE_parsers SHARED IMPORTED)
  set_target_properties(SOFIE_parsers PROPERTIES
    IMPORTED_LOCATION "${SOFIE_ENGINE_REUSED}/libSOFIE_parsers.so"
    IMPORTED_SONAME "libSOFIE_parsers.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_sofie}/parsers/inc"
    INTERFACE_LINK_LIBRARIES SOFIE_core)
else()
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
  # The signature goes next to the libraries once both are linked (and is removed now if
  # it describes another configuration, so that a half-done rebuild claims nothing).
  set(_sig_now "${CMAKE_BINARY_DIR}/CMakeFiles/${_signature_name}")
  file(WRITE "${_sig_now}.new" "${SOFIE_ENGINE_SIGNATURE}")
  file(COPY_FILE "${_sig_now}.new" "${_sig_now}" ONLY_IF_DIFFERENT)
  set(_sig_lib "${CMAKE_BINARY_DIR}/lib/${_signature_name}")
  if(EXISTS "${_sig_lib}")
    file(READ "${_sig_lib}" _old)
    if(NOT _old STREQUAL SOFIE_ENGINE_SIGNATURE)
      file(REMOVE "${_sig_lib}")
    endif()
  endif()
  add_custom_command(OUTPUT "${_sig_lib}"
    COMMAND "${CMAKE_COMMAND}" -E copy "${_sig_now}" "${_sig_lib}"
    DEPENDS "${_sig_now}" SOFIE_core SOFIE_parsers
    VERBATIM)
  add_custom_target(sofie_engine_signature ALL DEPENDS "${_sig_lib}")
endif()

set(SOFIE_CORE_INCLUDE_DIR "${_sofie}/core/inc")
set(SOFIE_PARSERS_INCLUDE_DIR "${_sofie}/parsers/inc")
# The engine's ONNX node reader (onnx.hxx), which our own operators' parse functions use.
set(SOFIE_PARSERS_SOURCE_DIR "${_sofie}/parsers/src")
