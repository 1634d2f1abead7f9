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

from . import control_flow, fast_operators, fusion, names, onnx_export, rewrites, sources, support
from .errors import InputSpecError, TracingError, UnsupportedOperatorError
from .specs import InputSpec, make_specs

log = logging.getLogger(__name__)

# One model at a time per process: torch.onnx.export keeps global state (it refuses a
# second export while one is running, and threads interleave as torch releases the GIL),
# and warnings.catch_warnings swaps process-wide filters. Python's lock is taken with the
# GIL released while waiting, so C++ threads and PyROOT callers cannot deadlock on it.
_ONE_AT_A_TIME = threading.Lock()


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
    model = sources.load(source)
    specs = make_specs(model.input_names, shapes, dtypes, model.variadic)
    try:
        proto = _graph_for_sofie(model, specs, supported, via_torch_export=False)
    except (TracingError, UnsupportedOperatorError) as first:
        # An in-memory module has a second way in: torch.export records some layers
        # (TransformerEncoderLayer) in a form the ONNX exporter handles better.
        if model.kind != "module":
            raise
        try:
            proto = _graph_for_sofie(model, specs, supported, via_torch_export=True)
        except Exception:  # noqa: BLE001 - the first error is the one to report
            raise first from None
        log.info("converted through torch.export (direct tracing: %s)", first)
    names.clean(proto)
    return TracedModel(model.name, specs, proto)


def _graph_for_sofie(
    model: sources.LoadedModel, specs: list[InputSpec], supported: set[str], via_torch_export: bool
) -> onnx.ModelProto:
    """Export, rewrite and check: the ONNX graph SOFIE's parser will read."""
    proto = onnx_export.export(model, specs, via_torch_export=via_torch_export)
    rewritten = rewrites.apply(proto, supported)
    if rewritten:
        log.info("rewrote %d node(s) into operators SOFIE has", rewritten)
    control_flow.check(proto.graph, _module_types(model))
    support.check(proto.graph, supported, _module_types(model))
    info = fusion.TensorInfo.of(proto)  # before our op types hide shapes from ONNX inference
    faster = fast_operators.apply(proto, supported)
    if faster:
        log.info("%d node(s) run on the project's own operators", faster)
    fused = fusion.apply(proto, supported, info)
    if fused:
        log.info("%d element-wise group(s) fused into single loops", fused)
    _check_run_time_sizes(proto.graph, specs)
    return proto


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
    """What the C++ parser calls: the serialized ONNX model and the model's name."""
    with _ONE_AT_A_TIME:
        traced = trace(source, shapes, dtypes, supported)
        return traced.serialized(), traced.name
