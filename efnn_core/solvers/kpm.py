"""Kernel polynomial method (KPM) for the double exchange energy: O(L^2 M R), no diagonalization.

The Monte Carlo energy is a trace over the 2L^2 single-particle levels,

    E_MC = Tr g(H),    g(E) = -T log(1 + e^{-E/T})      (mu is inside H),

and g is analytic in the strip |Im E| < pi T, so on the rescaled spectrum
x = (E - b)/a in [-1, 1] its Chebyshev series converges geometrically,
|c_m| ~ e^{-eta m} with eta ~ pi T / (a sqrt(1 - x_F^2)) ~ 0.037 at the paper's
parameters (x_F the rescaled Fermi level).  Then

    E_MC ~ sum_{m<M} c_m mu_m,    mu_m = Tr T_m(H~),    H~ = (H - b)/a,

and the moments mu_m come from a block of probe vectors pushed through the
Chebyshev recursion phi_{k+1} = 2 H~ phi_k - phi_{k-1} (M/2 sparse mat-vecs,
using mu_{2k} = 2<phi_k|phi_k> - mu_0 and mu_{2k+1} = 2<phi_{k+1}|phi_k> - mu_1).

* **Bounds without Lanczos** (Weyl): the hopping has norm <= 4|t| on the square
  torus and the on-site term has eigenvalues +-(J/2)|s_i|, so the spectrum lies
  in [-(J/2) max|s| - 4|t| - mu, (J/2) max|s| + 4|t| - mu] (1% margin added).
* **Trace estimator: random-phase colour probing.**  The torus is coloured so
  that two sites of one colour are at least ``distance`` apart along both axes
  (``distance`` = p; p | L gives the p x p pattern).  For colour c, spin
  component sigma and phase set s the probe is v = sum_{i in c} r_{s,i} |i, sigma>
  with random signs r = +-1.  Summed over sigma this gives
  sum_{i,j in c} r_i* r_j Tr_sigma g_ij: the exact diagonal plus same-colour
  pairs at distance >= p, which decay like the finite-T density matrix and enter
  with random signs (zero mean, so the error of the total grows only like L,
  not L^2).  The same spatial phases are used for both spin components, so the
  estimate is exactly invariant under global SU(2) spin rotations; real signs
  make it invariant under spin inversion s -> -s too (time reversal conjugates
  Tr_sigma g_ij, which complex phases would feel), hence under all of O(3).
  ``distance=1`` is one colour: plain random-phase (Hutchinson) vectors.
* **Error estimate** (absolute, RMS): ``sets`` >= 2 independent phase sets give
  for every colour a sample variance of its partial trace; summed over colours
  and divided by ``sets`` it is the variance of the averaged estimate (the
  diagonal is identical in every set, so only the probing error varies).  Added
  to it: the truncation tail sum_{m>=M} |c_m| * rms(mu_m for M/2 <= m < M).

Mat-vecs are a five-point stencil on an array (2, L, L, R) (spin, row,
column, probe), applied to cache-sized blocks of probes that run the whole
recursion independently (numpy, threads over blocks), or on the GPU with torch
when one is present.

    >>> from efnn_core.systems import DoubleExchange
    >>> de = DoubleExchange()
    >>> r = energy(de, de.sample(10, 1, 0)[0])
    >>> round(r.energy, 4), r.error < 1e-3     # ED: -51.00647 (at L = 10, p = 10 probes every site)
    (-51.0065, True)
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..systems import DoubleExchange
from ..systems import _checks
from . import _native

__all__ = ["KPMResult", "energy", "solver", "spectral_bounds", "coefficients", "colouring", "DEFAULTS"]

# Chosen on measurements (benchmarks/solvers.py): relative error <= 1e-5 at L = 40
# and >= 10x faster than numpy eigvalsh there.
DEFAULTS = dict(moments=200, distance=10, sets=2)
MAX_MOMENTS = 100_000
MAX_VECTOR_BYTES = 2 ** 31  # one probe block is allocated at a time; this bounds n * block


@dataclass
class KPMResult:
    """E_MC from KPM: ``energy`` and ``error`` are floats for one configuration, (B,) arrays for a batch.

    ``error`` is the estimated RMS absolute error (probing spread + truncation tail),
    ``seconds`` the wall time per configuration, ``details`` the options and the two
    error parts.
    """

    energy: float | np.ndarray
    error: float | np.ndarray
    seconds: float
    details: dict = field(default_factory=dict)


def spectral_bounds(system: DoubleExchange, spins: np.ndarray) -> tuple[float, float]:
    """Weyl bounds (lo, hi) on the spectrum of H for spins (L, L, 3), mu included."""
    norm = np.sqrt((spins ** 2).sum(-1)).max()
    half = 0.5 * abs(system.J) * norm + 4.0 * abs(system.t)
    return -half - system.mu, half - system.mu


def coefficients(system: DoubleExchange, lo: float, hi: float, moments: int) -> np.ndarray:
    """Chebyshev coefficients c_m of g(E) = -T log(1 + e^{-E/T}) on [lo, hi], shape (4 * moments,).

    Gauss-Chebyshev quadrature (a DCT-II) on K = 4 * moments nodes; the entries
    beyond ``moments`` feed the truncation-tail estimate.
    """
    from scipy.fft import dct

    K = 4 * moments
    a, b = 0.5 * (hi - lo), 0.5 * (hi + lo)
    x = np.cos(np.pi * (np.arange(K) + 0.5) / K)
    g = -system.T * np.logaddexp(0.0, -(a * x + b) / system.T)
    c = dct(g, type=2) / K
    c[0] *= 0.5
    return c


def _axis_colours(L: int, distance: int) -> np.ndarray:
    """Colours of a ring of L sites so that equal colours are >= distance apart (cyclically)."""
    k = L // distance  # segments; equal colours sit once in each
    if k <= 1:
        return np.arange(L)  # every site its own colour: exact along this axis
    edges = np.round(np.linspace(0, L, k + 1)).astype(int)  # segment lengths floor/ceil(L/k) >= distance
    return np.concatenate([np.arange(edges[s + 1] - edges[s]) for s in range(k)])


def colouring(L: int, distance: int) -> tuple[np.ndarray, int]:
    """Distance colouring of the L x L torus: (colours (L, L) int, number of colours).

    Two sites of one colour differ by >= ``distance`` along both axes (or by 0
    along one and >= distance along the other).  With distance | L it is the
    periodic p x p pattern, mapped onto itself by every lattice translation.
    """
    cx = _axis_colours(L, distance)
    n = int(cx.max()) + 1
    return cx[:, None] * n + cx[None, :], n * n


class _Stencil:
    """H~ = (H - b)/a as a five-point stencil on vectors (2, L, L, R) (spin, row, col, probe).

    H~ v = d * v + (spin flip) + h * (sum of the 4 neighbours), with d (2, L, L, 1)
    the on-site diagonal, f (L, L, 1) the <up|H|down> element, h = -t/a; every
    coefficient is pre-multiplied by 2 for the recursion phi' = 2 H~ phi - phi_prev.
    """

    def __init__(self, system: DoubleExchange, spins: np.ndarray, lo: float, hi: float, xp=None):
        a, b = 0.5 * (hi - lo), 0.5 * (hi + lo)
        half = 0.5 * system.J
        s = spins
        self.d2 = np.ascontiguousarray(2.0 * np.stack([-half * s[..., 2] - system.mu - b,
                                                        half * s[..., 2] - system.mu - b]) / a)  # (2, L, L)
        self.f2 = np.ascontiguousarray(2.0 * (-half) * (s[..., 0] - 1j * s[..., 1]) / a)  # (L, L) <up|2H~|down>
        self.h2 = 2.0 * (-system.t) / a
        to = (lambda x: x) if xp is None else xp
        self._d, self._f, self._fc = to(self.d2[..., None]), to(self.f2[..., None]), to(np.conj(self.f2)[..., None])

    def step(self, cur, prev, hop):
        """prev <- 2 H~ cur - prev (in place); hop is scratch of cur's shape."""
        prev *= -1
        prev += self._d * cur
        prev[0] += self._f * cur[1]
        prev[1] += self._fc * cur[0]
        hop[:, 1:] = cur[:, :-1]
        hop[:, :1] = cur[:, -1:]
        hop[:, :-1] += cur[:, 1:]
        hop[:, -1:] += cur[:, :1]
        hop[:, :, 1:] += cur[:, :, :-1]
        hop[:, :, :1] += cur[:, :, -1:]
        hop[:, :, :-1] += cur[:, :, 1:]
        hop[:, :, -1:] += cur[:, :, :1]
        hop *= self.h2
        prev += hop
        return prev


def _real_dot(a, b):
    """Re <a_r|b_r> for every probe r of complex blocks (2, L, L, R) -> (R,) float."""
    if isinstance(a, np.ndarray):
        R = a.shape[-1]
        av = a.reshape(-1, R).view(np.float64)  # (n, 2R): re, im interleaved
        bv = b.reshape(-1, R).view(np.float64)
        s = np.einsum("ij,ij->j", av, bv)
        return s[0::2] + s[1::2]
    import torch

    return (torch.view_as_real(a) * torch.view_as_real(b)).sum(dim=(0, 1, 2, 4))


def _moments(stencil: _Stencil, v0, moments: int, zeros, empty):
    """Chebyshev moments <v|T_m(H~)|v> of every probe column, (moments, R) float64."""
    half = (moments + 1) // 2
    R = v0.shape[-1]
    mu = np.zeros((2 * half + 1, R))
    prev, cur = v0, empty(v0)
    hop = empty(v0)
    # phi_1 = H~ phi_0 = (2 H~ phi_0 - 0) / 2
    nxt = stencil.step(prev, zeros(v0), hop)
    nxt *= 0.5
    prev, cur = v0, nxt
    mu0 = _to_np(_real_dot(v0, v0))
    mu1 = _to_np(_real_dot(cur, v0))
    mu[0], mu[1] = mu0, mu1
    for k in range(1, half):
        # mu_{2k} = 2 <phi_k|phi_k> - mu_0 ; mu_{2k+1} = 2 <phi_{k+1}|phi_k> - mu_1
        mu[2 * k] = 2 * _to_np(_real_dot(cur, cur)) - mu0
        prev = stencil.step(cur, prev, hop)  # prev now holds phi_{k+1}
        mu[2 * k + 1] = 2 * _to_np(_real_dot(prev, cur)) - mu1
        prev, cur = cur, prev
    return mu[:moments]


def _native_moments(lib, stencil: _Stencil, v: np.ndarray, moments: int) -> np.ndarray:
    """Same as ``_moments`` by the compiled kernel: planar float64 (part, spin, L, L, R) buffers."""
    half = (moments + 1) // 2
    L, R = v.shape[1], v.shape[-1]
    a = np.ascontiguousarray(np.stack([v.real, v.imag]))
    b = np.empty_like(a)
    mu = np.empty((2 * half, R))
    acc = np.empty(2 * R)
    fre, fim = np.ascontiguousarray(stencil.f2.real), np.ascontiguousarray(stencil.f2.imag)
    lib.cheb_moments(L, R, half, stencil.d2.ctypes.data, fre.ctypes.data, fim.ctypes.data, stencil.h2,
                     a.ctypes.data, b.ctypes.data, mu.ctypes.data, acc.ctypes.data)
    return mu[:moments]


def _to_np(x):
    return x if isinstance(x, np.ndarray) else x.double().cpu().numpy()


def _probe_block(L, colours, phases, cols, xp_zeros):
    """Probe vectors (2, L, L, len(cols)) for columns (set, colour, spin)."""
    v = xp_zeros((2, L, L, len(cols)))
    for j, (s, c, sigma) in enumerate(cols):
        mask = colours == c
        v[sigma][mask, j] = phases[s][mask]
    return v


def _check(system, spins, moments, distance, sets):
    if not isinstance(system, DoubleExchange):
        raise ValueError(f"KPM is written for the double exchange model, got {type(system).__name__}")
    spins = _checks.lattice_spins(spins)
    moments = _checks.count(moments, "moments")
    if moments < 2 or moments > MAX_MOMENTS:
        raise ValueError(f"moments must be between 2 and {MAX_MOMENTS}, got {moments}")
    distance = _checks.count(distance, "distance (colour distance p; 1 = plain random vectors)")
    sets = _checks.count(sets, "sets")
    if sets < 2:
        raise ValueError(f"sets must be >= 2 (independent phase sets give the error estimate), got {sets}")
    return spins, moments, distance, sets


def solver(system, spins, **options):
    """The ``SOLVERS`` entry: ``(energy, error)`` of :func:`energy`."""
    r = energy(system, spins, **options)
    return r.energy, r.error


solver.applies = lambda system: isinstance(system, DoubleExchange)  # read by solvers.available


def energy(system: DoubleExchange, spins, *, moments: int = DEFAULTS["moments"],
           distance: int = DEFAULTS["distance"], sets: int = DEFAULTS["sets"], seed: int = 0,
           workers: int | None = None, device: str = "auto", block: int | None = None) -> KPMResult:
    """E_MC by KPM with random-phase colour probing, float64.

    Args:
        system: a ``DoubleExchange`` (t, J, mu, T).
        spins: unit vectors (L, L, 3) or a batch (B, L, L, 3).
        moments: Chebyshev moments M (truncation error ~ e^{-0.037 M} per level
            scale at T = 0.1; M scales like (bandwidth)/T).
        distance: colour distance p (sites of one colour are >= p apart); the
            probe count is 2 * sets * colours ~ 2 * sets * p^2.  1 = random vectors.
        sets: independent random-phase sets (>= 2; their spread is the error estimate).
        seed: seed of the phases; the same seed gives the same result.
        workers: CPU threads over probe blocks (default: all usable cores).
        device: "auto" (CUDA if present, else the numpy CPU path), "cpu" or a torch device.
        block: probes per block (default: sized to the CPU cache).
    Returns:
        ``KPMResult`` with energy (float or (B,)), error (RMS absolute estimate),
        seconds per configuration and details.
    Raises:
        ValueError: bad spins or options.
    """
    spins, moments, distance, sets = _check(system, spins, moments, distance, sets)
    single = spins.ndim == 3
    batch = spins[None] if single else spins.reshape(-1, *spins.shape[-3:])
    L = batch.shape[-2]
    colours, ncol = colouring(L, distance)
    n = 2 * L * L
    dev = _device(device)
    if block is None:
        block = 2 * sets * ncol if dev is not None else max(8, min(32, 4 * (2 ** 20 // (n * 16))))
    if n * block * 16 > MAX_VECTOR_BYTES:
        raise ValueError(f"probe block of {block} vectors at L={L} needs {n * block * 16 / 2**30:.1f} GiB; "
                         "pass a smaller block")
    from .ed import cpu_count

    workers = cpu_count() if workers is None else _checks.count(workers, "workers")
    t0 = time.perf_counter()
    out, err, parts = [], [], []
    for s in batch:
        e, de_probe, de_tail = _one(system, s, colours, ncol, moments, sets, seed, workers, dev, block)
        out.append(e)
        err.append(math.hypot(de_probe, de_tail))
        parts.append((de_probe, de_tail))
    seconds = (time.perf_counter() - t0) / len(batch)
    details = dict(method="kpm", moments=moments, distance=distance, sets=sets, seed=seed, colours=ncol,
                   vectors=2 * sets * ncol, device=str(dev or "cpu"),
                   probe_error=[p for p, _ in parts], tail_error=[q for _, q in parts])
    if single:
        return KPMResult(out[0], err[0], seconds, details)
    shape = spins.shape[:-3]
    return KPMResult(np.array(out).reshape(shape), np.array(err).reshape(shape), seconds, details)


def _device(device):
    """None for the CPU (numpy/compiled path), else a CUDA torch device (MPS has no complex128)."""
    if device in (None, "cpu"):
        return None
    from ..device import pick_device

    dev = pick_device(device)
    return dev if dev.type == "cuda" else None


def _one(system, spins, colours, ncol, moments, sets, seed, workers, dev, block):
    """(E, probing RMS error, tail error) for one configuration (L, L, 3)."""
    L = spins.shape[0]
    lo, hi = spectral_bounds(system, spins)
    c = coefficients(system, lo, hi, moments)
    rng = np.random.default_rng(seed)
    phases = rng.choice(np.array([-1.0, 1.0]), (sets, L, L))  # real signs: see the module docstring
    cols = [(s, col, sigma) for s in range(sets) for col in range(ncol) for sigma in (0, 1)]
    if dev is None:
        stencil = _Stencil(system, spins, lo, hi)
        lib = _native.library()
        zeros = lambda shape: np.zeros(shape, np.complex128)  # noqa: E731

        def run(chunk):
            v = _probe_block(L, colours, phases, chunk, zeros)
            if lib is None:
                return _moments(stencil, v, moments, np.zeros_like, np.empty_like)
            return _native_moments(lib, stencil, v, moments)

        chunks = [cols[i:i + block] for i in range(0, len(cols), block)]
        if workers > 1 and len(chunks) > 1:
            with ThreadPoolExecutor(min(workers, len(chunks))) as pool:  # both paths release the GIL
                mus = list(pool.map(run, chunks))
        else:
            mus = [run(ch) for ch in chunks]
        mu = np.concatenate(mus, axis=1)  # (M, columns)
    else:
        import torch

        stencil = _Stencil(system, spins, lo, hi, lambda a: torch.as_tensor(a, device=dev))
        zeros = lambda shape: torch.zeros(shape, dtype=torch.complex128, device=dev)  # noqa: E731
        mus = []
        for i in range(0, len(cols), block):
            v = _probe_block(L, colours, phases, cols[i:i + block], lambda shape: np.zeros(shape, np.complex128))
            mus.append(_moments(stencil, torch.as_tensor(v, device=dev), moments, torch.zeros_like,
                                torch.empty_like))
        mu = np.concatenate(mus, axis=1)
    per_col = c[:moments] @ mu  # (columns,): partial traces
    parts = per_col.reshape(sets, ncol, 2).sum(-1)  # (sets, colours): the spin trace of each colour
    e = float(parts.sum(1).mean())
    probe = float(np.sqrt(parts.var(axis=0, ddof=1).sum() / sets))
    total = mu.sum(1) / sets  # the estimated Tr T_m(H~)
    typical = float(np.sqrt((total[moments // 2:] ** 2).mean()))
    tail = float(np.abs(c[moments:]).sum() * typical)
    return e, probe, tail
