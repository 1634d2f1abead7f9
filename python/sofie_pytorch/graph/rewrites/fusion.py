"""Patterns the engine's parser or operators mishandle, reshaped so that they do not.

SOFIE's parser fuses every MatMul whose only consumer is an Add into a Gemm, whose bias
must be a vector or a scalar: an attention mask added to the scores (a (T, T) constant)
then fails to generate ("invalid shape for bias tensor"). Subtracting the negated
constant is the same arithmetic (also for -inf masks) and is not fused.

The engine's Conv broadcasts its bias into a buffer it owns only for a bias that is an
initializer; one given by a Constant node (as torch.export's graphs give it) generates code
that does not compile. The bias becomes an initializer.

Where an output spatial size of a Conv is chosen at run time, the engine's Conv spreads its
bias over the output plane when the Session is made (at the sizes it is made with, the
largest), then hands that buffer to the GEMM as a plane of the run-time size: at any smaller
size the rows are misaligned and the result is silently wrong (off by up to the bias). The
bias then becomes an Add of a (C, 1, ...) constant after the Conv, which broadcasts at run
time; a 2-D constant is not one the parser fuses back into the Conv (it fuses 1-D ones).
Where ONNX shape inference lost sizes that are in fact fixed (ParticleNet's EdgeConvs at a
run-time batch size) this applies too: the same values, and the Add fuses with the
BatchNorm and ReLU after it (graph/fusion.py). The engine's ConvTranspose refuses run-time
spatial sizes itself.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from ...errors import UnsupportedOperatorError
from .registry import Context, attr, rewrite


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
def _conv_bias(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    if len(node.input) < 3 or not node.input[2]:
        return None
    return _bias_after_run_time_conv(node, ctx) or _conv_bias_initializer(node, ctx)


def _bias_after_run_time_conv(node: onnx.NodeProto,
                              ctx: Context) -> list[onnx.NodeProto] | None:
    """Conv(X, W, B) -> Add(Conv(X, W), B as (C, 1, ...)) when an output spatial size is
    chosen at run time (see the module's docstring)."""
    ones = _spatial_rank(node, ctx)
    shape = ctx.shapes.get(node.output[0]) or ctx.shapes.get(node.input[0])
    if shape is not None:
        if all(isinstance(d, int) and d > 0 for d in shape[2:]):
            return None
    elif not _has_run_time_inputs(ctx.graph):
        return None  # shapes not inferred, but every size is fixed
    if ones is None:
        raise UnsupportedOperatorError(
            f"Conv node '{node.name}': the number of its spatial axes is not known, and its "
            f"sizes may be chosen at run time; the engine's Conv would add its bias wrongly "
            f"below the largest size. Give every size of the model's inputs, or a constant "
            f"weight", {"Conv": [node.name]})
    unbiased = onnx.NodeProto()
    unbiased.CopyFrom(node)
    del unbiased.input[2:]
    product = ctx.fresh(f"{node.output[0]}_unbiased")
    unbiased.output[0] = product
    value = ctx.constants.get(node.input[2])
    nodes = [unbiased]
    if value is not None:
        bias = ctx.constant(value.reshape(-1, *[1] * ones), "conv_bias")
    else:  # computed in the graph: given the same shape there
        bias = ctx.fresh(f"{node.input[2]}_planes")
        axes = ctx.constant(np.arange(1, 1 + ones, dtype=np.int64), "conv_bias_axes")
        nodes.append(helper.make_node("Unsqueeze", [node.input[2], axes], [bias],
                                      name=f"{node.name}/bias_planes"))
    nodes.append(helper.make_node("Add", [product, bias], list(node.output),
                                  name=f"{node.name}/bias"))
    return nodes


def _spatial_rank(node: onnx.NodeProto, ctx: Context) -> int | None:
    weight = ctx.constants.get(node.input[1])
    if weight is not None:
        return weight.ndim - 2
    kernel = attr(node, "kernel_shape", None)
    return len(kernel) if kernel else None


def _has_run_time_inputs(graph: onnx.GraphProto) -> bool:
    return any(not d.HasField("dim_value") for i in graph.input
               for d in i.type.tensor_type.shape.dim)


def _conv_bias_initializer(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    producer = ctx.producer(node.input[2])
    value = ctx.constants.get(node.input[2])
    if producer is None or producer.op_type != "Constant" or value is None:
        return None
    replacement = onnx.NodeProto()
    replacement.CopyFrom(node)
    replacement.input[2] = ctx.constant(value, "conv_bias")
    return [replacement]
