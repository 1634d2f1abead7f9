"""Running the model once on example inputs and recording its graph as ONNX.

Torch's TorchScript-based ONNX exporter does the tracing: it records the
operators the model really runs, folds constants (BatchNorm into Conv, shape
arithmetic) and names each node after the module it sits in (``/fc1/Gemm``).
Operators without an ONNX form are kept as ``aten`` nodes instead of aborting
the export, so that every unsupported operator can be reported at once.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence

import onnx
import torch

from ..errors import InputSpecError, TracingError
from ..graph.control_flow import CONTROL_FLOW, ValueBranches
from ..graph.support import operator_label
from .graph_runner import DECOMPOSED, GraphRunner
from .sources import LoadedModel
from .specialise import specialise
from .specs import InputSpec

log = logging.getLogger(__name__)

OPSET = 17  # LayerNormalization needs 17; SOFIE's ONNX parser reads it


class _ProgramRunner(torch.nn.Module):
    """Runs an ExportedProgram's module() for the exporter.

    That module refuses train()/eval(), which the exporter calls; held outside the
    module tree (not a registered child), it is only called, and its weights are traced
    as constants.
    """

    def __init__(self, program_module: torch.nn.Module) -> None:
        super().__init__()
        # Traced weights become constants, which must not require grad. module() makes
        # a fresh module on each call, so this changes nothing the caller holds.
        for parameter in program_module.parameters():
            parameter.requires_grad_(False)
        object.__setattr__(self, "_program_module", program_module)

    def forward(self, *inputs: torch.Tensor) -> object:
        return self._program_module(*inputs)


def _flatten(outputs: object) -> list[torch.Tensor]:
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, (tuple, list)):
        flat: list[torch.Tensor] = []
        for item in outputs:
            flat.extend(_flatten(item))
        return flat
    raise TracingError(
        f"the model returns a {type(outputs).__name__}; only tensors and tuples or "
        f"lists of tensors can become outputs of the generated code"
    )


def _essential(exc: BaseException) -> str:
    """The line of a Torch error that says what went wrong.

    Errors raised inside TorchScript code start with an interpreter traceback and end
    with the original error; others start with it.
    """
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if "TorchScript interpreter" in lines[0] or lines[0].startswith("Traceback"):
        return lines[-1]
    return lines[0]


def run_model(module: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Run the model once; a failure carries Torch's own message."""
    try:
        # One run: the profiling executor's optimisation of a TorchScript graph would cost
        # more than the run itself (0.1-0.2 s for a TransformerEncoderLayer).
        with torch.no_grad(), torch.jit.optimized_execution(False):
            return _flatten(module(*inputs))
    except TracingError:
        raise
    except Exception as exc:
        shapes = ", ".join(str(list(t.shape)) for t in inputs)
        raise TracingError(
            f"the model failed on inputs of shape {shapes}: {_essential(exc)}"
        ) from exc


def _to_onnx(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...],
             specs: Sequence[InputSpec], n_outputs: int,
             model: torch.nn.Module | None = None) -> tuple[bytes, ValueBranches]:
    """One run of torch's exporter; returns the ONNX bytes and the places where the traced
    code turned a tensor whose value depends on the inputs into a Python bool (`model`:
    the module whose layers name those places)."""
    buffer = io.BytesIO()
    # Run-time sizes: the inputs' named axes; the exporter propagates them to the outputs.
    dynamic_axes = {s.name: s.dynamic_axes for s in specs if s.dynamic_axes}
    was_training = module.training
    module.eval()
    try:
        # The exporter warns about its own deprecation and about tracing details that
        # do not concern the user; catch_warnings restores the caller's filters after.
        # An `if` on tensor values would be frozen to one branch: recorded, refused.
        with warnings.catch_warnings(), ValueBranches(model or module, len(inputs)) as branches:
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                inputs,
                buffer,
                dynamo=False,
                opset_version=OPSET,
                input_names=[s.name for s in specs],
                output_names=[f"output_{i}" for i in range(n_outputs)],
                do_constant_folding=True,
                dynamic_axes=dynamic_axes or None,
                operator_export_type=torch.onnx.OperatorExportTypes.ONNX_FALLTHROUGH,
            )
    except Exception as exc:
        raise TracingError(f"torch could not trace the model: {_essential(exc)}") from exc
    finally:
        module.train(was_training)
    return buffer.getvalue(), branches


def _via_torch_export(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...],
                      specs: Sequence[InputSpec]) -> torch.nn.Module:
    """The module as torch.export sees it: for layers whose TorchScript tracing fails in
    torch's exporter (TransformerEncoderLayer passes a tensor where a bool is expected)."""
    dims = tuple({axis: torch.export.Dim.DYNAMIC for axis in s.dynamic_axes} or None
                 for s in specs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(module, inputs, dynamic_shapes=dims)
    return _ProgramRunner(program.module())


def _check_program_dims(module: torch.nn.Module, specs: Sequence[InputSpec]) -> None:
    """A run-time size needs a dimension the ExportedProgram left symbolic."""
    placeholders = [n for n in getattr(module, "graph", torch.fx.Graph()).nodes
                    if n.op == "placeholder"]
    for spec, node in zip(specs, placeholders):
        value = node.meta.get("val")
        for axis in spec.dynamic_axes:
            if value is not None and isinstance(value.shape[axis], int):
                raise InputSpecError(
                    f"input {spec.name}: dimension {axis} was fixed to {value.shape[axis]} "
                    f"when the program was exported; export it with dynamic_shapes "
                    f"(torch.export.Dim) to choose it at run time, or give a fixed size"
                )


def _scripted(model: LoadedModel, inputs: tuple[torch.Tensor, ...],
              specs: Sequence[InputSpec], n_outputs: int) -> bytes:
    """A TorchScript model's ONNX bytes: its graph as torch's exporter reads it when that
    works (no branches left), else the graph specialised on the shapes and traced."""
    first: TracingError | None = None
    if [s.name for s in specs] == model.input_names:
        try:
            data, _ = _to_onnx(model.module, inputs, specs, n_outputs)
            nodes = onnx.load_from_string(data).graph.node
            # Control flow left, or a torch operator the GraphRunner writes out: specialise.
            if not any(n.op_type in CONTROL_FLOW or operator_label(n) in DECOMPOSED
                       for n in nodes):
                return data
        except TracingError as exc:
            first = exc
    example_sets = [inputs]
    if any(s.dynamic_axes for s in specs):
        # A second run at another size tells sizes chosen at run time from constants.
        generator = torch.Generator().manual_seed(1)
        example_sets.append(tuple(s.example(generator, dynamic_size=3) for s in specs))
    try:
        frozen = specialise(model.module, example_sets, [s.name for s in specs])
        data, _ = _to_onnx(GraphRunner(frozen.graph, frozen), inputs, specs, n_outputs)
    except TracingError as exc:
        if first is not None and "control flow" not in str(exc):
            raise first from exc
        raise
    except InputSpecError:
        raise
    except Exception as exc:
        if first is not None:
            raise first from exc
        raise TracingError(f"torch could not trace the model: {_essential(exc)}") from exc
    log.info("converted the TorchScript graph specialised on the input shapes")
    return data


def export(
    model: LoadedModel, specs: Sequence[InputSpec], via_torch_export: bool = False
) -> onnx.ModelProto:
    """Trace the model on deterministic example inputs and return its ONNX graph.

    With via_torch_export, an in-memory module is first captured by torch.export.
    """
    generator = torch.Generator().manual_seed(0)
    inputs = tuple(spec.example(generator) for spec in specs)
    module = model.called_with(specs)
    n_outputs = len(run_model(module, inputs))
    if model.kind == "torchscript":
        proto = onnx.load_from_string(_scripted(model, inputs, specs, n_outputs))
        log.debug("exported %d ONNX nodes", len(proto.graph.node))
        return proto
    if model.kind == "exported-program":
        _check_program_dims(module, specs)
        module = _ProgramRunner(module)
    elif via_torch_export:
        try:
            module = _via_torch_export(module, inputs, specs)
        except Exception as exc:
            raise TracingError(
                f"torch.export could not capture the model: {_essential(exc)}") from exc
    data, branches = _to_onnx(module, inputs, specs, n_outputs, model.module)
    # Only Python code can hide a value-dependent branch from the tracer: TorchScript
    # keeps it as an If node (refused by control_flow.check), and torch.export has
    # already refused it (its module()'s own input guards are no concern here).
    error = branches.error()
    if error is not None and model.kind == "module":
        raise error
    proto = onnx.load_from_string(data)
    log.debug("exported %d ONNX nodes", len(proto.graph.node))
    return proto
