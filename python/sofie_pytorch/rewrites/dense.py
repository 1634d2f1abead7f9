"""Dense layers torch's ONNX exporter has no form for: nn.Bilinear (``aten::bilinear``).

y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o] is one MatMul of x1 with W laid
out as (I1, O*I2), a Reshape to (..., O, I2), a product with x2 broadcast over O, and a
sum over the last axis.
"""

from __future__ import annotations

import numpy as np
import onnx
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
