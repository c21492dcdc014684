"""Chain diagnostics: autocorrelation time, effective sample size, split-R-hat, mean +- error, S(q).

Choice of library: ``emcee.autocorr.integrated_time`` (emcee is small, pure
Python, installed, and its estimator -- the FFT autocorrelation averaged over
chains with Sokal's automatic window, the smallest M with M >= c tau(M),
c = 5 -- is the standard one).  emcee has no R-hat, and ArviZ's ``arviz-stats``
would bring xarray and arviz-base for one function, so the rank-normalized
split-R-hat of Vehtari, Gelman, Simpson, Carpenter and Burkner (Bayesian
Analysis 16, 667, 2021) is written here (20 lines, ``rhat``) and tested
against chains of known behaviour (identical -> 1, shifted or different scale -> > 1.01).

Traces are arrays (chains, draws).  ``tau`` is in draws (sweeps or updates).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["tau_int", "ess", "rhat", "mean_error", "structure_factor", "summarize"]


def _chains(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[1] < 4:
        raise ValueError(f"traces must be (chains, draws) with >= 4 draws, got shape {x.shape}")
    return x


def tau_int(x, c: float = 5.0) -> float:
    """Integrated autocorrelation time in draws (emcee, automatic window), >= 1; NaN for a constant trace."""
    import emcee

    x = _chains(x)
    if np.ptp(x) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # emcee warns when the chain is < 50 tau long; we report tau anyway
        t = emcee.autocorr.integrated_time(x.T[:, :, None], c=c, tol=0, quiet=True)
    return float(max(1.0, t[0]))


def ess(x) -> float:
    """Effective sample size: chains * draws / tau_int."""
    x = _chains(x)
    t = tau_int(x)
    return float(x.size / t) if np.isfinite(t) else float("nan")


def _split_rhat(x: np.ndarray) -> float:
    n = x.shape[1] // 2
    halves = np.concatenate([x[:, :n], x[:, x.shape[1] - n:]])  # (2 chains, n)
    means = halves.mean(1)
    W = halves.var(1, ddof=1).mean()
    B = n * means.var(ddof=1)
    return float(np.sqrt(((n - 1) / n * W + B / n) / W)) if W > 0 else float("nan")


def rhat(x) -> float:
    """Rank-normalized split-R-hat (Vehtari et al. 2021): max of bulk and folded (tail) R-hat; needs >= 2 chains."""
    x = _chains(x)
    if x.shape[0] < 2:
        raise ValueError("R-hat needs at least 2 chains")

    from scipy import special, stats  # (imported here: scipy.stats takes seconds to import on a busy machine)

    def z(a):  # rank normalization with the fractional offset 3/8
        r = stats.rankdata(a, method="average").reshape(a.shape)
        return special.ndtri((r - 0.375) / (a.size + 0.25))

    folded = np.abs(x - np.median(x))
    return max(_split_rhat(z(x)), _split_rhat(z(folded)))


def mean_error(x) -> tuple[float, float]:
    """(mean, standard error sqrt(var / ESS)) over all chains."""
    x = _chains(x)
    e = ess(x)
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(e)) if np.isfinite(e) else 0.0


def structure_factor(spins) -> np.ndarray:
    """S(q) = (1/N) sum_a |sum_x s^a_x e^{-i q.x}|^2 on the L x L grid of q = 2 pi (k_y, k_x) / L.

    spins (..., L, L, 3) -> (..., L, L); q = 0 holds N |m|^2, a ferromagnet peaks there, a Neel state at (pi, pi).
    """
    s = np.asarray(spins, dtype=np.float64)
    f = np.fft.fft2(s, axes=(-3, -2))
    return (np.abs(f) ** 2).sum(-1) / (s.shape[-2] * s.shape[-3])


def summarize(energy, *, sites: int, seconds: float, ed_calls: int, acceptance: float,
              draws_per_sweep: float = 1.0) -> dict:
    """The per-method summary: mean/error per site, tau (in sweeps), ESS, R-hat, ESS per second.

    energy: (chains, draws) traces of the exact energy after burn-in.
    """
    x = _chains(energy)
    t = tau_int(x)
    e = x.size / t if np.isfinite(t) else float("nan")
    mean = float(x.mean())
    err = float(x.std(ddof=1) / np.sqrt(e)) if np.isfinite(e) else 0.0
    return {"mean_per_site": mean / sites, "error_per_site": err / sites, "acceptance": float(acceptance),
            "tau_int": t / draws_per_sweep, "ess": e, "rhat": rhat(x) if len(x) >= 2 else float("nan"),
            "ess_per_second": e / seconds if seconds > 0 else float("nan"), "ed_calls": int(ed_calls),
            "seconds": float(seconds), "chains": int(x.shape[0]), "draws": int(x.shape[1])}
