"""Run by test_embedding.py in a fresh process: does Parse leave the caller's Python
state as it found it? Prints one line per difference found, then DONE.

    state_probe.py MODEL.pt

At the end the probe changes some state itself and compares again ("self-test"), to
show that the comparison does see changes."""

from __future__ import annotations

import logging
import os
import random
import signal
import sys
import warnings

import numpy as np
import ROOT
import sofie_pytorch
import torch

import __main__

PyTorch = ROOT.TMVA.Experimental.SOFIE.PyTorch
model_path, model_object = sys.argv[1], torch.nn.Sequential(torch.nn.Linear(4, 2))

# The caller's own settings, deliberately not the defaults.
sys.path.append("/caller/own/entry")
warnings.filterwarnings("error", message="caller's own filter")
torch.set_num_threads(1)
torch.set_grad_enabled(True)
torch.manual_seed(1234)
np.random.seed(99)
random.seed(7)
logging.basicConfig(level=logging.WARNING, format="caller %(message)s")
logging.getLogger("torch").setLevel(logging.ERROR)
caller_global = object()


def snapshot() -> dict[str, object]:
    manager = logging.Logger.manager
    loggers = {
        name: (lg.level, list(lg.handlers), lg.propagate, lg.disabled)
        for name, lg in manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    root = logging.getLogger()
    return {
        "sys.path": list(sys.path),
        "sys.argv": list(sys.argv),
        "warnings.filters": list(warnings.filters),
        "torch threads": torch.get_num_threads(),
        "torch grad mode": torch.is_grad_enabled(),
        "torch inference mode": torch.is_inference_mode_enabled(),
        "torch default dtype": torch.get_default_dtype(),
        "torch deterministic": torch.are_deterministic_algorithms_enabled(),
        "torch RNG": torch.get_rng_state().numpy().tobytes(),
        "numpy RNG": repr(np.random.get_state()),
        "python RNG": random.getstate(),
        "__main__ globals": {k: id(v) for k, v in vars(__main__).items()},
        "root logger": (root.level, list(root.handlers)),
        "loggers": loggers,
        "logging disabled": logging.root.manager.disable,
        "os.environ": dict(os.environ),
        "cwd": os.getcwd(),
        "recursion limit": sys.getrecursionlimit(),
        "stdio": (id(sys.stdout), id(sys.stderr), id(sys.stdin)),
        "excepthook": sys.excepthook,
        "SIGINT handler": signal.getsignal(signal.SIGINT),
        "in onnx export": torch.onnx.is_in_onnx_export(),
    }


def compare(before: dict[str, object], after: dict[str, object], when: str) -> None:
    for key, value in before.items():
        if key == "loggers":  # loggers created by imports are new, not changed
            changed = [n for n, v in value.items() if after[key].get(n) != v]
            if changed:
                print(f"CHANGED ({when}) loggers: {changed}")
        elif after[key] != value:
            print(f"CHANGED ({when}) {key}: {value!r:.300} -> {after[key]!r:.300}")


def main() -> None:
    initial = snapshot()
    PyTorch.Parse(model_path, [[2, 4]])  # the first call imports onnx, torch.onnx, ...
    compare(initial, snapshot(), "first call")
    before = snapshot()
    PyTorch.Parse(model_path, [[2, 4]])  # a TorchScript file
    PyTorch.Parse(model_object, [[2, 4]])  # a module in memory
    try:
        PyTorch.Parse(model_path, [[2, 5]])  # a failure, raised from inside the tracing
    except sofie_pytorch.TracingError:
        pass
    compare(before, snapshot(), "later calls")
    # Self-test: changes made on purpose must show up, or the comparison proves nothing.
    torch.set_num_threads(2)
    sys.path.insert(0, "/injected")
    logging.getLogger("torch").setLevel(logging.DEBUG)
    compare(before, snapshot(), "self-test")
    print("DONE")


main()
