"""Wall-clock timing of exact diagonalization and of energy models, the same way everywhere.

All functions return median seconds per configuration over ``repeats`` runs
after one warm-up run, measured in this process with ``time.perf_counter``.
ED is timed without building the matrix (as the authors timed it), once
with a plain ``numpy.linalg.eigvalsh`` and once with the project's fastest
complex128 driver (``efnn_core.systems._linalg``).

    >>> from efnn_core.timing import ed_seconds, model_seconds
    >>> ed_seconds(10, "plain", repeats=5)                 # ~3e-3 s on 2 cores
"""

from __future__ import annotations

import time

import numpy as np

from .systems import _linalg
from .systems import DoubleExchange


def median_seconds(fn, repeats: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def ed_seconds(L: int, method: str = "fast", *, repeats: int = 3, seed: int = 0,
               system: DoubleExchange | None = None) -> float:
    """Seconds to get E_MC of one L x L configuration from its prebuilt Hamiltonian.

    ``method``: "plain" (numpy.linalg.eigvalsh) or "fast" (the measured-fastest
    complex128 driver for this size, what ``DoubleExchange.energy`` uses).
    """
    de = system or DoubleExchange()
    h = de.hamiltonian(de.sample(L, 1, seed)[0])
    if method == "plain":
        solve = lambda: de.energy_from_eigenvalues(np.linalg.eigvalsh(h))  # noqa: E731
    elif method == "fast":
        solve = lambda: de.energy_from_eigenvalues(_linalg.eigvalsh(h))  # noqa: E731
    else:
        raise ValueError(f"method must be 'plain' or 'fast', got {method!r}")
    return median_seconds(solve, repeats, warmup=1 if L <= 30 else 0)


def model_seconds(model, spins, *, batch: int = 1, repeats: int = 5, frozen: bool = False) -> float:
    """Seconds per configuration of a torch energy model on ``spins`` (numpy, (B, ...)).

    Uses the first ``batch`` configurations as one batch, in inference mode,
    on the model's device and dtype; the best of 3 medians of ``repeats`` calls; ``frozen=True`` times ``nets.frozen(model, shape)``
    (traced and frozen for that shape; the tracing itself is not timed).
    """
    import torch

    p = next(model.parameters())
    x = torch.as_tensor(np.asarray(spins[:batch]), dtype=p.dtype, device=p.device)
    model.eval()
    if frozen:
        from .nets import frozen as freeze

        model = freeze(model, tuple(x.shape))

    def run():
        with torch.inference_mode():
            model(x)
        if p.device.type == "cuda":
            torch.cuda.synchronize()

    # best of 3 medians: shared machines have slow phases lasting seconds; TorchScript optimizes on its 2nd call
    return min(median_seconds(run, repeats, warmup=3 if r == 0 else 0) for r in range(3)) / len(x)
