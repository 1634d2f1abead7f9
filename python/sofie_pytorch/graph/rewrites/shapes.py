"""Shape rewrites: Reshape with both 0 and -1, reductions to a scalar."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .constants import bool_constant_as_initializer
from .registry import Context, attr, rewrite


@rewrite("Reshape")
def _reshape_static(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # ONNX's 0 ("copy this dimension") next to a -1 is rejected by SOFIE; with the input
    # shape known, both become plain numbers (or only the -1, where a 0 copies a
    # dimension chosen at run time).
    target = ctx.constants.get(node.input[1])
    if target is None or -1 not in target or attr(node, "allowzero", 0):
        return None
    target = [int(d) for d in target.tolist()]
    source = ctx.shapes.get(node.input[0])
    if 0 not in target:
        return _reshape_with_run_time_length(node, ctx, target, source)
    copied = [i for i, d in enumerate(target) if d == 0]
    if source is None or any(i >= len(source) for i in copied):
        return None
    run_time = {i for i, d in enumerate(source) if not (isinstance(d, int) and d > 0)}
    if not run_time <= set(copied):
        return None
    if run_time:
        # A dimension chosen at run time is copied by a 0: keep the 0s, and work out the
        # -1 from the fixed dimensions, which is all SOFIE needs.
        rest = int(np.prod([d for i, d in enumerate(source) if i not in copied]))
        known = int(np.prod([d for d in target if d > 0]))
        if known == 0 or rest % known:
            return None
        dims = [rest // known if d == -1 else d for d in target]
    else:
        dims = [source[i] if d == 0 else d for i, d in enumerate(target)]
        known = int(np.prod([d for d in dims if d != -1]))
        dims = [int(np.prod(source)) // known if d == -1 else d for d in dims]
    shape = ctx.constant(np.array(dims, dtype=np.int64), "shape")
    return [helper.make_node("Reshape", [node.input[0], shape], list(node.output), name=node.name)]


def _reshape_with_run_time_length(node: onnx.NodeProto, ctx: Context, target: list[int],
                                  source: list[int | str] | None) -> list[onnx.NodeProto] | None:
    # SOFIE 0.1.0 cannot work out a -1 from a length holding a size chosen at run time
    # unless the other dimensions divide one factor of it: ParticleNet's
    # x.transpose(0, 1).reshape(num_dims, -1) of a {7, N, 24} tensor fails in Generate()
    # with "invalid_argument: stoi" (and its Flatten names a member "fN * 24"). The -1 is
    # the product of the run-time sizes times a fixed factor: computed from the input's
    # Shape, as the engine computes shape tensors, it needs no -1.
    if source is None or target.count(-1) != 1:
        return None
    run_time = [i for i, d in enumerate(source) if not (isinstance(d, int) and d > 0)]
    if not run_time:
        return None
    fixed_source = int(np.prod([d for d in source if isinstance(d, int) and d > 0]))
    fixed_target = int(np.prod([d for d in target if d != -1]))
    if fixed_target <= 0 or fixed_source % fixed_target:
        return None
    shape = ctx.fresh(f"{node.output[0]}_shape")
    nodes = [helper.make_node("Shape", [node.input[0]], [shape], name=f"{node.name}/Shape")]
    length = ""
    for axis in run_time:
        size = ctx.fresh(f"{node.output[0]}_dim{axis}")
        index = ctx.constant(np.array([axis], dtype=np.int64), "axis")
        nodes.append(helper.make_node("Gather", [shape, index], [size], name=f"{size}/Gather"))
        if length:
            product = ctx.fresh(f"{node.output[0]}_length")
            nodes.append(helper.make_node("Mul", [length, size], [product], name=f"{product}/Mul"))
            size = product
        length = size
    if fixed_source // fixed_target != 1:
        factor = ctx.constant(np.array([fixed_source // fixed_target], dtype=np.int64), "factor")
        product = ctx.fresh(f"{node.output[0]}_length")
        nodes.append(helper.make_node("Mul", [length, factor], [product], name=f"{product}/Mul"))
        length = product
    pieces = [length if d == -1 else ctx.constant(np.array([d], dtype=np.int64), "dim")
              for d in target]
    target_shape = ctx.fresh(f"{node.output[0]}_target")
    nodes.append(helper.make_node("Concat", pieces, [target_shape], name=f"{node.name}/Concat",
                                  axis=0))
    nodes.append(helper.make_node("Reshape", [node.input[0], target_shape], list(node.output),
                                  name=node.name))
    return nodes


def _reduce_to_scalar(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # SOFIE cannot produce a rank-0 tensor: reduce keeping the dimensions, then make the
    # result a one-element vector (which broadcasts like the scalar it replaces).
    if attr(node, "keepdims", 1) != 0:
        return None
    rank = len(ctx.shapes.get(node.input[0], [])) or None
    axes = attr(node, "axes", None)
    if axes is None and len(node.input) > 1 and node.input[1]:
        constant = ctx.constants.get(node.input[1])
        if constant is None:
            return None
        axes = constant.tolist()
    if rank is None or (axes is not None and sorted(a % rank for a in axes) != list(range(rank))):
        return None
    kept = ctx.fresh(node.output[0])
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    attrs["keepdims"] = 1
    one = ctx.constant(np.array([1], dtype=np.int64), "shape")
    return [
        helper.make_node(node.op_type, list(node.input), [kept], name=node.name, **attrs),
        helper.make_node("Reshape", [kept, one], list(node.output), name=f"{node.name}/Reshape"),
    ]


for _op in ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare",
            "ReduceL2"):
    rewrite(_op)(_reduce_to_scalar)


@rewrite("If")
def _if_constant(node: onnx.NodeProto, ctx: Context) -> list[onnx.NodeProto] | None:
    # torch's exporter emits If for shape checks it cannot decide (squeeze of a dimension
    # of unknown size); with the shapes known its condition is a constant: the branch taken
    # replaces it (its results renamed by Identity nodes).
    condition = ctx.constants.get(node.input[0])
    if condition is None:
        condition = _shape_only_value(node.input[0], ctx)
    if condition is None or condition.size != 1:
        return None
    branch = attr(node, "then_branch" if bool(condition.reshape(-1)[0]) else "else_branch", None)
    if not isinstance(branch, onnx.GraphProto) or branch.initializer:
        return None
    nodes = []
    for inner in branch.node:  # the branch's own constants in the engine's form too
        engine_form = (bool_constant_as_initializer(inner, ctx) if inner.op_type == "Constant"
                       else None)
        nodes.extend([inner] if engine_form is None else engine_form)
    for inner, outer in zip(branch.output, node.output):
        nodes.append(helper.make_node("Identity", [inner.name], [outer],
                                      name=f"{node.name}/{outer}"))
    return nodes



# The batch sizes a shape-only tensor is evaluated at: two, so that what depends on the
# batch size shows (and 1 is not one: a size 1 broadcasts, hiding mistakes).
PROBE_BATCHES = (2, 3)


def _shape_only_value(name: str, ctx: Context) -> np.ndarray | None:
    """The value of a tensor computed from shapes only, when it is the same at two batch
    sizes: ParT's squeeze of its class token, whose size ONNX shape inference loses after
    an Expand to the run-time batch size."""
    values = evaluate_shape_only([name], ctx)
    if values is None:
        return None
    first, *others = (values[batch][0] for batch in PROBE_BATCHES)
    if not all(np.array_equal(first, other) for other in others):
        return None
    return first


def shape_only(name: str, ctx: Context) -> bool:
    """Whether a tensor is computed from shapes only: every path from it to the graph's
    inputs passes through a Shape node (indices built from x.size(0), sizes, conditions)."""
    producers = {o: n for n in ctx.graph.node for o in n.output}
    inputs = {i.name for i in ctx.graph.input}
    seen, pending = set(), [name]
    while pending:
        current = pending.pop()
        if current in seen or current in ctx.constants:
            continue
        seen.add(current)
        if current in inputs:
            return False
        node = producers.get(current)
        if node is None:
            return False
        if node.op_type != "Shape":
            pending.extend(_references(node))
    return True


def evaluate_shape_only(names: list[str], ctx: Context) -> dict[int, list[np.ndarray]] | None:
    """Shape-only tensors' values at each of PROBE_BATCHES (batch -> values, in the order
    of `names`), or None if one is not shape-only or cannot be evaluated."""
    if not all(shape_only(n, ctx) for n in names):
        return None
    values = {}
    for batch in PROBE_BATCHES:
        result = evaluate(ctx.graph, names, batch)
        if result is None:
            return None
        values[batch] = result
    return values


def evaluate(graph: onnx.GraphProto, names: list[str], batch: int) -> list[np.ndarray] | None:
    """The tensors `names` of the graph on zero inputs, run-time sizes set to `batch`,
    by onnx's reference implementation (only the nodes they are computed from are run)."""
    from onnx.reference import ReferenceEvaluator

    producers = {o: k for k, n in enumerate(graph.node) for o in n.output}
    needed: set[int] = set()
    pending = list(names)
    while pending:
        k = producers.get(pending.pop())
        if k is None or k in needed:
            continue
        needed.add(k)
        pending.extend(_references(graph.node[k]))
    nodes = [graph.node[k] for k in sorted(needed)]
    used = {i for n in nodes for i in _references(n)}
    feeds = {}
    for value in graph.input:
        if value.name not in used:
            continue
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else batch for d in tensor.shape.dim]
        feeds[value.name] = np.zeros(dims, helper.tensor_dtype_to_np_dtype(tensor.elem_type))
    probe = helper.make_graph(nodes, "probe", [v for v in graph.input if v.name in feeds],
                              [helper.make_empty_tensor_value_info(n) for n in names],
                              [t for t in graph.initializer if t.name in used])
    try:
        model = helper.make_model(probe, opset_imports=[helper.make_opsetid("", 17)])
        with np.errstate(all="ignore"):  # zeros as inputs: log(0) and 0/0 are expected
            return [np.asarray(v) for v in ReferenceEvaluator(model).run(list(names), feeds)]
    except Exception:  # noqa: BLE001 - not evaluable here: the caller leaves the node alone
        return None


def _references(node: onnx.NodeProto) -> list[str]:
    """The tensors a node reads: its inputs, and those its branches (If) read from the
    graph around them."""
    names = [i for i in node.input if i]
    for a in node.attribute:
        for branch in ([a.g] if a.HasField("g") else []) + list(a.graphs):
            for inner in branch.node:
                names.extend(_references(inner))
    return names
