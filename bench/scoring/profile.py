"""Where the time of per-event scoring goes, in CPU seconds per event (not wall time, so
that a busy machine does not distort it):

1. reading the 4 columns and an empty event loop (Count);
2. the same loop plus the score column (define) and its Sum;
3. the compiled library alone: Infer() called in a C++ loop on one event's inputs;
4. torch on batches of 4096, for comparison.

    python bench/scoring/profile.py DATA.root CONVERTED_DIR [EVENTS]
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def cpu(function) -> float:
    start = time.process_time()
    function()
    return time.process_time() - start


def main() -> int:
    data, converted = sys.argv[1], Path(sys.argv[2])
    import numpy as np
    import ROOT
    import sofie_pytorch
    import torch
    from sofie_pytorch import rdf

    columns = ["px", "py", "pz", "e"]
    shapes = json.loads((converted / "shapes.json").read_text())
    conversion = sofie_pytorch.convert(str(converted / "model.pt"), converted / "generated",
                                       shapes)
    df = ROOT.RDataFrame("events", data)
    events = int(df.Count().GetValue())
    # warm the interpreter: the first loop of each kind JIT-compiles its code
    rdf.define(ROOT.RDataFrame("events", data).Range(10), "s", conversion, columns) \
        .Sum("s").GetValue()
    read = cpu(lambda: ROOT.RDataFrame("events", data).Define(
        "t", "px + py + pz + e").Sum("t").GetValue())
    scored = rdf.define(ROOT.RDataFrame("events", data), "score", conversion, columns)
    score = cpu(lambda: scored.Sum("score").GetValue())
    scorer = next(s for m, s in rdf._cache.values() if m is conversion)
    ROOT.gInterpreter.Declare(f"""
    double sofie_profile_loop(long n) {{
       float x[4] = {{0.1f, 0.2f, 0.3f, 0.4f}}, out = 0; double sum = 0;
       for (long i = 0; i < n; ++i) {{ x[0] = i * 1e-7f; {scorer.namespace}::Infer(0, x, &out);
                                       sum += out; }}
       return sum;
    }}""")
    infer = cpu(lambda: ROOT.sofie_profile_loop(events))
    torch.set_num_threads(1)
    net = torch.jit.load(str(converted / "model.pt")).eval()
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(events, 4)).astype(np.float32))

    def batched():
        with torch.no_grad():
            for i in range(0, events, 4096):
                net(x[i:i + 4096])

    batches = cpu(batched)
    per = {"read 4 columns + loop": read, "loop + define + Sum": score,
           "Infer() alone (C++ loop)": infer, "torch, batches of 4096": batches}
    for what, seconds in per.items():
        print(f"{what:28s} {1e9 * seconds / events:8.0f} ns CPU per event")
    return 0


if __name__ == "__main__":
    sys.exit(main())
