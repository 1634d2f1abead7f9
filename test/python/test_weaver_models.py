"""weaver-core's jet taggers (ParticleNet, ParticleTransformer, ParticleNeXt and their
*Tagger forms), converted from the nn.Module, a traced TorchScript file and a torch.export
.pt2, with the batch size chosen at run time, compiled (g++ -O1) and run on physical jets
with padded particles at batch 1 and 3, compared with Torch (rtol 1e-4, atol 1e-5).

weaver-core==0.5.3 comes from PyPI (test/requirements.txt, installed without its
training-only dependencies). weaver's code scripts nothing (its models are traced or
exported by its users), so there is no scripted form here.

Each model is converted in its three formats and compiled once, into one program, by a
module-scoped fixture; the tests read its results.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import sofie_pytorch
import torch
import weaver  # noqa: F401 - test/requirements.txt: fail clearly when it is missing
from compiled import compile_and_run_many
from weaver_cases import CASES, build, in_forward_order, jets, torch_output

RTOL, ATOL = 1e-4, 1e-5
BATCHES = (1, 3)
FORMATS = ("module", "traced", "pt2")
# Small configurations for the 3 formats x 2 batch sizes; the full ParticleNet and the
# JetClass ParT are converted and run in fewer cases below (their code takes longer to
# compile).
MATRIX = ("particlenet_lite", "part_small", "particlenext", "particlenet_tagger", "part_tagger",
          "particlenext_tagger")


def _export_pt2(name: str, model: torch.nn.Module, inputs: dict[str, torch.Tensor],
                path: Path) -> None:
    if CASES[name].pt2_tril_indices:
        for module in model.modules():
            if hasattr(module, "tril_indices_fn"):
                module.tril_indices_fn = torch.tril_indices
    batch = torch.export.Dim("batch", min=1, max=1024)
    # Exported for inference, under no_grad: weaver's `with torch.set_grad_enabled(...)`
    # is otherwise recorded as a wrap_with_set_grad_enabled node that torch 2.13's own
    # torch.export.load cannot read back ("missing val field").
    with torch.no_grad():
        program = torch.export.export(model, tuple(inputs.values()),
                                      dynamic_shapes=tuple({0: batch} for _ in inputs))
    torch.export.save(program, str(path))


def _sources(name: str, directory: Path) -> dict[str, tuple[object, dict[str, object]]]:
    """Each format's model as the converter is given it, and the keywords of convert()."""
    example = in_forward_order(build(name), jets(name, 3))
    shapes = [list(x.shape) for x in example.values()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = directory / f"{name}_traced.pt"
        torch.jit.save(torch.jit.trace(build(name), tuple(example.values()), check_trace=False),
                       str(traced))
        pt2 = directory / f"{name}_pt2.pt2"
        _export_pt2(name, build(name), example, pt2)
    module = build(name)
    # The generated namespace is named after the class: one per format in the program.
    module.__class__ = type(f"{name}_module", (module.__class__,), {})
    return {
        # By name, as the mapping's keys: forward()'s inputs with defaults included.
        "module": (module, {"example_inputs": example}),
        "traced": (traced, {"input_shapes": shapes}),
        "pt2": (pt2, {"input_shapes": shapes}),
    }


@pytest.fixture(scope="module", params=MATRIX)
def converted(request, tmp_path_factory):
    """(name, {(format, batch): (generated outputs or the error, Torch's output)})."""
    name = request.param
    directory = tmp_path_factory.mktemp(name)
    model = build(name)
    runs: dict[str, list[np.ndarray]] = {}
    sizes: dict[str, list[int]] = {}
    expected = {}
    for batch in BATCHES:
        inputs = in_forward_order(model, jets(name, batch, seed=batch))
        expected[batch] = torch_output(model, inputs).numpy()
        for fmt in FORMATS:
            runs[f"{name}_{fmt}@{batch}"] = [x.numpy() for x in inputs.values()]
            sizes[f"{name}_{fmt}@{batch}"] = [batch]
    errors = {}
    for fmt, (source, keywords) in _sources(name, directory).items():
        try:
            result = sofie_pytorch.convert(source, directory, dynamic_batch=True, **keywords)
            assert result.name == f"{name}_{fmt}"
        except Exception as exc:  # noqa: BLE001 - reported by the test of this format
            errors[fmt] = f"{type(exc).__name__}: {exc}"
            for batch in BATCHES:
                del runs[f"{name}_{fmt}@{batch}"]
    got = compile_and_run_many(directory, runs, sizes, flags=("-O1",)) if runs else {}
    results = {}
    for fmt in FORMATS:
        for batch in BATCHES:
            results[(fmt, batch)] = (errors.get(fmt) or got[f"{name}_{fmt}@{batch}"],
                                     expected[batch])
    return name, results


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_weaver_model_matches_torch(converted, fmt, batch):
    name, results = converted
    got, want = results[(fmt, batch)]
    assert not isinstance(got, str), f"{name} ({fmt}): {got}"
    assert len(got) == 1
    # Probabilities of a softmax: each jet's sum to 1, so a wrong mask would show.
    np.testing.assert_allclose(got[0].reshape(want.shape), want, rtol=RTOL, atol=ATOL)
