"""Compiling generated C++ into a self-contained shared library with g++.

The library carries its own copy of OpenBLAS (the static ``libopenblas.a`` of Debian's
``libopenblas-dev``), with every symbol of it hidden (``--exclude-libs,ALL``) and only
the functions marked ``visibility("default")`` exported. So the generated code's
``sgemm_`` calls always reach that OpenBLAS: not torch's own ``sgemm_`` (another BLAS with
other conventions, which gave silently wrong results when cling had to pick one), and
not whatever BLAS a Dask worker happens to have, which then needs nothing but ROOT.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from .. import _library
from ..errors import SofiePyTorchError
from ..output import atomic_file

log = logging.getLogger(__name__)

CXXFLAGS = ["-std=c++17", "-O3", "-fPIC", "-shared", "-fvisibility=hidden",
            "-fvisibility-inlines-hidden"]
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


def project_include_dir() -> str:
    """Where SofiePyTorch/SlotSessions.hxx is: the installed package or the source tree."""
    for directory in (_library.PACKAGE_INCLUDE, Path(__file__).resolve().parents[3] / "inc"):
        if (directory / "SofiePyTorch" / "SlotSessions.hxx").is_file():
            return str(directory)
    raise CompileError("SofiePyTorch/SlotSessions.hxx not found: reinstall sofie-pytorch")


def compile_library(source: Path, output: Path, include_dirs: Sequence[str] = (),
                    extra_flags: Sequence[str] = ()) -> Path:
    """Compile source (and what it includes) into the shared library output.

    The library is written under a temporary name and renamed into place when complete.
    """
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        raise CompileError(f"the C++ compiler {compiler!r} is not installed (apt-get install g++)")
    start = time.perf_counter()
    # The project's one temporary-then-rename writer: a library half written by a failed or
    # interrupted g++ is never loaded under the final name.
    with atomic_file(output, ".so") as partial:
        # The linker keeps an existing file's mode (the placeholder's 0600): let it create
        # the library afresh, with the usual permissions, under the same unique name.
        partial.unlink()
        command = [compiler, *CXXFLAGS, *extra_flags, f"-I{source.parent}",
                   f"-I{project_include_dir()}", *(f"-I{d}" for d in include_dirs),
                   str(source), "-o", str(partial),
                   "-Wl,--exclude-libs,ALL", str(static_openblas()), "-lpthread", "-ldl"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            raise CompileError(f"g++ took more than 900 s compiling {source.name}") from None
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if "error" in line][:5]
            raise CompileError(f"g++ could not compile {source.name}:\n"
                               + "\n".join(errors or done.stderr.splitlines()[-5:]))
    log.info("compiled %s in %.1f s", output.name, time.perf_counter() - start)
    return output
