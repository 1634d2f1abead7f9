"""The plain Python API: ``parse`` (model -> SOFIE RModel) and ``convert`` (-> files).

Both take the model as a file name (TorchScript .pt, torch.export .pt2) or an object
(nn.Module, ScriptModule, ExportedProgram), and the input shapes either explicitly or
from example tensors. The work is done by the C++ parser through PyROOT, so the RModel
returned is the SOFIE engine's own class.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _root
from .errors import InputSpecError, OutputError
from .output import write_generated

log = logging.getLogger(__name__)

Shape = list[int]


@dataclass(frozen=True)
class Conversion:
    """What ``convert`` wrote: the header, the weight file (None if the model has no
    weights) and the C++ namespace of the generated code (``SOFIE_<name>``)."""

    header: Path
    weights: Path | None
    name: str
    model: Any  # the RModel, already generated

    @property
    def namespace(self) -> str:
        return f"SOFIE_{self.name}"


def _as_tuple(example_inputs: object) -> tuple[object, ...]:
    """One example input or a sequence of them, as a tuple."""
    if isinstance(example_inputs, (list, tuple)):
        return tuple(example_inputs)
    return (example_inputs,)


def _example_shape(value: object, index: object) -> Shape:
    shape = getattr(value, "shape", None)
    if shape is None:
        raise InputSpecError(
            f"example input {index} is a {type(value).__name__}, not a tensor or array: "
            f"give torch tensors or numpy arrays, or input_shapes instead"
        )
    return [int(d) for d in shape]


def resolve_inputs(
    input_shapes: object = None,
    example_inputs: object = None,
    dtypes: object = None,
    dynamic_batch: bool = False,
) -> tuple[object, object]:
    """The shapes and dtypes to parse with, from explicit shapes or example tensors.

    Shapes are checked in detail by the tracing step (sofie_pytorch.loading.specs); here only
    where they come from is decided. Shapes or examples given as a mapping name the inputs
    of forward() they are for (``{"x": ..., "mask": ...}``: the others take their
    defaults). With ``dynamic_batch`` the first dimension of every input becomes -1: the
    batch size is then an argument of the generated code.
    """
    if input_shapes is not None and example_inputs is not None:
        raise InputSpecError("give input_shapes or example_inputs, not both")
    if isinstance(example_inputs, Mapping):
        shapes: object = {k: _example_shape(x, repr(k)) for k, x in example_inputs.items()}
        if dtypes is None:
            dtypes = {k: str(x.dtype) for k, x in example_inputs.items()}
    elif example_inputs is not None:
        examples = _as_tuple(example_inputs)
        shapes = [_example_shape(x, i) for i, x in enumerate(examples)]
        if dtypes is None:
            dtypes = [str(x.dtype) for x in examples]  # type: ignore[attr-defined]
    elif input_shapes is None:
        raise InputSpecError(
            "the input shapes are needed to trace the model: pass input_shapes (one shape "
            "per input, e.g. [[1, 10]]) or example_inputs (tensors)"
        )
    else:
        shapes = input_shapes
    if dynamic_batch:
        if isinstance(shapes, Mapping):
            batched = _dynamic_first_dim(list(shapes.values()))
            shapes = dict(zip(shapes, batched))  # type: ignore[call-overload]
        else:
            shapes = _dynamic_first_dim(shapes)
    return shapes, dtypes


def _dynamic_first_dim(shapes: object) -> object:
    """Each shape with its first dimension replaced by -1 (chosen at run time)."""
    if isinstance(shapes, (str, bytes)) or not isinstance(shapes, Sequence):
        return shapes  # let the tracing step report what is wrong with it
    result: list[object] = []
    for shape in shapes:
        if isinstance(shape, Sequence) and not isinstance(shape, (str, bytes)) and len(shape):
            result.append([-1, *list(shape)[1:]])
        else:
            result.append(shape)
    return result


def parse(
    model_or_path: object,
    input_shapes: object = None,
    example_inputs: object = None,
    dtypes: object = None,
    dynamic_batch: bool = False,
) -> Any:
    """Parse a PyTorch model into a SOFIE RModel.

    ``input_shapes``: one shape per model input, e.g. ``[[1, 10]]`` (-1 for a size
    chosen at run time); or ``example_inputs``: a tensor or a tuple of tensors, whose
    shapes (and dtypes, unless ``dtypes`` is given) are used. ``dtypes``: one name per
    input ("float", "double", "int64", "int32", "bool"), or one for all.
    """
    shapes, dtypes = resolve_inputs(input_shapes, example_inputs, dtypes, dynamic_batch)
    return _root.parse(model_or_path, shapes, dtypes)


def generate(model: Any, output_dir: str | os.PathLike[str], stem: str) -> tuple[Path, Path | None]:
    """Generate the code of an RModel as OUTPUT_DIR/STEM.hxx (+ STEM.dat), creating the
    directory; written whole or not at all (sofie_pytorch.output)."""
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{out}: cannot write the generated code there ({exc.strerror})"
        ) from None
    _root.generate(model)
    header = out / f"{stem}.hxx"
    written = {p.resolve() for p in write_generated(model, header)}
    weights = header.with_suffix(".dat")
    return header, (weights if weights.resolve() in written else None)


def convert(
    model_or_path: object,
    output_dir: str | os.PathLike[str] = ".",
    input_shapes: object = None,
    example_inputs: object = None,
    dtypes: object = None,
    dynamic_batch: bool = False,
) -> Conversion:
    """Parse the model and write its C++ header and weight file into ``output_dir``.

    The files are named after the model (``<name>.hxx``, ``<name>.dat``): the generated
    Session's default weight file name is ``<name>.dat``.
    """
    model = parse(model_or_path, input_shapes, example_inputs, dtypes, dynamic_batch)
    name = str(model.GetName())
    header, weights = generate(model, output_dir, name)
    log.info("wrote %s%s", header, f" and {weights}" if weights else "")
    return Conversion(header, weights, name, model)


def supported_operators() -> list[str]:
    """The ONNX operator types the SOFIE engine can generate code for."""
    namespace = _root._load()
    return sorted(str(op) for op in namespace.SupportedOnnxOperators())
