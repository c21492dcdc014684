"""Functions that run inside the job pool's worker processes (``app.jobs``), and their memory estimates.
No Streamlit here: a worker imports this module, not the page code.

* :func:`exact_energy` — one exact solve (for double exchange: a dense 2L² × 2L² Hermitian eigenproblem,
  O(L⁶) time, 16·(2L²)² bytes per matrix); :func:`exact_memory` is the estimate the pool reserves.
"""

from __future__ import annotations

import numpy as np

MiB = 1 << 20
BASE = 96 * MiB  # a worker's own allocations beyond the preloaded libraries (arrays, LAPACK buffers)


def exact_memory(spins_shape: tuple) -> int:
    """Bytes one exact solve may hold: for an (L, L, 3) lattice the complex128 Hamiltonian (16·(2L²)² B),
    its driver's copy and workspace (×3 in all: ~490 MB at L = 40, 164 MB of it the matrix), plus ``BASE``;
    other shapes (chains, fixed-size systems) only ``BASE``."""
    if len(spins_shape) == 3 and spins_shape[-1] == 3:
        n = 2 * spins_shape[0] * spins_shape[1]
        return BASE + 3 * 16 * n * n
    return BASE


def exact_energy(system: str, params: dict, spins: np.ndarray):
    """``analysis.exact`` of one configuration of ``get(system, **params)``, on one thread."""
    from efnn_core import analysis
    from efnn_core.parallel import one_thread
    from efnn_core.systems import get

    with one_thread():
        return analysis.exact(get(system, **params), spins)
