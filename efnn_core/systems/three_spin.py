"""Classical 3-spin infinite-range model (EFNN paper, Eq. 1).

    H(S) = - sum_{i<j<k} J_ijk s_i s_j s_k,     J_ijk ~ N(mean 1, std 2),

over all C(sites, 3) triples (455 for 15 sites), with binary spins s in {0, 1}
or continuous spins s in [-1, 1] (the paper's "classical Heisenberg" case).

The couplings are drawn exactly as the authors' data generators draw them from
the legacy global RNG seeded with ``seed``, so ``ThreeSpin(seed=17)`` has the
couplings of their published experiments:

* binary: permutation of the triples, then the 20000 x sites spin samples, then
  the couplings, coupling m going with triple ``perm[m]``;
* continuous: the couplings first (triples in lexicographic order), then the
  20000 x sites uniform spins.

``reference_samples()`` returns those 20000 samples (first 80% train, last 20% test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from . import _checks
from .base import Recipe, SystemBase

REFERENCE_SAMPLES = 20000


@dataclass(frozen=True, eq=False)
class ThreeSpin(SystemBase):
    """3-spin model on ``sites`` sites; ``spins`` is ``"binary"`` or ``"continuous"``.

    Example::

        >>> m = ThreeSpin(sites=4, seed=0)
        >>> m.triples.shape, m.couplings.shape
        ((4, 3), (4,))
    """

    sites: int = 15
    seed: int = 17
    spins: str = "binary"
    triples: np.ndarray = field(init=False, repr=False)    # (K, 3) site indices
    couplings: np.ndarray = field(init=False, repr=False)  # (K,) J_ijk for each triple

    def __post_init__(self):
        if self.spins not in ("binary", "continuous"):
            raise ValueError(f"spins must be 'binary' or 'continuous', got {self.spins!r}")
        object.__setattr__(self, "sites", _checks.integer(self.sites, "sites", lo=3, hi=_checks.MAX_SITES))
        object.__setattr__(self, "seed", _checks.integer(self.seed, "seed", lo=0, hi=2**32 - 1))
        triples, couplings, samples = _draw(self.sites, self.seed, self.spins)
        object.__setattr__(self, "triples", triples)
        object.__setattr__(self, "couplings", couplings)
        object.__setattr__(self, "_samples", samples)

    @property
    def name(self) -> str:
        return f"three_spin_{self.spins}"

    @property
    def recipe(self) -> Recipe:
        return RECIPES[self.spins]

    def params(self) -> dict:
        return {"sites": self.sites, "seed": self.seed, "spins": self.spins}

    def spin_shape(self, size: int | None = None) -> tuple[int]:
        if size is not None and int(size) != self.sites:
            raise ValueError(f"this 3-spin model has {self.sites} sites; size {size} is not available")
        return (self.sites,)

    def dataset_spins(self, manifest: dict) -> np.ndarray:
        """The authors' samples: the first 80% for part "train", the last 20% for "test"."""
        samples = self.reference_samples()
        cut = REFERENCE_SAMPLES * 4 // 5
        return samples[:cut] if manifest["part"] == "train" else samples[cut:]

    def validate(self, spins) -> np.ndarray:
        s = _checks.as_float_array(spins, "spins")
        if s.ndim < 1 or s.shape[-1] != self.sites:
            raise ValueError(f"3-spin configurations must have shape (..., {self.sites}), got {s.shape}")
        if self.spins == "binary":
            bad = (s != 0.0) & (s != 1.0)
            if bad.any():
                raise ValueError(f"binary 3-spin values must be 0 or 1; {int(bad.sum())} entr(ies) are not")
        elif (np.abs(s) > 1.0).any():
            raise ValueError(f"continuous 3-spin values must lie in [-1, 1]; max |s| = {np.abs(s).max():.3g}")
        return s

    def energy(self, spins):
        """H(S): a float for shape (sites,), an array (B,) for (B, sites).

        The terms are added one triple at a time in a fixed order, so the
        result is bit-identical on every machine (a BLAS product sums in an order
        that depends on the CPU's kernel, and the shipped labels are checked by
        sha256).
        """
        s = self.validate(spins)
        e = np.zeros(s.shape[:-1])
        for (i, j, k), coupling in zip(self.triples, self.couplings):
            e -= coupling * (s[..., i] * s[..., j] * s[..., k])
        return float(e) if e.ndim == 0 else e

    def sample(self, size: int | None, count: int, rng) -> np.ndarray:
        """``count`` i.i.d. configurations (count, sites): {0,1} fair coins or U[-1, 1].

        ``size`` is the number of sites (None: this model's); the couplings fix it.
        """
        self.spin_shape(size)
        count = _checks.sample_count(count, self.sites)
        rng = _checks.generator(rng)
        if self.spins == "binary":
            return rng.integers(0, 2, (count, self.sites)).astype(np.float64)
        return rng.uniform(-1.0, 1.0, (count, self.sites))

    def reference_samples(self) -> np.ndarray:
        """The authors' 20000 configurations for this seed, (20000, sites) float64."""
        return self._samples.copy()


def _draw(sites: int, seed: int, kind: str):
    """Couplings and samples in the authors' RNG order (see module docstring)."""
    lex = np.array(list(combinations(range(sites), 3)))
    k = len(lex)
    state = np.random.RandomState(seed)
    if kind == "binary":
        perm = state.choice(range(k), size=k, replace=False)
        samples = state.choice([0, 1], size=(REFERENCE_SAMPLES, sites)).astype(np.float64)
        couplings = np.array([state.normal(1, 2) for _ in range(k)])
        return lex[perm], couplings, samples
    couplings = np.array([state.normal(1, 2) for _ in range(k)])
    samples = state.uniform(-1, 1, (REFERENCE_SAMPLES, sites))
    return lex, couplings, samples


def _recipe(kind: str) -> Recipe:
    what = "0/1" if kind == "binary" else "continuous [-1, 1]"
    return Recipe(
        label=f"3-spin, {kind} spins (15 sites)",
        family="dense",
        datasets={f"three_spin_{kind}_train": dict(part="train"), f"three_spin_{kind}_test": dict(part="test")},
        train_set=f"three_spin_{kind}_train", test_set=f"three_spin_{kind}_test",
        dtype="float64", weight_decay=1e-3, sizes=(15, 15, 15), exact_max=15, fixed_size=True,
        summary=f"Infinite-range 3-body couplings J_ijk ~ N(1, 2) over all triples of 15 {what} spins "
                "(paper Eq. 1).",
    )


RECIPES = {kind: _recipe(kind) for kind in ("binary", "continuous")}


@dataclass(frozen=True, eq=False)
class ThreeSpinBinary(ThreeSpin):
    """The binary (s in {0, 1}) 3-spin model, registered as ``three_spin_binary``."""

    spins: str = "binary"
    name = "three_spin_binary"
    recipe = RECIPES["binary"]


@dataclass(frozen=True, eq=False)
class ThreeSpinContinuous(ThreeSpin):
    """The continuous (s in [-1, 1]) 3-spin model, registered as ``three_spin_continuous``."""

    spins: str = "continuous"
    name = "three_spin_continuous"
    recipe = RECIPES["continuous"]
