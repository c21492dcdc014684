"""Generalization: networks trained on 10x10 lattices evaluated on every shipped test-set size (10 ... 100; L = 64 and 100 labelled by KPM)."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app import caching, catalog, plots, state
from efnn_core import analysis
from efnn_core import data as datasets

state.header("Generalization across lattice sizes",
             "Networks trained only on 10×10 lattices, evaluated without retraining on the shipped exact test sets "
             "at larger L. Periodic convolutions apply the same local rule at any size, so a network that learned the "
             "local physics keeps working.", name="gen")
systems = [n for n in catalog.system_names() if len(catalog.system(n).test_sets) > 1]
if not systems:
    st.error("No test sets at several sizes found in data/: `python -m efnn_core data generate --shipped`.")
    st.stop()
name = state.control("system", st.selectbox, "System", systems[0], state.parse_choice(systems), options=systems,
                     format_func=lambda n: catalog.system(n).label) if len(systems) > 1 else systems[0]
info = catalog.system(name)
sets = {L: n for L, n in info.test_sets.items() if n in caching.dataset_names()}
available_L = sorted(sets)
entries, problems = caching.models_for(name)
for p in problems:
    st.warning(p)
DEFAULT = ("efnn_c3_n1", "efnn_c3_n2", "efnn_c3_n3", "dnn_c3_n3", "resnet_c3_n3", "densenet_c3_n3", "translation")
default = [e.name for e in entries if e.source != "pretrained" or e.name.endswith(DEFAULT)] or [e.name for e in entries]
c = st.columns([1.4, 2.8, 1])
Ls = sorted(state.control("gL", c[0].multiselect, "Lattice sizes L", available_L, state.parse_list(available_L),
                          options=available_L))
all_names = [e.name for e in entries]
names = state.control("models", c[1].multiselect, "Models", default, state.parse_list(all_names), options=all_names)
# 25 by default: a server's first visitor waits for every model on every size (2.7 s on 2 cores; 50: 4.9 s),
# and 25 configurations already fix each relative error to about ±15 %
n = state.control("gn", c[2].select_slider, "configurations per L", 25, state.parse_choice([10, 25, 50, 100, 200, 500]),
                  options=[10, 25, 50, 100, 200, 500], help="The first n configurations of each test set (the "
                  "statistical uncertainty of an RMSE from n configurations is about 1/√(2n): ±14 % at 25, ±10 % at 50).")


@st.cache_data(max_entries=512, show_spinner=False)
def evaluate(uid: str, L: int, n: int, _model) -> list[dict]:
    spins, energies = caching.dataset(sets[L])
    return analysis.generalization({uid: _model}, {L: (spins[:n], energies[:n])}, temperature=info.temperature)


if not entries:
    st.info("No models for this system yet: train one on the **Train** page and it appears here.", icon=":material/info:")
elif not Ls or not names:
    st.info("Choose at least one lattice size and one model.")
else:
    rows, skipped = [], []
    bar = st.progress(0.0, text="Evaluating models on the test sets…")
    chosen = [e for e in entries if e.name in names]
    for k, e in enumerate(chosen):
        for L in Ls:
            got, bad = evaluate(e.uid or f"{e.source}:{e.name}", L, int(n), e.model)
            rows += [dict(r, model=e.name) for r in got]
            skipped += [f"{e.name}: {b}" for b in bad]
        bar.progress((k + 1) / len(chosen), text=f"Evaluated {e.name}")
    bar.empty()
    if rows:
        df = pd.DataFrame(rows)
        order = st.session_state.setdefault("colour_order", {})
        panels = (("rel_error", "Relative error of the total energy", "RMSE / |mean E|"),
                  ("rmse_per_site", "Per-site RMSE (RMSE / N)", "RMSE / L²"),
                  ("rmse_per_L", "Local error scale RMSE / √N", "RMSE / L"))
        fig = make_subplots(rows=1, cols=3, subplot_titles=[p[1] for p in panels], horizontal_spacing=0.08)
        for col, (y, _, ytitle) in enumerate(panels, start=1):
            for k, (mname, d) in enumerate(df.groupby("model", sort=False)):
                fig.add_trace(go.Scatter(x=d["L"], y=d[y], mode="lines+markers", name=mname, legendgroup=mname,
                                         showlegend=col == 1, line=dict(color=plots.colour(mname, order), width=2,
                                                                        dash="solid" if k < len(plots.PALETTE) else "dash")),
                              row=1, col=col)
            if y != "rmse_per_L" and len(Ls) > 1:
                first = df[df["model"] == df["model"].iloc[0]].sort_values("L")
                ref = first[y].iloc[0] * first["L"].iloc[0]
                xs = np.array(Ls, dtype=float)
                fig.add_trace(go.Scatter(x=xs, y=ref / xs, mode="lines", name="∝ 1/L", legendgroup="guide",
                                         showlegend=col == 1, line=dict(color="#999", dash="dot")), row=1, col=col)
            fig.update_xaxes(type="log", tickvals=Ls, title_text="L", row=1, col=col)
            fig.update_yaxes(**plots.log_axis(df[y]), title_text=ytitle, row=1, col=col)
        fig.update_layout(height=430, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.22))
        st.plotly_chart(fig, key="gen_curves")
        table = df.pivot_table(index="model", columns="L", values="rel_error", sort=False).reindex(columns=Ls)
        table.columns = [f"L={L}" for L in table.columns]
        st.markdown(f"**Relative error by lattice size** (first {int(n)} test configurations of each size)")
        state.table(table.map(lambda v: "n/a" if pd.isna(v) else f"{v:.2e}"), st.container(key="gen_table"))
        if skipped:
            st.caption("Not applicable: " + "; ".join(skipped))
        every = st.expander("All numbers", key="gen_all_open", on_change="rerun")
        if every.open:  # the interactive grid is drawn when asked for
            every.dataframe(df, hide_index=True, width="stretch")

st.subheader("Why the relative error falls like 1/L")
st.markdown(
    r"""
The energy is a sum over $N = L^2$ sites, $E=\sum_i e_i$, so its mean grows like $N$: $|\langle E\rangle| \approx |e|\,L^2$.
A network that has learned the *local* rule makes a small error $\delta_i$ on each site's contribution. If these
errors are roughly independent with size $\varepsilon$, they add up like a random walk:
$\mathrm{RMSE} \approx \varepsilon\sqrt{N} = \varepsilon L$. Hence

$$\text{relative error} = \frac{\mathrm{RMSE}}{|\langle E\rangle|} \approx \frac{\varepsilon}{|e|}\,\frac{1}{L},$$

which falls like $1/L$ even though the network's local accuracy $\varepsilon$ has not improved at all. The right-hand
plot estimates $\varepsilon$ as RMSE/L: flat for a network that generalizes, rising for one that does not. (The paper's
"accuracy improves with system size" is largely this effect.) The exact labels show the same scaling: the mean grows
like $L^2$ while the spread of $E$ grows like $L$.
"""
)
stats = analysis.label_statistics({L: datasets.manifest(sets[L]) for L in available_L})
if stats:
    sd = pd.DataFrame(stats)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=sd["L"], y=-sd["mean E"], mode="lines+markers", name="|mean E|  (∝ L²)",
                             line=dict(color="#d62728", width=2.5)))
    fig.add_trace(go.Scatter(x=sd["L"], y=sd["std E"], mode="lines+markers", name="std of E  (∝ L)",
                             line=dict(color="#1f77b4", width=2.5)))
    x0 = float(sd["L"].iloc[0])
    for col, p, name in (("mean E", 2, "L²"), ("std E", 1, "L")):
        y0 = abs(float(sd[col].iloc[0]))
        fig.add_trace(go.Scatter(x=sd["L"], y=y0 * (sd["L"] / x0) ** p, mode="lines", name=f"∝ {name}",
                                 line=dict(color="#999", dash="dot"), showlegend=False))
    fig.update_xaxes(type="log", tickvals=list(sd["L"]), title="L")
    fig.update_yaxes(type="log", title="energy (t = 1)")
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10), title="Exact labels of the shipped test sets",
                      legend=dict(orientation="h", y=-0.3))
    st.plotly_chart(fig, key="gen_labels")
    formats = {"mean E": "{:.3f}", "std E": "{:.3f}", "mean E / N": "{:.5f}", "std E / L": "{:.4f}"}
    state.table(sd.assign(**{c: sd[c].map(f.format) for c, f in formats.items() if c in sd}).set_index("L"))
state.sync_url()
