"""Loading a model from what the caller gives: a file name or an in-memory object.

The file's format is told from its contents, not its extension. Pickles are never
unpickled with code execution: a plain ``torch.save`` file is only ever read with
``weights_only=True``, which cannot run code, to tell the user what it holds.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import ModelLoadError

log = logging.getLogger(__name__)

_SAVE_ADVICE = (
    "save the whole model with torch.jit.save(torch.jit.script(model), 'model.pt') "
    "(what TMVA does) or torch.export.save(torch.export.export(model, example_inputs), "
    "'model.pt2')"
)


@dataclass
class LoadedModel:
    """A model ready to run: the module, its input names and where it came from."""

    module: torch.nn.Module
    input_names: list[str]
    kind: str  # "torchscript", "exported-program" or "module"
    name: str  # a C++ identifier naming the model (namespace SOFIE_<name>)


def identifier(text: str, fallback: str = "model") -> str:
    """A C++ identifier made from arbitrary text (file names may hold anything)."""
    cleaned = re.sub(r"\W", "_", text, flags=re.ASCII).strip("_")
    if not cleaned:
        cleaned = fallback
    if cleaned[0].isdigit():
        cleaned = "m_" + cleaned
    return cleaned


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: damaged archive ({exc}); {_SAVE_ADVICE}") from exc
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
    args = module.forward.schema.arguments[1:]  # the first one is self
    return [a.name for a in args]


def _load_torchscript(path: Path) -> torch.nn.Module:
    try:
        # TorchScript is deprecated in torch 2.13 but it is what TMVA saves: the user
        # chose the format, the warning would only be noise from inside the converter.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"{path}: not a readable TorchScript file ({first}); it may be truncated or "
            f"corrupted: save it again with torch.jit.save"
        ) from exc


def _load_exported(path: Path) -> torch.export.ExportedProgram:
    try:
        return torch.export.load(str(path))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"{path}: not a readable torch.export archive ({first}); save it again with "
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
        names = _schema_input_names(module)
        label = name or module.original_name
        return LoadedModel(module, names, "torchscript", identifier(label))
    import inspect

    params = inspect.signature(module.forward).parameters.values()
    names = [
        p.name
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return LoadedModel(module, names, "module", identifier(name or type(module).__name__))


def load(source: object) -> LoadedModel:
    """Load a model from a path (str or os.PathLike) or take an in-memory model."""
    if not isinstance(source, (str, os.PathLike)):
        return from_module(source)  # type: ignore[arg-type]
    path = Path(os.fsdecode(source))
    if not path.exists():
        raise ModelLoadError(f"{path}: no such file")
    if path.is_dir():
        raise ModelLoadError(f"{path} is a directory, not a model file")
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot be read ({exc.strerror})") from exc
    if size == 0:
        raise ModelLoadError(f"{path} is empty; {_SAVE_ADVICE}")
    if not zipfile.is_zipfile(path):
        raise ModelLoadError(
            f"{path} is not a PyTorch model file (not a TorchScript or torch.export "
            f"archive); {_SAVE_ADVICE}"
        )
    kind = _zip_kind(path)
    log.debug("%s looks like a %s file", path, kind)
    stem = path.name.split(".", 1)[0]
    if kind == "torchscript":
        module = _load_torchscript(path)
        return LoadedModel(module, _schema_input_names(module), kind, identifier(stem))
    if kind == "exported-program":
        return from_exported_program(_load_exported(path), stem)
    if kind == "torch-save":
        raise _explain_torch_save(path)
    raise ModelLoadError(f"{path} is a zip archive but not a PyTorch model; {_SAVE_ADVICE}")
