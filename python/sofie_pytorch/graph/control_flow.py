"""Refusing models whose forward() branches or loops on tensor values.

SOFIE generates straight-line code. A scripted model that branches on values becomes
ONNX If/Loop nodes, which SOFIE's parser accepts but cannot generate code for (it fails
later in Generate() with an unrelated-looking message); a model traced from Python would
silently keep only the branch the example input took. Both are refused here, with the
place in the model and what to change.
"""

from __future__ import annotations

import linecache
import os
import sys
import types
from collections.abc import Mapping

import onnx
import torch

from ..errors import TracingError
from .support import module_path

CONTROL_FLOW = {"If", "Loop", "Scan"}

# Traced operators that read a tensor's shape, not its values: a bool computed from them
# (``assert x.size(1) >= 2``, ``mask.shape == (b, n)``) is the same for every input of
# the given shapes.
_SHAPE_READS = frozenset({"aten::size", "aten::sym_size", "aten::dim", "aten::numel",
                          "prim::shape", "aten::_shape_as_tensor", "aten::len"})
_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

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


class ValueBranches:
    """While torch's tracer runs forward(), records every tensor turned into a Python bool
    (an ``if``, an ``assert``, ``and``/``or``) whose value depends on the model's input
    values. The trace would keep only the branch the example input took.

    torch's tracer warns for every such conversion, also for shape checks (weaver's
    ``assert x.size(1) >= 2``), which are constants once the shapes are given. Here the
    traced value is followed back to the model's inputs: through an operator that
    reads only a shape (aten::size) it does not depend on their values. Weights and
    buffers (graph inputs after the model's own) are constants. The place is the first
    line of the model's own code on the stack, and the module whose forward() runs.
    """

    def __init__(self, root: torch.nn.Module, n_inputs: int) -> None:
        self._modules = {id(m): (path, type(m).__name__) for path, m in root.named_modules()}
        self._n_inputs = n_inputs
        self._original = torch.Tensor.__bool__
        self.places: list[str] = []

    def __enter__(self) -> ValueBranches:
        original, probe = self._original, self

        def checked_bool(tensor: torch.Tensor) -> bool:
            # The tracing state is per thread: other threads see the plain conversion.
            state = torch._C._get_tracing_state()
            if state is not None and probe._on_values(state.graph(), tensor):
                probe.places.append(probe._place(sys._getframe(1)))
            return original(tensor)

        torch.Tensor.__bool__ = checked_bool  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        torch.Tensor.__bool__ = self._original  # type: ignore[method-assign]

    def _on_values(self, graph: torch._C.Graph, tensor: torch.Tensor) -> bool:
        try:
            value = torch._C._get_value_trace(tensor)
        except RuntimeError:  # not a traced value: a constant made outside the trace
            return False
        inputs = list(graph.inputs())[: self._n_inputs]
        seen: set = set()
        pending = [value]
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            if current in inputs:
                return True
            node = current.node()
            if node.kind() not in _SHAPE_READS:
                pending.extend(node.inputs())
        return False

    def _place(self, frame: types.FrameType | None) -> str:
        code_line = module = ""
        while frame is not None:
            filename = os.path.abspath(frame.f_code.co_filename)
            outside = not filename.startswith((_TORCH_DIR, _PACKAGE_DIR))
            if outside and not code_line:
                text = linecache.getline(filename, frame.f_lineno).strip()
                code_line = f"{os.path.basename(filename)}:{frame.f_lineno}: {text}"
            owner = frame.f_locals.get("self")
            if outside and not module and id(owner) in self._modules:
                path, kind = self._modules[id(owner)]
                module = f"{path} ({kind})" if path else f"the model ({kind})"
            if code_line and module:
                break
            frame = frame.f_back
        return f"{code_line or 'forward()'} in {module or 'the model'}"

    def error(self) -> TracingError | None:
        """The error to raise when a branch on values was found, else None."""
        if not self.places:
            return None
        return TracingError(
            "the model has data-dependent control flow (a tensor's value decides a Python "
            "if/assert: " + "; ".join(dict.fromkeys(self.places)) + f"); {ADVICE}"
        )
