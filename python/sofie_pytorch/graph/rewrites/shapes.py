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



def _shape_only_value(name: str, ctx: Context) -> np.ndarray | None:
    """The value of a tensor computed from shapes only (every path from it to the graph's
    inputs passes through a Shape node), when it is the same at two batch sizes: ParT's
    squeeze of its class token, whose size ONNX shape inference loses after an Expand to
    the run-time batch size. Evaluated by onnx's reference implementation on zeros."""
    graph = ctx.graph
    producers = {o: n for n in graph.node for o in n.output}
    inputs = {i.name for i in graph.input}
    # Shape-only: no path from the tensor to an input that does not cross a Shape.
    seen, pending = set(), [name]
    while pending:
        current = pending.pop()
        if current in seen or current in ctx.constants:
            continue
        seen.add(current)
        if current in inputs:
            return None
        node = producers.get(current)
        if node is None:
            return None
        if node.op_type != "Shape":
            pending.extend(i for i in node.input if i)
    values = [_evaluate(graph, name, batch) for batch in (2, 3)]
    if values[0] is None or values[1] is None or not np.array_equal(values[0], values[1]):
        return None
    return values[0]


def _evaluate(graph: onnx.GraphProto, name: str, batch: int) -> np.ndarray | None:
    """The tensor `name` of the graph on zero inputs, run-time sizes set to `batch`."""
    from onnx.reference import ReferenceEvaluator

    feeds = {}
    for value in graph.input:
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else batch for d in tensor.shape.dim]
        feeds[value.name] = np.zeros(dims, helper.tensor_dtype_to_np_dtype(tensor.elem_type))
    probe = helper.make_graph(list(graph.node), "probe", list(graph.input),
                              [helper.make_empty_tensor_value_info(name)], list(graph.initializer))
    try:
        model = helper.make_model(probe, opset_imports=[helper.make_opsetid("", 17)])
        return np.asarray(ReferenceEvaluator(model).run([name], feeds)[0])
    except Exception:  # noqa: BLE001 - not evaluable here: the If stays
        return None
