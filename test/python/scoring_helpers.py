"""Shared pieces of the scoring tests: seeded models, ROOT files written by RDataFrame,
and Torch's answer on the very values RDataFrame read."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

# Compiled scorers of this test session (and of the scripts it runs, which inherit the
# variable) go to a directory of their own, removed at the end: the tests neither use
# nor fill the user's cache, yet compile each model and column layout once.
if "SOFIE_PYTORCH_CACHE" not in os.environ:
    os.environ["SOFIE_PYTORCH_CACHE"] = tempfile.mkdtemp(prefix="sofie_pytorch_test_scorers_")
    atexit.register(shutil.rmtree, os.environ["SOFIE_PYTORCH_CACHE"], True)

RTOL, ATOL = 1e-4, 1e-5
VARIABLES = ["px", "py", "pz", "e"]
STEPS, FEATURES = 6, 3  # the LSTM's sequence: 6 constituents of 3 features per event
CONSTITUENTS = ["c_pt", "c_eta", "c_phi"]


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 8)
        self.b = nn.Linear(2, 8)
        self.out = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(torch.tanh(self.a(x)) + torch.relu(self.b(y))))


class SequenceClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(FEATURES, 5, batch_first=True)
        self.head = nn.Linear(5, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return torch.sigmoid(self.head(out[:, -1, :]))


class ThreeTensors(nn.Module):
    """Three output tensors of two types: a score, 3 class probabilities, the argmax."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.score = nn.Linear(8, 1)
        self.classes = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = torch.tanh(self.body(x))
        probs = torch.softmax(self.classes(h), dim=1)
        return torch.sigmoid(self.score(h)), probs, torch.argmax(probs, dim=1, keepdim=True)


def models() -> dict[str, nn.Module]:
    """The four models of the issue (a classifier, 3 outputs, two inputs, an LSTM) and one
    with several output tensors."""
    torch.manual_seed(11)
    return {
        "classifier": nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1),
                                    nn.Sigmoid()).eval(),
        "three": nn.Sequential(nn.Linear(4, 12), nn.Tanh(), nn.Linear(12, 3),
                               nn.Softmax(dim=1)).eval(),
        "two_inputs": TwoInputs().eval(),
        "lstm": SequenceClassifier().eval(),
        "tensors": ThreeTensors().eval(),  # last: the others keep their seeded weights
    }


# Each event: four floats, a double, an int and a bool, constituents as RVec<float>
# (one per feature, STEPS long), the same as one flat RVec<double>, an RVec whose length
# is wrong in every 7th event, a string, and an event id.
DEFINES = {
    "px": "float(gRandom->Gaus())",
    "py": "float(gRandom->Gaus())",
    "pz": "float(gRandom->Gaus())",
    "e": "float(gRandom->Gaus() + 3)",
    "d": "gRandom->Gaus()",
    "n": "int(gRandom->Integer(10))",
    "flag": "gRandom->Rndm() > 0.5",
    "c_pt": "ROOT::RVecF v(6); for (auto &x : v) x = gRandom->Gaus(); return v;",
    "c_eta": "ROOT::RVecF v(6); for (auto &x : v) x = gRandom->Gaus(); return v;",
    "c_phi": "ROOT::RVecF v(6); for (auto &x : v) x = gRandom->Gaus(); return v;",
    "flat": "ROOT::RVecD v(18); for (auto &x : v) x = gRandom->Gaus(); return v;",
    "ragged": "ROOT::RVecF v(rdfentry_ % 7 == 6 ? 5 : 6, 1.f); return v;",
    "label": "std::string(\"x\")",
    "id": "ULong64_t(rdfentry_ + @OFFSET@)",
}


def write_events(path: Path, entries: int, seed: int = 7, offset: int = 0,
                 auto_flush: int = 250) -> Path:
    """A tree "events" with DEFINES' columns; small clusters so that threads share work."""
    import ROOT

    ROOT.gRandom.SetSeed(seed)
    df = ROOT.RDataFrame(entries)
    for name, code in DEFINES.items():
        df = df.Define(name, code.replace("@OFFSET@", str(offset)))
    options = ROOT.RDF.RSnapshotOptions()
    options.fAutoFlush = auto_flush
    df.Snapshot("events", str(path), list(DEFINES), options)
    return path


def command() -> Path:
    """The `sofie-pytorch` command of the environment running the tests, the script users
    type (written by make, or by pip): next to the environment's python."""
    script = Path(sys.executable).parent / "sofie-pytorch"
    assert script.is_file(), f"{script} is missing: run make build (or pip install .)"
    return script


def score_cli(*args: object, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """`sofie-pytorch score ARGS` as a user runs it, bounded in time."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([str(command()), "score", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def with_friend(inputs: list[Path] | list[str], tree: str, output: Path, columns: list[str],
                friend_tree: str = "scores") -> dict[str, np.ndarray]:
    """The input chain with the output file as a friend (tree->AddFriend(friend_tree,
    output)), read entry by entry: input columns by name, the friend's as
    'friend_tree.column'. The friend must have exactly the chain's entries."""
    import ROOT

    chain = ROOT.TChain(tree)
    for name in inputs:
        chain.Add(str(name))
    friend = chain.AddFriend(friend_tree, str(output))
    assert friend, f"AddFriend({friend_tree!r}, {output}) failed"
    f = ROOT.TFile.Open(str(output))
    try:
        assert f.Get(friend_tree).GetEntries() == chain.GetEntries()
    finally:
        f.Close()
    return ROOT.RDataFrame(chain).AsNumpy(columns)


def recorded_march(library: Path) -> str:
    """The -march g++ compiled a library with, as it recorded it (-frecord-gcc-switches
    writes the resolved value: native becomes the CPU's name)."""
    done = subprocess.run(["readelf", "-p", ".GCC.command.line", str(library)],
                          capture_output=True, text=True, timeout=60, check=True)
    marches = {word for word in done.stdout.split() if word.startswith("-march=")}
    assert len(marches) == 1, done.stdout
    return marches.pop().removeprefix("-march=")


def torch_outputs(model: nn.Module, *inputs: np.ndarray) -> list[np.ndarray]:
    with torch.no_grad():
        out = model(*[torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
                      for x in inputs])
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o.numpy() for o in outs]


def stack(columns: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    """Scalar columns as one (entries, len(names)) float32 array."""
    return np.stack([np.asarray(columns[n], dtype=np.float32) for n in names], axis=1)


def constituents(columns: dict[str, np.ndarray]) -> np.ndarray:
    """The c_* RVec columns as the LSTM's (entries, STEPS, FEATURES) input."""
    per_feature = [np.stack([np.asarray(v, dtype=np.float32) for v in columns[c]])
                   for c in CONSTITUENTS]
    return np.stack(per_feature, axis=2)


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64).reshape(want.shape), want,
                               rtol=RTOL, atol=ATOL)
