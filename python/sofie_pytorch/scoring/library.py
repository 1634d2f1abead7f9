"""A model compiled for one layout of input columns: the part both scoring paths share.

The model (a file, an ``nn.Module`` or a ``sofie_pytorch.convert`` result) is converted
with SOFIE (with a batch size chosen at run time when the model allows it) and compiled
with g++ into a shared library together with the glue of :mod:`sofie_pytorch.scoring.glue`.
The RDataFrame path (:mod:`.rdataframe`) loads it into cling and calls it once per event;
the columnar path (:mod:`.columnar`) calls its batch function through ctypes. Libraries
are kept in a cache directory named after a hash of everything they are built from.
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

from .. import api
from ..errors import InputSpecError, SofiePyTorchError
from ..running import isa_dispatch, sharedlib
from . import glue
from .glue import InputLayout, OutputLayout, ScorerSpec

log = logging.getLogger(__name__)

__all__ = ["MASK", "ColumnError", "Layout", "Scorer", "ScoringError", "event_loop_message"]

# A model input that is the particle mask of a jagged input (1 per particle, then 0),
# given in place of its column list: columns=[["c_pt", "c_eta"], MASK].
MASK = "@mask"
# What to do with an event that has more particles than the model's particle axis.
OVERFLOW = ("refuse", "truncate")

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


def column_groups(columns: object) -> list[list[str]]:
    """["a", "b"] -> one input; [["a", "b"], ["c"]] -> two inputs; MASK (or [MASK]) for
    an input that is the particle mask."""
    if isinstance(columns, str) or not isinstance(columns, Sequence) or not columns:
        raise ColumnError(
            f"columns must be a non-empty list of column names (one model input), or a list "
            f"of such lists (one per model input), not {columns!r}"
        )
    if all(isinstance(c, str) for c in columns) and MASK not in columns:
        return [list(columns)]  # type: ignore[arg-type]
    groups = []
    for group in columns:
        if group == MASK:
            group = [MASK]
        if (isinstance(group, str) or not isinstance(group, Sequence) or not group
                or not all(isinstance(c, str) for c in group)):
            raise ColumnError(f"columns: {group!r} is not a non-empty list of column names")
        if MASK in group and len(group) != 1:
            raise ColumnError(f"columns: {MASK!r} stands alone for a mask input, not in "
                              f"{list(group)}")
        groups.append(list(group))
    return groups


@dataclass(frozen=True)
class Layout:
    """How columns fill the model's inputs: column names per input (``[MASK]`` for a
    mask input), each column's kind ("scalar", "array", "mask"), and for jagged particle
    lists what to do beyond the model's particle axis (``particles``: "refuse" or
    "truncate"; None: arrays must have the model's length exactly), the column whose
    decreasing values order the particles (``sort_by``), and, for a model whose particle
    axis is chosen at run time, the most particles an event is run with
    (``max_particles``)."""

    groups: tuple[tuple[str, ...], ...]
    kinds: tuple[tuple[str, ...], ...]
    particles: str | None = None
    sort_by: str | None = None
    max_particles: int | None = None

    @classmethod
    def make(cls, groups: list[list[str]], kinds: list[list[str]], particles: str | None,
             sort_by: str | None, sort_kind: str | None = None,
             max_particles: int | None = None) -> Layout:
        has_mask = any(MASK in g for g in groups)
        if max_particles is not None and (isinstance(max_particles, bool)
                                          or not isinstance(max_particles, int)
                                          or max_particles < 1):
            raise InputSpecError(f"max_particles must be a positive integer, not "
                                 f"{max_particles!r}")
        if particles is None and (has_mask or sort_by is not None
                                  or max_particles is not None):
            particles = "refuse"
        if particles is not None and particles not in OVERFLOW:
            raise InputSpecError(f"particles={particles!r}: give 'refuse' (an event with more "
                                 f"particles than the model takes is an error) or 'truncate' "
                                 f"(keep the first ones)")
        if particles is not None and not any("array" in k for k in kinds):
            raise ColumnError("particle lists (particles=, sort_by=, max_particles= or a mask "
                              "input) need array (RVec) input columns")
        if sort_by is not None and sort_kind != "array":
            raise ColumnError(f"sort_by={sort_by!r} must be an array (RVec) column with one "
                              f"value per particle")
        return cls(tuple(map(tuple, groups)), tuple(map(tuple, kinds)), particles, sort_by,
                   max_particles)

    @property
    def columns(self) -> list[str]:
        names = [c for g in self.groups for c in g if c != MASK]
        return names + ([self.sort_by] if self.sort_by else [])


@dataclass(frozen=True)
class _Model:
    """A generated model: its RModel, header, weights and namespace."""

    rmodel: Any
    header: Path
    weights: Path | None
    namespace: str


def _shapes_from_columns(layout: Layout) -> list[list[int]]:
    if any("array" in k for k in layout.kinds):
        raise ColumnError(
            "array (RVec) input columns need the model's input shapes: pass input_shapes, "
            "e.g. input_shapes=[[1, 20, 10]] for 20 steps of 10 features per event"
        )
    return [[1, len(g)] for g in layout.groups]


def _convert(model: object, shapes: object, dtypes: object, workdir: Path, stem: str) -> _Model:
    if isinstance(model, api.Conversion):
        header = workdir / f"{stem}.hxx"
        shutil.copyfile(model.header, header)
        weights = None
        if model.weights is not None:
            weights = workdir / f"{stem}.dat"
            shutil.copyfile(model.weights, weights)
        return _Model(model.model, header, weights, model.namespace)
    try:  # a run-time batch size lets the columnar path run batches of events
        rmodel = api.parse(model, shapes, None, dtypes, dynamic_batch=True)
    except SofiePyTorchError as exc:
        log.info("scoring the model one event per call: no run-time batch size (%s)", exc)
        rmodel = api.parse(model, shapes, None, dtypes)
    rmodel.SetFilename(stem)
    header, weights = api.generate(rmodel, workdir, stem)
    return _Model(rmodel, header, weights, f"SOFIE_{stem}")


def _event_dims(tensor: str, shape: tuple[int | str, ...], role: str) -> list[int | str]:
    """The dimensions of one event of a tensor whose first axis is the batch (1 or
    run-time)."""
    dims = list(shape)
    if len(dims) >= 2:
        batch = dims.pop(0)
        if isinstance(batch, int) and batch != 1:
            raise InputSpecError(
                f"{role} {tensor} has batch size {batch}: scoring runs one event per call; "
                f"convert the model with a batch size of 1 (or -1, chosen at run time)"
            )
    return dims


def _event_size(tensor: str, shape: tuple[int | str, ...], role: str) -> tuple[int, list[str]]:
    """Elements per event of a tensor whose first axis is the batch (1 or run-time)."""
    params = [d for d in shape if isinstance(d, str)]
    if len(shape) == 1 and isinstance(shape[0], str):
        return 1, params  # one value per event along a run-time batch axis
    dims = _event_dims(tensor, shape, role)
    if any(isinstance(d, str) for d in dims):
        raise InputSpecError(
            f"{role} {tensor} has shape {list(shape)}: scoring needs a fixed size per event "
            f"(only the first axis, the batch, may be chosen at run time)"
        )
    size = 1
    for d in dims:
        size *= int(d)
    return size, params


def _particle_axis(info: Any, group: list[str]) -> tuple[int | str, bool]:
    """(particles, features_last) of an input filled by jagged particle lists: shape
    (batch, P, F) with F = the number of columns, or (batch, F, P) (channels first, as
    ParticleNet's), or (batch, P) for one column. P is a number, or the name of a size
    chosen at run time."""
    dims = _event_dims(info.name, info.shape, "model input")
    k = len(group)
    names = ", ".join(f"'{c}'" for c in group)
    if len(dims) == 1 and k == 1:
        return dims[0], True
    if len(dims) == 2:
        if dims[1] == k:
            return dims[0], True
        if dims[0] == k:
            return dims[1], False
    raise ColumnError(
        f"model input {info.name} has shape {list(info.shape)}: {k} particle column(s) "
        f"({names}) fill an input of shape (batch, particles, {k}) or (batch, {k}, particles)"
    )


def _most_particles(info: Any, axis: int | str, layout: Layout) -> int:
    """The particle axis' length in the Session: the model's, or for an axis chosen at
    run time the most particles an event is run with (max_particles)."""
    if isinstance(axis, str):
        if layout.max_particles is None:
            raise ColumnError(
                f"model input {info.name} has shape {list(info.shape)}: its particle axis "
                f"({axis}) is chosen at run time, so each event runs at its own number of "
                f"particles; give the most an event may have: max_particles= "
                f"(--max-particles), beyond which particles= says what happens")
        return layout.max_particles
    if layout.max_particles is not None and layout.max_particles != axis:
        raise ColumnError(
            f"max_particles={layout.max_particles}: model input {info.name} has a fixed "
            f"particle axis of {axis} (shape {list(info.shape)}); max_particles is for a "
            f"model converted with that axis chosen at run time (-1)")
    return int(axis)


def _input_layout(info: Any, group: list[str], kinds: list[str], layout: Layout,
                  axis: int | str | None) -> tuple[InputLayout, int | str | None]:
    """How the input is filled, and the particle axis (of this input or one before)."""
    ctype = INPUT_CTYPES.get(info.dtype)
    if ctype is None:
        raise InputSpecError(
            f"model input {info.name} is {info.dtype}: scoring fills float and int64 inputs"
        )
    if group == [MASK]:
        if axis is None:
            raise ColumnError(f"model input {info.name} is a mask ({MASK!r}), but no input "
                              f"before it is filled by particle lists")
        dims = [d for d in _event_dims(info.name, info.shape, "model input") if d != 1]
        if dims != [axis]:
            raise ColumnError(f"mask input {info.name} has shape {list(info.shape)}: "
                              f"{dims or [1]} per event, the particle axis is {axis}")
        most = _most_particles(info, axis, layout)
        return InputLayout(info.name, ctype, most, (), (), most, True, mask=True), axis
    names = ", ".join(f"'{c}'" for c in group)
    if "array" in kinds and "scalar" in kinds:
        raise ColumnError(
            f"model input {info.name}: columns {names} mix scalar and array (RVec) columns; "
            f"give one input either scalars or arrays"
        )
    if "array" in kinds and layout.particles is not None:
        own, features_last = _particle_axis(info, group)
        if axis is not None and own != axis:
            raise ColumnError(f"model input {info.name} has {own} particles, an input before "
                              f"it {axis}: particle lists fill one particle axis")
        most = _most_particles(info, own, layout)
        return InputLayout(info.name, ctype, most * len(group), tuple(group), tuple(kinds),
                           most, features_last), own
    size, _ = _event_size(info.name, info.shape, "model input")
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
    return InputLayout(info.name, ctype, size, tuple(group), tuple(kinds)), axis


def _spec(tag: str, model: _Model, layout: Layout) -> ScorerSpec:
    from ..reader import _info

    rmodel = model.rmodel
    inputs = [_info(rmodel, str(n)) for n in rmodel.GetInputTensorNames()]
    outputs = [_info(rmodel, str(n)) for n in rmodel.GetOutputTensorNames()]
    if len(layout.groups) != len(inputs):
        raise ColumnError(
            f"the model takes {len(inputs)} input(s) ({', '.join(i.name for i in inputs)}), "
            f"{len(layout.groups)} column list(s) given"
        )
    layouts: list[InputLayout] = []
    axis: int | str | None = None
    for info, group, kinds in zip(inputs, layout.groups, layout.kinds):
        made, axis = _input_layout(info, list(group), list(kinds), layout, axis)
        layouts.append(made)
    particle_param = axis if isinstance(axis, str) else None
    for output in outputs:
        if particle_param is not None and particle_param in output.shape:
            raise InputSpecError(
                f"output {output.name} has shape {list(output.shape)}: a value per particle "
                f"({particle_param}); scoring writes a fixed number of values per event")
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
        inputs=tuple(layouts), outputs=out_layouts,
        same_output_types=len({o.dtype for o in outputs}) == 1,
        overflow=layout.particles or "refuse", sort_by=layout.sort_by,
        particle_param=particle_param,
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
    digest.update(repr(spec).encode())  # made with an empty tag: the layout, not the name
    for source in (Path(glue.__file__), Path(sharedlib.__file__),
                   Path(sharedlib.project_include_dir()) / "SofiePyTorch" / "SlotSessions.hxx"):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


class Scorer:
    """One model compiled for one layout of input columns: reusable on many datasets.

    The library is kept in a cache directory named after a hash of its inputs (model
    code, weights, column layout, target CPU): a model is compiled once, not once per
    process. ``march`` is g++'s ``-march`` (None: the compiler's default).
    :func:`scorer` also keeps the Scorer per model object or file and layout, so a model
    is converted once per process.
    """

    def __init__(self, model: object, layout: Layout,
                 input_shapes: object = None, dtypes: object = None,
                 workdir: str | os.PathLike[str] | None = None,
                 march: str | None = sharedlib.NATIVE) -> None:
        root = cache_root(workdir)
        self.march = march
        staging = Path(tempfile.mkdtemp(prefix=".staging_", dir=root))
        try:
            shapes = input_shapes
            if shapes is None and not isinstance(model, api.Conversion):
                shapes = _shapes_from_columns(layout)
            staged = _convert(model, shapes, dtypes, staging, "sofie_scorer")
            self.tag = _digest(staged, _spec("", staged, layout), march)
            self.directory = root / f"sofie_score_{self.tag}"
            stem = f"sofie_score_{self.tag}"
            self.model = _Model(staged.rmodel, self.directory / f"{stem}_model.hxx",
                                self.directory / f"{stem}.dat" if staged.weights else None,
                                staged.namespace)
            self.spec = _spec(self.tag, self.model, layout)
            self.header = self.directory / f"{stem}.h"
            self.library = self.directory / f"lib{stem}.so"
            if not self.library.is_file():
                self._build(staged, staging, stem)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._loaded = False
        self._distributed = False
        self._columns_function: Any = None
        self._calls = itertools.count()  # names of aliases and helper columns, per call

    def _build(self, staged: _Model, staging: Path, stem: str) -> None:
        """Compile in the staging directory, then move it into place whole."""
        staged.header.rename(staging / self.model.header.name)
        if staged.weights is not None and self.model.weights is not None:
            staged.weights.rename(staging / self.model.weights.name)
        source = staging / f"{stem}.cxx"
        source.write_text(glue.compiled_source(self.spec))
        (staging / self.header.name).write_text(glue.cling_header(self.spec))
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


    def columns_function(self) -> Any:
        """The library's batch entry point, through ctypes (the columnar path)."""
        if self._columns_function is None:
            import ctypes

            library = isa_dispatch.symbols(self.library)  # the level's, if it dispatches
            function = getattr(library, f"sofie_score_columns_{self.tag}")
            function.restype = ctypes.c_int
            function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                                 ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
            self._columns_function = (library, function)
        return self._columns_function[1]


_cache: dict[tuple[Any, ...], tuple[object, Scorer]] = {}
_cache_lock = threading.Lock()


def _cache_key(model: object, layout: Layout, input_shapes: object, dtypes: object,
               march: str | None) -> tuple[Any, ...] | None:
    key = (layout, repr(input_shapes), repr(dtypes), march)
    if isinstance(model, api.Conversion):
        return ("conversion", id(model), *key)
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        try:
            stat = path.stat()
        except OSError:
            return None  # let the converter report it
        return ("file", str(path.resolve()), stat.st_mtime_ns, stat.st_size, *key)
    return None  # an nn.Module may change between calls: convert it each time


def scorer(model: object, layout: Layout, input_shapes: object = None, dtypes: object = None,
           workdir: str | os.PathLike[str] | None = None,
           march: str | None = sharedlib.NATIVE) -> Scorer:
    """The Scorer of a model and layout: made once per process for a file or a
    conversion (and compiled once across processes, see :class:`Scorer`)."""
    sharedlib.target_fingerprint(march)  # a bad name is refused before any conversion
    key = _cache_key(model, layout, input_shapes, dtypes, march)
    with _cache_lock:
        cached = _cache.get(key) if key is not None else None
        if cached is not None:
            return cached[1]
        made = Scorer(model, layout, input_shapes, dtypes, workdir, march)
        if key is not None:
            _cache[key] = (model, made)  # keeps the model alive: id() stays unique
        return made
