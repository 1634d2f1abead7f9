"""The fuzzer's driver: batches of mutated models and shape lists through the Python
(PyROOT) entry and the C++ entry, each batch in its own process, with a time limit.

    python test/fuzz/fuzz.py [--python N] [--cpp N] [--batch N] [--seed S] [--results FILE]

(`make fuzz` runs it with the committed settings.) A batch process that dies (crash) or
runs out of time (hang) is reported with the input it was on; an exception other than
the package's deliberate errors is reported with its input, copied to
test/fuzz/findings/. Exit status 1 if anything was found.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT_DIR = HERE.parent.parent
CLEAN_KINDS = {"ModelLoadError", "InputSpecError", "TracingError", "UnsupportedOperatorError",
               "SofieError"}
HISTORY = "## Earlier runs"
BATCH_TIMEOUT = 1800  # seconds per batch; a hang shows as a timeout


def run_python_batch(workdir: Path, batch_seed: int, count: int, report: dict,
                     findings: Path) -> None:
    cmd = [sys.executable, str(HERE / "python_worker.py"), "python", str(workdir),
           str(batch_seed), str(count)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BATCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        report["hangs"].append(_current(workdir))
        _keep_current(workdir, findings, f"py_b{batch_seed}_hang")
        return
    if proc.returncode != 0:
        report["crashes"].append({"returncode": proc.returncode, "input": _current(workdir),
                                  "stderr": proc.stderr[-2000:]})
        _keep_current(workdir, findings, f"py_b{batch_seed}_crash")
        return
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    report["inputs"] += summary["inputs"]
    report["unclean"] += summary["unclean"]
    report["outcomes"].update(summary["outcomes"])


def _keep_current(workdir: Path, findings: Path, stem: str) -> None:
    """Keep the input a dead batch was on (its index and mutation are in current.json)."""
    meta = _current(workdir)
    if not isinstance(meta, dict):
        return
    findings.mkdir(parents=True, exist_ok=True)
    suffix = ".pt2" if str(meta.get("seed", "")).endswith(".pt2") else ".pt"
    shutil.copy(workdir / f"current{suffix}", findings / f"{stem}{suffix}")
    (findings / f"{stem}.json").write_text(json.dumps(meta, indent=1))


def _current(workdir: Path) -> object:
    meta = workdir / "current.json"
    return json.loads(meta.read_text()) if meta.exists() else None


def run_cpp_batch(workdir: Path, batch_seed: int, count: int, entry: Path, report: dict,
                  findings: Path) -> None:
    gen = subprocess.run([sys.executable, str(HERE / "python_worker.py"), "cpp", str(workdir),
                          str(batch_seed), str(count)], capture_output=True, text=True,
                         timeout=BATCH_TIMEOUT)
    if gen.returncode != 0:
        raise RuntimeError(f"generating the C++ batch failed:\n{gen.stderr[-3000:]}")
    manifest = (workdir / "manifest.tsv").read_text().splitlines()
    try:
        proc = subprocess.run([str(entry), str(workdir / "manifest.tsv")], capture_output=True,
                              text=True, timeout=BATCH_TIMEOUT)
        lines, status = proc.stdout.splitlines(), proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        lines, status = out.splitlines(), "timeout"
    done = 0
    for line in lines:
        fields = line.split("\t")
        if len(fields) < 2:
            continue
        index = int(fields[0])
        done += 1
        if fields[1] == "OK":
            report["outcomes"]["OK"] += 1
            continue
        kind = fields[2] if fields[1] == "ParseError" else fields[1]
        report["outcomes"][kind] += 1
        if kind not in CLEAN_KINDS:
            report["unclean"] += 1
            stem = f"cpp_b{batch_seed}_{index:05d}"
            _keep(manifest[index], findings, stem, "\t".join(fields[1:]))
    report["inputs"] += done
    if status != 0 or done < len(manifest):
        victim = manifest[done] if done < len(manifest) else None
        entry_report = {"returncode": status, "input": victim}
        if victim:
            _keep(victim, findings, f"cpp_b{batch_seed}_{done:05d}", f"crash/hang: {status}")
        (report["hangs"] if status == "timeout" else report["crashes"]).append(entry_report)


def _keep(manifest_line: str, findings: Path, stem: str, error: str) -> None:
    path, shapes, dtypes, label = manifest_line.split("\t")
    findings.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, findings / (stem + Path(path).suffix))
    meta = {"shapes": shapes, "dtypes": dtypes, "label": label, "error": error}
    (findings / (stem + ".json")).write_text(json.dumps(meta, indent=1))


def new_report() -> dict:
    return {"inputs": 0, "unclean": 0, "outcomes": collections.Counter(), "crashes": [],
            "hangs": [], "seconds": 0.0}


def write_results(path: Path, args: argparse.Namespace, reports: dict[str, dict]) -> None:
    import torch

    total = sum(r["inputs"] for r in reports.values())
    bad = sum(r["unclean"] + len(r["crashes"]) + len(r["hangs"]) for r in reports.values())
    lines = [
        "# Fuzzing results",
        "",
        f"Last run: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"torch {torch.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}.",
        "",
        "Command: `make fuzz` (= `python test/fuzz/fuzz.py "
        f"--python {args.python} --cpp {args.cpp} --batch {args.batch} --seed {args.seed}`).",
        "",
        f"**{total} inputs, {bad} crashes, hangs or non-clean exceptions.**",
        "",
        "| entry | inputs | crashes | hangs | non-clean exceptions | time (s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in reports.items():
        lines.append(f"| {name} | {r['inputs']} | {len(r['crashes'])} | {len(r['hangs'])} | "
                     f"{r['unclean']} | {r['seconds']:.0f} |")
    lines += ["", "Outcomes (a clean outcome is OK or one of the package's own errors):", ""]
    lines += ["| entry | outcome | count |", "| --- | --- | --- |"]
    for name, r in reports.items():
        for kind, count in sorted(r["outcomes"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| {name} | {kind} | {count} |")
    for name, r in reports.items():
        for what in ("crashes", "hangs"):
            for item in r[what]:
                lines.append(f"\n{name} {what[:-1]}: `{json.dumps(item)[:1500]}`")
    # The hand-kept history of earlier runs (and what they found) survives a new run.
    history = ""
    if path.exists() and HISTORY in path.read_text():
        history = "\n" + HISTORY + path.read_text().split(HISTORY, 1)[1]
    path.write_text("\n".join(lines) + "\n" + history)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", type=int, default=10000, help="inputs through PyROOT")
    parser.add_argument("--cpp", type=int, default=5000, help="inputs through C++ Parse")
    parser.add_argument("--batch", type=int, default=500, help="inputs per process")
    parser.add_argument("--seed", type=int, default=1, help="first batch seed")
    parser.add_argument("--workdir", type=Path, default=ROOT_DIR / "build" / "fuzz")
    parser.add_argument("--cpp-entry", type=Path,
                        default=ROOT_DIR / "build" / "bin" / "sofie_pytorch_fuzz_cpp")
    parser.add_argument("--findings", type=Path, default=HERE / "findings")
    parser.add_argument("--results", type=Path, default=None, help="write a RESULTS.md")
    args = parser.parse_args()

    os.environ.setdefault("PYTHONHASHSEED", "0")
    reports = {"python (PyROOT Parse)": new_report(), "C++ (SOFIE::PyTorch::Parse)": new_report()}
    for name, total, runner in (("python (PyROOT Parse)", args.python, "python"),
                                ("C++ (SOFIE::PyTorch::Parse)", args.cpp, "cpp")):
        report = reports[name]
        start = time.perf_counter()
        batch_seed = args.seed
        left = total
        while left > 0:
            count = min(args.batch, left)
            workdir = args.workdir / f"{runner}_{batch_seed}"
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir(parents=True)
            if runner == "python":
                run_python_batch(workdir, batch_seed, count, report, args.findings)
            else:
                run_cpp_batch(workdir, batch_seed, count, args.cpp_entry, report, args.findings)
            left -= count
            batch_seed += 1
            print(f"{name}: {report['inputs']} inputs, {report['unclean']} non-clean, "
                  f"{len(report['crashes'])} crashes, {len(report['hangs'])} hangs",
                  flush=True)
        report["seconds"] = time.perf_counter() - start
        # Python findings are collected by the worker in its workdir.
        for found in args.workdir.glob(f"{runner}_*/findings/*"):
            args.findings.mkdir(parents=True, exist_ok=True)
            shutil.copy(found, args.findings / found.name)
    if args.results:
        write_results(args.results, args, reports)
    bad = sum(r["unclean"] + len(r["crashes"]) + len(r["hangs"]) for r in reports.values())
    print(f"done: {bad} crashes, hangs or non-clean exceptions")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
