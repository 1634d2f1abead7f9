"""Graph rewrites that turn ONNX patterns SOFIE lacks into operators it has.

Each rewrite is registered for one ONNX operator type and replaces a node by an
equivalent small subgraph. They run before the support check, so a model only
fails for what truly cannot be expressed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import onnx

log = logging.getLogger(__name__)

Rewrite = Callable[[onnx.NodeProto], list[onnx.NodeProto]]
_REWRITES: dict[str, Rewrite] = {}


def rewrite(op_type: str) -> Callable[[Rewrite], Rewrite]:
    """Register a rewrite for one ONNX operator type."""

    def register(fn: Rewrite) -> Rewrite:
        _REWRITES[op_type] = fn
        return fn

    return register


def apply(graph: onnx.GraphProto, supported: Iterable[str]) -> int:
    """Rewrite, in place, the nodes SOFIE lacks and a rewrite exists for."""
    known = set(supported)
    nodes: list[onnx.NodeProto] = []
    count = 0
    for node in graph.node:
        fn = _REWRITES.get(node.op_type)
        if node.domain in ("", "ai.onnx") and node.op_type not in known and fn is not None:
            nodes.extend(fn(node))
            count += 1
            log.debug("rewrote %s (%s)", node.name, node.op_type)
        else:
            nodes.append(node)
    if count:
        del graph.node[:]
        graph.node.extend(nodes)
    return count
