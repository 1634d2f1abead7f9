"""Running a PyTorch model in-process through SOFIE code compiled by cling (Reader).

    python examples/reader.py
"""

from __future__ import annotations

import sys

import numpy as np
import sofie_pytorch
import torch
from torch import nn


def main() -> int:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(24, 3)).eval()

    # Shapes from an example input; the first dimension is the batch size, chosen per call.
    reader = sofie_pytorch.Reader(model, example_inputs=torch.zeros(1, 2, 8), dynamic_batch=True)
    print(f"inputs:  {reader.inputs}\noutputs: {reader.outputs}")

    worst = 0.0
    for batch in (1, 16):
        x = np.random.default_rng(batch).normal(size=(batch, 2, 8)).astype(np.float32)
        y = reader.Compute(x)  # numpy in, numpy out: generated C++ does the work
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()
        worst = max(worst, float(np.abs(y - want).max()))
        print(f"batch {batch:2d}: output shape {y.shape}")
    ok = worst <= 1e-5
    print(f"max |torch - sofie| = {worst:.3g} (tolerance 1e-05): {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
