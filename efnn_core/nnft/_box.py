"""Private helpers: the periodic box's momentum lattice and an exact discrete sampler.

Box of side L in d dimensions; allowed neuron momenta

    K = { k = 2 pi n / L : n in Z^d, |k| <= Lambda },   |K| = number of modes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch


@dataclass(frozen=True)
class BoxModes:
    """The momentum lattice K of a periodic box.

    Attributes:
        d, L, cutoff: dimension, box side, UV cutoff Lambda.
        n: (K, d) integer mode numbers; k = 2 pi n / L.
        k: (K, d) momenta.
        k2: (K,) |k|^2.
        neg: (K,) index of -k.
        zero: index of k = 0.
        n_max: largest |n_i| (the FFT grid must exceed 4 n_max for an exact int phi^4).
        shells: (S,) distinct |k|^2, ascending; shell_of: (K,) shell index of each mode.
    """

    d: int
    L: float
    cutoff: float
    n: np.ndarray
    k: np.ndarray
    k2: np.ndarray
    neg: np.ndarray
    zero: int
    n_max: int
    shells: np.ndarray
    shell_of: np.ndarray

    @property
    def size(self) -> int:
        return int(self.k.shape[0])

    @property
    def volume(self) -> float:
        return float(self.L) ** self.d

    def grid_size(self) -> int:
        """Points per axis of the FFT grid: > 4 n_max so that int phi^4 is exact (a 2,3,5-smooth size)."""
        n = 4 * self.n_max + 1
        while True:
            m = n
            for p in (2, 3, 5):
                while m % p == 0:
                    m //= p
            if m == 1:
                return n
            n += 1


@lru_cache(maxsize=64)
def box_modes(d: int, L: float, cutoff: float) -> BoxModes:
    """Momentum lattice K of the box [0, L)^d below the cutoff (cached; arrays read-only).

    Example::

        >>> box_modes(1, 20.0, 5.0).size      # n = -15..15
        31
    """
    if d not in (1, 2):
        raise ValueError(f"d must be 1 or 2 for the box ensembles, got d={d}")
    if not (L > 0 and cutoff > 0):
        raise ValueError(f"need L > 0 and cutoff > 0, got L={L}, cutoff={cutoff}")
    n_max = int(math.floor(cutoff * L / (2 * math.pi) + 1e-12))
    if n_max < 1:
        raise ValueError(f"box L={L} with cutoff={cutoff} holds only the zero mode; increase L*cutoff above 2*pi")
    rng1 = np.arange(-n_max, n_max + 1)
    n = np.stack(np.meshgrid(*([rng1] * d), indexing="ij"), -1).reshape(-1, d)
    k = 2 * np.pi * n / L
    k2 = (k ** 2).sum(1)
    keep = k2 <= cutoff ** 2 * (1 + 1e-12)
    n, k, k2 = n[keep], k[keep], k2[keep]
    lookup = {tuple(v): i for i, v in enumerate(n)}
    neg = np.array([lookup[tuple(-v)] for v in n])
    zero = lookup[(0,) * d]
    shells, shell_of = np.unique(np.round(k2, 10), return_inverse=True)
    for a in (n, k, k2, neg, shells, shell_of):
        a.setflags(write=False)
    return BoxModes(d, float(L), float(cutoff), n, k, k2, neg, int(zero), n_max, shells, shell_of)


class AliasSampler:
    """Walker/Vose alias table: exact draws of an index with probabilities p (vectorized in torch)."""

    def __init__(self, p: np.ndarray):
        p = np.asarray(p, dtype=np.float64)
        p = p / p.sum()
        n = len(p)
        prob = np.zeros(n)
        alias = np.zeros(n, dtype=np.int64)
        scaled = p * n
        small = [i for i in range(n) if scaled[i] < 1.0]
        large = [i for i in range(n) if scaled[i] >= 1.0]
        while small and large:
            s, g = small.pop(), large.pop()
            prob[s], alias[s] = scaled[s], g
            scaled[g] = scaled[g] + scaled[s] - 1.0
            (small if scaled[g] < 1.0 else large).append(g)
        for i in small + large:
            prob[i], alias[i] = 1.0, i
        self.prob = torch.as_tensor(prob, dtype=torch.float64)
        self.alias = torch.as_tensor(alias)
        self.n = n

    def sample(self, shape, generator: torch.Generator) -> torch.Tensor:
        j = torch.randint(0, self.n, shape, generator=generator)
        u = torch.rand(shape, generator=generator, dtype=torch.float64)
        return torch.where(u < self.prob[j], j, self.alias[j])
