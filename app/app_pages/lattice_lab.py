"""Lattice lab: draw a spin configuration; compare the exact energy with every model."""
import streamlit as st

from app import caching, catalog, lab, lattice, spinstate, state, uploads

state.header("Lattice lab",
             "Draw a spin configuration and compare its exact energy (for double exchange: diagonalizing the "
             "electrons' Hamiltonian) with what each trained network predicts, and how much faster it is. "
             "Every control and every edit is in the URL: share it and the class sees the same numbers.", name="lab")
ss = st.session_state
names = catalog.system_names()
c = st.columns([1.5, 1.6, 1.3, 0.9, 0.9])
name = state.control("system", c[0].selectbox, "System", "double_exchange", state.parse_choice(names), options=names,
                     format_func=lambda n: catalog.system(n).label, on_change=lambda: (state.keep("edits", ""), state.keep("arr", "")))
info = catalog.system(name)
lo, default_L, hi = info.sizes
hi = min(hi, info.exact_max)
if info.fixed_size:
    L = default_L
    c[1].markdown(f"**{L} sites**, every triple coupled")
else:
    L = state.control("L", c[1].slider, "Lattice size L", default_L, state.parse_int(lo, hi), min_value=lo,
                      max_value=hi, on_change=lambda: (state.keep("edits", ""), state.keep("arr", "")))
    L = min(max(int(L), lo), hi)
presets = spinstate.presets_for(info.view)
preset = state.control("preset", c[2].selectbox, "Preset", "random", state.parse_choice(presets), options=presets,
                       format_func=lattice.PRESET_LABELS.get, on_change=lambda: (state.keep("edits", ""), state.keep("arr", "")))
seed = state.control("seed", c[3].number_input, "Seed", 0, state.parse_int(0, 2**31 - 1), min_value=0,
                     max_value=2**31 - 1)
with c[4].popover("Preset options", width="stretch"):
    qx = state.control("qx", st.number_input, "spiral qₓ (×2π/L)", 1, state.parse_int(-20, 20), min_value=-20, max_value=20)
    qy = state.control("qy", st.number_input, "spiral q_y (×2π/L)", 0, state.parse_int(-20, 20), min_value=-20, max_value=20)
    radius = state.control("radius", st.slider, "skyrmion radius (× L)", 0.33, state.parse_float(0.1, 0.5),
                           min_value=0.1, max_value=0.5)
    noise = state.control("noise", st.slider, "random tilt (rad)", 0.0, state.parse_float(0.0, 1.0), min_value=0.0,
                          max_value=1.0, help="Seeded Gaussian tilts added to any preset (continuous spins only).")
cfg = lattice.Config("lab_", view=info.view, values=info.values, size=L, preset=preset, seed=int(seed),
                     qx=qx, qy=qy, radius=radius, noise=noise)
spins = cfg.spins()

left, right = st.columns([1, 1.1], gap="medium")
with right:  # first: after an edit the energies are drawn before the lattice redraws
    st.subheader("Energies")
    polling = caching.exact_now(name, spins) is None and caching.solving()

    @st.fragment(run_every=lab.POLL_S if polling else None)
    def energies_panel():
        lab.energies(info, spins, caching.reference_spins(name))
        if polling and not caching.solving():
            st.rerun()

    energies_panel()
    lab.symmetry(info, cfg, spins)

with left:
    t = st.columns([1.25, 1, 1])
    if info.view == "vector":
        mode = state.control("tool", t[0].radio, "Click / box / lasso", "set", state.parse_choice(["set", "flip"]),
                             options=["set", "flip"], horizontal=True,
                             format_func={"set": "Set direction", "flip": "Flip"}.get)
        theta = state.control("theta", t[1].slider, "θ (polar, °)", 0, state.parse_int(0, 180), min_value=0,
                              max_value=180, step=5, disabled=mode == "flip")
        phi = state.control("phi", t[2].slider, "φ (azimuth, °)", 0, state.parse_int(0, 355), min_value=0,
                            max_value=355, step=5, disabled=mode == "flip")
        op = "f" if mode == "flip" else f"d{theta},{phi}"
    elif info.values == "continuous":
        mode = state.control("tool", t[0].radio, "Click / box / lasso", "set", state.parse_choice(["set", "flip"]),
                             options=["set", "flip"], horizontal=True, format_func={"set": "Set value", "flip": "Flip sign"}.get)
        value = state.control("value", t[1].slider, "value s", 1.0, state.parse_float(-1.0, 1.0), min_value=-1.0,
                              max_value=1.0, step=0.05, disabled=mode == "flip")
        op = "f" if mode == "flip" else f"v{value:g}"
    else:
        op = "f"

    def edit(indices):
        cfg.add(f"{op}~{cfg.mask(indices)}")
        ss.pop("lab_sym", None)
        ss.lab_last = [divmod(int(i), L) for i in indices] if info.view != "chain" else None

    lattice.clickable(lattice.figure(spins, info.view, info.values, height=480, highlight=ss.get("lab_last")),
                      "lab_lattice", edit, None if info.view == "chain" else L)
    st.caption("Click a site, or drag a box (or, from the toolbar, a lasso) over many, to apply the tool. "
               + ("Colour: s_z (red up, blue down); arrows: the in-plane part." if info.view == "vector" else ""))
    b = st.columns(4)
    b[0].button(":material/undo: Undo", on_click=cfg.undo, disabled=not cfg.edits, width="stretch")
    b[1].button(":material/restart_alt: Reset", on_click=lambda: cfg.set_array(None), width="stretch")
    b[2].download_button(":material/download: .npy", uploads.spins_to_npy(spins), f"spins_{name}_L{L}.npy", width="stretch")
    b[3].download_button(":material/download: .json", uploads.spins_to_json(spins), f"spins_{name}_L{L}.json",
                         width="stretch")
    upload_box = st.expander("Upload a configuration (.npy, .json or .csv)", key="lab_up_open", on_change="rerun")
    if upload_box.open:  # drawn when opened: the page's first render stays light
        with upload_box:
            st.caption("Vector spins: (L, L, 3) unit vectors (CSV: L·L rows sx,sy,sz; JSON: a nested list, "
                       "{\"spins\": …} or {\"theta\": …, \"phi\": …}); ±1 spins: an L×L array; chains: one number per "
                       "site. Parsed as plain numbers, never unpickled.")

            def take_upload():
                f = ss.get("lab_upload")
                ss.lab_upload_msg, ss.lab_pending = None, None
                if f is None:
                    return
                try:
                    arr = uploads.parse_spins(f.name, f.getvalue(), system=caching.system_object(name), view=info.view,
                                              max_L=hi, min_L=lo)
                except uploads.NonUnitSpins as err:
                    ss.lab_upload_msg, ss.lab_pending = ("warning", f"{err} Nothing was changed."), err.normalised
                    return
                except ValueError as err:
                    ss.lab_upload_msg = ("error", f"{err} Your current lattice is unchanged.")
                    return
                use(arr, f"Loaded {f.name}.")

            def use(arr, msg):
                if not info.fixed_size:
                    state.keep("L", int(arr.shape[0]))
                cfg.set_array(arr)
                ss.lab_upload_msg, ss.lab_pending = ("success", msg), None

            st.file_uploader("Spin file", type=["npy", "json", "csv"], key="lab_upload", on_change=take_upload)
            if ss.get("lab_upload_msg"):
                state.say(*ss.lab_upload_msg)
            if ss.get("lab_pending") is not None:
                st.button("Normalise and load", on_click=lambda: use(ss.lab_pending, "Loaded the normalised spins."))

lab.inside(info, spins)
state.sync_url()
