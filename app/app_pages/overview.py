"""Overview: the 2D Ising model written as a one-layer EFNN (paper Fig. 1)."""
import numpy as np
import streamlit as st

from app import _arch, _plots, _presets, _ui

_ui.style()
_ui.header("The Ising model as an Effective Field Neural Network",
           "Click any spin of the Ising lattice to flip it. The maps show the effective field φ<sub>i</sub> each "
           "spin feels and the independent quasi-particles s<sub>i</sub>·φ<sub>i</sub>; their sum, computed by a "
           "hand-built one-layer EFNN, is exactly the energy.", icon=":material/grid_on:")

if "ov_spins" not in st.session_state:  # 10 x 10 and seed 190, like the paper's Fig. 1
    st.session_state.update(ov_L=10, ov_preset="random", ov_seed=190)
    st.session_state.ov_spins = _presets.ising("random", 10, 190)
    st.session_state.ov_last = None


def regenerate():
    st.session_state.ov_spins = _presets.ising(st.session_state.ov_preset, st.session_state.ov_L,
                                               st.session_state.ov_seed)
    st.session_state.ov_last = None


def flip(indices):
    sites = _ui.grid_sites(indices, st.session_state.ov_spins.shape[0])
    before = float(_ui.Ising2D().energy(st.session_state.ov_spins))
    st.session_state.ov_spins = _presets.flip(st.session_state.ov_spins, sites)
    st.session_state.ov_last = (sites, before)


spins = st.session_state.ov_spins
res = _ui.ising_efnn(spins)
left, right = st.columns([1.05, 1], gap="large")
with left:
    _ui.clickable_lattice(_plots.ising_lattice(spins, height=430), "ov_lattice", flip,
                          help_text="Click a site to flip it; drag a box or lasso to flip many. Red ▲ = +1, blue ▼ = −1.")
    c1, c2, c3 = st.columns(3)
    c1.selectbox("Preset", _presets.PRESETS, key="ov_preset", format_func=_presets.LABELS.get, on_change=regenerate)
    c2.number_input("Seed", 0, 2**31 - 1, key="ov_seed", on_change=regenerate)
    c3.number_input("L", 4, 24, key="ov_L", on_change=regenerate)
with right:
    m1, m2, m3 = st.columns(3)
    last = st.session_state.ov_last
    delta = None if last is None else f"{res['exact'] - last[1]:+.0f} after last flip"
    m1.metric("Exact H = −J Σ⟨ij⟩ sᵢsⱼ", f"{res['exact']:.0f}", delta=delta, delta_color="off")
    m2.metric("Σᵢ sᵢ φᵢ", f"{res['sum_quasi']:.0f}")
    m3.metric("EFNN output E", f"{res['efnn']:.0f}")
    diff = abs(res["efnn"] - res["exact"])
    if diff < 1e-9:
        st.success(f"The hand-built EFNN reproduces the exact energy: |E − H| = {diff:.1g}.", icon=":material/check_circle:")
    else:
        st.error(f"EFNN and exact energy differ by {diff:.3g}.")
    st.plotly_chart(_arch.diagram("ising", 1, height=210), key="ov_diagram", config={"displayModeBar": False})
    st.caption("Fig. 1(b) of the paper: the spins S₀ give the field F₁ = φ; the quasi-particle layer is "
               "S₁ = S₀ ⊙ F₁; summing S₁ gives E. " f"Computed by {res['source']}.")

a, b = st.columns(2)
a.plotly_chart(_plots.scalar_map(res["phi"], title="Effective field φᵢ = −(J/2) Σ neighbours", height=380),
               key="ov_phi", config={"displayModeBar": False})
b.plotly_chart(_plots.scalar_map(res["quasi"], title="Quasi-particles sᵢ·φᵢ (they sum to E)", height=380),
               key="ov_quasi", config={"displayModeBar": False})

st.markdown(
    """
#### The physics in four sentences
1. In the Ising model every spin sᵢ = ±1 interacts with its four neighbours, H = −J Σ⟨ij⟩ sᵢ sⱼ: the energy is a
   sum over *pairs*, a genuinely many-body object.
2. Group the neighbours of site i into an **effective field** φᵢ = −(J/2)·(sum of the neighbours): each spin now sits
   alone in the field made by the others, and sᵢ·φᵢ is an independent **quasi-particle** (the ½ stops each bond being
   counted twice).
3. The energy is simply the sum of the quasi-particles, H = Σᵢ sᵢ φᵢ. As a network: layer F₁ computes the field from
   S₀, layer S₁ multiplies it element-wise by the input S₀ again, and the output sums S₁.
4. For harder models (three-spin couplings, electrons hopping on a lattice) the field cannot be written down, so the
   EFNN *learns* it, refining field and quasi-particles layer after layer, Fⱼ = fⱼ₋₁(Sⱼ₋₁), Sⱼ = gⱼ(S₀) ⊙ Fⱼ; see the
   **Architecture** page for why this nesting is a continued function.
"""
)
