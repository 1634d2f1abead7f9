"""Running a specialised TorchScript graph node by node, so that torch's tracer records it.

torch's ONNX exporter translates a scripted graph without knowing its tensors' ranks and
fails on many of torch's own layers ("transpose for tensor of unknown rank"). A graph
without value-dependent control flow (see specialise.py) can instead be run here, one
ATen operator at a time, inside the exporter's tracer: the trace then has every shape,
exactly as for an nn.Module. Branches and loops left in the graph have constant
conditions and trip counts, and are taken or unrolled as they run.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import torch
import torch.nn.functional as F

_Env = dict  # torch._C.Value -> its Python value


def _holds_traced_size(value: object) -> bool:
    """A size the tracer follows (a 0-d tensor from Tensor.size()), or a list holding one."""
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, torch.Tensor) for v in value)
    return isinstance(value, torch.Tensor)


def _operator(node: torch._C.Node) -> Callable[..., object]:
    """The ATen overload a node calls, taking the node's inputs in schema order.

    Sizes the tracer follows must reach the operator through torch's Python API (its
    argument parser records them); torch.ops would turn them into constants. So an
    operator given such a size in a non-tensor argument is called as a Tensor method or
    torch function instead.
    """
    schema = torch._C.parse_schema(node.schema())
    namespace, _, name = schema.name.partition("::")
    packet = getattr(getattr(torch.ops, namespace), name)
    overload = getattr(packet, schema.overload_name or "default")
    keyword = [a.name if a.kwarg_only else None for a in schema.arguments]
    sizes = [i for i, a in enumerate(schema.arguments) if "Tensor" not in str(a.type)]
    python_api = getattr(torch.Tensor, name, None) or getattr(torch, name, None)

    def call(*args: object) -> object:
        positional = [a for a, k in zip(args, keyword) if k is None]
        named = {k: a for a, k in zip(args, keyword) if k is not None}
        if python_api is not None and any(_holds_traced_size(args[i]) for i in sizes
                                          if i < len(args)):
            return python_api(*positional, **named)
        return overload(*positional, **named)

    return call


# Arithmetic and comparisons on ints, floats and lists (sizes and shape lists): done in
# Python, so that a size the tracer follows (a batch size chosen at run time) stays traced.
_PYTHON = {
    "aten::add": operator.add, "aten::sub": operator.sub, "aten::mul": operator.mul,
    "aten::floordiv": operator.floordiv, "aten::div": operator.truediv,
    "aten::remainder": operator.mod, "aten::neg": operator.neg, "aten::eq": operator.eq,
    "aten::ne": operator.ne, "aten::lt": operator.lt, "aten::le": operator.le,
    "aten::gt": operator.gt, "aten::ge": operator.ge, "aten::__not__": operator.not_,
    "aten::len": len, "aten::__getitem__": operator.getitem, "prim::min": min, "prim::max": max,
    "aten::Int": int, "aten::Float": float,
}


def _append(items: list, item: object) -> list:
    items.append(item)
    return items


def _rnn_cell(activation: Callable[[torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
    def cell(x: torch.Tensor, h: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
             b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None) -> torch.Tensor:
        return activation(F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh))
    return cell


def _gru_cell(x: torch.Tensor, h: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
              b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None) -> torch.Tensor:
    r_i, z_i, n_i = F.linear(x, w_ih, b_ih).chunk(3, -1)
    r_h, z_h, n_h = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
    n = torch.tanh(n_i + r * n_h)
    return n + z * (h - n)


# ATen operators without an ONNX form that scripted code calls where traced code has their
# parts (the cells of nn.RNNCell and nn.GRUCell): written out with operators that have one.
_DECOMPOSED: dict[str, Callable[..., object]] = {
    "aten::rnn_tanh_cell": _rnn_cell(torch.tanh),
    "aten::rnn_relu_cell": _rnn_cell(torch.relu),
    "aten::gru_cell": _gru_cell,
}


# torch operators (as ONNX export labels them) the runner writes out itself.
DECOMPOSED = frozenset(_DECOMPOSED)


def _on_scalars(node: torch._C.Node) -> bool:
    """Whether every input of node is a number, a bool or a list (no tensor)."""
    return all("Tensor" not in str(v.type()) for v in node.inputs())


def _structural(kind: str, node: torch._C.Node, args: list) -> list | None:
    """The results of TorchScript's own (prim) nodes and of arithmetic on sizes; None for
    an ATen call on tensors."""
    if kind == "aten::size":  # the tensor method: the tracer follows the sizes it returns
        return [args[0].size(*args[1:])]
    if kind in _PYTHON and _on_scalars(node):
        return [_PYTHON[kind](*args)]
    if kind == "aten::append":  # mutates the list, as TorchScript does
        return [_append(*args)]
    if kind in _DECOMPOSED:
        return [_DECOMPOSED[kind](*args)]
    if kind in ("prim::unchecked_cast", "aten::detach"):
        return [args[0]]
    if kind == "prim::Constant":
        return [node.output().toIValue()]
    if kind == "prim::ListConstruct":
        return [list(args)]
    if kind == "prim::TupleConstruct":
        return [tuple(args)]
    if kind in ("prim::ListUnpack", "prim::TupleUnpack"):
        return list(args[0])
    if kind == "prim::TupleIndex":
        return [args[0][args[1]]]
    if kind == "prim::NumToTensor":
        return [torch.scalar_tensor(args[0])]
    return None


class GraphRunner(torch.nn.Module):
    """forward(*inputs) runs the graph of a (frozen, specialised) ScriptModule."""

    def __init__(self, graph: torch._C.Graph, owner: torch.jit.ScriptModule) -> None:
        super().__init__()
        object.__setattr__(self, "_graph", graph)
        # Attributes are read now, outside the tracer, and detached: weights become
        # constants of the trace (as the exporter makes them for modules).
        self._attributes: _Env = {}
        env: _Env = {next(iter(graph.inputs())): owner._c}
        for node in graph.findAllNodes("prim::GetAttr"):
            value = getattr(env[node.input()], node.s("name"))
            env[node.output()] = value
            self._attributes[node.output()] = (
                value.detach() if isinstance(value, torch.Tensor) else value)
        self._calls: dict[torch._C.Node, Callable[..., object]] = {}

    def forward(self, *inputs: torch.Tensor) -> object:
        graph = self._graph
        env: _Env = dict(zip(list(graph.inputs())[1:], inputs))
        outputs = self._run_block(graph.block(), env)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _run_block(self, block: torch._C.Block, env: _Env) -> list:
        for node in block.nodes():
            results = self._run_node(node, env)
            env.update(zip(node.outputs(), results))
        return [env[v] for v in block.outputs()]

    def _run_node(self, node: torch._C.Node, env: _Env) -> list:
        kind = node.kind()
        args = [env.get(v) for v in node.inputs()]
        if kind == "prim::GetAttr":
            return [self._attributes[node.output()]]
        if kind == "prim::If":
            branch = list(node.blocks())[0 if args[0] else 1]
            return self._run_block(branch, dict(env))
        if kind == "prim::Loop":
            return self._run_loop(node, args, env)
        results = _structural(kind, node, args)
        if results is not None:
            return results
        call = self._calls.get(node)
        if call is None:
            call = self._calls[node] = _operator(node)
        result = call(*args)
        return list(result) if len(list(node.outputs())) > 1 else [result]

    def _run_loop(self, node: torch._C.Node, args: list, env: _Env) -> list:
        trips, condition, carried = args[0], args[1], args[2:]
        body = next(iter(node.blocks()))
        params = list(body.inputs())
        step = 0
        while condition and step < trips:
            scope = dict(env)
            scope.update(zip(params, [step, *carried]))
            condition, *carried = self._run_block(body, scope)
            step += 1
        return carried
