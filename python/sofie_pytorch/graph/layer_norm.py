"""Hand LayerNormalization over the last axis to ``SofiePyTorchLayerNorm``.

The engine's LayerNormalization sums each row in one float dependency chain, which g++
cannot vectorise without -ffast-math; ``SofiePyTorchLayerNorm`` (src/operators/LayerNorm.cxx)
sums in 16 independent partial sums. Its node: inputs X (..., D), Scale (D), [B (D)];
output Y; attribute ``epsilon``.

Taken: ``LayerNormalization`` normalising over the last axis only (``torch.nn.LayerNorm``
with one normalised dimension), D known, float32 constant scale and bias of D values (or no
bias), one output (not the saved mean and inverse deviation). Everything else (several
normalised axes, a scale computed at run time, ``elementwise_affine=False`` exported with
computed ones) keeps the engine's operator.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .rewrites import Context

LAYER_NORM_OP = "SofiePyTorchLayerNorm"


def _vector(value: np.ndarray | None, size: int) -> bool:
    return value is not None and value.dtype == np.float32 and value.size == size and (
        value.ndim == 1 or value.shape[:-1] == (1,) * (value.ndim - 1))


def layer_norm(node: onnx.NodeProto, ctx: Context) -> onnx.NodeProto | None:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    shape = ctx.shapes.get(node.input[0])
    if shape is None or not shape or not isinstance(shape[-1], int) or shape[-1] <= 0:
        return None
    if attrs.pop("axis", -1) not in (-1, len(shape) - 1) or attrs.pop("stash_type", 1) != 1:
        return None
    epsilon = float(attrs.pop("epsilon", 1e-5))
    if attrs or len([o for o in node.output if o]) != 1 or node.output[0] == "":
        return None
    size = shape[-1]
    bias = node.input[2] if len(node.input) > 2 else ""
    if not _vector(ctx.constants.get(node.input[1]), size) or (
            bias and not _vector(ctx.constants.get(bias), size)):
        return None
    inputs = [node.input[0], node.input[1]] + ([bias] if bias else [])
    return helper.make_node(LAYER_NORM_OP, inputs, [node.output[0]], name=node.name,
                            epsilon=epsilon)
