"""Convert the zoo with one front end and time it; run as its own process per front end.

    python bench/convert.py {ours,peer} OUT_DIR RESULT_JSON [--cases hep_mlp/1,lstm/64]

``ours`` is this project (``ROOT.TMVA.Experimental.SOFIE.PyTorch.Parse``) on the model
saved as TorchScript (``torch.jit.script``, what TMVA writes); ``peer`` is the ``sofie``
0.1.0 package's own PyTorch parser (``sofie.pytorch.parse``, which exports the in-memory
module with torch.export; it refuses TorchScript). Saving is not timed. Where our front
end fails on the TorchScript file, the in-memory module is converted instead (our
parser takes both) and the file's error is kept as a note.
Both end in the same engine's ``Generate`` and ``OutputGenerated``. The two front ends
run in separate processes because each loads its own copy of the engine library.

Import costs (torch, then the front end) are timed once; every conversion after that
is parse + generate + write in a process where everything is already imported. A
first, untimed conversion pays the one-off lazy initialisation (recorded separately).
A model that does not convert is recorded with the first line of its error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

_T0 = time.perf_counter()
import torch  # noqa: E402 - timed on purpose

_T_TORCH = time.perf_counter() - _T0

import real_models  # noqa: E402
from zoo import BATCHES, ZOO, ZooModel  # noqa: E402
from zoo import BY_NAME as ZOO_BY_NAME  # noqa: E402

BY_NAME = {**ZOO_BY_NAME, **real_models.BY_NAME}

log = logging.getLogger("bench.convert")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def _ours() -> Callable[[torch.nn.Module, list[int], Path], None]:
    warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
    import ROOT
    import sofie_pytorch  # noqa: F401 - registers the parser with ROOT

    def convert(module: torch.nn.Module, shape: list[int], header: Path) -> None:
        source = header.with_suffix(".pt")
        model = ROOT.TMVA.Experimental.SOFIE.PyTorch.Parse(
            str(source) if source.exists() else module, [shape])
        model.Generate()
        model.OutputGenerated(str(header))

    return convert


def _peer() -> Callable[[torch.nn.Module, list[int], Path], None]:
    import sofie
    import sofie.pytorch

    def convert(module: torch.nn.Module, shape: list[int], header: Path) -> None:
        rmodel = sofie.pytorch.parse(module, [shape])
        rmodel.generate()
        rmodel.output_generated(str(header))

    return convert


FRONT_ENDS = {"ours": _ours, "peer": _peer}


def convert_one(convert: Callable[..., None], model: ZooModel | real_models.RealModel,
                batch: int, out: Path, frontend: str, from_file: bool = True) -> dict[str, Any]:
    header = out / f"{model.name}_b{batch}_{frontend}.hxx"
    module = model.module()
    note = None
    if frontend == "ours" and from_file:  # the user's file, written before the clock starts
        try:
            torch.jit.save(torch.jit.script(module), str(header.with_suffix(".pt")))
        except Exception as exc:  # noqa: BLE001 - then the in-memory module below
            note = "torch.jit.script: " + first_line(exc)
    start = time.perf_counter()
    try:
        convert(module, model.shape(batch), header)
    except Exception as exc:  # noqa: BLE001 - any failure is a result to report, not a crash
        error = first_line(exc)
        if frontend != "ours" or not header.with_suffix(".pt").exists():
            return {"ok": False, "error": error, "seconds": time.perf_counter() - start}
        # our front end also takes the in-memory module: time that, and say why
        header.with_suffix(".pt").unlink()
        note = f"the TorchScript file failed ({error}); converted from the in-memory module"
        return convert_one(convert, model, batch, out, frontend, from_file=False) | {"note": note}
    seconds = time.perf_counter() - start
    weights = header.with_suffix(".dat")
    return {
        "ok": True,
        "seconds": seconds,
        "header": str(header),
        "weights": str(weights) if weights.exists() else None,
        "header_bytes": header.stat().st_size,
        "weight_bytes": weights.stat().st_size if weights.exists() else 0,
    } | ({"note": note} if note else {})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frontend", choices=sorted(FRONT_ENDS))
    parser.add_argument("out", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("--cases", default=",".join(f"{m.name}/{b}" for m in ZOO for b in BATCHES),
                        help="MODEL/BATCH pairs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    convert = FRONT_ENDS[args.frontend]()
    import_frontend = time.perf_counter() - start

    warm = args.out / "warmup"
    warm.mkdir(exist_ok=True)
    first = convert_one(convert, ZOO[0], 1, warm, args.frontend)

    results: dict[str, Any] = {}
    for key in args.cases.split(","):
        name, batch = key.split("/")
        results[key] = convert_one(convert, BY_NAME[name], int(batch), args.out, args.frontend)
        log.warning("%s %s: %s", args.frontend, key,
                    "ok" if results[key]["ok"] else results[key]["error"])
    args.result.write_text(json.dumps({
        "frontend": args.frontend,
        "import_torch_s": _T_TORCH,
        "import_frontend_s": import_frontend,
        "first_conversion_s": first["seconds"],
        "models": results,
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
