"""The SOFIE engine: the sofie wheel's prebuilt libraries and the ones compiled from the
sdist are interchangeable (cmake/SofieEngine.cmake chooses between them).

Always run: the engine this build links defines every engine symbol libSofiePyTorch
needs (mangled names, so std::string's C++11 ABI is part of the match), and a wheel
engine is the wheel's libraries unchanged.

Run when two engines are present: the generated code (header and weights) of every
coverage case (test/models/coverage.py) is the same, byte for byte, from both. Compiling
the sdist engine takes 6-9 minutes on 2 cores, so the suite does not do it: `make
test-engines` builds both engines into build/engine-sdist and build/engine-wheel and runs
this file; once they exist, `make test` runs the comparison too. SOFIE_PYTORCH_ENGINES=
dir1:dir2 names two other directories holding libSOFIE_core.so and libSOFIE_parsers.so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
LIBRARY = BUILD / "lib" / "libSofiePyTorch.so"
ENGINE_LIBS = ("libSOFIE_core.so", "libSOFIE_parsers.so")
SCRIPT = Path(__file__).resolve().parent / "scripts" / "generate_coverage_code.py"


def cache_entry(name: str) -> str:
    found = re.search(rf"^{name}:\w+=(.*)$", (BUILD / "CMakeCache.txt").read_text(), re.M)
    assert found, f"{name} not in {BUILD / 'CMakeCache.txt'}"
    return found.group(1)


def linked_engine(library: Path) -> dict[str, Path]:
    """The engine libraries the dynamic linker resolves for `library` (ldd)."""
    out = subprocess.run(["ldd", str(library)], capture_output=True, text=True,
                         check=True).stdout
    found = {m.group(1): Path(m.group(2))
             for m in re.finditer(r"^\s*(libSOFIE_\w+\.so) => (\S+)", out, re.M)}
    assert set(found) == set(ENGINE_LIBS), out
    return found


def dynamic_symbols(library: Path, defined: bool) -> set[str]:
    flag = "--defined-only" if defined else "--undefined-only"
    out = subprocess.run(["nm", "-D", flag, str(library)], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def test_the_engine_defines_every_engine_symbol_our_library_needs():
    needed = {s for s in dynamic_symbols(LIBRARY, defined=False) if "5SOFIE" in s}
    # Not vacuous: the parser calls the engine, with std::string arguments (C++11 ABI).
    assert len(needed) >= 10 and any("__cxx11" in s for s in needed), sorted(needed)
    defined: set[str] = set()
    for path in linked_engine(LIBRARY).values():
        defined |= dynamic_symbols(path, defined=True)
    missing = sorted(needed - defined)
    assert not missing, f"{cache_entry('SOFIE_ENGINE_ORIGIN')} lacks {missing}"


def test_a_wheel_engine_is_the_wheels_libraries_unchanged():
    origin = cache_entry("SOFIE_ENGINE_ORIGIN")
    if not origin.startswith("wheel "):
        pytest.skip(f"this build's engine is not the wheel's: {origin}")
    wheel = BUILD / "_deps" / "sofie-wheel" / "unpacked" / "sofie"
    for name, path in linked_engine(LIBRARY).items():
        assert path.resolve() == (BUILD / "lib" / name).resolve()
        assert path.read_bytes() == (wheel / name).read_bytes(), name


def engines_to_compare() -> list[Path]:
    given = os.environ.get("SOFIE_PYTORCH_ENGINES")
    dirs = ([Path(d) for d in given.split(":")] if given
            else [BUILD / "engine-sdist" / "lib", BUILD / "engine-wheel" / "lib"])
    if all((d / lib).is_file() for d in dirs for lib in ENGINE_LIBS):
        return dirs
    if given:
        raise AssertionError(f"SOFIE_PYTORCH_ENGINES={given}: no {ENGINE_LIBS} in both")
    return []


def generate(engine: Path, out: Path, scratch: Path) -> dict:
    """The coverage cases' code from libSofiePyTorch with the engine of `engine` (put first
    on the library path, which comes before the library's run path)."""
    # A directory with only the engine: ROOT reads rootmaps on the library path too.
    only = scratch / f"libs-{out.name}"
    only.mkdir()
    for lib in ENGINE_LIBS:
        (only / lib).symlink_to((engine / lib).resolve())
    env = dict(os.environ, LD_LIBRARY_PATH=str(only), SOFIE_PYTORCH_LIBRARY=str(LIBRARY))
    proc = subprocess.run([sys.executable, str(SCRIPT), str(out)], env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    want = sorted(str((engine / lib).resolve()) for lib in ENGINE_LIBS)
    assert result["engine"] == want, result["engine"]  # the engine asked for, no other
    return result


# The one difference expected: the header's first line says when it was generated.
STAMP = re.compile(rb"\A(//Code generated automatically by SOFIE[^\n]*) at \[[^\]\n]*\]")


def comparable(path: Path) -> bytes:
    """The file's bytes, without the generation time of a header's first line."""
    return STAMP.sub(rb"\1 at [time]", path.read_bytes(), count=1)


def test_both_engines_generate_the_same_code_for_every_coverage_case(tmp_path):
    engines = engines_to_compare()
    if not engines:
        pytest.skip("no second engine: `make test-engines` builds both (6-9 min) and compares")
    outs = [tmp_path / "a", tmp_path / "b"]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(generate, engines, outs, [tmp_path, tmp_path]))
    assert results[0]["errors"] == results[1]["errors"]
    files = [sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) for out in outs]
    assert files[0] == files[1]
    assert len([f for f in files[0] if f.suffix == ".hxx"]) >= 150, len(files[0])
    differ = [str(f) for f in files[0]
              if comparable(outs[0] / f) != comparable(outs[1] / f)]
    assert not differ, f"{engines[0]} and {engines[1]} generate other code for {differ}"
