"""The compiler peers: AOTInductor (a C++ package, timed from aoti_driver.cxx) and
torch.compile (Inductor, timed from Python), both single-threaded.

AOTInductor packages take tens of seconds of compilation each on this machine, so they
are cached in the work directory under a key made of the torch version, the module's
structure and weights, and the input shape; the compile time measured when a package
was built is kept next to it and reported. ``python bench/compilers.py prebuild`` fills
the cache ahead of a run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
AOTI_DRIVER = HERE / "aoti_driver.cxx"
log = logging.getLogger("bench")


def _torch_dirs() -> tuple[list[Path], Path]:
    root = Path(torch.__file__).resolve().parent
    return [root / "include", root / "include" / "torch" / "csrc" / "api" / "include"], root / "lib"


def build_aoti_driver(work: Path) -> Path:
    """The C++ timing program for AOTInductor packages, built once per work directory
    (torch's headers need C++20; ABI and libraries are the wheel's own)."""
    binary = work / "aoti_driver.bin"
    sources = [AOTI_DRIVER, HERE / "timing.hxx"]
    if binary.exists() and all(binary.stat().st_mtime > s.stat().st_mtime for s in sources):
        return binary
    includes, lib = _torch_dirs()
    abi = int(torch.compiled_with_cxx11_abi())
    command = ["g++", "-std=c++20", "-O2", f"-D_GLIBCXX_USE_CXX11_ABI={abi}", "-w",
               *(f"-I{d}" for d in includes), f"-I{HERE}", str(AOTI_DRIVER), "-o", str(binary),
               f"-L{lib}", f"-Wl,-rpath,{lib}", "-ltorch", "-ltorch_cpu", "-lc10"]
    log.info("building the AOTInductor driver (about a minute)")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"aoti_driver.cxx did not compile:\n{done.stderr[-2000:]}")
    return binary


def _key(module: torch.nn.Module, x: torch.Tensor) -> str:
    digest = hashlib.sha256(f"{torch.__version__}|{module!r}|{list(x.shape)}".encode())
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensor.detach().cpu().numpy()).tobytes())
    return digest.hexdigest()[:16]


def aoti_package(module: torch.nn.Module, x: torch.Tensor, cache: Path,
                 name: str) -> tuple[Path, float, bool]:
    """The package for this module and input shape: (path, compile seconds, from cache).

    Built with torch's threads set to one, so that Inductor generates single-threaded
    kernels, as for every other framework here.
    """
    cache.mkdir(parents=True, exist_ok=True)
    stem = f"{name}_{x.shape[0]}_{_key(module, x)}"
    package, meta = cache / f"{stem}.pt2", cache / f"{stem}.json"
    if package.exists() and meta.exists():
        return package, float(json.loads(meta.read_text())["compile_s"]), True
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.export(module, (x,))
            partial = cache / f"{stem}.partial.pt2"
            torch._inductor.aoti_compile_and_package(program, package_path=str(partial))
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    meta.write_text(json.dumps({"compile_s": seconds, "torch": torch.__version__,
                                "built": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}))
    os.replace(partial, package)
    return package, seconds, False


def make_torch_compile(module: torch.nn.Module, x: torch.Tensor) -> Callable[[], np.ndarray]:
    """torch.compile with its defaults (Inductor), one shape per compiled module; the first
    call compiles, and its time is the compile time."""
    config = torch._dynamo.config
    # every zoo model is a new module of a class seen before (nn.Sequential.forward): let
    # Dynamo keep one compiled graph per model instead of falling back to eager at 8
    for limit in ("recompile_limit", "cache_size_limit", "accumulated_recompile_limit"):
        if hasattr(config, limit):
            setattr(config, limit, max(getattr(config, limit), 4096))
    compiled = torch.compile(module, dynamic=False)

    def run() -> np.ndarray:
        with torch.inference_mode():
            return compiled(x).numpy()

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run()
    run.compile_s = time.perf_counter() - start  # type: ignore[attr-defined]
    return run


def main() -> int:
    """Fill the AOTInductor package cache: `python bench/compilers.py prebuild`."""
    sys.path.insert(0, str(HERE))
    from zoo import BATCHES, BY_NAME, SWEEP_BATCHES, SWEEP_MODELS, ZOO

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("what", choices=["prebuild"])
    parser.add_argument("--models", default=",".join(m.name for m in ZOO))
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--sweep", action="store_true", help="the sweep's batch sizes too")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    build_aoti_driver(args.work)
    for name in args.models.split(","):
        batches = sorted(set(BATCHES) | (set(SWEEP_BATCHES) if args.sweep and name in
                                         SWEEP_MODELS else set()))
        for batch in batches:
            model = BY_NAME[name]
            try:
                _, seconds, cached = aoti_package(model.module(), model.example(batch),
                                                  args.work / "aoti", name)
                log.info("%s/%d: %s %.0f s", name, batch, "cached" if cached else "built", seconds)
            except Exception as exc:  # noqa: BLE001 - reported, the run reports it again
                log.warning("%s/%d: %s: %s", name, batch, type(exc).__name__, exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
