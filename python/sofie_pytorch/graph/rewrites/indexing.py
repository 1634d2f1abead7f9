"""Indexing SOFIE lacks: GatherElements (one Gather from the flattened tensor), OneHot."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .registry import Context, attr, rewrite


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
    axis = int(attr(node, "axis", 0)) % rank  # type: ignore[call-overload]
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




@rewrite("OneHot")
def _one_hot(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # F.one_hot: (indices[..., None] == arange(depth)) as the values' type (0 and 1)
    depth, values = (ctx.constants.get(name) for name in node.input[1:3])
    rank = len(ctx.shapes.get(node.input[0], []))
    if depth is None or values is None or list(values.reshape(-1)) != [0, 1] or rank == 0:
        return None
    axis = int(attr(node, "axis", -1))  # type: ignore[call-overload]
    if axis not in (-1, rank):
        return None
    n = node.name
    column, equal = ctx.fresh(node.output[0]), ctx.fresh(node.output[0])
    classes = np.arange(int(depth.reshape(-1)[0]), dtype=np.int64)
    element = helper.np_dtype_to_tensor_dtype(values.dtype)
    return [
        helper.make_node("Unsqueeze", [node.input[0], ctx.constant(np.array([rank], np.int64),
                                                                   "axes")],
                         [column], name=f"{n}/Column"),
        helper.make_node("Equal", [column, ctx.constant(classes, "classes")], [equal],
                         name=f"{n}/Equal"),
        helper.make_node("Cast", [equal], list(node.output), to=element, name=f"{n}/Cast"),
    ]
