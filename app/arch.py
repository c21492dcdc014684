"""Architecture page helpers: continued-function diagrams (paper Fig. 5), unrolled formulas,
parameter counts, and the Taylor-vs-continued-fraction demo.  No Streamlit here.

Parameter counts come from the library (``efnn_core.nets.ARCHITECTURES``).
"""

from __future__ import annotations

import math
import re

import numpy as np
import plotly.graph_objects as go

ARCHS = ("efnn", "resnet", "densenet", "dnn")
TITLES = {"efnn": "EFNN", "resnet": "ResNet", "densenet": "DenseNet", "dnn": "DNN"}
NODE = {"S0": "#444444", "F": "#1f77b4", "S": "#d62728", "E": "#2ca02c", "C": "#9467bd", "T": "#8c564b"}


# ----------------------------------------------------------------------------- formulas
def formula(arch: str, n: int, *, lattice: bool = True) -> str:
    """LaTeX of the network unrolled for n layers (lattice: S0 enters through T_j)."""
    s0 = (lambda j: f"T_{{{j}}}") if lattice else (lambda j: "S_0")
    if arch == "efnn":
        inner = rf"f_0({s0(0)})"
        for j in range(1, n + 1):
            inner = rf"g_{{{j}}}({s0(j)}) \odot {inner}" if j == 1 else rf"g_{{{j}}}({s0(j)}) \odot f_{{{j - 1}}}\big({inner}\big)"
        return rf"E = q\Big({inner}\Big)"
    if arch == "dnn":
        inner = rf"f_0({s0(0)})"
        for j in range(1, n + 1):
            inner = rf"h_{{{j}}}\big({inner}\big)" if j == 1 else rf"h_{{{j}}}\big(f_{{{j - 1}}}({inner})\big)"
        return rf"E = q\Big({inner}\Big)"
    if arch == "resnet":
        terms = [s0(1), rf"f_0({s0(0)})"] + [rf"f_{{{j}}}(S_{{{j}}})" for j in range(1, n)]
        return rf"E = q\Big({' + '.join(terms)}\Big),\quad S_{{j+1}} = S_j + f_j(S_j)"
    if arch == "densenet":
        Fs = ", ".join(f"F_{{{j}}}" for j in range(1, n + 1))
        return (rf"E = q\big(\mathrm{{C}}[{s0(1)}, {Fs}]\big),\quad "
                rf"F_{{j+1}} = f_j\big(\mathrm{{C}}[{s0(1)}, F_1, \dots, F_j]\big)")
    raise ValueError(f"unknown architecture {arch!r}")


CONTINUED_FRACTION = (r"f(x) = b_0 + \cfrac{a_1 x}{b_1 + \cfrac{a_2 x}{b_2 + \cfrac{a_3 x}{b_3 + \cdots}}}"
                      r"\quad\longrightarrow\quad "
                      r"E = q\Big(g_3(S_0) \odot f_2\big(g_2(S_0) \odot f_1(g_1(S_0) \odot f_0(S_0))\big)\Big)")


# ----------------------------------------------------------------------------- diagrams
class _Canvas:
    """Shapes, annotations and clickable nodes of a diagram, collected as plain dicts and handed to plotly
    once (``go.Figure.add_annotation`` one at a time copies every earlier one: quadratic, ~2 s a page)."""

    def __init__(self):
        self.shapes, self.annotations, self.nodes = [], [], []

    def add_shape(self, **kw):
        self.shapes.append(kw)

    def add_annotation(self, **kw):
        self.annotations.append(kw)


def _node(fig, x, y, text, kind, w=0.62, h=0.42):
    fig.add_shape(type="rect", x0=x - w / 2, x1=x + w / 2, y0=y - h / 2, y1=y + h / 2, line=dict(color=NODE[kind], width=2),
                  fillcolor="white", layer="above")
    fig.add_annotation(x=x, y=y, text=f"<b>{text}</b>", showarrow=False, font=dict(size=15, color=NODE[kind]))
    if kind in ("F", "S", "C"):  # clickable layers, drawn as trace 0 by diagram()
        fig.nodes.append([x, y, re.sub(r"<[^>]+>", "", text)])


def _arrow(fig, x0, y0, x1, y1, label="", color="#555", dash=None, lx=0.0, ly=0.12):
    fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                       arrowhead=2, arrowsize=1.1, arrowwidth=1.6, arrowcolor=color, text="", standoff=0, startstandoff=0)
    if dash:
        fig.add_shape(type="line", x0=x0, y0=y0, x1=x1, y1=y1, line=dict(color=color, width=1.6, dash=dash))
    if label:
        fig.add_annotation(x=(x0 + x1) / 2 + lx, y=(y0 + y1) / 2 + ly, text=label, showarrow=False,
                           font=dict(size=13, color=color), bgcolor="rgba(255,255,255,0.85)")


def _arc(fig, x0, y0, x1, y1, height, label="", color="#555"):
    cx, cy = (x0 + x1) / 2, max(y0, y1) + height
    fig.add_shape(type="path", path=f"M {x0},{y0} Q {cx},{cy} {x1},{y1}", line=dict(color=color, width=1.6))
    # arrow head: tangent of the quadratic Bezier at its end
    fig.add_annotation(x=x1, y=y1, ax=x1 - 0.18 * (x1 - cx), ay=y1 - 0.18 * (y1 - cy), xref="x", yref="y", axref="x",
                       ayref="y", showarrow=True, arrowhead=2, arrowsize=1.1, arrowwidth=1.6, arrowcolor=color, text="")
    if label:
        fig.add_annotation(x=cx, y=(y0 + y1) / 2 + height / 2, text=label, showarrow=False,
                           font=dict(size=12, color=color), bgcolor="rgba(255,255,255,0.85)")


def diagram(arch: str, n: int, *, height: int = 260, s0: str = "S<sub>0</sub>") -> go.Figure:
    """Fig. 5-style structure of ``arch`` with n field-particle layers."""
    fig = _Canvas()
    top, bus = 1.3, 0.0
    if arch in ("efnn", "ising"):
        xs = {f"F{i}": 2 * i - 1 for i in range(1, n + 1)} | {f"S{i}": 2 * i for i in range(1, n + 1)}
        fig.add_shape(type="rect", x0=0.55, x1=2 * n + 0.45, y0=bus - 0.2, y1=bus + 0.2, line=dict(color=NODE["S0"], width=2),
                      fillcolor="#f3f3f3")
        fig.add_annotation(x=0.3, y=bus, text=f"<b>{s0}</b>", showarrow=False, font=dict(size=15, color=NODE["S0"]))
        _arrow(fig, 1, bus + 0.2, 1, top - 0.21, "f<sub>0</sub>" if arch == "efnn" else "φ = −J/2 Σ<sub>nn</sub>",
               lx=-0.25 if arch == "efnn" else -0.55, ly=0)
        for i in range(1, n + 1):
            _node(fig, xs[f"F{i}"], top, f"F<sub>{i}</sub>", "F")
            _node(fig, xs[f"S{i}"], top, f"S<sub>{i}</sub>", "S")
            _arrow(fig, xs[f"F{i}"] + 0.31, top, xs[f"S{i}"] - 0.31, top, "⊙", color=NODE["S"])
            _arrow(fig, xs[f"S{i}"], bus + 0.2, xs[f"S{i}"], top - 0.21,
                   f"g<sub>{i}</sub>" if arch == "efnn" else "s<sub>i</sub>", color="#444", lx=0.2, ly=0)
            if i < n:
                _arrow(fig, xs[f"S{i}"] + 0.31, top, xs[f"F{i + 1}"] - 0.31, top, f"f<sub>{i}</sub>")
        xe = 2 * n + 1.2
        _node(fig, xe, top, "E", "E", w=0.5)
        _arrow(fig, 2 * n + 0.31, top, xe - 0.25, top, "q" if arch == "efnn" else "Σ")
        xr = (-0.1, xe + 0.4)
    elif arch == "dnn":
        chain = ["S0"] + [k for i in range(1, n + 1) for k in (f"F{i}", f"S{i}")] + ["E"]
        for k, name in enumerate(chain):
            kind = "S0" if name == "S0" else name[0]
            _node(fig, k, top, s0 if name == "S0" else (f"{name[0]}<sub>{name[1:]}</sub>" if name != "E" else "E"), kind)
            if k:
                lab = "q" if name == "E" else (f"f<sub>{int(name[1:]) - 1}</sub>" if name[0] == "F" else f"h<sub>{name[1:]}</sub>")
                _arrow(fig, k - 1 + 0.31, top, k - 0.31, top, lab)
        xr = (-0.6, len(chain) - 0.4)
    elif arch == "resnet":
        chain = ["S0"] + [k for i in range(1, n + 1) for k in (f"F{i}", f"S{i}")] + ["E"]
        pos = {name: k for k, name in enumerate(chain)}
        for k, name in enumerate(chain):
            kind = "S0" if name == "S0" else name[0]
            _node(fig, k, top, s0 if name == "S0" else (f"{name[0]}<sub>{name[1:]}</sub>" if name != "E" else "E"), kind)
            if k:
                lab = "q" if name == "E" else (f"f<sub>{int(name[1:]) - 1}</sub>" if name[0] == "F" else "+")
                _arrow(fig, k - 1 + 0.31, top, k - 0.31, top, lab)
        for i in range(1, n + 1):
            src = "S0" if i == 1 else f"S{i - 1}"
            _arc(fig, pos[src], top + 0.21, pos[f"S{i}"], top + 0.21, 0.55, "+ skip" if i == 1 else "+",
                 color=NODE["S"] if i == 1 else "#888")
        xr = (-0.6, len(chain) - 0.4)
    elif arch == "densenet":
        chain = ["S0"] + [k for i in range(1, n + 1) for k in (f"F{i}", f"S{i}")] + ["E"]
        pos = {name: k for k, name in enumerate(chain)}
        for k, name in enumerate(chain):
            kind = "S0" if name == "S0" else ("C" if name[0] == "S" else name[0])
            label = s0 if name == "S0" else ("E" if name == "E" else (f"C<sub>{name[1:]}</sub>" if name[0] == "S" else f"F<sub>{name[1:]}</sub>"))
            _node(fig, k, top, label, kind)
            if k:
                lab = "q" if name == "E" else (f"f<sub>{int(name[1:]) - 1}</sub>" if name[0] == "F" else "")
                _arrow(fig, k - 1 + 0.31, top, k - 0.31, top, lab)
        for i in range(1, n + 1):
            _arc(fig, pos["S0"], top - 0.21, pos[f"S{i}"], top - 0.21, -0.35 - 0.25 * i, "concat" if i == 1 else "",
                 color=NODE["C"])
            for j in range(1, i):
                _arc(fig, pos[f"F{j}"], top + 0.21, pos[f"S{i}"], top + 0.21, 0.3 + 0.2 * (i - j), "", color="#aaa")
        xr = (-0.6, len(chain) - 0.4)
    else:
        raise ValueError(f"unknown architecture {arch!r}")
    nodes, canvas = fig.nodes, fig
    fig = go.Figure(layout=dict(shapes=canvas.shapes, annotations=canvas.annotations))
    if nodes:  # invisible markers on the F/S nodes: clicking one selects that layer (customdata "F2", "S1", ...)
        fig.add_trace(go.Scatter(x=[v[0] for v in nodes], y=[v[1] for v in nodes], customdata=[v[2] for v in nodes],
                                 mode="markers", marker=dict(size=34, symbol="square", color="rgba(0,0,0,0.01)"),
                                 hovertemplate="click: show the map of %{customdata}<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=10, b=5), plot_bgcolor="white", showlegend=False,
                      clickmode="event+select", dragmode=False)
    fig.update_xaxes(visible=False, range=list(xr))
    fig.update_yaxes(visible=False, range=[-0.45 if arch not in ("densenet",) else -0.6, top + 1.0], fixedrange=True)
    fig.update_xaxes(fixedrange=True)
    return fig


# ----------------------------------------------------------------------------- series demo
def _stieltjes_exact(x):
    from scipy.special import exp1

    return math.exp(1 / x) * exp1(1 / x) / x


def _stieltjes_taylor(x, m):
    return sum((-1) ** k * math.factorial(k) * x ** k for k in range(m + 1))


def _stieltjes_cf(x, m):
    t = 1.0
    for k in range(m, 0, -1):
        t = 1.0 + ((k + 1) // 2) * x / t
    return 1.0 / t


def _log_taylor_coeffs(m):
    return [0.0] + [(-1) ** (k + 1) / k for k in range(1, m + 1)]


def _log_taylor(x, m):
    return sum(c * x ** k for k, c in enumerate(_log_taylor_coeffs(m)))


def _pade(coeffs, x):
    from scipy.interpolate import pade

    m = len(coeffs) - 1
    p, q = pade(coeffs, m // 2)
    return float(p(x) / q(x))


def _log_pade(x, m):
    return _pade(_log_taylor_coeffs(m), x)


def _tanh_coeffs(m):
    from scipy.special import bernoulli

    B = bernoulli(m + 2)
    c = [0.0] * (m + 1)
    for k in range(1, m + 1, 2):   # tanh x = sum_n 2^{2n}(2^{2n}-1) B_{2n} x^{2n-1} / (2n)!
        nn = (k + 1) // 2
        c[k] = 2 ** (2 * nn) * (2 ** (2 * nn) - 1) * B[2 * nn] / math.factorial(2 * nn)
    return c


def _tanh_taylor(x, m):
    return sum(c * x ** k for k, c in enumerate(_tanh_coeffs(m)))


def _tanh_cf(x, m):
    # Lambert: tanh x = x / (1 + x^2 / (3 + x^2 / (5 + ...)))
    t = 2 * m + 1.0
    for k in range(m - 1, -1, -1):
        t = (2 * k + 1) + x * x / t
    return x / t


SERIES = {
    "stieltjes": dict(
        title="Euler's divergent series",
        latex=r"f(x)=\int_0^\infty \frac{e^{-t}}{1+xt}\,dt \;\sim\; \sum_{k\ge 0} (-1)^k\, k!\, x^k"
              r"\;=\;\cfrac{1}{1+\cfrac{x}{1+\cfrac{x}{1+\cfrac{2x}{1+\cfrac{2x}{1+\cdots}}}}}",
        exact=_stieltjes_exact, taylor=_stieltjes_taylor, resummed=_stieltjes_cf, resummed_name="continued fraction",
        x=0.5, xmax=2.0,
        note="The perturbation series has zero radius of convergence (k! grows faster than any power), like the "
             "series of perturbation theory in interacting field theories. Its partial sums first approach "
             "the answer, then run away; the continued fraction built from the same coefficients converges."),
    "log": dict(
        title="log(1+x) beyond its radius of convergence",
        latex=r"\log(1+x) = x - \frac{x^2}{2} + \frac{x^3}{3} - \cdots \quad (|x|<1)",
        exact=lambda x: math.log1p(x), taylor=_log_taylor, resummed=_log_pade, resummed_name="Padé [m/2, m/2]",
        x=2.0, xmax=5.0,
        note="For x > 1 the Taylor sums diverge, but the Padé approximant (a rational function, equivalent to a "
             "truncated continued fraction) made from the same m coefficients converges quickly."),
    "tanh": dict(
        title="tanh x (the EFNN's own nonlinearity)",
        latex=r"\tanh x = x - \frac{x^3}{3} + \frac{2x^5}{15} - \cdots"
              r"\;=\;\cfrac{x}{1+\cfrac{x^2}{3+\cfrac{x^2}{5+\cdots}}}",
        exact=math.tanh, taylor=_tanh_taylor, resummed=_tanh_cf, resummed_name="Lambert continued fraction",
        x=2.5, xmax=5.0,
        note="The Taylor series of tanh only converges for |x| < π/2 (poles at ±iπ/2); its continued fraction "
             "converges for every real x."),
}


def series_errors(name: str, x: float, orders) -> dict[str, list[float]]:
    """|approximant - exact| for the truncated Taylor sum and the resummed form at each order."""
    s = SERIES[name]
    ex = s["exact"](x)
    out = {"order": [], "taylor": [], "resummed": []}
    for m in orders:
        out["order"].append(int(m))
        with np.errstate(all="ignore"):
            t = s["taylor"](x, int(m))
            r = s["resummed"](x, int(m))
        out["taylor"].append(abs(t - ex) if np.isfinite(t) else float("inf"))
        out["resummed"].append(abs(r - ex) if np.isfinite(r) else float("inf"))
    return out


def series_curves(name: str, m: int, xs: np.ndarray) -> dict[str, np.ndarray]:
    s = SERIES[name]
    return {"x": xs, "exact": np.array([s["exact"](x) for x in xs]),
            "taylor": np.array([s["taylor"](x, m) for x in xs]),
            "resummed": np.array([s["resummed"](x, m) for x in xs])}


def error_figure(name: str, x: float, max_order: int) -> go.Figure:
    e = series_errors(name, x, range(1, max_order + 1))
    floor = 1e-16
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=e["order"], y=np.maximum(e["taylor"], floor), mode="lines+markers",
                             name="truncated Taylor sum", line=dict(color="#7f7f7f", width=2)))
    fig.add_trace(go.Scatter(x=e["order"], y=np.maximum(e["resummed"], floor), mode="lines+markers",
                             name=SERIES[name]["resummed_name"], line=dict(color="#d62728", width=2.5)))
    fig.update_yaxes(type="log", title="|approximation − exact|", exponentformat="power")
    fig.update_xaxes(title="order m (coefficients / levels used)")
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), title=f"Error at x = {x:g}",
                      legend=dict(orientation="h", y=-0.25))
    return fig


def curves_figure(name: str, m: int) -> go.Figure:
    s = SERIES[name]
    xs = np.linspace(0.02 if name == "stieltjes" else 0.0, s["xmax"], 160)
    c = series_curves(name, m, xs)
    ex = c["exact"]
    span = float(ex.max() - ex.min()) or 1.0
    lo, hi = ex.min() - 0.6 * span, ex.max() + 0.6 * span
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=ex, name="exact", line=dict(color="#111", width=3)))
    fig.add_trace(go.Scatter(x=xs, y=np.clip(c["taylor"], lo - span, hi + span), name=f"Taylor, m={m}",
                             line=dict(color="#7f7f7f", dash="dash")))
    fig.add_trace(go.Scatter(x=xs, y=c["resummed"], name=f"{s['resummed_name']}, m={m}", line=dict(color="#d62728")))
    fig.update_yaxes(range=[lo, hi])
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), title="Approximants against x",
                      legend=dict(orientation="h", y=-0.25), xaxis_title="x")
    return fig
