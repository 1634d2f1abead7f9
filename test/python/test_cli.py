"""The sofie-pytorch command (python -m sofie_pytorch): convert, check, validate, errors."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import sofie_pytorch
import torch
from cli_models import Unsupported, classifier, save
from sofie_pytorch import cli


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "sofie_pytorch", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def run_here(args: list[str]) -> tuple[int, str, str]:
    """cli.main in this process (fast: no new interpreter): exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(args)
        except SystemExit as exc:  # argparse: --help, usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    return {
        "good": save(classifier(), directory / "classifier.pt"),
        "bad": save(Unsupported(), directory / "unsupported.pt"),
    }


def test_convert_writes_files_and_prints_a_summary(models, tmp_path):
    proc = run("convert", str(models["good"]), "--shape", "2,4", "-o", str(tmp_path / "gen"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "gen" / "classifier.hxx").is_file()
    assert (tmp_path / "gen" / "classifier.dat").is_file()
    out = proc.stdout
    assert "Gemm      2      yes" in out
    assert "parameters: 131 (524 B)" in out  # 4*16+16 + 16*3+3 floats
    assert "input  float  [2, 4]" in out and "output_0  float  [2, 3]" in out
    assert proc.stderr == ""  # no progress display when stderr is not a terminal


def test_convert_dynamic_batch_and_quiet(models, tmp_path):
    proc = run("convert", str(models["good"]), "--shape", "1,4", "--dynamic-batch", "-q",
               "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "size_t N" in (tmp_path / "classifier.hxx").read_text()


def test_check_lists_operators_and_fails_on_unsupported_ones(models):
    good = run("check", str(models["good"]), "--shape", "2,4")
    assert good.returncode == 0, good.stderr
    assert "all 3 operator types are supported" in good.stdout
    bad = run("check", str(models["bad"]), "--shape", "2,4", "--verbose")
    assert bad.returncode == 1
    assert "aten::erfinv  1      NO" in bad.stdout
    assert "Gemm" in bad.stdout and "fc" in bad.stdout  # per-node mapping with --verbose
    assert bad.stderr.strip().splitlines()[-1] == (
        "error: SOFIE cannot generate code for 1 operator(s): aten::erfinv")


def test_convert_of_an_unsupported_model_writes_nothing(models, tmp_path):
    proc = run("convert", str(models["bad"]), "--shape", "2,4", "-o", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert "nothing was written" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_validate_compares_with_torch_on_random_and_given_inputs(models, tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(1).normal(size=(2, 4)).astype(np.float32))
    proc = run("validate", str(models["good"]), "--shape", "2,4",
               "--input", str(tmp_path / "x.npy"))
    assert proc.returncode == 0, proc.stderr
    lines = [line.split() for line in proc.stdout.splitlines()]
    rows = [line for line in lines if line and line[0] in ("random", "--input")]
    assert len(rows) == 2
    for row in rows:
        assert float(row[-3]) <= 1e-5 and row[-1] == "ok"  # max abs error column


def test_validate_refuses_inputs_of_another_shape(models, tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((3, 4), np.float32))
    code, _, err = run_here(["validate", str(models["good"]), "--shape", "2,4",
                             "--input", str(tmp_path / "bad.npy")])
    assert code == 1
    assert err.strip().splitlines() == [
        "error: input input: shape [3, 4] given, the model was converted for [2, 4]"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["convert", "missing.pt", "--shape", "1,4"], "error: missing.pt: no such file"),
        (["check", "MODEL", "--shape", "1,4", "--shape", "1,4"], "error: 2 input shapes given"),
        (["check", "MODEL", "--shape", "1,4", "--dtype", "complex"],
         "error: unsupported input dtype 'complex'"),
    ],
)
def test_errors_are_one_line_without_traceback(models, args, message):
    code, _, err = run_here([str(models["good"]) if a == "MODEL" else a for a in args])
    assert code == 1
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), err


def test_verbose_errors_show_the_traceback():
    code, _, err = run_here(["convert", "missing.pt", "--shape", "1,4", "--verbose"])
    assert code == 1
    assert "Traceback" in err and "ModelLoadError" in err


def test_bad_command_lines_and_help():
    code, _, err = run_here(["convert", "m.pt", "--shape", "1,,4"])
    assert code == 2 and "is not a shape" in err
    assert run_here(["convert", "m.pt"])[0] == 2  # --shape is required
    code, out, _ = run_here(["--help"])
    assert code == 0
    for word in ("convert", "check", "validate", "TorchScript"):
        assert word in out


def test_config_prints_the_library_that_is_loaded():
    import ROOT

    code, out, _ = run_here(["config", "--library"])
    assert code == 0
    library = out.strip()
    assert library.endswith("libSofiePyTorch.so") and os.path.isfile(library)
    loaded = str(ROOT.gSystem.GetLibraries())
    assert os.path.realpath(library) in {os.path.realpath(p) for p in loaded.split()}


def test_progress_lines_name_each_step_and_its_time():
    stream = io.StringIO()
    progress = cli.Progress(stream, enabled=True)
    with progress.step("tracing the model"):
        pass
    with pytest.raises(ValueError), progress.step("generating code"):
        raise ValueError("boom")
    assert re.fullmatch(
        r"\.\.\. tracing the model\r\[done\] tracing the model \(\d+\.\d s\)\n"
        r"\.\.\. generating code\r\[failed\] generating code\n",
        stream.getvalue(),
    ), stream.getvalue()
    silent = io.StringIO()
    with cli.Progress(silent, enabled=False).step("x"):
        pass
    assert silent.getvalue() == ""


def test_validate_exits_1_when_the_generated_code_differs(models, monkeypatch):
    from sofie_pytorch import reader

    compute = reader.Reader.Compute

    def off_by_a_little(self, *inputs):  # what a wrong kernel would give
        return compute(self, *inputs) + 1e-3

    monkeypatch.setattr(reader.Reader, "Compute", off_by_a_little)
    code, out, err = run_here(["validate", str(models["good"]), "--shape", "2,4"])
    assert code == 1
    assert "MISMATCH" in out
    assert err.strip() == "error: the generated code differs from Torch beyond the tolerance"
    # the same difference is within a tolerance that allows it
    assert run_here(["validate", str(models["good"]), "--shape", "2,4", "--atol", "2e-3"])[0] == 0


def code_of(header) -> str:
    """A generated header without its first line, which holds the time it was written."""
    return header.read_text().split("\n", 1)[1]


def test_convert_runs_the_model_once(models, tmp_path, monkeypatch):
    """One trace per command: the graph the summary describes is the one converted."""
    from sofie_pytorch.loading import onnx_export

    calls = []
    export = onnx_export.export

    def counted(*args, **kwargs):
        calls.append(args[0].name)
        return export(*args, **kwargs)

    monkeypatch.setattr(onnx_export, "export", counted)
    code, out, err = run_here(["convert", str(models["good"]), "--shape", "2,4",
                               "-o", str(tmp_path)])
    assert code == 0, err
    assert calls == ["classifier"]
    assert "Gemm      2      yes" in out
    # and the files are those of a conversion done the usual way (C++ traces itself)
    header = code_of(tmp_path / "classifier.hxx")
    again = sofie_pytorch.convert(models["good"], tmp_path / "usual", [[2, 4]])
    assert len(calls) == 2
    assert code_of(again.header) == header
    assert (tmp_path / "classifier.dat").read_bytes() == again.weights.read_bytes()


def test_the_make_build_installs_the_console_script():
    """`make` writes .venv/bin/sofie-pytorch, as `pip install .` does from pyproject.toml
    (cheap commands only: the conversions are tested through cli.main above)."""
    from sofie_pytorch import __version__, _library

    script = os.path.join(os.path.dirname(sys.executable), "sofie-pytorch")
    assert os.access(script, os.X_OK), f"{script}: run `make` first"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    version = subprocess.run([script, "--version"], env=env, capture_output=True, text=True,
                             timeout=600)
    assert version.returncode == 0 and version.stdout.strip() == f"sofie-pytorch {__version__}"
    config = subprocess.run([script, "config", "--cmake-dir"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert config.returncode == 0 and config.stdout.strip() == str(_library.cmake_dir())


def test_config_cmake_dir_names_the_make_builds_package_configuration():
    code, out, _ = run_here(["config", "--cmake-dir"])
    assert code == 0
    assert os.path.isfile(os.path.join(out.strip(), "SofiePyTorchConfig.cmake"))
    # --prefix is for an installed package only (pip install .), and says so
    code, _, err = run_here(["config", "--prefix"])
    assert code == 1 and "-DSofiePyTorch_DIR=$(sofie-pytorch config --cmake-dir)" in err
