"""Refusing models whose forward() branches or loops on tensor values.

SOFIE generates straight-line code. A scripted model that branches on values becomes
ONNX If/Loop nodes, which SOFIE's parser accepts but cannot generate code for (it fails
later in Generate() with an unrelated-looking message); a model traced from Python would
silently keep only the branch the example input took. Both are refused here, with the
place in the model and what to change.
"""

from __future__ import annotations

from collections.abc import Mapping

import onnx

from ..errors import TracingError
from .support import module_path

CONTROL_FLOW = {"If", "Loop", "Scan"}

# The tracer's own warning when forward() turns a tensor into a Python bool (an `if`
# on tensor values): the trace would be right for the example input only.
TRACER_BOOL_WARNING = "Converting a tensor to a Python boolean"

ADVICE = (
    "SOFIE generates straight-line code, so branches and loops may depend on shapes but "
    "not on tensor values: compute both branches and select with torch.where, or move the "
    "decision out of the model"
)


def _module_kind(path: str, module_types: Mapping[str, str]) -> str | None:
    """The class of the module at path; the exporter's scope names may drop the parents'
    part of the path (``0`` for ``layers.0``), so a unique suffix match counts too."""
    if path in module_types:
        return module_types[path]
    matches = {kind for name, kind in module_types.items() if name.endswith("." + path)}
    return matches.pop() if len(matches) == 1 else None


def check(graph: onnx.GraphProto, module_types: Mapping[str, str]) -> None:
    """Raise TracingError if the traced graph holds value-dependent control flow."""
    found = []
    for node in graph.node:
        if node.domain in ("", "ai.onnx") and node.op_type in CONTROL_FLOW:
            path = module_path(node)
            kind = _module_kind(path, module_types)
            where = f"{path} ({kind})" if path and kind else path or "forward() of the model"
            found.append(f"{node.op_type} in {where}")
    if found:
        raise TracingError(
            "the model has data-dependent control flow ("
            + ", ".join(dict.fromkeys(found))
            + f"); {ADVICE}"
        )
