"""Compiled test artefacts built once per test run and shared by every process of it.

Under pytest-xdist each worker is a process of its own: what a module keeps in a global
(a precompiled header, say) would be built once per worker. An artefact asked for through
`shared_directory` is built by the first process that asks, under a file lock, in the run's
shared directory (test/python/conftest.py creates it and names it in
SOFIE_PYTORCH_TEST_SHARED for the workers; it is removed when the run ends), and found there
by every other process. The directory is named after a hash of everything the artefact is
built from, so two different artefacts never meet under one name.

Outside pytest (a script importing the test helpers) the variable is not set and each
process gets a temporary directory of its own, as before.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

ENV = "SOFIE_PYTORCH_TEST_SHARED"
_DONE = ".complete"
_own_root: Path | None = None


def run_root() -> Path:
    """The shared directory of this test run (or this process's own, outside pytest)."""
    global _own_root
    given = os.environ.get(ENV)
    if given:
        return Path(given)
    if _own_root is None:
        _own_root = Path(tempfile.mkdtemp(prefix="sofie_pytorch_shared_"))
        atexit.register(shutil.rmtree, _own_root, True)
    return _own_root


def shared_directory(kind: str, key: str, build: Callable[[Path], None]) -> Path:
    """The directory of artefact `kind` built from `key` (its inputs, as text): made by
    `build(directory)` in the first process that asks during this run, reused by all.

    `build` writes into an empty staging directory, which is renamed into place only when
    it returns, so no process ever sees half an artefact; if it raises, the next process
    that asks tries again.
    """
    root = run_root()
    target = root / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:20]}"
    if (target / _DONE).is_file():
        return target
    with FileLock(str(target) + ".lock"):
        if not (target / _DONE).is_file():
            staging = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=root))
            try:
                build(staging)
                (staging / _DONE).touch()
                staging.rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return target
