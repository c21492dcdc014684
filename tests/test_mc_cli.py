"""``python -m efnn_core mc``: outputs, summary fields, resume, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from efnn_core.cli import main

FIELDS = ("mean_per_site", "error_per_site", "acceptance", "tau_int", "ess", "rhat", "ess_per_second", "ed_calls",
          "seconds")


def test_mc_writes_traces_spins_and_summary(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["mc", "--method", "ed,slmc", "--L", "5", "--sweeps", "12", "--chains", "4", "--seed", "1",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ESS/s" in text and "SLMC - ED" in text
    doc = json.loads((out / "summary.json").read_text())
    for method in ("ed", "slmc"):
        assert all(k in doc[method] for k in FIELDS), doc[method]
        assert np.load(out / f"final_spins_{method}.npy").shape == (4, 5, 5, 3)
        rows = (out / f"traces_{method}.csv").read_text().splitlines()
        assert rows[0].startswith("chain,unit,sweep,energy") and len(rows) == 1 + 4 * 12
    assert doc["slmc"]["ed_calls"] == 4 * (12 + 1)  # one ED per cumulative update (+ the start)
    first = (out / "traces_ed.csv").read_text()
    # rerunning on the same folder resumes from the finished checkpoint: the same numbers, no new work
    assert main(["mc", "--method", "ed", "--L", "5", "--sweeps", "12", "--chains", "4", "--seed", "1",
                 "--out", str(out)]) == 0
    assert (out / "traces_ed.csv").read_text() == first


@pytest.mark.parametrize("args, msg", [
    (["--L", "2"], "L must be"),
    (["--sweeps", "0"], "sweeps must be positive"),
    (["--method", "slmc", "--surrogate", "no_such_model"], "no surrogate"),
    (["--method", "slmc", "--surrogate", "spin_binary_efnn_w30_l1"], "three_spin"),
    (["--method", "hmc"], "--method"),
], ids=["L<3", "sweeps<=0", "missing-model", "other-system", "bad-method"])
def test_mc_bad_input_is_one_line_exit_2(tmp_path, capsys, args, msg):
    assert main(["mc", "--out", str(tmp_path / "x"), "--sweeps", "4", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and msg in err[-1] and "Traceback" not in "".join(err)


def test_mc_nan_start_spins(tmp_path, capsys):
    bad = np.full((5, 5, 3), np.nan)
    np.save(tmp_path / "bad.npy", bad)
    assert main(["mc", "--method", "ed", "--L", "5", "--sweeps", "4", "--start", str(tmp_path / "bad.npy"),
                 "--out", str(tmp_path / "x")]) == 2
    assert "NaN" in capsys.readouterr().err


def test_mc_learn_prints_rounds_and_saves_the_surrogate(tmp_path, capsys):
    assert main(["mc", "learn", "--L", "6", "--rounds", "2", "--sweeps", "8", "--chains", "2",
                 "--surrogate", "de_effective_translation", "--out", str(tmp_path / "learn")]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("round")]
    assert len(lines) == 2 and "acceptance" in lines[0] and " T" in lines[0]
    assert (tmp_path / "learn" / "surrogate.json").is_file()
