"""Run SOFIE-generated code JIT-compiled by cling, in a process that never imports torch.

    python jit_runner.py HEADER NAME OUTDIR IN0.npy [IN1.npy ...]

Writes OUTDIR/out<i>.npy. OpenBLAS is loaded with global symbols before cling compiles
the header: cling must resolve sgemm_ to it (left to find it alone, it was seen to give
silently wrong results).
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str]) -> int:
    header, name, outdir = Path(argv[1]), argv[2], Path(argv[3])
    inputs = [np.ascontiguousarray(np.load(p), dtype=np.float32) for p in argv[4:]]
    ctypes.CDLL("libopenblas.so.0", mode=ctypes.RTLD_GLOBAL)
    import ROOT

    if not ROOT.gInterpreter.Declare(f'#include "{header}"'):
        print(f"cling could not compile {header}", file=sys.stderr)
        return 2
    assert "torch" not in sys.modules
    namespace = getattr(ROOT, f"SOFIE_{name}")
    session = namespace.Session(str(header.with_suffix(".dat")))
    result = session.infer(*inputs)
    outputs = [result] if isinstance(result[0], float) else list(result)
    for i, out in enumerate(outputs):
        np.save(outdir / f"out{i}.npy", np.asarray(out, dtype=np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
