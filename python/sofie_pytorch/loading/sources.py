"""Loading a model from what the caller gives: a file name or an in-memory object.

The file's format is told from its contents, not its extension. Pickles are never
unpickled with code execution: a plain ``torch.save`` file is only ever read with
``weights_only=True``, which cannot run code, to tell the user what it holds.
"""

from __future__ import annotations

import io
import logging
import os
import re
import stat
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ModelLoadError
from .archive_integrity import check_torchscript_storages
from .archive_safety import check_exported_archive
from .specs import InputSpec, make_specs

log = logging.getLogger(__name__)

_SAVE_ADVICE = (
    "save the whole model with torch.jit.save(torch.jit.script(model), 'model.pt') "
    "(what TMVA does) or torch.export.save(torch.export.export(model, example_inputs), "
    "'model.pt2')"
)


class _ByName(torch.nn.Module):
    """A model called with some of its inputs by name: forward(*inputs) passes them as
    keywords, so that inputs left out between them (``v=None`` before ``mask``) keep
    their defaults."""

    def __init__(self, module: torch.nn.Module, names: Sequence[str]) -> None:
        super().__init__()
        self.model = module
        self._names = list(names)

    def forward(self, *inputs: torch.Tensor) -> object:
        return self.model(**dict(zip(self._names, inputs)))


@dataclass
class LoadedModel:
    """A model ready to run: the module, its input names and where it came from."""

    module: torch.nn.Module
    input_names: list[str]
    kind: str  # "torchscript", "exported-program" or "module"
    name: str  # a C++ identifier naming the model (namespace SOFIE_<name>)
    variadic: bool = False  # forward(*inputs): any number of inputs
    optional: int = 0  # how many of the last inputs have defaults (may be left out)

    def specs(self, shapes: object, dtypes: object) -> list[InputSpec]:
        """The caller's shapes and dtypes, checked against this model's inputs."""
        return make_specs(self.input_names, shapes, dtypes, self.variadic, self.optional)

    def takes_in_order(self, specs: Sequence[InputSpec]) -> bool:
        """Whether the given inputs are forward()'s first ones, so that a positional call
        passes them (the others take their defaults)."""
        return self.variadic or [s.name for s in specs] == self.input_names[: len(specs)]

    def called_with(self, specs: Sequence[InputSpec]) -> torch.nn.Module:
        """The module to call with the given inputs positionally."""
        if self.takes_in_order(specs):
            return self.module
        return _ByName(self.module, [s.name for s in specs])


def identifier(text: str, fallback: str = "model") -> str:
    """A C++ identifier made from arbitrary text (file names may hold anything)."""
    cleaned = re.sub(r"\W", "_", text, flags=re.ASCII).strip("_")
    if not cleaned:
        cleaned = fallback
    if cleaned[0].isdigit():
        cleaned = "m_" + cleaned
    return cleaned


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    # zipfile reports damage with many exception types (BadZipFile, NotImplementedError
    # for a garbled version field, EOFError, struct.error, ...): all mean "damaged".
    except Exception as exc:
        raise ModelLoadError(
            f"{path}: damaged archive ({_first_line(exc)}); it may be truncated or "
            f"corrupted: {_SAVE_ADVICE}"
        ) from exc
    tails = {n.split("/", 1)[1] if "/" in n else n for n in names}
    if "constants.pkl" in tails or any(t.startswith("code/") for t in tails):
        return "torchscript"
    if "archive_format" in tails or any(t.startswith("models/") for t in tails):
        return "exported-program"
    if "data.pkl" in tails:
        return "torch-save"
    return "unknown-zip"


def _explain_torch_save(path: Path) -> ModelLoadError:
    """Say what a torch.save file holds, reading it without running any code."""
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any failure means: not weights only
        return ModelLoadError(
            f"{path} is a pickled Python object saved with torch.save (probably a whole "
            f"nn.Module). Unpickling it could run arbitrary code, so it is not loaded; "
            f"{_SAVE_ADVICE}"
        )
    what = "a state_dict (weights only, no network structure)"
    if not isinstance(content, dict):
        what = f"a {type(content).__name__} saved with torch.save, not a model"
    return ModelLoadError(f"{path} holds {what}; {_SAVE_ADVICE}")


def _schema_input_names(module: torch.jit.ScriptModule) -> list[str]:
    # A damaged archive can hold a module whose methods were renamed (found by the fuzzer).
    forward = getattr(module, "forward", None)
    if forward is None or not hasattr(forward, "schema"):
        raise ModelLoadError(
            f"the TorchScript module {getattr(module, 'original_name', '')!r} has no "
            f"forward() method: the file is corrupted or not a model; save the model with "
            f"torch.jit.save(torch.jit.script(model), 'model.pt')"
        )
    args = forward.schema.arguments[1:]  # the first one is self
    return [a.name for a in args]


def _schema_optional(module: torch.jit.ScriptModule) -> int:
    """How many of forward()'s last arguments have defaults."""
    count = 0
    for argument in reversed(module.forward.schema.arguments[1:]):
        if not argument.has_default_value():
            break
        count += 1
    return count


def _torchscript(module: torch.jit.ScriptModule, name: str) -> LoadedModel:
    names = _schema_input_names(module)
    return LoadedModel(module, names, "torchscript", identifier(name),
                       optional=_schema_optional(module))


def _load_torchscript(path: Path) -> torch.nn.Module:
    # From the bytes, not the name: torch needs names that are valid UTF-8.
    data = path.read_bytes()
    # torch.jit.load trusts the archive's element counts; a short record would crash later.
    check_torchscript_storages(data, str(path))
    try:
        # TorchScript is deprecated in torch 2.13 but it is what TMVA saves: the user
        # chose the format, the warning would only be noise from inside the converter.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as exc:
        raise ModelLoadError(
            f"{path}: not a readable TorchScript file ({_first_line(exc)}); it may be truncated or "
            f"corrupted: save it again with torch.jit.save"
        ) from exc


def _load_exported(path: Path) -> torch.export.ExportedProgram:
    # torch.export.load may unpickle parts of the archive with code execution allowed.
    check_exported_archive(path)
    try:
        return torch.export.load(io.BytesIO(path.read_bytes()))
    except Exception as exc:
        raise ModelLoadError(
            f"{path}: not a readable torch.export archive ({_first_line(exc)}); it may be "
            f"truncated or corrupted: save it again with "
            f"torch.export.save"
        ) from exc


def from_exported_program(program: torch.export.ExportedProgram, name: str) -> LoadedModel:
    """An ExportedProgram, run through its module()."""
    signature = program.graph_signature
    names = [s.arg.name for s in signature.input_specs if s.kind.name == "USER_INPUT"]
    module = program.module()
    return LoadedModel(module, names, "exported-program", identifier(name))


def from_module(module: torch.nn.Module, name: str | None = None) -> LoadedModel:
    """An nn.Module or ScriptModule already in memory."""
    if isinstance(module, torch.export.ExportedProgram):
        return from_exported_program(module, name or "model")
    if not isinstance(module, torch.nn.Module):
        raise ModelLoadError(
            f"expected a file name, an nn.Module, a ScriptModule or an ExportedProgram, "
            f"got {type(module).__name__}"
        )
    if isinstance(module, torch.jit.ScriptModule):
        return _torchscript(module, name or module.original_name)
    import inspect

    params = list(inspect.signature(module.forward).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    # Inputs with defaults (mask=None) are inputs too when the caller gives them.
    names = [p.name for p in positional]
    optional = sum(1 for p in positional if p.default is not p.empty)
    variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
    if variadic:
        names, optional = [], 0  # forward(*inputs): as many inputs as shapes are given
    return LoadedModel(module, names, "module", identifier(name or type(module).__name__),
                       variadic=variadic, optional=optional)


def _describe_non_zip(path: Path) -> ModelLoadError:
    """Why a file that is not a zip archive cannot be a model, from its first bytes."""
    with path.open("rb") as stream:
        head = stream.read(4)
    if head.startswith(b"PK"):
        return ModelLoadError(
            f"{path} starts like a zip archive but cannot be read as one: it is probably "
            f"truncated or corrupted; save the model again ({_SAVE_ADVICE})"
        )
    if head[:1] == b"\x80":
        return ModelLoadError(
            f"{path} is a plain pickle (the legacy torch.save format, or pickle.dump). "
            f"Unpickling it could run arbitrary code, so it is not loaded; {_SAVE_ADVICE}"
        )
    return ModelLoadError(
        f"{path} is not a PyTorch model file (not a TorchScript or torch.export "
        f"archive); {_SAVE_ADVICE}"
    )


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    # is_zipfile itself raises on some damaged end records (found by the fuzzer).
    except Exception as exc:
        raise ModelLoadError(
            f"{path}: damaged archive ({_first_line(exc)}); it may be truncated or "
            f"corrupted: {_SAVE_ADVICE}"
        ) from exc


def _check_file(path: Path) -> None:
    """A readable, non-empty regular file, or a ModelLoadError saying what it is instead."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: no such file") from None
    except OSError as exc:  # too long, a symlink loop, a component that is a file, ...
        raise ModelLoadError(f"{path}: cannot be opened ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ModelLoadError(f"{path} is a directory, not a model file")
    # A FIFO or a device would block or never end: only regular files are read.
    if not stat.S_ISREG(info.st_mode):
        raise ModelLoadError(f"{path} is not a regular file (a pipe, socket or device)")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot be read ({exc.strerror})") from None
    if info.st_size == 0:
        raise ModelLoadError(f"{path} is empty; {_SAVE_ADVICE}")


def load(source: object) -> LoadedModel:
    """Load a model from a path (str, bytes or os.PathLike) or take an in-memory model."""
    if not isinstance(source, (str, bytes, os.PathLike)):
        return from_module(source)  # type: ignore[arg-type]
    text = os.fsdecode(source)
    if "\0" in text:
        raise ModelLoadError(f"{text!r}: a file name cannot contain a NUL character")
    if not text.strip():
        raise ModelLoadError("empty file name: give the path of a .pt or .pt2 file")
    path = Path(text)
    _check_file(path)
    if not _is_zip(path):
        raise _describe_non_zip(path)
    kind = _zip_kind(path)
    log.debug("%s looks like a %s file", path, kind)
    stem = path.name.split(".", 1)[0]
    if kind == "torchscript":
        module = _load_torchscript(path)
        return _torchscript(module, stem)
    if kind == "exported-program":
        return from_exported_program(_load_exported(path), stem)
    if kind == "torch-save":
        raise _explain_torch_save(path)
    raise ModelLoadError(f"{path} is a zip archive but not a PyTorch model; {_SAVE_ADVICE}")
