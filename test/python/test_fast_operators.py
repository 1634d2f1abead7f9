"""The project's own LSTM, GRU, Conv, Dense and LayerNorm operators (src/operators/,
fast_operators.py).

Their numbers are checked against Torch by every recurrent and convolution case of the
coverage suite; here: which nodes they take and which they leave to the engine, the code
they generate under the flags users compile with (including -ffast-math), and the weight
file they leave behind.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
import torch
from compiled import compile_and_run, compile_and_run_many
from conformance import compare, run, save
from coverage import CASES
from isa_levels import FLAG_IDS, FLAG_SETS, flag_id, flag_sets
from onnx import TensorProto, helper, numpy_helper
from sofie_pytorch.graph import fast_operators

OURS = set(fast_operators.OURS)

# Recurrent cases whose every RNN/LSTM/GRU node runs on our operators (reverse and
# bidirectional layers are split into forward ones first, rewrites/recurrent.py).
TAKEN = ["lstm", "gru", "lstm_two_layers", "lstm_bidirectional", "lstm_last_step_head",
         "gru_hidden_head", "lstm_batch_8_initial_state", "gru_batch_8_initial_state",
         "lstm_no_bias", "gru_no_bias", "lstm_dynamic_batch", "gru_dynamic_batch_last_step",
         "lstm_bidirectional_dynamic_batch", "gru_bidirectional_two_layers",
         "rnn_bidirectional_scripted_batch3", "rnn_relu_two_layers_scripted"]


@pytest.mark.parametrize("name", TAKEN)
def test_recurrent_layers_run_on_our_operators(name, tmp_path):
    outcome = run(name, tmp_path)
    assert outcome.ok, outcome.error
    assert OURS & set(outcome.onnx_ops), outcome.onnx_ops
    assert not {"LSTM", "GRU", "RNN"} & set(outcome.onnx_ops), outcome.onnx_ops


# Convolution cases whose every Conv node runs on our operator.
CONVOLUTIONS = ["conv1d", "conv1d_dynamic_batch", "conv2d_same", "conv2d_stride_pad_nobias",
                "conv2d_batch_10", "conv2d_same_even_kernel", "batchnorm2d_folded", "residual_conv",
                "conv2d_depthwise"]


@pytest.mark.parametrize("name", CONVOLUTIONS)
def test_convolutions_run_on_our_operator(name, tmp_path):
    outcome = run(name, tmp_path)
    assert outcome.ok, outcome.error
    assert fast_operators.CONV_OP in outcome.onnx_ops and "Conv" not in outcome.onnx_ops


@pytest.mark.parametrize(("name", "engine_op", "ours"), [
    ("conv2d_groups", "Conv", fast_operators.CONV_OP),
    ("conv1d_dilation_nobias", "Conv", fast_operators.CONV_OP),
    ("conv3d", "Conv", fast_operators.CONV_OP),
])
def test_other_settings_stay_on_the_engine(name, engine_op, ours, tmp_path):
    outcome = run(name, tmp_path)
    assert outcome.ok, outcome.error
    assert engine_op in outcome.onnx_ops and ours not in outcome.onnx_ops


def _generate(name: str, directory) -> tuple[str, list[torch.Tensor], list[np.ndarray]]:
    import sofie_pytorch

    path, inputs, expected = save(name, directory)
    model = sofie_pytorch.parse(path, input_shapes=[list(s) for s in CASES[name].shapes])
    model.Generate()
    code_name = str(model.GetName())
    model.OutputGenerated(str(directory / f"{code_name}.hxx"))
    return code_name, inputs, expected


# Coverage cases on our recurrent, convolution, dense and LayerNorm operators (widths 6 and
# 20: LayerNorm's 16 lanes, whole and with a tail), compiled together at
# every instruction-set level of isa_levels (and under -ffast-math): the activations are
# written to vectorise and -ffast-math must not break their rounding; the packed GEMM and
# the convolutions take their tiles by vector width (4, 8 or 16 floats).
COMMON_FLAG_CASES = ["lstm_last_step_head", "gru_batch_8_initial_state",
                     "conv2d_stride_pad_nobias", "residual_conv", "dense_mixed_shapes",
                     "layernorm", "layernorm_no_affine"]


@pytest.fixture(scope="module")
def common_flag_cases(tmp_path_factory):
    directory = tmp_path_factory.mktemp("common_flags")
    cases = {}
    for name in COMMON_FLAG_CASES:
        code_name, inputs, expected = _generate(name, directory)
        assert "SofiePyTorch" in (directory / f"{code_name}.hxx").read_text()
        cases[code_name] = ([x.numpy() for x in inputs], expected)
    return directory, cases


@pytest.mark.parametrize("flags", FLAG_SETS, ids=FLAG_IDS)
def test_generated_code_matches_torch_under_common_flags(common_flag_cases, flags):
    directory, cases = common_flag_cases
    got = compile_and_run_many(directory, {n: inputs for n, (inputs, _) in cases.items()},
                               flags=flags)  # one program per flag set
    for name, (_, expected) in cases.items():
        assert not isinstance(got[name], str), got[name]
        compare(got[name], expected)  # rtol 1e-4, atol 1e-5


class _WideThenNarrowConv(torch.nn.Module):
    """Two stride-1 convolutions on odd sizes: 72 output channels (Conv.cxx's packed GEMM
    on a padded NHWC copy), then 5 (ConvPlanes, vectorised along the 35 pixels: partial
    vectors and a partial group of output channels), + the first's output sliced, ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.wide = torch.nn.Conv2d(3, 72, 3, padding=1)
        self.narrow = torch.nn.Conv2d(72, 5, (3, 2), padding=(1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.wide(x))
        return torch.relu(self.narrow(y)[..., :7] + y[:, :5])


# One flag set per code path of the generated convolutions and products: SSE (x86-64-v2, at
# -O2), AVX2 + FMA (v3) and AVX-512 (v4, where this machine runs it).
TARGETS = flag_sets("-O2", fast_math=False)[:1] + flag_sets(fast_math=False)[1:]


@pytest.mark.parametrize("flags", TARGETS, ids=[flag_id(f) for f in TARGETS])
def test_both_convolution_kernels_match_torch_on_each_target(flags, tmp_path):
    import sofie_pytorch

    torch.manual_seed(0)
    # With a kernel wider than the image, padded unevenly ('same', kernel 4 on 1 column):
    # kernel columns that read only padding. "deep": 120 channels x 9 taps, more k than the
    # GEMM walks unblocked (PackedGemm.cxx kBlockAbove), on a 3x5 image whose 15 output rows
    # the GEMM reads in groups of 5 from the 7-wide padded image (PackedGemmCall::rowGroup),
    # in full tiles and a remainder on every target.
    modules = {"wide_narrow": (_WideThenNarrowConv().eval(), torch.randn(2, 3, 5, 7)),
               "wide_kernel": (torch.nn.Conv1d(2, 3, 4, padding="same").eval(),
                               torch.randn(2, 2, 1)),
               "deep": (torch.nn.Sequential(torch.nn.Conv2d(120, 72, 3, padding=1),
                                            torch.nn.ReLU()).eval(), torch.randn(2, 120, 3, 5))}
    inputs, expected = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note on 'same' with an even kernel
        for name, (module, x) in modules.items():
            torch.jit.save(torch.jit.script(module), str(tmp_path / f"{name}.pt"))
            model = sofie_pytorch.parse(tmp_path / f"{name}.pt", input_shapes=[list(x.shape)])
            model.Generate()
            model.OutputGenerated(str(tmp_path / f"{name}.hxx"))
            inputs[name] = [x.numpy()]
            with torch.no_grad():
                expected[name] = [module(x).numpy()]
    code = (tmp_path / "wide_narrow.hxx").read_text()
    assert "PackedGemm" in code and "ConvPlanes" in code
    assert "ConvPlanes" in (tmp_path / "wide_kernel.hxx").read_text()
    deep = (tmp_path / "deep.hxx").read_text()
    assert "C (m x 72) = A (m x 1080)" in deep and "/ 5 * 7 +" in deep
    got = compile_and_run_many(tmp_path, inputs, flags=flags)
    for name in modules:
        assert not isinstance(got[name], str), got[name]
        compare(got[name], expected[name])


class _Sequence(torch.nn.Module):
    """A recurrent layer's full output sequence (batch first)."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)[0]


@pytest.fixture(scope="module")
def run_time_batch_models(tmp_path_factory):
    """An LSTM, a GRU, an RNN (hidden 20) and a 4-70-50-3 MLP, batch chosen at run time."""
    import sofie_pytorch

    directory = tmp_path_factory.mktemp("run_time_batch")
    torch.manual_seed(0)
    layers = {"lstm20": torch.nn.LSTM(4, 20, batch_first=True),
              "gru20": torch.nn.GRU(4, 20, batch_first=True),
              "rnn20": torch.nn.RNN(4, 20, batch_first=True)}
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 70), torch.nn.ReLU(), torch.nn.Linear(70, 50),
                              torch.nn.ReLU(), torch.nn.Linear(50, 3))
    modules = {name: _Sequence(layer) for name, layer in layers.items()} | {"mlp70": mlp}
    x = torch.randn(13, 5, 4)
    inputs, expected = {}, {}
    for name, module in modules.items():
        module.eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on the layers' shape checks
            torch.jit.save(torch.jit.script(module), str(directory / f"{name}.pt"))
        model = sofie_pytorch.parse(directory / f"{name}.pt", input_shapes=[[-1, 5, 4]])
        model.Generate()
        model.OutputGenerated(str(directory / f"{name}.hxx"))
        assert "PackedGemm" in (directory / f"{name}.hxx").read_text()
        inputs[name] = [x.numpy()]
        with torch.no_grad():
            expected[name] = [module(x).numpy()]
    return directory, inputs, expected


# The tile code is chosen by the preprocessor (__AVX512F__, __AVX__): -O1 takes the same
# paths as -O3 at a third of the compile time of these four recurrent and dense models.
TILE_PATHS = flag_sets("-O1", fast_math=False)


@pytest.mark.parametrize("flags", TILE_PATHS, ids=[flag_id(f) for f in TILE_PATHS])
def test_run_time_batch_past_the_packed_products_blocks(run_time_batch_models, flags):
    # The packed products (PackedGemm) take rows in register blocks (6 with AVX-512) and
    # columns in panels of up to 64, in chunks of 16 floats: a batch of 13 chosen at run
    # time and hidden 20 (G*H of 80, 60 and 20) leave a partial row block, a partial panel
    # and partial or skipped chunks, at every vector width; so do the MLP's 65 rows (13 x 5)
    # and widths of 70 (64 + 6) and 50 (the last chunk's 2 columns), with ReLU folded in.
    directory, inputs, expected = run_time_batch_models
    got = compile_and_run_many(directory, inputs, runtime_sizes=[13], flags=flags)
    for name in inputs:
        assert not isinstance(got[name], str), got[name]
        compare(got[name], expected[name])


def test_saturated_gates_match_torch(tmp_path):
    # Inputs far outside the activations' polynomial range: the clamps must hold.
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, batch_first=True).eval()
    x = torch.randn(2, 6, 3) * 200.0
    x[0, 0, 0] = 1e30
    path = tmp_path / "saturated.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on nn.LSTM's shape checks
        torch.jit.save(torch.jit.trace(lstm, (x,)), str(path))
    import sofie_pytorch

    model = sofie_pytorch.parse(path, input_shapes=[[2, 6, 3]])
    model.Generate()
    model.OutputGenerated(str(tmp_path / "saturated.hxx"))
    with torch.no_grad():
        expected = [o.numpy() for o in (lambda y, s: (y, s[0], s[1]))(*lstm(x))]
    got = compile_and_run(tmp_path, "saturated", [x.numpy()])
    compare(got, expected)


def test_weight_file_holds_each_weight_once(tmp_path):
    # The engine's LSTM writes its bias once per time step and batch entry; ours once.
    code_name, _, _ = _generate("lstm_batch_8_initial_state", tmp_path)
    lstm = CASES["lstm_batch_8_initial_state"].build().layers[0]
    parameters = sum(p.numel() for p in lstm.parameters())
    weights = (tmp_path / f"{code_name}.dat").read_bytes()
    assert len(weights) < 4 * parameters * 1.5 + 4096, (len(weights), parameters)


# ---- The pass itself, on hand-made ONNX graphs


def _lstm_graph(**attributes: object) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    hidden, features = 3, 2
    inits = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
             for name, shape in (("W", (1, 4 * hidden, features)), ("R", (1, 4 * hidden, hidden)),
                                 ("B", (1, 8 * hidden)))]
    node = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h"], name="lstm",
                            hidden_size=hidden, **attributes)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [5, 1, features])],
        [helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [1, 1, hidden])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_pass_lays_out_the_weights_and_drops_the_originals():
    model = _lstm_graph()
    w, r, b = (numpy_helper.to_array(t) for t in model.graph.initializer)
    assert fast_operators.apply(model, OURS) == 1
    node = model.graph.node[0]
    assert node.op_type == fast_operators.LSTM_OP
    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert set(values) == set(node.input[1:4])  # W, R and B are gone
    np.testing.assert_array_equal(values[node.input[1]], w[0].T)
    np.testing.assert_array_equal(values[node.input[2]], r[0].T)
    np.testing.assert_allclose(values[node.input[3]], b[0, :12] + b[0, 12:])


@pytest.mark.parametrize("attributes", [
    {"clip": 1.0}, {"direction": "reverse"}, {"input_forget": 1},
    {"activations": ["Sigmoid", "Relu", "Tanh"]}])
def test_pass_leaves_other_settings_to_the_engine(attributes):
    model = _lstm_graph(**attributes)
    assert fast_operators.apply(model, OURS) == 0
    assert model.graph.node[0].op_type == "LSTM"
    assert len(model.graph.initializer) == 3


def test_pass_needs_the_operators_registered():
    model = _lstm_graph()
    assert fast_operators.apply(model, {"LSTM"}) == 0
    assert model.graph.node[0].op_type == "LSTM"


# ---- Dense layers (dense_layers.py, src/operators/Dense.cxx): the coverage suite checks
# their numbers; here, which nodes they take (traced only, nothing compiled).

DENSE = {"linear_bias": 1, "linear_no_bias": 1, "linear_3d": 1, "matmul_weight": 1,
         "dense_mixed_shapes": 3, "flatten": 1}


@pytest.mark.parametrize("name", sorted(DENSE))
def test_dense_layers_run_on_our_operator(name, tmp_path):
    import ROOT
    from sofie_pytorch import tracing

    path, _, _ = save(name, tmp_path)
    supported = [str(s) for s in ROOT.SOFIE.PyTorch.SupportedOnnxOperators()]
    shapes = [list(s) for s in CASES[name].shapes]
    graph = tracing.trace(str(path), shapes, None, supported).graph.graph
    ops = [n.op_type for n in graph.node]
    assert ops.count(fast_operators.DENSE_OP) == DENSE[name], ops
    assert not {"Gemm", "MatMul", "Add", "Relu"} & set(ops), ops  # bias Add and Relu folded in


def _dense_graph(op: str, w_shape: tuple[int, ...], x_shape: list[int], extra_inputs=(),
                 relu_readers: int = 1, **attributes: object) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(w_shape).astype(np.float32), "W")]
    inits += [numpy_helper.from_array(v.astype(np.float32), name) for name, v in extra_inputs]
    inputs = ["X", "W", *(name for name, _ in extra_inputs)]
    nodes = [helper.make_node(op, inputs, ["H"], **attributes),
             helper.make_node("Relu", ["H"], ["Y"])]
    outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)]
    if relu_readers > 1:  # H is read twice: the Relu must stay a node of its own
        nodes.append(helper.make_node("Neg", ["H"], ["Z"]))
        outputs.append(helper.make_tensor_value_info("Z", TensorProto.FLOAT, None))
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)
    graph = helper.make_graph(nodes, "g", [x], outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_dense_pass_keeps_a_transposed_b_by_name_and_folds_the_relu():
    """torch's Linear weight (N x K, transB) stays as it is under its own name, as ROOT
    users look it up (``0weight``); the operator reads it transposed when packing."""
    from sofie_pytorch.graph import fusion

    model = _dense_graph("Gemm", (5, 3), [4, 3], [("C", np.ones((1, 5)))], transB=1)
    w = numpy_helper.to_array(model.graph.initializer[0])
    info = fusion.TensorInfo.of(model)
    assert fast_operators.apply(model, OURS) == 1
    assert fusion.fold_epilogues(model, info) == 1
    (node,) = model.graph.node
    assert node.op_type == fast_operators.DENSE_OP and list(node.output) == ["Y"]
    assert sorted((a.name, a.i) for a in node.attribute) == [("relu", 1), ("transB", 1)]
    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert node.input[1] == "W"
    np.testing.assert_array_equal(values["W"], w)


@pytest.mark.parametrize(("op", "w_shape", "x_shape", "extra", "attributes"), [
    ("Gemm", (3, 5), [4, 3], [], {"transA": 1}),
    ("Gemm", (3, 5), [4, 3], [], {"alpha": 2.0}),
    ("Gemm", (3, 5), [4, 3], [("C", np.ones((4, 5)))], {}),  # a full C matrix
    ("Gemm", (3, 5), [4, 3], [("C", np.ones(5))], {"beta": 0.5}),
    ("MatMul", (2, 3, 5), [2, 4, 3], [], {}),  # batched weights
    ("MatMul", (3, 5), [4, 2], [], {}),  # K does not match
])
def test_dense_pass_leaves_other_products_to_the_engine(op, w_shape, x_shape, extra, attributes):
    model = _dense_graph(op, w_shape, x_shape, extra, **attributes)
    assert fast_operators.apply(model, OURS) == 0
    assert model.graph.node[0].op_type == op


def test_relu_read_elsewhere_is_not_folded():
    from sofie_pytorch.graph import fusion

    model = _dense_graph("MatMul", (3, 5), ["n", 3], relu_readers=2)
    info = fusion.TensorInfo.of(model)
    assert fast_operators.apply(model, OURS) == 1
    assert fusion.fold_epilogues(model, info) == 0
    assert [n.op_type for n in model.graph.node] == [fast_operators.DENSE_OP, "Relu", "Neg"]


# ---- LayerNorm (layer_norm.py, src/operators/LayerNorm.cxx): the coverage suite checks its
# numbers (layernorm, layernorm_no_affine, layernorm_dynamic_batch, prenorm_block,
# transformer cases); here, which nodes it takes (traced only, nothing compiled).

@pytest.mark.parametrize(("name", "ours"), [
    ("layernorm", True), ("layernorm_no_affine", True), ("layernorm_dynamic_batch", True),
    ("layernorm_2d", False),  # normalised over two axes: the engine's
])
def test_layer_norm_over_the_last_axis_runs_on_our_operator(name, ours, tmp_path):
    import ROOT
    from sofie_pytorch import tracing

    path, _, _ = save(name, tmp_path)
    supported = [str(s) for s in ROOT.SOFIE.PyTorch.SupportedOnnxOperators()]
    shapes = [list(s) for s in CASES[name].shapes]
    if CASES[name].extra.get("dynamic_axis") is not None:
        shapes[0][CASES[name].extra["dynamic_axis"]] = -1
    ops = [n.op_type for n in tracing.trace(str(path), shapes, None, supported).graph.graph.node]
    assert (fast_operators.LAYER_NORM_OP in ops) == ours, ops
    assert ("LayerNormalization" in ops) != ours, ops
