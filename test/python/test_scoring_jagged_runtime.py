"""Jagged particle lists into a model converted with its particle axis chosen at run time
(-1 there): each event runs at its own number of particles (mask all ones; an event
without particles at one zero particle with mask 0), at most max_particles. Every event
is compared with Torch run on that event alone at that length (rtol 1e-4, atol 1e-5),
through rdf.define (1 and 2 threads), score_arrays (events of equal count batched
together, more than one batch of them) and the score command.

A model that averages over its particle axis without the mask shows that the length is
the event's own: padded to a fixed axis its scores differ.

A channels-first model (a Conv1d with a bias over the run-time particle axis, as
ParticleNet's inputs) runs at each event's own length too: the engine's Conv added its bias
wrongly below max_particles until its bias became a separate Add
(test_run_time_spatial_conv.py has the layer cases)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scoring_helpers as sh
import torch
from torch import nn

warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
import ROOT  # noqa: E402
import sofie_pytorch  # noqa: E402
from sofie_pytorch import rdf  # noqa: E402
from sofie_pytorch.errors import InputSpecError  # noqa: E402
from sofie_pytorch.scoring import columnar, glue  # noqa: E402

ENTRIES = 400
F = len(sh.PARTICLE_FEATURES)
MOST = sh.MAX_IN_DATA  # every event of the file fits


class MeanOverParticles(nn.Module):
    """phi on each particle, averaged over the particle axis (no mask), rho: its score
    depends on the axis' length, so it tells an event's own length from a padded one."""

    def __init__(self) -> None:
        super().__init__()
        self.phi = nn.Linear(F, 8)
        self.rho = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.rho(torch.tanh(self.phi(x)).mean(dim=1)))


class PerParticle(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.phi = nn.Linear(F, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.phi(x)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("scoring_jagged_runtime")


@pytest.fixture(scope="module")
def data(workdir):
    return sh.write_jets(workdir / "jets.root", ENTRIES)


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(23)
    return {"deepsets": sh.DeepSets().eval(), "mean": MeanOverParticles().eval(),
            "channels_first": sh.ChannelsFirst().eval()}


@pytest.fixture(scope="module")
def converted(models, workdir):
    shapes = {"deepsets": [[-1, -1, F], [-1, -1]], "mean": [[-1, -1, F]],
              "channels_first": [[-1, F, -1], [-1, 1, -1]]}
    return {name: sofie_pytorch.convert(m, workdir / name, shapes[name], dynamic_batch=True)
            for name, m in models.items()}


threads = sh.threads  # the fixture: 1 thread, then EnableImplicitMT(2)


def own_length(model, columns, most=MOST, mask=True, sort_by="j_pt"):
    return sh.at_own_length(model, columns, sh.PARTICLE_FEATURES, most, sort_by, mask)


def awkward_arrays(counts, seed):
    import awkward as ak

    rng = np.random.default_rng(seed)
    return {name: ak.Array([rng.normal(size=c).astype(np.float32).tolist() for c in counts])
            for name in sh.PARTICLE_FEATURES}


def test_deepsets_at_each_events_own_length_in_rdataframe(converted, models, data, threads):
    scored = rdf.define(ROOT.RDataFrame("jets", str(data)), "score", converted["deepsets"],
                        [sh.PARTICLE_FEATURES, rdf.MASK], sort_by="j_pt", max_particles=MOST)
    cols = scored.AsNumpy(["score", *sh.PARTICLE_FEATURES])
    lengths = [len(v) for v in cols["j_pt"]]
    assert min(lengths) == 0 and max(lengths) == MOST  # empty events, and the largest
    sh.assert_close(cols["score"], own_length(models["deepsets"], cols))


def test_the_length_is_the_events_own(converted, models, data):
    scored = rdf.define(ROOT.RDataFrame("jets", str(data)), "score", converted["mean"],
                        sh.PARTICLE_FEATURES, particles="truncate", max_particles=MOST)
    cols = scored.AsNumpy(["score", *sh.PARTICLE_FEATURES])
    want = own_length(models["mean"], cols, mask=False, sort_by=None)
    sh.assert_close(cols["score"], want)
    # padded to the largest axis instead, the scores differ: the length matters here
    x, _ = sh.padded(cols, sh.PARTICLE_FEATURES, particles=MOST)
    (padded,) = sh.torch_outputs(models["mean"], x)
    assert np.abs(padded[:, 0] - want).max() > 1e-2


def test_score_arrays_batches_events_of_equal_count(converted, models):
    # 1100 events of 3 or 7 particles (and some of 10, beyond max_particles 8, truncated):
    # more than one batch (glue.BATCH) of each count, outputs back in the events' order
    rng = np.random.default_rng(4)
    counts = rng.choice([3, 7, 10], size=1100, p=[0.45, 0.45, 0.1])
    assert max(np.bincount(counts)) > glue.BATCH
    arrays = awkward_arrays(counts, seed=5)
    for name in ("deepsets", "mean"):
        columns = [sh.PARTICLE_FEATURES, rdf.MASK] if name == "deepsets" else sh.PARTICLE_FEATURES
        got = columnar.score_arrays(converted[name], arrays, columns, sort_by="j_pt",
                                    particles="truncate", max_particles=8)
        want = own_length(models[name], arrays, most=8, mask=name == "deepsets")
        assert got.shape == (len(counts),)
        sh.assert_close(got, want)


def test_channels_first_conv_at_each_events_own_length(converted, models):
    # (N, features, particles) and a (N, 1, particles) mask; lengths 1 to max_particles,
    # each below the size the model's buffers are made for except the last
    counts = np.arange(60) % 9
    arrays = awkward_arrays(counts, seed=7)
    got = columnar.score_arrays(converted["channels_first"], arrays,
                                [sh.PARTICLE_FEATURES, rdf.MASK], sort_by="j_pt",
                                particles="truncate", max_particles=8)
    want = []
    for i, count in enumerate(counts):
        event = {name: [np.asarray(arrays[name][i])] for name in sh.PARTICLE_FEATURES}
        x, mask = sh.padded(event, sh.PARTICLE_FEATURES, particles=min(max(count, 1), 8),
                            sort_by="j_pt", features_last=False)
        (out,) = sh.torch_outputs(models["channels_first"], x, mask[:, None, :])
        want.append(out[0])
    assert got.shape == (len(counts), 2)
    sh.assert_close(got, np.stack(want))


def test_beyond_max_particles_is_refused_by_default(converted, data):
    arrays = awkward_arrays([2, 9, 4], seed=6)
    with pytest.raises(rdf.ScoringError, match=r"column 'j_pt' has 9 particles in this event, "
                       r"the model takes at most 8 \(max_particles, --max-particles; or keep"):
        columnar.score_arrays(converted["deepsets"], arrays, [sh.PARTICLE_FEATURES, rdf.MASK],
                              max_particles=8)
    scored = rdf.define(ROOT.RDataFrame("jets", str(data)), "score", converted["deepsets"],
                        [sh.PARTICLE_FEATURES, rdf.MASK], max_particles=8)
    with pytest.raises(Exception, match=r"has (9|1[0-2]) particles in this event"):
        scored.Sum("score").GetValue()


def test_bad_uses_are_refused_before_the_loop(converted, models, data, workdir):
    def define(model, columns=(sh.PARTICLE_FEATURES, rdf.MASK), **options):
        return rdf.define(ROOT.RDataFrame("jets", str(data)), "score", model, list(columns),
                          particles="truncate", **options)

    with pytest.raises(rdf.ColumnError, match=r"its particle axis \(N1\) is chosen at run "
                       r"time.*give the most an event may have: max_particles="):
        define(converted["deepsets"])
    with pytest.raises(InputSpecError, match=r"max_particles must be a positive integer, "
                       r"not 0"):
        define(converted["deepsets"], max_particles=0)
    fixed = sofie_pytorch.convert(models["deepsets"], workdir / "fixed",
                                  [[-1, sh.PARTICLES, F], [-1, sh.PARTICLES]], dynamic_batch=True)
    with pytest.raises(rdf.ColumnError, match=r"max_particles=12: model input x has a fixed "
                       r"particle axis of 8"):
        define(fixed, max_particles=12)
    torch.manual_seed(1)
    per_particle = sofie_pytorch.convert(PerParticle().eval(), workdir / "per_particle",
                                         [[-1, -1, F]], dynamic_batch=True)
    with pytest.raises(InputSpecError, match=r"a value per particle \(N1\); scoring writes a "
                       r"fixed number of values per event"):
        define(per_particle, columns=sh.PARTICLE_FEATURES, max_particles=12)


def test_the_score_command_at_each_events_own_length(models, data, workdir, tmp_path):
    model = workdir / "deepsets.pt"
    torch.jit.save(torch.jit.script(models["deepsets"]), str(model))
    out = tmp_path / "scored.root"
    proc = sh.score_cli(model, "--input", data, "--tree", "jets", "--columns",
                        ",".join(sh.PARTICLE_FEATURES), "--columns", rdf.MASK, "--shape",
                        f"1,-1,{F}", "--shape", "1,-1", "--max-particles", MOST,
                        "--sort-by", "j_pt", "--output", out, "--threads", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"scored {ENTRIES} events" in proc.stdout
    cols = sh.with_friend([data], "jets", out, ["scores.score", *sh.PARTICLE_FEATURES])
    sh.assert_close(cols["scores.score"], own_length(models["deepsets"], cols))
