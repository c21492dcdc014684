"""Sweeps: a results table of `python -m efnn_core sweep` -- error against parameters and against training time."""
from pathlib import Path

import plotly.express as px
import streamlit as st

from app import state
from efnn_core import sweep

SHIPPED = {p.stem: p for p in sorted((Path(__file__).resolve().parents[2] / "docs" / "sweeps").glob("*.csv"))}

state.header("Sweeps: error against size and training time",
             "Each row of a sweep's results table is one independent training run (<code>python -m efnn_core sweep "
             "--grid FILE.toml --out DIR</code>, on this machine or a Dask cluster). Here: the test error of every "
             "finished run against its number of parameters and against its training time, per architecture.",
             name="sweeps")


@st.cache_data(max_entries=8, show_spinner=False)
def _load(raw: bytes):
    return sweep.load_results(raw)


c = st.columns([1, 2])
sources = ["shipped", "upload"] if SHIPPED else ["upload"]
source = state.control("source", c[0].radio, "Results table", sources[0], state.parse_choice(sources), options=sources,
                       horizontal=True, help="An uploaded table is seen by this browser session only (a shared link "
                                             "cannot carry it).")
if source == "shipped":
    name = state.control("table", c[1].selectbox, "Shipped table", list(SHIPPED)[0], state.parse_choice(SHIPPED),
                         options=list(SHIPPED))
    raw = SHIPPED[name].read_bytes()
else:
    up = c[1].file_uploader("results.csv of a sweep", type=["csv"], key="sw_upload")
    if up is None:
        state.sync_url()
        st.info("Upload the `results.csv` that `python -m efnn_core sweep` wrote.", icon=":material/info:")
        st.stop()
    if up.size > sweep.MAX_RESULTS_BYTES:
        st.error(f"That file is {up.size:,} bytes; a results table may have at most {sweep.MAX_RESULTS_BYTES:,}.")
        st.stop()
    raw = up.getvalue()
try:
    df = _load(raw)
except sweep.SweepError as err:
    st.error("This file is not a usable sweep results table. The reason (as plain text):", icon=":material/error:")
    st.text(str(err))  # never rendered as Markdown: it may quote the file
    st.stop()

ok = df[df["status"] == "ok"]
failed = len(df) - len(ok)
metrics = sorted({c for c in ok.columns if "@" in c and ok[c].notna().any()})
if ok.empty or not metrics:
    st.warning(f"No finished job with metrics in this table ({failed} failed).")
    st.stop()
default = next((m for m in metrics if m.startswith("rel_error@")), metrics[0])
if st.session_state.get(state.skey("metric"), default) not in metrics:  # another table than the last one
    state.keep("metric", default)
m = state.control("metric", st.selectbox, "Metric on a test set", default, state.parse_choice(metrics), options=metrics,
                  help="rel_error = RMSE / |mean E| of that test set; rmse_T = RMSE in units of T; per site = RMSE / N.")
state.sync_url()
hover = [c for c in ("job", "width", "channels", "layers", "lr", "epochs", "seed") if ok[c].notna().any()]
cols = st.columns(2)
for col, x, title in ((cols[0], "parameters", "parameters"), (cols[1], "train_seconds", "training time (s)")):
    fig = px.scatter(ok, x=x, y=m, color="arch", hover_data=hover, log_x=True, log_y=True,
                     labels={x: title, m: m, "arch": "architecture"})
    fig.update_traces(marker=dict(size=10))
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=30, b=10), title=f"{m.split('@')[0]} against {title}")
    col.plotly_chart(fig, width="stretch")
best = ok.loc[ok.groupby("arch")[m].idxmin()].sort_values(m)
st.caption(f"{len(ok)} finished runs, {failed} failed. Best run per architecture:")
shown = best[["arch", "parameters", "train_seconds", m, *hover]].assign(
    train_seconds=best["train_seconds"].map("{:.1f}".format), **{m: best[m].map("{:.3g}".format)})
state.table(shown.rename(columns={"train_seconds": "training s"}), st.container(key="sw_best"), index=False)
with st.expander("Whole table"):
    st.dataframe(df, hide_index=True, width="stretch")
