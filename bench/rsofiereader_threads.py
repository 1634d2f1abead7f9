"""Measure RSofieReader::Compute from 2 threads: per-thread Sessions, no lock, against the
same reader behind one mutex (ROOT's reader takes a global lock for every Compute).

    .venv/bin/python bench/rsofiereader_threads.py

Two seeded models: the 7-input classifier of the tutorial tests (microseconds per event,
where per-call overheads dominate) and a wider one (7 -> 256 -> 256 -> 1) where the
inference dominates. Prints the median of 3 rounds, events per second, the ratio, and the
share of calls that started while the other thread was inside Compute (0 with the lock):
parallel inference shows there even when the machine has no idle core to speed it up.
Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
ROOT_EXE = str(Path(sys.executable).parent / "root")

def mlp(*widths: int) -> nn.Module:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(widths, widths[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    layers[-1] = nn.Sigmoid()
    return nn.Sequential(*layers).eval()


# name: (widths, events per thread and configuration)
MODELS = {
    "classifier_7_16_16_1": ((7, 16, 16, 1), 400_000),
    "wide_7_256_256_1": ((7, 256, 256, 1), 40_000),
}


def measure(path: Path, events: int) -> dict[str, float]:
    # One BLAS thread: the parallelism measured is RDataFrame-like, one event per thread.
    env = dict(os.environ, SOFIE_BENCH_MODEL=str(path), SOFIE_BENCH_FEATURES="7",
               SOFIE_BENCH_EVENTS=str(events), OPENBLAS_NUM_THREADS="1")
    macro = str(HERE / "rsofiereader_threads.C")
    proc = subprocess.run([ROOT_EXE, "-l", "-b", "-q", macro], env=env, capture_output=True,
                          text=True, timeout=1800, check=True)
    runs: dict[str, list[float]] = {}
    for name, value in re.findall(r"RESULT (\S+) (\S+)", proc.stdout):
        runs.setdefault(name, []).append(float(value))
    return {name: statistics.median(values) for name, values in runs.items()}


def main() -> None:
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        print("events/s:")
        print(f"{'model':24} {'1 thread':>10} {'2 threads':>10} {'2, 1 lock':>10} "
              f"{'lockless/lock':>14} {'overlap lockless':>17} {'overlap lock':>13}")
        for name, (widths, events) in MODELS.items():
            path = Path(tmp) / f"{name}.pt"
            torch.jit.save(torch.jit.script(mlp(*widths)), str(path))
            r = measure(path, events)
            one, two, locked = r["1thread"], r["2threads_lockless"], r["2threads_single_lock"]
            print(f"{name:24} {one:10.0f} {two:10.0f} {locked:10.0f} {two / locked:14.2f} "
                  f"{r['overlap_lockless']:17.1%} {r['overlap_single_lock']:13.1%}")


if __name__ == "__main__":
    main()
