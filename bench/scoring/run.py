"""The scoring benchmark: events/s and peak memory scoring a ROOT file end to end.

    python bench/scoring/run.py [--events 1000000 10000000] [--lstm-events 100000]
                                [--jets-events 100000] [--methods ...]
                                [--out bench/scoring/results]

For each dataset size it writes a tree of 4 float columns (the 4-64-64-1 MLP), for the
LSTM 10 RVec<float> columns of 20 values (20 steps x 10 features), and for the jet
tagger (DeepSets over at most 32 constituents, sorted by pt, masked) 3 jagged
RVec<float> columns of about 20 constituents per event (Poisson), then runs each method in
its own process (methods.py): this project's columnar path on 1 and 2 threads (uproot
reading; and ROOT's AsNumpy per range as the reader, to compare readers), its RDataFrame
scoring on 1 and 2 threads and on a Dask LocalCluster of 1 and 2 workers, and what users
do instead (AsNumpy + torch, AsNumpy + ONNX Runtime, uproot + torch, uproot + ONNX
Runtime; batches of 4096, one thread each). Writes results.json, results.md and
scoring.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
warnings.filterwarnings("ignore")
# Clusters per data file. RDataFrame's threads and DistRDF's partitions split a tree only
# at cluster boundaries: a file written with ROOT's default (about 30 MB per cluster) is a
# single cluster at 10^6 events, which one thread or one worker then reads alone whatever
# the number of threads, workers or partitions. 100 clusters give 8 partitions 12 or 13
# each, so 1 and 2 workers (and 1 and 2 threads) get evenly balanced work.
CLUSTERS = 100


def data_path(directory: Path, model: str, events: int) -> Path:
    """The data file's name says its clustering: files from before it are not reused."""
    return directory / f"{model}_{events}_{CLUSTERS}clusters.root"


def write_data(path: Path, model: str, events: int) -> None:
    """The tree "events" in CLUSTERS clusters, written under a temporary name and renamed
    when complete (an interrupted run leaves no partial file to be reused)."""
    import ROOT

    if path.exists():
        return
    ROOT.gRandom.SetSeed(1)
    df = ROOT.RDataFrame(events)
    if model == "mlp":
        columns = ["px", "py", "pz", "e"]
        for c in columns:
            df = df.Define(c, "float(gRandom->Gaus())")
    elif model == "jets":
        columns = ["c_pt", "c_eta", "c_phi"]
        df = df.Define("n", "int(gRandom->Poisson(20))")
        df = df.Define("c_pt", "ROOT::RVecF v(n); for (auto &x : v) x = gRandom->Exp(10); "
                               "return v;")
        for c in columns[1:]:
            df = df.Define(c, "ROOT::RVecF v(n); for (auto &x : v) x = gRandom->Gaus(); "
                              "return v;")
    else:
        columns = [f"f{i}" for i in range(10)]
        for c in columns:
            df = df.Define(c, "ROOT::RVecF v(20); for (auto &x : v) x = gRandom->Gaus(); "
                              "return v;")
    options = ROOT.RDF.RSnapshotOptions()
    options.fAutoFlush = max(events // CLUSTERS, 1)
    partial = path.with_name(f".{path.name}.partial")
    df.Snapshot("events", str(partial), columns, options)
    partial.rename(path)


def save_model(directory: Path, model: str) -> None:
    import torch
    from torch import nn

    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    if model == "mlp":
        net = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                            nn.Linear(64, 1), nn.Sigmoid()).eval()
        examples, shapes = (torch.randn(1, 4),), [[1, 4]]
    elif model == "jets":
        class DeepSets(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.phi = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 32),
                                         nn.ReLU())
                self.rho = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))

            def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
                summed = (self.phi(x) * mask.unsqueeze(-1)).sum(dim=1)
                return torch.sigmoid(self.rho(summed))

        net = DeepSets().eval()
        examples, shapes = (torch.randn(1, 32, 3), torch.ones(1, 32)), [[1, 32, 3], [1, 32]]
    else:
        class Lstm(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.lstm = nn.LSTM(10, 16, batch_first=True)
                self.head = nn.Linear(16, 1)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                out, _ = self.lstm(x)
                return torch.sigmoid(self.head(out[:, -1, :]))

        net = Lstm().eval()
        examples, shapes = (torch.randn(1, 20, 10),), [[1, 20, 10]]
    scripted = torch.jit.trace(net, examples)
    torch.jit.save(scripted, str(directory / "model.pt"))
    (directory / "shapes.json").write_text(json.dumps(shapes))
    names = [f"x{i}" for i in range(len(examples))]
    torch.onnx.export(net, examples, str(directory / "model.onnx"), dynamo=False,
                      input_names=names, dynamic_axes={n: {0: "batch"} for n in names},
                      opset_version=17)


def run_method(method: str, model: str, data: Path, converted: Path) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / "methods.py"), method, model, str(data),
                           str(converted)], capture_output=True, text=True, env=env,
                          timeout=3600)
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        error = (done.stderr.strip().splitlines() or ["?"])[-1][:200]
        return {"method": method, "model": model, "status": f"failed: {error}"}
    result = json.loads(lines[-1])
    result.update(status="ok", process_seconds=wall)
    return result


def main() -> int:
    from methods import METHODS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="*", default=[1_000_000, 10_000_000],
                        help="MLP dataset sizes (none: only the LSTM)")
    parser.add_argument("--lstm-events", type=int, nargs="*", default=[100_000])
    parser.add_argument("--jets-events", type=int, nargs="*", default=[100_000])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--data", type=Path, default=Path("/tmp/sofie_scoring_bench"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.data.mkdir(parents=True, exist_ok=True)
    cases = ([("mlp", n) for n in args.events] + [("lstm", n) for n in args.lstm_events]
             + [("jets", n) for n in args.jets_events])
    results = []
    for model, events in cases:
        converted = args.data / model
        if not (converted / "model.pt").exists():
            save_model(converted, model)
        data = data_path(args.data, model, events)
        write_data(data, model, events)
        for method in args.methods:
            result = run_method(method, model, data, converted)
            result["dataset_events"] = events
            print(json.dumps(result), flush=True)
            results.append(result)
            (args.out / "results.json").write_text(json.dumps(results, indent=1))
    from scoring_report import write_report

    write_report(results, args.out)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
