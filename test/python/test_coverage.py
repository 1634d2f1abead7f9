"""Operator coverage: every case of test/models/coverage.py, converted through PyROOT,
compiled with g++ against OpenBLAS, run, and compared with Torch (rtol 1e-4, atol 1e-5).

A case with `fails` set is an engine limitation: the test asserts the error users get.
"""

from __future__ import annotations

import pytest
from conformance import run
from coverage import CASES


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_matches_torch(name, tmp_path):
    outcome = run(name, tmp_path)
    expected_failure = CASES[name].fails
    if expected_failure is None:
        assert outcome.ok, outcome.error
        assert outcome.max_abs_error is not None
    else:
        kind, text = expected_failure
        assert not outcome.ok, f"{name} now converts: remove its `fails` entry"
        assert outcome.error.startswith(kind) and text in outcome.error, outcome.error
