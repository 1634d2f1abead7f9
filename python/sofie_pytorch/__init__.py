"""SOFIE-PyTorch: PyTorch models to SOFIE's standalone C++ inference code.

Importing the package makes ``ROOT.TMVA.Experimental.SOFIE.PyTorch.Parse`` accept
Python values (lists or tuples of shapes, dtype names, in-memory models) and raise
the exceptions of :mod:`sofie_pytorch.errors`.
"""

from __future__ import annotations

import logging
import sys

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
    "InputSpecError",
    "ModelLoadError",
    "OutputError",
    "SofiePyTorchError",
    "TracingError",
    "UnsupportedOperatorError",
    "parse",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def parse(model: object, input_shapes: object, dtypes: object = None) -> object:
    """Parse a PyTorch model (path or object) into a SOFIE RModel."""
    from ._root import parse as _parse

    return _parse(model, input_shapes, dtypes)


# Inside the interpreter that libSofiePyTorch starts in root.exe or a compiled program,
# the package only traces; there is no PyROOT to register with.
if not getattr(sys, "_sofie_pytorch_embedded", False):
    from ._root import register as _register

    _register()
