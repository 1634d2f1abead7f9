"""The columnar scoring path: score_arrays on numpy columns (every output form), and
FileJob over several files in many small ranges on 2 threads: the output is a friend of
the input, entry by entry, equal to Torch. One compiled scorer per model and layout,
shared by the tests of the module."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scoring_helpers as sh

warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
import ROOT  # noqa: E402
import sofie_pytorch  # noqa: E402
from sofie_pytorch import rdf  # noqa: E402
from sofie_pytorch.scoring import columnar  # noqa: E402

PER_FILE = 700


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("scoring_columnar")


@pytest.fixture(scope="module")
def files(workdir):
    return [sh.write_events(workdir / f"events_{i}.root", PER_FILE, seed=40 + i,
                            offset=i * PER_FILE, auto_flush=60) for i in range(2)]


@pytest.fixture(scope="module")
def events(files):
    return ROOT.RDataFrame("events", [str(f) for f in files]).AsNumpy(
        ["id", "d", "n", "flag", *sh.VARIABLES])


@pytest.fixture(scope="module")
def models():
    return sh.models()


@pytest.fixture(scope="module")
def converted(models, workdir):
    shapes = {"classifier": [[-1, 4]], "two_inputs": [[-1, 3], [-1, 2]],
              "tensors": [[-1, 4]]}
    return {name: sofie_pytorch.convert(models[name], workdir / name, shape,
                                        dynamic_batch=True)
            for name, shape in shapes.items()}


def test_numpy_columns_of_any_type(converted, models, events):
    # float, double, int and bool columns fill one float input, in order; the batch
    # function runs 256 events at a time, with a partial last batch
    columns = ["px", "d", "n", "flag"]
    got = columnar.score_arrays(converted["classifier"], events, columns)
    assert got.shape == (2 * PER_FILE,) and got.dtype == np.float32
    (want,) = sh.torch_outputs(models["classifier"], sh.stack(events, columns))
    sh.assert_close(got, want[:, 0])


def test_two_inputs_and_three_output_tensors(converted, models, events):
    got = columnar.score_arrays(converted["two_inputs"], events, [["px", "py", "pz"],
                                                                  ["e", "d"]])
    (want,) = sh.torch_outputs(models["two_inputs"], sh.stack(events, ["px", "py", "pz"]),
                               sh.stack(events, ["e", "d"]))
    sh.assert_close(got, want[:, 0])
    score, probs, argmax = columnar.score_arrays(converted["tensors"], events, sh.VARIABLES)
    wants = sh.torch_outputs(models["tensors"], sh.stack(events, sh.VARIABLES))
    assert probs.shape == (2 * PER_FILE, 3)
    sh.assert_close(score, wants[0][:, 0])
    sh.assert_close(probs, wants[1])
    np.testing.assert_array_equal(argmax, wants[2][:, 0].astype(np.float32))


def test_bad_columns_are_named(converted, events):
    with pytest.raises(rdf.ColumnError, match=r"no column 'pq' given"):
        columnar.score_arrays(converted["classifier"], events, ["px", "py", "pq", "e"])
    short = dict(events, e=events["e"][:-1])
    with pytest.raises(rdf.ColumnError, match=r"column 'e' has 1399 events, 'px' 1400"):
        columnar.score_arrays(converted["classifier"], short, sh.VARIABLES)
    # (values, offsets) pairs given by hand: offsets that run backwards are refused
    values = np.arange(6, dtype=np.float32)
    with pytest.raises(rdf.ColumnError, match=r"column 'c': its offsets are not an "
                       r"increasing sequence of positions in its 6 values"):
        columnar.score_arrays(converted["classifier"],
                              {"c": (values, np.array([0, 4, 2, 6]))}, ["c"],
                              input_shapes=[[1, 4]])


@pytest.mark.parametrize("threads", [1, 2])
def test_files_in_many_ranges_keep_the_input_order(converted, models, files, tmp_path,
                                                   threads):
    # ranges of about 100 entries (whole clusters of 60): 7+ ranges per file, up to 4 in
    # flight on 2 threads, written in order
    job = columnar.FileJob(converted["classifier"], files, "events", sh.VARIABLES,
                           keep=["id"])
    out = tmp_path / "scored.root"
    assert job.write(out, threads=threads, range_events=100) == 2 * PER_FILE
    assert len(columnar._ranges(job.datasets[0], job.read_names, 100)) >= 6
    cols = sh.with_friend(files, "events", out, ["id", "scores.id", "scores.score",
                                                 *sh.VARIABLES])
    assert list(cols["scores.id"]) == list(cols["id"]) == list(range(2 * PER_FILE))
    (want,) = sh.torch_outputs(models["classifier"], sh.stack(cols, sh.VARIABLES))
    sh.assert_close(cols["scores.score"], want[:, 0])
