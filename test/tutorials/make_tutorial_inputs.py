"""Make the inputs of the tutorial-style tests, seeded, in a directory given as argument.

- PyTorchModel.pt: ROOT's TMVA_SOFIE_PyTorch.C model (Linear(32,16), ReLU, Linear(16,8),
  ReLU, an nn.Sequential) trained briefly, saved with torch.jit.script + torch.jit.save.
- Higgs_trained_model.pt: a 7-input classifier trained in PyTorch on synthetic signal and
  background, saved the same way.
- Higgs_trained_model.pt2: the same classifier saved with torch.export.
- Higgs_trained_model.onnx: the same classifier exported to ONNX with a batch size left
  open (RSofieReader reads it with the engine's ONNX parser).
- Higgs_data.root: trees sig_tree and bkg_tree with the 7 columns of ROOT's Higgs
  tutorial data (m_jj, m_jjj, m_lv, m_jlv, m_bb, m_wbb, m_wwbb), written by RDataFrame.

ROOT's tutorials make their models with TMVA's Python helpers, which ROOT from PyPI does
not have; this script takes their place.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

COLUMNS = ["m_jj", "m_jjj", "m_lv", "m_jlv", "m_bb", "m_wbb", "m_wwbb"]
EVENTS_PER_TREE = 400


def events(rng: np.random.Generator, signal: bool, n: int) -> np.ndarray:
    """Positive, mass-like values; signal peaks a little higher in every column."""
    shift = 0.35 if signal else 0.0
    return rng.gamma(4.0, 0.25, size=(n, len(COLUMNS))).astype(np.float32) + shift


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: nn.Module, steps: int) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(steps):
        optimizer.zero_grad()
        loss(model(x), y).backward()
        optimizer.step()
    model.eval()


def classifier() -> nn.Module:
    return nn.Sequential(nn.Linear(7, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, 1), nn.Sigmoid())


def main(directory: Path) -> None:
    torch.manual_seed(7)
    rng = np.random.default_rng(7)

    sequential = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU())
    train(sequential, torch.randn(2, 32), torch.randn(2, 8), nn.MSELoss(), 100)
    torch.jit.save(torch.jit.script(sequential), str(directory / "PyTorchModel.pt"))

    sig, bkg = events(rng, True, 2000), events(rng, False, 2000)
    x = torch.from_numpy(np.concatenate([sig, bkg]))
    y = torch.cat([torch.ones(len(sig), 1), torch.zeros(len(bkg), 1)])
    model = classifier()
    train(model, x, y, nn.BCELoss(), 150)
    torch.jit.save(torch.jit.script(model), str(directory / "Higgs_trained_model.pt"))
    exported = torch.export.export(model, (torch.zeros(1, 7),))
    torch.export.save(exported, str(directory / "Higgs_trained_model.pt2"))
    torch.onnx.export(model, (torch.zeros(1, 7),), str(directory / "Higgs_trained_model.onnx"),
                      dynamo=False, opset_version=17, input_names=["input"],
                      dynamic_axes={"input": {0: "N"}})

    import ROOT  # after torch: the order the project's other scripts use

    path = str(directory / "Higgs_data.root")
    options = ROOT.RDF.RSnapshotOptions()
    for tree, signal in (("sig_tree", True), ("bkg_tree", False)):
        data = events(rng, signal, EVENTS_PER_TREE)
        columns = {c: np.ascontiguousarray(data[:, i]) for i, c in enumerate(COLUMNS)}
        df = ROOT.RDF.FromNumpy(columns)
        df.Snapshot(tree, path, COLUMNS, options)
        options.fMode = "UPDATE"


if __name__ == "__main__":
    main(Path(sys.argv[1]))
