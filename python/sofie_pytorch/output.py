"""Writing the generated code whole or not at all, from Python.

``write_generated(model, "out/model.hxx")`` is the Python face of the C++
``SOFIE::PyTorch::WriteGenerated``: the engine writes into temporary names in the target
directory, which are renamed into place only when complete. A failure raises
:class:`~sofie_pytorch.errors.OutputError` and leaves no file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import _root
from .errors import OutputError

_HEADER = "TMVA/WriteGenerated_PyTorch.h"


def _cpp_write() -> Any:
    import ROOT

    namespace = _root._load()
    if not hasattr(namespace, "WriteGenerated"):
        if not ROOT.gInterpreter.Declare(f'#include "{_HEADER}"'):
            raise OutputError(f"cling could not read {_HEADER}")
    return namespace.WriteGenerated


def write_generated(model: Any, header: str | os.PathLike[str]) -> list[Path]:
    """Write model's generated code to header (+ its weight file); return the paths.

    ``model.Generate()`` must have been called. The weight file is named like
    ``RModel.OutputGenerated`` names it: ``model.hxx`` -> ``model.dat``.
    """
    path = os.fsdecode(os.fspath(header))
    write = _cpp_write()
    try:
        written = write(model, path)
    except Exception as exc:
        if type(exc).__name__ == "ParseError":
            _root._reraise(exc)
        raise
    return [Path(str(p)) for p in written]


@contextmanager
def atomic_file(final: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it to ``final`` if the block
    succeeds, delete it if it fails. For files written by someone else (ROOT's Snapshot):
    the final name holds the whole file or nothing, never a partial one."""
    target = Path(os.fsdecode(os.fspath(final)))
    if not target.parent.is_dir():
        raise OutputError(f"{target.parent}: no such directory to write {target.name} into")
    if not os.access(target.parent, os.W_OK):
        raise OutputError(f"{target.parent}: not writable")
    handle, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".partial{suffix}",
                                    dir=target.parent)
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
