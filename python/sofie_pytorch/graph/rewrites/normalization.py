"""Normalizations SOFIE lacks or cannot take: RMSNorm (``aten::rms_norm``), and
BatchNormalization on 5-d inputs (the engine's parser names its tensors twice there).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .registry import Context, attr, rewrite


@rewrite("aten::rms_norm")
def _rms_norm(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # y = x / sqrt(mean(x^2 over the normalized axes) + eps) * weight
    inputs = list(node.input) + [""] * (4 - len(node.input))
    x, normalized, weight, eps = inputs[:4]
    dims = ctx.constants.get(normalized)
    rank = len(ctx.shapes.get(x, []))
    if dims is None or rank == 0 or (weight and weight not in ctx.constants):
        return None
    value = ctx.constants.get(eps) if eps else None
    if eps and value is None:
        return None
    epsilon = float(value) if value is not None else float(np.finfo(np.float32).eps)
    axes = list(range(rank - int(np.asarray(dims).size), rank))
    n = node.name
    square, mean, shifted, root, normed = (ctx.fresh(node.output[0]) for _ in range(5))
    nodes = [
        helper.make_node("Mul", [x, x], [square], name=f"{n}/Square"),
        helper.make_node("ReduceMean", [square], [mean], axes=axes, keepdims=1, name=f"{n}/Mean"),
        helper.make_node("Add", [mean, ctx.constant(np.array([epsilon], np.float32), "eps")],
                         [shifted], name=f"{n}/Eps"),
        helper.make_node("Sqrt", [shifted], [root], name=f"{n}/Sqrt"),
        helper.make_node("Div", [x, root], [normed if weight else node.output[0]],
                         name=f"{n}/Div"),
    ]
    if weight:
        nodes.append(helper.make_node("Mul", [normed, weight], [node.output[0]], name=f"{n}/Scale"))
    return nodes


@rewrite("BatchNormalization")
def _batchnorm_5d(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # y = x * s + t per channel, s = scale / sqrt(var + eps), t = bias - mean * s
    shape = ctx.shapes.get(node.input[0])
    params = [ctx.constants.get(name) for name in node.input[1:5]]
    if shape is None or len(shape) < 5 or any(p is None for p in params) or len(node.output) > 1:
        return None
    scale, bias, mean, var = (np.asarray(p, dtype=np.float64) for p in params)
    s = scale / np.sqrt(var + float(attr(node, "epsilon", 1e-5)))  # type: ignore[arg-type]
    t = bias - mean * s
    per_channel = [len(s)] + [1] * (len(shape) - 2)
    scaled = ctx.fresh(node.output[0])
    n = node.name
    return [
        helper.make_node("Mul", [node.input[0], ctx.constant(
            s.reshape(per_channel).astype(np.float32), "bn_scale")], [scaled], name=f"{n}/Scale"),
        helper.make_node("Add", [scaled, ctx.constant(
            t.reshape(per_channel).astype(np.float32), "bn_shift")], list(node.output),
            name=f"{n}/Shift"),
    ]
