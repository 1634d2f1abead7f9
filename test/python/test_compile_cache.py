"""The cache of compiled test programs (test/models/compile_cache.py): a hit only on the same
preprocessed sources, flags, compiler and libraries; a miss when any header or flag
changes; concurrent writers publish one complete program; the bound is kept."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import compile_cache
import pytest

_MAIN = '#include "value.hxx"\n#include <cstdio>\nint main() { std::printf("%d\\n", VALUE); }\n'


def _project(directory: Path, value: int = 1) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.cxx").write_text(_MAIN)
    (directory / "value.hxx").write_text(f"#define VALUE {value}\n")
    return directory


def _build(directory: Path, cache: Path, *flags: str) -> compile_cache.Result:
    command = ["g++", "-std=c++17", *flags, "main.cxx", "-o", "prog"]
    result = compile_cache.compile(command, directory, cache)
    assert result.returncode == 0, result.stderr
    return result


def _output(directory: Path) -> str:
    return subprocess.run([str(directory / "prog")], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_identical_input_hits_in_another_directory(tmp_path):
    cache = tmp_path / "cache"
    assert not _build(_project(tmp_path / "a"), cache, "-O1").hit
    # Another directory (the line markers name it; the key leaves them out), same content.
    again = _build(_project(tmp_path / "b"), cache, "-O1")
    assert again.hit and _output(tmp_path / "b") == "1"
    assert os.access(tmp_path / "b" / "prog", os.X_OK)


def test_a_changed_header_or_flag_misses(tmp_path):
    cache = tmp_path / "cache"
    directory = _project(tmp_path / "p")
    _build(directory, cache, "-O1")
    (directory / "value.hxx").write_text("#define VALUE 2\n")  # only the included header
    changed = _build(directory, cache, "-O1")
    assert not changed.hit and _output(directory) == "2"
    assert not _build(directory, cache, "-O2").hit  # another flag
    assert not _build(directory, cache, "-O2", "-DUNUSED").hit  # a macro nothing reads
    assert _build(directory, cache, "-O2").hit  # the first -O2 build, unchanged
    assert _output(directory) == "2"


def test_a_changed_library_misses(tmp_path):
    cache = tmp_path / "cache"
    directory = _project(tmp_path / "p")
    (directory / "lib.cxx").write_text("int unused() { return 1; }\n")
    subprocess.run(["g++", "-shared", "-fPIC", "lib.cxx", "-o", "libx.so"], cwd=directory,
                   check=True)
    command = ["g++", "main.cxx", "-o", "prog", "libx.so"]
    assert not compile_cache.compile(command, directory, cache).hit
    assert compile_cache.compile(command, directory, cache).hit
    (directory / "lib.cxx").write_text("int unused() { return 2; }\n")
    subprocess.run(["g++", "-shared", "-fPIC", "lib.cxx", "-o", "libx.so"], cwd=directory,
                   check=True)
    assert not compile_cache.compile(command, directory, cache).hit


def test_failures_and_unknown_arguments_are_not_cached(tmp_path):
    cache = tmp_path / "cache"
    directory = _project(tmp_path / "p")
    (directory / "bad.cxx").write_text("int main() { return undeclared; }\n")
    for _ in range(2):
        failed = compile_cache.compile(["g++", "bad.cxx", "-o", "prog"], directory, cache)
        assert failed.returncode != 0 and not failed.hit and "undeclared" in failed.stderr
    assert compile_cache.key(["g++", "-c", "main.cxx", "-o", "main.o"], directory) is None
    assert compile_cache.key(["g++", "-Lsomewhere", "main.cxx", "-o", "p"], directory) is None
    assert compile_cache.key(["g++", "main.cxx", "-o", "p", "notes.txt"], directory) is None
    assert not list(cache.glob("??/*"))


def test_native_is_keyed_on_what_it_resolves_to(tmp_path, monkeypatch):
    directory = _project(tmp_path / "p")
    calls = []
    real_run = compile_cache._run

    def spy(command, cwd=None):
        calls.append(command)
        return real_run(command, cwd)

    monkeypatch.setattr(compile_cache, "_run", spy)
    compile_cache.key(["g++", "-march=native", "main.cxx", "-o", "p"], directory)
    assert any("--help=target" in c for c in calls)


def _concurrent_writer(directory: str, cache: str) -> bool:
    command = ["g++", "-std=c++17", "-O1", "main.cxx", "-o", "prog"]
    return compile_cache.compile(command, Path(directory), Path(cache)).returncode == 0


def test_concurrent_writers_publish_one_complete_program(tmp_path):
    cache = tmp_path / "cache"
    directories = [str(_project(tmp_path / f"w{i}")) for i in range(4)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert all(pool.starmap(_concurrent_writer, [(d, str(cache)) for d in directories]))
    entries = list(cache.glob("??/*"))
    assert len(entries) == 1 and not list(cache.glob("??/.tmp-*"))
    assert _build(_project(tmp_path / "after"), cache, "-O1").hit
    assert _output(tmp_path / "after") == "1"
    for d in directories:
        assert _output(Path(d)) == "1"


def test_the_bound_removes_the_least_recently_used(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    directory = _project(tmp_path / "p")
    _build(directory, cache, "-O1")
    size = next(cache.glob("??/*")).stat().st_size
    # room for two programs: the third publish drops the least recently used (-O1's)
    monkeypatch.setenv(compile_cache.MAX_MB_ENV, str(2.5 * size / 2**20))
    os.utime(next(cache.glob("??/*")), (1, 1))
    _build(directory, cache, "-O2")
    _build(directory, cache, "-O3")
    assert len(list(cache.glob("??/*"))) <= 2
    assert not _build(directory, cache, "-O1").hit


@pytest.mark.parametrize("value", ["off", ""])
def test_the_cache_can_be_switched_off(monkeypatch, value):
    monkeypatch.setenv(compile_cache.DIR_ENV, value)
    assert compile_cache.default_cache() is None



def test_the_command_for_ctest_compiles_once_and_passes_failures_on(tmp_path, monkeypatch):
    monkeypatch.delenv(compile_cache.DIR_ENV, raising=False)
    cache, directory = tmp_path / "cache", _project(tmp_path / "p")
    script = Path(compile_cache.__file__)
    command = [sys.executable, str(script), str(cache), "g++", "-O1",
               str(directory / "main.cxx"), "-o", str(directory / "prog")]
    for _ in range(2):
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert _output(directory) == "1"
    assert len((cache / "compiles.tsv").read_text().splitlines()) == 1  # compiled once
    (directory / "main.cxx").write_text("int main() { return undeclared; }\n")
    failed = subprocess.run(command, capture_output=True, text=True)
    assert failed.returncode != 0 and "undeclared" in failed.stderr
