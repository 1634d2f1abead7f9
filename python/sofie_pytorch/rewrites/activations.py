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


