"""Compile a generated header with the timing driver, and run it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import numpy as np

DRIVER = Path(__file__).resolve().parent / "driver.cxx"
CXXFLAGS = ["-std=c++17", "-O3", "-march=native"]
LIBS = ["-lopenblas"]
# one BLAS thread: every framework in the benchmark runs single-threaded
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


class NativeError(RuntimeError):
    """The generated code did not compile or run; the message is the first error line."""


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if "error" in line:
            return line.strip()[:300]
    return (text.strip().splitlines() or [""])[-1][:300]


def namespace(header: Path) -> str:
    match = re.search(r"^namespace (SOFIE_\w+)\s*\{", header.read_text(), re.MULTILINE)
    if not match:
        raise NativeError(f"{header.name}: no SOFIE_ namespace in the generated header")
    return match.group(1)


# A variant of the same header: lets GCC vectorise the engine's scalar exp/tanh loops with
# glibc's vector maths (libmvec). Changes rounding and NaN/Inf semantics: checked like the rest.
FAST_MATH = ["-ffast-math"]


# The generated free function for a model of one float input and one float output.
_DO_INFER = re.compile(r"^inline void doInfer\(Session const &session, float const\* \w+, "
                       r"float \*\w+ \) \{", re.MULTILINE)


def times_do_infer(header: Path) -> bool:
    """Whether the driver times doInfer into its own buffer (see driver.cxx)."""
    return len(_DO_INFER.findall(header.read_text())) == 1


def compile_driver(header: Path, extra: list[str] | None = None,
                   suffix: str = "") -> tuple[Path, float]:
    """Build the timing program for one header; returns it and the compile time."""
    binary = header.with_name(header.stem + suffix + ".bin")
    command = ["g++", *CXXFLAGS, *(extra or []), f"-I{header.parent}",
               *(["-DSOFIE_DOINFER"] if times_do_infer(header) else []),
               f'-DSOFIE_HEADER="{header.name}"', f"-DSOFIE_NS={namespace(header)}", str(DRIVER),
               "-o", str(binary), *LIBS]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise NativeError(_first_error(done.stderr))
    return binary, seconds


def run(binary: Path, weights: Path | None, x: np.ndarray, min_seconds: float,
        size: str | None = None) -> tuple[np.ndarray, list[float], list[float], int]:
    """Output on x, per-call CPU and wall ns of each timed block, peak RSS in kB.

    `size` is the driver's third argument: the input's element count by default (driver.cxx),
    its shape "D0,D1,..." for aoti_driver.cxx."""
    given = binary.with_suffix(".in")
    got = binary.with_suffix(".out")
    np.ascontiguousarray(x, dtype="<f4").tofile(given)
    done = subprocess.run(
        [str(binary), str(weights or ""), str(given), size or str(x.size), str(got),
         str(min_seconds)],
        capture_output=True, text=True, env=ENV, timeout=120)
    if done.returncode != 0:
        raise NativeError(f"exit {done.returncode}: {_first_error(done.stderr)}")
    output = np.fromfile(got, dtype="<f4")
    if min_seconds <= 0:  # a check-only run prints nothing
        return output, [], [], 0
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return output, report["block_ns"], report["block_wall_ns"], int(report["maxrss_kb"])


def peak_gflops(work: Path, runs: int = 3) -> dict[str, float] | None:
    """The core's single-thread FP32 peak (peak.cxx: independent vector FMAs, CPU time) and,
    for reference, OpenBLAS sgemm 1024^3; the best of `runs` processes each, as
    {"fma": GFLOP/s, "sgemm": GFLOP/s}; None if it does not build or run."""
    binary = work / "peak.bin"
    built = subprocess.run(["g++", "-O2", "-march=native", str(DRIVER.with_name("peak.cxx")),
                            "-o", str(binary), *LIBS], capture_output=True, text=True)
    if built.returncode != 0:
        return None
    values = []
    for _ in range(runs):
        done = subprocess.run([str(binary)], capture_output=True, text=True, env=ENV, timeout=120)
        if done.returncode == 0:
            values.append([float(v) for v in done.stdout.split()])
    if not values:
        return None
    return {"fma": max(v[0] for v in values), "sgemm": max(v[1] for v in values)}


def compiler_version() -> str:
    done = subprocess.run(["g++", "--version"], capture_output=True, text=True)
    return done.stdout.splitlines()[0]
