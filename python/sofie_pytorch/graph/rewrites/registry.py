"""The registry of graph rewrites and what they may know about the graph.

Each rewrite is registered for one ONNX operator type. It receives the node and a
Context (static shapes from ONNX shape inference, constant values, a way to add
constants) and returns the nodes replacing it, or None to leave it alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..support import operator_label

log = logging.getLogger(__name__)


class Context:
    """What rewrites may know about the graph: shapes, constants, fresh names."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self._graph = model.graph
        self.constants: dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t) for t in model.graph.initializer
        }
        for node in model.graph.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value" \
                    and node.attribute[0].t.data_type != onnx.TensorProto.UNDEFINED:
                # (UNDEFINED: torch's exporter writes a None argument so; it holds no value)
                self.constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        self.shapes: dict[str, list[int | str]] = {}
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
        except Exception as exc:  # noqa: BLE001 - shapes are an optimisation aid only
            log.debug("shape inference failed: %s", exc)
            inferred = model
        g = inferred.graph
        for info in [*g.value_info, *g.input, *g.output]:
            dims = info.type.tensor_type.shape.dim
            if info.type.tensor_type.HasField("shape"):
                self.shapes[info.name] = [d.dim_value if d.HasField("dim_value") else d.dim_param
                                          for d in dims]
        self._counter = 0

    @property
    def graph(self) -> onnx.GraphProto:
        return self._graph

    def producer(self, name: str) -> onnx.NodeProto | None:
        """The node that computes a tensor, None for inputs and initializers."""
        for node in self._graph.node:
            if name in node.output:
                return node
        return None

    def static_shape(self, name: str) -> list[int] | None:
        """The shape of a tensor when every dimension is a known number."""
        shape = self.shapes.get(name)
        if shape is None or any(not isinstance(d, int) or d <= 0 for d in shape):
            return None
        return [int(d) for d in shape]

    def constant(self, value: np.ndarray, hint: str) -> str:
        """Add a constant initializer; return its name."""
        self._counter += 1
        name = f"{hint}__const{self._counter}"
        self._graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        self.constants[name] = np.asarray(value)
        return name

    def initializer(self, name: str, value: np.ndarray) -> None:
        """Add a constant initializer under a given name (a node's output it replaces)."""
        self._graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        self.constants[name] = np.asarray(value)

    def fresh(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}__{self._counter}"


Rewrite = Callable[[onnx.NodeProto, Context], "list[onnx.NodeProto] | None"]
_REWRITES: dict[str, Rewrite] = {}


def rewrite(op_type: str) -> Callable[[Rewrite], Rewrite]:
    """Register a rewrite for one ONNX operator type, or for one torch operator that the
    exporter kept as an ATen node (``aten::bilinear``)."""

    def register(fn: Rewrite) -> Rewrite:
        _REWRITES[op_type] = fn
        return fn

    return register


def attr(node: onnx.NodeProto, name: str, default: object) -> object:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _key(node: onnx.NodeProto) -> str:
    return node.op_type if node.domain in ("", "ai.onnx") else operator_label(node)


def apply(model: onnx.ModelProto, supported: Iterable[str]) -> int:
    """Apply every registered rewrite that fits, in place; return how many applied."""
    del supported  # rewrites decide by pattern; kept for a stable signature
    from .folding import fold  # folding builds on this module's Context

    # What is computed from constants only (sizes, pads, ParT's triangle indices from
    # nonzero) becomes a constant, for the rewrites that read it and before the engine,
    # which would otherwise generate code for it or refuse it (NonZero).
    fold(model)
    ctx = Context(model)
    nodes: list[onnx.NodeProto] = []
    count = 0
    for node in model.graph.node:
        fn = _REWRITES.get(_key(node))
        replacement = fn(node, ctx) if fn else None
        if replacement is None:
            nodes.append(node)
            continue
        nodes.extend(replacement)
        count += 1
        log.debug("rewrote %s (%s) into %d node(s)", node.name, node.op_type, len(replacement))
    del model.graph.node[:]
    model.graph.node.extend(_live(nodes, {o.name for o in model.graph.output}))
    return count


def _live(nodes: list[onnx.NodeProto], outputs: set[str]) -> list[onnx.NodeProto]:
    """The nodes whose results are used: a rewrite can leave the computation of an input it
    no longer reads (Resize's sizes) behind, which the engine would still have to take."""
    needed = set(outputs)
    kept = []
    for node in reversed(nodes):
        if any(o in needed for o in node.output) or _has_subgraph(node):
            kept.append(node)
            needed.update(node.input)
    return kept[::-1]


def _has_subgraph(node: onnx.NodeProto) -> bool:
    return any(a.HasField("g") or len(a.graphs) for a in node.attribute)
