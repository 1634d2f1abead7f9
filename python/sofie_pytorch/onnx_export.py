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

from .control_flow import ADVICE, TRACER_BOOL_WARNING
from .errors import TracingError
from .sources import LoadedModel
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


def run_model(model: LoadedModel, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Run the model once; a failure carries Torch's own message."""
    try:
        with torch.no_grad():
            return _flatten(model.module(*inputs))
    except TracingError:
        raise
    except Exception as exc:
        shapes = ", ".join(str(list(t.shape)) for t in inputs)
        raise TracingError(
            f"the model failed on inputs of shape {shapes}: {_essential(exc)}"
        ) from exc


def export(model: LoadedModel, specs: Sequence[InputSpec]) -> onnx.ModelProto:
    """Trace the model on deterministic example inputs and return its ONNX graph."""
    generator = torch.Generator().manual_seed(0)
    inputs = tuple(spec.example(generator) for spec in specs)
    outputs = run_model(model, inputs)
    output_names = [f"output_{i}" for i in range(len(outputs))]
    # Run-time sizes: the inputs' named axes; the exporter propagates them to the outputs.
    dynamic_axes = {s.name: s.dynamic_axes for s in specs if s.dynamic_axes}
    buffer = io.BytesIO()
    module = model.module
    if model.kind == "exported-program":
        module = _ProgramRunner(module)
    was_training = module.training
    module.eval()
    try:
        # The exporter warns about its own deprecation and about tracing details that
        # do not concern the user; catch_warnings restores the caller's filters after.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("ignore")
            # An `if` on tensor values would be frozen to one branch: recorded, refused below.
            warnings.filterwarnings("always", TRACER_BOOL_WARNING, torch.jit.TracerWarning)
            torch.onnx.export(
                module,
                inputs,
                buffer,
                dynamo=False,
                opset_version=OPSET,
                input_names=[s.name for s in specs],
                output_names=output_names,
                do_constant_folding=True,
                dynamic_axes=dynamic_axes or None,
                operator_export_type=torch.onnx.OperatorExportTypes.ONNX_FALLTHROUGH,
            )
    except Exception as exc:
        raise TracingError(f"torch could not trace the model: {_essential(exc)}") from exc
    finally:
        module.train(was_training)
    # Only Python code can hide a value-dependent branch from the tracer: TorchScript
    # keeps it as an If node (refused by control_flow.check), and torch.export has
    # already refused it (its module()'s own input guards warn here, harmlessly).
    if caught and model.kind == "module":
        raise TracingError(f"the model has data-dependent control flow (if on a tensor); {ADVICE}")
    proto = onnx.load_from_string(buffer.getvalue())
    log.debug("exported %d ONNX nodes", len(proto.graph.node))
    return proto
