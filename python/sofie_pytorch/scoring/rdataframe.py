"""Scoring RDataFrame entries with a PyTorch model: one call, local or on a Dask cluster.

::

    df = ROOT.RDataFrame("events", "data.root")
    scored = sofie_pytorch.rdf.define(df, "score", "model.pt", ["px", "py", "pz", "e"])

The model is compiled into a library (:mod:`.library`); cling only sees a header of
inline functions that hand one event's columns to the library. On a local RDataFrame
every slot gets its own Session (``SOFIE::PyTorch::SlotSessions``, made before the event
loop, no lock); on a distributed RDataFrame (``ROOT.RDataFrame(..., executor=client)``)
the library, its header and the weight file are shipped with DistRDF's own
``DistributeSharedLibs``, ``DistributeHeaders`` and ``DistributeFiles``, and each worker
thread makes its Session once per process. Workers need ROOT, not torch nor this package.

The library is compiled for this machine's CPU (``-march=native``) when it runs here; when
it is shipped to workers, which may be other machines, for every x86-64 level (v2, v3, v4),
each worker loading the best its CPU runs (:mod:`sofie_pytorch.running.isa_dispatch`);
``march="native"`` opts into the client's CPU on a cluster of identical machines.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from ..errors import InputSpecError
from ..running import sharedlib
from .library import (
    MASK,
    ColumnError,
    Layout,
    Scorer,
    ScoringError,
    _cache,
    cache_root,
    column_groups,
    column_kind,
    event_loop_message,
    scorer,
)

__all__ = ["MASK", "ColumnError", "Scorer", "ScoringError", "_cache", "cache_root",
           "column_kind", "define", "event_loop_message"]


def _is_distributed(df: Any) -> bool:
    return type(df).__module__.startswith("ROOT._distrdf")


def _column_type(df: Any, column: str, available: set[str]) -> str | None:
    """The column's C++ type name, None if there is no such column."""
    if column not in available:
        try:  # aliases are not listed by GetColumnNames, but have a type
            return str(df.GetColumnType(column))
        except Exception:  # noqa: BLE001 - cppyy raises the C++ runtime_error
            return None
    return str(df.GetColumnType(column))


def column_kinds(df: Any, groups: list[list[str]],
                 sort_by: str | None = None) -> tuple[list[list[str]], str | None]:
    """Each column's kind (and the sort column's), checked before any event is read;
    every problem at once."""
    available = {str(c) for c in df.GetColumnNames()}
    missing, wrong, kinds = [], [], []
    extra = [sort_by] if sort_by is not None else []
    extra_kinds = []
    for group in [*groups, extra]:
        group_kinds = []
        for column in group:
            if column == MASK:
                group_kinds.append("mask")
                continue
            type_name = _column_type(df, column, available)
            if type_name is None:
                missing.append(column)
                group_kinds.append("scalar")
                continue
            kind = column_kind(type_name)
            if kind is None:
                wrong.append(f"'{column}' ({type_name})")
            group_kinds.append(kind or "scalar")
        kinds.append(group_kinds)
    extra_kinds = kinds.pop()
    problems = []
    if missing:
        problems.append("no column " + ", ".join(f"'{c}'" for c in missing) + " in the dataset")
    if wrong:
        problems.append("not numeric: " + ", ".join(wrong) + " (inputs must be numbers or "
                        "RVec/std::vector of numbers)")
    if problems:
        raise ColumnError("; ".join(problems))
    return kinds, (extra_kinds[0] if extra_kinds else None)


def _check_names(scorer: Scorer, df: Any, names: list[str]) -> None:
    sizes = [o.size for o in scorer.spec.outputs]
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


def add_columns(scorer: Scorer, df: Any, names: Sequence[str]) -> Any:
    """Add the scorer's output columns to df (local or distributed); the new node."""
    names = list(names)
    _check_names(scorer, df, names)
    if _is_distributed(df):
        scorer.distribute()
        call = f"{scorer.namespace}::ScoreOnThisThread("
    else:
        scorer.load().Setup(int(df.GetNSlots()))
        call = f"{scorer.namespace}::Score(rdfslot_, "
    node = df
    prefix = f"sofie_{scorer.tag}_{next(scorer._calls)}"
    # Columns reach the expression through aliases named by us: a column name is only
    # ever passed to RDataFrame as data, never pasted into the expression.
    aliases = []
    for i, column in enumerate(scorer.spec.columns):
        alias = f"{prefix}_in{i}"
        node = node.Alias(alias, column)
        aliases.append(alias)
    expression = call + ", ".join(aliases) + ")"
    out_sizes = [o.size for o in scorer.spec.outputs]
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
                   else f"{scorer.namespace}::Slice({hidden}, {offset}, {size})")
        node = node.Define(name, element)
        offset += size
    return node


def define(df: Any, names: str | Sequence[str], model: object,
           columns: Sequence[str] | Sequence[Sequence[str]], *,
           input_shapes: object = None, dtypes: object = None,
           workdir: str | os.PathLike[str] | None = None,
           march: str | None = None, particles: str | None = None,
           sort_by: str | None = None, max_particles: int | None = None) -> Any:
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

    Jagged particle lists (a different number of particles per event): give
    ``particles="refuse"`` or ``"truncate"``. The RVec columns of an input are then the
    features of each particle; an event's particles fill the model's particle axis from
    the start (input shape (1, P, features), or (1, features, P) as ParticleNet's), the
    rest is zero; an event with more than P particles is an error ("refuse") or keeps its
    first P ("truncate"). ``MASK`` (``"@mask"``) in place of a column list fills that
    input with 1 per particle, then 0: ``[["c_pt", "c_eta"], MASK]``. ``sort_by``: an
    RVec column (one value per particle, e.g. pt) whose decreasing values order the
    particles before they are placed (and truncated). Particle lists of one event must
    have the same length.

    A model converted with its particle axis chosen at run time (``-1`` there in
    ``input_shapes``, e.g. ``[[1, -1, 3], [1, -1]]``, or a ``convert`` result made so)
    runs each event at its own number of particles instead, the mask all ones (an event
    without particles at one zero particle, mask 0); ``max_particles`` is then the most
    an event is run with (the Session's buffers are made for it), beyond which
    ``particles`` refuses or truncates as above.

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
    groups = column_groups(columns)
    kinds, sort_kind = column_kinds(df, groups, sort_by)
    layout = Layout.make(groups, kinds, particles, sort_by, sort_kind, max_particles)
    if march is None:
        march = sharedlib.portable_march() if _is_distributed(df) else sharedlib.NATIVE
    return add_columns(scorer(model, layout, input_shapes, dtypes, workdir, march), df,
                       name_list)
