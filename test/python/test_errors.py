"""Bad input gets a clear error of the right type, and the next parse still works."""

from __future__ import annotations

import pytest
import ROOT
import sofie_pytorch
import torch
from helpers import save_zoo_model
from sofie_pytorch import (
    InputSpecError,
    ModelLoadError,
    TracingError,
    UnsupportedOperatorError,
)
from torch import nn

PyTorch = ROOT.TMVA.Experimental.SOFIE.PyTorch


class Unsupported(nn.Module):
    """Two operators SOFIE has no code for: erfinv and cumprod."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.special.erfinv(torch.tanh(x)) + torch.cumprod(x, 1)


class TwoPlaces(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = Unsupported()
        self.tail = nn.Sequential(nn.Linear(4, 4), Unsupported())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x) + self.tail(x)


@pytest.fixture
def selu_model(tmp_path):
    return save_zoo_model("sequential_selu", tmp_path)[0]


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        PyTorch.Parse(str(tmp_path / "nope.pt"), [[2, 4]])


def test_directory(tmp_path):
    with pytest.raises(ModelLoadError, match="is a directory"):
        PyTorch.Parse(str(tmp_path), [[2, 4]])


def test_empty_file(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="is empty"):
        PyTorch.Parse(str(tmp_path / "empty.pt"), [[2, 4]])


def test_state_dict_explains_how_to_save(tmp_path):
    torch.save(nn.Linear(4, 2).state_dict(), tmp_path / "weights.pt")
    with pytest.raises(ModelLoadError, match=r"state_dict.*torch\.jit\.save"):
        PyTorch.Parse(str(tmp_path / "weights.pt"), [[2, 4]])


def test_too_many_shapes(selu_model):
    with pytest.raises(InputSpecError, match="2 input shapes given, but the model takes 1"):
        PyTorch.Parse(str(selu_model), [[2, 4], [2, 4]])


def test_no_shapes(selu_model):
    with pytest.raises(InputSpecError, match="no input shapes given"):
        PyTorch.Parse(str(selu_model), [])


@pytest.mark.parametrize("shape", [[2, 0], [2, -3], [2, 4.5], [2, "4"]])
def test_bad_dimensions(selu_model, shape):
    with pytest.raises(InputSpecError, match="shape of input 0"):
        PyTorch.Parse(str(selu_model), [shape])


def test_shape_the_model_cannot_take(selu_model):
    with pytest.raises(TracingError, match="shapes cannot be multiplied"):
        PyTorch.Parse(str(selu_model), [[2, 5]])


def test_every_unsupported_operator_is_named_with_its_modules(tmp_path):
    path = tmp_path / "unsupported.pt"
    torch.jit.save(torch.jit.script(TwoPlaces()), str(path))
    with pytest.raises(UnsupportedOperatorError) as info:
        PyTorch.Parse(str(path), [[2, 4]])
    message = str(info.value)
    assert "2 operator(s) SOFIE cannot generate code for" in message
    for expected in ("aten::erfinv x2", "aten::cumprod x2", "head (Unsupported)",
                     "tail.1 (Unsupported)"):
        assert expected in message, message


def test_hostile_file_name_is_only_a_name(tmp_path, monkeypatch, selu_model):
    monkeypatch.chdir(tmp_path)
    hostile = tmp_path / "a'); import os; os.system('touch PWNED') #\".pt"
    hostile.write_bytes(selu_model.read_bytes())
    model = PyTorch.Parse(str(hostile), [[2, 4]])
    assert list(model.GetTensorShape("input")) == [2, 4]
    assert not (tmp_path / "PWNED").exists()


def test_next_parse_after_failures_works(selu_model, tmp_path):
    for bad in (lambda: PyTorch.Parse(str(tmp_path / "nope.pt"), [[2, 4]]),
                lambda: PyTorch.Parse(str(selu_model), [[2, 5]])):
        with pytest.raises(sofie_pytorch.SofiePyTorchError):
            bad()
    assert list(PyTorch.Parse(str(selu_model), [[2, 4]]).GetTensorShape("input")) == [2, 4]
