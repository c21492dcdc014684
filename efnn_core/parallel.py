"""The executor seam: run independent tasks on a local process pool, any Executor, or a Dask cluster.

Every embarrassingly parallel job of the library (ED labelling, dataset shards,
pretraining recipes, sweep jobs) goes through one function::

    for i, result in map_tasks(fn, tasks, executor=None, progress=True):
        ...                                   # (task index, fn(tasks[i])) as each one finishes

``executor=None`` is the embedded default: a ``spawn`` process pool of
single-threaded workers (one BLAS thread each, which on a 2-core machine beats
one multi-threaded LAPACK call per matrix), or no pool at all for one worker or
one task.  Any ``concurrent.futures.Executor`` works instead: a
``ThreadPoolExecutor``, a ``ProcessPoolExecutor``, or the one Dask gives::

    with executor_from("local:2") as ex:      # or "tcp://host:8786", or $EFNN_SCHEDULER
        results = dict(map_tasks(fn, tasks, executor=ex))

Nothing of Dask is imported unless an address is given.  ``fn`` must be a
module-level function (it is pickled by reference) and its results must be
picklable.  Results arrive in completion order, tagged with the task's index,
so callers that need order (or that write each result as soon as it lands)
do so themselves.  Stopping: breaking out of the loop, an exception in it,
Ctrl-C, or a progress callback returning False cancels every task not yet
started (and ends the default pool's processes at once).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SCHEDULER_ENV = "EFNN_SCHEDULER"
MAX_LOCAL_WORKERS = 256  # bound of local:N (a LocalCluster of N processes on this machine)
CONNECT_TIMEOUT_S = 10


class SchedulerError(ValueError):
    """A scheduler address that is malformed, unreachable, or needs Dask where it is not installed."""


def cpu_count() -> int:
    """Cores this process may use (respects affinity masks and cgroups pinning)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS
        return os.cpu_count() or 1


def _workers(workers: int | None) -> int:
    if workers is None:
        return cpu_count()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    return workers


@contextlib.contextmanager
def local_pool(workers: int | None = None) -> Iterator[cf.Executor]:
    """The default executor: a ``spawn`` ProcessPoolExecutor of ``workers`` single-threaded processes.

    The thread-count variables (``OMP_NUM_THREADS`` ...) are 1 in this process's
    environment while the pool is open, so every worker it spawns (they start
    on demand) loads BLAS with one thread; this process's own BLAS, already
    loaded, is unaffected.  On an exception or Ctrl-C the workers are killed
    at once instead of finishing their tasks.
    """
    saved = {v: os.environ.get(v) for v in THREAD_VARS}
    os.environ.update({v: "1" for v in THREAD_VARS})
    pool = cf.ProcessPoolExecutor(_workers(workers), mp_context=mp.get_context("spawn"))
    clean = False
    try:
        yield pool
        clean = True
    finally:
        if clean:
            pool.shutdown(wait=True)
        else:
            _kill(pool)
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _kill(pool: cf.ProcessPoolExecutor) -> None:
    """Cancel what is queued and end the worker processes now (not after their current task)."""
    procs = list(getattr(pool, "_processes", {}).values())  # no public API before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(5)


_one_lock = threading.Lock()
_one_depth = 0
_one_saved = None


@contextlib.contextmanager
def one_thread():
    """Inside the block, BLAS/LAPACK (OpenBLAS, MKL, OpenMP via threadpoolctl) and torch run one thread.

    A multi-threaded LAPACK call may sum in another order and differ in the
    last bits, so this is what makes an ED label the same bytes in this
    process, in a pool worker and on a Dask worker.  Re-entrant and shared by
    threads: the first to enter sets the limit, the last to leave restores it.
    Only libraries already loaded are limited: import the solver's modules first.
    """
    global _one_depth, _one_saved
    with _one_lock:
        if _one_depth == 0:
            from threadpoolctl import threadpool_limits

            torch = sys.modules.get("torch")
            _one_saved = (threadpool_limits(1), torch, torch.get_num_threads() if torch else None)
            if torch:
                torch.set_num_threads(1)
        _one_depth += 1
    try:
        yield
    finally:
        with _one_lock:
            _one_depth -= 1
            if _one_depth == 0:
                limits, torch, threads = _one_saved
                limits.restore_original_limits()
                if torch:
                    torch.set_num_threads(threads)


def map_tasks(fn: Callable[[Any], Any], tasks: Iterable, *, executor: cf.Executor | None = None,
              workers: int | None = None, progress: bool | Callable[[int, int], bool | None] | None = None,
              window: int | None = None, desc: str = "tasks") -> Iterator[tuple[int, Any]]:
    """Yield ``(i, fn(tasks[i]))`` for every task, in the order they finish.

    Args:
        fn: a module-level function of one argument (pickled by reference).
        tasks: the arguments, a sequence (or any iterable; then progress has no total).
        executor: any ``concurrent.futures.Executor`` (left open: the caller owns it).
            None: the default local pool of ``workers`` processes (see
            :func:`local_pool`); with one worker or one task, ``fn`` runs in this
            process and no pool is started.
        workers: size of the default pool (default: all usable cores); with an
            executor, only sets the default ``window``.
        progress: True draws a tqdm bar (tasks done); a callable is called as
            ``progress(done, total)`` after each task and returning False stops
            the work with ``InterruptedError``.
        window: most tasks submitted and not yet returned (bounded memory for
            long task lists; default 4 per worker, at least 256 with an external executor).
        desc: the progress bar's label.

    Closing the generator early (``break``), an exception, or Ctrl-C cancels
    the tasks not yet started.  A task's exception is re-raised here.
    """
    items = tasks if hasattr(tasks, "__len__") else None
    total = len(items) if items is not None else None
    source = enumerate(tasks)
    bar = callback = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="task", desc=desc)
    elif callable(progress):
        callback = progress
    done = 0

    def tick():
        nonlocal done
        done += 1
        if bar is not None:
            bar.update(1)
        if callback is not None and callback(done, total) is False:
            raise InterruptedError(f"stopped by the caller after {done} of {total} tasks")

    try:
        if executor is None:
            n = _workers(workers)
            if n == 1 or (total is not None and total <= 1):
                for i, task in source:
                    result = fn(task)
                    tick()
                    yield i, result
                return
            with local_pool(min(n, total) if total else n) as pool:
                for item in _stream(fn, source, pool, window or 4 * n):
                    tick()
                    yield item
            return
        for item in _stream(fn, source, executor, window or _window(executor, workers)):
            tick()
            yield item
    finally:
        if bar is not None:
            bar.close()


def _window(executor: cf.Executor, workers: int | None) -> int:
    """Tasks kept in flight on an external executor: 4 per worker thread (a Dask cluster's, counted
    when the map starts), at least 256, so that no worker of a large cluster idles."""
    client = getattr(executor, "_client", None)
    if client is not None:
        workers = sum(client.nthreads().values())
    return max(256, 4 * (workers or 1))


def _stream(fn, source, executor: cf.Executor, window: int) -> Iterator[tuple[int, Any]]:
    """Keep ``window`` tasks in flight on ``executor``; yield (index, result) as they finish."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    pending: dict[cf.Future, int] = {}
    try:
        for i, task in source:
            while len(pending) >= window:
                yield from _collect(pending)
            pending[executor.submit(fn, task)] = i
        while pending:
            yield from _collect(pending)
    finally:
        for f in pending:
            f.cancel()


def _collect(pending: dict) -> Iterator[tuple[int, Any]]:
    finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
    for f in finished:
        i = pending.pop(f)
        yield i, f.result()


# --------------------------------------------------------------------------- Dask
_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|inproc|ucx)://\S+$")


def scheduler_address(address: str | None = None) -> str | None:
    """The scheduler to use: ``address``, else ``$EFNN_SCHEDULER``, else None (the local pool).

    Accepted: ``local:N`` (a LocalCluster of N single-threaded worker
    processes started here) or a Dask address such as ``tcp://host:8786``.
    """
    address = address if address is not None else os.environ.get(SCHEDULER_ENV)
    if address is None or address.strip() == "":
        return None
    address = address.strip()
    if address.startswith("local:"):
        n = address.removeprefix("local:")
        if not n.isdigit() or not 1 <= int(n) <= MAX_LOCAL_WORKERS:
            raise SchedulerError(f"scheduler {address!r}: local:N needs a worker count N "
                                 f"between 1 and {MAX_LOCAL_WORKERS}")
        return f"local:{int(n)}"
    if not _ADDRESS.match(address):
        raise SchedulerError(f"scheduler {address!r} is neither local:N nor a Dask address "
                             "like tcp://host:8786")
    return address


@contextlib.contextmanager
def executor_from(address: str | None = None, *, timeout: float = CONNECT_TIMEOUT_S
                  ) -> Iterator[cf.Executor | None]:
    """A context-managed Executor for a scheduler address (see :func:`scheduler_address`).

    Yields None when no address is given (and ``$EFNN_SCHEDULER`` is unset), so
    ``map_tasks(..., executor=ex)`` falls back to the local pool and nothing of
    Dask is imported; otherwise the ``concurrent.futures`` executor of a
    ``distributed.Client`` (tasks ``pure=False``; a task lost with a dead
    worker is re-run elsewhere).  ``local:N`` starts and stops a LocalCluster
    of N processes with one thread each; ``tcp://...`` connects to a running
    scheduler (SchedulerError if it does not answer within ``timeout`` s).

        >>> with executor_from(None) as ex:
        ...     ex is None
        True
    """
    address = scheduler_address(address)
    if address is None:
        yield None
        return
    try:
        import distributed
    except ImportError:  # pragma: no cover - dask[distributed] is in requirements.txt
        raise SchedulerError(f"scheduler {address!r} needs Dask: pip install 'dask[distributed]'") from None
    with contextlib.ExitStack() as stack:
        if address.startswith("local:"):
            n = int(address.removeprefix("local:"))
            with dask_config():  # the nannies hand this configuration to their workers
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None))
            client = stack.enter_context(distributed.Client(cluster, timeout=timeout))
        else:
            try:
                client = stack.enter_context(distributed.Client(address, timeout=timeout))
            except (OSError, TimeoutError) as err:
                raise SchedulerError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                                     f"({type(err).__name__}); start it with `dask scheduler` or check the "
                                     "address") from None
        _check_cluster(client, address)
        yield client.get_executor(pure=False)


#: Dask settings for compute-bound single-threaded tasks, one worker per core, so that nothing but the
#: tasks needs a core (whatever else runs takes it from a task; docs/SCALING.md has the measurements at
#: L = 20 on 2 cores):
#:
#: * a worker's statistical profiler samples every thread's stack each 10 ms: in-task time +10-18 % at 2
#:   workers, and a 1-worker run used 1.05 cores;
#: * every server's event-loop health check runs each 20 ms (``admin.tick``), and each nanny reads its worker's
#:   memory each 100 ms: with ``local:N`` the scheduler and the nannies live in the calling process, which used
#:   0.44-0.61 s of CPU per 8 s run of 2 workers (2.7-3.9 % of the two cores, outside every task); at 1 s
#:   and 1 s, 0.15-0.18 s (1.3-1.5 %). The health check only warns about a blocked event loop, and a worker
#:   over its memory limit is still stopped, within a second.
#:
#: For ``dask scheduler`` / ``dask worker`` on a cluster, the same as environment variables (README, "Run
#: on a cluster"): ``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False``,
#: ``DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL=1s``, ``DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL=1s``.
DASK_SETTINGS = {"distributed.worker.profile.enabled": False,
                 "distributed.admin.system-monitor.interval": "2s",
                 "distributed.admin.tick.interval": "1s",
                 "distributed.worker.memory.monitor-interval": "1s"}


def dask_config():
    """Context manager applying :data:`DASK_SETTINGS` (for clusters started in this process)."""
    import dask

    return dask.config.set(DASK_SETTINGS)


def _library_version() -> str:
    """Runs on the scheduler and on every worker: this library must import there, at our version."""
    from . import __version__

    return __version__


def _check_cluster(client, address: str) -> None:
    """Refuse a cluster whose scheduler or workers cannot import efnn_core (or run another version):
    otherwise every task would fail later with Dask's 'Error during deserialization'."""
    from . import __version__

    try:
        versions = {"scheduler": client.run_on_scheduler(_library_version), **client.run(_library_version)}
    except Exception as err:  # noqa: BLE001 - any failure here means the same fix
        raise SchedulerError(f"the Dask scheduler or a worker at {address} cannot import efnn_core "
                             f"({type(err).__name__}); install this project there (`pip install -e .` in its "
                             "folder) or start them with PYTHONPATH set to it") from None
    other = {k: v for k, v in versions.items() if v != __version__}
    if other:
        raise SchedulerError(f"Dask cluster at {address} runs other efnn_core versions {other}; "
                             f"this one is {__version__}")


def describe(executor: cf.Executor | None, workers: int | None = None) -> str:
    """One line naming where tasks run (for logs): ``executor``, or the default pool of ``workers``."""
    if executor is None:
        n = _workers(workers)
        return "this process" if n == 1 else f"local process pool ({n} workers)"
    client = getattr(executor, "_client", None)
    if client is not None:
        n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
        return f"dask {client.scheduler.address} ({n} workers)"
    return type(executor).__name__
