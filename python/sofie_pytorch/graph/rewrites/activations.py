"""Activations SOFIE lacks, written with ones it has: PReLU, CELU."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .registry import Context, attr, rewrite


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
    alpha = float(attr(node, "alpha", 1.0))  # type: ignore[arg-type]
    a = ctx.constant(np.array(alpha, dtype=np.float32), "celu_alpha")
    scaled, elu = ctx.fresh(node.output[0]), ctx.fresh(node.output[0])
    n = node.name
    return [
        helper.make_node("Div", [node.input[0], a], [scaled], name=f"{n}/Div"),
        helper.make_node("Elu", [scaled], [elu], name=f"{n}/Elu", alpha=1.0),
        helper.make_node("Mul", [elu, a], [node.output[0]], name=f"{n}/Mul"),
    ]




@rewrite("aten::threshold")
def _threshold(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # threshold(x, t, v) = x where x > t, else v (torch's exporter has no form for it)
    limit, value = (ctx.constants.get(name) for name in node.input[1:3])
    if limit is None or value is None:
        return None
    t = ctx.constant(np.array([float(limit)], dtype=np.float32), "threshold")
    v = ctx.constant(np.array([float(value)], dtype=np.float32), "threshold_value")
    above, filled = ctx.fresh(node.output[0]), ctx.fresh(node.output[0])
    n = node.name
    return [
        helper.make_node("Greater", [node.input[0], t], [above], name=f"{n}/Greater"),
        helper.make_node("Expand", [v, ctx.constant(np.array([1], np.int64), "shape")], [filled],
                         name=f"{n}/Value"),
        helper.make_node("Where", [above, node.input[0], filled], list(node.output[:1]),
                         name=f"{n}/Where"),
    ]


@rewrite("Sign")
def _sign(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto]:
    # sign(x) = (x > 0) - (x < 0), the comparisons as floats (LPPool uses it)
    zero = ctx.constant(np.array([0.0], dtype=np.float32), "zero")
    names = [ctx.fresh(node.output[0]) for _ in range(4)]
    n = node.name
    return [
        helper.make_node("Greater", [node.input[0], zero], [names[0]], name=f"{n}/Greater"),
        helper.make_node("Less", [node.input[0], zero], [names[1]], name=f"{n}/Less"),
        helper.make_node("Cast", [names[0]], [names[2]], to=onnx.TensorProto.FLOAT,
                         name=f"{n}/CastPositive"),
        helper.make_node("Cast", [names[1]], [names[3]], to=onnx.TensorProto.FLOAT,
                         name=f"{n}/CastNegative"),
        helper.make_node("Sub", [names[2], names[3]], list(node.output), name=f"{n}/Sub"),
    ]
