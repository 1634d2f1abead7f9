"""Padding modes SOFIE lacks (its Pad takes constant mode only): reflect, edge, wrap.

With the padded axes' sizes known, each is a Gather along the axis at constant indices:
reflect mirrors around the edge element, edge repeats it, wrap (circular) continues from
the other end. Axes not padded may have sizes chosen at run time.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .registry import Context, attr, rewrite


def _indices(mode: bytes, size: int, before: int, after: int) -> np.ndarray | None:
    positions = np.arange(-before, size + after)
    if mode == b"edge":
        return np.clip(positions, 0, size - 1)
    if mode == b"wrap":
        return positions % size
    if max(before, after) >= size:  # torch refuses these too
        return None
    period = 2 * (size - 1)
    folded = np.abs(positions) % period if period else np.zeros_like(positions)
    return np.where(folded >= size, period - folded, folded)


@rewrite("Pad")
def _pad_gather(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    mode = attr(node, "mode", b"constant")
    if mode not in (b"reflect", b"edge", b"wrap"):
        return None
    shape = ctx.shapes.get(node.input[0])
    pads = ctx.constants.get(node.input[1]) if len(node.input) > 1 else None
    axes_input = node.input[3] if len(node.input) > 3 and node.input[3] else None
    if shape is None or pads is None:
        return None
    rank = len(shape)
    axes = (list(range(rank)) if axes_input is None
            else [int(a) % rank for a in ctx.constants.get(axes_input, np.array([])).tolist()])
    pads = [int(p) for p in pads.tolist()]
    if len(pads) != 2 * len(axes):
        return None
    steps = []
    for k, axis in enumerate(axes):
        before, after = pads[k], pads[k + len(axes)]
        if before == 0 and after == 0:
            continue
        size = shape[axis]
        if not isinstance(size, int) or size <= 0 or min(before, after) < 0:
            return None
        index = _indices(mode, size, before, after)
        if index is None:
            return None
        steps.append((axis, index))
    if not steps:
        return None
    nodes, current = [], node.input[0]
    for i, (axis, index) in enumerate(steps):
        out = node.output[0] if i == len(steps) - 1 else ctx.fresh(node.output[0])
        nodes.append(helper.make_node(
            "Gather", [current, ctx.constant(index.astype(np.int64), "pad_index")], [out],
            name=f"{node.name}/Pad{axis}", axis=axis))
        current = out
    return nodes
