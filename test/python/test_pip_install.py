"""`pip install .` into a fresh virtual environment, then every entry point from there.

Building the wheel compiles the SOFIE engine again (several minutes the first time; the
CMake build directory build/wheel is kept, so later runs only re-link), and installing
torch and ROOT into a new environment copies about a gigabyte. So this test runs when
SOFIE_PYTORCH_TEST_PIP=1 (`make test-pip`, and `make test` in CI, see the Makefile).

What it proves: the installed package works with no environment variable, no source
tree and no build tree on any path: PyROOT, the Python API, the Reader, the console
script, and a root.exe macro whose embedded Python finds the environment by itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    os.environ.get("SOFIE_PYTORCH_TEST_PIP") != "1",
    reason="set SOFIE_PYTORCH_TEST_PIP=1 (make test-pip) to build and install the wheel",
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "SOFIE_PYTORCH_LIBRARY",
                        "SOFIE_PYTORCH_PYTHON", "LD_LIBRARY_PATH", "ROOTSYS")}
    env["PYTHONWARNINGS"] = "ignore"
    env.update(extra)
    return env


def run(command: list[str], cwd: Path, timeout: int = 600, **env: str) -> str:
    proc = subprocess.run(command, cwd=cwd, env=clean_env(**env), capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A new virtual environment with `pip install <repository>` done in it."""
    root = tmp_path_factory.mktemp("pip")
    env_dir = root / "venv"
    run([sys.executable, "-m", "venv", str(env_dir)], root)
    python = str(env_dir / "bin" / "python")
    jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")
    run([python, "-m", "pip", "install", "--quiet", str(REPO),
         "-C", f"build-dir={REPO / 'build' / 'wheel'}"],
        root, timeout=3600, CMAKE_BUILD_PARALLEL_LEVEL=jobs)
    return env_dir


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


def test_root_macro_embeds_the_installed_environment(venv, tmp_path):
    run([str(venv / "bin" / "python"), "-c",
         "import torch; torch.jit.save(torch.jit.script(torch.nn.Linear(4, 2)), 'lin.pt')"],
        tmp_path)
    library = run([str(venv / "bin" / "sofie-pytorch"), "config", "--library"],
                  tmp_path).strip()
    include = run([str(venv / "bin" / "sofie-pytorch"), "config", "--incdir"],
                  tmp_path).split()
    macro = tmp_path / "convert.C"
    macro.write_text(textwrap.dedent("""
        void convert() {
           auto model = TMVA::Experimental::SOFIE::PyTorch::Parse("lin.pt", {{2, 4}});
           model.Generate();
           model.OutputGenerated("lin.hxx");
           std::cout << "converted" << std::endl;
        }
    """))
    includes = "".join(f'gInterpreter->AddIncludePath("{d}");' for d in include)
    # PATH holds no venv: root.exe is run by its full path, the embedded Python must
    # find the environment from the library's own location.
    out = run([str(venv / "bin" / "root"), "-l", "-b", "-q",
               "-e", f'{includes}gSystem->Load("{library}");', str(macro)],
              tmp_path, PATH="/usr/bin:/bin")
    assert "converted" in out
    assert "SOFIE_lin" in (tmp_path / "lin.hxx").read_text()
