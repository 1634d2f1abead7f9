"""ROOT's SOFIE tutorials' flow, with PyTorch models, as acceptance tests.

The macros and scripts in test/tutorials/ use ROOT's API as ROOT's tutorials
TMVA_SOFIE_PyTorch.C, TMVA_SOFIE_RSofieReader.C and TMVA_SOFIE_RDataFrame.C(.py) do;
they run here with `root -l -b -q` and with PyROOT, in one shared directory holding the
seeded models and data (test/tutorials/make_tutorial_inputs.py). Every score is compared
with Torch's, computed in this process on the same events.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import ATOL, RTOL, assert_matches_torch, run_jit

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
ROOT_EXE = str(Path(sys.executable).parent / "root")
COLUMNS = ["m_jj", "m_jjj", "m_lv", "m_jlv", "m_bb", "m_wbb", "m_wwbb"]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # PWD as a shell sets it: the macros add $PWD to the include path, as ROOT's do
    env = dict(os.environ, PYTHONWARNINGS="ignore", PWD=str(cwd))
    env.pop("PYTHONPATH", None)  # as a user runs them: the environment alone must do
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # root.exe reports errors in compiling a macro on stderr but may still exit with 0
    assert "error:" not in proc.stderr, proc.stderr[-3000:]
    return proc


def root_macro(name: str, cwd: Path) -> subprocess.CompletedProcess:
    return run([ROOT_EXE, "-l", "-b", "-q", str(TUTORIALS / name)], cwd)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tutorials")
    run([sys.executable, str(TUTORIALS / "make_tutorial_inputs.py"), str(directory)], directory)
    return directory


@pytest.fixture(scope="module")
def higgs_header(workdir: Path) -> Path:
    """The classifier's generated code, written once by the macro for both RDataFrame tests."""
    root_macro("TMVA_SOFIE_PyTorch_HiggsModel.C", workdir)
    header = workdir / "Higgs_trained_model.hxx"
    # ROOT's name for the generated namespace, next to the engine's
    alias = "namespace TMVA_SOFIE_Higgs_trained_model = SOFIE_Higgs_trained_model;"
    assert alias in header.read_text()
    return header


@pytest.fixture(scope="module")
def torch_scores(workdir: Path) -> dict[str, np.ndarray]:
    """Torch's score for every event of each tree, in entry order."""
    import ROOT

    model = torch.jit.load(str(workdir / "Higgs_trained_model.pt"))
    scores = {}
    for kind in ("sig", "bkg"):
        data = ROOT.RDataFrame(f"{kind}_tree", str(workdir / "Higgs_data.root")).AsNumpy(COLUMNS)
        x = torch.from_numpy(np.stack([data[c] for c in COLUMNS], axis=1).astype(np.float32))
        with torch.no_grad():
            scores[kind] = model(x).numpy()[:, 0]
    return scores


def read_scores(path: Path, column: str) -> dict[str, np.ndarray]:
    """The scores a macro saved, put back in entry order (multithreaded loops reorder)."""
    import ROOT

    result = {}
    for kind in ("sig", "bkg"):
        data = ROOT.RDataFrame(f"{kind}_scores", str(path)).AsNumpy(["entry", column])
        order = np.argsort(data["entry"])
        assert np.array_equal(data["entry"][order], np.arange(len(order)))
        result[kind] = np.asarray(data[column], dtype=np.float32)[order]
    return result


def assert_scores(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    for kind in ("sig", "bkg"):
        np.testing.assert_allclose(got[kind], want[kind], rtol=RTOL, atol=ATOL, err_msg=kind)
    # the classifier learnt something: the trees differ
    assert want["sig"].mean() > want["bkg"].mean() + 0.1


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    assert path.stat().st_size > 5000, path  # a drawn canvas, not an empty image


def test_pytorch_macro_parses_inspects_and_generates(workdir: Path) -> None:
    proc = root_macro("TMVA_SOFIE_PyTorch.C", workdir)
    out = proc.stdout
    assert 'Tensor "0weight" already exist: true' in out, out[-3000:]
    assert 'Shape of tensor "0weight": 16,32,' in out
    assert 'Data type of tensor "0weight": float' in out
    assert "Fully Specified Tensor name: input\ttype: float\tshape: [2,32]" in out
    assert "struct Session" in out  # PrintGenerated
    x = torch.randn(2, 32, generator=torch.Generator().manual_seed(3))
    expected = torch.jit.load(str(workdir / "PyTorchModel.pt"))(x).detach().numpy()
    got = run_jit(workdir / "PyTorchModel.hxx", "PyTorchModel", [x], workdir)
    assert_matches_torch(got, [expected])


def test_onnx_macro_with_root_header_names(workdir: Path) -> None:
    proc = root_macro("TMVA_SOFIE_ONNX.C", workdir)
    assert "RTensor of 14 values" in proc.stdout, proc.stdout
    # the engine's parser names the namespace after the .onnx file
    header = (workdir / "Higgs_trained_model_onnx.hxx").read_text()
    assert "namespace SOFIE_Higgs_trained_model{" in header


def test_rdataframe_macro_scores_both_trees_per_slot(workdir: Path, higgs_header: Path,
                                                     torch_scores) -> None:
    proc = root_macro("TMVA_SOFIE_RDataFrame.C", workdir)
    assert "Running using 2 threads" in proc.stdout
    assert_png(workdir / "TMVA_SOFIE_RDataFrame.png")
    scores = read_scores(workdir / "scores_TMVA_SOFIE_RDataFrame.root", "DNN_Value")
    assert_scores(scores, torch_scores)


def test_rdataframe_script_from_pyroot(workdir: Path, higgs_header: Path, torch_scores) -> None:
    run([sys.executable, str(TUTORIALS / "TMVA_SOFIE_RDataFrame.py")], workdir)
    assert_png(workdir / "TMVA_SOFIE_RDataFrame_py.png")
    assert_scores(read_scores(workdir / "scores_rdataframe_py.root", "DNN_Value"), torch_scores)


def test_rsofiereader_macro_one_event_and_define(workdir: Path, torch_scores) -> None:
    proc = root_macro("TMVA_SOFIE_RSofieReader.C", workdir)
    out = proc.stdout
    event = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]])
    want = torch.jit.load(str(workdir / "Higgs_trained_model.pt"))(event).item()
    got = float(re.search(r"Event prediction = (\S+)", out).group(1))
    assert abs(got - want) <= ATOL + RTOL * abs(want), out
    assert "caught: input 0 has 3 values, the model expects 7" in out, out
    assert "caught: 2 inputs given, the model takes 1" in out, out
    assert_png(workdir / "TMVA_SOFIE_RSofieReader.png")
    assert_scores(read_scores(workdir / "scores_TMVA_SOFIE_RSofieReader.root", "y"), torch_scores)


def test_rsofiereader_from_pyroot_batch_and_bad_inputs(workdir: Path, torch_scores) -> None:
    proc = run([sys.executable, str(TUTORIALS / "TMVA_SOFIE_RSofieReader.py")], workdir)
    out = proc.stdout
    saved = np.load(workdir / "reader_py.npz")
    event = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]])
    want = torch.jit.load(str(workdir / "Higgs_trained_model.pt"))(event).detach().numpy()[0]
    np.testing.assert_allclose(saved["event"], want, rtol=RTOL, atol=ATOL)
    onnx = float(re.search(r"ONNX prediction = (\S+)", out).group(1))
    np.testing.assert_allclose(onnx, want[0], rtol=RTOL, atol=ATOL)
    events = torch.tensor([[0.1 * (i + 1) + 0.05 * e for i in range(7)] for e in range(3)])
    want_three = torch.jit.load(str(workdir / "Higgs_trained_model.pt"))(events).detach().numpy()
    got_three = [float(v) for v in re.search(r"ONNX batch of 3 = (.*)", out).group(1).split()]
    np.testing.assert_allclose(got_three, want_three[:, 0], rtol=RTOL, atol=ATOL)
    pt2 = float(re.search(r"PT2 prediction = (\S+)", out).group(1))
    np.testing.assert_allclose(pt2, want[0], rtol=RTOL, atol=ATOL)
    assert "RSofieReader: parsing Higgs_trained_model.pt2 with the PyTorch parser" in out
    assert saved["batch"].shape == (len(torch_scores["sig"]), 1)
    np.testing.assert_allclose(saved["batch"][:, 0], torch_scores["sig"], rtol=RTOL, atol=ATOL)
    expected = {
        "short vector": "input 0 has 3 values, the model expects 7",
        "long vector": "input 0 has 100 values, the model expects 7",
        "two inputs": "2 inputs given, the model takes 1",
        "missing file": "no_such_model.pt",
        "unknown extension": "supported are PyTorch files (.pt, .pth: TorchScript; "
                             ".pt2: torch.export) and ONNX files (.onnx)",
        "pt without shapes": "a PyTorch model needs the shape of each input",
        "wrong batch width": "input 0 has 3 values, the model expects 7",
        "nothing loaded": "no model loaded",
    }
    for name, message in expected.items():
        assert f"\n{name}: " in out, out
        # the exception's first line names the C++ call, the second the error
        block = "\n".join(out.split(f"\n{name}: ", 1)[1].splitlines()[:2])
        # PyROOT raises the C++ std::runtime_error (ParseError) itself as a Python exception
        assert block.startswith("ParseError: "), (name, block)
        assert message in block, (name, block)
    assert "still works: True" in out


def test_rsofiereader_takes_a_hostile_path_as_data(workdir: Path, tmp_path: Path) -> None:
    """A path with a quote in it is only data: the reader neither breaks nor runs it."""
    hostile = tmp_path / 'a"b); gSystem->Exec("touch PWNED"); //'
    hostile.mkdir()
    shutil.copy(workdir / "Higgs_trained_model.pt", hostile / "model.pt")
    macro = tmp_path / "hostile.C"
    macro.write_text(
        "void hostile() {\n"
        "   std::ifstream in(\"path.txt\"); std::string path; std::getline(in, path);\n"
        "   TMVA::Experimental::RSofieReader model(path, {{1, 7}});\n"
        "   auto y = model.Compute({0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7});\n"
        "   std::cout << \"prediction \" << y[0] << std::endl;\n"
        "}\n")
    (tmp_path / "path.txt").write_text(str(hostile / "model.pt") + "\n")
    proc = run([ROOT_EXE, "-l", "-b", "-q", str(macro)], tmp_path)
    assert "prediction 0." in proc.stdout, proc.stdout
    assert not (tmp_path / "PWNED").exists()
