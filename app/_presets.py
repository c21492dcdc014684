"""Spin presets for the lattice pages: plain numpy, no Streamlit.

Every Heisenberg preset returns unit vectors of shape (L, L, 3) (row, column,
component); Ising presets return +-1 arrays of shape (L, L).  Sites are
indexed (row, col) with row = y and col = x, periodic boundaries.

    >>> s = heisenberg("neel", 4)
    >>> s.shape, s[0, 0, 2], s[0, 1, 2]
    ((4, 4, 3), 1.0, -1.0)
"""

from __future__ import annotations

import numpy as np

from efnn_core.mc.moves import flip, normalise, random_rotation, rotate, rotation, set_direction  # noqa: F401
from efnn_core.systems import angles_to_spins, uniform_sphere

PRESETS = ("random", "ferromagnet", "neel", "spiral", "skyrmion", "domain_wall")
LABELS = {"random": "Random", "ferromagnet": "Ferromagnet", "neel": "Néel (checkerboard)",
          "spiral": "Spiral (wavevector q)", "skyrmion": "Skyrmion", "domain_wall": "Domain walls"}


def _grid(L: int):
    row, col = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")  # (L, L) each
    return row.astype(float), col.astype(float)


def heisenberg(name: str, L: int, seed: int = 0, *, q: tuple[int, int] = (1, 0), radius: float | None = None,
               noise: float = 0.0) -> np.ndarray:
    """Unit-vector configuration ``name`` on an L x L torus, shape (L, L, 3).

    Args:
        name: one of ``PRESETS``.
        L: linear size (>= 1).
        seed: seeds "random" and the optional ``noise``.
        q: spiral wavevector in units of 2 pi / L (integers keep it periodic).
        radius: skyrmion radius in sites (default L / 3).
        noise: angle (radians, std) of random tilts added to every spin.
    """
    L = int(L)
    if L < 1:
        raise ValueError(f"L must be a positive integer, got {L}")
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    rng = np.random.default_rng(int(seed))
    row, col = _grid(L)
    if name == "random":
        s = uniform_sphere(rng, (L, L))
    elif name == "ferromagnet":
        s = np.zeros((L, L, 3))
        s[..., 2] = 1.0
    elif name == "neel":
        s = np.zeros((L, L, 3))
        s[..., 2] = np.where((row + col) % 2 == 0, 1.0, -1.0)
    elif name == "spiral":
        # in-plane cycloid: the spin turns by 2 pi q / L per site along q
        angle = 2 * np.pi * (q[0] * col + q[1] * row) / L
        s = angles_to_spins(np.full((L, L), np.pi / 2), angle)
    elif name == "skyrmion":
        # Neel-type skyrmion: core down, background up, theta falls from pi to 0 over the radius
        R = float(radius) if radius else L / 3.0
        c = (L - 1) / 2.0
        dx, dy = col - c, row - c
        r = np.hypot(dx, dy)
        theta = np.where(r < R, np.pi * (1.0 - r / R), 0.0)
        s = angles_to_spins(theta, np.arctan2(dy, dx))
    else:  # domain_wall: two Neel walls (periodic boundaries need an even number)
        w = max(L / 12.0, 0.75)
        x1, x2 = L / 4.0, 3.0 * L / 4.0
        theta = 2 * np.arctan(np.exp((col - x1) / w)) - 2 * np.arctan(np.exp((col - x2) / w)) 
        s = angles_to_spins(theta, np.zeros((L, L)))
    if noise > 0:
        s = s + float(noise) * rng.normal(size=s.shape)
    return normalise(s)


def ising(name: str, L: int, seed: int = 0, **kw) -> np.ndarray:
    """+-1 configuration (L, L): "random" draws fair coins, the others take sign(s_z)
    of the Heisenberg preset (spiral: sign of s_x, so that it is not all +1)."""
    if name == "random":
        return np.random.default_rng(int(seed)).choice([-1.0, 1.0], size=(int(L), int(L)))
    s = heisenberg(name, L, seed, **kw)
    comp = s[..., 0] if name == "spiral" else s[..., 2]
    return np.where(comp >= 0, 1.0, -1.0)























CHAIN_PRESETS = ("random", "ferromagnet", "neel", "spiral", "domain_wall")


def chain(name: str, sites: int = 15, seed: int = 0, *, kind: str = "binary", q: tuple[int, int] = (1, 0),
          noise: float = 0.0, **_) -> np.ndarray:
    """3-spin configuration (sites,): {0, 1} for ``kind="binary"``, [-1, 1] for ``"continuous"``.

    "ferromagnet": all 1; "neel": alternating (1, 0 / 1, -1); "spiral": cos(2 pi q i / sites);
    "domain_wall": first half 1, second half 0 / -1; "random": fair coins / uniform; ``noise``
    (continuous only) adds seeded Gaussian noise, clipped to [-1, 1].
    """
    if name not in CHAIN_PRESETS:
        raise ValueError(f"unknown 3-spin preset {name!r}; choose one of {', '.join(CHAIN_PRESETS)}")
    rng = np.random.default_rng(int(seed))
    i = np.arange(int(sites))
    low = 0.0 if kind == "binary" else -1.0
    if name == "random":
        s = rng.integers(0, 2, sites).astype(float) if kind == "binary" else rng.uniform(-1, 1, sites)
    elif name == "ferromagnet":
        s = np.ones(sites)
    elif name == "neel":
        s = np.where(i % 2 == 0, 1.0, low)
    elif name == "spiral":
        c = np.cos(2 * np.pi * q[0] * i / sites)
        s = np.where(c >= 0, 1.0, 0.0) if kind == "binary" else c
    else:
        s = np.where(i < sites // 2, 1.0, low)
    if noise > 0 and kind == "continuous":
        s = np.clip(s + float(noise) * rng.normal(size=s.shape), -1.0, 1.0)
    return s


def set_value(spins: np.ndarray, sites, value: float) -> np.ndarray:
    """Copy of a 3-spin configuration (n,) with ``sites`` (indices) set to ``value``."""
    out = np.array(spins, dtype=float, copy=True)
    out[np.asarray(list(sites), dtype=int)] = float(value)
    return out


def toggle(spins: np.ndarray, sites, *, kind: str = "binary") -> np.ndarray:
    """Copy with ``sites`` flipped: 0 <-> 1 (binary) or s -> -s (continuous)."""
    out = np.array(spins, dtype=float, copy=True)
    idx = np.unique(np.asarray(list(sites), dtype=int))
    out[idx] = 1.0 - out[idx] if kind == "binary" else -out[idx]
    return out
