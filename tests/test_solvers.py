"""SW and KPM against ED, analytic limits and the model's symmetries; the solver registry; bad input."""

import time

import numpy as np
import pytest

from efnn_core.solvers import SOLVERS, UnknownSolver, kpm, solve, sw3
from efnn_core.solvers import _native
from efnn_core.systems import DoubleExchange, Ising2D

DE = DoubleExchange()


def ferromagnet(L, direction=(0.3, -0.5, 0.8)):
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    return np.broadcast_to(d, (L, L, 3)).copy()


def ferromagnet_energy(system, L):
    """E_MC from the analytic spectrum: -2t(cos kx + cos ky) -+ J/2 - mu, k on the L x L grid."""
    k = 2 * np.pi * np.arange(L) / L
    band = -2 * system.t * (np.cos(k)[:, None] + np.cos(k)[None, :]).ravel()
    levels = np.concatenate([band - system.J / 2, band + system.J / 2]) - system.mu
    return float(system.energy_from_eigenvalues(levels))


def rotation(rng, proper=True):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q if proper else -q


# ---------------------------------------------------------------- registry


def test_registry_lists_the_solvers_and_solve_returns_a_timed_result():
    assert {"ed", "sw3", "kpm"} <= set(SOLVERS)
    spins = DE.sample(6, 3, 0)
    exact = solve(DE, spins, "ed")
    for method in ("sw3", "kpm"):
        r = solve(DE, spins, method)
        assert r.energy.shape == (3,) and r.error.shape == (3,) and r.seconds > 0
        assert np.all(np.abs(r.energy - exact.energy) < 5e-3 * np.abs(exact.energy))
    one = solve(DE, spins[0], "kpm")
    assert isinstance(one.energy, float) and isinstance(one.error, float)
    with pytest.raises(UnknownSolver, match="unknown solver 'lanczos'"):
        solve(DE, spins, "lanczos")


# ---------------------------------------------------------------- Schrieffer-Wolff


@pytest.mark.parametrize("order", [1, 2, 3])
def test_sw_error_falls_with_J_at_the_order_it_claims(order):
    """Error of the order-n expansion ~ t (t/J)^n: the log-log slope against J is -n.

    mu follows the lower band (mu = -J/2 - 0.3, the paper's filling), so only t/J changes."""
    spins = DE.sample(4, 1, 3)[0]
    Js = np.array([32.0, 64.0, 128.0, 256.0])
    errors = []
    for J in Js:
        de = DoubleExchange(J=J, mu=-J / 2 - 0.3)
        errors.append(abs(sw3.energy(de, spins, order=order).energy - de.energy(spins)))
    slope = np.polyfit(np.log(Js), np.log(errors), 1)[0]
    assert slope == pytest.approx(-order, abs=0.3), errors


def test_sw_error_estimate_tracks_the_true_error():
    spins = DE.sample(6, 6, 1)
    exact = DE.energy(spins)
    for order in (1, 2, 3):
        r = sw3.energy(DE, spins, order=order)
        ratio = np.sqrt(np.mean((r.energy - exact) ** 2) / np.mean(r.error ** 2))
        assert 0.3 < ratio < 3, (order, ratio)
    assert np.sqrt(np.mean((r.energy - exact) ** 2)) / abs(exact.mean()) < 3e-4  # the order-3 goal


@pytest.mark.parametrize("order", [1, 2, 3])
def test_sw_is_exact_for_the_ferromagnet(order):
    """Parallel spins do not mix the bands (<up_i|down_j> = 0), so every order is exact."""
    r = sw3.energy(DE, ferromagnet(6), order=order)
    assert r.energy == pytest.approx(ferromagnet_energy(DE, 6), abs=1e-10)
    assert r.error < 1e-6 * abs(r.energy)  # only the complex64 rounding of the next-order check


def test_sw_is_invariant_under_rotations_and_translations(rng):
    spins = DE.sample(6, 1, 2)[0]
    e = sw3.energy(DE, spins).energy
    for proper in (True, False):
        assert sw3.energy(DE, spins @ rotation(rng, proper).T).energy == pytest.approx(e, abs=1e-9)
    assert sw3.energy(DE, np.roll(spins, (2, -1), axis=(0, 1))).energy == pytest.approx(e, abs=1e-9)


def test_sw_upper_band_is_included_when_it_matters():
    """mu inside the upper band: the lower-band-only answer would be far off; the mirror expansion fixes it."""
    de = DoubleExchange(J=40.0, mu=18.0)
    spins = DE.sample(5, 1, 4)[0]
    exact = de.energy(spins)
    r = sw3.energy(de, spins)
    assert abs(r.energy - exact) < 1e-3 * abs(exact)
    assert abs(r.energy - exact) < 3 * r.error + 1e-9


# ---------------------------------------------------------------- KPM


def test_kpm_is_exact_for_the_ferromagnet_with_exact_probing():
    """distance >= L: every site its own colour, the trace is exact; what is left is the truncation."""
    L = 6
    exact = ferromagnet_energy(DE, L)
    r = kpm.energy(DE, ferromagnet(L), moments=400, distance=L)
    assert abs(r.energy - exact) < 1e-7
    assert r.details["probe_error"][0] < 1e-9
    assert abs(r.energy - exact) <= r.error


def test_kpm_ferromagnet_with_probing_is_within_its_error_estimate():
    L = 12
    exact = ferromagnet_energy(DE, L)
    r = kpm.energy(DE, ferromagnet(L), distance=4, seed=3)
    assert abs(r.energy - exact) < 4 * r.error
    assert abs(r.energy - exact) / abs(exact) < 1e-3


def test_kpm_converges_to_ed_as_moments_grow():
    spins = DE.sample(6, 1, 5)[0]
    exact = DE.energy(spins)
    errs, tails = [], []
    for M in (100, 200, 300, 400):
        r = kpm.energy(DE, spins, moments=M, distance=6)  # exact probing: only the truncation is left
        errs.append(abs(r.energy - exact))
        tails.append(r.error)
    assert errs[0] > 10 * errs[2] > 0 and errs[3] < 1e-7
    assert all(e <= 3 * t for e, t in zip(errs, tails))


def test_kpm_converges_to_ed_as_probing_grows():
    spins = DE.sample(12, 1, 6)[0]
    exact = DE.energy(spins)
    errs, ests = [], []
    for d in (1, 2, 4, 6, 12):
        r = kpm.energy(DE, spins, moments=300, distance=d, seed=1)
        errs.append(abs(r.energy - exact))
        ests.append(r.error)
    assert errs[0] > 30 * errs[3] and errs[4] < 1e-5
    assert all(e < 4 * s for e, s in zip(errs, ests))
    assert ests == sorted(ests, reverse=True)


@pytest.mark.slow
def test_kpm_defaults_meet_the_accuracy_goal_against_ed():
    spins = DE.sample(20, 3, 7)
    exact = DE.energy(spins)
    r = kpm.energy(DE, spins)
    rel = np.sqrt(np.mean((r.energy - exact) ** 2)) / abs(exact.mean())
    assert rel < 1e-5
    assert np.all(np.abs(r.energy - exact) < 4 * r.error)


def test_kpm_rotations_are_exact_and_translations_within_the_error(rng):
    """The same spatial phases probe both spin components, so a global O(3) rotation (proper or not)
    changes nothing but rounding; a translation moves the spins past fixed random phases."""
    spins = DE.sample(8, 1, 8)[0]
    r = kpm.energy(DE, spins, distance=4, seed=2)
    for proper in (True, False):
        assert kpm.energy(DE, spins @ rotation(rng, proper).T, distance=4, seed=2).energy == pytest.approx(
            r.energy, abs=1e-9)
    shifted = kpm.energy(DE, np.roll(spins, (3, 1), axis=(0, 1)), distance=4, seed=2)
    assert abs(shifted.energy - r.energy) < 4 * np.hypot(r.error, shifted.error)
    assert kpm.energy(DE, spins, distance=4, seed=2).energy == r.energy  # same seed, same answer


def test_kpm_compiled_kernel_equals_numpy_fallback(monkeypatch):
    spins = DE.sample(7, 1, 9)[0]
    if _native.library() is None:
        pytest.skip("no C compiler here: only the numpy path exists")
    fast = kpm.energy(DE, spins, distance=3, workers=2, block=5)
    monkeypatch.setattr(_native, "library", lambda: None)
    slow = kpm.energy(DE, spins, distance=3, workers=1)
    assert fast.energy == pytest.approx(slow.energy, abs=1e-10)
    assert fast.error == pytest.approx(slow.error, rel=1e-6)


def test_colouring_keeps_equal_colours_apart():
    for L, d in [(10, 3), (64, 10), (40, 10), (7, 10)]:
        colours, count = kpm.colouring(L, d)
        assert count == len(np.unique(colours))
        r, c = np.nonzero(colours == colours[0, 0])
        dr = np.minimum(r % L, (-r) % L)
        dc = np.minimum(c % L, (-c) % L)
        others = (dr + dc) > 0
        assert np.all((dr[others] >= min(d, L)) | (dr[others] == 0))
        assert np.all((dc[others] >= min(d, L)) | (dc[others] == 0))
    assert kpm.colouring(40, 10)[1] == 100


def test_spectral_bounds_contain_the_spectrum():
    spins = DE.sample(6, 1, 10)[0]
    lo, hi = kpm.spectral_bounds(DE, spins)
    ev = DE.eigenvalues(spins)
    assert lo <= ev.min() and ev.max() <= hi


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("method,options,match", [
    ("sw3", dict(order=4), "order must be one of"),
    ("sw3", dict(order=True), "order must be one of"),
    ("kpm", dict(moments=1), "moments must be between"),
    ("kpm", dict(distance=0), "distance"),
    ("kpm", dict(sets=1), "sets must be >= 2"),
    ("kpm", dict(moments=10 ** 9), "moments must be between"),
])
def test_bad_options_raise_value_error(method, options, match):
    with pytest.raises(ValueError, match=match):
        solve(DE, DE.sample(4, 1, 0)[0], method, **options)


@pytest.mark.parametrize("method", ["sw3", "kpm"])
def test_bad_spins_and_systems_raise_value_error(method):
    fn = {"sw3": sw3.energy, "kpm": kpm.energy}[method]
    with pytest.raises(ValueError, match="unit vectors"):
        fn(DE, 2 * DE.sample(4, 1, 0)[0])
    with pytest.raises(ValueError, match="NaN"):
        fn(DE, np.full((4, 4, 3), np.nan))
    with pytest.raises(ValueError, match="shape"):
        fn(DE, np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match="double exchange"):
        fn(Ising2D(), DE.sample(4, 1, 0)[0])


def test_sw_refuses_a_gapless_model():
    with pytest.raises(ValueError, match="J > 8"):
        sw3.energy(DoubleExchange(J=6.0), DE.sample(4, 1, 0)[0])


# ---------------------------------------------------------------- datasets, frontier, page


def test_solver_labelled_dataset_records_its_error_and_loads(tmp_path):
    from efnn_core import data

    opts = dict(moments=200, distance=3)
    m = data.generate("de_kpm_tiny", L=6, count=3, seed=5, solver="kpm", options=opts, out_dir=tmp_path,
                      progress=False)
    assert m["solver"] == "kpm" and m["solver_options"] == opts
    spins, energies = data.load("de_kpm_tiny", tmp_path)
    exact = DE.energy(spins)
    rms = np.sqrt(np.mean((energies - exact) ** 2))
    assert 0 < m["label_error"]["rms_abs"] and rms < 4 * m["label_error"]["rms_abs"]
    with np.load(tmp_path / "de_kpm_tiny.npz") as z:
        assert z["errors"].shape == (3,)


def test_frontier_measures_every_method_on_the_same_configurations():
    from efnn_core.frontier import frontier, pareto, summary
    from efnn_core.nets.effective import EffectiveModel

    X = DE.sample(6, 40, 11)
    model = EffectiveModel("translation", max_range=1, window=1).fit(X, DE.energy(X))
    pts = frontier(6, count=2, models={"bond model": model}, sw_orders=(3,), kpm_points=((150, 3),))
    names = [p.name for p in pts]
    assert names == ["ED (numpy eigvalsh)", "ED (fastest driver)", "SW order 3", "KPM M=150 p=3", "bond model"]
    assert pts[1].rel_error < 1e-12 and all(p.seconds > 0 for p in pts)
    assert 0 < pts[2].rel_error < 3e-3 and pts[-1].estimate is None
    front = pareto(pts)
    assert front[-1].rel_error == 0.0 and [p.seconds for p in front] == sorted(p.seconds for p in front)
    assert "At L = 6 the frontier" in summary(pts, 6)
    with pytest.raises(ValueError, match="at most 64"):
        frontier(6, count=65)


def test_frontier_beyond_ed_uses_a_kpm_reference():
    from efnn_core.frontier import frontier

    pts = frontier(8, count=1, ed_max_L=6, sw_orders=(), kpm_points=((150, 4),))
    assert pts[0].kind == "reference" and 0 < pts[0].estimate < 1e-5
    assert pts[1].rel_error < 1e-3


@pytest.mark.slow
def test_methods_page_measures_and_plots():
    AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
    from pathlib import Path

    app = Path(__file__).resolve().parent.parent / "app" / "streamlit_app.py"
    at = AppTest.from_file(str(app), default_timeout=120).run()
    at.switch_page("app_pages/methods.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.select_slider(key="methods.L").set_value(10)
    at.number_input(key="methods.count").set_value(1)
    at.multiselect(key="methods.models").set_value(["de_efnn_c3_n3"])
    at.run()
    at.button[0].click().run()
    t0 = time.time()  # the measurement runs in the server's job pool: poll as the page's fragment does
    while at.session_state["methods_job"] is not None and time.time() - t0 < 180:
        time.sleep(0.5)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(m.value for m in at.markdown)
    assert "At L = 10 the frontier" in text
    assert len(at.dataframe) == 1 and "de_efnn_c3_n3" in set(at.dataframe[0].value["name"])


def test_kpm_torch_path_equals_numpy_path():
    """The GPU code path (torch tensors), run here on the CPU, gives the numpy path's moments."""
    import torch

    spins = DE.sample(6, 1, 12)[0]
    colours, ncol = kpm.colouring(6, 3)
    args = (DE, spins, colours, ncol, 120, 2, 0, 1)
    on_torch = kpm._one(*args, torch.device("cpu"), 16)
    on_numpy = kpm._one(*args, None, 16)
    np.testing.assert_allclose(on_torch, on_numpy, rtol=1e-10, atol=1e-12)
