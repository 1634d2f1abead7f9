"""Run by test_fuzz_regressions.py in its own process (a regression could be a crash):
parse every input in test/fuzz/regressions with the shapes in its .json, and print one
line per input: `name <TAB> outcome <TAB> message` (outcome OK or the error class)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ROOT
import sofie_pytorch  # noqa: F401 - makes PyTorch.Parse the Pythonic entry point

PyTorch = ROOT.TMVA.Experimental.SOFIE.PyTorch

for meta_path in sorted(Path(sys.argv[1]).glob("*.json")):
    model = meta_path.with_suffix("")
    meta = json.loads(meta_path.read_text())
    print(model.name, end="\t", flush=True)  # a crash leaves the name without an outcome
    try:
        PyTorch.Parse(str(model), meta["shapes"], meta["dtypes"])
        print("OK\t", flush=True)
    except Exception as exc:  # noqa: BLE001 - the outcome is what is reported
        print(f"{type(exc).__name__}\t{str(exc).splitlines()[0]}", flush=True)
