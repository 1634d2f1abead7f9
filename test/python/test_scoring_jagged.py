"""Jagged particle lists (a different number of particles per event) into models with a
padded particle axis and a mask: rdf.define (1 and 2 threads), score_arrays and the
score command (2 threads, and 2 Dask worker processes), every event compared with Torch
on padded tensors built in Python from the same events (sorted by pt, truncated or
refused beyond the model's axis).

Each model is converted once per module; define() and score_arrays share the compiled
scorer of a model and column layout."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import scoring_helpers as sh
import torch

warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
import ROOT  # noqa: E402
import sofie_pytorch  # noqa: E402
from sofie_pytorch import rdf  # noqa: E402
from sofie_pytorch.scoring import columnar  # noqa: E402

ENTRIES = 400
P, F = sh.PARTICLES, len(sh.PARTICLE_FEATURES)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("scoring_jagged")


@pytest.fixture(scope="module")
def data(workdir):
    return sh.write_jets(workdir / "jets.root", ENTRIES)


@pytest.fixture(scope="module")
def events(data):
    return ROOT.RDataFrame("jets", str(data)).AsNumpy(["id", *sh.PARTICLE_FEATURES])


@pytest.fixture(scope="module")
def models():
    return sh.jet_models()


@pytest.fixture(scope="module")
def converted(models, workdir):
    shapes = {"deepsets": [[-1, P, F], [-1, P]], "lstm": [[-1, P, F]],
              "channels_first": [[-1, F, P], [-1, 1, P]]}
    return {name: sofie_pytorch.convert(m, workdir / name, shapes[name], dynamic_batch=True)
            for name, m in models.items()}


threads = sh.threads  # the fixture: 1 thread, then EnableImplicitMT(2)


def awkward_columns(events):
    """The events' particle lists as awkward arrays (what uproot reads)."""
    import awkward as ak

    return {name: ak.Array([np.asarray(v).tolist() for v in events[name]])
            for name in sh.PARTICLE_FEATURES}


def test_deepsets_with_a_mask_sorted_by_pt(converted, models, data, threads):
    scored = rdf.define(ROOT.RDataFrame("jets", str(data)), "score", converted["deepsets"],
                        [sh.PARTICLE_FEATURES, rdf.MASK], particles="truncate",
                        sort_by="j_pt")
    cols = scored.AsNumpy(["id", "score", *sh.PARTICLE_FEATURES])
    assert len(cols["score"]) == ENTRIES
    assert max(len(v) for v in cols["j_pt"]) > P  # some events are truncated
    assert min(len(v) for v in cols["j_pt"]) < P  # and some padded
    x, mask = sh.padded(cols, sh.PARTICLE_FEATURES, sort_by="j_pt")
    (want,) = sh.torch_outputs(models["deepsets"], x, mask)
    sh.assert_close(cols["score"], want[:, 0])


def test_sorting_matters(converted, models, events):
    # the same events unsorted: the LSTM reads its particles in another order
    x_sorted, _ = sh.padded(events, sh.PARTICLE_FEATURES, sort_by="j_pt")
    x_plain, _ = sh.padded(events, sh.PARTICLE_FEATURES)
    got = columnar.score_arrays(converted["lstm"], awkward_columns(events),
                                sh.PARTICLE_FEATURES, particles="truncate")
    (want,) = sh.torch_outputs(models["lstm"], x_plain)
    sh.assert_close(got, want[:, 0])
    (other,) = sh.torch_outputs(models["lstm"], x_sorted)
    assert np.abs(other[:, 0] - want[:, 0]).max() > 1e-3


def test_lstm_over_constituents_in_rdataframe(converted, models, data, threads):
    scored = rdf.define(ROOT.RDataFrame("jets", str(data)), "score", converted["lstm"],
                        sh.PARTICLE_FEATURES, particles="truncate", sort_by="j_pt")
    cols = scored.AsNumpy(["score", *sh.PARTICLE_FEATURES])
    x, _ = sh.padded(cols, sh.PARTICLE_FEATURES, sort_by="j_pt")
    (want,) = sh.torch_outputs(models["lstm"], x)
    sh.assert_close(cols["score"], want[:, 0])


def test_channels_first_with_score_arrays(converted, models, events):
    # (N, features, particles) and a (N, 1, particles) mask, as ParticleNet's inputs;
    # jagged columns as awkward arrays, and as (values, offsets) pairs
    arrays = awkward_columns(events)
    x, mask = sh.padded(events, sh.PARTICLE_FEATURES, sort_by="j_pt", features_last=False)
    (want,) = sh.torch_outputs(models["channels_first"], x, mask[:, None, :])
    got = columnar.score_arrays(converted["channels_first"], arrays,
                                [sh.PARTICLE_FEATURES, rdf.MASK], particles="truncate",
                                sort_by="j_pt")
    assert got.shape == (ENTRIES, 2)
    sh.assert_close(got, want)
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in events["j_pt"]])])
    pairs = {name: (np.concatenate([np.asarray(v) for v in events[name]]), offsets)
             for name in sh.PARTICLE_FEATURES}
    sh.assert_close(columnar.score_arrays(converted["channels_first"], pairs,
                                          [sh.PARTICLE_FEATURES, rdf.MASK],
                                          particles="truncate", sort_by="j_pt"), want)


def test_too_many_particles_are_refused_by_default(converted, events, data):
    with pytest.raises(rdf.ScoringError, match=r"column 'j_pt' has (9|1[0-2]) particles in "
                       r"this event, the model takes at most 8 \(keep the first ones"):
        columnar.score_arrays(converted["deepsets"], awkward_columns(events),
                              [sh.PARTICLE_FEATURES, rdf.MASK])
    scored = rdf.define(ROOT.RDataFrame("jets", str(data)), "score", converted["deepsets"],
                        [sh.PARTICLE_FEATURES, rdf.MASK])
    with pytest.raises(Exception, match=r"has (9|1[0-2]) particles in this event"):
        scored.Sum("score").GetValue()


def test_unequal_particle_lists_are_an_error(converted):
    import awkward as ak

    arrays = {"j_pt": ak.Array([[1.0, 2.0], [3.0]]), "j_eta": ak.Array([[1.0, 2.0], [3.0]]),
              "j_phi": ak.Array([[1.0, 2.0], [3.0, 4.0]])}
    with pytest.raises(rdf.ScoringError, match=r"column 'j_phi' has 2 elements in this "
                       r"event, column 'j_pt' has 1: the particle lists of one event"):
        columnar.score_arrays(converted["lstm"], arrays, sh.PARTICLE_FEATURES,
                              particles="truncate")


@pytest.mark.parametrize(
    ("columns", "options", "message"),
    [
        ([sh.PARTICLE_FEATURES, rdf.MASK], {"particles": "most"},
         r"particles='most': give 'refuse'"),
        ([sh.PARTICLE_FEATURES, rdf.MASK], {"sort_by": "id"},
         r"sort_by='id' must be an array \(RVec\) column"),
        ([sh.PARTICLE_FEATURES, [rdf.MASK, "j_pt"]], {}, r"'@mask' stands alone"),
        ([rdf.MASK, sh.PARTICLE_FEATURES], {},
         r"is a mask \('@mask'\), but no input before it is filled by particle lists"),
        ([sh.PARTICLE_FEATURES[:2], rdf.MASK], {},
         r"2 particle column\(s\) \('j_pt', 'j_eta'\) fill an input of shape"),
    ],
    ids=["bad-overflow", "scalar-sort-column", "mask-with-columns", "mask-first",
         "feature-count"],
)
def test_bad_layouts_are_refused_before_the_loop(converted, data, columns, options, message):
    with pytest.raises(rdf.ColumnError if "particles=" not in message
                       else sofie_pytorch.errors.InputSpecError, match=message):
        rdf.define(ROOT.RDataFrame("jets", str(data)), "score", converted["deepsets"],
                   columns, **options)


@pytest.mark.parametrize("where", [["--threads", "2"], ["--workers", "2"]],
                         ids=["threads", "workers"])
def test_the_score_command_with_particle_lists(converted, models, data, workdir, tmp_path,
                                               where):
    # the columnar path on 2 threads, and distributed RDataFrame on a LocalCluster of 2
    # worker processes that the command starts (and shuts down) itself
    model = workdir / "deepsets.pt"
    torch.jit.save(torch.jit.script(models["deepsets"]), str(model))
    out = tmp_path / "scored.root"
    proc = sh.score_cli(model, "--input", data, "--tree", "jets", "--columns",
                        ",".join(sh.PARTICLE_FEATURES), "--columns", rdf.MASK, "--shape",
                        f"1,{P},{F}", "--shape", f"1,{P}", "--particles", "truncate",
                        "--sort-by", "j_pt", "--output", out, *where, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(rf"scored {ENTRIES} events", proc.stdout)
    cols = sh.with_friend([data], "jets", out, ["scores.score", *sh.PARTICLE_FEATURES])
    x, mask = sh.padded(cols, sh.PARTICLE_FEATURES, sort_by="j_pt")
    (want,) = sh.torch_outputs(models["deepsets"], x, mask)
    sh.assert_close(cols["scores.score"], want[:, 0])
