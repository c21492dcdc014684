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


# ----------------------------------------------------------------------------- interactive jobs (channel=True)
def _echo(chan, factor):
    """Doubles every number it is sent until it is sent "quit"; returns how many it answered."""
    n = 0
    while True:
        cmd = chan.recv(30)
        if cmd is None or cmd == "quit":
            return n
        chan.send(cmd * factor)
        n += 1


def _ticker(chan):
    while True:
        chan.send("tick")
        time.sleep(0.05)


def _events(job, n, timeout=30):
    out, t0 = [], time.time()
    while len(out) < n and time.time() - t0 < timeout:
        try:
            out.append(job.events.get(timeout=0.5))
        except Exception:  # noqa: BLE001 - queue.Empty
            pass
    return out


def test_interactive_job_commands_in_events_out(pool):
    job = pool.submit(_echo, 2, owner="a", memory=1 << 20, channel=True)
    assert job.send(3) and job.send(5)  # sent while possibly still queued: kept until it starts
    assert _events(job, 2) == [6, 10]
    job.send("quit")
    assert job.wait(30).state == "done" and job.result == 2
    assert job.events.get(timeout=5) is jobs.END and not job.send(1)


def test_interactive_job_queued_behind_another_keeps_its_position_and_cancels(pool):
    a = pool.submit(_ticker, owner="a", memory=1 << 20, channel=True)
    b = pool.submit(_echo, 2, owner="b", memory=1 << 20, channel=True)
    assert _events(a, 1) == ["tick"] and a.position() == 0 and b.position() == 1
    b.cancel()
    assert b.state == "cancelled" and b.events.get(timeout=5) is jobs.END
    a.cancel()
    assert a.wait(10).state == "cancelled"


def test_a_killed_worker_gives_a_clear_failed_state_not_a_hang(pool):
    import os
    import signal

    job = pool.submit(_ticker, owner="a", memory=1 << 20, channel=True)
    assert _events(job, 1) == ["tick"]
    os.kill(job._proc.pid, signal.SIGKILL)
    assert job.wait(10).state == "failed"
    assert "killed (signal 9" in job.error
    while job.events.get(timeout=5) is not jobs.END:
        pass


def test_workers_run_at_lower_priority(pool):
    import os

    job = pool.submit(os.nice, 0, owner="a", memory=1 << 20)
    assert job.wait(30).state == "done" and job.result >= os.nice(0) + jobs.NICE


def test_interactive_memory_refusal_names_the_bound():
    p = jobs.Pool(workers=1, budget=jobs.GiB)
    try:
        with pytest.raises(jobs.JobError, match=r"needs about 3.00 GiB.*budget of 1.00 GiB \(EFNN_MEMORY_BUDGET_GB\)"):
            p.submit(_echo, 2, owner="a", memory=3 * jobs.GiB, label="training", channel=True)
    finally:
        p.shutdown()


# ----------------------------------------------------------------------------- the pages on the pool
@pytest.fixture
def one_worker(monkeypatch):
    """The server's pool replaced by one worker, busy with another user's 60 s job."""
    p = jobs.Pool(workers=1, budget=4 * jobs.GiB)
    monkeypatch.setattr(jobs, "_POOL", p)
    monkeypatch.setattr(jobs, "_WATCH", jobs.SessionWatch(p, alive=lambda o: True, grace=3600, period=3600))
    blocker = p.submit(_sleep, 60, owner="someone else", memory=1 << 20)
    yield p, blocker
    p.shutdown()


def test_lab_exact_solve_queued_shows_its_position_cancels_and_runs_once_the_worker_is_free(one_worker):
    from tests.test_app import metric, open_page, wait_exact

    pool, blocker = one_worker
    at = open_page("lattice_lab", {"L": "30"})
    assert metric(at, "Exact energy") == "pending…"
    assert metric(at, "exact solve") == "queued: position 1"
    assert pool.stats()["queued"] == 1
    at.button(key="lab_exact_cancel").click().run()
    assert metric(at, "Exact energy") == "cancelled" and pool.stats()["queued"] == 0
    at.button(key="lab_exact_retry").click().run()
    assert metric(at, "exact solve") == "queued: position 1"
    blocker.cancel()
    e = wait_exact(at, 120)
    assert np.isfinite(e) and not at.error and not at.exception


def _tiny_manager():
    from app import catalog, runs
    from efnn_core import data

    info = catalog.system("double_exchange")
    d = {n: data.load(n) for n in (info.train_set, info.test_set)}
    specs = [runs.RunSpec(name=arch, system=info.name, arch=arch, net=dict(family="lattice", layers=1, channels=1),
                          train_set=info.train_set, test_set=info.test_set, train_size=200, test_size=100,
                          train=dict(epochs=400, lr=3e-3, batch_size=50, seed=0, max_seconds=60.0, dtype=info.dtype),
                          temperature=info.temperature) for arch in ("efnn", "dnn")]
    m = runs.Manager()
    m.add(specs, d)
    return m


def _until(cond, timeout=60.0):
    t0 = time.time()
    while not cond() and time.time() - t0 < timeout:
        time.sleep(0.05)
    return cond()


def test_a_queued_training_shows_its_position_and_stop_takes_it_out(one_worker):
    pool, blocker = one_worker
    m = _tiny_manager()
    m.play()
    assert m.busy and m.position() == 1 and pool.stats()["queued"] == 1
    assert {row["status"] for row in m.table()} == {"queued: position 1"}
    m.stop()
    assert pool.stats()["queued"] == 0 and not m.active and not m.busy
    assert [r.status for r in m.runs.values()] == ["not started", "not started"]


def test_training_runs_in_a_worker_process_and_a_killed_worker_fails_the_runs_clearly(one_worker):
    import os
    import signal

    pool, blocker = one_worker
    blocker.cancel()
    m = _tiny_manager()
    m.play()
    assert _until(lambda: all(len(r.events) >= 2 for r in m.runs.values()))
    job = m._job
    assert job.state == "running" and job._proc.pid != os.getpid()
    assert all(r.status == "running" for r in m.runs.values())
    os.kill(job._proc.pid, signal.SIGKILL)
    assert _until(lambda: not m.active, 15), [r.status for r in m.runs.values()]
    assert all(r.status == "failed" and "killed (signal 9" in r.error for r in m.runs.values())
    assert not m.busy


def test_stop_of_a_running_training_keeps_the_best_weights(one_worker):
    pool, blocker = one_worker
    blocker.cancel()
    m = _tiny_manager()
    m.step("batch")
    assert _until(lambda: all(r.events for r in m.runs.values()))
    m.play()
    assert _until(lambda: all(len(r.events) >= 3 for r in m.runs.values()))
    m.stop()
    assert _until(lambda: not m.active, 30)
    assert all(r.status == "stopped (best weights kept)" and r.model is not None for r in m.runs.values())
    assert all(r.predictions.shape == (100,) for r in m.runs.values())
    assert _until(lambda: pool.stats()["running"] == 0, 10)  # the worker ended with its runs


def test_a_paused_training_stays_busy_until_its_last_events_are_in(one_worker):
    """Pause reaches the worker mid-round: the events of that round still come, and the page (which polls
    while busy) must see them. Once busy is False nothing moves, and every run ends the round paused."""
    pool, blocker = one_worker
    blocker.cancel()
    m = _tiny_manager()
    m.play()
    assert _until(lambda: all(len(r.events) >= 3 for r in m.runs.values()))
    m.pause()
    assert m.busy  # the acknowledgement is not in yet
    assert _until(lambda: not m.busy, 30)
    counts = {n: len(r.events) for n, r in m.runs.items()}
    time.sleep(1.5)
    assert {n: len(r.events) for n, r in m.runs.items()} == counts, "events after the pause was acknowledged"
    assert len({r.events[-1]["epoch_x"] for r in m.runs.values()}) == 1  # the round was finished for every run
    assert {row["status"] for row in m.table()} == {"paused"}
    m.stop()
    assert _until(lambda: not m.active, 30)


def test_paused_monte_carlo_chains_are_pending_until_the_last_view_is_in(one_worker):
    from app import work

    pool, blocker = one_worker
    blocker.cancel()
    run = work.RemoteChains(6, ("ed",), "none", chains=1, seed=0)
    assert _until(lambda: (run.poll(), run.view)[1] is not None, 60)
    run.play()
    first = run.view
    assert _until(lambda: (run.poll(), run.view)[1] is not first, 30)
    run.pause()
    assert run.pending
    assert _until(lambda: (run.poll(), not run.pending)[1], 30)
    shown = run.view
    time.sleep(1.5)
    run.poll()
    assert run.view is shown, "a view arrived after the pause was acknowledged"
    run.cancel()


def test_monte_carlo_chains_queued_show_their_position_then_run_in_a_worker(one_worker):
    from streamlit.testing.v1 import AppTest

    pool, blocker = one_worker
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app" / "app_pages" / "monte_carlo.py"),
                           default_timeout=120).run()
    at.number_input[0].set_value(6).run()
    assert any("Queued: position 1" in i.value for i in at.info), [i.value for i in at.info]
    run = at.session_state["mc_run"]
    blocker.cancel()
    assert _until(lambda: (run.poll(), run.view)[1] is not None, 60)
    at.run()
    assert not at.exception and not at.error and not any("Queued" in i.value for i in at.info)
    assert any(m.label == "SLMC: acceptance" for m in at.metric)


def test_methods_measurement_queues_in_the_pool_then_shows_its_points(one_worker):
    from streamlit.testing.v1 import AppTest

    pool, blocker = one_worker
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app" / "app_pages" / "methods.py"),
                           default_timeout=120).run()
    at.select_slider(key="methods.L").set_value(10)
    at.number_input(key="methods.count").set_value(1).run()
    next(b for b in at.button if b.label == "Measure").click().run()
    assert any("Queued: position 1" in i.value for i in at.info), [i.value for i in at.info]
    blocker.cancel()
    t0 = time.time()
    while at.session_state["methods_job"] is not None and time.time() - t0 < 120:
        time.sleep(0.5)
        at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "methods_result" in at.session_state and len(at.session_state["methods_result"][1]) >= 4
    assert at.dataframe, "the measured points are tabulated"


def test_an_exact_solve_over_the_whole_budget_is_one_line_on_the_page(monkeypatch):
    from tests.test_app import open_page

    p = jobs.Pool(workers=1, budget=jobs.GiB // 4)
    monkeypatch.setattr(jobs, "_POOL", p)
    monkeypatch.setattr(jobs, "_WATCH", jobs.SessionWatch(p, alive=lambda o: True, grace=3600, period=3600))
    try:
        at = open_page("lattice_lab", {"L": "40"})
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and "\n" not in errors[0], errors
        assert "needs about 0.55 GiB, more than the server's whole budget of 0.25 GiB (EFNN_MEMORY_BUDGET_GB)" in errors[0]
        assert not at.exception and p.stats()["queued"] == 0
    finally:
        p.shutdown()
