"""weaver-core's jet taggers (PyPI weaver-core==0.5.3, a test-only dependency), as physicists
configure them, with random weights and non-trivial BatchNorm statistics, and physical jets.

Each case names a model class of weaver/nn/model, its configuration and the inputs its
forward() is given (by name: ParT's forward(x, v=None, mask=None, ...) has defaults).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn


def _weaver(module: str, cls: str, **config: object) -> Callable[[], nn.Module]:
    """A builder of weaver.nn.model.<module>.<cls>(**config), imported when called."""
    def build() -> nn.Module:
        return getattr(importlib.import_module(f"weaver.nn.model.{module}"), cls)(**config)
    return build


@dataclass(frozen=True)
class Collection:
    """One collection of a jet's constituents (particle flow, secondary vertices)."""

    prefix: str  # "" or "pf_" / "sv_": the forward() argument names' prefix
    particles: int
    features: int
    point: str | None = "points"  # the name of the (eta, phi) input, if the model has one
    vector: str | None = None  # the name of the 4-vector input, if the model has one
    feature: str = "features"
    mask: str = "mask"


@dataclass(frozen=True)
class Case:
    build: Callable[[], nn.Module]
    collections: tuple[Collection, ...]
    # torch.export cannot capture weaver's own tril_indices (nonzero has a data-dependent
    # size for torch.export; torch's exporter and ours fold it): the .pt2 is exported
    # with torch.tril_indices in its place, the same indices.
    pt2_tril_indices: bool = False
    extra: dict[str, object] = field(default_factory=dict)


_PN_LITE = dict(conv_params=[(7, (32, 32, 32)), (7, (64, 64, 64))], fc_params=[(128, 0.1)])
_PN_FULL = dict(conv_params=[(16, (64, 64, 64)), (16, (128, 128, 128)), (16, (256, 256, 256))],
                fc_params=[(256, 0.1)], use_fusion=True, use_fts_bn=True, use_counts=True)
_PART_SMALL = dict(embed_dims=(64, 64, 64), pair_embed_dims=(32, 32), num_heads=8, num_layers=3,
                   num_cls_layers=1, fc_params=())
_PNEXT_SMALL = dict(node_dim=16, edge_dim=8,
                    layer_params=[(8, 32, [(4, 1), (2, 1), (1, 1)], 32),
                                  (8, 32, [(4, 1), (2, 1), (1, 1)], 32)],
                    fc_params=[(32, 0.1)])

_PN = ("ParticleNet", "ParticleNet")
_PART = ("ParticleTransformer", "ParticleTransformer")
_JETS = dict(input_dim=17, num_classes=10, pair_input_dim=4, for_inference=True)  # JetClass
_PART_INPUTS = dict(point=None, vector="v", feature="x")

CASES: dict[str, Case] = {
    # The ParticleNet: 3 EdgeConv blocks, k = 16, 64 particles.
    "particlenet": Case(_weaver(*_PN, input_dims=7, num_classes=2, for_inference=True,
                                **_PN_FULL),
                        (Collection("", 64, 7),)),
    "particlenet_lite": Case(_weaver(*_PN, input_dims=7, num_classes=2, for_inference=True,
                                     **_PN_LITE),
                             (Collection("", 24, 7),)),
    # The JetClass configuration (8 blocks of 128, 2 class-attention blocks) at 32 particles.
    "part_jetclass": Case(_weaver(*_PART, **_JETS),
                          (Collection("", 32, 17, **_PART_INPUTS),), pt2_tril_indices=True),
    "part_small": Case(_weaver(*_PART, **_JETS, **_PART_SMALL),
                       (Collection("", 16, 17, **_PART_INPUTS),), pt2_tril_indices=True),
    "particlenext": Case(_weaver("ParticleNeXt", "ParticleNeXt", feature_input_dim=7,
                                 num_classes=2, for_inference=True, **_PNEXT_SMALL),
                         (Collection("", 24, 7, vector="lorentz_vectors"),)),
    "particlenet_tagger": Case(_weaver("ParticleNet", "ParticleNetTagger", pf_features_dims=9,
                                       sv_features_dims=5, num_classes=3, for_inference=True,
                                       **_PN_LITE),
                               (Collection("pf_", 20, 9), Collection("sv_", 4, 5))),
    "part_tagger": Case(_weaver("ParticleTransformer", "ParticleTransformerTagger",
                                pf_input_dim=9, sv_input_dim=5, num_classes=3, pair_input_dim=4,
                                for_inference=True, embed_dims=(32, 64, 32),
                                pair_embed_dims=(16, 16), num_heads=4, num_layers=2,
                                num_cls_layers=1),
                        (Collection("pf_", 12, 9, **_PART_INPUTS),
                         Collection("sv_", 4, 5, **_PART_INPUTS)),
                        pt2_tril_indices=True),
    "particlenext_tagger": Case(_weaver("ParticleNeXt", "ParticleNeXtTagger", pf_features_dims=9,
                                        sv_features_dims=5, num_classes=3, for_inference=True,
                                        **_PNEXT_SMALL),
                                (Collection("pf_", 20, 9, vector="vectors"),
                                 Collection("sv_", 4, 5, vector="vectors"))),
}


def build(name: str) -> nn.Module:
    """The model in eval mode, seeded: random weights, and BatchNorm statistics and affine
    parameters far from their defaults (so that folding them is tested)."""
    torch.manual_seed(19)
    model = CASES[name].build()
    generator = torch.Generator().manual_seed(20)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                n = module.num_features
                module.running_mean.copy_(0.5 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
                if module.affine:
                    module.weight.copy_(1 + 0.3 * torch.randn(n, generator=generator))
                    module.bias.copy_(0.2 * torch.randn(n, generator=generator))
    return model.eval()


def jets(name: str, batch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Physical jets for the model's forward(), by argument name: constituents around the
    jet axis with E >= |p|; in jet j the first particles are real and the rest zero padding
    with mask 0 (fewer real ones from jet to jet)."""
    generator = torch.Generator().manual_seed(seed)
    inputs: dict[str, torch.Tensor] = {}
    for c in CASES[name].collections:
        shape = (batch, 1, c.particles)
        eta = 0.4 * torch.randn(shape, generator=generator)
        phi = 0.4 * torch.randn(shape, generator=generator)
        pt = 1 + 50 * torch.rand(shape, generator=generator)
        jet_eta = torch.randn(batch, 1, 1, generator=generator)
        mass = 0.14 * torch.rand(shape, generator=generator)
        px, py, pz = pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta + jet_eta)
        energy = torch.sqrt(px**2 + py**2 + pz**2 + mass**2)
        mask = torch.zeros(shape)
        for j in range(batch):
            real = (2 + j % 2 if c.prefix == "sv_"
                    else max(c.particles - 4 - 3 * j, c.particles // 2))
            mask[j, :, :real] = 1
        features = torch.randn(batch, c.features, c.particles, generator=generator)
        inputs[c.prefix + c.feature] = features * mask
        if c.point:
            inputs[c.prefix + c.point] = torch.cat([eta, phi], 1) * mask
        if c.vector:
            inputs[c.prefix + c.vector] = torch.cat([px, py, pz, energy], 1) * mask
        inputs[c.prefix + c.mask] = mask
    return inputs


def in_forward_order(model: nn.Module, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inputs in the order of forward()'s parameters (the generated code's order)."""
    import inspect

    order = list(inspect.signature(model.forward).parameters)
    return {k: inputs[k] for k in sorted(inputs, key=order.index)}


def torch_output(model: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    # ParticleNeXt shifts padded points in place: run on copies.
    with torch.no_grad():
        return model(**{k: v.clone() for k, v in inputs.items()})
