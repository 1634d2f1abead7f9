"""Checking a traced graph against what SOFIE can generate, before SOFIE sees it.

SOFIE's parser stops at the first operator it lacks. Users need the whole list
at once, each with the modules it sits in, to decide what to change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

import onnx

from ..errors import UnsupportedOperatorError

ATEN_DOMAIN = "org.pytorch.aten"


def operator_label(node: onnx.NodeProto) -> str:
    """How the user knows the operator: aten::name for torch ops without ONNX form."""
    if node.domain == ATEN_DOMAIN or node.op_type == "ATen":
        for attr in node.attribute:
            if attr.name == "operator":
                return "aten::" + attr.s.decode()
        return "aten::" + node.op_type
    return node.op_type


def module_path(node: onnx.NodeProto) -> str:
    """The module a node was recorded in: '/encoder/fc1/Gemm' -> 'encoder.fc1'."""
    parts = [p for p in node.name.split("/") if p]
    return ".".join(parts[:-1])


def _place(path: str, module_types: Mapping[str, str]) -> str:
    kind = module_types.get(path)
    name = path or "forward() of the top-level module"
    return f"{name} ({kind})" if kind and path else name


def find_unsupported(
    graph: onnx.GraphProto, supported: Iterable[str], module_types: Mapping[str, str]
) -> dict[str, list[str]]:
    """Every operator SOFIE lacks, with the places (modules) it occurs in."""
    known = set(supported)
    found: dict[str, list[str]] = defaultdict(list)
    for node in graph.node:
        if node.domain in ("", "ai.onnx") and node.op_type in known:
            continue
        found[operator_label(node)].append(_place(module_path(node), module_types))
    return dict(found)


def check(
    graph: onnx.GraphProto, supported: Iterable[str], module_types: Mapping[str, str]
) -> None:
    """Raise one error naming every unsupported operator, its count and its modules."""
    found = find_unsupported(graph, supported, module_types)
    if not found:
        return
    lines = []
    for op, places in sorted(found.items()):
        unique = list(dict.fromkeys(places))
        shown = ", ".join(unique[:5])
        if len(unique) > 5:
            shown += f", ... ({len(unique) - 5} more)"
        lines.append(f"  {op} x{len(places)} in {shown}")
    raise UnsupportedOperatorError(
        f"the model uses {len(found)} operator(s) SOFIE cannot generate code for:\n"
        + "\n".join(lines)
        + "\nThe README lists the supported PyTorch operators.",
        {op: places for op, places in found.items()},
    )
