"""A test environment that is expensive to build (test_pip_install: a new virtual
environment with the project pip-installed into it, minutes of work), kept between test
runs under a key that is a hash of everything the build depends on.

The entries live in one directory (build/test-pip/): `<key>` is a symbolic link to the
directory the entry was built in, `.<key>.<random>`. A virtual environment cannot be moved
once built (its scripts name their interpreter by absolute path), so the entry is built
where it stays and published by replacing the link atomically (os.replace) once the build
has succeeded: a run killed half-way leaves only an unpublished directory, which the next
build removes, never a link to half an environment. A file lock on the directory makes
sure that two processes (xdist workers, two sessions) never build at once; the second
waits and finds the first one's entry.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from filelock import FileLock

_COMPLETE = ".complete"
_SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}


def digest(parts: Iterable[tuple[str, bytes]]) -> str:
    """sha256 over named pieces; each name and content is length-prefixed, so that no two
    different lists of pieces give the same stream of bytes."""
    h = hashlib.sha256()
    for name, content in parts:
        for field in (name.encode(), content):
            h.update(len(field).to_bytes(8, "little"))
            h.update(field)
    return h.hexdigest()


def tree_files(base: Path, names: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """(relative path, content) of each named file and of every file under each named
    directory, in a fixed order; bytecode caches are skipped (they change on every import
    and change nothing in a build). A missing name is a piece of its own, so that creating
    it changes the key."""
    for name in names:
        path = base / name
        if path.is_file():
            yield name, path.read_bytes()
        elif path.is_dir():
            for sub in sorted(path.rglob("*")):
                rel = sub.relative_to(base)
                if sub.is_file() and not _SKIPPED_DIRS & set(rel.parts) and sub.suffix != ".pyc":
                    yield rel.as_posix(), sub.read_bytes()
        else:
            yield name, b"<missing>"


def _published(link: Path) -> Path | None:
    """The entry's directory if `link` names a complete one."""
    if link.is_symlink() and (link / _COMPLETE).is_file():
        return link.resolve()
    return None


def _use(link: Path) -> Path:
    """Marks the entry as used now (pruning keeps the most recently used ones)."""
    os.utime(link, follow_symlinks=False)
    return link.resolve()


def cached_build(root: Path, key: str, build: Callable[[Path], None], keep: int = 2) -> Path:
    """The directory of entry `key` under `root`: reused when it exists, otherwise made by
    `build(directory)` (an empty directory that the entry keeps) and published when
    `build` returns. Keeps the `keep` most recently used entries and removes the others."""
    root.mkdir(parents=True, exist_ok=True)
    link = root / key
    if _published(link):
        return _use(link)
    with FileLock(str(root / ".lock")):
        if _published(link):  # built by another process while this one waited
            return _use(link)
        _remove_unpublished(root)
        directory = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
        try:
            build(directory)
            (directory / _COMPLETE).write_text(key + "\n")
            staged = root / f".{key}.link-{os.getpid()}"
            staged.unlink(missing_ok=True)
            staged.symlink_to(directory.name)
            os.replace(staged, link)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        _prune(root, keep)
    return _use(link)


def _links(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if p.is_symlink() and not p.name.startswith(".")]


def _prune(root: Path, keep: int) -> None:
    """Removes all but the `keep` most recently used entries (called under the lock)."""
    links = sorted(_links(root), key=lambda p: p.lstat().st_mtime, reverse=True)
    for old in links[keep:]:
        old.unlink()
    _remove_unpublished(root)


def _remove_unpublished(root: Path) -> None:
    """Removes the directories no entry points to: builds that were killed or failed, and
    entries just pruned (called under the lock, so no build is in progress)."""
    used = {os.readlink(p) for p in _links(root)}
    for path in root.iterdir():
        if path.name.startswith(".") and path.name not in used and path.name != ".lock":
            if path.is_symlink() or path.is_file():
                path.unlink()
            else:
                shutil.rmtree(path, ignore_errors=True)
