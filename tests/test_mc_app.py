"""The Monte Carlo page: renders, steps both methods, shows the agreement check and the surrogate RMSE."""

from __future__ import annotations

from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parent.parent / "app" / "app_pages" / "monte_carlo.py"


@pytest.mark.slow
def test_monte_carlo_page_steps_and_reports():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGE), default_timeout=120)
    at.run()
    assert not at.exception
    at.number_input[0].set_value(6).run()
    for _ in range(3):
        at.button[1].click().run()  # Step
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "ED-Metropolis: acceptance" in labels and "SLMC: acceptance" in labels
    assert any("per site; 3σ" in s.value for s in list(at.success) + list(at.warning))
    assert any("Surrogate RMSE" in c.value for c in at.caption)
    at.number_input[0].set_value(14).run()  # ED-Metropolis is not offered at L > 12
    assert any("L ≤ 12" in i.value for i in at.info) and not at.exception
