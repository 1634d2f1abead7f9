"""Suite-wide set-up for running the tests in parallel with pytest-xdist (`make test`
runs `pytest -n JOBS --dist loadgroup`; a plain `pytest` runs them in one process).

- The run's shared directory (test/models/shared_artifacts.py): created by the main
  process before the workers start, named to them in SOFIE_PYTORCH_TEST_SHARED, removed
  when the run ends. Compiled artefacts that many tests use are built there once per run.
- Tests that share a module-scoped fixture (a model set converted once, a Dask cluster, a
  pip-installed environment) are put in one xdist group per module, so that the fixture
  is built by one worker, once, as in a serial run; all other tests go to any free worker.
- Longest first (test/python/schedule_order.py): each run records every test's time in
  pytest's cache (key "sofie/durations", .pytest_cache/); under xdist the next run hands
  out the work units (groups and single tests) longest first, so that the slow ones do
  not start last and leave the other workers idle at the end. `make test` passes
  --no-loadscope-reorder, without which xdist re-sorts the units by their number of tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import pytest
import schedule_order
from shared_artifacts import ENV

_OWN_KEY = pytest.StashKey[str]()
_RECORDED = pytest.StashKey[dict[str, float]]()
# Fixture scopes that outlive one test: such a fixture is made once per process using it.
_SHARED_SCOPES = {"module", "class", "package"}


class _DurationRecorder:
    """Each test's time (set-up, call and tear-down), recorded in the main process (xdist
    forwards the workers' reports to it) and merged into pytest's cache when the run ends,
    for the next run's order."""

    def __init__(self, cache: pytest.Cache) -> None:
        self.cache = cache
        self.measured: dict[str, float] = {}
        self.skipped: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        schedule_order.add_phase(self.measured, self.skipped, report.nodeid, report.duration,
                                 report.skipped)

    def pytest_sessionfinish(self) -> None:
        if self.measured:
            previous = self.cache.get(schedule_order.CACHE_KEY, {})
            self.cache.set(schedule_order.CACHE_KEY,
                           schedule_order.merged(previous, self.measured))


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a worker: it inherits the shared directory; the main process records
    cache = getattr(config, "cache", None)  # None with -p no:cacheprovider
    if cache is not None:
        config.pluginmanager.register(_DurationRecorder(cache), "sofie_pytorch_durations")
    if os.environ.get(ENV):
        return  # a shared directory given from outside
    directory = tempfile.mkdtemp(prefix="sofie_pytorch_shared_")
    os.environ[ENV] = directory
    config.stash[_OWN_KEY] = directory


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = config.stash.get(_OWN_KEY, None)
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.environ.pop(ENV, None)


def _uses_a_shared_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope in _SHARED_SCOPES
               for defs in info.name2fixturedefs.values())


def _join_group(item: pytest.Item, group: str) -> None:
    """Put the item into xdist group `group` (--dist loadgroup schedules by the group that
    a worker appends to the test's id: "path::test@group"). pytest-xdist 3.8 appends it to
    `item._nodeid`, which pytest 9 no longer reads (the id is `item._id`), so that its
    loadgroup would silently schedule every test alone: the id is set here as well."""
    if item.get_closest_marker("xdist_group") is None:
        item.add_marker(pytest.mark.xdist_group(group))
    if os.environ.get("PYTEST_XDIST_WORKER") and hasattr(item, "_id"):
        from _pytest.nodeid import coerce_node_id

        item._id = coerce_node_id(f"{item.nodeid}@{group}")


# Before xdist's own hook, which reads the groups (its own is then a no-op on pytest 9).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("dist", "no") != "loadgroup" and not config.getoption("loadgroup", False):
        return
    for item in items:
        marker = item.get_closest_marker("xdist_group")
        if marker is not None:
            _join_group(item, str(marker.args[0] if marker.args else marker.kwargs["name"]))
        elif _uses_a_shared_fixture(item):
            _join_group(item, item.path.stem)
    _longest_first(config, items)


def _recorded(config: pytest.Config) -> dict[str, float]:
    """The durations the previous runs recorded (an empty record if there is none), read
    once per process."""
    if _RECORDED not in config.stash:
        cache = getattr(config, "cache", None)
        previous = cache.get(schedule_order.CACHE_KEY, {}) if cache is not None else {}
        config.stash[_RECORDED] = schedule_order.merged(previous, {})
    return config.stash[_RECORDED]


# xdist's hook, in the main process before each worker starts: the workers order their
# collections by the durations the main process read, so they cannot disagree (xdist stops
# a run whose workers collected different orders) even if the cache file changes meanwhile.
@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # xdist's WorkerController
    node.workerinput[schedule_order.CACHE_KEY] = _recorded(node.config)


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("dist", "no") != "loadgroup":
        return None
    recorded = len(_recorded(config))
    if not recorded:
        return "order: groups first, by size (no test times recorded yet)"
    return (f"order: longest first, by the times of {recorded} tests recorded in earlier "
            f"runs (.pytest_cache, {schedule_order.CACHE_KEY})")


def _longest_first(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Orders the items by the durations the previous run recorded (schedule_order.py)."""
    workerinput = getattr(config, "workerinput", None)
    durations = (workerinput.get(schedule_order.CACHE_KEY, {}) if workerinput is not None
                 else _recorded(config))
    tests = []
    for item in items:
        marker = item.get_closest_marker("xdist_group")
        test = schedule_order.base_nodeid(item.nodeid)
        unit = (f"@{marker.args[0] if marker.args else marker.kwargs['name']}"
                if marker is not None else test)
        tests.append((test, unit))
    items[:] = [items[i] for i in schedule_order.order(tests, durations)]

