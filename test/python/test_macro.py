"""The C++ entry point from a ROOT macro run by root.exe, where Python is not running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import assert_matches_torch, run_jit, save_zoo_model

ROOT_EXE = str(Path(sys.executable).parent / "root")

MACRO = r"""
void parse_model() {
   // No gSystem->Load needed: ROOT autoloads the plugin from its rootmap.
   auto model = TMVA::Experimental::SOFIE::PyTorch::Parse("MODEL", {{8, 4}});
   model.Generate();
   model.OutputGenerated("HEADER");
   try {
      TMVA::Experimental::SOFIE::PyTorch::Parse("MODEL", {{8, 4}, {1}});
   } catch (const SOFIE::PyTorch::ParseError &e) {
      std::cout << "caught " << e.kind() << ": " << e.what() << std::endl;
   }
}
"""


def run_root(macro: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the embedded interpreter must find the venv by itself
    return subprocess.run([ROOT_EXE, "-l", "-b", "-q", str(macro)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_macro_parses_and_the_generated_code_matches_torch(tmp_path):
    path, inputs, expected = save_zoo_model("tmva_classifier", tmp_path)
    header = tmp_path / "tmva_classifier.hxx"
    macro = tmp_path / "parse_model.C"
    macro.write_text(MACRO.replace("MODEL", str(path)).replace("HEADER", str(header)))
    proc = run_root(macro, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "caught InputSpecError: 2 input shapes given" in proc.stdout, proc.stdout
    assert_matches_torch(run_jit(header, "tmva_classifier", inputs, tmp_path), expected)
