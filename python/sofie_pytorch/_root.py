"""The PyROOT side: loading the library and the Pythonic ``Parse`` entry point."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import Any

from . import errors
from ._library import candidates, include_dirs

log = logging.getLogger(__name__)

_state: dict[str, Any] = {}


def _load() -> Any:
    """Load libSofiePyTorch into ROOT once; return the C++ namespace SOFIE::PyTorch."""
    if "namespace" in _state:
        return _state["namespace"]
    with warnings.catch_warnings():
        # ROOT's PyPI build announces its alpha status when imported; a program that
        # imports ROOT itself still sees it, the command-line tool's output stays clean.
        warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha")
        import ROOT

    _materialise_jupyroot_hook(ROOT)
    # Before the library loads: its dictionary's headers are read from these paths.
    for directory in include_dirs():
        ROOT.gInterpreter.AddIncludePath(directory)
    tried = []
    for path in candidates():
        if os.sep in path and not os.path.exists(path):
            continue
        if ROOT.gSystem.Load(path) >= 0:
            log.debug("loaded %s", path)
            break
        tried.append(path)
    else:
        raise errors.SofiePyTorchError(
            "libSofiePyTorch could not be loaded (tried: " + ", ".join(tried) + "); build it "
            "with `make` or set SOFIE_PYTORCH_LIBRARY to its path"
        )
    if not ROOT.gInterpreter.Declare('#include "TMVA/RModelParser_PyTorch.h"'):
        raise errors.SofiePyTorchError("cling could not read TMVA/RModelParser_PyTorch.h")
    _state["namespace"] = ROOT.SOFIE.PyTorch
    _state["cpp_parse"] = ROOT.SOFIE.PyTorch.ParsePython
    return _state["namespace"]


def _materialise_jupyroot_hook(ROOT: Any) -> None:
    """Work around a cling bug that Jupyter kernels meet.

    In a Jupyter kernel, ROOT 6.40 (JupyROOT) declares _TTabComHook, a function returning
    std::vector<std::string>, which cling compiles lazily. Code declared afterwards that
    instantiates the same std::vector members (the engine's headers do) then fails to
    materialise them: "Failed to materialize symbols", a vector initialised empty, a
    Parse that returns nullptr. Seen without this package too (declare a global
    std::vector<std::string> after JupyROOT's hook). Calling the hook once first
    materialises them.
    """
    if "ROOT._jupyroot" not in sys.modules:
        return
    hook = getattr(ROOT, "_TTabComHook", None)
    if hook is not None:
        hook("TObject")
        log.debug("materialised JupyROOT's completion hook before loading the library")


def _reraise(exc: BaseException) -> None:
    """Turn the C++ ParseError back into the package's exception class."""
    kind = getattr(exc, "kind", None)
    name = str(kind()) if callable(kind) else ""
    message = str(exc.what()) if hasattr(exc, "what") else str(exc)
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, errors.SofiePyTorchError):
        if cls is errors.UnsupportedOperatorError:
            raise cls(message, {}) from None
        raise cls(message) from None
    raise errors.SofiePyTorchError(f"{name or type(exc).__name__}: {message}") from None


def parse(model: object, input_shapes: object, dtypes: object = None) -> Any:
    """Parse a model into a SOFIE RModel; the arguments stay Python objects."""
    _load()
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    try:
        return _state["cpp_parse"](model, input_shapes, dtypes)
    except Exception as exc:
        if type(exc).__name__ == "ParseError":
            _reraise(exc)
        raise


def generate(model: Any) -> None:
    """model.Generate(), with the engine's failure as a GenerationError that carries its
    whole message and the operator it concerns (cppyy's own exception text keeps only the
    C++ signature on its first line, which is all a one-line report shows)."""
    namespace = _load()
    try:
        namespace.Generate(model)
    except Exception as exc:
        if type(exc).__name__ == "ParseError":
            _reraise(exc)
        raise


def register() -> None:
    """Make ROOT.TMVA.Experimental.SOFIE.PyTorch.Parse the Pythonic parse()."""
    namespace = _load()
    if getattr(namespace.Parse, "__module__", None) == __name__:
        return
    _state["cpp_overloads"] = namespace.Parse
    namespace.Parse = parse
