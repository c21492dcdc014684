"""efnn_core.analysis (what the explorer's pages compute) and the Trainer's step API, without Streamlit."""

from __future__ import annotations

import time

import numpy as np
import pytest

from efnn_core import analysis, data, metrics, pretrained, timing
from efnn_core.nets import build
from efnn_core.systems import get
from efnn_core.training import TrainConfig, Trainer


@pytest.fixture(scope="module")
def de_models():
    names = ["de_efnn_c3_n3", "de_dnn_c3_n1", "de_effective_translation"]
    return {n: pretrained.load(n)[0] for n in names if n in pretrained.list()}


def test_compare_models_against_exact_sorted_with_relative_errors(de_models):
    de = get("double_exchange")
    s = de.sample(10, 1, rng=3)[0]
    ex = analysis.exact(de, s)
    assert ex.energy == pytest.approx(float(de.energy(s)), abs=0) and ex.seconds > 0
    rows = analysis.compare_models(s, de_models, exact=ex)
    assert [r["model"] for r in rows] == sorted(de_models, key=lambda n: next(
        r["rel_error"] for r in rows if r["model"] == n))
    for r in rows:  # the same number as the one predict, the error against the exact energy
        assert r["energy"] == pytest.approx(metrics.predict(de_models[r["model"]], s[None])[0], rel=1e-6)
        assert r["error"] == pytest.approx(r["energy"] - ex.energy)
        assert r["rel_error"] == pytest.approx(abs(r["error"]) / abs(ex.energy))
        assert r["speedup"] == pytest.approx(ex.seconds / r["seconds"])
    pending = analysis.compare_models(s, de_models, exact=None)  # exact still computing: no errors yet
    assert all(r["error"] is None for r in pending) and all(np.isfinite(r["energy"]) for r in pending)
    late = analysis.with_exact(pending, ex)  # the rows measured while waiting, once the exact result arrives
    assert [r["model"] for r in late] == [r["model"] for r in rows]
    for a, b in zip(late, rows):
        assert a["energy"] == pytest.approx(b["energy"], rel=1e-12) and a["error"] == pytest.approx(b["error"])
        assert a["speedup"] == pytest.approx(ex.seconds / a["seconds"])
    assert all(r["error"] is None for r in pending), "with_exact leaves the measured rows as they were"


def test_a_model_that_does_not_apply_is_reported_not_raised():
    tiled = [n for n in pretrained.list() if "tiled" in n]
    if not tiled:
        pytest.skip("no tiled effective model shipped")
    rows = analysis.compare_models(get("double_exchange").sample(12, 1, 0)[0], {"t": pretrained.load(tiled[0])[0]})
    assert rows[0]["problem"] and not np.isfinite(rows[0]["energy"])


def test_symmetry_check_and_field_maps_sum_to_the_energy(de_models):
    de = get("double_exchange")
    s = de.sample(8, 1, rng=1)[0]
    from app._presets import random_rotation, rotate

    rows = analysis.symmetry_check(de, s, rotate(s, random_rotation(5, improper=True)), de_models)
    assert rows[0]["model"] == "exact" and rows[0]["|difference|"] < 1e-9
    assert all(r["|difference|"] < 1e-3 for r in rows)
    efnn = de_models["de_efnn_c3_n3"]
    maps = analysis.field_maps(efnn, s)
    assert len(maps["F"]) == len(maps["S"]) == 3 and maps["F"][0].shape == (3, 8, 8)
    assert maps["site_energy"].sum() == pytest.approx(metrics.predict(efnn, s[None])[0], abs=1e-3)
    assert analysis.field_maps(de_models["de_effective_translation"], s) is None
    assert analysis.describe(efnn) == "EFNN C=3 n=3" and analysis.parameter_count(efnn) > 0


def test_ising_decomposition_is_exact():
    s = np.where(np.random.default_rng(0).random((7, 7)) < 0.5, -1.0, 1.0)
    res = analysis.ising_decomposition(s)
    assert res["efnn"] == pytest.approx(res["exact"], abs=1e-9) == pytest.approx(res["sum_quasi"])
    np.testing.assert_allclose(res["quasi"], s * res["phi"])


def test_generalization_rows_are_metrics_evaluate(de_models):
    sets = {L: tuple(a[:20] for a in data.load(f"de_L{L}_test")) for L in (10, 20)}
    rows, problems = analysis.generalization(de_models, sets, temperature=0.1)
    assert not problems and len(rows) == 2 * len(de_models)
    r = next(r for r in rows if r["model"] == "de_efnn_c3_n3" and r["L"] == 20)
    m = metrics.evaluate(de_models["de_efnn_c3_n3"], *sets[20], temperature=0.1)
    assert r["rel_error"] == pytest.approx(m["rel_error"]) and r["rmse_per_L"] == pytest.approx(m["rmse"] / 20)


def test_training_distance_flags_ordered_textures_not_random_spins():
    X = data.load("de_L10_test")[0][:2000]
    de = get("double_exchange")
    flagged = [analysis.training_distance(de.sample(L, 1, rng=L + k)[0], X).outside
               for L in (10, 20, 40) for k in range(10)]
    assert sum(flagged) <= 1, "random spins, like the training set, are inside at every size"
    ferro = np.zeros((40, 40, 3))
    ferro[..., 2] = 1
    d = analysis.training_distance(ferro, X)
    assert d.outside and d.z[d.worst] > 20


def test_timed_energy_is_the_predicted_energy(de_models):
    s = get("double_exchange").sample(10, 1, rng=0)[0]
    for m in de_models.values():
        e, sec = timing.timed_energy(m, s, repeats=2)
        assert e == pytest.approx(metrics.predict(m, s[None])[0], rel=1e-6) and sec > 0


def test_trainer_step_api_and_busy_clock():
    X, Y = data.load("de_L10_test")
    tr = Trainer(build("efnn", "lattice", channels=1, layers=1), TrainConfig(epochs=2, batch_size=50, threads=1),
                 train=(X[:200], Y[:200]), test=(X[200:300], Y[200:300]), temperature=0.1)
    gen = tr.run(clock="busy")
    tr.request_event()
    first = next(gen)
    assert (first.kind, first.step) == ("step", 1)
    time.sleep(0.6)                       # held at an event: not counted on the busy clock
    tr.request_event()
    second = next(gen)
    assert second.step == 2 and second.elapsed - first.elapsed < 0.5
    third = next(gen)                     # no request: the rest of the epoch
    assert (third.kind, third.step) == ("epoch", 4)
    rest = list(gen)
    assert rest[-1].done and rest[-1].reason == "completed"
    with pytest.raises(ValueError):
        next(Trainer(build("efnn", "lattice", channels=1, layers=1), TrainConfig(epochs=1),
                     train=(X[:50], Y[:50])).run(clock="cpu"))


def test_compare_solvers_rows_match_the_exact_energy_within_their_estimates():
    """The Lattice lab's SW3 and KPM rows: each solver's error against ED is within a few times its own
    estimate, and systems without a band gap get no such rows."""
    from efnn_core import analysis, solvers
    from efnn_core.systems import get

    de = get("double_exchange")
    neel = np.ones((6, 6, 1)) * np.array([0.0, 0.0, 1.0]) * np.where(np.indices((6, 6)).sum(0) % 2, 1, -1)[..., None]
    for s in (de.sample(6, 1, 3)[0], neel):  # random spins; a Neel state (flat band at the Fermi level)
        exact = analysis.exact(de, s)
        rows = {r["model"]: r for r in analysis.compare_solvers(de, s, exact=exact)}
        assert set(rows) == {"SW3", "KPM"}
        for r in rows.values():
            assert r["problem"] is None and abs(r["error"]) <= 2 * r["estimate"] + 1e-9
    assert rows["KPM"]["rel_error"] < 1e-3
    assert solvers.available(get("heisenberg")) == ["ed"]
    assert analysis.compare_solvers(get("heisenberg"), get("heisenberg").sample(6, 1, 0)[0]) == []
