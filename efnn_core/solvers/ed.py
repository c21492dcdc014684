"""Exact diagonalization (the ``"ed"`` solver) of the double exchange model, batched over all cores.

One configuration costs O(L^6) (a dense 2L^2 x 2L^2 Hermitian eigenproblem);
a batch is split into chunks that a process pool of single-threaded workers
diagonalizes, which on a 2-core machine beats one multi-threaded LAPACK call
per matrix (tridiagonalization does not thread well).

    >>> from efnn_core.systems import DoubleExchange
    >>> de = DoubleExchange()
    >>> spins = de.sample(10, 8, rng=0)
    >>> E = energies(de, spins, workers=1)      # (8,) float64, same as de.energy(spins)
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable

import numpy as np

from ..systems import SystemBase, get

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def cpu_count() -> int:
    """Cores this process may use (respects affinity masks and cgroups pinning)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS
        return os.cpu_count() or 1


def _solve(args) -> np.ndarray:
    """Worker task: E_MC of a chunk, built and diagonalized a few matrices at a time
    (bounded memory: 16 matrices of size 2L^2 at once)."""
    name, params, spins, precision = args
    system = get(name, **params)
    return np.concatenate([np.atleast_1d(system.energy(spins[i:i + 16], precision=precision))
                           for i in range(0, len(spins), 16)])


def iter_energies(system: SystemBase, spins, *, precision: str = "double", workers: int | None = None,
                  chunk: int | None = None):
    """Yield ``(start, E)`` for consecutive chunks of a batch, in order, as workers finish them.

    Same arguments as :func:`energies`; one process pool serves the whole batch.
    """
    spins = system.validate(spins)
    if spins.ndim != 4:
        raise ValueError(f"a batch (B, L, L, 3) is needed, got {spins.shape}")
    total = len(spins)
    workers = min(cpu_count() if workers is None else max(1, int(workers)), total)
    if chunk is None:
        chunk = int(min(64, max(1, np.ceil(total / (4 * workers)))))
    starts = range(0, total, chunk)
    tasks = ((system.name, system.params(), spins[i:i + chunk], precision) for i in starts)
    if workers == 1:
        for i, task in zip(starts, tasks):
            yield i, _solve(task)
        return
    saved = {v: os.environ.get(v) for v in THREAD_VARS}
    os.environ.update({v: "1" for v in THREAD_VARS})  # one BLAS thread per worker process
    try:
        pool = mp.get_context("spawn").Pool(workers)
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old
    with pool:
        yield from zip(starts, pool.imap(_solve, tasks))


def energies(system: SystemBase, spins, *, precision: str = "double", workers: int | None = None,
             chunk: int | None = None, progress: bool = False,
             callback: Callable[[int, int], bool | None] | None = None) -> np.ndarray:
    """E_MC for a batch of configurations, shape (B,), float64.

    Args:
        system: the model (its parameters travel to the workers).
        spins: (B, L, L, 3) unit vectors.
        precision: "double" (complex128, the exact reference) or "single"
            (complex64; ~1e-6 relative error on E_MC, only for datasets whose
            manifest records the measured error).
        workers: processes; default all cores, 1 runs in this process.
        chunk: configurations per task (default: about 4 tasks per worker, at most 64).
        progress: draw a tqdm bar on stderr.
        callback: called as callback(done, total) after each chunk; returning
            False stops the work and raises ``InterruptedError``.
    """
    total = len(spins)
    out = np.empty(total)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="config", desc="ED")
    done = 0
    try:
        for start, e in iter_energies(system, spins, precision=precision, workers=workers, chunk=chunk):
            out[start:start + len(e)] = e
            done += len(e)
            if bar is not None:
                bar.update(len(e))
            if callback is not None and callback(done, total) is False:
                raise InterruptedError(f"ED stopped by the caller after {done} of {total} configurations")
    finally:
        if bar is not None:
            bar.close()
    return out
