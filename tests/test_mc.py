"""Monte Carlo: moves, exact-energy bookkeeping, local surrogate changes, exactness, resume, cancel, diagnostics."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from efnn_core.mc import MCConfig, MCError, diagnostics, moves, run
from efnn_core.mc.chains import load_checkpoint
from efnn_core.mc.metropolis import IncrementalDE
from efnn_core.mc.surrogates import LocalEffective, SurrogateError, load_surrogate
from efnn_core.nets.effective import EffectiveModel
from efnn_core.systems import DoubleExchange, uniform_sphere


# ----------------------------------------------------------------------------- moves
def test_moves_keep_unit_spins_and_touch_only_their_sites():
    rng = np.random.default_rng(1)
    s = uniform_sphere(rng, (5, 5))
    t = moves.single_site(s, (2, 3), 0.4, rng)
    changed = (t != s).any(-1)
    assert changed.sum() == 1 and changed[2, 3]
    assert np.allclose(np.linalg.norm(t, axis=-1), 1, atol=1e-14)
    f = moves.flip(s, [(0, 0), (4, 4)])
    assert np.array_equal(f[0, 0], -s[0, 0]) and np.array_equal(f[1:4], s[1:4])
    d = moves.set_direction(s, [(1, 1)], np.pi / 2, 0.0)
    assert np.allclose(d[1, 1], (1, 0, 0))
    R = moves.random_rotation(3)
    assert np.allclose(R @ R.T, np.eye(3)) and np.isclose(np.linalg.det(R), 1)
    assert np.allclose(moves.rotate(s, moves.rotation((0, 0, 1), np.pi))[..., 2], s[..., 2])
    with pytest.raises(ValueError, match="axis"):
        moves.rotation((0, 0, 0), 1.0)


def test_rotation_proposal_is_symmetric_in_the_angle():
    """q(s -> s') depends only on the angle: the cosine to the old spin has the same law from any start."""
    rng = np.random.default_rng(2)
    a = np.array([0.0, 0.0, 1.0])
    b = moves.normalise(np.array([1.0, -2.0, 0.5]))
    ca = [moves.propose_rotation(a, 0.7, rng) @ a for _ in range(4000)]
    cb = [moves.propose_rotation(b, 0.7, rng) @ b for _ in range(4000)]
    from scipy import stats

    assert stats.ks_2samp(ca, cb).pvalue > 1e-3


def test_global_rotation_leaves_double_exchange_energy_unchanged():
    de = DoubleExchange()
    s = uniform_sphere(np.random.default_rng(3), (4, 4))
    assert de.energy(moves.rotate(s, moves.random_rotation(5))) == pytest.approx(de.energy(s), abs=1e-10)


# ----------------------------------------------------------------------------- exact energy in place
def test_in_place_hamiltonian_matches_a_fresh_one_after_many_moves():
    de = DoubleExchange()
    rng = np.random.default_rng(4)
    s = uniform_sphere(rng, (4, 4))
    inc = IncrementalDE(de, s)
    for _ in range(50):
        i = int(rng.integers(16))
        v = moves.propose_rotation(s.reshape(-1, 3)[i], 0.8, rng)
        s.reshape(-1, 3)[i] = v
        inc.set(i, v)
    assert np.array_equal(inc.h, de.hamiltonian(s))
    assert inc.energy() == pytest.approx(de.energy(s), abs=1e-12)


# ----------------------------------------------------------------------------- local surrogate
def _model(L, rng, **kw):
    X = uniform_sphere(rng, (40, L, L))
    return EffectiveModel("translation", **kw).fit(X, rng.normal(size=40))


@pytest.mark.parametrize("kw", [dict(max_range=2, window=3), dict(max_range=1, window=2)], ids=["r2w3", "r1w2"])
def test_local_effective_delta_equals_the_full_model_difference(kw):
    rng = np.random.default_rng(5)
    L = 7
    model = _model(L, rng, **kw)
    model.coef_ = rng.normal(size=model.coef_.shape)  # every coupling non-zero
    sur = LocalEffective(model, L)
    s = uniform_sphere(rng, (L, L))
    for _ in range(6):
        i = int(rng.integers(L * L))
        v = moves.propose_rotation(s.reshape(-1, 3)[i], 1.0, rng)
        t = s.copy()
        t.reshape(-1, 3)[i] = v
        full = model.predict(t[None])[0] - model.predict(s[None])[0]
        assert sur.delta(s, i, v) == pytest.approx(full, abs=1e-9 * (1 + abs(full)))
    # the in-place sweep accumulates the same total as the model
    e0 = sur.energy(s)
    m = 200
    total, acc = sur.sweep(s, rng.integers(0, L * L, m), rng.standard_normal((m, 3)), rng.random(m), 0.5, 1.0)
    assert 0 < acc < m and sur.energy(s) - e0 == pytest.approx(total, abs=1e-8)


def test_surrogate_errors():
    de = DoubleExchange()
    with pytest.raises(SurrogateError, match="no surrogate"):
        load_surrogate("no_such_model_xyz", 10, system=de)
    with pytest.raises(SurrogateError, match="needs L >= 5"):
        load_surrogate("de_effective_translation", 4, system=de)
    with pytest.raises(SurrogateError, match="trained for the three_spin"):
        load_surrogate("spin_binary_efnn_w30_l1", 10, system=de)
    with pytest.raises(SurrogateError, match="other parameters"):
        load_surrogate("de_effective_translation", 10, system=DoubleExchange(T=0.2))


# ----------------------------------------------------------------------------- exactness
class Paramagnet:
    """Independent unit spins in a field: E = -h sum_i s_z; <s_z> = coth(h/T) - T/h (Langevin)."""

    name = "paramagnet"

    def __init__(self, h=1.0, T=0.5):
        self.h, self.T = h, T

    def params(self):
        return {"h": self.h, "T": self.T}

    def energy(self, spins):
        return -self.h * float(np.asarray(spins)[..., 2].sum())


def test_exact_metropolis_reproduces_the_langevin_function():
    p = Paramagnet()
    res = run(MCConfig(method="ed", L=3, sweeps=3000, burn_in=100), chains=4, seed=0, system=p)
    mean, err = diagnostics.mean_error(res.energy())
    exact = -p.h * 9 * (1 / np.tanh(p.h / p.T) - p.T / p.h)
    assert abs(mean - exact) < 4 * err, (mean, err, exact)
    assert err < 0.02 * abs(exact)


def _poor_surrogate(L):
    """A deliberately poor surrogate: nearest- and next-nearest-neighbour couplings of the wrong size."""
    m = EffectiveModel("translation", max_range=1, window=1)
    m.coef_, m.L = np.array([-0.5, -0.15, 0.05, -0.15, 0.05]), L
    return LocalEffective(m, L)


@pytest.mark.slow
def test_slmc_with_a_poor_surrogate_reproduces_ed_metropolis_at_L4():
    L = 4
    sur = _poor_surrogate(L)
    ed = run(MCConfig(method="ed", L=L, sweeps=1000), chains=4, seed=1)
    sl = run(MCConfig(method="slmc", L=L, sweeps=2000, surrogate="poor"), chains=4, seed=2, surrogate=sur)
    a, b = ed.summary(), sl.summary()
    sigma = np.hypot(a["error_per_site"], b["error_per_site"])
    assert abs(a["mean_per_site"] - b["mean_per_site"]) < 3 * sigma, (a, b)
    assert sigma < 2e-3
    assert 0.05 < b["acceptance"] < 0.95  # the surrogate is poor but not useless: the test exercises rejections


def test_slmc_with_a_poor_surrogate_reproduces_the_langevin_function():
    """Exactness against a closed form: a surrogate that knows nothing of the field still samples exactly."""
    p = Paramagnet(h=1.0, T=0.5)
    res = run(MCConfig(method="slmc", L=3, sweeps=2000, burn_in=100, local_steps=3, surrogate="poor"), chains=4,
              seed=3, surrogate=_poor_surrogate(3), system=p)
    mean, err = diagnostics.mean_error(res.energy())
    exact = -p.h * 9 * (1 / np.tanh(p.h / p.T) - p.T / p.h)
    assert abs(mean - exact) < 4 * err, (mean, err, exact)


# ----------------------------------------------------------------------------- chains: seeds, resume, cancel
def test_same_seed_same_chains_and_resume_is_bit_exact(tmp_path):
    cfg = MCConfig(method="ed", L=3, sweeps=12)
    full = run(cfg, chains=2, seed=7)
    again = run(cfg, chains=2, seed=7)
    assert np.array_equal(full.energy(False), again.energy(False))
    other = run(cfg, chains=2, seed=8)
    assert not np.array_equal(full.energy(False), other.energy(False))
    # interrupt after the first chunk, then resume from the checkpoint
    stop = threading.Event()
    part = run(cfg, chains=2, seed=7, chunk=3, checkpoint=tmp_path, cancel=stop,
               progress=lambda done, total, states: stop.set())
    assert part.cancelled and all(s.done == 3 for s in part.states)
    resumed = run(cfg, chains=2, seed=7, chunk=3, checkpoint=tmp_path)
    assert np.array_equal(resumed.energy(False), full.energy(False))
    assert all(np.array_equal(a.spins, b.spins) and a.step == b.step for a, b in zip(resumed.states, full.states))


def test_resume_with_other_settings_is_refused_and_a_torn_checkpoint_detected(tmp_path):
    cfg = MCConfig(method="ed", L=3, sweeps=4)
    run(cfg, chains=2, seed=7, chunk=2, checkpoint=tmp_path)
    before = (tmp_path / "checkpoint.json").read_bytes()
    with pytest.raises(MCError, match=r"other settings: sweeps 4 \(now 6\)"):
        run(MCConfig(method="ed", L=3, sweeps=6), chains=2, seed=7, checkpoint=tmp_path)
    with pytest.raises(MCError, match=r"seed 7 \(now 8\), chains 2 \(now 3\)"):
        run(cfg, chains=3, seed=8, checkpoint=tmp_path)
    assert (tmp_path / "checkpoint.json").read_bytes() == before  # nothing overwritten
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind
    z = (tmp_path / "checkpoint.npz").read_bytes()
    (tmp_path / "checkpoint.npz").write_bytes(z[:-1] + bytes([z[-1] ^ 1]))  # as after a torn or edited write
    with pytest.raises(MCError, match="does not match"):
        load_checkpoint(tmp_path)


def test_slmc_resume_is_bit_exact(tmp_path):
    sur = _poor_surrogate(4)
    cfg = MCConfig(method="slmc", L=4, sweeps=10, surrogate="poor")
    full = run(cfg, chains=2, seed=1, surrogate=sur)
    stop = threading.Event()
    run(cfg, chains=2, seed=1, chunk=4, checkpoint=tmp_path, cancel=stop, surrogate=sur,
        progress=lambda *a: stop.set())
    resumed = run(cfg, chains=2, seed=1, chunk=4, checkpoint=tmp_path, surrogate=sur)
    assert np.array_equal(resumed.energy(False), full.energy(False))


def test_cancel_from_another_thread_leaves_usable_chains():
    stop = threading.Event()

    def cancel_once_every_chain_moved(done, total, states):  # from the driver's progress callback, not a timer:
        if all(s.done > 0 for s in states):                    # a loaded machine may not finish a chunk in 0.3 s
            threading.Timer(0.05, stop.set).start()            # set from another thread, mid-chunk

    res = run(MCConfig(method="ed", L=6, sweeps=10000), chains=2, seed=0, cancel=stop,
              progress=cancel_once_every_chain_moved)
    assert res.cancelled and not res.finished
    for s in res.states:
        assert len(s.trace_e) == s.done > 0
        assert np.allclose(np.linalg.norm(s.spins, axis=-1), 1)
        assert s.energy == pytest.approx(DoubleExchange().energy(s.spins), abs=1e-9)  # energy is the chain's


def test_bad_input_is_a_clear_error():
    for kw, msg in [(dict(L=2), "L must be"), (dict(sweeps=0), "sweeps must be positive"),
                    (dict(method="hmc"), "method must be"), (dict(method="slmc"), "needs a surrogate"),
                    (dict(burn_in=5, sweeps=5), "burn_in")]:
        with pytest.raises(MCError, match=msg):
            MCConfig(**kw)
    bad = np.full((4, 4, 3), np.nan)
    with pytest.raises(MCError, match="NaN"):
        run(MCConfig(L=4, sweeps=2), chains=1, start=bad)
    small = np.zeros((3, 3, 3))
    small[..., 2] = 1.0
    with pytest.raises(MCError, match="shape"):
        run(MCConfig(L=4, sweeps=2), chains=1, start=small)
    with pytest.raises(MCError, match="unit vectors"):
        run(MCConfig(L=3, sweeps=2), chains=1, start=2 * small)


# ----------------------------------------------------------------------------- diagnostics
def _ar1(rho, n, chains, rng, shift=0.0, scale=1.0):
    x = np.zeros((chains, n))
    e = rng.standard_normal((chains, n))
    for t in range(1, n):
        x[:, t] = rho * x[:, t - 1] + np.sqrt(1 - rho ** 2) * e[:, t]
    return x * scale + shift


def test_tau_ess_and_error_of_an_ar1_process():
    rng = np.random.default_rng(0)
    rho = 0.8
    x = _ar1(rho, 20000, 4, rng)
    tau = (1 + rho) / (1 - rho)  # 9
    assert diagnostics.tau_int(x) == pytest.approx(tau, rel=0.15)
    assert diagnostics.ess(x) == pytest.approx(x.size / tau, rel=0.15)
    assert diagnostics.tau_int(rng.standard_normal((4, 5000))) == pytest.approx(1.0, abs=0.1)


def test_rhat_known_cases():
    rng = np.random.default_rng(1)
    same = _ar1(0.5, 2000, 4, rng)
    assert diagnostics.rhat(same) < 1.01
    shifted = same.copy()
    shifted[0] += 1.0
    assert diagnostics.rhat(shifted) > 1.1
    scaled = same.copy()
    scaled[0] *= 3.0  # same mean, different spread: only the folded (tail) R-hat sees it
    assert diagnostics.rhat(scaled) > 1.05
    trend = same + np.linspace(0, 2, 2000)  # a drift inside each chain: split R-hat sees it
    assert diagnostics.rhat(trend) > 1.1
    with pytest.raises(ValueError, match="2 chains"):
        diagnostics.rhat(same[:1])


def test_structure_factor_peaks():
    L = 6
    ferro = np.zeros((L, L, 3))
    ferro[..., 2] = 1
    sq = diagnostics.structure_factor(ferro)
    assert sq[0, 0] == pytest.approx(L * L) and np.allclose(sq.ravel()[1:], 0)
    r, c = np.meshgrid(range(L), range(L), indexing="ij")
    neel = ferro * np.where((r + c) % 2, -1, 1)[..., None]
    assert diagnostics.structure_factor(neel)[L // 2, L // 2] == pytest.approx(L * L)
    s = uniform_sphere(np.random.default_rng(0), (3, L, L))
    assert diagnostics.structure_factor(s).sum(axis=(-1, -2)) == pytest.approx(np.full(3, L * L))  # Parseval


def test_results_do_not_depend_on_the_executor():
    from concurrent.futures import ThreadPoolExecutor

    cfg = MCConfig(method="ed", L=3, sweeps=6)
    plain = run(cfg, chains=3, seed=4)
    with ThreadPoolExecutor(2) as ex:
        threaded = run(cfg, chains=3, seed=4, executor=ex, chunk=2)
    assert np.array_equal(plain.energy(False), threaded.energy(False))


@pytest.mark.slow
def test_process_pool_chains_match_the_in_process_ones():
    cfg = MCConfig(method="ed", L=3, sweeps=4)
    assert np.array_equal(run(cfg, chains=2, seed=5).energy(False),
                          run(cfg, chains=2, seed=5, workers=2).energy(False))


@pytest.mark.slow
def test_learn_loop_fine_tunes_without_overfitting():
    from efnn_core.mc import learn

    rounds = list(learn.loop("de_effective_translation", L=6, rounds=2, sweeps=10, chains=2, seed=0))
    first, second = rounds
    # 460 coefficients on 20-40 labels: the refit is pulled towards the starting model, so it neither
    # interpolates the labels (in-sample RMSE 0) nor blows up on the next round's configurations
    assert first["fit_rmse_T"] > 0.05 and second["rmse_T"] < 2 * first["rmse_T"] + 0.2
    assert second["labels"] == 2 * first["labels"] == 2 * 2 * 10
