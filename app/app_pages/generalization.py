"""Generalization: networks trained on 10x10 lattices evaluated on 10x10 ... 40x40."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app import _plots, _ui

_ui.style()
_ui.header("Generalization across lattice sizes",
           "Networks trained only on 10×10 double-exchange lattices, evaluated without retraining on the shipped "
           "exact test sets at larger L. Convolutions with periodic padding apply the same local rule at any size, "
           "so a network that learned the local physics keeps working.", icon=":material/trending_down:")

available_L = [L for L in (10, 15, 20, 25, 30, 35, 40) if _ui.test_set_for(L)]
if not available_L:
    st.error("No double-exchange test sets found in data/ (de_L10_test …): generate them with "
             "`python -m efnn_core data generate --shipped`.")
    st.stop()

entries, problems = _ui.models_for("double_exchange")
for p in problems:
    st.warning(p)
c = st.columns([1.4, 2.8, 1])
Ls = c[0].multiselect("Lattice sizes L", available_L, default=available_L, key="gen_L")
# Default: this session's models, the C = 3 EFNNs, one of each baseline and the any-L effective model
# (all 17 shipped curves at once would hide the comparison).
default = [e.name for e in entries if e.source != "pretrained" or e.name in _ui.GENERALIZATION_DEFAULT] \
    or [e.name for e in entries]
names = c[1].multiselect("Models", [e.name for e in entries], default=default, key="gen_models")
n = c[2].select_slider("configurations per L", [10, 25, 50, 100, 200, 500], value=50, key="gen_n",
                       help="The first n configurations of each test set (larger L sets are smaller).")
Ls = sorted(Ls)

if not entries:
    st.info("No pretrained models found, and none trained in this session yet: train one on the **Train** page "
            "(double exchange) and it appears here. The label statistics below already show where the 1/L comes "
            "from.", icon=":material/info:")
elif not Ls or not names:
    st.info("Choose at least one lattice size and one model.")
else:
    rows, skipped = _ui.generalization_rows([e for e in entries if e.name in names], Ls, int(n))
    if rows:
        df = pd.DataFrame(rows)
        panels = (("relative error", "Relative error of the total energy", "RMSE / |mean E|"),
                  ("RMSE / site", "Per-site RMSE (RMSE / N)", "RMSE / L²"),
                  ("RMSE / L", "Local error scale RMSE / √N", "RMSE / L"))
        fig = make_subplots(rows=1, cols=3, subplot_titles=[p[1] for p in panels], horizontal_spacing=0.08)
        best = df.groupby("model", sort=False)["L"].count().idxmax()  # anchors the 1/L guides
        for col, (y, _, ytitle) in enumerate(panels, start=1):
            for k, (name, d) in enumerate(df.groupby("model", sort=False)):
                fig.add_trace(go.Scatter(x=d["L"], y=d[y], mode="lines+markers", name=name, legendgroup=name,
                                         showlegend=col == 1, line=dict(color=_plots.PALETTE[k % len(_plots.PALETTE)],
                                                                        width=2)), row=1, col=col)
            if y != "RMSE / L" and len(Ls) > 1:
                first = df[df["model"] == best].sort_values("L")
                ref = first[y].iloc[0] * first["L"].iloc[0]
                xs = np.array(Ls, dtype=float)
                fig.add_trace(go.Scatter(x=xs, y=ref / xs, mode="lines", name="∝ 1/L", legendgroup="guide",
                                         showlegend=col == 1, line=dict(color="#999", dash="dot")), row=1, col=col)
            fig.update_xaxes(type="log", tickvals=Ls, title_text="L", row=1, col=col)
            fig.update_yaxes(type="log", title_text=ytitle, exponentformat="power", dtick=1, row=1, col=col)
        fig.update_layout(height=430, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.22))
        st.plotly_chart(fig, key="gen_curves")
        table = df.pivot_table(index="model", columns="L", values="relative error", sort=False)
        table = table.reindex(columns=Ls)
        table.columns = [f"L={L}" for L in table.columns]
        table = table.map(lambda v: "n/a" if pd.isna(v) else f"{v:.2e}")
        st.markdown("**Relative error by lattice size** (RMSE / |mean E| on the first "
                    f"{int(n)} test configurations of each size; n/a: the model does not apply at that size)")
        st.dataframe(table, width="stretch")
        if skipped:
            st.caption("Not applicable: " + "; ".join(skipped))
        with st.expander("All numbers"):
            st.dataframe(df, hide_index=True, width="stretch")

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
stats = _ui.label_stats(available_L)
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
    st.dataframe(sd, hide_index=True, width="stretch", column_config={
        "mean E": st.column_config.NumberColumn(format="%.3f"), "std E": st.column_config.NumberColumn(format="%.3f"),
        "mean E / N": st.column_config.NumberColumn(format="%.5f"), "std E / L": st.column_config.NumberColumn(format="%.4f")})
