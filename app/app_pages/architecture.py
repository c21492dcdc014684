"""Architecture: the continued-function structure of EFNN vs ResNet, DenseNet and DNN (paper Fig. 5)."""
import pandas as pd
import streamlit as st

from app import _arch, _ui

_ui.style()
_ui.header("Architecture: why the EFNN is a continued function",
           "The four networks the paper compares, drawn for the number of layers you choose (paper Fig. 5), with "
           "the formula each one computes and its size. Below, a small experiment shows why continued functions beat "
           "truncated series.", icon=":material/account_tree:")

c = st.columns([1, 1, 2])
n = c[0].slider("field-particle layers n", 1, 4, 3, key="arch_n")
C = c[1].slider("channels C (double exchange)", 1, 9, 3, key="arch_C")
nets = _ui.optional("nets")

tabs = st.tabs([_arch.TITLES[a] for a in _arch.ARCHS])
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
    with tab:
        st.plotly_chart(_arch.diagram(arch, n, height=300 if arch != "densenet" else 340), key=f"arch_fig_{arch}",
                        config={"displayModeBar": False})
        st.markdown(notes[arch])
        st.latex(_arch.formula(arch, n))
        st.caption("For the double-exchange model S₀ enters through the O(3)-invariant symmetrization layers "
                   "Tⱼ(S₀) = Σₖ conv(S₀,ₖ) ⊙ conv′(S₀,ₖ), k = x, y, z; fⱼ, gⱼ, hⱼ are conv–tanh–conv blocks "
                   "with 5×5 periodic kernels, and q is a conv to one channel followed by the sum over sites.")

st.subheader("Parameter counts")


def count(arch, C, n):
    if nets is not None:
        try:
            return nets.build(arch, family="lattice", channels=C, layers=n).num_parameters(), "efnn_core.nets"
        except Exception:  # noqa: BLE001 - fall back to the closed-form count
            pass
    return _arch.count_lattice(arch, C, n), "formula"


rows, source = [], "formula"
for arch in _arch.ARCHS:
    row = {"architecture": _arch.TITLES[arch]}
    for cc in (1, 3, 5, 7, 9):
        row[f"C={cc}"], source = count(arch, cc, n)
    rows.append(row)
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
here = {a: count(a, C, n)[0] for a in _arch.ARCHS}
st.caption(f"Double-exchange networks with n = {n} layers (source: {source}). At C = {C}: "
           + ", ".join(f"{_arch.TITLES[a]} {v:,}" for a, v in here.items())
           + ". The EFNN spends its extra parameters on the gⱼ(Tⱼ) branches that feed the input back in.")

st.divider()
st.subheader("Why continued functions? Resumming a series")
st.markdown("Perturbation theory gives an energy as a power series, but in interacting systems such series often "
            "converge slowly or not at all. Continued fractions (and Padé approximants, their rational cousins) "
            "built from the **same** coefficients often converge where the series does not. The EFNN replaces "
            "the fraction's division by learned tanh layers.")
st.latex(_arch.CONTINUED_FRACTION)
d = st.columns([1.4, 1, 1])
which = d[0].selectbox("Function", list(_arch.SERIES), format_func=lambda k: _arch.SERIES[k]["title"], key="arch_series")
spec = _arch.SERIES[which]
x = d[1].slider("x", 0.1, float(spec["xmax"]), float(spec["x"]), step=0.1, key=f"arch_x_{which}")
m_max = d[2].slider("highest order", 4, 30, 20, key="arch_m")
st.latex(spec["latex"])
e1, e2 = st.columns(2)
e1.plotly_chart(_arch.error_figure(which, x, m_max), key="arch_err")
e2.plotly_chart(_arch.curves_figure(which, min(m_max, 8)), key="arch_curves")
st.caption(spec["note"] + " Left: error against order at the chosen x (log scale). Right: order-8 approximants "
           "against x (the Taylor curve is clipped where it runs away).")
