"""Compiling generated code with cling in the running process, and calling it.

The generated code calls BLAS (sgemm_, sgemv_, saxpy_, scopy_). Those calls must reach
OpenBLAS: left to find the symbols on its own, cling was seen to bind them to another
library (torch's own sgemm_) and give silently wrong results. load_blas() binds them
explicitly before any generated header is compiled.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import logging
import os
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


# The BLAS routines SOFIE's generated code calls, declared exactly as it declares them
# (RModel_Base.cxx), with the Fortran calling convention.
_BLAS_SIGNATURES = {
    "sgemm_": "const char *, const char *, const int *, const int *, const int *, const float *, "
              "const float *, const int *, const float *, const int *, const float *, float *, "
              "const int *",
    # SOFIE declares sgemv_'s output y as const float *: the declarations must agree.
    "sgemv_": "const char *, const int *, const int *, const float *, const float *, const int *, "
              "const float *, const int *, const float *, const float *, const int *",
    "saxpy_": "const int *, const float *, const float *, const int *, float *, const int *",
    "scopy_": "const int *, const float *, const int *, float *, const int *",
}


def _forwarders() -> str:
    """C++ definitions of the BLAS routines that call the chosen library's functions.

    Torch's libtorch_cpu exports its own sgemm_ (another BLAS, with other conventions):
    when torch is imported after ROOT, cling binds the generated code's sgemm_ to it and
    the results are garbage. Defining the routines in cling, as calls through pointers
    taken from OpenBLAS itself, makes the binding independent of the import order.
    """
    lines = ["#include <cstdint>", "namespace sofie_pytorch_blas {"]
    for name, args in _BLAS_SIGNATURES.items():
        lines.append(f"using {name}t = void (*)({args});")
        lines.append(f"{name}t {name}ptr = nullptr;")
    setters = ", ".join(f"std::intptr_t {n}" for n in _BLAS_SIGNATURES)
    body = " ".join(f"{n}ptr = reinterpret_cast<{n}t>({n});" for n in _BLAS_SIGNATURES)
    lines.append(f"void bind({setters}) {{ {body} }}")
    lines.append("}")
    for name, args in _BLAS_SIGNATURES.items():
        params = [f"{a.strip()} a{i}" for i, a in enumerate(args.split(","))]
        call = ", ".join(f"a{i}" for i in range(len(params)))
        lines.append(
            f'extern "C" void {name}({", ".join(params)}) '
            f"{{ sofie_pytorch_blas::{name}ptr({call}); }}"
        )
    return "\n".join(lines)


def load_blas() -> str:
    """Load OpenBLAS and bind the generated code's BLAS calls to it, once per process;
    return the library's name."""
    with _lock:
        if "blas" in _state:
            return _state["blas"]
        names = list(_BLAS_NAMES)
        found = ctypes.util.find_library("openblas")
        if found:
            names.append(found)
        for name in names:
            try:
                # DEEPBIND: OpenBLAS's calls to its own helpers stay inside it. Torch
                # links MKL statically and exports the same BLAS names; without it,
                # those can capture OpenBLAS's internal calls, and sgemm_ does nothing.
                library = ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL | os.RTLD_DEEPBIND)
                addresses = [ctypes.cast(getattr(library, f), ctypes.c_void_p).value
                             for f in _BLAS_SIGNATURES]
            except (OSError, AttributeError):
                continue
            import ROOT

            if not ROOT.gInterpreter.Declare(_forwarders()):
                raise JitError("cling could not declare the BLAS bindings")
            ROOT.sofie_pytorch_blas.bind(*addresses)
            _state["blas"] = name
            log.debug("bound the generated code's BLAS calls to %s", name)
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
