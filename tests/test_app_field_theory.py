"""AppTest: the 'Field theory on neurons' page renders at its defaults and after changing controls."""

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "app/app_pages/field_theory.py")


def _run(at):
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_field_theory_page_renders_and_reacts():
    at = AppTest.from_file(PAGE, default_timeout=60)
    t = time.perf_counter()
    _run(at)
    first = time.perf_counter() - t
    assert at.title[0].value.endswith("Field theory on neurons")
    assert any("Honesty note" in w.value for w in at.warning)
    assert len(at.tabs) == 6
    # widgets -> rerun: switch architecture and counterterm, change the width
    at.radio(key="ft.ft_arch").set_value("α = 0 (±1 a, b ∝ propagator)")
    at.toggle(key="ft.ft_ct").set_value(True)
    at.select_slider(key="ft.ft_N").set_value(50)
    _run(at)
    assert any("counterterm" in c.value for c in at.caption)
    # d = 2 and the continuum ensemble
    at.radio(key="ft.ft_d").set_value(2)
    at.radio(key="ft.ft_box").set_value("continuum")
    _run(at)
    assert first < 60
