"""Hand Gemm and MatMul nodes with a constant right operand to ``SofiePyTorchDense``.

The engine's Gemm and MatMul call OpenBLAS, which re-packs the constant weights on every
call; ``SofiePyTorchDense`` (src/operators/Dense.cxx) packs them once per Session and
runs its own register-tiled GEMM. Its node: inputs A (..., K), W (K, N), [B (N values)];
output Y (..., N); attributes ``transB`` (1: W stored N x K, under its own name: ROOT
users look weights up by name) and ``relu`` (set by ``fusion.fold_epilogues``, which also folds
a following bias ``Add`` into a MatMul's node).

Taken: ``Gemm`` with transA 0, alpha 1 and a constant B (either layout), and a
C of N values (or broadcast as 1 x N) with beta 1, or none; ``MatMul`` with a constant
2-D float right operand and a left operand of any rank whose last dimension is known (the
leading ones, some chosen at run time, are the GEMM's rows). Everything else keeps the
engine's operator.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .rewrites import Context

DENSE_OP = "SofiePyTorchDense"


def _left_ok(name: str, ctx: Context, k: int, rank: int | None = None) -> bool:
    shape = ctx.shapes.get(name)
    if shape is None or not shape or shape[-1] != k or (rank is not None and len(shape) != rank):
        return False
    return all(isinstance(d, str) or d > 0 for d in shape)


def _weights(value: np.ndarray | None) -> bool:
    return (value is not None and value.ndim == 2 and value.dtype == np.float32
            and min(value.shape) > 0)


def gemm(node: onnx.NodeProto, ctx: Context) -> onnx.NodeProto | None:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    b = ctx.constants.get(node.input[1])
    if (attrs.pop("transA", 0) != 0 or attrs.pop("alpha", 1.0) != 1.0 or not _weights(b)
            or set(attrs) - {"transB", "beta"}):
        return None
    trans_b = bool(attrs.get("transB", 0))
    n, k = b.shape if trans_b else b.shape[::-1]
    if not _left_ok(node.input[0], ctx, k, rank=2):
        return None
    inputs = [node.input[0], node.input[1]]
    c_name = node.input[2] if len(node.input) > 2 else ""
    if c_name:
        c = ctx.constants.get(c_name)
        if (c is None or attrs.get("beta", 1.0) != 1.0 or c.dtype != np.float32
                or c.size != n or (c.ndim == 2 and c.shape[0] != 1) or c.ndim > 2):
            return None
        inputs.append(c_name)
    dense = helper.make_node(DENSE_OP, inputs, list(node.output), name=node.name)
    if trans_b:
        dense.attribute.append(helper.make_attribute("transB", 1))
    return dense


def matmul(node: onnx.NodeProto, ctx: Context) -> onnx.NodeProto | None:
    w = ctx.constants.get(node.input[1])
    if not _weights(w) or not _left_ok(node.input[0], ctx, w.shape[0]):
        return None
    return helper.make_node(DENSE_OP, list(node.input), list(node.output), name=node.name)
