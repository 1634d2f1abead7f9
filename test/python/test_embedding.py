"""Embedding safety from PyROOT: the caller's Python state, memory over 1000 calls,
repeated and concurrent calls. The C++ side (no interpreter, two C++ threads) is
test/cpp/EmbeddingTest.cxx; root.exe macros are test_macro.py."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import ROOT
import sofie_pytorch
from helpers import save_zoo_model

PyTorch = ROOT.TMVA.Experimental.SOFIE.PyTorch
SCRIPTS = Path(__file__).resolve().parent / "scripts"
LEAK_CALLS = 1000
LEAK_BOUND_MB = 50.0


@pytest.fixture(scope="module")
def selu(tmp_path_factory) -> Path:
    return save_zoo_model("sequential_selu", tmp_path_factory.mktemp("zoo"))[0]


def run_script(name: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_python_state_is_left_as_it_was(selu):
    out = run_script("state_probe.py", str(selu))
    assert out.strip().splitlines()[-1] == "DONE", out
    assert "CHANGED (first call)" not in out, out
    assert "CHANGED (later calls)" not in out, out
    # The probe's own changes must show up, or the lines above prove nothing.
    for key in ("sys.path", "torch threads", "loggers"):
        assert f"CHANGED (self-test) {key}" in out, out


def test_memory_does_not_grow_over_1000_parses(selu, record_property):
    out = run_script("leak_probe.py", str(selu), str(LEAK_CALLS))
    fields = dict(item.split("=") for item in out.split())
    growth = float(fields["growth_mb"])
    record_property("rss_growth_mb", growth)
    print(f"resident memory growth over {LEAK_CALLS} PyROOT Parses: {growth:.1f} MB")
    assert int(fields["calls"]) == LEAK_CALLS
    assert growth < LEAK_BOUND_MB


def test_twice_in_a_row(selu):
    first = PyTorch.Parse(str(selu), [[2, 4]])
    second = PyTorch.Parse(str(selu), [[7, 4]])
    assert list(first.GetTensorShape("input")) == [2, 4]
    assert list(second.GetTensorShape("input")) == [7, 4]


def test_python_threads_at_once(selu):
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def work(batch: int) -> None:
        try:
            for _ in range(5):
                model = PyTorch.Parse(str(selu), [[batch, 4]])
                results[batch] = list(model.GetTensorShape("input"))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(b,)) for b in (3, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
        assert not t.is_alive(), "Parse deadlocked in a thread"
    assert not errors, errors
    assert results == {3: [3, 4], 5: [5, 4]}


def test_error_inside_a_thread_does_not_break_the_next_parse(selu, tmp_path):
    caught: list[BaseException] = []
    t = threading.Thread(target=lambda: _catch(caught, str(tmp_path / "nope.pt")))
    t.start()
    t.join(timeout=300)
    assert len(caught) == 1 and isinstance(caught[0], sofie_pytorch.ModelLoadError)
    assert list(PyTorch.Parse(str(selu), [[2, 4]]).GetTensorShape("input")) == [2, 4]


def _catch(sink: list[BaseException], path: str) -> None:
    try:
        PyTorch.Parse(path, [[2, 4]])
    except BaseException as exc:  # noqa: BLE001 - inspected by the test
        sink.append(exc)
