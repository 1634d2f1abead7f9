"""SOFIE-PyTorch: PyTorch models to SOFIE's standalone C++ inference code.

Importing the package makes ``ROOT.TMVA.Experimental.SOFIE.PyTorch.Parse`` accept
Python values (lists or tuples of shapes, dtype names, in-memory models) and raise
the exceptions of :mod:`sofie_pytorch.errors`.
"""

from __future__ import annotations

import logging
import sys

from .api import Conversion, convert, parse
from .errors import (
    InputSpecError,
    ModelLoadError,
    OutputError,
    SofiePyTorchError,
    TracingError,
    UnsupportedOperatorError,
)

__version__ = "0.1.0"

__all__ = [
    "Conversion",
    "InputSpecError",
    "ModelLoadError",
    "OutputError",
    "Reader",
    "SofiePyTorchError",
    "TracingError",
    "UnsupportedOperatorError",
    "convert",
    "parse",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> object:
    # Reader imports numpy and ROOT's interpreter: only when it is asked for.
    if name == "Reader":
        from .reader import Reader

        return Reader
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Inside the interpreter that libSofiePyTorch starts in root.exe or a compiled program,
# the package only traces; there is no PyROOT to register with.
if not getattr(sys, "_sofie_pytorch_embedded", False):
    from ._root import register as _register

    _register()
