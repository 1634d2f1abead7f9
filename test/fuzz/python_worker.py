"""One fuzzing batch in its own process (run by fuzz.py).

    python_worker.py python WORKDIR BATCH_SEED COUNT   parse through PyROOT here
    python_worker.py cpp    WORKDIR BATCH_SEED COUNT   only write inputs + manifest.tsv

Before each Parse the input is written to WORKDIR/current.* (with current.json saying
what it is), so that a crash or hang can be traced to its input. Inputs that end in an
exception other than the package's own errors are copied to WORKDIR/findings/. The last
line printed is a JSON summary.
"""

from __future__ import annotations

import collections
import json
import shutil
import sys
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inputs

# The kinds a deliberate, user-facing error has (the C++ ParseError::kind() values).
CLEAN_KINDS = {"ModelLoadError", "InputSpecError", "TracingError", "UnsupportedOperatorError",
               "SofieError"}


def _settings(count: int):
    return settings(max_examples=count, database=None, deadline=None, derandomize=False,
                    phases=[Phase.generate], suppress_health_check=list(HealthCheck))


def _kind(exc: BaseException) -> tuple[str, bool]:
    """The error's kind, and whether it is a clean, deliberate one."""
    import sofie_pytorch

    name = type(exc).__name__
    if isinstance(exc, sofie_pytorch.SofiePyTorchError):
        if type(exc) is sofie_pytorch.SofiePyTorchError:
            # _root re-raises kinds without a class of their own as "Kind: message".
            name = str(exc).split(":", 1)[0]
        return name, name in CLEAN_KINDS
    return name, False


def run_python(workdir: Path, batch_seed: int, count: int) -> dict:
    import ROOT
    import sofie_pytorch  # noqa: F401 - registers the Pythonic Parse

    parse = ROOT.TMVA.Experimental.SOFIE.PyTorch.Parse
    seeds = inputs.make_seeds()
    outcomes: collections.Counter[str] = collections.Counter()
    findings = workdir / "findings"
    state = {"n": 0, "unclean": 0}

    @seed(batch_seed)
    @_settings(count)
    @given(st.data())
    def one(data: st.DataObject) -> None:
        chosen, blob, mode = data.draw(inputs.model_bytes(seeds))
        shapes = data.draw(inputs.shapes(chosen, cpp=False))
        dtypes = data.draw(inputs.dtypes(chosen))
        path = workdir / ("current.pt2" if chosen.name.endswith(".pt2") else "current.pt")
        path.write_bytes(blob)
        meta = {"seed": chosen.name, "mode": mode, "shapes": repr(shapes),
                "dtypes": repr(dtypes), "batch_seed": batch_seed, "index": state["n"]}
        (workdir / "current.json").write_text(json.dumps(meta))
        state["n"] += 1
        try:
            parse(str(path), shapes, dtypes)
            outcomes["OK"] += 1
        except Exception as exc:  # noqa: BLE001 - classifying every outcome is the point
            kind, clean = _kind(exc)
            outcomes[kind] += 1
            if not clean:
                state["unclean"] += 1
                findings.mkdir(exist_ok=True)
                stem = f"b{batch_seed}_{state['n']:05d}"
                shutil.copy(path, findings / (stem + path.suffix))
                meta["error"] = f"{kind}: {str(exc)[:2000]}"
                (findings / (stem + ".json")).write_text(json.dumps(meta, indent=1))

    one()
    return {"entry": "python", "inputs": state["n"], "unclean": state["unclean"],
            "outcomes": dict(outcomes)}


def _shape_spec(shapes: list) -> str:
    if not shapes:
        return "#"
    return ";".join(",".join(str(d) for d in s) for s in shapes)


def generate_cpp(workdir: Path, batch_seed: int, count: int) -> dict:
    seeds = inputs.make_seeds()
    lines: list[str] = []

    @seed(batch_seed)
    @_settings(count)
    @given(st.data())
    def one(data: st.DataObject) -> None:
        chosen, blob, mode = data.draw(inputs.model_bytes(seeds))
        shapes = data.draw(inputs.shapes(chosen, cpp=True))
        dtypes = data.draw(inputs.dtypes(chosen))
        path = inputs.write_input(workdir, len(lines), chosen, blob)
        dtype_spec = "-" if dtypes is None else ",".join(dtypes) or "-"
        lines.append(f"{path}\t{_shape_spec(shapes)}\t{dtype_spec}\t{chosen.name}:{mode}")

    one()
    (workdir / "manifest.tsv").write_text("\n".join(lines) + "\n")
    return {"entry": "cpp-generate", "inputs": len(lines)}


def main() -> None:
    mode, workdir, batch_seed, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(
        sys.argv[4])
    workdir.mkdir(parents=True, exist_ok=True)
    summary = (run_python if mode == "python" else generate_cpp)(workdir, batch_seed, count)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
