"""Input validation shared by the physical systems.

Every check raises ``ValueError`` naming the bad value and what was expected,
so that the app and the CLI can show the message as it is.
"""

from __future__ import annotations

import numpy as np

UNIT_TOL = 1e-4  # |s| may differ from 1 by this much (float32 round trips stay inside)


def as_float_array(x, name: str) -> np.ndarray:
    """``x`` as a float64 array, refusing non-numeric input and NaN/inf."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numeric, got {type(x).__name__}: {err}") from None
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} contains {int(bad.sum())} NaN or infinite value(s); "
                         "every entry must be a finite number")
    return arr


def lattice_spins(spins, *, min_L: int = 3) -> np.ndarray:
    """Validate classical Heisenberg spins of shape (..., L, L, 3) with |s| = 1.

    Returns a float64 array; raises ValueError for a wrong shape, NaN, non-unit
    vectors or L < ``min_L``.
    """
    arr = as_float_array(spins, "spins")
    if arr.ndim < 3 or arr.shape[-1] != 3 or arr.shape[-2] != arr.shape[-3]:
        raise ValueError(f"spins must have shape (..., L, L, 3) (square lattice of 3-vectors), "
                         f"got {arr.shape}")
    L = arr.shape[-2]
    if L < min_L:
        raise ValueError(f"lattice size L={L} is too small; need L >= {min_L} so that the "
                         "periodic nearest neighbours of a site are distinct")
    norms = np.sqrt(arr[..., 0] ** 2 + arr[..., 1] ** 2 + arr[..., 2] ** 2)
    off = np.abs(norms - 1.0) > UNIT_TOL
    if off.any():
        raise ValueError(f"spins must be unit vectors; |s| ranges {norms.min():.3g}..{norms.max():.3g} "
                         f"and {int(off.sum())} site(s) are off by more than {UNIT_TOL:g} "
                         "(normalise them with s / |s|)")
    return arr


def ising_spins(spins, *, min_L: int = 3) -> np.ndarray:
    """Validate Ising spins of shape (..., L, L) with values +-1."""
    arr = as_float_array(spins, "spins")
    if arr.ndim < 2 or arr.shape[-1] != arr.shape[-2]:
        raise ValueError(f"Ising spins must have shape (..., L, L), got {arr.shape}")
    if arr.shape[-1] < min_L:
        raise ValueError(f"lattice size L={arr.shape[-1]} is too small; need L >= {min_L}")
    bad = (arr != 1.0) & (arr != -1.0)
    if bad.any():
        raise ValueError(f"Ising spins must be +1 or -1; {int(bad.sum())} entr(ies) are not "
                         f"(e.g. {arr[bad].flat[0]:g})")
    return arr


def positive(value, name: str) -> float:
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def finite(value, name: str) -> float:
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return v


def lattice_size(L, *, min_L: int = 3, max_L: int | None = None) -> int:
    if isinstance(L, bool) or int(L) != L:
        raise ValueError(f"L must be an integer, got {L!r}")
    L = int(L)
    if L < min_L:
        raise ValueError(f"lattice size L={L} is too small; need L >= {min_L}")
    if max_L is not None and L > max_L:
        raise ValueError(f"lattice size L={L} is too large; at most {max_L} is allowed here")
    return L


def count(n, name: str = "count") -> int:
    if isinstance(n, bool) or int(n) != n or int(n) < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)
