"""The cache of built test environments (pip_env_cache.py, used by test_pip_install.py):
reused while the key is the same, never published half-built, built once when processes
ask at the same time, old entries pruned."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pip_env_cache as cache
import pytest


def counting_build(log: Path, content: str = "env"):
    def build(directory: Path) -> None:
        with log.open("a") as f:
            f.write(f"{os.getpid()}\n")
        (directory / "venv").mkdir()
        (directory / "venv" / "python").write_text(content)
        time.sleep(0.5)  # long enough for a second process to arrive while this one builds
    return build


def test_same_key_reuses_the_entry_other_key_builds_anew(tmp_path):
    log, root = tmp_path / "log", tmp_path / "cache"
    first = cache.cached_build(root, "k1", counting_build(log))
    again = cache.cached_build(root, "k1", counting_build(log))
    other = cache.cached_build(root, "k2", counting_build(log))
    assert first == again != other
    assert (first / "venv" / "python").read_text() == "env"
    assert len(log.read_text().split()) == 2  # k1 once, k2 once
    assert (root / "k1").is_symlink() and (root / "k1" / "venv").is_dir()


def test_a_failed_or_killed_build_is_not_published_and_is_cleaned_up(tmp_path):
    root = tmp_path / "cache"

    def failing(directory: Path) -> None:
        (directory / "venv").mkdir()
        raise RuntimeError("pip failed")

    with pytest.raises(RuntimeError):
        cache.cached_build(root, "k", failing)
    assert not (root / "k").exists()
    assert [p.name for p in root.iterdir()] == [".lock"]
    # what a killed run leaves: a half-built directory, no link to it
    (root / ".k.half").mkdir()
    (root / ".k.half" / "venv").mkdir()
    built = cache.cached_build(root, "k", counting_build(tmp_path / "log"))
    assert (built / "venv" / "python").is_file()
    assert not (root / ".k.half").exists()


def _build_in_process(root: str, log: str, out: str) -> None:
    path = cache.cached_build(Path(root), "k", counting_build(Path(log)))
    Path(out).write_text(str(path))


def test_two_processes_at_once_build_once_and_share_the_entry(tmp_path):
    root, log = tmp_path / "cache", tmp_path / "log"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_build_in_process,
                         args=(str(root), str(log), str(tmp_path / f"out{i}")))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(log.read_text().split()) == 1
    assert (tmp_path / "out0").read_text() == (tmp_path / "out1").read_text()


def test_the_two_most_recently_used_entries_are_kept(tmp_path):
    root, log = tmp_path / "cache", tmp_path / "log"
    a = cache.cached_build(root, "a", counting_build(log))
    b = cache.cached_build(root, "b", counting_build(log))
    os.utime(root / "a", (1, 1), follow_symlinks=False)
    os.utime(root / "b", (2, 2), follow_symlinks=False)
    cache.cached_build(root, "a", counting_build(log))  # a hit: a is now the newest
    c = cache.cached_build(root, "c", counting_build(log))
    assert {p.name for p in root.iterdir() if not p.name.startswith(".")} == {"a", "c"}
    assert a.is_dir() and c.is_dir() and not b.exists()


def test_the_key_covers_every_file_and_a_missing_one(tmp_path):
    (tmp_path / "src" / "__pycache__").mkdir(parents=True)
    (tmp_path / "src" / "x.cpp").write_text("int x;")
    (tmp_path / "top.txt").write_text("1")

    def key() -> str:
        return cache.digest(cache.tree_files(tmp_path, ["top.txt", "src", "absent"]))

    before = key()
    (tmp_path / "src" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    assert key() == before  # bytecode changes nothing
    (tmp_path / "src" / "x.cpp").write_text("int y;")
    changed = key()
    assert changed != before
    (tmp_path / "absent").write_text("")
    assert key() != changed
