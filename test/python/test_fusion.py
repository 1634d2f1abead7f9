"""Element-wise fusion (python/sofie_pytorch/graph/fusion.py, src/operators/Elementwise.cxx).

The coverage suite's activation and element-wise cases run through the fused operator and
are compared with Torch there; here: that they do run through it, models built to exercise
broadcasting, Where, casts and constants (compiled, run and compared with Torch under the
flags users compile with), and the pass itself on hand-made graphs (which nodes fuse,
which stay the engine's, no cycles).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from compiled import compile_and_run
from conformance import compare, run, save
from coverage import CASES
from onnx import TensorProto, helper, numpy_helper
from sofie_pytorch.graph import fusion
from torch import nn

FUSED = fusion.FUSED_OP

# Coverage cases whose element-wise chains must now be one fused node, or part of the dense
# layer they follow (fold_into_dense), with no element-wise node of the engine left (and
# still match Torch: the coverage suite compares the outputs).
FUSED_CASES = ["gelu", "gelu_tanh", "mish", "softplus", "softplus_beta", "where", "erf",
               "selu", "celu", "layernorm_dynamic_batch"]


def _traced_ops(name: str, directory) -> set[str]:
    """The op types of a coverage case's graph as SOFIE gets it (its numbers are compared
    with Torch by the coverage suite, test_coverage.py)."""
    import ROOT
    from sofie_pytorch import tracing

    case = CASES[name]
    path, _, _ = save(name, directory)
    shapes = [list(s) for s in case.shapes]
    axis = case.extra.get("dynamic_axis")
    if axis is not None:
        for shape in shapes:
            shape[axis] = -1
    supported = [str(s) for s in ROOT.SOFIE.PyTorch.SupportedOnnxOperators()]
    source = path if isinstance(path, torch.nn.Module) else str(path)
    traced = tracing.trace(source, shapes, list(case.dtypes) or None, supported)
    return {n.op_type for n in traced.graph.graph.node}


@pytest.mark.parametrize("name", FUSED_CASES)
def test_coverage_cases_run_through_the_fused_operator(name, tmp_path):
    ops = _traced_ops(name, tmp_path)
    assert ops & {FUSED, "SofiePyTorchDense"} and not ops & set(fusion.FUSIBLE), ops


class _Mixed(nn.Module):
    """Broadcasting (a row, a column, a scalar), masks, where, casts and constants in one
    element-wise DAG, with two outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.row = nn.Parameter(torch.randn(1, 6))
        self.column = nn.Parameter(torch.randn(5, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = (x > 0.3) & ~(y < -0.5)
        a = torch.where(mask, x * self.row, y - self.column)
        b = a.masked_fill(a.abs() < 0.2, float("-inf")).clamp(min=-3.0) + mask.float()
        counted = (x > 0).to(torch.int64) * 3 + 1  # int64 inside the loop, float out
        return torch.exp(-b.abs()) * counted.float() + torch.sigmoid(y) ** 2, torch.tanh(a / 3)


class _Saturating(nn.Module):
    """The vectorised functions far outside their polynomial ranges."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (nn.functional.gelu(x) + nn.functional.mish(x) + nn.functional.softplus(x)
                + torch.erf(x) + torch.sigmoid(x) + torch.tanh(x))


FLAGS = [("-O2",), ("-O3", "-march=native"), ("-O3", "-march=native", "-ffast-math")]


def _convert(module: nn.Module, inputs: list[torch.Tensor], directory, name: str) -> str:
    import sofie_pytorch

    path = directory / f"{name}.pt"
    torch.jit.save(torch.jit.trace(module, tuple(inputs)), str(path))
    model = sofie_pytorch.parse(str(path), input_shapes=[list(x.shape) for x in inputs])
    model.Generate()
    model.OutputGenerated(str(directory / f"{name}.hxx"))
    return (directory / f"{name}.hxx").read_text()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mixed")
    torch.manual_seed(3)
    module = _Mixed().eval()
    inputs = [torch.randn(5, 6), torch.randn(5, 6)]
    code = _convert(module, inputs, directory, "mixed")
    with torch.no_grad():
        expected = [o.numpy() for o in module(*inputs)]
    return directory, inputs, expected, code


@pytest.mark.parametrize("flags", FLAGS, ids=["O2", "O3-native", "O3-native-fast-math"])
def test_broadcasting_where_casts_and_constants_match_torch(mixed, flags):
    directory, inputs, expected, _ = mixed
    got = compile_and_run(directory, "mixed", [x.numpy() for x in inputs], flags=flags)
    compare(got, expected)


def test_the_mixed_graph_is_one_loop_without_intermediate_buffers(mixed):
    _, _, _, code = mixed
    assert code.count("SofiePyTorch Elementwise:") == 1, code
    # only the two outputs are tensors the fused loop writes
    assert code.count("] = sp_v") == 2


def test_saturated_inputs_match_torch(tmp_path):
    x = torch.linspace(-120.0, 120.0, 4001).reshape(1, -1)
    x[0, :3] = torch.tensor([1e30, -1e30, 0.0])
    code = _convert(_Saturating().eval(), [x], tmp_path, "saturating")
    assert "SofiePyTorch Elementwise:" in code
    with torch.no_grad():
        expected = [_Saturating()(x).numpy()]
    for flags in FLAGS[1:]:
        compare(compile_and_run(tmp_path, "saturating", [x.numpy()], flags=flags), expected)


class _Erf(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.erf(x)


def test_erf_is_within_2e7_of_torch_everywhere(tmp_path):
    """The generated erf (GeneratedMath.cxx, polynomial from tools/fit_erf.py) on a fine grid
    through its whole range, the clamp at 3.92, infinities and NaN, at a tighter tolerance
    than the suite's; with and without -march (vector and scalar code)."""
    x = torch.linspace(-6.0, 6.0, 120001).reshape(1, -1)
    x[0, :5] = torch.tensor([float("inf"), float("-inf"), float("nan"), 0.0, -0.0])
    _convert(_Erf().eval(), [x], tmp_path, "erf_grid")
    want = torch.erf(x.double()).numpy()
    for flags in FLAGS[:2]:
        (got,) = compile_and_run(tmp_path, "erf_grid", [x.numpy()], flags=flags)
        got = got.reshape(want.shape)
        assert np.isnan(got[0, 2]) and list(got[0, [0, 1, 3]]) == [1.0, -1.0, 0.0], got[0, :5]
        finite = ~np.isnan(want)
        assert np.abs(got[finite] - want[finite]).max() < 2e-7


# ---- The pass on hand-made graphs


def _model(nodes, inputs, outputs, initializers=()) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs], list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _fuse(model: onnx.ModelProto) -> int:
    return fusion.apply(model, {FUSED}, fusion.TensorInfo.of(model))


def _fused_nodes(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    return [n for n in model.graph.node if n.op_type == FUSED]


def _attr(node: onnx.NodeProto, name: str) -> object:
    return next(helper.get_attribute_value(a) for a in node.attribute if a.name == name)


F = TensorProto.FLOAT


def test_a_chain_with_broadcast_and_scalar_constants_becomes_one_node():
    bias = numpy_helper.from_array(np.arange(4, dtype=np.float32), "bias")
    half = numpy_helper.from_array(np.array(0.5, dtype=np.float32), "half")
    model = _model(
        [helper.make_node("Add", ["x", "bias"], ["a"]), helper.make_node("Erf", ["a"], ["b"]),
         helper.make_node("Mul", ["b", "half"], ["y"])],
        [("x", F, [2, 4])], [("y", F, [2, 4])], [bias, half])
    assert _fuse(model) == 1
    (node,) = model.graph.node
    assert node.op_type == FUSED
    assert list(node.input) == ["x", "bias"] and list(node.output) == ["y"]
    assert [s.decode() for s in _attr(node, "ops")] == ["Add", "Erf", "Mul"]
    assert list(_attr(node, "args")) == [0, 1, 2, 3, -1]  # x, bias; a; b, constant 0
    assert list(_attr(node, "constants")) == [0.5]
    # the inlined scalar left the weights; the broadcast vector stayed
    assert [t.name for t in model.graph.initializer] == ["bias"]


def test_pow_by_small_constants_becomes_products():
    three = numpy_helper.from_array(np.array(3.0, dtype=np.float32), "three")
    model = _model([helper.make_node("Pow", ["x", "three"], ["p"]),
                    helper.make_node("Tanh", ["p"], ["y"])],
                   [("x", F, [3])], [("y", F, [3])], [three])
    assert _fuse(model) == 1
    assert [s.decode() for s in _attr(model.graph.node[0], "ops")] == ["Mul", "Mul", "Tanh"]


def test_intermediates_read_outside_become_outputs_and_order_stays_topological():
    model = _model(
        [helper.make_node("Neg", ["x"], ["a"]), helper.make_node("Exp", ["a"], ["b"]),
         helper.make_node("MatMul", ["a", "w"], ["m"]),
         helper.make_node("Add", ["b", "x"], ["y"])],
        [("x", F, [2, 2]), ("w", F, [2, 2])], [("y", F, [2, 2]), ("m", F, [2, 2])])
    assert _fuse(model) == 1
    ops = [n.op_type for n in model.graph.node]
    assert ops == [FUSED, "MatMul"]
    assert list(model.graph.node[0].output) == ["a", "y"]


def test_no_group_closes_a_cycle_through_an_outside_node():
    # a -> MatMul -> c and a -> c: fusing a and c would need c's input before a exists
    model = _model(
        [helper.make_node("Sigmoid", ["x"], ["a"]), helper.make_node("MatMul", ["a", "w"], ["m"]),
         helper.make_node("Mul", ["a", "m"], ["c"]), helper.make_node("Tanh", ["c"], ["y"])],
        [("x", F, [2, 2]), ("w", F, [2, 2])], [("y", F, [2, 2])])
    _fuse(model)
    ops = [n.op_type for n in model.graph.node]
    assert ops.index("MatMul") < len(ops) - 1 and ops.count("MatMul") == 1
    groups = [[s.decode() for s in _attr(n, "ops")] for n in _fused_nodes(model)]
    assert ["Mul", "Tanh"] in groups and not any("Sigmoid" in g and "Mul" in g for g in groups)
    produced = set()
    for node in model.graph.node:  # every input exists before it is read
        assert all(i in produced or i in ("x", "w") for i in node.input), ops
        produced.update(node.output)


def test_patterns_the_engine_fuses_stay_the_engines():
    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    b = numpy_helper.from_array(np.ones(4, np.float32), "b")
    model = _model(
        [helper.make_node("Gemm", ["x", "w", "b"], ["g"]), helper.make_node("Relu", ["g"], ["r"]),
         helper.make_node("MatMul", ["r", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])],
        [("x", F, [2, 4])], [("y", F, [2, 4])], [w, b])
    assert _fuse(model) == 0
    assert [n.op_type for n in model.graph.node] == ["Gemm", "Relu", "MatMul", "Add"]


def test_lone_cheap_nodes_and_unknown_shapes_stay_the_engines():
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [("x", F, [2])], [("y", F, [2])])
    assert _fuse(model) == 0
    # shapes unknown to ONNX inference: nothing is fused
    model = _model([helper.make_node("Neg", ["x"], ["a"]), helper.make_node("Exp", ["a"], ["y"])],
                   [("x", F, None)], [("y", F, None)])
    assert _fuse(model) == 0


def test_results_of_another_shape_start_a_new_group():
    model = _model(
        [helper.make_node("Neg", ["x"], ["a"]), helper.make_node("Exp", ["a"], ["b"]),
         helper.make_node("Add", ["b", "z"], ["c"]), helper.make_node("Tanh", ["c"], ["y"])],
        [("x", F, [4]), ("z", F, [3, 4])], [("y", F, [3, 4])])
    assert _fuse(model) == 2
    first, second = _fused_nodes(model)
    assert list(first.output) == ["b"] and list(second.input) == ["b", "z"]


def test_the_pass_needs_the_operator_registered():
    model = _model([helper.make_node("Neg", ["x"], ["a"]), helper.make_node("Exp", ["a"], ["y"])],
                   [("x", F, [2])], [("y", F, [2])])
    assert fusion.apply(model, {"Neg", "Exp"}, fusion.TensorInfo.of(model)) == 0


@pytest.mark.parametrize(("name", "folded"), [("residual_conv", {"Add", "Relu"}),
                                              ("batchnorm2d_folded", {"Relu"})])
def test_residual_add_and_relu_fold_into_our_convolution(name, folded, tmp_path):
    outcome = run(name, tmp_path)  # compared with Torch
    assert outcome.ok, outcome.error
    assert "SofiePyTorchConv" in outcome.onnx_ops and not folded & set(outcome.onnx_ops)


def test_tensors_read_by_subgraphs_stay_tensors():
    branch = helper.make_graph([helper.make_node("Identity", ["a"], ["o"])], "b", [],
                               [helper.make_tensor_value_info("o", F, [2])])
    model = _model(
        [helper.make_node("Neg", ["x"], ["a"]), helper.make_node("Exp", ["a"], ["y"]),
         helper.make_node("If", ["c"], ["z"], then_branch=branch, else_branch=branch)],
        [("x", F, [2]), ("c", TensorProto.BOOL, [])], [("y", F, [2]), ("z", F, [2])])
    assert _fuse(model) == 1
    assert "a" in _fused_nodes(model)[0].output


# ---- Element-wise groups applied in a dense layer's epilogue (fold_into_dense)

def test_gelu_and_residual_add_fold_into_the_dense_layers(tmp_path):
    """The coverage case (compared with Torch there, batch size chosen at run time): no
    element-wise node is left, the LayerNorm and both products run on our operators."""
    ops = _traced_ops("prenorm_block", tmp_path)
    assert ops == {"SofiePyTorchLayerNorm", "SofiePyTorchDense"}, ops


def _dense_then(nodes, readers_of_h: int = 1) -> onnx.ModelProto:
    """x (4, 3) . W (3, 5) = h, then `nodes` reading h (and r, of h's shape, or s, a row)."""
    w = numpy_helper.from_array(np.ones((3, 5), dtype=np.float32), "W")
    extra = [helper.make_node("Neg", ["h"], ["z"])] if readers_of_h > 1 else []
    outputs = [("y", F, [4, 5])] + ([("z", F, [4, 5])] if extra else [])
    model = _model([helper.make_node("MatMul", ["x", "W"], ["h"]), *nodes, *extra],
                   [("x", F, [4, 3]), ("r", F, [4, 5]), ("s", F, [1, 5])], outputs, [w])
    from sofie_pytorch.graph import fast_operators

    info = fusion.TensorInfo.of(model)
    assert fast_operators.apply(model, {fast_operators.DENSE_OP}) == 1
    fusion.apply(model, {FUSED}, info)
    return model


def test_a_group_reading_a_dense_result_and_a_tensor_of_its_shape_folds_in():
    model = _dense_then([helper.make_node("Erf", ["h"], ["e"]),
                         helper.make_node("Add", ["e", "r"], ["y"])])
    (node,) = model.graph.node
    assert node.op_type == "SofiePyTorchDense" and list(node.output) == ["y"]
    assert list(node.input) == ["x", "W", "", "r"]  # no bias; then the group's other tensor
    assert [s.decode() for s in _attr(node, "ops")] == ["Erf", "Add"]
    assert _attr(node, "result_input") == 0


@pytest.mark.parametrize(("nodes", "readers"), [
    ([helper.make_node("Add", ["h", "r"], ["y"])], 2),  # h is read elsewhere too
    ([helper.make_node("Add", ["h", "s"], ["y"])], 1),  # s is broadcast along the rows
])
def test_groups_the_epilogue_cannot_take_stay_element_wise_nodes(nodes, readers):
    model = _dense_then(nodes, readers)
    dense, *rest = model.graph.node
    assert dense.op_type == "SofiePyTorchDense" and list(dense.output) == ["h"]
    assert not any(a.name == "ops" for a in dense.attribute)
    assert "y" in {o for n in rest for o in n.output}
