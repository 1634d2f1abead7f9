"""Fuse chains and small DAGs of element-wise ONNX nodes into one loop.

The engine generates one loop and one output buffer per ONNX node, and calls scalar
``std::exp``/``std::erf``/``std::tanh`` that g++ cannot vectorise. PyTorch's GELU, Mish,
Softplus, ``masked_fill``/``where`` or a LayerNorm-GELU block reach it as chains of 5-10
such nodes. This pass groups connected element-wise nodes that produce tensors of one
shape into a ``SofiePyTorchElementwise`` node (src/operators/Elementwise.cxx): one loop
over that shape, every node an expression on local variables, inputs broadcast by
strides, scalar constants written into the code.

What fuses (``FUSIBLE``, the same table as the C++ operator's): unary and binary
arithmetic and activations, comparisons and logic, ``Where``, ``Cast`` between float,
int64 and bool, ``Clip`` with constant bounds. What stays the engine's: nodes whose shapes
or types are not known, results of another shape (reductions, broadcasts that grow a
tensor are fine: the loop runs over the output), and the patterns the engine fuses into
its own operators (``Gemm``/``BatchNormalization`` + ``Relu``, ``MatMul`` + bias ``Add``).
A lone node is fused only when its fused form is vectorised and the engine's is not
(``_WORTH_ALONE``), or when it reads a dense layer's result.

Before that, a residual ``Add`` and a ``Relu`` after one of the project's convolutions, and
a bias ``Add`` and a ``Relu`` after one of its dense layers, become part of it
(``fold_epilogues``): applied in the GEMM's epilogue. After it, a fused group that is the
only reader of a dense layer's result (a GELU, a residual ``Add``) is applied in that
layer's epilogue too, when its other tensors have the result's shape (``fold_into_dense``):
the GEMM applies it to each panel of its result while that is in L1, and the group's own
buffer and pass are gone.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .fast_operators import CONV_OP, DENSE_OP, drop_unread, names_read

log = logging.getLogger(__name__)

FUSED_OP = "SofiePyTorchElementwise"
# The attributes that carry a fused program (src/operators/ElementwiseProgram.hxx), as
# _fused_node writes them and the Dense node takes them over (fold_into_dense).
PROGRAM_ATTRIBUTES = ("ops", "args", "params", "constants", "constant_types", "output_values")

_FLOAT, _INT64, _BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
_TYPES = (_FLOAT, _INT64, _BOOL)

# op type -> (operand count, default parameters): the table of Elementwise.cxx (kOps).
FUSIBLE: dict[str, tuple[int, tuple[float, ...]]] = {
    **{op: (2, ()) for op in ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min")},
    **{op: (1, ()) for op in ("Neg", "Abs", "Reciprocal", "Sqrt", "Exp", "Log", "Erf", "Tanh",
                              "Sigmoid", "Softplus", "Mish", "Softsign", "Floor", "Ceil", "Sin",
                              "Cos", "Sign", "Relu", "HardSwish", "Identity")},
    "LeakyRelu": (1, (0.01,)),
    "ThresholdedRelu": (1, (1.0,)),
    "Elu": (1, (1.0,)),
    "Selu": (1, (1.67326319217681884765625, 1.05070102214813232421875)),
    "Celu": (1, (1.0,)),
    "HardSigmoid": (1, (0.2, 0.5)),
    "Clip": (1, (-math.inf, math.inf)),  # min and max: constant inputs, not attributes
    **{op: (2, ()) for op in ("Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Equal",
                              "And", "Or", "Xor")},
    "Not": (1, ()),
    "Where": (3, ()),
    "Cast": (1, (float(_FLOAT),)),
}
_ATTRIBUTES = {"LeakyRelu": ("alpha",), "ThresholdedRelu": ("alpha",), "Elu": ("alpha",),
               "Selu": ("alpha", "gamma"), "Celu": ("alpha",), "HardSigmoid": ("alpha", "beta"),
               "Cast": ("to",)}
_COMPARISONS = {"Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Equal"}
_LOGIC = {"And", "Or", "Xor", "Not"}
_INTEGER_TOO = {"Add", "Sub", "Mul", "Neg", "Abs", "Max", "Min"}  # exact on int64 as well
# Alone, a node is worth its own loop only where the fused form vectorises a function the
# engine calls one element at a time.
_WORTH_ALONE = {"Exp", "Erf", "Tanh", "Sigmoid", "Softplus", "Mish", "Elu", "Selu", "Celu"}


@dataclass
class TensorInfo:
    """Element types and shapes of the graph's tensors (ONNX shape inference), taken
    before other passes put op types into the graph that shape inference does not know."""

    types: dict[str, int] = field(default_factory=dict)
    shapes: dict[str, list[int | str]] = field(default_factory=dict)

    @classmethod
    def of(cls, model: onnx.ModelProto) -> TensorInfo:
        info = cls()
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
        except Exception as exc:  # noqa: BLE001 - without shapes nothing fuses, that is all
            log.debug("shape inference failed: %s", exc)
            inferred = model
        g = inferred.graph
        for value in [*g.value_info, *g.input, *g.output]:
            tensor = value.type.tensor_type
            if tensor.elem_type:
                info.types[value.name] = tensor.elem_type
            if tensor.HasField("shape"):
                info.shapes[value.name] = [d.dim_value if d.HasField("dim_value") else d.dim_param
                                           for d in tensor.shape.dim]
        for name, array in _constants(g).items():
            info.types[name] = helper.np_dtype_to_tensor_dtype(array.dtype)
            info.shapes[name] = list(array.shape)
        return info


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


class _Graph:
    """The node list with who produces and who reads each tensor."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.nodes = list(graph.node)
        self.producer: dict[str, int] = {}
        self.readers: dict[str, list[int]] = {}
        for i, node in enumerate(self.nodes):
            for name in node.output:
                self.producer[name] = i
            for name in node.input:
                self.readers.setdefault(name, []).append(i)
        # tensors that must stay tensors: the graph's outputs, and what subgraphs (If/Loop
        # bodies) read from this graph
        self.outputs = {o.name for o in graph.output}
        for node in graph.node:
            for attr in node.attribute:
                for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                    self.outputs |= names_read(sub)
        self.constants = _constants(graph)

    def only_reader(self, name: str, i: int) -> bool:
        return self.readers.get(name) == [i] and name not in self.outputs


@dataclass
class _Operand:
    """A node input as the fused loop sees it: a tensor, or a scalar written into the code."""

    tensor: str | None = None
    scalar: float | None = None
    scalar_type: int = _FLOAT


class _Planner:
    """Decides which nodes fuse and how each becomes instructions of the fused loop."""

    def __init__(self, graph: _Graph, info: TensorInfo) -> None:
        self.g = graph
        self.info = info

    def operand(self, name: str, out_rank: int) -> _Operand | None:
        if not name:
            return None
        value = self.g.constants.get(name)
        if value is not None and value.size == 1 and value.ndim <= out_rank:
            kind = helper.np_dtype_to_tensor_dtype(value.dtype)
            scalar = value.reshape(()).item()
            if kind not in _TYPES or (kind == _INT64 and abs(scalar) >= 2**24):
                return None  # not exactly a float32 attribute value
            return _Operand(scalar=float(scalar), scalar_type=kind)
        if self.info.types.get(name) not in _TYPES or name not in self.info.shapes:
            return None
        if value is not None and value.dtype != np.float32 and value.size > 1:
            return None
        return _Operand(tensor=name)

    def type_of(self, operand: _Operand) -> int:
        return operand.scalar_type if operand.tensor is None else self.info.types[operand.tensor]

    def instructions(self, index: int
                     ) -> list[tuple[str, list[_Operand | int], list[float]]] | None:
        """Node `index` as instructions (op, operands, parameters); an int operand is the
        result of an earlier instruction of the same node. None if the node does not fuse."""
        node = self.g.nodes[index]
        if (node.domain not in ("", "ai.onnx") or node.op_type not in FUSIBLE
                or len(node.output) != 1):
            return None
        out = node.output[0]
        shape, out_type = self.info.shapes.get(out), self.info.types.get(out)
        if shape is None or out_type not in _TYPES or any(
                not isinstance(d, str) and d <= 0 for d in shape) or self._engine_fuses(index):
            return None
        arity, defaults = FUSIBLE[node.op_type]
        names = list(node.input)
        params = list(defaults)
        if node.op_type == "Clip":
            bounds = [self.g.constants.get(n) if n else None for n in names[1:3]]
            if any(n and (b is None or b.size != 1) for n, b in zip(names[1:3], bounds)):
                return None  # bounds computed at run time
            for i, bound in enumerate(bounds):
                if bound is not None:
                    params[i] = float(bound.reshape(()))
            names = names[:1]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        for i, key in enumerate(_ATTRIBUTES.get(node.op_type, ())):
            if key in attrs:
                params[i] = float(attrs.pop(key))
        if attrs or len(names) != arity:
            return None  # attributes the fused form does not know (or variadic Max/Min)
        operands = [self.operand(n, len(shape)) for n in names]
        if any(o is None for o in operands) or not self._types_ok(node, operands, out_type, params):
            return None
        for o in operands:
            if o.tensor is not None and not _broadcasts(self.info.shapes[o.tensor], shape):
                return None
        return _expand_pow(node.op_type, operands, params)

    def _types_ok(self, node: onnx.NodeProto, operands: list[_Operand], out_type: int,
                  params: list[float]) -> bool:
        types = [self.type_of(o) for o in operands]
        op = node.op_type
        if op == "Cast":
            return int(params[0]) in _TYPES
        if op == "Where":
            return types[0] == _BOOL and types[1] == types[2] == out_type
        if op in _LOGIC:
            return all(t == _BOOL for t in types)
        if op in _COMPARISONS:
            return types[0] == types[1] and types[0] in (_FLOAT, _INT64)
        if op == "Identity":
            return types[0] == out_type
        allowed = (_FLOAT, _INT64) if op in _INTEGER_TOO else (_FLOAT,)
        return out_type in allowed and all(t == out_type for t in types)

    def _engine_fuses(self, index: int) -> bool:
        """Patterns the engine's parser fuses into its own operators: leave them to it."""
        node = self.g.nodes[index]
        source = self.g.producer.get(node.input[0]) if node.input else None
        if source is None:
            return False
        producer = self.g.nodes[source]
        single = self.g.only_reader(node.input[0], index)
        if node.op_type == "Relu":
            return producer.op_type in ("Gemm", "BatchNormalization") and single
        if node.op_type == "Add" and producer.op_type == "MatMul" and single:
            return len(node.input) == 2 and node.input[1] in self.g.constants
        return False


def _broadcasts(shape: list[int | str], target: list[int | str]) -> bool:
    if len(shape) > len(target):
        return False
    return all(d == t or d == 1 for d, t in zip(shape, target[len(target) - len(shape):]))


def _expand_pow(op: str, operands: list[_Operand], params: list[float]
                ) -> list[tuple[str, list[_Operand | int], list[float]]]:
    """Pow by a constant 2, 3 or 0.5 as products or a square root (as torch computes them)."""
    if op != "Pow" or operands[1].scalar is None:
        return [(op, list(operands), params)]
    x, exponent = operands[0], operands[1].scalar
    if exponent == 1.0:
        return [("Identity", [x], [])]
    if exponent == 2.0:
        return [("Mul", [x, x], [])]
    if exponent == 3.0:
        return [("Mul", [x, x], []), ("Mul", [0, x], [])]
    if exponent == 0.5:
        return [("Sqrt", [x], [])]
    return [(op, list(operands), params)]


class _Groups:
    """Union of nodes into fused groups, never closing a cycle through outside nodes."""

    def __init__(self, graph: _Graph) -> None:
        self.g = graph
        self.unit = list(range(len(graph.nodes)))
        self.members: dict[int, list[int]] = {i: [i] for i in range(len(graph.nodes))}

    def unit_of_tensor(self, name: str) -> int | None:
        producer = self.g.producer.get(name)
        return None if producer is None else self.unit[producer]

    def reaches(self, start: int, target: int) -> bool:
        """Whether unit `start` depends on unit `target` (groups taken as one node)."""
        stack, seen = [start], {start}
        while stack:
            for member in self.members[stack.pop()]:
                for name in self.g.nodes[member].input:
                    unit = self.unit_of_tensor(name)
                    if unit is None or unit in seen:
                        continue
                    if unit == target:
                        return True
                    seen.add(unit)
                    stack.append(unit)
        return False

    def merge(self, reader: int, source: int) -> bool:
        """Make unit `source`, which unit `reader` reads directly, part of `reader`, unless
        `reader` also reads something that depends on `source` (a cycle once merged)."""
        others = {self.unit_of_tensor(n) for m in self.members[reader]
                  for n in self.g.nodes[m].input} - {None, reader, source}
        if any(self.reaches(u, source) for u in others):  # type: ignore[arg-type]
            return False
        for m in self.members[source]:
            self.unit[m] = reader
        self.members[reader] = sorted(self.members[reader] + self.members.pop(source))
        return True


def _conv_residual(node: onnx.NodeProto, add: onnx.NodeProto, out: str, graph: _Graph,
                   info: TensorInfo, index: int) -> bool:
    """A residual of the convolution's output shape, computed before it: its 4th input."""
    others = [n for n in add.input if n != out]
    if (len(add.input) != 2 or len(others) != 1 or len(node.input) > 3
            or info.shapes.get(others[0]) != info.shapes.get(out)
            or info.types.get(others[0]) != _FLOAT
            or graph.producer.get(others[0], -1) >= index):
        return False
    node.input.extend([""] * (3 - len(node.input)) + others)
    return True


def _dense_bias(node: onnx.NodeProto, add: onnx.NodeProto, out: str, graph: _Graph,
                info: TensorInfo, index: int) -> bool:
    """A constant bias along the last axis (N values, leading dimensions 1): its 3rd input."""
    others = [n for n in add.input if n != out]
    bias = graph.constants.get(others[0]) if len(add.input) == 2 and len(others) == 1 else None
    shape = info.shapes.get(out)
    if bias is None or len(node.input) > 2 or not shape or bias.dtype != np.float32:
        return False
    if (bias.ndim > len(shape) or bias.ndim == 0 or bias.shape[-1] != shape[-1]
            or bias.size != shape[-1]):
        return False
    node.input.append(others[0])
    return True


# Our operators with an epilogue, and how each takes in a following Add.
_ADD_FOLDS = {CONV_OP: _conv_residual, DENSE_OP: _dense_bias}


def fold_epilogues(model: onnx.ModelProto, info: TensorInfo) -> int:
    """Conv -> [Add(residual)] -> [Relu] and Dense -> [Add(bias)] -> [Relu] into the
    convolution or dense node; returns the folds made. The node's output must have no other
    reader and not be a graph output."""
    folds = 0
    graph = _Graph(model.graph)
    gone: set[int] = set()
    for i, node in enumerate(graph.nodes):
        fold_add = _ADD_FOLDS.get(node.op_type)
        if fold_add is None:
            continue
        out = node.output[0]
        for op in ("Add", "Relu"):
            readers = graph.readers.get(out, [])
            if len(readers) != 1 or out in graph.outputs or graph.nodes[readers[0]].op_type != op:
                continue
            nxt = graph.nodes[readers[0]]
            if any(a.name == "relu" for a in node.attribute):
                break
            if op == "Add" and not fold_add(node, nxt, out, graph, info, i):
                continue
            if op == "Relu":
                node.attribute.append(helper.make_attribute("relu", 1))
            node.output[0] = out = nxt.output[0]
            gone.add(readers[0])
            folds += 1
    if gone:
        kept = [n for k, n in enumerate(graph.nodes) if k not in gone]
        del model.graph.node[:]
        model.graph.node.extend(kept)
    return folds


def apply(model: onnx.ModelProto, supported: Iterable[str], info: TensorInfo) -> int:
    """Fuse element-wise groups in place; return how many fused nodes the graph has now."""
    if FUSED_OP not in set(supported):
        return 0
    fold_epilogues(model, info)
    graph = _Graph(model.graph)
    planner = _Planner(graph, info)
    plans = {i: planner.instructions(i) for i in range(len(graph.nodes))}
    plans = {i: p for i, p in plans.items() if p is not None}
    if not plans:
        return 0
    groups = _Groups(graph)
    for i in sorted(plans):  # the node list is in topological order
        shape = info.shapes[graph.nodes[i].output[0]]
        for name in graph.nodes[i].input:  # every fusible group it reads, one by one
            unit = groups.unit_of_tensor(name)
            if (unit is not None and unit in plans and unit != groups.unit[i]
                    and info.shapes[graph.nodes[unit].output[0]] == shape):
                groups.merge(groups.unit[i], unit)
    fused = []
    for head, members in groups.members.items():
        if head not in plans:
            continue
        if (len(members) == 1 and graph.nodes[head].op_type not in _WORTH_ALONE
                and not _reads_dense(graph, head)):
            continue
        fused.append((members, _fused_node(graph, members, plans, head)))
    if not fused:
        return 0
    _replace(model.graph, graph, fused)
    drop_unread(model.graph, set(graph.constants))
    folded = fold_into_dense(model, info)
    log.debug("fused %d element-wise group(s), %d of them into dense layers", len(fused), folded)
    return len(fused)


def _reads_dense(graph: _Graph, index: int) -> bool:
    """Whether node `index` is the only reader of a dense layer's result."""
    return any(graph.nodes[graph.producer[name]].op_type == DENSE_OP
               and graph.only_reader(name, index)
               for name in graph.nodes[index].input if name in graph.producer)


def fold_into_dense(model: onnx.ModelProto, info: TensorInfo) -> int:
    """Fused groups applied in the epilogue of the dense layer whose result they read (its
    only reader); returns how many. The group's other tensors must be float tensors of the
    result's shape (read at the result's index), computed before the dense layer, and the
    group must compute one float tensor of that shape."""
    graph = _Graph(model.graph)
    gone: set[int] = set()
    for i, node in enumerate(graph.nodes):
        if node.op_type != FUSED_OP or len(node.output) != 1:
            continue
        out = node.output[0]
        for k, name in enumerate(node.input):
            d = graph.producer.get(name)
            if d is None or d in gone or not graph.only_reader(name, i):
                continue
            dense = graph.nodes[d]
            shape = info.shapes.get(name)
            if (dense.op_type != DENSE_OP or any(a.name == "ops" for a in dense.attribute)
                    or shape is None or info.shapes.get(out) != shape
                    or info.types.get(out) != _FLOAT):
                continue
            others = [n for j, n in enumerate(node.input) if j != k]
            if any(info.shapes.get(n) != shape or info.types.get(n) != _FLOAT
                   or graph.producer.get(n, -1) >= d for n in others):
                continue
            dense.input.extend([""] * (3 - len(dense.input)) + others)
            dense.attribute.extend([a for a in node.attribute if a.name in PROGRAM_ATTRIBUTES])
            dense.attribute.append(helper.make_attribute("result_input", k))
            dense.output[0] = out
            gone.add(i)
            break
    if gone:
        kept = [n for k, n in enumerate(graph.nodes) if k not in gone]
        del model.graph.node[:]
        model.graph.node.extend(kept)
    return len(gone)


def _fused_node(graph: _Graph, members: list[int], plans: dict, head: int) -> onnx.NodeProto:
    inside = {graph.nodes[m].output[0] for m in members}
    inputs: list[str] = []
    value: dict[str, int] = {}  # tensor -> value id, filled once the inputs are known
    constants: list[float] = []
    constant_types: list[int] = []
    ops: list[str] = []
    args: list[int] = []
    params: list[float] = []
    for m in members:
        for _, operands, _ in plans[m]:
            for o in operands:
                if isinstance(o, _Operand) and o.tensor and o.tensor not in inside \
                        and o.tensor not in inputs:
                    inputs.append(o.tensor)
    value.update({name: i for i, name in enumerate(inputs)})
    for m in members:
        first = len(inputs) + len(ops)
        for op, operands, op_params in plans[m]:
            ops.append(op)
            params.extend(op_params)
            for o in operands:
                if isinstance(o, int):
                    args.append(first + o)
                elif o.tensor is not None:
                    args.append(value[o.tensor])
                else:
                    constants.append(o.scalar)
                    constant_types.append(o.scalar_type)
                    args.append(-len(constants))
        value[graph.nodes[m].output[0]] = len(inputs) + len(ops) - 1
    member_set = set(members)
    outputs = [graph.nodes[m].output[0] for m in members
               if graph.nodes[m].output[0] in graph.outputs
               or any(r not in member_set for r in graph.readers.get(graph.nodes[m].output[0], []))]
    node = helper.make_node(FUSED_OP, inputs, outputs,
                            name=f"{graph.nodes[head].name or head}_fused")
    A = onnx.AttributeProto  # typed explicitly: some lists are empty
    node.attribute.extend([
        helper.make_attribute("ops", ops, attr_type=A.STRINGS),
        helper.make_attribute("args", args, attr_type=A.INTS),
        helper.make_attribute("params", params, attr_type=A.FLOATS),
        helper.make_attribute("constants", constants, attr_type=A.FLOATS),
        helper.make_attribute("constant_types", constant_types, attr_type=A.INTS),
        helper.make_attribute("output_values", [value[o] for o in outputs], attr_type=A.INTS)])
    return node


def _replace(proto: onnx.GraphProto, graph: _Graph,
             fused: list[tuple[list[int], onnx.NodeProto]]) -> None:
    """Swap each group for its fused node and re-sort the nodes topologically, keeping the
    original order wherever dependencies allow (the engine fuses neighbouring nodes)."""
    position: list[tuple[int, onnx.NodeProto]] = []
    gone = set()
    for members, node in fused:
        gone.update(members)
        position.append((max(members), node))
    position += [(i, n) for i, n in enumerate(graph.nodes) if i not in gone]
    produced = {name: k for k, (_, n) in enumerate(position) for name in n.output}
    waiting = [0] * len(position)
    readers: dict[int, list[int]] = {}
    for k, (_, node) in enumerate(position):
        for source in {produced[n] for n in node.input if n in produced}:
            waiting[k] += 1
            readers.setdefault(source, []).append(k)
    ready = [(pos, k) for k, (pos, _) in enumerate(position) if waiting[k] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, k = heapq.heappop(ready)
        order.append(position[k][1])
        for reader in readers.get(k, []):
            waiting[reader] -= 1
            if waiting[reader] == 0:
                heapq.heappush(ready, (position[reader][0], reader))
    if len(order) != len(position):
        raise RuntimeError("element-wise fusion made a cycle (a bug: please report it)")
    del proto.node[:]
    proto.node.extend(order)
