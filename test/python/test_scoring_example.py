"""examples/score_dataset.py runs as a user runs it: local and Dask scores agree with
Torch and with each other, and the signal/background PNG is written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "score_dataset.py"


def test_score_dataset_example_draws_the_png(tmp_path):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    env.pop("PYTHONPATH", None)  # as a user runs it: the environment alone must do
    png = tmp_path / "scores.png"
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--entries", "4000", "--png", str(png)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "histograms identical" in proc.stdout
    match = re.search(r"max \|torch - sofie\| = (\S+) \(tolerance 1e-05 \+ 0.0001\*\|torch\|\): OK",
                      proc.stdout)
    assert match, proc.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 5000  # two filled histograms and a legend, not an empty canvas
