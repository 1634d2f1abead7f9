"""Compiling SOFIE's generated code with g++ and OpenBLAS, running it, reading outputs.

The driver is generic: inputs of any dtype, one or several outputs of any element type
(infer returns a vector, a vector of vectors, or a tuple), and run-time sizes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import compile_cache
import numpy as np
from shared_artifacts import shared_directory

_CXX_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double",
              np.dtype(np.int64): "int64_t", np.dtype(np.int32): "int32_t"}

_DRIVER = r"""
@INCLUDES@
#include <cstdint>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>
template <typename T> std::vector<T> Read(const std::string &file) {
   std::ifstream in(file, std::ios::binary);
   in.seekg(0, std::ios::end);
   std::vector<T> v(size_t(in.tellg()) / sizeof(T));
   in.seekg(0);
   in.read(reinterpret_cast<char *>(v.data()), v.size() * sizeof(T));
   return v;
}
template <typename T> void Put(std::ofstream &out, const std::vector<T> &v) {
   std::uint64_t n = v.size();
   out.write(reinterpret_cast<const char *>(&n), sizeof n);
   for (size_t i = 0; i < v.size(); ++i) {
      double d = v[i];
      out.write(reinterpret_cast<const char *>(&d), sizeof d);
   }
}
template <typename T> void Put(std::ofstream &out, const std::vector<std::vector<T>> &vs) {
   for (const auto &v : vs) Put(out, v);
}
template <typename... Ts> void Put(std::ofstream &out, const std::tuple<Ts...> &t) {
   std::apply([&out](const auto &...v) { (Put(out, v), ...); }, t);
}
int main(int argc, char **argv) {
   const std::string which = argc > 1 ? argv[1] : "";
@RUNS@
   return 0;
}
"""


_STD_HEADER = Path(__file__).resolve().parent / "generated_std.hxx"
_precompiled: dict[tuple[str, ...], Path] = {}


def precompiled_std_headers(flags: tuple[str, ...]) -> Path:
    """generated_std.hxx precompiled for these flags, once per test run (shared by the
    pytest-xdist workers, see shared_artifacts.py): the header to give g++ with -include
    (the .gch beside it is used when the flags match)."""
    if flags not in _precompiled:
        text = _STD_HEADER.read_text()
        compiler = subprocess.run(["g++", "--version"], capture_output=True, text=True,
                                  check=True).stdout

        def build(directory: Path) -> None:
            header = directory / _STD_HEADER.name
            header.write_text(text)
            subprocess.run(["g++", "-std=c++17", *flags, "-x", "c++-header", str(header),
                            "-o", f"{header}.gch"], check=True, capture_output=True,
                           timeout=600)

        key = "\0".join([text, compiler, *flags])
        _precompiled[flags] = shared_directory("pch", key, build) / _STD_HEADER.name
    return _precompiled[flags]


def _code_name(key: str) -> str:
    """The generated code a run uses: "NAME" or "NAME@case" (a second run of NAME's code,
    e.g. at another run-time batch size) both run SOFIE_NAME."""
    return key.partition("@")[0]


def _driver_block(directory: Path, key: str, inputs: list[np.ndarray],
                  runtime_sizes: list[int] | None, runs: int,
                  session_sizes: list[int] | None = None) -> str:
    """The driver's code for one run of a model: read its inputs, run it `runs` times,
    write. The Session is made with session_sizes if given, else runtime_sizes."""
    sizes = [str(s) for s in runtime_sizes or []]
    name, stem = _code_name(key), key.replace("@", ".")
    lines = [f'   if (which == "{key}") {{',
             f'      std::ofstream out("{stem}.out.bin", std::ios::binary);']
    args = list(sizes)
    for i, x in enumerate(inputs):
        np.ascontiguousarray(x).tofile(directory / f"{stem}.in{i}.bin")
        lines.append(f'      auto in{i} = Read<{_CXX_TYPES[x.dtype]}>("{stem}.in{i}.bin");')
        args.append(f"in{i}.data()")
    session_args = "".join(f", {s}" for s in (session_sizes or sizes))
    lines += [f'      SOFIE_{name}::Session session("{name}.dat"{session_args});',
              f"      for (int run = 0; run < {runs}; ++run)",
              f"         Put(out, session.infer({', '.join(args)}));", "   }"]
    return "\n".join(lines)


def compile_and_run_many(
    directory: Path,
    models: dict[str, list[np.ndarray]],
    runtime_sizes: list[int] | dict[str, list[int]] | None = None,
    runs: int = 1,
    flags: tuple[str, ...] = ("-O1",),
    session_sizes: dict[str, list[int]] | None = None,
) -> dict[str, list[np.ndarray] | str]:
    """Compile the generated code of several models (directory/NAME.hxx, namespace
    SOFIE_NAME) into one program, run each model in its own process, and return its
    outputs (float64), or the error text. One compiler run for all: most of a compile is
    the standard headers. A failing compile falls back to one compile per model.

    runtime_sizes are passed first to infer(), for models with dimensions chosen at run
    time. With runs > 1 the same session runs again: outputs are concatenated per run.
    flags are the compiler's optimisation options. A key "NAME@case" runs NAME's code
    again (on other inputs); runtime_sizes may then be given per key. session_sizes (per
    key) are the sizes the Session is made with instead of runtime_sizes: the largest a
    run may take, as a user sizes it once and runs smaller inputs.
    """
    includes = "\n".join(f'#include "{name}.hxx"'
                         for name in dict.fromkeys(map(_code_name, models)))

    def sizes_of(key: str) -> list[int] | None:
        return runtime_sizes.get(key) if isinstance(runtime_sizes, dict) else runtime_sizes

    blocks = "\n".join(_driver_block(directory, key, inputs, sizes_of(key), runs,
                                      (session_sizes or {}).get(key))
                       for key, inputs in models.items())
    stem = "driver" if len(models) == 1 else "drivers"
    (directory / f"{stem}.cxx").write_text(
        _DRIVER.replace("@INCLUDES@", includes).replace("@RUNS@", blocks))
    # Keyed on the header's text (what -E reads either way); compiled, on a miss, with it
    # precompiled for these flags: so a hit needs no precompiled header at all.
    command = ["g++", "-std=c++17", *flags, "-include", str(_STD_HEADER), f"{stem}.cxx",
               "-o", stem, "-lopenblas"]

    def with_pch() -> list[str]:
        pch = str(precompiled_std_headers(tuple(flags)))
        return [pch if part == str(_STD_HEADER) else part for part in command]

    build = compile_cache.compile(command, directory, compile_cache.default_cache(), with_pch)
    if build.returncode != 0:
        if len(models) == 1:
            return {name: f"the generated code of {name} does not compile:\n"
                          f"{build.stderr[-3000:]}" for name in models}
        results: dict[str, list[np.ndarray] | str] = {}
        for name, inputs in models.items():
            results.update(compile_and_run_many(directory, {name: inputs}, runtime_sizes, runs,
                                                flags, session_sizes))
        return results
    results = {}
    for name in models:
        run = subprocess.run([f"./{stem}", name], cwd=directory, capture_output=True, text=True,
                             timeout=600)
        output = directory / f"{name.replace('@', '.')}.out.bin"
        results[name] = (_read_outputs(output) if run.returncode == 0
                         else f"the generated code of {name} failed:\n{run.stderr[-3000:]}")
    return results


def compile_and_run(
    directory: Path,
    name: str,
    inputs: list[np.ndarray],
    runtime_sizes: list[int] | None = None,
    runs: int = 1,
    flags: tuple[str, ...] = ("-O1",),
) -> list[np.ndarray]:
    """compile_and_run_many for one model; failures raise RuntimeError."""
    result = compile_and_run_many(directory, {name: inputs}, runtime_sizes, runs, flags)[name]
    if isinstance(result, str):
        raise RuntimeError(result)
    return result


def _read_outputs(path: Path) -> list[np.ndarray]:
    data = path.read_bytes()
    outputs, offset = [], 0
    while offset < len(data):
        n = int(np.frombuffer(data, np.uint64, 1, offset)[0])
        offset += 8
        outputs.append(np.frombuffer(data, np.float64, n, offset).copy())
        offset += 8 * n
    return outputs
