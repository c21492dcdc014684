"""app/jobs.py: bounded worker processes, FIFO queue positions, cancel, memory budget, session cleanup."""

import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import jobs  # noqa: E402
from efnn_core.systems import DoubleExchange  # noqa: E402


def _energy(L, seed):
    de = DoubleExchange()
    return de.energy(de.sample(L, 1, seed)[0])


def _sleep(s):
    time.sleep(s)
    return s


def _hog(n):
    return len(bytearray(n))


def _fail():
    raise ValueError("bad input in the worker")


@pytest.fixture
def pool():
    p = jobs.Pool(workers=1, budget=4 * jobs.GiB)
    yield p
    p.shutdown()


def test_result_in_a_worker_equals_the_direct_call(pool):
    job = pool.submit(_energy, 6, 3, owner="a", memory=64 << 20)
    assert job.wait(60).state == "done"
    assert job.result == _energy(6, 3)


def test_queue_positions_and_cancel(pool):
    a = pool.submit(_sleep, 30, owner="a", memory=1 << 20)
    b = pool.submit(_sleep, 0.1, owner="b", memory=1 << 20)
    c = pool.submit(_sleep, 0.1, owner="c", memory=1 << 20)
    t0 = time.time()
    while a.position() != 0 and time.time() - t0 < 30:
        time.sleep(0.05)
    assert (a.position(), b.position(), c.position()) == (0, 1, 2)
    b.cancel()
    assert b.state == "cancelled" and c.position() == 1
    a.cancel()  # a running job: its process is terminated
    assert a.wait(10).state == "cancelled" and time.time() - t0 < 25
    assert c.wait(30).state == "done" and c.position() is None


def test_a_job_larger_than_the_budget_is_refused_with_the_bound():
    p = jobs.Pool(workers=1, budget=jobs.GiB)
    try:
        with pytest.raises(jobs.JobError, match="budget of 1.00 GiB"):
            p.submit(_sleep, 0, owner="a", memory=2 * jobs.GiB, label="L = 40 energy")
    finally:
        p.shutdown()


def test_an_underestimated_job_fails_alone(pool):
    job = pool.submit(_hog, 3 * jobs.GiB, owner="a", memory=16 << 20)  # claims 16 MB, asks for 3 GB
    assert job.wait(60).state == "failed" and "memory" in job.error
    ok = pool.submit(_energy, 4, 0, owner="a", memory=16 << 20)
    assert ok.wait(60).state == "done"


def test_worker_errors_are_one_line(pool):
    job = pool.submit(_fail, owner="a", memory=1 << 20)
    assert job.wait(60).state == "failed" and job.error == "ValueError: bad input in the worker"


def test_memory_budget_holds_jobs_back():
    p = jobs.Pool(workers=4, budget=jobs.rss() + 300 * (1 << 20))
    try:
        a = p.submit(_sleep, 1.0, owner="a", memory=200 << 20)
        b = p.submit(_sleep, 0.1, owner="b", memory=200 << 20)
        time.sleep(0.5)
        assert a.position() == 0 and b.position() == 1  # a free worker, but not the memory
        assert b.wait(30).state == "done" and b.started >= a.finished - 0.2
    finally:
        p.shutdown()


def test_session_watch_ends_the_work_of_a_gone_session(pool):
    alive = {"a": True, "b": True}
    watch = jobs.SessionWatch(pool, alive=lambda o: alive.get(o, True), grace=0.3, period=3600)
    stopped = []
    watch.end_with_session("a", lambda: stopped.append("a"))
    ja = pool.submit(_sleep, 30, owner="a", memory=1 << 20)
    jb = pool.submit(_sleep, 0.1, owner="b", memory=1 << 20)
    alive["a"] = False
    watch.check()  # first seen gone: within the grace (a reload that reconnects keeps its work)
    assert ja.state in ("queued", "running") and not stopped
    time.sleep(0.4)
    watch.check()
    assert ja.wait(10).state == "cancelled" and stopped == ["a"]
    assert jb.wait(30).state == "done"


def test_session_alive_outside_a_server_is_true():
    assert jobs.session_alive("anything") and jobs.current_session() is None
