"""Running one coverage case end to end: Torch, conversion, generated code, comparison."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from compiled import compile_and_run, compile_and_run_many
from coverage import CASES
from layers import LAYERS, Layer

RTOL, ATOL = 1e-4, 1e-5  # float32 in another summation order than Torch's


@dataclass
class Outcome:
    name: str
    ok: bool
    onnx_ops: list[str] = field(default_factory=list)
    max_abs_error: float | None = None
    error: str = ""


def example_inputs(name: str, seed: int = 0) -> list[torch.Tensor]:
    case = CASES[name]
    generator = torch.Generator().manual_seed(seed)
    inputs = []
    for i, shape in enumerate(case.shapes):
        dtype = case.dtypes[i] if i < len(case.dtypes) else "float"
        if dtype == "int64":
            inputs.append(torch.randint(0, case.high, shape, generator=generator))
        else:
            inputs.append(torch.randn(shape, generator=generator))
    return inputs


def converter_shapes(name: str) -> list[list[int]]:
    """The case's input shapes as the converter gets them: -1 on the axis a case asks to
    choose at run time (extra["dynamic_axis"])."""
    shapes = [list(s) for s in CASES[name].shapes]
    axis = CASES[name].extra.get("dynamic_axis")
    if axis is not None:
        for shape in shapes:
            shape[axis] = -1
    return shapes


def save(name: str, directory: Path) -> tuple[Path | torch.nn.Module, list[torch.Tensor],
                                             list[np.ndarray]]:
    """Build (seeded) and save the case as its `source` says; return the file (or the
    module itself for in-memory cases), the inputs and Torch's outputs."""
    torch.manual_seed(1234)
    case = CASES[name]
    module = case.build().eval()
    inputs = example_inputs(name)
    path: Path | torch.nn.Module = module
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case.source in ("torchscript", "script"):
            # torch.jit.trace (the default) or torch.jit.script, as TMVA saves models
            path = directory / f"{name}.pt"
            ts = (torch.jit.script(module) if case.source == "script"
                  else torch.jit.trace(module, tuple(inputs), check_trace=False))
            torch.jit.save(ts, str(path))
        elif case.source == "pt2":
            path = directory / f"{name}.pt2"
            torch.export.save(torch.export.export(module, tuple(inputs)), str(path))
    with torch.no_grad():
        out = module(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return path, inputs, [o.detach().numpy() for o in outs]


def check(outcome: Outcome, expected_failure: tuple[str, str] | None, what: str) -> None:
    """Assert a case's outcome: it converts and matches, or fails with the stated error."""
    if expected_failure is None:
        assert outcome.ok, outcome.error
        assert outcome.max_abs_error is not None
    else:
        kind, text = expected_failure
        assert not outcome.ok, f"{what} now converts: remove its expected failure"
        assert outcome.error.startswith(kind) and text in outcome.error, outcome.error


def compare(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    """Largest absolute error; raises AssertionError beyond the tolerance."""
    assert len(got) == len(want), f"{len(got)} outputs, Torch has {len(want)}"
    worst = 0.0
    for g, w in zip(got, want):
        w = w.astype(np.float64)
        np.testing.assert_allclose(g.reshape(w.shape), w, rtol=RTOL, atol=ATOL)
        worst = max(worst, float(np.abs(g.reshape(w.shape) - w).max()) if w.size else 0.0)
    return worst


def run(name: str, directory: Path) -> Outcome:
    """Convert, compile, run and compare one case; errors are recorded, not raised."""
    import ROOT
    import sofie_pytorch
    from sofie_pytorch import tracing

    case = CASES[name]
    directory.mkdir(parents=True, exist_ok=True)
    path, inputs, expected = save(name, directory)
    shapes = [list(s) for s in case.shapes]
    # A case may ask for one axis of every input to be chosen at run time.
    axis = case.extra.get("dynamic_axis")
    runtime_sizes = None
    if axis is not None:
        runtime_sizes = [shapes[0][axis]]
        for shape in shapes:
            shape[axis] = -1
    dtypes = list(case.dtypes) or None
    outcome = Outcome(name, ok=False)
    try:
        supported = [str(s) for s in ROOT.SOFIE.PyTorch.SupportedOnnxOperators()]
        source = path if isinstance(path, torch.nn.Module) else str(path)
        traced = tracing.trace(source, shapes, dtypes, supported)
        outcome.onnx_ops = sorted({n.op_type for n in traced.graph.graph.node} - {"Constant"})
        # The graph just traced is the one Parse would trace again: it is handed over
        # as it is (tracing.export_for_sofie), so each case runs its model once.
        model = sofie_pytorch.parse(traced, input_shapes=shapes, dtypes=dtypes)
        model.Generate()
        code_name = str(model.GetName())  # the file's stem, or the module's class name
        model.OutputGenerated(str(directory / f"{code_name}.hxx"))
        got = compile_and_run(directory, code_name, [x.numpy() for x in inputs], runtime_sizes)
        outcome.max_abs_error = compare(got, expected)
        outcome.ok = True
    except Exception as exc:  # noqa: BLE001 - every failure is a finding to report
        outcome.error = f"{type(exc).__name__}: {exc}"
    return outcome


def _layer_inputs(layer: Layer) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    inputs = []
    for i, shape in enumerate(layer.shapes):
        dtype = layer.dtypes[i] if i < len(layer.dtypes) else "float"
        inputs.append(torch.randint(0, layer.high, shape, generator=generator)
                      if dtype == "int64" else torch.randn(shape, generator=generator))
    return inputs


def _save_layer(name: str, fmt: str, directory: Path) -> tuple[object, list[torch.Tensor],
                                                             list[np.ndarray]]:
    """The layer as format fmt gives it to the converter (a file, or the module), its
    inputs and Torch's outputs."""
    torch.manual_seed(1234)
    layer = LAYERS[name]
    module = layer.build().eval()
    inputs = _layer_inputs(layer)
    with torch.no_grad():
        out = module(*inputs)
    expected = [o.detach().numpy() for o in (out if isinstance(out, (tuple, list)) else [out])]
    stem = f"{name}_{fmt}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == "script":
            source: object = str(directory / f"{stem}.pt")
            torch.jit.save(torch.jit.script(module), source)
        elif fmt == "pt2":
            source = str(directory / f"{stem}.pt2")
            torch.export.save(torch.export.export(module, tuple(inputs)), source)
        else:  # the generated namespace is named after the module's class: make it unique
            module.__class__ = type(stem, (module.__class__,), {})
            source = module
    return source, inputs, expected


def run_layers(directory: Path, formats: tuple[str, ...]) -> dict[tuple[str, str], Outcome]:
    """Every layer of test/models/layers.py in every format: converted, the generated code of
    a format compiled in one program, run and compared with Torch."""
    import sofie_pytorch

    outcomes: dict[tuple[str, str], Outcome] = {}
    for fmt in formats:
        folder = directory / fmt
        folder.mkdir(parents=True, exist_ok=True)
        pending: dict[str, tuple[str, list[torch.Tensor], list[np.ndarray]]] = {}
        for name, layer in LAYERS.items():
            outcome = outcomes[(name, fmt)] = Outcome(name, ok=False)
            try:
                source, inputs, expected = _save_layer(name, fmt, folder)
                result = sofie_pytorch.convert(source, folder, [list(s) for s in layer.shapes],
                                               dtypes=list(layer.dtypes) or None)
                pending[result.name] = (name, inputs, expected)
            except Exception as exc:  # noqa: BLE001 - every failure is a finding to report
                outcome.error = f"{type(exc).__name__}: {exc}"
        # -O0: the models are tiny; the compile of the one program is what takes time.
        ran = compile_and_run_many(folder, {code: [x.numpy() for x in inputs]
                                            for code, (_, inputs, _) in pending.items()},
                                   flags=("-O0",))
        for code, (name, _, expected) in pending.items():
            outcome = outcomes[(name, fmt)]
            got = ran[code]
            if isinstance(got, str):
                outcome.error = f"RuntimeError: {got}"
                continue
            try:
                outcome.max_abs_error = compare(got, expected)
                outcome.ok = True
            except AssertionError as exc:
                outcome.error = f"AssertionError: outputs differ from Torch's: {exc}"
    return outcomes
