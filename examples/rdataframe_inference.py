"""Scoring every entry of a ROOT tree with a PyTorch model, inside RDataFrame.

The model is trained in PyTorch, converted to SOFIE C++ and compiled by cling in this
process. RDataFrame runs multithreaded (2 threads): each processing slot owns one
generated Session (the Session holds its intermediate buffers, so two threads must not
share one), as ROOT's SofieFunctor did. The scores are compared with Torch's, entry by
entry.

    python examples/rdataframe_inference.py [--entries N] [--keep DIR]
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

warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
import ROOT  # noqa: E402
import sofie_pytorch  # noqa: E402
from sofie_pytorch import jit  # noqa: E402

VARIABLES = ["px", "py", "pz", "e"]
TOLERANCE = (1e-5, 1e-4)  # atol, rtol: float32 summed in another order than Torch's
THREADS = 2

# One Session per RDataFrame slot, made once before the event loop. The namespace of
# the generated code is filled in from the model's name (a C++ identifier).
SCORER = r"""
namespace sofie_rdf_@NAME@ {
std::vector<std::unique_ptr<SOFIE_@NAME@::Session>> sessions;
void Setup(unsigned slots, const std::string &weights) {
   sessions.clear();
   for (unsigned i = 0; i < slots; ++i)
      sessions.push_back(std::make_unique<SOFIE_@NAME@::Session>(weights));
}
float Score(unsigned slot, float px, float py, float pz, float e) {
   const float x[4] = {px, py, pz, e};
   return sessions[slot]->infer(x)[0];
}
}
"""


def make_tree(path: Path, entries: int) -> None:
    """A tree of four Gaussian variables, made with a seeded generator."""
    ROOT.gRandom.SetSeed(7)
    df = ROOT.RDataFrame(entries)
    for name in VARIABLES:
        df = df.Define(name, "float(gRandom->Gaus())")
    options = ROOT.RDF.RSnapshotOptions()
    options.fAutoFlush = 500  # several clusters, so that both threads get work
    df.Snapshot("events", str(path), VARIABLES, options)


def train_model() -> nn.Module:
    """A small network learning whether px + py > pz (seeded, a few hundred steps)."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1), nn.Sigmoid())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(300):
        x = torch.randn(256, 4)
        y = ((x[:, 0] + x[:, 1]) > x[:, 2]).float().unsqueeze(1)
        optimizer.zero_grad()
        loss = nn.functional.binary_cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return model.eval()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--keep", type=Path, help="write the tree and generated code here")
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="sofie_pytorch_rdf_"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        make_tree(directory / "events.root", args.entries)
        model = train_model()
        result = sofie_pytorch.convert(model, directory, [[1, 4]])
        print(f"1. trained and converted the model: {result.header.name}")

        jit.declare(result.header)  # loads OpenBLAS first, then cling compiles the code
        ROOT.gInterpreter.Declare(SCORER.replace("@NAME@", result.name))
        scorer = getattr(ROOT, f"sofie_rdf_{result.name}")

        ROOT.EnableImplicitMT(THREADS)
        df = ROOT.RDataFrame("events", str(directory / "events.root"))
        scorer.Setup(df.GetNSlots(), str(result.weights))
        scored = df.Define("score", f"sofie_rdf_{result.name}::Score(rdfslot_, px, py, pz, e)")
        columns = scored.AsNumpy([*VARIABLES, "score"])
        print(f"2. scored {len(columns['score'])} entries with RDataFrame on "
              f"{df.GetNSlots()} slots, one Session each")

        x = np.stack([columns[v] for v in VARIABLES], axis=1).astype(np.float32)
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()[:, 0]
        got = columns["score"]
        diff = float(np.abs(got - want).max())
        ok = len(got) == args.entries and bool(
            np.allclose(got, want, atol=TOLERANCE[0], rtol=TOLERANCE[1]))
        print(f"3. per entry, max |torch - sofie| = {diff:.3g} "
              f"(tolerance {TOLERANCE[0]:g} + {TOLERANCE[1]:g}*|torch|): "
              f"{'OK' if ok else 'MISMATCH'}")
        return 0 if ok else 1
    finally:
        ROOT.DisableImplicitMT()
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
