"""The tracing script: from a PyTorch model and input shapes to an ONNX graph for SOFIE.

This is the entry point the C++ parser calls (``export_for_sofie``). It takes real
Python objects as arguments; nothing the user typed is ever turned into code.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import onnx

from .errors import InputSpecError, TracingError, UnsupportedOperatorError
from .graph import control_flow, fast_operators, fusion, names, rewrites, support
from .loading import onnx_export, sources
from .loading.specs import InputSpec

log = logging.getLogger(__name__)

# One model at a time per process: torch.onnx.export keeps global state (it refuses a
# second export while one is running, and threads interleave as torch releases the GIL),
# and warnings.catch_warnings swaps process-wide filters. Python's lock is taken with the
# GIL released while waiting, so C++ threads and PyROOT callers cannot deadlock on it.
ONE_AT_A_TIME = threading.Lock()


@dataclass
class TracedModel:
    """A model traced and checked: its ONNX graph is ready for SOFIE's parser."""

    name: str
    inputs: list[InputSpec]
    graph: onnx.ModelProto

    def serialized(self) -> bytes:
        return self.graph.SerializeToString()


def _module_types(model: sources.LoadedModel) -> dict[str, str]:
    """Module path -> class name, to tell users which layer an operator sits in."""
    types = {}
    for path, module in model.module.named_modules():
        types[path] = getattr(module, "original_name", type(module).__name__)
    return types


def trace(
    source: object, shapes: object, dtypes: object, supported: Iterable[str]
) -> TracedModel:
    """Load, run and export the model; rewrite and check its graph for SOFIE."""
    supported = set(supported)
    model, specs = load(source, shapes, dtypes)
    try:
        proto = export_graph(model, specs, supported, via_torch_export=False)
        return finish(model, specs, proto, supported)
    except (TracingError, UnsupportedOperatorError) as first:
        # An in-memory module has a second way in: torch.export records some layers
        # (TransformerEncoderLayer) in a form the ONNX exporter handles better.
        if model.kind != "module":
            raise
        try:
            proto = export_graph(model, specs, supported, via_torch_export=True)
            traced = finish(model, specs, proto, supported)
        except Exception:  # noqa: BLE001 - the first error is the one to report
            raise first from None
        log.info("converted through torch.export (direct tracing: %s)", first)
        return traced


def load(
    source: object, shapes: object, dtypes: object
) -> tuple[sources.LoadedModel, list[InputSpec]]:
    """The model and the checked specification of its inputs."""
    model = sources.load(source)
    return model, model.specs(shapes, dtypes)


def export_graph(
    model: sources.LoadedModel, specs: list[InputSpec], supported: set[str],
    via_torch_export: bool = False,
) -> onnx.ModelProto:
    """Run the model once and record its graph, rewritten into operators SOFIE has, but
    not yet checked: what the command-line report describes (it lists unsupported
    operators instead of failing on the first)."""
    proto = onnx_export.export(model, specs, via_torch_export=via_torch_export)
    rewritten = rewrites.apply(proto, supported)
    if rewritten:
        log.info("rewrote %d node(s) into operators SOFIE has", rewritten)
    return proto


def finish(
    model: sources.LoadedModel, specs: list[InputSpec], proto: onnx.ModelProto,
    supported: set[str],
) -> TracedModel:
    """Check an exported graph and make it ready for SOFIE's parser. Works on a copy, so
    that the caller's graph (a report's) stays as it was."""
    ready = onnx.ModelProto()
    ready.CopyFrom(proto)
    control_flow.check(ready.graph, _module_types(model))
    support.check(ready.graph, supported, _module_types(model))
    info = fusion.TensorInfo.of(ready)  # before our op types hide shapes from ONNX inference
    faster = fast_operators.apply(ready, supported)
    if faster:
        log.info("%d node(s) run on the project's own operators", faster)
    fused = fusion.apply(ready, supported, info)
    if fused:
        log.info("%d element-wise group(s) fused into single loops", fused)
    _check_run_time_sizes(ready.graph, specs)
    names.clean(ready)
    return TracedModel(model.name, specs, ready)


# The engine's operators whose SOFIE 0.1.0 code needs every dimension fixed when the code
# is generated (the project's own LSTM and GRU, which replace most of them, do not).
_NEED_FIXED_SIZES = {"LSTM", "GRU", "RNN"}


def _check_run_time_sizes(graph: onnx.GraphProto, specs: list[InputSpec]) -> None:
    if not any(s.dynamic_axes for s in specs):
        return
    fixed = sorted({n.op_type for n in graph.node if n.op_type in _NEED_FIXED_SIZES})
    if fixed:
        raise InputSpecError(
            f"the model has {', '.join(fixed)} layers, whose SOFIE code needs a fixed batch "
            f"size: give the batch size instead of -1 (generate one header per batch size)"
        )


def export_for_sofie(
    source: object, shapes: object, dtypes: object, supported: Iterable[str]
) -> tuple[bytes, str]:
    """What the C++ parser calls: the serialized ONNX model and the model's name.

    ``source`` may be a model traced already (a TracedModel, from ``trace`` or
    ``finish``): its graph is used as it is, and shapes and dtypes, which it was traced
    with, are not looked at. The command-line tool's convert uses this to trace once.
    """
    if isinstance(source, TracedModel):
        return source.serialized(), source.name
    with ONE_AT_A_TIME:
        traced = trace(source, shapes, dtypes, supported)
        return traced.serialized(), traced.name
