"""The instruction-set levels the suite compiles generated code for, whatever the host.

Kernels choose their tiles by vector width (SSE 4 floats, AVX2 8, AVX-512 16) and g++'s
-ffast-math reciprocals differ per level, so a test that compiles with -march=native only
ever checks the host's path: the suite once passed on an AVX-512 machine and failed on an
AVX2 one. Every generated-code test that compiles at several flag sets takes them from here:
x86-64-v2 (SSE4.2), x86-64-v3 (AVX2 + FMA) and, where this machine can run it, x86-64-v4
(AVX-512), each also under -ffast-math.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

# The CPU flags (as /proc/cpuinfo names them) each level adds to the one before.
_REQUIRES = {
    "x86-64-v2": {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"},
    "x86-64-v3": {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"},
    "x86-64-v4": {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"},
}
LEVELS = tuple(_REQUIRES)


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def host_runs(level: str) -> bool:
    """Whether this machine can run code compiled with -march=level."""
    needed: set[str] = set()
    for name, flags in _REQUIRES.items():
        needed |= flags
        if name == level:
            return needed <= _cpu_flags()
    raise ValueError(f"unknown level {level!r}")


def runnable_levels() -> tuple[str, ...]:
    """The levels this machine runs, lowest first; () off x86-64."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return ()
    return tuple(level for level in LEVELS if host_runs(level))


def flag_sets(optimisation: str = "-O3", fast_math: bool = True) -> list[tuple[str, ...]]:
    """One g++ flag set per runnable level (and the same under -ffast-math); off x86-64 the
    compiler's default target."""
    marches = [(f"-march={level}",) for level in runnable_levels()] or [()]
    sets = []
    for march in marches:
        sets.append((optimisation, *march))
        if fast_math:
            sets.append((optimisation, *march, "-ffast-math"))
    return sets


def flag_id(flags: tuple[str, ...]) -> str:
    """A short test id: O3-v3-fast-math."""
    return "-".join(f.lstrip("-").removeprefix("march=x86-64-").removeprefix("f")
                    for f in flags)


FLAG_SETS = flag_sets()
FLAG_IDS = [flag_id(f) for f in FLAG_SETS]
