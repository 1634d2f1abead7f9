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



def _generated(model, directory) -> str:
    """The generated header's text (always written under one name: the header names its
    weight file)."""
    path = directory / "gen.hxx"
    model.Generate()
    model.OutputGenerated(str(path))
    return path.read_text().split("\n", 1)[1]  # the first line holds the time it was written


def test_the_cpp_signatures_own_argument_types_are_accepted(tmp_path):
    """What the C++ header declares, from PyROOT: ETensorType values, a
    std::vector<ETensorType> and a std::vector<std::vector<size_t>> holding kDynamic give
    the same code as the Pythonic spellings (tested against Torch elsewhere)."""
    import torch

    class Lookup(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(10, 3)

        def forward(self, indices: torch.Tensor) -> torch.Tensor:
            return self.embedding(indices)

    torch.manual_seed(0)
    lookup = tmp_path / "lookup.pt"
    torch.jit.save(torch.jit.script(Lookup()), str(lookup))
    ETensorType = ROOT.TMVA.Experimental.SOFIE.ETensorType
    as_names = _generated(PyTorch.Parse(str(lookup), [[2, 3]], ["int64"]), tmp_path)
    for types in (ROOT.std.vector[ETensorType]([ETensorType.INT64]), ETensorType.INT64):
        model = PyTorch.Parse(str(lookup), [[2, 3]], types)
        assert _generated(model, tmp_path) == as_names

    path, _, _ = save_zoo_model("sequential_selu", tmp_path)
    shapes = ROOT.std.vector[ROOT.std.vector["size_t"]]()
    shape = ROOT.std.vector["size_t"]()
    for dim in (PyTorch.kDynamic, 4):
        shape.push_back(dim)
    shapes.push_back(shape)
    from_cpp = _generated(PyTorch.Parse(str(path), shapes), tmp_path)
    assert from_cpp == _generated(PyTorch.Parse(str(path), [[-1, 4]]), tmp_path)
    assert "size_t N" in from_cpp

    with pytest.raises(sofie_pytorch.InputSpecError,
                       match=r"unsupported input dtype 'ETensorType::UINT8': use one of"):
        PyTorch.Parse(str(lookup), [[2, 3]], ROOT.std.vector[ETensorType]([ETensorType.UINT8]))
