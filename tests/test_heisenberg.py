"""The classical Heisenberg model: a new system added as one file plus a registry line (issue 11)."""

import numpy as np
import pytest
import torch

from efnn_core import checkpoint, cli, data
from efnn_core.nets import build
from efnn_core.systems import SYSTEMS, Heisenberg, get, recipe
from efnn_core.training import TrainConfig, Trainer


def hand_energy(s, J=1.0):
    """-J sum over right and down bonds, one site at a time."""
    L = s.shape[0]
    e = 0.0
    for r in range(L):
        for c in range(L):
            e -= J * (s[r, c] @ s[r, (c + 1) % L] + s[r, c] @ s[(r + 1) % L, c])
    return e


def random_orthogonal(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))  # Haar on O(3): rotations and reflections


@pytest.mark.parametrize("L", [3, 4, 7])
def test_energy_matches_a_hand_loop(L, rng):
    h = get("heisenberg", J=0.7)
    s = h.sample(L, 3, rng)
    np.testing.assert_allclose(h.energy(s), [hand_energy(x, 0.7) for x in s], rtol=0, atol=1e-12)
    assert isinstance(h.energy(s[0]), float)


def test_limits_and_symmetries(rng):
    h = Heisenberg()
    L = 6
    ferro = np.zeros((L, L, 3))
    ferro[..., 0] = 1
    assert h.energy(ferro) == pytest.approx(-2 * L * L)  # all 2L^2 bonds satisfied
    neel = ferro * np.where(np.add.outer(np.arange(L), np.arange(L)) % 2 == 0, 1.0, -1.0)[..., None]
    assert h.energy(neel) == pytest.approx(2 * L * L)
    s = h.sample(L, 4, rng)
    R = random_orthogonal(rng)
    np.testing.assert_allclose(h.energy(s @ R.T), h.energy(s), atol=1e-12)        # O(3)
    np.testing.assert_allclose(h.energy(np.roll(s, (2, 3), (1, 2))), h.energy(s), atol=1e-12)  # translation
    np.testing.assert_allclose(h.energy(s), (h.effective_field(s) * s).sum((-3, -2, -1)), atol=1e-12)


def test_registry_and_recipe():
    assert SYSTEMS["heisenberg"] is Heisenberg
    r = recipe("heisenberg")
    assert r.family == "lattice" and r.train_set in data.list() and r.test_set in data.list()
    X, Y = data.load(r.test_set)
    assert X.shape[1:] == (10, 10, 3)
    np.testing.assert_array_equal(Y, Heisenberg().energy(X))
    with pytest.raises(ValueError, match="unit vectors"):
        Heisenberg().energy(np.ones((4, 4, 3)))
    with pytest.raises(ValueError, match="unknown system"):
        get("heisenbreg")


def exact_efnn(J: float = 1.0, eps: float = 1e-7) -> torch.nn.Module:
    """One field-particle layer computing H exactly (to O(eps^2)), paper Fig. 1 for O(3) spins.

    T_1 = sum_k (W * S_k)(W' * S_k) with W = the site and W' = its right and down neighbours gives
    s_i . (s_{i+x} + s_{i+y}); F_1 = f_0(.) = 1 (zero weights, bias 1); g_1 = (1/eps) tanh(eps T_1) = T_1
    up to eps^2 T^3 / 3 (1e-14 per site at eps = 1e-7); q = -J on the centre.
    """
    m = build("efnn", "lattice", channels=1, layers=1, kernel=3).double()
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        m.T[1].conv0.weight[0, 0, 1, 1] = 1.0
        m.T[1].conv1.weight[0, 0, 1, 2] = 1.0
        m.T[1].conv1.weight[0, 0, 2, 1] = 1.0
        m.f[0].conv2.bias[0] = 1.0
        m.g[0].conv1.weight[0, 0, 1, 1] = eps
        m.g[0].conv2.weight[0, 0, 1, 1] = 1.0 / eps
        m.q.weight[0, 0, 1, 1] = -J
    return m.eval()


@pytest.mark.parametrize("engine", ["conv", "spectral"])
@pytest.mark.parametrize("L", [4, 7, 10])
def test_a_hand_built_efnn_is_exact(L, engine, rng):
    h = Heisenberg(J=1.3)
    m = exact_efnn(J=1.3)
    m.engine = engine
    s = h.sample(L, 5, rng)
    with torch.no_grad():
        got = m(torch.as_tensor(s)).numpy()
    np.testing.assert_allclose(got, h.energy(s), rtol=0, atol=1e-10)


def test_trains_saves_and_reloads(tmp_path):
    X, Y = data.load("heisenberg_L10_train")
    Xt, Yt = data.load("heisenberg_L10_test")
    model = build("efnn", "lattice", channels=1, layers=1, kernel=3, seed=0)
    tr = Trainer(model, TrainConfig(epochs=3, lr=1e-2, batch_size=100, schedule="constant", threads=1),
                 train=(X[:1000], Y[:1000]), test=(Xt[:200], Yt[:200]))
    first = tr.evaluate()["rmse"]
    result = tr.fit()
    assert result["rmse"] < first
    checkpoint.save(tmp_path / "h", tr.model, system="heisenberg", dataset={"train": "heisenberg_L10_train"})
    loaded, meta = checkpoint.load(tmp_path / "h")
    assert meta["system"] == "heisenberg"
    with torch.no_grad():
        x = torch.as_tensor(Xt[:4], dtype=torch.float32)
        torch.testing.assert_close(loaded(x), tr.model(x))


def test_cli_trains_heisenberg_and_continues_an_app_style_checkpoint(tmp_path, capsys):
    """A checkpoint saved as the Train page saves it (no CLI provenance, app `extra`) continues with --init."""
    X, Y = data.load("heisenberg_L10_train")
    model = build("efnn", "lattice", channels=1, layers=1, seed=1)
    tr = Trainer(model, TrainConfig(epochs=1, batch_size=100, threads=1), train=(X[:300], Y[:300]))
    tr.fit()
    app_style = tmp_path / "from_app"
    checkpoint.save(app_style, tr.model, system="heisenberg",
                    dataset={"train": "heisenberg_L10_train", "test": "heisenberg_L10_test"},
                    metrics=tr.evaluate(X[:50], Y[:50]), training=TrainConfig(epochs=1).to_dict(),
                    extra={"train_size": 300, "test_size": 50, "trained_in": "EFNN Explorer"})
    out = tmp_path / "continued"
    rc = cli.main(["train", "--init", str(app_style), "--epochs", "1", "--train-count", "300", "--test-count", "50",
                   "--threads", "1", "--quiet", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    meta = checkpoint.read_metadata(out)
    assert meta["system"] == "heisenberg" and meta["model"]["config"] == checkpoint.read_metadata(app_style)["model"]["config"]
    assert meta["training"]["init"]["model"] == str(app_style)
