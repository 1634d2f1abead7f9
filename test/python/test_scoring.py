"""sofie_pytorch.rdf.define on a local RDataFrame: every input and output form of the
issue, single-threaded and with EnableImplicitMT(2), each entry compared with Torch on
the values RDataFrame read; bad input refused before the event loop.

The models are converted once per module and each scorer is compiled once (define()
caches it per conversion and column layout)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scoring_helpers as sh

warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
import ROOT  # noqa: E402
import sofie_pytorch  # noqa: E402
from sofie_pytorch import rdf  # noqa: E402
from sofie_pytorch.running import sharedlib  # noqa: E402

ENTRIES = 1200


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("scoring")


@pytest.fixture(scope="module")
def data(workdir):
    return sh.write_events(workdir / "events.root", ENTRIES)


@pytest.fixture(scope="module")
def models():
    return sh.models()


@pytest.fixture(scope="module")
def converted(models, workdir):
    shapes = {"classifier": [[1, 4]], "three": [[1, 4]], "two_inputs": [[1, 3], [1, 2]],
              "lstm": [[1, sh.STEPS, sh.FEATURES]], "tensors": [[1, 4]]}
    return {name: sofie_pytorch.convert(m, workdir / name, shapes[name])
            for name, m in models.items()}


threads = sh.threads  # the fixture: 1 thread, then EnableImplicitMT(2)


def frame(data):
    return ROOT.RDataFrame("events", str(data))


def test_classifier_gives_a_float_column(converted, models, data, threads):
    df = frame(data)
    assert df.GetNSlots() == threads
    scored = rdf.define(df, "score", converted["classifier"], sh.VARIABLES)
    assert str(scored.GetColumnType("score")) == "float"
    cols = scored.AsNumpy(["score", *sh.VARIABLES])
    assert len(cols["score"]) == ENTRIES
    (want,) = sh.torch_outputs(models["classifier"], sh.stack(cols, sh.VARIABLES))
    sh.assert_close(cols["score"], want[:, 0])


def test_any_arithmetic_column_type_is_cast(converted, models, data, threads):
    # double, int, bool and float columns fill one float input, in order
    columns = ["d", "n", "flag", "px"]
    scored = rdf.define(frame(data), "score", converted["classifier"], columns)
    cols = scored.AsNumpy(["score", *columns])
    (want,) = sh.torch_outputs(models["classifier"], sh.stack(cols, columns))
    assert len(cols["score"]) == ENTRIES
    sh.assert_close(cols["score"], want[:, 0])


def test_three_outputs_as_one_rvec_or_three_columns(converted, models, data, threads):
    df = frame(data)
    vec = rdf.define(df, "probs", converted["three"], sh.VARIABLES)
    assert "RVec<float>" in str(vec.GetColumnType("probs"))
    named = rdf.define(vec, ["p0", "p1", "p2"], converted["three"], sh.VARIABLES)
    cols = named.AsNumpy(["probs", "p0", "p1", "p2", *sh.VARIABLES])
    (want,) = sh.torch_outputs(models["three"], sh.stack(cols, sh.VARIABLES))
    assert len(cols["probs"]) == ENTRIES
    sh.assert_close(np.stack([np.asarray(v) for v in cols["probs"]]), want)
    for k in range(3):
        assert str(named.GetColumnType(f"p{k}")) == "float"
        sh.assert_close(cols[f"p{k}"], want[:, k])


def test_several_output_tensors_one_column_each(converted, models, data, threads):
    # a score (float), 3 probabilities (RVec<float>) and an int64 argmax (as float); and
    # the same 5 values as 5 named float columns
    df = frame(data)
    tensors = rdf.define(df, ["sig", "probs", "best"], converted["tensors"], sh.VARIABLES)
    values = rdf.define(tensors, ["v0", "v1", "v2", "v3", "v4"], converted["tensors"],
                        sh.VARIABLES)
    assert [str(values.GetColumnType(c)) for c in ("sig", "best", "v1", "v4")] == ["float"] * 4
    assert "RVec<float>" in str(values.GetColumnType("probs"))
    cols = values.AsNumpy(["sig", "probs", "best", "v0", "v1", "v2", "v3", "v4",
                           *sh.VARIABLES])
    sig, probs, best = sh.torch_outputs(models["tensors"], sh.stack(cols, sh.VARIABLES))
    assert len(cols["sig"]) == ENTRIES
    sh.assert_close(cols["sig"], sig[:, 0])
    sh.assert_close(np.stack([np.asarray(v) for v in cols["probs"]]), probs)
    sh.assert_close(cols["best"], best[:, 0])
    want = np.concatenate([sig, probs, best], axis=1)
    for k in range(5):
        sh.assert_close(cols[f"v{k}"], want[:, k])


def test_two_input_tensors(converted, models, data, threads):
    groups = [["px", "py", "pz"], ["e", "d"]]
    scored = rdf.define(frame(data), "score", converted["two_inputs"], groups)
    cols = scored.AsNumpy(["score", "px", "py", "pz", "e", "d"])
    (want,) = sh.torch_outputs(models["two_inputs"], sh.stack(cols, groups[0]),
                               sh.stack(cols, groups[1]))
    assert len(cols["score"]) == ENTRIES
    sh.assert_close(cols["score"], want[:, 0])


def test_lstm_over_rvec_feature_columns(converted, models, data, threads):
    scored = rdf.define(frame(data), "score", converted["lstm"], sh.CONSTITUENTS)
    cols = scored.AsNumpy(["score", *sh.CONSTITUENTS])
    (want,) = sh.torch_outputs(models["lstm"], sh.constituents(cols))
    assert len(cols["score"]) == ENTRIES
    sh.assert_close(cols["score"], want[:, 0])


def test_lstm_over_one_flat_rvec_column(converted, models, data):
    # one RVec<double> of 18 values fills the (6, 3) input row by row
    scored = rdf.define(frame(data), "score", converted["lstm"], ["flat"])
    cols = scored.AsNumpy(["score", "flat"])
    x = np.stack([np.asarray(v, dtype=np.float32) for v in cols["flat"]])
    (want,) = sh.torch_outputs(models["lstm"], x.reshape(-1, sh.STEPS, sh.FEATURES))
    sh.assert_close(cols["score"], want[:, 0])


def test_model_from_a_file_and_from_a_module(models, data, tmp_path):
    import torch

    path = tmp_path / "classifier.pt"
    torch.jit.save(torch.jit.script(models["classifier"]), str(path))
    df = frame(data)
    from_file = rdf.define(df, "a", str(path), sh.VARIABLES)
    both = rdf.define(from_file, "b", models["classifier"], sh.VARIABLES)
    cols = both.AsNumpy(["a", "b", *sh.VARIABLES])
    (want,) = sh.torch_outputs(models["classifier"], sh.stack(cols, sh.VARIABLES))
    sh.assert_close(cols["a"], want[:, 0])
    sh.assert_close(cols["b"], want[:, 0])


def scorers_of(conversion):
    return {s.march: s for model, s in rdf._cache.values() if model is conversion}


def test_local_scorers_use_this_cpu_and_another_on_request(converted, models, data):
    # define() compiles for this machine (-march=native, which g++ records as the CPU's
    # name); march= picks another target, a library of its own, in the same event loop
    df = frame(data)
    native = rdf.define(df, "native", converted["classifier"], sh.VARIABLES)
    both = rdf.define(native, "portable", converted["classifier"], sh.VARIABLES,
                      march="x86-64-v2")
    cols = both.AsNumpy(["native", "portable", *sh.VARIABLES])
    (want,) = sh.torch_outputs(models["classifier"], sh.stack(cols, sh.VARIABLES))
    assert len(cols["native"]) == ENTRIES
    sh.assert_close(cols["native"], want[:, 0])
    sh.assert_close(cols["portable"], want[:, 0])
    scorers = scorers_of(converted["classifier"])
    assert sh.recorded_march(scorers["x86-64-v2"].library) == "x86-64-v2"
    cpu = sh.recorded_march(scorers[sharedlib.NATIVE].library)
    assert cpu not in ("native", "x86-64-v2"), cpu
    assert scorers["x86-64-v2"].directory != scorers[sharedlib.NATIVE].directory


def test_a_bad_march_is_refused_before_anything_is_compiled(converted, data):
    with pytest.raises(sharedlib.CompileError, match=r"refused -march=pentium9000: .*bad value"):
        rdf.define(frame(data), "s", converted["classifier"], sh.VARIABLES,
                   march="pentium9000")
    with pytest.raises(sharedlib.CompileError, match=r"not a CPU name for g\+\+'s -march"):
        rdf.define(frame(data), "s", converted["classifier"], sh.VARIABLES,
                   march="native -o /tmp/x")


def test_a_conversion_is_compiled_once(converted, data):
    before = len(rdf._cache)
    rdf.define(frame(data), "s1", converted["classifier"], sh.VARIABLES)
    rdf.define(frame(data), "s2", converted["classifier"], sh.VARIABLES)
    assert len(rdf._cache) - before <= 1


# ---- errors, all before the event loop unless only the events can tell


def test_missing_and_non_numeric_columns_are_named_together(converted, data):
    with pytest.raises(rdf.ColumnError, match=r"no column 'pq'.*not numeric: 'label'"):
        rdf.define(frame(data), "score", converted["classifier"], ["px", "pq", "label", "e"])


def test_wrong_number_of_columns(converted, data):
    with pytest.raises(rdf.ColumnError, match=r"takes 4 values per event.*3 scalar column"):
        rdf.define(frame(data), "score", converted["classifier"], ["px", "py", "pz"])


def test_wrong_number_of_input_lists(converted, data):
    with pytest.raises(rdf.ColumnError, match=r"takes 2 input\(s\) \(.*\), 1 column list"):
        rdf.define(frame(data), "score", converted["two_inputs"], ["px", "py", "pz"])


def test_array_columns_without_shapes_are_refused(models, data):
    with pytest.raises(rdf.ColumnError, match="need the model's input shapes"):
        rdf.define(frame(data), "score", models["lstm"], sh.CONSTITUENTS)


def test_wrong_feature_count_for_array_columns(converted, data):
    with pytest.raises(rdf.ColumnError, match=r"2 array columns .* last axis, which has 3"):
        rdf.define(frame(data), "score", converted["lstm"], ["c_pt", "c_eta"])


def test_bad_output_names(converted, data):
    with pytest.raises(sofie_pytorch.InputSpecError, match=r"give 1 name .* 1 .* or 3"):
        rdf.define(frame(data), ["a", "b"], converted["three"], sh.VARIABLES)
    with pytest.raises(sofie_pytorch.InputSpecError, match="exists already"):
        rdf.define(frame(data), "px", converted["classifier"], sh.VARIABLES)
    with pytest.raises(sofie_pytorch.InputSpecError, match="not a valid C\\+\\+ identifier"):
        rdf.define(frame(data), 'x"); gSystem->Exec("touch PWNED', converted["classifier"],
                   sh.VARIABLES)


def test_a_model_that_does_not_convert(data, tmp_path):
    bad = tmp_path / "not_a_model.pt"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(sofie_pytorch.ModelLoadError):
        rdf.define(frame(data), "score", bad, sh.VARIABLES)


def test_wrong_rvec_length_names_the_column_in_the_event_loop(converted, data):
    scored = rdf.define(frame(data), "score", converted["lstm"], ["ragged", "c_eta", "c_phi"])
    with pytest.raises(Exception, match=r"column 'ragged' has 5 elements in this event, the "
                                        r"model takes 6 per event"):
        scored.Sum("score").GetValue()


def test_hostile_column_names_are_data(converted, tmp_path, models):
    # a branch whose name is C++ code reaches RDataFrame as a name only
    path = tmp_path / "odd.root"
    odd = 'a"); gSystem->Exec("touch PWNED'
    df = ROOT.RDataFrame(50).Define("x", "float(rdfentry_) / 50")
    for i in range(4):
        df = df.Define(f"v{i}", f"x * {i + 1}")
    df.Snapshot("events", str(path), ["v0", "v1", "v2", "v3"])
    with pytest.raises(rdf.ColumnError, match="no column"):
        rdf.define(ROOT.RDataFrame("events", str(path)), "s", converted["classifier"],
                   ["v0", "v1", "v2", odd])
    assert not (tmp_path / "PWNED").exists()
