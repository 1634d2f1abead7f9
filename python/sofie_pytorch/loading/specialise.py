"""Specialising a TorchScript graph on the given shapes, so that torch's exporter can take it.

Scripted torch layers (MultiheadAttention, TransformerEncoderLayer, GroupNorm, ...) branch
and loop on flags, module attributes, ranks and sizes: fast paths, ``need_weights``,
shape checks. Once the module and the input shapes are fixed, all of those are
constants, but neither torch's ONNX exporter nor its TorchScript-to-ExportedProgram
converter can tell. This module finds them by running the graph: every scalar value
(bool, int, float, list of ints, ...) computed at the top level from shapes and
attributes only is recorded on the example inputs and replaced by a constant; constant
propagation then inlines the branches taken and drops the rest, which brings nested
branches to the top level for the next round.

What may not be specialised: a scalar that depends on tensor values (``x.sum() > 0``:
``aten::Bool``, ``aten::item``, ... on data), and, for sizes chosen at run time, a scalar
that differs between two runs with different sizes. Control flow on those remains, and
is refused with the usual data-dependent control-flow error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from ..errors import InputSpecError, TracingError
from ..graph.control_flow import ADVICE

log = logging.getLogger(__name__)

# Tensor -> scalar operators that read metadata (shape, rank, dtype, identity), not values.
_METADATA = frozenset({
    "aten::size", "aten::dim", "aten::numel", "aten::len", "aten::stride", "aten::get_device",
    "aten::element_size", "aten::is_contiguous", "aten::is_floating_point", "aten::is_complex",
    "aten::__is__", "aten::__isnot__", "aten::__getitem__", "prim::dtype", "prim::device",
    "prim::layout", "prim::requires_grad", "prim::is_cuda", "prim::is_cpu", "prim::is_nested",
    "prim::is_sparse", "prim::is_quantized", "prim::is_mkldnn", "prim::is_meta", "prim::is_xpu",
    "prim::is_mps", "prim::type", "prim::isinstance", "prim::unchecked_cast", "prim::TupleIndex",
    "prim::TupleUnpack", "prim::ListUnpack", "prim::Uninitialized",
})

# Run-time state the scripted code queries. Fast paths are taken only without autograd
# and produce fused operators without an ONNX form: answer as training code would, so
# the graph keeps the plain operators (the arithmetic is the same).
_ENVIRONMENT = {
    "aten::is_grad_enabled": True,
    "prim::requires_grad": True,
    "aten::is_autocast_enabled": False,
    "aten::is_autocast_cpu_enabled": False,
}

# Nested nodes that make a block worth keeping even when nothing uses its outputs.
_SIDE_EFFECTS = frozenset({"prim::RaiseException", "prim::Print", "aten::warn", "aten::append",
                           "aten::_set_item", "aten::insert", "aten::pop", "aten::clear"})

_MAX_ROUNDS = 64


def _holds_tensor(value: torch._C.Value) -> bool:
    return "Tensor" in str(value.type())


def _holds_object(value: torch._C.Value) -> bool:
    return "__torch__" in str(value.type())


def _is_source(node: torch._C.Node) -> bool:
    """A node that turns tensor values into a scalar (``aten::Bool``, ``aten::item``...)."""
    if node.kind() in _METADATA:
        return False
    reads_tensor = any(_holds_tensor(v) for v in node.inputs())
    return reads_tensor and any(not _holds_tensor(v) for v in node.outputs())


def _mark_value_dependent(block: torch._C.Block, tainted: set) -> None:
    """Add to tainted every value of block (recursively) that depends on tensor values."""
    for node in block.nodes():
        bad = _is_source(node) or any(v in tainted for v in node.inputs())
        for inner in node.blocks():
            before = len(tainted)
            _mark_value_dependent(inner, tainted)
            bad = bad or len(tainted) > before
        if bad:
            tainted.update(node.outputs())


def _pin_environment(graph: torch._C.Graph) -> None:
    for kind, value in _ENVIRONMENT.items():
        for node in graph.findAllNodes(kind):
            with graph.insert_point_guard(node):
                constant = graph.insertConstant(value)
            node.output().replaceAllUsesWith(constant)
            node.destroy()


def _bind_defaults(module: torch.jit.ScriptModule, graph: torch._C.Graph,
                   given: Sequence[str]) -> None:
    """Inputs the caller does not feed take their declared defaults, as constants."""
    arguments = module.forward.schema.arguments[1:]
    first = next(iter(graph.nodes()))
    for index in range(len(arguments) - 1, -1, -1):
        if arguments[index].name in given:
            continue
        value = list(graph.inputs())[index + 1]  # after self
        with graph.insert_point_guard(first):
            constant = graph.insertConstant(arguments[index].default_value)
        value.replaceAllUsesWith(constant)
        graph.eraseInput(index + 1)


def _probe(module: torch.jit.ScriptModule, graph: torch._C.Graph, values: list,
           example_sets: Sequence[Sequence[torch.Tensor]]) -> list[list[object]]:
    """The values of the given top-level graph values, on each set of example inputs."""
    n_outputs = len(list(graph.outputs()))
    for value in values:
        graph.registerOutput(value)
    probe = graph.copy()
    for _ in values:
        graph.eraseOutput(n_outputs)
    probe.makeMultiOutputIntoTuple()
    function = torch._C._create_function_from_graph("sofie_pytorch_probe", probe)
    results = []
    # Each probe runs once per example set: the profiling executor's optimisation of the
    # probe's graph would cost more than the runs themselves.
    with torch.no_grad(), torch.jit.optimized_execution(False):
        for inputs in example_sets:
            results.append(list(function(module._c, *inputs)[n_outputs:]))
    return results


def _drop_unused_blocks(graph: torch._C.Graph) -> None:
    """Loops and branches whose results nobody uses and that do nothing else (shape checks
    whose failure branch is gone): dead code that torch's DCE keeps."""
    for node in reversed(list(graph.nodes())):
        if not list(node.blocks()) or any(v.uses() for v in node.outputs()):
            continue
        inner = [n.kind() for b in node.blocks() for n in _all_nodes(b)]
        if not any(k in _SIDE_EFFECTS or _in_place(k) for k in inner):
            node.destroy()


def _in_place(kind: str) -> bool:
    """aten::add_ writes into its input; aten::__getitem__ does not."""
    return kind.endswith("_") and not kind.endswith("__")


def _all_nodes(block: torch._C.Block) -> list[torch._C.Node]:
    nodes = []
    for node in block.nodes():
        nodes.append(node)
        for inner in node.blocks():
            nodes.extend(_all_nodes(inner))
    return nodes


def _candidates(graph: torch._C.Graph) -> list:
    tainted: set = set()
    _mark_value_dependent(graph.block(), tainted)
    return [v for node in graph.nodes()
            if node.kind() not in ("prim::Constant", "prim::Uninitialized")
            for v in node.outputs()
            if v.uses() and v not in tainted and not _holds_tensor(v) and not _holds_object(v)]


def _replace(graph: torch._C.Graph, value: torch._C.Value, constant: object) -> bool:
    try:
        with graph.insert_point_guard(value.node()):
            replacement = graph.insertConstant(constant)
    except (RuntimeError, TypeError):  # a value TorchScript has no constant form for
        return False
    replacement.node().moveAfter(value.node())
    value.replaceAllUsesWith(replacement)
    return True


def _same(values: list[object]) -> bool:
    first = values[0]
    return all(type(v) is type(first) and v == first for v in values[1:])


def _where(node: torch._C.Node) -> str:
    source = node.sourceRange().strip().splitlines()
    return source[0] if source else "forward()"


def specialise(module: torch.jit.ScriptModule, example_sets: Sequence[Sequence[torch.Tensor]],
               given: Sequence[str]) -> torch.jit.ScriptModule:
    """A frozen copy of module whose forward graph has no control flow left that depends on
    shapes, attributes or flags; the inputs not named in `given` take their defaults.

    example_sets: one or more sets of example inputs (several when some sizes are chosen
    at run time: a value that differs between them is not a constant).
    """
    was_training = module.training
    try:
        frozen = torch.jit.freeze(module.eval())  # freezing needs eval mode
    finally:
        module.train(was_training)  # the caller's module is left as it was
    graph = frozen.graph
    torch._C._jit_pass_inline(graph)
    _pin_environment(graph)
    _bind_defaults(frozen, graph, given)
    for round_ in range(_MAX_ROUNDS):
        torch._C._jit_pass_constant_propagation(graph)
        torch._C._jit_pass_dce(graph)
        _drop_unused_blocks(graph)
        values = _candidates(graph)
        if not values:
            break
        results = _probe(frozen, graph, values, example_sets)
        replaced = sum(_replace(graph, v, results[0][k]) for k, v in enumerate(values)
                       if _same([r[k] for r in results]))
        log.debug("specialising round %d: %d of %d values are constants", round_, replaced,
                  len(values))
        if not replaced:
            break
    # What is left branches or loops on tensor values, or on a size chosen at run time (a
    # loop with a constant trip count is unrolled by the GraphRunner).
    tainted: set = set()
    _mark_value_dependent(graph.block(), tainted)
    controlled = [(n, list(n.inputs())[:2]) for n in graph.nodes()
                  if n.kind() in ("prim::If", "prim::Loop")]
    on_values = [n for n, c in controlled if any(v in tainted for v in c)]
    if on_values:
        raise TracingError(f"the model has data-dependent control flow ({_places(on_values)}); "
                           f"{ADVICE}")
    on_sizes = [n for n, c in controlled if any(v.node().kind() != "prim::Constant" for v in c)]
    if on_sizes:
        raise InputSpecError(
            f"the model branches or loops on a size chosen at run time ({_places(on_sizes)}): "
            f"give that size instead of -1 (generate one header per size)")
    return frozen


def _places(nodes: list[torch._C.Node]) -> str:
    return ", ".join(dict.fromkeys(f"{n.kind()[6:]} at {_where(n)}" for n in nodes))
