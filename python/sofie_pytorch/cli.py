"""The ``sofie-pytorch`` command: convert, check and validate PyTorch models.

Every failure the user can cause ends with one ``error:`` line and exit status 1 (2 for
a wrong command line); a Python traceback is shown only with --verbose.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from .errors import InputSpecError, SofiePyTorchError

PROG = "sofie-pytorch"
EPILOG = """\
examples:
  sofie-pytorch check    model.pt --shape 1,10
  sofie-pytorch convert  model.pt --shape 1,10 -o generated/
  sofie-pytorch convert  model.pt --shape 1,10 --dynamic-batch -o generated/
  sofie-pytorch validate model.pt --shape 4,10 --input x.npy
  sofie-pytorch convert  tagger.pt --shape x=1,17,128 --shape mask=1,1,128 -o generated/

The model is a TorchScript file (torch.jit.save, what TMVA writes) or a torch.export
file (torch.export.save). Give one --shape per model input, in the order of forward(),
or name each (NAME=D0,D1,...): inputs with defaults (mask=None) may then be left out.
"""


class Progress:
    """One status line per long step, on a terminal only: what runs, then how long it took."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        self.stream.write(f"... {what}")
        self.stream.flush()
        start = time.monotonic()
        try:
            yield
        except BaseException:
            self.stream.write(f"\r[failed] {what}\n")
            raise
        self.stream.write(f"\r[done] {what} ({time.monotonic() - start:.1f} s)\n")
        self.stream.flush()


def parse_shape(text: str) -> list[int | str]:
    """'1,10' -> [1, 10]; -1 or a name (N) for a size chosen at run time."""
    return _parse_dims(text, text)


def parse_named_shape(text: str) -> list[int | str] | tuple[str, list[int | str]]:
    """A shape as parse_shape reads it, or 'mask=1,1,16' -> ('mask', [1, 1, 16]): the
    shape of forward()'s input `mask` (an input with a default may then be given while
    one before it is left out)."""
    if "=" not in text:
        return parse_shape(text)
    name, _, dims = text.partition("=")
    name = name.strip()
    if not name.isidentifier():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a shape: write it as 1,10, or NAME=1,10 for forward()'s input "
            f"NAME"
        )
    return name, _parse_dims(dims, text)


def _parse_dims(dims_text: str, text: str) -> list[int | str]:
    dims: list[int | str] = []
    for part in dims_text.replace("x", ",").split(","):
        part = part.strip()
        if not part:
            raise argparse.ArgumentTypeError(f"{text!r} is not a shape: write it as 1,10")
        try:
            dims.append(int(part))
        except ValueError:
            if not part.isidentifier():
                raise argparse.ArgumentTypeError(
                    f"{text!r} is not a shape: write it as 1,10 (or -1,10 for a batch size "
                    f"chosen at run time)"
                ) from None
            dims.append(part)
    return dims


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Turn a PyTorch model into SOFIE's standalone C++ inference code "
        "(a header plus a weight file), check what it uses, or validate it against Torch.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("model", type=Path, help="the model file (.pt TorchScript or .pt2)")
    common.add_argument(
        "--shape", action="append", type=parse_named_shape, required=True,
        metavar="[NAME=]D0,D1,...",
        help="shape of one model input, e.g. 1,10; repeat for each input, in forward()'s "
        "order, or name them (mask=1,1,16: inputs with defaults may then be left out)",
    )
    common.add_argument(
        "--dtype", action="append", metavar="TYPE",
        help="element type of the inputs: float (default), double, int64, int32, bool; "
        "once for all inputs or once per input",
    )
    common.add_argument(
        "--dynamic-batch", action="store_true",
        help="make the first dimension of every input the batch size, chosen at run time",
    )
    common.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    common.add_argument(
        "-v", "--verbose", action="store_true",
        help="show each node of the graph with its operator, log details, and tracebacks",
    )

    convert = commands.add_parser(
        "convert", parents=[common], help="write the C++ header and weight file",
        description="Convert the model: write <name>.hxx and <name>.dat into the output "
        "directory and print a summary.",
    )
    convert.add_argument("-o", "--output", type=Path, default=Path("."), metavar="DIR",
                         help="directory for the generated files (default: .)")

    commands.add_parser(
        "check", parents=[common], help="list the operators and whether SOFIE supports them",
        description="Trace the model and list every operator with its count and whether "
        "SOFIE can generate code for it. Exit status 1 if any cannot.",
    )

    validate = commands.add_parser(
        "validate", parents=[common], help="compile the generated code and compare with Torch",
        description="Convert the model, compile the generated code with cling, run it on "
        "random inputs (and on --input files) and compare with Torch. Exit status 1 if "
        "any output differs by more than atol + rtol * |torch|.",
    )
    validate.add_argument("--input", action="append", type=Path, default=[], metavar="X.npy",
                          help="a numpy file with one model input; give one per input")
    validate.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (1e-5)")
    validate.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (1e-4)")
    validate.add_argument("--seed", type=int, default=0, help="seed of the random inputs (0)")
    from .scoring import command as score_cli

    score_cli.add_parser(commands, parse_shape)
    config = commands.add_parser(
        "config", help="print where the installed library and headers are",
        description="Print paths for ROOT macros and compiled programs, e.g. "
        "gSystem->Load(\"$(sofie-pytorch config --library)\") in a macro.",
    )
    what = config.add_mutually_exclusive_group(required=True)
    what.add_argument("--library", action="store_true", help="the path of libSofiePyTorch.so")
    what.add_argument("--libdir", action="store_true", help="its directory")
    what.add_argument("--incdir", action="store_true", help="the directories of the headers")
    what.add_argument("--cmake-dir", action="store_true",
                      help="the directory of SofiePyTorchConfig.cmake, for "
                      "cmake -DSofiePyTorch_DIR=... (an installed package only)")
    what.add_argument("--prefix", action="store_true",
                      help="the installation prefix, for cmake -DCMAKE_PREFIX_PATH=... "
                      "(an installed package only)")
    return parser


def cmd_config(args: argparse.Namespace, progress: Progress) -> int:
    from . import _library

    library = next((p for p in _library.candidates() if Path(p).is_file()), None)
    if args.incdir:
        print(" ".join(_library.include_dirs()))
        return 0
    if args.cmake_dir or args.prefix:
        print(_library.cmake_dir() if args.cmake_dir else _library.cmake_prefix())
        return 0
    if library is None:
        raise SofiePyTorchError("libSofiePyTorch.so not found: build it (make) or pip install .")
    print(library if args.library else str(Path(library).parent))
    return 0


def _print(args: argparse.Namespace, text: str = "") -> None:
    if not args.quiet:
        print(text)


def _shapes_and_dtypes(args: argparse.Namespace) -> tuple[Any, Any]:
    from .api import resolve_inputs

    shapes: Any = args.shape
    dtypes: Any = args.dtype
    named = [s for s in shapes if isinstance(s, tuple)]
    if named:
        if len(named) != len(shapes):
            raise InputSpecError("name every --shape (NAME=D0,D1,...) or none of them")
        duplicated = sorted({n for n, _ in named if [m for m, _ in named].count(n) > 1})
        if duplicated:
            raise InputSpecError(f"more than one --shape for {', '.join(duplicated)}")
        shapes = dict(named)
        if dtypes and len(dtypes) == len(shapes) > 1:  # once per input: in the same order
            dtypes = dict(zip(shapes, dtypes))
    return resolve_inputs(shapes, None, dtypes, args.dynamic_batch)


def _trace_report(args: argparse.Namespace, progress: Progress) -> Any:
    from . import api, report

    shapes, dtypes = _shapes_and_dtypes(args)
    supported = api.supported_operators()
    with progress.step("tracing the model"):
        return report.trace(args.model, shapes, dtypes, supported)


def _print_operators(args: argparse.Namespace, graph: Any) -> None:
    from .report import table

    rows = [[op, str(n), "yes" if ok else "NO"] for op, n, ok in graph.operator_counts()]
    _print(args, table(rows, ["operator", "count", "supported"]))
    if args.verbose:
        mapping = [[str(i), path, op, "yes" if ok else "NO"]
                   for i, (path, op, ok) in enumerate(graph.node_mapping())]
        _print(args, "\nnodes, in execution order:")
        _print(args, table(mapping, ["#", "module", "operator", "supported"]))


def _tensor_rows(model: Any, names: Sequence[Any]) -> list[list[str]]:
    from .reader import _info

    rows = []
    for name in names:
        info = _info(model, str(name))
        rows.append([info.name, info.dtype, "[" + ", ".join(map(str, info.shape)) + "]"])
    return rows


def cmd_check(args: argparse.Namespace, progress: Progress) -> int:
    graph = _trace_report(args, progress)
    _print_operators(args, graph)
    missing = graph.unsupported()
    if missing:
        print(f"error: SOFIE cannot generate code for {len(missing)} operator(s): "
              f"{', '.join(missing)}", file=sys.stderr)
        return 1
    _print(args, f"\nall {len(graph.operator_counts())} operator types are supported")
    return 0


def cmd_convert(args: argparse.Namespace, progress: Progress) -> int:
    from . import api
    from .report import human_bytes, table

    graph = _trace_report(args, progress)
    missing = graph.unsupported()
    if missing:
        if not args.quiet:
            _print_operators(args, graph)
        print(f"error: SOFIE cannot generate code for {len(missing)} operator(s): "
              f"{', '.join(missing)}; nothing was written", file=sys.stderr)
        return 1
    shapes, dtypes = _shapes_and_dtypes(args)
    with progress.step("building the SOFIE model and generating code"):
        # The graph traced for the summary is the one converted: the model runs once.
        result = api.convert(graph.traced(), args.output, shapes, None, dtypes)
    count, size = graph.parameters()
    _print(args, f"model {result.name} -> namespace {result.namespace}")
    _print_operators(args, graph)
    _print(args, "")
    _print(args, f"operators: {len(graph.graph.node)} nodes, "
                 f"{len(graph.operator_counts())} operator types")
    _print(args, f"parameters: {count:,} ({human_bytes(size)})")
    model = result.model
    _print(args, "\n" + table(_tensor_rows(model, model.GetInputTensorNames()),
                              ["input", "type", "shape"]))
    _print(args, "\n" + table(_tensor_rows(model, model.GetOutputTensorNames()),
                              ["output", "type", "shape"]))
    _print(args, f"\nwrote {result.header}")
    if result.weights:
        _print(args, f"wrote {result.weights} ({human_bytes(result.weights.stat().st_size)})")
    return 0


def _load_inputs(args: argparse.Namespace, count: int) -> list[Any]:
    import numpy as np

    if len(args.input) != count:
        raise InputSpecError(f"{len(args.input)} --input file(s) given, the model takes {count}")
    arrays = []
    for path in args.input:
        try:
            arrays.append(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise InputSpecError(f"{path}: not a readable .npy file ({exc})") from None
    return arrays


def cmd_validate(args: argparse.Namespace, progress: Progress) -> int:
    import numpy as np
    import torch

    from .loading import sources
    from .reader import Reader

    shapes, dtypes = _shapes_and_dtypes(args)
    with progress.step("converting and compiling the generated code with cling"):
        reader = Reader(args.model, shapes, None, dtypes)
    loaded = sources.load(args.model)
    specs = loaded.specs(shapes, dtypes)
    generator = torch.Generator().manual_seed(args.seed)
    cases = [("random", [s.example(generator).numpy() for s in specs])]
    if args.input:
        cases.append(("--input", _load_inputs(args, len(specs))))
    failed = False
    rows = []
    for label, inputs in cases:
        with torch.no_grad():
            # (called_with: the inputs given by name, those left out take their defaults)
            expected = loaded.called_with(specs)(
                *[torch.from_numpy(np.ascontiguousarray(x)) for x in inputs])
        if isinstance(expected, torch.Tensor):
            expected = (expected,)
        got = reader.Compute(*inputs)
        got = got if isinstance(got, list) else [got]
        for i, (g, e) in enumerate(zip(got, expected)):
            want = e.numpy()
            g = g.reshape(want.shape).astype(want.dtype)
            diff = np.abs(g.astype(np.float64) - want)
            rel = diff / np.maximum(np.abs(want), np.finfo(np.float32).tiny)
            ok = bool(np.all(diff <= args.atol + args.rtol * np.abs(want)))
            failed |= not ok
            rows.append([label, f"output {i}", str(list(want.shape)), f"{diff.max():.3g}",
                         f"{rel.max():.3g}", "ok" if ok else "MISMATCH"])
    from .report import table

    _print(args, table(rows, ["inputs", "output", "shape", "max abs err", "max rel err", ""]))
    _print(args, f"\ntolerance: |sofie - torch| <= {args.atol:g} + {args.rtol:g} * |torch|")
    if failed:
        print("error: the generated code differs from Torch beyond the tolerance",
              file=sys.stderr)
        return 1
    return 0


def cmd_score(args: argparse.Namespace, progress: Progress) -> int:
    from .scoring import command as score_cli

    return score_cli.run(args, progress)


COMMANDS = {
    "score": cmd_score,
    "convert": cmd_convert,
    "check": cmd_check,
    "validate": cmd_validate,
    "config": cmd_config,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.verbose = getattr(args, "verbose", False)
    # ROOT's PyPI build announces its alpha status on import: noise in a tool's output.
    warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
    # TorchScript is deprecated in torch, but it is the format TMVA writes.
    warnings.filterwarnings("ignore", message=r"`torch\.jit\..*` is deprecated")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    quiet = getattr(args, "quiet", False)
    progress = Progress(sys.stderr, sys.stderr.isatty() and not quiet)
    try:
        return COMMANDS[args.command](args, progress)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        if args.verbose:
            traceback.print_exc()
        if isinstance(exc, SofiePyTorchError):
            message = str(exc)
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            message = f"{type(exc).__name__}: {first} (run with --verbose for details)"
        print(f"error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
