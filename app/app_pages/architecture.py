"""Architecture: the continued-function structure of EFNN vs ResNet, DenseNet and DNN (paper Fig. 5)."""
import pandas as pd
import streamlit as st

from app import arch as _arch
from app import caching, lab, state
from efnn_core import analysis
from efnn_core.nets import ARCHITECTURES

state.header("Architecture: why the EFNN is a continued function",
             "The four networks the paper compares, drawn for the number of layers you choose (paper Fig. 5), with "
             "the formula each one computes and its size. Click a layer (F or S) in a diagram to see its map in a "
             "trained network. Below, a small experiment shows why continued functions beat truncated series.", name="arch")

c = st.columns([1, 1, 2])
n = state.control("n", c[0].slider, "field-particle layers n", 3, state.parse_int(1, 4), min_value=1, max_value=4)
C = state.control("C", c[1].slider, "channels C (lattice networks)", 3, state.parse_int(1, 9), min_value=1, max_value=9)

tabs = state.tabs("tab", [_arch.TITLES[a] for a in _arch.ARCHS])  # only the open tab is drawn
notes = {
    "efnn": "The input S₀ re-enters **every** quasi-particle layer by multiplication, Sⱼ = gⱼ(S₀) ⊙ fⱼ₋₁(Sⱼ₋₁): "
            "unrolled, the output is a continued function, a nest of the same step with the input inside every "
            "level, just like a continued fraction b₀ + a₁x/(b₁ + a₂x/(b₂ + ⋯)).",
    "resnet": "One skip connection from S₀, combined by **addition**: unrolled it is a sum of corrections, "
              "S₀ + f₀ + f₁ + ⋯, i.e. a series, not a continued function.",
    "densenet": "Every layer sees the concatenation of all earlier ones: the input is available, but it is "
                "**concatenated** rather than multiplied in, so no continued-function nesting arises.",
    "dnn": "Without the S₀ connections the EFNN becomes a plain chain f ∘ h ∘ f ∘ ⋯: the input is seen only "
           "once, at the bottom.",
}
for tab, arch in zip(tabs, _arch.ARCHS):
    if not tab.open:
        continue
    with tab:
        def pick(arch=arch):
            sel = st.session_state.get(f"arch_fig_{arch}")
            try:
                node = sel["selection"]["points"][0]["customdata"]
            except (KeyError, IndexError, TypeError):
                return
            state.keep("layer", f"{arch}:{node}")
        st.plotly_chart(_arch.diagram(arch, n, height=300 if arch != "densenet" else 340), key=f"arch_fig_{arch}",
                        on_select=pick, selection_mode="points", config={"displayModeBar": False})
        st.markdown(notes[arch])
        st.latex(_arch.formula(arch, n))
        st.caption("For the double-exchange model S₀ enters through the O(3)-invariant symmetrization layers "
                   "Tⱼ(S₀) = Σₖ conv(S₀,ₖ) ⊙ conv′(S₀,ₖ), k = x, y, z; fⱼ, gⱼ, hⱼ are conv–tanh–conv blocks "
                   "with 5×5 periodic kernels, and q is a conv to one channel followed by the sum over sites.")

layer = state.value("layer", "", str)
if layer:
    arch_sel, node = (layer.split(":", 1) + [""])[:2]
    want = f"de_{arch_sel}_c3_n{n}"
    if want in caching.pretrained_names() and node[1:].isdigit() and 1 <= int(node[1:]) <= n:
        entry = caching.pretrained(want)
        spins = caching.system_object(entry.system).sample(10, 1, 0)[0]
        inter = analysis.field_maps(entry.model, spins)
        st.markdown(f"**Layer {node} of the trained {want}** on a random 10×10 configuration (seed 0)")
        k = st.columns([2, 1, 1])
        lab.maps(inter, arch_sel, k[1], k[2], key="arch_map", layer=int(node[1:]))
    else:
        st.caption(f"No pretrained {arch_sel} with n = {n} layers to show {node} of.")

st.subheader("Parameter counts")
rows = []
for a_ in _arch.ARCHS:
    rows.append({"architecture": _arch.TITLES[a_]} | {f"C={cc}": ARCHITECTURES[a_].parameter_count(
        "lattice", channels=cc, layers=n) for cc in (1, 3, 5, 7, 9)})
state.table(pd.DataFrame(rows).set_index("architecture").map("{:,}".format), st.container(key="arch_counts"))
st.caption(f"Lattice networks with n = {n} layers (efnn_core.nets.ARCHITECTURES). At C = {C}: "
           + ", ".join(f"{_arch.TITLES[a_]} {ARCHITECTURES[a_].parameter_count('lattice', channels=C, layers=n):,}"
                       for a_ in _arch.ARCHS)
           + ". The EFNN spends its extra parameters on the gⱼ(Tⱼ) branches that feed the input back in.")

st.divider()
st.subheader("Why continued functions? Resumming a series")
st.markdown("Perturbation theory gives an energy as a power series, but in interacting systems such series often "
            "converge slowly or not at all. Continued fractions (and Padé approximants, their rational cousins) "
            "built from the **same** coefficients often converge where the series does not. The EFNN replaces "
            "the fraction's division by learned tanh layers.")
st.latex(_arch.CONTINUED_FRACTION)
d = st.columns([1.4, 1, 1])
series = list(_arch.SERIES)
which = state.control("series", d[0].selectbox, "Function", series[0], state.parse_choice(series), options=series,
                      format_func=lambda k: _arch.SERIES[k]["title"])
spec = _arch.SERIES[which]
x = state.control(f"x_{which}", d[1].slider, "x", float(spec["x"]), state.parse_float(0.1, float(spec["xmax"])),
                  min_value=0.1, max_value=float(spec["xmax"]), step=0.1)
m_max = state.control("m", d[2].slider, "highest order", 20, state.parse_int(4, 30), min_value=4, max_value=30)
st.latex(spec["latex"])
e1, e2 = st.columns(2)
e1.plotly_chart(_arch.error_figure(which, x, m_max), key="arch_err")
e2.plotly_chart(_arch.curves_figure(which, min(m_max, 8)), key="arch_curves")
st.caption(spec["note"] + " Left: error against order at the chosen x (log scale). Right: order-8 approximants "
           "against x (the Taylor curve is clipped where it runs away).")
state.sync_url()
