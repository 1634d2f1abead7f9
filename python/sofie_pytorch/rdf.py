"""Scoring RDataFrame entries with a PyTorch model: one call, local or on a Dask cluster.

::

    df = ROOT.RDataFrame("events", "data.root")
    scored = sofie_pytorch.rdf.define(df, "score", "model.pt", ["px", "py", "pz", "e"])

The model (a file, an ``nn.Module`` or a ``sofie_pytorch.convert`` result) is converted
with SOFIE and compiled with g++ into a shared library together with a little glue
(:mod:`sofie_pytorch.running.scorer_code`); cling only sees a header of inline functions that
pack the columns and call the library. On a local RDataFrame every slot gets its own
Session (``SOFIE::PyTorch::SlotSessions``, made before the event loop, no lock); on a
distributed RDataFrame (``ROOT.RDataFrame(..., executor=client)``) the library, its
header and the weight file are shipped with DistRDF's own ``DistributeSharedLibs``,
``DistributeHeaders`` and ``DistributeFiles``, and each worker thread makes its Session
once per process. Workers need ROOT, not torch nor this package.

The library is compiled for this machine's CPU (``-march=native``) when it runs here; when
it is shipped to workers, which may be other machines, for every x86-64 level (v2, v3, v4),
each worker loading the best its CPU runs (:mod:`sofie_pytorch.running.isa_dispatch`);
``march="native"`` opts into the client's CPU on a cluster of identical machines.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import api
from .errors import InputSpecError, SofiePyTorchError
from .running import isa_dispatch, scorer_code, sharedlib
from .running.scorer_code import InputLayout, OutputLayout, ScorerSpec

log = logging.getLogger(__name__)

__all__ = ["ColumnError", "Scorer", "ScoringError", "define", "event_loop_message"]

SCALAR_TYPES = {
    # ROOT's typedefs and the C++ names RDataFrame reports for numeric branches
    "bool", "Bool_t", "char", "Char_t", "signed char", "unsigned char", "UChar_t",
    "short", "Short_t", "unsigned short", "UShort_t", "int", "Int_t", "unsigned int",
    "UInt_t", "long", "Long_t", "unsigned long", "ULong_t", "long long", "Long64_t",
    "unsigned long long", "ULong64_t", "float", "Float_t", "Float16_t", "double", "Double_t",
    "Double32_t", "std::int8_t", "std::uint8_t", "std::int16_t", "std::uint16_t",
    "std::int32_t", "std::uint32_t", "std::int64_t", "std::uint64_t", "int8_t", "uint8_t",
    "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t", "uint64_t", "size_t",
    "std::size_t",
}
# RVec<T>, std::vector<T> and their spellings; ROOT::RVecF and friends.
_ARRAY = re.compile(r"^(?:ROOT::(?:VecOps::)?)?RVec<\s*(.+?)\s*>$|^(?:std::)?vector<\s*(.+?)\s*>$")
_RVEC_ALIASES = {"F": "float", "D": "double", "I": "int", "L": "long", "LL": "long long",
                 "U": "unsigned int", "UL": "unsigned long", "ULL": "unsigned long long",
                 "B": "bool", "C": "char", "UC": "unsigned char", "S": "short",
                 "US": "unsigned short"}
_RVEC_ALIAS = re.compile(r"^(?:ROOT::)?RVec(" + "|".join(_RVEC_ALIASES) + r")$")
# Model input element types the scorer can fill (SOFIE type name -> C++ buffer type).
INPUT_CTYPES = {"float": "float", "int64_t": "std::int64_t"}


class ColumnError(InputSpecError):
    """An input column is missing, not numeric, or does not fit the model's input."""


class ScoringError(SofiePyTorchError):
    """The event loop failed while scoring (e.g. an RVec of the wrong length)."""


def event_loop_message(exc: BaseException) -> str:
    """The useful line of an exception that came out of an RDataFrame event loop: the C++
    what() of our glue if it is there, else the last line (cppyy and DistRDF wrap it)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "sofie_pytorch.rdf:" in line:
            return line[line.index("sofie_pytorch.rdf:") + len("sofie_pytorch.rdf:"):].strip()
    return lines[-1] if lines else type(exc).__name__


def column_kind(type_name: str) -> str | None:
    """"scalar" or "array" for a numeric column type, None for anything else."""
    name = type_name.strip()
    if name in SCALAR_TYPES:
        return "scalar"
    if _RVEC_ALIAS.match(name):
        return "array"
    match = _ARRAY.match(name)
    if match and (match.group(1) or match.group(2)).strip() in SCALAR_TYPES:
        return "array"
    return None


def _is_distributed(df: Any) -> bool:
    return type(df).__module__.startswith("ROOT._distrdf")


def _column_groups(columns: object) -> list[list[str]]:
    """["a", "b"] -> one input; [["a", "b"], ["c"]] -> two inputs."""
    if isinstance(columns, str) or not isinstance(columns, Sequence) or not columns:
        raise ColumnError(
            f"columns must be a non-empty list of column names (one model input), or a list "
            f"of such lists (one per model input), not {columns!r}"
        )
    if all(isinstance(c, str) for c in columns):
        return [list(columns)]  # type: ignore[arg-type]
    groups = []
    for group in columns:
        if (isinstance(group, str) or not isinstance(group, Sequence) or not group
                or not all(isinstance(c, str) for c in group)):
            raise ColumnError(f"columns: {group!r} is not a non-empty list of column names")
        groups.append(list(group))
    return groups


def _column_kinds(df: Any, groups: list[list[str]]) -> list[list[str]]:
    """Each column's kind, checked before any event is read; every problem at once."""
    available = {str(c) for c in df.GetColumnNames()}
    missing, wrong, kinds = [], [], []
    for group in groups:
        group_kinds = []
        for column in group:
            if column not in available:
                try:  # aliases are not listed by GetColumnNames, but have a type
                    type_name = str(df.GetColumnType(column))
                except Exception:  # noqa: BLE001 - cppyy raises the C++ runtime_error
                    missing.append(column)
                    group_kinds.append("scalar")
                    continue
            else:
                type_name = str(df.GetColumnType(column))
            kind = column_kind(type_name)
            if kind is None:
                wrong.append(f"'{column}' ({type_name})")
            group_kinds.append(kind or "scalar")
        kinds.append(group_kinds)
    problems = []
    if missing:
        problems.append("no column " + ", ".join(f"'{c}'" for c in missing) + " in the dataset")
    if wrong:
        problems.append("not numeric: " + ", ".join(wrong) + " (inputs must be numbers or "
                        "RVec/std::vector of numbers)")
    if problems:
        raise ColumnError("; ".join(problems))
    return kinds


@dataclass(frozen=True)
class _Model:
    """A generated model: its RModel, header, weights and namespace."""

    rmodel: Any
    header: Path
    weights: Path | None
    namespace: str


def _shapes_from_columns(groups: list[list[str]], kinds: list[list[str]]) -> list[list[int]]:
    if any("array" in k for k in kinds):
        raise ColumnError(
            "array (RVec) input columns need the model's input shapes: pass input_shapes, "
            "e.g. input_shapes=[[1, 20, 10]] for 20 steps of 10 features per event"
        )
    return [[1, len(g)] for g in groups]


def _convert(model: object, shapes: object, dtypes: object, workdir: Path, stem: str) -> _Model:
    if isinstance(model, api.Conversion):
        header = workdir / f"{stem}.hxx"
        shutil.copyfile(model.header, header)
        weights = None
        if model.weights is not None:
            weights = workdir / f"{stem}.dat"
            shutil.copyfile(model.weights, weights)
        return _Model(model.model, header, weights, model.namespace)
    rmodel = api.parse(model, shapes, None, dtypes)
    rmodel.SetFilename(stem)
    header, weights = api.generate(rmodel, workdir, stem)
    return _Model(rmodel, header, weights, f"SOFIE_{stem}")


def _event_size(tensor: str, shape: tuple[int | str, ...], role: str) -> tuple[int, list[str]]:
    """Elements per event of a tensor whose first axis is the batch (1 or run-time)."""
    params = [d for d in shape if isinstance(d, str)]
    dims = list(shape)
    if len(dims) >= 2:
        batch = dims.pop(0)
        if isinstance(batch, int) and batch != 1:
            raise InputSpecError(
                f"{role} {tensor} has batch size {batch}: scoring runs one event per call; "
                f"convert the model with a batch size of 1 (or -1, chosen at run time)"
            )
    if any(isinstance(d, str) for d in dims):
        raise InputSpecError(
            f"{role} {tensor} has shape {list(shape)}: scoring needs a fixed size per event "
            f"(only the first axis, the batch, may be chosen at run time)"
        )
    size = 1
    for d in dims:
        size *= int(d)
    return size, params


def _input_layout(info: Any, group: list[str], kinds: list[str]) -> InputLayout:
    ctype = INPUT_CTYPES.get(info.dtype)
    if ctype is None:
        raise InputSpecError(
            f"model input {info.name} is {info.dtype}: scoring fills float and int64 inputs"
        )
    size, _ = _event_size(info.name, info.shape, "model input")
    names = ", ".join(f"'{c}'" for c in group)
    if "array" in kinds and "scalar" in kinds:
        raise ColumnError(
            f"model input {info.name}: columns {names} mix scalar and array (RVec) columns; "
            f"give one input either scalars or arrays"
        )
    if "array" not in kinds and len(group) != size:
        raise ColumnError(
            f"model input {info.name} takes {size} values per event (shape "
            f"{list(info.shape)}), {len(group)} scalar column(s) given: {names}"
        )
    if "array" in kinds and len(group) > 1:
        last = info.shape[-1]
        if last != len(group):
            raise ColumnError(
                f"model input {info.name} has shape {list(info.shape)}: {len(group)} array "
                f"columns ({names}) are read as the {len(group)} features of its last axis, "
                f"which has {last}"
            )
    return InputLayout(info.name, ctype, size, tuple(group), tuple(kinds))


def _spec(tag: str, model: _Model, groups: list[list[str]], kinds: list[list[str]]) -> ScorerSpec:
    from .reader import _info

    rmodel = model.rmodel
    inputs = [_info(rmodel, str(n)) for n in rmodel.GetInputTensorNames()]
    outputs = [_info(rmodel, str(n)) for n in rmodel.GetOutputTensorNames()]
    if len(groups) != len(inputs):
        raise ColumnError(
            f"the model takes {len(inputs)} input(s) ({', '.join(i.name for i in inputs)}), "
            f"{len(groups)} column list(s) given"
        )
    layouts = tuple(_input_layout(i, g, k) for i, g, k in zip(inputs, groups, kinds))
    seen: list[str] = []
    infer_params = []
    for info in inputs:
        new = [d for d in info.shape if isinstance(d, str) and d not in seen]
        seen += new
        infer_params.append(tuple(dict.fromkeys(new)))
    out_layouts = tuple(OutputLayout(o.name, o.dtype, _event_size(o.name, o.shape, "output")[0])
                        for o in outputs)
    return ScorerSpec(
        tag=tag, model_namespace=model.namespace, model_header=model.header.name,
        weights=model.weights.name if model.weights else None,
        size_params=tuple(dict.fromkeys(seen)), infer_params=tuple(infer_params),
        inputs=layouts, outputs=out_layouts,
        same_output_types=len({o.dtype for o in outputs}) == 1,
    )


def cache_root(workdir: str | os.PathLike[str] | None = None) -> Path:
    """Where compiled scorers are kept: workdir, $SOFIE_PYTORCH_CACHE, or ~/.cache."""
    if workdir is not None:
        root = Path(workdir)
    elif os.environ.get("SOFIE_PYTORCH_CACHE"):
        root = Path(os.environ["SOFIE_PYTORCH_CACHE"])
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        root = root / "sofie_pytorch" / "scorers"
    # DistRDF pastes header paths into an #include: refuse what would break out of it.
    if any(ch in str(root.resolve()) for ch in '"\\\n\r'):
        raise SofiePyTorchError(f"the scorer directory {str(root)!r} has a quote, backslash or "
                                f"newline in its name; pass another workdir")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SofiePyTorchError(f"{root}: cannot keep compiled scorers there "
                                f"({exc.strerror}); pass another workdir") from None
    return root


def _digest(model: _Model, spec: ScorerSpec, march: str | None) -> str:
    """The scorer's tag: a hash of everything its library is built from (with the target
    CPU), so that the same model and column layout reuse one library, across calls and
    processes, and libraries for different CPUs never share a name or a namespace."""
    digest = hashlib.sha256()
    digest.update(sharedlib.target_fingerprint(march).encode())
    digest.update(model.header.read_bytes())
    if model.weights is not None:
        digest.update(model.weights.read_bytes())
    digest.update(repr((spec.model_namespace, spec.size_params, spec.infer_params,
                        spec.inputs, spec.outputs, spec.same_output_types)).encode())
    for source in (Path(scorer_code.__file__), Path(sharedlib.__file__),
                   Path(sharedlib.project_include_dir()) / "SofiePyTorch" / "SlotSessions.hxx"):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


class Scorer:
    """One model compiled for one set of input columns: reusable on many RDataFrames.

    The library is kept in a cache directory named after a hash of its inputs (model
    code, weights, column layout, target CPU): a model is compiled once, not once per
    process. ``march`` is g++'s ``-march`` (None: the compiler's default).
    ``define()`` also keeps the Scorer per model object or file and layout, so a model is
    converted once per process.
    """

    def __init__(self, model: object, groups: list[list[str]], kinds: list[list[str]],
                 input_shapes: object = None, dtypes: object = None,
                 workdir: str | os.PathLike[str] | None = None,
                 march: str | None = sharedlib.NATIVE) -> None:
        root = cache_root(workdir)
        self.march = march
        staging = Path(tempfile.mkdtemp(prefix=".staging_", dir=root))
        try:
            shapes = input_shapes
            if shapes is None and not isinstance(model, api.Conversion):
                shapes = _shapes_from_columns(groups, kinds)
            staged = _convert(model, shapes, dtypes, staging, "sofie_scorer")
            self.tag = _digest(staged, _spec("", staged, groups, kinds), march)
            self.directory = root / f"sofie_score_{self.tag}"
            stem = f"sofie_score_{self.tag}"
            self.model = _Model(staged.rmodel, self.directory / f"{stem}_model.hxx",
                                self.directory / f"{stem}.dat" if staged.weights else None,
                                staged.namespace)
            self.spec = _spec(self.tag, self.model, groups, kinds)
            self.header = self.directory / f"{stem}.h"
            self.library = self.directory / f"lib{stem}.so"
            if not self.library.is_file():
                self._build(staged, staging, stem)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._loaded = False
        self._distributed = False
        self._calls = itertools.count()  # names of aliases and helper columns, per call

    def _build(self, staged: _Model, staging: Path, stem: str) -> None:
        """Compile in the staging directory, then move it into place whole."""
        staged.header.rename(staging / self.model.header.name)
        if staged.weights is not None and self.model.weights is not None:
            staged.weights.rename(staging / self.model.weights.name)
        source = staging / f"{stem}.cxx"
        source.write_text(scorer_code.compiled_source(self.spec))
        (staging / self.header.name).write_text(scorer_code.cling_header(self.spec))
        sharedlib.compile_library(source, staging / self.library.name, march=self.march)
        try:
            staging.rename(self.directory)
        except OSError:
            if not self.library.is_file():  # not another process that was faster
                raise
        log.info("compiled scorer %s into %s", self.tag, self.directory)

    @property
    def namespace(self) -> str:
        return self.spec.namespace

    def load(self) -> Any:
        """Load the library and declare its header in this process (once); the namespace."""
        import ROOT

        if not self._loaded:
            if ROOT.gSystem.Load(str(self.library)) < 0:
                raise SofiePyTorchError(f"ROOT could not load {self.library}")
            if isa_dispatch.is_dispatching(self.library):
                log.info("%s runs at %s", self.library.name,
                         isa_dispatch.loaded_level(self.library))  # or says why none
            if not ROOT.gInterpreter.Declare(self.header.read_text()):
                raise SofiePyTorchError(f"cling could not compile {self.header.name}")
            self._loaded = True
        return getattr(ROOT, self.namespace)

    def distribute(self) -> None:
        """Ship the library, its header and the weights to the Dask workers (once)."""
        if self._distributed:
            return
        import ROOT

        distributed = ROOT.RDF.Distributed  # ROOT >= 6.36 (Experimental.Distributed before)
        # DistRDF loads the library and declares the header here too.
        distributed.DistributeSharedLibs([str(self.library)])
        distributed.DistributeHeaders([str(self.header)])
        if self.model.weights is not None:
            distributed.DistributeFiles([str(self.model.weights)])
        # a dispatching library's levels: files beside it, loaded by it (not by DistRDF)
        levels = isa_dispatch.companion_files(self.library)
        if levels:
            distributed.DistributeFiles([str(p) for p in levels])
        self._distributed = self._loaded = True

    def define(self, df: Any, names: Sequence[str]) -> Any:
        """Add the output columns to df (local or distributed); return the new node."""
        names = list(names)
        self._check_names(df, names)
        distributed = _is_distributed(df)
        if distributed:
            self.distribute()
            call = f"{self.namespace}::ScoreOnThisThread("
        else:
            self.load().Setup(int(df.GetNSlots()))
            call = f"{self.namespace}::Score(rdfslot_, "
        node = df
        prefix = f"sofie_{self.tag}_{next(self._calls)}"
        # Columns reach the expression through aliases named by us: a column name is only
        # ever passed to RDataFrame as data, never pasted into the expression.
        aliases = []
        for i, column in enumerate(self.spec.columns):
            alias = f"{prefix}_in{i}"
            node = node.Alias(alias, column)
            aliases.append(alias)
        expression = call + ", ".join(aliases) + ")"
        out_sizes = [o.size for o in self.spec.outputs]
        if len(names) == 1:
            return node.Define(names[0], expression)
        hidden = f"{prefix}_outputs"
        node = node.Define(hidden, expression)
        if len(names) == sum(out_sizes):  # one float column per output value
            for k, name in enumerate(names):
                node = node.Define(name, f"{hidden}[{k}]")
            return node
        offset = 0  # one column per output tensor
        for name, size in zip(names, out_sizes):
            element = (f"{hidden}[{offset}]" if size == 1
                       else f"{self.namespace}::Slice({hidden}, {offset}, {size})")
            node = node.Define(name, element)
            offset += size
        return node

    def _check_names(self, df: Any, names: list[str]) -> None:
        sizes = [o.size for o in self.spec.outputs]
        total = sum(sizes)
        allowed = {1, len(sizes), total}
        if len(names) not in allowed:
            raise InputSpecError(
                f"{len(names)} output name(s) given; the model has {len(sizes)} output "
                f"tensor(s) of {sizes} values per event: give 1 name (one "
                f"{'float' if total == 1 else 'RVec<float>'} column), {len(sizes)} (one per "
                f"output tensor) or {total} (one float column per value)"
            )
        existing = {str(c) for c in df.GetColumnNames()}
        for name in names:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise InputSpecError(f"output column name {name!r} is not a valid C++ "
                                     f"identifier (letters, digits, _)")
            if name in existing:
                raise InputSpecError(f"output column {name!r} exists already")
        if len(set(names)) != len(names):
            raise InputSpecError(f"output column names repeat: {names}")


_cache: dict[tuple[Any, ...], tuple[object, Scorer]] = {}
_cache_lock = threading.Lock()


def _cache_key(model: object, groups: list[list[str]], kinds: list[list[str]],
               input_shapes: object, dtypes: object, march: str | None) -> tuple[Any, ...] | None:
    layout = (tuple(map(tuple, groups)), tuple(map(tuple, kinds)), repr(input_shapes),
              repr(dtypes), march)
    if isinstance(model, api.Conversion):
        return ("conversion", id(model), *layout)
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        try:
            stat = path.stat()
        except OSError:
            return None  # let the converter report it
        return ("file", str(path.resolve()), stat.st_mtime_ns, stat.st_size, *layout)
    return None  # an nn.Module may change between calls: convert it each time


def define(df: Any, names: str | Sequence[str], model: object,
           columns: Sequence[str] | Sequence[Sequence[str]], *,
           input_shapes: object = None, dtypes: object = None,
           workdir: str | os.PathLike[str] | None = None,
           march: str | None = None) -> Any:
    """Add the model's outputs to df as new columns; return the new RDataFrame node.

    ``names``: one name (a ``float`` column for a model with one scalar output, else an
    ``RVec<float>`` of all outputs), one per output tensor, or one per output value.
    ``model``: a model file, an ``nn.Module``/``ScriptModule``/``ExportedProgram``, or a
    ``sofie_pytorch.convert`` result (converted once, reused). ``columns``: the input
    columns of the model's one input, or one list per input. Scalar columns of any
    numeric type fill an input in order (cast to its type); one RVec column fills an
    input whole; k RVec columns are k features along the input's last axis. With RVec
    columns (or a file or module whose inputs are not one row of scalars) give
    ``input_shapes`` as for ``sofie_pytorch.parse``, with batch 1: ``[[1, 20, 10]]``.

    ``workdir``: where compiled scorers are kept (default ``$SOFIE_PYTORCH_CACHE`` or
    ``~/.cache/sofie_pytorch/scorers``); a library is reused whenever the same model
    code, weights, column layout and target CPU come again, in this process or another.

    ``march``: the CPU the library is compiled for (g++'s ``-march``). By default
    ``"native"`` (this machine, all its vector width) for a local RDataFrame, and
    ``"x86-64-dispatch"`` for a distributed one, whose workers may be other CPUs: one
    library of every x86-64 level, each worker running the best its CPU has (on other
    architectures than x86-64: the compiler's default); give
    ``march="native"`` when every worker has the client's CPU (a LocalCluster, a
    homogeneous cluster), or another -march value such as ``"x86-64-v3"``.

    Local RDataFrames (also with ``ROOT.EnableImplicitMT``) and distributed ones
    (``executor=client``) are both accepted. Errors in the columns or the model are
    raised here, before the event loop; an RVec of the wrong length in some event
    raises ``std::length_error`` naming the column when the event loop reaches it.
    """
    name_list = [names] if isinstance(names, str) else list(names)
    if not name_list or not all(isinstance(n, str) for n in name_list):
        raise InputSpecError(f"names must be a column name or a list of them, not {names!r}")
    groups = _column_groups(columns)
    kinds = _column_kinds(df, groups)
    if march is None:
        march = sharedlib.portable_march() if _is_distributed(df) else sharedlib.NATIVE
    sharedlib.target_fingerprint(march)  # a bad name is refused before any conversion
    key = _cache_key(model, groups, kinds, input_shapes, dtypes, march)
    with _cache_lock:
        cached = _cache.get(key) if key is not None else None
        if cached is None:
            scorer = Scorer(model, groups, kinds, input_shapes, dtypes, workdir, march)
            if key is not None:
                _cache[key] = (model, scorer)  # keeps the model alive: id() stays unique
        else:
            scorer = cached[1]
    return scorer.define(df, name_list)
