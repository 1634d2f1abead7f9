"""Operator coverage: every case of test/models/coverage.py, converted through PyROOT,
compiled with g++ against OpenBLAS, run, and compared with Torch (rtol 1e-4, atol 1e-5).

A case with `fails` set is an engine limitation: the test asserts the error users get.
"""

from __future__ import annotations

import pytest
from conformance import check, run
from coverage import CASES


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_matches_torch(name, tmp_path):
    check(run(name, tmp_path), CASES[name].fails, name)
