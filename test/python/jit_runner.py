"""Run SOFIE-generated code JIT-compiled by cling, in a process that never imports torch.

    python jit_runner.py JOBS.json

JOBS.json lists jobs {"header": ..., "name": ..., "outdir": ..., "inputs": [IN.npy, ...]};
each writes OUTDIR/out<i>.npy. OpenBLAS is loaded with global symbols before cling
compiles any header: cling must resolve sgemm_ to it (left to find it alone, it was seen
to give silently wrong results).
"""

from __future__ import annotations

import ctypes
import json
import sys
from pathlib import Path

import numpy as np


def run_job(root: object, job: dict) -> None:
    header, name, outdir = Path(job["header"]), job["name"], Path(job["outdir"])
    inputs = [np.ascontiguousarray(np.load(p)) for p in job["inputs"]]
    if not root.gInterpreter.Declare(f'#include "{header}"'):  # type: ignore[attr-defined]
        raise RuntimeError(f"cling could not compile {header}")
    namespace = getattr(root, f"SOFIE_{name}")
    session = namespace.Session(str(header.with_suffix(".dat")))
    result = session.infer(*inputs)
    try:
        outputs = [np.asarray(result, dtype=np.float64)] if np.ndim(result[0]) == 0 else None
    except (TypeError, ValueError):
        outputs = None
    if outputs is None:
        outputs = [np.asarray(list(out), dtype=np.float64) for out in result]
    for i, out in enumerate(outputs):
        np.save(outdir / f"out{i}.npy", out)


def main(argv: list[str]) -> int:
    jobs = json.loads(Path(argv[1]).read_text())
    ctypes.CDLL("libopenblas.so.0", mode=ctypes.RTLD_GLOBAL)
    import ROOT

    for job in jobs:
        run_job(ROOT, job)
    assert "torch" not in sys.modules, "the JIT process must not import torch"
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
