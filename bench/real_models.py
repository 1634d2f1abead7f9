"""The benchmark's "real models": models taken unchanged from public packages.

weaver-core's jet taggers (ParticleNet, ParticleTransformer, ParticleNeXt, JetClass
configuration, 128 particles) and torchvision's ResNet-18 and MobileNet-v2, with random
weights and non-trivial BatchNorm statistics (seeded).

Every bench model has one float input (bench/driver.cxx times a Session of one input
and one output), so each tagger runs behind a wrapper that takes its inputs stacked
along the channel axis, (batch, channels, particles), and slices them apart: points
(2), features, [4-vectors (4)], mask (1). Every framework gets the same wrapper. The
example jets are physical: 40 particles with E >= |p|, then zero padding with mask 0.

torchvision 0.28 on PyPI is a CUDA build: its C extension needs libtorch_cuda, and its
package ``__init__`` then fails beside torch's CPU build (it registers fake kernels for
``torchvision::nms`` unconditionally). Its model definitions need none of the C
extension: ``_torchvision_models`` makes the package object without running that
``__init__`` and imports ``torchvision.models`` from the installed files as they are.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

SEED = 4321
PARTICLES = 128  # JetClass
REAL_PARTICLES = 40
PF_FEATURES = 17  # JetClass's particle features


def _torchvision_models() -> object:
    """``torchvision.models`` without running ``torchvision/__init__.py`` (see above)."""
    if "torchvision.models" in sys.modules:
        return sys.modules["torchvision.models"]
    if "torchvision" not in sys.modules:
        spec = importlib.util.find_spec("torchvision")
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError("torchvision is not installed (bench/requirements.txt)")
        sys.modules["torchvision"] = importlib.util.module_from_spec(spec)
    return importlib.import_module("torchvision.models")


def _randomise_batchnorm(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters (as a trained model has)."""
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=generator))
                if m.affine:
                    m.weight.copy_(0.8 + 0.4 * torch.rand(m.num_features, generator=generator))
                    m.bias.copy_(0.1 * torch.randn(m.num_features, generator=generator))
    return module


def physical_jets(batch: int, features: int, vectors: bool,
                  generator: torch.Generator) -> torch.Tensor:
    """(batch, 2 + features [+ 4] + 1, PARTICLES): points, features, [px, py, pz, E], mask."""
    n, p = REAL_PARTICLES, PARTICLES
    points = torch.zeros(batch, 2, p)
    points[:, :, :n] = 0.4 * torch.randn(batch, 2, n, generator=generator)
    fts = torch.zeros(batch, features, p)
    fts[:, :, :n] = torch.randn(batch, features, n, generator=generator)
    mask = torch.zeros(batch, 1, p)
    mask[:, :, :n] = 1.0
    parts = [points, fts]
    if vectors:
        v = torch.zeros(batch, 4, p)
        momentum = 10.0 * torch.randn(batch, 3, n, generator=generator)
        mass = 0.1 + torch.rand(batch, 1, n, generator=generator)
        v[:, :3, :n] = momentum
        v[:, 3:, :n] = torch.sqrt((momentum ** 2).sum(1, keepdim=True) + mass ** 2)
        parts.append(v)
    return torch.cat([*parts, mask], dim=1)


class _Stacked(nn.Module):
    """A weaver tagger behind one input: (batch, 2 + F [+ 4] + 1, particles), sliced apart."""

    def __init__(self, model: nn.Module, features: int, vectors: bool,
                 points: bool = True) -> None:
        super().__init__()
        self.model, self.features, self.vectors, self.points = model, features, vectors, points

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # channels picked by index (Gather): OpenVINO 2026.4 fails on the VariadicSplit it
        # makes of slices or a Split ("Default output not supported")
        sizes = [2, self.features] + ([4] if self.vectors else []) + [1]
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        parts = [x.index_select(1, torch.arange(start, start + size))
                 for start, size in zip(starts, sizes)]
        points, features, mask = parts[0], parts[1], parts[-1]
        if not self.points:  # ParT: features, 4-vectors, mask
            return self.model(features, parts[2], mask)
        if self.vectors:  # ParticleNeXt: points, features, 4-vectors, mask
            return self.model(points, features, parts[2], mask)
        return self.model(points, features, mask)


def _particle_net() -> nn.Module:
    from weaver.nn.model.ParticleNet import ParticleNet

    return ParticleNet(input_dims=PF_FEATURES, num_classes=10,
                       conv_params=[(16, (64, 64, 64)), (16, (128, 128, 128)),
                                    (16, (256, 256, 256))],
                       fc_params=[(256, 0.1)], use_fusion=True, use_fts_bn=True, use_counts=True,
                       for_inference=True)


def _particle_transformer() -> nn.Module:
    from weaver.nn.model.ParticleTransformer import ParticleTransformer

    return ParticleTransformer(input_dim=PF_FEATURES, num_classes=10, pair_input_dim=4,
                               for_inference=True)


def _particle_next() -> nn.Module:
    from weaver.nn.model.ParticleNeXt import ParticleNeXt

    return ParticleNeXt(feature_input_dim=PF_FEATURES, num_classes=10, for_inference=True)


@dataclass(frozen=True)
class RealModel:
    """A real-model entry, with the zoo's interface (bench/zoo.py ZooModel)."""

    name: str
    description: str
    build: Callable[[], nn.Module]
    event_shape: tuple[int, ...]
    example_builder: Callable[[int, torch.Generator], torch.Tensor] = field(repr=False)

    def shape(self, batch: int) -> list[int]:
        return [batch, *self.event_shape]

    def module(self) -> nn.Module:
        torch.manual_seed(SEED)
        module = self.build()
        return _randomise_batchnorm(module, torch.Generator().manual_seed(SEED)).eval()

    def example(self, batch: int) -> torch.Tensor:
        return self.example_builder(batch, torch.Generator().manual_seed(SEED + batch))


def _image(size: int) -> Callable[[int, torch.Generator], torch.Tensor]:
    return lambda batch, g: torch.randn(batch, 3, size, size, generator=g)


def _jets(vectors: bool) -> Callable[[int, torch.Generator], torch.Tensor]:
    return lambda batch, g: physical_jets(batch, PF_FEATURES, vectors, g)


def _tagger(build: Callable[[], nn.Module], vectors: bool,
            points: bool = True) -> Callable[[], nn.Module]:
    return lambda: _Stacked(build(), PF_FEATURES, vectors, points)


IMAGE = 96
JET = (2 + PF_FEATURES + 1, PARTICLES)  # points, features, mask
JET_VECTORS = (2 + PF_FEATURES + 4 + 1, PARTICLES)  # points, features, 4-vectors, mask
REAL = [
    RealModel("particlenet", "weaver ParticleNet (JetClass: 17 features, 128 particles)",
              _tagger(_particle_net, vectors=False), JET, _jets(False)),
    RealModel("part", "weaver ParticleTransformer (JetClass: 17 features + 4-vectors)",
              _tagger(_particle_transformer, vectors=True, points=False), JET_VECTORS,
              _jets(True)),
    RealModel("particlenext", "weaver ParticleNeXt (17 features + 4-vectors, 128 particles)",
              _tagger(_particle_next, vectors=True), JET_VECTORS, _jets(True)),
    RealModel("resnet18", f"torchvision ResNet-18, 3x{IMAGE}x{IMAGE}",
              lambda: _torchvision_models().resnet18(), (3, IMAGE, IMAGE), _image(IMAGE)),
    RealModel("mobilenet_v2", f"torchvision MobileNet-v2, 3x{IMAGE}x{IMAGE}",
              lambda: _torchvision_models().mobilenet_v2(), (3, IMAGE, IMAGE), _image(IMAGE)),
]
REAL_BATCHES = (1, 64)
BY_NAME = {m.name: m for m in REAL}
