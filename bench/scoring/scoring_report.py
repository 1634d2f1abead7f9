"""results.json of the scoring benchmark -> results.md (tables, targets) and scoring.png.

    python bench/scoring/scoring_report.py [RESULTS_DIR]     (redraws from the last run)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OURS_1, OURS_2 = "rdf 1 thread", "rdf 2 threads"
COLUMNAR_1, COLUMNAR_2 = "columnar 1 thread", "columnar 2 threads"
DASK_1, DASK_2 = "distrdf 1 worker", "distrdf 2 workers"
PEER = "AsNumpy + torch"
UPROOT = "uproot + torch"  # the issue-21 target: the columnar path at least as fast


def _table(results: list[dict[str, Any]]) -> list[str]:
    lines = ["| model | events | method | events/s | loop (s) | peak RSS (MB) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        if r.get("status") != "ok":
            lines.append(f"| {r['model']} | {r.get('dataset_events', '?'):,} | {r['method']} | "
                         f"{r['status']} | | |")
            continue
        rss = f"{r['peak_rss_mb']:.0f}"
        if "worker_peak_rss_mb" in r:
            rss += f" (+ {r['worker_peak_rss_mb']:.0f} per worker)"
        lines.append(f"| {r['model']} | {r['events']:,} | {r['method']} | "
                     f"{r['events_per_s']:,.0f} | {r['seconds']:.2f} | {rss} |")
    return lines


def _get(results: list[dict[str, Any]], model: str, events: int, method: str) -> dict | None:
    for r in results:
        if (r["model"], r.get("dataset_events"), r["method"], r.get("status")) == (
                model, events, method, "ok"):
            return r
    return None


def _targets(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for model in dict.fromkeys(r["model"] for r in results):
        label = model.upper()
        sizes = sorted({r["dataset_events"] for r in results if r["model"] == model})
        for n in sizes:
            ours, peer = _get(results, model, n, COLUMNAR_1), _get(results, model, n, UPROOT)
            if ours and peer:
                ratio = ours["events_per_s"] / peer["events_per_s"]
                lines.append(f"- {label}, {n:,} events: columnar 1 thread / uproot + torch = "
                             f"{ratio:.2f}x events/s ({'met' if ratio >= 1 else 'missed'})")
            one, two = _get(results, model, n, COLUMNAR_1), _get(results, model, n, COLUMNAR_2)
            if one and two:
                ratio = two["events_per_s"] / one["events_per_s"]
                lines.append(f"- {label}, {n:,} events: columnar 2 threads / 1 thread = "
                             f"{ratio:.2f}x ({'met' if ratio >= 1.7 else 'missed'}, target 1.7x)")
            ours, peer = _get(results, model, n, OURS_1), _get(results, model, n, PEER)
            if ours and peer:
                ratio = ours["events_per_s"] / peer["events_per_s"]
                lines.append(f"- {label}, {n:,} events: RDataFrame 1 thread / AsNumpy + torch = "
                             f"{ratio:.2f}x events/s ({'met' if ratio >= 1 else 'missed'})")
            one, two = _get(results, model, n, DASK_1), _get(results, model, n, DASK_2)
            if one and two:
                ratio = two["events_per_s"] / one["events_per_s"]
                lines.append(f"- {label}, {n:,} events: DistRDF 2 workers / 1 worker = "
                             f"{ratio:.2f}x ({'met' if ratio >= 1.7 else 'missed'}, target 1.7x)")
            t1, t2 = _get(results, model, n, OURS_1), _get(results, model, n, OURS_2)
            if t1 and t2:
                lines.append(f"- {label}, {n:,} events: RDataFrame 2 threads / 1 thread = "
                             f"{t2['events_per_s'] / t1['events_per_s']:.2f}x")
        if len(sizes) >= 2:
            small, big = sizes[0], sizes[-1]
            for method in (COLUMNAR_1, OURS_1, PEER, UPROOT):
                a, b = _get(results, model, small, method), _get(results, model, big, method)
                if a and b:
                    lines.append(f"- {label}, peak RSS of {method}: {a['peak_rss_mb']:.0f} MB "
                                 f"at {small:,} events, {b['peak_rss_mb']:.0f} MB at {big:,}")
    return lines


def _plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if r.get("status") == "ok"]
    cases = sorted({(r["model"], r["dataset_events"]) for r in ok})
    methods = list(dict.fromkeys(r["method"] for r in ok))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    width = 0.8 / max(len(methods), 1)
    for k, method in enumerate(methods):
        rates = [(_get(ok, m, n, method) or {}).get("events_per_s", 0) / 1e6 for m, n in cases]
        rss = [(_get(ok, m, n, method) or {}).get("peak_rss_mb", 0) for m, n in cases]
        xs = [i + k * width for i in range(len(cases))]
        axes[0].bar(xs, rates, width, label=method)
        axes[1].bar(xs, rss, width, label=method)
    labels = [f"{m}\n{n:,} events" for m, n in cases]
    for ax, title in ((axes[0], "million events / s (higher is better)"),
                      (axes[1], "peak resident memory, MB (client process)")):
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(cases))], labels)
        ax.set_title(title)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_report(results: list[dict[str, Any]], out: Path) -> None:
    text = ["# Scoring benchmark", "",
            "Generated by `bench/scoring/run.py` (see bench/scoring/README in the main "
            "README's section \"Scoring datasets\").", "", *_table(results), "",
            "## Targets", "", *_targets(results), ""]
    (out / "results.md").write_text("\n".join(text))
    try:
        _plot(results, out / "scoring.png")
    except ImportError:
        print("matplotlib is not installed: no plot (pip install -r bench/requirements.txt)")


if __name__ == "__main__":
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results"
    write_report(json.loads((directory / "results.json").read_text()), directory)
