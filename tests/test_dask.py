"""Dask backend: a real `dask scheduler` and two `dask worker` processes on 127.0.0.1.

The same dataset (same sha256) and the same sweep results come out of the local
process pool, one worker, ``local:2`` and an external scheduler, and after a
worker is SIGKILLed mid-run.  Every process is started in its own session and
killed with its whole process group when the test ends, pass or fail.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from efnn_core import data, parallel, sweep  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30  # seconds for the scheduler and workers to come up
GEN = dict(L=8, count=48, seed=11, chunk=4, progress=False)  # 12 shards
GRID = b"""
[train]
system = "three_spin_binary"
epochs = 2
train_count = 2000
validation = 500
batch_size = 256
[grid]
arch = ["efnn", "dnn"]
width = [8]
layers = [1]
seed = [0]
[evaluate]
test_sets = ["three_spin_binary_test"]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dask_cluster(tmp: Path, workers: int = 2):
    """(address, worker processes) of a scheduler and ``workers`` single-threaded workers, always cleaned up."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "DASK_DISTRIBUTED__WORKER__DAEMON": "False", "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}
    address = f"tcp://127.0.0.1:{_free_port()}"
    procs = []

    def start(module, *args, log):
        procs.append(subprocess.Popen([sys.executable, "-m", f"distributed.cli.{module}", *args], cwd=ROOT, env=env,
                                      stdout=open(tmp / log, "w"), stderr=subprocess.STDOUT, start_new_session=True))
        return procs[-1]

    try:
        start("dask_scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard",
              log="scheduler.log")
        pool = [start("dask_worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                      "--memory-limit", "0", "--name", f"w{i}", "--local-directory", str(tmp / f"w{i}"),
                      log=f"worker{i}.log") for i in range(workers)]
        with distributed.Client(address, timeout=START_TIMEOUT) as client:
            client.wait_for_workers(workers, timeout=START_TIMEOUT)
        yield address, pool
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
        for p in procs:
            p.wait(10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dask")
    with dask_cluster(tmp) as c:
        yield c


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The dataset from the default local pool (2 processes)."""
    return data.generate("d", out_dir=tmp_path_factory.mktemp("local"), workers=2, **GEN)["sha256_energies"]


def test_same_sha256_on_one_worker_local2_and_an_external_scheduler(tmp_path, cluster, reference):
    address, _ = cluster
    one = data.generate("d", out_dir=tmp_path / "one", workers=1, **GEN)
    with parallel.executor_from("local:2") as ex:
        local2 = data.generate("d", out_dir=tmp_path / "local2", executor=ex, **GEN)
    with parallel.executor_from(address) as ex:
        assert "2 workers" in parallel.describe(ex)
        external = data.generate("d", out_dir=tmp_path / "ext", executor=ex, **GEN)
    assert one["sha256_energies"] == local2["sha256_energies"] == external["sha256_energies"] == reference


def test_cli_with_the_environment_variable(tmp_path, cluster, reference, monkeypatch):
    from efnn_core.cli import main

    monkeypatch.setenv(parallel.SCHEDULER_ENV, cluster[0])
    args = ["data", "generate", "--L", "8", "--count", "48", "--seed", "11", "--chunk", "4", "--name", "d",
            "--out", str(tmp_path)]
    assert main(args) == 0
    assert data.manifest("d", tmp_path)["sha256_energies"] == reference


def test_sweep_results_equal_the_local_run(tmp_path, cluster):
    (tmp_path / "g.toml").write_bytes(GRID)
    local = sweep.run(tmp_path / "g.toml", tmp_path / "local", workers=1, progress=False)
    with parallel.executor_from(cluster[0]) as ex:
        remote = sweep.run(tmp_path / "g.toml", tmp_path / "dask", executor=ex, progress=False)
    metric = "rel_error@three_spin_binary_test"
    a, b = (df.set_index("job").sort_index() for df in (local, remote))
    assert list(a.index) == list(b.index) and (a["status"] == "ok").all() and (b["status"] == "ok").all()
    np.testing.assert_array_equal(a[metric], b[metric])
    np.testing.assert_array_equal(a["parameters"], b["parameters"])
    assert all((tmp_path / "dask" / c).with_suffix(".safetensors").is_file() for c in b["checkpoint"])


def test_a_worker_killed_mid_run_costs_only_its_shards(tmp_path, reference):
    """Slower shards (L = 12) so that the kill lands while both workers are busy."""
    kw = {**GEN, "L": 12, "count": 40, "chunk": 2}
    want = data.generate("k", out_dir=tmp_path / "local", workers=2, **kw)["sha256_energies"]
    with dask_cluster(tmp_path) as (address, workers):
        part = tmp_path / "out" / ".partial" / "k"
        killed = threading.Event()

        def kill_after_first_shard():
            t0 = time.time()
            while time.time() - t0 < 60 and not list(part.glob("0*.npz")):
                time.sleep(0.02)
            os.killpg(workers[0].pid, signal.SIGKILL)
            killed.set()

        killer = threading.Thread(target=kill_after_first_shard, daemon=True)
        with parallel.executor_from(address) as ex:
            killer.start()
            m = data.generate("k", out_dir=tmp_path / "out", executor=ex, **kw)
        killer.join(5)
        assert killed.is_set() and workers[0].wait(10) is not None
    assert m["sha256_energies"] == want


def _worker_settings(_):
    import dask

    return {k: dask.config.get(k) for k in parallel.DASK_SETTINGS}


def test_local_clusters_run_with_the_quiet_settings():
    """local:N's workers (and the scheduler and nannies, which live in this process) run with
    parallel.DASK_SETTINGS: no stack profiler, 1 s health checks and memory reads (docs/SCALING.md: these
    took 3-4 % of 2 cores from the tasks)."""
    with parallel.executor_from("local:1") as ex:
        assert ex.submit(_worker_settings, 0).result(timeout=60) == parallel.DASK_SETTINGS
        cluster = ex._client.cluster
        (nanny,) = cluster.workers.values()
        assert cluster.scheduler.periodic_callbacks["tick"].callback_time == 1000  # ms
        assert nanny.periodic_callbacks["tick"].callback_time == 1000
        assert nanny.periodic_callbacks["memory_monitor"].callback_time == 1000
