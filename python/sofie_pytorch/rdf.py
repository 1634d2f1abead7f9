"""``sofie_pytorch.rdf``: the public name of RDataFrame scoring, kept where users import it
from; the code lives in :mod:`sofie_pytorch.scoring.rdataframe`."""

from .scoring.rdataframe import (  # noqa: F401 - re-exported
    MASK,
    ColumnError,
    Scorer,
    ScoringError,
    _cache,
    cache_root,
    column_kind,
    define,
    event_loop_message,
)

__all__ = ["MASK", "ColumnError", "Scorer", "ScoringError", "cache_root", "column_kind",
           "define", "event_loop_message"]
