"""Heavy work of every session of one server in a bounded pool of worker processes, with a queue.

A class shares one ``streamlit run``: ED above a size, training and Monte Carlo must not run on the
server's own threads (they hold the GIL and its memory), and thirty students asking for L = 40 at once
must not take the machine down.  So:

* ``submit(fn, *args, owner=session, memory=bytes)`` queues a job; at most ``workers`` run at once, each
  in its own process (``forkserver``: forked from a clean helper, never from the threaded server);
* a job starts only when the estimated memory of the running jobs plus its own fits the budget
  (``EFNN_MEMORY_BUDGET_GB``, default 4, minus the server's own RSS); a job larger than the whole
  budget is refused at once with the bound in the message; each worker also gets an address-space
  limit of its estimate plus a margin, so an underestimate ends that job (MemoryError), not the server;
* ``submit(..., channel=True)`` makes an *interactive* job (training, Monte Carlo chains): the child gets a
  :class:`Channel` as first argument (commands in, events out) and the server reads ``job.events`` (a
  queue ending with :data:`END`) and sends ``job.send(command)`` (buffered while queued);
* workers run at lower CPU priority (``os.nice(10)``), so the server's threads and the light reruns of
  other users stay responsive while every core trains or diagonalizes; the forkserver preloads numpy,
  torch and efnn_core (``PRELOAD``), so a worker starts in tens of milliseconds, not seconds;
* ``job.position()`` is 0 while running, 1, 2, ... in the queue (FIFO); ``job.cancel()`` removes a
  queued job or terminates the running process;
* jobs belong to a browser session (``owner``); :class:`SessionWatch` cancels them, and calls any
  ``end_with_session`` callbacks (e.g. a training thread's stop), once that session has been gone
  from Streamlit's runtime for ``GRACE_S`` seconds (reload, tab closed, expiry), so no work is orphaned.

Settings (documented in README): ``EFNN_MEMORY_BUDGET_GB`` (default 4), ``EFNN_WORKERS`` (default: the
usable cores), ``EFNN_SESSION_GRACE_S`` (default 20).

    >>> pool = get_pool()
    >>> job = pool.submit(sum, [1, 2, 3], owner="me", memory=1 << 20, label="demo")
    >>> job.wait(30).result
    6
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import multiprocessing.spawn
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GiB = 1 << 30
BUDGET_ENV, WORKERS_ENV, GRACE_ENV = "EFNN_MEMORY_BUDGET_GB", "EFNN_WORKERS", "EFNN_SESSION_GRACE_S"
MARGIN = 512 << 20  # address space a worker may use above its estimate (interpreter, libraries' arenas)
NICE = 10           # workers' CPU priority below the server's (os.nice increment)
PRELOAD = ["numpy", "torch", "efnn_core", "efnn_core.nets", "efnn_core.training", "efnn_core.analysis",
           "efnn_core.systems", "efnn_core.checkpoint", "app.jobs", "app.work", "app.runs"]  # imported once
# in the forkserver: workers start warm
END = None          # the last item of an interactive job's ``events`` queue


def memory_budget() -> int:
    """Bytes the server and its workers may use together (``EFNN_MEMORY_BUDGET_GB``, default 4)."""
    try:
        gb = float(os.environ.get(BUDGET_ENV, "4"))
    except ValueError:
        gb = 4.0
    return int(max(0.25, gb) * GiB)


def default_workers() -> int:
    try:
        n = int(os.environ.get(WORKERS_ENV, "0"))
    except ValueError:
        n = 0
    return n if n > 0 else max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def rss(pid: int | str = "self") -> int:
    """Resident memory of a process in bytes (Linux /proc; 0 where unavailable)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class JobError(ValueError):
    """A job that cannot be queued (larger than the budget) or that failed in its worker."""


@dataclass
class Job:
    """One unit of heavy work; read ``state``, ``position()``, ``result``/``error``; call ``cancel()``."""

    id: int
    owner: str
    label: str
    fn: Callable
    args: tuple
    memory: int
    state: str = "queued"  # queued, running, done, failed, cancelled
    result: Any = None
    error: str | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    _pool: Any = field(default=None, repr=False)
    _proc: Any = field(default=None, repr=False)
    _conn: Any = field(default=None, repr=False)
    channel: bool = False
    events: queue.Queue = field(default_factory=queue.Queue, repr=False)  # interactive: child's events, then END
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _outbox: list = field(default_factory=list, repr=False)  # commands sent while queued
    _send_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def finished_ok(self) -> bool:
        return self.state == "done"

    def position(self) -> int | None:
        """0 while running, k >= 1 for the k-th place in the queue, None once finished."""
        return self._pool.position(self)

    def cancel(self) -> None:
        self._pool.cancel(self)

    def wait(self, timeout: float | None = None) -> "Job":
        self._done.wait(timeout)
        return self

    @property
    def ended(self) -> bool:
        return self._done.is_set()

    def send(self, command) -> bool:
        """Send a command to an interactive job (kept until it starts); False once it has ended."""
        if not self.channel:
            raise JobError("send() needs a job submitted with channel=True")
        with self._send_lock:
            if self._done.is_set():
                return False
            if self._conn is None:
                self._outbox.append(command)
                return True
            try:
                self._conn.send(("cmd", command))
            except (OSError, ValueError, BrokenPipeError):
                return False
            return True

    def _flush(self) -> None:
        with self._send_lock:
            for command in self._outbox:
                try:
                    self._conn.send(("cmd", command))
                except (OSError, ValueError):
                    break
            self._outbox.clear()


class Channel:
    """The child's side of an interactive job: ``send(event)`` to the server, ``recv(timeout)`` a command
    (None when none arrived in time), ``poll(timeout)`` whether one is waiting, ``drain()`` all waiting.
    A closed server side (the server is gone) raises EOFError or BrokenPipeError, which ends the job."""

    def __init__(self, conn):
        self._conn = conn

    def send(self, event) -> None:
        self._conn.send(("event", event))

    def poll(self, timeout: float = 0.0) -> bool:
        return self._conn.poll(timeout)

    def recv(self, timeout: float | None = None):
        if timeout is not None and not self._conn.poll(timeout):
            return None
        return self._conn.recv()[1]

    def drain(self) -> list:
        """Every command waiting now, in order."""
        out = []
        while self._conn.poll(0):
            out.append(self._conn.recv()[1])
        return out


def _child(conn, fn, args, limit: int, channel: bool = False) -> None:
    """Worker process: lower priority, cap the address space, run ``fn(*args)`` (interactive: ``fn(Channel,
    *args)``), send ("ok", result) or ("error", text)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C of the server ends workers through the server
    try:
        os.nice(NICE)
    except OSError:
        pass
    try:
        import resource

        with open("/proc/self/statm") as f:
            base = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (base + limit, base + limit))
    except (ImportError, OSError, ValueError):
        pass
    try:
        conn.send(("ok", fn(Channel(conn), *args) if channel else fn(*args)))
    except (EOFError, BrokenPipeError):
        pass  # the server side went away: nobody to tell
    except MemoryError:
        conn.send(("error", f"the job needed more memory than its estimate allows ({limit / GiB:.2f} GiB)"))
    except BaseException as err:  # noqa: BLE001 - reported to the page as one line
        try:
            conn.send(("error", f"{type(err).__name__}: {err}".splitlines()[0]))
        except OSError:
            pass
    finally:
        conn.close()


def _noop() -> None:
    return None


_STARTING = threading.local()


def _start(proc) -> None:
    _STARTING.pool = True
    try:
        proc.start()
    finally:
        _STARTING.pool = False


def _preparation_data(name, _orig=mp.spawn.get_preparation_data if hasattr(mp, "spawn") else None):
    """``multiprocessing.spawn.get_preparation_data`` without the parent's ``__main__`` for this pool's
    workers: Streamlit puts the running page script in ``sys.modules["__main__"]``, and a worker started
    meanwhile would otherwise run that page again on import.  Workers' functions live in modules."""
    d = _orig(name)
    if getattr(_STARTING, "pool", False):
        d.pop("init_main_from_path", None)
        d.pop("init_main_from_name", None)
    return d


mp.spawn.get_preparation_data = _preparation_data


class Pool:
    """Bounded pool of worker processes with a FIFO queue and a memory budget (see module docstring)."""

    def __init__(self, workers: int | None = None, budget: int | None = None, *, context: str = "forkserver",
                 warm: bool = False):
        self.workers = workers or default_workers()
        self.budget = budget or memory_budget()
        self._ctx = mp.get_context(context if context in mp.get_all_start_methods() else "spawn")
        if self._ctx.get_start_method() == "forkserver":
            self._ctx.set_forkserver_preload(PRELOAD)
        self._queue: list[Job] = []
        self._running: list[Job] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="efnn-jobs", daemon=True)
        self._thread.start()
        if warm:  # start the forkserver (and its imports, a few seconds) now, not at the first user's click
            threading.Thread(target=self._warm, name="efnn-jobs-warm", daemon=True).start()

    def _warm(self) -> None:
        try:
            p = self._ctx.Process(target=_noop, daemon=True)
            _start(p)
            p.join(120)
        except Exception:  # noqa: BLE001 - the first job then starts it
            pass

    # ---------------------------------------------------------------- public
    def submit(self, fn: Callable, *args, owner: str, memory: int, label: str = "", channel: bool = False) -> Job:
        """Queue ``fn(*args)`` (a picklable top-level function) estimated to need ``memory`` bytes; with
        ``channel=True`` it is called as ``fn(Channel, *args)`` (see the module docstring)."""
        if memory > self.budget:
            raise JobError(f"{label or 'this job'} needs about {memory / GiB:.2f} GiB, more than the server's "
                           f"whole budget of {self.budget / GiB:.2f} GiB ({BUDGET_ENV}); choose a smaller size")
        job = Job(next(self._ids), str(owner), label, fn, args, int(memory), _pool=self, channel=channel)
        with self._lock:
            if self._closed:
                raise JobError("the job pool is shut down")
            self._queue.append(job)
        self._wake.set()
        return job

    def position(self, job: Job) -> int | None:
        with self._lock:
            if job in self._running:
                return 0
            if job in self._queue:
                return self._queue.index(job) + 1
        return None

    def cancel(self, job: Job) -> None:
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
                self._finish(job, "cancelled", error="cancelled before it started")
                return
            proc = job._proc if job in self._running else None
        if proc is not None:
            job.error = "cancelled"
            proc.terminate()
            self._wake.set()

    def cancel_owner(self, owner: str) -> int:
        """Cancel every queued or running job of ``owner``; returns how many."""
        with self._lock:
            jobs = [j for j in self._queue + self._running if j.owner == owner]
        for j in jobs:
            j.cancel()
        return len(jobs)

    def owners(self) -> set[str]:
        with self._lock:
            return {j.owner for j in self._queue + self._running}

    def stats(self) -> dict:
        with self._lock:
            return {"running": len(self._running), "queued": len(self._queue), "workers": self.workers,
                    "reserved": sum(j.memory for j in self._running), "budget": self.budget,
                    "workers_rss": sum(rss(j._proc.pid) for j in self._running if j._proc is not None)}

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            jobs = list(self._queue) + list(self._running)
        for j in jobs:
            j.cancel()
        self._wake.set()

    # ---------------------------------------------------------------- scheduler thread
    def _finish(self, job: Job, state: str, *, result=None, error=None) -> None:
        job.state, job.result, job.finished = state, result, time.time()
        if error is not None:
            job.error = error
        with job._send_lock:
            job._done.set()
        if job.channel:
            job.events.put(END)

    def _reap(self) -> None:
        for job in list(self._running):
            proc, conn = job._proc, job._conn
            msg = None
            try:
                while conn.poll():
                    got = conn.recv()
                    if got[0] == "event":
                        job.events.put(got[1])
                    else:
                        msg = got
                        break
            except (EOFError, OSError):
                msg = None
            if msg is None and proc.is_alive():
                continue
            proc.join(5)
            conn.close()
            self._running.remove(job)
            if msg is not None and msg[0] == "ok":
                self._finish(job, "done", result=msg[1])
            elif job.error == "cancelled":
                self._finish(job, "cancelled")
            elif msg is not None:
                self._finish(job, "failed", error=msg[1])
            else:
                code = proc.exitcode
                why = (f"was killed (signal {-code}{', likely out of memory' if code == -9 else ''})"
                       if code is not None and code < 0 else f"ended with code {code}")
                self._finish(job, "failed", error=f"the worker process {why} before finishing its job")

    def _admit(self) -> None:
        while self._queue and len(self._running) < self.workers:
            job = self._queue[0]
            reserved = sum(j.memory for j in self._running)
            free = self.budget - rss() - reserved
            if self._running and job.memory > free:  # FIFO: wait for memory, keep the positions honest
                return
            self._queue.pop(0)
            parent, child = self._ctx.Pipe(duplex=job.channel)
            proc = self._ctx.Process(target=_child, args=(child, job.fn, job.args, job.memory + MARGIN, job.channel),
                                     daemon=True, name=f"efnn-job-{job.id}")
            job._proc, job.started, job.state = proc, time.time(), "running"
            self._running.append(job)
            try:
                _start(proc)
            except Exception as err:  # noqa: BLE001
                self._running.remove(job)
                self._finish(job, "failed", error=f"could not start a worker: {err}")
            else:
                with job._send_lock:
                    job._conn = parent
                job._flush()
            finally:
                child.close()

    def _loop(self) -> None:
        while True:
            self._wake.wait(0.05)
            self._wake.clear()
            with self._lock:
                self._reap()
                if self._closed and not self._running:
                    return
                if not self._closed:
                    self._admit()


# -------------------------------------------------------------------- sessions
def current_session() -> str | None:
    """The id of the browser session running this script (None outside Streamlit)."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx(suppress_warning=True)
    except Exception:  # noqa: BLE001
        return None
    return ctx.session_id if ctx is not None else None


def session_alive(session_id: str) -> bool:
    """Whether Streamlit's runtime still has this session connected (True outside a running server)."""
    try:
        from streamlit.runtime import Runtime

        if not Runtime.exists():
            return True
        return Runtime.instance().is_active_session(session_id)
    except Exception:  # noqa: BLE001 - never cancel work because of an introspection failure
        return True


class SessionWatch:
    """Ends the work of sessions that have left: every ``period`` s, an owner that ``alive(owner)`` has
    reported gone for ``grace`` s in a row has its pool jobs cancelled and its callbacks called."""

    def __init__(self, pool: Pool, *, alive: Callable[[str], bool] = session_alive, grace: float | None = None,
                 period: float = 2.0):
        self.pool, self.alive, self.period = pool, alive, period
        self.grace = float(os.environ.get(GRACE_ENV, "20")) if grace is None else grace
        self._callbacks: dict[str, list[Callable[[], None]]] = {}
        self._gone_since: dict[str, float] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._loop, name="efnn-session-watch", daemon=True).start()

    def end_with_session(self, owner: str, stop: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.setdefault(owner, []).append(stop)

    def check(self) -> None:
        with self._lock:
            owners = set(self._callbacks) | self.pool.owners()
        now = time.time()
        for owner in owners:
            if self.alive(owner):
                self._gone_since.pop(owner, None)
                continue
            since = self._gone_since.setdefault(owner, now)
            if now - since >= self.grace:
                self.pool.cancel_owner(owner)
                with self._lock:
                    stops = self._callbacks.pop(owner, [])
                for stop in stops:
                    try:
                        stop()
                    except Exception:  # noqa: BLE001
                        pass
                self._gone_since.pop(owner, None)

    def _loop(self) -> None:
        while True:
            time.sleep(self.period)
            self.check()


_POOL: Pool | None = None
_WATCH: SessionWatch | None = None
_SINGLETON = threading.Lock()


def get_pool() -> Pool:
    """The server's one pool (and its session watch), created on first use.

    Deliberately one per process: the point is to bound the work of all sessions together.
    """
    global _POOL, _WATCH
    with _SINGLETON:
        if _POOL is None:
            _POOL = Pool(warm=True)
            _WATCH = SessionWatch(_POOL)
        return _POOL


def end_with_session(stop: Callable[[], None], owner: str | None = None) -> None:
    """Call ``stop()`` once the current browser session has ended (reload, close, expiry)."""
    owner = owner or current_session()
    if owner is None:
        return
    get_pool()
    _WATCH.end_with_session(owner, stop)
