"""Field theory on neurons: finite-width cos-networks as a cutoff scalar field (Sen & Vaidya, arXiv:2508.03810).

Widgets -> efnn_core.nnft (through the cached wrappers in app/_nnft_cache.py) -> plotly charts.
Every Monte Carlo point carries its standard error beside the closed form of spec nn-field-theory.md.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402
from plotly.subplots import make_subplots  # noqa: E402

from app import _nnft_cache as cache  # noqa: E402
from app import nnft_view as view  # noqa: E402
from app import state  # noqa: E402
from efnn_core.nnft import theory  # noqa: E402

COL, PIECE_COL = view.COL, view.PIECE_COL
HEAVY = 1e7  # neurons sampled per rerun above which a progress bar is shown

state.page("ft")
state.style()
st.title("Field theory on neurons")
state.url_messages()
view.intro()

# ----------------------------------------------------------------------------- controls
with st.container(border=True):
    c1, c2, c3, c4 = st.columns(4)
    P, ch = state, state.parse_choice
    d = P.control("ft_d", c1.radio, "dimension d", 1, ch([1, 2]), options=[1, 2], horizontal=True)
    archs = ["α = −1 (Gaussian a, uniform b)", "α = 0 (±1 a, b ∝ propagator)"]
    arch = P.control("ft_arch", c1.radio, "architecture", archs[0], ch(archs), options=archs,
                     help="α = 0 is the candidate 'modification (a)' of the spec.")
    alpha = -1 if arch.startswith("α = −1") else 0
    Ns = [5, 10, 20, 30, 50, 100, 200, 500]
    N = P.control("ft_N", c2.select_slider, "width N", 30, ch(Ns), options=Ns)
    Ms = [2000, 5000, 10000, 20000, 50000, 100000, 200000]
    M = P.control("ft_M", c2.select_slider, "networks M per estimate", 5000, ch(Ms), options=Ms,
                  help="Error bars shrink like 1/√M; cost grows like M·N.")
    hi_cut, hi_L = (20.0, 60.0) if d == 1 else (8.0, 12.0)
    cutoff = P.control(f"ft_cut{d}", c3.slider, "cutoff Λ", 5.0 if d == 1 else 4.0, P.parse_float(2.0, hi_cut),
                       min_value=2.0, max_value=hi_cut, step=0.5)
    L = P.control(f"ft_L{d}", c3.slider, "box side L", 20.0 if d == 1 else 8.0, P.parse_float(8.0, hi_L), min_value=8.0,
                  max_value=hi_L, step=1.0)
    m = P.control("ft_m", c3.slider, "mass m", 1.0, P.parse_float(0.5, 2.0), min_value=0.5, max_value=2.0, step=0.1)
    lam = P.control("ft_lam", c4.slider, "coupling λ", 1.0, P.parse_float(0.0, 2.0), min_value=0.0, max_value=2.0,
                    step=0.1)
    ct = P.control("ft_ct", c4.toggle, "mass counterterm δm² = −(λ/2)G(0)", False, P.parse_bool)
    boxes = ["box (exact modes)", "continuum"]
    box = P.control("ft_box", c4.radio, "ensemble for G₂ and ⟨φ²φ²⟩", boxes[0], ch(boxes), options=boxes).startswith("box")
    seed = int(P.control("ft_seed", c4.number_input, "seed", 0, P.parse_int(0, 10_000), min_value=0, max_value=10_000))

if L * cutoff / (2 * np.pi) < 3:
    st.error(f"L·Λ = {L * cutoff:.0f} leaves fewer than 3 modes per direction; increase L or Λ.")
    st.stop()
base = dict(d=d, m=m, cutoff=cutoff, L=L)
n_modes = cache.cfg_of(d, N, m, cutoff, L, alpha).modes.size
st.caption(f"Box: |K| = {n_modes} momentum modes, V_Λ = {theory.mode_density(cache.cfg_of(d, N, m, cutoff, L, alpha)):.3g}, "
           f"G(0) = {theory.G0(cache.cfg_of(d, N, m, cutoff, L, alpha)):.4g}.")

N_FIELDS = view.N_FIELDS
N_COLLAPSE = (10, 30, 100)
N_SCAN = (5, 10, 20, 50, 100, 200)

# ----------------------------------------------------------------------------- run (cached; progress if heavy)
tasks = [
    ("sample fields", cache.sample_fields, (d, m, cutoff, L, alpha, box, N_FIELDS, 3, min(L, 12.0 / m), seed), 0),
    ("φ(0) histogram", cache.phi0_samples, (d, N, m, cutoff, L, alpha, box, 4 * M, seed), 4 * M * N),
    ("G₂(r)", cache.two_point, (d, N, m, cutoff, L, alpha, box, M, seed), M * N),
    *[(f"⟨φ²φ²⟩_c, N={n}", cache.phi2phi2, (d, n, m, cutoff, L, -1, box, M, seed + n), M * n) for n in N_COLLAPSE],
    ("⟨φ²φ²⟩_c, α=0", cache.phi2phi2, (d, 30, m, cutoff, L, 0, box, M, seed + 1), M * 30),
    *[(f"4-point, N={n}", cache.momentum_four_point, (d, n, m, cutoff, L, alpha, 2 * M, seed + n), 2 * M * n)
      for n in N_SCAN],
    ("O(λ) covariance", cache.olambda, (d, N, m, cutoff, L, alpha, 2 * M, seed), 2 * M * N),
]
res = view.run(tasks, heavy=HEAVY)


err_trace, line = view.err_trace, view.line


tabs = st.tabs(["1 · Sample fields", "2 · G₂(r)", "3 · Cluster decomposition", "4 · Momentum 4-point",
                "5 · O(λ) pieces", "6 · Required width"])

# ----------------------------------------------------------------------------- 1 sample fields
with tabs[0]:
    st.markdown("Three networks at each width: a handful of cosines at N = 5, close to a Gaussian random field "
                "at N = 500. Right: φ(0) over many networks at the chosen N against the Gaussian of variance G(0).")
    view.sample_fields(res, N, alpha)

# ----------------------------------------------------------------------------- 2 G2
with tabs[1]:
    g = res["G₂(r)"]
    fig = go.Figure([line(g["rf"], g["theory"], "cutoff propagator G(r)", COL["th"]),
                     line(g["rf"], g["nocut"], "Λ → ∞: " + ("e^{−mr}/2m" if d == 1 else "K₀(mr)/2π"), COL["grey"],
                          dash="dash"),
                     err_trace(g["r"], g["G"], g["se"], f"MC, N = {N}, M = {M}", COL["mc"])])
    fig.update_yaxes(type="log", title="G₂(r)")
    fig.update_xaxes(title="r (along e₁)")
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=20, b=10))
    st.plotly_chart(fig, width="stretch")
    st.caption("G₂ is exact at any N (finite width only adds noise); on a log scale the relative error bar grows "
               "like e^{mr}. Points at or below zero are not drawn on the log axis.")

# ----------------------------------------------------------------------------- 3 cluster decomposition
with tabs[2]:
    fig = go.Figure()
    g0sq = None
    for n, color in zip(N_COLLAPSE, ["#d62728", "#ff7f0e", "#8c564b"]):
        p = res[f"⟨φ²φ²⟩_c, N={n}"]
        g0sq = p["G0"] ** 2
        fig.add_trace(err_trace(p["r"], n * p["c"] / g0sq, n * p["se"] / g0sq, f"α = −1, N = {n}", color))
    fig.add_trace(line(p["rf"], N_COLLAPSE[-1] * p["theory"] / g0sq, "theory α = −1 (any N)", COL["th"]))
    fig.add_trace(line(p["rf"], 0 * p["rf"] + N_COLLAPSE[-1] * p["plateau"] / g0sq, "plateau 3V_ΛI(0)/G(0)² − 1",
                       COL["th"], dash="dot"))
    q = res["⟨φ²φ²⟩_c, α=0"]
    fig.add_trace(err_trace(q["r"], 30 * q["c"] / g0sq, 30 * q["se"] / g0sq, "α = 0, N = 30", COL["alt"]))
    fig.add_trace(line(q["rf"], 30 * q["theory"] / g0sq, "theory α = 0", COL["alt"], dash="dash"))
    fig.update_xaxes(title="r = |x − y|")
    fig.update_yaxes(title="N·⟨φ²(x)φ²(y)⟩_c / G(0)²")
    fig.update_layout(height=400, margin=dict(l=10, r=10, t=20, b=10))
    st.plotly_chart(fig, width="stretch")
    st.caption("For α = −1 all widths collapse onto one curve that does **not** decay: cluster decomposition is "
               "broken at O(1/N) by an amount enhanced by V_Λ/m^{d}. The α = 0 curve decays to zero. "
               + ("In the box, 2r is periodic: the curves are symmetric about r = L/4 and rise again at r → L/2."
                  if box else ""))

# ----------------------------------------------------------------------------- 4 momentum 4-point
with tabs[3]:
    st.markdown("Connected ÷ disconnected 4-point function of the exact box Fourier modes φ̃(k), against N.")
    Ns = np.array(N_SCAN, float)
    r4 = [res[f"4-point, N={n}"] for n in N_SCAN]
    fig = make_subplots(rows=1, cols=3, subplot_titles=["generic quartet (= 0)", "(p,−p,q,−q): −ratio (= 1/N)",
                                                        "(k,k,−k,−k) (= (μ₄−2q_k)/2Nq_k)"])
    fig.add_trace(err_trace(Ns, [r["generic"] for r in r4], [r["generic_se"] for r in r4], "generic", COL["mc"]),
                  1, 1)
    fig.add_trace(line(Ns, 0 * Ns, "0", COL["th"]), 1, 1)
    fig.add_trace(err_trace(Ns, [-r["pair"] for r in r4], [r["pair_se"] for r in r4], "−(p,−p,q,−q)", COL["mc"]),
                  1, 2)
    fig.add_trace(line(Ns, 1 / Ns, "1/N", COL["th"]), 1, 2)
    fig.add_trace(err_trace(Ns, [r["same"] for r in r4], [r["same_se"] for r in r4], "(k,k,−k,−k)", COL["mc"]),
                  1, 3)
    fig.add_trace(line(Ns, [r["same_theory"] for r in r4], "theory", COL["th"]), 1, 3)
    for c in (1, 2, 3):
        fig.update_xaxes(type="log", title_text="N", row=1, col=c)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=3)
    fig.update_layout(height=360, showlegend=False, margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(fig, width="stretch")
    view.olambda_scans(d, N, m, cutoff, L, alpha, ct)
    st.caption("Generic momenta are exact at any N; pairs (p,−p,q,−q) carry exactly −1/N; at (k,k,−k,−k) the "
               "error grows with the number of modes |K| ~ (LΛ)^d (α = −1: ≈ 3|K|/4N) — in the continuum a factor "
               "δ(0) = spacetime volume. α = 0 suppresses it at low k. Non-positive points are not drawn on log axes.")

# ----------------------------------------------------------------------------- 5 O(lambda)
with tabs[4]:
    o = res["O(λ) covariance"]
    pieces = o["pieces_ct"] if ct else o["pieces"]
    mc, se = (o["ren"], o["ren_se"]) if ct else (o["bare"], o["bare_se"])
    p = np.sqrt(o["p2"])
    fig = go.Figure()
    for k, v in pieces.items():
        if k == "total" or not np.any(v):
            continue
        fig.add_trace(go.Scatter(x=p, y=lam * v, mode="lines+markers", name=k.replace("_", " "),
                                 line=dict(color=PIECE_COL[k], dash="dot"), marker=dict(size=4)))
    fig.add_trace(line(p, lam * pieces["total"], "theory total (O(λ/N))", COL["th"]))
    fig.add_trace(err_trace(p, lam * mc, lam * se, f"MC −(λ/4!)Cov(|φ̃(p)|²/V, ∫φ⁴), N = {N}", COL["mc"]))
    fig.update_xaxes(title="|p|")
    fig.update_yaxes(title="δG̃(p)")
    fig.update_layout(height=400, margin=dict(l=10, r=10, t=20, b=10))
    st.plotly_chart(fig, width="stretch")
    st.caption("First order in λ, exact in N: δ⟨O⟩ = −(λ/4!)Cov_free(O, ∫φ⁴)"
               + (" − (δm²/2)Cov_free(O, ∫φ²). The counterterm removes tadpole, volume and zero mode exactly; "
                  "the non-local piece −(3λ/2N)V_Λ G̃³ (∝ Λ^d) survives." if ct else
                  ". Volume (\"bubble\") piece ∝ L^d, non-local ∝ V_Λ ~ Λ^d, zero mode only at p = 0 in the box.")
               + " The MC/theory gap at small N is O(λ/N²) (sixth cumulant).")
    view.olambda_size_scans(d, N, m, cutoff, L, alpha, ct)

# ----------------------------------------------------------------------------- 6 required width
with tabs[5]:
    view.required_width(lam)

view.glossary()
state.sync_url()
