"""Closed-form predictions for cos-network field ensembles (spec nn-field-theory.md, sections 2-4).

Every function takes ``cfg`` (a :class:`~efnn_core.nnft.ensembles.NeuronFieldConfig` or anything with
attributes d, N, m, cutoff, alpha, L, box).  Box versions replace int d^dk/(2pi)^d by L^{-d} sum_{k in K}
and V_Lambda by |K|/L^d; continuum versions use the cutoff ball |k| < Lambda.

Notation:
    G(r)   = int_{|k|<Lambda} d^dk/(2pi)^d cos(k.r)/(k^2+m^2)        (cutoff propagator, G~(k) = 1/(k^2+m^2))
    I(r)   = int_{|k|<Lambda} d^dk/(2pi)^d cos(k.r)/(k^2+m^2)^2     (= (G*G)(r))
    V_L    = vol(B_Lambda)/(2pi)^d                                 (modes per unit volume)
    mu4    = E[a^4] = 3 (alpha=-1, Gaussian a) or 1 (alpha=0, a=+-1)
    kappa4(x1..x4) = (1/N)[(mu4/2) V_L sum_P I(xi+xj-xk-xl) - sum_P G G]     (alpha=-1)
                   = (1/N)[(mu4/2) G(0) sum_P G(xi+xj-xk-xl) - sum_P G G]   (alpha=0)
Distances r are measured along the first axis, r e_1.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ._box import box_modes


def _modes(cfg):
    return box_modes(cfg.d, float(cfg.L), float(cfg.cutoff))


def ball_mode_density(d: int, cutoff: float) -> float:
    """V_Lambda = vol(B_Lambda)/(2pi)^d = Lambda^d / ((4pi)^{d/2} Gamma(d/2+1)); d=1: Lambda/pi, d=2: Lambda^2/4pi."""
    return cutoff ** d / ((4 * math.pi) ** (d / 2) * math.gamma(d / 2 + 1))


def mode_density(cfg) -> float:
    """V_Lambda: |K|/L^d in the box, vol(B_Lambda)/(2pi)^d in the continuum."""
    if cfg.box:
        md = _modes(cfg)
        return md.size / md.volume
    return ball_mode_density(cfg.d, cfg.cutoff)


def G0(cfg) -> float:
    """G(0): box L^{-d} sum_K 1/(k^2+m^2); continuum arctan(Lambda/m)/(pi m) (d=1), ln(1+Lambda^2/m^2)/4pi (d=2)."""
    m, lam = cfg.m, cfg.cutoff
    if cfg.box:
        md = _modes(cfg)
        return float(np.sum(1.0 / (md.k2 + m * m)) / md.volume)
    if cfg.d == 1:
        return math.atan(lam / m) / (math.pi * m)
    return math.log1p(lam ** 2 / m ** 2) / (4 * math.pi)


def I0(cfg) -> float:
    """I(0): box L^{-d} sum_K (k^2+m^2)^-2; continuum [Lambda/(Lambda^2+m^2) + arctan(Lambda/m)/m]/(2 pi m^2) (d=1),
    [1/m^2 - 1/(Lambda^2+m^2)]/4pi (d=2)."""
    m, lam = cfg.m, cfg.cutoff
    if cfg.box:
        md = _modes(cfg)
        return float(np.sum((md.k2 + m * m) ** -2.0) / md.volume)
    if cfg.d == 1:
        return (lam / (lam ** 2 + m ** 2) + math.atan(lam / m) / m) / (2 * math.pi * m ** 2)
    return (1 / m ** 2 - 1 / (lam ** 2 + m ** 2)) / (4 * math.pi)


def _radial(r, cfg, power: int) -> np.ndarray:
    """int_{|k|<Lambda} d^dk/(2pi)^d cos(k.r)/(k^2+m^2)^power, box or continuum; r: array of distances."""
    r = np.atleast_1d(np.asarray(r, dtype=np.float64))
    m, lam = cfg.m, cfg.cutoff
    if cfg.box:
        md = _modes(cfg)
        w = (md.k2 + m * m) ** (-float(power)) / md.volume
        return np.cos(np.outer(r, md.k[:, 0])) @ w
    n = 96 + int(2.0 * lam * float(np.max(np.abs(r), initial=0.0)))
    t, wt = np.polynomial.legendre.leggauss(n)
    k = 0.5 * lam * (t + 1)
    wt = 0.5 * lam * wt
    f = (k * k + m * m) ** (-float(power))
    if cfg.d == 1:
        return np.cos(np.outer(r, k)) @ (wt * f) / math.pi
    return special.j0(np.outer(r, k)) @ (wt * f * k) / (2 * math.pi)


def propagator(r, cfg) -> np.ndarray:
    """G(r e_1): the cutoff Klein-Gordon propagator (the two-point function at every width N). Shape of r."""
    return _radial(r, cfg, 1).reshape(np.shape(r))


def loop_integral(r, cfg) -> np.ndarray:
    """I(r e_1) = (G*G)(r) = int d^dk/(2pi)^d cos(k.r)/(k^2+m^2)^2. Shape of r."""
    return _radial(r, cfg, 2).reshape(np.shape(r))


def propagator_no_cutoff(r, d: int, m: float) -> np.ndarray:
    """Lambda -> infinity propagator: e^{-m r}/2m (d=1), K_0(m r)/2pi (d=2)."""
    r = np.asarray(r, dtype=np.float64)
    if d == 1:
        return np.exp(-m * np.abs(r)) / (2 * m)
    with np.errstate(divide="ignore"):
        return special.k0(m * np.abs(r)) / (2 * math.pi)


def momentum_propagator(p2, cfg) -> np.ndarray:
    """G~(p) = 1/(p^2+m^2): <|phi~(p)|^2>/L^d in the box, exact at every N."""
    return 1.0 / (np.asarray(p2, dtype=np.float64) + cfg.m ** 2)


# ----------------------------------------------------------------------------- free theory at finite N
def spectral_weight(p2, cfg) -> np.ndarray:
    """q_k = P(a neuron has b = +-k), box, k != 0: 2/|K| (alpha=-1); 2 G~(k)/(L^d G(0)) (alpha=0)."""
    p2 = np.asarray(p2, dtype=np.float64)
    md = _modes(cfg)
    if cfg.alpha == -1:
        return np.full(p2.shape, 2.0 / md.size)
    return 2.0 / ((p2 + cfg.m ** 2) * md.volume * G0(cfg))


def four_point_generic(cfg) -> float:
    """Connected/disconnected at a generic quartet p1+p2+p3+p4 = 0 with no cancelling pair: exactly 0."""
    return 0.0


def four_point_pair(cfg) -> float:
    """Connected/disconnected at (p, -p, q, -q), p != +-q: exactly -1/N, any architecture."""
    return -1.0 / cfg.N


def four_point_same(p2, cfg) -> np.ndarray:
    """Connected/disconnected at (k, k, -k, -k), box, k != 0: (mu4 - 2 q_k)/(2 N q_k).

    alpha=-1: q_k = 2/|K|, about 3|K|/(4N); alpha=0: about L^d G(0)(k^2+m^2)/(4N).
    """
    mu4 = 3.0 if cfg.alpha == -1 else 1.0
    q = spectral_weight(p2, cfg)
    return (mu4 - 2 * q) / (2 * cfg.N * q)


def four_point_same_weighted(cfg) -> float:
    """The (k,k,-k,-k) ratio pooled over all k != 0 with weights G~(k)^2 (what the pooled estimator measures)."""
    md = _modes(cfg)
    nz = md.k2 > 0
    w = momentum_propagator(md.k2[nz], cfg) ** 2
    return float(np.sum(w * four_point_same(md.k2[nz], cfg)) / np.sum(w))


def phi2phi2_connected(r, cfg) -> np.ndarray:
    """<phi(x)^2 phi(y)^2>_c = kappa4(x,y,x,y) at r = |x-y| (any N, exact):

        alpha=-1: (1/N)[(mu4/2) V_L (2 I(0) + I(2r)) - G(0)^2 - 2 G(r)^2]   -> plateau, does not decay
        alpha=0:  (1/N)[(mu4/2) G(0) (2 G(0) + G(2r)) - G(0)^2 - 2 G(r)^2]  -> 0 for mu4 = 1
    """
    r = np.asarray(r, dtype=np.float64)
    g0, G = G0(cfg), propagator(r, cfg)
    if cfg.alpha == -1:
        loop = 1.5 * mode_density(cfg) * (2 * I0(cfg) + loop_integral(2 * r, cfg))
    else:
        loop = 0.5 * g0 * (2 * g0 + propagator(2 * r, cfg))
    return (loop - g0 ** 2 - 2 * G ** 2) / cfg.N


def plateau(cfg) -> float:
    """r -> infinity limit of <phi^2 phi^2>_c: (1/N)[3 V_L I(0) - G(0)^2] (alpha=-1), (mu4-1)G(0)^2/N = 0 (alpha=0)."""
    if cfg.alpha == -1:
        return (3 * mode_density(cfg) * I0(cfg) - G0(cfg) ** 2) / cfg.N
    return 0.0


def plateau_ratio(d: int, cutoff_over_m) -> np.ndarray:
    """N * plateau / G(0)^2 for alpha=-1 in the continuum, leading form for x = Lambda/m >> 1 (spec table):
    d=1 3x/pi - 1, d=2 3x^2/ln^2(1+x^2) - 1, d=3 pi x/4 - 1, d=4 1.5 ln(x^2) - 2.5.
    (At finite x use ``plateau(cfg)/G0(cfg)**2``: e.g. d=1, x=10 gives 9.88, not 8.55.)"""
    x = np.asarray(cutoff_over_m, dtype=np.float64)
    if d == 1:
        return 3 * x / math.pi - 1
    if d == 2:
        return 3 * x ** 2 / np.log1p(x ** 2) ** 2 - 1
    if d == 3:
        return math.pi * x / 4 - 1
    if d == 4:
        return 1.5 * np.log(x ** 2) - 2.5
    raise ValueError(f"d must be 1..4, got {d}")


def excess_kurtosis(cfg) -> float:
    """Excess kurtosis of phi(0): (1/N)[(9/2) V_L I(0)/G(0)^2 - 3] (alpha=-1), -1.5/N (alpha=0, +-1 amplitudes)."""
    if cfg.alpha == -1:
        return (4.5 * mode_density(cfg) * I0(cfg) / G0(cfg) ** 2 - 3) / cfg.N
    return -1.5 / cfg.N


# ----------------------------------------------------------------------------- O(lambda) at finite N
PIECES = ("tadpole", "volume", "zero_mode", "local", "nonlocal")


def olambda_pieces(p2, cfg, *, lam: float = 1.0, counterterm: bool = False) -> dict[str, np.ndarray]:
    """O(lambda) correction to G~(p), split as in spec section 4, exact to O(lambda/N):

        delta<O> = -(lambda/4!) Cov_free(O, int phi^4)  [- (dm^2/2) Cov_free(O, int phi^2) with the counterterm
        dm^2 = -(lambda/2) G(0)].  With V = L^d (spacetime volume), G~ = 1/(p^2+m^2):

        piece      alpha = -1                                 alpha = 0 (mu4 = 1)
        tadpole    -(lambda/2) G(0) G~^2                      same
        volume     -(lambda V/4N) G(0)[mu4 V_L G~^2 - G(0) G~] -(lambda V/4N)(mu4-1) G(0)^2 G~ = 0
        zero_mode  -(lambda V/4N) G(0)(mu4/2) V_L/m^4 at p=0  -(lambda V/4N)(mu4/2) G(0)^2/m^2 at p=0   (box only)
        local      +(3 lambda/2N) G(0) G~^2                   +(lambda/N)(3/2 - mu4/2) G(0) G~^2
        nonlocal   -(mu4 lambda/2N) V_L G~^3                  0

    The counterterm cancels tadpole, volume and zero_mode exactly and removes lambda G(0) G~^2/(2N) from
    ``local``, leaving (lambda/N) G(0) G~^2 (alpha=-1), (lambda/N)(1 - mu4/2) G(0) G~^2 (alpha=0).
    The remainder is O(lambda/N^2) (the sixth cumulant).

    Args:
        p2: array of |p|^2 (box: lattice shells; continuum: any, the zero mode is a delta(p) and omitted).
    Returns:
        dict piece -> array of the shape of p2, plus "total".
    """
    p2 = np.asarray(p2, dtype=np.float64)
    N, m = cfg.N, cfg.m
    mu4 = 3.0 if cfg.alpha == -1 else 1.0
    g0, VL, V = G0(cfg), mode_density(cfg), float(cfg.L) ** cfg.d
    Gt = momentum_propagator(p2, cfg)
    at_zero = (p2 == 0) if cfg.box else np.zeros(p2.shape, bool)
    zero = np.zeros(p2.shape)
    if cfg.alpha == -1:
        tad = -0.5 * lam * g0 * Gt ** 2
        vol = -(lam * V / (4 * N)) * g0 * (mu4 * VL * Gt ** 2 - g0 * Gt)
        zm = np.where(at_zero, -(lam * V / (4 * N)) * g0 * 0.5 * mu4 * VL / m ** 4, 0.0)
        loc3 = (lam / N) * g0 * Gt ** 2
        nl = -(mu4 * lam / (2 * N)) * VL * Gt ** 3
    else:
        tad = -0.5 * lam * g0 * Gt ** 2
        vol = -(lam * V / (4 * N)) * (mu4 - 1) * g0 ** 2 * Gt
        zm = np.where(at_zero, -(lam * V / (4 * N)) * 0.5 * mu4 * g0 ** 2 / m ** 2, 0.0)
        loc3 = (lam / N) * (1 - mu4 / 2) * g0 * Gt ** 2
        nl = zero
    loc2 = (lam / (2 * N)) * g0 * Gt ** 2
    if counterterm:
        out = {"tadpole": zero, "volume": zero, "zero_mode": zero, "local": loc3, "nonlocal": nl}
    else:
        out = {"tadpole": tad, "volume": vol, "zero_mode": zm, "local": loc2 + loc3, "nonlocal": nl}
    out = {k: np.broadcast_to(v, p2.shape).astype(np.float64) for k, v in out.items()}
    out["total"] = sum(out[k] for k in PIECES)
    return out


def olambda_pieces_r0(cfg, *, lam: float = 1.0, counterterm: bool = False) -> dict[str, float]:
    """The pieces of :func:`olambda_pieces` in position space at r = 0 (box): L^{-d} sum_{k in K} piece(|k|^2)."""
    md = _modes(cfg)
    pieces = olambda_pieces(md.k2, cfg, lam=lam, counterterm=counterterm)
    return {k: float(v.sum() / md.volume) for k, v in pieces.items()}


def nonlocal_relative_size(cfg, *, lam: float = 1.0) -> float:
    """eps_NL = (3 lambda/2N) V_Lambda/m^4: the non-local O(lambda/N) self-energy relative to p ~ m (alpha=-1)."""
    return 1.5 * lam * mode_density(cfg) / (cfg.N * cfg.m ** 4)


def required_width(cutoff_over_m, d: int, *, lam: float = 1.0, eps: float = 0.01, m: float = 1.0) -> np.ndarray:
    """Width N for which the non-local O(lambda/N) error eps_NL = (3 lambda/2N) V_Lambda/m^4 equals eps (alpha=-1):

        N_req = 3 lambda V_Lambda / (2 eps m^4),  V_Lambda = Lambda^d/((4pi)^{d/2} Gamma(d/2+1)) ~ (Lambda/m)^d.
    """
    x = np.asarray(cutoff_over_m, dtype=np.float64)
    return 1.5 * lam * ball_mode_density(d, 1.0) * (x * m) ** d / (eps * m ** 4)
