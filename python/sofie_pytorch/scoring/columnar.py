"""The columnar scoring path: columns in bulk, the compiled model on batches of events.

::

    scores = sofie_pytorch.scoring.columnar.score_arrays(
        "model.pt", {"px": px, "py": py, "pz": pz, "e": e}, ["px", "py", "pz", "e"])

No event loop: the columns of a range of events (numpy arrays; jagged particle lists as
awkward arrays, 2-D numpy arrays or ``(values, offsets)`` pairs) are handed to the
library's batch function (:mod:`.glue`), which packs a batch of events at a time into
the model's input buffers and runs the generated ``doInfer`` on the whole batch, with
the model converted for a batch size chosen at run time. The call releases the GIL
(ctypes), so threads score ranges in parallel.

:func:`score_files` reads TTrees and RNTuples with uproot, a range of clusters at a
time (so memory does not grow with the number of events), and writes the scores in the
input's entry order (a friend tree of the input); it is the ``score`` command's local
path.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputSpecError, SofiePyTorchError
from ..running import sharedlib
from .library import MASK, ColumnError, Layout, Scorer, ScoringError, column_groups, scorer

log = logging.getLogger(__name__)

__all__ = ["FileJob", "score_arrays", "score_files"]

# numpy type of each model input type the glue fills
NUMPY_TYPES = {"float": np.float32, "std::int64_t": np.int64}
# Events per range of a file that one thread reads and scores at once: whole clusters
# up to about this many events.
RANGE_EVENTS = 100_000
ERROR_SIZE = 1024


class _ColumnStruct(ctypes.Structure):
    """glue.COLUMN_STRUCT, as ctypes sees it."""

    _fields_ = [("data", ctypes.c_void_p), ("offsets", ctypes.c_void_p)]


def _kind(value: Any) -> str | None:
    """"scalar" or "array" for a numeric column value (numpy or awkward), else None."""
    if isinstance(value, tuple) and len(value) == 2:
        return "array"
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return None
        return "scalar" if value.ndim == 1 else ("array" if value.ndim == 2 else None)
    import awkward as ak

    form = ak.to_layout(value).form
    if form.parameter("__array__") in ("string", "bytestring", "char", "byte"):
        return None  # text: a list of characters to awkward
    if isinstance(form, ak.forms.NumpyForm):
        return "scalar" if not form.inner_shape and form.primitive != "datetime64" else "array"
    if isinstance(form, (ak.forms.ListOffsetForm, ak.forms.ListForm, ak.forms.RegularForm)):
        content = form.content
        if isinstance(content, ak.forms.NumpyForm) and not content.inner_shape:
            return "array"
    return None


def _flat(value: Any, dtype: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(values, offsets) of a column as contiguous arrays of the model's type; offsets
    None for scalars."""
    if isinstance(value, tuple):
        values, offsets = value
        return (np.ascontiguousarray(values, dtype=dtype),
                np.ascontiguousarray(offsets, dtype=np.int64))
    if isinstance(value, np.ndarray):
        if value.ndim == 1:
            return np.ascontiguousarray(value, dtype=dtype), None
        n, length = value.shape
        return (np.ascontiguousarray(value, dtype=dtype).reshape(-1),
                np.arange(n + 1, dtype=np.int64) * length)
    import awkward as ak

    layout = ak.to_layout(ak.to_packed(value))
    if isinstance(layout, ak.contents.NumpyArray):
        data = np.asarray(layout.data)
        if data.ndim == 1:
            return np.ascontiguousarray(data, dtype=dtype), None
        return _flat(data, dtype)
    if isinstance(layout, ak.contents.RegularArray):
        n, size = len(layout), layout.size
        return (np.ascontiguousarray(np.asarray(layout.content.data)[: n * size], dtype=dtype),
                np.arange(n + 1, dtype=np.int64) * size)
    offsets = np.asarray(layout.offsets, dtype=np.int64)
    return (np.ascontiguousarray(np.asarray(layout.content.data), dtype=dtype),
            np.ascontiguousarray(offsets))


@dataclass
class _Views:
    """The column views of a range of events, with the arrays they point into."""

    structs: Any
    keep: list[np.ndarray]
    entries: int


def _views(scorer: Scorer, arrays: Mapping[str, Any]) -> _Views:
    spec = scorer.spec
    structs = (_ColumnStruct * len(spec.columns))()
    keep = []
    entries = None
    for j, (name, ctype) in enumerate(zip(spec.columns, spec.column_ctypes)):
        values, offsets = _flat(arrays[name], NUMPY_TYPES[ctype])
        n = len(values) if offsets is None else len(offsets) - 1
        if entries is not None and n != entries:
            raise ColumnError(f"column {name!r} has {n} events, {spec.columns[0]!r} {entries}")
        entries = n
        if offsets is not None and len(offsets) and (
                offsets[0] < 0 or offsets[-1] > len(values) or np.any(np.diff(offsets) < 0)):
            raise ColumnError(f"column {name!r}: its offsets are not an increasing sequence "
                              f"of positions in its {len(values)} values")
        keep += [values] + ([offsets] if offsets is not None else [])
        structs[j].data = values.ctypes.data
        structs[j].offsets = offsets.ctypes.data if offsets is not None else None
    return _Views(structs, keep, entries or 0)


def run(scorer: Scorer, arrays: Mapping[str, Any]) -> list[np.ndarray]:
    """Every output tensor of the model for the events of ``arrays`` (name -> column),
    as float32 arrays of (events, values per event); releases the GIL while it runs."""
    views = _views(scorer, arrays)
    outputs = [np.empty((views.entries, o.size), dtype=np.float32)
               for o in scorer.spec.outputs]
    pointers = (ctypes.c_void_p * len(outputs))(*[o.ctypes.data for o in outputs])
    error = ctypes.create_string_buffer(ERROR_SIZE)
    function = scorer.columns_function()
    if views.entries and function(ctypes.addressof(views.structs), 0, views.entries,
                                  ctypes.addressof(pointers), error, ERROR_SIZE):
        message = error.value.decode("utf-8", "replace")
        raise ScoringError(message.removeprefix("sofie_pytorch.rdf: "))
    return outputs


def _layout(arrays: Mapping[str, Any], columns: object, particles: str | None,
            sort_by: str | None, max_particles: int | None = None) -> Layout:
    groups = column_groups(columns)
    missing = [c for g in groups for c in g if c != MASK and c not in arrays]
    if sort_by is not None and sort_by not in arrays:
        missing.append(sort_by)
    if missing:
        raise ColumnError("no column " + ", ".join(f"'{c}'" for c in missing) + " given")
    wrong = [c for g in groups for c in g if c != MASK and _kind(arrays[c]) is None]
    if wrong:
        raise ColumnError("not numeric: " + ", ".join(f"'{c}'" for c in wrong) + " (inputs "
                          "must be numbers or arrays of numbers per event)")
    kinds = [["mask" if c == MASK else str(_kind(arrays[c])) for c in g] for g in groups]
    sort_kind = _kind(arrays[sort_by]) if sort_by is not None else None
    return Layout.make(groups, kinds, particles, sort_by, sort_kind, max_particles)


def score_arrays(model: object, arrays: Mapping[str, Any],
                 columns: Sequence[str] | Sequence[Sequence[str]], *,
                 input_shapes: object = None, dtypes: object = None,
                 particles: str | None = None, sort_by: str | None = None,
                 max_particles: int | None = None,
                 workdir: str | os.PathLike[str] | None = None,
                 march: str | None = sharedlib.NATIVE) -> np.ndarray | list[np.ndarray]:
    """The model's outputs for every event of ``arrays``, outside RDataFrame.

    ``arrays``: column name -> values of all events: a 1-D numpy array (a number per
    event), a 2-D one (a fixed-length array per event), an awkward array (jagged), or a
    ``(values, offsets)`` pair. ``columns``, ``input_shapes``, ``particles``, ``sort_by``,
    ``max_particles``, ``workdir`` and ``march`` are as for
    :func:`sofie_pytorch.rdf.define` (with a particle axis chosen at run time, the events
    of equal particle count are run together, in batches). Returns one
    float32 array per output tensor, of shape (events,) for one value per event and
    (events, values) otherwise; a list when the model has several output tensors.
    """
    layout = _layout(arrays, columns, particles, sort_by, max_particles)
    made = scorer(model, layout, input_shapes, dtypes, workdir, march)
    outputs = [o[:, 0] if o.shape[1] == 1 else o for o in run(made, arrays)]
    return outputs[0] if len(outputs) == 1 else outputs


# ---------------------------------------------------------------------------- files


def _open(path: str, name: str) -> Any:
    import uproot

    try:
        # no array cache: each range is read once (the cache would only hold memory)
        found = uproot.open(path, array_cache=None)[name]
    except (OSError, ValueError) as exc:
        raise InputSpecError(f"{path}: not a readable ROOT file ({exc})") from None
    except KeyError:
        raise InputSpecError(f"{path}: no tree or RNTuple named {name!r}") from None
    if not hasattr(found, "num_entries"):
        raise InputSpecError(f"{path}: {name!r} is a {type(found).__name__}, not a tree or "
                             f"RNTuple")
    return found


def _read(dataset: Any, names: Sequence[str], start: int, stop: int) -> dict[str, Any]:
    """The columns of entries [start, stop): one column at a time, by name (never as an
    expression: uproot evaluates expressions as Python)."""
    return {name: dataset[name].array(entry_start=start, entry_stop=stop, library="ak")
            for name in dict.fromkeys(names)}


def _ranges(dataset: Any, names: Sequence[str], step: int) -> list[tuple[int, int]]:
    """Entry ranges of whole clusters, each up to about ``step`` entries."""
    total = int(dataset.num_entries)
    try:
        if hasattr(dataset, "common_entry_offsets"):  # TTree
            wanted = set(names)
            bounds = [int(b) for b in dataset.common_entry_offsets(
                filter_name=lambda n: n in wanted)]
        else:  # RNTuple
            bounds = [0]
            for summary in dataset.cluster_summaries:
                bounds.append(bounds[-1] + int(summary.num_entries))
    except Exception:  # noqa: BLE001 - any layout uproot cannot tell: fixed steps
        bounds = []
    if not bounds or bounds[-1] != total:
        bounds = [*range(0, total, step), total]
    ranges = []
    start = 0
    for bound in bounds[1:]:
        if bound - start >= step or bound == total:
            if bound > start:
                ranges.append((start, bound))
            start = bound
    return ranges


class _Writer:
    """The output tree, written with uproot in the input's entry order."""

    def __init__(self, path: Path, tree: str, names: list[str],
                 sizes: list[int], keep: list[str]) -> None:
        import uproot

        self.file = uproot.recreate(str(path))
        self.tree_name = tree
        self.names = names
        self.sizes = sizes
        self.keep = keep
        self.tree: Any = None

    def _columns(self, outputs: list[np.ndarray], kept: dict[str, Any]) -> dict[str, Any]:
        flat = np.concatenate(outputs, axis=1) if len(outputs) > 1 else outputs[0]
        total = flat.shape[1]
        columns: dict[str, Any] = {}
        if len(self.names) == 1:
            columns[self.names[0]] = flat[:, 0] if total == 1 else flat
        elif len(self.names) == total:
            for k, name in enumerate(self.names):
                columns[name] = np.ascontiguousarray(flat[:, k])
        else:
            for name, out in zip(self.names, outputs):
                columns[name] = out[:, 0] if out.shape[1] == 1 else out
        for name in self.keep:
            if name not in columns:
                columns[name] = kept[name]
        return columns

    def write(self, outputs: list[np.ndarray], kept: dict[str, Any]) -> None:
        columns = self._columns(outputs, kept)
        if self.tree is None:
            self.tree = self.file.mktree(self.tree_name, {n: _branch_type(v)
                                                          for n, v in columns.items()})
        self.tree.extend(columns)

    def close(self) -> None:
        self.file.close()


def _branch_type(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return np.dtype((value.dtype, value.shape[1:])) if value.ndim > 1 else value.dtype
    import awkward as ak

    return ak.type(value)


def _to_rntuple(source: Path, tree: str, target: Path) -> None:
    """The finished TTree as an RNTuple of the same name, in entry order (RDataFrame's
    Snapshot, one thread)."""
    import ROOT

    options = ROOT.RDF.RSnapshotOptions()
    options.fOutputFormat = ROOT.RDF.ESnapshotOutputFormat.kRNTuple
    ROOT.RDataFrame(tree, str(source)).Snapshot(tree, str(target), "", options)


def _check_names(spec: Any, names: list[str]) -> None:
    sizes = [o.size for o in spec.outputs]
    if len(names) not in {1, len(sizes), sum(sizes)}:
        raise InputSpecError(
            f"{len(names)} output name(s) given; the model has {len(sizes)} output "
            f"tensor(s) of {sizes} values per event: give 1 name, {len(sizes)} (one per "
            f"output tensor) or {sum(sizes)} (one per value)")
    if len(set(names)) != len(names):
        raise InputSpecError(f"output column names repeat: {names}")


def _ordered(tasks: Iterator[Callable[[], Any]], threads: int) -> Iterator[Any]:
    """Run the tasks on ``threads`` threads, at most 2 per thread in flight (bounded
    memory), yielding their results in the tasks' order."""
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sofie_score") as pool:
        window: deque[Any] = deque()
        try:
            for task in tasks:
                window.append(pool.submit(task))
                if len(window) >= 2 * threads:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()


class FileJob:
    """Scoring the tree or RNTuple ``tree`` of ``files`` (in order): made with the model
    converted and compiled, then :meth:`write` reads, scores and writes."""

    def __init__(self, model: object, files: Sequence[str | os.PathLike[str]], tree: str,
                 columns: Sequence[str] | Sequence[Sequence[str]], *,
                 names: Sequence[str] = ("score",), keep: Sequence[str] = (),
                 input_shapes: object = None, particles: str | None = None,
                 sort_by: str | None = None, max_particles: int | None = None,
                 march: str | None = sharedlib.NATIVE) -> None:
        try:
            import awkward  # noqa: F401
            import uproot  # noqa: F401
        except ImportError:
            raise SofiePyTorchError("the columnar scoring path reads files with uproot: pip "
                                    "install uproot (or 'sofie-pytorch[score]')") from None
        self.files = [str(f) for f in files]
        self.tree = tree
        self.datasets = [_open(f, tree) for f in self.files]
        groups = column_groups(columns)
        wanted = [c for g in groups for c in g if c != MASK]
        wanted += [sort_by] if sort_by else []
        for path, dataset in zip(self.files, self.datasets):
            available = set(dataset.keys())
            missing = sorted({c for c in [*wanted, *keep] if c not in available})
            if missing:
                raise ColumnError("no column " + ", ".join(f"'{c}'" for c in missing)
                                  + (" in the dataset" if len(self.files) == 1 else
                                     f" in {path}"))
        first = next((d for d in self.datasets if int(d.num_entries) > 0), self.datasets[0])
        sample = _read(first, wanted, 0, min(1, int(first.num_entries)))
        self.scorer = scorer(model, _layout(sample, groups, particles, sort_by, max_particles),
                             input_shapes, None, None, march)
        self.names = list(names)
        _check_names(self.scorer.spec, self.names)
        self.keep = list(keep)
        self.read_names = list(dict.fromkeys([*self.scorer.spec.columns, *self.keep]))

    def _tasks(self, range_events: int, threads: int) -> Iterator[Callable[[], Any]]:
        local = threading.local()  # uproot file handles: one set per thread
        # at least 4 ranges per thread, so that small inputs keep every thread busy too
        entries = sum(int(d.num_entries) for d in self.datasets)
        range_events = max(1, min(range_events, -(-entries // (4 * threads))))

        def task(index: int, start: int, stop: int) -> tuple[list[np.ndarray], dict[str, Any]]:
            handles = local.__dict__.setdefault("datasets", {})
            if index not in handles:
                handles[index] = _open(self.files[index], self.tree)
            arrays = _read(handles[index], self.read_names, start, stop)
            return run(self.scorer, arrays), {k: _keep_value(arrays[k]) for k in self.keep}

        for index, dataset in enumerate(self.datasets):
            for start, stop in _ranges(dataset, self.read_names, range_events):
                yield lambda i=index, a=start, b=stop: task(i, a, b)

    def scores(self, threads: int = 1, range_events: int = RANGE_EVENTS
               ) -> Iterator[tuple[list[np.ndarray], dict[str, Any]]]:
        """(outputs, kept columns) of each range of entries, in the input's order:
        read and scored on ``threads`` threads, at most 2 ranges per thread in memory."""
        threads = max(1, threads)
        return _ordered(self._tasks(range_events, threads), threads)

    def write(self, output: Path, *, output_tree: str = "scores",
              output_format: str = "ttree", threads: int = 1,
              range_events: int = RANGE_EVENTS) -> int:
        """Score every entry and write the outputs (and the ``keep`` columns) into
        ``output``, entry by entry in the input's order, as a TTree or an RNTuple
        (``output_format``) named ``output_tree``; the number of entries. ``output`` is
        written as given: callers wanting it whole or not at all pass a temporary path."""
        if output_format not in ("ttree", "rntuple"):
            raise InputSpecError(f"output format {output_format!r}: give ttree or rntuple")
        target = (output if output_format == "ttree"
                  else output.with_name(output.name + ".ttree"))
        sizes = [o.size for o in self.scorer.spec.outputs]
        writer = _Writer(target, output_tree, self.names, sizes, self.keep)
        entries = 0
        try:
            for outputs, kept in self.scores(threads, range_events):
                writer.write(outputs, kept)
                entries += len(outputs[0])
            if writer.tree is None:  # no entries at all: an empty tree all the same
                empty = [np.empty((0, size), dtype=np.float32) for size in sizes]
                writer.write(empty, {k: np.empty(0, dtype=np.float32) for k in self.keep})
        finally:
            writer.close()
        if output_format == "rntuple":
            try:
                _to_rntuple(target, output_tree, output)
            finally:
                target.unlink(missing_ok=True)
        return entries


def score_files(model: object, files: Sequence[str | os.PathLike[str]], tree: str,
                columns: Sequence[str] | Sequence[Sequence[str]], output: Path, *,
                names: Sequence[str] = ("score",), keep: Sequence[str] = (),
                output_tree: str = "scores", output_format: str = "ttree",
                threads: int = 1, input_shapes: object = None, particles: str | None = None,
                sort_by: str | None = None, max_particles: int | None = None,
                march: str | None = sharedlib.NATIVE) -> int:
    """Score every entry of ``tree`` (a TTree or RNTuple) in ``files`` and write the
    scores into ``output`` in the input's entry order: see :class:`FileJob`."""
    job = FileJob(model, files, tree, columns, names=names, keep=keep,
                  input_shapes=input_shapes, particles=particles, sort_by=sort_by,
                  max_particles=max_particles, march=march)
    return job.write(Path(output), output_tree=output_tree, output_format=output_format,
                     threads=threads)


def _keep_value(value: Any) -> Any:
    """A kept column as uproot writes it: numpy for numbers and fixed-size arrays."""
    import awkward as ak

    layout = ak.to_layout(value)
    if isinstance(layout, ak.contents.NumpyArray):
        return np.asarray(layout.data)
    return value
