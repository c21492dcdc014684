"""Classical 2D Ising model on an L x L torus and its EFNN form (paper Fig. 1).

    H(S) = -J sum_<ij> s_i s_j,   s_i = +-1.

Fig. 1 rewrites it as one field-particle layer: the effective field on site i
is phi_i = -(J/2) (sum of its 4 neighbours), the quasi-particle is s_i phi_i,
and H = sum_i s_i phi_i (each bond is counted from both ends, hence J/2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _checks
from .base import Recipe, SystemBase


@dataclass(frozen=True)
class Ising2D(SystemBase):
    """Nearest-neighbour Ising model with coupling J (ferromagnetic for J > 0).

    Example::

        >>> Ising2D().energy(np.ones((3, 3)))        # 18 bonds, all satisfied
        -18.0
    """

    J: float = 1.0
    name = "ising"
    recipe = Recipe(
        label="2D Ising (classical)",
        family="lattice",  # the lattice networks read +-1 spins as s * z-hat (efnn_core.nets.lattice)
        datasets={"ising_L10_train": dict(L=10, count=10000, seed=3010),
                  "ising_L10_test": dict(L=10, count=2000, seed=4010)},
        train_set="ising_L10_train", test_set="ising_L10_test",
        dtype="float32", weight_decay=0.0, sizes=(4, 10, 64), exact_max=64,
        summary="Classical +-1 spins with nearest-neighbour coupling J; one field-particle layer "
                "computes its energy exactly (paper Fig. 1).",
    )

    def __post_init__(self):
        _checks.finite(self.J, "J")

    def spin_shape(self, size: int) -> tuple[int, int]:
        return (int(size), int(size))

    def validate(self, spins) -> np.ndarray:
        """+-1 spins (..., L, L), L >= 3, as float64."""
        return _checks.ising_spins(spins)

    def effective_field(self, spins) -> np.ndarray:
        """phi_i = -(J/2) * (sum of the 4 neighbours of i), shape (..., L, L)."""
        s = _checks.ising_spins(spins)
        nb = (np.roll(s, 1, -1) + np.roll(s, -1, -1) + np.roll(s, 1, -2) + np.roll(s, -1, -2))
        return -0.5 * self.J * nb

    def quasi_particles(self, spins) -> np.ndarray:
        """s_i * phi_i, shape (..., L, L); their sum is the energy."""
        s = _checks.ising_spins(spins)
        return s * self.effective_field(s)

    def energy(self, spins):
        """H(S) summed bond by bond: a float for (L, L), an array (B,) for (B, L, L)."""
        s = _checks.ising_spins(spins)
        e = -self.J * (s * np.roll(s, 1, -1) + s * np.roll(s, 1, -2)).sum(axis=(-2, -1))
        return float(e) if np.ndim(e) == 0 else e

    def sample(self, L: int, count: int, rng) -> np.ndarray:
        """``count`` random +-1 configurations, shape (count, L, L)."""
        L = _checks.lattice_size(L)
        count = _checks.sample_count(count, L * L)
        return _checks.generator(rng).choice([-1.0, 1.0], size=(count, L, L))
