"""Graph rewrites: ONNX patterns SOFIE lacks or mishandles, turned into ones it takes.

One module per family of rewrites (as the engine's ONNX parser keeps one parse file per
operator family); the registry and the pass that applies them are in registry.py.
Rewrites run before the support check, so a model fails only for what cannot be
expressed. Importing a family module registers its rewrites.
"""

from . import (  # noqa: F401 - importing a family registers its rewrites
    activations,
    constants,
    dense,
    fusion,
    indexing,
    normalization,
    padding,
    rearrange,
    recurrent,
    reductions,
    resampling,
    scatter,
    shapes,
    trigonometry,
)
from .registry import Context, apply, attr, rewrite

__all__ = ["Context", "apply", "attr", "rewrite"]
