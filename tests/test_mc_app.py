"""The Monte Carlo page: renders, steps both methods (in a pool worker), shows the agreement check and the
surrogate RMSE; a queued comparison shows its position."""

from __future__ import annotations

import os
import time
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
        at.button[1].click().run()  # Step: sent to the chains' worker process
    run = at.session_state["mc_run"]
    assert run.job._proc is not None and run.job._proc.pid != os.getpid(), "the chains run in a worker"
    t0 = time.time()
    while time.time() - t0 < 120:  # step until ED-Metropolis is past its burn-in (a loaded machine: more steps)
        while (run.pending or run.view is None) and time.time() - t0 < 120:
            time.sleep(0.3)
            at.run()
        at.run()
        if any("per site; 3σ" in s.value for s in list(at.success) + list(at.warning)):
            break
        at.button[1].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    labels = [m.label for m in at.metric]
    assert "ED-Metropolis: acceptance" in labels and "SLMC: acceptance" in labels
    assert any("per site; 3σ" in s.value for s in list(at.success) + list(at.warning))
    assert any("Surrogate RMSE" in c.value for c in at.caption)
    at.number_input[0].set_value(14).run()  # ED-Metropolis is not offered at L > 12
    assert any("L ≤ 12" in i.value for i in at.info) and not at.exception
    assert run.job.wait(10).state == "cancelled", "a new key ends the old chains' job"
