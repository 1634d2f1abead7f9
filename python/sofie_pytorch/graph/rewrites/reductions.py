"""Index reductions SOFIE lacks: ArgMax and ArgMin, as the indices of a TopK with k = 1."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .registry import Context, attr, rewrite


def _arg_extreme(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # TopK's second output is int64, as torch.argmax's; for ties torch gives the first
    # index, and so does TopK (a stable selection). select_last_index is not torch's.
    if attr(node, "select_last_index", 0):
        return None
    axis = int(attr(node, "axis", 0))  # type: ignore[call-overload]
    rank = len(ctx.shapes.get(node.input[0], []))
    if rank == 0:
        return None
    axis %= rank
    keep = attr(node, "keepdims", 1)
    n = node.name
    indices = node.output[0] if keep else ctx.fresh(f"{n}_indices")
    k = ctx.constant(np.array([1], dtype=np.int64), "k")
    nodes = [helper.make_node("TopK", [node.input[0], k], [ctx.fresh(f"{n}_values"), indices],
                              name=f"{n}/TopK", axis=axis,
                              largest=int(node.op_type == "ArgMax"), sorted=1)]
    if not keep:
        axes = ctx.constant(np.array([axis], dtype=np.int64), "axes")
        nodes.append(helper.make_node("Squeeze", [indices, axes], list(node.output),
                                      name=f"{n}/Squeeze"))
    return nodes


for _op in ("ArgMax", "ArgMin"):
    rewrite(_op)(_arg_extreme)
