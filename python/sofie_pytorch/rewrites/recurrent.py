"""Recurrent layers the engine computes wrongly: bidirectional LSTM."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from ..errors import UnsupportedOperatorError
from .registry import Context, attr, rewrite


@rewrite("LSTM")
def _lstm_bidirectional(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # SOFIE 0.1.0 computes bidirectional LSTMs wrongly (both directions; unidirectional
    # ones are right): run two forward LSTMs instead, the second on the time-reversed
    # sequence, and reverse its output back.
    if attr(node, "direction", b"forward") != b"bidirectional" or attr(node, "layout", 0):
        return None
    inputs = list(node.input) + [""] * (8 - len(node.input))
    x, w, r, b, seq_lens, h0, c0, peep = inputs
    steps = (ctx.shapes.get(x) or [None])[0]  # only the time axis must be a number
    weights = [ctx.constants.get(name) for name in (w, r)]
    bias = ctx.constants.get(b) if b else None
    if (not isinstance(steps, int) or steps <= 0 or any(v is None for v in weights)
            or seq_lens or peep or (b and bias is None)):
        # Left to the engine it would compute wrong values: refuse instead.
        raise UnsupportedOperatorError(
            f"bidirectional LSTM in {node.name or 'the model'} needs a fixed sequence length "
            f"and constant weights to be converted (SOFIE 0.1.0 computes bidirectional "
            f"LSTMs wrongly, so it is split into two forward LSTMs)",
            {"LSTM(bidirectional)": [node.name]},
        )
    n = node.name
    reverse = ctx.constant(np.arange(steps - 1, -1, -1, dtype=np.int64), "time_reversed")
    outputs = list(node.output) + [""] * (3 - len(node.output))
    nodes = [helper.make_node("Gather", [x, reverse], [ctx.fresh("x_reversed")],
                              name=f"{n}/Reverse", axis=0)]
    results = []
    for d, source in enumerate((x, nodes[0].output[0])):
        args = [source] + [ctx.constant(v[d : d + 1], f"lstm_{name}{d}")
                           for v, name in zip(weights, ("W", "R"))]
        args.append(ctx.constant(bias[d : d + 1], f"lstm_B{d}") if bias is not None else "")
        args.append("")  # sequence_lens
        for state in (h0, c0):
            if state:
                index = ctx.constant(np.array([d], dtype=np.int64), "direction")
                picked = ctx.fresh(f"{state}_dir{d}")
                nodes.append(helper.make_node("Gather", [state, index], [picked], axis=0,
                                              name=f"{n}/State{d}"))
                args.append(picked)
            else:
                args.append("")
        outs = [ctx.fresh(f"lstm{d}_{k}") for k in ("Y", "Y_h", "Y_c")]
        attrs = {a.name: helper.get_attribute_value(a)
                 for a in node.attribute if a.name != "direction"}
        nodes.append(helper.make_node("LSTM", args, outs, name=f"{n}/Direction{d}", **attrs))
        results.append(outs)
    y_backward = ctx.fresh("lstm1_Y_forward_in_time")
    nodes.append(helper.make_node("Gather", [results[1][0], reverse], [y_backward], axis=0,
                                  name=f"{n}/Unreverse"))
    results[1][0] = y_backward
    for k, (out, axis) in enumerate(zip(outputs, (1, 0, 0))):
        if out:
            nodes.append(helper.make_node("Concat", [results[0][k], results[1][k]], [out],
                                          axis=axis, name=f"{n}/Concat{k}"))
    return nodes


