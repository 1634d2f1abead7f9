"""One scorer library for every x86-64 CPU (sofie_pytorch.running.isa_dispatch): the
levels x86-64-v2, v3 and v4 compiled side by side, the best one the CPU runs loaded by a
dispatcher when the library is loaded, each level forced in turn (SOFIE_PYTORCH_ISA) and
compared with Torch, in processes of their own that load the library as a DistRDF worker
does. The distributed default (rdf.define on a Dask RDataFrame) is checked in
test_scoring_distributed.py."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import scoring_helpers as sh
from isa_levels import LEVELS, runnable_levels

warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
import sofie_pytorch  # noqa: E402
from sofie_pytorch.running import isa_dispatch, sharedlib  # noqa: E402
from sofie_pytorch.scoring.library import Layout, Scorer  # noqa: E402

pytestmark = pytest.mark.skipif(not isa_dispatch.available(), reason="x86-64 only")
SCRIPT = Path(__file__).resolve().parent / "scripts" / "score_with_library.py"
ENTRIES = 300


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    """The classifier compiled once, as distributed scoring compiles it by default."""
    workdir = tmp_path_factory.mktemp("dispatch")
    data = sh.write_events(workdir / "events.root", ENTRIES)
    model = sh.models()["classifier"]
    conversion = sofie_pytorch.convert(model, workdir / "classifier", [[1, 4]])
    assert sharedlib.portable_march() == isa_dispatch.DISPATCH  # the distributed default
    layout = Layout.make([sh.VARIABLES], [["scalar"] * 4], None, None)
    compiled = Scorer(conversion, layout, workdir=workdir, march=sharedlib.portable_march())
    return compiled, model, data, workdir


def _score(scorer, level: str | None, out: Path) -> subprocess.CompletedProcess:
    compiled, _, data, _ = scorer
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    env.pop(isa_dispatch.ENVIRONMENT, None)
    if level is not None:
        env[isa_dispatch.ENVIRONMENT] = level
    return subprocess.run([sys.executable, str(SCRIPT), str(compiled.library),
                           str(compiled.header), compiled.namespace, str(data), str(out)],
                          env=env, capture_output=True, text=True, timeout=300)


# Forced to each level this CPU runs, to none (the dispatcher's choice), and to levels it
# must refuse: an unknown name, and those this CPU cannot run (none on an AVX-512 machine).
REFUSED = {"x86-64-v9": "is not a level of this library"} | {
    level: "this CPU cannot run that level" for level in LEVELS if level not in runnable_levels()}


@pytest.fixture(scope="module")
def runs(scorer, tmp_path_factory):
    """Every process of this file's tests, run side by side (each imports ROOT and JITs
    its RDataFrame: most of their time): {level or None: (process, output file)}."""
    directory = tmp_path_factory.mktemp("runs")
    jobs = {level: directory / f"{level or 'default'}.npz"
            for level in [*runnable_levels(), None, *REFUSED]}
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        done = {level: pool.submit(_score, scorer, level, out) for level, out in jobs.items()}
        return {level: (future.result(), jobs[level]) for level, future in done.items()}


def _assert_equals_torch(scorer, out: Path) -> None:
    _, model, _, _ = scorer
    with np.load(out) as cols:
        assert len(cols["score"]) == ENTRIES
        (want,) = sh.torch_outputs(model, sh.stack(cols, sh.VARIABLES))
        sh.assert_close(cols["score"], want[:, 0])


def test_every_level_is_compiled_for_its_level(scorer):
    library = scorer[0].library
    levels = isa_dispatch.companion_files(library)
    assert [p.name for p in levels] == [f"{library.stem}.{level}.so" for level in LEVELS]
    assert [sh.recorded_march(p) for p in levels] == list(LEVELS)


@pytest.mark.parametrize("level", runnable_levels())
def test_each_level_forced_at_load_time_matches_torch(scorer, runs, level):
    done, out = runs[level]
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[0] == level
    _assert_equals_torch(scorer, out)


def test_the_best_level_of_the_cpu_is_loaded_by_default(scorer, runs):
    done, out = runs[None]
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[0] == runnable_levels()[-1]
    _assert_equals_torch(scorer, out)


def test_a_level_the_cpu_cannot_run_or_does_not_know_is_refused(scorer, runs):
    for level, message in REFUSED.items():
        done, out = runs[level]
        assert done.returncode != 0 and not out.exists()
        assert f"DispatchError: lib{scorer[0].namespace}.so: SOFIE_PYTORCH_ISA={level}" \
               in done.stderr and message in done.stderr, done.stderr[-3000:]


def test_a_scorer_that_loads_no_level_is_refused_with_the_reason(scorer, tmp_path):
    # a library whose level files were not shipped along
    compiled = scorer[0]
    lonely = tmp_path / compiled.library.name
    lonely.write_bytes(compiled.library.read_bytes())
    with pytest.raises(isa_dispatch.DispatchError, match=r"cannot load .*x86-64-v\d\.so"):
        isa_dispatch.loaded_level(lonely)


# ---- The same for code of the user's own around the generated header

USER_SOURCE = """
#include "@HEADER@"
// The user's own entry point: every event through the model (batch 1, 4 features).
extern "C" __attribute__((visibility("default")))
void Score(const char *weights, const float *x, float *y, int n)
{
   @NAMESPACE@::Session session(weights);
   for (int i = 0; i < n; ++i)
      y[i] = session.infer(x + 4 * i)[0];
}
"""
USER_SCRIPT = SCRIPT.with_name("call_user_library.py")


def test_a_users_own_code_carries_every_level_too(tmp_path):
    """compile_library(..., march=DISPATCH) on a translation unit of the user's (the
    generated header and a function of theirs), loaded with dlopen, each runnable level
    forced in turn and the default: equal to Torch."""
    model = sh.models()["classifier"]
    conversion = sofie_pytorch.convert(model, tmp_path / "classifier", [[1, 4]])
    source = conversion.header.with_name("user.cxx")
    source.write_text(USER_SOURCE.replace("@HEADER@", conversion.header.name)
                      .replace("@NAMESPACE@", conversion.namespace))
    library = sharedlib.compile_library(source, tmp_path / "libuser.so",
                                        march=isa_dispatch.DISPATCH)
    x = np.random.default_rng(3).normal(size=(200, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    (want,) = sh.torch_outputs(model, x)
    env = {k: v for k, v in os.environ.items() if k != isa_dispatch.ENVIRONMENT}
    for level in [*runnable_levels(), None]:
        forced = env if level is None else env | {isa_dispatch.ENVIRONMENT: level}
        done = subprocess.run([sys.executable, str(USER_SCRIPT), str(library),
                               str(conversion.weights), str(tmp_path / "x.npy"),
                               str(tmp_path / "y.npy")],
                              env=forced, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.splitlines()[0] == (level or runnable_levels()[-1])
        sh.assert_close(np.load(tmp_path / "y.npy"), want[:, 0])
    # through ctypes in this process, as the columnar scoring path calls its library
    y = np.zeros(len(x), dtype=np.float32)
    pointer = ctypes.POINTER(ctypes.c_float)
    isa_dispatch.symbols(library).Score(str(conversion.weights).encode(),
                                        x.ctypes.data_as(pointer), y.ctypes.data_as(pointer),
                                        ctypes.c_int(len(x)))
    sh.assert_close(y, want[:, 0])
