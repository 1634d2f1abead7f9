"""Output files are written whole or not at all (sofie_pytorch.output.write_generated).

The C++ function behind it, SOFIE::PyTorch::WriteGenerated, is the same for C++ callers;
test/cpp/EmbeddingTest.cxx checks it from a compiled program.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import ROOT
from helpers import assert_matches_torch, run_jit, save_zoo_model
from sofie_pytorch import OutputError
from sofie_pytorch.output import write_generated

PyTorch = ROOT.TMVA.Experimental.SOFIE.PyTorch


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    d = tmp_path_factory.mktemp("zoo")
    path, inputs, expected = save_zoo_model("sequential_selu", d)
    model = PyTorch.Parse(str(path), [[2, 4]])
    model.Generate()
    return model, inputs, expected


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_writes_header_and_weights_that_match_torch(generated, tmp_path):
    model, inputs, expected = generated
    written = write_generated(model, tmp_path / "sequential_selu.hxx")
    assert written == [tmp_path / "sequential_selu.hxx", tmp_path / "sequential_selu.dat"]
    assert listing(tmp_path) == ["sequential_selu.dat", "sequential_selu.hxx"]  # no leftovers
    assert (tmp_path / "sequential_selu.hxx").read_text() == str(model.ReturnGenerated())
    work = tmp_path / "run"
    work.mkdir()
    got = run_jit(tmp_path / "sequential_selu.hxx", "sequential_selu", inputs, work)
    assert_matches_torch(got, expected)


def test_same_files_as_output_generated(generated, tmp_path):
    model, _, _ = generated
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_generated(model, tmp_path / "a" / "m.hxx")
    model.OutputGenerated(str(tmp_path / "b" / "m.hxx"))
    for name in ("m.hxx", "m.dat"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_replaces_existing_files_whole(generated, tmp_path):
    model, _, _ = generated
    (tmp_path / "m.hxx").write_text("old header")
    (tmp_path / "m.dat").write_text("old weights")
    write_generated(model, tmp_path / "m.hxx")
    assert (tmp_path / "m.hxx").read_text() == str(model.ReturnGenerated())
    assert "old" not in (tmp_path / "m.dat").read_text()
    assert listing(tmp_path) == ["m.dat", "m.hxx"]


def test_missing_directory(generated, tmp_path):
    model, _, _ = generated
    with pytest.raises(OutputError, match=r"No such file or directory.*create the directory"):
        write_generated(model, tmp_path / "missing" / "m.hxx")
    assert listing(tmp_path) == []


def test_directory_that_is_a_file(generated, tmp_path):
    model, _, _ = generated
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"Not a directory|is not a directory"):
        write_generated(model, tmp_path / "file" / "m.hxx")
    assert listing(tmp_path) == ["file"]


def test_not_writable_directory(generated):
    # /proc refuses new files even to root, unlike a chmod'ed directory.
    model, _, _ = generated
    with pytest.raises(OutputError, match="cannot write the generated code there"):
        write_generated(model, "/proc/m.hxx")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory(generated, tmp_path):
    model, _, _ = generated
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="choose a writable directory"):
            write_generated(model, tmp_path / "m.hxx")
    finally:
        tmp_path.chmod(0o755)


def test_header_path_that_is_a_directory(generated, tmp_path):
    model, _, _ = generated
    (tmp_path / "m.hxx").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        write_generated(model, tmp_path / "m.hxx")
    assert listing(tmp_path) == ["m.hxx"]


def test_failure_after_the_header_leaves_nothing(generated, tmp_path):
    # The weight file's final name is a directory: the header, already written to its
    # temporary name, must not appear, and no temporary file may stay behind.
    model, _, _ = generated
    (tmp_path / "m.dat").mkdir()
    with pytest.raises(OutputError, match=r"m\.dat is a directory"):
        write_generated(model, tmp_path / "m.hxx")
    assert listing(tmp_path) == ["m.dat"]
    assert list((tmp_path / "m.dat").iterdir()) == []


def test_model_not_generated(tmp_path):
    path, _, _ = save_zoo_model("sequential_selu", tmp_path)
    model = PyTorch.Parse(str(path), [[2, 4]])
    with pytest.raises(OutputError, match=r"call model.Generate\(\) before"):
        write_generated(model, tmp_path / "m.hxx")
    assert not (tmp_path / "m.hxx").exists()


def test_hostile_output_name(generated, tmp_path):
    model, _, _ = generated
    name = "out'); import os; os.system('touch PWNED') # ü.hxx"
    written = write_generated(model, tmp_path / name)
    assert written[0] == tmp_path / name and written[0].is_file()
    assert not (tmp_path / "PWNED").exists()


def test_directory_named_like_a_header_is_refused(generated, tmp_path):
    # RModel::OutputGenerated would write the weights under a mangled directory name.
    model, _, _ = generated
    (tmp_path / "code.hxx.d").mkdir()
    with pytest.raises(OutputError, match="choose another directory"):
        write_generated(model, tmp_path / "code.hxx.d" / "m.hxx")
    assert listing(tmp_path / "code.hxx.d") == []
