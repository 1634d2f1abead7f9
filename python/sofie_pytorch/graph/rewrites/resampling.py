"""Resampling SOFIE lacks (it has no Resize): nearest, linear and cubic interpolation.

Nearest-neighbour upsampling by whole factors repeats elements (Reshape, Expand). Linear
and cubic interpolation with fixed sizes are separable linear maps: per resized axis, one
MatMul with a constant (n_in, n_out) matrix, the axis moved last and back by Transposes.
The matrices are torch's own interpolation of the identity, so they follow torch's
coordinate conventions (align_corners both ways, torch's cubic coefficient) exactly.
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper

from .registry import Context, attr, rewrite


@rewrite("Resize")
def _resize(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    mode = attr(node, "mode", b"nearest")
    if mode == b"nearest":
        return _resize_nearest(node, ctx)
    if mode in (b"linear", b"cubic"):
        return _resize_interpolating(node, ctx, mode)
    return None


# torch's conventions, as its exporter writes them; others (asymmetric, tf_crop_and_resize,
# another cubic coefficient) are left to the support check.
_ALIGN_CORNERS = {b"align_corners": True, b"pytorch_half_pixel": False, b"half_pixel": False}


def _interpolation_matrix(size: int, out: int, scale: float | None, mode: bytes,
                          align_corners: bool) -> np.ndarray:
    """M (size, out) with interpolated = signal @ M, from torch interpolating the identity."""
    eye = torch.eye(size, dtype=torch.float64)
    resize = {"scale_factor": scale} if scale is not None else {"size": out}
    with torch.no_grad():
        if mode == b"linear":
            matrix = F.interpolate(eye.reshape(1, size, size), mode="linear",
                                   align_corners=align_corners, **resize)[0]
        else:  # bicubic along a length-1 second axis is the identity there
            if scale is not None:
                resize = {"scale_factor": (1.0, scale)}
            else:
                resize = {"size": (1, out)}
            matrix = F.interpolate(eye.reshape(1, size, 1, size), mode="bicubic",
                                   align_corners=align_corners, **resize)[0, :, 0]
    return matrix.numpy().astype(np.float32)


def _resize_interpolating(node: onnx.NodeProto, ctx: Context,
                          mode: bytes) -> list[onnx.NodeProto] | None:
    align = _ALIGN_CORNERS.get(attr(node, "coordinate_transformation_mode", b"half_pixel"))
    if align is None or (mode == b"cubic" and (attr(node, "exclude_outside", 0)
                                               or abs(attr(node, "cubic_coeff_a", -0.75) + 0.75)
                                               > 1e-6)):
        return None
    shape, out_shape = ctx.shapes.get(node.input[0]), ctx.shapes.get(node.output[0])
    if shape is None or out_shape is None or len(shape) != len(out_shape):
        return None
    scales = ctx.constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    rank = len(shape)
    if scales is not None and len(scales) != rank:
        scales = None
    out_shape = _sizes_tail(node, ctx, out_shape)
    axes = []
    for k, (size, out) in enumerate(zip(shape, out_shape)):
        resized = scales[k] != 1 if scales is not None else size != out
        if not resized:
            continue
        if not (isinstance(size, int) and isinstance(out, int) and size > 0 and out > 0):
            return None  # a resized axis must have a fixed size
        axes.append(k)
    nodes, current = [], node.input[0]
    for i, k in enumerate(axes):
        scale = float(scales[k]) if scales is not None else None
        matrix = ctx.constant(_interpolation_matrix(shape[k], out_shape[k], scale, mode, align),
                              "interpolation")
        out = node.output[0] if i == len(axes) - 1 else ctx.fresh(node.output[0])
        if k == rank - 1:
            nodes.append(helper.make_node("MatMul", [current, matrix], [out],
                                          name=f"{node.name}/Interpolate{k}"))
        else:
            perm = list(range(rank))
            perm[k], perm[-1] = perm[-1], perm[k]
            moved, product = ctx.fresh(node.output[0]), ctx.fresh(node.output[0])
            nodes += [
                helper.make_node("Transpose", [current], [moved], perm=perm,
                                 name=f"{node.name}/Move{k}"),
                helper.make_node("MatMul", [moved, matrix], [product],
                                 name=f"{node.name}/Interpolate{k}"),
                helper.make_node("Transpose", [product], [out], perm=perm,
                                 name=f"{node.name}/Back{k}"),
            ]
        current = out
    return nodes or None


def _sizes_tail(node: onnx.NodeProto, ctx: Context, out_shape: list) -> list:
    """Output sizes given as Concat(the input's leading sizes, constant sizes): how torch
    exports F.interpolate(size=...) when the batch size is chosen at run time."""
    producer = ctx.producer(node.input[3]) if len(node.input) > 3 and node.input[3] else None
    tail = ctx.constants.get(producer.input[-1]) if producer is not None and \
        producer.op_type == "Concat" else None
    if tail is None or tail.ndim != 1 or len(tail) >= len(out_shape):
        return out_shape
    lead = ctx.shapes.get(node.input[0], [])[: len(out_shape) - len(tail)]
    return [*lead, *(int(v) for v in tail)]


def _resize_nearest(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # Nearest-neighbour upsampling by whole factors repeats each element: per scaled
    # axis, insert a length-1 axis after it, Expand it to the factor, merge the two.
    # (One axis at a time: the engine's Expand broadcasting several axes at once in a
    # rank-6 tensor gave wrong values.)
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


