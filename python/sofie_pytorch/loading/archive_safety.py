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
from typing import IO

import torch

from ..errors import ModelLoadError

_ZIP_MAGIC = b"PK\x03\x04"
_IMPORTING_OPCODES = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ"}
# How many values on the stack an importing opcode needs (GLOBAL and INST read theirs
# from the stream).
_STACK_ARGUMENTS = {"STACK_GLOBAL": 2, "OBJ": 2}
_MAX_NESTED = 2**30  # bytes: example inputs and pickled constants are far smaller


def _raw_pickle_imports(stream: IO[bytes]) -> bool:
    """True if the stream is a well-formed pickle that imports a name (could run code).

    Read as a stream: raw tensor bytes stop being a pickle within a few bytes, so large
    weight files cost nothing. STACK_GLOBAL and OBJ take their arguments from the stack:
    with fewer opcodes before them than they take, unpickling fails before anything is
    imported. (Raw float32 weights start with the byte of one of them, 0x93 or "o", about
    one time in 128: such .pt2 files were refused.)
    """
    try:
        before = 0
        for opcode, _arg, _pos in pickletools.genops(stream):
            if opcode.name in _IMPORTING_OPCODES and before >= _STACK_ARGUMENTS.get(opcode.name, 0):
                return True
            if opcode.name not in ("PROTO", "FRAME"):
                before += 1
    except Exception:  # noqa: BLE001 - not a pickle at all (raw tensor bytes): harmless
        return False
    return False


def _nested_archive_is_safe(data: bytes) -> bool:
    try:
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - whatever the reason, torch would retry unsafely
        return False
    return True


def _unsafe_member(path: Path) -> str | None:
    """The name of the first member that would run code when unpickled, if any."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            with archive.open(info) as member:
                head = member.read(len(_ZIP_MAGIC))
            # Every member, whatever its name: protocol-0 pickles have no header byte, and
            # torch decides from the archive's own (attacker-written) config what to unpickle.
            if head.startswith(_ZIP_MAGIC):
                # Read whole only within a bound (zipfile enforces the declared size), so a
                # compressed "zip bomb" member cannot exhaust memory.
                safe = info.file_size <= _MAX_NESTED and _nested_archive_is_safe(
                    archive.read(info))
            else:
                with archive.open(info) as member:
                    safe = not _raw_pickle_imports(member)
            if not safe:
                return info.filename
    return None


def check_exported_archive(path: Path) -> None:
    """Raise ModelLoadError if loading the .pt2 at path could execute code from it."""
    try:
        unsafe = _unsafe_member(path)
    # Damage inside the archive surfaces here first, with zipfile's many exception types.
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise ModelLoadError(
            f"{path}: damaged archive ({text[0] if text else type(exc).__name__}); it may be "
            f"truncated or corrupted: save it again with torch.export.save"
        ) from exc
    if unsafe is not None:
        raise ModelLoadError(
            f"{path}: the archive member {unsafe!r} is a pickle that would run code when "
            f"loaded, so the file is not loaded. Only load .pt2 files you trust; re-export "
            f"the model with torch.export.save"
        )
