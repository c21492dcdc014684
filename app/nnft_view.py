"""Field theory page pieces: the introduction, the glossary, the O(lambda) scans and the required width."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app import _nnft_cache as cache
from app import state
from efnn_core.nnft import theory

COL = {"mc": "#d62728", "th": "#111111", "alt": "#1f77b4", "grey": "#7f7f7f"}
N_FIELDS = (5, 50, 500)  # widths of the sampled-fields tab
PIECE_COL = {"tadpole": "#7f7f7f", "volume": "#d62728", "zero_mode": "#ff7f0e", "local": "#2ca02c",
             "nonlocal": "#9467bd"}


def err_trace(x, y, se, name, color, **kw):
    return go.Scatter(x=x, y=y, error_y=dict(type="data", array=se, visible=True, thickness=1), mode="markers",
                      name=name, marker=dict(color=color, size=6), **kw)


def line(x, y, name, color, dash=None, **kw):
    return go.Scatter(x=x, y=y, mode="lines", name=name, line=dict(color=color, dash=dash), **kw)


def intro() -> None:
    st.markdown(
        "A network φ(x) = Σᵢ A aᵢ cos(bᵢ·x + cᵢ)/√(bᵢ²+m²) with N random neurons is a random field whose two-point "
        "function is the cutoff Klein–Gordon propagator at **every** width. Below you see where finite N still shows: "
        "non-Gaussian 4-point functions at special momenta, broken cluster decomposition, and cutoff-enhanced "
        "O(λ/N) corrections — each Monte Carlo point (with its error bar) beside the closed-form prediction.")
    st.warning(
        "**Honesty note.** Only the abstract and first paragraph of Sen & Vaidya (arXiv:2508.03810) could be read. "
        "The architecture, formulas and plots here are a *reconstruction* (Demirtas et al. cos-net, Zhang's α) "
        "derived and Monte-Carlo-checked for this project, not the paper's own equations or figures. "
        "The paper's bubble-cancelling modification is unknown; α = 0 is only one candidate.", icon=":material/warning:")
    with st.expander("What is known, what is reconstructed"):
        st.markdown(
            "* **Seen** (abstract): finite-N corrections to 2- and 4-point functions give perturbative series "
            "sensitive to the UV cutoff, with weak convergence; a modification of the architecture improves it; "
            "constraints on the theory's parameters and on the scaling of N.\n"
            "* **Seen** (Zhang, arXiv:2604.27050, abstract): α = 0 (propagator-weighted momenta, constant amplitudes) "
            "minimizes finite-width variance and removes IR-sensitive corrections.\n"
            "* **Reconstructed here**: the cumulant formulas, the three kinematic classes, the plateau, the O(λ/N) "
            "split into tadpole / volume (\"bubble\") / zero-mode / local / non-local pieces, and N ≳ λV_Λ/εm⁴. "
            "Which of these the paper calls \"bubble diagrams\" is **not known**.\n"
            "* **Not known**: the paper's exact architecture, its d, its renormalization scheme, its figures and numbers.")


def glossary() -> None:
    with st.expander("Glossary"):
        st.markdown(
            "* **Width N**: the number of neurons (cos units) in the one-layer network; N → ∞ gives a free (Gaussian) field.\n"
            "* **Two-point function G₂(x − y)** = ⟨φ(x)φ(y)⟩: the propagator; here exact at every N.\n"
            "* **Connected 4-point function**: ⟨φφφφ⟩ minus its Gaussian (Wick) part; zero for a free field, O(1/N) here.\n"
            "* **Cutoff Λ**: the largest momentum |b| a neuron can carry; the field has no structure shorter than 1/Λ.\n"
            "* **Mass m**: sets the correlation length 1/m of the propagator 1/(p² + m²).\n"
            "* **Cluster decomposition**: correlations of far-apart regions factorize; broken here by ⟨φ²φ²⟩_c not decaying.\n"
            "* **Tadpole, bubble, self-energy**: the pieces of the O(λ/N) correction to G₂ drawn as Feynman diagrams.\n"
            "* **α**: how the architecture distributes momenta and amplitudes (α = 0: propagator-weighted momenta).")


def olambda_scans(d, N, m, cutoff, L, alpha, ct) -> None:
    """Each O(lambda/N) piece at r = 0 against the box side L and against the cutoff."""
    Ls = np.linspace(8, 60 if d == 1 else 12, 27)
    lams = np.linspace(2, 20 if d == 1 else 8, 27)
    f2 = make_subplots(rows=1, cols=2, subplot_titles=[f"vs L (Λ = {cutoff:g})", f"vs Λ (L = {L:g})"])
    f2.add_trace(line(Ls, [N * theory.four_point_same_weighted(cache.cfg_of(d, N, m, cutoff, x, alpha)) for x in Ls],
                      "N × (k,k,−k,−k)", COL["mc"]), 1, 1)
    f2.add_trace(line(lams, [N * theory.four_point_same_weighted(cache.cfg_of(d, N, m, x, L, alpha))
                             for x in lams], "N × (k,k,−k,−k)", COL["mc"]), 1, 2)
    f2.update_yaxes(title_text="N × connected/disconnected", row=1, col=1)
    f2.update_layout(height=280, showlegend=False, margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(f2, width="stretch")


def required_width(lam) -> None:
    eps = state.control("ft_eps", st.select_slider, "target accuracy ε", 0.01, state.parse_choice([0.001, 0.01, 0.1]),
                        options=[0.001, 0.01, 0.1])
    x = np.logspace(0.5, 3, 100)
    fig = go.Figure([line(x, theory.required_width(x, dd, lam=max(lam, 1e-3), eps=eps), f"d = {dd}", c)
                     for dd, c in zip((1, 2, 3, 4), ["#2ca02c", "#1f77b4", "#ff7f0e", "#d62728"])])
    fig.update_xaxes(type="log", title="Λ/m")
    fig.update_yaxes(type="log", title="required width N")
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=20, b=10))
    st.plotly_chart(fig, width="stretch")
    st.caption("N ≈ 3λV_Λ/(2εm⁴) keeps the non-local O(λ/N) self-energy below ε at p ~ m (α = −1): the "
               "'massive choir'. This scaling is our inference; the paper's own constraint on N is not known.")


def run(tasks, *, heavy: float) -> dict:
    """Run the page's cached estimators ``(name, fn, args, cost)``; a progress bar when the neurons
    sampled (sum of costs) exceed ``heavy``.  Returns name -> result."""
    work = sum(t[3] for t in tasks)
    res = {}
    bar = st.progress(0.0, text="Sampling networks…") if work > heavy else None
    with st.spinner("Sampling networks…"):
        done = 0
        for name, fn, args, cost in tasks:
            res[name] = fn(*args)
            done += cost
            if bar is not None:
                bar.progress(min(1.0, done / work), text=f"{name} done ({done / work:.0%} of {work:.1e} neurons)")
    if bar is not None:
        bar.empty()
    return res


def olambda_size_scans(d, N, m, cutoff, L, alpha, ct) -> None:
    """Each O(lambda) piece at r = 0 (times N, over |tadpole|) against the box side L and the cutoff."""
    Ls = np.linspace(8, 60 if d == 1 else 12, 27)
    lams = np.linspace(2, 20 if d == 1 else 8, 27)
    names = [k for k in theory.PIECES]
    f2 = make_subplots(rows=1, cols=2, subplot_titles=[f"vs L (Λ = {cutoff:g})", f"vs Λ (L = {L:g})"])
    for col, xs, mk in ((1, Ls, lambda x: cache.cfg_of(d, N, m, cutoff, x, alpha)),
                        (2, lams, lambda x: cache.cfg_of(d, N, m, x, L, alpha))):
        rows = [theory.olambda_pieces_r0(mk(x), counterterm=ct) for x in xs]
        tad = [theory.olambda_pieces_r0(mk(x))["tadpole"] for x in xs]
        for k in names:
            y = np.array([r[k] for r in rows]) * N / np.abs(tad)
            if np.any(y):
                f2.add_trace(line(xs, y, k.replace("_", " "), PIECE_COL[k], showlegend=(col == 1)), 1, col)
    f2.update_yaxes(title_text="N × piece / |tadpole| at r = 0", row=1, col=1)
    f2.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(f2, width="stretch")


def sample_fields(res: dict, N: int, alpha: int) -> None:
    """Tab 1: three sampled fields at each width and the phi(0) histogram against its Gaussian."""
    f = res["sample fields"]
    fig = make_subplots(rows=1, cols=4, subplot_titles=[f"N = {n}" for n in N_FIELDS] + [f"φ(0), N = {N}"])
    for j, n in enumerate(N_FIELDS):
        for i, y in enumerate(f[n]):
            fig.add_trace(line(f["x"], y, f"N={n} #{i}", ["#d62728", "#1f77b4", "#2ca02c"][i], showlegend=False),
                          1, j + 1)
        fig.update_xaxes(title_text="x", row=1, col=j + 1)
    h = res["φ(0) histogram"]
    fig.add_trace(go.Histogram(x=h["phi0"], histnorm="probability density", nbinsx=60, name="MC φ(0)",
                               marker_color=COL["mc"], opacity=0.6, showlegend=False), 1, 4)
    xs = np.linspace(-4, 4, 200) * np.sqrt(h["G0"])
    fig.add_trace(line(xs, np.exp(-xs ** 2 / (2 * h["G0"])) / np.sqrt(2 * np.pi * h["G0"]), "Gaussian", COL["th"],
                       showlegend=False), 1, 4)
    fig.update_layout(height=330, margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(fig, width="stretch")
    st.markdown(f"Excess kurtosis of φ(0): MC **{h['kurt']:.4f} ± {h['kurt_se']:.4f}**, theory "
                f"**{h['kurt_theory']:.4f}** "
                + ("= (1/N)[(9/2)V_Λ I(0)/G(0)² − 3]" if alpha == -1 else "= −1.5/N (±1 amplitudes)") + ".")
