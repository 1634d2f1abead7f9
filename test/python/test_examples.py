"""The scripts and macros in examples/ run as a user would run them, so they never rot.

Each script compares the generated code with Torch itself and exits non-zero on a
mismatch; the tests check the exit status and the verdict line it prints.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import assert_matches_torch, run_jit, save_zoo_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROOT_EXE = str(Path(sys.executable).parent / "root")
BOTH_TOLERANCES = r"max \|torch - sofie\| = (\S+) \(tolerance 1e-05 \+ 0.0001\*\|torch\|\): OK"


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    env.pop("PYTHONPATH", None)  # as a user runs them: the environment alone must do
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


def assert_verdict(stdout: str, pattern: str = BOTH_TOLERANCES) -> None:
    match = re.search(pattern, stdout)
    assert match, stdout
    assert float(match.group(1)) <= 1e-5


@pytest.mark.parametrize(
    ("script", "verdict"),
    [
        ("demo.py", r"max \|torch - generated\| = (\S+) \(tolerance 1e-05\): OK"),
        ("reader.py", r"max \|torch - sofie\| = (\S+) \(tolerance 1e-05\): OK"),
    ],
)
def test_example_script(script, verdict, tmp_path):
    proc = run([sys.executable, str(EXAMPLES / script)], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_verdict(proc.stdout, verdict)


def test_tmva_workflow_writes_the_files_tmva_uses(tmp_path):
    proc = run([sys.executable, str(EXAMPLES / "tmva_workflow.py"), "--keep", str(tmp_path)],
               tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_verdict(proc.stdout)
    for name in ("PyTorchModelClassification.pt", "PyTorchTrainedModelClassification.pt",
                 "PyTorchTrainedModelClassification.hxx", "PyTorchTrainedModelClassification.dat"):
        assert (tmp_path / name).is_file(), name


def test_rdataframe_example_uses_two_slots(tmp_path):
    proc = run([sys.executable, str(EXAMPLES / "rdataframe_inference.py"), "--entries", "3000"],
               tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "scored 3000 entries with RDataFrame on 2 slots, one Session each" in proc.stdout
    assert_verdict(proc.stdout)  # every entry against Torch


def test_convert_macro(tmp_path):
    path, inputs, expected = save_zoo_model("tmva_classifier", tmp_path)
    header = tmp_path / "tmva_classifier.hxx"
    call = f'{EXAMPLES / "convert.C"}("{path}", "{header}", 8, 4)'
    proc = run([ROOT_EXE, "-l", "-b", "-q", call], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"wrote {header}" in proc.stdout
    assert_matches_torch(run_jit(header, "tmva_classifier", inputs, tmp_path), expected)


def test_convert_macro_reports_errors(tmp_path):
    call = f'{EXAMPLES / "convert.C"}("{tmp_path / "missing.pt"}", "x.hxx", 1, 4)'
    proc = run([ROOT_EXE, "-l", "-b", "-q", call], tmp_path)
    assert proc.returncode == 1
    assert "conversion failed (ModelLoadError)" in proc.stderr
    assert "no such file" in proc.stderr
