"""The Python-driven peers, all single-threaded: torch eager, TorchScript, ONNX Runtime,
torch.compile (compilers.py; AOTInductor runs from C++, in run.py).

Each ``make_*`` returns a zero-argument callable that runs one inference on the fixed
input and returns a NumPy array, or raises; the caller reports the error's first line.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable

import numpy as np
import torch
from compilers import make_torch_compile

Runner = Callable[[], np.ndarray]


def make_eager(module: torch.nn.Module, x: torch.Tensor) -> Runner:
    def run() -> np.ndarray:
        with torch.inference_mode():
            return module(x).numpy()

    return run


def make_torchscript(module: torch.nn.Module, x: torch.Tensor) -> Runner:
    """Traced and frozen: the fastest TorchScript a user gets without extra work."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        scripted = torch.jit.freeze(torch.jit.trace(module, (x,)).eval())

    def run() -> np.ndarray:
        with torch.inference_mode():
            return scripted(x).numpy()

    return run


def onnx_bytes(module: torch.nn.Module, x: torch.Tensor, dynamo: bool) -> bytes:
    """The ONNX export a user would make (opset 17 for the classic exporter)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            program = torch.onnx.export(module, (x,), dynamo=True, input_names=["x"],
                                        output_names=["y"], verbose=False)
            program.save(buffer)
        else:
            torch.onnx.export(module, (x,), buffer, dynamo=False, opset_version=17,
                              input_names=["x"], output_names=["y"])
    return buffer.getvalue()


def onnx_bytes_or_dynamo(module: torch.nn.Module, x: torch.Tensor) -> tuple[bytes, str | None]:
    """The classic exporter first (what this project uses); torch's dynamo exporter where
    the classic one fails (as on TransformerEncoderLayer in torch 2.13), with a note."""
    try:
        return onnx_bytes(module, x, dynamo=False), None
    except Exception as exc:  # noqa: BLE001 - any exporter failure means: try the other one
        note = f"classic ONNX exporter failed ({type(exc).__name__}); dynamo exporter used"
        return onnx_bytes(module, x, dynamo=True), note


def make_onnxruntime(module: torch.nn.Module, x: torch.Tensor) -> Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    model, note = onnx_bytes_or_dynamo(module, x)
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x.numpy()}

    def run() -> np.ndarray:
        return session.run(None, feed)[0]

    run.note = note  # type: ignore[attr-defined]
    return run


OPENVINO_CONFIG = {"INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY",
                   "INFERENCE_PRECISION_HINT": "f32"}
# Compiles the ONNX file named by argv[1] with OPENVINO_CONFIG, in a child process.
_OPENVINO_PROBE = ("import sys, openvino as ov; core = ov.Core(); "
                   "core.compile_model(core.read_model(sys.argv[1]), 'CPU', eval(sys.argv[2]))")


def openvino_compiles(model: bytes) -> None:
    """OpenVINO 2026's compile_model kills the process with SIGSEGV on some graphs (the
    zoo's pre-norm MLP); trying it in a child first turns that into a reported failure."""
    with tempfile.NamedTemporaryFile(suffix=".onnx") as file:
        file.write(model)
        file.flush()
        proc = subprocess.run([sys.executable, "-c", _OPENVINO_PROBE, file.name,
                               repr(OPENVINO_CONFIG)], capture_output=True, text=True,
                              timeout=600)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or [""])[-1]
        raise RuntimeError(f"OpenVINO's compile_model failed in a child process "
                           f"(exit status {proc.returncode}) {tail}")


def make_openvino(module: torch.nn.Module, x: torch.Tensor) -> Runner:
    """OpenVINO's CPU plugin on the same ONNX export as ONNX Runtime: one thread, the
    latency hint, FP32 (on CPUs with bf16 its default precision would be bf16)."""
    import openvino as ov

    onnx_model = onnx_bytes_or_dynamo(module, x)[0]
    openvino_compiles(onnx_model)
    core = ov.Core()
    model = core.read_model(io.BytesIO(onnx_model))
    compiled = core.compile_model(model, "CPU", OPENVINO_CONFIG)
    request = compiled.create_infer_request()
    given = x.numpy()

    def run() -> np.ndarray:
        request.infer({0: given})
        return np.array(request.get_output_tensor(0).data, copy=True)

    return run


PEERS: dict[str, Callable[[torch.nn.Module, torch.Tensor], Runner]] = {
    "onnxruntime": make_onnxruntime,
    "openvino": make_openvino,
    "torch eager": make_eager,
    "torchscript": make_torchscript,
    "torch.compile": make_torch_compile,
}
# The real models (real_models.py): TorchScript and torch.compile left out (minutes of
# compilation per model on 2 cores; AOTInductor is the compiler peer there).
REAL_PEERS = {k: v for k, v in PEERS.items() if k not in ("torchscript", "torch.compile")}
