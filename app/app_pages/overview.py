"""Overview: the 2D Ising model written as a one-layer EFNN (paper Fig. 1).

The start page, opened by a whole class at once: its figures and the decomposition are pure functions
of the spins, so they are built once per configuration and shared by every session (the same objects
that would be computed again; ``st.plotly_chart`` only reads them).
"""
import pandas as pd
import streamlit as st

from app import arch, lattice, plots, state
from efnn_core import analysis


@st.cache_data(max_entries=256, show_spinner=False)
def decomposition(spins):
    """``analysis.ising_decomposition`` of one configuration (phi, quasi, efnn, sum_quasi, exact)."""
    return analysis.ising_decomposition(spins)


@st.cache_resource(show_spinner=False)
def diagram():
    return arch.diagram("ising", 1, height=210)


@st.cache_resource(max_entries=256, show_spinner=False)
def figures(spins):
    """The lattice and the two maps of ``spins``: read-only, shared by all sessions."""
    res = decomposition(spins)
    return (lattice.figure(spins, "scalar", "", height=430),
            plots.scalar_map(res["phi"], title="Effective field φᵢ = −(J/2) Σ neighbours", height=380),
            plots.scalar_map(res["quasi"], title="Quasi-particles sᵢ·φᵢ (they sum to E)", height=380))

state.header("The Ising model as an Effective Field Neural Network",
             "Click any spin of the Ising lattice to flip it. The maps show the effective field φ<sub>i</sub> each "
             "spin feels and the independent quasi-particles s<sub>i</sub>·φ<sub>i</sub>; their sum, computed by a "
             "hand-built one-layer EFNN, is exactly the energy.", name="ov")
left, right = st.columns([1.05, 1], gap="large")
with left:
    c1, c2, c3 = st.columns(3)
    presets = tuple(lattice.PRESET_LABELS)
    preset = state.control("preset", c1.selectbox, "Preset", "random", state.parse_choice(presets), options=presets,
                           format_func=lattice.PRESET_LABELS.get, on_change=lambda: state.keep("edits", ""))
    seed = state.control("seed", c2.number_input, "Seed", 190, state.parse_int(0, 2**31 - 1), min_value=0,
                         max_value=2**31 - 1, on_change=lambda: state.keep("edits", ""))
    L = state.control("L", c3.number_input, "L", 10, state.parse_int(4, 24), min_value=4, max_value=24,
                      on_change=lambda: state.keep("edits", ""))
    cfg = lattice.Config("ov_", view="scalar", values="", size=int(L), preset=preset, seed=int(seed))
    spins = cfg.spins()
    fig_lattice, fig_phi, fig_quasi = figures(spins)
    before = st.session_state.get("ov_before")

    def flip(indices):
        st.session_state.ov_before = decomposition(spins)["exact"]
        cfg.add(f"f~{cfg.mask(indices)}")

    lattice.clickable(fig_lattice, "ov_lattice", flip, int(L))
    st.caption("Click a site to flip it; drag a box or lasso to flip many. Red ▲ = +1, blue ▼ = −1.")
    st.button(":material/undo: Undo", on_click=cfg.undo, disabled=not cfg.edits)
res = decomposition(spins)
with right:
    # the three numbers as a Markdown table (large type: app/state.py style()), painted as soon as they arrive
    state.table(pd.DataFrame({"Exact H = −J Σ⟨ij⟩ sᵢsⱼ": [f"{res['exact']:.0f}"], "Σᵢ sᵢ φᵢ": [f"{res['sum_quasi']:.0f}"],
                              "EFNN output E": [f"{res['efnn']:.0f}"]}), st.container(key="ov_numbers"), index=False)
    if before is not None:
        st.caption(f"The last flip changed H by {res['exact'] - before:+.0f}.")
    diff = abs(res["efnn"] - res["exact"])
    if diff < 1e-9:
        st.success(f"The hand-built EFNN reproduces the exact energy: |E − H| = {diff:.1g}.", icon=":material/check_circle:")
    else:
        st.error(f"EFNN and exact energy differ by {diff:.3g}.")
    st.plotly_chart(diagram(), key="ov_diagram", config={"displayModeBar": False})
    st.caption("Fig. 1(b) of the paper: the spins S₀ give the field F₁ = φ; the quasi-particle layer is "
               "S₁ = S₀ ⊙ F₁; summing S₁ gives E. Computed by efnn_core.nets.IsingEFNN.")
a, b = st.columns(2)
a.plotly_chart(fig_phi, key="ov_phi", config={"displayModeBar": False})
b.plotly_chart(fig_quasi, key="ov_quasi", config={"displayModeBar": False})
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
4. For harder models the field cannot be written down, so the EFNN *learns* it, refining field and quasi-particles
   layer after layer, Fⱼ = fⱼ₋₁(Sⱼ₋₁), Sⱼ = gⱼ(S₀) ⊙ Fⱼ; see **Architecture** for why this nesting is a continued function.
"""
)
state.sync_url()
