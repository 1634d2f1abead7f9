"""The benchmark, end to end: `make bench` (or `.venv/bin/python bench/run.py`).

1. converts the zoo with both front ends (ours and the `sofie` package's), each in its own
   process, timing parse + generate once torch and the front end are imported;
2. compiles every generated header with the timing driver (g++ -O3 -march=native,
   OpenBLAS, one thread), timing the compilation;
3. builds the Python peers (ONNX Runtime, torch eager, TorchScript, torch.compile) and the
   AOTInductor packages (run from a C++ driver), one thread each, timing the compilers;
4. checks every framework's output against torch eager on the same input: a wrong or
   failing one is reported as such and never timed;
5. times everything in ROUNDS interleaved rounds (median over blocks of >= MIN_SECONDS
   each), so that the load of a shared machine hits all frameworks alike;
6. writes bench/results/results.json, then results.md and latency.png (bench/report.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compilers  # noqa: E402
import native  # noqa: E402
import numpy as np  # noqa: E402
import real_models  # noqa: E402
import report  # noqa: E402
import torch  # noqa: E402
from peers import PEERS, REAL_PEERS, Runner  # noqa: E402
from timing import median, time_blocks  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from zoo import BATCHES, SWEEP_BATCHES, SWEEP_MODELS, ZOO  # noqa: E402
from zoo import BY_NAME as ZOO_BY_NAME  # noqa: E402

BY_NAME = {**ZOO_BY_NAME, **real_models.BY_NAME}
SECTIONS = ("zoo", "real")

log = logging.getLogger("bench")

FRONT_ENDS = ("ours", "peer")
FAST_MATH_NAME = "ours -ffast-math"  # the same generated code, other compiler flags
# The same generated code compiled at other CPU levels and optimisation levels (issue 20):
# "ours" and "peer" are -O3 -march=native; x86-64-v3 is AVX2 + FMA, the common grid CPU.
LEVEL_VARIANTS = {"ours -O2": ("ours", ["-O2"]),
                  "ours v3": ("ours", ["-march=x86-64-v3"]),
                  "ours v3 -O2": ("ours", ["-O2", "-march=x86-64-v3"]),
                  "peer v3": ("peer", ["-march=x86-64-v3"]),
                  "peer v3 -O2": ("peer", ["-O2", "-march=x86-64-v3"])}
AOTI_NAME = "aotinductor"
ATOL, RTOL = 1e-4, 1e-3  # float32, other summation orders (the test suite is stricter)


def effective_flags(extra: list[str]) -> str:
    """The compiler flags a variant amounts to (its -O and -march replace the defaults)."""
    def kind(flag: str) -> str:
        return flag.split("=")[0] if flag.startswith("-march") else flag[:2]

    kept = [f for f in native.CXXFLAGS if kind(f) not in {kind(e) for e in extra}]
    return " ".join(kept + extra)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def wall(command: list[str], repeats: int = 3) -> float:
    """Median wall time of a command (Python start-up and import costs)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return median(times)


def import_costs() -> dict[str, float]:
    py = sys.executable
    return {
        "python -c pass": wall([py, "-c", "pass"]),
        "import torch": wall([py, "-c", "import torch"]),
        "import torch, ROOT, sofie_pytorch": wall(
            [py, "-W", "ignore", "-c", "import torch, ROOT, sofie_pytorch"]),
        "import torch, sofie.pytorch": wall([py, "-c", "import torch, sofie.pytorch"]),
    }


def convert_all(pairs: list[tuple[str, int]], work: Path,
                ours_python: Path | None) -> dict[str, Any]:
    out = {}
    env = dict(os.environ)
    for frontend in FRONT_ENDS:
        if frontend == "ours" and ours_python:  # a snapshot of the package instead of python/
            env["PYTHONPATH"] = os.pathsep.join([str(ours_python), env.get("PYTHONPATH", "")])
        result = work / f"convert_{frontend}.json"
        command = [sys.executable, str(HERE / "convert.py"), frontend, str(work / "generated"),
                   str(result), "--cases", ",".join(f"{m}/{b}" for m, b in pairs)]
        log.info("converting with the %s front end", frontend)
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        env = dict(os.environ)
        if done.returncode != 0 or not result.exists():
            raise RuntimeError(f"{frontend} conversion process failed:\n{done.stderr[-2000:]}")
        out[frontend] = json.loads(result.read_text())
        out[frontend]["process_s"] = time.perf_counter() - start
    return out


def check(got: np.ndarray, want: np.ndarray) -> tuple[bool, float]:
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    want = np.asarray(want, dtype=np.float64).reshape(-1)
    if got.shape != want.shape:
        return False, float("inf")
    diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    return bool(np.all(np.abs(got - want) <= ATOL + RTOL * np.abs(want))), diff


class Case:
    """One model at one batch size: its runners, checked, ready to be timed."""

    def __init__(self, model_name: str, batch: int, sweep_only: bool = False) -> None:
        self.model = BY_NAME[model_name]
        self.batch = batch
        self.sweep_only = sweep_only  # only in the batch-size sweep, not in the main table
        self.section = "real" if model_name in real_models.BY_NAME else "zoo"
        self.key = f"{model_name}/{batch}"
        self.module = self.model.module()
        self.x = self.model.example(batch)
        with torch.inference_mode():
            self.want = self.module(self.x).numpy()
        # Counted with autograd on: the counter's module tracker hooks the backward graph,
        # which inference_mode leaves without grad_fn (ParT's class attention then fails).
        with FlopCounterMode(display=False) as flops:
            self.module(self.x)
        self.flops = flops.get_total_flops()  # convolutions and products, for GFLOP/s
        self.results: dict[str, dict[str, Any]] = {}
        self.timers: dict[str, Any] = {}

    def fail(self, framework: str, status: str, error: str, **extra: Any) -> None:
        self.results[framework] = {"status": status, "error": error, **extra}
        log.warning("%s %s: %s %s", self.key, framework, status, error)

    def add_native(self, frontend: str, conversion: dict[str, Any],
                   flags: list[str] | None = None, name: str | None = None) -> None:
        """A front end's generated code; `flags`/`name`: a compiler-flag variant of it."""
        frontend = name or frontend
        if not conversion["ok"]:
            self.fail(frontend, "no conversion", conversion["error"])
            return
        header = Path(conversion["header"])
        weights = Path(conversion["weights"]) if conversion["weights"] else None
        try:
            suffix = "" if name is None else "_" + "".join(c if c.isalnum() else "_" for c in name)
            binary, compile_s = native.compile_driver(header, flags, suffix)
        except native.NativeError as exc:
            self.fail(frontend, "no compile", str(exc))
            return
        extra: dict[str, Any] = {"compile_s": compile_s}
        if conversion.get("note"):
            extra["note"] = conversion["note"]
        self._check_native(frontend, extra, binary, weights)

    def _check_native(self, framework: str, extra: dict[str, Any], binary: Path,
                      data: Path | None, *size: str) -> None:
        """Run a C++ timing program once, compare its output; a good one gets timed."""
        try:
            got, _, _, _ = native.run(binary, data, self.x.numpy(), 0, *size)
        except (native.NativeError, subprocess.TimeoutExpired) as exc:
            self.fail(framework, "crash", first_line(exc), **extra)
            return
        ok, diff = check(got, self.want)
        if not ok:
            self.fail(framework, "WRONG", f"max |diff| = {diff:.3g}", max_diff=diff, **extra)
            return
        self.results[framework] = {"status": "ok", "max_diff": diff, "rounds_ns": [], **extra}
        self.timers[framework] = ("native", binary, data, *size)

    def add_peer(self, framework: str) -> None:
        try:
            runner: Runner = PEERS[framework](self.module, self.x)
            got = runner()
        except Exception as exc:  # noqa: BLE001 - a framework that cannot run the model is a result
            self.fail(framework, "no conversion", first_line(exc))
            return
        ok, diff = check(got, self.want)
        if not ok:
            self.fail(framework, "WRONG", f"max |diff| = {diff:.3g}", max_diff=diff)
            return
        self.results[framework] = {"status": "ok", "max_diff": diff, "rounds_ns": []}
        if hasattr(runner, "compile_s"):
            self.results[framework]["compile_s"] = runner.compile_s  # type: ignore[attr-defined]
        if getattr(runner, "note", None):
            self.results[framework]["note"] = runner.note  # type: ignore[attr-defined]
        self.timers[framework] = ("python", runner)

    def add_aoti(self, driver: Path, cache: Path) -> None:
        """AOTInductor: the exported model compiled into a package, run from C++."""
        try:
            package, seconds, cached = compilers.aoti_package(self.module, self.x, cache,
                                                              self.model.name)
        except Exception as exc:  # noqa: BLE001 - a compiler that fails is a result
            self.fail(AOTI_NAME, "no conversion", first_line(exc))
            return
        extra: dict[str, Any] = {"compile_s": seconds, "compile_cached": cached}
        self._check_native(AOTI_NAME, extra, driver, package, ",".join(map(str, self.x.shape)))

    def time_round(self, min_seconds: float) -> None:
        for framework, timer in self.timers.items():
            entry = self.results[framework]
            if timer[0] == "native":
                _, blocks, walls, rss = native.run(timer[1], timer[2], self.x.numpy(),
                                                   min_seconds, *timer[3:])
                entry["maxrss_kb"] = max(entry.get("maxrss_kb", 0), rss)
            else:
                blocks, walls = time_blocks(timer[1], min_seconds)
            entry["rounds_ns"].append(median(blocks))  # CPU time: the table's figure
            entry.setdefault("rounds_wall_ns", []).append(median(walls))
            entry.setdefault("blocks", []).append(len(blocks))


def torch_rss(model: str, batch: int) -> int | None:
    done = subprocess.run([sys.executable, str(HERE / "torch_memory.py"), model, str(batch)],
                          capture_output=True, text=True)
    return int(done.stdout.split()[-1]) if done.returncode == 0 and done.stdout.strip() else None


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    import onnxruntime
    import openvino
    import sofie

    try:
        blas = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libopenblas0-pthread"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        blas = "?"
    return {
        "cpu": cpu, "cores": os.cpu_count(), "load_average_start": os.getloadavg(),
        "compiler": native.compiler_version(), "cxxflags": " ".join(native.CXXFLAGS),
        "openblas": blas, "python": platform.python_version(), "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__, "openvino": openvino.__version__,
        "sofie": sofie.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def project_version(ours_python: Path | None) -> str:
    """The commit benchmarked, and whether the front end had uncommitted changes."""
    def git(*command: str) -> str:
        return subprocess.run(["git", *command], cwd=HERE.parent, capture_output=True,
                              text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    if ours_python:
        return f"{head}, front end from {ours_python}"
    dirty = git("status", "--porcelain", "--", "python", "src", "inc")
    return head + (" with uncommitted changes in python/, src/ or inc/" if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help="zoo (the models written here), real (weaver's taggers, "
                        "torchvision's CNNs), or both")
    parser.add_argument("--models", default=",".join(m.name for m in ZOO))
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    parser.add_argument("--real-models", default=",".join(m.name for m in real_models.REAL))
    parser.add_argument("--real-batches", default=",".join(map(str, real_models.REAL_BATCHES)))
    parser.add_argument("--levels", default=",".join(LEVEL_VARIANTS),
                        help="compiler-flag variants of the generated code ('' for none): "
                        + ", ".join(f"'{k}'" for k in LEVEL_VARIANTS))
    parser.add_argument("--sweep-models", default=",".join(SWEEP_MODELS),
                        help="models of the batch-size sweep ('' for none)")
    parser.add_argument("--sweep-batches", default=",".join(map(str, SWEEP_BATCHES)))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.2)
    parser.add_argument("--work", type=Path, default=HERE / "work", help="generated code")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--ours-python", type=Path, help="directory holding the sofie_pytorch "
                        "package to benchmark (default: the one of this work tree)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    log.setLevel(logging.INFO)  # onnxscript logs every rewrite at INFO
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    sections = set(filter(None, args.sections.split(",")))
    if not sections <= set(SECTIONS):
        parser.error(f"--sections: choose from {', '.join(SECTIONS)}")
    levels = list(filter(None, args.levels.split(",")))
    if not set(levels) <= set(LEVEL_VARIANTS):
        parser.error(f"--levels: choose from {', '.join(LEVEL_VARIANTS)}")
    models, batches = args.models.split(","), [int(b) for b in args.batches.split(",")]
    pairs = [(m, b) for m in models for b in batches] if "zoo" in sections else []
    if "real" in sections:
        pairs += [(m, int(b)) for m in filter(None, args.real_models.split(","))
                  for b in args.real_batches.split(",")]
    unknown = {m for m, _ in pairs} - set(BY_NAME)
    if unknown:
        parser.error(f"unknown models: {', '.join(sorted(unknown))}")
    sweep = [(m, int(b)) for m in filter(None, args.sweep_models.split(","))
             for b in args.sweep_batches.split(",")
             if "zoo" in sections and (m, int(b)) not in pairs]
    start = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)

    info = machine()
    log.info("FP32 peak (vector FMAs; OpenBLAS sgemm 1024^3)")
    info["peak_gflops_start"] = native.peak_gflops(args.work)
    log.info("import costs")
    info["import_costs_s"] = import_costs()
    info["project"] = project_version(args.ours_python)
    conversions = convert_all(pairs + sweep, args.work, args.ours_python)
    aoti_driver = compilers.build_aoti_driver(args.work)

    cases = [Case(m, b) for m, b in pairs] + [Case(m, b, sweep_only=True) for m, b in sweep]
    for case in cases:
        log.info("%s: compile and check", case.key)
        for frontend in FRONT_ENDS:
            case.add_native(frontend, conversions[frontend]["models"][case.key])
        if not case.sweep_only:
            for name in levels:
                frontend, flags = LEVEL_VARIANTS[name]
                case.add_native(frontend, conversions[frontend]["models"][case.key], flags, name)
        if case.section == "zoo" and not case.sweep_only:
            case.add_native("ours", conversions["ours"]["models"][case.key], native.FAST_MATH,
                            FAST_MATH_NAME)
        for framework in (REAL_PEERS if case.section == "real" else PEERS):
            case.add_peer(framework)
        case.add_aoti(aoti_driver, args.work / "aoti")
    for r in range(args.rounds):
        log.info("timing round %d of %d", r + 1, args.rounds)
        for case in cases:
            case.time_round(args.min_seconds)
    log.info("torch memory")
    memory = {case.key: None if case.sweep_only else torch_rss(case.model.name, case.batch)
              for case in cases}

    info["peak_gflops_end"] = native.peak_gflops(args.work)
    info["load_average_end"] = os.getloadavg()
    info["total_s"] = time.perf_counter() - start
    results = {
        "machine": info,
        "settings": {"rounds": args.rounds, "min_seconds": args.min_seconds,
                     "atol": ATOL, "rtol": RTOL, "sections": sorted(sections),
                     "levels": {name: effective_flags(LEVEL_VARIANTS[name][1]) for name in levels}},
        "conversion_processes": {f: {k: v for k, v in c.items() if k != "models"}
                                 for f, c in conversions.items()},
        "cases": {case.key: {
            "model": case.model.name, "description": case.model.description,
            "batch": case.batch, "sweep_only": case.sweep_only, "flops": case.flops,
            "section": case.section,
            "frameworks": case.results,
            "conversion": {f: conversions[f]["models"][case.key] for f in FRONT_ENDS},
            "torch_maxrss_kb": memory[case.key],
        } for case in cases},
    }
    path = args.results / "results.json"
    path.write_text(json.dumps(results, indent=1))
    report.write(results, args.results)
    log.info("done in %.0f s: %s", info["total_s"], args.results / "results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
