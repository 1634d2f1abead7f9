"""The systematic check: every torch.nn layer class (and the torch.nn.functional functions
without a class of their own) that a physicist's model plausibly uses, each through the
three formats a model reaches the converter in: a scripted TorchScript file
(torch.jit.script + torch.jit.save, what TMVA writes), the nn.Module itself, and a
torch.export file (.pt2).

test/python/test_layer_formats.py converts every (layer, format), compiles all the
generated code of one format in one g++ run, compares with Torch, and checks the result
against the expectation written here; tools/operators_table.py writes the same matrix
into docs/operators.md. A layer that cannot convert says why in `reasons`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

FORMATS = ("script", "module", "pt2")


@dataclass(frozen=True)
class Layer:
    covers: str  # the class (and its functional form), as users write them
    build: Callable[[], nn.Module]
    shapes: tuple[tuple[int, ...], ...]  # per input, batch included
    dtypes: tuple[str, ...] = ()
    high: int = 10  # integer inputs are drawn from [0, high)
    # format -> (exception class name, text its message contains): why it cannot convert.
    reasons: dict[str, tuple[str, str]] = field(default_factory=dict)


class Call(nn.Module):
    """Scriptable wrappers for torch.nn.functional calls without a layer class."""


class Normalize(Call):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1)


class OneHot(Call):
    def forward(self, i: torch.Tensor) -> torch.Tensor:
        return F.one_hot(i, 6).float()


class Attention(Call):
    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v)


class CausalAttention(Call):
    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


class First(nn.Module):
    """The first output of a layer that returns a tuple (recurrent layers, attention)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)[0]


class SelfAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x, x, x, need_weights=False)[0]


class Decoder(nn.Module):
    def __init__(self, layers: int = 0) -> None:
        super().__init__()
        layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
        self.decoder = nn.TransformerDecoder(layer, layers) if layers else layer

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        return self.decoder(x, memory)


class Cell(nn.Module):
    """A recurrent cell applied to the first step, with a zero state."""

    def __init__(self, cell: nn.Module) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.cell(x)
        return out if isinstance(out, torch.Tensor) else out[0]


def _encoder(layers: int = 0) -> nn.Module:
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False) if layers else layer


def _transformer() -> nn.Module:
    return nn.Transformer(8, 2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16,
                          dropout=0.0, batch_first=True)


def _bag() -> nn.Module:
    return nn.EmbeddingBag(10, 4, mode="mean")


X2 = ((2, 6),)
X3 = ((2, 3, 8),)
X4 = ((2, 3, 6, 6),)
X5 = ((1, 2, 4, 4, 4),)

LAYERS: dict[str, Layer] = {
    # Linear and utilities
    "Linear": Layer("nn.Linear / F.linear", lambda: nn.Linear(6, 4), X2),
    "Bilinear": Layer("nn.Bilinear / F.bilinear", lambda: nn.Bilinear(6, 6, 3), ((2, 6), (2, 6))),
    "Identity": Layer("nn.Identity", nn.Identity, X2),
    "Flatten": Layer("nn.Flatten / torch.flatten", nn.Flatten, X4),
    "Unflatten": Layer("nn.Unflatten", lambda: nn.Unflatten(1, (2, 3)), X2),
    "Dropout": Layer("nn.Dropout / F.dropout (eval)", lambda: nn.Dropout(0.5), X2),
    "Dropout2d": Layer("nn.Dropout1d/2d/3d (eval)", lambda: nn.Dropout2d(0.5), X4),
    "AlphaDropout": Layer("nn.AlphaDropout (eval)", lambda: nn.AlphaDropout(0.5), X2),
    "normalize": Layer("F.normalize", Normalize, X2),
    "one_hot": Layer("F.one_hot (int64 input)", OneHot, ((2, 5),), dtypes=("int64",), high=6),
    "CosineSimilarity": Layer("nn.CosineSimilarity / F.cosine_similarity", nn.CosineSimilarity,
                              ((2, 6), (2, 6))),
    "PairwiseDistance": Layer("nn.PairwiseDistance / F.pairwise_distance", nn.PairwiseDistance,
                              ((2, 6), (2, 6))),
    # Activations
    **{name: Layer(f"nn.{name} / F.{fn}", make, X2) for name, fn, make in [
        ("ReLU", "relu", nn.ReLU), ("ReLU6", "relu6", nn.ReLU6),
        ("LeakyReLU", "leaky_relu", lambda: nn.LeakyReLU(0.1)), ("PReLU", "prelu", nn.PReLU),
        ("RReLU", "rrelu (eval)", nn.RReLU), ("ELU", "elu", nn.ELU), ("CELU", "celu", nn.CELU),
        ("SELU", "selu", nn.SELU), ("GELU", "gelu", nn.GELU), ("SiLU", "silu", nn.SiLU),
        ("Mish", "mish", nn.Mish), ("Sigmoid", "sigmoid", nn.Sigmoid), ("Tanh", "tanh", nn.Tanh),
        ("Hardtanh", "hardtanh", nn.Hardtanh), ("Hardsigmoid", "hardsigmoid", nn.Hardsigmoid),
        ("Hardswish", "hardswish", nn.Hardswish), ("Hardshrink", "hardshrink", nn.Hardshrink),
        ("Softshrink", "softshrink", nn.Softshrink), ("Tanhshrink", "tanhshrink", nn.Tanhshrink),
        ("Threshold", "threshold", lambda: nn.Threshold(0.1, 2.0)),
        ("Softplus", "softplus", nn.Softplus), ("Softsign", "softsign", nn.Softsign),
        ("LogSigmoid", "logsigmoid", nn.LogSigmoid), ("GLU", "glu", nn.GLU),
        ("Softmax", "softmax", lambda: nn.Softmax(dim=1)),
        ("Softmin", "softmin", lambda: nn.Softmin(dim=1)),
        ("LogSoftmax", "log_softmax", lambda: nn.LogSoftmax(dim=1)),
    ]},
    "Softmax2d": Layer("nn.Softmax2d", nn.Softmax2d, X4),
    # Convolution
    "Conv1d": Layer("nn.Conv1d / F.conv1d", lambda: nn.Conv1d(3, 4, 3, padding=1), X3),
    "Conv2d": Layer("nn.Conv2d / F.conv2d", lambda: nn.Conv2d(3, 4, 3, padding=1), X4),
    "Conv3d": Layer("nn.Conv3d / F.conv3d", lambda: nn.Conv3d(2, 3, 3, padding=1), X5),
    "ConvTranspose1d": Layer("nn.ConvTranspose1d", lambda: nn.ConvTranspose1d(3, 2, 3, stride=2),
                             X3),
    "ConvTranspose2d": Layer("nn.ConvTranspose2d", lambda: nn.ConvTranspose2d(3, 2, 3, stride=2),
                             X4),
    "ConvTranspose3d": Layer("nn.ConvTranspose3d", lambda: nn.ConvTranspose3d(2, 2, 3), X5,
                             reasons=dict.fromkeys(FORMATS, (
                                 "GenerationError", "SOFIE 3D Conv Transpose not yet supported"))),
    "Unfold": Layer("nn.Unfold / F.unfold", lambda: nn.Unfold(3), X4),
    "Fold": Layer("nn.Fold / F.fold", lambda: nn.Fold((4, 4), 2), ((2, 12, 9),)),
    # Pooling
    "MaxPool1d": Layer("nn.MaxPool1d", lambda: nn.MaxPool1d(2), X3),
    "MaxPool2d": Layer("nn.MaxPool2d", lambda: nn.MaxPool2d(2), X4),
    "MaxPool3d": Layer("nn.MaxPool3d", lambda: nn.MaxPool3d(2), X5),
    "AvgPool1d": Layer("nn.AvgPool1d", lambda: nn.AvgPool1d(2), X3),
    "AvgPool2d": Layer("nn.AvgPool2d", lambda: nn.AvgPool2d(2), X4),
    "AvgPool3d": Layer("nn.AvgPool3d", lambda: nn.AvgPool3d(2), X5),
    "LPPool2d": Layer("nn.LPPool1d/2d", lambda: nn.LPPool2d(2, 2), X4),
    "AdaptiveAvgPool1d": Layer("nn.AdaptiveAvgPool1d", lambda: nn.AdaptiveAvgPool1d(4), X3),
    "AdaptiveAvgPool2d": Layer("nn.AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d(1), X4),
    "AdaptiveAvgPool3d": Layer("nn.AdaptiveAvgPool3d", lambda: nn.AdaptiveAvgPool3d(1), X5),
    "AdaptiveMaxPool1d": Layer("nn.AdaptiveMaxPool1d", lambda: nn.AdaptiveMaxPool1d(4), X3),
    "AdaptiveMaxPool2d": Layer("nn.AdaptiveMaxPool2d", lambda: nn.AdaptiveMaxPool2d(1), X4),
    # Padding
    "ZeroPad2d": Layer("nn.ZeroPad1d/2d/3d", lambda: nn.ZeroPad2d(1), X4),
    "ConstantPad1d": Layer("nn.ConstantPad1d/2d/3d / F.pad", lambda: nn.ConstantPad1d(2, 0.5), X3),
    "ReflectionPad1d": Layer("nn.ReflectionPad1d", lambda: nn.ReflectionPad1d(2), X3),
    "ReflectionPad2d": Layer("nn.ReflectionPad2d", lambda: nn.ReflectionPad2d(2), X4),
    "ReflectionPad3d": Layer("nn.ReflectionPad3d", lambda: nn.ReflectionPad3d(1), X5),
    "ReplicationPad1d": Layer("nn.ReplicationPad1d", lambda: nn.ReplicationPad1d(2), X3),
    "ReplicationPad2d": Layer("nn.ReplicationPad2d", lambda: nn.ReplicationPad2d(2), X4),
    "ReplicationPad3d": Layer("nn.ReplicationPad3d", lambda: nn.ReplicationPad3d(1), X5),
    "CircularPad2d": Layer("nn.CircularPad1d/2d/3d", lambda: nn.CircularPad2d(1), X4),
    # Normalization
    "BatchNorm1d": Layer("nn.BatchNorm1d", lambda: nn.BatchNorm1d(6), X2),
    "BatchNorm2d": Layer("nn.BatchNorm2d", lambda: nn.BatchNorm2d(3), X4),
    "BatchNorm3d": Layer("nn.BatchNorm3d", lambda: nn.BatchNorm3d(2), X5),
    "LayerNorm": Layer("nn.LayerNorm / F.layer_norm", lambda: nn.LayerNorm(8), X3),
    "GroupNorm": Layer("nn.GroupNorm / F.group_norm", lambda: nn.GroupNorm(1, 3), X4),
    "InstanceNorm1d": Layer("nn.InstanceNorm1d", lambda: nn.InstanceNorm1d(3, affine=True), X3),
    "InstanceNorm2d": Layer("nn.InstanceNorm2d", lambda: nn.InstanceNorm2d(3, affine=True), X4),
    "InstanceNorm3d": Layer("nn.InstanceNorm3d", lambda: nn.InstanceNorm3d(2, affine=True), X5),
    "LocalResponseNorm": Layer("nn.LocalResponseNorm", lambda: nn.LocalResponseNorm(2), X4),
    "RMSNorm": Layer("nn.RMSNorm / F.rms_norm", lambda: nn.RMSNorm(8), X3),
    # Recurrent
    "RNN": Layer("nn.RNN", lambda: First(nn.RNN(8, 5, batch_first=True)), X3),
    "LSTM": Layer("nn.LSTM", lambda: First(nn.LSTM(8, 5, batch_first=True)), X3),
    "GRU": Layer("nn.GRU", lambda: First(nn.GRU(8, 5, batch_first=True)), X3),
    "RNNCell": Layer("nn.RNNCell", lambda: Cell(nn.RNNCell(6, 4)), X2),
    "LSTMCell": Layer("nn.LSTMCell", lambda: Cell(nn.LSTMCell(6, 4)), X2),
    "GRUCell": Layer("nn.GRUCell", lambda: Cell(nn.GRUCell(6, 4)), X2),
    # Attention and transformers
    "MultiheadAttention": Layer("nn.MultiheadAttention", SelfAttention, X3),
    "scaled_dot_product_attention": Layer("F.scaled_dot_product_attention", Attention,
                                          ((2, 2, 4, 8),) * 3),
    "sdpa_causal": Layer("F.scaled_dot_product_attention(is_causal=True)", CausalAttention,
                         ((2, 2, 4, 8),) * 3),
    "TransformerEncoderLayer": Layer("nn.TransformerEncoderLayer", _encoder, X3),
    "TransformerEncoder": Layer("nn.TransformerEncoder (2 layers)", lambda: _encoder(2), X3),
    "TransformerDecoderLayer": Layer("nn.TransformerDecoderLayer", Decoder, ((2, 3, 8), (2, 4, 8))),
    "TransformerDecoder": Layer("nn.TransformerDecoder (2 layers)", lambda: Decoder(2),
                                ((2, 3, 8), (2, 4, 8))),
    "Transformer": Layer("nn.Transformer", _transformer, ((2, 4, 8), (2, 3, 8))),
    # Embedding
    "Embedding": Layer("nn.Embedding / F.embedding", lambda: nn.Embedding(10, 4), ((2, 5),),
                       dtypes=("int64",)),
    # torch's exporter writes the bags as a Loop over the offsets, whose count is a value.
    "EmbeddingBag": Layer("nn.EmbeddingBag(mode='mean')", _bag, ((2, 5),), dtypes=("int64",),
                          reasons=dict.fromkeys(FORMATS, (
                              "TracingError", "data-dependent control flow (Loop"))),
    # Vision
    "PixelShuffle": Layer("nn.PixelShuffle / F.pixel_shuffle", lambda: nn.PixelShuffle(2),
                          ((2, 8, 3, 3),)),
    "PixelUnshuffle": Layer("nn.PixelUnshuffle / F.pixel_unshuffle", lambda: nn.PixelUnshuffle(2),
                            X4),
    "ChannelShuffle": Layer("nn.ChannelShuffle / F.channel_shuffle", lambda: nn.ChannelShuffle(3),
                            ((2, 6, 3, 3),)),
    "UpsamplingNearest2d": Layer("nn.UpsamplingNearest2d / nn.Upsample / F.interpolate",
                                 lambda: nn.UpsamplingNearest2d(scale_factor=2), X4),
    "UpsamplingBilinear2d": Layer("nn.UpsamplingBilinear2d (align_corners=True)",
                                  lambda: nn.UpsamplingBilinear2d(scale_factor=2), X4),
    "Upsample_bicubic": Layer("nn.Upsample(mode='bicubic')",
                              lambda: nn.Upsample(scale_factor=2, mode="bicubic"), X4),
}
