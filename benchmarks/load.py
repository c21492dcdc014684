"""Load test: N concurrent sessions against a `streamlit run` on 127.0.0.1 (bounded in count and time).

    python benchmarks/load.py --scenario all          # the three scenarios of issue 15, about 3 minutes
    python benchmarks/load.py --scenario overview --sessions 30
    python benchmarks/load.py --scenario l40 --sessions 30 --timeout 120
    python benchmarks/load.py --scenario train --trainings 3

Sessions are light clients (``benchmarks/stclient.py``: Streamlit's own websocket protocol, no browser),
so the measured CPU is the server's, not thirty chromiums'. Each scenario starts a fresh server
(``.streamlit/config.toml`` applies; ``EFNN_*`` settings pass through), opens the pages it uses once to
warm it (imports, caches: a running server has done this), runs, and reports. Throughout, a separate
process polls ``/_stcore/health`` every 0.1 s and samples the RSS of the server's process tree (workers
included; summed RSS counts pages shared by forked workers more than once, so it is an upper bound).

Scenarios and goals (issue 15, on 2 cores):

* ``overview``: ``--sessions`` open the start page at once (HTTP GET of the page, websocket, first script
  run), ``--rounds`` times, 3 s apart (fresh sessions each time). Goal: every open completes in <= 5 s.
* ``l40``: ``--sessions`` open Lattice lab, double exchange at L = 40, each a different random
  configuration (``?system=double_exchange&L=40&preset=random&seed=K``), then wait (their exact-energy
  fragments poll as a browser's would) until ``--timeout``. Goals: peak RSS under the memory budget
  (``EFNN_MEMORY_BUDGET_GB``, default 4), no error shown to anyone, every user whose solve has not started
  sees a queue position. Reported: first render, exact energies received, who saw a position.
* ``train``: ``--trainings`` sessions open Train and press Play (default comparison); once all train, a
  further session opens Lattice lab at L = 10 and reruns it ``--reruns`` times with a new seed each time
  (the seed widget, as a user typing). Goal: each rerun <= 2 s.
* every scenario: health p95 <= 0.5 s and max <= 1 s.

A scenario whose server tree grows past ``--rss-abort`` (default 1.5 x budget) is stopped and the
server killed, so a regression cannot take the machine down.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [p for p in (str(ROOT),) if p not in sys.path]
from benchmarks.stclient import Session, int_value, trigger  # noqa: E402

MAX_SESSIONS = 60
GiB = 1 << 30
QUEUED = re.compile(r"^exact solve: queued")               # Lattice lab's metric while the solve waits (app/lab.py)
POSITION = re.compile(r"^exact solve: queued: position \d+")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else float("nan")


def budget_bytes() -> int:
    try:
        return int(max(0.25, float(os.environ.get("EFNN_MEMORY_BUDGET_GB", "4"))) * GiB)
    except ValueError:
        return 4 * GiB


# ----------------------------------------------------------------------------- the server
def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (children of every thread: pool workers are started from threads)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
    return out


def tree_stats(pid: int) -> tuple[int, float]:
    """(summed RSS bytes, summed user+system CPU seconds) of the process tree of ``pid``."""
    rss, cpu, page, tick = 0, 0.0, os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                rss += int(f.read().split()[1]) * page
            with open(f"/proc/{p}/stat") as f:
                x = f.read().rsplit(")", 1)[1].split()
            cpu += (int(x[11]) + int(x[12])) / tick
        except (OSError, ValueError, IndexError):
            pass
    return rss, cpu


class Server:
    """`streamlit run app/streamlit_app.py` on a free loopback port, in its own process group."""

    def __init__(self, log: Path | None = None, env: dict | None = None):
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log, "w") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app/streamlit_app.py", "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})

    def wait_healthy(self, timeout: float = 90.0) -> None:
        t0 = time.time()
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() - t0 > timeout:
                raise RuntimeError(f"streamlit did not start on {self.url} (exit code {self.proc.poll()})")
            time.sleep(0.3)

    def stop(self) -> None:
        """End the server and everything it started (its process group), always."""
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # workers that outlived the server
        except ProcessLookupError:
            pass
        if self._log is not subprocess.DEVNULL:
            self._log.close()


# ----------------------------------------------------------------------------- the monitor
def _monitor(url: str, pid: int, conn, abort_rss: int) -> None:
    """Child process: every 0.1 s the health latency and the server tree's RSS and CPU; kills the server's
    process group if its RSS passes ``abort_rss``. Sends (t, latency, rss, cpu) tuples until told to stop."""
    while not conn.poll():
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
                r.read()
            lat = time.perf_counter() - t
        except OSError:
            lat = float("inf")
        rss, cpu = tree_stats(pid)
        conn.send((time.time(), lat, rss, cpu))
        if rss > abort_rss:
            conn.send(("abort", rss))
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        time.sleep(max(0.0, 0.1 - (time.perf_counter() - t)))
    conn.send(("done",))


class Monitor:
    def __init__(self, server: Server, abort_rss: int):
        self._parent, child = mp.Pipe()
        self._proc = mp.get_context("fork").Process(target=_monitor, args=(server.url, server.proc.pid, child, abort_rss),
                                                    daemon=True)
        self._proc.start()
        self.samples: list[tuple] = []
        self.aborted: int | None = None

    def drain(self, until_done: float = 0.0) -> None:
        """Take the samples sent so far (the pipe must not fill up); with ``until_done``, wait up to that
        many seconds for the monitor's last message."""
        end = time.time() + until_done
        try:
            while self._parent.poll(max(0.0, end - time.time()) if until_done else 0):
                m = self._parent.recv()
                if m[0] == "abort":
                    self.aborted = m[1]
                elif m[0] == "done":
                    return
                else:
                    self.samples.append(m)
        except (EOFError, OSError):
            pass

    def stop(self) -> None:
        try:
            self._parent.send("stop")
        except OSError:
            pass
        self.drain(until_done=10)
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()

    @property
    def health(self) -> list[float]:
        return [s[1] for s in self.samples]

    @property
    def peak_rss(self) -> int:
        return max((s[2] for s in self.samples), default=0)

    def cores(self) -> float:
        """Mean cores the server tree used over the sampled window."""
        if len(self.samples) < 2:
            return float("nan")
        (t0, *_, c0), (t1, *_, c1) = self.samples[0], self.samples[-1]
        return (c1 - c0) / max(t1 - t0, 1e-9)


# ----------------------------------------------------------------------------- scenarios
@dataclass
class Result:
    name: str
    rows: list[tuple[str, str, str, bool | None]] = field(default_factory=list)  # (what, figure, goal, met)
    notes: list[str] = field(default_factory=list)

    def add(self, what, figure, goal="", met=None):
        self.rows.append((what, figure, goal, met))


async def http_get(url: str, timeout: float = 30.0) -> int:
    """A browser's first request (the page's HTML); returns the bytes read."""
    host, port = url.split("//")[1].split(":")
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout)
    writer.close()
    return len(data)


async def warm(url: str, pages: list[tuple[str, str]]) -> None:
    for page, query in pages:
        async with Session.open(url) as s:
            run = await s.rerun(page=page, query=query, timeout=180)
            if run.status != "ok":
                raise RuntimeError(f"warm-up of /{page}?{query} did not finish: {run.status} {run.errors}")


async def scenario_overview(url: str, n: int, rounds: int, timeout: float, res: Result) -> None:
    """``rounds`` bursts of ``n`` simultaneous first opens of the start page (fresh sessions each), 3 s apart."""
    done, errors, total, failures = [], 0, 0, []
    for r in range(rounds):
        if r:
            await asyncio.sleep(3.0)
        sessions = [Session(url) for _ in range(n)]
        t0 = time.perf_counter()

        async def one(s: Session):
            await http_get(url)
            await s.connect()
            run = await s.rerun(page="", query="", timeout=max(1.0, timeout - (time.perf_counter() - t0)))
            return run, time.perf_counter() - t0

        try:
            out = await asyncio.gather(*(one(s) for s in sessions), return_exceptions=True)
        finally:
            await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        total += n
        done += [o[1] for o in out if not isinstance(o, BaseException) and o[0].status == "ok"]
        errors += sum(1 for o in out if isinstance(o, BaseException) or o[0].errors)
        failures += [o for o in out if isinstance(o, BaseException)]
    res.add(f"opens completed ({rounds} x {n} at once, within {timeout:.0f} s)", f"{len(done)} of {total}",
            f"{total}", len(done) == total)
    if done:
        res.add("open completion p50 / p95 / max", f"{pct(done, 50):.2f} / {pct(done, 95):.2f} / {max(done):.2f} s",
                "max <= 5 s", len(done) == total and max(done) <= 5.0)
    res.add("sessions with an error or exception", f"{errors}", "0", errors == 0)
    if failures:
        res.notes.append(f"session failed: {failures[0]!r}")


async def scenario_l40(url: str, n: int, timeout: float, res: Result, budget: int, monitor: Monitor) -> None:
    sessions = [Session(url) for _ in range(n)]
    first: dict[int, float] = {}
    exact: dict[int, float] = {}
    t0 = time.perf_counter()

    async def one(k: int, s: Session):
        await http_get(url)
        await s.connect()
        run = await s.rerun(page="lattice_lab", query=f"system=double_exchange&L=40&preset=random&seed={k + 1}",
                            timeout=timeout)
        if run.status == "ok":
            first[k] = time.perf_counter() - t0
        while time.perf_counter() - t0 < timeout and not s.closed:
            v = s.metrics.get("Exact energy")
            if v is not None and not v.startswith("pending"):
                exact[k] = time.perf_counter() - t0
                return
            if monitor.aborted:
                return
            await asyncio.sleep(0.2)

    try:
        await asyncio.gather(*(one(k, s) for k, s in enumerate(sessions)), return_exceptions=True)
    finally:
        queued = [any(QUEUED.search(t) for t in s.seen) for s in sessions]
        positions = [any(POSITION.search(t) for t in s.seen) for s in sessions]
        errors = [e for s in sessions for e in s.errors]
        sample = next((t for s in sessions for t in s.seen if POSITION.search(t)), None)
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    res.add(f"first render (of {n})", f"{len(first)}: p50 {pct(list(first.values()), 50):.2f} / max "
            f"{max(first.values(), default=float('nan')):.2f} s", f"{n}", len(first) == n)
    res.add(f"exact energies received within {timeout:.0f} s", f"{len(exact)}"
            + (f" (last at {max(exact.values()):.0f} s)" if exact else ""), "", None)
    res.add("users whose solve was queued / saw their position", f"{sum(queued)} / {sum(positions)}",
            "every queued user", sum(queued) == sum(positions))
    res.add("errors shown (any session)", f"{len(errors)}", "0", not errors)
    res.add("peak RSS of the server tree", f"{monitor.peak_rss / GiB:.2f} GiB", f"< {budget / GiB:.1f} GiB budget",
            monitor.peak_rss < budget and not monitor.aborted)
    if sample:
        res.notes.append(f"a position message: {sample[:120]!r}")
    if errors:
        res.notes.append(f"first error: {errors[0][:160]!r}")


async def scenario_train(url: str, trainings: int, reruns: int, timeout: float, res: Result) -> None:
    trainers = [Session(url) for _ in range(trainings)]
    t0 = time.perf_counter()

    def busy(s: Session) -> bool:
        wid = s.widget_id("tr_pause")
        return wid is not None and not s.widgets[wid][1].disabled

    try:
        for s in trainers:
            await s.connect()
        opened = await asyncio.gather(*(s.rerun(page="train", query="epochs=500", timeout=timeout) for s in trainers))
        for s, run in zip(trainers, opened):
            play = s.widget_id("tr_play")
            if run.status != "ok" or play is None:
                raise RuntimeError(f"the Train page did not render a Play button: {run.status} {run.errors}")
        await asyncio.gather(*(s.rerun(widgets=[trigger(s.widget_id("tr_play"))], timeout=timeout) for s in trainers))
        while not all(busy(s) for s in trainers) and time.perf_counter() - t0 < timeout:
            await asyncio.sleep(0.2)
        started = sum(busy(s) for s in trainers)
        res.add("trainings running", f"{started} of {trainings}", f"{trainings}", started == trainings)
        times, exact_ok = [], 0
        async with Session.open(url) as lab:
            run = await lab.rerun(page="lattice_lab", query="L=10&seed=1", timeout=timeout)
            seed_id = lab.widget_id("lab.seed")
            if run.status != "ok" or seed_id is None:
                raise RuntimeError(f"Lattice lab did not render its seed input: {run.status} {run.errors}")
            for k in range(reruns):
                run = await lab.rerun(widgets=[int_value(seed_id, 100 + k)], timeout=timeout)
                if run.status == "ok":
                    times.append(run.seconds)
                    v = run.metric("Exact energy")
                    exact_ok += v is not None and not v.startswith("pending")
                await asyncio.sleep(0.3)  # a user looks at the result before the next change
            errors = list(lab.errors)
        still = sum(busy(s) for s in trainers)
        res.add(f"Lattice lab L = 10 reruns completed (of {reruns})", f"{len(times)}", f"{reruns}", len(times) == reruns)
        if times:
            res.add("rerun p50 / p95 / max", f"{pct(times, 50):.2f} / {pct(times, 95):.2f} / {max(times):.2f} s",
                    "max <= 2 s", max(times) <= 2.0 and len(times) == reruns)
        res.add("reruns showing the exact energy at once", f"{exact_ok} of {len(times)}", "", None)
        res.add("errors shown to the Lattice lab user", f"{len(errors)}", "0", not errors)
        res.add("trainings still running at the end", f"{still} of {trainings}", "", None)
        terr = [e for s in trainers for e in s.errors]
        res.add("errors shown to the trainers", f"{len(terr)}", "0", not terr)
        if terr:
            res.notes.append(f"first trainer error: {terr[0][:160]!r}")
    finally:
        await asyncio.gather(*(s.close() for s in trainers), return_exceptions=True)


SCENARIOS = ("overview", "l40", "train")
WARM = {"overview": [("", "")], "l40": [("lattice_lab", "")],
        "train": [("train", ""), ("lattice_lab", "L=10&seed=1")]}


def run_scenario(name: str, a) -> Result:
    res = Result(name)
    budget = budget_bytes()
    server = Server(a.log and Path(a.log).with_suffix(f".{name}.log"))
    monitor = None
    try:
        server.wait_healthy()
        asyncio.run(warm(server.url, WARM[name]))
        monitor = Monitor(server, int(a.rss_abort * budget))
        t0 = time.perf_counter()
        if name == "overview":
            coro = scenario_overview(server.url, a.sessions, a.rounds, a.timeout_overview, res)
        elif name == "l40":
            coro = scenario_l40(server.url, a.sessions, a.timeout, res, budget, monitor)
        else:
            coro = scenario_train(server.url, a.trainings, a.reruns, a.timeout, res)
        async def monitored():
            async def drain():
                while True:
                    monitor.drain()
                    await asyncio.sleep(0.5)
            d = asyncio.create_task(drain())
            try:
                await asyncio.wait_for(coro, a.timeout + 120)
            finally:
                d.cancel()

        try:
            asyncio.run(monitored())
        except Exception as err:  # noqa: BLE001 - reported, the server is still cleaned up
            res.notes.append(f"scenario stopped: {err!r}")
        wall = time.perf_counter() - t0
        monitor.stop()
        h = [x for x in monitor.health if x != float("inf")]
        fails = len(monitor.health) - len(h)
        res.add(f"/_stcore/health p50 / p95 / max ({len(monitor.health)} polls, {fails} failed)",
                f"{pct(monitor.health, 50):.3f} / {pct(monitor.health, 95):.3f} / {max(monitor.health, default=0):.3f} s",
                "p95 <= 0.5 s, max <= 1 s",
                bool(monitor.health) and pct(monitor.health, 95) <= 0.5 and max(monitor.health) <= 1.0)
        if monitor.samples:
            t_first = monitor.samples[0][0]
            worst = sorted(monitor.samples, key=lambda x: -x[1])[:3]
            res.notes.append("slowest health polls: " + ", ".join(f"{x[1]:.2f} s at +{x[0] - t_first:.0f} s" for x in worst))
        if name != "l40":
            res.add("peak RSS of the server tree", f"{monitor.peak_rss / GiB:.2f} GiB", f"< {budget / GiB:.1f} GiB",
                    monitor.peak_rss < budget)
        res.add("server tree CPU (mean cores used)", f"{monitor.cores():.2f} over {wall:.0f} s", "", None)
        if monitor.aborted:
            res.notes.append(f"ABORTED: the server tree reached {monitor.aborted / GiB:.2f} GiB (--rss-abort); killed")
    finally:
        if monitor is not None and monitor._proc.is_alive():
            monitor.stop()
        server.stop()
    return res


def report(results: list[Result]) -> bool:
    ok = True
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(f"\nload averages at the end: {load}  ({os.cpu_count()} cores)")
    for r in results:
        print(f"\n== {r.name}")
        w = max(len(x[0]) for x in r.rows) if r.rows else 10
        v = max(len(x[1]) for x in r.rows) if r.rows else 10
        for what, fig, goal, met in r.rows:
            mark = "" if met is None else ("  ok" if met else "  MISSED")
            print(f"  {what:<{w}}  {fig:<{v}}  {('goal ' + goal) if goal else '':<28}{mark}")
            ok &= met is not False
        for n in r.notes:
            print(f"  note: {n}")
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="all", choices=("all",) + SCENARIOS)
    ap.add_argument("--sessions", type=int, default=30, help="sessions of the overview and l40 scenarios")
    ap.add_argument("--rounds", type=int, default=3, help="bursts of --sessions Overview opens, 3 s apart")
    ap.add_argument("--trainings", type=int, default=3)
    ap.add_argument("--reruns", type=int, default=20, help="Lattice lab reruns during the trainings")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds of the l40 and train scenarios")
    ap.add_argument("--timeout-overview", type=float, default=60.0)
    ap.add_argument("--rss-abort", type=float, default=1.5, help="kill the server above this multiple of the budget")
    ap.add_argument("--log", default="", help="write each server's output to LOG.<scenario>.log")
    a = ap.parse_args(argv)
    if not 1 <= a.sessions <= MAX_SESSIONS or not 1 <= a.trainings + 1 <= MAX_SESSIONS:
        print(f"error: sessions must be in 1..{MAX_SESSIONS}", file=sys.stderr)
        return 2
    if not (0 < a.timeout <= 600 and 0 < a.timeout_overview <= 600 and 1 <= a.reruns <= 100 and a.rss_abort > 0
            and 1 <= a.rounds <= 10):
        print("error: --timeout in (0, 600], --reruns in 1..100, --rounds in 1..10, --rss-abort > 0", file=sys.stderr)
        return 2
    results = []
    for name in SCENARIOS if a.scenario == "all" else (a.scenario,):
        print(f"scenario {name} ...", flush=True)
        results.append(run_scenario(name, a))
    return 0 if report(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
