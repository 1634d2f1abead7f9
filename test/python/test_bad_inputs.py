"""The bad-input battery, through PyROOT's ROOT.TMVA.Experimental.SOFIE.PyTorch.Parse.

Each case asserts the exception class and a message that says what to do, and (the
autouse fixture) that the next valid Parse in the same process still works. Cases
already in test_errors.py (missing file, directory, empty file, state_dict, too many
shapes, no shapes, [2, 0] / [2, -3] / 4.5 / "4" dimensions, a shape the model cannot
take, unsupported operators from TorchScript, the injection file name) are not repeated.
"""

from __future__ import annotations

import io
import os
import pickle
import random
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import ROOT
import sofie_pytorch
import torch
from helpers import save_zoo_model
from sofie_pytorch import (
    InputSpecError,
    ModelLoadError,
    TracingError,
    UnsupportedOperatorError,
)
from torch import nn

PyTorch = ROOT.TMVA.Experimental.SOFIE.PyTorch
SAVE_ADVICE = r"torch\.jit\.save.*torch\.export\.save"


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """A valid TorchScript file and a valid .pt2, the raw material of damaged files."""
    d = tmp_path_factory.mktemp("valid")
    selu = save_zoo_model("sequential_selu", d)[0]
    torch.manual_seed(0)
    program = torch.export.export(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), (torch.randn(2, 4),))
    pt2 = d / "linear.pt2"
    torch.export.save(program, str(pt2))
    return {"pt": selu, "pt2": pt2}


@pytest.fixture(autouse=True)
def next_parse_works(models):
    """After every case, failed or not, a valid Parse in the same process succeeds."""
    yield
    model = PyTorch.Parse(str(models["pt"]), [[2, 4]])
    assert list(model.GetTensorShape("input")) == [2, 4]


class Evil:
    """Unpickling this runs a shell command that creates SENTINEL."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch '{self.sentinel}'",))


def rezip(source: Path, target: Path, replace: dict[str, bytes], drop: tuple[str, ...] = ()):
    """Copy a zip archive, replacing members that end with a key, dropping others."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            if info.filename.endswith(drop):
                continue
            data = zin.read(info.filename)
            for tail, new in replace.items():
                if info.filename.endswith(tail):
                    data = new
            zout.writestr(info, data)
    return target


def parse_fails(path_or_model, shapes, dtypes=None, cls=sofie_pytorch.SofiePyTorchError,
                match=None) -> str:
    with pytest.raises(cls, match=match) as info:
        PyTorch.Parse(path_or_model if not isinstance(path_or_model, Path) else str(path_or_model),
                      shapes, dtypes)
    return str(info.value)


# ---------------------------------------------------------------- files that are not models


def test_missing_directory_component(tmp_path):
    parse_fails(tmp_path / "no" / "such" / "dir" / "m.pt", [[2, 4]], cls=ModelLoadError,
                match="no such file")


def test_path_through_a_regular_file(tmp_path, models):
    parse_fails(Path(str(models["pt"])) / "inner.pt", [[2, 4]], cls=ModelLoadError,
                match="cannot be opened")


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.pt"
    os.mkfifo(fifo)
    parse_fails(fifo, [[2, 4]], cls=ModelLoadError, match="not a regular file")


def test_device_file():
    parse_fails("/dev/zero", [[2, 4]], cls=ModelLoadError, match="not a regular file")


def test_file_name_too_long(tmp_path):
    parse_fails(tmp_path / ("x" * 300 + ".pt"), [[2, 4]], cls=ModelLoadError,
                match="cannot be opened")


def test_nul_in_file_name(tmp_path):
    parse_fails(str(tmp_path / "a\0b.pt"), [[2, 4]], cls=ModelLoadError, match="NUL")


def test_empty_file_name():
    parse_fails("", [[2, 4]], cls=ModelLoadError, match="empty file name")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(random.Random(7).randbytes(4096))
    parse_fails(path, [[2, 4]], cls=ModelLoadError,
                match="not a PyTorch model file.*" + SAVE_ADVICE)


def test_text_file(tmp_path):
    path = tmp_path / "model.py"
    path.write_text("import torch\nmodel = torch.nn.Linear(4, 2)\n")
    parse_fails(path, [[2, 4]], cls=ModelLoadError, match="not a PyTorch model file")


@pytest.mark.parametrize("kind", ["pt", "pt2"])
def test_truncated_archive(tmp_path, models, kind):
    data = models[kind].read_bytes()
    path = tmp_path / f"truncated.{kind}"
    path.write_bytes(data[: len(data) // 2])
    parse_fails(path, [[2, 4]], cls=ModelLoadError, match="truncated or corrupted")


@pytest.mark.parametrize("kind", ["pt", "pt2"])
def test_corrupted_archive_bytes(tmp_path, models, kind):
    data = bytearray(models[kind].read_bytes())
    for i in range(64, len(data), 97):
        data[i] ^= 0x5A
    path = tmp_path / f"corrupted.{kind}"
    path.write_bytes(bytes(data))
    parse_fails(path, [[2, 4]], cls=ModelLoadError, match="damaged|truncated or corrupted")


def test_torchscript_with_garbled_code(tmp_path, models):
    # Every code file (their names depend on torch's class-name mangling in the process).
    with zipfile.ZipFile(models["pt"]) as archive:
        code = [n for n in archive.namelist() if "/code/" in n and n.endswith(".py")]
    assert code
    garbage = b"def forward(self, x):\n  return x +* 2\n"
    path = rezip(models["pt"], tmp_path / "garbled.pt", dict.fromkeys(code, garbage))
    parse_fails(path, [[2, 4]], cls=ModelLoadError, match="not a readable TorchScript file")


def test_torchscript_missing_member(tmp_path, models):
    path = rezip(models["pt"], tmp_path / "partial.pt", {}, drop=("data.pkl",))
    parse_fails(path, [[2, 4]], cls=ModelLoadError, match="save it again with torch.jit.save")


def test_pt2_with_damaged_graph(tmp_path, models):
    path = rezip(models["pt2"], tmp_path / "damaged.pt2", {"models/model.json": b"{not json"})
    parse_fails(path, [[2, 4]], cls=ModelLoadError, match="not a readable torch.export archive")


def test_zip_that_is_not_a_model(tmp_path):
    path = tmp_path / "docs.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("README.txt", "hello")
    parse_fails(path, [[2, 4]], cls=ModelLoadError, match="zip archive but not a PyTorch model")


def test_whole_pickled_module_explains_how_to_save(tmp_path):
    path = tmp_path / "module.pt"
    torch.save(nn.Linear(4, 2), path)
    parse_fails(path, [[2, 4]], cls=ModelLoadError,
                match="pickled Python object.*not loaded.*" + SAVE_ADVICE)


def test_legacy_torch_save_format(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save(nn.Linear(4, 2), path, _use_new_zipfile_serialization=False)
    parse_fails(path, [[2, 4]], cls=ModelLoadError, match="plain pickle.*" + SAVE_ADVICE)


# ---------------------------------------------------------------- pickles that would run code


def _evil_files(tmp_path: Path, models: dict[str, Path], sentinel: Path) -> dict[str, Path]:
    raw = pickle.dumps(Evil(sentinel), protocol=0)  # no header byte: found by its opcodes
    buffer = io.BytesIO()
    torch.save({"x": Evil(sentinel)}, buffer)
    saved = buffer.getvalue()
    (tmp_path / "evil_save.pt").write_bytes(saved)
    (tmp_path / "evil_raw.pt").write_bytes(pickle.dumps(Evil(sentinel)))
    return {
        "torch.save": tmp_path / "evil_save.pt",
        "raw pickle": tmp_path / "evil_raw.pt",
        "TorchScript data.pkl": rezip(models["pt"], tmp_path / "evil_ts.pt", {"/data.pkl": raw}),
        "TorchScript constants.pkl": rezip(models["pt"], tmp_path / "evil_const.pt",
                                           {"/constants.pkl": raw}),
        # torch.export.load retries the example inputs with weights_only=False...
        ".pt2 sample inputs": rezip(models["pt2"], tmp_path / "evil_sample.pt2",
                                    {"sample_inputs/model.pt": saved}),
        # ... and unpickles weights that its (attacker-written) config marks as pickled.
        ".pt2 weight": rezip(models["pt2"], tmp_path / "evil_weight.pt2",
                             {"weights/weight_0": saved}),
        ".pt2 raw pickle weight": rezip(models["pt2"], tmp_path / "evil_raw_weight.pt2",
                                        {"weights/weight_0": raw}),
    }


def test_malicious_pickles_never_run(tmp_path, models):
    sentinel = tmp_path / "SENTINEL"
    pickle.loads(pickle.dumps(Evil(sentinel)))  # the payload does work when unpickled
    assert sentinel.exists()
    sentinel.unlink()
    for where, path in _evil_files(tmp_path, models, sentinel).items():
        message = parse_fails(path, [[2, 4]], cls=ModelLoadError)
        assert "not loaded" in message or "not a readable" in message, (where, message)
        assert not sentinel.exists(), f"the pickle in the {where} ran"


# ---------------------------------------------------------------- hostile and unusual names


HOSTILE_NAMES = [
    "quote'single.pt",
    'quote"double.pt',
    "back\\slash.pt",
    "new\nline.pt",
    "a'); import os; os.system('touch PWNED') #.pt",
    "with spaces in it.pt",
    "modèle_ünïcødé.pt",
    "模型.pt",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_and_unusual_file_names_just_work(tmp_path, monkeypatch, models, name):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / name
    path.write_bytes(models["pt"].read_bytes())
    model = PyTorch.Parse(str(path), [[2, 4]])
    assert list(model.GetTensorShape("input")) == [2, 4]
    model.Generate()
    code = str(model.ReturnGenerated())
    namespace = code.split("namespace SOFIE_", 1)[1].split("{", 1)[0].strip()
    assert namespace.isidentifier() and namespace.isascii(), namespace
    assert not (tmp_path / "PWNED").exists()


def test_injection_name_generates_compilable_code(tmp_path, models):
    path = tmp_path / HOSTILE_NAMES[4]
    path.write_bytes(models["pt"].read_bytes())
    model = PyTorch.Parse(str(path), [[2, 4]])
    model.Generate()
    header = tmp_path / "out.hxx"
    model.OutputGenerated(str(header))
    compiled = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-x", "c++", str(header)],
                              capture_output=True, text=True, timeout=300)
    assert compiled.returncode == 0, compiled.stderr


def test_bytes_and_pathlike_names_work(models):
    assert list(PyTorch.Parse(models["pt"], [[2, 4]]).GetTensorShape("input")) == [2, 4]
    encoded = os.fsencode(str(models["pt"]))
    assert list(PyTorch.Parse(encoded, [[2, 4]]).GetTensorShape("input")) == [2, 4]


def test_not_a_model_object():
    parse_fails(42, [[2, 4]], cls=ModelLoadError, match="expected a file name, an nn.Module")


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("shapes", [None, "2,4", 4])
def test_shapes_that_are_not_a_list(models, shapes):
    parse_fails(models["pt"], shapes, cls=InputSpecError, match=r"one shape per model input")


def test_shapes_by_name_for_an_input_the_model_does_not_have(models):
    # A mapping names forward()'s inputs (test_weaver_models.py gives ParT's mask so).
    parse_fails(models["pt"], {"inputs": [2, 4]}, cls=InputSpecError,
                match=r"shapes given for 'inputs', which forward\(\) does not take: its "
                      r"inputs are input")


def test_empty_shape(models):
    parse_fails(models["pt"], [[]], cls=InputSpecError, match=r"is empty.*use \[1\]")


def test_too_few_shapes(tmp_path):
    path = save_zoo_model("two_in_two_out", tmp_path)[0]
    parse_fails(path, [[2, 3]], cls=InputSpecError, match=r"model takes 2 input\(s\) \(x, y\)")


@pytest.mark.parametrize("shape", [[2**40, 2**40], [10**30, 4], [2**28 + 1]])
def test_absurdly_large_shapes_are_refused_before_allocating(models, shape):
    parse_fails(models["pt"], [shape], cls=InputSpecError, match="more than the limit")


# (Strings are left out: they may name a run-time dimension, see specs.py.)
@pytest.mark.parametrize("dim", [None, True, [4], 4.0, complex(4, 0)])
def test_non_integer_dimensions(models, dim):
    parse_fails(models["pt"], [[2, dim]], cls=InputSpecError,
                match=r"shape of input 0: .* is not a dimension")


def test_shape_not_a_list_of_ints(models):
    parse_fails(models["pt"], ["2x4"], cls=InputSpecError, match="must be a list of integers")


def test_numpy_integers_and_tuples_work(models):
    model = PyTorch.Parse(str(models["pt"]), ((np.int64(2), np.int32(4)),))
    assert list(model.GetTensorShape("input")) == [2, 4]


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype", ["float16", torch.float16, "complex64", "uint8", "banana",
                                   None])
def test_unsupported_dtypes_list_the_supported_ones(models, dtype):
    parse_fails(models["pt"], [[2, 4]], [dtype], cls=InputSpecError,
                match="unsupported input dtype.*use one of bool, double, float")


def test_one_dtype_per_input(models):
    parse_fails(models["pt"], [[2, 4]], ["float", "float"], cls=InputSpecError,
                match="2 dtypes given for 1 inputs")


# ---------------------------------------------------------------- models that do not trace


class RaisesOnShape(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 3:
            raise ValueError(f"expected 3 channels, got {x.shape[1]}")
        return x


class ValueBranch(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x * 2
        return -x


class BatchSizeBranch(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.size(0) > 2:
            return x * 2
        return -x


class ReturnsDict(nn.Module):
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"y": x}


class ThreeUnsupported(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.special.erfinv(torch.tanh(x)) + torch.cumprod(x, 1) + torch.cummax(x, 1)[0]


@pytest.mark.parametrize("scripted", [False, True])
def test_forward_raising_passes_on_torchs_message(tmp_path, scripted):
    model = RaisesOnShape()
    if scripted:
        model = tmp_path / "raises.pt"
        torch.jit.save(torch.jit.script(RaisesOnShape()), str(model))
    parse_fails(model, [[2, 4]], cls=TracingError,
                match=r"failed on inputs of shape \[2, 4\].*expected 3 channels, got 4")


@pytest.mark.parametrize("scripted", [False, True])
def test_data_dependent_control_flow(tmp_path, scripted):
    model = ValueBranch()
    if scripted:
        model = tmp_path / "branch.pt"
        torch.jit.save(torch.jit.script(ValueBranch()), str(model))
    parse_fails(model, [[2, 4]], cls=TracingError,
                match="data-dependent control flow.*torch.where")


def test_scripted_branch_on_a_run_time_size_is_refused(tmp_path):
    # Specialising a scripted model on its shapes cannot fix a size chosen at run time.
    model = tmp_path / "batch_branch.pt"
    torch.jit.save(torch.jit.script(BatchSizeBranch()), str(model))
    parse_fails(model, [[-1, 4]], cls=InputSpecError,
                match="branches or loops on a size chosen at run time.*instead of -1")
    assert PyTorch.Parse(str(model), [[3, 4]], None) is not None  # a fixed size converts


def test_output_that_is_not_a_tensor():
    parse_fails(ReturnsDict(), [[2, 4]], cls=TracingError, match="returns a dict")


def test_unsupported_operators_of_an_in_memory_module_listed_at_once():
    message = parse_fails(ThreeUnsupported(), [[2, 4]], cls=UnsupportedOperatorError)
    assert "3 operator(s) SOFIE cannot generate code for" in message
    for op in ("aten::erfinv", "aten::cumprod", "aten::cummax"):
        assert op in message, message


def test_torchscript_with_a_short_tensor_record(tmp_path, models):
    # torch.jit.load accepts it and the model then reads past the buffer (a segfault found
    # by the fuzzer); the parser refuses it before torch sees it.
    path = rezip(models["pt"], tmp_path / "short.pt", {"/data/1": b""})
    parse_fails(path, [[2, 4]], cls=ModelLoadError,
                match=r"tensor data .*data/1.* holds 0 bytes .* truncated or corrupted")


def test_pt2_whose_weights_start_like_a_pickle_opcode_loads(tmp_path):
    # Raw float32 weights are not pickles, but one in 256 starts with the byte of
    # STACK_GLOBAL (0x93); such a .pt2 (weaver's ParticleNet-Lite, seeded) was refused.
    model = nn.Linear(2, 1).eval()
    with torch.no_grad():
        model.weight.view(-1)[0] = float(np.frombuffer(b"\x93!\xbe\xbb", np.float32)[0])
    path = tmp_path / "starts_with_0x93.pt2"
    torch.export.save(torch.export.export(model, (torch.ones(1, 2),)), str(path))
    result = sofie_pytorch.convert(path, tmp_path, [[1, 2]])
    assert result.header.is_file()
