"""weaver-core's ParticleNet (the real package, the suite's smallest configuration,
"particlenet_lite" of weaver_cases: random weights, non-trivial BatchNorm statistics)
scoring jagged particle lists: points (eta, phi) and 7 features per particle, 2 to 22
particles per event, sorted by pt into a 16-particle axis (truncated beyond it) with the
(N, 1, P) mask, through rdf.define (1 and 2 threads) and the score command (columnar
path, 2 threads). Every event is compared with Torch on padded tensors built in Python
from the same events (rtol 1e-4, atol 1e-5, as test_weaver_models).

One traced file and one set of shapes for both: the scorer is compiled once."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scoring_helpers as sh
import torch
from weaver_cases import build

warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
import ROOT  # noqa: E402
from sofie_pytorch import rdf  # noqa: E402

ENTRIES, P, MAX_IN_DATA = 200, 16, 22
POINTS = ["p_eta", "p_phi"]
FEATURES = ["p_logpt", "p_eta", "p_phi", "p_f3", "p_f4", "p_f5", "p_f6"]
DEFINES = {
    "n": f"int(2 + gRandom->Integer({MAX_IN_DATA - 1}))",
    "p_pt": "ROOT::RVecF v(n); for (auto &x : v) x = 1 + gRandom->Exp(20.f); return v;",
    "p_eta": "ROOT::RVecF v(n); for (auto &x : v) x = gRandom->Gaus(0, 0.4); return v;",
    "p_phi": "ROOT::RVecD v(n); for (auto &x : v) x = gRandom->Gaus(0, 0.4); return v;",
    "p_logpt": "return ROOT::VecOps::log(p_pt);",
    **{f"p_f{i}": "ROOT::RVecF v(n); for (auto &x : v) x = gRandom->Gaus(); return v;"
       for i in range(3, 7)},
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("scoring_particlenet")


@pytest.fixture(scope="module")
def data(workdir):
    ROOT.gRandom.SetSeed(17)
    df = ROOT.RDataFrame(ENTRIES)
    for name, code in DEFINES.items():
        df = df.Define(name, code)
    path = workdir / "particles.root"
    options = ROOT.RDF.RSnapshotOptions()
    options.fAutoFlush = 50
    df.Snapshot("jets", str(path), [n for n in DEFINES if n != "n"], options)
    return path


@pytest.fixture(scope="module")
def model():
    return build("particlenet_lite")


@pytest.fixture(scope="module")
def traced(model, workdir):
    example = (torch.zeros(1, 2, P), torch.zeros(1, 7, P), torch.ones(1, 1, P))
    path = workdir / "particlenet.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(model, example, check_trace=False), str(path))
    return path


SHAPES = [[1, 2, P], [1, 7, P], [1, 1, P]]
threads = sh.threads  # the fixture: 1 thread, then EnableImplicitMT(2)


def torch_scores(model, columns):
    """ParticleNet on the padded (N, 2, P), (N, 7, P) and (N, 1, P) tensors built in
    Python from the events (sorted by pt, the first P kept)."""
    points, mask = sh.padded(columns, POINTS, P, sort_by="p_pt", features_last=False)
    features, _ = sh.padded(columns, FEATURES, P, sort_by="p_pt", features_last=False)
    with torch.no_grad():
        out = model(torch.from_numpy(points), torch.from_numpy(features),
                    torch.from_numpy(mask[:, None, :]))
    return out.numpy()


def test_particlenet_on_jagged_columns_in_rdataframe(model, traced, data, threads):
    scored = rdf.define(ROOT.RDataFrame("jets", str(data)), "probs", str(traced),
                        [POINTS, FEATURES, rdf.MASK], input_shapes=SHAPES,
                        particles="truncate", sort_by="p_pt")
    cols = scored.AsNumpy(["probs", "p_pt", *POINTS, *FEATURES])
    lengths = [len(v) for v in cols["p_pt"]]
    assert min(lengths) < 8 < P < max(lengths)  # fewer than k + 1, padded, truncated
    got = np.stack([np.asarray(v) for v in cols["probs"]])
    sh.assert_close(got, torch_scores(model, cols))


def test_particlenet_with_the_score_command(model, traced, data, tmp_path):
    out = tmp_path / "scored.root"
    args = [traced, "--input", data, "--tree", "jets", "--columns", ",".join(POINTS),
            "--columns", ",".join(FEATURES), "--columns", rdf.MASK, "--particles", "truncate",
            "--sort-by", "p_pt", "--name", "p0,p1", "--output", out, "--threads", "2"]
    for shape in SHAPES:
        args += ["--shape", ",".join(map(str, shape))]
    proc = sh.score_cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"scored {ENTRIES} events" in proc.stdout
    cols = sh.with_friend([data], "jets", out, ["scores.p0", "scores.p1", "p_pt", *POINTS,
                                                 *FEATURES])
    got = np.stack([cols["scores.p0"], cols["scores.p1"]], axis=1)
    sh.assert_close(got, torch_scores(model, cols))
