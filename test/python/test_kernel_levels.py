"""The GEMM and convolution kernels of the generated code (src/operators/PackedGemm.cxx,
ConvPlanes.cxx, Conv.cxx) at every instruction-set level they have a path for.

The generated code chooses its register tiles when the user compiles it (#if on
__AVX512F__ / __AVX__, SSE otherwise), so each level is compiled explicitly, whatever the
host: -march=x86-64-v2 (SSE4.2), x86-64-v3 (AVX2 + FMA) and, when the host can run it,
x86-64-v4 (AVX-512; there g++ also builds the 512-bit tiles). Each level is one compile of
all the models below at -O2 (the README's flags; the tiles must not need -O3) and one of
the models with a batch chosen at run time. Every output is compared with Torch.

The shapes leave products walked in blocks of k (K > 1024), partial panels (70 = 64 + 6
columns, 130 = 2 x 64 + 2), partial vectors and skipped ones (50 columns in a 64-column
panel), every tile height (batches of 1, 7 and, at run time, 13), narrow products (3
outputs), convolutions on both kernels (72 output channels on the GEMM, 5 on ConvPlanes),
strided, 1x1, depthwise (stride 1 and 2) and grouped ones.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from compiled import compile_and_run_many
from conformance import compare
from isa_levels import runnable_levels
from layers import First

# the suite's one list of levels: v2, v3, and v4 where this machine runs it
LEVELS = list(runnable_levels())


class _Mlp(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(20, 70), torch.nn.ReLU(), torch.nn.Linear(70, 50), torch.nn.Tanh(),
            torch.nn.Linear(50, 130), torch.nn.ReLU(), torch.nn.Linear(130, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class _Convolutions(torch.nn.Module):
    """Stride-1 3x3 with 72 output channels (the GEMM on an NHWC copy), then 5 (ConvPlanes),
    a 1x1 one of 80 channels on 99 pixels (ConvPlanes), a stride-2 one, a 1x1 one, depthwise
    ones at stride 1 and 2 (ConvPlanes per channel) and a grouped one (the engine's), with
    BatchNorm and ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.wide = torch.nn.Conv2d(3, 72, 3, padding=1)
        self.narrow = torch.nn.Conv2d(72, 5, (3, 2), padding=(1, 1))
        self.pointwide = torch.nn.Conv2d(72, 80, 1)  # 80 channels, 99 pixels: ConvPlanes
        self.strided = torch.nn.Conv2d(5, 24, 3, stride=2, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm2d(24)
        self.pointwise = torch.nn.Conv2d(24, 40, 1)
        self.depthwise = torch.nn.Conv2d(40, 40, 3, padding=1, groups=40)
        self.depthwise2 = torch.nn.Conv2d(40, 40, (3, 2), stride=2, padding=(1, 0), groups=40,
                                          bias=False)
        self.grouped = torch.nn.Conv2d(40, 20, 3, stride=2, padding=1, groups=4)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 1.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.wide(x))
        y = torch.relu(self.narrow(y)[..., :11] + y[:, :5] + self.pointwide(y)[:, 3:8])
        y = torch.relu(self.bn(self.strided(y)))
        y = torch.relu(self.depthwise(self.pointwise(y)))
        return self.grouped(y) + torch.relu(self.depthwise2(y))[:, :20]


class _Deep(torch.nn.Module):
    """Products longer than PackedGemm's blocking threshold (K > 1024: walked in blocks of
    256 k, partial sums kept in C): a 3x3 convolution of 120 channels (K = 1080 in runs of
    120) and a Linear of 1100 inputs, each with ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(120, 72, 3, padding=1)
        self.linear = torch.nn.Linear(72 * 16, 1100)
        self.out = torch.nn.Linear(1100, 20)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.conv(x)).flatten(1)
        return self.out(torch.relu(self.linear(y)))


def _models() -> dict[str, tuple[torch.nn.Module, tuple[int, ...]]]:
    torch.manual_seed(0)
    return {
        "mlp": (_Mlp(), (20,)),
        "deep": (_Deep(), (120, 4, 4)),
        "lstm": (First(torch.nn.LSTM(4, 20, batch_first=True)), (5, 4)),
        "gru": (First(torch.nn.GRU(4, 20, batch_first=True)), (5, 4)),
        "conv": (_Convolutions(), (3, 9, 11)),
    }


def _write(module: torch.nn.Module, x: torch.Tensor, shape: list[int], name: str,
           directory: Path) -> np.ndarray:
    import sofie_pytorch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on the layers' shape checks
        torch.jit.save(torch.jit.script(module), str(directory / f"{name}.pt"))
    model = sofie_pytorch.parse(directory / f"{name}.pt", input_shapes=[shape])
    model.Generate()
    model.OutputGenerated(str(directory / f"{name}.hxx"))
    with torch.no_grad():
        return module(x).numpy()


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, tuple[Path, dict, dict]]:
    """Two directories of generated code: fixed batches (1 and 7) and a run-time batch."""
    fixed, runtime = tmp_path_factory.mktemp("fixed"), tmp_path_factory.mktemp("runtime")
    out = {"fixed": (fixed, {}, {}), "runtime": (runtime, {}, {})}
    for name, (module, event) in _models().items():
        module.eval()
        for batch in (1, 7):
            x = torch.randn(batch, *event)
            key = f"{name}_b{batch}"
            out["fixed"][2][key] = [_write(module, x, list(x.shape), key, fixed)]
            out["fixed"][1][key] = [x.numpy()]
        x = torch.randn(13, *event)
        out["runtime"][2][name] = [_write(module, x, [-1, *event], name, runtime)]
        out["runtime"][1][name] = [x.numpy()]
    code = (fixed / "conv_b7.hxx").read_text()
    assert "PackedGemm" in code and "ConvPlanes" in code
    assert code.count("SofiePyTorch Conv (depthwise)") == 2
    assert "PackedGemm (dot products)" in (fixed / "mlp_b1.hxx").read_text()
    return out


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("batch", ["fixed", "runtime"])
def test_kernels_match_torch_at_each_level(generated, level, batch):
    directory, inputs, expected = generated[batch]
    sizes = [13] if batch == "runtime" else None
    got = compile_and_run_many(directory, inputs, runtime_sizes=sizes,
                               flags=("-O2", f"-march={level}"))
    for name in inputs:
        assert not isinstance(got[name], str), got[name]
        compare(got[name], expected[name])
