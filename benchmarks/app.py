"""Responsiveness of the Streamlit explorer, measured with streamlit.testing (AppTest) in this process.

1. First render of every page in a new session, caches cleared (imports already loaded; the very first
   render in a cold process, which also imports torch, is reported separately).  Budget: 3 s.
2. A spin edit at L = 10 on the Lattice lab to updated ED and model energies.  Budget: 0.5 s.
   (a) the computation alone: exact diagonalization of the edited lattice (cache miss) plus one forward
       pass (batch 1) of every model shown: the pretrained ones and an EFNN C=3, n=3 added as a session
       model; (b) the whole page rerun after the edit (AppTest: widgets, ED, models, figures).

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
PAGES = ["overview", "lattice_lab", "train", "generalization", "architecture"]
if (ROOT / "app" / "app_pages" / "field_theory.py").exists():
    PAGES.append("field_theory")
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
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].value}")
    return dt


def session_efnn():
    from app import _ui
    from efnn_core.nets import build
    from efnn_core.training import Standardized

    net = build("efnn", "lattice", channels=3, layers=3, seed=0)
    model = Standardized(net, scale=1.0, offset_per_site=-0.51).eval()
    return _ui.ModelEntry("efnn-C3-n3 (bench)", "session", model, {"system": "double_exchange"}, uid="bench")


def edit_compute(repeats: int) -> dict:
    """ED of a freshly edited 10x10 lattice (cache miss) + one forward pass of every model."""
    import numpy as np

    from app import _presets, _ui
    from efnn_core.systems import DoubleExchange

    entries = [session_efnn()] + [_ui.pretrained(n) for n in _ui.pretrained_names()
                                  if _ui.pretrained(n).system == "double_exchange"]
    de = DoubleExchange()
    spins = _presets.heisenberg("random", 10, 0)
    ed_t, nn_t, total = [], [], []
    for k in range(repeats):
        spins = _presets.flip(spins, [(k % 10, (3 * k) % 10)])
        t0 = time.perf_counter()
        de.energy(spins)
        t1 = time.perf_counter()
        for e in entries:
            _ui.model_energy(e, spins, repeats=1)
        t2 = time.perf_counter()
        ed_t.append(t1 - t0)
        nn_t.append(t2 - t1)
        total.append(t2 - t0)
    return {"models": len(entries), "ed": statistics.median(ed_t), "nets": statistics.median(nn_t),
            "total": statistics.median(total), "max": max(total)}


def edit_page(repeats: int) -> dict:
    """Full Lattice-lab rerun after "apply the tool to a block" (an edit of 4 sites, a new lattice)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("app_pages/lattice_lab.py").run()
    entry = session_efnn()
    at.session_state["session_models"] = {entry.name: entry}
    at.run()
    at.radio(key="lab_mode").set_value("Flip").run()
    times = []
    for k in range(repeats):
        at.slider(key="lab_rows").set_value((k % 9, k % 9 + 1))
        btn = at.button(key="lab_apply_block")
        t = time.perf_counter()
        btn.click().run()
        times.append(time.perf_counter() - t)
        if at.exception:
            raise RuntimeError(at.exception[0].value)
    models = len(at.dataframe[0].value) if len(at.dataframe) else 0
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
    c = edit_compute(max(args.repeats, 10))
    ok &= c["max"] < EDIT_BUDGET
    print(f"spin edit at L=10, computation: ED {c['ed'] * 1e3:.1f} ms + {c['models']} model(s) "
          f"{c['nets'] * 1e3:.1f} ms = {c['total'] * 1e3:.1f} ms median, {c['max'] * 1e3:.1f} ms max "
          f"(budget {EDIT_BUDGET * 1e3:.0f} ms) {'ok' if c['max'] < EDIT_BUDGET else 'OVER'}")
    p = edit_page(args.repeats)
    ok &= p["median"] < EDIT_BUDGET
    print(f"spin edit at L=10, whole Lattice-lab rerun with {p['models']} model row(s): "
          f"{p['median'] * 1e3:.0f} ms median, {p['max'] * 1e3:.0f} ms max "
          f"(budget {EDIT_BUDGET * 1e3:.0f} ms) {'ok' if p['median'] < EDIT_BUDGET else 'OVER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
