"""Constants in the form the engine reads.

SOFIE 0.1.0's ONNX parser reads a boolean Constant only from the tensor's int32_data
field and refuses the raw_data form torch's exporter writes ("SOFIE ONNX Parser COnstant :
invalid tensor data values"; ParT's class-attention blocks have one, a False of shape
[1, 1], from ``torch.zeros_like(padding_mask[:, :1])``). The same values in int32_data
are the same constant.
"""

from __future__ import annotations

import onnx
from onnx import helper, numpy_helper

from .registry import Context, rewrite


@rewrite("Constant")
def bool_constant_as_int32_data(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    del ctx
    if len(node.attribute) != 1 or node.attribute[0].name != "value":
        return None
    tensor = node.attribute[0].t
    if tensor.data_type != onnx.TensorProto.BOOL or not tensor.raw_data:
        return None
    values = numpy_helper.to_array(tensor)
    readable = helper.make_tensor(tensor.name, onnx.TensorProto.BOOL, list(values.shape),
                                  [int(v) for v in values.ravel()])
    return [helper.make_node("Constant", [], list(node.output), name=node.name, value=readable)]
