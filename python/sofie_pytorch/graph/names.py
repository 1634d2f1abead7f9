"""Tensor names the engine can use as they are.

SOFIE turns tensor names into C++ identifiers by dropping the characters that cannot be
in one, so '/0/Constant_output_0' and '/0Constant_output_0' would collide ("constant
tensor ... already exists"). Renaming every tensor to a unique identifier first avoids
that.

The rule, which keeps the names ROOT's PyTorch parser gave (ROOT's tutorial asks the
RModel for "0weight", the parameter ``0.weight`` of an ``nn.Sequential``):

- dots are dropped: ``0.weight`` -> ``0weight``, ``fc1.bias`` -> ``fc1bias``;
- every other run of characters that cannot be in an identifier becomes ``_``, and
  leading and trailing ``_`` go: ``/0/Gemm_output_0`` -> ``0_Gemm_output_0``;
- a name may start with a digit: the engine always prefixes tensor names in the code
  it writes (``tensor_0weight``);
- a name already taken gets ``_1``, ``_2``, ... appended, so names stay unique (the
  graph's inputs and outputs keep theirs and are taken first).
"""

from __future__ import annotations

import re

import onnx


def _identifier(name: str) -> str:
    cleaned = re.sub(r"\W+", "_", name.replace(".", ""), flags=re.ASCII).strip("_")
    return cleaned or "t"


def clean(model: onnx.ModelProto) -> None:
    """Rename, in place, every tensor of the main graph to a unique C++ identifier.

    Graph inputs and outputs keep their names: they were chosen as identifiers already
    and users see them in the generated infer() signature.
    """
    graph = model.graph
    fixed = [v.name for v in graph.input] + [v.name for v in graph.output]
    mapping: dict[str, str] = {name: name for name in fixed}
    taken = set(fixed)

    def rename(name: str) -> str:
        if not name or name in mapping:
            return mapping.get(name, name)
        base = _identifier(name)
        candidate, n = base, 1
        while candidate in taken:
            candidate, n = f"{base}_{n}", n + 1
        taken.add(candidate)
        mapping[name] = candidate
        return candidate

    for tensor in graph.initializer:
        tensor.name = rename(tensor.name)
    for node in graph.node:
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
    for info in graph.value_info:
        info.name = rename(info.name)
