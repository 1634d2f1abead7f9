"""Folding what is constant before the rewrites look at the graph.

torch's exporter leaves some computations on constants in the graph (the pads of a
reflection padding are built from a list with ConstantOfShape, Concat, Slice...; sizes
with Shape on inputs whose shape is fixed). Rewrites need those values, and the engine
would otherwise have to generate code for them: each node whose inputs are all known is
evaluated here (by onnx's reference implementation) and becomes an initializer.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from .registry import Context

log = logging.getLogger(__name__)

# Not folded: they draw random numbers, or are graphs of their own.
_KEEP = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
         "Bernoulli", "If", "Loop", "Scan", "Constant"}
# Folding a large tensor would only move work into the weight file.
_MAX_ELEMENTS = 1 << 16


def _evaluate(node: onnx.NodeProto, values: list[np.ndarray | None]) -> list[np.ndarray] | None:
    inits = [numpy_helper.from_array(np.asarray(v), name)
             for name, v in zip(node.input, values) if name]
    graph = helper.make_graph([node], "fold", [], [helper.make_value_info(o, onnx.TypeProto())
                                                  for o in node.output], inits)
    try:
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        return [np.asarray(v) for v in ReferenceEvaluator(model).run(None, {})]
    except Exception as exc:  # noqa: BLE001 - a node that cannot be folded stays
        log.debug("not folded: %s (%s): %s", node.name, node.op_type, exc)
        return None


def _dims_of_shape_input(node: onnx.NodeProto, ctx: Context) -> list | None:
    """The dimensions (ints where fixed) of the tensor whose Shape is `node`'s first input,
    or None when that input is not a plain Shape or the dimensions are unknown."""
    shape_node = ctx.producer(node.input[0])
    if shape_node is None or shape_node.op_type != "Shape" or len(shape_node.attribute):
        return None
    return ctx.shapes.get(shape_node.input[0])


def _fixed_dims(node: onnx.NodeProto, ctx: Context) -> list[np.ndarray] | None:
    """x.size(1) of an input whose batch size is chosen at run time: Gather of fixed
    dimensions from the Shape of a tensor whose other dimensions are not fixed."""
    dims = _dims_of_shape_input(node, ctx)
    indices = ctx.constants[node.input[1]]
    if dims is None or indices.dtype.kind not in "iu":
        return None
    picked = [dims[int(i)] for i in indices.ravel()]
    if not all(isinstance(d, int) and d > 0 for d in picked):
        return None
    return [np.array(picked, dtype=np.int64).reshape(indices.shape)]


def _fixed_slice(node: onnx.NodeProto, ctx: Context) -> list[np.ndarray] | None:
    """q.size(-1) taken as a Slice of a Shape (torch's in-projection takes E = q.size(-1) so,
    then slices its packed bias with it): constant when the dimensions sliced are fixed,
    whatever the others (the batch size chosen at run time). Without it, the bias of
    ParT's class attention reaches the engine as a Slice whose length is computed at run
    time, and Generate refuses the Gemm it becomes."""
    dims = _dims_of_shape_input(node, ctx)
    arguments = [ctx.constants.get(n) if n else None for n in node.input[1:]]
    if dims is None or any(a is None for a in arguments[:2]) or \
            any(n and a is None for n, a in zip(node.input[3:], arguments[2:])):
        return None
    starts, ends = arguments[0], arguments[1]
    axes = arguments[2] if len(arguments) > 2 and arguments[2] is not None else np.array([0])
    steps = arguments[3] if len(arguments) > 3 and arguments[3] is not None else np.array([1])
    if starts.size != 1 or ends.size != 1 or axes.size != 1 or steps.size != 1 or \
            int(axes.reshape(-1)[0]) not in (0, -1) or int(steps.reshape(-1)[0]) == 0:
        return None
    # A Python slice on the list of positions clamps starts and ends as ONNX's Slice does.
    positions = list(range(len(dims)))[slice(int(starts.reshape(-1)[0]), int(ends.reshape(-1)[0]),
                                             int(steps.reshape(-1)[0]))]
    picked = [dims[i] for i in positions]
    if not all(isinstance(d, int) and d > 0 for d in picked):
        return None
    return [np.array(picked, dtype=np.int64)]


def fold(model: onnx.ModelProto, rounds: int = 4) -> int:
    """Replace, in place, every node computable from constants by initializers. Each round
    gives shape inference new constants (pads, sizes), hence new static shapes to fold."""
    total = 0
    for _ in range(rounds):
        folded = _fold_once(model)
        total += folded
        if not folded:
            break
    return total


def _fold_once(model: onnx.ModelProto) -> int:
    ctx = Context(model)
    graph = model.graph
    kept: list[onnx.NodeProto] = []
    folded = 0
    for node in graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type in _KEEP:
            kept.append(node)
            continue
        results = None
        if node.op_type == "Shape" and ctx.static_shape(node.input[0]) is not None and \
                len(node.attribute) == 0:
            results = [np.array(ctx.static_shape(node.input[0]), dtype=np.int64)]
        elif node.op_type == "Gather" and node.input[1] in ctx.constants:
            results = _fixed_dims(node, ctx)
            if results is None:
                kept.append(node)
                continue
        elif node.op_type == "Slice" and node.input[0] not in ctx.constants:
            results = _fixed_slice(node, ctx)
            if results is None:
                kept.append(node)
                continue
        elif node.input and all(not n or n in ctx.constants for n in node.input):
            results = _evaluate(node, [ctx.constants.get(n) for n in node.input])
        if results is None or any(r.size > _MAX_ELEMENTS for r in results):
            kept.append(node)
            continue
        for name, value in zip(node.output, results):
            graph.initializer.append(numpy_helper.from_array(value, name))
            ctx.constants[name] = value
        folded += 1
    if folded:
        del graph.node[:]
        graph.node.extend(kept)
    return folded
