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

set_target_properties(SofiePyTorch SOFIE_core SOFIE_parsers PROPERTIES INSTALL_RPATH "${_rpath}")

install(TARGETS SofiePyTorch SOFIE_core SOFIE_parsers
  LIBRARY DESTINATION "${SOFIE_PYTORCH_INSTALL_LIBDIR}")
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
