"""Ensembles of single-layer cos-networks whose fields realize a cutoff free scalar field.

One network of width N (Demirtas et al.; spec section 2):

    phi(x) = sum_{i=1..N} A a_i w(b_i) cos(b_i . x + c_i),       c_i ~ U[-pi, pi],

with two architectures (Zhang's alpha) that share the infinite-width two-point function
G(r) = int_{|k|<Lambda} d^dk/(2pi)^d e^{ik.r}/(k^2+m^2):

* ``alpha=-1``: a_i ~ N(0,1), b_i uniform in the ball |b| < Lambda, w(b) = 1/sqrt(b^2+m^2),
  A^2 = 2 V_Lambda / N, V_Lambda = vol(B_Lambda)/(2pi)^d;
* ``alpha=0``:  a_i = +-1, b_i with density proportional to 1/(b^2+m^2) in the ball, w = 1,
  A^2 = 2 G(0) / N.  (A random sign is absorbed into the uniform phase c_i.)

Box version (``box=True``): b_i is drawn from the lattice K = {2 pi n/L : |2 pi n/L| <= Lambda}
(uniformly for alpha=-1, with p_k proportional to 1/(k^2+m^2) for alpha=0) and V_Lambda -> |K|/L^d.
Then the Fourier coefficients phi~(k) = int_box e^{-ik.x} phi(x) d^dx are exact finite sums over
neurons with b_i = +-k, and position-space fields follow exactly by FFT.

All sampling is vectorized in torch with an explicit seed: M networks x N neurons at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from . import theory
from ._box import AliasSampler, BoxModes, box_modes

# Memory and work bounds, checked before sampling (a web page offers N x M up to 10^8):
MAX_WIDTH = 100_000            # N, neurons per network
MAX_NETWORKS = 10_000_000      # M, networks per call
MAX_NEURONS = 2_000_000_000    # M x N per call (time: ~1e8 neuron draws per second here)
PIECE_NEURONS = 1 << 21        # neurons sampled at once (~40 MB of parameters)
PIECE_VALUES = 1 << 22         # per-network field values (grid points x networks) held at once (64 MB complex128)

ARCHITECTURES = {-1: "alpha = -1: Gaussian amplitudes, momenta uniform in the cutoff ball",
                 0: "alpha = 0: +-1 amplitudes, propagator-weighted momenta"}


@dataclass(frozen=True)
class NeuronFieldConfig:
    """Hyperparameters of a cos-network field ensemble."""

    d: int = 1            # Euclidean dimension (1 or 2)
    N: int = 50           # neurons per network (width)
    m: float = 1.0        # mass
    cutoff: float = 5.0   # UV cutoff Lambda: neuron momenta satisfy |b| <= Lambda
    alpha: int = -1       # architecture: -1 (Gaussian a, uniform b) or 0 (+-1 a, b ~ 1/(b^2+m^2))
    L: float = 20.0       # box side; also the spacetime volume L^d of the O(lambda) pieces
    box: bool = True      # momenta on the box lattice K (exact momentum space) or continuous in the ball

    def __post_init__(self):
        if self.d not in (1, 2):
            raise ValueError(f"d must be 1 or 2, got d={self.d}")
        if self.alpha not in (-1, 0):
            raise ValueError(f"alpha must be -1 or 0 (the two architectures), got alpha={self.alpha}")
        if isinstance(self.N, bool) or not isinstance(self.N, (int, np.integer)) or not 1 <= self.N <= MAX_WIDTH:
            raise ValueError(f"N (width) must be an integer between 1 and {MAX_WIDTH}, got N={self.N!r:.40}")
        for name in ("m", "cutoff", "L"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r:.40}")
        if max(self.m, self.cutoff, self.L) > 1e6:
            raise ValueError(f"need m, cutoff, L <= 1e6; got m={self.m}, cutoff={self.cutoff}, L={self.L}")
        if not (self.m > 0 and self.cutoff > 0 and self.L > 0):
            raise ValueError(f"need m, cutoff, L > 0; got m={self.m}, cutoff={self.cutoff}, L={self.L}")
        if self.box:
            n_max = int(self.L * self.cutoff / (2 * math.pi))  # modes per direction, before building them
            if (4 * n_max + 1) ** self.d > PIECE_VALUES:
                raise ValueError(f"box L={self.L} with cutoff={self.cutoff} needs a {4 * n_max + 1}^{self.d} grid; "
                                 f"at most {PIECE_VALUES} points per network are allowed (reduce L or cutoff)")
            box_modes(self.d, float(self.L), float(self.cutoff))  # raises if K = {0}

    @property
    def modes(self) -> BoxModes:
        """The box lattice K (``box=True`` only)."""
        if not self.box:
            raise ValueError("modes exist only for box=True ensembles; set box=True")
        return box_modes(self.d, float(self.L), float(self.cutoff))

    @property
    def mu4(self) -> float:
        """E[a^4]: 3 for Gaussian amplitudes (alpha=-1), 1 for +-1 amplitudes (alpha=0)."""
        return 3.0 if self.alpha == -1 else 1.0

    def replace(self, **kw) -> "NeuronFieldConfig":
        from dataclasses import replace
        return replace(self, **kw)


@dataclass
class Neurons:
    """Parameters of M networks of width N (torch tensors).

    phi(x) = sum_i amp_i cos(b_i . x + c_i).

    Attributes:
        amp: (M, N) float32, A a_i w(b_i).
        b: (M, N, d) float32 momenta.
        c: (M, N) float32 phases in [-pi, pi).
        idx: (M, N) int64 index of b_i in the box lattice K (box ensembles), else None.
    """

    amp: torch.Tensor
    b: torch.Tensor
    c: torch.Tensor
    idx: torch.Tensor | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.amp.shape)


def amplitude_scale(cfg: NeuronFieldConfig) -> float:
    """A = sqrt(2 V_Lambda / N) (alpha=-1) or sqrt(2 G(0) / N) (alpha=0), box or continuum."""
    if cfg.alpha == -1:
        return math.sqrt(2 * theory.mode_density(cfg) / cfg.N)
    return math.sqrt(2 * theory.G0(cfg) / cfg.N)


def check_size(cfg: NeuronFieldConfig, M) -> int:
    """M (networks) as an int, refusing M < 1, M > MAX_NETWORKS or M x N > MAX_NEURONS before any sampling."""
    if isinstance(M, bool) or not isinstance(M, (int, np.integer)) or M < 1:
        raise ValueError(f"M (networks) must be a positive integer, got {M!r:.40}")
    M = int(M)
    if M > MAX_NETWORKS or M * cfg.N > MAX_NEURONS:
        raise ValueError(f"M={M} networks of width N={cfg.N} is {M * cfg.N:.3g} neurons; at most "
                         f"{MAX_NETWORKS} networks and {MAX_NEURONS:.1e} neurons per estimate are allowed")
    return M


def piece_networks(cfg: NeuronFieldConfig) -> int:
    """Networks sampled at once: bounded by PIECE_NEURONS neurons and, for box ensembles, by
    PIECE_VALUES field values on the FFT grid (the largest array an estimator builds per network)."""
    per = cfg.modes.grid_size() ** cfg.d if cfg.box else 1
    return max(1, min(PIECE_NEURONS // cfg.N, PIECE_VALUES // per))


def _generator(seed) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        seed = int(seed.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    return torch.Generator().manual_seed(int(seed))


_ALIAS: dict = {}


def _box_alias(cfg: NeuronFieldConfig) -> AliasSampler:
    key = (cfg.d, float(cfg.L), float(cfg.cutoff), float(cfg.m))
    if key not in _ALIAS:
        _ALIAS[key] = AliasSampler(1.0 / (cfg.modes.k2 + cfg.m ** 2))
    return _ALIAS[key]


def sample_neurons(cfg: NeuronFieldConfig, M: int, seed) -> Neurons:
    """Draw M independent networks (M*N neurons) of the ensemble ``cfg``.

    Args:
        cfg: the ensemble.
        M: number of networks.
        seed: int, ``np.random.SeedSequence`` or ``torch.Generator``.
    Returns:
        Neurons with (M, N) tensors.

    Example::

        >>> nr = sample_neurons(NeuronFieldConfig(N=5), 3, seed=0); nr.amp.shape
        torch.Size([3, 5])
    """
    M = check_size(cfg, M)
    g = _generator(seed)
    N, d, m, lam = int(cfg.N), cfg.d, cfg.m, cfg.cutoff
    A = amplitude_scale(cfg)
    c = (torch.rand((M, N), generator=g) * 2 - 1) * math.pi
    idx = None
    if cfg.box:
        modes = cfg.modes
        if cfg.alpha == -1:
            idx = torch.randint(0, modes.size, (M, N), generator=g)
        else:
            idx = _box_alias(cfg).sample((M, N), g)
        kt = torch.tensor(np.array(modes.k), dtype=torch.float32)
        b = kt[idx]                                                    # (M, N, d)
    else:
        u = torch.rand((M, N), generator=g, dtype=torch.float64)
        if d == 1:
            if cfg.alpha == -1:
                r = lam * (2 * u - 1)
            else:
                r = m * torch.tan((2 * u - 1) * math.atan(lam / m))   # CDF ~ arctan(b/m)
            b = r[..., None]
        else:
            if cfg.alpha == -1:
                rho = lam * torch.sqrt(u)                               # uniform in the disc
            else:
                rho = m * torch.sqrt(torch.expm1(u * math.log1p(lam ** 2 / m ** 2)))  # CDF ~ ln(1+rho^2/m^2)
            th = torch.rand((M, N), generator=g, dtype=torch.float64) * (2 * math.pi)
            b = torch.stack([rho * torch.cos(th), rho * torch.sin(th)], -1)
        b = b.to(torch.float32)
    if cfg.alpha == -1:
        a = torch.randn((M, N), generator=g)
        amp = A * a * torch.rsqrt((b.double() ** 2).sum(-1) + m * m).float()
    else:
        amp = torch.full((M, N), A, dtype=torch.float32)                # sign folded into c
    return Neurons(amp=amp, b=b, c=c, idx=idx)


def box_spectrum(cfg: NeuronFieldConfig, neurons: Neurons) -> torch.Tensor:
    """Exact Fourier coefficients phi~(k) = int_box e^{-ik.x} phi(x) d^dx on the lattice K.

    A neuron with momentum b contributes (L^d/2) amp e^{ic} at k = b and its conjugate at k = -b:

        phi~(k) = P(k) + conj(P(-k)),   P(k) = (L^d/2) sum_{i: b_i = k} amp_i e^{i c_i}.

    Returns:
        (M, |K|) complex128 tensor; phi~(-k) = conj(phi~(k)).
    """
    if neurons.idx is None:
        raise ValueError("box_spectrum needs box neurons (cfg.box=True)")
    modes = cfg.modes
    M, N = neurons.shape
    K = modes.size
    flat = (neurons.idx + K * torch.arange(M)[:, None]).reshape(-1)
    w = neurons.amp * (0.5 * modes.volume)
    re = torch.bincount(flat, weights=(w * torch.cos(neurons.c)).reshape(-1).double(), minlength=M * K)
    im = torch.bincount(flat, weights=(w * torch.sin(neurons.c)).reshape(-1).double(), minlength=M * K)
    P = torch.complex(re, im).reshape(M, K)
    neg = torch.tensor(np.array(modes.neg))
    return P + P[:, neg].conj()


def _box_weights(cfg: NeuronFieldConfig) -> torch.Tensor:
    """(|K|,) amplitude factor A w(k) (L^d/2) of a neuron with momentum k."""
    md = cfg.modes
    w = 1.0 / np.sqrt(md.k2 + cfg.m ** 2) if cfg.alpha == -1 else np.ones(md.size)
    return torch.tensor(amplitude_scale(cfg) * 0.5 * md.volume * w)


def sample_box_spectrum(cfg: NeuronFieldConfig, M: int, seed) -> torch.Tensor:
    """Draw M networks and return only their exact spectrum phi~(k) (equal in law to
    ``box_spectrum(cfg, sample_neurons(cfg, M, seed))``, about 3x cheaper).

    The neurons' momenta enter only through the occupation numbers n_k (a multinomial draw), and
    P(k) = A w(k) (L^d/2) sum_{i: b_i = k} a_i e^{i c_i}; the i.i.d. factors a_i e^{i c_i} are generated in
    order and summed in consecutive runs of length n_k (row-wise cumulative sums), so no scatter is needed.

    Returns:
        (M, |K|) complex128 tensor.
    """
    M = check_size(cfg, M)
    g = _generator(seed)
    md = cfg.modes
    N, K = int(cfg.N), md.size
    if cfg.alpha == -1:
        idx = torch.randint(0, K, (M, N), generator=g)
    else:
        idx = _box_alias(cfg).sample((M, N), g)
    counts = torch.zeros((M, K), dtype=torch.int64).scatter_add_(1, idx, torch.ones((M, N), dtype=torch.int64))
    c = (torch.rand((M, N), generator=g) * 2 - 1) * math.pi
    zr, zi = torch.cos(c), torch.sin(c)
    if cfg.alpha == -1:
        a = torch.randn((M, N), generator=g)
        zr, zi = zr * a, zi * a
    ends = counts.cumsum(1)
    starts = ends - counts
    parts = []
    for z in (zr, zi):                                                 # real and imaginary parts
        Z = torch.zeros((M, N + 1))
        torch.cumsum(z, 1, out=Z[:, 1:])                               # (M, N+1) running sums
        parts.append((Z.gather(1, ends) - Z.gather(1, starts)).double())  # (M, K) sum over each run
    P = torch.complex(*parts)
    P = P * _box_weights(cfg)
    neg = torch.tensor(np.array(md.neg))
    return P + P[:, neg].conj()


def box_field_grid(cfg: NeuronFieldConfig, spectrum: torch.Tensor, n_grid: int | None = None) -> torch.Tensor:
    """phi on the regular grid x_j = j L / n_grid of the box, exactly, by inverse FFT.

    phi(x) = L^{-d} sum_{k in K} phi~(k) e^{ik.x}.

    Args:
        spectrum: (M, |K|) from :func:`box_spectrum`.
        n_grid: points per axis (default: the smallest size > 4 n_max, so grid sums of phi^4 are exact).
    Returns:
        (M, n_grid) (d=1) or (M, n_grid, n_grid) (d=2) float64 tensor.
    """
    modes = cfg.modes
    n = n_grid or modes.grid_size()
    if n <= 2 * modes.n_max:
        raise ValueError(f"n_grid={n} aliases the modes; use n_grid > {2 * modes.n_max}")
    M = spectrum.shape[0]
    X = torch.zeros((M,) + (n,) * cfg.d, dtype=torch.complex128)
    pos = torch.tensor(modes.n % n)
    if cfg.d == 1:
        X[:, pos[:, 0]] = spectrum
    else:
        X[:, pos[:, 0], pos[:, 1]] = spectrum
    dims = tuple(range(1, cfg.d + 1))
    return torch.fft.ifftn(X, dim=dims).real * (n ** cfg.d / modes.volume)


def field_on_line(neurons: Neurons, x, *, chunk: int = 1 << 22) -> torch.Tensor:
    """phi(x e_1) at points x on the first axis, by direct evaluation of every neuron.

    Args:
        x: (n_x,) positions.
    Returns:
        (M, n_x) float32 tensor; cost M*N*n_x cosines ("neuron evaluations").
    """
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    M, N = neurons.shape
    b1 = neurons.b[..., 0]
    out = torch.empty((M, x.numel()), dtype=torch.float32)
    step = max(1, chunk // max(1, N * x.numel()))
    for s in range(0, M, step):
        ph = b1[s:s + step, :, None] * x + neurons.c[s:s + step, :, None]     # (m, N, n_x)
        out[s:s + step] = torch.einsum("mn,mnx->mx", neurons.amp[s:s + step], torch.cos(ph))
    return out


def iter_batches(cfg: NeuronFieldConfig, M: int, seed, *, n_batches: int = 40, max_neurons: int = 1 << 21,
                 spectra: bool = False) -> Iterator[tuple[int, Neurons | torch.Tensor]]:
    """Yield (batch index, neurons) covering M networks split into ``n_batches`` equal batches
    (``spectra=True``: (batch index, (m, |K|) spectrum from :func:`sample_box_spectrum`) instead).

    Each batch is drawn from its own child seed (``SeedSequence(seed).spawn``) and may arrive in
    several pieces of at most ``max_neurons`` neurons; batches are independent, which is what the
    jackknife error bars in :mod:`estimators` use.
    """
    M = check_size(cfg, M)
    if M < 2 * n_batches:
        raise ValueError(f"M={M} networks is too few for {n_batches} batches; use M >= {2 * n_batches}")
    per = M // n_batches
    piece = max(1, min(max_neurons // cfg.N, piece_networks(cfg)))
    for bi, ss in enumerate(np.random.SeedSequence(seed).spawn(n_batches)):
        g = _generator(ss)
        left = per
        while left > 0:
            mm = min(piece, left)
            yield bi, (sample_box_spectrum(cfg, mm, g) if spectra else sample_neurons(cfg, mm, g))
            left -= mm


def sample_fields(cfg: NeuronFieldConfig, M: int, x, seed) -> np.ndarray:
    """phi(x e_1) of M networks at positions x: (M, n_x) numpy array (box or continuum).

    Memory is bounded: above PIECE_NEURONS neurons the networks are drawn in
    pieces from one generator (the output, M x n_x float64, is all that grows).
    """
    M = check_size(cfg, M)
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if M * max(1, x.size) > 50_000_000:
        raise ValueError(f"{M} networks x {x.size} points is too many field values; at most 5e7 per call")
    if M * cfg.N <= PIECE_NEURONS:  # one draw (the stream as before)
        return field_on_line(sample_neurons(cfg, M, seed), x).double().numpy()
    g = _generator(seed)
    step = max(1, PIECE_NEURONS // cfg.N)
    out = np.empty((M, x.size))
    for s in range(0, M, step):
        mm = min(step, M - s)
        out[s:s + mm] = field_on_line(sample_neurons(cfg, mm, g), x).double().numpy()
    return out
