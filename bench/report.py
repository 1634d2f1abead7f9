"""Turn bench/results/results.json into results.md (tables, target checks) and latency.png.

    python bench/report.py [RESULTS_DIR]      (redraws from the JSON of the last run)
    python bench/report.py --summary [DIR]    (prints the README's tables)
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

FRAMEWORKS = ("ours", "ours -ffast-math", "peer", "onnxruntime", "openvino", "torch eager",
              "torchscript", "torch.compile", "aotinductor")
LABELS = {"ours": "ours (SOFIE-PyTorch)", "ours -ffast-math": "ours, -ffast-math",
          "peer": "sofie 0.1.0 parser",
          "onnxruntime": "ONNX Runtime", "openvino": "OpenVINO", "torch eager": "torch eager",
          "torchscript": "TorchScript", "torch.compile": "torch.compile",
          "aotinductor": "AOTInductor",
          "ours -O2": "ours -O2", "ours v3": "ours v3", "ours v3 -O2": "ours v3 -O2",
          "peer v3": "sofie parser v3", "peer v3 -O2": "sofie parser v3 -O2"}
PEERS = FRAMEWORKS[2:]
SWEEP_FRAMEWORKS = ("ours", *PEERS)
# The generated code at each CPU level and -O level: (ours, the sofie parser's at the same
# flags). "ours"/"peer" are -O3 -march=native; v3 is -march=x86-64-v3 (AVX2 + FMA).
LEVELS = (("ours", "peer"), ("ours -O2", None), ("ours v3", "peer v3"),
          ("ours v3 -O2", "peer v3 -O2"))
REAL_FRAMEWORKS = ("ours", "ours -O2", "ours v3", "ours v3 -O2", "peer", "onnxruntime",
                   "openvino", "torch eager", "aotinductor")


def main_cases(cases: dict[str, Any], section: str = "zoo") -> dict[str, Any]:
    """The cases of one section's main table (the sweep's extra batch sizes left out)."""
    return {k: c for k, c in cases.items()
            if not c.get("sweep_only") and c.get("section", "zoo") == section}


def latency(entry: dict[str, Any]) -> tuple[float, float] | None:
    """(median over rounds in us, spread: half the range over rounds, in % of it)."""
    rounds = entry.get("rounds_ns") or []
    if entry.get("status") != "ok" or not rounds:
        return None
    mid = statistics.median(rounds) / 1e3
    spread = (max(rounds) - min(rounds)) / 2 / 1e3
    return mid, 100 * spread / mid


def cell(entry: dict[str, Any]) -> str:
    value = latency(entry)
    if value is None:
        return f"**{entry.get('status', '?')}**"
    return f"{value[0]:.3g} ±{value[1]:.0f}%"


def round_ratios(case: dict[str, Any], peer: str, mine: str = "ours") -> list[float]:
    """ours / peer in each round: both measured within seconds, under the same load."""
    ours, other = case["frameworks"].get(mine, {}), case["frameworks"].get(peer, {})
    if latency(ours) is None or latency(other) is None:
        return []
    return [a / b for a, b in zip(ours["rounds_ns"], other["rounds_ns"])]


def ratio(case: dict[str, Any], peer: str, mine: str = "ours") -> float | None:
    ratios = round_ratios(case, peer, mine)
    return statistics.median(ratios) if ratios else None


def fmt_ratio(case: dict[str, Any], peer: str) -> str:
    ratios = round_ratios(case, peer)
    if not ratios:
        return "-"
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"


def latency_table(cases: dict[str, Any]) -> list[str]:
    head = ["model", "batch", *(LABELS[f] for f in FRAMEWORKS),
            *(f"ours / {LABELS[p]}" for p in PEERS)]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for case in cases.values():
        row = [case["model"], str(case["batch"]),
               *(cell(case["frameworks"].get(f, {"status": "-"})) for f in FRAMEWORKS),
               *(fmt_ratio(case, p) for p in PEERS)]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def failures(cases: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key, case in cases.items():
        for framework, entry in case["frameworks"].items():
            if entry.get("status") != "ok":
                lines.append(f"- `{key}` {LABELS[framework]}: {entry['status']}: "
                             f"`{entry.get('error', '')}`")
            elif entry.get("note"):
                lines.append(f"- `{key}` {LABELS[framework]}: timed; {entry['note']}")
    return lines or ["- none"]


def _kb(value: int | None) -> str:
    return "-" if not value else f"{value / 1024:.1f}"


def cost_table(cases: dict[str, Any]) -> list[str]:
    head = ["model", "batch", "convert ours (ms)", "convert peer (ms)", "compile ours (s)",
            "compile peer (s)", "torch.compile first call (s)", "AOTInductor compile (s)",
            "header ours / peer (kB)", "weights ours / peer (kB)",
            "peak RSS ours / peer / torch (MB)"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for case in cases.values():
        conv, fw = case["conversion"], case["frameworks"]

        def ms(c: dict[str, Any]) -> str:
            return f"{1e3 * c['seconds']:.0f}" if c["ok"] else "failed"

        def comp(f: str, fw: dict[str, Any] = fw) -> str:
            return f"{fw[f]['compile_s']:.1f}" if "compile_s" in fw.get(f, {}) else "-"

        def size(key: str, conv: dict[str, Any] = conv) -> str:
            return " / ".join(f"{conv[f][key] / 1e3:.0f}" if conv[f]["ok"] else "-"
                              for f in ("ours", "peer"))

        rss = " / ".join(_kb(v) for v in (fw["ours"].get("maxrss_kb"),
                                          fw["peer"].get("maxrss_kb"), case["torch_maxrss_kb"]))
        lines.append("| " + " | ".join([case["model"], str(case["batch"]), ms(conv["ours"]),
                                        ms(conv["peer"]), comp("ours"), comp("peer"),
                                        comp("torch.compile"), comp("aotinductor"),
                                        size("header_bytes"), size("weight_bytes"), rss]) + " |")
    return lines


def check(name: str, selected: list[dict[str, Any]], peer: str, limit: float,
          mine: str = "ours") -> str:
    """One target line: mine / peer <= limit on every selected case (median of rounds)."""
    if not selected:
        return f"- not measured: {name}"
    batches = len({case["batch"] for case in selected}) > 1
    parts, met = [], True
    for case in selected:
        label = f"{case['model']}/{case['batch']}" if batches else case["model"]
        value = ratio(case, peer, mine)
        if value is None:
            parts.append(f"{label}: n/a")
            met = False
            continue
        # within noise: the median misses the limit, but some round met it
        ok = value <= limit
        lowest = min(round_ratios(case, peer, mine))
        close = not ok and lowest <= limit
        met &= ok or close
        mark = "" if ok else f" (within noise: {lowest:.2f} in one round)" if close else " ✗"
        parts.append(f"{label}: {value:.2f}{mark}")
    return f"- {'met' if met else '**not met**'}: {name} — " + ", ".join(parts)


def targets(cases: dict[str, Any]) -> list[str]:
    """The issues' targets (4 and 12), checked on this run's figures."""
    cases = main_cases(cases)
    b1 = [c for c in cases.values() if c["batch"] == 1]
    b64 = [c for c in cases.values() if c["batch"] == 64]
    core = [c for c in b1 if c["model"] in ("hep_mlp", "deep_mlp", "lstm", "gru")]
    lines = ["Issue 12: ours ahead of every peer on every model, at batch 1 and 64 "
             "(ours / peer < 1):", ""]
    for batch, selected in ((1, b1), (64, b64)):
        for peer in PEERS:
            lines.append(check(f"batch {batch}, ours / {LABELS[peer]} < 1", selected, peer,
                               1.0))
    residual = [c for c in b64 if c["model"] == "residual"]
    lines.append(check("residual block, batch 64, ours / ONNX Runtime <= 0.8", residual,
                       "onnxruntime", 0.8))
    lines += ["", "Issue 4 (kept):", "",
              check("batch 1, ours / ONNX Runtime <= 1/3 on MLPs and RNNs", core,
                    "onnxruntime", 1 / 3),
              check("batch 1, ours / torch eager <= 1/20 on MLPs and RNNs", core,
                    "torch eager", 1 / 20),
              check("(not a target, for the analysis) batch 64, ours compiled with "
                    "-ffast-math / ONNX Runtime <= 1", b64, "onnxruntime", 1.0,
                    "ours -ffast-math")]
    slow = [(k, c["ours"]["seconds"]) for k, c in
            ((k, v["conversion"]) for k, v in cases.items()) if c["ours"]["ok"]]
    worst = max(slow, key=lambda kv: kv[1]) if slow else ("-", 0.0)
    lines.append(f"- {'met' if worst[1] < 0.5 else '**not met**'}: conversion (parse + generate) "
                 f"< 0.5 s per model once torch is imported — slowest {worst[0]} "
                 f"{1e3 * worst[1]:.0f} ms")
    return lines


def level_table(cases: dict[str, Any]) -> list[str]:
    """The generated code at each CPU level and -O level, and its ratios to ONNX Runtime
    and to the sofie parser's code compiled with the same flags."""
    head = ["model", "batch"]
    for mine, _ in LEVELS:
        head += [f"{LABELS[mine]} (µs)", "/ ONNX Runtime", "/ sofie parser"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for case in cases.values():
        row = [case["model"], str(case["batch"])]
        for mine, peer in LEVELS:
            value = latency(case["frameworks"].get(mine, {}))
            row.append(f"{value[0]:.3g}" if value else "-")
            for other in ("onnxruntime", peer):
                r = ratio(case, other, mine) if other else None
                row.append(f"{r:.2f}" if r is not None else "-")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def real_table(cases: dict[str, Any]) -> list[str]:
    """The real models: every framework's time, and each level of ours / ONNX Runtime and
    / OpenVINO."""
    mine = [f for f in REAL_FRAMEWORKS if f.startswith("ours")]
    head = ["model", "batch", *(f"{LABELS[f]} (ms)" for f in REAL_FRAMEWORKS),
            *(f"{LABELS[m]} / {LABELS[p]}" for m in mine for p in ("onnxruntime", "openvino"))]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for case in cases.values():
        row = [case["model"], str(case["batch"])]
        for framework in REAL_FRAMEWORKS:
            entry = case["frameworks"].get(framework, {"status": "-"})
            value = latency(entry)
            row.append(f"{value[0] / 1e3:.3g} ±{value[1]:.0f}%" if value
                       else f"**{entry.get('status', '?')}**")
        for m in mine:
            for p in ("onnxruntime", "openvino"):
                r = ratio(case, p, m)
                row.append(f"{r:.2f}" if r is not None else "-")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def level_targets(zoo: dict[str, Any], real: dict[str, Any]) -> list[str]:
    """Issue 20 item 3 and issue 19 item 5, checked on this run's figures."""
    lines = ["Issue 20: at x86-64-v3, -O2 and -O3, ours ahead of ONNX Runtime and of the "
             "sofie parser's code (compiled with the same flags), batch 1 and 64:", ""]
    timed = {f for case in zoo.values() for f in case["frameworks"]}
    for mine, peer in LEVELS[2:]:
        if mine not in timed:
            continue
        for other in ("onnxruntime", peer):
            lines.append(check(f"{LABELS[mine]} / {LABELS[other]} < 1", list(zoo.values()),
                               other, 1.0, mine))
    lines += ["", "Issue 19: on the real models, ours at or below ONNX Runtime and OpenVINO "
              "at every level; ParticleNet and ParT at batch 1 at most 0.8 of ONNX Runtime:",
              ""]
    timed = {f for case in real.values() for f in case["frameworks"]}
    for mine in [f for f in REAL_FRAMEWORKS if f.startswith("ours") and f in timed]:
        for other in ("onnxruntime", "openvino"):
            lines.append(check(f"{LABELS[mine]} / {LABELS[other]} <= 1", list(real.values()),
                               other, 1.0, mine))
    taggers = [c for c in real.values() if c["model"] in ("particlenet", "part")
               and c["batch"] == 1]
    lines.append(check("ours / ONNX Runtime <= 0.8, ParticleNet and ParT at batch 1", taggers,
                       "onnxruntime", 0.8, "ours"))
    return lines


def peak(results: dict[str, Any], kind: str = "fma") -> float | None:
    """The run's FP32 figure of `kind` ("fma": the core's peak; "sgemm": OpenBLAS 1024^3),
    the better of the measurements at start and end."""
    m = results["machine"]
    values = [v.get(kind) if isinstance(v, dict) else (v if kind == "sgemm" else None)
              for v in (m.get("peak_gflops_start"), m.get("peak_gflops_end")) if v]
    values = [v for v in values if v]
    return max(values) if values else None


def throughput_table(cases: dict[str, Any], peak_gflops: float | None) -> list[str]:
    """Achieved GFLOP/s of the convolution models (FLOPs of convolutions and products,
    counted by torch's FlopCounterMode) against the core's single-thread FP32 peak."""
    head = ["model", "batch", "MFLOP per call", *(f"{LABELS[f]} GFLOP/s" for f in
                                                   ("ours", "onnxruntime", "aotinductor")),
            "ours, % of peak"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for case in main_cases(cases).values():
        if case["model"] not in ("cnn", "conv1d", "residual") or not case.get("flops"):
            continue
        rates = []
        for framework in ("ours", "onnxruntime", "aotinductor"):
            value = latency(case["frameworks"].get(framework, {}))
            rates.append(case["flops"] / (value[0] * 1e3) if value else None)
        lines.append("| " + " | ".join([
            case["model"], str(case["batch"]), f"{case['flops'] / 1e6:.2f}",
            *(f"{r:.1f}" if r else "-" for r in rates),
            f"{100 * rates[0] / peak_gflops:.0f}%" if rates[0] and peak_gflops else "-"])
            + " |")
    return lines


def sweep_table(cases: dict[str, Any]) -> list[str]:
    """Per-event cost (µs per event = per call / batch) over the batch sizes."""
    models = sorted({c["model"] for c in cases.values() if c.get("sweep_only")})
    lines = []
    for model in models:
        selected = sorted((c for c in cases.values() if c["model"] == model),
                          key=lambda c: c["batch"])
        head = ["batch", *(LABELS[f] for f in SWEEP_FRAMEWORKS),
                *(f"ours / {LABELS[p]}" for p in PEERS if p != "ours -ffast-math")]
        lines += [f"**{model}** (µs per event)", "", "| " + " | ".join(head) + " |",
                  "|" + " --- |" * len(head)]
        for case in selected:
            row = [str(case["batch"])]
            for framework in SWEEP_FRAMEWORKS:
                value = latency(case["frameworks"].get(framework, {}))
                row.append(f"{value[0] / case['batch']:.3g}" if value else "-")
            row += [fmt_ratio(case, p) for p in PEERS]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return lines


def summary_table(cases: dict[str, Any], batch: int) -> list[str]:
    """The README's table: ours in µs and the ratio to every peer, at one batch size."""
    peers = [p for p in PEERS]
    head = ["model", f"ours (µs), batch {batch}", *(f"/ {LABELS[p]}" for p in peers)]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for case in main_cases(cases).values():
        if case["batch"] != batch:
            continue
        value = latency(case["frameworks"]["ours"])
        cells = [f"{r:.2f}" if (r := ratio(case, p)) is not None else "-" for p in peers]
        lines.append("| " + " | ".join([case["model"], f"{value[0]:.3g}" if value else "-",
                                        *cells]) + " |")
    return lines


def machine(results: dict[str, Any]) -> list[str]:
    m, s = results["machine"], results["settings"]
    imports = ", ".join(f"`{k}` {v:.2f} s" for k, v in m["import_costs_s"].items())
    procs = results["conversion_processes"]
    return [
        f"- {m['date']}; CPU {m['cpu']}, {m['cores']} cores (shared; load average "
        f"{m['load_average_start'][0]:.1f} at start, {m['load_average_end'][0]:.1f} at end)",
        f"- {m['compiler']}, `{m['cxxflags']}`, OpenBLAS {m['openblas']} "
        "(OPENBLAS_NUM_THREADS=1)",
        f"- Python {m['python']}, torch {m['torch']} (1 thread), onnxruntime "
        f"{m['onnxruntime']} (1 intra-op thread), OpenVINO {m.get('openvino', '-')} (CPU, "
        "INFERENCE_NUM_THREADS=1, PERFORMANCE_HINT=LATENCY, f32), sofie "
        f"{m['sofie']}",
        f"- timing: {s['rounds']} interleaved rounds; each the median over blocks of about "
        f"10 ms after a warm-up, at least {s['min_seconds']} s per round; the table shows the "
        "median of the rounds ± half their range; outputs checked against torch eager first "
        f"(|diff| <= {s['atol']} + {s['rtol']}·|torch|)",
        "- the generated code (ours, the sofie parser's) is timed through its `doInfer` into a "
        "buffer the driver owns (the call an event loop makes); `infer()`, which also "
        "allocates and copies its output vector, is what the outputs are checked through",
        "- the figures are process CPU time per call (everything runs on one thread): on this "
        "shared machine wall time also counts the time spent waiting for a core; wall-time "
        "medians are in results.json (`rounds_wall_ns`)",
        f"- start-up and imports (fresh process, wall time): {imports}",
        "- in the conversion processes: import torch "
        + ", ".join(f"{f} {p['import_torch_s']:.2f} s" for f, p in procs.items())
        + "; import of the front end "
        + ", ".join(f"{f} {p['import_frontend_s']:.2f} s" for f, p in procs.items())
        + "; first conversion (lazy set-up, not in the table) "
        + ", ".join(f"{f} {1e3 * p['first_conversion_s']:.0f} ms" for f, p in procs.items()),
        f"- project: {m.get('project', '?')}; whole run: {m['total_s']:.0f} s",
    ]


def markdown(results: dict[str, Any]) -> str:
    cases = main_cases(results["cases"])
    lines = ["# Benchmark results", "",
             "Generated by `make bench` (bench/run.py); do not edit by hand.", "",
             "## Machine and method", "", *machine(results), "",
             "## Latency per call (µs, single thread) and ratios", "",
             "Ratios are ours / peer, the median over rounds of the ratio within each round (the "
             "range over rounds in brackets): below 1 means the project's generated code is "
             "faster.",
             "", *latency_table(cases), "", "![latency](latency.png)", "",
             "## Targets on this run", "", *targets(cases), "",
             "## The generated code at each CPU level and -O level", "",
             "ours / peer per round, as above; the sofie parser's code compiled with the same "
             "flags. Flags: " + "; ".join(f"{LABELS[k]}: `{v}`" for k, v in
                                          results["settings"].get("levels", {}).items()), "",
             *level_table(cases), "",
             "## Real models", "",
             "weaver-core's taggers (JetClass configuration, 128 particles, behind a one-input "
             "wrapper: bench/real_models.py) and torchvision's CNNs; times in ms.", "",
             *real_table(main_cases(results["cases"], "real")), "",
             "## Targets of issues 19 and 20", "",
             *level_targets(cases, main_cases(results["cases"], "real")), "",
             "## Convolutions: achieved GFLOP/s", "",
             "FLOPs of the convolutions and products per call (torch's FlopCounterMode) over "
             "the median time (CPU time), against the core's single-thread FP32 peak measured "
             "in this run (bench/peak.cxx: independent vector FMAs, CPU time, best of 3 runs at "
             "the start and 3 at the end): "
             + (f"{peak(results):.1f} GFLOP/s" if peak(results) else "not measured")
             + "; OpenBLAS sgemm 1024^3 reached "
             + (f"{peak(results, 'sgemm'):.1f} GFLOP/s" if peak(results, "sgemm") else "-")
             + " in the same measurements.", "",
             *throughput_table(cases, peak(results)), "",
             "## Cost as the batch grows", "",
             "Per-event cost (µs per call / batch size) for ours and every peer; ratios per "
             "call, as above. Log-log plot: sweep.png.", "",
             *sweep_table(results["cases"]), "![sweep](sweep.png)", "",
             "## Not converted, not compiled or wrong", "", *failures(cases),
             *failures(main_cases(results["cases"], "real")), "",
             "## Conversion, build and memory", "",
             "Conversion is parse + generate + write, in a process where torch and the front "
             "end are already imported. Peak RSS: the whole timing process (the generated "
             "Session, its weights, OpenBLAS) vs a Python process running the model in torch.",
             "", *cost_table(cases), ""]
    return "\n".join(lines)


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = main_cases(results["cases"])
    batches = sorted({c["batch"] for c in cases.values()})
    if not batches:  # a run of the real models only (--sections real)
        return
    fig, axes = plt.subplots(len(batches), 1, figsize=(12, 4.2 * len(batches)), squeeze=False)
    width = 0.8 / len(FRAMEWORKS)
    for ax, batch in zip(axes[:, 0], batches):
        selected = [c for c in cases.values() if c["batch"] == batch]
        for i, framework in enumerate(FRAMEWORKS):
            xs, ys, errs = [], [], []
            for j, case in enumerate(selected):
                value = latency(case["frameworks"].get(framework, {}))
                if value is not None:
                    xs.append(j + (i - (len(FRAMEWORKS) - 1) / 2) * width)
                    ys.append(value[0])
                    errs.append(value[0] * value[1] / 100)
            ax.bar(xs, ys, width, yerr=errs, label=LABELS[framework], capsize=2)
        ax.set_yscale("log")
        ax.set_xticks(range(len(selected)), [c["model"] for c in selected])
        ax.set_ylabel("µs per call (log)")
        ax.set_title(f"batch {batch}, one thread (missing bar: did not convert or wrong)")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0, 0].legend(ncol=4, fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def sweep_chart(results: dict[str, Any], path: Path) -> None:
    """Per-event cost against batch size, log-log, one panel per sweep model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = results["cases"]
    models = sorted({c["model"] for c in cases.values() if c.get("sweep_only")})
    if not models:
        return
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 4.5), squeeze=False)
    for ax, model in zip(axes[0], models):
        selected = sorted((c for c in cases.values() if c["model"] == model),
                          key=lambda c: c["batch"])
        for framework in SWEEP_FRAMEWORKS:
            points = [(c["batch"], latency(c["frameworks"].get(framework, {})))
                      for c in selected]
            points = [(b, v[0] / b) for b, v in points if v]
            if points:
                ax.plot(*zip(*points), marker="o", label=LABELS[framework])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("µs per event")
        ax.set_title(f"{model}, one thread")
        ax.grid(which="both", alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write(results: dict[str, Any], directory: Path) -> None:
    (directory / "results.md").write_text(markdown(results))
    chart(results, directory / "latency.png")
    sweep_chart(results, directory / "sweep.png")


if __name__ == "__main__":
    # report.py [RESULTS_DIR] redraws; report.py --summary [RESULTS_DIR] prints the README tables
    args = sys.argv[1:]
    summary = "--summary" in args
    args = [a for a in args if a != "--summary"]
    where = Path(args[0]) if args else Path(__file__).resolve().parent / "results"
    results = json.loads((where / "results.json").read_text())
    if summary:
        for b in (1, 64):
            print("\n".join(summary_table(results["cases"], b)) + "\n")
    else:
        write(results, where)
