"""The test models: each built from a fixed seed, saved as TorchScript, run by Torch.

Run as a script, it writes every model with its inputs and Torch's outputs into a
directory, for the C++ tests:

    python zoo.py OUTDIR

For each model NAME: NAME.pt (or the file the spec's `file` line names), NAME.spec (a line
`input d0,d1,... [dtype]` per input and a
line `outputs N`), NAME.in<i>.bin (little-endian float32, or int64 for int64 inputs) and
NAME.out<i>.bin (float32). The operator-coverage cases of coverage.py are written too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass(frozen=True)
class Case:
    """A test model: how to build it, its input shapes, and how TMVA-like code saves it."""

    build: Callable[[], nn.Module]
    shapes: tuple[tuple[int, ...], ...]
    save: str = "script"  # "script" (torch.jit.script) or "trace" (torch.jit.trace)


class LinearSigmoidTransposed(nn.Module):
    """ROOT's parser test model 2: Linear-ReLU-Linear-Sigmoid, then transposed."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 36)
        self.fc2 = nn.Linear(36, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc1(x))
        x = torch.sigmoid(self.fc2(x))
        return torch.t(x)


class TwoInTwoOut(nn.Module):
    """Two inputs, two outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 5)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.fc(x) + y
        return a, torch.sigmoid(a)


CASES: dict[str, Case] = {
    # ROOT's parser test model 1
    "sequential_selu": Case(
        lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 6), nn.SELU()),
        ((2, 4),),
    ),
    "linear_sigmoid_transposed": Case(LinearSigmoidTransposed, ((2, 6),), save="trace"),
    # ROOT's parser test model 3
    "conv2d_relu": Case(
        lambda: nn.Sequential(nn.Conv2d(6, 5, 3, stride=2), nn.ReLU()),
        ((5, 6, 5, 5),),
    ),
    # The classifier of TMVA's PyTorch tutorial, saved the way TMVA's method does.
    "tmva_classifier": Case(
        lambda: nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 2), nn.Softmax(dim=1)),
        ((8, 4),),
    ),
    "two_in_two_out": Case(TwoInTwoOut, ((2, 3), (2, 5))),
}


def build(name: str, seed: int = 1234) -> tuple[torch.jit.ScriptModule, list[torch.Tensor]]:
    """The model, scripted or traced, and example inputs, both from a fixed seed."""
    case = CASES[name]
    torch.manual_seed(seed)
    module = case.build().eval()
    inputs = [torch.randn(shape) for shape in case.shapes]
    if case.save == "trace":
        scripted = torch.jit.trace(module, tuple(inputs))
    else:
        scripted = torch.jit.script(module)
    return scripted, inputs


def torch_outputs(module: nn.Module, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Torch's outputs, flattened into a list."""
    with torch.no_grad():
        out = module(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def write(name: str, directory: Path) -> None:
    """Save model NAME, its inputs and Torch's outputs into directory."""
    scripted, inputs = build(name)
    path = directory / f"{name}.pt"
    torch.jit.save(scripted, str(path))
    reloaded = torch.jit.load(str(path))  # outputs of the file, as users load it
    outputs = torch_outputs(reloaded, inputs)
    lines = [f"input {','.join(str(d) for d in x.shape)}" for x in inputs]
    lines.append(f"outputs {len(outputs)}")
    (directory / f"{name}.spec").write_text("\n".join(lines) + "\n")
    for i, x in enumerate(inputs):
        x.contiguous().numpy().astype("<f4").tofile(directory / f"{name}.in{i}.bin")
    for i, y in enumerate(outputs):
        y.contiguous().numpy().astype("<f4").tofile(directory / f"{name}.out{i}.bin")


def write_coverage_case(name: str, directory: Path) -> None:
    """Save an operator-coverage case (test/models/coverage.py) in the same layout."""
    import conformance  # the coverage suite, beside this file

    path, inputs, outputs = conformance.save(name, directory)
    dtypes = conformance.CASES[name].dtypes
    lines = [f"file {path.name}"]
    for i, x in enumerate(inputs):
        dtype = dtypes[i] if i < len(dtypes) else "float"
        lines.append(f"input {','.join(str(d) for d in x.shape)} {dtype}")
        x.contiguous().numpy().astype("<i8" if dtype == "int64" else "<f4").tofile(
            directory / f"{name}.in{i}.bin")
    lines.append(f"outputs {len(outputs)}")
    (directory / f"{name}.spec").write_text("\n".join(lines) + "\n")
    for i, y in enumerate(outputs):
        y.astype("<f4").tofile(directory / f"{name}.out{i}.bin")


def main(argv: list[str]) -> int:
    directory = Path(argv[1] if len(argv) > 1 else "models")
    directory.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        write(name, directory)
    # The operator-coverage cases that convert (the others are engine limitations whose
    # errors test/python/test_coverage.py checks).
    from coverage import CASES as COVERAGE

    # (In-memory cases have no file for the C++ entry point to read.)
    converting = [n for n, c in COVERAGE.items() if c.fails is None and c.source != "module"]
    for name in converting:
        write_coverage_case(name, directory)
    names = [*CASES, *converting]
    (directory / "MANIFEST").write_text("\n".join(names) + "\n")
    print(f"wrote {len(names)} models to {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
