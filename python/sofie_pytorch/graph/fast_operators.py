"""Hand LSTM, GRU and Conv nodes to the project's own SOFIE operators.

SOFIE 0.1.0's recurrent code is the slowest part of the generated code (one BLAS call
per gate and step, scalar double-precision activations), and its Conv makes one small
GEMM per image. The C++ library registers faster operators under op types of their own
(src/operators/); this pass gives them the nodes they implement exactly, with the
weights laid out as they want them:

* ``SofiePyTorchLSTM``: inputs X, WT (I, 4H), RT (H, 4H), B (4H: the W and R biases
  summed), [initial_h], [initial_c]; outputs Y, Y_h, Y_c.
* ``SofiePyTorchGRU``: inputs X, WT (I, 3H), RT (H, 3H), Wb (3H), Rb (3H), [initial_h];
  outputs Y, Y_h. Torch's GRU (``linear_before_reset=1``).

* ``SofiePyTorchRNN``: inputs X, WT (I, H), RT (H, H), B (H: the biases summed),
  [initial_h]; outputs Y, Y_h; attribute ``relu`` (1: ReLU, 0: tanh).

* ``SofiePyTorchConv``: ONNX Conv with inputs X, W, [B], for 1D and 2D convolutions
  with one group, or depthwise ones (attribute ``group`` = channels = filters), and no
  dilation; the batch size may be chosen at run time.

* ``SofiePyTorchDense``: Gemm and MatMul with constant weights (dense_layers.py).

* ``SofiePyTorchLayerNorm``: LayerNormalization over the last axis (layer_norm.py).

The recurrent ones take the attribute ``hidden_size`` and run forward, in layout 0 (time
first), with a fixed sequence length; the batch size may be chosen at run time
(bidirectional LSTMs are split into forward ones earlier, in the rewrites package). Anything else
(clipping, other activations, peepholes, sequence lengths;
grouped convolutions other than depthwise ones, dilated or 3D convolutions) keeps the
engine's operator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import numpy as np
import onnx
from onnx import helper

from . import dense_layers, layer_norm
from .dense_layers import DENSE_OP
from .layer_norm import LAYER_NORM_OP
from .rewrites import Context

log = logging.getLogger(__name__)

LSTM_OP = "SofiePyTorchLSTM"
GRU_OP = "SofiePyTorchGRU"
CONV_OP = "SofiePyTorchConv"
RNN_OP = "SofiePyTorchRNN"
OURS = (LSTM_OP, GRU_OP, CONV_OP, RNN_OP, DENSE_OP, LAYER_NORM_OP)

_DEFAULT_ACTIVATIONS = {"LSTM": [b"Sigmoid", b"Tanh", b"Tanh"], "GRU": [b"Sigmoid", b"Tanh"],
                        "RNN": [b"Tanh"]}


def _attrs(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _plain_cell(node: onnx.NodeProto, ctx: Context, gates: int,
                activations_allowed: tuple[list[bytes], ...] = ()) -> int | None:
    """The hidden size, when the node is one our operators implement exactly."""
    attrs = _attrs(node)
    direction = attrs.pop("direction", b"forward")
    hidden = attrs.pop("hidden_size", None)
    activations = attrs.pop("activations", _DEFAULT_ACTIVATIONS[node.op_type])
    if list(activations) in activations_allowed:
        activations = _DEFAULT_ACTIVATIONS[node.op_type]
    if attrs.get("layout", 0) == 0:
        attrs.pop("layout", None)
    if node.op_type == "GRU" and attrs.pop("linear_before_reset", 0) != 1:
        return None
    if (direction != b"forward" or not isinstance(hidden, int)
            or list(activations) != _DEFAULT_ACTIVATIONS[node.op_type] or attrs):
        return None  # clip, input_forget, activation parameters, layout 1: the engine's
    x_shape = ctx.shapes.get(node.input[0])
    w, r = (ctx.constants.get(name) for name in node.input[1:3])
    if x_shape is None or len(x_shape) != 3 or w is None or r is None:
        return None
    steps, batch, features = x_shape
    if not (isinstance(steps, int) and steps > 0 and isinstance(features, int)
            and (isinstance(batch, str) or batch > 0)):
        return None  # only the batch size may be chosen at run time
    if w.shape != (1, gates * hidden, features) or r.shape != (1, gates * hidden, hidden):
        return None
    return hidden


def _optional(node: onnx.NodeProto, index: int) -> str:
    return node.input[index] if index < len(node.input) else ""


def _weights(node: onnx.NodeProto, ctx: Context) -> tuple[str, str]:
    """W and R transposed, as (I, G*H) and (H, G*H) float32 constants."""
    w, r = (ctx.constants[name] for name in node.input[1:3])
    return (ctx.constant(np.ascontiguousarray(w[0].T, dtype=np.float32), "WT"),
            ctx.constant(np.ascontiguousarray(r[0].T, dtype=np.float32), "RT"))


def _bias(node: onnx.NodeProto, ctx: Context, gh: int) -> np.ndarray | None:
    """The (2, G*H) input and recurrent biases, None if absent; False if not constant."""
    name = _optional(node, 3)
    if not name:
        return None
    value = ctx.constants.get(name)
    return None if value is None else value.reshape(2, gh).astype(np.float32)


def _lstm(node: onnx.NodeProto, ctx: Context) -> onnx.NodeProto | None:
    hidden = _plain_cell(node, ctx, 4)
    if hidden is None or _optional(node, 4) or _optional(node, 7):
        return None  # sequence lengths or peepholes
    if _optional(node, 3) and ctx.constants.get(node.input[3]) is None:
        return None
    w, rt = _weights(node, ctx)
    bias = _bias(node, ctx, 4 * hidden)
    b = ctx.constant(bias.sum(axis=0), "B") if bias is not None else ""
    inputs = [node.input[0], w, rt, b, _optional(node, 5), _optional(node, 6)]
    return helper.make_node(LSTM_OP, inputs, list(node.output), name=node.name,
                            hidden_size=hidden)


def _gru(node: onnx.NodeProto, ctx: Context) -> onnx.NodeProto | None:
    hidden = _plain_cell(node, ctx, 3)
    if hidden is None or _optional(node, 4):
        return None  # sequence lengths
    if _optional(node, 3) and ctx.constants.get(node.input[3]) is None:
        return None
    w, rt = _weights(node, ctx)
    bias = _bias(node, ctx, 3 * hidden)
    wb, rb = ((ctx.constant(bias[0], "Wb"), ctx.constant(bias[1], "Rb"))
              if bias is not None else ("", ""))
    inputs = [node.input[0], w, rt, wb, rb, _optional(node, 5)]
    return helper.make_node(GRU_OP, inputs, list(node.output)[:2], name=node.name,
                            hidden_size=hidden)


def _rnn(node: onnx.NodeProto, ctx: Context) -> onnx.NodeProto | None:
    hidden = _plain_cell(node, ctx, 1, ([b"Relu"],))
    if hidden is None or _optional(node, 4):
        return None  # sequence lengths
    if _optional(node, 3) and ctx.constants.get(node.input[3]) is None:
        return None
    w, rt = _weights(node, ctx)
    bias = _bias(node, ctx, hidden)
    b = ctx.constant(bias.sum(axis=0), "B") if bias is not None else ""
    relu = int(list(_attrs(node).get("activations", [b"Tanh"])) == [b"Relu"])
    inputs = [node.input[0], w, rt, b, _optional(node, 5)]
    return helper.make_node(RNN_OP, inputs, list(node.output)[:2], name=node.name,
                            hidden_size=hidden, relu=relu)


def _conv(node: onnx.NodeProto, ctx: Context) -> onnx.NodeProto | None:
    attrs = _attrs(node)
    w = ctx.constants.get(node.input[1]) if len(node.input) > 1 else None
    x_shape = ctx.shapes.get(node.input[0])
    if w is None or w.ndim not in (3, 4) or x_shape is None or len(x_shape) != w.ndim:
        return None
    if any(not isinstance(d, int) or d <= 0 for d in x_shape[1:]):
        return None  # only the batch size may be chosen at run time
    spatial = w.ndim - 2
    kernel = list(attrs.get("kernel_shape", w.shape[2:]))
    strides = list(attrs.get("strides", [1] * spatial))
    pads = _explicit_pads(attrs.get("auto_pad", b"NOTSET"), attrs.get("pads"), x_shape[2:],
                          kernel, strides)
    group = attrs.get("group", 1)
    # depthwise: one filter per channel (MobileNet's); other groupings stay on the engine
    depthwise = group == x_shape[1] == w.shape[0] and w.shape[1] == 1 and group > 1
    if ((group != 1 and not depthwise)
            or any(d != 1 for d in attrs.get("dilations", [1] * spatial))
            or pads is None or kernel != list(w.shape[2:]) or len(pads) != 2 * spatial
            or len(strides) != spatial):
        return None
    extra = {"group": group} if depthwise else {}
    return helper.make_node(CONV_OP, list(node.input), list(node.output), name=node.name,
                            kernel_shape=kernel, pads=pads, strides=strides, **extra)


def _explicit_pads(auto_pad: bytes, pads: object, sizes: list[int], kernel: list[int],
                   strides: list[int]) -> list[int] | None:
    """ONNX Conv pads (all begins, then all ends), with auto_pad worked out."""
    if auto_pad == b"NOTSET":
        return list(pads) if pads is not None else [0] * 2 * len(sizes)
    if auto_pad == b"VALID":
        return [0] * 2 * len(sizes)
    if auto_pad not in (b"SAME_UPPER", b"SAME_LOWER") or len(kernel) != len(sizes):
        return None
    begins, ends = [], []
    for size, k, stride in zip(sizes, kernel, strides):
        total = max(0, (-(-size // stride) - 1) * stride + k - size)
        small = total // 2  # SAME_UPPER puts the odd one at the end, SAME_LOWER at the start
        begins.append(small if auto_pad == b"SAME_UPPER" else total - small)
        ends.append(total - begins[-1])
    return begins + ends


_PASSES: dict[str, tuple[str, Callable[[onnx.NodeProto, Context], onnx.NodeProto | None]]] = {
    "LSTM": (LSTM_OP, _lstm),
    "GRU": (GRU_OP, _gru),
    "RNN": (RNN_OP, _rnn),
    "Conv": (CONV_OP, _conv),
    "Gemm": (DENSE_OP, dense_layers.gemm),
    "MatMul": (DENSE_OP, dense_layers.matmul),
    "LayerNormalization": (LAYER_NORM_OP, layer_norm.layer_norm),
}


def apply(model: onnx.ModelProto, supported: Iterable[str]) -> int:
    """Swap eligible nodes for our operators, in place; return how many run on ours."""
    supported = set(supported)
    wanted = {op for op, (ours, _) in _PASSES.items() if ours in supported}
    graph = model.graph
    if not any(n.op_type in wanted and n.domain in ("", "ai.onnx") for n in graph.node):
        return 0
    ctx = Context(model)
    replaced_inputs: set[str] = set()
    for i, node in enumerate(graph.node):
        if node.op_type not in wanted or node.domain not in ("", "ai.onnx"):
            continue
        replacement = _PASSES[node.op_type][1](node, ctx)
        if replacement is not None:
            replaced_inputs.update(node.input)
            graph.node[i].CopyFrom(replacement)
            log.debug("%s %s runs on the project's own operator", node.op_type, node.name)
    if replaced_inputs:
        drop_unread(graph, replaced_inputs)
    return sum(n.op_type in OURS for n in graph.node)


def names_read(graph: onnx.GraphProto) -> set[str]:
    """Every tensor name a node reads, in this graph and its subgraphs, and the outputs."""
    read = {o.name for o in graph.output}
    for node in graph.node:
        read.update(node.input)
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                read |= names_read(sub)
    return read


def drop_unread(graph: onnx.GraphProto, candidates: set[str]) -> None:
    """Constants now unread (the recurrent nodes' W, R and B; scalars fused into code):
    keep them out of the weight file, whether they were initializers or Constant nodes."""
    unread = candidates - names_read(graph)
    kept = [t for t in graph.initializer if t.name not in unread]
    if len(kept) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(kept)
    nodes = [n for n in graph.node if not (n.op_type == "Constant" and set(n.output) <= unread)]
    if len(nodes) != len(graph.node):
        del graph.node[:]
        graph.node.extend(nodes)
