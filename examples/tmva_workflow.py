"""The TMVA workflow: a PyTorch classifier trained as TMVA's PyTorch method does, then
converted to SOFIE C++ and checked against Torch.

TMVA's PyTorch method (MethodPyTorch, tutorial TMVA_Higgs_Classification.py) has the
user define the network, script it with torch.jit.script and save it as
"PyTorchModelClassification.pt"; TMVA trains it and saves the trained network with
torch.jit.save as "PyTorchTrainedModelClassification.pt". This script does the same
on a small seeded synthetic dataset (signal and background Gaussians in 4 variables),
converts the trained file with sofie_pytorch, runs the generated code (JIT-compiled
by cling) and compares it with the trained Torch model.

    python examples/tmva_workflow.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

warnings.filterwarnings("ignore", message=r"`torch\.jit\..*` is deprecated")
import sofie_pytorch  # noqa: E402

FEATURES = 4
EPOCHS = 5
TOLERANCE = (1e-5, 1e-4)  # atol, rtol: float32 summed in another order than Torch's
MODEL_FILE = "PyTorchModelClassification.pt"  # what the user gives TMVA
TRAINED_FILE = "PyTorchTrainedModelClassification.pt"  # what TMVA writes after training


def define_model() -> torch.jit.ScriptModule:
    """The network of TMVA's tutorial: dense layers, ReLU, a 2-class softmax."""
    model = nn.Sequential(
        nn.Linear(FEATURES, 64), nn.ReLU(),
        nn.Linear(64, 64), nn.ReLU(),
        nn.Linear(64, 2), nn.Softmax(dim=1),
    )
    return torch.jit.script(model)


def dataset(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Signal around +0.5, background around -0.5, in every variable; one-hot labels."""
    signal = torch.randn(n, FEATURES, generator=generator) + 0.5
    background = torch.randn(n, FEATURES, generator=generator) - 0.5
    x = torch.cat([signal, background])
    one_hot = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    y = torch.cat([one_hot[0].repeat(n, 1), one_hot[1].repeat(n, 1)])
    return x, y


def train(model: torch.jit.ScriptModule, x: torch.Tensor, y: torch.Tensor) -> float:
    """TMVA's default PyTorch training loop: mini-batches, SGD, MSE on the softmax."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.MSELoss()
    generator = torch.Generator().manual_seed(1)
    loss = torch.tensor(0.0)
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=generator)
        for batch in order.split(32):
            optimizer.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
    return float(loss.detach())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the model files and code here")
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="sofie_pytorch_tmva_"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        torch.manual_seed(0)
        generator = torch.Generator().manual_seed(0)
        model = define_model()
        torch.jit.save(model, str(directory / MODEL_FILE))
        x_train, y_train = dataset(500, generator)
        trained = torch.jit.load(str(directory / MODEL_FILE))  # TMVA loads the user's file
        loss = train(trained, x_train, y_train)
        torch.jit.save(trained, str(directory / TRAINED_FILE))
        print(f"1. trained {EPOCHS} epochs (final batch loss {loss:.4f}), saved {TRAINED_FILE}")

        x_test, y_test = dataset(50, generator)
        result = sofie_pytorch.convert(directory / TRAINED_FILE, directory,
                                       example_inputs=x_test)
        print(f"2. converted it: {result.header.name}, {result.weights.name} "
              f"(namespace {result.namespace})")

        reader = sofie_pytorch.Reader(directory / TRAINED_FILE, example_inputs=x_test)
        got = reader.Compute(x_test.numpy())
        with torch.no_grad():
            want = torch.jit.load(str(directory / TRAINED_FILE))(x_test).numpy()
        accuracy = float((got.argmax(1) == y_test.numpy().argmax(1)).mean())
        diff = float(np.abs(got - want).max())
        ok = bool(np.allclose(got, want, atol=TOLERANCE[0], rtol=TOLERANCE[1]))
        print(f"3. generated code on {len(x_test)} test events: accuracy {accuracy:.2f}, "
              f"max |torch - sofie| = {diff:.3g} "
              f"(tolerance {TOLERANCE[0]:g} + {TOLERANCE[1]:g}*|torch|): "
              f"{'OK' if ok else 'MISMATCH'}")
        return 0 if ok else 1
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
