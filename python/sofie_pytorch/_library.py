"""Finding libSofiePyTorch, the C++ half of the plugin."""

from __future__ import annotations

import os
from pathlib import Path

LIBRARY = "libSofiePyTorch.so"


def candidates() -> list[str]:
    """Where the library may be, most specific first."""
    found = []
    explicit = os.environ.get("SOFIE_PYTORCH_LIBRARY")
    if explicit:
        found.append(explicit)
    here = Path(__file__).resolve().parent
    found.append(str(here / "lib" / LIBRARY))  # a pip-installed package
    found.append(str(here.parent.parent / "build" / "lib" / LIBRARY))  # the source tree
    found.append("libSofiePyTorch")  # ROOT's dynamic path (installed into ROOT)
    return found
