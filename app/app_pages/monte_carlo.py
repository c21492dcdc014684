"""Monte Carlo: exact ED-Metropolis and self-learning MC side by side, with a network or effective model as surrogate."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from efnn_core import pretrained
from efnn_core.mc.live import Comparison

ss = st.session_state
st.title(":material/casino: Monte Carlo")
st.markdown("Sample the double exchange model at T = 0.1. **ED-Metropolis** diagonalizes the 2L² × 2L² Hamiltonian "
            "for every single-spin proposal; **SLMC** makes a whole sweep of proposals with a cheap surrogate and "
            "then accepts or rejects the end point with one exact ED, min(1, exp(−[ΔE − ΔE_surrogate]/T)) — exact "
            "results whatever the surrogate, which only sets the acceptance. Both get the same wall-clock time.")


@st.cache_data(show_spinner=False)
def shipped_surrogates() -> list[str]:
    names = []
    for n in pretrained.list():
        try:
            meta = pretrained.metadata(n)
        except ValueError:
            continue
        family = ((meta.get("model") or {}).get("config") or {}).get("family")
        if meta.get("system") == "double_exchange" and (meta.get("kind") == "effective" or family == "lattice"):
            names.append(n)
    fast = [n for n in names if "effective_translation" in n]  # O(1) local updates first
    return sorted(fast, key=lambda n: "_mc" not in n) + [n for n in names if n not in fast]


def session_surrogates() -> dict:
    """Models trained in this browser session (the Train page keeps them in st.session_state)."""
    entries = ss.get("session_models") or {}
    return {f"{k} (this session)": e.model for k, e in entries.items()
            if getattr(e, "system", None) == "double_exchange"}


c = st.columns([1, 2, 3, 1, 1])
L = c[0].number_input("L", 5, 20, 10, help="ED-Metropolis only up to L = 12: one sweep is L² EDs (≈ 50 s at L = 20)")
methods = c[1].multiselect("Methods", ["ed", "slmc"], ["ed", "slmc"],
                           format_func={"ed": "ED-Metropolis", "slmc": "SLMC"}.get)
mine = session_surrogates()
choice = c[2].selectbox("Surrogate (SLMC)", list(mine) + shipped_surrogates(),
                        help="Effective models change one spin's energy in O(1) (~25 µs); a network needs a full "
                             "batch-1 forward pass per proposal (~0.3–0.7 ms)")
chains = c[3].number_input("Chains", 2, 4, 2)
seed = c[4].number_input("Seed", 0, 10 ** 6, 0)
key = (L, tuple(methods), choice, chains, seed)
if L > 12 and "ed" in methods:
    st.info("ED-Metropolis is limited to L ≤ 12 here (a sweep at L = 20 takes about a minute); running SLMC only.")
    methods = [m for m in methods if m != "ed"]
    key = (L, tuple(methods), choice, chains, seed)

b = st.columns([1, 1, 1, 5])
if b[0].button("Reset", icon=":material/restart_alt:") or ss.get("mc_key") != key:
    ss.mc_run, ss.mc_key, ss.mc_error, ss.mc_playing = None, key, None, False
    if methods:
        try:
            with st.spinner("Starting chains…"):
                ss.mc_run = Comparison(L, methods, mine.get(choice, choice), chains=chains, seed=seed)
        except ValueError as err:
            ss.mc_error = str(err)
if b[1].button("Step", icon=":material/skip_next:", disabled=ss.get("mc_run") is None):
    ss.mc_run.step(0.5)
ss.mc_playing = b[2].toggle("Play", value=ss.get("mc_playing", False), disabled=ss.get("mc_run") is None)
if ss.get("mc_error"):
    st.error(ss.mc_error)
if not methods:
    st.warning("Pick at least one method.")


@st.fragment(run_every=1.0 if ss.get("mc_playing") else None)
def live():
    run = ss.get("mc_run")
    if run is None:
        return
    if ss.get("mc_playing"):
        run.step(0.4)
    left, right = st.columns([2, 3])
    shown = "slmc" if "slmc" in run.configs else "ed"
    s = run.snapshot(shown)
    fig = go.Figure(go.Heatmap(z=s[..., 2], zmin=-1, zmax=1, colorscale="RdBu", colorbar={"title": "s_z"}))
    fig.update_layout(height=360, title=f"{'SLMC' if shown == 'slmc' else 'ED-Metropolis'} chain 0: s_z",
                      yaxis={"scaleanchor": "x", "autorange": "reversed"}, margin={"t": 40, "b": 10})
    left.plotly_chart(fig, width="stretch")
    tr = go.Figure()
    for m, (x, e) in run.traces().items():
        tr.add_scatter(x=x, y=e, mode="lines", name={"ed": "ED-Metropolis", "slmc": "SLMC"}[m])
    tr.update_layout(height=360, title="Exact E per site, chain 0", xaxis_title="sweeps", yaxis_title="E/site",
                     margin={"t": 40, "b": 10})
    right.plotly_chart(tr, width="stretch")
    rows = run.table()
    m = st.columns(len(rows) * 3)
    for k, r in enumerate(rows):
        fmt = lambda v, f: "—" if v is None or not np.isfinite(v) else format(v, f)  # noqa: E731
        m[3 * k].metric(f"{r['method']}: acceptance", fmt(r["acceptance"], ".2f"))
        m[3 * k + 1].metric("τ (sweeps)", fmt(r["tau_int"], ".1f"))
        m[3 * k + 2].metric("ESS / s", fmt(r["ess_per_second"], ".3g"), help=f"{r['ed_calls']} EDs, {r['seconds']:.1f} s")
    st.dataframe(pd.DataFrame(rows).rename(columns={"mean_per_site": "⟨E⟩/site", "error_per_site": "± error"}),
                 hide_index=True, width="stretch")
    agree = run.agreement()
    if agree is not None:
        (st.success if agree["agree"] else st.warning)(
            f"SLMC − ED = {agree['difference']:+.5f} per site; 3σ = {3 * agree['sigma']:.5f}: "
            f"{'agree' if agree['agree'] else 'not (yet) within 3σ — run longer'}")
    rmse = run.surrogate_rmse()
    if rmse is not None:
        st.caption(f"Surrogate RMSE on the configurations SLMC visited (its proposals, exact labels from the "
                   f"accept step): **{rmse:.2f} T**. Acceptance ≈ erfc(σ/(2√2 T)), σ the spread of ΔE − ΔE_surrogate.")


live()
