"""The configuration a page edits, held as URL-backed text (``spinstate``), and its clickable figure."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app import _presets, plots, spinstate, state


def selected_sites(sel, L: int | None = None) -> list[int]:
    """Row-major site indices of a plotly selection state: trace 0 has one point per site; on a lattice
    (``L`` given) a point of another trace (an arrow head drawn over a site) counts for the nearest site."""
    try:
        points = sel.selection.points
    except AttributeError:
        try:
            points = sel["selection"]["points"]
        except (KeyError, TypeError):
            return []
    out = []
    for p in points or []:
        idx = p.get("point_index", p.get("point_number"))
        if p.get("curve_number", 0) == 0 and idx is not None:
            out.append(int(idx))
        elif L and p.get("x") is not None and p.get("y") is not None:
            r, c = int(round(float(p["y"]))), int(round(float(p["x"])))
            if 0 <= r < L and 0 <= c < L:
                out.append(r * L + c)
    return sorted(set(out))


class Config:
    """The edited configuration of page ``prefix``: base (preset+options, or an encoded array) plus edits.

    URL keys: ``edits`` (the edit list, joined by ".") and ``arr`` (an uploaded array)."""

    def __init__(self, prefix: str, *, view: str, values: str, size: int, preset: str, seed: int, **options):
        self.prefix, self.view, self.values, self.size = prefix, view, values, size
        self.preset, self.seed, self.options = preset, seed, options
        self.edits = [x for x in state.value("edits", "", str).split(".") if x]
        self.array_text = state.value("arr", "", str)

    def base(self) -> np.ndarray:
        if self.array_text:
            try:
                arr = spinstate.decode_array(self.array_text)
                if arr.shape[0] == self.size:
                    return arr
            except ValueError as err:
                state.say("warning", f"The configuration in the URL was ignored: {err}")
            self.set_array(None)
        return spinstate.preset(self.view, self.values, self.preset, self.size, self.seed, **self.options)

    def spins(self) -> np.ndarray:
        key = (self.view, self.values, self.size, self.preset, self.seed, tuple(sorted(self.options.items())),
               self.array_text, tuple(self.edits))
        memo = st.session_state.setdefault(f"_{self.prefix}memo", {})
        if key not in memo:
            try:
                memo.clear()
                memo[key] = spinstate.apply(self.base(), self.edits, view=self.view, values=self.values)
            except ValueError as err:
                state.say("warning", f"The edits in the URL were ignored: {err}")
                self.set_edits([])
                memo[key] = self.base()
        return memo[key]

    def set_edits(self, edits: list[str]) -> None:
        self.edits = list(edits)[-spinstate.MAX_EDITS:]
        state.keep("edits", ".".join(self.edits))

    def add(self, op: str) -> None:
        self.set_edits(self.edits + [op])

    def undo(self) -> None:
        self.set_edits(self.edits[:-1])

    def set_array(self, arr) -> None:
        self.array_text = "" if arr is None else spinstate.encode_array(arr)
        state.keep("arr", self.array_text)
        self.set_edits([])

    def mask(self, indices) -> str:
        n = self.size if self.view == "chain" else self.size * self.size
        return spinstate.mask_of(indices, n)


def figure(spins: np.ndarray, view: str, values: str, *, height: int = 480, highlight=None):
    if view == "chain":
        return plots.chain_figure(spins, kind=values or "binary", height=height)
    if view == "scalar":
        return plots.ising_lattice(spins, height=height)
    return plots.spin_lattice(spins, height=height, highlight=highlight)


# Box select is the lattice's default drag (dragmode "select"). Streamlit's chart then sets plotly's clickmode
# to "event" (its frontend: a click in select mode would otherwise start a selection), so a click on a site
# reaches Python neither as a selection nor as a click (it forwards clicks only for treemap-like charts). This
# bridge listens to the chart's own plotly_click and sends the clicked point; it ignores clicks while the
# user has switched the drag to pan or zoom in the toolbar, where Streamlit's click-to-select works.
_CLICKS_JS = """
export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  const box = parentElement.closest('[data-testid="stElementContainer"]');
  if (box) box.style.display = 'none';
  let tries = 0;
  const attach = () => {
    const gd = document.querySelector('.st-key-' + data.chart + ' .js-plotly-plot');
    if (!gd || !gd.on) { if (tries++ < 400) setTimeout(attach, 25); return; }
    if (gd.__efnnClicks) return;
    gd.__efnnClicks = true;
    gd.on('plotly_click', (ev) => {
      const mode = gd._fullLayout && gd._fullLayout.dragmode;
      if (mode !== 'select' && mode !== 'lasso') return;  // Streamlit's own click-to-select handles it
      const p = ev && ev.points && ev.points[0];
      if (!p) return;
      setTriggerValue('site', {curve: p.curveNumber, point: p.pointNumber, x: p.x, y: p.y, t: Date.now()});
    });
  };
  attach();
}
"""
_CLICKS = st.components.v2.component("efnn_lattice_clicks", js=_CLICKS_JS, isolate_styles=False)


def clicked_site(value, L: int | None = None) -> list[int]:
    """The site of a click sent by the bridge: trace 0's point, or (on a lattice) the site under another
    trace's point."""
    if not isinstance(value, dict):
        return []
    return selected_sites({"selection": {"points": [{"curve_number": value.get("curve", 0), "point_index":
                                                      value.get("point"), "x": value.get("x"), "y": value.get("y")}]}}, L)


def clickable(fig, name: str, on_sites, L: int | None = None) -> None:
    """A lattice whose clicks / box / lasso selections call ``on_sites(indices)`` (trace 0, row-major).
    Dragging draws a box (the default) or a lasso; a click edits one site (through the bridge above).
    The chart key changes after each applied edit, so the same site can be clicked again."""
    counter = f"_{name}_edits"
    st.session_state.setdefault(counter, 0)
    key = f"{name}_{st.session_state[counter]}"

    def edit(sites):
        if sites:
            on_sites(sites)
            st.session_state[counter] += 1

    def apply():
        edit(selected_sites(st.session_state.get(key), L))

    def click():
        edit(clicked_site(getattr(st.session_state.get(f"{name}_click"), "site", None), L))

    st.plotly_chart(fig, key=key, on_select=apply, selection_mode=("points", "box", "lasso"),
                    config={"displaylogo": False, "modeBarButtonsToRemove": ["toImage", "autoScale2d"],
                            "scrollZoom": False})
    _CLICKS(key=f"{name}_click", data={"chart": key}, on_site_change=click)


PRESET_LABELS = _presets.LABELS
