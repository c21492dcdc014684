"""Physics checks of the systems against independent results: closed forms,
symmetries, a second method, and the authors' published numbers."""

import itertools

import numpy as np
import pytest
import scipy.linalg as sl

from efnn_core.systems import _linalg
from efnn_core.systems import DoubleExchange, Ising2D, ThreeSpin, reference_spins, uniform_sphere

DE = DoubleExchange()


def random_rotation(rng, det=1.0):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) * det < 0:
        q[:, 0] = -q[:, 0]
    return q


def band(L, t=1.0):
    """eps_k = -2t (cos kx + cos ky) on the L x L torus, all L^2 momenta."""
    k = 2 * np.pi * np.arange(L) / L
    return (-2 * t * (np.cos(k)[:, None] + np.cos(k)[None, :])).ravel()


# ---------------------------------------------------------------- double exchange
@pytest.mark.parametrize("L", [3, 4, 6])
def test_ferromagnet_has_the_two_shifted_tight_binding_bands(L, rng):
    direction = uniform_sphere(rng, (1,))[0]
    spins = np.broadcast_to(direction, (L, L, 3))
    de = DoubleExchange(t=1.3, J=5.0, mu=-0.7, T=0.2)
    eps = band(L, 1.3)
    expected = np.sort(np.concatenate([eps - 2.5 + 0.7, eps + 2.5 + 0.7]))
    np.testing.assert_allclose(de.eigenvalues(spins), expected, atol=1e-12)


def test_J0_spectrum_and_E_MC_closed_form(rng):
    de = DoubleExchange(J=0.0, mu=-1.1, T=0.3)
    spins = uniform_sphere(rng, (5, 5))
    eps = band(5) + 1.1
    np.testing.assert_allclose(de.eigenvalues(spins), np.sort(np.repeat(eps, 2)), atol=1e-12)
    closed = -2 * 0.3 * np.sum(np.log1p(np.exp(-eps / 0.3)))
    assert de.energy(spins) == pytest.approx(closed, abs=1e-11)


def test_E_MC_by_a_second_method_log_det_without_eigenvalues(rng):
    """E_MC = -T log det(1 + exp(-H/T)), evaluated with expm and slogdet."""
    de = DoubleExchange(T=1.0)
    spins = uniform_sphere(rng, (3, 3))
    h = de.hamiltonian(spins)
    sign, logdet = np.linalg.slogdet(np.eye(len(h)) + sl.expm(-h / de.T))
    assert abs(sign - 1) < 1e-9
    assert de.energy(spins) == pytest.approx(-de.T * logdet, rel=1e-10)


def test_hamiltonian_is_hermitian_with_the_documented_blocks(rng):
    spins = uniform_sphere(rng, (4, 4))
    h = DE.hamiltonian(spins)
    assert h.shape == (32, 32) and h.dtype == np.complex128
    np.testing.assert_allclose(h, h.conj().T, atol=0)
    n, s = 16, spins.reshape(16, 3)
    # on-site -(J/2) s.sigma - mu, spin-up block first
    np.testing.assert_allclose(np.diag(h)[:n], -8 * s[:, 2] + 8.3)
    np.testing.assert_allclose(np.diag(h[:n, n:]), -8 * (s[:, 0] - 1j * s[:, 1]))
    # each site has 4 distinct neighbours with hopping -t in both spin blocks
    hop = h[:n, :n] - np.diag(np.diag(h[:n, :n]))
    assert np.all((hop != 0).sum(axis=1) == 4) and np.all(hop[hop != 0] == -1)
    np.testing.assert_array_equal(hop, h[n:, n:] - np.diag(np.diag(h[n:, n:])))


def test_hamiltonian_matches_an_explicit_loop_construction(rng):
    L, de = 3, DoubleExchange(t=0.7, J=3.0, mu=0.4)
    spins = uniform_sphere(rng, (L, L))
    n = L * L
    h = np.zeros((2 * n, 2 * n), complex)
    pauli = [np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1, -1])]
    for r, c in itertools.product(range(L), range(L)):
        i = r * L + c
        for j in (((r + 1) % L) * L + c, ((r - 1) % L) * L + c, r * L + (c + 1) % L, r * L + (c - 1) % L):
            for a in (0, 1):
                h[a * n + i, a * n + j] = -0.7
        onsite = -1.5 * sum(spins[r, c, k] * pauli[k] for k in range(3)) - 0.4 * np.eye(2)
        for a, b in itertools.product((0, 1), (0, 1)):
            h[a * n + i, b * n + i] = onsite[a, b]
    np.testing.assert_allclose(de.hamiltonian(spins), h, atol=1e-15)


@pytest.mark.parametrize("det", [1.0, -1.0], ids=["rotation", "rotation+inversion"])
def test_O3_invariance(det, rng):
    spins = uniform_sphere(rng, (6, 6))
    rotated = spins @ random_rotation(rng, det).T
    assert DE.energy(rotated) == pytest.approx(DE.energy(spins), abs=1e-10)


def test_inversion_s_to_minus_s(rng):
    spins = uniform_sphere(rng, (5, 5))
    assert DE.energy(-spins) == pytest.approx(DE.energy(spins), abs=1e-10)


def test_lattice_translations_and_point_group(rng):
    spins = uniform_sphere(rng, (6, 6))
    e = DE.energy(spins)
    for moved in (np.roll(spins, 2, axis=0), np.roll(spins, (1, 3), axis=(0, 1)),
                  np.transpose(spins, (1, 0, 2)), spins[::-1]):
        assert DE.energy(moved) == pytest.approx(e, abs=1e-10)


def test_continuity_and_dE_dmu_is_minus_the_electron_number(rng):
    """dE_MC/dmu = -sum_n f(E_n) (Fermi occupation), by central differences."""
    spins = uniform_sphere(rng, (4, 4))
    de, h = DoubleExchange(T=0.3), 1e-5
    numeric = (DoubleExchange(mu=-8.3 + h, T=0.3).energy(spins)
               - DoubleExchange(mu=-8.3 - h, T=0.3).energy(spins)) / (2 * h)
    occupation = 1 / (1 + np.exp(de.eigenvalues(spins) / 0.3))
    assert numeric == pytest.approx(-occupation.sum(), rel=1e-6)
    # continuity in J and t: small steps give small, proportional changes
    for kw in ("J", "t"):
        base = getattr(de, kw)
        d1 = abs(DoubleExchange(**{**de.params(), kw: base + 1e-4}).energy(spins) - de.energy(spins))
        d2 = abs(DoubleExchange(**{**de.params(), kw: base + 2e-4}).energy(spins) - de.energy(spins))
        assert d1 < 1e-2 and d2 == pytest.approx(2 * d1, rel=1e-2)


def test_low_temperature_is_stable_and_tends_to_the_filled_sea(rng):
    spins = uniform_sphere(rng, (4, 4))
    cold = DoubleExchange(T=1e-4)
    e = cold.eigenvalues(spins)
    assert np.isfinite(cold.energy(spins))
    assert cold.energy(spins) == pytest.approx(e[e < 0].sum(), abs=1e-3)


def test_authors_reference_configurations_give_their_energies():
    """Their generator with seeds 100 and 101 gives E_MC = -52.828 and -51.930 (spec §1c)."""
    assert DE.energy(reference_spins(10, 100)) == pytest.approx(-52.828, abs=5e-4)
    assert DE.energy(reference_spins(10, 101)) == pytest.approx(-51.930, abs=5e-4)
    s = reference_spins(10, 100)
    theta = np.arccos(s[..., 2])
    np.testing.assert_allclose(np.arctan2(s[..., 1], s[..., 0]) % (2 * np.pi), (2 * theta) % (2 * np.pi),
                               atol=1e-9)


def test_batch_equals_loop_and_returns_float_for_one(rng):
    spins = DE.sample(4, 3, rng)
    batch = DE.energy(spins)
    assert batch.shape == (3,) and isinstance(DE.energy(spins[0]), float)
    np.testing.assert_allclose(batch, [DE.energy(s) for s in spins], atol=1e-12)


def test_samplers(rng):
    s = DE.sample(8, 500, rng)
    np.testing.assert_allclose(np.linalg.norm(s, axis=-1), 1, atol=1e-12)
    assert abs(s.mean()) < 0.01 and (s[..., 2] ** 2).mean() == pytest.approx(1 / 3, abs=0.01)
    r = DE.sample(8, 50, rng, sampler="reference")
    theta = np.arccos(np.clip(r[..., 2], -1, 1))
    np.testing.assert_allclose(np.arctan2(r[..., 1], r[..., 0]) % (2 * np.pi), (2 * theta) % (2 * np.pi),
                               atol=1e-8)
    np.testing.assert_array_equal(DE.sample(5, 2, rng=7), DE.sample(5, 2, rng=7))


@pytest.mark.parametrize("driver", ["numpy", "scipy-evd", "torch"])
def test_eigenvalue_drivers_agree(driver, rng):
    h = DE.hamiltonian(uniform_sphere(rng, (2, 5, 5)))
    ref = np.linalg.eigvalsh(h)
    np.testing.assert_allclose(_linalg.eigvalsh(h, driver=driver), ref, atol=1e-10)
    single = _linalg.eigvalsh(h, precision="single", driver=driver)
    np.testing.assert_allclose(single, ref, atol=1e-4)


@pytest.mark.parametrize("spins, match", [
    (np.zeros((4, 4, 2)), r"shape \(\.\.\., L, L, 3\)"),
    (np.zeros((4, 5, 3)), r"shape \(\.\.\., L, L, 3\)"),
    (np.full((4, 4, 3), np.nan), "NaN"),
    (np.ones((4, 4, 3)), "unit vectors"),
    (np.tile([0, 0, 1.0], (2, 2, 1)), "L=2 is too small"),
    ("spins", "numeric"),
], ids=["three-components", "not-square", "nan", "non-unit", "L<3", "not-numeric"])
def test_bad_spins_raise_clear_value_errors(spins, match):
    with pytest.raises(ValueError, match=match):
        DE.energy(spins)


@pytest.mark.parametrize("kw", [{"T": -0.1}, {"T": 0.0}, {"J": float("nan")}])
def test_bad_parameters(kw):
    with pytest.raises(ValueError, match="T|J"):
        DoubleExchange(**kw)


def test_bad_sampler_arguments():
    with pytest.raises(ValueError, match="sampler"):
        DE.sample(4, 2, 0, sampler="gaussian")
    with pytest.raises(ValueError, match="too small"):
        DE.sample(2, 2, 0)
    with pytest.raises(ValueError, match="count"):
        DE.sample(4, 0, 0)


# ---------------------------------------------------------------- 3-spin model
@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_three_spin_energy_equals_brute_force_triple_sum(kind, rng):
    m = ThreeSpin(sites=6, seed=3, spins=kind)
    assert len(m.triples) == 20 and sorted(map(tuple, m.triples)) == list(itertools.combinations(range(6), 3))
    X = m.sample(None, 7, rng)
    J = {tuple(t): c for t, c in zip(m.triples, m.couplings)}
    brute = [-sum(J[(i, j, k)] * x[i] * x[j] * x[k] for i, j, k in itertools.combinations(range(6), 3))
             for x in X]
    np.testing.assert_allclose(m.energy(X), brute, atol=1e-12)


@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_three_spin_energy_is_bit_identical_however_it_is_called(kind, rng):
    """The shipped 3-spin labels are checked by sha256, so the energy must not depend on BLAS kernels
    (which sum in a CPU-dependent order): batch, single configurations and a strided view agree bit for bit."""
    m = ThreeSpin(spins=kind)
    X = m.sample(None, 64, rng)
    batch = m.energy(X)
    assert np.array_equal(batch, [m.energy(x) for x in X])
    assert np.array_equal(batch[::2], m.energy(np.asfortranarray(X)[::2]))
    assert np.array_equal(batch, m.energy(X[:, None])[:, 0])


def test_three_spin_reproduces_the_authors_data_statistics():
    """Train labels: mean -61.43, std 52.35 (binary); 0.055, 9.27 (continuous) (spec §1a-b)."""
    b = ThreeSpin()
    y = b.energy(b.reference_samples()[:16000])
    assert (y.mean(), y.std()) == (pytest.approx(-61.43, abs=0.01), pytest.approx(52.35, abs=0.01))
    assert len(b.couplings) == 455 and abs(b.couplings.mean() - 1) < 0.3 and abs(b.couplings.std() - 2) < 0.3
    c = ThreeSpin(spins="continuous")
    y = c.energy(c.reference_samples()[:16000])
    assert (y.mean(), y.std()) == (pytest.approx(0.055, abs=0.001), pytest.approx(9.27, abs=0.01))


def test_three_spin_bad_input():
    m = ThreeSpin()
    with pytest.raises(ValueError, match=r"\(\.\.\., 15\)"):
        m.energy(np.zeros(14))
    with pytest.raises(ValueError, match="0 or 1"):
        m.energy(np.full(15, 0.5))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        ThreeSpin(spins="continuous").energy(np.full(15, 1.5))
    with pytest.raises(ValueError, match="binary"):
        ThreeSpin(spins="ising")


# ---------------------------------------------------------------- Ising
def test_ising_closed_forms_and_fig1_decomposition(rng):
    ising = Ising2D(J=1.5)
    assert ising.energy(np.ones((6, 6))) == -2 * 1.5 * 36                      # all 2L^2 bonds satisfied
    checker = np.where(np.add.outer(np.arange(6), np.arange(6)) % 2, 1.0, -1.0)
    assert ising.energy(checker) == 2 * 1.5 * 36
    s = ising.sample(7, 5, rng)
    np.testing.assert_allclose(ising.quasi_particles(s).sum(axis=(-2, -1)), ising.energy(s), atol=1e-12)
    np.testing.assert_allclose(ising.effective_field(s)[0, 0, 0],
                               -0.75 * (s[0, 1, 0] + s[0, -1, 0] + s[0, 0, 1] + s[0, 0, -1]))


def test_ising_bad_input():
    with pytest.raises(ValueError, match=r"\+1 or -1"):
        Ising2D().energy(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"\(\.\.\., L, L\)"):
        Ising2D().energy(np.ones((4, 5)))
