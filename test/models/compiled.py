"""Compiling SOFIE's generated code with g++ and OpenBLAS, running it, reading outputs.

The driver is generic: inputs of any dtype, one or several outputs of any element type
(infer returns a vector, a vector of vectors, or a tuple), and run-time sizes.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

_CXX_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double",
              np.dtype(np.int64): "int64_t", np.dtype(np.int32): "int32_t"}

_DRIVER = r"""
#include "@NAME@.hxx"
#include <cstdint>
#include <fstream>
#include <tuple>
#include <vector>
static std::ofstream out("outputs.bin", std::ios::binary);
template <typename T> std::vector<T> Read(const char *file) {
   std::ifstream in(file, std::ios::binary);
   in.seekg(0, std::ios::end);
   std::vector<T> v(size_t(in.tellg()) / sizeof(T));
   in.seekg(0);
   in.read(reinterpret_cast<char *>(v.data()), v.size() * sizeof(T));
   return v;
}
template <typename T> void Put(const std::vector<T> &v) {
   std::uint64_t n = v.size();
   out.write(reinterpret_cast<const char *>(&n), sizeof n);
   for (size_t i = 0; i < v.size(); ++i) {
      double d = v[i];
      out.write(reinterpret_cast<const char *>(&d), sizeof d);
   }
}
template <typename T> void Put(const std::vector<std::vector<T>> &vs) {
   for (const auto &v : vs) Put(v);
}
template <typename... Ts> void Put(const std::tuple<Ts...> &t) {
   std::apply([](const auto &...v) { (Put(v), ...); }, t);
}
int main() {
@READ@
   SOFIE_@NAME@::Session session("@NAME@.dat"@SESSION_ARGS@);
   for (int run = 0; run < @RUNS@; ++run) Put(session.infer(@ARGS@));
   return 0;
}
"""


_STD_HEADER = Path(__file__).resolve().parent / "generated_std.hxx"
_precompiled: dict[tuple[str, ...], Path] = {}


def precompiled_std_headers(flags: tuple[str, ...]) -> Path:
    """generated_std.hxx precompiled for these flags, once per process: the header to give
    g++ with -include (the .gch beside it is used when the flags match)."""
    if flags not in _precompiled:
        directory = Path(tempfile.mkdtemp(prefix="sofie_pytorch_pch_"))
        atexit.register(shutil.rmtree, directory, True)
        header = directory / _STD_HEADER.name
        shutil.copyfile(_STD_HEADER, header)
        subprocess.run(["g++", "-std=c++17", *flags, "-x", "c++-header", str(header),
                        "-o", f"{header}.gch"], check=True, capture_output=True, timeout=600)
        _precompiled[flags] = header
    return _precompiled[flags]


def compile_and_run(
    directory: Path,
    name: str,
    inputs: list[np.ndarray],
    runtime_sizes: list[int] | None = None,
    runs: int = 1,
    flags: tuple[str, ...] = ("-O1",),
) -> list[np.ndarray]:
    """Compile directory/NAME.hxx with a driver, run it, return the outputs (float64).

    runtime_sizes are passed first to infer(), for models with dimensions chosen at run
    time. With runs > 1 the same session runs again: outputs are concatenated per run.
    flags are the compiler's optimisation options.
    """
    reads, args = [], [str(s) for s in runtime_sizes or []]
    for i, x in enumerate(inputs):
        ctype = _CXX_TYPES[x.dtype]
        np.ascontiguousarray(x).tofile(directory / f"in{i}.bin")
        reads.append(f'   auto in{i} = Read<{ctype}>("in{i}.bin");')
        args.append(f"in{i}.data()")
    source = (_DRIVER.replace("@NAME@", name).replace("@READ@", "\n".join(reads))
              .replace("@ARGS@", ", ".join(args)).replace("@RUNS@", str(runs))
              .replace("@SESSION_ARGS@", "".join(f", {s}" for s in runtime_sizes or [])))
    (directory / "driver.cxx").write_text(source)
    build = subprocess.run(
        ["g++", "-std=c++17", *flags, "-include", str(precompiled_std_headers(tuple(flags))),
         "driver.cxx", "-o", "driver", "-lopenblas"],
        cwd=directory, capture_output=True, text=True, timeout=600,
    )
    if build.returncode != 0:
        raise RuntimeError(
            f"the generated code of {name} does not compile:\n{build.stderr[-3000:]}")
    run = subprocess.run(["./driver"], cwd=directory, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise RuntimeError(f"the generated code of {name} failed:\n{run.stderr[-3000:]}")
    data = (directory / "outputs.bin").read_bytes()
    outputs, offset = [], 0
    while offset < len(data):
        n = int(np.frombuffer(data, np.uint64, 1, offset)[0])
        offset += 8
        outputs.append(np.frombuffer(data, np.float64, n, offset).copy())
        offset += 8 * n
    return outputs
