"""Index and size computations built from the batch size, at a batch size chosen at run
time: the two patterns of weaver's ParT (test_weaver_models.py runs ParT itself), each in
a small model converted once with dynamic_batch, compiled (g++ -O1), run at batch 1 and 4
and compared with Torch (rtol 1e-4, atol 1e-5).

- rewrites/scatter.py: ``y[:, :, i, j] = e`` on zeros of the run-time batch size (the pair
  embedding's lower then upper triangle) is a ScatterND whose indices are built from
  x.size(0); it becomes a constant Gather + Where, and no ScatterND reaches the engine.
- rewrites/folding.py: ``q.size(-1)`` taken as a Slice of a Shape whose leading sizes are
  unknown (after an Expand to the run-time batch size), used to slice a bias (torch's
  packed in-projection): folded, or the engine refuses the Gemm's bias at Generate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sofie_pytorch
import torch
import torch.nn.functional as F
from compiled import compile_and_run_many
from onnx import TensorProto, helper, numpy_helper
from sofie_pytorch.graph.rewrites.folding import fold
from torch import nn

RTOL, ATOL = 1e-4, 1e-5
BATCHES = (1, 4)


class PairScatter(nn.Module):
    """ParT's PairEmbed (for_inference): features of the lower-triangle pairs, embedded,
    written symmetrically into a (batch, channels, n, n) matrix of zeros."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Conv1d(4, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, n = x.size()
        i, j = torch.ones(n, n).tril(-1).nonzero().T  # weaver's tril_indices
        elements = self.embed(torch.cat([x[:, :, i] - x[:, :, j], x[:, :, i] * x[:, :, j]], 1))
        y = elements.new_zeros(batch, 3, n, n)
        y[:, :, i, j] = elements
        y[:, :, j, i] = elements
        return y.sum(1) + 0.5 * y[:, 0]


class ClassAttentionProjection(nn.Module):
    """ParT's class attention: a class token expanded to the batch size, projected with
    torch's packed in-projection (which slices the packed bias at q.size(-1))."""

    def __init__(self) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.randn(1, 1, 6))
        self.weight = nn.Parameter(torch.randn(18, 6))
        self.bias = nn.Parameter(torch.randn(18))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        token = self.token.expand(x.size(0), -1, -1)
        query, key, value = F._in_projection_packed(token, x, x, self.weight, self.bias)
        return (query * key).sum(-1) + value.sum(-1)


def _convert_and_run(module: nn.Module, shape: tuple[int, ...],
                     directory: Path) -> sofie_pytorch.Conversion:
    """Converted once at a run-time batch size; batch 1 and 4 compared with Torch."""
    torch.manual_seed(7)
    module = module.eval()
    inputs = {b: torch.randn(b, *shape) for b in BATCHES}
    result = sofie_pytorch.convert(module, directory, example_inputs=inputs[BATCHES[-1]],
                                   dynamic_batch=True)
    name = result.name
    runs = {f"{name}@{b}": [x.numpy()] for b, x in inputs.items()}
    got = compile_and_run_many(directory, runs, {key: [int(key.split("@")[1])] for key in runs})
    for b, x in inputs.items():
        with torch.no_grad():
            want = module(x).numpy()
        out = got[f"{name}@{b}"]
        assert not isinstance(out, str), out
        np.testing.assert_allclose(out[0].reshape(want.shape), want, rtol=RTOL, atol=ATOL)
    return result


def test_pair_scatter_at_run_time_batch_matches_torch(tmp_path):
    result = _convert_and_run(PairScatter(), (2, 5), tmp_path)
    code = result.header.read_text()
    # (the engine's code for an operator starts with a comment naming it)
    assert "ScatterND op" not in code and "Gather op" in code


def test_class_attention_bias_slice_at_run_time_batch_matches_torch(tmp_path):
    _convert_and_run(ClassAttentionProjection(), (3, 6), tmp_path)


def test_slice_of_a_shape_folds_only_its_fixed_dimensions():
    """x.shape[-1:] of an (N, M, 64) tensor is [64]; x.shape[:1] stays computed."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "M", 64])
    slices = {"last": (-1, 2**63 - 1), "first": (0, 1)}
    nodes = [helper.make_node("Shape", ["x"], ["shape"])]
    nodes += [helper.make_node("Slice", ["shape", f"{name}_start", f"{name}_end"], [name])
              for name in slices]
    outputs = [helper.make_tensor_value_info(name, TensorProto.INT64, [1]) for name in slices]
    inits = [numpy_helper.from_array(np.array([v], np.int64), f"{name}_{kind}")
             for name, bounds in slices.items() for kind, v in zip(("start", "end"), bounds)]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], outputs, inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    fold(model)
    folded = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert folded["last"].tolist() == [64]
    assert "first" not in folded
    assert [n.op_type for n in model.graph.node] == ["Shape", "Slice"]


@pytest.mark.parametrize("module", [PairScatter, ClassAttentionProjection])
def test_fixed_batch_conversion_is_unchanged(module, tmp_path):
    """At a batch size fixed when converting, the indices are constants, left to the
    engine as before (the rewrite takes only indices computed at run time)."""
    torch.manual_seed(7)
    model = module().eval()
    x = torch.randn(2, *((2, 5) if module is PairScatter else (3, 6)))
    result = sofie_pytorch.convert(model, tmp_path, example_inputs=x)
    got = compile_and_run_many(tmp_path, {result.name: [x.numpy()]})[result.name]
    assert not isinstance(got, str), got
    with torch.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(got[0].reshape(want.shape), want, rtol=RTOL, atol=ATOL)
    if module is PairScatter:
        assert "ScatterND op" in result.header.read_text()
