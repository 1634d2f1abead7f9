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
from compiled import compile_and_run, compile_and_run_many
from conformance import ATOL, RTOL, compare, run, save
from coverage import CASES
from isa_levels import FLAG_IDS, FLAG_SETS, flag_id, flag_sets
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


@pytest.mark.parametrize("flags", FLAG_SETS, ids=FLAG_IDS)
def test_broadcasting_where_casts_and_constants_match_torch(mixed, flags):
    directory, inputs, expected, _ = mixed
    got = compile_and_run(directory, "mixed", [x.numpy() for x in inputs], flags=flags)
    compare(got, expected)


def test_the_mixed_graph_is_one_loop_without_intermediate_buffers(mixed):
    _, _, _, code = mixed
    assert code.count("SofiePyTorch Elementwise:") == 1, code
    # only the two outputs are tensors the fused loop writes
    assert code.count("] = sp_v") == 2


# ---- Every activation at the ends of its range, at every instruction-set level
#
# Torch's functions as our generated code computes them (GeneratedMath.cxx; Elementwise.cxx
# fuses their ONNX decompositions; the dense layer applies them in its epilogue), on every
# 2^16-th float of either sign, a fine grid where they bend, and the special values; at
# every level of isa_levels, under -ffast-math too (finite inputs only: it assumes no inf or
# NaN). A saturation that leaks into a function whose result is not saturated
# (logsigmoid(-100) = -100), or a reciprocal that -ffast-math approximates on one vector
# width only (mish(-1e9) = -59.6 on AVX2), fails here whatever the host.

FLT_MAX = float(np.finfo(np.float32).max)

ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softplus": nn.functional.softplus,
    "mish": nn.functional.mish,
    "silu": nn.functional.silu,
    "gelu": nn.functional.gelu,
    "gelu_tanh": lambda x: nn.functional.gelu(x, approximate="tanh"),
    "elu": nn.functional.elu,
    "selu": nn.functional.selu,
    "celu": lambda x: nn.functional.celu(x, 0.7),
    "logsigmoid": nn.functional.logsigmoid,
    "erf": torch.erf,
    "exp": torch.exp,
    # compositions that once went wrong under -ffast-math on AVX2 only
    "gelu_plus_mish": lambda x: nn.functional.gelu(x) + nn.functional.mish(x),
    "silu_times_gelu_tanh": lambda x: (nn.functional.silu(x)
                                       * nn.functional.gelu(x, approximate="tanh")),
}
# Where Torch's own ONNX decomposition, which the fused code evaluates as it is, overflows
# and Torch's eager kernel does not: x / 0.7 beyond 0.7 FLT_MAX (CELU), x (1 + erf(...))
# beyond FLT_MAX/2 (GELU; and at +inf Torch's kernel gives NaN). Compared up to these |x|
# (exact below). GELU's tanh form is recognised whole (sp_gelu_tanh): no limit.
LIMITS = {"celu": 0.7 * FLT_MAX, "gelu": FLT_MAX / 2}


class _Activations(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(f(x) for f in ACTIVATIONS.values())


class _DenseEpilogues(nn.Module):
    """Linear layers whose outputs reach +-1e8, then activations the dense layer applies in
    its epilogue (fold_into_dense)."""

    def __init__(self) -> None:
        super().__init__()
        self.first, self.second = nn.Linear(4, 40), nn.Linear(4, 24)
        with torch.no_grad():
            self.first.weight.mul_(1e6)
            self.second.weight.mul_(1e6)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.second(x)
        return (nn.functional.mish(self.first(x)),
                nn.functional.logsigmoid(h) + torch.sigmoid(h) * torch.tanh(h))


class _MaskedSoftmax(nn.Module):
    """Attention-style masks: -1e9 and -inf, a row masked whole."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        masked = mask > 0.5
        return (torch.softmax(x.masked_fill(masked, -1e9), -1),
                torch.log_softmax(x.masked_fill(masked, -1e9), -1),
                torch.softmax(x.masked_fill(masked, float("-inf")), -1),
                torch.log_softmax(x.masked_fill(masked, float("-inf")), -1))


def _whole_float_range() -> np.ndarray:
    special = [0.0, -0.0, float("inf"), float("-inf"), float("nan"), FLT_MAX, 1e30, 1e9, 1e8,
               1e5, 103.0, 100.0, 89.0, 88.7, 87.4, 87.3, 20.0, 1e-30, 1e-40]
    special += [-v for v in special[5:]]
    every = np.arange(0, 0x7F800000, 1 << 16, dtype=np.uint32).view(np.float32)
    return np.concatenate([np.array(special, np.float32), np.linspace(-120, 120, 24001),
                           every, -every]).astype(np.float32)


@pytest.fixture(scope="module")
def range_models(tmp_path_factory):
    """The three models converted once: directory, inputs, Torch's outputs in float32 and
    float64 (the exact value, where float32 Torch overflows inside its own kernel)."""
    directory = tmp_path_factory.mktemp("range")
    torch.manual_seed(4)
    x = torch.from_numpy(_whole_float_range()).reshape(1, -1)
    rows = torch.linspace(-120.0, 120.0, 63 * 4).reshape(63, 4)
    scores, mask = torch.randn(6, 9), (torch.rand(6, 9) > 0.5).float()
    mask[0] = 1.0  # every entry masked: uniform (-1e9) or NaN (-inf), as in Torch
    mask[1, :] = 0.0
    models = {"activations": (_Activations(), [x]), "epilogues": (_DenseEpilogues(), [rows]),
              "softmax": (_MaskedSoftmax(), [scores, mask])}
    inputs, expected = {}, {}
    for name, (module, args) in models.items():
        module.eval()
        code = _convert(module, args, directory, name)
        inputs[name] = [a.numpy() for a in args]
        with torch.no_grad():
            single = module(*args)
            double = module.double()(*(a.double() for a in args))
        expected[name] = [(a.numpy(), b.numpy()) for a, b in zip(single, double)]
        if name == "epilogues":
            assert code.count("SofiePyTorch Dense") == 2 and "Elementwise:" not in code
    return directory, inputs, expected


def _assert_close(name: str, got: np.ndarray, want32: np.ndarray, want64: np.ndarray,
                  x: np.ndarray, fast_math: bool) -> None:
    with np.errstate(over="ignore"):  # float64 Torch beyond FLT_MAX: inf, as in float32
        got, want64 = got.reshape(want32.shape), want64.astype(np.float32).astype(np.float64)
    close = [np.isclose(got, w.astype(np.float64), rtol=RTOL, atol=ATOL, equal_nan=True)
             for w in (want32, want64)]
    checked = np.abs(x) <= LIMITS.get(name, np.inf)
    if fast_math:
        checked &= np.abs(x) <= FLT_MAX
    bad = ~(close[0] | close[1]) & np.broadcast_to(checked, got.shape)
    where = np.nonzero(bad.reshape(-1))[0][:5]
    assert not bad.any(), (f"{name}: {int(bad.sum())} of {got.size} wrong, e.g. x = "
                           f"{np.broadcast_to(x, got.shape).reshape(-1)[where]}: "
                           f"{got.reshape(-1)[where]}, Torch {want32.reshape(-1)[where]}")


# and at -O2 (g++ 12 vectorises little there: the scalar forms)
RANGE_FLAGS = FLAG_SETS + flag_sets("-O2", fast_math=False)[:1]


@pytest.mark.parametrize("flags", RANGE_FLAGS, ids=[flag_id(f) for f in RANGE_FLAGS])
def test_activations_match_torch_over_the_whole_float_range(range_models, flags):
    directory, inputs, expected = range_models
    fast_math = "-ffast-math" in flags
    got = compile_and_run_many(directory, inputs, flags=flags)  # one program for the three
    assert not any(isinstance(g, str) for g in got.values()), got
    (x,) = inputs["activations"]
    for name, g, (w32, w64) in zip(ACTIVATIONS, got["activations"], expected["activations"]):
        _assert_close(name, g, w32, w64, x, fast_math)
    if not fast_math:  # the generated erf, tighter than the suite's tolerance
        erf = got["activations"][list(ACTIVATIONS).index("erf")]
        want = torch.erf(torch.from_numpy(x).double()).numpy().reshape(-1)
        finite = ~np.isnan(want)
        assert np.abs(erf[finite] - want[finite]).max() < 2e-7
    for k, (g, (w32, w64)) in enumerate(zip(got["epilogues"], expected["epilogues"])):
        _assert_close(f"epilogue {k}", g, w32, w64, np.zeros((1, 1)), fast_math)
    # The engine's Softmax and LogSoftmax. -inf masks are outside -ffast-math's contract (no
    # infinities); so is, in effect, the engine's log-softmax of a row masked whole with
    # -1e9: it writes x - max - log(sum), which -ffast-math may reassociate into
    # x - (max + log(sum)) = -1e9 - (-1e9) = 0 (Torch: log(1/9)). Not our code to change.
    softmax = list(zip(got["softmax"], expected["softmax"]))
    for k, (g, (w32, w64)) in enumerate(softmax[:2] if fast_math else softmax):
        rows = slice(1 if fast_math and k == 1 else 0, None)
        g = g.reshape(w32.shape)[rows]
        _assert_close(f"softmax {k}", g, w32[rows], w64[rows], np.zeros((1, 1)), fast_math)


def test_logsigmoid_and_gelu_tanh_are_recognised_whole(range_models):
    """log(sigmoid(x)) becomes one function (Elementwise.cxx), not the log of a clamped
    sigmoid: logsigmoid(-100) = -100 (was -88); GELU's tanh form one function too (its x^3
    overflowed, and -ffast-math made silu(x) * gelu_tanh(x) NaN at -1e30)."""
    directory, _, _ = range_models
    code = (directory / "activations.hxx").read_text()
    assert "sp_logsigmoid(" in code and "std::log(sp_v" not in code
    assert "= sp_gelu_tanh(sp_v0);" in code

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
