"""`sofie-pytorch score` end to end, as a user types it (the environment's
`sofie-pytorch` script): the output file holds the scores (equal to Torch's), entry by
entry in the input's order (a friend tree of the input), or nothing at all after any
failure."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import scoring_helpers as sh
import torch

warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
import ROOT  # noqa: E402

ENTRIES = 600


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("score_cli")


@pytest.fixture(scope="module")
def data(workdir):
    return [sh.write_events(workdir / f"events_{i}.root", ENTRIES // 2, seed=30 + i,
                            offset=i * ENTRIES // 2, auto_flush=100) for i in range(2)]


@pytest.fixture(scope="module")
def models(workdir):
    nets = sh.models()
    paths = {}
    for name in ("classifier", "lstm"):
        paths[name] = workdir / f"{name}.pt"
        torch.jit.save(torch.jit.script(nets[name]), str(paths[name]))
    return nets, paths


score = sh.score_cli


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("where", [["--threads", "2"], ["--workers", "2"]],
                         ids=["threads", "dask"])
def test_scores_two_files_as_a_friend_of_the_input(data, models, tmp_path, where):
    nets, paths = models
    out = tmp_path / "scored.root"
    proc = score(paths["classifier"], "--input", data[0], "--input", data[1], "--tree",
                 "events", "--columns", "px,py,pz,e", "--keep", "id", "--output", out, *where,
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(rf"scored {ENTRIES} events in \S+ s: [\d,]+ events/s", proc.stdout)
    cols = sh.with_friend(data, "events", out, ["id", "scores.id", "scores.score",
                                                *sh.VARIABLES])
    # entry by entry: the friend's rows are the input's, in the input's order
    assert list(cols["id"]) == list(range(ENTRIES))
    assert list(cols["scores.id"]) == list(range(ENTRIES))
    (want,) = sh.torch_outputs(nets["classifier"], sh.stack(cols, sh.VARIABLES))
    sh.assert_close(cols["scores.score"], want[:, 0])
    assert leftovers(tmp_path) == []


def test_rvec_columns_with_a_shape(data, models, tmp_path):
    nets, paths = models
    out = tmp_path / "scored.root"
    proc = score(paths["lstm"], "--input", data[0], "--tree", "events", "--columns",
                 ",".join(sh.CONSTITUENTS), "--shape", f"1,{sh.STEPS},{sh.FEATURES}",
                 "--name", "lstm_score", "--output", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cols = sh.with_friend(data[:1], "events", out, ["scores.lstm_score", *sh.CONSTITUENTS])
    (want,) = sh.torch_outputs(nets["lstm"], sh.constituents(cols))
    sh.assert_close(cols["scores.lstm_score"], want[:, 0])


@pytest.mark.parametrize("where", [["--threads", "2"], ["--workers", "2"]],
                         ids=["threads", "dask"])
def test_rntuple_in_and_out(data, models, tmp_path, where):
    # ROOT 6.40 writes the input as an RNTuple; the scores go out as one too, same order
    nets, paths = models
    source = tmp_path / "events_rntuple.root"
    options = ROOT.RDF.RSnapshotOptions()
    options.fOutputFormat = ROOT.RDF.ESnapshotOutputFormat.kRNTuple
    ROOT.RDataFrame("events", str(data[0])).Snapshot(
        "events", str(source), ["id", *sh.VARIABLES], options)
    out = tmp_path / "scored.root"
    proc = score(paths["classifier"], "--input", source, "--tree", "events", "--columns",
                 "px,py,pz,e", "--keep", "id", "--format", "rntuple", "--output", out,
                 *where, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    f = ROOT.TFile.Open(str(out))
    assert str(f.GetKey("scores").GetClassName()) == "ROOT::RNTuple"
    f.Close()
    inputs = ROOT.RDataFrame("events", str(source)).AsNumpy(["id", *sh.VARIABLES])
    scores = ROOT.RDataFrame("scores", str(out)).AsNumpy(["id", "score"])
    assert list(scores["id"]) == list(inputs["id"]) == list(range(ENTRIES // 2))
    (want,) = sh.torch_outputs(nets["classifier"], sh.stack(inputs, sh.VARIABLES))
    sh.assert_close(scores["score"], want[:, 0])
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("model", "columns", "extra", "message"),
    [
        ("classifier", "px,py,pq,e", [], r"error: no column 'pq' in the dataset"),
        ("classifier", "px,py,label,e", [], r"error: not numeric: 'label'"),
        ("broken", "px,py,pz,e", [], r"error: .*not_a_model\.pt"),
        # only the event loop sees this one: the output must not appear all the same
        ("lstm", "ragged,c_eta,c_phi", ["--shape", f"1,{sh.STEPS},{sh.FEATURES}"],
         r"error: .*column 'ragged' has 5 elements in this event"),
        ("classifier", "px,py,pz,e", ["--max-particles", "0", "--workers", "2"],
         r"error: --max-particles must be at least 1, not 0"),
    ],
    ids=["missing-column", "string-column", "not-a-model", "wrong-rvec-length",
         "max-particles-0"],
)
def test_failures_leave_no_output(data, models, tmp_path, model, columns, extra, message):
    _, paths = models
    model_path = paths.get(model, tmp_path / "not_a_model.pt")
    if model == "broken":
        model_path.write_bytes(b"no model here")
    out = tmp_path / "scored.root"
    proc = score(model_path, "--input", data[0], "--tree", "events", "--columns", columns,
                 "--output", out, *extra, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(message, proc.stderr), proc.stderr
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_missing_input_file_and_tree(models, data, tmp_path):
    _, paths = models
    proc = score(paths["classifier"], "--input", tmp_path / "nope.root", "--tree", "events",
                 "--columns", "px,py,pz,e", "--output", tmp_path / "o.root", cwd=tmp_path)
    assert proc.returncode == 1 and "nope.root: no such file" in proc.stderr
    proc = score(paths["classifier"], "--input", data[0], "--tree", "other", "--columns",
                 "px,py,pz,e", "--output", tmp_path / "o.root", cwd=tmp_path)
    assert proc.returncode == 1 and "no tree or RNTuple named 'other'" in proc.stderr
    assert not (tmp_path / "o.root").exists()
