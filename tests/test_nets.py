"""Networks: parameter counts against the spec, symmetries, size independence, the exact
Ising EFNN, fast engines against the straightforward reference, configs and input errors."""

import dataclasses

import numpy as np
import pytest
import torch

from efnn_core.nets import ARCHS, FAMILIES, IsingEFNN, build, from_config
from efnn_core.nets import _ops
from efnn_core.nets._reference import reference
from efnn_core.systems import Ising2D

# ---------------------------------------------------------------- parameter counts
# The spec's tables (section 2a/2b), verbatim.
EFNN_TABLE = {1: (230, 384, 538), 3: (1288, 2350, 3412), 5: (3146, 5916, 8686),
              7: (5804, 11082, 16360), 9: (9262, 17848, 26434)}
BASELINES_C3 = {"dnn": (1138, 2050, 2962), "resnet": (832, 1288, 1744), "densenet": (907, 1663, 2644)}


def count_from_structure(arch, C, n, k=5):
    """Independent count from the spec's structure: conv(ci->co, k) has k^2 ci co (+ co) weights."""
    conv = lambda ci, co, bias=True: k * k * ci * co + (co if bias else 0)  # noqa: E731
    T = 2 * conv(1, C, bias=False)
    NL = lambda ci: conv(ci, C) + conv(C, C)  # noqa: E731
    if arch == "efnn":
        return (n + 1) * T + n * NL(C) + n * NL(C) + conv(C, 1)
    if arch == "dnn":
        return T + n * NL(C) + n * NL(C) + conv(C, 1)
    if arch == "resnet":
        return 2 * T + n * NL(C) + conv(C, 1)
    return 2 * T + sum(NL((j + 1) * C) for j in range(n)) + conv(C * (n + 1), 1)


LATTICE_CASES = [pytest.param(a, C, n, id=f"{a}-C{C}-n{n}") for a in ARCHS for C in (1, 3, 5, 7, 9)
                 for n in (1, 2, 3)]


@pytest.mark.parametrize("arch,C,n", LATTICE_CASES)
def test_lattice_parameter_count(arch, C, n):
    m = build(arch, "lattice", channels=C, layers=n)
    assert m.num_parameters() == count_from_structure(arch, C, n)
    if arch == "efnn":
        formula = 50 * C * (n + 1) + 2 * n * (50 * C * C + 2 * C) + 25 * C + 1
        assert m.num_parameters() == EFNN_TABLE[C][n - 1] == formula
    elif C == 3:
        assert m.num_parameters() == BASELINES_C3[arch][n - 1]


def dense_count(arch, n, k, m=15):
    lin = lambda a, b: a * b + b  # noqa: E731
    mlp = lambda a: lin(a, n) + lin(n, n)  # noqa: E731
    if arch == "efnn":
        return mlp(m) + (k - 1) * mlp(n) + k * mlp(m)
    if arch == "dnn":
        return mlp(m) + (k - 1) * mlp(n) + k * mlp(n)
    if arch == "resnet":
        return mlp(m) + (k - 1) * mlp(n) + (lin(m, n) if n != m else 0)
    return sum(mlp(m + i * n) for i in range(k))


DENSE_CASES = [pytest.param(a, n, k, id=f"{a}-n{n}-k{k}") for a in ARCHS for n in (15, 30, 150)
               for k in (1, 2, 3)]


@pytest.mark.parametrize("arch,n,k", DENSE_CASES)
def test_dense_parameter_count(arch, n, k):
    m = build(arch, "dense", width=n, layers=k)
    assert m.num_parameters() == dense_count(arch, n, k)
    if arch == "efnn":
        assert m.num_parameters() == (n * n + 17 * n) + (k - 1) * (2 * n * n + 2 * n) + k * (n * n + 17 * n)


@pytest.mark.parametrize("n,k,expected", [(15, 1, 960), (150, 3, 190800)], ids=["n15-k1", "n150-k3"])
def test_dense_efnn_spec_examples(n, k, expected):
    assert build("efnn", "dense", width=n, layers=k).num_parameters() == expected


# ---------------------------------------------------------------- symmetries and size
def unit_spins(B, L, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, L, L, 3, generator=g, dtype=torch.float64)
    return torch.nn.functional.normalize(x, dim=-1).to(dtype)


def orthogonal(det, seed=1):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) * det < 0:
        q[:, 0] = -q[:, 0]
    return torch.tensor(q, dtype=torch.float32)


@pytest.fixture(scope="module")
def models():
    return {a: build(a, "lattice", channels=3, layers=3, seed=7).eval() for a in ARCHS}


@pytest.fixture(params=["conv", "spectral"])
def engine(request, models):
    """Run a test on each engine (the spectral one works in Fourier space along the columns, so its
    invariances are not inherited from the convolution's)."""
    for m in models.values():
        m.engine = request.param
    yield request.param
    for m in models.values():
        m.engine = "auto"


@pytest.mark.parametrize("det", [1, -1], ids=["rotation", "reflection"])
@pytest.mark.parametrize("arch", ARCHS)
def test_o3_invariance(models, arch, det, engine):
    x = unit_spins(16, 10)
    R = orthogonal(det)
    with torch.no_grad():
        e, e_rot = models[arch](x), models[arch](x @ R.T)
    torch.testing.assert_close(e_rot, e, rtol=1e-5, atol=1e-5 * e.abs().max().item())


@pytest.mark.parametrize("arch", ARCHS)
def test_translation_invariance(models, arch, engine):
    x = unit_spins(8, 10)
    with torch.no_grad():
        e = models[arch](x)
        for shift in [(1, 0), (3, 7), (-2, 5)]:
            torch.testing.assert_close(models[arch](torch.roll(x, shift, (1, 2))), e, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("arch", ARCHS)
def test_tiled_lattice_is_extensive(models, arch):
    """An L = 20 lattice made of 2 x 2 copies of a 10 x 10 one has exactly 4x its energy."""
    x = unit_spins(4, 10, dtype=torch.float64)
    m = models[arch].double()
    try:
        with torch.no_grad():
            e10, e20 = m(x), m(x.repeat(1, 2, 2, 1))
        torch.testing.assert_close(e20, 4 * e10, rtol=1e-12, atol=1e-10)
        assert m(unit_spins(2, 13, dtype=torch.float64)).shape == (2,)  # any L
    finally:
        m.float()


# ---------------------------------------------------------------- fast engines vs reference
@pytest.mark.parametrize("engine", ["spectral", "conv"])
@pytest.mark.parametrize("arch", ARCHS)
def test_fast_matches_reference(arch, engine):
    m = build(arch, "lattice", channels=3, layers=2, seed=3)
    m.engine = engine
    ref = reference(m)
    x = unit_spins(32, 10)
    y = torch.randn(32, generator=torch.Generator().manual_seed(0))
    e, e_ref = m(x), ref(x)
    torch.testing.assert_close(e, e_ref, rtol=1e-5, atol=1e-5 * e_ref.abs().max().item())
    ((e - y) ** 2).mean().backward()
    ((e_ref - y) ** 2).mean().backward()
    for (name, p), p_ref in zip(m.named_parameters(), ref.parameters()):
        scale = p_ref.grad.abs().max().item() + 1e-12
        assert (p.grad - p_ref.grad).abs().max().item() <= 1e-4 * scale, name


@pytest.mark.parametrize("L", [3, 4, 7])
def test_engines_agree_on_small_and_odd_lattices(L):
    """Kernels larger than the lattice wrap onto themselves; both engines do what circular padding does."""
    m = build("efnn", "lattice", channels=2, layers=2, seed=4).double()
    x = unit_spins(3, L, dtype=torch.float64)
    ref = reference(m)(x)
    for engine in ("spectral", "conv"):
        m.engine = engine
        torch.testing.assert_close(m(x), ref, rtol=1e-12, atol=1e-12)


def test_engine_choice():
    """Batches on small lattices (and training batches up to L = 20) take the spectral engine."""
    assert _ops.engine(10, batch=1024).name == "spectral"
    assert _ops.engine(10, batch=8).name == "conv"  # too few configurations to pay for the matrices
    assert _ops.engine(16, batch=256).name == "conv"
    assert _ops.engine(16, batch=256, training=True).name == "spectral"
    assert _ops.engine(40, batch=256, training=True).name == "conv"
    assert _ops.engine(40, "spectral").name == "spectral"
    with pytest.raises(ValueError, match="engine must be"):
        _ops.engine(10, "dense")


def test_spectral_basis_diagonalises_column_shifts():
    """The real DFT is orthonormal and turns every circular column shift into 2 x 2 blocks."""
    for L in (3, 4, 10, 11):
        r = _ops._real_dft(L)
        torch.testing.assert_close(r.t() @ r, torch.eye(L, dtype=torch.float64))
        for s in range(L):
            b = r @ torch.eye(L, dtype=torch.float64).roll(s, 1) @ r.t()
            blocks = torch.block_diag(*[b[i:i + 2, i:i + 2] for i in range(0, len(b), 2)])
            torch.testing.assert_close(b, blocks, atol=1e-12, rtol=0)


def test_fast_tanh_and_its_gradient():
    x = torch.linspace(-12, 12, 4001, requires_grad=True)
    y = _ops.tanh(x)
    assert (y - torch.tanh(x)).abs().max().item() <= 3e-7
    (g,) = torch.autograd.grad((y * torch.cos(x)).sum(), x)
    (g_ref,) = torch.autograd.grad((torch.tanh(x) * torch.cos(x)).sum(), x)
    torch.testing.assert_close(g, g_ref, rtol=0, atol=1e-6)


def test_closed_form_q_sum_equals_the_convolution():
    m = build("efnn", "lattice", channels=3, layers=1, seed=5).double()
    s = torch.randn(4, 3, 9, 9, dtype=torch.float64)
    torch.testing.assert_close(_ops.q_sum(m.q, s), _ops.site_energy(m.q, s).sum((1, 2)))


@pytest.mark.gpu
@pytest.mark.parametrize("engine", ["spectral", "conv"])
@pytest.mark.parametrize("arch", ARCHS)
def test_cuda_forward_backward_matches_cpu(arch, engine):
    m = build(arch, "lattice", channels=3, layers=2, seed=6)
    m.engine = engine
    x = unit_spins(64, 10)
    e_cpu = m(x)
    e_cpu.sum().backward()
    g_cpu = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    mc = m.cuda()
    e_gpu = mc(x.cuda())
    e_gpu.sum().backward()
    torch.testing.assert_close(e_gpu.cpu(), e_cpu, rtol=1e-4, atol=1e-4)
    for p, g in zip(mc.parameters(), g_cpu):
        torch.testing.assert_close(p.grad.cpu(), g, rtol=1e-3, atol=1e-3 * g.abs().max().item())


# ---------------------------------------------------------------- exact Ising EFNN
@pytest.mark.parametrize("L", [3, 4, 10, 17])
@pytest.mark.parametrize("J", [1.0, -0.7])
def test_ising_efnn_is_exact(L, J, rng):
    spins = rng.choice([-1.0, 1.0], size=(20, L, L))
    e = IsingEFNN(J)(torch.from_numpy(spins))
    assert e.dtype == torch.float64
    np.testing.assert_array_equal(e.numpy(), Ising2D(J).energy(spins))
    inter = IsingEFNN(J).intermediates(torch.from_numpy(spins))
    np.testing.assert_allclose(inter["F"][0].numpy(), Ising2D(J).effective_field(spins), rtol=1e-15)
    np.testing.assert_allclose(inter["S"][0].numpy(), Ising2D(J).quasi_particles(spins), rtol=1e-15)


# ---------------------------------------------------------------- shapes, configs, errors
@pytest.mark.parametrize("arch", ARCHS)
def test_dense_models_output_and_intermediates(arch):
    m = build(arch, "dense", width=20, layers=3, seed=0)
    x = torch.rand(7, 15)
    assert m(x).shape == (7,)
    inter = m.intermediates(x)
    assert len(inter["F"]) == len(inter["S"]) == 3
    assert all(f.shape == (7, 20) for f in inter["F"])
    if arch != "densenet":
        assert all(s.shape == (7, 20) for s in inter["S"])
        torch.testing.assert_close(inter["S"][-1].sum(-1), m(x))


@pytest.mark.parametrize("arch", ARCHS)
def test_lattice_intermediates(models, arch):
    C, n, L = 3, 3, 6
    x = unit_spins(2, L)
    inter = models[arch].intermediates(x)
    assert inter["site_energy"].shape == (2, L, L)
    torch.testing.assert_close(inter["site_energy"].sum((1, 2)), models[arch](x), rtol=1e-5, atol=1e-4)
    assert len(inter["S"]) == len(inter["F"]) == n
    assert all(f.shape == (2, C, L, L) for f in inter["F"])
    if arch == "efnn":
        assert len(inter["T"]) == n + 1
        assert all(t.shape == (2, C, L, L) for t in inter["T"] + inter["S"])


@pytest.mark.parametrize("family,hp", [("lattice", dict(channels=2, layers=2, kernel=3)),
                                       ("dense", dict(width=12, layers=2, sites=9))], ids=tuple(FAMILIES))
@pytest.mark.parametrize("arch", ARCHS)
def test_from_config_round_trip(arch, family, hp):
    m = build(arch, family, **hp)
    d = dataclasses.asdict(m.config)
    assert d["family"] == family and d["arch"] == arch
    m2 = from_config(d)
    assert type(m2) is type(m) and m2.config == m.config
    assert m2.num_parameters() == m.num_parameters()
    m2.load_state_dict(m.state_dict())


def test_seed_makes_weights_reproducible():
    a, b = (build("efnn", "lattice", channels=3, layers=1, seed=11) for _ in range(2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("bad,match", [
    (torch.zeros(2, 10, 10, 2), r"\(B, L, L, 3\)"),
    (torch.zeros(10, 10, 3), r"\(B, L, L, 3\)"),
    (torch.zeros(2, 10, 8, 3), r"\(B, L, L, 3\)"),
    (torch.full((2, 5, 5, 3), float("nan")), "NaN"),
], ids=["no-components", "no-batch", "not-square", "nan"])
def test_lattice_bad_input(models, bad, match):
    with pytest.raises(ValueError, match=match):
        models["efnn"](bad)


@pytest.mark.parametrize("bad,match", [(torch.zeros(2, 14), r"\(B, 15\)"), (torch.zeros(15), r"\(B, 15\)"),
                                       (torch.tensor([[float("nan")] * 15]), "NaN")],
                         ids=["wrong-sites", "no-batch", "nan"])
def test_dense_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        build("efnn", "dense", width=15, layers=1)(bad)


@pytest.mark.parametrize("kwargs,match", [
    (dict(arch="cnn", family="lattice", channels=3, layers=1), "arch"),
    (dict(arch="efnn", family="graph"), "family"),
    (dict(arch="efnn", family="lattice", channels=0, layers=1), "channels"),
    (dict(arch="efnn", family="lattice", channels=3, layers=1, kernel=4), "odd"),
], ids=["arch", "family", "channels", "even-kernel"])
def test_build_rejects_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(**kwargs)


def test_training_after_inference_at_the_same_size():
    """Cached engine constants built under inference_mode must not poison a later backward."""
    from efnn_core.nets import _ops

    _ops._spectral_basis.cache_clear()
    _ops._real_dft.cache_clear()
    _ops._row_shift_tensor.cache_clear()
    model = build("efnn", "lattice", channels=1, layers=1, seed=0)
    x = torch.nn.functional.normalize(torch.randn(40, 11, 11, 3), dim=-1)
    with torch.inference_mode():
        model(x)
    model(x).sum().backward()  # raised "Inference tensors cannot be saved for backward" before
    assert all(p.grad is not None for p in model.parameters())


def test_inference_shortcuts_match_the_reference_and_follow_weight_updates():
    """No-grad CPU inference uses block-diagonal dense kernels (cached) and a direct kernel for tiny
    batches; both must agree with the straightforward network, also after the weights change in place."""
    model = build("efnn", "lattice", channels=3, layers=3, seed=4)
    for batch in (1, 3, 40):
        x = torch.nn.functional.normalize(torch.randn(batch, 13, 13, 3, dtype=torch.float64), dim=-1)
        m = model.double()
        with torch.no_grad():
            for _ in range(2):  # the second pass hits the cache
                e, e_ref = m(x), reference(m)(x)
                assert torch.allclose(e, e_ref, rtol=1e-10, atol=1e-10), batch
            for p in m.parameters():  # an optimizer step: in place, bumps the version counter
                p.mul_(1.01)
            assert torch.allclose(m(x), reference(m)(x), rtol=1e-10, atol=1e-10), batch
        with torch.inference_mode():
            assert torch.allclose(m(x), reference(m)(x), rtol=1e-10, atol=1e-10), batch


@pytest.mark.parametrize("family, shape", [("lattice", (1, 12, 12, 3)), ("dense", (1, 15))])
def test_frozen_inference_matches_eager_and_checks_its_input(family, shape):
    from efnn_core.nets import frozen

    hp = dict(channels=3, layers=2) if family == "lattice" else dict(width=16, layers=2)
    m = build("efnn", family, seed=1, **hp).eval()
    x = torch.randn(shape)
    if family == "lattice":
        x = torch.nn.functional.normalize(x, dim=-1)
    f = frozen(m, shape)
    with torch.no_grad():
        expected = m(x)
    assert torch.allclose(f(x), expected, rtol=1e-6, atol=1e-5)
    with pytest.raises(ValueError, match="traced for spins of shape"):
        f(torch.cat([x, x]))
    bad = x.clone()
    bad.view(-1)[0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        f(bad)
    with torch.no_grad():  # the graph holds a copy of the weights: later changes are not seen
        for p in m.parameters():
            p.add_(0.1)
    assert torch.allclose(f(x), expected, rtol=1e-6, atol=1e-5)


def test_lattice_nets_read_scalar_spins_as_z_vectors(models):
    """Ising-like (B, L, L) spins are the vectors s * z-hat, and the energy is even under s -> -s."""
    s = torch.randint(0, 2, (3, 6, 6)).double() * 2 - 1
    vec = torch.zeros(3, 6, 6, 3, dtype=torch.float64)
    vec[..., 2] = s
    for m in models.values():
        m = m.double()
        torch.testing.assert_close(m(s), m(vec))
        torch.testing.assert_close(m(-s), m(s))
