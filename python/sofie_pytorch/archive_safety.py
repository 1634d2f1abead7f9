"""Refusing .pt2 archives whose loading would run code from the file.

``torch.export.load`` (torch 2.13) unpickles parts of the archive with code execution
allowed: pickled weights and constants with ``weights_only=False``, opaque constants
with ``pickle.loads``, and example inputs retried with ``weights_only=False`` when the
safe load fails. A crafted .pt2 therefore runs arbitrary code on load (tested with a
sentinel file). Before torch sees the archive, every member that is a pickle is checked
here without being executed:

- a nested ``torch.save`` archive must load with ``torch.load(weights_only=True)``,
  which cannot run code;
- a raw pickle must not import anything (no GLOBAL, STACK_GLOBAL, INST or OBJ opcode):
  plain data needs no imports, and an import is how a pickle reaches code.
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path

import torch

from .errors import ModelLoadError

_ZIP_MAGIC = b"PK\x03\x04"
_IMPORTING_OPCODES = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ"}


def _raw_pickle_imports(data: bytes) -> bool:
    """True if data is a well-formed pickle that imports a name (so could run code)."""
    try:
        for opcode, _arg, _pos in pickletools.genops(data):
            if opcode.name in _IMPORTING_OPCODES:
                return True
    except Exception:  # noqa: BLE001 - not a pickle at all (raw tensor bytes): harmless
        return False
    return False


def _nested_archive_is_safe(data: bytes) -> bool:
    try:
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - whatever the reason, torch would retry unsafely
        return False
    return True


def check_exported_archive(path: Path) -> None:
    """Raise ModelLoadError if loading the .pt2 at path could execute code from it."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            data = archive.read(info)
            # Every member, whatever its name: protocol-0 pickles have no header byte, and
            # torch decides from the archive's own (attacker-written) config what to unpickle.
            if data.startswith(_ZIP_MAGIC):
                safe = _nested_archive_is_safe(data)
            else:
                safe = not _raw_pickle_imports(data)
            if not safe:
                raise ModelLoadError(
                    f"{path}: the archive member {info.filename!r} is a pickle that would "
                    f"run code when loaded, so the file is not loaded. Only load .pt2 files "
                    f"you trust; re-export the model with torch.export.save"
                )
