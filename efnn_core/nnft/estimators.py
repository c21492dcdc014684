"""Monte Carlo estimators with error bars for cos-network field ensembles.

Every estimator draws M networks in ``n_batches`` independent batches (:func:`ensembles.iter_batches`),
reduces each network to a vector of per-network statistics (exact translation averages), sums them per
batch and returns ``Estimate(value, stderr)``: the value is the statistic evaluated on the pooled means,
the standard error a delete-one-batch jackknife (valid for the ratios and products of means that connected
correlators are).  Networks are independent, so these error bars are honest.

Box ensembles (``cfg.box=True``) use the exact spectrum phi~(k) and the exact FFT grid; continuum ensembles
evaluate phi on a line x e_1 by direct neuron sums.  Momentum-space and O(lambda) estimators need the box.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from . import theory
from .ensembles import NeuronFieldConfig, box_field_grid, field_on_line, iter_batches

Progress = Callable[[float], None] | None


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate: value and standard error, arrays of the same shape."""

    value: np.ndarray
    stderr: np.ndarray

    def z(self, prediction) -> np.ndarray:
        """(value - prediction)/stderr: the deviation in standard errors."""
        return (self.value - np.asarray(prediction)) / self.stderr

    def __getitem__(self, i) -> "Estimate":
        return Estimate(self.value[i], self.stderr[i])


def _accumulate(cfg, M, seed, n_batches, stat_fn, progress: Progress) -> tuple[np.ndarray, np.ndarray]:
    """Per-batch sums (B, P) of the per-network statistics stat_fn(x) -> (m, P), and counts (B,);
    x is the exact spectrum (m, |K|) for box ensembles and the Neurons for continuum ones."""
    sums, counts = None, np.zeros(n_batches)
    per = M // n_batches
    done = 0
    with torch.inference_mode():
        for bi, nr in iter_batches(cfg, M, seed, n_batches=n_batches, spectra=cfg.box):
            st = stat_fn(nr).double()
            if sums is None:
                sums = np.zeros((n_batches, st.shape[1]))
            sums[bi] += st.sum(0).numpy()
            counts[bi] += st.shape[0]
            done += st.shape[0]
            if progress is not None:
                progress(min(1.0, done / (per * n_batches)))
    return sums, counts


def jackknife(sums: np.ndarray, counts: np.ndarray, f: Callable[[np.ndarray], np.ndarray]) -> Estimate:
    """Delete-one-batch jackknife of f(mean statistics).

    Args:
        sums: (B, P) per-batch sums of per-network statistics; counts: (B,) networks per batch.
        f: maps a (P,) mean vector to the estimate (any shape).
    """
    S, C = sums.sum(0), counts.sum()
    value = np.asarray(f(S / C), dtype=np.float64)
    loo = np.stack([np.asarray(f((S - sums[b]) / (C - counts[b]))) for b in range(len(counts))])
    B = len(counts)
    se = np.sqrt((B - 1) / B * ((loo - loo.mean(0)) ** 2).sum(0))
    return Estimate(value, se)


def _shell_matrix(cfg, exclude_zero=False) -> tuple[np.ndarray, np.ndarray]:
    """(S, K) averaging matrix over the modes of each |k|^2 shell, and the shell |k|^2 values."""
    md = cfg.modes
    shells = md.shells
    W = (md.shell_of[None, :] == np.arange(len(shells))[:, None]).astype(np.float64)
    if exclude_zero:
        W, shells = W[shells > 0], shells[shells > 0]
    return W / W.sum(1, keepdims=True), shells


# ----------------------------------------------------------------------------- two-point function
@dataclass(frozen=True)
class TwoPoint:
    """G2 estimates: position space G(r e_1) at r, and (box) momentum space G~(p) per |p|^2 shell."""

    r: np.ndarray
    G: Estimate
    p2: np.ndarray | None = None
    Gp: Estimate | None = None


def _line_grid(cfg, r_max, n_lag):
    h = r_max / n_lag
    n_w = max(n_lag, 2)
    return h, n_w, np.arange(n_w + n_lag + 1) * h


def two_point(cfg: NeuronFieldConfig, M: int, seed, *, r_max: float | None = None, n_lag: int = 32,
              n_batches: int = 40, progress: Progress = None) -> TwoPoint:
    """G2(r) = <phi(x) phi(x + r e_1)>, translation averaged, with jackknife errors.

    Box: exact from the spectrum, C(r) = L^{-2d} sum_k |phi~(k)|^2 cos(k_1 r) at r = j L/n_grid (j <= n_grid/2),
    and G~(p) = <|phi~(p)|^2>/L^d per shell.  Continuum: phi on a line with spacing r_max/n_lag, averaged over
    a window of n_lag points; r_max defaults to 5/m.
    Prediction: :func:`theory.propagator` (exact at every N).
    """
    if cfg.box:
        md = cfg.modes
        ng = md.grid_size()
        r = np.arange(ng // 2 + 1) * md.L / ng

        def stat(nr):
            return nr.abs() ** 2 / md.volume            # (m, K)

        sums, counts = _accumulate(cfg, M, seed, n_batches, stat, progress)
        cosm = np.cos(np.outer(r, md.k[:, 0])) / md.volume                  # (R, K)
        W, shells = _shell_matrix(cfg)
        return TwoPoint(r, jackknife(sums, counts, lambda s: cosm @ s), shells,
                        jackknife(sums, counts, lambda s: W @ s))
    r_max = r_max or 5.0 / cfg.m
    h, n_w, x = _line_grid(cfg, r_max, n_lag)
    r = np.arange(n_lag + 1) * h

    def stat(nr):
        phi = field_on_line(nr, x).double()
        return torch.stack([(phi[:, :n_w] * phi[:, j:j + n_w]).mean(1) for j in range(n_lag + 1)], 1)

    sums, counts = _accumulate(cfg, M, seed, n_batches, stat, progress)
    return TwoPoint(r, jackknife(sums, counts, lambda s: s))


# ----------------------------------------------------------------------------- position-space 4-point
@dataclass(frozen=True)
class PositionFourPoint:
    """<phi^2(x) phi^2(x + r e_1)>_c at r, the excess kurtosis of phi(0), and G2(r) from the same sample."""

    r: np.ndarray
    connected: Estimate
    kurtosis: Estimate
    G: Estimate


def position_four_point(cfg: NeuronFieldConfig, M: int, seed, *, r_max: float | None = None, n_lag: int = 24,
                        n_batches: int = 40, progress: Progress = None) -> PositionFourPoint:
    """Estimate kappa4(x,y,x,y) = <phi_x^2 phi_y^2> - <phi^2>^2 - 2<phi_x phi_y>^2 against r = |x-y|,
    and the excess kurtosis <phi^4>/<phi^2>^2 - 3 of phi(0) (translation averaged).

    Box: exact grid averages over the whole box (r = j L/n_grid, j <= n_grid/2, along e_1).
    Continuum: phi on a line, spacing r_max/n_lag (r_max defaults to 6/m), window of n_lag points.
    Predictions: :func:`theory.phi2phi2_connected`, :func:`theory.plateau`, :func:`theory.excess_kurtosis`.
    """
    if cfg.box:
        md = cfg.modes
        ng = md.grid_size()
        nr_ = ng // 2 + 1
        r = np.arange(nr_) * md.L / ng

        def stat(nr):
            phi = box_field_grid(cfg, nr, ng)          # (m, ng[, ng])
            p2 = phi * phi
            F = torch.fft.fft(phi, dim=1)
            F2 = torch.fft.fft(p2, dim=1)
            C = torch.fft.ifft(F * F.conj(), dim=1).real / ng             # circular lag along e_1
            D = torch.fft.ifft(F2 * F2.conj(), dim=1).real / ng
            if cfg.d == 2:
                C, D = C.mean(2), D.mean(2)
            flat = p2.reshape(p2.shape[0], -1)
            return torch.cat([C[:, :nr_], D[:, :nr_], flat.mean(1, keepdim=True),
                              (flat * flat).mean(1, keepdim=True)], 1)
    else:
        r_max = r_max or 6.0 / cfg.m
        h, n_w, x = _line_grid(cfg, r_max, n_lag)
        nr_ = n_lag + 1
        r = np.arange(nr_) * h

        def stat(nr):
            phi = field_on_line(nr, x).double()
            p2 = phi * phi
            C = torch.stack([(phi[:, :n_w] * phi[:, j:j + n_w]).mean(1) for j in range(nr_)], 1)
            D = torch.stack([(p2[:, :n_w] * p2[:, j:j + n_w]).mean(1) for j in range(nr_)], 1)
            return torch.cat([C, D, p2[:, :n_w].mean(1, keepdim=True), (p2[:, :n_w] ** 2).mean(1, keepdim=True)], 1)

    sums, counts = _accumulate(cfg, M, seed, n_batches, stat, progress)

    def conn(s):
        C, D, m2 = s[:nr_], s[nr_:2 * nr_], s[2 * nr_]
        return D - m2 ** 2 - 2 * C ** 2

    def kurt(s):
        return s[2 * nr_ + 1] / s[2 * nr_] ** 2 - 3

    return PositionFourPoint(r, jackknife(sums, counts, conn), jackknife(sums, counts, kurt),
                             jackknife(sums, counts, lambda s: s[:nr_]))


# ----------------------------------------------------------------------------- momentum-space 4-point
def generic_quartets(cfg, count: int = 6) -> np.ndarray:
    """Up to ``count`` quartets of mode indices (k1,k2,k3,k4), sum zero, all non-zero, no pair cancelling."""
    md = cfg.modes
    look = {tuple(v): i for i, v in enumerate(md.n)}
    out = []
    nz = [i for i in range(md.size) if md.k2[i] > 0]
    rng = np.random.default_rng(0)
    for _ in range(20000):
        i, j, k = rng.choice(nz, 3, replace=False)
        n4 = -(md.n[i] + md.n[j] + md.n[k])
        l = look.get(tuple(n4))
        if l is None or md.k2[l] == 0:
            continue
        q = [i, j, k, l]
        ns = [tuple(md.n[a]) for a in q]
        if len(set(ns)) < 4 or any(tuple(-np.array(a)) in ns for a in ns):
            continue
        key = tuple(sorted(q))
        if key not in {tuple(sorted(o)) for o in out}:
            out.append(q)
        if len(out) == count:
            break
    if not out:
        raise ValueError(f"no generic quartet fits in the box (n_max={md.n_max}); increase L*cutoff")
    return np.array(out)


@dataclass(frozen=True)
class MomentumFourPoint:
    """Connected/disconnected ratios of <phi~ phi~ phi~ phi~> at the three kinematic classes (box).

    generic: per quartet (rows of ``quartets``), Re<prod phi~(k_j)> / sqrt(prod <|phi~(k_j)|^2>)  (prediction 0);
    generic_mean: their average;
    pair: (p,-p,q,-q) pooled over all p != +-q, p, q != 0               (prediction -1/N);
    same: (k,k,-k,-k) per shell |k|^2 = p2 (k != 0)                     (prediction (mu4 - 2q_k)/(2N q_k));
    same_pooled: pooled over all k != 0 with weights <|phi~(k)|^2>^2    (theory.four_point_same_weighted).
    """

    quartets: np.ndarray
    generic: Estimate
    generic_mean: Estimate
    pair: Estimate
    p2: np.ndarray
    same: Estimate
    same_pooled: Estimate


def momentum_four_point(cfg: NeuronFieldConfig, M: int, seed, *, n_batches: int = 40,
                        progress: Progress = None) -> MomentumFourPoint:
    """Exact-spectrum estimators of the connected 4-point function in momentum space (box only).

    With s_k = |phi~(k)|^2 per network:
        (k,k,-k,-k):  <s_k^2> / (2 <s_k>^2) - 1
        (p,-p,q,-q):  sum_{p!=+-q} <s_p s_q> / sum_{p!=+-q} <s_p><s_q> - 1,  sum_{p!=+-q} s_p s_q = T^2 - 2 sum s_p^2
        generic:      Re<phi~(k1) phi~(k2) phi~(k3) phi~(k4)> / sqrt(prod_j <s_kj>)
    """
    if not cfg.box:
        raise ValueError("momentum-space estimators need the box ensemble; set box=True")
    md = cfg.modes
    K = md.size
    quart = generic_quartets(cfg)
    Q = len(quart)
    nz = torch.tensor(md.k2 > 0)
    qt = torch.tensor(quart)

    def stat(nr):
        phi = nr
        s = phi.abs() ** 2
        s_nz = s[:, nz]
        T = s_nz.sum(1, keepdim=True)
        pairs = T ** 2 - 2 * (s_nz ** 2).sum(1, keepdim=True)
        gen = phi[:, qt].prod(-1).real                                   # (m, Q)
        return torch.cat([s, s * s, pairs, gen], 1)

    sums, counts = _accumulate(cfg, M, seed, n_batches, stat, progress)
    nzn = md.k2 > 0
    W, shells = _shell_matrix(cfg, exclude_zero=True)
    Wr = W > 0

    def generic(v):
        s = v[:K]
        return v[2 * K + 1:2 * K + 1 + Q] / np.sqrt(np.prod(s[quart], axis=1))

    def pair(v):
        s = v[:K][nzn]
        return v[2 * K] / (s.sum() ** 2 - 2 * (s ** 2).sum()) - 1

    def same(v):
        s, s2 = v[:K], v[K:2 * K]
        return (Wr @ s2) / (2 * (Wr @ s ** 2)) - 1

    def same_pooled(v):
        s, s2 = v[:K][nzn], v[K:2 * K][nzn]
        return s2.sum() / (2 * (s ** 2).sum()) - 1

    return MomentumFourPoint(quart, jackknife(sums, counts, generic),
                             jackknife(sums, counts, lambda v: generic(v).mean()),
                             jackknife(sums, counts, pair), shells, jackknife(sums, counts, same),
                             jackknife(sums, counts, same_pooled))


# ----------------------------------------------------------------------------- O(lambda) correction
@dataclass(frozen=True)
class OLambda:
    """delta G~(p)/lambda per |p|^2 shell from -(1/4!) Cov_free(|phi~(p)|^2/L^d, int phi^4) (box),
    without (``bare``) and with (``renormalized``) the mass counterterm dm^2 = -(lambda/2) G(0)."""

    p2: np.ndarray
    bare: Estimate
    renormalized: Estimate
    bare_r0: Estimate           # delta G2(r=0)/lambda = L^{-d} sum_k delta G~(k)/lambda (all modes pooled)
    renormalized_r0: Estimate


def olambda_correction(cfg: NeuronFieldConfig, M: int, seed, *, n_batches: int = 40,
                       progress: Progress = None) -> OLambda:
    """First-order-in-lambda correction to G~(p), exact in N, by the free-ensemble covariance

        delta<O>/lambda = -(1/24) Cov(O, S4) [+ (G(0)/4) Cov(O, S2) with the counterterm],
        O = |phi~(p)|^2/L^d,  S4 = int_box phi^4,  S2 = int_box phi^2   (exact grid sums, n_grid > 4 n_max).

    Prediction: :func:`theory.olambda_pieces` ``["total"]`` (+ O(lambda/N^2)).
    """
    if not cfg.box:
        raise ValueError("the O(lambda) estimator needs the box ensemble; set box=True")
    md = cfg.modes
    K, V = md.size, md.volume
    ng = md.grid_size()
    g0 = theory.G0(cfg)

    def stat(nr):
        spec = nr
        O = spec.abs() ** 2 / V
        phi2 = box_field_grid(cfg, spec, ng).reshape(O.shape[0], -1) ** 2
        S2 = phi2.mean(1, keepdim=True) * V
        S4 = (phi2 * phi2).mean(1, keepdim=True) * V
        return torch.cat([O, O * S4, O * S2, S4, S2], 1)

    sums, counts = _accumulate(cfg, M, seed, n_batches, stat, progress)
    W, shells = _shell_matrix(cfg)

    def cov(v, j):
        O, OS, S = v[:K], v[K * j:K * (j + 1)], v[3 * K + j - 1]
        return W @ (OS - O * S)

    def cov_all(v, j):
        O, OS, S = v[:K], v[K * j:K * (j + 1)], v[3 * K + j - 1]
        return (OS - O * S).sum() / V

    return OLambda(shells, jackknife(sums, counts, lambda v: -cov(v, 1) / 24),
                   jackknife(sums, counts, lambda v: -cov(v, 1) / 24 + g0 / 4 * cov(v, 2)),
                   jackknife(sums, counts, lambda v: -cov_all(v, 1) / 24),
                   jackknife(sums, counts, lambda v: -cov_all(v, 1) / 24 + g0 / 4 * cov_all(v, 2)))


def neuron_evaluation_rate(cfg: NeuronFieldConfig, M: int, n_x: int, seed=0) -> float:
    """Neuron evaluations per second of direct evaluation phi(x) on n_x points (M*N*n_x / seconds)."""
    import time
    x = np.linspace(0, 5.0 / cfg.m, n_x)
    from .ensembles import sample_neurons
    t = time.perf_counter()
    with torch.inference_mode():
        field_on_line(sample_neurons(cfg, M, seed), x)
    return M * cfg.N * n_x / (time.perf_counter() - t)


__all__ = ["Estimate", "TwoPoint", "PositionFourPoint", "MomentumFourPoint", "OLambda", "jackknife",
           "two_point", "position_four_point", "momentum_four_point", "olambda_correction", "generic_quartets",
           "neuron_evaluation_rate"]

