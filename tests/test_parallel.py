"""The executor seam: map_tasks on the default pool, a thread pool and a process pool; sharded resume."""

import concurrent.futures as cf
import json
import math
import multiprocessing as mp
import os
import time

import numpy as np
import pytest

from efnn_core import data, parallel
from efnn_core.solvers import ed
from efnn_core.systems import DoubleExchange


def _slow_square(x):
    time.sleep(0.01 * (x % 3))  # finish out of order
    return x * x


def _threads(_):
    return os.environ.get("OMP_NUM_THREADS")


def _fails(x):
    if x == 3:
        raise ArithmeticError("task 3 failed")
    return x


EXECUTORS = {
    "default": lambda: None,
    "threads": lambda: cf.ThreadPoolExecutor(2),
    "processes": lambda: cf.ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")),
}


@pytest.mark.parametrize("kind", list(EXECUTORS))
def test_map_tasks_returns_every_result_with_its_index(kind):
    ex = EXECUTORS[kind]()
    try:
        out = list(parallel.map_tasks(_slow_square, list(range(12)), executor=ex, workers=2, window=3))
    finally:
        if ex is not None:
            ex.shutdown()
    assert sorted(out) == [(i, i * i) for i in range(12)]


def test_default_pool_workers_have_one_blas_thread_and_environment_is_restored():
    before = os.environ.get("OMP_NUM_THREADS")
    got = dict(parallel.map_tasks(_threads, [0, 1, 2], workers=2))
    assert set(got.values()) == {"1"}
    assert os.environ.get("OMP_NUM_THREADS") == before


def test_one_worker_runs_in_this_process_and_iterables_work():
    calls = []
    out = list(parallel.map_tasks(lambda x: calls.append(x) or -x, iter(range(4)), workers=1))
    assert out == [(0, 0), (1, -1), (2, -2), (3, -3)] and calls == [0, 1, 2, 3]


def test_progress_callback_counts_and_can_cancel():
    seen = []
    list(parallel.map_tasks(math.sqrt, [1, 4, 9], workers=1, progress=lambda d, t: seen.append((d, t))))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    with cf.ThreadPoolExecutor(1) as ex:
        with pytest.raises(InterruptedError, match="after 2 of 50 tasks"):
            list(parallel.map_tasks(_slow_square, list(range(50)), executor=ex, window=2,
                                    progress=lambda d, t: d < 2))


def test_closing_early_cancels_the_rest():
    started = []

    def record(x):
        started.append(x)
        time.sleep(0.02)
        return x

    with cf.ThreadPoolExecutor(1) as ex:
        gen = parallel.map_tasks(record, list(range(100)), executor=ex, window=4)
        next(gen)
        gen.close()
    assert len(started) <= 6  # the window, not the 100 tasks


def test_a_task_error_reaches_the_caller_and_the_pool_is_ended():
    with pytest.raises(ArithmeticError, match="task 3 failed"):
        list(parallel.map_tasks(_fails, list(range(8)), workers=2))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_worker_counts_are_refused(bad):
    with pytest.raises(ValueError, match="workers must be"):
        list(parallel.map_tasks(math.sqrt, [1], workers=bad))


@pytest.mark.parametrize("address, message", [
    ("local:0", "between 1 and"), ("local:x", "between 1 and"), ("local:100000", "between 1 and"),
    ("host:8786", "neither local:N"), ("tcp://", "neither local:N")])
def test_scheduler_addresses_are_checked_before_anything_starts(address, message):
    with pytest.raises(parallel.SchedulerError, match=message):
        parallel.scheduler_address(address)


def test_no_address_means_the_local_pool_and_no_dask(monkeypatch):
    monkeypatch.delenv(parallel.SCHEDULER_ENV, raising=False)
    with parallel.executor_from(None) as ex:
        assert ex is None
    monkeypatch.setenv(parallel.SCHEDULER_ENV, "local:3")
    assert parallel.scheduler_address(None) == "local:3"
    assert parallel.scheduler_address("tcp://10.0.0.1:8786") == "tcp://10.0.0.1:8786"


def test_ed_energies_equal_on_every_executor(rng):
    de = DoubleExchange()
    spins = de.sample(4, 9, rng)
    serial = de.energy(spins)
    with cf.ThreadPoolExecutor(2) as ex:
        np.testing.assert_array_equal(ed.energies(de, spins, chunk=2, executor=ex), serial)
    np.testing.assert_array_equal(ed.energies(de, spins, chunk=2, workers=2), serial)


# --------------------------------------------------------------------------- sharded generation
KW = dict(L=4, count=60, seed=5, progress=False)


def test_same_sha256_for_any_shard_size_worker_count_and_executor(tmp_path):
    ref = data.generate("x", out_dir=tmp_path / "a", workers=1, chunk=60, **KW)
    two = data.generate("x", out_dir=tmp_path / "b", workers=2, chunk=7, **KW)
    with cf.ThreadPoolExecutor(3) as ex:
        thr = data.generate("x", out_dir=tmp_path / "c", chunk=11, executor=ex, **KW)
    assert ref["sha256_energies"] == two["sha256_energies"] == thr["sha256_energies"]
    assert data.shard_size(10) == 1000 and data.shard_size(40) == 1


def _interrupted(tmp_path, monkeypatch, **kw):
    real = ed.solve_chunk
    calls = []

    def dies(task):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(task)

    monkeypatch.setattr(ed, "solve_chunk", dies)
    with pytest.raises(KeyboardInterrupt):
        data.generate("x", out_dir=tmp_path, workers=1, **{**KW, **kw})
    monkeypatch.setattr(ed, "solve_chunk", real)


@pytest.mark.parametrize("change, message", [
    (dict(chunk=7), "shard_size 10 \\(now 7\\)"),
    (dict(params={"T": 0.5}), "params"),
    (dict(precision="single"), "precision 'double' \\(now 'single'\\)"),
    (dict(seed=6), "seed 5 \\(now 6\\)"),
])
def test_resuming_with_other_settings_is_refused(tmp_path, monkeypatch, change, message):
    _interrupted(tmp_path, monkeypatch, chunk=10)
    with pytest.raises(data.DatasetError, match=message):
        data.generate("x", out_dir=tmp_path, workers=1, **{**KW, "chunk": 10, **change})
    m = data.generate("x", out_dir=tmp_path, workers=1, **{**KW, "chunk": 10})  # the same settings resume
    assert len(data.load("x", tmp_path)[1]) == m["count"] == 60


def test_a_tampered_shard_is_refused(tmp_path, monkeypatch):
    _interrupted(tmp_path, monkeypatch, chunk=10)
    shard = tmp_path / ".partial" / "x" / "00000000-00000010.npz"
    with np.load(shard) as z:
        kept = {k: z[k] for k in z.files}
    np.savez(shard, **{**kept, "energies": kept["energies"] + 1e-9})
    with pytest.raises(data.DatasetError, match="does not match its configurations or its own checksum"):
        data.generate("x", out_dir=tmp_path, workers=1, chunk=10, **KW)
    json.loads((tmp_path / ".partial" / "x" / "plan.json").read_text())  # plan intact


@pytest.mark.parametrize("kw, message", [
    (dict(chunk=0), "chunk .* must be a whole number >= 1"),
    (dict(chunk=-1), "chunk .* must be a whole number >= 1"),
    (dict(name="../x"), "no path separators"),
    (dict(name="a/b"), "no path separators"),
])
def test_bad_chunk_and_name_are_refused_before_any_work(tmp_path, kw, message):
    kw = {"name": "ok", **kw}
    with pytest.raises(ValueError, match=message):
        data.generate(kw.pop("name"), out_dir=tmp_path / "out", **{**KW, **kw})
    assert not (tmp_path / "x").exists() and not (tmp_path / "out" / ".partial").exists()


class _FakeClient:
    def __init__(self, scheduler=None, workers=None, error=None):
        self.scheduler_version, self.workers, self.error = scheduler, workers or {}, error

    def run_on_scheduler(self, fn):
        if self.error:
            raise self.error
        return self.scheduler_version or fn()

    def run(self, fn):
        return {w: v or fn() for w, v in self.workers.items()}


def test_a_cluster_that_cannot_import_the_library_or_runs_another_version_is_refused():
    with pytest.raises(parallel.SchedulerError, match="cannot import efnn_core .ModuleNotFoundError.*PYTHONPATH"):
        parallel._check_cluster(_FakeClient(error=ModuleNotFoundError("efnn_core")), "tcp://h:1")
    with pytest.raises(parallel.SchedulerError, match="other efnn_core versions .*'tcp://w2': '0.0.1'"):
        parallel._check_cluster(_FakeClient(workers={"tcp://w1": None, "tcp://w2": "0.0.1"}), "tcp://h:1")
    parallel._check_cluster(_FakeClient(workers={"tcp://w1": None}), "tcp://h:1")  # same version: accepted


def test_pretrain_refuses_zero_jobs_and_trains_parents_before_children(tmp_path, monkeypatch, capsys):
    from efnn_core import pretrain

    with pytest.raises(ValueError, match="--jobs must be a whole number >= 1, got 0"):
        pretrain.run(jobs=0, directory=tmp_path)
    fake = {"child": ["train", "--init", "parent"], "parent": ["train"], "other": ["train"]}
    order = []
    monkeypatch.setattr(pretrain, "recipes", lambda: fake)
    monkeypatch.setattr(pretrain, "_train_recipe", lambda task: order.append(task[0]) or (0, 0.0))
    with cf.ThreadPoolExecutor(1) as ex:
        assert pretrain.run(directory=tmp_path, logs=tmp_path / "logs", executor=ex) == 0
    assert order.index("parent") < order.index("child") and sorted(order) == sorted(fake)
