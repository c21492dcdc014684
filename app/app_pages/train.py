"""Train: fit one or several architectures live, side by side, like TF Playground."""
import pandas as pd
import streamlit as st

from app import caching, catalog, lab, runs, state, training_view

state.header("Train networks live",
             "Pick a system and one or more architectures, then play, pause or step the training one epoch or one "
             "batch at a time; the runs of a comparison train side by side. Finished models join the other pages "
             "for this browser session only.", name="tr")
ss = st.session_state
mgr: runs.Manager = ss.setdefault("train_manager", runs.Manager())
systems = catalog.trainable_systems()
if not systems:
    st.error("No training data found in data/: generate it with `python -m efnn_core data generate --shipped`.")
    st.stop()

with st.container(border=True):
    a = st.columns([1.6, 2, 1, 1])
    name = state.control("system", a[0].selectbox, "System", systems[0], state.parse_choice(systems), options=systems,
                         format_func=lambda n: catalog.system(n).label)
    info = catalog.system(name)
    archs_all = catalog.architectures(info.family)
    archs = state.control("archs", a[1].multiselect, "Architectures to compare", ["efnn", "dnn"],
                          state.parse_list(archs_all), options=archs_all, format_func=catalog.arch_label)
    if info.family == "lattice":
        size = state.control("C", a[2].slider, "channels C", 3, state.parse_int(1, 9), min_value=1, max_value=9)
    else:
        size = state.control("width", a[2].slider, "width (neurons)", 30, state.parse_int(15, 150), min_value=15,
                             max_value=150, step=15)
    layers = state.control("layers", a[3].slider, "layers n", 2, state.parse_int(1, 3), min_value=1, max_value=3)
    b = st.columns(6)
    total = len(caching.dataset(info.train_set)[1])
    sizes = [s for s in (100, 200, 500, 1000, 2000, 5000, 10000, 20000, 40000) if s <= total] or [total]
    n_train = state.control("n", b[0].select_slider, "training set", min(2000, sizes[-1]), state.parse_choice(sizes),
                            options=sizes)
    epochs = state.control("epochs", b[1].number_input, "epochs", 20, state.parse_int(1, 5000), min_value=1, max_value=5000)
    lrs = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
    lr = state.control("lr", b[2].select_slider, "learning rate", 3e-3, state.parse_choice(lrs), options=lrs,
                       format_func=lambda v: f"{v:g}")
    batches = [16, 32, 64, 100, 128, 256, 500, 1000]
    batch = state.control("batch", b[3].select_slider, "batch size", 100, state.parse_choice(batches), options=batches)
    axis = state.control("axis", b[4].radio, "x axis", "epoch", state.parse_choice(["epoch", "seconds"]),
                         options=["epoch", "seconds"], horizontal=True)
    budget = state.control("budget", b[5].number_input, "time limit (s)", 300, state.parse_int(5, 3600), min_value=5,
                           max_value=3600, help="Training time of each run; it stops cleanly (best weights kept).")
    with st.expander("More options"):
        c = st.columns(4)
        n_test = state.control("ntest", c[0].number_input, "test configurations", 1000, state.parse_int(50, 4000),
                               min_value=50, max_value=4000, step=50)
        wds = [0.0, 1e-5, 1e-4, 1e-3, 1e-2]
        wd = state.control("wd", c[1].select_slider, "weight decay", 1e-5, state.parse_choice(wds), options=wds,
                           format_func=lambda v: f"{v:g}")
        scheds = ["step", "cosine", "constant"]
        schedule = state.control("sched", c[2].selectbox, "schedule", "step", state.parse_choice(scheds), options=scheds)
        seed = state.control("tseed", c[3].number_input, "seed", 0, state.parse_int(0, 10**6), min_value=0, max_value=10**6)


def specs():
    ss.tr_counter = ss.get("tr_counter", 0) + 1
    net = dict(family=info.family, layers=int(layers)) | (
        {"channels": int(size)} if info.family == "lattice" else {"width": int(size)})
    tag = f"C{size}" if info.family == "lattice" else f"w{size}"
    return [runs.RunSpec(name=f"{arch}-{tag}-n{layers}-#{ss.tr_counter}", system=name, arch=arch, net=net,
                         train_set=info.train_set, test_set=info.test_set, train_size=int(n_train), test_size=int(n_test),
                         train=dict(epochs=int(epochs), lr=float(lr), batch_size=int(batch), weight_decay=float(wd),
                                    schedule=schedule, seed=int(seed), max_seconds=float(budget), dtype=info.dtype),
                         temperature=info.temperature) for arch in archs]


def ensure_runs():
    if not mgr.active:
        if not archs:
            ss.tr_msg = "Choose at least one architecture."
            return False
        mgr.clear()
        mgr.add(specs(), {n: caching.dataset(n) for n in (info.train_set, info.test_set)})
        probe = caching.dataset(info.test_set)[0][0]
        mgr.probe = probe if info.family == "lattice" else None
    ss.tr_msg = None
    return True


s = st.columns([1, 1, 1, 1, 1, 1, 1.6])
s[0].button(":material/play_arrow: Play", type="primary", key="tr_play", width="stretch",
            on_click=lambda: ensure_runs() and mgr.play(), disabled=mgr.busy and mgr.mode == "play")
s[1].button(":material/pause: Pause", key="tr_pause", on_click=mgr.pause, disabled=not mgr.busy, width="stretch")
s[2].button(":material/skip_next: Epoch", key="tr_step_epoch", help="Train one epoch of every run, then pause.",
            on_click=lambda: ensure_runs() and mgr.step("epoch"), width="stretch")
s[3].button(":material/redo: Batch", key="tr_step_batch", help="Train one batch of every run, then pause.",
            on_click=lambda: ensure_runs() and mgr.step("batch"), width="stretch")
s[4].button(":material/restart_alt: Reset", key="tr_reset", help="Fresh weights, curves cleared.", on_click=mgr.reset,
            disabled=not mgr.runs, width="stretch")
s[5].button(":material/stop: Stop", key="tr_stop", on_click=mgr.stop, disabled=not mgr.active, width="stretch")
ended = bool(mgr.runs) and not mgr.active
s[6].button(f":material/fast_forward: Continue {int(epochs)} more epochs", key="tr_more", disabled=not ended,
            on_click=lambda: mgr.extend(int(epochs)), width="stretch",
            help="Train the ended runs further from their current weights.")
if ss.get("tr_msg"):
    st.warning(ss.tr_msg)


@st.fragment(run_every=0.5 if mgr.busy else None)
def live():
    snap = mgr.snapshot()
    if not snap:
        st.caption("No runs yet. Play starts the chosen comparison; a small run (2,000 configurations) shows its "
                   "first point within a second or two.")
        return
    if mgr.position():
        st.info(f"Queued: position {mgr.position()}. Training of every user runs in a few shared worker processes; "
                "yours starts when one is free (Stop takes it out of the queue).", icon=":material/hourglass_top:")
    training_view.curves(snap, axis, ss.setdefault("colour_order", {}))
    st.dataframe(pd.DataFrame(mgr.table(snap)), hide_index=True, width="stretch", key="tr_table", column_config={
        "test RMSE": st.column_config.NumberColumn(format="%.4f"), "epoch": st.column_config.NumberColumn(format="%.1f"),
        "relative error": st.column_config.NumberColumn(format="%.2e"),
        "RMSE / site": st.column_config.NumberColumn(format="%.2e"), "R²": st.column_config.NumberColumn(format="%.4f")})
    for n, r in snap.items():
        if r["error"]:
            state.say("error", f"{n} failed: {r['error']}")
    withmaps = [(n, r) for n, r in snap.items() if r["maps"] is not None]
    if withmaps:
        withmaps.sort(key=lambda nr: nr[1]["spec"].arch != "efnn")
        st.markdown("**Live look inside** (first test configuration, current weights, updated every event)")
        k = st.columns([2, 1, 1])
        pick = k[0].selectbox("run", [n for n, _ in withmaps], key="tr_map_run")
        r = dict(withmaps)[pick]
        st.caption(f"Weights of epoch {r['maps_epoch']:.1f}.")
        lab.maps(r["maps"], r["spec"].arch, k[1], k[2], key="tr_map")
    if ss.get("tr_polling") and not mgr.busy:
        ss.tr_polling = False
        st.rerun()
    ss.tr_polling = mgr.busy


st.subheader("Live curves")
live()
training_view.results(mgr)
state.sync_url()
