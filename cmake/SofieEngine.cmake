# The genuine SOFIE engine, from the `sofie` package on PyPI: its headers from the source
# distribution, its two libraries (libSOFIE_core, libSOFIE_parsers) either prebuilt from
# the same version's wheel or compiled from the sdist.
#
# Both are fetched with pip into the build tree (never into the source tree). The switch:
#
#   SOFIE_ENGINE=auto   (default) the wheel's prebuilt libraries wherever pip finds a wheel
#                       of sofie==SOFIE_SDIST_VERSION for this platform and the compiler
#                       is g++/clang++ with libstdc++'s C++11 ABI; otherwise compiled
#   SOFIE_ENGINE=wheel  the wheel's libraries, or a configure error saying why not
#   SOFIE_ENGINE=sdist  compiled from the sdist (about 8 minutes on 2 cores; object files
#                       stay in the build tree, so a re-configure does not rebuild it)
#
# Why the wheel's libraries fit the sdist's headers (checked on 2026-12-03, see
# test/python/test_engine.py, which asserts the parts that can change): the wheel is built
# by the maintainers from the same sources (cibuildwheel, manylinux_2_28, g++ 14, C++20),
# the engine's headers and sources have no conditional compilation but `_WIN32`, its
# CMake files set no compile definitions, the libraries use libstdc++'s C++11 ABI
# (std::__cxx11 symbols) like Debian's g++, and they need only libstdc++, libm, libgcc_s
# and libc (protobuf is linked in statically).
#
# Everything that knows where SOFIE comes from lives in this file: a build against a ROOT
# that ships TMVA SOFIE would replace it (option SOFIE_PYTORCH_USE_ROOT_SOFIE, untested here).

set(SOFIE_SDIST_VERSION "0.1.0" CACHE STRING "Version of the sofie package on PyPI (sdist and wheel)")
set(SOFIE_SOURCE_DIR "" CACHE PATH "An unpacked sofie source distribution (skips the download)")
set(SOFIE_ENGINE "auto" CACHE STRING
    "Where the SOFIE engine's libraries come from: auto (the prebuilt wheel where one exists for this platform, else compiled), wheel, or sdist (compiled)")
set_property(CACHE SOFIE_ENGINE PROPERTY STRINGS auto wheel sdist)
if(NOT SOFIE_ENGINE MATCHES "^(auto|wheel|sdist)$")
  message(FATAL_ERROR "SOFIE_ENGINE must be auto, wheel or sdist, not '${SOFIE_ENGINE}'")
endif()

# pip download of one distribution of sofie into `dir` (quiet: one status line).
function(_sofie_pip_download kind dir out_rc)
  if(kind STREQUAL "wheel")
    set(_only --only-binary :all:)
  else()
    set(_only --no-binary :all:)
  endif()
  message(STATUS "SOFIE engine: downloading the sofie==${SOFIE_SDIST_VERSION} ${kind} with pip")
  file(MAKE_DIRECTORY "${dir}")
  execute_process(
    COMMAND "${Python3_EXECUTABLE}" -m pip download --quiet --disable-pip-version-check
            ${_only} --no-deps "sofie==${SOFIE_SDIST_VERSION}" -d "${dir}"
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  if(NOT _rc EQUAL 0)
    message(STATUS "SOFIE engine: pip found no ${kind} of sofie==${SOFIE_SDIST_VERSION} here (exit ${_rc}):\n${_err}")
  endif()
  set(${out_rc} "${_rc}" PARENT_SCOPE)
endfunction()

if(NOT SOFIE_SOURCE_DIR)
  set(_sdist_dir "${CMAKE_BINARY_DIR}/_deps/sofie-sdist")
  set(_unpacked "${_sdist_dir}/sofie-${SOFIE_SDIST_VERSION}")
  if(NOT EXISTS "${_unpacked}/SOFIE/core/CMakeLists.txt")
    _sofie_pip_download(sdist "${_sdist_dir}" _rc)
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

# ---- The wheel's prebuilt libraries
# Why the wheel cannot serve this configuration ("" if it can): the wheel's libraries are
# Linux ELF files using libstdc++'s C++11 ABI.
function(_sofie_wheel_unusable out_var)
  set(_why "")
  if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux" OR CMAKE_CROSSCOMPILING)
    set(_why "not a native Linux build")
  elseif(NOT CMAKE_CXX_COMPILER_ID MATCHES "^(GNU|Clang)$")
    set(_why "the compiler (${CMAKE_CXX_COMPILER_ID}) is not g++ or clang++")
  elseif(CMAKE_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0" OR CMAKE_CXX_FLAGS MATCHES "-stdlib=libc\\+\\+")
    set(_why "CMAKE_CXX_FLAGS select another C++ library ABI than the wheel's (libstdc++, C++11 ABI)")
  endif()
  set(${out_var} "${_why}" PARENT_SCOPE)
endfunction()

# Downloads the wheel (once per build tree) and unpacks only its two engine libraries;
# sets out_var to the directory holding them, or "" when pip has no wheel for this platform.
function(_sofie_fetch_wheel out_var wheel_name_var)
  set(_dir "${CMAKE_BINARY_DIR}/_deps/sofie-wheel")
  file(GLOB _wheels "${_dir}/sofie-${SOFIE_SDIST_VERSION}-*.whl")
  if(NOT _wheels)
    _sofie_pip_download(wheel "${_dir}" _rc)
    file(GLOB _wheels "${_dir}/sofie-${SOFIE_SDIST_VERSION}-*.whl")
  endif()
  set(${out_var} "" PARENT_SCOPE)
  set(${wheel_name_var} "" PARENT_SCOPE)
  if(NOT _wheels)
    return()
  endif()
  list(GET _wheels 0 _wheel)
  set(_libs "${_dir}/unpacked/sofie")
  if(NOT EXISTS "${_libs}/libSOFIE_core.so" OR NOT EXISTS "${_libs}/libSOFIE_parsers.so"
     OR "${_wheel}" IS_NEWER_THAN "${_libs}/libSOFIE_parsers.so")
    file(REMOVE_RECURSE "${_dir}/unpacked")
    file(ARCHIVE_EXTRACT INPUT "${_wheel}" DESTINATION "${_dir}/unpacked"
         PATTERNS "sofie/libSOFIE_core.so" "sofie/libSOFIE_parsers.so")
  endif()
  if(EXISTS "${_libs}/libSOFIE_core.so" AND EXISTS "${_libs}/libSOFIE_parsers.so")
    get_filename_component(_name "${_wheel}" NAME)
    set(${out_var} "${_libs}" PARENT_SCOPE)
    set(${wheel_name_var} "${_name}" PARENT_SCOPE)
  else()
    message(STATUS "SOFIE engine: ${_wheel} holds no sofie/libSOFIE_core.so and libSOFIE_parsers.so")
  endif()
endfunction()

# ---- Which engine this configuration uses
_sofie_engine_signature("${_sofie}" SOFIE_ENGINE_SIGNATURE)
set(_signature_name "SOFIE_engine.signature")
set(_lib_dir "${CMAKE_BINARY_DIR}/lib")
set(SOFIE_ENGINE_REUSED "")
if(SOFIE_ENGINE_PREBUILT_DIR AND NOT SOFIE_ENGINE STREQUAL "wheel")
  set(_pre "${SOFIE_ENGINE_PREBUILT_DIR}")
  set(_their "")
  if(EXISTS "${_pre}/${_signature_name}")
    file(READ "${_pre}/${_signature_name}" _their)
  endif()
  if(NOT EXISTS "${_pre}/libSOFIE_core.so" OR NOT EXISTS "${_pre}/libSOFIE_parsers.so")
    message(STATUS "SOFIE engine: no libraries in ${_pre}, not reusing them")
  elseif(NOT _their STREQUAL SOFIE_ENGINE_SIGNATURE)
    message(STATUS "SOFIE engine: ${_pre} holds no engine compiled from these sources with these flags, not reusing it")
  else()
    set(SOFIE_ENGINE_REUSED "${_pre}")
  endif()
endif()
set(SOFIE_ENGINE_REUSED "${SOFIE_ENGINE_REUSED}" CACHE INTERNAL "The directory whose compiled engine this build reuses" FORCE)

set(_wheel_libs "")
if(NOT SOFIE_ENGINE_REUSED AND NOT SOFIE_ENGINE STREQUAL "sdist")
  _sofie_wheel_unusable(_why)
  if(NOT _why)
    _sofie_fetch_wheel(_wheel_libs _wheel_name)
    if(NOT _wheel_libs)
      set(_why "pip found no sofie==${SOFIE_SDIST_VERSION} wheel for this platform")
    endif()
  endif()
  if(_why AND SOFIE_ENGINE STREQUAL "wheel")
    message(FATAL_ERROR "SOFIE_ENGINE=wheel, but the wheel's engine cannot be used: ${_why}. "
                        "Configure with -DSOFIE_ENGINE=sdist to compile it.")
  elseif(_why)
    message(STATUS "SOFIE engine: ${_why}; compiling it from the sdist instead")
  endif()
endif()

# What this configuration's engine is (tests read it from CMakeCache.txt): "wheel <file>",
# "reused <directory>" or "sdist".
if(SOFIE_ENGINE_REUSED)
  set(_origin "reused ${SOFIE_ENGINE_REUSED}")
elseif(_wheel_libs)
  set(_origin "wheel ${_wheel_name}")
else()
  set(_origin "sdist")
endif()
# A build tree switched between engines: build/lib holds the other engine's libraries,
# which the build would take as up to date (copied files are newer than object files).
if(DEFINED CACHE{SOFIE_ENGINE_ORIGIN} AND NOT SOFIE_ENGINE_ORIGIN STREQUAL _origin)
  file(REMOVE "${_lib_dir}/libSOFIE_core.so" "${_lib_dir}/libSOFIE_parsers.so"
              "${_lib_dir}/${_signature_name}")
endif()
set(SOFIE_ENGINE_ORIGIN "${_origin}" CACHE INTERNAL "Where this build's SOFIE engine comes from" FORCE)

if(SOFIE_ENGINE_REUSED OR _wheel_libs)
  if(_wheel_libs)
    message(STATUS "SOFIE engine: the prebuilt libraries of ${_wheel_name} (no compile)")
    # Copied next to our library, as a compiled engine would be: ROOT's library directory
    # links to build/lib, and the install rules take them from there.
    foreach(_lib libSOFIE_core.so libSOFIE_parsers.so)
      configure_file("${_wheel_libs}/${_lib}" "${_lib_dir}/${_lib}" COPYONLY)
    endforeach()
    set(_engine_dir "${_lib_dir}")
  else()
    message(STATUS "SOFIE engine: reusing ${SOFIE_ENGINE_REUSED} (same sources, compiler and flags)")
    set(_engine_dir "${SOFIE_ENGINE_REUSED}")
  endif()
  set(SOFIE_ENGINE_IMPORTED TRUE)
  add_library(SOFIE_core SHARED IMPORTED)
  set_target_properties(SOFIE_core PROPERTIES
    IMPORTED_LOCATION "${_engine_dir}/libSOFIE_core.so"
    IMPORTED_SONAME "libSOFIE_core.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_sofie}/core/inc")
  add_library(SOFIE_parsers SHARED IMPORTED)
  set_target_properties(SOFIE_parsers PROPERTIES
    IMPORTED_LOCATION "${_engine_dir}/libSOFIE_parsers.so"
    IMPORTED_SONAME "libSOFIE_parsers.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_sofie}/parsers/inc"
    INTERFACE_LINK_LIBRARIES SOFIE_core)
else()
  message(STATUS "SOFIE engine: compiled from the sofie==${SOFIE_SDIST_VERSION} sdist (about 8 minutes on 2 cores, once per build tree)")
  set(SOFIE_ENGINE_IMPORTED FALSE)
  # The engine needs C++20 (std::span and friends); our own code does not.
  set(_saved_std "${CMAKE_CXX_STANDARD}")
  set(CMAKE_CXX_STANDARD 20)
  add_subdirectory("${_sofie}/core" "${CMAKE_BINARY_DIR}/sofie/core" EXCLUDE_FROM_ALL)
  add_subdirectory("${_sofie}/parsers" "${CMAKE_BINARY_DIR}/sofie/parsers" EXCLUDE_FROM_ALL)
  set(CMAKE_CXX_STANDARD "${_saved_std}")
  foreach(_t SOFIE_core SOFIE_parsers)
    set_target_properties(${_t} PROPERTIES
      CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON
      LIBRARY_OUTPUT_DIRECTORY "${_lib_dir}")
  endforeach()
  # The signature goes next to the libraries once both are linked (and is removed now if
  # it describes another configuration, so that a half-done rebuild claims nothing).
  set(_sig_now "${CMAKE_BINARY_DIR}/CMakeFiles/${_signature_name}")
  file(WRITE "${_sig_now}.new" "${SOFIE_ENGINE_SIGNATURE}")
  file(COPY_FILE "${_sig_now}.new" "${_sig_now}" ONLY_IF_DIFFERENT)
  set(_sig_lib "${_lib_dir}/${_signature_name}")
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
