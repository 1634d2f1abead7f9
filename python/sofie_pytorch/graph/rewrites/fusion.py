"""Patterns the engine's parser or operators mishandle, reshaped so that they do not.

SOFIE's parser fuses every MatMul whose only consumer is an Add into a Gemm, whose bias
must be a vector or a scalar: an attention mask added to the scores (a (T, T) constant)
then fails to generate ("invalid shape for bias tensor"). Subtracting the negated
constant is the same arithmetic (also for -inf masks) and is not fused.

The engine's Conv broadcasts its bias into a buffer it owns only for a bias that is an
initializer; one given by a Constant node (as torch.export's graphs give it) generates code
that does not compile. The bias becomes an initializer.
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


@rewrite("Conv")
def _conv_bias_initializer(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    if len(node.input) < 3 or not node.input[2]:
        return None
    producer = ctx.producer(node.input[2])
    value = ctx.constants.get(node.input[2])
    if producer is None or producer.op_type != "Constant" or value is None:
        return None
    replacement = onnx.NodeProto()
    replacement.CopyFrom(node)
    replacement.input[2] = ctx.constant(value, "conv_bias")
    return [replacement]
