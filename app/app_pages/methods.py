"""Methods: accuracy against time of ED, Schrieffer-Wolff, KPM and the networks, measured live."""
import datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import caching, jobs, state, work
from efnn_core import pretrained
from efnn_core.frontier import KPM_POINTS, pareto, summary

state.header("Methods: when is a network worth it?",
             "Every point below is measured when you press the button, on the same random double-exchange "
             "configurations, on this machine, in one run: exact diagonalization (up to L = 40), the Schrieffer–Wolff "
             "effective Hamiltonian of the lower band (orders 1–3), the kernel polynomial method (Chebyshev expansion "
             "with colour probing, several moments M and colour distances p), and the energy models you pick. "
             "Relative error = RMSE / |mean E| against ED (beyond L = 40: against a tight KPM, whose own error is "
             "the floor). Times are per configuration; models at batch 1, the call a Monte Carlo loop makes. A shared "
             "link carries the settings; the times are measured again on the machine that opens it.",
             name="methods")

DEFAULT_MODELS = ("de_efnn_c3_n3", "de_dnn_c3_n3", "de_effective_translation")


@st.cache_resource(show_spinner=False)
def _pretrained_names() -> list[str]:
    return [n for n in pretrained.list() if pretrained.metadata(n).get("system") == "double_exchange"]


session = {e.name: e.model for e in caching.session_entries("double_exchange")}  # trained/uploaded here
names = _pretrained_names()
c = st.columns([1.2, 0.8, 0.7, 2.6])
sizes = [10, 16, 20, 30, 40, 64, 100]
L = state.control("L", c[0].select_slider, "Lattice size L", 20, state.parse_choice(sizes), options=sizes,
                  help="ED only up to 40 (O(L⁶)); SW up to 64 (a dense L²×L² matrix); KPM is O(L²).")
count = state.control("count", c[1].number_input, "configurations", 3, state.parse_int(1, 16), min_value=1, max_value=16)
seed = state.control("seed", c[2].number_input, "seed", 0, state.parse_int(0, 10_000), min_value=0, max_value=10_000)
choices = list(session) + names
picked = state.control("models", c[3].multiselect, "Energy models",
                       list(session) + [n for n in DEFAULT_MODELS if n in names],
                       state.parse_list(choices), options=choices,
                       help="Models trained on the Train page are listed for this browser session only.")
c2 = st.columns([1.2, 3])
orders = state.control("sw", c2[0].multiselect, "SW orders", [2, 3], state.parse_list([1, 2, 3]), options=[1, 2, 3])
kpm_keys = [f"{m}:{p}" for m, p in KPM_POINTS]  # "M:p", compact in the URL
kpm_pick = state.control("kpm", c2[1].multiselect, "KPM settings (moments M, colour distance p)", kpm_keys,
                         state.parse_list(kpm_keys), options=kpm_keys,
                         format_func=lambda k: "M={}, p={}".format(*k.split(":")))
state.sync_url()  # every control is declared (the page may stop below, before a measurement exists)
if L > 40:
    st.info(f"L = {L}: ED would take {'minutes' if L < 80 else 'hours'} per configuration, so the reference is "
            "a tight KPM (M = 300, p = 16) computed in the same run.", icon=":material/info:")

key = (L, int(count), int(seed), tuple(picked), tuple(orders), tuple(kpm_pick))
ss = st.session_state


def measure():
    if ss.get("methods_job") is not None:
        ss.methods_job.cancel()
    ss.methods_job, ss.methods_error = None, None
    try:
        ss.methods_job = work.submit_frontier(L, {n: session.get(n, n) for n in picked}, count=count, seed=seed,
                                              sw_orders=orders, kpm_points=[p for p, k in zip(KPM_POINTS, kpm_keys)
                                                                            if k in kpm_pick])
        ss.methods_job_key = key
    except (jobs.JobError, ValueError) as err:
        ss.methods_error = str(err)


b = st.columns([1, 1, 4])
b[0].button("Measure", type="primary", icon=":material/speed:", on_click=measure, width="stretch")
job = ss.get("methods_job")
b[1].button("Cancel", icon=":material/cancel:", disabled=job is None, width="stretch",
            on_click=lambda: (ss.methods_job.cancel(), ss.update(methods_job=None)))
if ss.get("methods_error"):
    st.error(ss.methods_error)


@st.fragment(run_every=0.5 if job is not None else None)
def progress():
    job = ss.get("methods_job")
    if job is None:
        return
    done = None
    while not job.events.empty():
        msg = job.events.get()
        if msg is not None:
            ss.methods_progress = msg
    if job.state == "queued":
        st.info(f"Queued: position {job.position()}. The measurement runs in one of the server's shared worker "
                "processes when one is free.", icon=":material/hourglass_top:")
    elif job.state == "running":
        _, k, n, label = ss.get("methods_progress") or ("progress", 0, 1, "starting")
        st.progress(k / max(n, 1), text=f"measuring {label} (in a worker process)")
    else:
        done = job
    if done is not None:
        ss.methods_job = None
        if done.state == "done":
            ss.methods_result = (ss.methods_job_key, done.result, datetime.datetime.now().strftime("%H:%M:%S"))
        elif done.state == "failed":
            ss.methods_error = f"The measurement did not finish: {done.error.removeprefix('ValueError: ')}"
        st.rerun()


progress()
result = st.session_state.get("methods_result")
if result is None:
    if ss.get("methods_job") is None:
        st.info("Choose a size and press **Measure** (a few seconds at L = 10–20, about a minute at L = 40 or 100).",
                icon=":material/info:")
    st.stop()
rkey, pts, when = result
if rkey != key:
    st.warning("The settings changed since this measurement; press **Measure** to redo it.")
L_done = rkey[0]

df = pd.DataFrame([p.as_dict() for p in pts])
floor = max(min([p.rel_error for p in pts if p.rel_error > 0] + [1e-6]) / 10, 1e-12)
df["plotted error"] = df["rel_error"].where(df["rel_error"] > 0, floor)
front = {p.name for p in pareto(pts)}
styles = {"exact": ("black", "star"), "reference": ("grey", "star-open"), "physics": ("#1f77b4", "circle"),
          "model": ("#d62728", "diamond")}
fig = go.Figure()
for kind, d in df.groupby("kind", sort=False):
    color, symbol = styles.get(kind, ("#2ca02c", "square"))
    fig.add_trace(go.Scatter(
        x=d["seconds"], y=d["plotted error"], mode="markers+text", name=kind, text=d["name"],
        textposition="top center", textfont=dict(size=10),
        marker=dict(color=color, symbol=symbol, size=[14 if n in front else 9 for n in d["name"]],
                    line=dict(width=1, color="white")),
        customdata=d[["rel_error", "rmse_T", "estimate"]].fillna(float("nan")).to_numpy(),
        hovertemplate="%{text}<br>%{x:.3g} s/config<br>rel. error %{customdata[0]:.2e}<br>RMSE %{customdata[1]:.3g} T"
                      "<br>own estimate %{customdata[2]:.1e}<extra></extra>"))
fig.update_layout(xaxis=dict(type="log", title="seconds per configuration"),
                  yaxis=dict(type="log", title="relative error (RMSE / |mean E|)"), height=520,
                  margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.15))
if (df["rel_error"] == 0).any():
    fig.add_hline(y=floor, line=dict(dash="dot", color="grey"), annotation_text="exact (drawn at this line)")
st.plotly_chart(fig, width="stretch")
st.markdown(summary(pts, L_done) + " Larger markers: the Pareto front (nothing is both faster and more accurate).")
st.caption(f"Measured at {when} in this session on {int(rkey[1])} configuration(s) (seed {rkey[2]}).")
table = df[["name", "kind", "seconds", "rel_error", "rmse_T", "estimate"]].rename(columns={
    "seconds": "s / config", "rel_error": "relative error", "rmse_T": "RMSE / T", "estimate": "own estimate (rel.)"})
st.dataframe(table, hide_index=True, width="stretch")
