"""Score a ROOT file with a compiled scorer library as a DistRDF worker does: load the
library, declare its header, Define the Score call; no torch, no conversion.

usage: score_with_library.py LIBRARY HEADER NAMESPACE DATA OUT.npz
Prints the level the library loaded (its dispatcher's choice) on the first line.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
import ROOT  # noqa: E402
from sofie_pytorch.running import isa_dispatch  # noqa: E402

COLUMNS = ["px", "py", "pz", "e"]


def main(library: str, header: str, namespace: str, data: str, out: str) -> None:
    if ROOT.gSystem.Load(library) < 0:
        raise SystemExit(f"ROOT could not load {library}")
    print(isa_dispatch.loaded_level(Path(library)), flush=True)  # DispatchError if none
    if not ROOT.gInterpreter.Declare(Path(header).read_text()):
        raise SystemExit(f"cling could not compile {header}")
    getattr(ROOT, namespace).Setup(1)
    df = ROOT.RDataFrame("events", data).Define(
        "score", f"{namespace}::Score(rdfslot_, {', '.join(COLUMNS)})")
    np.savez(out, **df.AsNumpy(["score", *COLUMNS]))


if __name__ == "__main__":
    main(*sys.argv[1:6])
