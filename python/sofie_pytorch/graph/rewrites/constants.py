"""Constants in the form the engine reads.

SOFIE 0.1.0's ONNX parser reads a boolean Constant node only from the tensor's int32_data
field (it refuses the raw_data form torch's exporter writes: "SOFIE ONNX Parser COnstant :
invalid tensor data values"), and from int32_data it makes an int8_t constant that the
uint8_t code of boolean tensors cannot take (ParT's class-attention blocks concatenate a
constant False, from ``torch.zeros_like(padding_mask[:, :1])``, with the padding mask:
the generated code did not compile). A boolean initializer is read as the engine's
boolean tensors are: the Constant node becomes one, under the same name.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .registry import Context, rewrite


@rewrite("Constant")
def bool_constant_as_initializer(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    if len(node.attribute) != 1 or node.attribute[0].name != "value":
        return None
    tensor = node.attribute[0].t
    if tensor.data_type != onnx.TensorProto.BOOL:
        return None
    ctx.initializer(node.output[0], numpy_helper.to_array(tensor))
    return []


@rewrite("ConstantOfShape")
def bool_constant_of_shape_as_cast(node: onnx.NodeProto,
                                   ctx: Context) -> list[onnx.NodeProto] | None:
    # The same parser reads ConstantOfShape's value (torch.zeros_like(padding_mask) at a
    # batch size chosen at run time): a float filled in, then cast to the engine's bool.
    if len(node.attribute) != 1 or node.attribute[0].name != "value":
        return None
    tensor = node.attribute[0].t
    if tensor.data_type != onnx.TensorProto.BOOL:
        return None
    value = numpy_helper.to_array(tensor).astype(np.float32)
    filled = ctx.fresh(f"{node.output[0]}_float")
    return [
        helper.make_node("ConstantOfShape", list(node.input), [filled], name=f"{node.name}/float",
                         value=numpy_helper.from_array(value.reshape(1))),
        helper.make_node("Cast", [filled], list(node.output), name=node.name,
                         to=onnx.TensorProto.BOOL),
    ]
