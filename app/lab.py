"""Lattice lab pieces: the energies table (networks at once, exact in the background), the symmetry
check and the inside view of a lattice network."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

from app import caching, plots, state
from efnn_core import analysis, solvers

# the energies panel's refresh while an exact solve waits or runs: each refresh is a script run on the server
# (~10-25 ms of its CPU at L = 40), so 30 waiting students at 2 Hz kept the server's one core busy
POLL_S = 1.0
BASELINES_MAX_L = 24  # SW3 ~50 ms and KPM ~0.1 s at L = 20 on this machine; 0.6-1 s at L = 40


def fmt_seconds(s) -> str:
    if s is None or not math.isfinite(s):
        return "–"
    return f"{s * 1e6:.0f} µs" if s < 1e-3 else (f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s")


def _per_config(key: tuple, compute):
    """``compute()`` once per key in this session (the latest few kept): the energies panel polls every
    0.5 s while an exact solve waits, and its measurements of one configuration do not change."""
    memo = st.session_state.setdefault("_lab_memo", {})
    if key not in memo:
        if len(memo) >= 16:
            memo.clear()
        memo[key] = compute()
    return memo[key]


def measured(key: tuple, info, spins: np.ndarray, entries, baselines) -> list[dict]:
    """Every model's (and, up to BASELINES_MAX_L, every fast solver's) energy and time for this configuration,
    measured once per configuration and model set (at L = 40, 18 models x 3 timed passes were ~0.1 s of
    server CPU per poll); errors are filled in against the exact result when it arrives."""
    def compute():
        rows = analysis.compare_models(spins, {e.name: e.model for e in entries})
        if baselines and spins.shape[0] <= BASELINES_MAX_L:  # SW3 and KPM rows, computed while the user waits
            rows += analysis.compare_solvers(caching.system_object(info.name), spins, methods=baselines)
        return rows
    return _per_config(("rows",) + key, compute)


def table(rows: list[dict]) -> pd.DataFrame:
    """The energies table shown: model, energy, error, relative error, time, speed-up (each model's name says
    its kind)."""
    df = pd.DataFrame(rows)
    df["time"] = df["seconds"].map(fmt_seconds)
    df["speed-up"] = df["speedup"].map(lambda v: "–" if v is None or not np.isfinite(v) else
                                       (f"{v:,.0f}×" if v >= 10 else f"{v:.1f}×"))
    return df[["model", "energy", "error", "rel_error", "time", "speed-up"]].rename(columns={"rel_error": "relative error"})


def energies(info, spins: np.ndarray, ood_ref) -> None:
    """Exact energy (or its progress), every model's energy, error and speed-up, sorted by error."""
    exact = caching.exact_now(info.name, spins)
    entries, problems = caching.models_for(info.name)
    for p in problems:
        st.warning(p)
    baselines = [m for m in solvers.available(caching.system_object(info.name)) if m != "ed"]
    key = (info.name, caching.spins_key(spins), tuple((e.name, id(e.model)) for e in entries), tuple(baselines))
    rows = analysis.with_exact(measured(key, info, spins, entries, baselines), exact)
    if baselines and spins.shape[0] > BASELINES_MAX_L:
        st.caption(f"SW3 and KPM rows are computed up to L = {BASELINES_MAX_L} here (above, each takes "
                   "0.1-1 s); the Methods page compares them at any L.")
    if exact is not None:
        m = st.columns(2)
        m[0].metric("Exact energy", f"{exact.energy:.5f}")
        m[1].metric("exact solve time", fmt_seconds(exact.seconds),
                    help="Wall time of the exact solve when it was computed (shared cache: a configuration "
                         "seen before is instant).")
        st.caption(f"{exact.energy / np.prod(spins.shape[:2] if info.view != 'chain' else spins.shape):.5f} per site. "
                   + info.summary)
    else:
        exact_progress(caching.pending(), spins.shape[0])
    if rows:
        df = _per_config(("table",) + key + (None if exact is None else (exact.energy, exact.seconds),),
                         lambda: table(rows))
        # A Markdown table, not st.dataframe: after an L = 40 edit it is in the page ~0.2 s after the click,
        # before chromium redraws the lattice (the data grid was committed only with the chart, 0.5-0.9 s).
        # Six narrow columns fit the half-width panel (the physics baselines' own error estimates: the caption).
        shown = df.assign(**{c: df[c].map(lambda v, f=f: "" if v is None or pd.isna(v) else f.format(v))
                             for c, f in {"energy": "{:.4f}", "error": "{:+.1e}", "relative error": "{:.1e}"}.items()})
        state.table(shown, st.container(key="lab_energies"), index=False)  # compact cells: app/state.py style()
        st.caption("error = model − exact; relative error = |model − exact| / |exact|; time: best of 3 forward "
                   "passes, batch 1, CPU; speed-up = exact time / model time."
                   + "".join(f" {r['model']}: a physics baseline, its own error estimate {r['estimate']:.1e}."
                             for r in rows if r.get("estimate") is not None))
        for r in rows:
            if r["problem"]:
                st.caption(f"{r['model']} does not apply here: {r['problem']}")
    else:
        st.info("No model for this system yet." + (" Train one on the Train page; it appears here for this session."
                                                  if info.trainable else ""), icon=":material/info:")
    if ood_ref is not None:
        d = _per_config(("distance", info.name, caching.spins_key(spins)),
                        lambda: analysis.training_distance(spins, ood_ref))
        worst = [r["rel_error"] for r in rows if r["rel_error"] is not None]
        errs = f" Median relative error of the networks here: {np.median(worst):.1e}." if worst else ""
        if d.outside:
            st.warning(f"Outside the training distribution: the {d.worst} is {d.z[d.worst]:+.0f} standard deviations "
                       f"from the training set's (random spins). Expect larger errors.{errs}", icon=":material/explore_off:")
        else:
            st.caption(f"Inside the training distribution (largest deviation: {d.worst}, {d.z[d.worst]:+.1f} σ).{errs}")


def exact_progress(job: dict | None, size: int) -> None:
    """The exact solve's place: queued (position k), running (x s of ≈y s), cancelled or failed; Cancel."""
    job = job or {"state": "queued", "position": None, "seconds": 0.0, "estimate": 0.0, "source": "", "size": size}
    m = st.columns([1, 1, 0.8], vertical_alignment="bottom")
    if job["state"] == "failed":
        st.error(f"The exact solve did not run: {job['error']}", icon=":material/error:")
        return
    if job["state"] == "cancelled":
        m[0].metric("Exact energy", "cancelled")
        m[1].button(":material/replay: Solve it", key="lab_exact_retry", on_click=caching.retry_exact,
                    help="Queue the exact solve of this configuration again.")
        return
    m[0].metric("Exact energy", "pending…")
    if job["state"] == "queued":
        where = f"position {job['position']}" if job.get("position") else "starting"
        m[1].metric("exact solve", f"queued: {where}", help="Heavy work of every user of this server shares a "
                    "few worker processes; yours starts when the ones before it end.")
        st.caption(f"Queued behind other users' work; then ≈{job['estimate']:.1f} s ({job['source']}). The networks' "
                   "energies below are already final.")
    else:
        m[1].metric("exact solve", f"running {job['seconds']:.1f} s of ≈{job['estimate']:.1f} s",
                    help=f"Estimate: {job['source']}.")
        st.progress(min(0.97, job["seconds"] / max(job["estimate"], 1e-6)),
                    text="The exact solve runs in a worker process; the networks' energies below are already final.")
    m[2].button(":material/cancel: Cancel", key="lab_exact_cancel", on_click=caching.cancel_exact,
                help="Stop this exact solve (queued or running).")


def symmetry(info, cfg, spins: np.ndarray) -> None:
    """Global rotation (vector spins) or flip (scalar spins): energies before and after."""
    st.subheader("Symmetry check")
    if info.view == "chain":
        st.caption("This system has no global spin symmetry to check here.")
        return
    entries = {e.name: e.model for e in caching.models_for(info.name)[0]}
    if info.view == "vector":
        st.caption("Rotating (or inverting) every spin by the same O(3) matrix R leaves the energy unchanged; the "
                   "lattice EFNN builds this in through its dot-product symmetrization layers.")
        seed = state.control("rot", st.number_input, "rotation seed", 7, state.parse_int(0, 10**6), min_value=0,
                             max_value=10**6)
        improper = state.control("inv", st.checkbox, "include inversion s → −s", False, state.parse_bool)
        op = f"{'R' if improper else 'r'}{int(seed)}"
    else:
        st.caption("Flipping every spin (s → −s) leaves every product sᵢsⱼ, hence the energy, unchanged.")
        op = "F"

    def go():
        from app import spinstate
        moved = spinstate.apply(spins, [op], view=info.view, values=info.values)
        st.session_state.lab_sym = analysis.symmetry_check(caching.system_object(info.name), spins, moved, entries)
        cfg.add(op)
    st.button(":material/3d_rotation: Transform all spins", on_click=go, width="stretch")
    if st.session_state.get("lab_sym"):
        st.dataframe(pd.DataFrame(st.session_state.lab_sym), hide_index=True, width="stretch", column_config={
            "E(S)": st.column_config.NumberColumn(format="%.6f"), "E(RS)": st.column_config.NumberColumn(format="%.6f"),
            "|difference|": st.column_config.NumberColumn(format="%.1e")})
        st.caption("The lattice now shows the transformed configuration; differences are float round-off.")


def inside(info, spins: np.ndarray) -> None:
    """Effective fields F_j, quasi-particles S_j and site energies of a chosen lattice network."""
    entries = [e for e in caching.models_for(info.name)[0] if hasattr(e.model, "intermediates")]
    if info.view == "chain" or not entries:
        return
    st.divider()
    st.subheader("Inside the network: effective fields Fⱼ and quasi-particles Sⱼ")
    entries.sort(key=lambda e: (e.arch != "efnn", e.source == "pretrained", e.name))  # EFNNs first
    k = st.columns([2, 1, 1])
    names = [e.name for e in entries]
    name = state.control("map", k[0].selectbox, "Model", names[0], state.parse_choice(names), options=names)
    entry = next(e for e in entries if e.name == name)
    maps(analysis.field_maps(entry.model, spins), entry.arch, k[1], k[2], key="lab_map")


def maps(inter: dict, arch: str, c_layer, c_chan, *, key: str, layer: int | None = None) -> None:
    """Three heat maps (F_j, S_j, site energy) of ``analysis.field_maps`` output, with layer/channel pickers."""
    n = len(inter.get("F", [])) or 1
    j = layer or (c_layer.slider("layer j", 1, n, n, key=f"{key}_layer") if n > 1 else 1)
    j = min(j, n)
    C = inter["F"][0].shape[0]
    chan = c_chan.selectbox("channel", ["sum"] + list(range(C)), key=f"{key}_chan")
    pick = (lambda a: a.sum(0)) if chan == "sum" else (lambda a: a[int(chan)])
    if arch == "efnn":
        st.caption("Fⱼ = fⱼ₋₁(Sⱼ₋₁) is the learned effective field each site feels, Sⱼ = gⱼ(Tⱼ(S₀)) ⊙ Fⱼ the "
                   "quasi-particles; the site energies are what the output layer sums to E.")
    else:
        st.caption(f"For a {arch}, F and S are just its hidden layers (the input does not re-enter multiplicatively), "
                   "so they are not effective fields; only the site energies keep their meaning.")
    Fj, Sj = pick(inter["F"][j - 1]), pick(inter["S"][j - 1])
    panels = [(v - v.mean(), f"{title} (mean {v.mean():.3g})") for v, title in (
        (Fj, f"F{j} − ⟨F{j}⟩"), (Sj, f"S{j} − ⟨S{j}⟩"), (inter["site_energy"], "site energy eᵢ − ⟨e⟩"))]
    # one chart of three maps: each chart the browser mounts costs ~50 ms of its main thread at L = 40
    st.plotly_chart(plots.scalar_maps(panels, height=320), key=f"{key}_maps", config={"displayModeBar": False})
