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
from collections.abc import Callable
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

MODELS = {
    # model -> (input columns, per-event input shape for torch/onnx)
    "mlp": (["px", "py", "pz", "e"], (4,)),
    "lstm": ([f"f{i}" for i in range(10)], (20, 10)),
    # a jet tagger over jagged constituents: DeepSets over up to PARTICLES of them, masked
    "jets": (["c_pt", "c_eta", "c_phi"], (32, 3)),
}
PARTICLES = 32
BATCH = 4096
# What the peers read at once (uproot.iterate's step_size): memory stays flat for them too.
STEP = 1_000_000
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
    columns, options = _columns(model)
    scored = rdf.define(df, "score", conversion, columns, **options)
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
        columns, options = _columns(model)
        scored = rdf.define(df, "score", conversion, columns, march="native", **options)
        count, total = scored.Count(), scored.Sum("score")
        start = time.perf_counter()
        value = float(total.GetValue())
        seconds = time.perf_counter() - start
        worker_rss = client.run(peak_rss_mb)
    _extra["worker_peak_rss_mb"] = max(worker_rss.values())
    return int(count.GetValue()), seconds, value


def _conversion(sofie_pytorch, converted: Path):
    """Convert the benchmark's model (run.py saved it with its shapes) in this process,
    with a batch size chosen at run time (the columnar path runs batches; RDataFrame
    runs it at 1)."""
    shapes = json.loads((converted / "shapes.json").read_text())
    return sofie_pytorch.convert(str(converted / "model.pt"), converted / "generated",
                                 [[-1, *s[1:]] for s in shapes], dynamic_batch=True)


def _columns(model: str):
    """define()'s and score_arrays' columns and options for the model."""
    from sofie_pytorch.scoring.library import MASK

    columns = MODELS[model][0]
    if model == "jets":
        return [columns, MASK], {"particles": "truncate", "sort_by": "c_pt"}
    return columns, {}


def columnar_files(model: str, data: str, converted: Path, threads: int
                   ) -> tuple[int, float, float]:
    """This project's columnar path: uproot reads ranges of clusters, the library scores
    them in batches (the score command without the writing)."""
    import sofie_pytorch
    from sofie_pytorch.scoring import columnar

    columns, options = _columns(model)
    job = columnar.FileJob(_conversion(sofie_pytorch, converted), [data], "events", columns,
                           **options)
    start = time.perf_counter()
    events, total = 0, 0.0
    for outputs, _ in job.scores(threads):
        events += len(outputs[0])
        total += float(outputs[0].sum(dtype=np.float64))
    return events, time.perf_counter() - start, total


def columnar_asnumpy(model: str, data: str, converted: Path) -> tuple[int, float, float]:
    """The same batches read by ROOT instead of uproot: RDataFrame's AsNumpy per range of
    clusters (an RDatasetSpec with a global entry range), to compare the two readers."""
    import ROOT
    import sofie_pytorch
    from sofie_pytorch.scoring import columnar

    columns, options = _columns(model)
    flat = MODELS[model][0]
    job = columnar.FileJob(_conversion(sofie_pytorch, converted), [data], "events", columns,
                           **options)
    ranges = columnar._ranges(job.datasets[0], flat, columnar.RANGE_EVENTS)
    start = time.perf_counter()
    events, total = 0, 0.0
    for first, stop in ranges:
        spec = ROOT.RDF.Experimental.RDatasetSpec()
        spec.AddSample(ROOT.RDF.Experimental.RSample("s", "events", data))
        spec.WithGlobalRange(ROOT.RDF.Experimental.RDatasetSpec.REntryRange(first, stop))
        arrays = ROOT.RDataFrame(spec).AsNumpy(flat)  # (the jets' sort column is among them)
        if model != "mlp":  # RVec columns come as object arrays of RVecs
            arrays = {c: (np.concatenate([np.asarray(v) for v in arrays[c]]),
                          np.concatenate([[0], np.cumsum([len(v) for v in arrays[c]])]))
                      for c in flat}
        outputs = columnar.run(job.scorer, arrays)
        events += len(outputs[0])
        total += float(outputs[0].sum(dtype=np.float64))
    return events, time.perf_counter() - start, total


def _pad_jets(pt: list, eta: list, phi: list) -> tuple[np.ndarray, np.ndarray]:
    """Per event: constituents sorted by decreasing pt, the first PARTICLES kept, zero
    padded, and the mask (what the jet tagger takes), built with numpy per event."""
    events = len(pt)
    x = np.zeros((events, PARTICLES, 3), dtype=np.float32)
    mask = np.zeros((events, PARTICLES), dtype=np.float32)
    for i in range(events):
        order = np.argsort(-np.asarray(pt[i]), kind="stable")[:PARTICLES]
        n = len(order)
        x[i, :n, 0] = np.asarray(pt[i])[order]
        x[i, :n, 1] = np.asarray(eta[i])[order]
        x[i, :n, 2] = np.asarray(phi[i])[order]
        mask[i, :n] = 1
    return x, mask


def _pad_jets_awkward(arrays) -> tuple[np.ndarray, np.ndarray]:
    """The same with awkward-array operations, as uproot users write it."""
    import awkward as ak

    order = ak.argsort(arrays["c_pt"], ascending=False, stable=True)[:, :PARTICLES]
    features = [ak.to_numpy(ak.fill_none(ak.pad_none(arrays[c][order], PARTICLES, clip=True),
                                         0.0)) for c in MODELS["jets"][0]]
    x = np.stack(features, axis=2).astype(np.float32)
    counts = ak.to_numpy(ak.num(order))
    mask = (np.arange(PARTICLES)[None, :] < counts[:, None]).astype(np.float32)
    return x, mask


def _as_numpy_inputs(model: str, data: str) -> tuple[np.ndarray, ...]:
    import ROOT

    columns, shape = MODELS[model]
    cols = ROOT.RDataFrame("events", data).AsNumpy(columns)
    if model == "jets":
        return _pad_jets(*(cols[c] for c in columns))
    if len(shape) == 1:
        return (np.stack([cols[c] for c in columns], axis=1).astype(np.float32),)
    # RVec columns: AsNumpy gives an object array of RVecs per column
    per_feature = [np.stack([np.asarray(v) for v in cols[c]]) for c in columns]
    return (np.stack(per_feature, axis=2).astype(np.float32),)


def _torch_batches(net, inputs: tuple[np.ndarray, ...]) -> float:
    import torch

    total = 0.0
    with torch.no_grad():
        for i in range(0, len(inputs[0]), BATCH):
            total += float(net(*[torch.from_numpy(x[i:i + BATCH]) for x in inputs]).sum())
    return total


def _onnx_batches(session, inputs: tuple[np.ndarray, ...]) -> float:
    names = [i.name for i in session.get_inputs()]
    total = 0.0
    for i in range(0, len(inputs[0]), BATCH):
        feed = {n: x[i:i + BATCH] for n, x in zip(names, inputs)}
        total += float(session.run(None, feed)[0].sum())
    return total


def _onnx_session(converted: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(converted / "model.onnx"), options,
                                providers=["CPUExecutionProvider"])


def _uproot_inputs(model: str, data: str):
    """uproot.iterate over the file, STEP entries at a time: the model's inputs per step."""
    import awkward as ak
    import uproot

    columns, shape = MODELS[model]
    for arrays in uproot.iterate(f"{data}:events", columns, step_size=STEP, library="ak"):
        if model == "jets":
            yield _pad_jets_awkward(arrays)
        elif len(shape) == 1:
            yield (np.stack([ak.to_numpy(arrays[c]) for c in columns], axis=1)
                   .astype(np.float32),)
        else:
            yield (np.stack([ak.to_numpy(arrays[c]) for c in columns], axis=2)
                   .astype(np.float32),)


def numpy_torch(model: str, data: str, converted: Path) -> tuple[int, float, float]:
    import torch

    torch.set_num_threads(1)
    net = torch.jit.load(str(converted / "model.pt")).eval()
    start = time.perf_counter()
    inputs = _as_numpy_inputs(model, data)
    total = _torch_batches(net, inputs)
    return len(inputs[0]), time.perf_counter() - start, total


def numpy_onnxruntime(model: str, data: str, converted: Path) -> tuple[int, float, float]:
    session = _onnx_session(converted)
    start = time.perf_counter()
    inputs = _as_numpy_inputs(model, data)
    total = _onnx_batches(session, inputs)
    return len(inputs[0]), time.perf_counter() - start, total


def _uproot_run(model: str, data: str, batches: Callable[[tuple[np.ndarray, ...]], float]
                ) -> tuple[int, float, float]:
    start = time.perf_counter()
    events, total = 0, 0.0
    for inputs in _uproot_inputs(model, data):
        events += len(inputs[0])
        total += batches(inputs)
    return events, time.perf_counter() - start, total


def uproot_torch(model: str, data: str, converted: Path) -> tuple[int, float, float]:
    import torch

    torch.set_num_threads(1)
    net = torch.jit.load(str(converted / "model.pt")).eval()
    return _uproot_run(model, data, lambda inputs: _torch_batches(net, inputs))


def uproot_onnxruntime(model: str, data: str, converted: Path) -> tuple[int, float, float]:
    session = _onnx_session(converted)
    return _uproot_run(model, data, lambda inputs: _onnx_batches(session, inputs))


_extra: dict[str, float] = {}

METHODS = {
    "columnar 1 thread": lambda m, d, c: columnar_files(m, d, c, 1),
    "columnar 2 threads": lambda m, d, c: columnar_files(m, d, c, 2),
    "columnar, AsNumpy reader": columnar_asnumpy,
    "rdf 1 thread": lambda m, d, c: rdf_local(m, d, c, 1),
    "rdf 2 threads": lambda m, d, c: rdf_local(m, d, c, 2),
    "distrdf 1 worker": lambda m, d, c: rdf_dask(m, d, c, 1),
    "distrdf 2 workers": lambda m, d, c: rdf_dask(m, d, c, 2),
    "AsNumpy + torch": numpy_torch,
    "AsNumpy + onnxruntime": numpy_onnxruntime,
    "uproot + torch": uproot_torch,
    "uproot + onnxruntime": uproot_onnxruntime,
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
