"""Responsiveness of the Streamlit explorer, measured with streamlit.testing (AppTest) in this process.

1. First render of every page in a new session, caches cleared (imports already loaded; the very first
   render in a cold process, which also imports torch, is reported separately).  Budget: 3 s.
2. A spin edit on the Lattice lab at L = 10 and L = 40: every network's energy (batch 1: the pretrained
   models and an EFNN C=3, n=3 added as a session model), budget 0.5 s; the exact solve beside it (the
   page runs it in the background when it is longer than ~0.4 s); and the whole page rerun after an edit
   at L = 10 (AppTest: widgets, models, figures).

    python benchmarks/app.py            # ~1 minute on 2 cores
    python benchmarks/app.py --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# this file is itself called app.py: drop its folder from the path so that `import app` finds the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

APP = str(ROOT / "app" / "streamlit_app.py")
PAGES = ["overview", "lessons", "lattice_lab", "train", "generalization", "architecture", "field_theory", "monte_carlo",
         "methods", "sweeps"]
RENDER_BUDGET, EDIT_BUDGET = 3.0, 0.5


def clear_caches():
    import streamlit as st
    import streamlit.logger

    streamlit.logger.set_log_level("error")  # clearing caches outside a server warns "missing ScriptRunContext"
    st.cache_data.clear()
    st.cache_resource.clear()


def first_render(page: str) -> float:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    if page == "overview":
        clear_caches()
        t = time.perf_counter()
        at.run()
    else:
        at.run()
        clear_caches()
        at.switch_page(f"app_pages/{page}.py")
        t = time.perf_counter()
        at.run()
    dt = time.perf_counter() - t
    if "mc_run" in at.session_state and at.session_state["mc_run"] is not None:
        at.session_state["mc_run"].cancel()  # the chains the Monte Carlo page queued in the job pool
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].value}")
    return dt


def session_efnn():
    from app import caching
    from efnn_core.nets import build
    from efnn_core.training import Standardized

    net = build("efnn", "lattice", channels=3, layers=3, seed=0)
    model = Standardized(net, scale=1.0, offset_per_site=-0.51).eval()
    return caching.ModelEntry("efnn-C3-n3 (bench)", "session", model, {"system": "double_exchange"}, uid="bench")


def edit_compute(repeats: int, L: int = 10) -> dict:
    """A freshly edited L x L lattice: every network's energy (batch 1, ``analysis.compare_models``, what the
    page shows at once) and the exact solve (which the page runs in the background above ~0.4 s)."""
    from app import _presets, caching
    from efnn_core import analysis
    from efnn_core.systems import get

    entries = [session_efnn()] + caching.models_for("double_exchange")[0]
    models = {e.name: e.model for e in entries}
    de = get("double_exchange")
    spins = _presets.heisenberg("random", L, 0)
    ed_t, nn_t = [], []
    for k in range(repeats):
        spins = _presets.flip(spins, [(k % L, (3 * k) % L)])
        t0 = time.perf_counter()
        analysis.compare_models(spins, models, exact=None, repeats=1)
        t1 = time.perf_counter()
        nn_t.append(t1 - t0)
        if k < (repeats if L <= 20 else 1):
            analysis.exact(de, spins)
            ed_t.append(time.perf_counter() - t1)
    return {"models": len(entries), "ed": statistics.median(ed_t), "nets": statistics.median(nn_t),
            "max": max(nn_t)}


def edit_page(repeats: int) -> dict:
    """Full Lattice-lab rerun after an edit of 4 sites (a new lattice, URL edits updated)."""
    from streamlit.testing.v1 import AppTest

    from app import spinstate

    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("app_pages/lattice_lab.py").run()
    entry = session_efnn()
    at.session_state["session_models"] = {entry.name: entry}
    at.run()
    times = []
    for k in range(repeats):
        at.session_state["lab.edits"] = ".".join(f"f~{spinstate.mask_of([j, j + 1, j + 10, j + 11], 100)}"
                                                 for j in range(k + 1))
        t = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t)
        if at.exception:
            raise RuntimeError(at.exception[0].value)
    from app import state

    shown = [t for t in (state.read_table(m.value) for m in at.markdown) if t is not None]
    models = len(shown[0]) if shown else 0
    return {"models": models, "median": statistics.median(times), "max": max(times)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    t = time.perf_counter()
    from streamlit.testing.v1 import AppTest

    cold_at = AppTest.from_file(APP, default_timeout=120)
    cold_at.run()
    cold = time.perf_counter() - t
    if cold_at.exception:
        raise RuntimeError(cold_at.exception[0].value)
    print(f"cold start (imports incl. torch + first Overview render): {cold:.2f} s")
    print()
    print(f"{'page':<16} {'first render (s), median of ' + str(args.repeats):>30} {'max':>8}  budget {RENDER_BUDGET:.0f} s")
    ok = True
    for page in PAGES:
        ts = [first_render(page) for _ in range(args.repeats)]
        med, mx = statistics.median(ts), max(ts)
        ok &= mx < RENDER_BUDGET
        print(f"{page:<16} {med:>30.3f} {mx:>8.3f}  {'ok' if mx < RENDER_BUDGET else 'OVER'}")
    print()
    for L in (10, 40):
        c = edit_compute(max(args.repeats, 10), L)
        ok &= c["max"] < EDIT_BUDGET
        print(f"spin edit at L={L}: {c['models']} network energies {c['nets'] * 1e3:.1f} ms median, "
              f"{c['max'] * 1e3:.1f} ms max (budget {EDIT_BUDGET * 1e3:.0f} ms) {'ok' if c['max'] < EDIT_BUDGET else 'OVER'}; "
              f"exact solve {c['ed']:.3f} s ({'background' if c['ed'] > 0.4 else 'inline'})")
    p = edit_page(args.repeats)
    ok &= p["median"] < EDIT_BUDGET
    print(f"spin edit at L=10, whole Lattice-lab rerun with {p['models']} model row(s): "
          f"{p['median'] * 1e3:.0f} ms median, {p['max'] * 1e3:.0f} ms max "
          f"(budget {EDIT_BUDGET * 1e3:.0f} ms) {'ok' if p['median'] < EDIT_BUDGET else 'OVER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
