"""Scoring RDataFrame entries with a PyTorch model: one call, local or on a Dask cluster.

::

    df = ROOT.RDataFrame("events", "data.root")
    scored = sofie_pytorch.rdf.define(df, "score", "model.pt", ["px", "py", "pz", "e"])

The model (a file, an ``nn.Module`` or a ``sofie_pytorch.convert`` result) is converted
with SOFIE and compiled with g++ into a shared library together with a little glue
(:mod:`sofie_pytorch.scorer_code`); cling only sees a header of inline functions that
pack the columns and call the library. On a local RDataFrame every slot gets its own
Session (``SOFIE::PyTorch::SlotSessions``, made before the event loop, no lock); on a
distributed RDataFrame (``ROOT.RDataFrame(..., executor=client)``) the library, its
header and the weight file are shipped with DistRDF's own ``DistributeSharedLibs``,
``DistributeHeaders`` and ``DistributeFiles``, and each worker thread makes its Session
once per process. Workers need ROOT, not torch nor this package.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import api, scorer_code, sharedlib
from .errors import InputSpecError, SofiePyTorchError
from .scorer_code import InputLayout, OutputLayout, ScorerSpec

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


class Scorer:
    """One model compiled for one set of input columns: reusable on many RDataFrames.

    ``define()`` makes one and caches it (per model object or file and column layout),
    so a model is converted and compiled once per process.
    """

    def __init__(self, model: object, groups: list[list[str]], kinds: list[list[str]],
                 input_shapes: object = None, dtypes: object = None,
                 workdir: str | os.PathLike[str] | None = None) -> None:
        self.tag = uuid.uuid4().hex[:12]
        base = Path(workdir) if workdir is not None else Path(tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        self.directory = Path(tempfile.mkdtemp(prefix=f"sofie_score_{self.tag}_", dir=base))
        # DistRDF pastes header paths into an #include: refuse what would break out of it.
        if any(ch in str(self.directory) for ch in '"\\\n\r'):
            raise SofiePyTorchError(
                f"the scorer's directory {self.directory!r} has a quote, backslash or newline "
                f"in its name; pass another workdir"
            )
        try:
            shapes = input_shapes
            if shapes is None and not isinstance(model, api.Conversion):
                shapes = _shapes_from_columns(groups, kinds)
            stem = f"sofie_score_{self.tag}_model"
            self.model = _convert(model, shapes, dtypes, self.directory, stem)
            self.spec = _spec(self.tag, self.model, groups, kinds)
            source = self.directory / f"sofie_score_{self.tag}.cxx"
            source.write_text(scorer_code.compiled_source(self.spec))
            self.header = self.directory / f"sofie_score_{self.tag}.h"
            self.header.write_text(scorer_code.cling_header(self.spec))
            self.library = sharedlib.compile_library(
                source, self.directory / f"libsofie_score_{self.tag}.so")
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        self._loaded = False
        self._distributed = False
        self._calls = itertools.count()  # names of aliases and helper columns, per call

    @property
    def namespace(self) -> str:
        return self.spec.namespace

    def load(self) -> Any:
        """Load the library and declare its header in this process (once); the namespace."""
        import ROOT

        if not self._loaded:
            if ROOT.gSystem.Load(str(self.library)) < 0:
                raise SofiePyTorchError(f"ROOT could not load {self.library}")
            if not ROOT.gInterpreter.Declare(self.header.read_text()):
                raise SofiePyTorchError(f"cling could not compile {self.header.name}")
            self._loaded = True
        return getattr(ROOT, self.namespace)

    def distribute(self) -> None:
        """Ship the library, its header and the weights to the Dask workers (once)."""
        if self._distributed:
            return
        import ROOT

        distributed = ROOT.RDF.Experimental.Distributed
        # DistRDF loads the library and declares the header here too.
        distributed.DistributeSharedLibs([str(self.library)])
        distributed.DistributeHeaders([str(self.header)])
        if self.model.weights is not None:
            distributed.DistributeFiles([str(self.model.weights)])
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
               input_shapes: object, dtypes: object) -> tuple[Any, ...] | None:
    layout = (tuple(map(tuple, groups)), tuple(map(tuple, kinds)), repr(input_shapes),
              repr(dtypes))
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
           workdir: str | os.PathLike[str] | None = None) -> Any:
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
    key = _cache_key(model, groups, kinds, input_shapes, dtypes)
    with _cache_lock:
        cached = _cache.get(key) if key is not None else None
        if cached is None:
            scorer = Scorer(model, groups, kinds, input_shapes, dtypes, workdir)
            if key is not None:
                _cache[key] = (model, scorer)  # keeps the model alive: id() stays unique
        else:
            scorer = cached[1]
    return scorer.define(df, name_list)
