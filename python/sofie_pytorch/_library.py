"""Finding libSofiePyTorch, the C++ half of the plugin, and the headers cling reads."""

from __future__ import annotations

import os
from pathlib import Path

LIBRARY = "libSofiePyTorch.so"

_HERE = Path(__file__).resolve().parent
# An installed package (pip install .) carries its library, headers and CMake package
# configuration inside itself: the package directory is the installation prefix.
PACKAGE_DIR = _HERE
PACKAGE_LIB = _HERE / "lib"
PACKAGE_INCLUDE = _HERE / "include"
PACKAGE_CMAKE = PACKAGE_LIB / "cmake" / "SofiePyTorch"


def candidates() -> list[str]:
    """Where the library may be, most specific first."""
    found = []
    explicit = os.environ.get("SOFIE_PYTORCH_LIBRARY")
    if explicit:
        found.append(explicit)
    found.append(str(PACKAGE_LIB / LIBRARY))  # a pip-installed package
    found.append(str(_HERE.parent.parent / "build" / "lib" / LIBRARY))  # the source tree
    found.append("libSofiePyTorch")  # ROOT's dynamic path (installed into ROOT)
    return found


def include_dirs() -> list[str]:
    """Header directories cling needs for the library's dictionary, in search order.

    The <span> shim (compat/) comes first: below C++20 it stands in for the standard
    header that the SOFIE headers include. A build tree's dictionary already knows its
    source paths; an installed package must tell cling where its copies are.
    """
    if (PACKAGE_INCLUDE / "TMVA").is_dir():
        return [str(PACKAGE_INCLUDE / "compat"), str(PACKAGE_INCLUDE)]
    return []


def cmake_dir() -> Path:
    """The directory of SofiePyTorchConfig.cmake of an installed package. A make build
    has its own in build/ (find_package with -DSofiePyTorch_DIR=<build directory>)."""
    if (PACKAGE_CMAKE / "SofiePyTorchConfig.cmake").is_file():
        return PACKAGE_CMAKE
    build = _HERE.parent.parent / "build"
    if (build / "SofiePyTorchConfig.cmake").is_file():
        return build
    from .errors import SofiePyTorchError

    raise SofiePyTorchError(
        "no SofiePyTorchConfig.cmake: install the package (pip install .) or build it (make)"
    )


def cmake_prefix() -> Path:
    """The prefix under which find_package finds an installed package's configuration
    (lib/cmake/SofiePyTorch/), for CMAKE_PREFIX_PATH."""
    if (PACKAGE_CMAKE / "SofiePyTorchConfig.cmake").is_file():
        return PACKAGE_DIR
    from .errors import SofiePyTorchError

    raise SofiePyTorchError(
        "no installed SofiePyTorchConfig.cmake (pip install .); a make build is found "
        "with -DSofiePyTorch_DIR=$(sofie-pytorch config --cmake-dir)"
    )
