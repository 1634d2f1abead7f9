"""sofie_pytorch.Reader: parse, generate, JIT-compile with cling, Compute in-process."""

from __future__ import annotations

import numpy as np
import pytest
import sofie_pytorch
import torch
from cli_models import classifier
from helpers import assert_matches_torch, save_zoo_model


def test_compute_matches_torch_for_a_model_file(tmp_path):
    path, inputs, expected = save_zoo_model("conv2d_relu", tmp_path)
    reader = sofie_pytorch.Reader(path, [list(x.shape) for x in inputs])
    assert_matches_torch([reader.Compute(*[x.numpy() for x in inputs])], expected)


def test_several_inputs_and_outputs(tmp_path):
    path, inputs, expected = save_zoo_model("two_in_two_out", tmp_path)
    reader = sofie_pytorch.Reader(path, example_inputs=inputs)
    got = reader.Compute(*[x.numpy() for x in inputs])
    assert isinstance(got, list) and len(got) == 2
    assert [g.shape for g in got] == [e.shape for e in expected]
    assert_matches_torch(got, expected)


def test_dynamic_batch_runs_any_batch_size_up_to_max_size():
    module = classifier(seed=2)
    reader = sofie_pytorch.Reader(module, [[1, 4]], dynamic_batch=True, max_size=64)
    for batch in (1, 5, 64):
        x = torch.randn(batch, 4)
        with torch.no_grad():
            assert_matches_torch([reader.Compute(x.numpy())], [module(x).numpy()])
    with pytest.raises(sofie_pytorch.InputSpecError, match="more than max_size=64"):
        reader.Compute(np.zeros((65, 4), np.float32))


def test_two_readers_of_models_with_the_same_name_stay_apart():
    first, second = classifier(seed=1), classifier(seed=9)
    x = torch.randn(2, 4)
    readers = [sofie_pytorch.Reader(m, example_inputs=x) for m in (first, second)]
    assert readers[0].name == readers[1].name == "Sequential"
    with torch.no_grad():
        for reader, module in zip(readers, (first, second)):
            assert_matches_torch([reader.Compute(x.numpy())], [module(x).numpy()])


def test_wrong_inputs_are_input_spec_errors():
    reader = sofie_pytorch.Reader(classifier(), [[2, 4]])
    with pytest.raises(sofie_pytorch.InputSpecError, match=r"shape \[3, 4\] given.*\[2, 4\]"):
        reader.Compute(np.zeros((3, 4), np.float32))
    with pytest.raises(sofie_pytorch.InputSpecError, match="2 input"):
        reader.Compute(np.zeros((2, 4)), np.zeros((2, 4)))
    with pytest.raises(sofie_pytorch.InputSpecError, match="max_size"):
        sofie_pytorch.Reader(classifier(), [[2, 4]], max_size=0)
