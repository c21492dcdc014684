"""Quantum double exchange (classical-spin Kondo lattice) model on an L x L torus.

    H(S) = -t sum_<ij>,a (c+_ia c_ja + h.c.) - (J/2) sum_i s_i . c+_i sigma c_i - mu sum_i n_i

Electrons hop between nearest neighbours (periodic boundaries, both spin
species) and feel the classical unit spins s_i through an on-site Hund
coupling.  The label learned by the networks is the Monte Carlo energy

    E_MC(S) = -T sum_n log(1 + exp(-E_n(S)/T)),

with E_n the 2L^2 single-particle eigenvalues of H(S) (mu included), i.e. the
grand potential of the electrons at temperature T: it fixes the Metropolis
acceptance when the classical spins are sampled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _checks, _linalg
from .base import Recipe, SystemBase


def hopping_pairs(L: int) -> tuple[np.ndarray, np.ndarray]:
    """Site pairs (i, j) of the right and down bonds of an L x L torus, i = r*L + c."""
    r, c = np.divmod(np.arange(L * L), L)
    i = np.concatenate([r * L + c, r * L + c])
    j = np.concatenate([((r + 1) % L) * L + c, r * L + (c + 1) % L])
    return i, j


def uniform_sphere(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Unit vectors uniform on S^2, shape (*shape, 3).

    Marsaglia's rejection from the cube: only uniform draws, products, a square
    root and a division, so the result is bit-for-bit reproducible from the
    seed on any IEEE machine (no libm transcendental functions involved).
    """
    n = int(np.prod(shape))
    out = np.empty((n, 3))
    filled = 0
    while filled < n:
        need = n - filled
        v = rng.random((int(need * 2.0) + 16, 3)) * 2.0 - 1.0  # acceptance is pi/6 ~ 0.52
        r2 = v[:, 0] * v[:, 0] + v[:, 1] * v[:, 1] + v[:, 2] * v[:, 2]
        v = v[(r2 <= 1.0) & (r2 > 1e-6)][:need]
        out[filled:filled + len(v)] = v
        filled += len(v)
    r = np.sqrt(out[:, 0] * out[:, 0] + out[:, 1] * out[:, 1] + out[:, 2] * out[:, 2])
    return (out / r[:, None]).reshape(*shape, 3)


def angles_to_spins(theta, phi) -> np.ndarray:
    """Unit vectors (..., 3) from polar angle theta and azimuth phi (radians)."""
    theta, phi = np.asarray(theta, float), np.asarray(phi, float)
    return np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], -1)


def reference_spins(L: int, seed: int) -> np.ndarray:
    """One configuration exactly as the authors' generator makes it, (L, L, 3).

    Their code reseeds the legacy global RNG with the same seed before drawing
    theta ~ U[0, pi) and again before phi ~ U[0, 2 pi), so phi = 2 theta exactly
    and all spins lie on one curve on the sphere.  Sample j of their data used
    seed 100 + j.
    """
    state = np.random.RandomState(seed)
    theta = state.uniform(0, np.pi, (L, L))
    return angles_to_spins(theta, 2.0 * theta)


@dataclass(frozen=True)
class DoubleExchange(SystemBase):
    """Double exchange model with the EFNN paper's parameters as defaults.

    Args:
        t: nearest-neighbour hopping (energy unit).
        J: Hund coupling; the on-site term is -(J/2) s . sigma.
        mu: chemical potential (on the diagonal as -mu).
        T: temperature of the electrons in E_MC (> 0).

    Example (2x2 would have doubled bonds, so the smallest lattice is 3x3)::

        >>> de = DoubleExchange()
        >>> s = np.zeros((3, 3, 3)); s[..., 2] = 1          # ferromagnet along z
        >>> de.hamiltonian(s).shape
        (18, 18)
    """

    t: float = 1.0
    J: float = 16.0
    mu: float = -8.3
    T: float = 0.1

    def __post_init__(self):
        _checks.finite(self.t, "t")
        _checks.finite(self.J, "J")
        _checks.finite(self.mu, "mu")
        _checks.positive(self.T, "temperature T", lo=_checks.MIN_T)

    name = "double_exchange"
    recipe = Recipe(
        label="Double exchange (quantum, ED)",
        family="lattice",
        datasets={  # train and test sets use different seeds: no configuration is shared
            "de_L10_train": dict(L=10, count=40000, seed=1010, precision="single"),
            "de_L10_test": dict(L=10, count=2000, seed=2010, precision="double"),
            "de_L20_test": dict(L=20, count=500, seed=2020, precision="double"),
            "de_L30_test": dict(L=30, count=200, seed=2030, precision="double"),
            "de_L40_test": dict(L=40, count=100, seed=2040, precision="double"),
            # beyond ED: labelled by KPM (efnn_core.solvers.kpm), label error ~1e-6 relative in the manifest
            "de_L64_test": dict(L=64, count=100, seed=2064, solver="kpm", options=dict(moments=250, distance=12)),
            "de_L100_test": dict(L=100, count=50, seed=2100, solver="kpm", options=dict(moments=250, distance=12)),
        },
        train_set="de_L10_train", test_set="de_L10_test",
        test_sets={10: "de_L10_test", 20: "de_L20_test", 30: "de_L30_test", 40: "de_L40_test",
                   64: "de_L64_test", 100: "de_L100_test"},
        stored_labels=True, dtype="float32", weight_decay=1e-5, sizes=(4, 10, 40), exact_max=40,
        summary="Electrons hopping on an L x L torus, coupled to classical unit spins; the label is the "
                "electrons' grand potential E_MC at temperature T, by exact diagonalization (O(L^6)).",
    )

    @property
    def temperature(self) -> float:
        return self.T

    def spin_shape(self, size: int) -> tuple[int, int, int]:
        return (int(size), int(size), 3)

    def validate(self, spins) -> np.ndarray:
        """Unit vectors (..., L, L, 3), L >= 3, as float64."""
        return _checks.lattice_spins(spins)

    def hamiltonian(self, spins) -> np.ndarray:
        """The 2L^2 x 2L^2 Hermitian matrix of Eq. (2), mu included.

        Basis index = a * L^2 + (r * L + c), spin-up block (a = 0) first, sites
        row-major (matching ``spins.reshape(-1, 3)``).

        Args:
            spins: unit vectors, shape (..., L, L, 3).
        Returns:
            complex128 array (..., 2L^2, 2L^2).
        """
        s = _checks.lattice_spins(spins, max_L=_checks.ED_MAX_L)
        L = s.shape[-2]
        n = L * L
        batch = s.shape[:-3]
        nbytes = 16 * (2 * n) ** 2 * int(np.prod(batch, dtype=np.int64))
        if batch and nbytes > max(_checks.ED_BATCH_BYTES, 16 * (2 * n) ** 2):
            raise ValueError(f"{int(np.prod(batch))} Hamiltonians at L={L} would take {nbytes / 2**30:.2f} GiB "
                             f"at once (at most {_checks.ED_BATCH_BYTES / 2**20:.0f} MiB); energy() and "
                             "eigenvalues() work in bounded batches")
        flat = s.reshape(*batch, n, 3)
        h = np.zeros((*batch, 2 * n, 2 * n), dtype=np.complex128)
        i, j = hopping_pairs(L)
        for a in (0, n):  # the same hopping in both spin blocks
            h[..., a + i, a + j] = -self.t
            h[..., a + j, a + i] = -self.t
        d = np.arange(n)
        half = 0.5 * self.J
        h[..., d, d] = -half * flat[..., 2] - self.mu
        h[..., n + d, n + d] = half * flat[..., 2] - self.mu
        h[..., d, n + d] = -half * (flat[..., 0] - 1j * flat[..., 1])
        h[..., n + d, d] = -half * (flat[..., 0] + 1j * flat[..., 1])
        return h

    def eigenvalues(self, spins, *, precision: str = "double") -> np.ndarray:
        """Ascending single-particle energies E_n, shape (..., 2L^2), float64.

        The Hamiltonians are built and diagonalized a bounded batch at a time
        (``_checks.ED_BATCH_BYTES``, at least one matrix), and L <= ``_checks.ED_MAX_L``.
        """
        s = _checks.lattice_spins(spins, max_L=_checks.ED_MAX_L)
        if s.ndim == 3:
            return _linalg.eigvalsh(self.hamiltonian(s), precision=precision)
        L = s.shape[-2]
        flat = s.reshape(-1, L, L, 3)
        step = max(1, _checks.ED_BATCH_BYTES // (16 * (2 * L * L) ** 2))
        out = np.empty((len(flat), 2 * L * L))
        for i in range(0, len(flat), step):
            out[i:i + step] = _linalg.eigvalsh(self.hamiltonian(flat[i:i + step]), precision=precision)
        return out.reshape(*s.shape[:-3], 2 * L * L)

    def energy_from_eigenvalues(self, eigenvalues) -> np.ndarray | float:
        """E_MC = -T sum_n log(1 + e^{-E_n/T}), evaluated as -T logaddexp(0, -E_n/T)."""
        e = np.asarray(eigenvalues, dtype=np.float64)
        out = -self.T * np.logaddexp(0.0, -e / self.T).sum(axis=-1)
        return float(out) if out.ndim == 0 else out

    def energy(self, spins, *, precision: str = "double"):
        """Monte Carlo energy E_MC in float64: a float for (L, L, 3), shape (B,) for (B, L, L, 3)."""
        return self.energy_from_eigenvalues(self.eigenvalues(spins, precision=precision))

    def dataset_spins(self, manifest: dict) -> np.ndarray:
        return self.sample(manifest["L"], manifest["count"], np.random.default_rng(manifest["seed"]),
                           manifest.get("sampler", "uniform"))

    def sample(self, L: int, count: int, rng, sampler: str = "uniform") -> np.ndarray:
        """Random configurations, shape (count, L, L, 3).

        ``sampler="uniform"``: i.i.d. spins uniform on the sphere (this project's data).
        ``sampler="reference"``: the authors' distribution, theta ~ U[0, pi) and
        phi = 2 theta, so spins lie on a single curve on S^2 and theta (not
        cos theta) is uniform.  Mean E_MC per site is -0.5166 for it against
        -0.512 for uniform spins at L = 10; use it to compare with their numbers.
        """
        L = _checks.lattice_size(L)
        count = _checks.sample_count(count, 3 * L * L)
        rng = _checks.generator(rng)
        if sampler == "uniform":
            return uniform_sphere(rng, (count, L, L))
        if sampler == "reference":
            theta = rng.uniform(0.0, np.pi, (count, L, L))
            return angles_to_spins(theta, 2.0 * theta)
        raise ValueError(f"sampler must be 'uniform' or 'reference', got {sampler!r}")
