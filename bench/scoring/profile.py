"""Where the time of both scoring paths goes, in CPU nanoseconds per event (CPU time, not
wall time, so that a busy machine distorts it less), at steady state:

1. RDataFrame reading the 4 columns, an event loop and a Sum;
2. the same loop scoring each event (``rdf.define``) and summing the score;
3. the compiled library alone: ``Infer()`` called in a C++ loop on one event's inputs;
4. ``AsNumpy`` of the 4 columns alone (what the torch path pays before torch runs);
5. torch on batches of 4096 of those arrays;
6. the columnar path's batch function on those arrays (packing + the model, 256 events
   per doInfer);
7. uproot reading the 4 columns (what the columnar path pays before 6).

So "RDataFrame scoring" is (2), of which (1) is reading and (3) the model; "AsNumpy +
torch" is (4) + (5); the columnar path is (7) + (6).

Steady state: the first loop of each kind pays cling's JIT of its code (and torch's first
calls its own optimisation), a fixed cost that would show up as a per-event cost inflated
by 1/events. So each kind runs once on the first SMALL entries to warm up, then on SMALL
entries and on the whole file, timed; the figure is the difference over the difference in
events: the marginal cost of one more event.

    python bench/scoring/profile.py DATA.root CONVERTED_DIR

(DATA.root and CONVERTED_DIR as ``bench/scoring/run.py`` writes them, e.g.
/tmp/sofie_scoring_bench/mlp_1000000.root and /tmp/sofie_scoring_bench/mlp.)
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

warnings.filterwarnings("ignore")

COLUMNS = ["px", "py", "pz", "e"]
SMALL = 20_000  # entries of the warm-up and of the fixed-cost run
BATCH = 4096


def cpu(function: Callable[[], object]) -> float:
    start = time.process_time()
    function()
    return time.process_time() - start


def steady_ns(run: Callable[[int | None], object], events: int) -> float:
    """CPU ns per event of run(n) (n entries; None: all) once warm: the marginal cost."""
    run(SMALL)  # warm-up: JIT-compiles this kind of loop
    fixed = cpu(lambda: run(SMALL))
    total = cpu(lambda: run(None))
    return 1e9 * (total - fixed) / (events - SMALL)


def main() -> int:
    data, converted = sys.argv[1], Path(sys.argv[2])
    import numpy as np
    import ROOT
    import sofie_pytorch
    import torch
    from sofie_pytorch import rdf

    shapes = json.loads((converted / "shapes.json").read_text())
    conversion = sofie_pytorch.convert(str(converted / "model.pt"), converted / "generated",
                                       [[-1, *shape[1:]] for shape in shapes],
                                       dynamic_batch=True)
    events = int(ROOT.RDataFrame("events", data).Count().GetValue())
    if events <= 2 * SMALL:
        raise SystemExit(f"{data}: {events} entries; the profile needs more than {2 * SMALL}")

    def frame(n: int | None):
        df = ROOT.RDataFrame("events", data)
        return df if n is None else df.Range(n)

    per: dict[str, float] = {}
    per["read 4 columns + loop + Sum"] = steady_ns(
        lambda n: frame(n).Define("t", "px + py + pz + e").Sum("t").GetValue(), events)
    per["loop + define (score) + Sum"] = steady_ns(
        lambda n: rdf.define(frame(n), "score", conversion, COLUMNS).Sum("score").GetValue(),
        events)
    scorer = next(s for m, s in rdf._cache.values() if m is conversion)
    ROOT.gInterpreter.Declare(f"""
    double sofie_profile_loop(long n) {{
       using {scorer.namespace}::Column;
       float x[4] = {{0.1f, 0.2f, 0.3f, 0.4f}}, out = 0; double sum = 0;
       Column c[4] = {{{{&x[0], nullptr}}, {{&x[1], nullptr}}, {{&x[2], nullptr}},
                      {{&x[3], nullptr}}}};
       for (long i = 0; i < n; ++i) {{ x[0] = i * 1e-7f; {scorer.namespace}::Infer(0, c, &out);
                                       sum += out; }}
       return sum;
    }}""")
    per["Infer() alone (C++ loop)"] = steady_ns(
        lambda n: ROOT.sofie_profile_loop(events if n is None else n), events)
    per["AsNumpy of 4 columns"] = steady_ns(lambda n: frame(n).AsNumpy(COLUMNS), events)

    cols = ROOT.RDataFrame("events", data).AsNumpy(COLUMNS)
    x = torch.from_numpy(np.stack([cols[c] for c in COLUMNS], axis=1).astype(np.float32))
    torch.set_num_threads(1)
    net = torch.jit.load(str(converted / "model.pt")).eval()

    def batched(n: int | None) -> None:
        with torch.no_grad():
            for i in range(0, events if n is None else n, BATCH):
                net(x[i:i + BATCH])

    per[f"torch, batches of {BATCH}"] = steady_ns(batched, events)

    from sofie_pytorch.scoring import columnar

    def batch_function(n: int | None) -> None:
        stop = events if n is None else n
        columnar.run(scorer, {c: cols[c][:stop] for c in COLUMNS})

    per["columnar batch function"] = steady_ns(batch_function, events)
    import uproot

    tree = uproot.open(data)["events"]
    per["uproot read of 4 columns"] = steady_ns(
        lambda n: [tree[c].array(entry_stop=n, library="np") for c in COLUMNS], events)

    print(f"{events} events, CPU ns per event at steady state:")
    for what, ns in per.items():
        print(f"  {what:32s} {ns:8.0f}")
    read, score, infer = per["read 4 columns + loop + Sum"], \
        per["loop + define (score) + Sum"], per["Infer() alone (C++ loop)"]
    as_numpy, batches = per["AsNumpy of 4 columns"], per[f"torch, batches of {BATCH}"]
    print(f"RDataFrame scoring {score:6.0f} = reading {read:.0f} + the model {infer:.0f} "
          f"+ the rest (packing, calls, the column) {score - read - infer:.0f}")
    print(f"AsNumpy + torch    {as_numpy + batches:6.0f} = AsNumpy {as_numpy:.0f} "
          f"+ torch {batches:.0f}")
    up, batch = per["uproot read of 4 columns"], per["columnar batch function"]
    print(f"columnar           {up + batch:6.0f} = uproot {up:.0f} + packing and the model "
          f"{batch:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
