"""Every input the fuzzer ever found (test/fuzz/regressions) now ends cleanly.

The inputs are replayed in one separate process, because the bugs they found included
segmentation faults inside torch: a regression must fail this test, not kill the run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REGRESSIONS = Path(__file__).resolve().parents[1] / "fuzz" / "regressions"
SCRIPT = Path(__file__).resolve().parent / "scripts" / "replay_findings.py"
CASES = sorted(p.with_suffix("").name for p in REGRESSIONS.glob("*.json"))


@pytest.fixture(scope="module")
def outcomes() -> dict[str, tuple[str, str]]:
    proc = subprocess.run([sys.executable, str(SCRIPT), str(REGRESSIONS)], capture_output=True,
                          text=True, timeout=600)
    result = {}
    for line in proc.stdout.splitlines():
        name, _, rest = line.partition("\t")
        kind, _, message = rest.partition("\t")
        result[name] = (kind, message)
    if proc.returncode != 0:
        crashed = proc.stdout.splitlines()[-1] if proc.stdout else "?"
        pytest.fail(f"replaying the findings died ({proc.returncode}) at {crashed!r}:\n"
                    f"{proc.stderr[-3000:]}")
    return result


def test_there_are_regressions():
    assert len(CASES) >= 5


@pytest.mark.parametrize("name", CASES)
def test_fuzz_finding_ends_with_a_clean_error(outcomes, name):
    meta = json.loads((REGRESSIONS / f"{name}.json").read_text())
    kind, message = outcomes[name]
    assert kind == meta["error"], message
    assert re.search(meta["match"], message), message
