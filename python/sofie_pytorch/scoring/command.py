"""``sofie-pytorch score``: add a model's scores to a ROOT dataset, from the shell.

The output file holds one tree, ``scores`` (``--output-tree``), with the score columns
and any ``--keep`` columns, entry by entry in the order of the input entries (the input
files one after the other), so that it is a friend of the input:
``tree->AddFriend("scores", "scored.root")``. Here (``--threads``) the columnar path
(:mod:`.columnar`) reads and scores ranges of clusters on N threads and writes them in
order; on Dask (``--workers``, ``--scheduler``) distributed RDataFrame scores each
partition into a file of its own, merged in the partitions' order. The output is
written whole or not at all: a temporary file renamed into place at the end.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ..errors import InputSpecError, SofiePyTorchError
from ..running import sharedlib
from .library import MASK, OVERFLOW

log = logging.getLogger(__name__)

EPILOG = """\
examples:
  sofie-pytorch score model.pt --input data.root --tree events --columns px,py,pz,e \\
      --output scored.root --threads 2
  sofie-pytorch score model.pt --input a.root --input b.root --tree events \\
      --columns px,py,pz,e --output scored.root --workers 2
  sofie-pytorch score lstm.pt --input jets.root --tree jets --columns c_pt,c_eta,c_phi \\
      --shape 1,20,3 --output scored.root --scheduler tcp://10.0.0.1:8786
"""


def _columns(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r}: write the columns as px,py,pz,e")
    return names


def _particles_option(text: str) -> str:
    if text not in OVERFLOW:
        raise argparse.ArgumentTypeError(f"{text!r}: give refuse or truncate")
    return text


def add_parser(commands: Any, parse_shape: Any) -> None:
    score = commands.add_parser(
        "score", help="score every entry of a ROOT tree and write the scores to a file",
        description="Convert the model, compile it, and run it on every entry of the input "
        "tree with RDataFrame (threads, or a Dask cluster); write the scores with the "
        "input columns to --output (whole or not at all), then print events/s.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    score.add_argument("model", type=Path, help="the model file (.pt TorchScript or .pt2)")
    score.add_argument("--input", action="append", required=True, metavar="FILE.root",
                       help="an input ROOT file; repeat for several")
    score.add_argument("--tree", required=True, help="the tree's name in the input files")
    score.add_argument("--columns", action="append", type=_columns, required=True,
                       metavar="A,B,...", help="the columns of one model input; repeat for "
                       f"each input of the model; {MASK} for an input that is the mask of "
                       "the particle lists")
    score.add_argument("--output", type=Path, required=True, metavar="FILE.root")
    score.add_argument("--name", type=_columns, default=["score"], metavar="NAME[,NAME...]",
                       help="output column name(s) (default: score)")
    score.add_argument("--keep", type=_columns, default=[], metavar="A,B,...",
                       help="input columns to copy into the output (e.g. an event id)")
    score.add_argument("--output-tree", default="scores", metavar="NAME",
                       help="the output tree's name (default: scores)")
    score.add_argument("--format", choices=["ttree", "rntuple"], default="ttree",
                       help="write the output as a TTree (default) or an RNTuple")
    score.add_argument("--particles", type=_particles_option, metavar="refuse|truncate",
                       help="the array columns are jagged particle lists: padded with zeros "
                       "to the model's particle axis; an event with more particles is an "
                       "error (refuse, the default with --sort-by or a mask) or keeps its "
                       "first ones (truncate)")
    score.add_argument("--sort-by", metavar="COLUMN",
                       help="order each event's particles by this array column, largest "
                       "first (e.g. the constituents' pt)")
    score.add_argument("--max-particles", type=int, metavar="N",
                       help="for a model whose particle axis is chosen at run time (-1 in "
                       "--shape, e.g. 1,-1,3): each event runs at its own number of "
                       "particles, at most N (beyond it, --particles decides)")
    score.add_argument("--shape", action="append", type=parse_shape, metavar="D0,D1,...",
                       help="the shape of one model input with batch 1 (needed for RVec "
                       "columns, e.g. 1,20,3; -1 for a particle axis chosen at run time); "
                       "repeat for each input")
    where = score.add_mutually_exclusive_group()
    where.add_argument("--threads", type=int, default=1, metavar="N",
                       help="RDataFrame threads on this machine (default 1)")
    where.add_argument("--workers", type=int, metavar="N",
                       help="start a Dask LocalCluster of N single-threaded worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the Dask cluster whose scheduler is at ADDRESS")
    score.add_argument("--partitions", type=int, metavar="N",
                       help="partitions of a distributed run (default: DistRDF's choice)")
    score.add_argument("--march", metavar="CPU",
                       help="the CPU to compile the model for (g++ -march): default native "
                       "(this machine) for --threads and --workers; for --scheduler every "
                       "x86-64 level, each worker loading the best its CPU runs; give native "
                       "there for a cluster of machines identical to this one")
    score.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    score.add_argument("-v", "--verbose", action="store_true", help="log details")


def _check_inputs(args: argparse.Namespace) -> None:
    import ROOT

    for option, value in (("--threads", args.threads), ("--workers", args.workers),
                          ("--partitions", args.partitions),
                          ("--max-particles", args.max_particles)):
        if value is not None and value < 1:
            raise InputSpecError(f"{option} must be at least 1, not {value}")
    for name in args.input:
        path = Path(name)
        if not path.is_file():
            raise InputSpecError(f"{name}: no such file")
        f = ROOT.TFile.Open(str(path), "READ")
        try:
            if not f or f.IsZombie():
                raise InputSpecError(f"{name}: not a readable ROOT file")
            key = f.GetKey(args.tree)
            kind = str(key.GetClassName()) if key else ""
            cls = ROOT.TClass.GetClass(kind) if kind else None
            if not (kind.endswith("RNTuple") or (cls and cls.InheritsFrom("TTree"))):
                raise InputSpecError(f"{name}: no tree or RNTuple named {args.tree!r}")
        finally:
            if f:
                f.Close()
    if args.output.exists() and args.output.is_dir():
        raise InputSpecError(f"{args.output} is a directory")
    if args.output.resolve() in {Path(n).resolve() for n in args.input}:
        raise InputSpecError(f"{args.output} is also an input file")


def _client(args: argparse.Namespace, stack: ExitStack) -> Any:
    """A Dask client, or None for a local run; whatever is started is closed at exit."""
    if args.workers is None and args.scheduler is None:
        return None
    try:
        import distributed
    except ImportError:
        raise SofiePyTorchError("distributed scoring needs dask: pip install "
                                "'sofie-pytorch[distributed]'") from None
    if args.scheduler:
        client = distributed.Client(args.scheduler, timeout=30)
    else:
        cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                           processes=True, host="127.0.0.1",
                                           dashboard_address=None, silence_logs=logging.ERROR)
        stack.callback(cluster.close)
        client = distributed.Client(cluster)
    stack.callback(client.close)
    return client


def _march(args: argparse.Namespace) -> str | None:
    """--march, else native where the library runs on this machine (threads, or --workers:
    a LocalCluster here); None (rdf.define's portable default) for --scheduler."""
    if args.march:
        return args.march
    return None if args.scheduler else sharedlib.NATIVE


def _snapshot(df: Any, tree: str, path: Path, columns: list[str], scratch: Path) -> None:
    """Write the columns into path: per partition into scratch, merged in order."""
    import ROOT

    options = ROOT.RDF.RSnapshotOptions()
    # a TTree per partition, also from an RNTuple input (then --format rntuple converts)
    options.fOutputFormat = ROOT.RDF.ESnapshotOutputFormat.kTTree
    df.Snapshot(tree, str(scratch / "part.root"), columns, options)
    # DistRDF names them part_<range id>.root, its ranges numbered in entry order: merged
    # in that order, the output keeps the input's order (a rerun partition of a killed
    # worker rewrites its own file: nothing lost or doubled).
    parts = sorted((str(p) for p in scratch.glob("part_*.root")),
                   key=lambda p: int(Path(p).stem.rpartition("_")[2]))
    merger = ROOT.TFileMerger(False, False)
    merger.SetPrintLevel(0)
    if not merger.OutputFile(str(path), "RECREATE"):
        raise SofiePyTorchError(f"cannot write {path}")
    for part in parts:
        if not merger.AddFile(part, False):
            raise SofiePyTorchError(f"cannot read the partial output {part}")
    if not merger.Merge():
        raise SofiePyTorchError("merging the partial outputs failed")


def _entries(path: Path, tree: str) -> int:
    import ROOT

    f = ROOT.TFile.Open(str(path), "READ")
    try:
        return int(f.Get(tree).GetEntries())
    finally:
        f.Close()


def _columns_argument(args: argparse.Namespace) -> list[str] | list[list[str]]:
    return args.columns if len(args.columns) > 1 else args.columns[0]


def _score_here(args: argparse.Namespace, progress: Any, partial: Path) -> tuple[int, float]:
    """The columnar path on --threads threads; (entries, seconds after compilation)."""
    from . import columnar

    with progress.step("converting and compiling the model"):
        job = columnar.FileJob(str(args.model), list(args.input), args.tree,
                               _columns_argument(args), names=args.name, keep=args.keep,
                               input_shapes=args.shape, particles=args.particles,
                               sort_by=args.sort_by, max_particles=args.max_particles,
                               march=_march(args))
    start = time.perf_counter()
    entries = job.write(partial, output_tree=args.output_tree, output_format=args.format,
                        threads=args.threads)
    return entries, time.perf_counter() - start


def _score_distributed(args: argparse.Namespace, progress: Any, client: Any, partial: Path,
                       stack: ExitStack) -> tuple[int, float]:
    """Distributed RDataFrame on the Dask cluster; (entries, seconds of the event loop)."""
    import ROOT

    from . import columnar
    from . import rdataframe as rdf

    options = {"npartitions": args.partitions} if args.partitions else {}
    df = ROOT.RDataFrame(args.tree, list(args.input), executor=client, **options)
    with progress.step("converting and compiling the model"):
        scored = rdf.define(df, args.name, str(args.model), _columns_argument(args),
                            input_shapes=args.shape, march=_march(args),
                            particles=args.particles, sort_by=args.sort_by,
                            max_particles=args.max_particles)
    columns = list(dict.fromkeys([*args.name, *args.keep]))
    scratch = Path(tempfile.mkdtemp(prefix=".sofie_score_", dir=partial.parent))
    stack.callback(shutil.rmtree, scratch, True)
    merged = partial if args.format == "ttree" else scratch / "merged.root"
    start = time.perf_counter()
    try:
        _snapshot(scored, args.output_tree, merged, columns, scratch)
    except SofiePyTorchError:
        raise
    except Exception as exc:  # C++ errors from the event loop, wrapped by cppyy
        raise rdf.ScoringError(rdf.event_loop_message(exc)) from exc
    entries = _entries(merged, args.output_tree)
    if args.format == "rntuple":
        columnar._to_rntuple(merged, args.output_tree, partial)
    return entries, time.perf_counter() - start


def run(args: argparse.Namespace, progress: Any) -> int:
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
    import ROOT

    from ..output import atomic_file

    ROOT.gROOT.SetBatch(True)
    _check_inputs(args)
    with ExitStack() as stack:
        client = _client(args, stack)
        with atomic_file(args.output, ".root") as partial:
            if client is None:
                entries, seconds = _score_here(args, progress, partial)
            else:
                entries, seconds = _score_distributed(args, progress, client, partial, stack)
    if not args.quiet:
        print(f"scored {entries} events in {seconds:.2f} s: {entries / max(seconds, 1e-9):,.0f} "
              f"events/s -> {args.output}")
    return 0
