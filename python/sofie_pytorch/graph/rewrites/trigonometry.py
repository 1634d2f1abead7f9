"""atan2 at the origin.

torch's exporter writes torch.atan2(y, x) as Atan(Div(y, x)) corrected by quadrant; at
x = y = 0 that is atan(0 / 0) = NaN where torch gives 0. Zero-padded particles sit
exactly there (ParT's pair features take atan2 of each particle's py and px): one NaN
spreads through the pair embedding and the attention to every output. Dividing by 1
instead of x where both are 0 gives Torch's 0 and changes nothing elsewhere (a y / 0 of
y != 0 stays +-inf, whose atan is +-pi/2 as for torch).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .registry import Context, rewrite


@rewrite("Atan")
def atan_of_quotient_at_origin(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    division = ctx.producer(node.input[0])
    if division is None or division.op_type != "Div":
        return None
    y, x = division.input
    zero = ctx.constant(np.array(0, dtype=np.float32), "zero")
    one = ctx.constant(np.array(1, dtype=np.float32), "one")
    x_zero, y_zero, origin, divisor, slope = (ctx.fresh(f"{node.output[0]}_{part}") for part in
                                             ("x_is_0", "y_is_0", "origin", "divisor", "slope"))
    return [
        helper.make_node("Equal", [x, zero], [x_zero], name=f"{node.name}/x_is_0"),
        helper.make_node("Equal", [y, zero], [y_zero], name=f"{node.name}/y_is_0"),
        helper.make_node("And", [x_zero, y_zero], [origin], name=f"{node.name}/origin"),
        helper.make_node("Where", [origin, one, x], [divisor], name=f"{node.name}/divisor"),
        helper.make_node("Div", [y, divisor], [slope], name=f"{node.name}/Div"),
        helper.make_node("Atan", [slope], list(node.output), name=node.name),
    ]
