"""Graph rewrites: ONNX patterns SOFIE lacks or mishandles, turned into ones it takes.

Each rewrite is registered for one ONNX operator type. It receives the node and a
Context (static shapes from ONNX shape inference, constant values, a way to add
constants) and returns the nodes replacing it, or None to leave it alone. Rewrites run
before the support check, so a model fails only for what cannot be expressed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .errors import UnsupportedOperatorError

log = logging.getLogger(__name__)


class Context:
    """What rewrites may know about the graph: shapes, constants, fresh names."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self._graph = model.graph
        self.constants: dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t) for t in model.graph.initializer
        }
        for node in model.graph.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
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

    def fresh(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}__{self._counter}"


Rewrite = Callable[[onnx.NodeProto, Context], "list[onnx.NodeProto] | None"]
_REWRITES: dict[str, Rewrite] = {}


def rewrite(op_type: str) -> Callable[[Rewrite], Rewrite]:
    """Register a rewrite for one ONNX operator type."""

    def register(fn: Rewrite) -> Rewrite:
        _REWRITES[op_type] = fn
        return fn

    return register


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


@rewrite("Reshape")
def _reshape_static(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # ONNX's 0 ("copy this dimension") next to a -1 is rejected by SOFIE; with the input
    # shape known, both become plain numbers (or only the -1, where a 0 copies a
    # dimension chosen at run time).
    target = ctx.constants.get(node.input[1])
    if target is None or not (0 in target and -1 in target) or _attr(node, "allowzero", 0):
        return None
    target = [int(d) for d in target.tolist()]
    source = ctx.shapes.get(node.input[0])
    copied = [i for i, d in enumerate(target) if d == 0]
    if source is None or any(i >= len(source) for i in copied):
        return None
    run_time = {i for i, d in enumerate(source) if not (isinstance(d, int) and d > 0)}
    if not run_time <= set(copied):
        return None
    if run_time:
        # A dimension chosen at run time is copied by a 0: keep the 0s, and work out the
        # -1 from the fixed dimensions, which is all SOFIE needs.
        rest = int(np.prod([d for i, d in enumerate(source) if i not in copied]))
        known = int(np.prod([d for d in target if d > 0]))
        if known == 0 or rest % known:
            return None
        dims = [rest // known if d == -1 else d for d in target]
    else:
        dims = [source[i] if d == 0 else d for i, d in enumerate(target)]
        known = int(np.prod([d for d in dims if d != -1]))
        dims = [int(np.prod(source)) // known if d == -1 else d for d in dims]
    shape = ctx.constant(np.array(dims, dtype=np.int64), "shape")
    return [helper.make_node("Reshape", [node.input[0], shape], list(node.output), name=node.name)]


@rewrite("PRelu")
def _prelu(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto]:
    # prelu(x) = relu(x) - slope * relu(-x)
    x, slope = node.input
    neg, pos, negpos, scaled = (ctx.fresh(node.output[0]) for _ in range(4))
    n = node.name
    return [
        helper.make_node("Relu", [x], [pos], name=f"{n}/Relu"),
        helper.make_node("Neg", [x], [neg], name=f"{n}/Neg"),
        helper.make_node("Relu", [neg], [negpos], name=f"{n}/Relu_neg"),
        helper.make_node("Mul", [negpos, slope], [scaled], name=f"{n}/Mul"),
        helper.make_node("Sub", [pos, scaled], [node.output[0]], name=f"{n}/Sub"),
    ]


@rewrite("Celu")
def _celu(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto]:
    # celu(x, a) = a * elu(x / a, 1)
    alpha = float(_attr(node, "alpha", 1.0))  # type: ignore[arg-type]
    a = ctx.constant(np.array(alpha, dtype=np.float32), "celu_alpha")
    scaled, elu = ctx.fresh(node.output[0]), ctx.fresh(node.output[0])
    n = node.name
    return [
        helper.make_node("Div", [node.input[0], a], [scaled], name=f"{n}/Div"),
        helper.make_node("Elu", [scaled], [elu], name=f"{n}/Elu", alpha=1.0),
        helper.make_node("Mul", [elu, a], [node.output[0]], name=f"{n}/Mul"),
    ]


@rewrite("LSTM")
def _lstm_bidirectional(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # SOFIE 0.1.0 computes bidirectional LSTMs wrongly (both directions; unidirectional
    # ones are right): run two forward LSTMs instead, the second on the time-reversed
    # sequence, and reverse its output back.
    if _attr(node, "direction", b"forward") != b"bidirectional" or _attr(node, "layout", 0):
        return None
    inputs = list(node.input) + [""] * (8 - len(node.input))
    x, w, r, b, seq_lens, h0, c0, peep = inputs
    steps = (ctx.shapes.get(x) or [None])[0]  # only the time axis must be a number
    weights = [ctx.constants.get(name) for name in (w, r)]
    bias = ctx.constants.get(b) if b else None
    if (not isinstance(steps, int) or steps <= 0 or any(v is None for v in weights)
            or seq_lens or peep or (b and bias is None)):
        # Left to the engine it would compute wrong values: refuse instead.
        raise UnsupportedOperatorError(
            f"bidirectional LSTM in {node.name or 'the model'} needs a fixed sequence length "
            f"and constant weights to be converted (SOFIE 0.1.0 computes bidirectional "
            f"LSTMs wrongly, so it is split into two forward LSTMs)",
            {"LSTM(bidirectional)": [node.name]},
        )
    n = node.name
    reverse = ctx.constant(np.arange(steps - 1, -1, -1, dtype=np.int64), "time_reversed")
    outputs = list(node.output) + [""] * (3 - len(node.output))
    nodes = [helper.make_node("Gather", [x, reverse], [ctx.fresh("x_reversed")],
                              name=f"{n}/Reverse", axis=0)]
    results = []
    for d, source in enumerate((x, nodes[0].output[0])):
        args = [source] + [ctx.constant(v[d : d + 1], f"lstm_{name}{d}")
                           for v, name in zip(weights, ("W", "R"))]
        args.append(ctx.constant(bias[d : d + 1], f"lstm_B{d}") if bias is not None else "")
        args.append("")  # sequence_lens
        for state in (h0, c0):
            if state:
                index = ctx.constant(np.array([d], dtype=np.int64), "direction")
                picked = ctx.fresh(f"{state}_dir{d}")
                nodes.append(helper.make_node("Gather", [state, index], [picked], axis=0,
                                              name=f"{n}/State{d}"))
                args.append(picked)
            else:
                args.append("")
        outs = [ctx.fresh(f"lstm{d}_{k}") for k in ("Y", "Y_h", "Y_c")]
        attrs = {a.name: helper.get_attribute_value(a)
                 for a in node.attribute if a.name != "direction"}
        nodes.append(helper.make_node("LSTM", args, outs, name=f"{n}/Direction{d}", **attrs))
        results.append(outs)
    y_backward = ctx.fresh("lstm1_Y_forward_in_time")
    nodes.append(helper.make_node("Gather", [results[1][0], reverse], [y_backward], axis=0,
                                  name=f"{n}/Unreverse"))
    results[1][0] = y_backward
    for k, (out, axis) in enumerate(zip(outputs, (1, 0, 0))):
        if out:
            nodes.append(helper.make_node("Concat", [results[0][k], results[1][k]], [out],
                                          axis=axis, name=f"{n}/Concat{k}"))
    return nodes


def _reduce_to_scalar(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # SOFIE cannot produce a rank-0 tensor: reduce keeping the dimensions, then make the
    # result a one-element vector (which broadcasts like the scalar it replaces).
    if _attr(node, "keepdims", 1) != 0:
        return None
    rank = len(ctx.shapes.get(node.input[0], [])) or None
    axes = _attr(node, "axes", None)
    if axes is None and len(node.input) > 1 and node.input[1]:
        constant = ctx.constants.get(node.input[1])
        if constant is None:
            return None
        axes = constant.tolist()
    if rank is None or (axes is not None and sorted(a % rank for a in axes) != list(range(rank))):
        return None
    kept = ctx.fresh(node.output[0])
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    attrs["keepdims"] = 1
    one = ctx.constant(np.array([1], dtype=np.int64), "shape")
    return [
        helper.make_node(node.op_type, list(node.input), [kept], name=node.name, **attrs),
        helper.make_node("Reshape", [kept, one], list(node.output), name=f"{node.name}/Reshape"),
    ]


for _op in ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare",
            "ReduceL2"):
    rewrite(_op)(_reduce_to_scalar)


@rewrite("GatherElements")
def _gather_elements(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # out[i..] = x[i.. with index[i..] on `axis`] is one Gather from the flattened x, at
    # index * stride(axis) + the flat offset of every other coordinate (constant when
    # the shapes are static).
    x, index = node.input
    x_shape, index_shape = ctx.static_shape(x), ctx.static_shape(index)
    if x_shape is None or index_shape is None:
        return None
    rank = len(x_shape)
    axis = int(_attr(node, "axis", 0)) % rank  # type: ignore[call-overload]
    strides = [int(np.prod(x_shape[k + 1:])) for k in range(rank)]
    grids = np.indices(index_shape, dtype=np.int64)
    offsets = sum(grids[k] * strides[k] for k in range(rank) if k != axis)
    n = node.name
    flat, scaled, flat_index = (ctx.fresh(node.output[0]) for _ in range(3))
    return [
        helper.make_node("Reshape", [x, ctx.constant(np.array([-1], dtype=np.int64), "shape")],
                         [flat], name=f"{n}/Flatten"),
        helper.make_node("Mul", [index, ctx.constant(np.array(strides[axis], dtype=np.int64),
                                                     "stride")], [scaled], name=f"{n}/Stride"),
        helper.make_node("Add", [scaled, ctx.constant(np.asarray(offsets, dtype=np.int64),
                                                      "offsets")],
                         [flat_index], name=f"{n}/Offset"),
        helper.make_node("Gather", [flat, flat_index], list(node.output), name=n, axis=0),
    ]


@rewrite("Resize")
def _resize_nearest(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # Nearest-neighbour upsampling by whole factors repeats each element: per scaled
    # axis, insert a length-1 axis after it, Expand it to the factor, merge the two.
    # (One axis at a time: the engine's Expand broadcasting several axes at once in a
    # rank-6 tensor gave wrong values.)
    if _attr(node, "mode", b"nearest") != b"nearest":
        return None
    shape = ctx.static_shape(node.input[0])
    out_shape = ctx.static_shape(node.output[0])
    if shape is None or out_shape is None or len(shape) != len(out_shape):
        return None
    if any(o % i for i, o in zip(shape, out_shape)):
        return None
    nodes, current, now = [], node.input[0], list(shape)
    scaled_axes = [k for k, (i, o) in enumerate(zip(shape, out_shape)) if o != i]
    for k in scaled_axes:
        factor = out_shape[k] // now[k]
        split = [*now[: k + 1], 1, *now[k + 1:]]
        repeated = [*now[: k + 1], factor, *now[k + 1:]]
        now[k] *= factor
        names = [ctx.fresh(node.output[0]) for _ in range(2)]
        out = node.output[0] if k == scaled_axes[-1] else ctx.fresh(node.output[0])
        nodes += [
            helper.make_node("Reshape", [current, ctx.constant(np.array(split, np.int64), "shape")],
                             [names[0]], name=f"{node.name}/Split{k}"),
            helper.make_node("Expand", [names[0], ctx.constant(np.array(repeated, np.int64),
                                                               "shape")],
                             [names[1]], name=f"{node.name}/Repeat{k}"),
            helper.make_node("Reshape", [names[1], ctx.constant(np.array(now, np.int64), "shape")],
                             [out], name=f"{node.name}/Merge{k}"),
        ]
        current = out
    return nodes or None


def apply(model: onnx.ModelProto, supported: Iterable[str]) -> int:
    """Apply every registered rewrite that fits, in place; return how many applied."""
    del supported  # rewrites decide by pattern; kept for a stable signature
    if not any(n.op_type in _REWRITES for n in model.graph.node):
        return 0
    ctx = Context(model)
    nodes: list[onnx.NodeProto] = []
    count = 0
    for node in model.graph.node:
        fn = _REWRITES.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        replacement = fn(node, ctx) if fn else None
        if replacement is None:
            nodes.append(node)
            continue
        nodes.extend(replacement)
        count += 1
        log.debug("rewrote %s (%s) into %d node(s)", node.name, node.op_type, len(replacement))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return count
