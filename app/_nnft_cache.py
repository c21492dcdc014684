"""Cached Monte Carlo runs for the 'Field theory on neurons' page (st.cache_data, keyed by their arguments).

Each function builds a :class:`efnn_core.nnft.NeuronFieldConfig` from plain arguments, runs one library
estimator and returns plain numpy arrays (value, standard error, theory) so the cache can pickle them.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from efnn_core import nnft
from efnn_core.nnft import theory


def cfg_of(d, N, m, cutoff, L, alpha, box=True) -> nnft.NeuronFieldConfig:
    return nnft.NeuronFieldConfig(d=int(d), N=int(N), m=float(m), cutoff=float(cutoff), L=float(L),
                                  alpha=int(alpha), box=bool(box))


@st.cache_data(show_spinner=False, max_entries=64)
def sample_fields(d, m, cutoff, L, alpha, box, Ns: tuple, n_show: int, x_max: float, seed: int) -> dict:
    """phi(x e_1) of ``n_show`` networks at each width in Ns, on 400 points of [0, x_max]."""
    x = np.linspace(0.0, x_max, 400)
    return {"x": x, **{int(N): nnft.sample_fields(cfg_of(d, N, m, cutoff, L, alpha, box), n_show, x, seed + int(N))
                       for N in Ns}}


@st.cache_data(show_spinner=False, max_entries=64)
def phi0_samples(d, N, m, cutoff, L, alpha, box, M: int, seed: int) -> dict:
    """phi(0) of M networks, its excess kurtosis (value, se) and the prediction."""
    cfg = cfg_of(d, N, m, cutoff, L, alpha, box)
    phi0 = nnft.sample_fields(cfg, M, np.zeros(1), seed)[:, 0]
    s2, s4 = phi0 ** 2, phi0 ** 4
    B = 20
    sums = np.stack([s2.reshape(B, -1).sum(1), s4.reshape(B, -1).sum(1)], 1)
    est = nnft.jackknife(sums, np.full(B, M // B), lambda v: v[1] / v[0] ** 2 - 3)
    return {"phi0": phi0, "kurt": float(est.value), "kurt_se": float(est.stderr),
            "kurt_theory": theory.excess_kurtosis(cfg), "G0": theory.G0(cfg)}


@st.cache_data(show_spinner=False, max_entries=64)
def two_point(d, N, m, cutoff, L, alpha, box, M: int, seed: int) -> dict:
    cfg = cfg_of(d, N, m, cutoff, L, alpha, box)
    est = nnft.two_point(cfg, M, seed, r_max=min(6.0 / m, L / 2), n_lag=30)
    r = est.r
    rf = np.linspace(0, r.max(), 300)
    return {"r": r, "G": est.G.value, "se": est.G.stderr, "rf": rf, "theory": theory.propagator(rf, cfg),
            "nocut": theory.propagator_no_cutoff(rf, d, m)}


@st.cache_data(show_spinner=False, max_entries=64)
def phi2phi2(d, N, m, cutoff, L, alpha, box, M: int, seed: int) -> dict:
    cfg = cfg_of(d, N, m, cutoff, L, alpha, box)
    r_max = L / 2 if box else min(6.0 / m, 8.0)
    est = nnft.position_four_point(cfg, M, seed, r_max=r_max, n_lag=24)
    rf = np.linspace(0, est.r.max(), 300)
    return {"r": est.r, "c": est.connected.value, "se": est.connected.stderr, "rf": rf,
            "theory": theory.phi2phi2_connected(rf, cfg), "plateau": theory.plateau(cfg), "G0": theory.G0(cfg),
            "kurt": float(est.kurtosis.value), "kurt_se": float(est.kurtosis.stderr),
            "kurt_theory": theory.excess_kurtosis(cfg)}


@st.cache_data(show_spinner=False, max_entries=64)
def momentum_four_point(d, N, m, cutoff, L, alpha, M: int, seed: int) -> dict:
    cfg = cfg_of(d, N, m, cutoff, L, alpha, True)
    est = nnft.momentum_four_point(cfg, M, seed)
    return {"generic": float(est.generic_mean.value), "generic_se": float(est.generic_mean.stderr),
            "pair": float(est.pair.value), "pair_se": float(est.pair.stderr),
            "same": float(est.same_pooled.value), "same_se": float(est.same_pooled.stderr),
            "same_theory": theory.four_point_same_weighted(cfg), "pair_theory": theory.four_point_pair(cfg),
            "K": cfg.modes.size}


@st.cache_data(show_spinner=False, max_entries=64)
def olambda(d, N, m, cutoff, L, alpha, M: int, seed: int) -> dict:
    cfg = cfg_of(d, N, m, cutoff, L, alpha, True)
    est = nnft.olambda_correction(cfg, M, seed)
    return {"p2": est.p2, "bare": est.bare.value, "bare_se": est.bare.stderr,
            "ren": est.renormalized.value, "ren_se": est.renormalized.stderr,
            "pieces": theory.olambda_pieces(est.p2, cfg), "pieces_ct": theory.olambda_pieces(est.p2, cfg, counterterm=True)}
