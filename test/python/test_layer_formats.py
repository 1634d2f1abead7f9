"""The systematic check (test/models/layers.py): every torch.nn layer class a physicist's
model plausibly uses, in each of the three formats (scripted TorchScript file, nn.Module,
torch.export .pt2), converted, compiled with g++ against OpenBLAS (one program per format),
run and compared with Torch (rtol 1e-4, atol 1e-5). A (layer, format) that cannot convert
must fail with the error its `reasons` entry states; one that starts converting fails the
test until the entry is removed.
"""

from __future__ import annotations

import pytest
from conformance import check, run_layers
from layers import FORMATS, LAYERS


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    return run_layers(tmp_path_factory.mktemp("layers"), FORMATS)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_in_format(outcomes, name, fmt):
    check(outcomes[(name, fmt)], LAYERS[name].reasons.get(fmt), f"{name} from {fmt}")
