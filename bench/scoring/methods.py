"""One scoring method run once, in its own process, so that its peak memory is its own.

    python bench/scoring/methods.py METHOD MODEL DATA.root CONVERTED_DIR

prints one JSON line: events, seconds of the event loop (from the ROOT file to the
scores, after conversion and compilation), peak resident memory (MB) of the process
(and of the Dask workers, for distributed runs), and a checksum of the scores.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

MODELS = {
    # model -> (input columns, per-event input shape for torch/onnx, batch for the peers)
    "mlp": (["px", "py", "pz", "e"], (4,)),
    "lstm": ([f"f{i}" for i in range(10)], (20, 10)),
}
BATCH = 4096
# Partitions of the distributed runs: the same for 1 and 2 workers, so that both pay the
# same per-partition start-up (DistRDF's JIT of the event loop, a file open) and
# "2 workers / 1 worker" measures scaling alone; several per worker so that the two
# workers stay busy until the end (4 each with 2 workers).
PARTITIONS = 8


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, which starts afresh at exec (getrusage's
    ru_maxrss would carry over the parent's peak from before the fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rdf_local(model: str, data: str, converted: Path, threads: int) -> tuple[int, float, float]:
    import ROOT
    import sofie_pytorch
    from sofie_pytorch import rdf

    conversion = _conversion(sofie_pytorch, converted)
    if threads > 1:
        ROOT.EnableImplicitMT(threads)
    df = ROOT.RDataFrame("events", data)
    scored = rdf.define(df, "score", conversion, MODELS[model][0])
    count, total = scored.Count(), scored.Sum("score")
    start = time.perf_counter()
    total.GetValue()
    return int(count.GetValue()), time.perf_counter() - start, float(total.GetValue())


def rdf_dask(model: str, data: str, converted: Path, workers: int) -> tuple[int, float, float]:
    import ROOT
    import sofie_pytorch
    from distributed import Client, LocalCluster
    from sofie_pytorch import rdf

    conversion = _conversion(sofie_pytorch, converted)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None, silence_logs=40) as cluster, \
            Client(cluster) as client:
        # warm the workers (import ROOT) so that the timing is the event loop's
        client.run(lambda: __import__("ROOT").gInterpreter.ProcessLine("1;"))
        df = ROOT.RDataFrame("events", [data], executor=client, npartitions=PARTITIONS)
        # The LocalCluster's workers run on this machine: compile for its CPU, as the
        # local runs do (the portable default is for clusters of other machines).
        scored = rdf.define(df, "score", conversion, MODELS[model][0], march="native")
        count, total = scored.Count(), scored.Sum("score")
        start = time.perf_counter()
        value = float(total.GetValue())
        seconds = time.perf_counter() - start
        worker_rss = client.run(peak_rss_mb)
    _extra["worker_peak_rss_mb"] = max(worker_rss.values())
    return int(count.GetValue()), seconds, value


def _conversion(sofie_pytorch, converted: Path):
    """Convert the benchmark's model (run.py saved it with its shapes) in this process."""
    shapes = json.loads((converted / "shapes.json").read_text())
    return sofie_pytorch.convert(str(converted / "model.pt"), converted / "generated", shapes)


def _as_numpy_inputs(model: str, data: str) -> np.ndarray:
    import ROOT

    columns, shape = MODELS[model]
    cols = ROOT.RDataFrame("events", data).AsNumpy(columns)
    if len(shape) == 1:
        return np.stack([cols[c] for c in columns], axis=1).astype(np.float32)
    # RVec columns: AsNumpy gives an object array of RVecs per column
    per_feature = [np.stack([np.asarray(v) for v in cols[c]]) for c in columns]
    return np.stack(per_feature, axis=2).astype(np.float32)


def numpy_torch(model: str, data: str, converted: Path) -> tuple[int, float, float]:
    import torch

    torch.set_num_threads(1)
    net = torch.jit.load(str(converted / "model.pt")).eval()
    start = time.perf_counter()
    x = _as_numpy_inputs(model, data)
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), BATCH):
            total += float(net(torch.from_numpy(x[i:i + BATCH])).sum())
    return len(x), time.perf_counter() - start, total


def numpy_onnxruntime(model: str, data: str, converted: Path) -> tuple[int, float, float]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(converted / "model.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    start = time.perf_counter()
    x = _as_numpy_inputs(model, data)
    total = 0.0
    for i in range(0, len(x), BATCH):
        total += float(session.run(None, {name: x[i:i + BATCH]})[0].sum())
    return len(x), time.perf_counter() - start, total


def uproot_torch(model: str, data: str, converted: Path) -> tuple[int, float, float]:
    import torch
    import uproot

    torch.set_num_threads(1)
    net = torch.jit.load(str(converted / "model.pt")).eval()
    columns, shape = MODELS[model]
    start = time.perf_counter()
    arrays = uproot.open(data)["events"].arrays(columns, library="np")
    if len(shape) == 1:
        x = np.stack([arrays[c] for c in columns], axis=1).astype(np.float32)
    else:
        x = np.stack([np.stack(arrays[c]) for c in columns], axis=2).astype(np.float32)
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), BATCH):
            total += float(net(torch.from_numpy(x[i:i + BATCH])).sum())
    return len(x), time.perf_counter() - start, total


_extra: dict[str, float] = {}

METHODS = {
    "rdf 1 thread": lambda m, d, c: rdf_local(m, d, c, 1),
    "rdf 2 threads": lambda m, d, c: rdf_local(m, d, c, 2),
    "distrdf 1 worker": lambda m, d, c: rdf_dask(m, d, c, 1),
    "distrdf 2 workers": lambda m, d, c: rdf_dask(m, d, c, 2),
    "AsNumpy + torch": numpy_torch,
    "AsNumpy + onnxruntime": numpy_onnxruntime,
    "uproot + torch": uproot_torch,
}


def main() -> int:
    method, model, data, converted = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
    events, seconds, checksum = METHODS[method](model, data, converted)
    print(json.dumps({"method": method, "model": model, "events": events, "seconds": seconds,
                      "events_per_s": events / seconds, "peak_rss_mb": peak_rss_mb(),
                      "checksum": checksum, **_extra}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
