"""Longest first: the order in which pytest-xdist hands out the tests, from the durations
the previous run recorded.

Under `--dist loadgroup` a work unit is an xdist group (tests sharing a module-scoped
fixture, which one worker runs together) or a single test. xdist gives the units to the
workers in the order of the collection (with --no-loadscope-reorder; otherwise it sorts
them by their number of tests). A unit that takes minutes and starts last keeps one worker
busy while the others have nothing left to do; started first, it runs while the short
tests fill the other workers. So the units are ordered by their recorded time, longest
first; within a unit the tests keep their order (a module's tests may build on each
other's fixtures).

A test with no recorded time (new, renamed, or the first run) counts as the median of the
recorded ones (or 1 s when none is), so a group of untimed tests still weighs by its size,
as xdist's own ordering would have it.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

CACHE_KEY = "sofie/durations"
_UNKNOWN_WITHOUT_HISTORY = 1.0


def base_nodeid(nodeid: str) -> str:
    """The test's id without the "@group" that xdist's loadgroup appends on the workers
    (the same rule as xdist's: an "@" after the last "]", so a parameter holding "@" is
    not cut), so that serial and parallel runs record under one name."""
    at = nodeid.rfind("@")
    return nodeid[:at] if at > nodeid.rfind("]") else nodeid


def order(tests: Sequence[tuple[str, str]], durations: Mapping[str, float]) -> list[int]:
    """The positions of `tests` ((test id, work unit) pairs, in collection order) in the
    order to run them: unit by unit, the unit with the longest total recorded time first
    (ties in collection order), each unit's tests in their own order."""
    known = [durations[t] for t, _ in tests if t in durations]
    unknown = statistics.median(known) if known else _UNKNOWN_WITHOUT_HISTORY
    units: dict[str, list[int]] = {}
    weight: dict[str, float] = {}
    for position, (test, unit) in enumerate(tests):
        units.setdefault(unit, []).append(position)
        weight[unit] = weight.get(unit, 0.0) + durations.get(test, unknown)
    # sorted() is stable and the dict keeps first appearance: ties stay in collection order
    ranked = sorted(units, key=lambda unit: -weight[unit])
    return [position for unit in ranked for position in units[unit]]


def merged(previous: object, measured: Mapping[str, float]) -> dict[str, float]:
    """The durations to keep: this run's, and the previous record's for the tests this run
    did not run (a run of one file must not forget the rest of the suite)."""
    kept: dict[str, float] = {}
    if isinstance(previous, dict):
        kept = {k: float(v) for k, v in previous.items()
                if isinstance(k, str) and isinstance(v, (int, float))}
    kept.update(measured)
    return kept


def add_phase(measured: dict[str, float], skipped: set[str], nodeid: str, duration: float,
              was_skipped: bool) -> None:
    """Adds one phase (set-up, call or tear-down) of a test to its time. A skipped test's
    time says nothing about how long it takes when it runs, so it is not recorded at all
    (the pip test is skipped without SOFIE_PYTORCH_TEST_PIP=1 and takes minutes with it)."""
    test = base_nodeid(nodeid)
    if was_skipped:
        skipped.add(test)
        measured.pop(test, None)
    elif test not in skipped:
        measured[test] = measured.get(test, 0.0) + duration

