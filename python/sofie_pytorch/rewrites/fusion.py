"""Patterns the engine's parser fuses into an operator that cannot take them.

SOFIE's parser fuses every MatMul whose only consumer is an Add into a Gemm, whose bias
must be a vector or a scalar: an attention mask added to the scores (a (T, T) constant)
then fails to generate ("invalid shape for bias tensor"). Subtracting the negated
constant is the same arithmetic (also for -inf masks) and is not fused.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .registry import Context, rewrite


@rewrite("Add")
def _unfused_mask(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    if len(node.input) != 2:
        return None
    for product, other in (node.input, node.input[::-1]):
        value = ctx.constants.get(other)
        producer = ctx.producer(product) if value is not None else None
        if producer is None or producer.op_type != "MatMul":
            continue
        if sum(d > 1 for d in value.shape) <= 1:
            return None  # a bias vector or a scalar: the fused Gemm takes it
        negated = ctx.constant(np.negative(value), "negated")
        return [helper.make_node("Sub", [product, negated], list(node.output), name=node.name)]
    return None
