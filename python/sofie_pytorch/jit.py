"""Compiling generated code with cling in the running process, and calling it.

The generated code calls BLAS (sgemm_, sgemv_, saxpy_, scopy_). Those calls must reach
OpenBLAS: left to find the symbols on its own, cling was seen to bind them to another
library (torch's own sgemm_) and give silently wrong results. load_blas() binds them
explicitly before any generated header is compiled.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SofiePyTorchError

log = logging.getLogger(__name__)

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
    """Bind the generated code's BLAS calls to OpenBLAS for cling, once per process;
    return the library's name.

    The C++ library does it (SOFIE::PyTorch::BindBlasForCling), so that the Python and
    C++ readers share one binding: torch's libtorch_cpu exports its own sgemm_ (another
    BLAS, with other conventions), and cling must not bind generated code to it.
    """
    with _lock:
        if "blas" in _state:
            return _state["blas"]
        from ._root import _load

        namespace = _load()
        try:
            name = str(namespace.BindBlasForCling())
        except Exception as exc:  # noqa: BLE001 - cppyy raises the C++ ParseError
            message = exc.what() if hasattr(exc, "what") else exc
            raise JitError(str(message)) from None
        _state["blas"] = name
        log.debug("bound the generated code's BLAS calls to %s", name)
        return name


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
