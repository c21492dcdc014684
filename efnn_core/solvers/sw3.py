"""Schrieffer-Wolff (SW) effective Hamiltonian of the double exchange model's lower band.

In the local frame of each classical spin, |up_i> (along s_i) and |down_i>
(against it) diagonalize the Hund term, with energies -(J/2)|s_i| - mu and
+(J/2)|s_i| - mu: two bands split by the gap Delta = J, coupled by the hopping.
With

    h_ij = -t <up_i|up_j>,   q_ij = -t <down_i|down_j>,   X_ik = -t <up_i|down_k>   (nearest neighbours)

the full Hamiltonian is [[h, X], [X^+, Delta + q]] (lower diagonal -J/2 - mu
taken out; the small on-site terms of non-unit spins sit on h's and q's
diagonals).  Block-diagonalizing it order by order in t/J gives an L^2 x L^2
Hermitian matrix for the lower band:

    order 1:  h                                               (J -> infinity: spinless hopping, Berry phases)
    order 2:  - X X^+ / J                                     (virtual hops into the upper band)
    order 3:  (X q X^+ - {X X^+, h} / 2) / J^2
    order 4:  -(X q^2 X^+ - X q X^+ h - h X q X^+ + {X X^+, h^2} / 2 - (X X^+)^2) / J^3

(order 4 from the wave operator omega of the invariant subspace, omega = -X^+/J +
(q X^+ - X^+ h)/J^2 + ..., symmetrized with (1 + omega^+ omega)^{1/2}).  The
eigenvalues of the order-n matrix are exact to O(t^{n+1}/J^n), so E_MC =
sum over levels of -T log(1 + e^{-E/T}) has an error ~ L^2 t (t/J)^n.  Only the
lower band is diagonalized (8x fewer flops than full ED); the upper band, at
E >= J/2 - 4|t| - mu (Weyl), contributes < L^2 T e^{-(J/2 - 4t - mu)/T}, which is
added to the error estimate (e^{-123} at the paper's parameters) or, where
not negligible, computed by the mirror-image expansion.

**Error estimate** (``error``): the size of the next-order term, |E_{n+1} - E_n|,
with E_{n+1} from the order-(n+1) matrix diagonalized in complex64 (its
rounding, ~1e-6 relative, is far below that difference).  The series in t/J
converges geometrically (each order ~ 0.07x the previous one at J = 16t), so
this is a close estimate of the true error, not a bound.

    >>> from efnn_core.systems import DoubleExchange
    >>> de = DoubleExchange()
    >>> r = energy(de, de.sample(10, 1, 0)[0])        # order 3
    >>> round(r.energy, 3), round(r.error, 3)          # ED: -51.006, so the true error is 0.0059
    (-51.012, 0.006)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..systems import DoubleExchange, _checks, _linalg
from ..systems.double_exchange import hopping_pairs

__all__ = ["SWResult", "energy", "solver", "effective_hamiltonian", "ORDERS"]

ORDERS = (1, 2, 3)


@dataclass
class SWResult:
    """E_MC from the SW effective Hamiltonian: ``energy``/``error`` are floats for one configuration,
    (B,) arrays for a batch; ``error`` = |E_{order+1} - E_order| (see module docstring)."""

    energy: float | np.ndarray
    error: float | np.ndarray
    seconds: float
    details: dict = field(default_factory=dict)


def _frames(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spinors along and against each spin: up, down (n, 2) complex, and |s| (n,)."""
    norm = np.sqrt((s ** 2).sum(-1))
    u = s / norm[:, None]
    th = np.arccos(np.clip(u[:, 2], -1.0, 1.0))
    ph = np.arctan2(u[:, 1], u[:, 0])
    c, e = np.cos(th / 2), np.exp(1j * ph) * np.sin(th / 2)
    return np.stack([c, e], -1), np.stack([-np.conj(e), c], -1), norm


def _blocks(system: DoubleExchange, spins: np.ndarray):
    """Sparse (h, X, q) of the lower band, coupling and upper band for one (L, L, 3) configuration."""
    L = spins.shape[0]
    n = L * L
    up, dn, norm = _frames(spins.reshape(n, 3))
    i, j = hopping_pairs(L)
    rows, cols = np.concatenate([i, j]), np.concatenate([j, i])

    def hop(a, b):
        return sp.csr_matrix((-system.t * np.einsum("ks,ks->k", a[rows].conj(), b[cols]), (rows, cols)),
                             shape=(n, n))

    shift = sp.diags(0.5 * system.J * (norm - 1.0))  # non-unit spins: on-site +-(J/2)|s|
    return hop(up, up) - shift, hop(up, dn), hop(dn, dn) + shift


def _terms(h, X, q, gap: float, order: int):
    """The order-``order`` effective matrix (sparse, without the constant) from the blocks."""
    H = h.copy()
    if order >= 2:
        XX = X @ X.conj().T
        H = H - XX / gap
    if order >= 3:
        XqX = X @ q @ X.conj().T
        H = H + (XqX - 0.5 * (XX @ h + h @ XX)) / gap ** 2
    if order >= 4:
        h2 = h @ h
        H = H - (X @ q @ q @ X.conj().T - XqX @ h - h @ XqX + 0.5 * (XX @ h2 + h2 @ XX) - XX @ XX) / gap ** 3
    return H


def effective_hamiltonian(system: DoubleExchange, spins, *, order: int = 3, band: str = "lower") -> np.ndarray:
    """The L^2 x L^2 SW effective Hamiltonian (dense complex128, mu and the band centre included).

    Args:
        spins: (L, L, 3) unit vectors.
        order: 1..4 in t/J.
        band: "lower" (spins along s_i, centre -J/2 - mu) or "upper" (mirror expansion).
    """
    spins = _checks.lattice_spins(spins)
    if spins.ndim != 3:
        raise ValueError(f"one configuration (L, L, 3) is needed here, got {spins.shape}")
    h, X, q = _blocks(system, spins)
    if band == "lower":
        H, centre = _terms(h, X, q, system.J, order), -0.5 * system.J - system.mu
    elif band == "upper":
        H, centre = _terms(q, X.conj().T.tocsr(), h, -system.J, order), 0.5 * system.J - system.mu
    else:
        raise ValueError(f"band must be 'lower' or 'upper', got {band!r}")
    return H.toarray() + centre * np.eye(H.shape[0])


def _band_energy(system, H, precision: str) -> float:
    return float(system.energy_from_eigenvalues(_linalg.eigvalsh(H, precision=precision)))


def _one(system: DoubleExchange, spins: np.ndarray, order: int) -> tuple[float, float]:
    n = spins.shape[0] ** 2
    norm = np.sqrt((spins ** 2).sum(-1))
    e_up = 0.5 * system.J * norm.min() - 4 * abs(system.t) - system.mu  # Weyl: upper band lies above this
    upper_bound = n * system.T * np.logaddexp(0.0, -e_up / system.T)
    bands = ("lower",) if upper_bound < 1e-12 * n else ("lower", "upper")
    e = nxt = 0.0
    for band in bands:
        e += _band_energy(system, effective_hamiltonian(system, spins, order=order, band=band), "double")
        nxt += _band_energy(system, effective_hamiltonian(system, spins, order=order + 1, band=band), "single")
    err = abs(nxt - e) + (upper_bound if len(bands) == 1 else 0.0)
    return e, err


def solver(system, spins, **options):
    """The ``SOLVERS`` entry: ``(energy, error)`` of :func:`energy`."""
    r = energy(system, spins, **options)
    return r.energy, r.error


solver.applies = lambda system: isinstance(system, DoubleExchange)  # read by solvers.available


def energy(system: DoubleExchange, spins, *, order: int = 3) -> SWResult:
    """E_MC from the order-``order`` SW effective Hamiltonian of the lower band, float64.

    Args:
        system: a ``DoubleExchange``; needs J > 8|t| (a gap between the bands, by Weyl).
        spins: (L, L, 3) or (B, L, L, 3) unit vectors.
        order: 1, 2 or 3 (error ~ L^2 t (t/J)^order).
    Returns:
        ``SWResult``: energy and error estimate (float or (B,)), seconds per configuration.
    Raises:
        ValueError: bad spins, order, or a system without a gap.
    """
    if not isinstance(system, DoubleExchange):
        raise ValueError(f"SW is written for the double exchange model, got {type(system).__name__}")
    if isinstance(order, bool) or order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if not system.J > 8 * abs(system.t):
        raise ValueError(f"SW needs a gap between the bands, J > 8|t|; got J={system.J:g}, t={system.t:g} "
                         "(use ED or KPM)")
    spins = _checks.lattice_spins(spins)
    single = spins.ndim == 3
    batch = spins[None] if single else spins.reshape(-1, *spins.shape[-3:])
    t0 = time.perf_counter()
    res = np.array([_one(system, s, order) for s in batch])
    seconds = (time.perf_counter() - t0) / len(batch)
    details = dict(method="sw3", order=order)
    if single:
        return SWResult(float(res[0, 0]), float(res[0, 1]), seconds, details)
    shape = spins.shape[:-3]
    return SWResult(res[:, 0].reshape(shape), res[:, 1].reshape(shape), seconds, details)
