"""Compiling generated code with cling in the running process, and calling it.

The generated code calls BLAS (sgemm_, sgemv_). cling must resolve those symbols to a
real BLAS loaded with global visibility *before* it compiles the header: left to find
them on its own it was seen to give silently wrong results (design notes, "traps").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SofiePyTorchError

log = logging.getLogger(__name__)

_BLAS_NAMES = ("libopenblas.so.0", "libopenblas.so", "libblas.so.3")
_lock = threading.Lock()
_state: dict[str, Any] = {}
_counter = itertools.count(1)

# SOFIE type name -> numpy dtype of the buffers infer() reads and returns.
NUMPY_DTYPES = {
    "float": np.float32,
    "double": np.float64,
    "int64_t": np.int64,
    "int32_t": np.int32,
    "bool": np.uint8,  # SOFIE returns bool tensors as uint8
    "uint8_t": np.uint8,
}


class JitError(SofiePyTorchError):
    """cling could not compile or run the generated code."""


def load_blas() -> str:
    """Load a BLAS library with global symbols, once per process; return its name."""
    with _lock:
        if "blas" in _state:
            return _state["blas"]
        names = list(_BLAS_NAMES)
        found = ctypes.util.find_library("openblas")
        if found:
            names.append(found)
        for name in names:
            try:
                ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
            except OSError:
                continue
            _state["blas"] = name
            log.debug("loaded %s for the generated code", name)
            return name
    raise JitError(
        "no BLAS library found for the generated code (tried "
        + ", ".join(names)
        + "): install OpenBLAS, e.g. `apt-get install libopenblas-dev`"
    )


def unique_name(base: str) -> str:
    """A model name not used before in this process: cling cannot redefine a namespace."""
    return f"{base}_jit{next(_counter)}"


def declare(header: Path) -> Any:
    """Compile a generated header with cling; return its C++ namespace (SOFIE_<stem>).

    The header's text is declared, not #include'd by path, so that no file name is ever
    pasted into C++ source.
    """
    load_blas()
    import ROOT

    code = Path(header).read_text()
    namespace_name = f"SOFIE_{Path(header).stem}"
    with _lock:
        if not ROOT.gInterpreter.Declare(code):
            raise JitError(f"cling could not compile the generated code of {header}")
    namespace = getattr(ROOT, namespace_name, None)
    if namespace is None:
        raise JitError(f"{header} declares no namespace {namespace_name}")
    return namespace


def to_numpy(values: Any, dtype: Any, shape: Sequence[int]) -> np.ndarray:
    """Copy a std::vector returned by infer() into a numpy array of the given shape."""
    count = int(values.size())
    array = np.empty(count, dtype=dtype)
    if count:
        view = values.data()
        view.reshape((count,))
        array[:] = np.frombuffer(view, dtype=dtype, count=count)
    return array.reshape(shape) if shape else array
