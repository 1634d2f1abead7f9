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
import pytest
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


# Jagged particle lists: PARTICLES rows on the models' particle axis; events have 0 to
# MAX_IN_DATA particles (so some are padded and some truncated).
PARTICLES, MAX_IN_DATA = 8, 12
PARTICLE_FEATURES = ["j_pt", "j_eta", "j_phi"]
JAGGED_DEFINES = {
    "nj": f"int(gRandom->Integer({MAX_IN_DATA + 1}))",
    "j_pt": "ROOT::RVecF v(nj); for (auto &x : v) x = gRandom->Exp(20.f); return v;",
    "j_eta": "ROOT::RVecF v(nj); for (auto &x : v) x = gRandom->Gaus(); return v;",
    "j_phi": "ROOT::RVecD v(nj); for (auto &x : v) x = gRandom->Uniform(-3, 3); return v;",
    "id": "ULong64_t(rdfentry_)",
}


def write_jets(path: Path, entries: int, seed: int = 5, auto_flush: int = 100) -> Path:
    """A tree "jets" with variable-length particle lists (float, float, double)."""
    import ROOT

    ROOT.gRandom.SetSeed(seed)
    df = ROOT.RDataFrame(entries)
    for name, code in JAGGED_DEFINES.items():
        df = df.Define(name, code)
    options = ROOT.RDF.RSnapshotOptions()
    options.fAutoFlush = auto_flush
    df.Snapshot("jets", str(path), [n for n in JAGGED_DEFINES if n != "nj"], options)
    return path


def padded(columns: dict[str, np.ndarray], features: list[str], particles: int = PARTICLES,
           sort_by: str | None = None, features_last: bool = True
           ) -> tuple[np.ndarray, np.ndarray]:
    """The models' padded input built in Python from the same events: (events, particles,
    features) (or (events, features, particles)), and the mask (events, particles); each
    event's particles in decreasing order of sort_by, the first `particles` kept."""
    events = len(columns[features[0]])
    x = np.zeros((events, particles, len(features)), dtype=np.float32)
    mask = np.zeros((events, particles), dtype=np.float32)
    for i in range(events):
        values = np.stack([np.asarray(columns[f][i], dtype=np.float32) for f in features], 1)
        if sort_by is not None:
            key = np.asarray(columns[sort_by][i], dtype=np.float32)
            values = values[np.argsort(-key, kind="stable")]
        values = values[:particles]
        x[i, : len(values)] = values
        mask[i, : len(values)] = 1
    return (x if features_last else x.transpose(0, 2, 1).copy()), mask


class DeepSets(nn.Module):
    """phi on each particle, masked sum, rho: a jet tagger over a padded particle axis."""

    def __init__(self, features: int = 3) -> None:
        super().__init__()
        self.phi = nn.Sequential(nn.Linear(features, 16), nn.ReLU(), nn.Linear(16, 16),
                                 nn.ReLU())
        self.rho = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        summed = (self.phi(x) * mask.unsqueeze(-1)).sum(dim=1)
        return torch.sigmoid(self.rho(summed))


class ChannelsFirst(nn.Module):
    """Features along the axis before the particles, as ParticleNet's (N, C, P) inputs,
    with a (N, 1, P) mask."""

    def __init__(self, features: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv1d(features, 8, kernel_size=1)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x)) * mask
        return torch.softmax(self.head(h.sum(dim=2)), dim=1)


def jet_models() -> dict[str, nn.Module]:
    torch.manual_seed(3)
    lstm = SequenceClassifier()
    return {"deepsets": DeepSets().eval(), "lstm": lstm.eval(),
            "channels_first": ChannelsFirst().eval()}


@pytest.fixture(params=[1, 2], ids=["1thread", "mt2"])
def threads(request):
    """RDataFrame on 1 thread, then with ROOT.EnableImplicitMT(2); the number."""
    import ROOT

    if request.param > 1:
        ROOT.EnableImplicitMT(request.param)
    try:
        yield request.param
    finally:
        if ROOT.IsImplicitMTEnabled():
            ROOT.DisableImplicitMT()
