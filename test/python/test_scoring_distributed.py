"""sofie_pytorch.rdf.define on distributed RDataFrame: a real dask LocalCluster on
127.0.0.1 (2 worker processes, 1 thread each), several files and partitions; the
`score` command sent to the same cluster with --scheduler, also with jagged particle
lists (a fixed particle axis, and one chosen at run time); a worker killed mid-job; a
shipped weight file the workers cannot use.

The cluster is started once for the module and always shut down; every job is bounded
in time (a hang fails the test instead of blocking the suite)."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest
import scoring_helpers as sh
import torch
from isa_levels import runnable_levels

warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
import ROOT  # noqa: E402
import sofie_pytorch  # noqa: E402
from sofie_pytorch import rdf  # noqa: E402
from sofie_pytorch.running import isa_dispatch, sharedlib  # noqa: E402
from sofie_pytorch.scoring import command  # noqa: E402

distributed = pytest.importorskip("distributed")  # in requirements.txt: never skipped in CI

FILES, PER_FILE, PARTITIONS = 3, 600, 4
JOB_SECONDS = 240


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("scoring_distributed")


@pytest.fixture(scope="module")
def files(workdir):
    return [str(sh.write_events(workdir / f"events_{i}.root", PER_FILE, seed=20 + i,
                                offset=i * PER_FILE, auto_flush=200)) for i in range(FILES)]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=40)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)


@pytest.fixture(scope="module")
def models():
    return sh.models()


@pytest.fixture(scope="module")
def converted(models, workdir):
    return {
        "classifier": sofie_pytorch.convert(models["classifier"], workdir / "c", [[1, 4]]),
        "lstm": sofie_pytorch.convert(models["lstm"], workdir / "l",
                                      [[1, sh.STEPS, sh.FEATURES]]),
    }


def bounded(function, seconds=JOB_SECONDS):
    """function() in a thread; a job that does not finish in time fails the test."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(function).result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        pytest.fail(f"the distributed job did not finish in {seconds} s")
    finally:
        pool.shutdown(wait=False)


def distributed_frame(files, client):
    return ROOT.RDataFrame("events", files, executor=client, npartitions=PARTITIONS)


def scorer_for(conversion):
    return next(scorer for model, scorer in rdf._cache.values() if model is conversion)


def by_id(columns):
    order = np.argsort(columns["id"])
    return {k: np.asarray(v)[order] for k, v in columns.items()}


def test_every_entry_equals_torch(files, client, converted, models):
    df = distributed_frame(files, client)
    scored = rdf.define(df, "score", converted["classifier"], sh.VARIABLES)
    scored = rdf.define(scored, "seq_score", converted["lstm"], sh.CONSTITUENTS)
    cols = by_id(bounded(lambda: scored.AsNumpy(["id", "score", "seq_score", *sh.VARIABLES])))
    assert list(cols["id"]) == list(range(FILES * PER_FILE))  # none lost, none twice
    (want,) = sh.torch_outputs(models["classifier"], sh.stack(cols, sh.VARIABLES))
    sh.assert_close(cols["score"], want[:, 0])
    # DistRDF's AsNumpy cannot return RVec columns: the LSTM's inputs are read locally
    local = by_id(ROOT.RDataFrame("events", files).AsNumpy(["id", *sh.CONSTITUENTS]))
    (want_seq,) = sh.torch_outputs(models["lstm"], sh.constituents(local))
    sh.assert_close(cols["seq_score"], want_seq[:, 0])
    # each worker process made its Session once (one thread each), not per partition
    namespace = scorer_for(converted["classifier"]).namespace
    made = client.run(lambda: int(getattr(__import__("ROOT"), namespace).ThreadSessionsMade()))
    assert set(made.values()) <= {0, 1} and 1 in made.values(), made
    # shipped to workers that may be other CPUs: every x86-64 level, each worker running
    # the best its CPU has (all of them here: the workers run on this machine)
    library = scorer_for(converted["classifier"]).library
    assert sharedlib.portable_march() == isa_dispatch.DISPATCH
    levels = isa_dispatch.companion_files(library)
    assert [sh.recorded_march(p) for p in levels] == list(isa_dispatch.LEVELS)
    picked = client.run(isa_dispatch.process_level)
    assert set(picked.values()) == {runnable_levels()[-1]}, picked


def test_the_score_command_on_a_running_cluster(files, client, models, workdir, tmp_path):
    # `score --scheduler ADDRESS` in its own process, on this module's cluster; compiled
    # for the client's CPU (--march native: the workers run on this very machine)
    model = workdir / "classifier.pt"
    torch.jit.save(torch.jit.script(models["classifier"]), str(model))
    out = tmp_path / "scored.root"
    args = [model, "--tree", "events", "--columns", ",".join(sh.VARIABLES), "--keep", "id",
            "--output", out, "--scheduler", client.scheduler.address, "--partitions",
            PARTITIONS, "--march", "native"]
    for name in files:
        args += ["--input", name]
    proc = sh.score_cli(*args, cwd=tmp_path, timeout=JOB_SECONDS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"scored {FILES * PER_FILE} events in " in proc.stdout
    cols = sh.with_friend(files, "events", out, ["id", "scores.id", "scores.score",
                                                 *sh.VARIABLES])
    # in the input's order: partitions are merged in the order of their entry ranges
    assert list(cols["scores.id"]) == list(cols["id"]) == list(range(FILES * PER_FILE))
    (want,) = sh.torch_outputs(models["classifier"], sh.stack(cols, sh.VARIABLES))
    sh.assert_close(cols["scores.score"], want[:, 0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scored.root"]  # no leftovers


@pytest.fixture(scope="module")
def jet_files(workdir):
    return [str(sh.write_jets(workdir / f"jets_{i}.root", 300, seed=40 + i)) for i in range(2)]


@pytest.mark.parametrize(("shapes", "options"), [
    ([f"1,{sh.PARTICLES},3", f"1,{sh.PARTICLES}"], ["--particles", "truncate"]),
    (["1,-1,3", "1,-1"], ["--max-particles", sh.MAX_IN_DATA]),
], ids=["fixed-axis", "run-time-axis"])
def test_jagged_particle_lists_on_a_running_cluster(jet_files, client, workdir, tmp_path,
                                                    shapes, options):
    # DeepSets over j_pt, j_eta, j_phi (0 to 12 particles per event) with its mask, sorted
    # by pt: padded and truncated to 8 particles, or each event at its own count (the
    # model converted with its particle axis chosen at run time); entry-aligned output
    torch.manual_seed(29)
    model = sh.DeepSets().eval()
    path = workdir / "deepsets_distributed.pt"
    torch.jit.save(torch.jit.script(model), str(path))
    out = tmp_path / "scored.root"
    args = [path, "--tree", "jets", "--columns", ",".join(sh.PARTICLE_FEATURES), "--columns",
            rdf.MASK, "--sort-by", "j_pt", *options, "--keep", "id", "--output", out,
            "--scheduler", client.scheduler.address, "--partitions", PARTITIONS, "--march",
            "native"]
    for name in jet_files:
        args += ["--input", name]
    for shape in shapes:
        args += ["--shape", shape]
    proc = sh.score_cli(*args, cwd=tmp_path, timeout=JOB_SECONDS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "scored 600 events in " in proc.stdout
    cols = sh.with_friend(jet_files, "jets", out, ["id", "scores.id", "scores.score",
                                                   *sh.PARTICLE_FEATURES])
    assert list(cols["scores.id"]) == list(cols["id"]) == [*range(300), *range(300)]
    if "--max-particles" in options:  # Torch on each event alone, at its own length
        want = sh.at_own_length(model, cols, sh.PARTICLE_FEATURES, sh.MAX_IN_DATA, "j_pt")
        sh.assert_close(cols["scores.score"], want)
    else:  # Torch on the padded tensors
        x, mask = sh.padded(cols, sh.PARTICLE_FEATURES, sort_by="j_pt")
        (want,) = sh.torch_outputs(model, x, mask)
        sh.assert_close(cols["scores.score"], want[:, 0])


def test_a_worker_killed_mid_job_loses_nothing(files, client, converted, models, tmp_path):
    # Slow partitions (2 ms per entry) so that the job is still running when the worker
    # process running the first partition is killed (once its task is processing, i.e.
    # after DistRDF shipped the files); the nanny restarts it and Dask reruns the work.
    # Written as the score command writes (a file per partition, merged in range order).
    df = distributed_frame(files, client).Define("slow", "gSystem->Sleep(2); return 0;")
    scored = rdf.define(df, "score", converted["classifier"], sh.VARIABLES)
    pids = client.run(os.getpid)
    killed: list[int] = []

    def kill_one():
        deadline = time.monotonic() + JOB_SECONDS
        while time.monotonic() < deadline and not killed:
            busy = [address for address, keys in client.processing().items() if keys]
            if busy:
                time.sleep(0.5)
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(pids[busy[0]])
            time.sleep(0.05)

    threading.Thread(target=kill_one, daemon=True).start()
    out = tmp_path / "scored.root"
    scratch = tmp_path / "parts"
    scratch.mkdir()
    bounded(lambda: command._snapshot(scored, "scores", out, ["id", "score", "slow"], scratch))
    assert killed, "no partition was seen processing"
    assert killed[0] not in client.run(os.getpid).values()
    cols = sh.with_friend(files, "events", out, ["id", "scores.id", "scores.score",
                                                 *sh.VARIABLES])
    # nothing lost, nothing twice, in the input's order
    assert list(cols["scores.id"]) == list(cols["id"]) == list(range(FILES * PER_FILE))
    (want,) = sh.torch_outputs(models["classifier"], sh.stack(cols, sh.VARIABLES))
    sh.assert_close(cols["scores.score"], want[:, 0])


def test_unusable_weights_give_a_clear_client_error(files, client, models, workdir):
    # A scorer of its own (its own cache directory): its shipped weight file is broken
    # after define(), so every worker fails to make a Session from it.
    conversion = sofie_pytorch.convert(models["classifier"], workdir / "broken", [[1, 4]])
    scored = rdf.define(distributed_frame(files, client), "score", conversion, sh.VARIABLES,
                        workdir=workdir / "broken_scorers")
    scorer_for(conversion).model.weights.write_text("garbage\n")
    start = time.monotonic()
    with pytest.raises(Exception, match="could not make the model's Session"):
        bounded(lambda: scored.Sum("score").GetValue())
    assert time.monotonic() - start < JOB_SECONDS
