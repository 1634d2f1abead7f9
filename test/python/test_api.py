"""The plain Python API: sofie_pytorch.parse and sofie_pytorch.convert."""

from __future__ import annotations

import pytest
import sofie_pytorch
import torch
from cli_models import classifier, save
from helpers import assert_matches_torch, run_jit, save_zoo_model
from sofie_pytorch.api import resolve_inputs
from sofie_pytorch.reader import _shape


def test_shapes_and_dtypes_from_example_inputs(tmp_path):
    path, inputs, _ = save_zoo_model("two_in_two_out", tmp_path)
    model = sofie_pytorch.parse(path, example_inputs=tuple(inputs))
    for name, x in zip(model.GetInputTensorNames(), inputs):
        assert list(model.GetTensorShape(name)) == list(x.shape)
    # the dtypes come from the tensors too, unless given
    shapes, dtypes = resolve_inputs(example_inputs=(torch.zeros(3, 4).double(), torch.ones(2)))
    assert shapes == [[3, 4], [2]] and dtypes == ["torch.float64", "torch.float32"]
    assert resolve_inputs(example_inputs=torch.zeros(1, 2), dtypes="float")[1] == "float"


def test_dynamic_batch_makes_the_first_dimension_a_run_time_size():
    model = sofie_pytorch.parse(classifier(), [[5, 4]], dynamic_batch=True)
    assert _shape(model, "input") == ("N", 4)


def test_shapes_must_come_from_one_place():
    with pytest.raises(sofie_pytorch.InputSpecError, match="not both"):
        sofie_pytorch.parse(classifier(), [[1, 4]], example_inputs=torch.zeros(1, 4))
    with pytest.raises(sofie_pytorch.InputSpecError, match="input shapes are needed"):
        sofie_pytorch.parse(classifier())
    with pytest.raises(sofie_pytorch.InputSpecError, match="not a tensor or array"):
        sofie_pytorch.parse(classifier(), example_inputs=[[1.0, 2.0]])


def test_convert_writes_code_that_matches_torch(tmp_path):
    path, inputs, expected = save_zoo_model("tmva_classifier", tmp_path)
    result = sofie_pytorch.convert(path, tmp_path / "out" / "deep", example_inputs=inputs)
    assert result.header == tmp_path / "out" / "deep" / "tmva_classifier.hxx"
    assert result.weights == result.header.with_suffix(".dat")
    assert result.namespace == "SOFIE_tmva_classifier"
    # only the two files: the scratch directory is gone
    assert sorted(p.name for p in result.header.parent.iterdir()) == [
        "tmva_classifier.dat", "tmva_classifier.hxx"]
    assert_matches_torch(run_jit(result.header, result.name, inputs, tmp_path), expected)


def test_convert_an_in_memory_module_with_a_dynamic_batch(tmp_path):
    module = classifier(seed=5)
    result = sofie_pytorch.convert(module, tmp_path, [[2, 4]], dynamic_batch=True)
    assert "size_t N" in result.header.read_text()  # infer(N, ...) in the generated code
    x = torch.randn(7, 4)
    reader = sofie_pytorch.Reader(module, [[2, 4]], dynamic_batch=True)
    with torch.no_grad():
        assert_matches_torch([reader.Compute(x.numpy())], [module(x).numpy()])


def test_convert_into_a_file_is_an_output_error_and_writes_nothing(tmp_path):
    path = save(classifier(), tmp_path / "m.pt")
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with pytest.raises(sofie_pytorch.OutputError, match="cannot write the generated code"):
        sofie_pytorch.convert(path, blocker, [[1, 4]])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt", "not_a_dir"]
