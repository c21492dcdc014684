"""Moves on spin configurations: the sampler layer's building blocks (plain numpy).

Lattice spins are unit vectors of shape (..., L, L, 3) (row, column, component);
Ising spins are +-1 arrays (..., L, L).  Sites are (row, col) pairs.

* ``propose_rotation(s, step, rng)``: the Metropolis move of a single unit spin,
  s -> normalize(s + step * xi) with xi ~ N(0, 1)^3.  The proposal density of the
  new direction depends only on the angle between old and new, so it is
  symmetric, q(s -> s') = q(s' -> s): plain Metropolis needs no Hastings factor.
* ``single_site(spins, site, step, rng)``: that move applied to one site (copy).
* ``flip``, ``set_direction``: edits of chosen sites (copies).
* ``rotation``, ``random_rotation``, ``rotate``: one O(3) matrix applied to every
  spin (a global rotation; the double exchange energy is invariant under it).

    >>> rng = np.random.default_rng(0)
    >>> s = np.zeros((4, 4, 3)); s[..., 2] = 1
    >>> t = single_site(s, (1, 2), 0.5, rng)
    >>> bool(np.allclose(np.linalg.norm(t, axis=-1), 1)), int((t != s).any(-1).sum())
    (True, 1)
"""

from __future__ import annotations

import numpy as np

from ..systems import angles_to_spins

__all__ = ["normalise", "propose_rotation", "single_site", "flip", "set_direction", "rotation",
           "random_rotation", "rotate"]


def normalise(s: np.ndarray) -> np.ndarray:
    """s / |s| along the last axis; zero vectors become +z."""
    s = np.asarray(s, dtype=float)
    n = np.linalg.norm(s, axis=-1, keepdims=True)
    out = np.divide(s, n, out=np.zeros_like(s), where=n > 1e-12)
    out[n[..., 0] <= 1e-12] = (0.0, 0.0, 1.0)
    return out


def propose_rotation(spin: np.ndarray, step: float, rng: np.random.Generator) -> np.ndarray:
    """A new unit spin normalize(spin + step * xi), xi standard normal (3,); symmetric proposal.

    ``step`` ~ 0.5 gives ~75% ED-Metropolis acceptance for the double exchange
    model at T = 0.1; step -> infinity is a uniform redraw on the sphere.
    """
    v = np.asarray(spin, dtype=float) + float(step) * rng.standard_normal(3)
    return v / np.sqrt(v @ v)


def single_site(spins: np.ndarray, site, step: float, rng: np.random.Generator) -> np.ndarray:
    """Copy of ``spins`` (L, L, 3) with the spin at ``site`` = (row, col) moved by ``propose_rotation``."""
    out = np.array(spins, dtype=float, copy=True)
    r, c = site
    out[r, c] = propose_rotation(out[r, c], step, rng)
    return out


def _sites(sites):
    arr = np.asarray(list(sites), dtype=int).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def set_direction(spins: np.ndarray, sites, theta: float, phi: float) -> np.ndarray:
    """Copy of ``spins`` (L, L, 3) with the (row, col) ``sites`` pointing along (theta, phi) in radians."""
    out = np.array(spins, dtype=float, copy=True)
    rows, cols = _sites(sites)
    out[rows, cols] = angles_to_spins(theta, phi)
    return out


def flip(spins: np.ndarray, sites) -> np.ndarray:
    """Copy of ``spins`` ((L, L, 3) or Ising (L, L)) with the (row, col) ``sites`` reversed."""
    out = np.array(spins, dtype=float, copy=True)
    rows, cols = _sites(sites)
    out[rows, cols] = -out[rows, cols]
    return out


def rotation(axis=(0.0, 0.0, 1.0), angle: float = 0.0, *, improper: bool = False) -> np.ndarray:
    """3x3 O(3) matrix: rotation by ``angle`` (radians) about ``axis``, times -1 if ``improper``."""
    a = np.asarray(axis, dtype=float)
    n = np.linalg.norm(a)
    if not np.isfinite(n) or n == 0:
        raise ValueError(f"rotation axis must be a non-zero finite vector, got {axis!r}")
    x, y, z = a / n
    K = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    R = np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K  # Rodrigues
    return -R if improper else R


def random_rotation(seed, *, improper: bool = False) -> np.ndarray:
    """Haar-random SO(3) matrix (times -1 if ``improper``) from ``seed`` (an int or a Generator)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return -q if improper else q


def rotate(spins: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Apply the same 3x3 matrix to every spin: (..., 3) -> (..., 3)."""
    return np.asarray(spins, float) @ np.asarray(R, float).T
