"""One coverage case per operator family through the PyROOT path, with the generated code
JIT-compiled by cling (in one process that never imports torch), compared with Torch."""

from __future__ import annotations

import numpy as np
import ROOT
import sofie_pytorch  # noqa: F401 - registers the Pythonic Parse with ROOT
import torch
from conformance import ATOL, RTOL, save
from coverage import CASES
from helpers import run_jit_many

PyTorch = ROOT.TMVA.Experimental.SOFIE.PyTorch


def first_converting_case_per_family() -> list[str]:
    chosen: dict[str, str] = {}
    for name, case in CASES.items():
        if case.fails is None and case.family not in chosen:
            chosen[case.family] = name
    return list(chosen.values())


def test_every_family_jitted_by_cling_matches_torch(tmp_path):
    names = first_converting_case_per_family()
    assert len(names) >= 10
    jobs, expected = [], []
    for name in names:
        directory = tmp_path / name
        directory.mkdir()
        path, inputs, outputs = save(name, directory)
        case = CASES[name]
        source = path if isinstance(path, torch.nn.Module) else str(path)
        model = PyTorch.Parse(source, [list(s) for s in case.shapes], list(case.dtypes) or None)
        model.Generate()
        code_name = str(model.GetName())  # the file's stem, or the module's class name
        model.OutputGenerated(str(directory / f"{code_name}.hxx"))
        jobs.append((directory / f"{code_name}.hxx", code_name, inputs, directory))
        expected.append(outputs)
    for name, got, want in zip(names, run_jit_many(jobs), expected):
        assert len(got) == len(want), name
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.reshape(w.shape), w, rtol=RTOL, atol=ATOL, err_msg=name)
