"""Compiling generated C++ into a self-contained shared library with g++.

The library carries its own copy of OpenBLAS (the static ``libopenblas.a`` of Debian's
``libopenblas-dev``), with every symbol of it hidden (``--exclude-libs,ALL``) and only
the functions marked ``visibility("default")`` exported. So the generated code's
``sgemm_`` calls always reach that OpenBLAS: not torch's own ``sgemm_`` (another BLAS with
other conventions, which gave silently wrong results when cling had to pick one), and
not whatever BLAS a Dask worker happens to have, which then needs nothing but ROOT.

The generated dense and convolution kernels are plain loops that g++ vectorises for the
instruction set named by ``-march``: at the x86-64 baseline that is SSE2 (4 floats), on
this project's AVX-512 machines 16. So the library is compiled for a target CPU (see
:func:`march_flags`): the machine itself for local scoring; for Dask workers, which may be
other machines, every x86-64 level, the best one chosen on each worker when it loads the
library (:mod:`.isa_dispatch`). The flags are recorded in the library
(``-frecord-gcc-switches``: ``readelf -p .GCC.command.line lib....so`` shows them, with
``native`` resolved to the CPU it meant).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from .. import _library
from ..errors import SofiePyTorchError
from ..output import atomic_file
from . import isa_dispatch

log = logging.getLogger(__name__)

CXXFLAGS = ["-std=c++17", "-O3", "-fPIC", "-shared", "-fvisibility=hidden",
            "-fvisibility-inlines-hidden", "-frecord-gcc-switches"]
# The library runs on the machine that compiled it: use all of its vector width.
NATIVE = "native"
# Dask workers may be other CPUs than the client's. x86-64-v2 (SSE4.2, POPCNT; every
# x86-64 CPU since about 2009) is the floor of the distributions ROOT's grid sites run
# (RHEL/AlmaLinux 9 need it), so it loads everywhere a worker can run; v3 (AVX2, FMA)
# is missing on older and low-power CPUs, where it would die with SIGILL mid-job. So
# shipped libraries carry v2, v3 and v4 and each worker loads the best it runs
# (isa_dispatch, portable_march). Other architectures: their compiler's default.
PORTABLE_X86_64 = "x86-64-v2"
_MARCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
# Debian's multiarch place first; then what the compiler itself searches.
STATIC_BLAS_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
                    "/usr/lib", "/usr/local/lib"]


class CompileError(SofiePyTorchError):
    """g++ could not compile or link the generated code."""


def static_openblas() -> Path:
    """The path of libopenblas.a (Debian: libopenblas-dev)."""
    explicit = os.environ.get("SOFIE_PYTORCH_OPENBLAS_A")
    for directory in ([explicit] if explicit else []) + STATIC_BLAS_DIRS:
        path = Path(directory)
        candidate = path if path.suffix == ".a" else path / "libopenblas.a"
        if candidate.is_file():
            return candidate
    raise CompileError(
        "libopenblas.a not found: install OpenBLAS's development files (Debian/Ubuntu: "
        "apt-get install libopenblas-dev), or set SOFIE_PYTORCH_OPENBLAS_A to its path"
    )


def portable_march() -> str | None:
    """The -march of libraries shipped to Dask workers: on x86-64 every level, chosen on
    each worker at load time (isa_dispatch); elsewhere None, the compiler's default."""
    return isa_dispatch.DISPATCH if isa_dispatch.available() else None


def march_flags(march: str | None) -> list[str]:
    """["-march=<march>"], or [] for None; a name that is not a -march value is refused."""
    if march is None:
        return []
    if not isinstance(march, str) or not _MARCH.fullmatch(march):
        raise CompileError(f"march={march!r} is not a CPU name for g++'s -march (e.g. "
                           f"'native', '{PORTABLE_X86_64}', 'x86-64-v3', 'skylake-avx512')")
    return [f"-march={march}"]


@functools.cache
def target_fingerprint(march: str | None) -> str:
    """What g++ makes of these flags on this machine: the compiler and every -m option it
    enables, so that -march=native is keyed on the CPU it resolves to (a cache directory
    shared by several machines never hands one a library built for another's CPU)."""
    if march == isa_dispatch.DISPATCH:
        return isa_dispatch.fingerprints(target_fingerprint)
    compiler = _compiler()
    command = [compiler, *march_flags(march), "-Q", "--help=target"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True,
                                 timeout=60)
    except subprocess.TimeoutExpired:
        raise CompileError(f"{compiler} did not answer within 60 s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise CompileError(f"{compiler} refused -march={march}: "
                           + (lines[0] if lines else f"exit status {done.returncode}"))
    return version.stdout + done.stdout


def _compiler() -> str:
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        raise CompileError(f"the C++ compiler {compiler!r} is not installed (apt-get install g++)")
    return compiler


def project_include_dir() -> str:
    """Where SofiePyTorch/SlotSessions.hxx is: the installed package or the source tree."""
    for directory in (_library.PACKAGE_INCLUDE, Path(__file__).resolve().parents[3] / "inc"):
        if (directory / "SofiePyTorch" / "SlotSessions.hxx").is_file():
            return str(directory)
    raise CompileError("SofiePyTorch/SlotSessions.hxx not found: reinstall sofie-pytorch")


def compile_library(source: Path, output: Path, include_dirs: Sequence[str] = (),
                    march: str | None = NATIVE) -> Path:
    """Compile source (and what it includes) into the shared library output, for the CPU
    named by march (a g++ -march value; None: the compiler's default), or, for
    isa_dispatch.DISPATCH, for every x86-64 level with a dispatcher that loads the best one
    at load time (the level copies are written next to output: ship them with it, see
    isa_dispatch.companion_files).

    The library is written under a temporary name and renamed into place when complete.
    """
    start = time.perf_counter()
    if march == isa_dispatch.DISPATCH:
        # the levels first: a dispatcher in place always has its levels beside it
        isa_dispatch.compile_levels(
            lambda path, flags: _compile([str(source)], path, include_dirs, flags),
            output, output.with_name(f"{output.stem}.dispatch.cxx"))
        _compile([str(output.with_name(f"{output.stem}.dispatch.cxx"))], output, (), [],
                 blas=False)
    else:
        _compile([str(source)], output, include_dirs, march_flags(march))
    log.info("compiled %s (%s) in %.1f s", output.name, march or "no -march",
             time.perf_counter() - start)
    return output


def _compile(sources: list[str], output: Path, include_dirs: Sequence[str],
             flags: list[str], blas: bool = True) -> None:
    compiler = _compiler()
    name = Path(sources[0]).name
    # The project's one temporary-then-rename writer: a library half written by a failed or
    # interrupted g++ is never loaded under the final name.
    with atomic_file(output, ".so") as partial:
        # The linker keeps an existing file's mode (the placeholder's 0600): let it create
        # the library afresh, with the usual permissions, under the same unique name.
        partial.unlink()
        command = [compiler, *CXXFLAGS, *flags, f"-I{Path(sources[0]).parent}",
                   f"-I{project_include_dir()}", *(f"-I{d}" for d in include_dirs),
                   *sources, "-o", str(partial)]
        if blas:
            command += ["-Wl,--exclude-libs,ALL", str(static_openblas()), "-lpthread"]
        command += ["-ldl"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            raise CompileError(f"g++ took more than 900 s compiling {name}") from None
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if "error" in line][:5]
            raise CompileError(f"g++ could not compile {name}:\n"
                               + "\n".join(errors or done.stderr.splitlines()[-5:]))
