"""Model formats (TorchScript, torch.export, in-memory objects), run-time batch size and
input dtypes; every generated model compiled with g++ and compared with Torch."""

from __future__ import annotations

import numpy as np
import pytest
import ROOT
import sofie_pytorch
import torch
from compiled import compile_and_run
from conformance import ATOL, RTOL
from torch import nn

PyTorch = ROOT.TMVA.Experimental.SOFIE.PyTorch


def mlp() -> nn.Module:
    torch.manual_seed(7)
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3), nn.Softmax(dim=1)).eval()


def cnn() -> nn.Module:
    torch.manual_seed(8)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 2)).eval()


class LastStep(nn.Module):
    """LSTM over 6 steps, last step -> Linear: the recurrent classifier of an analysis."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm, self.head = nn.LSTM(5, 8, batch_first=True), nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0][:, -1, :])


def lstm() -> nn.Module:
    torch.manual_seed(9)
    return LastStep().eval()


SHAPES = {mlp: [-1, 5], cnn: [-1, 1, 8, 8], lstm: [-1, 6, 5]}


def generate(model, directory, name):
    model.Generate()
    model.OutputGenerated(str(directory / f"{name}.hxx"))


def torch_out(module: nn.Module, *xs: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return module(*xs).numpy()


def check(got: list[np.ndarray], want: np.ndarray) -> None:
    np.testing.assert_allclose(got[0].reshape(want.shape), want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("how", ["pt2_file", "exported_program", "nn_module", "script_module"])
def test_model_formats(how, tmp_path):
    module = mlp()
    x = torch.randn(4, 5)
    if how == "pt2_file":
        source: object = tmp_path / "model.pt2"
        torch.export.save(torch.export.export(module, (x,)), str(source))
        source = str(source)
    elif how == "exported_program":
        source = torch.export.export(module, (x,))
    elif how == "nn_module":
        source = module
    else:
        source = torch.jit.script(module)
    model = PyTorch.Parse(source, [[4, 5]])
    name = str(model.GetName())
    generate(model, tmp_path, name)
    check(compile_and_run(tmp_path, name, [x.numpy()]), torch_out(module, x))


@pytest.mark.parametrize("build", [mlp, cnn, lstm])
def test_dynamic_batch_one_header_for_batch_1_7_64(build, tmp_path):
    module = build()
    shape = SHAPES[build]
    path = tmp_path / "dyn.pt"
    torch.jit.save(torch.jit.script(module), str(path))
    model = PyTorch.Parse(str(path), [shape])
    generate(model, tmp_path, "dyn")
    header = (tmp_path / "dyn.hxx").read_text()
    assert "infer(size_t N," in header, "the batch size must be an argument of infer()"
    for batch in (1, 7, 64):
        x = torch.randn(batch, *shape[1:], generator=torch.Generator().manual_seed(batch))
        check(compile_and_run(tmp_path, "dyn", [x.numpy()], runtime_sizes=[batch]),
              torch_out(module, x))


def test_dynamic_batch_from_the_python_api(tmp_path):
    module = mlp()
    model = sofie_pytorch.parse(module, example_inputs=[torch.randn(3, 5)], dynamic_batch=True)
    name = str(model.GetName())
    generate(model, tmp_path, name)
    x = torch.randn(9, 5)
    check(compile_and_run(tmp_path, name, [x.numpy()], runtime_sizes=[9]), torch_out(module, x))


def test_double_inputs_get_a_clear_engine_error(tmp_path):
    # SOFIE 0.1.0's operators take float (and integer indices) only: a double model must
    # fail clearly, saying what to do, not produce wrong code.
    module = mlp().double()
    path = tmp_path / "dbl.pt"
    torch.jit.save(torch.jit.script(module), str(path))
    with pytest.raises(sofie_pytorch.SofiePyTorchError, match=r"11 is double.*model\.float\(\)"):
        PyTorch.Parse(str(path), [[4, 5]], ["double"])


def test_int64_indices_with_float_input(tmp_path):
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(6, 4)
            self.fc = nn.Linear(4, 2)

        def forward(self, idx: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.emb(idx).mean(dim=1) * x)

    torch.manual_seed(3)
    module = Mixed().eval()
    idx, x = torch.randint(0, 6, (3, 5)), torch.randn(3, 4)
    path = tmp_path / "mixed.pt"
    torch.jit.save(torch.jit.script(module), str(path))
    model = PyTorch.Parse(str(path), [[3, 5], [3, 4]], ["int64", "float"])
    generate(model, tmp_path, "mixed")
    check(compile_and_run(tmp_path, "mixed", [idx.numpy(), x.numpy()]), torch_out(module, idx, x))


def test_dtype_that_does_not_fit_the_model(tmp_path):
    path = tmp_path / "m.pt"
    torch.jit.save(torch.jit.script(mlp()), str(path))
    expected = r"failed on inputs of shape \[4, 5\].*(Double|double)"
    with pytest.raises(sofie_pytorch.TracingError, match=expected):
        PyTorch.Parse(str(path), [[4, 5]], ["double"])


def test_rank_that_does_not_fit_the_model(tmp_path):
    path = tmp_path / "conv.pt"
    torch.jit.save(torch.jit.script(cnn()), str(path))
    with pytest.raises(sofie_pytorch.TracingError, match=r"failed on inputs of shape \[4, 8, 8\]"):
        PyTorch.Parse(str(path), [[4, 8, 8]])  # Conv2d wants (N, C, H, W) or (C, H, W) with C=1
