"""Train: fit one or several architectures live and compare them."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import _plots, _runs, _ui, _uploads

_ui.style()
_ui.header("Train networks live",
           "Pick a system and one or more architectures, then train them here on the shipped data. The curves "
           "grow while training runs; finished models join the Lattice lab and Generalization pages for this "
           "browser session only.", icon=":material/model_training:")
ss = st.session_state
mgr: _runs.RunManager = ss.setdefault("train_manager", _runs.RunManager())

nets = _ui.optional("nets")
training = _ui.optional("training")
available = [s for s, (tr, te, _, _) in _runs.SYSTEMS.items() if {tr, te} <= set(_ui.dataset_names())]
if nets is None or training is None:
    st.info("The network library (efnn_core.nets / efnn_core.training) is not installed yet, so training is "
            "unavailable; the other pages work.", icon=":material/info:")
if not available:
    st.error("No training data found in data/: generate it with `python -m efnn_core data generate --shipped`.")

# ------------------------------------------------------------------ settings
with st.container(border=True):
    a = st.columns([1.6, 2, 1, 1])
    system = a[0].selectbox("System", available or list(_runs.SYSTEMS), format_func=_runs.LABELS.get, key="tr_system")
    family = _runs.SYSTEMS[system][2]
    archs = a[1].multiselect("Architectures to compare", ["efnn", "dnn", "resnet", "densenet"], default=["efnn", "dnn"],
                             key="tr_archs", format_func=lambda s: {"efnn": "EFNN", "dnn": "DNN", "resnet": "ResNet",
                                                                    "densenet": "DenseNet"}[s])
    if family == "lattice":
        size = a[2].slider("channels C", 1, 9, 3, key="tr_C")
    else:
        size = a[2].slider("width (neurons)", 15, 150, 30, step=15, key="tr_width")
    layers = a[3].slider("layers n", 1, 3, 2, key="tr_layers")
    b = st.columns(6)
    train_total = len(_ui.dataset(_runs.SYSTEMS[system][0])[1]) if available else 1
    sizes = [s for s in (100, 200, 500, 1000, 2000, 5000, 10000, 20000, 40000) if s <= train_total] or [train_total]
    n_train = b[0].select_slider("training set", sizes, value=min(2000, sizes[-1]), key="tr_n")
    epochs = b[1].number_input("epochs", 1, 5000, 20, key="tr_epochs")
    lr = b[2].select_slider("learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], value=3e-3, key="tr_lr",
                            format_func=lambda v: f"{v:g}")
    batch = b[3].select_slider("batch size", [16, 32, 64, 100, 128, 256, 500, 1000], value=100, key="tr_batch")
    devices = ["auto", "cpu"] + (["cuda"] if _ui.optional("device") and __import__("torch").cuda.is_available() else [])
    device = b[4].selectbox("device", devices, key="tr_device")
    budget = b[5].number_input("time limit (s)", 5, 3600, 300, key="tr_budget",
                               help="Each run stops cleanly (keeping its best weights) when this is spent.")
    with st.expander("More options"):
        c = st.columns(4)
        n_test = c[0].number_input("test configurations", 50, 4000, 1000, step=50, key="tr_ntest")
        wd = c[1].select_slider("weight decay", [0.0, 1e-5, 1e-4, 1e-3, 1e-2], value=1e-5, key="tr_wd",
                                format_func=lambda v: f"{v:g}")
        schedule = c[2].selectbox("schedule", ["step", "cosine", "constant"], key="tr_sched")
        seed = c[3].number_input("seed", 0, 10**6, 0, key="tr_seed")

# ------------------------------------------------------------------ start / stop
ready = bool(available) and nets is not None and training is not None
s1, s2, s3 = st.columns([1, 1, 4])


def start():
    if not archs:
        ss.tr_msg = ("warning", "Choose at least one architecture.")
        return
    train_name, test_name, fam, _ = _runs.SYSTEMS[system]
    net = dict(family=fam, layers=int(layers)) | ({"channels": int(size)} if fam == "lattice" else {"width": int(size)})
    ss.tr_counter = ss.get("tr_counter", 0) + 1
    specs = []
    for arch in archs:
        tag = f"C{size}" if fam == "lattice" else f"w{size}"
        name = f"{arch}-{tag}-n{layers}-#{ss.tr_counter}"
        specs.append(_runs.RunSpec(name=name, system=system, arch=arch, net=net, train_size=int(n_train),
                                   test_size=int(n_test),
                                   train=dict(epochs=int(epochs), lr=float(lr), batch_size=int(batch),
                                              weight_decay=float(wd), schedule=schedule, seed=int(seed),
                                              device=device, max_seconds=float(budget),
                                              dtype="float32" if fam == "lattice" else "float64")))
    data = {n: _ui.dataset(n) for n in (train_name, test_name)}
    try:
        mgr.start(specs, data)
        ss.tr_polling = True
        ss.tr_msg = None
    except (RuntimeError, ValueError) as err:
        ss.tr_msg = ("error", str(err))


s1.button(":material/play_arrow: Start training", type="primary", on_click=start, disabled=not ready or mgr.active,
          width="stretch", key="tr_start")
s2.button(":material/stop: Stop", on_click=mgr.stop, disabled=not mgr.active, width="stretch", key="tr_stop")
if mgr.runs and not mgr.active:
    s3.button("Clear finished runs", on_click=mgr.clear_finished, key="tr_clear")
if ss.get("tr_msg"):
    kind, text = ss.tr_msg
    getattr(st, kind)(text)


# ------------------------------------------------------------------ live curves
def register_finished():
    for name, run in mgr.runs.items():
        if run.model is not None and not run.registered:
            _ui.register_session_model(_ui.ModelEntry(name, "session", run.model, _runs.session_meta(run),
                                                      uid=f"session:{name}:{_ui.weights_digest(run.model)}"))
            run.registered = True


@st.fragment(run_every=1.0 if mgr.active else None)
def live():
    if not mgr.runs:
        st.caption("No runs yet. A small run (a few thousand configurations, 20 epochs) takes under a minute here.")
        return
    active = [r for r in mgr.runs.values() if r.status == "running"]
    done = sum(r.status in ("done", "cancelled", "failed") for r in mgr.runs.values())
    if active:
        r = active[0]
        last = r.last() or {}
        frac = min(1.0, (last.get("progress") or 0) / max(1, r.spec.train["epochs"]))
        st.progress(frac, text=f"Training {r.spec.name}: epoch {last.get('epoch', 0)}/{r.spec.train['epochs']}, "
                               f"{last.get('elapsed', 0):.0f} s · run {done + 1} of {len(mgr.runs)}")
    hist = {name: r.history() for name, r in mgr.runs.items() if r.events}
    c1, c2 = st.columns(2)
    c1.plotly_chart(_plots.curves(hist, y="train_mse", dash_key="test_mse", title="Loss: train (solid), test (dotted)",
                                  y_title="MSE (energy²)"), key="tr_loss", config={"displayModeBar": False})
    c2.plotly_chart(_plots.curves(hist, y="rel_error", title="Relative error on the test set",
                                  y_title="RMSE / |mean E|"), key="tr_rel", config={"displayModeBar": False})
    if any(r.spec.system == "three_spin_continuous" for r in mgr.runs.values()):
        st.caption("Continuous 3-spin energies average to ≈ 0, so their relative error is large by construction; "
                   "the paper quotes the RMSE for this model (see the results table).")
    for r in mgr.runs.values():
        if r.status == "failed":
            st.error(f"{r.spec.name} failed: {r.error}")
    if ss.get("tr_polling") and not mgr.active:
        ss.tr_polling = False
        register_finished()
        st.rerun()  # full rerun: stop polling, show the results


st.subheader("Live curves")
live()
register_finished()

# ------------------------------------------------------------------ results
finished = {n: r for n, r in mgr.runs.items() if r.model is not None}
if mgr.runs:
    st.subheader("Results")
    df = pd.DataFrame(mgr.table())
    st.dataframe(df, hide_index=True, width="stretch", column_config={
        "test RMSE": st.column_config.NumberColumn(format="%.4f"),
        "relative error": st.column_config.NumberColumn(format="%.2e"),
        "RMSE / site": st.column_config.NumberColumn(format="%.2e"),
        "R²": st.column_config.NumberColumn(format="%.4f")})
    st.download_button(":material/download: Metrics of all runs (CSV)", mgr.metrics_csv(), "efnn_training_metrics.csv", "text/csv",
                       key="tr_csv")
if finished:
    left, right = st.columns([1.2, 1])
    fig = go.Figure()
    lo, hi = np.inf, -np.inf
    for k, (name, r) in enumerate(finished.items()):
        fig.add_trace(go.Scattergl(x=r.labels, y=r.predictions, mode="markers", name=name, opacity=0.6,
                                   marker=dict(size=5, color=_plots.PALETTE[k % len(_plots.PALETTE)])))
        lo, hi = min(lo, r.labels.min()), max(hi, r.labels.max())
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="exact", line=dict(color="#111", dash="dash")))
    fig.update_layout(height=420, title="Predicted vs exact energy (test set)", xaxis_title="exact E",
                      yaxis_title="predicted E", margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2))
    left.plotly_chart(fig, key="tr_scatter")
    with right:
        st.markdown("**Download a trained model** (safetensors weights + JSON metadata)")
        pick = st.selectbox("model", list(finished), key="tr_dl_pick")
        run = finished[pick]
        cache = ss.setdefault("tr_ckpt_bytes", {})
        if pick not in cache:
            try:
                cache[pick] = _runs.checkpoint_bytes(run)
            except Exception as err:  # noqa: BLE001
                cache[pick] = err
        if isinstance(cache[pick], Exception):
            st.error(f"Could not write a checkpoint: {cache[pick]}")
        else:
            w, j = cache[pick]
            d1, d2 = st.columns(2)
            d1.download_button(":material/download: weights (.safetensors)", w, f"{pick}.safetensors", key="tr_dl_w",
                               width="stretch")
            d2.download_button(":material/download: metadata (.json)", j, f"{pick}.json", "application/json", key="tr_dl_j",
                               width="stretch")
        st.caption("Models trained here are listed on the Lattice lab and Generalization pages of this browser "
                   "session; other users never see them. Reloading the page starts a new session.")

# ------------------------------------------------------------------ shipped models
with st.expander("Pretrained models shipped with the app"):
    zoo = _ui.pretrained_table()
    if zoo:
        st.dataframe(pd.DataFrame(zoo), hide_index=True, width="stretch", column_config={
            "test RMSE": st.column_config.NumberColumn(format="%.4f"),
            "relative error": st.column_config.NumberColumn(format="%.2e"),
            "R²": st.column_config.NumberColumn(format="%.5f")})
        st.caption("Metrics as stored in each checkpoint, on its own test set. Double-exchange models appear on the "
                   "Lattice lab and Generalization pages.")
    else:
        st.info("No pretrained models found in pretrained/.", icon=":material/info:")

# ------------------------------------------------------------------ upload a checkpoint
with st.expander("Load a model from a checkpoint (safetensors + JSON)"):
    st.caption("Upload both files of a checkpoint saved by this app or `efnn_core.checkpoint.save`. They are "
               "validated (sizes, schema, hashes, tensor shapes); pickled .pt/.pth files are never accepted.")
    u1, u2 = st.columns(2)
    wf = u1.file_uploader("weights (.safetensors)", type=["safetensors"], key="tr_up_w")
    jf = u2.file_uploader("metadata (.json)", type=["json"], key="tr_up_j")
    if wf is not None and jf is not None and st.button("Load model", key="tr_up_go"):
        try:
            model, meta = _uploads.load_checkpoint(wf.name, wf.getvalue(), jf.name, jf.getvalue())
            name = f"uploaded:{wf.name.rsplit('.', 1)[0]}"
            _ui.register_session_model(_ui.ModelEntry(name, "uploaded", model, dict(meta),
                                                      uid=f"upload:{meta.get('weights_sha256', name)}"))
            st.success(f"Loaded {name} ({meta.get('system')}); it is now available on the other pages.")
        except ValueError as err:
            st.error(str(err))
    if _ui.session_models():
        st.caption("Models in this session: " + ", ".join(_ui.session_models()))
