"""`pip install .` into a fresh virtual environment, then every entry point from there.

Installing torch and ROOT into a new environment copies about a gigabyte, and building the
wheel compiles libSofiePyTorch again, from a copy of the repository that is deleted
afterwards together with the wheel's build directory. The SOFIE engine is not compiled a
second time: the wheel build takes the engine the make build took (cmake/SofieEngine.cmake):
the sofie wheel's prebuilt libraries, fetched again by pip, or the make build's compiled
libraries, which it reuses when they were built from the same sources with the same
compiler and flags (asserted below). This test runs when SOFIE_PYTORCH_TEST_PIP=1
(`make test-pip`, and `make test` in CI, see the Makefile).

The installed environment is kept in build/test-pip/<key>/ and reused while nothing it is
built from changes (installed_key(): the build's sources, the engine, the compiler, Python,
the install command); any change gives a new key and a new `pip install`. A reused
environment is the one pip made, untouched: every test below runs against it the commands
a user types after `pip install`.

What it proves: the installed package works with no environment variable beyond an
activated virtual environment, no source tree and no build tree on any path: PyROOT, the
Python API, the Reader, the console script, a compiled program that finds the package
with find_package(SofiePyTorch), and a root.exe macro that names the parser and nothing
else (ROOT autoloads the plugin; its embedded Python finds the environment by itself).
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pip_env_cache
import pytest

REPO = Path(__file__).resolve().parents[2]
MAKE_BUILD = REPO / "build"
pytestmark = pytest.mark.skipif(
    os.environ.get("SOFIE_PYTORCH_TEST_PIP") != "1",
    reason="set SOFIE_PYTORCH_TEST_PIP=1 (make test-pip) to build and install the wheel",
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "SOFIE_PYTORCH_LIBRARY",
                        "SOFIE_PYTORCH_PYTHON", "LD_LIBRARY_PATH", "ROOTSYS",
                        "ROOT_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "CMAKE_PREFIX_PATH")}
    env["PYTHONWARNINGS"] = "ignore"
    env.update(extra)
    return env


def run(command: list[str], cwd: Path, timeout: int = 600, **env: str) -> str:
    proc = subprocess.run(command, cwd=cwd, env=clean_env(**env), capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def make_cache(name: str) -> str:
    """An entry of the make build's CMakeCache.txt."""
    for line in (MAKE_BUILD / "CMakeCache.txt").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split("=", 1)[1]
    raise AssertionError(f"{name} is not in {MAKE_BUILD / 'CMakeCache.txt'}")


def make_build_engine() -> str:
    """SOFIE_ENGINE for the wheel build: the kind of engine the make build has."""
    return "wheel" if make_cache("SOFIE_ENGINE_ORIGIN").startswith("wheel ") else "sdist"


@dataclass(frozen=True)
class Installed:
    venv: Path
    cmake_cache: str  # of the wheel's build, which is gone


def install_command(python: Path, source: Path, build: Path) -> list[str]:
    """`pip install` of the repository copy `source` with the score command's extras
    (Dask for --workers, uproot for --threads), the wheel built in `build` with the make
    build's kind of engine, constrained to requirements.txt as the README's command is (the
    versions the suite tests; unconstrained, pip picks the newest torch, a CUDA build of
    several GB)."""
    return [str(python), "-m", "pip", "install", "--quiet", f"{source}[distributed,score]",
            "-c", str(source / "requirements.txt"),
            "-C", f"build-dir={build}",
            "-C", f"cmake.define.SOFIE_ENGINE={make_build_engine()}",
            "-C", f"cmake.define.SOFIE_ENGINE_PREBUILT_DIR={MAKE_BUILD / 'lib'}"]


def build_installed(target: Path) -> None:
    """A new virtual environment `target/venv` with `pip install <a copy of the
    repository>` done in it; the copy and the wheel's build directory are deleted
    afterwards, so that nothing can work by finding a path of the build (the dictionary
    records its include paths). The wheel build's CMakeCache.txt is kept next to it."""
    env_dir = target / "venv"
    run([sys.executable, "-m", "venv", str(env_dir)], target)
    with tempfile.TemporaryDirectory(prefix="sofie_pytorch_pip_") as tmp:
        source, build = Path(tmp) / "source", Path(tmp) / "wheel-build"
        shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*COPY_IGNORED))
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        run(install_command(env_dir / "bin" / "python", source, build), Path(tmp),
            timeout=3600, CMAKE_BUILD_PARALLEL_LEVEL=jobs)
        (target / "wheel-CMakeCache.txt").write_text((build / "CMakeCache.txt").read_text())


COPY_IGNORED = (".git", ".venv", "build", "__pycache__", ".pytest_cache", ".ruff_cache")
# What the wheel is built from (with BUILD_TESTING=OFF, test/ is not; examples/, bench/,
# docs/ and tools/ are copied but read by no part of the build).
BUILD_INPUTS = ("pyproject.toml", "CMakeLists.txt", "cmake", "src", "inc", "python",
                "requirements.txt", "README.md")
# The engine the wheel build takes from the make build (SOFIE_ENGINE_PREBUILT_DIR).
ENGINE_FILES = ("libSOFIE_core.so", "libSOFIE_parsers.so", "SOFIE_engine.signature")


def tool_version(command: list[str]) -> bytes:
    proc = subprocess.run(command, capture_output=True)
    return proc.stdout + proc.stderr + str(proc.returncode).encode()


def pip_settings() -> bytes:
    """pip's configuration (its files and PIP_ variables, as `pip config list` shows them)
    and the constraint files it names: they decide what the install resolves to."""
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                             capture_output=True, text=True).stdout
    text = [listing]
    for line in listing.splitlines():
        name, _, value = line.partition("=")
        if name.endswith((".constraint", ".constraints", ".requirement")):
            for file in value.strip("'\"").split():
                path = Path(file)
                text.append(f"{file}\n{path.read_text() if path.is_file() else '<missing>'}")
    return "\n".join(text).encode()


def installed_key() -> str:
    """A hash of everything the installed environment depends on: the project's build
    inputs, the make build's engine (its libraries and where they came from), the
    compiler, CMake, the Python that makes the environment, pip's settings and the install
    procedure itself (this file's functions that do it). Not in it: new releases on the
    package index, which a new install could resolve to (`rm -rf build/test-pip` or
    `make clean` installs afresh)."""
    placeholders = (Path("<venv>/bin/python"), Path("<source>"), Path("<build>"))
    parts = [
        *pip_env_cache.tree_files(REPO, BUILD_INPUTS),
        *pip_env_cache.tree_files(MAKE_BUILD / "lib", ENGINE_FILES),
        ("engine-origin", make_cache("SOFIE_ENGINE_ORIGIN").encode()),
        ("g++", tool_version(["g++", "--version"])),
        ("c++", tool_version(["c++", "--version"])),
        ("cmake", tool_version(["cmake", "--version"])),
        ("python", "\n".join([sys.executable, os.path.realpath(sys.executable),
                               sys.version]).encode()),
        ("pip", pip_settings()),
        ("environment", repr(sorted((k, v) for k, v in os.environ.items()
                                    if k in ("CC", "CXX", "CXXFLAGS", "LDFLAGS"))).encode()),
        ("command", "\0".join(install_command(*placeholders)).encode()),
        ("procedure", inspect.getsource(build_installed).encode()
                      + repr(COPY_IGNORED).encode()),
    ]
    return pip_env_cache.digest(parts)[:32]


@pytest.fixture(scope="module")
def installed() -> Installed:
    """The pip-installed environment, built once for the inputs of installed_key() and
    kept in build/test-pip/<key>/ (test/python/pip_env_cache.py): with nothing changed, a
    run reuses the environment the previous run installed, and the tests below exercise
    it exactly as they would a new one."""
    entry = pip_env_cache.cached_build(MAKE_BUILD / "test-pip", installed_key(), build_installed)
    return Installed(entry / "venv", (entry / "wheel-CMakeCache.txt").read_text())


@pytest.fixture(scope="module")
def venv(installed) -> Path:
    return installed.venv


def activated(venv: Path) -> dict[str, str]:
    """The environment `source venv/bin/activate` gives, and nothing else of ours."""
    return {"VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}


SCRIPT = textwrap.dedent("""
    import sys, numpy as np, torch, ROOT, sofie_pytorch
    from pathlib import Path
    from sofie_pytorch import _library
    # the installed package, with its own library
    assert "site-packages" in sofie_pytorch.__file__, sofie_pytorch.__file__
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    torch.jit.save(torch.jit.script(model), "model.pt")
    rmodel = ROOT.TMVA.Experimental.SOFIE.PyTorch.Parse("model.pt", [[3, 4]])
    loaded = [str(l) for l in ROOT.gSystem.GetLibraries().split()]
    assert any(l.startswith(str(_library.PACKAGE_LIB)) for l in loaded), loaded
    result = sofie_pytorch.convert("model.pt", "out", [[3, 4]])
    assert result.header.is_file() and result.weights.is_file()
    x = torch.randn(3, 4)
    got = sofie_pytorch.Reader("model.pt", example_inputs=x).Compute(x.numpy())
    want = model(x).detach().numpy()
    print("max abs error", float(np.abs(got - want).max()))
    assert np.allclose(got, want, atol=1e-5, rtol=1e-4)
""")


def test_python_api_pyroot_and_reader_from_the_installed_package(venv, tmp_path):
    (tmp_path / "check.py").write_text(SCRIPT)
    out = run([str(venv / "bin" / "python"), "check.py"], tmp_path)
    assert "max abs error" in out


def test_console_script(venv, tmp_path):
    run([str(venv / "bin" / "python"), "-c",
         "import torch; torch.jit.save(torch.jit.script(torch.nn.Linear(4, 2)), 'lin.pt')"],
        tmp_path)
    out = run([str(venv / "bin" / "sofie-pytorch"), "convert", "lin.pt", "--shape", "2,4",
               "-o", "gen"], tmp_path)
    assert "Gemm" in out and (tmp_path / "gen" / "lin.hxx").is_file()
    library = run([str(venv / "bin" / "sofie-pytorch"), "config", "--library"], tmp_path)
    assert library.strip().startswith(str(venv / "lib"))


SCORE_DATA = textwrap.dedent("""
    import ROOT, torch
    torch.manual_seed(0)
    torch.jit.save(torch.jit.script(torch.nn.Linear(4, 1)), "lin.pt")
    df = ROOT.RDataFrame(500).Define("a", "float(rdfentry_ % 7)")
    df = df.Define("b", "float(rdfentry_) * 0.01f").Define("c", "-a").Define("d", "a * b")
    df.Snapshot("events", "data.root", ["a", "b", "c", "d"])
""")

SCORE_CHECK = textwrap.dedent("""
    import sys, numpy as np, torch, ROOT
    chain = ROOT.TChain("events")
    chain.Add("data.root")
    chain.AddFriend("scores", sys.argv[1])
    cols = ROOT.RDataFrame(chain).AsNumpy(["a", "b", "c", "d", "scores.score"])
    x = torch.tensor(np.stack([cols[c] for c in "abcd"], 1))
    want = torch.jit.load("lin.pt")(x).detach().numpy()[:, 0]
    got = cols["scores.score"]
    assert len(got) == 500, len(got)
    print("max abs error", float(np.abs(got - want).max()))
    assert np.allclose(got, want, atol=1e-5, rtol=1e-4)
""")


@pytest.mark.parametrize("mode", [["--threads", "2"], ["--workers", "2"]],
                         ids=["threads", "workers"])
def test_score_command_as_users_type_it(venv, tmp_path, mode):
    """pip's own `sofie-pytorch` script scores a ROOT file on threads and on Dask worker
    processes (spawned, so they re-import the script), the output lining up with the input
    as a friend tree, entry by entry, compared with Torch."""
    (tmp_path / "data.py").write_text(SCORE_DATA)
    (tmp_path / "check.py").write_text(SCORE_CHECK)
    run([str(venv / "bin" / "python"), "data.py"], tmp_path)
    run([str(venv / "bin" / "sofie-pytorch"), "score", "lin.pt", "--input", "data.root",
         "--tree", "events", "--columns", "a,b,c,d", "--output", "scored.root", *mode],
        tmp_path, timeout=900)
    out = run([str(venv / "bin" / "python"), "check.py", "scored.root"], tmp_path)
    assert "max abs error" in out


def save_linear(venv: Path, directory: Path) -> None:
    run([str(venv / "bin" / "python"), "-c",
         "import torch; torch.manual_seed(0); "
         "torch.jit.save(torch.jit.script(torch.nn.Linear(4, 2)), 'lin.pt')"], directory)


def test_root_macro_autoloads_the_installed_plugin(venv, tmp_path):
    """No gSystem->Load, no include path, no variable but the activated environment: ROOT
    finds the rootmap the wheel put into its library directory, and the library tells
    cling where its headers are."""
    save_linear(venv, tmp_path)
    macro = tmp_path / "convert.C"
    macro.write_text(textwrap.dedent("""
        void convert() {
           auto model = TMVA::Experimental::SOFIE::PyTorch::Parse("lin.pt", {{2, 4}});
           model.Generate();
           model.OutputGenerated("lin.hxx");
           std::cout << "converted" << std::endl;
        }
    """))
    out = run(["root", "-l", "-b", "-q", str(macro)], tmp_path, **activated(venv))
    assert "converted" in out
    assert "SOFIE_lin" in (tmp_path / "lin.hxx").read_text()
    rootmap = next((venv / "lib").glob("python3*/site-packages/ROOT/lib/libSofiePyTorch.rootmap"))
    assert "[ ../../sofie_pytorch/lib/libSofiePyTorch.so ]" in rootmap.read_text()


def test_root_exe_without_the_venv_on_path_embeds_the_installed_environment(venv, tmp_path):
    """root.exe by its full path and PATH without the environment: the embedded Python
    finds the environment from the library's own location."""
    save_linear(venv, tmp_path)
    macro = tmp_path / "convert.C"
    macro.write_text(textwrap.dedent("""
        void convert() {
           auto model = SOFIE::PyTorch::Parse("lin.pt", {{3, 4}});
           std::cout << "inputs " << model.GetInputTensorNames().size() << std::endl;
        }
    """))
    root_exe = next((venv / "lib").glob("python3*/site-packages/ROOT/bin/root.exe"))
    out = run([str(root_exe), "-l", "-b", "-q", str(macro)], tmp_path, PATH="/usr/bin:/bin")
    assert "inputs 1" in out


def test_the_wheel_build_took_the_make_builds_engine(installed):
    """The engine was not compiled again: the wheel carries the make build's engine (the
    sofie wheel's libraries, or the ones make compiled), with a run path of its own."""
    origin = make_cache("SOFIE_ENGINE_ORIGIN")
    if origin.startswith("wheel "):
        assert f"SOFIE_ENGINE_ORIGIN:INTERNAL={origin}\n" in installed.cmake_cache
    else:
        assert f"SOFIE_ENGINE_REUSED:INTERNAL={MAKE_BUILD / 'lib'}\n" in installed.cmake_cache
    site = next((installed.venv / "lib").glob("python3*/site-packages"))
    for lib in ("libSOFIE_core.so", "libSOFIE_parsers.so"):
        ours, theirs = site / "sofie_pytorch" / "lib" / lib, MAKE_BUILD / "lib" / lib
        assert text_section(ours) == text_section(theirs), lib
        runpath = subprocess.run(["readelf", "-d", str(ours)], capture_output=True, text=True,
                                 check=True).stdout
        assert "$ORIGIN" in runpath, runpath  # finds its sibling, libSOFIE_core
        assert str(MAKE_BUILD) not in runpath, runpath  # no path into the build tree


def text_section(library: Path) -> bytes:
    """The machine code of a shared library (objcopy, from binutils, which g++ brings)."""
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "text.bin"
        subprocess.run(["objcopy", "-O", "binary", "--only-section=.text", str(library),
                        str(dump)], check=True)
        return dump.read_bytes()


def test_find_package_builds_and_runs_the_compiled_example(venv, tmp_path):
    """examples/cpp against the installed package, found with SofiePyTorch_DIR from
    `sofie-pytorch config --cmake-dir`; CMAKE_PREFIX_PATH from `config --prefix` finds the
    same configuration."""
    save_linear(venv, tmp_path)
    env = activated(venv)
    cmake_dir = run(["sofie-pytorch", "config", "--cmake-dir"], tmp_path, **env).strip()
    prefix = run(["sofie-pytorch", "config", "--prefix"], tmp_path, **env).strip()
    assert cmake_dir.startswith(str(venv)) and prefix.startswith(str(venv))
    build = tmp_path / "build"
    run(["cmake", "-S", str(REPO / "examples" / "cpp"), "-B", str(build),
         f"-DSofiePyTorch_DIR={cmake_dir}"], tmp_path, **env)
    run(["cmake", "--build", str(build)], tmp_path, **env)
    out = run([str(build / "parse_model"), "lin.pt", str(tmp_path / "lin.hxx"), "2,4"],
              tmp_path, PATH="/usr/bin:/bin")
    assert "Fully Specified Tensor name: input\ttype: float\tshape: [2,4]" in out
    assert "SOFIE_lin" in (tmp_path / "lin.hxx").read_text()

    other = tmp_path / "by-prefix"
    run(["cmake", "-S", str(REPO / "examples" / "cpp"), "-B", str(other),
         f"-DCMAKE_PREFIX_PATH={prefix}"], tmp_path, **env)
    found = (other / "CMakeCache.txt").read_text()
    assert f"SofiePyTorch_DIR:PATH={cmake_dir}\n" in found
