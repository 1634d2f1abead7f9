"""Dense maps torch's ONNX exporter has no form for: nn.Bilinear (``aten::bilinear``) and
nn.Fold (``aten::col2im``).

y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o] is one MatMul of x1 with W laid
out as (I1, O*I2), a Reshape to (..., O, I2), a product with x2 broadcast over O, and a
sum over the last axis.

Fold sums sliding blocks back into an image: a constant linear map per channel, one MatMul
with the matrix torch's own fold makes of the identity (as for interpolation).
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper

from .registry import Context, rewrite


@rewrite("aten::bilinear")
def _bilinear(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    x1, x2, w_name = node.input[:3]
    bias = ctx.constants.get(node.input[3]) if len(node.input) > 3 and node.input[3] else None
    weight = ctx.constants.get(w_name)
    shape = ctx.shapes.get(x1)
    if weight is None or weight.ndim != 3 or shape is None or len(shape) < 2:
        return None
    if len(node.input) > 3 and node.input[3] and bias is None:
        return None
    outs, in1, in2 = weight.shape
    lead = shape[:-1]
    if any(not isinstance(d, int) for d in lead[1:]):
        return None  # only the first dimension may be chosen at run time
    # The first dimension: copied by Reshape's 0 (it may be chosen at run time).
    target = np.array([0, *lead[1:], outs, in2], dtype=np.int64)
    n = node.name
    laid_out = np.ascontiguousarray(weight.transpose(1, 0, 2).reshape(in1, outs * in2))
    product, split, x2_row, scaled, summed = (ctx.fresh(f"{n}_bilinear") for _ in range(5))
    nodes = [
        helper.make_node("MatMul", [x1, ctx.constant(laid_out.astype(np.float32), "bilinear_W")],
                         [product], name=f"{n}/MatMul"),
        helper.make_node("Reshape", [product, ctx.constant(target, "shape")], [split],
                         name=f"{n}/Split"),
        helper.make_node("Unsqueeze", [x2, ctx.constant(np.array([len(shape) - 1], np.int64),
                                                         "axes")],
                         [x2_row], name=f"{n}/Row"),
        helper.make_node("Mul", [split, x2_row], [scaled], name=f"{n}/Mul"),
        helper.make_node("ReduceSum", [scaled, ctx.constant(np.array([len(shape)], np.int64),
                                                            "axes")],
                         [summed if bias is not None else node.output[0]], keepdims=0,
                         name=f"{n}/Sum"),
    ]
    if bias is not None:
        nodes.append(helper.make_node("Add", [summed, ctx.constant(bias.astype(np.float32),
                                                                   "bilinear_b")],
                                      list(node.output[:1]), name=f"{n}/Bias"))
    return nodes


@rewrite("aten::col2im")
def _fold(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    params = [ctx.constants.get(name) for name in node.input[1:6]]
    shape = ctx.shapes.get(node.input[0])
    if any(p is None for p in params) or shape is None or len(shape) != 3 or \
            not all(isinstance(d, int) for d in shape[1:]):
        return None
    size, kernel, dilation, padding, stride = ([int(v) for v in p.reshape(-1)] for p in params)
    blocks, length = shape[1], shape[2]
    per_channel = int(np.prod(kernel))
    channels = blocks // per_channel
    basis = torch.eye(per_channel * length, dtype=torch.float64).reshape(-1, per_channel, length)
    with torch.no_grad():
        matrix = F.fold(basis, size, kernel, dilation=dilation, padding=padding, stride=stride)
    matrix = matrix.reshape(per_channel * length, -1).numpy().astype(np.float32)
    batch = shape[0] if isinstance(shape[0], int) else 0
    n = node.name
    rows, product = ctx.fresh(node.output[0]), ctx.fresh(node.output[0])
    return [
        helper.make_node("Reshape", [node.input[0], ctx.constant(
            np.array([batch, channels, per_channel * length], np.int64), "shape")], [rows],
            name=f"{n}/Rows"),
        helper.make_node("MatMul", [rows, ctx.constant(matrix, "fold")], [product],
                         name=f"{n}/MatMul"),
        helper.make_node("Reshape", [product, ctx.constant(
            np.array([batch, channels, *size], np.int64), "shape")], list(node.output[:1]),
            name=f"{n}/Image"),
    ]
