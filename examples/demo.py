"""The main job, end to end, on a built-in example model.

A TMVA-style classifier (seeded, so every run is the same) is saved as TorchScript,
parsed into a SOFIE RModel through ROOT, turned into C++, compiled with g++ against
OpenBLAS, run, and compared with Torch on the same inputs.

    python examples/demo.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
import ROOT  # noqa: E402 - ROOT before the plugin, as users write it
import sofie_pytorch  # noqa: E402, F401 - registers the parser with ROOT

BATCH, FEATURES = 4, 4
TOLERANCE = 1e-5  # float32 in a different summation order than Torch's

DRIVER = r"""
#include "classifier.hxx"
#include <cstdio>
#include <fstream>
#include <vector>
int main() {
   std::vector<float> x(@SIZE@);
   std::ifstream in("input.bin", std::ios::binary);
   in.read(reinterpret_cast<char *>(x.data()), x.size() * sizeof(float));
   SOFIE_classifier::Session session("classifier.dat");
   for (float y : session.infer(x.data())) std::printf("%.9g\n", y);
}
"""


def make_model(directory: Path) -> tuple[Path, torch.Tensor, torch.Tensor]:
    """The example: the classifier of TMVA's PyTorch tutorial, saved as TMVA does."""
    torch.manual_seed(42)
    model = nn.Sequential(nn.Linear(FEATURES, 64), nn.ReLU(), nn.Linear(64, 2), nn.Softmax(dim=1))
    path = directory / "classifier.pt"
    torch.jit.save(torch.jit.script(model.eval()), str(path))
    x = torch.randn(BATCH, FEATURES)
    with torch.no_grad():
        y = model(x)
    return path, x, y


def compile_and_run(directory: Path, x: torch.Tensor) -> np.ndarray:
    (directory / "driver.cxx").write_text(DRIVER.replace("@SIZE@", str(x.numel())))
    x.numpy().astype("<f4").tofile(directory / "input.bin")
    subprocess.run(["g++", "-std=c++17", "-O2", "driver.cxx", "-o", "driver", "-lopenblas"],
                   cwd=directory, check=True)
    run = subprocess.run(["./driver"], cwd=directory, check=True, capture_output=True, text=True)
    return np.array([float(v) for v in run.stdout.split()], dtype=np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the model and generated code here")
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="sofie_pytorch_demo_"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        path, x, expected = make_model(directory)
        print(f"1. saved the PyTorch model as TorchScript: {path}")
        model = ROOT.TMVA.Experimental.SOFIE.PyTorch.Parse(str(path), [list(x.shape)])
        print("2. parsed it into a SOFIE RModel:")
        model.PrintRequiredInputTensors()
        model.PrintInitializedTensors()
        model.Generate()
        model.OutputGenerated(str(directory / "classifier.hxx"))
        print(f"3. generated {directory / 'classifier.hxx'} and classifier.dat")
        got = compile_and_run(directory, x).reshape(expected.shape)
        print("4. compiled it with g++ and OpenBLAS, and ran it:\n")
        print(f"   {'event':>5} {'torch':>24} {'generated C++':>24}")
        for i in range(BATCH):
            t = " ".join(f"{v:11.8f}" for v in expected[i].tolist())
            g = " ".join(f"{v:11.8f}" for v in got[i].tolist())
            print(f"   {i:>5} {t:>24} {g:>24}")
        diff = float(np.abs(got - expected.numpy()).max())
        ok = diff <= TOLERANCE
        print(f"\n   max |torch - generated| = {diff:.3g} (tolerance {TOLERANCE:g}): "
              f"{'OK' if ok else 'MISMATCH'}")
        return 0 if ok else 1
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
