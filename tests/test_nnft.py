"""Field theory on neurons: every Monte Carlo estimator against its closed form (spec nn-field-theory.md).

Seeded and fast.  Agreement means |z| < 4 (z = (MC - theory)/standard error, jackknife over independent
batches of networks).  Each test also shows it can fail: a deliberately wrong prediction (+1/N instead of
-1/N, cluster decomposition, no volume piece, ...) must be rejected by more than 4 standard errors.
"""

import math

import numpy as np
import pytest

from efnn_core import nnft
from efnn_core.nnft import theory

Z = 4.0
ARCH = [pytest.param(-1, id="alpha=-1"), pytest.param(0, id="alpha=0")]


def box1(alpha, N, **kw):
    return nnft.NeuronFieldConfig(d=1, N=N, m=1.0, cutoff=5.0, L=20.0, alpha=alpha, **kw)


# ----------------------------------------------------------------------------- closed forms
def test_closed_forms_match_spec_tables():
    cont = nnft.NeuronFieldConfig(d=1, cutoff=5.0, box=False)
    assert theory.mode_density(cont) == pytest.approx(5 / math.pi)
    assert theory.G0(cont) == pytest.approx(float(theory.propagator(0.0, cont)), rel=1e-10)
    assert theory.I0(cont) == pytest.approx(float(theory.loop_integral(0.0, cont)), rel=1e-10)
    c2 = nnft.NeuronFieldConfig(d=2, cutoff=7.0, box=False)
    assert theory.G0(c2) == pytest.approx(float(theory.propagator(0.0, c2)), rel=1e-8)
    assert theory.I0(c2) == pytest.approx(float(theory.loop_integral(0.0, c2)), rel=1e-8)
    # spec section 5: box L=20, Lambda=5 has |K| = 31 and G(0) = 0.4355
    b = box1(-1, 30)
    assert b.modes.size == 31 and theory.G0(b) == pytest.approx(0.4355, abs=1e-4)
    # the continuum plateau per 1/N relative to G(0)^2: the spec table is its Lambda >> m form
    for d, x in [(1, 3000.0), (2, 300.0)]:
        c = nnft.NeuronFieldConfig(d=d, cutoff=x, box=False, N=1)
        assert theory.plateau(c) / theory.G0(c) ** 2 == pytest.approx(float(theory.plateau_ratio(d, x)), rel=1e-3)
    # ... and spec section 5: Lambda = 10, the exact plateau is 0.1084 at N = 20 (about 50% of G(0)^2)
    assert theory.plateau(nnft.NeuronFieldConfig(d=1, N=20, cutoff=10.0, box=False)) == pytest.approx(0.1084, abs=2e-4)
    # far from the cutoff the propagator approaches e^{-mr}/2m
    big = nnft.NeuronFieldConfig(d=1, cutoff=400.0, box=False)
    assert float(theory.propagator(1.0, big)) == pytest.approx(math.exp(-1) / 2, rel=2e-3)


# ----------------------------------------------------------------------------- G2
@pytest.mark.parametrize("alpha", ARCH)
def test_two_point_box_exact_at_finite_N(alpha):
    cfg = box1(alpha, 10)
    est = nnft.two_point(cfg, 8_000, seed=11)
    assert np.abs(est.G.z(theory.propagator(est.r, cfg))).max() < Z
    assert np.abs(est.Gp.z(theory.momentum_propagator(est.p2, cfg))).max() < Z
    # wrong: the propagator without cutoff, e^{-mr}/2m, at r = 0
    assert abs(est.G[0].z(theory.propagator_no_cutoff(0.0, 1, 1.0))) > Z


@pytest.mark.parametrize("d", [pytest.param(1, id="d=1"), pytest.param(2, id="d=2")])
@pytest.mark.parametrize("alpha", ARCH)
def test_two_point_continuum(alpha, d):
    cfg = nnft.NeuronFieldConfig(d=d, N=20, cutoff=6.0, alpha=alpha, box=False)
    est = nnft.two_point(cfg, 4_000, seed=12, r_max=3.0, n_lag=12)
    assert np.abs(est.G.z(theory.propagator(est.r, cfg))).max() < Z


# ----------------------------------------------------------------------------- momentum-space 4-point
@pytest.mark.parametrize("alpha", ARCH)
def test_momentum_four_point_three_kinematic_classes(alpha):
    N = 10
    cfg = box1(alpha, N)
    est = nnft.momentum_four_point(cfg, 20_000, seed=13)
    # generic quartet: exactly zero
    assert np.abs(est.generic.z(theory.four_point_generic(cfg))).max() < Z
    assert abs(float(est.generic_mean.z(0.0))) < Z
    # (p,-p,q,-q): -1/N; +1/N and 0 are rejected
    assert abs(float(est.pair.z(theory.four_point_pair(cfg)))) < Z
    assert abs(float(est.pair.z(+1.0 / N))) > Z and abs(float(est.pair.z(0.0))) > Z
    # (k,k,-k,-k): (mu4 - 2 q_k)/(2 N q_k), per shell and pooled; the Gaussian value 0 is rejected
    assert np.abs(est.same.z(theory.four_point_same(est.p2, cfg))).max() < Z
    assert abs(float(est.same_pooled.z(theory.four_point_same_weighted(cfg)))) < Z
    assert abs(float(est.same_pooled.z(0.0))) > Z
    if alpha == -1:   # ~3|K|/4N: the volume-enhanced "special point"
        assert theory.four_point_same_weighted(cfg) == pytest.approx((3 - 4 / 31) * 31 / (4 * N))


def test_momentum_four_point_d2():
    cfg = nnft.NeuronFieldConfig(d=2, N=10, cutoff=4.0, L=6.0, alpha=-1)
    est = nnft.momentum_four_point(cfg, 8_000, seed=14)
    assert abs(float(est.pair.z(-0.1))) < Z and abs(float(est.pair.z(+0.1))) > Z
    assert np.abs(est.same.z(theory.four_point_same(est.p2, cfg))).max() < Z
    assert np.abs(est.generic.z(0.0)).max() < Z


# ----------------------------------------------------------------------------- position space
@pytest.mark.parametrize("alpha", ARCH)
def test_phi2phi2_plateau_and_kurtosis_box(alpha):
    N = 10
    cfg = box1(alpha, N)
    est = nnft.position_four_point(cfg, 10_000, seed=15)
    pred = theory.phi2phi2_connected(est.r, cfg)
    assert np.abs(est.connected.z(pred)).max() < Z
    assert abs(float(est.kurtosis.z(theory.excess_kurtosis(cfg)))) < Z
    assert abs(float(est.kurtosis.z(0.0))) > Z                                # not Gaussian at finite N
    i = int(np.argmin(np.abs(est.r - cfg.L / 4)))                              # r = L/4: 2r = L/2 (periodic images)
    far = est.connected[i]
    if alpha == -1:
        assert abs(float(far.z(0.0))) > Z                                     # cluster decomposition broken
        assert pred[i] == pytest.approx(theory.plateau(cfg), rel=0.05)
    else:
        assert abs(float(far.z(0.0))) < Z                                     # alpha = 0 decays


def test_phi2phi2_plateau_continuum():
    """Spec section 5: Lambda = 10, N = 20, the plateau is 50% of G(0)^2."""
    cfg = nnft.NeuronFieldConfig(d=1, N=20, cutoff=10.0, alpha=-1, box=False)
    est = nnft.position_four_point(cfg, 6_000, seed=16, r_max=4.0, n_lag=8)
    assert np.abs(est.connected.z(theory.phi2phi2_connected(est.r, cfg))).max() < Z
    assert abs(float(est.connected[-1].z(theory.plateau(cfg)))) < Z
    assert abs(float(est.connected[-1].z(0.0))) > Z
    assert abs(float(est.kurtosis.z(theory.excess_kurtosis(cfg)))) < Z


# ----------------------------------------------------------------------------- O(lambda/N)
def test_olambda_split_alpha_minus1():
    cfg = box1(-1, 100)
    est = nnft.olambda_correction(cfg, 40_000, seed=17)
    bare = theory.olambda_pieces(est.p2, cfg)
    ren = theory.olambda_pieces(est.p2, cfg, counterterm=True)
    assert np.abs(est.bare.z(bare["total"])).max() < Z
    assert np.abs(est.renormalized.z(ren["total"])).max() < Z
    # wrong: omit the volume ("bubble") piece, or keep only the infinite-width tadpole
    assert np.abs(est.bare.z(bare["total"] - bare["volume"])).max() > Z
    assert np.abs(est.bare.z(bare["tadpole"])).max() > Z
    r0, r0c = theory.olambda_pieces_r0(cfg), theory.olambda_pieces_r0(cfg, counterterm=True)
    assert abs(float(est.bare_r0.z(r0["total"]))) < Z
    assert abs(float(est.renormalized_r0.z(r0c["total"]))) < Z
    # after mass renormalization the non-local V_Lambda piece remains and is resolved
    assert abs(float(est.renormalized_r0.z(r0c["total"] - r0c["nonlocal"]))) > Z
    assert abs(float(est.renormalized_r0.z(0.0))) > Z


def test_olambda_split_alpha0():
    cfg = box1(0, 100)
    est = nnft.olambda_correction(cfg, 20_000, seed=18)
    bare = theory.olambda_pieces(est.p2, cfg)
    ren = theory.olambda_pieces(est.p2, cfg, counterterm=True)
    assert np.all(bare["volume"] == 0) and np.all(bare["nonlocal"] == 0)      # alpha = 0: no V or V_Lambda piece
    assert np.abs(est.bare.z(bare["total"])).max() < Z
    assert np.abs(est.renormalized.z(ren["total"])).max() < Z
    # -(lambda/2)(1 - 2/N) G(0) G~^2 up to the zero mode
    nz = est.p2 > 0
    assert np.allclose(bare["total"][nz], -0.5 * (1 - 2 / 100) * theory.G0(cfg) / (est.p2[nz] + 1) ** 2)
    # wrong: the alpha = -1 split (volume + non-local pieces) is rejected
    wrong = theory.olambda_pieces(est.p2, box1(-1, 100))
    assert np.abs(est.bare.z(wrong["total"])).max() > Z


def test_olambda_split_d2():
    cfg = nnft.NeuronFieldConfig(d=2, N=100, cutoff=4.0, L=6.0, alpha=-1)
    est = nnft.olambda_correction(cfg, 20_000, seed=19)
    bare = theory.olambda_pieces(est.p2, cfg)
    assert np.abs(est.bare.z(bare["total"])).max() < Z
    assert np.abs(est.renormalized.z(theory.olambda_pieces(est.p2, cfg, counterterm=True)["total"])).max() < Z
    assert np.abs(est.bare.z(bare["total"] - bare["volume"])).max() > Z


# ----------------------------------------------------------------------------- plumbing
def test_seeded_and_validated():
    cfg = box1(-1, 5)
    a = nnft.sample_box_spectrum(cfg, 3, seed=1)
    assert np.array_equal(a.numpy(), nnft.sample_box_spectrum(cfg, 3, seed=1).numpy())
    # phi~(-k) = conj phi~(k), and the FFT grid reproduces the direct neuron sum
    md = cfg.modes
    assert np.allclose(a.numpy()[:, md.neg], a.numpy().conj())
    nr = nnft.sample_neurons(cfg, 2, seed=2)
    grid = nnft.box_field_grid(cfg, nnft.box_spectrum(cfg, nr)).numpy()
    x = np.arange(grid.shape[1]) * cfg.L / grid.shape[1]
    assert np.allclose(grid, nnft.field_on_line(nr, x).double().numpy(), atol=2e-5)
    with pytest.raises(ValueError, match="alpha"):
        nnft.NeuronFieldConfig(alpha=1)
    with pytest.raises(ValueError, match="box"):
        nnft.momentum_four_point(nnft.NeuronFieldConfig(box=False), 100, seed=0)


def test_required_width_scaling():
    n = theory.required_width([10.0, 100.0], 4, lam=1.0, eps=1.0)
    # spec: d = 4, lambda = 1, Lambda/m = 10: N >> 30; Lambda/m = 100: N >> 3e5
    assert n[0] == pytest.approx(3 * 1e4 / (64 * math.pi ** 2)) and n[1] / n[0] == pytest.approx(1e4)
