"""Plotly figures for the explorer: spin lattices, scalar maps, curves.

No Streamlit here: every function takes arrays and returns a ``go.Figure``.
Lattice coordinates: x = column, y = row, row 0 drawn at the top.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

SZ_SCALE = "RdBu_r"      # s_z: blue = down, red = up
FIELD_SCALE = "PuOr_r"   # signed scalar maps (fields, quasi-particles)
# 24 distinguishable colours (plotly's Dark24, black and near-black left out for the exact line)
PALETTE = ["#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#B68100", "#750D86", "#EB663B", "#511CFB",
           "#00A08B", "#FB00D1", "#FC0080", "#B2828D", "#6C7C32", "#778AAE", "#862A16", "#A777F1", "#620042",
           "#1616A7", "#DA60CA", "#6C4516", "#0D2A63", "#AF0038", "#00B5F7"]


def colour(name: str, order: dict) -> str:
    """The colour of model ``name``: the same on every page (``order`` is the session's name -> index
    table; a new name takes the next index), from 24 colours, then dashed repeats by the caller."""
    if name not in order:
        order[name] = len(order)
    return PALETTE[order[name] % len(PALETTE)]


def log_axis(values) -> dict:
    """Tick values and labels for a log axis: 1, 2 and 5 times a power of ten inside the data's range,
    written 2×10⁻³ (plotly's default labels minor ticks with bare digits)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x) and x > 0], dtype=float)
    if not len(v):
        return {}
    lo, hi = np.floor(np.log10(v.min())), np.ceil(np.log10(v.max()))
    sup = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
    vals, text = [], []
    steps = (1, 2, 5) if hi - lo <= 3 else (1,)
    for k in range(int(lo), int(hi) + 1):
        for m in steps:
            t = m * 10.0 ** k
            if v.min() / 1.5 <= t <= v.max() * 1.5:
                vals.append(t)
                text.append(("" if m == 1 else f"{m}×") + "10" + str(k).translate(sup))
    return {"type": "log", "tickvals": vals, "ticktext": text}


def _marker_size(L: int) -> float:
    return float(np.clip(260.0 / L, 5, 26))


def _lattice_layout(fig: go.Figure, L: int, height: int, title: str | None = None) -> go.Figure:
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=44, b=10), title=title,  # top margin: room for the toolbar
        # box select by default; Streamlit then makes clickmode "event" (clicks reach Python through the bridge
        # in app/lattice.py). Said here, not left to Streamlit, whose change of the mode after the first draw
        # (False -> "pan") made plotly redraw the whole figure (~0.2 s at L = 40)
        dragmode="select", clickmode="event", showlegend=False,
        plot_bgcolor="rgba(0,0,0,0)", hovermode="closest", uirevision="lattice",
    )
    fig.update_xaxes(range=[-0.7, L - 0.3], showgrid=False, zeroline=False, visible=False, constrain="domain")
    fig.update_yaxes(range=[L - 0.3, -0.7], showgrid=False, zeroline=False, visible=False,
                     scaleanchor="x", scaleratio=1)
    return fig


def _arrow_path(x, y, sx, sy) -> str:
    """Every site's in-plane arrow (s_x, s_y) as one SVG path in data coordinates: the shaft, and a filled
    head where the in-plane part exceeds 0.15.  One layout shape instead of a line trace of 3 points per
    site and a marker per head: at L = 40 plotly draws it in ~10 ms instead of ~120 ms (chromium, 1600 sites)."""
    a, hl = 0.42, 0.26  # half length of a full arrow, its head's length (lattice units)
    x0, x1 = x - a * sx, x + a * sx
    y0, y1 = y + a * sy, y - a * sy   # y axis points down: +s_y is drawn upwards
    n = np.hypot(sx, sy)
    ux, uy = np.divide(sx, n, out=np.zeros_like(sx), where=n > 0), np.divide(-sy, n, out=np.zeros_like(sy), where=n > 0)
    hl = np.minimum(hl, a * n)                          # a short arrow gets a smaller head (at most half of it)
    hw = hl / 2
    bx, by = x1 - hl * ux, y1 - hl * uy                 # the head's base centre
    head = n > 0.15
    cols = np.stack([x0, y0, np.where(head, bx, x1), np.where(head, by, y1)], -1)
    shafts = [f"M{p:.3f},{q:.3f}L{r:.3f},{t:.3f}" for p, q, r, t in cols]
    heads = np.stack([x1, y1, bx - hw * uy, by + hw * ux, bx + hw * uy, by - hw * ux], -1)  # tip, base corners
    for i in np.flatnonzero(head):
        p = heads[i]
        shafts[i] += f"M{p[0]:.3f},{p[1]:.3f}L{p[2]:.3f},{p[3]:.3f}L{p[4]:.3f},{p[5]:.3f}Z"
    return "".join(shafts)


def spin_lattice(spins: np.ndarray, *, height: int = 520, title: str | None = None,
                 highlight=None) -> go.Figure:
    """Heisenberg spins (L, L, 3): site discs coloured by s_z with in-plane arrows (s_x, s_y).

    Trace 0 is the selectable site trace (one point per site, x = col, y = row,
    customdata = (row, col)); the arrows are one layout shape (no hover, no selection).
    """
    L = spins.shape[0]
    row, col = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
    x, y = col.ravel().astype(float), row.ravel().astype(float)
    sx, sy, sz = (spins[..., k].ravel() for k in range(3))
    theta = np.degrees(np.arccos(np.clip(sz, -1, 1)))
    phi = np.degrees(np.arctan2(sy, sx)) % 360
    size = _marker_size(L)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=x, y=y, mode="markers", name="sites",
        marker=dict(size=size, color=sz, colorscale=SZ_SCALE, cmin=-1, cmax=1,  # outlines: ~20 ms more per draw at L = 40
                    line=dict(width=0.5 if L <= 24 else 0, color="#555"),
                    colorbar=dict(title="s<sub>z</sub>", thickness=12, len=0.8)),
        customdata=np.stack([row.ravel(), col.ravel(), theta, phi, sx, sy, sz], -1),
        hovertemplate="site (row %{customdata[0]}, col %{customdata[1]})<br>θ=%{customdata[2]:.0f}°, "
                      "φ=%{customdata[3]:.0f}°<br>s=(%{customdata[4]:.2f}, %{customdata[5]:.2f}, "
                      "%{customdata[6]:.2f})<extra></extra>",
        selected=dict(marker=dict(opacity=1.0)), unselected=dict(marker=dict(opacity=1.0)),
    ))
    fig.add_shape(type="path", path=_arrow_path(x, y, sx, sy), layer="above", fillcolor="#222",
                  line=dict(color="#222", width=1.4 if L <= 20 else 1.0))
    if highlight is not None and len(highlight):
        h = np.asarray(highlight, dtype=int).reshape(-1, 2)
        fig.add_trace(go.Scatter(x=h[:, 1], y=h[:, 0], mode="markers", hoverinfo="skip", name="edited",
                                 marker=dict(size=size * 1.25, color="rgba(0,0,0,0)",
                                             line=dict(width=2, color="#f5a300"))))
    return _lattice_layout(fig, L, height, title)


def ising_lattice(spins: np.ndarray, *, height: int = 420, title: str | None = None) -> go.Figure:
    """Ising spins (L, L) of +-1 as clickable discs with up/down triangles."""
    L = spins.shape[0]
    row, col = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
    s = spins.ravel()
    size = _marker_size(L) * 1.1
    fig = go.Figure(go.Scatter(
        x=col.ravel(), y=row.ravel(), mode="markers", name="sites",
        marker=dict(size=size, color=s, colorscale=[[0, "#2c7bb6"], [1, "#d7191c"]], cmin=-1, cmax=1,
                    symbol=np.where(s > 0, "triangle-up", "triangle-down"), line=dict(width=0.6, color="#333")),
        customdata=np.stack([row.ravel(), col.ravel(), s], -1),
        hovertemplate="site (row %{customdata[0]}, col %{customdata[1]})<br>s = %{customdata[2]:+.0f}"
                      "<br>click to flip<extra></extra>",
        selected=dict(marker=dict(opacity=1.0)), unselected=dict(marker=dict(opacity=1.0)),
    ))
    return _lattice_layout(fig, L, height, title)


def _heatmap(v: np.ndarray, colorscale: str, *, symmetric: bool = True, **trace) -> go.Heatmap:
    """One (L, L) map's trace: cells with a 1-px gap, hover "row, col: value", colour range symmetric around 0."""
    vmax = float(np.abs(v).max()) or 1.0
    kw = dict(zmin=-vmax, zmax=vmax) if symmetric else {}
    return go.Heatmap(z=v, colorscale=colorscale, **kw, xgap=1, ygap=1,
                      hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>", **trace)


def scalar_map(values: np.ndarray, *, title: str = "", height: int = 360, colorscale: str = FIELD_SCALE,
               symmetric: bool = True, text: bool | None = None, colorbar_title: str = "") -> go.Figure:
    """(L, L) heatmap, row 0 on top; symmetric colour range around 0 by default."""
    v = np.asarray(values, dtype=float)
    L = v.shape[0]
    show_text = (L <= 12) if text is None else text
    fig = go.Figure(_heatmap(
        v, colorscale, symmetric=symmetric, colorbar=dict(thickness=10, title=colorbar_title),
        text=np.vectorize(lambda t: f"{t + 0.0:.2g}")(np.round(v, 6) + 0.0) if show_text else None,
        texttemplate="%{text}" if show_text else None, textfont=dict(size=10),
    ))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=36, b=10), title=dict(text=title, font=dict(size=14)))
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", scaleratio=1)
    return fig


def scalar_maps(panels, *, height: int = 320, colorscale: str = FIELD_SCALE) -> go.Figure:
    """Side-by-side (L, L) heatmaps in one figure, ``panels`` = [(values, title), ...]; each map has its own
    symmetric colour range around 0 and its own colour bar (one chart instead of one per map)."""
    from plotly.subplots import make_subplots

    n = len(panels)
    fig = make_subplots(rows=1, cols=n, subplot_titles=[t for _, t in panels], horizontal_spacing=0.09)
    for i, (v, _) in enumerate(panels, start=1):
        dom = fig.layout[f"xaxis{'' if i == 1 else i}"].domain
        fig.add_trace(_heatmap(np.asarray(v, dtype=float), colorscale,
                               colorbar=dict(thickness=10, x=dom[1] + 0.005, xanchor="left", len=0.9)), 1, i)
        fig.update_xaxes(visible=False, constrain="domain", row=1, col=i)
        fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=f"x{'' if i == 1 else i}", scaleratio=1,
                         row=1, col=i)
    fig.update_annotations(font_size=14)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=36, b=10))
    return fig


def curves(history: dict[str, dict[str, list]], *, y: str, title: str, colours: dict, log_y: bool = True,
           y_title: str = "", height: int = 320, dash_key: str | None = None, x: str = "epoch") -> go.Figure:
    """Line chart of ``history[name][y]`` against ``history[name][x]`` (epoch or seconds) for every run.

    ``dash_key``: a second series per run drawn dotted (e.g. test loss next to train loss);
    ``colours``: run name -> colour.
    """
    fig = go.Figure()
    ys = []
    for name, h in history.items():
        color = colours[name]
        if h.get(y):
            fig.add_trace(go.Scatter(x=h[x], y=h[y], mode="lines+markers", name=f"{name}",
                                     line=dict(color=color, width=2), marker=dict(size=4)))
            ys += h[y]
        if dash_key and h.get(dash_key):
            fig.add_trace(go.Scatter(x=h[x], y=h[dash_key], mode="lines", name=f"{name} (test)",
                                     line=dict(color=color, width=2, dash="dot")))
            ys += h[dash_key]
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), title=title,
                      legend=dict(orientation="h", y=-0.25), xaxis_title="epoch" if x == "epoch" else "seconds of training",
                      yaxis_title=y_title)
    if log_y:
        fig.update_yaxes(**log_axis(ys))
    return fig


def chain_figure(spins: np.ndarray, *, kind: str = "binary", height: int = 480, title: str | None = None) -> go.Figure:
    """The 15 sites of the infinite-range 3-spin model on a circle (every triple interacts), coloured by s.

    Trace 0 is the selectable site trace; point i is site i.
    """
    n = len(spins)
    ang = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    x, y = np.cos(ang), np.sin(ang)
    fig = go.Figure(go.Scatter(
        x=x, y=y, mode="markers",
        marker=dict(size=38, color=spins, colorscale=SZ_SCALE, cmin=0 if kind == "binary" else -1, cmax=1,
                    line=dict(width=1, color="#333"), colorbar=dict(title="s", thickness=12, len=0.8)),
        customdata=np.stack([np.arange(n), spins], -1),
        hovertemplate="site %{customdata[0]}<br>s = %{customdata[1]:.3f}<extra></extra>",
        selected=dict(marker=dict(opacity=1.0)), unselected=dict(marker=dict(opacity=1.0)),
    ))
    for i in range(n):  # site numbers just outside the ring
        fig.add_annotation(x=1.17 * x[i], y=1.17 * y[i], text=str(i), showarrow=False, font=dict(size=12, color="#555"))
    # faint chords between all pairs (as shapes, below the sites): every site talks to every other
    for i in range(n):
        for j in range(i + 1, n):
            fig.add_shape(type="line", x0=x[i], y0=y[i], x1=x[j], y1=y[j], layer="below",
                          line=dict(color="rgba(120,120,120,0.15)", width=1))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=44, b=10), title=title,
                      dragmode=False, clickmode="event+select", showlegend=False, plot_bgcolor="rgba(0,0,0,0)")
    fig.update_xaxes(visible=False, range=[-1.3, 1.3], constrain="domain")
    fig.update_yaxes(visible=False, range=[-1.3, 1.3], scaleanchor="x", scaleratio=1)
    return fig
