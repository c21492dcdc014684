"""Exact diagonalization (the ``"ed"`` solver) of the double exchange model, batched over all cores
or any ``concurrent.futures.Executor`` (``efnn_core.parallel``).

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

import importlib
from collections.abc import Callable

import numpy as np

from ..parallel import THREAD_VARS, cpu_count, map_tasks, one_thread  # noqa: F401 - THREAD_VARS, cpu_count re-exported
from ..systems import SystemBase, get
from ..systems._linalg import fastest_driver

def solve_chunk(args) -> np.ndarray:
    """Worker task: E_MC (k,) of ``args = (system name, params, spins (k, L, L, 3), precision)``,
    built and diagonalized a few matrices at a time (bounded memory: see :func:`batch_size`).

    Each configuration's label depends on it alone, not on which chunk carried it.
    """
    name, params, spins, precision = args
    system = get(name, **params)
    if spins.ndim == 4:  # load the LAPACK this size uses before pinning threads (see parallel.one_thread)
        driver = fastest_driver(2 * spins.shape[1] * spins.shape[2], precision)
        importlib.import_module({"torch": "torch", "scipy-evd": "scipy.linalg"}.get(driver, "numpy"))
    k = batch_size(spins.shape[1] if spins.ndim == 4 else 1)
    with one_thread():  # the same bits in this process, a pool worker or a Dask worker
        return np.concatenate([np.atleast_1d(system.energy(spins[i:i + k], precision=precision))
                               for i in range(0, len(spins), k)])


MATRIX_BYTES = 512 << 20  # Hamiltonians built at once per task: at most this many bytes (at least one)


def batch_size(L: int) -> int:
    """Matrices diagonalized together in one task: 16 up to L = 20 (2L^2 = 800, 10 MB each), then as
    many complex128 2L^2 x 2L^2 matrices as fit in ``MATRIX_BYTES`` (3 at L = 40, 1 from L = 46)."""
    return int(max(1, min(16, MATRIX_BYTES // (16 * (2 * L * L) ** 2))))


def iter_energies(system: SystemBase, spins, *, precision: str = "double", workers: int | None = None,
                  chunk: int | None = None, executor=None):
    """Yield ``(start, E)`` for consecutive chunks of a batch, in order, as workers finish them.

    Same arguments as :func:`energies`; one ``parallel.map_tasks`` call serves the whole batch.
    """
    spins = system.validate(spins)
    if spins.ndim != 4:
        raise ValueError(f"a batch (B, L, L, 3) is needed, got {spins.shape}")
    total = len(spins)
    workers = min(cpu_count() if workers is None else max(1, int(workers)), total)
    if chunk is None:
        chunk = int(min(64, max(1, np.ceil(total / (4 * workers)))))
    starts = range(0, total, chunk)
    tasks = [(system.name, system.params(), spins[i:i + chunk], precision) for i in starts]
    ready, nxt = {}, 0
    for k, e in map_tasks(solve_chunk, tasks, executor=executor, workers=workers):
        ready[k] = e
        while nxt in ready:  # in order: hold early finishers until their predecessors land
            yield starts[nxt], ready.pop(nxt)
            nxt += 1


def energies(system: SystemBase, spins, *, precision: str = "double", workers: int | None = None,
             chunk: int | None = None, progress: bool = False, executor=None,
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
        executor: any ``concurrent.futures.Executor`` (see ``efnn_core.parallel``);
            default the local pool of ``workers`` processes.
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
        for start, e in iter_energies(system, spins, precision=precision, workers=workers, chunk=chunk,
                                      executor=executor):
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
