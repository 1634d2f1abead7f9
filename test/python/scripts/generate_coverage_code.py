"""Generate the code of every coverage case (test/models/coverage.py) into a directory.

Run by test_engine.py in a process of its own, once per SOFIE engine (the library path
chooses which libSOFIE_core/libSOFIE_parsers libSofiePyTorch loads), so that the two
engines' outputs can be compared file by file. Prints one JSON object: the engine
libraries this process loaded, and the error of every case that did not convert.

usage: generate_coverage_code.py OUTPUT_DIRECTORY [CASE ...]   (default: every case)
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1] / "models")]


def loaded_engine() -> list[str]:
    """The engine libraries mapped into this process (from /proc/self/maps)."""
    maps = Path("/proc/self/maps").read_text().split("\n")
    return sorted({line.split()[-1] for line in maps if "libSOFIE_" in line})


def main(out: Path, names: list[str]) -> int:
    import torch

    # Some cases build their modules when coverage.py is imported, not in save(): seed
    # first, so that every process converts the same weights.
    torch.manual_seed(0)
    import ROOT
    import sofie_pytorch
    from conformance import converter_shapes, save
    from coverage import CASES
    from sofie_pytorch import tracing

    warnings.simplefilter("ignore")
    supported = [str(s) for s in ROOT.SOFIE.PyTorch.SupportedOnnxOperators()]
    errors: dict[str, str] = {}
    for name in names or sorted(CASES):
        directory = out / name
        directory.mkdir(parents=True)
        path, _, _ = save(name, directory)
        shapes = converter_shapes(name)
        dtypes = list(CASES[name].dtypes) or None
        try:
            source = path if not isinstance(path, Path) else str(path)
            traced = tracing.trace(source, shapes, dtypes, supported)
            model = sofie_pytorch.parse(traced, input_shapes=shapes, dtypes=dtypes)
            model.Generate()
            model.OutputGenerated(str(directory / f"{model.GetName()}.hxx"))
        except Exception as exc:  # noqa: BLE001 - the same errors are expected from both
            errors[name] = f"{type(exc).__name__}: {exc}"
        for saved in directory.glob("*.pt*"):  # the model file is no generated code
            saved.unlink()
    print(json.dumps({"engine": loaded_engine(), "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
