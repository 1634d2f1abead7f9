"""The operator-coverage suite: one small model per PyTorch layer or function and setting.

Every case is converted, compiled with g++ against OpenBLAS, run, and compared with Torch
(test/python/test_coverage.py); tools/operators_table.py turns the same cases into
docs/operators.md. A case that SOFIE's engine cannot take states the error users get.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from layers import First
from torch import nn

Shapes = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Case:
    """One model: its family, what it exercises, how to build it and feed it."""

    family: str
    covers: str  # the PyTorch modules/functions it exercises, as users write them
    build: Callable[[], nn.Module]
    shapes: Shapes
    dtypes: tuple[str, ...] = ()
    # An engine limitation: (exception class name, text the message contains).
    fails: tuple[str, str] | None = None
    # Integer inputs are drawn from [0, high).
    high: int = 10
    # How the model reaches the converter: a traced TorchScript file ("torchscript"), a
    # scripted one ("script"), a torch.export file ("pt2") or the nn.Module itself ("module").
    source: str = "torchscript"
    notes: str = ""
    extra: dict = field(default_factory=dict)


class Fn(nn.Module):
    """A module around a function of the inputs, so one-liners can be cases."""

    def __init__(self, fn: Callable[..., object], *modules: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        self.layers = nn.ModuleList(modules)

    def forward(self, *xs: torch.Tensor) -> object:
        return self.fn(self.layers, *xs)


def fn(f: Callable[..., object], *modules: nn.Module) -> Callable[[], nn.Module]:
    """A builder for Fn(f, modules): the modules are made fresh (seeded) per build."""
    return lambda: Fn(f, *modules)


def seq(*make: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    return lambda: nn.Sequential(*(m() for m in make))


def act(module: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    """An activation after a Linear layer, as it sits in real networks."""
    return lambda: nn.Sequential(nn.Linear(6, 8), module())


CASES: dict[str, Case] = {}


def case(name: str, *args: object, **kwargs: object) -> None:
    CASES[name] = Case(*args, **kwargs)  # type: ignore[arg-type]


# ---- Dense layers and tensor manipulation
case("linear_bias", "dense", "nn.Linear", lambda: nn.Linear(10, 7), ((3, 10),))
case("linear_no_bias", "dense", "nn.Linear(bias=False)", lambda: nn.Linear(10, 7, bias=False), ((3, 10),))
case("linear_3d", "dense", "nn.Linear on (batch, seq, features)", lambda: nn.Linear(5, 4), ((2, 3, 5),))
case("dense_mixed_shapes", "dense",
     "Linear(1, 70), ReLU on (batch, 7, 1); Linear(70, 17); Flatten; Linear(119, 3), batch size -1",
     lambda: nn.Sequential(nn.Linear(1, 70), nn.ReLU(), nn.Linear(70, 17), nn.Flatten(), nn.Linear(119, 3)),
     ((13, 7, 1),), extra={"dynamic_axis": 0})
case("bilinear", "dense", "nn.Bilinear", lambda: nn.Bilinear(4, 3, 5), ((2, 4), (2, 3)))
case("matmul", "dense", "torch.matmul", fn(lambda _, a, b: torch.matmul(a, b)), ((3, 4), (4, 5)))
case("bmm", "dense", "torch.bmm", fn(lambda _, a, b: torch.bmm(a, b)), ((2, 3, 4), (2, 4, 5)))
case("matmul_weight", "dense", "x @ W (constant)", fn(lambda _, a: a @ torch.ones(4, 3) * 0.5), ((2, 4),))
case("identity_dropout", "dense", "nn.Identity, nn.Dropout (eval)",
     seq(lambda: nn.Linear(4, 4), nn.Identity, lambda: nn.Dropout(0.3), nn.ReLU), ((2, 4),))
case("flatten", "dense", "nn.Flatten", seq(nn.Flatten, lambda: nn.Linear(12, 2)), ((2, 3, 4),))
case("unflatten", "dense", "nn.Unflatten", lambda: nn.Unflatten(1, (3, 4)), ((2, 12),))
case("view_reshape", "dense", "Tensor.view, reshape",
     fn(lambda _, x: x.view(2, 6, 2).reshape(4, 6) * 2), ((2, 12),))
case("permute", "dense", "Tensor.permute", fn(lambda _, x: x.permute(2, 0, 1) + 1), ((2, 3, 4),))
case("transpose", "dense", "Tensor.transpose", fn(lambda _, x: x.transpose(1, 2) * 3), ((2, 3, 4),))
case("squeeze_unsqueeze", "dense", "squeeze, unsqueeze",
     fn(lambda _, x: x.squeeze(1).unsqueeze(0) + 1), ((2, 1, 4),))
case("cat", "dense", "torch.cat", fn(lambda _, a, b: torch.cat([a, b], dim=1)), ((2, 3), (2, 5)))
case("stack", "dense", "torch.stack", fn(lambda _, a, b: torch.stack([a, b], dim=1)), ((2, 3), (2, 3)))
case("split", "dense", "torch.split", fn(lambda _, x: tuple(torch.split(x, [2, 4], dim=1))), ((3, 6),))
case("chunk", "dense", "torch.chunk", fn(lambda _, x: tuple(torch.chunk(x, 3, dim=1))), ((2, 6),))
case("slice", "dense", "x[:, 1:5:2], x[..., -1]",
     fn(lambda _, x: (x[:, 1:5:2] * 2, x[..., -1] + 1)), ((3, 6),))
case("index_select_const", "dense", "x[:, [0, 2]]", fn(lambda _, x: x[:, [0, 2]] + 0.5), ((3, 4),))
case("expand", "dense", "Tensor.expand", fn(lambda _, x: x.expand(3, 4) + 1), ((1, 4),))
case("repeat", "dense", "Tensor.repeat", fn(lambda _, x: x.repeat(2, 3)), ((2, 3),))
case("pad_constant", "dense", "F.pad (constant)", fn(lambda _, x: F.pad(x, (1, 2), value=0.5)), ((2, 3),))
case("pad_2d", "dense", "nn.ZeroPad2d", lambda: nn.ZeroPad2d((1, 1, 2, 0)), ((1, 2, 3, 3),))

# ---- Activations
for _name, _make in {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "prelu": lambda: nn.PReLU(), "prelu_channels": lambda: nn.PReLU(8), "elu": lambda: nn.ELU(0.7),
    "celu": lambda: nn.CELU(1.3), "selu": nn.SELU, "gelu": nn.GELU,
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"), "silu": nn.SiLU, "mish": nn.Mish,
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "hardtanh": lambda: nn.Hardtanh(-0.5, 0.8),
    "hardsigmoid": nn.Hardsigmoid, "hardswish": nn.Hardswish, "softplus": nn.Softplus,
    "softplus_beta": lambda: nn.Softplus(beta=2.0, threshold=5.0), "softsign": nn.Softsign,
    "softmax_last": lambda: nn.Softmax(dim=-1), "log_softmax": lambda: nn.LogSoftmax(dim=1),
}.items():
    case(_name, "activation", f"nn.{type(_make()).__name__}", act(_make), ((3, 6),))
case("softmax_axis0", "activation", "nn.Softmax(dim=0) on 3-d", lambda: nn.Softmax(dim=0), ((3, 4, 2),))
case("softmax_axis1_3d", "activation", "nn.Softmax(dim=1) on 3-d", lambda: nn.Softmax(dim=1), ((3, 4, 2),))
case("log_softmax_axis1_3d", "activation", "nn.LogSoftmax(dim=1) on 3-d",
     lambda: nn.LogSoftmax(dim=1), ((2, 5, 3),))
case("clamp", "activation", "torch.clamp", fn(lambda _, x: torch.clamp(x, -0.3, 0.4)), ((3, 5),))
case("clamp_min", "activation", "torch.clamp(min=)", fn(lambda _, x: torch.clamp(x, min=0.1)), ((3, 5),))

# ---- Element-wise arithmetic, broadcasting, scalars
case("add_broadcast", "elementwise", "a + b (broadcast)", fn(lambda _, a, b: a + b), ((2, 3, 4), (3, 1)))
case("sub_mul_div", "elementwise", "a - b, a * b, a / b",
     fn(lambda _, a, b: (a - b) * b / (b.abs() + 1)), ((2, 4), (1, 4)))
case("scalar_ops", "elementwise", "x + 1, 2 * x, x / 3, 1 - x",
     fn(lambda _, x: (1 - (x + 1) * 2 / 3)), ((2, 4),))
case("pow", "elementwise", "torch.pow, x ** 2", fn(lambda _, x: torch.pow(x.abs() + 1, 1.5) + x**2), ((2, 4),))
case("neg_abs", "elementwise", "neg, abs", fn(lambda _, x: -x.abs()), ((2, 4),))
case("sqrt_rsqrt", "elementwise", "sqrt, rsqrt",
     fn(lambda _, x: torch.sqrt(x.abs() + 1) + torch.rsqrt(x.abs() + 1)), ((2, 4),))
case("exp_log", "elementwise", "exp, log, log1p",
     fn(lambda _, x: torch.exp(x) + torch.log(x.abs() + 1) + torch.log1p(x.abs())), ((2, 4),))
case("reciprocal", "elementwise", "reciprocal", fn(lambda _, x: torch.reciprocal(x.abs() + 1)), ((2, 4),))
case("min_max", "elementwise", "torch.minimum, torch.maximum",
     fn(lambda _, a, b: torch.minimum(a, b) + torch.maximum(a, b) * 2), ((2, 4), (2, 4)))
case("where", "elementwise", "torch.where", fn(lambda _, a, b: torch.where(a > b, a, b * 2)), ((2, 4), (2, 4)))
case("comparisons", "elementwise", "<, <=, >, >=, == (as float)",
     fn(lambda _, a, b: (a < b).float() + (a >= b).float() * 2 + (a == a).float()), ((2, 4), (2, 4)))
case("trig", "elementwise", "sin, cos", fn(lambda _, x: torch.sin(x) + torch.cos(x)), ((2, 4),))
case("erf", "elementwise", "torch.erf", fn(lambda _, x: torch.erf(x)), ((2, 4),))

# ---- Reductions
case("mean_axis", "reduction", "mean(dim=1)", fn(lambda _, x: x.mean(dim=1)), ((2, 3, 4),))
case("mean_keepdim", "reduction", "mean(dim=(1, 2), keepdim=True)",
     fn(lambda _, x: x.mean(dim=(1, 2), keepdim=True)), ((2, 3, 4),))
case("sum_axes", "reduction", "sum(dim=(0, 2))", fn(lambda _, x: x.sum(dim=(0, 2))), ((2, 3, 4),))
case("sum_keepdim", "reduction", "sum(dim=-1, keepdim=True)",
     fn(lambda _, x: x.sum(dim=-1, keepdim=True)), ((2, 3, 4),))
case("amax_amin", "reduction", "amax, amin", fn(lambda _, x: x.amax(dim=1) + x.amin(dim=2).sum()), ((2, 3, 4),))
case("prod", "reduction", "prod(dim=1)", fn(lambda _, x: x.prod(dim=1)), ((2, 3, 4),))
case("var_std", "reduction", "var, std", fn(lambda _, x: x.var(dim=1) + x.std(dim=2, keepdim=True).sum(1)),
     ((2, 3, 4),))
case("max_dim", "reduction", "torch.max(x, dim).values", fn(lambda _, x: torch.max(x, dim=1).values), ((2, 5),))

# ---- Convolution and pooling
case("conv1d", "convolution", "nn.Conv1d(stride=2, padding=1)",
     lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), ((2, 3, 10),))
case("conv1d_dynamic_batch", "convolution", "Conv1d, ReLU, Flatten, Linear with batch size -1",
     lambda: nn.Sequential(nn.Conv1d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6, 2)), ((5, 3, 8),),
     extra={"dynamic_axis": 0})
case("conv1d_dilation_nobias", "convolution", "nn.Conv1d(dilation=2, bias=False)",
     lambda: nn.Conv1d(3, 4, 3, dilation=2, bias=False), ((2, 3, 12),))
case("conv2d_same", "convolution", "nn.Conv2d(padding='same')", lambda: nn.Conv2d(2, 3, 3, padding="same"),
     ((1, 2, 6, 6),))
case("conv2d_groups", "convolution", "nn.Conv2d(groups=2)", lambda: nn.Conv2d(4, 6, 3, groups=2),
     ((1, 4, 6, 6),))
case("conv2d_depthwise", "convolution", "nn.Conv2d depthwise (groups=in_channels)",
     lambda: nn.Conv2d(4, 4, 3, padding=1, groups=4), ((2, 4, 5, 5),))
case("conv2d_dilation_stride", "convolution", "nn.Conv2d(stride=2, dilation=2, padding=2)",
     lambda: nn.Conv2d(2, 3, 3, stride=2, dilation=2, padding=2), ((1, 2, 9, 9),))
case("conv3d", "convolution", "nn.Conv3d", lambda: nn.Conv3d(2, 3, 3, padding=1), ((1, 2, 4, 5, 5),))
case("conv2d_stride_pad_nobias", "convolution", "nn.Conv2d((3, 2), stride=(2, 1), padding=(1, 0), bias=False)",
     lambda: nn.Conv2d(3, 5, (3, 2), stride=(2, 1), padding=(1, 0), bias=False), ((3, 3, 7, 6),))
case("conv2d_batch_10", "convolution", "nn.Conv2d, batch 10", lambda: nn.Conv2d(4, 6, 3, padding=1),
     ((10, 4, 16, 16),))
case("conv2d_same_even_kernel", "convolution", "nn.Conv2d((4, 2), padding='same')",
     lambda: nn.Conv2d(2, 3, (4, 2), padding="same"), ((2, 2, 5, 6),))
case("conv2d_1x1_stride_relu", "convolution", "nn.Conv2d(3, 20, 1, stride=2), ReLU",
     lambda: nn.Sequential(nn.Conv2d(3, 20, 1, stride=2), nn.ReLU()), ((2, 3, 9, 9),))
case("conv_transpose1d", "convolution", "nn.ConvTranspose1d",
     lambda: nn.ConvTranspose1d(3, 2, 3, stride=2), ((1, 3, 5),))
case("conv_transpose2d", "convolution", "nn.ConvTranspose2d",
     lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1), ((1, 3, 4, 4),))
case("maxpool1d", "pooling", "nn.MaxPool1d", lambda: nn.MaxPool1d(2), ((2, 3, 8),))
case("maxpool2d", "pooling", "nn.MaxPool2d(3, stride=2, padding=1)",
     lambda: nn.MaxPool2d(3, stride=2, padding=1), ((1, 2, 7, 7),))
case("maxpool2d_ceil", "pooling", "nn.MaxPool2d(ceil_mode=True)", lambda: nn.MaxPool2d(2, ceil_mode=True),
     ((1, 2, 5, 5),))
case("maxpool3d", "pooling", "nn.MaxPool3d", lambda: nn.MaxPool3d(2), ((1, 2, 4, 4, 4),))
case("avgpool1d", "pooling", "nn.AvgPool1d", lambda: nn.AvgPool1d(2), ((2, 3, 8),))
case("avgpool2d", "pooling", "nn.AvgPool2d(count_include_pad=False)",
     lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), ((1, 2, 6, 6),))
case("avgpool2d_pad", "pooling", "nn.AvgPool2d(count_include_pad=True)",
     lambda: nn.AvgPool2d(3, stride=2, padding=1), ((1, 2, 6, 6),))
case("avgpool3d", "pooling", "nn.AvgPool3d", lambda: nn.AvgPool3d(2), ((1, 2, 4, 4, 4),))
case("adaptive_avgpool_global", "pooling", "nn.AdaptiveAvgPool2d(1)",
     seq(lambda: nn.AdaptiveAvgPool2d(1), nn.Flatten), ((2, 3, 5, 5),))
case("adaptive_avgpool_2x2", "pooling", "nn.AdaptiveAvgPool2d(2)", lambda: nn.AdaptiveAvgPool2d(2),
     ((1, 3, 6, 6),))
case("upsample_nearest", "pooling", "nn.Upsample(scale_factor=2, mode='nearest')",
     lambda: nn.Upsample(scale_factor=2, mode="nearest"), ((1, 2, 3, 3),))
case("upsample_nearest_1d", "pooling", "F.interpolate(scale_factor=3, mode='nearest'), 1-d",
     fn(lambda _, x: F.interpolate(x, scale_factor=3, mode="nearest")), ((2, 3, 4),))
case("upsample_bilinear", "pooling", "nn.Upsample(mode='bilinear')",
     lambda: nn.Upsample(scale_factor=2, mode="bilinear"), ((1, 2, 3, 3),))

# ---- Normalization
case("batchnorm1d", "normalization", "nn.BatchNorm1d (eval, not folded)",
     seq(nn.ReLU, lambda: nn.BatchNorm1d(6)), ((4, 6),))
case("batchnorm2d_folded", "normalization", "Conv2d + BatchNorm2d (folded)",
     seq(lambda: nn.Conv2d(2, 3, 3), lambda: nn.BatchNorm2d(3), nn.ReLU), ((2, 2, 5, 5),))
case("batchnorm2d", "normalization", "nn.BatchNorm2d (eval, not folded)",
     seq(nn.ReLU, lambda: nn.BatchNorm2d(3)), ((2, 3, 4, 4),))
case("layernorm", "normalization", "nn.LayerNorm", lambda: nn.LayerNorm(6), ((2, 3, 6),))
case("layernorm_dynamic_batch", "normalization", "Linear, LayerNorm, GELU with batch size -1",
     lambda: nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.GELU()), ((6, 4),), extra={"dynamic_axis": 0})
case("layernorm_2d", "normalization", "nn.LayerNorm([4, 5])", lambda: nn.LayerNorm([4, 5]), ((2, 4, 5),))
case("layernorm_no_affine", "normalization", "nn.LayerNorm(20, elementwise_affine=False)",
     lambda: nn.LayerNorm(20, elementwise_affine=False), ((3, 20),))
case("groupnorm", "normalization", "nn.GroupNorm", lambda: nn.GroupNorm(2, 4), ((2, 4, 3, 3),))
case("instancenorm", "normalization", "nn.InstanceNorm2d(affine=True)",
     lambda: nn.InstanceNorm2d(3, affine=True), ((2, 3, 4, 4),))

# ---- Recurrent
case("rnn_tanh", "recurrent", "nn.RNN(batch_first=True)", fn(lambda m, x: m[0](x)[0], nn.RNN(4, 5, batch_first=True)),
     ((2, 6, 4),))
case("rnn_relu", "recurrent", "nn.RNN(nonlinearity='relu')",
     fn(lambda m, x: m[0](x)[0], nn.RNN(4, 5, nonlinearity="relu")), ((6, 2, 4),))
case("gru", "recurrent", "nn.GRU(batch_first=True)", fn(lambda m, x: m[0](x)[0], nn.GRU(4, 5, batch_first=True)),
     ((2, 6, 4),))
case("lstm", "recurrent", "nn.LSTM", fn(lambda m, x: m[0](x)[0], nn.LSTM(4, 5)), ((6, 2, 4),))
case("lstm_two_layers", "recurrent", "nn.LSTM(num_layers=2, batch_first=True)",
     fn(lambda m, x: m[0](x)[0], nn.LSTM(4, 5, num_layers=2, batch_first=True)), ((2, 6, 4),))
case("lstm_bidirectional", "recurrent", "nn.LSTM(bidirectional=True)",
     fn(lambda m, x: m[0](x)[0], nn.LSTM(4, 5, bidirectional=True, batch_first=True)), ((2, 6, 4),))
case("lstm_dynamic_batch", "recurrent", "nn.LSTM with batch size -1 (chosen at run time)",
     fn(lambda m, x: m[0](x)[0], nn.LSTM(4, 5, batch_first=True)), ((6, 6, 4),), extra={"dynamic_axis": 0})
case("gru_dynamic_batch_last_step", "recurrent", "GRU, last step -> Linear, batch size -1",
     fn(lambda m, x: m[1](m[0](x)[0][:, -1, :]), nn.GRU(4, 5, batch_first=True), nn.Linear(5, 2)), ((3, 6, 4),),
     extra={"dynamic_axis": 0})
case("lstm_bidirectional_dynamic_batch", "recurrent", "nn.LSTM(bidirectional=True), batch size -1",
     fn(lambda m, x: m[0](x)[0], nn.LSTM(4, 3, bidirectional=True, batch_first=True)), ((5, 6, 4),),
     extra={"dynamic_axis": 0})
case("rnn_dynamic_batch", "recurrent", "nn.RNN with batch size -1 (chosen at run time)",
     fn(lambda m, x: m[0](x)[0], nn.RNN(4, 5, batch_first=True)), ((2, 6, 4),), extra={"dynamic_axis": 0})
case("gru_bidirectional_two_layers", "recurrent", "nn.GRU(num_layers=2, bidirectional=True)",
     fn(lambda m, x: m[0](x)[0], nn.GRU(4, 3, num_layers=2, bidirectional=True)), ((5, 2, 4),))
case("lstm_last_step_head", "recurrent", "LSTM, last time step -> Linear",
     fn(lambda m, x: m[1](m[0](x)[0][:, -1, :]), nn.LSTM(10, 8, batch_first=True), nn.Linear(8, 1)),
     ((3, 20, 10),))
case("gru_hidden_head", "recurrent", "GRU final hidden state -> Linear",
     fn(lambda m, x: m[1](m[0](x)[1][-1]), nn.GRU(10, 8, batch_first=True), nn.Linear(8, 2)), ((3, 7, 10),))
# Batches above 4 take the project's sgemm path for the recurrent product (smaller ones
# are loops), and given initial states are read instead of zeros.
case("lstm_batch_8_initial_state", "recurrent", "nn.LSTM(x, (h0, c0)), batch 8, all outputs",
     fn(lambda m, x, h, c: (lambda y, s: (y, s[0], s[1]))(*m[0](x, (h, c))), nn.LSTM(6, 7, batch_first=True)),
     ((8, 5, 6), (1, 8, 7), (1, 8, 7)))
case("gru_batch_8_initial_state", "recurrent", "nn.GRU(x, h0), batch 8",
     fn(lambda m, x, h: m[0](x, h), nn.GRU(6, 7)), ((5, 8, 6), (1, 8, 7)))
case("lstm_no_bias", "recurrent", "nn.LSTM(bias=False)", fn(lambda m, x: m[0](x)[0], nn.LSTM(4, 5, bias=False)),
     ((6, 2, 4),))
case("gru_no_bias", "recurrent", "nn.GRU(bias=False)",
     fn(lambda m, x: m[0](x)[0], nn.GRU(4, 5, bias=False, batch_first=True)), ((2, 6, 4),))

# ---- Attention
def _mha(need_weights: bool) -> Callable[[], nn.Module]:
    return fn(lambda m, x: m[0](x, x, x, need_weights=need_weights)[0],
              nn.MultiheadAttention(8, 2, batch_first=True))


def _encoder() -> nn.Module:
    return nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)


case("multihead_attention", "attention", "nn.MultiheadAttention (self-attention, batch_first), as nn.Module",
     _mha(False), ((2, 5, 8),), source="module")
case("multihead_attention_weights", "attention", "nn.MultiheadAttention(need_weights=True), as .pt2",
     _mha(True), ((2, 5, 8),), source="pt2")
case("multihead_attention_torchscript", "attention", "nn.MultiheadAttention as traced TorchScript",
     _mha(False), ((2, 5, 8),))
case("sdpa", "attention", "F.scaled_dot_product_attention",
     fn(lambda _, q, k, v: F.scaled_dot_product_attention(q, k, v)), ((2, 2, 4, 8), (2, 2, 4, 8), (2, 2, 4, 8)))
case("transformer_encoder_layer", "attention", "nn.TransformerEncoderLayer, as nn.Module",
     _encoder, ((2, 5, 8),), source="module")
case("transformer_encoder_layer_pt2", "attention", "nn.TransformerEncoderLayer, as .pt2",
     _encoder, ((2, 5, 8),), source="pt2")

# ---- Embedding (int64 indices)
case("embedding", "embedding", "nn.Embedding", lambda: nn.Embedding(10, 4), ((2, 5),), dtypes=("int64",))
case("embedding_bag_like", "embedding", "nn.Embedding then mean",
     fn(lambda m, i: m[0](i).mean(dim=1), nn.Embedding(20, 3)), ((3, 4),), dtypes=("int64",), high=20)
case("gather_indices", "embedding", "torch.gather with int64 indices",
     fn(lambda _, x, i: torch.gather(x, 1, i)), ((3, 5), (3, 2)), dtypes=("float", "int64"), high=5)
case("gather_indices_3d", "embedding", "torch.gather(dim=0) on 3-d",
     fn(lambda _, x, i: torch.gather(x, 0, i)), ((4, 3, 2), (2, 3, 2)), dtypes=("float", "int64"), high=4)

# ---- Graph shapes
class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(6, 6), nn.Linear(6, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.fc2(torch.relu(self.fc1(x))))


class PreNorm(nn.Module):
    """x + Linear(GELU(Linear(LayerNorm(x)))): the GELU and the residual Add are applied in
    the dense layers' epilogues."""

    def __init__(self) -> None:
        super().__init__()
        self.norm, self.up, self.down = nn.LayerNorm(20), nn.Linear(20, 40), nn.Linear(40, 20)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.down(nn.functional.gelu(self.up(self.norm(x))))


class Branches(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c = nn.Linear(4, 3), nn.Linear(4, 3), nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        merged = torch.cat([self.a(x) + self.b(x), self.c(x)], dim=1)
        return merged, torch.sigmoid(self.a(x))


class Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.tanh(self.fc(x)))


class ResidualConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 3, 3, padding=1), nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.bn(self.c2(torch.relu(self.c1(x)))))


case("residual", "graph", "skip connection (x + f(x))", Residual, ((2, 6),))
case("residual_conv", "graph", "ResNet-style block", ResidualConv, ((1, 3, 6, 6),))
case("prenorm_block", "graph", "pre-norm residual block (LayerNorm, GELU), batch size -1", PreNorm,
     ((5, 20),), extra={"dynamic_axis": 0})
case("branches_multi_output", "graph", "branches merged by add and cat, two outputs", Branches, ((2, 4),))
case("shared_weights", "graph", "one layer used twice", Shared, ((2, 4),))
case("three_inputs", "graph", "several inputs", fn(lambda _, a, b, c: a * b + c), ((2, 3), (2, 3), (1, 3)))


# ---- Through scripted TorchScript files (torch.jit.script + torch.jit.save, as TMVA saves
# models): each layer at batch 1, and at batch 3 chosen at run time where the layer
# allows one (else fixed). The scripted graphs branch and loop on flags and shapes; the
# converter specialises them on the given shapes.
def scripted(name: str, family: str, covers: str, build: Callable[[], nn.Module],
             shapes: Shapes, dynamic: bool = True, **kwargs: object) -> None:
    """Two cases: NAME (batch 1) and NAME_batch3 (run-time batch, or fixed)."""
    case(name, family, f"{covers}, scripted, batch 1", build,
         tuple((1, *s) for s in shapes), source="script", **kwargs)  # type: ignore[arg-type]
    case(f"{name}_batch3", family,
         f"{covers}, scripted, batch 3" + (" chosen at run time" if dynamic else ""), build,
         tuple((3, *s) for s in shapes), source="script",
         extra={"dynamic_axis": 0} if dynamic else {}, **kwargs)  # type: ignore[arg-type]


class SelfAttention(nn.Module):
    def __init__(self, need_weights: bool) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True)
        self.need_weights = need_weights

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, weights = self.attention(x, x, x, need_weights=self.need_weights)
        return out, (weights if weights is not None else out.sum(-1))


class CausalEncoder(nn.Module):
    """A transformer layer with its causal mask built in forward() from the input's length."""

    def __init__(self, norm_first: bool) -> None:
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                                batch_first=True, norm_first=norm_first)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.size(1)
        mask = torch.triu(torch.full((steps, steps), float("-inf")), diagonal=1)
        return self.layer(x, src_mask=mask)


class ArgExtremes(nn.Module):
    """argmax and argmin (int64 outputs) next to a float output."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        y = self.fc(x)
        return y, torch.argmax(y, dim=1), torch.argmin(y, dim=-1, keepdim=True)


class PadMode(nn.Module):
    def __init__(self, pads: list[int], mode: str) -> None:
        super().__init__()
        self.pads, self.mode = pads, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads, mode=self.mode)


class Bilinear2(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Bilinear(4, 3, 5)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.layer(a, b)


scripted("mha_scripted", "attention", "nn.MultiheadAttention(need_weights=False)",
         lambda: SelfAttention(False), ((5, 8),))
scripted("mha_weights_scripted", "attention", "nn.MultiheadAttention(need_weights=True)",
         lambda: SelfAttention(True), ((5, 8),))
scripted("encoder_causal_scripted", "attention",
         "nn.TransformerEncoderLayer, causal mask built in forward", lambda: CausalEncoder(False),
         ((5, 8),))
scripted("encoder_norm_first_scripted", "attention",
         "nn.TransformerEncoderLayer(norm_first=True), causal mask built in forward",
         lambda: CausalEncoder(True), ((5, 8),))
scripted("encoder_layer_scripted", "attention",
         "nn.TransformerEncoderLayer as the model (optional inputs left out)", _encoder, ((5, 8),))
# (SOFIE 0.1.0's InstanceNormalization, which GroupNorm becomes too, needs every size fixed.)
scripted("groupnorm_scripted", "normalization", "Conv2d, nn.GroupNorm",
         seq(lambda: nn.Conv2d(4, 4, 1), lambda: nn.GroupNorm(2, 4)), ((4, 3, 3),), dynamic=False)
scripted("instancenorm_scripted", "normalization", "nn.InstanceNorm2d(affine=True)",
         lambda: nn.InstanceNorm2d(3, affine=True), ((3, 4, 4),), dynamic=False)
scripted("upsample_bilinear_scripted", "pooling", "nn.Upsample(2, 'bilinear')",
         lambda: nn.Upsample(scale_factor=2, mode="bilinear"), ((2, 3, 4),))
scripted("upsample_bilinear_align_scripted", "pooling",
         "nn.Upsample((5, 7), 'bilinear', align_corners=True)",
         lambda: nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True), ((2, 3, 4),))
scripted("upsample_bicubic_scripted", "pooling", "nn.Upsample(2, 'bicubic')",
         lambda: nn.Upsample(scale_factor=2, mode="bicubic"), ((2, 3, 4),))
scripted("upsample_bicubic_align_scripted", "pooling",
         "nn.Upsample(1.5, 'bicubic', align_corners=True)",
         lambda: nn.Upsample(scale_factor=1.5, mode="bicubic", align_corners=True), ((2, 4, 4),))
scripted("upsample_linear_1d_scripted", "pooling", "nn.Upsample(3, 'linear'), 1-d",
         lambda: nn.Upsample(scale_factor=3, mode="linear"), ((2, 5),))
scripted("argmax_argmin_scripted", "reduction", "torch.argmax, torch.argmin(keepdim=True) (int64)",
         ArgExtremes, ((6,),))
scripted("reflection_pad1d_scripted", "dense", "nn.ReflectionPad1d", lambda: nn.ReflectionPad1d(2),
         ((3, 6),))
scripted("reflection_pad2d_scripted", "dense", "nn.ReflectionPad2d((1, 2, 2, 1))",
         lambda: nn.ReflectionPad2d((1, 2, 2, 1)), ((2, 4, 5),))
scripted("replication_pad2d_scripted", "dense", "nn.ReplicationPad2d", lambda: nn.ReplicationPad2d(2),
         ((2, 3, 4),))
scripted("pad_circular_scripted", "dense", "F.pad(mode='circular')",
         lambda: PadMode([1, 2, 1, 0], "circular"), ((2, 3, 4),))
scripted("pad_reflect_scripted", "dense", "F.pad(mode='reflect'), 3-d input",
         lambda: PadMode([2, 1], "reflect"), ((3, 5),))
scripted("conv_reflect_scripted", "convolution", "nn.Conv2d(padding_mode='reflect')",
         lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), ((2, 5, 5),))
scripted("conv_circular_scripted", "convolution", "nn.Conv1d(padding_mode='circular')",
         lambda: nn.Conv1d(2, 3, 3, padding=1, padding_mode="circular"), ((2, 7),))
scripted("bilinear_scripted", "dense", "nn.Bilinear", Bilinear2, ((4,), (3,)))
scripted("rnn_tanh_scripted", "recurrent", "nn.RNN(batch_first=True)",
         lambda: First(nn.RNN(4, 5, batch_first=True)), ((6, 4),))
scripted("rnn_relu_two_layers_scripted", "recurrent", "nn.RNN(nonlinearity='relu', num_layers=2)",
         lambda: First(nn.RNN(4, 5, num_layers=2, nonlinearity="relu", batch_first=True)),
         ((6, 4),))
scripted("rnn_bidirectional_scripted", "recurrent", "nn.RNN(bidirectional=True)",
         lambda: First(nn.RNN(4, 3, bidirectional=True, batch_first=True)), ((6, 4),))
scripted("gru_bidirectional_scripted", "recurrent", "nn.GRU(bidirectional=True)",
         lambda: First(nn.GRU(4, 3, bidirectional=True, batch_first=True)), ((6, 4),))
scripted("lstm_scripted", "recurrent", "nn.LSTM",
         lambda: First(nn.LSTM(4, 5, batch_first=True)), ((6, 4),))
