"""Resampling SOFIE lacks (it has no Resize): nearest-neighbour upsampling."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .registry import Context, attr, rewrite


@rewrite("Resize")
def _resize_nearest(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # Nearest-neighbour upsampling by whole factors repeats each element: per scaled
    # axis, insert a length-1 axis after it, Expand it to the factor, merge the two.
    # (One axis at a time: the engine's Expand broadcasting several axes at once in a
    # rank-6 tensor gave wrong values.)
    if attr(node, "mode", b"nearest") != b"nearest":
        return None
    shape = ctx.static_shape(node.input[0])
    out_shape = ctx.static_shape(node.output[0])
    if shape is None or out_shape is None or len(shape) != len(out_shape):
        return None
    if any(o % i for i, o in zip(shape, out_shape)):
        return None
    nodes, current, now = [], node.input[0], list(shape)
    scaled_axes = [k for k, (i, o) in enumerate(zip(shape, out_shape)) if o != i]
    for k in scaled_axes:
        factor = out_shape[k] // now[k]
        split = [*now[: k + 1], 1, *now[k + 1:]]
        repeated = [*now[: k + 1], factor, *now[k + 1:]]
        now[k] *= factor
        names = [ctx.fresh(node.output[0]) for _ in range(2)]
        out = node.output[0] if k == scaled_axes[-1] else ctx.fresh(node.output[0])
        nodes += [
            helper.make_node("Reshape", [current, ctx.constant(np.array(split, np.int64), "shape")],
                             [names[0]], name=f"{node.name}/Split{k}"),
            helper.make_node("Expand", [names[0], ctx.constant(np.array(repeated, np.int64),
                                                               "shape")],
                             [names[1]], name=f"{node.name}/Repeat{k}"),
            helper.make_node("Reshape", [names[1], ctx.constant(np.array(now, np.int64), "shape")],
                             [out], name=f"{node.name}/Merge{k}"),
        ]
        current = out
    return nodes or None


