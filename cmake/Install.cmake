# Install rules: what `pip install .` (scikit-build-core) puts into the wheel, and what
# `cmake --install` puts under a prefix.
#
# In a wheel everything lives inside the Python package, so that one directory holds
# what PyROOT, root.exe and compiled programs need, and nothing lands elsewhere in
# site-packages:
#
#   sofie_pytorch/lib/      libSofiePyTorch.so, its .rootmap and _rdict.pcm,
#                           libSOFIE_core.so, libSOFIE_parsers.so (RPATH $ORIGIN)
#   sofie_pytorch/include/  our headers, the <span> shim (compat/) and the SOFIE engine's
#                           headers, which cling reads when the package loads the library
#
# The engine's own install rules are not used: its subdirectories are EXCLUDE_FROM_ALL
# and would install into <prefix>/lib and <prefix>/include, i.e. site-packages itself.

if(SKBUILD)
  set(SOFIE_PYTORCH_INSTALL_LIBDIR "sofie_pytorch/lib")
  set(SOFIE_PYTORCH_INSTALL_INCLUDEDIR "sofie_pytorch/include")
  # ROOT's libraries are found next to the package, in the ROOT package of the same
  # site-packages (pip install ROOT), when the host process has not loaded them already.
  set(_rpath "$ORIGIN;$ORIGIN/../../ROOT/lib")
else()
  set(SOFIE_PYTORCH_INSTALL_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
  set(SOFIE_PYTORCH_INSTALL_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
  set(_rpath "$ORIGIN;${ROOT_LIBRARY_DIR}")
endif()

set_target_properties(SofiePyTorch PROPERTIES INSTALL_RPATH "${_rpath}")
install(TARGETS SofiePyTorch LIBRARY DESTINATION "${SOFIE_PYTORCH_INSTALL_LIBDIR}")
if(SOFIE_ENGINE_IMPORTED)
  # A prebuilt engine (the wheel's, or another build's: cmake/SofieEngine.cmake): copied as
  # it is, then its run path set to the installed one (the libraries sit side by side).
  install(IMPORTED_RUNTIME_ARTIFACTS SOFIE_core SOFIE_parsers
    LIBRARY DESTINATION "${SOFIE_PYTORCH_INSTALL_LIBDIR}")
  foreach(_lib libSOFIE_core.so libSOFIE_parsers.so)
    install(CODE "file(RPATH_SET FILE \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${SOFIE_PYTORCH_INSTALL_LIBDIR}/${_lib}\" NEW_RPATH \"\$ORIGIN\")")
  endforeach()
else()
  set_target_properties(SOFIE_core SOFIE_parsers PROPERTIES INSTALL_RPATH "$ORIGIN")
  install(TARGETS SOFIE_core SOFIE_parsers LIBRARY DESTINATION "${SOFIE_PYTORCH_INSTALL_LIBDIR}")
endif()
install(FILES
    "${CMAKE_BINARY_DIR}/lib/libSofiePyTorch.rootmap"
    "${CMAKE_BINARY_DIR}/lib/libSofiePyTorch_rdict.pcm"
  DESTINATION "${SOFIE_PYTORCH_INSTALL_LIBDIR}")

# Headers: ours (with compat/span), then the engine's (SOFIE/*.hxx from core and parsers).
install(DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/inc/"
  DESTINATION "${SOFIE_PYTORCH_INSTALL_INCLUDEDIR}")
install(DIRECTORY "${SOFIE_CORE_INCLUDE_DIR}/" "${SOFIE_PARSERS_INCLUDE_DIR}/"
  DESTINATION "${SOFIE_PYTORCH_INSTALL_INCLUDEDIR}")

# A wheel is built in a throw-away environment (pip's build isolation) from a source tree
# that may be gone later: paths to either must not be baked into the library. The
# installed library finds its environment from its own location instead
# (src/EmbeddedPython.cxx), and the package is importable there.
if(SKBUILD)
  get_target_property(_defs SofiePyTorch COMPILE_DEFINITIONS)
  list(FILTER _defs EXCLUDE REGEX "^SOFIE_PYTORCH_PYTHON_(DIR|EXECUTABLE)=")
  set_property(TARGET SofiePyTorch PROPERTY COMPILE_DEFINITIONS "${_defs}")
endif()

# ---- find_package(SofiePyTorch) for compiled programs, from the installation
# In a wheel the config sits inside the package (sofie_pytorch/lib/cmake/SofiePyTorch/:
# `sofie-pytorch config --cmake-dir` prints it, and `sofie-pytorch config --prefix` the
# directory for CMAKE_PREFIX_PATH); ROOT's headers are those of the ROOT package next to
# it in site-packages. Under a prefix (cmake --install), ROOT's are where they were found.
set(SP_LIBDIR "lib")
set(SP_INCLUDEDIR "include")
set(SP_CONFIG_TO_PREFIX "../../..")
set(_config_dir "${SOFIE_PYTORCH_INSTALL_LIBDIR}/cmake/SofiePyTorch")
if(SKBUILD)
  set(SP_ROOT_INCLUDE_DIR "../ROOT/include")
else()
  set(SP_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
  set(SP_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
  file(RELATIVE_PATH SP_CONFIG_TO_PREFIX "/p/${_config_dir}" "/p")
  set(SP_ROOT_INCLUDE_DIR "${ROOT_INCLUDE_DIR}")
endif()
set(SP_PYTHON_INCLUDE_DIRS "${Python3_INCLUDE_DIRS}")
configure_file("${CMAKE_CURRENT_LIST_DIR}/SofiePyTorchConfig.cmake.in"
               "${CMAKE_BINARY_DIR}/install/SofiePyTorchConfig.cmake" @ONLY)
include(CMakePackageConfigHelpers)
write_basic_package_version_file("${CMAKE_BINARY_DIR}/install/SofiePyTorchConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_BINARY_DIR}/install/SofiePyTorchConfig.cmake"
              "${CMAKE_BINARY_DIR}/install/SofiePyTorchConfigVersion.cmake"
  DESTINATION "${_config_dir}")

# ---- Autoloading in root.exe and PyROOT from a wheel
# ROOT reads the rootmap files of every directory on its dynamic library path, which in
# ROOT from PyPI is ROOT's own lib/ (and LD_LIBRARY_PATH, which an activated venv does not
# set). So the wheel puts one more rootmap there: site-packages/ROOT/lib/. Its library
# entry is a path relative to that directory (ROOT looks a library up along the same
# path), naming the library inside our package. The library, once loaded, tells cling
# where its headers are (src/InstalledHeaders.cxx).
if(SKBUILD)
  set(_wheel_rootmap "${CMAKE_BINARY_DIR}/install/libSofiePyTorch.rootmap")
  add_custom_command(OUTPUT "${_wheel_rootmap}"
    COMMAND "${CMAKE_COMMAND}" "-DIN=${CMAKE_BINARY_DIR}/lib/libSofiePyTorch.rootmap"
            "-DOUT=${_wheel_rootmap}" "-DFROM=libSofiePyTorch.so"
            "-DTO=../../sofie_pytorch/lib/libSofiePyTorch.so"
            -P "${CMAKE_CURRENT_LIST_DIR}/RelocateRootmap.cmake"
    DEPENDS "${CMAKE_BINARY_DIR}/lib/libSofiePyTorch.rootmap" "${CMAKE_CURRENT_LIST_DIR}/RelocateRootmap.cmake"
    VERBATIM)
  add_custom_target(wheel_rootmap ALL DEPENDS "${_wheel_rootmap}")
  add_dependencies(wheel_rootmap SofiePyTorch)
  install(FILES "${_wheel_rootmap}" DESTINATION "ROOT/lib")
endif()
