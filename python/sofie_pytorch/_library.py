"""Finding libSofiePyTorch, the C++ half of the plugin, and the headers cling reads."""

from __future__ import annotations

import os
from pathlib import Path

LIBRARY = "libSofiePyTorch.so"

_HERE = Path(__file__).resolve().parent
# An installed package (pip install .) carries its library and headers inside itself.
PACKAGE_LIB = _HERE / "lib"
PACKAGE_INCLUDE = _HERE / "include"


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
