"""ScatterND whose indices are built from the batch size: a constant Gather and a mask.

ParT's pair embedding writes its lower triangle with ``y[:, :, i, j] = elements``: torch's
exporter makes it a ScatterND whose indices (batch, channels, pairs, 4) are built from
x.size(0) with Range, Expand, Where and Concat. At a batch size fixed when converting they
fold into a constant; at one chosen at run time the engine generates them, and its
ScatterND code loops over a size it never sets (the generated code crashed). Those indices
only enumerate the batch and channel axes and repeat the same positions for each: the
scatter is ``out = Where(mask, Gather(updates, position, axis), data)`` with `position`
(which update lands where) and `mask` (where one lands) constant, valid at any batch size.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .registry import Context, attr, rewrite
from .shapes import PROBE_BATCHES, evaluate, shape_only

# (number of leading axes the indices enumerate, the positions they write into the
# trailing axes, in order, and the data's shape from the first of those axes on)
Layout = tuple[int, tuple[tuple[int, ...], ...], tuple[int, ...]]


@rewrite("ScatterND")
def _scatter_with_batch_indices(node: onnx.NodeProto,
                                ctx: Context) -> list[onnx.NodeProto] | None:
    data, indices, updates = node.input[:3]
    if attr(node, "reduction", b"none") not in (b"none", "none"):
        return None
    # Constant indices (a batch size fixed when converting) are the engine's to take.
    if indices in ctx.constants or not shape_only(indices, ctx):
        return None
    layouts = []
    for batch in PROBE_BATCHES:
        values = evaluate(ctx.graph, [indices, data], batch)
        layout = None if values is None else _layout(values[0], values[1].shape)
        if layout is None:
            return None
        layouts.append(layout)
    if any(layout != layouts[0] for layout in layouts[1:]):
        return None  # the positions written depend on the batch size
    axis, targets, trailing = layouts[0]
    depth = len(targets[0])  # the axes the positions are on, from `axis` on
    position = np.zeros(trailing[:depth], dtype=np.int64)
    mask = np.zeros(trailing[:depth], dtype=bool)
    for k, target in enumerate(targets):  # in order: the last write to a position wins
        position[target] = k
        mask[target] = True
    mask = mask.reshape(mask.shape + (1,) * (len(trailing) - depth))
    gathered = ctx.fresh(f"{node.output[0]}_gathered")
    return [
        helper.make_node("Gather", [updates, ctx.constant(position, "scatter_position")],
                         [gathered], name=f"{node.name}/Gather", axis=axis),
        helper.make_node("Where", [ctx.constant(mask, "scatter_mask"), gathered, data],
                         list(node.output), name=node.name),
    ]


def _layout(indices: np.ndarray, data_shape: tuple[int, ...]) -> Layout | None:
    """How the indices of a ScatterND on data of this shape write, if they enumerate its
    leading axes (indices[b, c, ..., t] == (b, c, ..., i_t, j_t)) and give, along one more
    axis of theirs, positions in the following axes that are the same for every leading
    index; else None."""
    if indices.dtype.kind not in "iu" or indices.ndim < 2:
        return None
    leading, depth = indices.shape[:-1], indices.shape[-1]
    if depth > len(data_shape):
        return None
    grids = np.indices(leading)
    axis = 0
    while axis < min(depth, len(leading) - 1) and leading[axis] == data_shape[axis] and \
            np.array_equal(indices[..., axis], grids[axis]):
        axis += 1
    # The enumerated axes, then exactly one axis of positions (ParT's pairs).
    if axis == 0 or len(leading) != axis + 1 or depth == axis:
        return None
    positions = indices[..., axis:]
    first = positions[(0,) * axis]
    if not np.array_equal(positions, np.broadcast_to(first, positions.shape)):
        return None
    bounds = np.array(data_shape[axis:depth])
    first = np.where(first < 0, first + bounds, first)
    if ((first < 0) | (first >= bounds)).any():
        return None
    return axis, tuple(tuple(int(i) for i in t) for t in first), tuple(data_shape[axis:])
