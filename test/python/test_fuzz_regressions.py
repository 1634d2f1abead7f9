"""Every input the fuzzer found (test/fuzz/regressions) now ends cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
import ROOT
import sofie_pytorch

PyTorch = ROOT.TMVA.Experimental.SOFIE.PyTorch
REGRESSIONS = Path(__file__).resolve().parents[1] / "fuzz" / "regressions"
CASES = sorted(p for p in REGRESSIONS.iterdir() if p.suffix in (".pt", ".pt2"))


def test_there_are_regressions():
    assert CASES


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_fuzz_finding_ends_with_a_clean_error(path):
    with pytest.raises(sofie_pytorch.ModelLoadError, match=r"damaged archive|truncated"):
        PyTorch.Parse(str(path), [[2, 4]])
