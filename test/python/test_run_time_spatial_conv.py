"""Convolutions over a spatial size chosen at run time (``-1`` for a length, a height or a
width), with the Session made once for the largest size and run at smaller ones, as the
scoring library does with ``max_particles``.

The engine's Conv spread its bias over the output plane of the size the Session was made
with and read it back as a plane of the run-time size: silently wrong below the maximum
(rewrites/fusion.py now adds the bias after the Conv). Every case is converted once,
compiled into one program (g++ -O1) and run at length 1, a middle one and the maximum,
against Torch (rtol 1e-4, atol 1e-5): with and without a bias, stride, padding,
dilation, groups, depthwise, few and many channels, a ReLU after it, a bias computed
from an input (its generated code did not compile before), 1-D, 2-D (one or both sizes)
and 3-D. (Our own convolution operators take fixed spatial sizes only, so
every case runs on the engine's Conv.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import sofie_pytorch
import torch
import torch.nn.functional as F
from compiled import compile_and_run_many
from onnx import TensorProto, helper, numpy_helper
from sofie_pytorch.errors import UnsupportedOperatorError
from sofie_pytorch.graph import rewrites
from torch import nn

RTOL, ATOL = 1e-4, 1e-5


def _named(name: str, *layers: nn.Module) -> nn.Module:
    """A Sequential whose class name (the generated code's name) is the case's."""
    return type(name, (nn.Sequential,), {})(*layers).eval()


class BiasFromInput(nn.Module):
    """A bias computed in the graph (from a second input), not a constant."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(8, 3, 3))

    def forward(self, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.weight, b * 2 + 1, padding=1)


# name -> (model, input shape with -1 for the run-time sizes, the run-time sizes of each
# run; the last is the largest, which the Session is made with)
_LENGTHS_1D = [[1], [6], [11]]
_SIZES_2D = [[1], [4], [7]]
CASES: dict[str, tuple[Callable[[], nn.Module], list[int], list[list[int]]]] = {
    "PointwiseBias": (lambda: _named("PointwiseBias", nn.Conv1d(3, 8, 1)),
                      [1, 3, -1], _LENGTHS_1D),
    "PointwiseNoBias": (lambda: _named("PointwiseNoBias", nn.Conv1d(3, 8, 1, bias=False)),
                        [1, 3, -1], _LENGTHS_1D),
    "StridePadding": (lambda: _named("StridePadding", nn.Conv1d(4, 6, 3, stride=2, padding=1)),
                      [1, 4, -1], _LENGTHS_1D),
    "Dilated": (lambda: _named("Dilated", nn.Conv1d(4, 5, 3, padding=2, dilation=2)),
                [1, 4, -1], _LENGTHS_1D),
    "Grouped": (lambda: _named("Grouped", nn.Conv1d(4, 6, 3, padding=1, groups=2)),
                [1, 4, -1], _LENGTHS_1D),
    "Depthwise": (lambda: _named("Depthwise", nn.Conv1d(5, 5, 3, padding=1, groups=5)),
                  [1, 5, -1], _LENGTHS_1D),
    "ManyChannelsRelu": (lambda: _named("ManyChannelsRelu", nn.Conv1d(64, 96, 3, padding=1),
                                        nn.ReLU()),
                         [1, 64, -1], _LENGTHS_1D),
    "RunTimeBatchAndLength": (lambda: _named("RunTimeBatchAndLength", nn.Conv1d(3, 7, 1)),
                              [-1, 3, -1], [[1, 1], [2, 6], [3, 11]]),
    "Width2d": (lambda: _named("Width2d", nn.Conv2d(3, 8, 3, padding=1)),
                [1, 3, 4, -1], _SIZES_2D),
    "HeightWidth2d": (lambda: _named("HeightWidth2d", nn.Conv2d(3, 6, 3, stride=2, padding=1)),
                      [1, 3, -1, -1], [[1, 1], [4, 6], [7, 9]]),
    "ManyChannels2dNoBias": (lambda: _named("ManyChannels2dNoBias",
                                            nn.Conv2d(48, 64, 3, padding=1, bias=False)),
                             [1, 48, 5, -1], _SIZES_2D),
    "Grouped2dRelu": (lambda: _named("Grouped2dRelu",
                                     nn.Conv2d(32, 64, 3, padding=1, groups=4), nn.ReLU()),
                      [1, 32, -1, 5], _SIZES_2D),
    "Conv3d": (lambda: _named("Conv3d", nn.Conv3d(2, 4, 3, padding=1)),
               [1, 2, 3, -1, 4], _SIZES_2D),
    "BiasFromInput": (lambda: BiasFromInput().eval(), [1, 3, -1], _LENGTHS_1D),
}
# the shapes of the cases' further inputs (fixed)
MORE_INPUTS = {"BiasFromInput": [[8]]}


def _shape_at(shape: list[int], sizes: list[int]) -> list[int]:
    run_time = iter(sizes)
    return [next(run_time) if d == -1 else d for d in shape]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, tuple[np.ndarray | str, np.ndarray]]:
    """Every case's outputs at every size: (SOFIE's or the error, Torch's), from one
    compiled program."""
    directory = tmp_path_factory.mktemp("run_time_spatial_conv")
    torch.manual_seed(11)
    runs, sizes, largest, wanted = {}, {}, {}, {}
    for name, (make, shape, run_sizes) in CASES.items():
        model = make()
        with torch.no_grad():  # random biases well away from zero, to be seen if misplaced
            for layer in model.modules():
                if getattr(layer, "bias", None) is not None:
                    layer.bias.uniform_(0.5, 1.5)
        more = MORE_INPUTS.get(name, [])
        sofie_pytorch.convert(model, directory, input_shapes=[shape, *more])
        for run in run_sizes:
            key = f"{name}@{'x'.join(map(str, run))}"
            inputs = [torch.randn(*_shape_at(shape, run)), *(torch.randn(*s) for s in more)]
            with torch.no_grad():
                wanted[key] = model(*inputs).numpy()
            runs[key] = [x.numpy() for x in inputs]
            sizes[key] = run
            largest[key] = run_sizes[-1]
    got = compile_and_run_many(directory, runs, sizes, session_sizes=largest)
    # (a case whose code fails is reported by its own test)
    return {key: (got[key] if isinstance(got[key], str) else got[key][0].reshape(want.shape),
                  want) for key, want in wanted.items()}


@pytest.mark.parametrize("name", CASES)
def test_conv_at_run_time_size_below_the_session_size_matches_torch(name, results):
    keys = [key for key in results if key.partition("@")[0] == name]
    assert len(keys) == len(CASES[name][2])
    for key in keys:
        got, want = results[key]
        assert not isinstance(got, str), got
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=key)


def test_conv_of_unknown_rank_at_run_time_size_is_refused_naming_it():
    """A weight given at run time and no kernel_shape: the bias' (C, 1, ...) shape is not
    known, so the Conv is refused at conversion rather than left to be wrong."""
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "L"]),
              helper.make_tensor_value_info("w", TensorProto.FLOAT, None)]
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    bias = numpy_helper.from_array(np.ones(8, np.float32), "b")
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="the_conv")
    model = helper.make_model(helper.make_graph([node], "g", inputs, [output], [bias]),
                              opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(UnsupportedOperatorError, match=r"Conv node 'the_conv'.*run time"):
        rewrites.apply(model, [])
