"""Train page pieces: live curves, results (scatter, downloads), the shipped models, checkpoint upload."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import caching, plots, runs, state, uploads
from efnn_core import analysis
from efnn_core import pretrained as shipped


def history(events: list[dict], axis: str) -> dict:
    evs = [e for e in events if e.get("kind") != "final"]
    x = "epoch_x" if axis == "epoch" else "seconds"
    out = {"x": [e[x] for e in evs], "rel_error": [e.get("rel_error") for e in evs],
           "train_mse": [None if e["train_rmse"] is None or not np.isfinite(e["train_rmse"]) else e["train_rmse"] ** 2
                         for e in evs],
           "test_mse": [None if e.get("test_rmse") is None else e["test_rmse"] ** 2 for e in evs]}
    return out


def curves(snap: dict, axis: str, order: dict) -> None:
    hist = {n: history(r["events"], axis) for n, r in snap.items() if r["events"]}
    colours = {n: plots.colour(n, order) for n in snap}
    c1, c2 = st.columns(2)
    c1.plotly_chart(plots.curves(hist, x="x", y="train_mse", dash_key="test_mse", colours=colours,
                                 title="Loss: train (solid), test (dotted)", y_title="MSE (energy²)"),
                    key="tr_loss", config={"displayModeBar": False})
    c2.plotly_chart(plots.curves(hist, x="x", y="rel_error", colours=colours, title="Relative error on the test set",
                                 y_title="RMSE / |mean E|"), key="tr_rel", config={"displayModeBar": False})
    if axis == "seconds":
        st.caption("x axis: each run's own training time (the runs take turns on one core).")


def register_finished(mgr: runs.Manager) -> None:
    for name, r in mgr.snapshot().items():
        run = r["run"]
        if r["finished"] and r["model"] is not None and not run.registered:
            caching.register(caching.ModelEntry(name, "session", r["model"], runs.session_meta(run),
                                                uid=f"session:{name}:{id(r['model'])}:{len(r['events'])}"))
            run.registered = True


def results(mgr: runs.Manager) -> None:
    register_finished(mgr)
    snap = {n: r for n, r in mgr.snapshot().items() if r["finished"] and r["model"] is not None}
    if mgr.runs:
        st.download_button(":material/download: Metrics of all runs (CSV)", mgr.metrics_csv(), "efnn_training_metrics.csv",
                           "text/csv", key="tr_csv")
    if snap:
        left, right = st.columns([1.2, 1])
        order = st.session_state.setdefault("colour_order", {})
        fig = go.Figure()
        lo, hi = np.inf, -np.inf
        for n, r in snap.items():
            fig.add_trace(go.Scattergl(x=r["labels"], y=r["predictions"], mode="markers", name=n, opacity=0.6,
                                       marker=dict(size=5, color=plots.colour(n, order))))
            lo, hi = min(lo, r["labels"].min()), max(hi, r["labels"].max())
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="exact", line=dict(color="#111", dash="dash")))
        fig.update_layout(height=420, title="Predicted vs exact energy (test set)", xaxis_title="exact E",
                          yaxis_title="predicted E", margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2))
        left.plotly_chart(fig, key="tr_scatter")
        with right:
            st.markdown("**Download a trained model** (safetensors weights + JSON metadata)")
            pick = st.selectbox("model", list(snap), key="tr_dl_pick")
            try:
                w, j = runs.checkpoint_bytes(snap[pick]["run"])
                d1, d2 = st.columns(2)
                d1.download_button(":material/download: weights", w, f"{pick}.safetensors", key="tr_dl_w", width="stretch")
                d2.download_button(":material/download: metadata", j, f"{pick}.json", "application/json", key="tr_dl_j",
                                   width="stretch")
            except (OSError, ValueError) as err:
                state.say("error", f"Could not write a checkpoint: {err}")
            st.caption("Models trained here are listed on the other pages of this browser session only.")
    shipped_box = st.expander("Pretrained models shipped with the app", key="tr_pre_open", on_change="rerun")
    if shipped_box.open:  # drawn when opened: the page's first render stays light
        rows = []
        for name in caching.pretrained_names():
            meta = shipped.metadata(name)
            m = meta.get("metrics") or {}
            rows.append({"model": name, "system": caching.pretrained_systems().get(name),
                         "parameters": (meta.get("model") or {}).get("num_parameters"), "test RMSE": m.get("rmse"),
                         "relative error": m.get("rel_error"), "R²": m.get("r2")})
        shipped_box.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    upload_box = st.expander("Load a model from a checkpoint (safetensors + JSON)", key="tr_up_open", on_change="rerun")
    if upload_box.open:
        upload(upload_box)


def upload(box) -> None:
    """Both files of a checkpoint -> a session model (validated, never unpickled)."""
    with box:
        st.caption("Both files of a checkpoint saved by this app or efnn_core.checkpoint.save; validated, never "
                   "unpickled.")
        u1, u2 = st.columns(2)
        wf = u1.file_uploader("weights (.safetensors)", type=["safetensors"], key="tr_up_w")
        jf = u2.file_uploader("metadata (.json)", type=["json"], key="tr_up_j")
        if wf is not None and jf is not None and st.button("Load model", key="tr_up_go"):
            try:
                model, meta = uploads.load_checkpoint(wf.name, wf.getvalue(), jf.name, jf.getvalue())
                name = f"uploaded:{wf.name.rsplit('.', 1)[0]}"
                caching.register(caching.ModelEntry(name, "uploaded", model, dict(meta),
                                                    uid=f"upload:{meta.get('weights_sha256', name)}"))
                state.say("success", f"Loaded {name} ({analysis.describe(model)}); it is now on the other pages.")
            except ValueError as err:
                state.say("error", str(err))
