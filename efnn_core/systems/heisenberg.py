"""Classical Heisenberg model on an L x L torus.

    H(S) = -J sum_<ij> s_i . s_j,    s_i unit 3-vectors,

over the 2 L^2 nearest-neighbour bonds (right and down).  It is O(3)-invariant
and translation-invariant, and, like the Ising model of paper Fig. 1, it is one
field-particle layer: with the effective field phi_i = -J (s_{i+x} + s_{i+y})
and the quasi-particle s_i . phi_i, H = sum_i s_i . phi_i exactly.  One lattice
symmetrization layer sum_k (W * S_k)(W' * S_k) computes s_i . (s_{i+x} + s_{i+y})
when W picks the site and W' its two forward neighbours (see tests/test_heisenberg.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _checks
from .base import Recipe, SystemBase
from .double_exchange import uniform_sphere


@dataclass(frozen=True)
class Heisenberg(SystemBase):
    """Nearest-neighbour classical Heisenberg model with coupling J (ferromagnetic for J > 0).

    Example::

        >>> s = np.zeros((3, 3, 3)); s[..., 2] = 1        # ferromagnet: 18 bonds of -J
        >>> Heisenberg().energy(s)
        -18.0
    """

    J: float = 1.0
    name = "heisenberg"
    recipe = Recipe(
        label="Classical Heisenberg (O(3) spins)",
        family="lattice",
        datasets={"heisenberg_L10_train": dict(L=10, count=10000, seed=5010),
                  "heisenberg_L10_test": dict(L=10, count=2000, seed=6010)},
        train_set="heisenberg_L10_train", test_set="heisenberg_L10_test",
        dtype="float32", weight_decay=0.0, sizes=(4, 10, 64), exact_max=64,
        summary="Classical unit spins with nearest-neighbour exchange -J s_i . s_j; O(3)-invariant and "
                "exactly one field-particle layer.",
    )

    def __post_init__(self):
        _checks.finite(self.J, "J")

    def spin_shape(self, size: int) -> tuple[int, int, int]:
        return (int(size), int(size), 3)

    def validate(self, spins) -> np.ndarray:
        """Unit vectors (..., L, L, 3), L >= 3, as float64."""
        return _checks.lattice_spins(spins)

    def effective_field(self, spins) -> np.ndarray:
        """phi_i = -J (s_{i+x} + s_{i+y}), shape (..., L, L, 3): its dot with s_i sums to H."""
        s = self.validate(spins)
        return -self.J * (np.roll(s, -1, -2) + np.roll(s, -1, -3))

    def energy(self, spins):
        """H(S): a float for (L, L, 3), an array (B,) for (B, L, L, 3)."""
        s = self.validate(spins)
        e = -self.J * ((s * np.roll(s, -1, -2)).sum(-1) + (s * np.roll(s, -1, -3)).sum(-1)).sum((-2, -1))
        return float(e) if np.ndim(e) == 0 else e

    def sample(self, L: int, count: int, rng) -> np.ndarray:
        """``count`` configurations of i.i.d. spins uniform on the sphere, (count, L, L, 3)."""
        L = _checks.lattice_size(L)
        count = _checks.sample_count(count, 3 * L * L)
        return uniform_sphere(_checks.generator(rng), (count, L, L))
