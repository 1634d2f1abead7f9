"""The PyROOT entry point: ROOT.TMVA.Experimental.SOFIE.PyTorch.Parse, then cling."""

from __future__ import annotations

import pytest
import ROOT
import sofie_pytorch
import zoo
from helpers import assert_matches_torch, run_jit, save_zoo_model

PyTorch = ROOT.TMVA.Experimental.SOFIE.PyTorch


@pytest.mark.parametrize("name", sorted(zoo.CASES))
def test_generated_code_jitted_by_cling_matches_torch(name, tmp_path):
    path, inputs, expected = save_zoo_model(name, tmp_path)
    model = PyTorch.Parse(str(path), [list(x.shape) for x in inputs])
    model.Generate()
    model.OutputGenerated(str(tmp_path / f"{name}.hxx"))
    assert (tmp_path / f"{name}.dat").exists()
    assert_matches_torch(run_jit(tmp_path / f"{name}.hxx", name, inputs, tmp_path), expected)


def test_the_result_is_the_engines_own_rmodel(tmp_path):
    path, _, _ = save_zoo_model("sequential_selu", tmp_path)
    model = PyTorch.Parse(str(path), ((2, 4),))  # tuples work as well as lists
    assert isinstance(model, ROOT.TMVA.Experimental.SOFIE.RModel)
    assert list(model.GetTensorShape("input")) == [2, 4]
    model.Generate()
    model.PrintRequiredInputTensors()
    model.PrintGenerated()


def test_dtypes_argument(tmp_path):
    path, _, _ = save_zoo_model("sequential_selu", tmp_path)
    model = PyTorch.Parse(str(path), [[2, 4]], ["float"])
    assert list(model.GetTensorShape("input")) == [2, 4]
    with pytest.raises(sofie_pytorch.InputSpecError, match="unsupported input dtype 'complex'"):
        PyTorch.Parse(str(path), [[2, 4]], ["complex"])


def test_python_api_parse(tmp_path):
    path, _, _ = save_zoo_model("tmva_classifier", tmp_path)
    model = sofie_pytorch.parse(path, [[8, 4]])  # a pathlib.Path is accepted
    assert list(model.GetTensorShape("input")) == [8, 4]
