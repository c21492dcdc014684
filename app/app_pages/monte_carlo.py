"""Monte Carlo: exact ED-Metropolis and self-learning MC side by side, with a network or effective model as surrogate."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import caching, jobs, state, work
from efnn_core import pretrained

ss = st.session_state
state.header("Monte Carlo: exact sampling with a network as surrogate",
             "Sample the double exchange model at T = 0.1. <b>ED-Metropolis</b> diagonalizes the 2L² × 2L² "
             "Hamiltonian for every single-spin proposal; <b>SLMC</b> makes a whole sweep of proposals with a cheap "
             "surrogate and then accepts or rejects the end point with one exact ED, min(1, exp(−[ΔE − "
             "ΔE_surrogate]/T)): exact results whatever the surrogate, which only sets the acceptance. Both get the "
             "same wall-clock time. The chains run in one of the server's shared worker processes, not in the page.",
             name="mc")


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
    """Models trained or uploaded in this browser session (Train page), by their label here."""
    return {f"{e.name} (this session)": e.model for e in caching.session_entries("double_exchange")}


c = st.columns([1, 2, 3, 1, 1])
L = state.control("L", c[0].number_input, "L", 10, state.parse_int(5, 20), min_value=5, max_value=20,
                  help="ED-Metropolis only up to L = 12: one sweep is L² EDs (≈ 50 s at L = 20)")
METHODS = {"ed": "ED-Metropolis", "slmc": "SLMC"}
methods = state.control("methods", c[1].multiselect, "Methods", ["ed", "slmc"], state.parse_list(METHODS),
                        options=list(METHODS), format_func=METHODS.get)
mine = session_surrogates()
shipped = shipped_surrogates()
options = list(mine) + shipped
choice = state.control("surrogate", c[2].selectbox, "Surrogate (SLMC)", (shipped or options or [None])[0],
                       state.parse_choice(options), options=options,
                       help="Effective models change one spin's energy in O(1) (~25 µs); a network needs a full "
                            "batch-1 forward pass per proposal (~0.3–0.7 ms). A model trained on the Train page "
                            "is listed for this browser session only.")
chains = state.control("chains", c[3].number_input, "Chains", 2, state.parse_int(2, 4), min_value=2, max_value=4)
seed = state.control("seed", c[4].number_input, "Seed", 0, state.parse_int(0, 10 ** 6), min_value=0, max_value=10 ** 6)
state.sync_url()  # every control is declared: the URL now says what this page shows
key = (L, tuple(methods), choice, chains, seed)
if L > 12 and "ed" in methods:
    st.info("ED-Metropolis is limited to L ≤ 12 here (a sweep at L = 20 takes about a minute); running SLMC only.")
    methods = [m for m in methods if m != "ed"]
    key = (L, tuple(methods), choice, chains, seed)

b = st.columns([1, 1, 1, 5])
if b[0].button("Reset", icon=":material/restart_alt:") or ss.get("mc_key") != key:
    if ss.get("mc_run") is not None:
        ss.mc_run.cancel()
    ss.mc_run, ss.mc_key, ss.mc_error, ss.mc_playing = None, key, None, False
    if methods:
        try:
            ss.mc_run = work.RemoteChains(L, methods, mine.get(choice, choice), chains=chains, seed=seed)
        except (jobs.JobError, ValueError) as err:
            ss.mc_error = str(err)
run = ss.get("mc_run")
if b[1].button("Step", icon=":material/skip_next:", disabled=run is None):
    run.step(0.5)
playing = b[2].toggle("Play", value=ss.get("mc_playing", False), disabled=run is None)
if run is not None and playing != ss.get("mc_playing", False):
    (run.play if playing else run.pause)()
ss.mc_playing = playing
if ss.get("mc_error"):
    st.error(ss.mc_error)
if not methods:
    st.warning("Pick at least one method.")


polling = run is not None and (playing or run.pending)


@st.fragment(run_every=1.0 if polling else None)
def live():
    if run is None:
        return
    run.poll()
    if polling and not (playing or run.pending):
        st.rerun()  # the step is in: one full rerun draws it and stops the polling
    if playing:
        run.play()  # renews the worker's lease: a page left alone stops its chains within seconds
    if run.error:
        st.error(f"The chains stopped: {run.error}. Reset starts new ones.")
        return
    if run.released:
        st.warning(f"These chains were released after {work.MC_IDLE_S / 60:.0f} minutes without Play or Step (they "
                   "hold one of the server's worker processes). Reset starts new ones.")
    if run.state == "queued":
        st.info(f"Queued: position {run.position()}. Heavy work of every user shares a few worker processes; the "
                "chains start when one is free.", icon=":material/hourglass_top:")
    if run.view is None:
        st.caption("Starting chains…")
        return
    v = run.view
    left, right = st.columns([2, 3])
    shown = v["shown"]
    fig = go.Figure(go.Heatmap(z=v["spins"][..., 2], zmin=-1, zmax=1, colorscale="RdBu", colorbar={"title": "s_z"}))
    fig.update_layout(height=360, title=f"{'SLMC' if shown == 'slmc' else 'ED-Metropolis'} chain 0: s_z",
                      yaxis={"scaleanchor": "x", "autorange": "reversed"}, margin={"t": 40, "b": 10})
    left.plotly_chart(fig, width="stretch")
    tr = go.Figure()
    for m, (x, e) in v["traces"].items():
        tr.add_scatter(x=x, y=e, mode="lines", name={"ed": "ED-Metropolis", "slmc": "SLMC"}[m])
    tr.update_layout(height=360, title="Exact E per site, chain 0", xaxis_title="sweeps", yaxis_title="E/site",
                     margin={"t": 40, "b": 10})
    right.plotly_chart(tr, width="stretch")
    rows = v["table"]
    m = st.columns(len(rows) * 3)
    for k, r in enumerate(rows):
        fmt = lambda v, f: "—" if v is None or not np.isfinite(v) else format(v, f)  # noqa: E731
        m[3 * k].metric(f"{r['method']}: acceptance", fmt(r["acceptance"], ".2f"))
        m[3 * k + 1].metric("τ (sweeps)", fmt(r["tau_int"], ".1f"))
        m[3 * k + 2].metric("ESS / s", fmt(r["ess_per_second"], ".3g"), help=f"{r['ed_calls']} EDs, {r['seconds']:.1f} s")
    st.dataframe(pd.DataFrame(rows).rename(columns={"mean_per_site": "⟨E⟩/site", "error_per_site": "± error"}),
                 hide_index=True, width="stretch")
    agree = v["agreement"]
    if agree is not None:
        (st.success if agree["agree"] else st.warning)(
            f"SLMC − ED = {agree['difference']:+.5f} per site; 3σ = {3 * agree['sigma']:.5f}: "
            f"{'agree' if agree['agree'] else 'not (yet) within 3σ — run longer'}")
    rmse = v["rmse"]
    if rmse is not None:
        st.caption(f"Surrogate RMSE on the configurations SLMC visited (its proposals, exact labels from the "
                   f"accept step): **{rmse:.2f} T**. Acceptance ≈ erfc(σ/(2√2 T)), σ the spread of ΔE − ΔE_surrogate.")


live()
