"""A content-addressed cache of the programs the tests compile from generated code, kept in
the build tree (build/test-cache/) between test runs.

Most of the suite's time is g++ compiling generated code that is the same from one run to
the next. A compile is looked up by a key that covers everything that decides the binary:

- the preprocessed text of each source (`g++ -E -P` with the command's own flags: every
  header it includes, whatever the include path, and every macro, so a changed header or
  -D changes the key; -P leaves out the line markers, which name the temporary directory a
  test compiles in and change nothing in a program compiled without -g),
- every flag, in order (-O, -march, -f..., -std, -D, ...); -march=native also by what the
  compiler makes of it on this CPU (`-Q --help=target`),
- the compiler: its --version, its target, the files of the driver, cc1plus and ld (path,
  size, modification time),
- every library linked: -lNAME resolved as the linker would (`-print-file-name`) and each
  .a/.so/.o given by path, by the sha256 of its content.

An argument the parser does not know (see `_parse`) makes the compile uncached rather than
risk a key that misses what it means. A compile that fails is never stored.

Entries are files `<key[:2]>/<key>`, published by writing a temporary file in the cache and
renaming it into place (os.replace), so that a reader never sees half a program; two
processes compiling the same key at once both publish the same program, the last rename
wins. A hit is copied to the requested output and its time stamp renewed; when the cache
grows over its bound (SOFIE_PYTORCH_TEST_CACHE_MB, 1024 by default) the least recently
used entries are removed.

Also a command for the C++ tests (test/cpp/GeneratedCode.cxx):
`python compile_cache.py CACHE_DIR g++ ARGS...` runs the compile through the cache and
exits with the compiler's status (its messages on stderr).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Changed whenever the key's recipe changes, so that entries keyed the old way never hit.
_RECIPE = b"sofie-pytorch-test-compile-cache 1"
# The cache's directory; "off" (or empty) compiles everything afresh.
DIR_ENV = "SOFIE_PYTORCH_TEST_CACHE"
MAX_MB_ENV = "SOFIE_PYTORCH_TEST_CACHE_MB"
_BUILD_TREE = Path(__file__).resolve().parents[2] / "build"
_DEFAULT_MAX_MB = 1024
_SOURCE_SUFFIXES = {".c", ".cc", ".cpp", ".cxx", ".C"}
_LINK_SUFFIXES = {".a", ".so", ".o"}
# Options followed by a separate value that names something the preprocessor reads (its
# content is in the -E text, so the path itself is not part of the key).
_PREPROCESSOR_PATHS = {"-include", "-I", "-isystem", "-iquote", "-idirafter"}


def default_cache() -> Path | None:
    """SOFIE_PYTORCH_TEST_CACHE if set ("off": none), else build/test-cache when the build
    tree exists (`make build` made it), else none."""
    given = os.environ.get(DIR_ENV)
    if given is not None:
        return None if given in ("", "off") else Path(given)
    return _BUILD_TREE / "test-cache" if _BUILD_TREE.is_dir() else None


@dataclass
class _Command:
    compiler: str
    flags: list[str] = field(default_factory=list)  # in the key and given to -E
    preprocessor: list[str] = field(default_factory=list)  # given to -E, content in the key
    sources: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # in the key by content
    output: str | None = None


@dataclass
class Result:
    """What compile() did: the compiler's status and messages (empty on a hit)."""

    returncode: int
    stderr: str
    hit: bool


def _parse(command: list[str]) -> _Command | None:
    """The parts of a g++ command that compiles sources and links them into one program, or
    None when an argument is not understood (then the compile is not cached)."""
    parsed = _Command(command[0])
    args = iter(command[1:])
    for arg in args:
        if arg == "-o":
            parsed.output = next(args, None)
        elif arg in _PREPROCESSOR_PATHS:
            value = next(args, None)
            if value is None:
                return None
            parsed.preprocessor += [arg, value]
        elif arg.startswith(("-I", "-isystem")):
            parsed.preprocessor.append(arg)
        elif arg.startswith("-l") and len(arg) > 2:
            parsed.links.append(arg)
        elif arg in ("-E", "-S", "-c", "-M", "-MM", "-MD", "-MMD", "-MF", "-x", "-L", "-B",
                     "-specs", "-wrapper", "-fplugin", "-save-temps") \
                or arg.startswith(("-L", "-B", "-fplugin", "-specs", "--sysroot", "-x",
                                   "-Xlinker", "-M", "@", "-fprofile-use",
                                   "-fauto-profile")):
            return None  # not a plain compile-and-link, or it reads files the key misses
        elif arg.startswith("-Wl,") and any(Path(part).exists() for part in arg.split(",")[1:]):
            return None  # a linker option naming a file (a script, a library) it reads
        elif arg.startswith("-"):
            parsed.flags.append(arg)
        elif Path(arg).suffix in _SOURCE_SUFFIXES:
            parsed.sources.append(arg)
        elif Path(arg).suffix in _LINK_SUFFIXES or ".so." in Path(arg).name:
            parsed.links.append(arg)
        else:
            return None
    if parsed.output is None or not parsed.sources:
        return None
    return parsed


def _field(h: hashlib._Hash, name: str, content: bytes) -> None:
    """Adds one named piece, length-prefixed, so that no two different lists of pieces give
    the same stream of bytes."""
    for part in (name.encode(), content):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)


def _run(command: list[str], cwd: Path | None = None) -> bytes:
    return subprocess.run(command, cwd=cwd, capture_output=True, check=True, timeout=600).stdout


def _stat(path: str) -> bytes:
    real = os.path.realpath(path)
    st = os.stat(real)
    return f"{real} {st.st_size} {st.st_mtime_ns}".encode()


@functools.cache
def _compiler_identity(compiler: str) -> bytes:
    driver = shutil.which(compiler)
    if driver is None:
        raise FileNotFoundError(compiler)
    parts = [_run([driver, "--version"]), _run([driver, "-dumpmachine"]), _stat(driver)]
    for tool in ("cc1plus", "ld"):
        found = _run([driver, f"-print-prog-name={tool}"]).decode().strip()
        where = found if os.path.isabs(found) else shutil.which(found)
        parts.append(_stat(where) if where else f"{tool}: {found}".encode())
    return b"\0".join(parts)


@functools.cache
def _file_digest(path: str, stamp: bytes) -> str:
    """sha256 of a file's content, computed once per process for one size and time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _library_file(compiler: str, link: str, cwd: Path) -> str:
    """The file a -lNAME or a path argument links, as the linker finds it."""
    if not link.startswith("-l"):
        return str(cwd / link)
    for name in (f"lib{link[2:]}.so", f"lib{link[2:]}.a"):
        found = _run([compiler, f"-print-file-name={name}"]).decode().strip()
        if os.path.isabs(found) and os.path.isfile(found):
            return found
    raise FileNotFoundError(f"{link}: no library found")


def key(command: list[str], cwd: Path) -> str | None:
    """The cache key of a compile command run in cwd, or None if it cannot be cached."""
    parsed = _parse(command)
    if parsed is None:
        return None
    h = hashlib.sha256(_RECIPE)
    _field(h, "compiler", _compiler_identity(parsed.compiler))
    _field(h, "flags", "\0".join(parsed.flags).encode())
    if any("native" in flag for flag in parsed.flags):
        _field(h, "target", _run([parsed.compiler, *parsed.flags, "-Q", "--help=target"], cwd))
    for source in parsed.sources:
        text = _run([parsed.compiler, *parsed.flags, *parsed.preprocessor, "-E", "-P", source],
                    cwd)
        _field(h, "source", text)
    for link in parsed.links:
        path = os.path.realpath(_library_file(parsed.compiler, link, cwd))
        _field(h, "link", f"{link} {_file_digest(path, _stat(path))}".encode())
    return h.hexdigest()


def compile(command: list[str], cwd: Path, cache: Path | None,
            compile_command: Callable[[], list[str]] | None = None) -> Result:
    """Runs the g++ `command` in cwd, or copies its program from `cache` when an identical
    compile was stored there (None: no cache, always compile).

    compile_command, if given, makes what runs on a miss instead of `command`: an
    equivalent compile (the same flags and sources, e.g. with a precompiled header of the
    same header text), called only on a miss, so that a hit needs no precompiled header.
    """
    entry = None
    if cache is not None:
        try:
            digest = key(command, cwd)
        except (OSError, subprocess.SubprocessError):
            digest = None  # e.g. the source does not preprocess: g++ reports it below
        if digest is not None:
            entry = cache / digest[:2] / digest
    output = cwd / str(_parse(command).output) if entry is not None else None
    if entry is not None and output is not None:
        try:
            shutil.copyfile(entry, output)
            os.chmod(output, 0o755)
            os.utime(entry)
            return Result(0, "", True)
        except FileNotFoundError:
            pass  # not stored, or removed by a concurrent pruning
    actual = compile_command() if compile_command else command
    start = time.perf_counter()
    done = subprocess.run(actual, cwd=cwd, capture_output=True, text=True, timeout=1200)
    if done.returncode == 0 and entry is not None and output is not None:
        _publish(output, entry)
        _note(cache, entry.name, time.perf_counter() - start)  # type: ignore[arg-type]
        _prune(cache)  # type: ignore[arg-type]
    return Result(done.returncode, done.stderr, False)


def _note(cache: Path, name: str, seconds: float) -> None:
    """Appends the compile's time to cache/compiles.tsv (what each hit saves: see how much
    time the cache holds with `awk '{s+=$2} END {print s}' build/test-cache/compiles.tsv`).
    One short line per write: appends from several processes do not interleave."""
    log = cache / "compiles.tsv"
    with open(log, "a") as out:
        out.write(f"{name}\t{seconds:.2f}\n")
    if log.stat().st_size > 2**20:  # bounded too: the last 5000 compiles (a log, not a key)
        lines = log.read_text().splitlines(keepends=True)[-5000:]
        _publish_text(log, "".join(lines))


def _publish_text(path: Path, text: str) -> None:
    fd, staged = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(staged, path)


def _publish(program: Path, entry: Path) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    fd, staged = tempfile.mkstemp(prefix=".tmp-", dir=entry.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(program, "rb") as src:
            shutil.copyfileobj(src, out)
        os.replace(staged, entry)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise


def _prune(cache: Path) -> None:
    """Removes the least recently used entries while the cache is over its bound (to 80% of
    it). Two processes pruning at once only remove entries; a reader whose entry vanished
    compiles."""
    limit = float(os.environ.get(MAX_MB_ENV, _DEFAULT_MAX_MB)) * 2**20
    entries = []
    for path in cache.glob("??/*"):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        entries.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in entries)
    if total <= limit:
        return
    for _, size, path in sorted(entries):
        if total <= 0.8 * limit:
            break
        path.unlink(missing_ok=True)
        total -= size


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: compile_cache.py CACHE_DIR COMPILER ARGS...", file=sys.stderr)
        return 2
    # SOFIE_PYTORCH_TEST_CACHE, when set, has the last word (as for the Python tests)
    cache = default_cache() if os.environ.get(DIR_ENV) is not None else Path(argv[1])
    result = compile(argv[2:], Path.cwd(), cache)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
