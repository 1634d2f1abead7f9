"""What a model turns into, for people: its operators, their support, its size.

The command-line tool prints these. The graph is the one the converter hands to SOFIE
(traced, constant-folded, rewritten), so the operators listed are those SOFIE sees.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from . import tracing
from .graph import support
from .loading import sources
from .loading.specs import InputSpec


@dataclass
class GraphReport:
    """A traced model's graph, ready to describe."""

    name: str
    inputs: list[InputSpec]
    graph: onnx.GraphProto
    supported: set[str]
    model: sources.LoadedModel
    proto: onnx.ModelProto  # whose .graph is graph

    def traced(self) -> tracing.TracedModel:
        """The graph checked and made ready for SOFIE's parser, without tracing the model
        again: hand it to parse/convert in place of the model (tracing.export_for_sofie)."""
        return tracing.finish(self.model, self.inputs, self.proto, self.supported)

    def is_supported(self, node: onnx.NodeProto) -> bool:
        return node.domain in ("", "ai.onnx") and node.op_type in self.supported

    def operator_counts(self) -> list[tuple[str, int, bool]]:
        """(operator, count, supported) for every operator, most frequent first."""
        counts: Counter[str] = Counter()
        ok: dict[str, bool] = {}
        for node in self.graph.node:
            label = support.operator_label(node)
            counts[label] += 1
            ok[label] = self.is_supported(node)
        return [(op, n, ok[op]) for op, n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]

    def unsupported(self) -> list[str]:
        return [op for op, _, ok in self.operator_counts() if not ok]

    def parameters(self) -> tuple[int, int]:
        """(number of weights, their size in bytes) over the graph's initializers."""
        count = size = 0
        for tensor in self.graph.initializer:
            array: np.ndarray = numpy_helper.to_array(tensor)
            count += int(array.size)
            size += int(array.nbytes)
        return count, size

    def node_mapping(self) -> list[tuple[str, str, bool]]:
        """(module path, operator, supported) per node, in execution order."""
        return [
            (
                support.module_path(n) or "(top level)",
                support.operator_label(n),
                self.is_supported(n),
            )
            for n in self.graph.node
        ]


def trace(source: object, shapes: object, dtypes: object, supported: Iterable[str]) -> GraphReport:
    """Trace the model as the converter does (tracing.trace), without failing on
    unsupported operators: those are what the report is about."""
    supported = set(supported)
    with tracing.ONE_AT_A_TIME:
        model, specs = tracing.load(source, shapes, dtypes)
        proto = tracing.export_graph(model, specs, supported)
    return GraphReport(model.name, specs, proto.graph, supported, model, proto)


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain-text table with aligned columns."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)
