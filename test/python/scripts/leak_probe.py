"""Run by test_embedding.py in a fresh process: resident memory growth over N Parses.

    leak_probe.py MODEL.pt N

Prints `growth_mb=<float> seconds=<float> calls=<N>`. The first 20 calls warm up caches
(imports, torch's dispatcher, allocator pools) and are not counted.
"""

from __future__ import annotations

import os
import sys
import time

import ROOT
import sofie_pytorch  # noqa: F401 - makes PyTorch.Parse the Pythonic entry point

PyTorch = ROOT.TMVA.Experimental.SOFIE.PyTorch
WARMUP = 20


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    path, calls = sys.argv[1], int(sys.argv[2])
    for _ in range(WARMUP):
        PyTorch.Parse(path, [[2, 4]])
    before = resident_bytes()
    start = time.perf_counter()
    for _ in range(calls):
        model = PyTorch.Parse(path, [[2, 4]])
        assert list(model.GetTensorShape("input")) == [2, 4]
        del model
    seconds = time.perf_counter() - start
    growth = (resident_bytes() - before) / 2**20
    print(f"growth_mb={growth:.2f} seconds={seconds:.1f} calls={calls}")


main()
