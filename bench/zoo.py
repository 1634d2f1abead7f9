"""The benchmark's model zoo: the models of issue 4, seeded so every run is the same.

Each entry builds an ``nn.Module`` in eval mode and gives the shape of its one input
for a batch size. Every model has one float input and one float output, so that one
C++ driver fits all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

SEED = 1234


@dataclass(frozen=True)
class ZooModel:
    """A zoo entry: a name (a C++ identifier), a builder and the per-event input shape."""

    name: str
    description: str
    build: Callable[[], nn.Module]
    event_shape: tuple[int, ...]  # input shape without the batch dimension

    def shape(self, batch: int) -> list[int]:
        return [batch, *self.event_shape]

    def module(self) -> nn.Module:
        torch.manual_seed(SEED)
        return self.build().eval()

    def example(self, batch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(SEED + batch)
        return torch.randn(self.shape(batch), generator=generator)


class _LastStep(nn.Module):
    """An RNN over (batch, steps, features); the last step's hidden output -> Linear."""

    def __init__(self, cell: type[nn.Module]) -> None:
        super().__init__()
        self.rnn = cell(input_size=10, hidden_size=32, batch_first=True)
        self.head = nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1, :])


class _Residual(nn.Module):
    """A ResNet basic block: conv-BN-ReLU-conv-BN, + identity, ReLU."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        # non-trivial running statistics, so folding BatchNorm is really exercised
        for bn in (self.bn1, self.bn2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 1.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


def _hep_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, 1), nn.Sigmoid())


def _deep_mlp() -> nn.Module:
    layers: list[nn.Module] = [nn.Linear(100, 50), nn.ReLU()]
    for _ in range(8):
        layers += [nn.Linear(50, 50), nn.ReLU()]
    layers.append(nn.Linear(50, 10))
    return nn.Sequential(*layers)


def _cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )


def _conv1d() -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(4, 16, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(16, 16, 3, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(16 * 32, 2),
    )


class _Encoder(nn.Module):
    """A TransformerEncoderLayer with one input (no masks), as a model would call it."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64,
                                                dropout=0.0, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def _mlp_with(activation: Callable[[], nn.Module]) -> nn.Module:
    """An MLP 16-64-64-1 whose hidden activations reach SOFIE as element-wise chains."""
    return nn.Sequential(nn.Linear(16, 64), activation(), nn.Linear(64, 64), activation(),
                         nn.Linear(64, 1))


class _MaskedFill(nn.Module):
    """Linear, then masked_fill and where on masks computed from the data, Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.l1 = nn.Linear(16, 64)
        self.l2 = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.l1(x)
        h = h.masked_fill(h.abs() < 0.1, 0.0)
        h = torch.where(h > 0, h, 0.2 * h)
        return self.l2(h)


class _PreNormBlock(nn.Module):
    """x + Linear(GELU(Linear(LayerNorm(x)))): a transformer-style residual MLP block."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, 2 * width)
        self.down = nn.Linear(2 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.down(nn.functional.gelu(self.up(self.norm(x))))


def _prenorm_mlp() -> nn.Module:
    return nn.Sequential(_PreNormBlock(), _PreNormBlock(), nn.Linear(64, 1))


ZOO: list[ZooModel] = [
    ZooModel("hep_mlp", "MLP 10-64-64-1, ReLU, Sigmoid", _hep_mlp, (10,)),
    ZooModel("deep_mlp", "MLP 100-9x50-10, ReLU", _deep_mlp, (100,)),
    ZooModel("cnn", "CNN on 1x16x16: 2x(conv3x3, ReLU, maxpool), Linear", _cnn, (1, 16, 16)),
    ZooModel("conv1d", "Conv1d on 4x64: 2x(conv, ReLU), maxpool, Linear", _conv1d, (4, 64)),
    ZooModel("lstm", "LSTM 10 features, 20 steps, hidden 32, last step -> Linear",
             lambda: _LastStep(nn.LSTM), (20, 10)),
    ZooModel("gru", "GRU 10 features, 20 steps, hidden 32, last step -> Linear",
             lambda: _LastStep(nn.GRU), (20, 10)),
    ZooModel("transformer", "TransformerEncoderLayer d=32, 4 heads, ff 64, 8 tokens",
             _Encoder, (8, 32)),
    ZooModel("residual", "ResNet basic block, 16 channels, 8x8, BatchNorm", _Residual, (16, 8, 8)),
    # element-wise-heavy models (issue 12): their activations reach SOFIE as node chains
    ZooModel("gelu_mlp", "MLP 16-64-64-1, GELU (erf)", lambda: _mlp_with(nn.GELU), (16,)),
    ZooModel("gelu_tanh_mlp", "MLP 16-64-64-1, GELU (tanh form)",
             lambda: _mlp_with(lambda: nn.GELU(approximate="tanh")), (16,)),
    ZooModel("mish_mlp", "MLP 16-64-64-1, Mish", lambda: _mlp_with(nn.Mish), (16,)),
    ZooModel("softplus_mlp", "MLP 16-64-64-1, Softplus", lambda: _mlp_with(nn.Softplus), (16,)),
    ZooModel("masked_fill", "Linear 16-64, masked_fill and where, Linear 64-1", _MaskedFill,
             (16,)),
    ZooModel("prenorm_mlp", "2 pre-norm residual blocks (LayerNorm, 64-128-64, GELU), Linear",
             _prenorm_mlp, (64,)),
]

BY_NAME = {m.name: m for m in ZOO}
BATCHES = (1, 64)
# The batch-size sweep: per-event cost as the batch grows, for these models.
SWEEP_MODELS = ("hep_mlp", "lstm", "cnn")
SWEEP_BATCHES = (1, 4, 16, 64, 256, 1024)
