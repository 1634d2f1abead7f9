"""Recurrent layers in both directions or backwards, as forward ones (the engine computes
bidirectional LSTMs wrongly; the project's own operators run forward)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from ...errors import UnsupportedOperatorError
from .registry import Context, attr, rewrite

# Per cell: how many inputs the ONNX node has, which of them are initial states, and how
# many outputs (Y then the final states).
_CELLS = {"LSTM": (8, (5, 6), 3), "GRU": (6, (5,), 2), "RNN": (6, (5,), 2)}


def _split_directions(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # Recurrent layers run on the project's own operators (and with a batch size chosen at
    # run time) only forward; and SOFIE 0.1.0 computes bidirectional LSTMs wrongly. So a
    # reverse or bidirectional layer becomes forward ones: the backward direction runs on
    # the time-reversed sequence, and its output is reversed back.
    direction = attr(node, "direction", b"forward")
    if direction not in (b"bidirectional", b"reverse") or attr(node, "layout", 0):
        return None
    n_inputs, state_slots, n_outputs = _CELLS[node.op_type]
    inputs = list(node.input) + [""] * (n_inputs - len(node.input))
    x, w, r, b, seq_lens = inputs[:5]
    states = [inputs[k] for k in state_slots]
    steps = (ctx.shapes.get(x) or [None])[0]  # only the time axis must be a number
    weights = [ctx.constants.get(name) for name in (w, r)]
    bias = ctx.constants.get(b) if b else None
    peep = inputs[7] if node.op_type == "LSTM" else ""
    if (not isinstance(steps, int) or steps <= 0 or any(v is None for v in weights)
            or seq_lens or peep or (b and bias is None)):
        if node.op_type != "LSTM" or direction != b"bidirectional":
            return None  # the engine's operator takes it, with every size fixed
        # Left to the engine it would compute wrong values: refuse instead.
        raise UnsupportedOperatorError(
            f"bidirectional LSTM in {node.name or 'the model'} needs a fixed sequence length "
            f"and constant weights to be converted (SOFIE 0.1.0 computes bidirectional "
            f"LSTMs wrongly, so it is split into two forward LSTMs)",
            {"LSTM(bidirectional)": [node.name]},
        )
    n = node.name
    reverse = ctx.constant(np.arange(steps - 1, -1, -1, dtype=np.int64), "time_reversed")
    outputs = list(node.output) + [""] * (n_outputs - len(node.output))
    nodes = [helper.make_node("Gather", [x, reverse], [ctx.fresh("x_reversed")],
                              name=f"{n}/Reverse", axis=0)]
    backward = {0: nodes[0].output[0]}
    sources = [x, backward[0]] if direction == b"bidirectional" else [backward[0]]
    results = []
    for d, source in enumerate(sources):
        args = [source] + [ctx.constant(v[d : d + 1], f"{node.op_type}_{name}{d}")
                           for v, name in zip(weights, ("W", "R"))]
        args.append(ctx.constant(bias[d : d + 1], f"{node.op_type}_B{d}")
                    if bias is not None else "")
        args.append("")  # sequence_lens
        for state in states:
            if state:
                index = ctx.constant(np.array([d], dtype=np.int64), "direction")
                picked = ctx.fresh(f"{state}_dir{d}")
                nodes.append(helper.make_node("Gather", [state, index], [picked], axis=0,
                                              name=f"{n}/State{d}"))
                args.append(picked)
            else:
                args.append("")
        outs = [ctx.fresh(f"{node.op_type}{d}_{k}") for k in range(n_outputs)]
        if len(sources) == 1:  # one direction: its states are the node's own outputs
            outs[1:] = [out or name for out, name in zip(outputs[1:], outs[1:])]
        attrs = {a.name: helper.get_attribute_value(a)
                 for a in node.attribute if a.name != "direction"}
        if "activations" in attrs:  # one list per direction
            per = len(attrs["activations"]) // (2 if direction == b"bidirectional" else 1)
            attrs["activations"] = attrs["activations"][d * per:(d + 1) * per]
        nodes.append(helper.make_node(node.op_type, args, outs, name=f"{n}/Direction{d}",
                                      **attrs))
        results.append(outs)
    y_backward = (outputs[0] or ctx.fresh("Y")) if len(sources) == 1 else \
        ctx.fresh(f"{node.op_type}_Y_forward_in_time")
    nodes.append(helper.make_node("Gather", [results[-1][0], reverse], [y_backward], axis=0,
                                  name=f"{n}/Unreverse"))
    results[-1][0] = y_backward
    for k, (out, axis) in enumerate(zip(outputs, (1, 0, 0))):
        if out and len(results) == 2:
            nodes.append(helper.make_node("Concat", [results[0][k], results[1][k]], [out],
                                          axis=axis, name=f"{n}/Concat{k}"))
    return nodes


for _cell in _CELLS:
    rewrite(_cell)(_split_directions)
