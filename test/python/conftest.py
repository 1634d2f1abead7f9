"""Suite-wide set-up for running the tests in parallel with pytest-xdist (`make test`
runs `pytest -n JOBS --dist loadgroup`; a plain `pytest` runs them in one process).

- The run's shared directory (test/models/shared_artifacts.py): created by the main
  process before the workers start, named to them in SOFIE_PYTORCH_TEST_SHARED, removed
  when the run ends. Compiled artefacts that many tests use are built there once per run.
- Tests that share a module-scoped fixture (a model set converted once, a Dask cluster, a
  pip-installed environment) are put in one xdist group per module, so that the fixture
  is built by one worker, once, as in a serial run; all other tests go to any free worker.
  The groups are scheduled first.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from shared_artifacts import ENV

_OWN_KEY = pytest.StashKey[str]()
# Fixture scopes that outlive one test: such a fixture is made once per process using it.
_SHARED_SCOPES = {"module", "class", "package"}


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get(ENV):
        return  # a worker (it inherits the variable) or a directory given from outside
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
    # The groups first: each is work that one worker must do alone (the pip-installed
    # environment alone takes minutes), so they start at once and the single tests fill
    # the other workers' time; started last, a group would leave the others idle at the end.
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)
