"""Rearrangements SOFIE lacks: PixelShuffle (DepthToSpace), ChannelShuffle.

Each is a Reshape that splits the channels, a Transpose, and a Reshape back; the batch
size may be chosen at run time (Reshape's 0 copies it).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .registry import Context, attr, rewrite


def _split_permute_merge(node: onnx.NodeProto, ctx: Context, source: str, split: list[int],
                         perm: list[int], merged: list[int]) -> list[onnx.NodeProto]:
    """split/merged start with 0 for the batch: kept as a copy only when it is chosen at
    run time."""
    batch = ctx.shapes[source][0]
    if isinstance(batch, int):
        split, merged = [batch, *split[1:]], [batch, *merged[1:]]
    n = node.name
    a, b = ctx.fresh(node.output[0]), ctx.fresh(node.output[0])
    return [
        helper.make_node("Reshape", [source, ctx.constant(np.array(split, np.int64), "shape")],
                         [a], name=f"{n}/Split"),
        helper.make_node("Transpose", [a], [b], perm=perm, name=f"{n}/Transpose"),
        helper.make_node("Reshape", [b, ctx.constant(np.array(merged, np.int64), "shape")],
                         list(node.output[:1]), name=f"{n}/Merge"),
    ]


def _fixed_but_batch(shape: list | None, rank: int) -> bool:
    return (shape is not None and len(shape) == rank
            and all(isinstance(d, int) and d > 0 for d in shape[1:]))


@rewrite("DepthToSpace")
def _depth_to_space(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    shape = ctx.shapes.get(node.input[0])
    r = int(attr(node, "blocksize", 0))  # type: ignore[call-overload]
    if not _fixed_but_batch(shape, 4) or r <= 0:
        return None
    _, c, h, w = shape  # type: ignore[misc]
    if attr(node, "mode", b"DCR") == b"CRD":  # torch's pixel_shuffle
        split, perm = [0, c // (r * r), r, r, h, w], [0, 1, 4, 2, 5, 3]
    else:
        split, perm = [0, r, r, c // (r * r), h, w], [0, 3, 4, 1, 5, 2]
    return _split_permute_merge(node, ctx, node.input[0], split, perm,
                                [0, c // (r * r), h * r, w * r])


@rewrite("aten::channel_shuffle")
def _channel_shuffle(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    shape = ctx.shapes.get(node.input[0])
    groups = ctx.constants.get(node.input[1])
    if groups is None or shape is None or len(shape) < 3 or \
            not _fixed_but_batch(shape, len(shape)):
        return None
    g, c, rest = int(groups), shape[1], list(shape[2:])
    rank = len(shape)
    perm = [0, 2, 1, *range(3, rank + 1)]
    return _split_permute_merge(node, ctx, node.input[0], [0, g, c // g, *rest], perm,
                                [0, c, *rest])
