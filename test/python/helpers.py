"""Shared test helpers: saving zoo models, running generated code, comparing with Torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import zoo

HERE = Path(__file__).resolve().parent
# float32 results computed in another order than Torch's; see test/cpp/ParseModelsTest.cxx
RTOL, ATOL = 1e-4, 1e-5


def save_zoo_model(name: str, directory: Path) -> tuple[Path, list[torch.Tensor], list[np.ndarray]]:
    """Save zoo model NAME as TorchScript; return the file, inputs and Torch's outputs."""
    scripted, inputs = zoo.build(name)
    path = directory / f"{name}.pt"
    torch.jit.save(scripted, str(path))
    outputs = zoo.torch_outputs(torch.jit.load(str(path)), inputs)
    return path, inputs, [o.numpy() for o in outputs]


def run_jit_many(jobs: list[tuple[Path, str, list[torch.Tensor], Path]]) -> list[list[np.ndarray]]:
    """Run generated headers through cling, all in one fresh process without torch.

    Each job is (header, model name, inputs, working directory); returns each job's outputs.
    """
    specs = []
    for header, name, inputs, workdir in jobs:
        files = []
        for i, x in enumerate(inputs):
            files.append(str(workdir / f"in{i}.npy"))
            np.save(files[-1], x.numpy())
        specs.append({"header": str(header), "name": name, "outdir": str(workdir), "inputs": files})
    job_file = jobs[0][3] / "jit_jobs.json"
    job_file.write_text(json.dumps(specs))
    proc = subprocess.run([sys.executable, str(HERE / "jit_runner.py"), str(job_file)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [[np.load(w / f"out{i}.npy") for i in range(len(list(w.glob("out*.npy"))))]
            for *_, w in jobs]


def run_jit(header: Path, name: str, inputs: list[torch.Tensor], workdir: Path) -> list[np.ndarray]:
    """Run one generated header through cling in a fresh process without torch."""
    return run_jit_many([(header, name, inputs, workdir)])[0]


def assert_matches_torch(got: list[np.ndarray], want: list[np.ndarray]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.reshape(w.shape), w, rtol=RTOL, atol=ATOL)
