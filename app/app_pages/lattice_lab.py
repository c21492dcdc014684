"""Lattice lab: draw a spin configuration; compare exact diagonalization with every model."""
import numpy as np
import pandas as pd
import streamlit as st

from app import _plots, _presets, _ui, _uploads

_ui.style()
_ui.header("Lattice lab",
           "Draw a spin configuration and compare its exact energy (for the double-exchange model: from "
           "diagonalizing the electrons' Hamiltonian) with what each trained network predicts, and how much faster "
           "it is. For lattice networks, look inside the EFNN below: its effective fields and quasi-particles.",
           icon=":material/draw:")

MAX_L = {"double_exchange": _ui.ED_MAX_L, "ising": _ui.ISING_MAX_L, "three_spin_binary": _ui.ED_MAX_L,
         "three_spin_continuous": _ui.ED_MAX_L}
url = _ui.read_url(presets=_presets.PRESETS, max_L=MAX_L)
for m in url.messages:
    st.warning(m, icon=":material/link:")
ss = st.session_state


def is_chain(system: str) -> bool:
    return system.startswith("three_spin")


def presets_for(system: str):
    return _presets.CHAIN_PRESETS if is_chain(system) else _presets.PRESETS


def size() -> int:
    """The lattice size L, also while its slider is hidden (3-spin system) and Streamlit dropped its state."""
    return int(ss.get("lab_L", ss.get("lab_L_kept", url.L)))


def preset_spins():
    kw = dict(q=(ss.lab_qx, ss.lab_qy), radius=ss.lab_radius * size(), noise=ss.lab_noise)
    if is_chain(ss.lab_system):
        return _presets.chain(ss.lab_preset, _ui.CHAIN_SITES, ss.lab_seed, kind=ss.lab_system.split("_")[-1], **kw)
    make = _presets.ising if ss.lab_system == "ising" else _presets.heisenberg
    return make(ss.lab_preset, size(), ss.lab_seed, **kw)


def set_spins(new, *, remember=True):
    ss.pop("lab_last_sites", None)
    if remember:
        ss.lab_history = (ss.lab_history + [ss.lab_spins])[-30:]
    ss.lab_spins = new
    ss.pop("lab_sym", None)


def regenerate():
    set_spins(preset_spins())


def change_system():
    ss.lab_L = min(size(), MAX_L[ss.lab_system])
    if ss.lab_preset not in presets_for(ss.lab_system):
        ss.lab_preset = "random"
    ss.lab_history = []
    set_spins(preset_spins(), remember=False)


if "lab_spins" not in ss:
    ss.update(lab_system=url.system, lab_L=url.L, lab_seed=url.seed, lab_qx=1, lab_qy=0, lab_radius=0.33,
              lab_noise=0.0, lab_history=[], lab_upload_msg=None,
              lab_preset=url.preset if url.preset in presets_for(url.system) else "random")
    ss.lab_spins = preset_spins()

# the L slider is not drawn for the 3-spin system, and Streamlit forgets the state of widgets that are not
# drawn: keep L in a plain key too
if "lab_L" in ss:
    ss.lab_L_kept = ss.lab_L
else:
    ss.lab_L = ss.get("lab_L_kept", url.L)

# ------------------------------------------------------------------ controls
c = st.columns([1.5, 1.6, 1.3, 0.9, 0.9])
c[0].selectbox("System", list(_ui.SYSTEMS), key="lab_system", format_func=_ui.SYSTEMS.get, on_change=change_system)
system = ss.lab_system
chain = is_chain(system)
if chain:
    c[1].markdown("**15 sites**, every triple coupled (455 couplings Jᵢⱼₖ ~ N(1, 2), the authors' seed)")
else:
    c[1].slider("Lattice size L", _ui.MIN_L, MAX_L[system], key="lab_L", on_change=regenerate)
c[2].selectbox("Preset", presets_for(system), key="lab_preset", format_func=_presets.LABELS.get, on_change=regenerate)
c[3].number_input("Seed", 0, 2**31 - 1, key="lab_seed", on_change=regenerate)
with c[4].popover("Preset options", width="stretch"):
    st.number_input("spiral qₓ (×2π/L)", -20, 20, key="lab_qx", on_change=regenerate)
    st.number_input("spiral q_y (×2π/L)", -20, 20, key="lab_qy", on_change=regenerate)
    st.slider("skyrmion radius (× L)", 0.1, 0.5, key="lab_radius", on_change=regenerate)
    st.slider("random tilt (rad)", 0.0, 1.0, key="lab_noise", on_change=regenerate,
              help="Adds Gaussian tilts of this size (seeded) to any preset (continuous spins only).")
L = _ui.CHAIN_SITES if chain else ss.lab_L
est = _ui.ed_seconds_estimate(L)
if system == "double_exchange" and est > 1.0:
    st.warning(f"Exact diagonalization at L = {L} is a {2 * L * L}×{2 * L * L} complex eigenproblem: ≈{est:.0f} s per "
               "configuration here. A progress bar shows while it runs; results are cached, so going back to a "
               "configuration you already had is instant.", icon=":material/hourglass_top:")

spins = ss.lab_spins
expected = (L,) if chain else ((L, L, 3) if system == "double_exchange" else (L, L))
if spins.shape != expected:  # e.g. L came from an upload of another size; keep the two consistent
    spins = ss.lab_spins = preset_spins()

# ------------------------------------------------------------------ drawing
left, right = st.columns([1.12, 1], gap="large")
with left:
    if system == "double_exchange":
        t = st.columns([1.25, 1, 1])
        t[0].radio("Click / box / lasso", ["Set direction", "Flip"], key="lab_mode", horizontal=True)
        t[1].slider("θ (polar, °)", 0, 180, 0, step=5, key="lab_theta", disabled=ss.lab_mode == "Flip")
        t[2].slider("φ (azimuth, °)", 0, 355, 0, step=5, key="lab_phi", disabled=ss.lab_mode == "Flip")
    elif system == "three_spin_continuous":
        t = st.columns([1.25, 2])
        t[0].radio("Click / box / lasso", ["Set value", "Flip sign"], key="lab_cmode", horizontal=True)
        t[1].slider("value s", -1.0, 1.0, 1.0, step=0.05, key="lab_value", disabled=ss.lab_cmode == "Flip sign")

    def edit(indices):
        if chain:
            if system == "three_spin_continuous" and ss.get("lab_cmode", "Set value") == "Set value":
                set_spins(_presets.set_value(ss.lab_spins, indices, ss.lab_value))
            else:
                set_spins(_presets.toggle(ss.lab_spins, indices, kind=system.split("_")[-1]))
            return
        sites = _ui.grid_sites(indices, L)
        if system == "double_exchange" and ss.get("lab_mode", "Set direction") == "Set direction":
            set_spins(_presets.set_direction(ss.lab_spins, sites, np.radians(ss.lab_theta), np.radians(ss.lab_phi)))
        else:
            set_spins(_presets.flip(ss.lab_spins, sites))
        ss.lab_last_sites = sites  # ringed on the next draw

    if chain:
        fig = _plots.chain_figure(spins, kind=system.split("_")[-1], height=480)
        how = ("Click a site (or box / lasso many) to " + ("flip it 0 ↔ 1." if system == "three_spin_binary"
                                                           else "apply the tool.") +
               " The infinite-range model has no lattice: every site is coupled to every pair of others.")
    else:
        fig = (_plots.spin_lattice(spins, height=480, highlight=ss.get("lab_last_sites")) if system == "double_exchange"
               else _plots.ising_lattice(spins, height=480))
        how = ("Click a site, or drag a box / lasso (toolbar) over many, to apply the tool. "
               + ("Colour: s_z (red up, blue down); arrows: the in-plane part (s_x, s_y)."
                  if system == "double_exchange" else "Red ▲ = +1, blue ▼ = −1."))
    _ui.clickable_lattice(fig, "lab_lattice", edit, help_text=how)
    b = st.columns(4)
    b[0].button(":material/undo: Undo", on_click=lambda: (ss.update(lab_spins=ss.lab_history.pop()), ss.pop("lab_sym", None))
                if ss.lab_history else None, disabled=not ss.lab_history, width="stretch")
    b[1].button(":material/restart_alt: Reset", on_click=regenerate, width="stretch")
    b[2].download_button(":material/download: .npy", _uploads.spins_to_npy(spins), f"spins_{system}_L{L}.npy",
                         width="stretch")
    b[3].download_button(":material/download: .json", _uploads.spins_to_json(spins), f"spins_{system}_L{L}.json",
                         width="stretch")

    with st.expander("Edit a block of sites by coordinates"):
        if chain:
            rng_sites = st.slider("sites", 0, L - 1, (0, 1), key="lab_chain_sites")
            block = list(range(rng_sites[0], rng_sites[1] + 1))
        else:
            e1, e2 = st.columns(2)
            rows = e1.slider("rows", 0, L - 1, (0, min(1, L - 1)), key="lab_rows")
            cols = e2.slider("columns", 0, L - 1, (0, min(1, L - 1)), key="lab_cols")
            block = [r * L + q for r in range(rows[0], rows[1] + 1) for q in range(cols[0], cols[1] + 1)]
        if st.button("Apply the tool to this block", key="lab_apply_block"):
            edit(block)
            st.rerun()

    with st.expander("Upload a configuration (.npy, .json or .csv)"):
        st.caption("Double exchange: an array of shape (L, L, 3) of unit vectors (CSV: L·L rows `sx,sy,sz`, sites "
                   "row-major; JSON: a nested list, `{\"spins\": …}` or `{\"theta\": …, \"phi\": …}` in radians). "
                   "Ising: an L×L array of ±1. 3-spin: 15 numbers (0/1 or in [−1, 1]). Files are parsed as plain "
                   "numbers, never unpickled.")

        def take_upload():
            f = ss.get("lab_upload")
            ss.lab_upload_msg, ss.lab_pending = None, None
            if f is None:
                return
            try:
                arr = _uploads.parse_spins(f.name, f.getvalue(), system=system, max_L=MAX_L[system])
            except _uploads.NonUnitSpins as err:
                ss.lab_upload_msg = ("warning", f"{err} Nothing was changed; normalise them (s/|s|) to use the file.")
                ss.lab_pending = err.normalised
                return
            except ValueError as err:
                ss.lab_upload_msg = ("error", f"{err} Your current lattice is unchanged.")
                return
            if not chain:
                ss.lab_L = arr.shape[0]
            set_spins(arr)
            ss.lab_upload_msg = ("success", f"Loaded {f.name}: " + (f"{len(arr)} sites." if chain else
                                                                  f"a {arr.shape[0]}×{arr.shape[0]} lattice."))

        st.file_uploader("Spin file", type=["npy", "json", "csv"], key="lab_upload", on_change=take_upload)
        if ss.get("lab_upload_msg"):
            kind, text = ss.lab_upload_msg
            getattr(st, kind)(text)
        if ss.get("lab_pending") is not None:
            def use_normalised():
                arr = ss.lab_pending
                ss.lab_L, ss.lab_pending = arr.shape[0], None
                set_spins(arr)
                ss.lab_upload_msg = ("success", "Loaded the normalised spins.")
            st.button("Normalise and load", on_click=use_normalised)

# ------------------------------------------------------------------ energies
with right:
    st.subheader("Energies")
    exact, rows, problems, notes = _ui.energies_table(system, spins)
    m = st.columns(2)
    label = "Exact diagonalization E_MC" if system == "double_exchange" else "Exact energy H"
    m[0].metric(label, f"{exact.energy:.0f}" if system == "ising" else f"{exact.energy:.5f}")
    m[1].metric("ED wall time" if system == "double_exchange" else "exact wall time", _ui.fmt_seconds(exact.seconds),
                help="Time of the eigenvalue solve when it was computed; this lattice's result was cached."
                if exact.cached else "Time of the eigenvalue solve, numpy/torch LAPACK, one configuration.")
    if system == "double_exchange":
        st.caption(f"E_MC = −T Σₙ log(1 + e^(−Eₙ/T)) over the {2 * L * L} single-electron levels Eₙ "
                   f"(t = 1, J = 16, μ = −8.3, T = 0.1); {exact.energy / L**2:.5f} per site."
                   + (" Cached result." if exact.cached else ""))
    elif chain:
        st.caption("H = −Σᵢ<ⱼ<ₖ Jᵢⱼₖ sᵢsⱼsₖ summed over all 455 triples: exact and cheap here, so the networks are a "
                   "test of how well each architecture represents a three-body interaction, not a speed-up.")
    for p in problems:
        st.warning(p)
    if rows:
        df = pd.DataFrame(rows)
        df["time"] = df["time"].map(_ui.fmt_seconds)
        df["speed-up"] = df["speed-up"].map(lambda v: "–" if not np.isfinite(v) else (f"{v:,.0f}×" if v >= 10 else f"{v:.1f}×"))
        st.dataframe(df[["model", "energy", "error", "time", "speed-up"]], hide_index=True, width="stretch",
                     column_config={
                         "model": st.column_config.TextColumn("model", width=135),
                         "energy": st.column_config.NumberColumn("energy", format="%.3f", width=72),
                         "error": st.column_config.NumberColumn("error", format="%+.1e", help="model − exact",
                                                                width=66),
                         "time": st.column_config.TextColumn("time", help="best of 3 forward passes, batch 1, CPU",
                                                             width=62),
                         "speed-up": st.column_config.TextColumn("speed-up", help="exact time / model time",
                                                                 width=66)})
        with st.expander("Model details"):
            st.dataframe(df[["model", "kind", "source", "parameters"]], hide_index=True, width="stretch")
    if not [r for r in rows if r["source"] != "exact construction"]:
        st.info("No pretrained models found for this system yet. Train one on the **Train** page (it appears here "
                "for this session) or upload a checkpoint on that page.", icon=":material/info:")
    else:
        ood = "" if ss.lab_preset == "random" or chain else (
            " The networks were trained on random (disordered) spins: ordered textures like this one lie far from "
            "their training data, so expect larger errors.")
        st.caption("Model time: best of 3 forward passes, batch size 1, CPU. Speed-up = exact time / model time."
                   + ood + "".join(f" {n}" for n in notes))

    # O(3) / Z2 invariance
    st.subheader("Symmetry check")
    if chain:
        st.caption("The 3-spin model has no global symmetry to check: with binary spins 0/1 there is no flip, and "
                   "with continuous spins s → −s reverses the sign of every three-spin product, so H → −H.")
    elif system == "double_exchange":
        st.caption("The electrons only feel relative spin directions, so rotating (or inverting) every spin by the "
                   "same O(3) matrix R leaves E_MC unchanged. The EFNN builds this in: its layers see spins only "
                   "through dot products Σₖ conv(sₖ)·conv(sₖ).")
        s1, s2 = st.columns(2)
        s1.number_input("rotation seed", 0, 10**6, 7, key="lab_rot_seed")
        s2.checkbox("include inversion s → −s", key="lab_improper")

        def rotate_all():
            R = _presets.random_rotation(ss.lab_rot_seed, improper=ss.lab_improper)
            table = _ui.symmetry_check(system, ss.lab_spins, R)
            set_spins(_presets.rotate(ss.lab_spins, R))
            ss.lab_sym = table
        st.button(":material/3d_rotation: Rotate all spins", on_click=rotate_all, width="stretch",
                  help="Applies a random O(3) matrix to every spin and compares energies before and after.")
    else:
        st.caption("Flipping every Ising spin (s → −s) leaves every product sᵢsⱼ, hence the energy, unchanged.")

        def flip_all():
            table = _ui.symmetry_check(system, ss.lab_spins, None)
            set_spins(-ss.lab_spins)
            ss.lab_sym = table
        st.button(":material/swap_vert: Flip all spins", on_click=flip_all, width="stretch")
    if ss.get("lab_sym"):
        sym = pd.DataFrame(ss.lab_sym)
        st.dataframe(sym, hide_index=True, width="stretch", column_config={
            "E(S)": st.column_config.NumberColumn(format="%.6f"), "E(RS)": st.column_config.NumberColumn(format="%.6f"),
            "|difference|": st.column_config.NumberColumn(format="%.1e")})
        st.caption("The lattice now shows the rotated configuration R·S; differences are float round-off "
                   "(models compute in float32).")

# ------------------------------------------------------------------ inside the EFNN
if system == "double_exchange":
    st.divider()
    st.subheader("Inside the EFNN: effective fields Fⱼ and quasi-particles Sⱼ")
    entries = [e for e in _ui.models_for(system)[0] if hasattr(getattr(e.model, "net", e.model), "intermediates")]
    if not entries:
        st.info("These maps need an EFNN: none is loaded yet. Pretrained models appear here once they exist in "
                "pretrained/, and models you train on the Train page appear for this session.", icon=":material/info:")
    else:
        k = st.columns([2, 1, 1])
        name = k[0].selectbox("Model", [e.name for e in entries], key="lab_map_model")
        entry = next(e for e in entries if e.name == name)
        inter = _ui.model_intermediates(entry, spins)
        n_layers = len(inter.get("F", [])) or 1
        j = k[1].slider("layer j", 1, n_layers, n_layers, key="lab_map_layer") if n_layers > 1 else 1
        C = inter["F"][0].shape[0] if inter.get("F") else 1
        chan = k[2].selectbox("channel", ["sum over channels"] + list(range(C)), key="lab_map_chan")
        pick = (lambda a: a.sum(0)) if chan == "sum over channels" else (lambda a: a[int(chan)])
        st.caption(f"For this configuration: Fⱼ = fⱼ₋₁(Sⱼ₋₁) is the learned effective field, "
                   f"Sⱼ = gⱼ(Tⱼ(S₀)) ⊙ Fⱼ the quasi-particles (network units); the site energies eᵢ are what "
                   "the output layer q sums to E. Features of the spins' pattern (domain walls, the skyrmion core) "
                   "show up as structure in these maps.")
        mc = st.columns(3)
        Fj, Sj = pick(inter["F"][j - 1]), pick(inter["S"][j - 1])  # (L, L); their means are subtracted to show structure
        mc[0].plotly_chart(_plots.scalar_map(Fj - Fj.mean(), title=f"F{j} − ⟨F{j}⟩ (⟨F{j}⟩ = {Fj.mean():.3g})",
                                             height=340, text=False), key="lab_map_F", config={"displayModeBar": False})
        mc[1].plotly_chart(_plots.scalar_map(Sj - Sj.mean(), title=f"S{j} − ⟨S{j}⟩ (⟨S{j}⟩ = {Sj.mean():.3g})",
                                             height=340, text=False), key="lab_map_S", config={"displayModeBar": False})
        if "site_energy" in inter:
            se = inter["site_energy"]
            mc[2].plotly_chart(_plots.scalar_map(se - se.mean(), title=f"site energy eᵢ − ⟨e⟩ (⟨e⟩ = {se.mean():.4g})",
                                                 height=340, text=False, colorscale="RdBu_r"),
                               key="lab_map_E", config={"displayModeBar": False})

_ui.write_url(system=system, L=L, preset=ss.lab_preset, seed=ss.lab_seed)
