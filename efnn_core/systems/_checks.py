"""Input validation shared by the physical systems.

Every check raises ``ValueError`` naming the bad value and what was expected,
so that the app and the CLI can show the message as it is.  Every size that
allocates is bounded here *before* anything is allocated, and the bound is in
the message:

* ``MAX_L`` - linear lattice size of a sampled or validated configuration;
* ``MAX_ELEMENTS`` - numbers in one spin array (count x sites x components);
* ``MAX_SITES`` - sites of a 3-spin model (C(sites, 3) couplings);
* ``MAX_PARAM`` - magnitude of a physical parameter (t, J, mu, T), so that
  energies stay finite (``mu=1e308`` would give -inf);
* exact diagonalization: ``ED_MAX_L`` and ``ED_BATCH_BYTES`` (the Hamiltonians
  of one batch), see ``DoubleExchange.energy``.
"""

from __future__ import annotations

import numbers

import numpy as np

UNIT_TOL = 1e-4  # |s| may differ from 1 by this much (float32 round trips stay inside)
MAX_L = 256  # lattice side: 65,536 sites
MAX_ELEMENTS = 50_000_000  # one spin array: 400 MB of float64 (the shipped training set has 1.2e7)
MAX_SITES = 100  # 3-spin model: C(100, 3) = 161,700 couplings
MAX_PARAM = 1e6  # |t|, |J|, |mu|, T: energies stay finite with 2 L^2 levels
MIN_T = 1e-6  # T below this makes E/T overflow for ordinary levels
ED_MAX_L = 64  # one 2L^2 x 2L^2 complex128 Hamiltonian at L = 64 is 1.07 GB
ED_BATCH_BYTES = 256 << 20  # Hamiltonians built at once by DoubleExchange.energy (at least one)


def _describe(x) -> str:
    return type(x).__name__


def as_float_array(x, name: str, *, max_elements: int = MAX_ELEMENTS) -> np.ndarray:
    """``x`` as a float64 array, refusing non-numeric, complex, oversized input and NaN/inf.

    Torch tensors are accepted (detached, moved to the CPU); booleans, strings,
    objects and complex numbers are refused rather than silently converted.
    """
    if type(x).__module__.startswith("torch"):
        if getattr(x, "requires_grad", False):
            raise ValueError(f"{name} is a torch tensor that requires grad; these energies are not "
                             f"differentiable through it: pass {name}.detach()")
        try:
            x = x.detach().cpu().numpy()
        except Exception as err:  # noqa: BLE001 - any tensor that cannot become an array
            raise ValueError(f"{name}: cannot read this {_describe(x)} as numbers ({err})") from None
    size = getattr(x, "size", None)
    if isinstance(size, numbers.Integral) and size > max_elements:
        raise ValueError(f"{name} has {size} numbers; at most {max_elements} are allowed")
    if isinstance(x, (str, bytes)):
        raise ValueError(f"{name} must be numeric, got {_describe(x)}")
    try:
        raw = np.asarray(x)
    except Exception as err:  # noqa: BLE001 - ragged lists, odd objects
        raise ValueError(f"{name} must be a numeric array, got {_describe(x)}: {err}") from None
    if raw.size > max_elements:
        raise ValueError(f"{name} has {raw.size} numbers; at most {max_elements} are allowed")
    if raw.dtype.kind == "c":
        raise ValueError(f"{name} must be real; got complex values (use .real explicitly if intended)")
    if raw.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a numeric array, got dtype {raw.dtype} ({_describe(x)})")
    arr = raw.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} contains {int(bad.sum())} NaN or infinite value(s); "
                         "every entry must be a finite number")
    return arr


def lattice_spins(spins, *, min_L: int = 3, max_L: int = MAX_L) -> np.ndarray:
    """Validate classical Heisenberg spins of shape (..., L, L, 3) with |s| = 1.

    Returns a float64 array; raises ValueError for a wrong shape, NaN, non-unit
    vectors or L outside [``min_L``, ``max_L``].
    """
    arr = as_float_array(spins, "spins")
    if arr.ndim < 3 or arr.shape[-1] != 3 or arr.shape[-2] != arr.shape[-3]:
        raise ValueError(f"spins must have shape (..., L, L, 3) (square lattice of 3-vectors), "
                         f"got {arr.shape}")
    L = arr.shape[-2]
    if L < min_L:
        raise ValueError(f"lattice size L={L} is too small; need L >= {min_L} so that the "
                         "periodic nearest neighbours of a site are distinct")
    if L > max_L:
        raise ValueError(f"lattice size L={L} is too large; at most {max_L} is allowed here")
    norms = np.sqrt(arr[..., 0] ** 2 + arr[..., 1] ** 2 + arr[..., 2] ** 2)
    off = np.abs(norms - 1.0) > UNIT_TOL
    if off.any():
        raise ValueError(f"spins must be unit vectors; |s| ranges {norms.min():.3g}..{norms.max():.3g} "
                         f"and {int(off.sum())} site(s) are off by more than {UNIT_TOL:g} "
                         "(normalise them with s / |s|)")
    return arr


def ising_spins(spins, *, min_L: int = 3, max_L: int = MAX_L) -> np.ndarray:
    """Validate Ising spins of shape (..., L, L) with values +-1."""
    arr = as_float_array(spins, "spins")
    if arr.ndim < 2 or arr.shape[-1] != arr.shape[-2]:
        raise ValueError(f"Ising spins must have shape (..., L, L), got {arr.shape}")
    if arr.shape[-1] < min_L:
        raise ValueError(f"lattice size L={arr.shape[-1]} is too small; need L >= {min_L}")
    if arr.shape[-1] > max_L:
        raise ValueError(f"lattice size L={arr.shape[-1]} is too large; at most {max_L} is allowed here")
    bad = (arr != 1.0) & (arr != -1.0)
    if bad.any():
        raise ValueError(f"Ising spins must be +1 or -1; {int(bad.sum())} entr(ies) are not "
                         f"(e.g. {arr[bad].flat[0]:g})")
    return arr


def number(value, name: str) -> float:
    """A real, finite float from an int/float (numpy scalars included); bool, str, complex refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {_describe(value)} {value!r:.40}")
    try:
        v = float(value)
    except (OverflowError, ValueError, TypeError):
        raise ValueError(f"{name} = {value!r:.40} is not representable as a float") from None
    if not np.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r:.40}")
    return v


def positive(value, name: str, *, lo: float = 0.0, hi: float = MAX_PARAM) -> float:
    """A finite number in (lo, hi]."""
    v = number(value, name)
    if not lo < v <= hi:
        raise ValueError(f"{name} must be a positive number in ({lo:g}, {hi:g}], got {value!r}")
    return v


def finite(value, name: str, *, bound: float = MAX_PARAM) -> float:
    """A finite number with |value| <= bound."""
    v = number(value, name)
    if abs(v) > bound:
        raise ValueError(f"{name} = {value!r} is too large; |{name}| <= {bound:g} is allowed")
    return v


def integer(value, name: str, *, lo: int | None = None, hi: int | None = None) -> int:
    """An integer in [lo, hi]: ints, integral floats and numpy integers; bool, str, inf, 2.5 refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be an integer, got {_describe(value)} {value!r:.40}")
    if isinstance(value, numbers.Integral):
        v = int(value)
    else:
        f = float(value)
        if not np.isfinite(f) or f != int(f):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        v = int(f)
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be >= {lo}, got {v}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} = {v} is too large; at most {hi} is allowed")
    return v


def lattice_size(L, *, min_L: int = 3, max_L: int | None = MAX_L) -> int:
    """Linear lattice size in [min_L, max_L] (never above ``MAX_L``)."""
    L = integer(L, "L")
    if L < min_L:
        raise ValueError(f"lattice size L={L} is too small; need L >= {min_L}")
    top = MAX_L if max_L is None else min(max_L, MAX_L)
    if L > top:
        raise ValueError(f"lattice size L={L} is too large; at most {top} is allowed here")
    return L


def count(n, name: str = "count", *, hi: int | None = None) -> int:
    """A positive integer (at most ``hi``)."""
    try:
        v = integer(n, name)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {n!r:.40}") from None
    if v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} = {v} is too large; at most {hi} is allowed")
    return v


def sample_count(n, per_config: int, *, name: str = "count") -> int:
    """``count`` configurations of ``per_config`` numbers each, bounded by ``MAX_ELEMENTS`` in total."""
    c = count(n, name)
    if c * per_config > MAX_ELEMENTS:
        raise ValueError(f"{name}={c} configurations of {per_config} numbers would be {c * per_config:.3g} "
                         f"numbers; at most {MAX_ELEMENTS} ({MAX_ELEMENTS // per_config} configurations "
                         "at this size) are allowed at once")
    return c


def generator(rng) -> np.random.Generator:
    """``np.random.default_rng(rng)`` for None, a non-negative int, a SeedSequence, BitGenerator or Generator."""
    if rng is None or isinstance(rng, (np.random.Generator, np.random.BitGenerator, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if int(rng) < 0:
            raise ValueError(f"rng seed must be >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be None, a non-negative integer seed or a numpy Generator, "
                     f"got {_describe(rng)} {rng!r:.40}")
