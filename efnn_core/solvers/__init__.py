"""Solvers: energies of spin configurations by physics methods (no training).

    >>> from efnn_core.solvers import SOLVERS, solve
    >>> from efnn_core.systems import get
    >>> de = get("double_exchange")
    >>> r = solve(de, de.sample(10, 4, rng=0), "ed")
    >>> r.energy.shape, r.error                     # (4,) float64, 0.0: exact
    ((4,), 0.0)

A solver is a function ``fn(system, spins, **options) -> (energy, error)``
with ``energy`` a float for one configuration or (B,) for a batch and
``error`` its own estimate of its absolute error (0 for exact methods);
``solve`` validates the spins, times the call and returns a :class:`Result`.
To add one: write ``solvers/<name>.py`` with that function and add one line to
``SOLVERS`` below.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import ed, kpm, sw3


@dataclass(frozen=True)
class Result:
    """What a solver returns: ``energy`` (float or (B,)), wall ``seconds``, estimated absolute ``error``."""

    energy: float | np.ndarray
    seconds: float
    error: float | np.ndarray
    method: str
    options: dict = field(default_factory=dict)


def exact(system, spins, *, workers: int | None = 1, **options):
    """The system's own exact energy: ED for the double exchange model (a process pool for a
    batch with ``workers`` > 1), the closed form for the classical models.  Error 0."""
    if workers != 1 and system.recipe.stored_labels and spins.ndim == 4:  # a batch of ED problems
        return ed.energies(system, spins, workers=workers, **options), 0.0
    return system.energy(spins, **options), 0.0


SOLVERS = {
    "ed": exact,
    "sw3": sw3.solver,  # Schrieffer-Wolff lower band, options: order=1|2|3
    "kpm": kpm.solver,  # kernel polynomial method, options: moments, distance, sets, seed, workers, device
}


def available(system) -> list[str]:
    """The solvers that apply to ``system``: "ed" always; a solver function may carry
    ``applies(system) -> bool`` (SW3 and KPM need the double exchange Hamiltonian's band gap)."""
    return [m for m, fn in SOLVERS.items() if getattr(fn, "applies", lambda s: True)(system)]


class UnknownSolver(ValueError):
    """A solver name that is not in ``SOLVERS``."""


def solve(system, spins, method: str = "ed", **options) -> Result:
    """Energy of ``spins`` ((..., *system.spin_shape(L))) by ``method``, timed."""
    if method not in SOLVERS:
        raise UnknownSolver(f"unknown solver {method!r}; choose one of {', '.join(SOLVERS)}")
    spins = system.validate(spins)
    t0 = time.perf_counter()
    energy, error = SOLVERS[method](system, spins, **options)
    return Result(energy=energy, seconds=time.perf_counter() - t0, error=error, method=method,
                  options=dict(options))
