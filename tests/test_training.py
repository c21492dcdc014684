"""Trainer, metrics and the train/evaluate CLI: short runs on small data (the whole file runs in seconds).

Until ``efnn_core.nets`` exists the ``nets`` fixture installs a tiny stand-in
module with the same contract (``build``, ``from_config``, ``config``
dataclass with ``family``, ``num_parameters``); once it exists the real nets
are used with tiny hyperparameters.
"""

from __future__ import annotations

import math
import sys
import threading
import types
from dataclasses import dataclass

import numpy as np
import pytest
import torch

import efnn_core
from efnn_core import cli, data, metrics
from efnn_core.systems import DoubleExchange
from efnn_core.training import AUTHORS, Event, Standardized, TrainConfig, Trainer, seeded, standardization


# --------------------------------------------------------------------------- stand-in nets
@dataclass
class TinyConfig:
    arch: str = "efnn"
    family: str = "lattice"  # "lattice": spins (B, L, L, 3); "dense": (B, n)
    channels: int = 2  # lattice hidden features per site
    layers: int = 1  # hidden layers
    width: int = 8  # dense hidden width
    inputs: int = 15  # dense input size


class TinyNet(torch.nn.Module):
    """Stand-in energy net.  Lattice: per-site features s_i * s_{i+x}, s_i * s_{i+y} (B, L, L, 6) ->
    MLP -> sum over sites; dense: MLP over (B, n).  Returns (B,)."""

    def __init__(self, config: TinyConfig):
        super().__init__()
        if config.arch not in ("efnn", "dnn", "resnet", "densenet"):
            raise ValueError(f"unknown arch {config.arch!r}")
        self.config = config
        lattice = config.family == "lattice"
        if not lattice and config.family != "dense":
            raise ValueError(f"unknown family {config.family!r}")
        h = config.channels if lattice else config.width
        dims = [6 if lattice else config.inputs] + [h] * config.layers
        mods = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            mods += [torch.nn.Linear(a, b), torch.nn.Tanh()]
        mods.append(torch.nn.Linear(dims[-1], 1))
        self.mlp = torch.nn.Sequential(*mods)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, s):
        if self.config.family == "lattice":
            f = torch.cat([s * s.roll(1, 1), s * s.roll(1, 2)], -1)  # (B, L, L, 6)
            return self.mlp(f).squeeze(-1).sum((1, 2))  # (B,)
        return self.mlp(s).squeeze(-1)


def _standin_module():
    m = types.ModuleType("efnn_core.nets")

    def build(arch, family, **hp):
        return TinyNet(TinyConfig(arch=arch, family=family, **hp))

    def from_config(d):
        return TinyNet(TinyConfig(**d))

    m.build, m.from_config, m.__all__ = build, from_config, ["build", "from_config"]
    return m


@pytest.fixture
def nets(monkeypatch):
    """The real ``efnn_core.nets`` if present, else the stand-in (installed for this test only)."""
    try:
        import efnn_core.nets as real

        if hasattr(real, "build") and hasattr(real, "from_config"):
            return real
    except ImportError:
        pass
    fake = _standin_module()
    monkeypatch.setitem(sys.modules, "efnn_core.nets", fake)
    monkeypatch.setattr(efnn_core, "nets", fake, raising=False)
    return fake


def tiny_lattice(nets, seed=0):
    with seeded(seed):
        return nets.build("efnn", "lattice", channels=2, layers=1)


def tiny_dense(nets, seed=0):
    with seeded(seed):
        return nets.build("dnn", "dense", width=8, layers=1)


@pytest.fixture(scope="module")
def de_small():
    """300 train + 100 test double exchange configurations at L = 4, labelled by ED (~0.1 s)."""
    de = DoubleExchange()
    rng = np.random.default_rng(7)
    s = de.sample(4, 400, rng)
    e = de.energy(s)
    return (s[:300], e[:300]), (s[300:], e[300:]), de.T


@pytest.fixture(scope="module")
def three_spin_dir(tmp_path_factory):
    """A data folder with the 3-spin binary sets (the shipped one, or regenerated in ~0.1 s)."""
    names = ["three_spin_binary_train", "three_spin_binary_test"]
    if set(names) <= set(data.list()):
        return data.DATA_DIR
    d = tmp_path_factory.mktemp("data")
    for n in names:
        data.generate(n, out_dir=d, progress=False, **data.SHIPPED[n])
    return d


@pytest.fixture(scope="module")
def three_spin(three_spin_dir):
    Xtr, Ytr = data.load("three_spin_binary_train", three_spin_dir)
    Xte, Yte = data.load("three_spin_binary_test", three_spin_dir)
    return (Xtr[:2000], Ytr[:2000]), (Xte[:500], Yte[:500])


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """Tests train with threads=1 (tiny nets, shared cores); restore the process setting after each."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


# --------------------------------------------------------------------------- metrics
def test_metrics_on_a_hand_made_example():
    class Fixed(torch.nn.Module):  # predicts sum of the (B, 2) inputs
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))

        def forward(self, x):
            return x @ self.w

    X = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]])
    Y = np.array([1.0, 2.0, 3.0, 6.0])  # errors 0, 0, 0, -2
    m = metrics.evaluate(Fixed(), X, Y, temperature=0.5, batch_size=3)  # batches of 3 and 1
    mse = 4 / 4
    var = np.var(Y)
    assert m["rmse"] == pytest.approx(1.0, abs=1e-14)
    assert m["mae"] == pytest.approx(0.5, abs=1e-14)
    assert m["r2"] == pytest.approx(1 - mse / var, abs=1e-14)
    assert m["rmse_T"] == pytest.approx(2.0, abs=1e-14)
    assert m["rel_error"] == pytest.approx(1.0 / 3.0, abs=1e-14)  # |mean Y| = 3
    assert m["rmse_per_site"] == pytest.approx(0.5, abs=1e-14)  # 2 sites
    assert m["n"] == 4 and m["label_mean"] == 3.0 and m["label_std"] == pytest.approx(np.std(Y))
    assert metrics.evaluate(Fixed(), X, Y)["rmse_T"] is None


def test_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="3 predictions for 2 labels"):
        metrics.scores(np.zeros(3), np.zeros(2), sites=1)


# --------------------------------------------------------------------------- standardization
def test_standardized_offset_follows_the_lattice_size(nets):
    net = tiny_lattice(nets)
    m = Standardized(net, scale=0.5, offset_per_site=-0.51)
    for L in (4, 6):
        s = torch.as_tensor(DoubleExchange().sample(L, 3, np.random.default_rng(L)), dtype=torch.float32)
        with torch.no_grad():
            np.testing.assert_allclose(m(s).numpy(), (0.5 * net(s) - 0.51 * L * L).numpy(), rtol=1e-6)
    assert m.num_parameters() == net.num_parameters() and m.config is net.config
    st = standardization((10, 4, 4, 3), np.full(10, -8.0) + np.arange(10))
    assert st["offset_per_site"] == pytest.approx((-8 + 4.5) / 16) and st["scale"] == pytest.approx(
        np.std(np.arange(10.0))
    )


# --------------------------------------------------------------------------- training
def test_short_training_lowers_the_test_error_3spin(nets, three_spin):
    train, test = three_spin
    model = tiny_dense(nets)
    cfg = TrainConfig(epochs=6, batch_size=100, lr=2e-2, dtype="float64", device="cpu", threads=1, seed=1)
    trainer = Trainer(model, cfg, train=train, test=test)
    before = trainer.evaluate()["rmse"]
    result = trainer.fit()
    assert result["reason"] == "completed" and result["epochs"] == 6 and result["steps"] == 6 * 20
    assert result["rmse"] < 0.6 * before
    assert result["rmse"] == pytest.approx(min(e.test_rmse for e in trainer.history))
    # the returned model is the best one and predicts energies (not standardized units)
    again = metrics.evaluate(trainer.model, *test)
    assert again["rmse"] == pytest.approx(result["rmse"], rel=1e-12)


def test_short_training_lowers_the_test_error_de(nets, de_small):
    train, test, T = de_small
    trainer = Trainer(
        tiny_lattice(nets),
        TrainConfig(epochs=8, batch_size=30, lr=3e-2, device="cpu", threads=1, schedule="cosine"),
        train=train,
        test=test,
        temperature=T,
    )
    before = trainer.evaluate()
    result = trainer.fit()
    assert result["rmse"] < 0.6 * before["rmse"]
    assert result["rmse_T"] == pytest.approx(result["rmse"] / T)
    assert result["rmse_per_site"] == pytest.approx(result["rmse"] / 16)
    # size consistency of the standardized output: predictions at L=6 are near -0.51 per site
    s6 = DoubleExchange().sample(6, 5, np.random.default_rng(3))
    e6 = metrics.predict(trainer.model, s6)
    assert np.all(np.abs(e6 / 36 - (-0.511)) < 0.05)


def test_events_carry_all_fields_and_the_schedule(nets, three_spin):
    train, test = three_spin
    cfg = TrainConfig(
        epochs=4,
        batch_size=500,
        eval_every=3,
        step_size=2,
        gamma=0.5,
        lr=1e-3,
        dtype="float64",
        device="cpu",
        threads=1,
    )
    trainer = Trainer(tiny_dense(nets), cfg, train=train, test=test)
    events = list(trainer.run())
    assert events == trainer.history
    kinds = [e.kind for e in events]
    assert kinds.count("epoch") == 4 and kinds[-1] == "final" and "step" in kinds
    assert [e.step for e in events if e.kind == "step"] == [3, 6, 9, 15]  # 4 steps per epoch; 12 ends epoch 3
    for e in events:
        assert isinstance(e, Event)
        for f in (
            "train_loss",
            "train_rmse",
            "test_rmse",
            "rel_error",
            "rmse_per_site",
            "r2",
            "mae",
            "lr",
            "elapsed",
            "best_rmse",
        ):
            assert isinstance(getattr(e, f), float) and math.isfinite(getattr(e, f)), f
        assert e.test_rmse_T is None  # no temperature given
    pairs = zip(events, events[1:], strict=False)
    assert all(b.progress >= a.progress and b.elapsed >= a.elapsed for a, b in pairs)
    lrs = {e.epoch: e.lr for e in events if e.kind == "epoch"}
    assert lrs == pytest.approx({1: 1e-3, 2: 1e-3, 3: 5e-4, 4: 5e-4})
    final = events[-1]
    assert final.done and not final.cancelled and final.reason == "completed" and final.best
    assert final.test_rmse == pytest.approx(min(e.test_rmse for e in events[:-1]))
    assert sum(e.done for e in events) == 1
    assert set(final.as_dict()) >= {
        "epoch",
        "step",
        "train_loss",
        "test_rmse",
        "test_rmse_T",
        "rel_error",
        "rmse_per_site",
        "r2",
        "lr",
        "elapsed",
        "best",
        "done",
        "cancelled",
    }


def test_cancel_from_another_thread_keeps_the_best_model(nets, three_spin):
    train, test = three_spin
    cfg = TrainConfig(
        epochs=10_000, batch_size=50, eval_every=5, lr=1e-2, dtype="float64", device="cpu", threads=1
    )
    trainer = Trainer(tiny_dense(nets), cfg, train=train, test=test)
    seen = threading.Event()

    def on_event(ev):
        if len(trainer.history) >= 4:
            seen.set()

    worker = threading.Thread(target=trainer.fit, args=(on_event,))
    worker.start()
    assert seen.wait(20), "no events within 20 s"
    trainer.cancel()
    worker.join(20)
    assert not worker.is_alive(), "cancel did not stop the run"
    final = trainer.history[-1]
    assert final.done and final.cancelled and final.reason == "cancelled"
    assert final.epoch < 10_000
    # the model holds exactly the best weights seen, and they score the best RMSE
    state = trainer.model.net.state_dict()
    assert all(torch.equal(state[k], v) for k, v in trainer.best_state.items())
    best = min(e.test_rmse for e in trainer.history[:-1])
    assert metrics.evaluate(trainer.model, *test)["rmse"] == pytest.approx(best, rel=1e-12)
    assert trainer.result["cancelled"] and trainer.result["rmse"] == pytest.approx(best, rel=1e-12)


def test_keyboard_interrupt_in_the_callback_cancels_cleanly(nets, three_spin):
    train, test = three_spin

    def interrupt(ev):
        if ev.step >= 6:
            raise KeyboardInterrupt

    trainer = Trainer(
        tiny_dense(nets),
        TrainConfig(epochs=50, batch_size=500, eval_every=2, device="cpu", threads=1, dtype="float64"),
        train=train,
        test=test,
    )
    result = trainer.fit(interrupt)
    assert result["cancelled"] and result["steps"] <= 8 and math.isfinite(result["rmse"])


def test_time_budget_and_runs_once(nets, three_spin):
    train, test = three_spin
    trainer = Trainer(
        tiny_dense(nets),
        TrainConfig(epochs=10_000, batch_size=100, max_seconds=0.3, device="cpu", threads=1, dtype="float64"),
        train=train,
        test=test,
    )
    result = trainer.fit()
    assert result["reason"] == "time budget" and result["elapsed"] < 10
    with pytest.raises(RuntimeError, match="runs once"):
        next(trainer.run())


def test_training_is_reproducible_with_a_seed(nets, three_spin):
    train, test = three_spin
    runs = []
    for _ in range(2):
        cfg = TrainConfig(epochs=2, batch_size=200, seed=5, dtype="float64", device="cpu", threads=1)
        runs.append(Trainer(tiny_dense(nets, seed=3), cfg, train=train, test=test).fit()["rmse"])
    assert runs[0] == runs[1]


def test_without_a_test_set_the_train_rmse_chooses(nets, three_spin):
    train, _ = three_spin
    trainer = Trainer(
        tiny_dense(nets), TrainConfig(epochs=2, batch_size=500, device="cpu", threads=1), train=train
    )
    trainer.fit()
    assert trainer.history[-1].test_rmse is None and math.isfinite(trainer.history[-1].best_rmse)


def test_lbfgs_full_batch_lowers_the_error_deterministically(nets, three_spin):
    train, test = three_spin
    runs = []
    for _ in range(2):
        cfg = TrainConfig(optimizer="lbfgs", lr=1.0, epochs=3, batch_size=700, weight_decay=0,
                          dtype="float64", device="cpu", threads=1)
        trainer = Trainer(tiny_dense(nets, seed=3), cfg, train=train, test=test)
        before = trainer.evaluate()["rmse"]
        runs.append(trainer.fit())
        # 10 iterations per epoch; the loss is the whole training set's, chunked by batch_size
        assert [e.step for e in trainer.history[:-1]] == [10, 20, 30]
        assert runs[-1]["rmse"] < 0.7 * before
    assert runs[0]["rmse"] == runs[1]["rmse"]  # full batch: no shuffling noise


def test_lbfgs_stops_inside_a_step_on_cancel(nets, three_spin):
    train, test = three_spin
    cfg = TrainConfig(optimizer="lbfgs", lr=1.0, epochs=10_000, batch_size=100, dtype="float64",
                      device="cpu", threads=1)
    trainer = Trainer(tiny_dense(nets), cfg, train=train, test=test)
    gen = trainer.run()
    first = next(gen)
    trainer.cancel()
    rest = list(gen)
    assert rest[-1].cancelled and rest[-1].epoch <= first.epoch + 1
    assert metrics.evaluate(trainer.model, *test)["rmse"] == pytest.approx(rest[-1].test_rmse, rel=1e-12)


def test_fine_tuning_never_ends_worse_than_it_began(nets, three_spin):
    train, test = three_spin
    cfg = TrainConfig(epochs=20, batch_size=100, lr=5e-3, dtype="float64", device="cpu", threads=1)
    trainer = Trainer(tiny_dense(nets), cfg, train=train, test=test)
    trainer.fit()
    start = trainer.evaluate()["rmse"]
    # a wildly large step size ruins the weights; the starting ones must come back
    bad = TrainConfig(epochs=2, batch_size=100, lr=5.0, dtype="float64", device="cpu", threads=1)
    tuner = Trainer(trainer.model, bad, train=train, test=test)
    result = tuner.fit()
    assert all(e.test_rmse > start for e in tuner.history[:-1] if e.test_rmse is not None)
    assert result["rmse"] == pytest.approx(start, rel=1e-12) and result["best_epoch"] == 0


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(optimizer="sgd"), "optimizer"),
        (dict(schedule="linear"), "schedule"),
        (dict(lr=0), "lr"),
        (dict(batch_size=0), "batch_size"),
        (dict(dtype="float16"), "dtype"),
        (dict(max_seconds=-1), "max_seconds"),
    ],
    ids=["optimizer", "schedule", "lr", "batch", "dtype", "budget"],
)
def test_config_errors_name_the_field(bad, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**bad)


def test_bad_data_is_refused(nets):
    with pytest.raises(ValueError, match="energies must have shape"):
        Trainer(
            tiny_dense(nets), TrainConfig(device="cpu", threads=1), train=(np.zeros((4, 15)), np.zeros(3))
        )
    with pytest.raises(ValueError, match="NaN"):
        Trainer(
            tiny_dense(nets),
            TrainConfig(device="cpu", threads=1),
            train=(np.zeros((4, 15)), np.array([0, 1, np.nan, 2])),
        )


def test_authors_setups_are_valid_configs():
    for kw in AUTHORS.values():
        TrainConfig(**kw)
    assert AUTHORS["double_exchange"]["gamma"] == pytest.approx(0.891, abs=1e-3)


# --------------------------------------------------------------------------- CLI
def test_cli_train_and_evaluate_3spin(nets, tmp_path, capsys, three_spin_dir):
    out = tmp_path / "m3"
    rc = cli.main(
        [
            "train",
            "--system",
            "three_spin_binary",
            "--arch",
            "dnn",
            "--width",
            "8",
            "--layers",
            "1",
            "--epochs",
            "2",
            "--train-count",
            "500",
            "--test-count",
            "200",
            "--batch-size",
            "100",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--quiet",
            "--out",
            str(out),
            "--data-dir",
            str(three_spin_dir),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0 and "relative error" in text and "saved" in text
    assert (tmp_path / "m3.safetensors").is_file() and (tmp_path / "m3.json").is_file()
    rc = cli.main(
        [
            "evaluate",
            "--model",
            str(out),
            "--count",
            "100",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--latency-samples",
            "2",
            "--data-dir",
            str(three_spin_dir),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0 and "three_spin_binary_test" in text and "R^2" in text and "batch 1" in text


def test_cli_init_continues_a_checkpoint_and_records_it(nets, tmp_path, capsys, three_spin_dir):
    import json

    common = ["--train-count", "500", "--test-count", "200", "--device", "cpu", "--threads", "1", "--quiet",
              "--data-dir", str(three_spin_dir), "--weight-decay", "0"]
    first, second = tmp_path / "a", tmp_path / "b"
    assert cli.main(["train", "--system", "three_spin_binary", "--arch", "dnn", "--width", "8", "--layers", "1",
                     "--epochs", "2", "--batch-size", "100", "--out", str(first), *common]) == 0
    assert cli.main(["train", "--system", "three_spin_binary", "--init", str(first), "--optimizer", "lbfgs",
                     "--epochs", "2", "--out", str(second), *common]) == 0
    capsys.readouterr()
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert b["model"]["config"] == a["model"]["config"]  # architecture taken from the checkpoint
    t = b["training"]
    assert t["optimizer"] == "lbfgs" and t["lr"] == 1.0 and t["init"]["model"] == str(first)
    assert t["init"]["weights_sha256"] == a["weights_sha256"] and t["init"]["training"]["command"].startswith(
        "python -m efnn_core train")
    assert t["seconds_total"] == pytest.approx(t["seconds"] + a["training"]["seconds"], abs=0.02)
    assert b["metrics"]["rmse"] <= a["metrics"]["rmse"] * (1 + 1e-9)  # starts from, never ends worse than, a
    rc = cli.main(["train", "--system", "three_spin_continuous", "--init", str(first), "--out",
                   str(tmp_path / "c"), *common])
    err = capsys.readouterr().err
    assert rc != 0 and "not a network for three_spin_continuous" in err


@pytest.mark.skipif("de_L20_test" not in data.list(), reason="DE datasets not generated yet")
def test_cli_train_and_evaluate_de(nets, tmp_path, capsys):
    out = tmp_path / "de"
    rc = cli.main(
        [
            "train",
            "--channels",
            "2",
            "--layers",
            "1",
            "--epochs",
            "1",
            "--train-count",
            "200",
            "--test-count",
            "50",
            "--batch-size",
            "100",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0 and "RMSE / T" in captured.out and "rmse/T=" in captured.err  # table + progress bar
    rc = cli.main(["evaluate", "--model", str(out), "--L", "20", "--count", "10", "--latency-samples", "1"])
    text = capsys.readouterr().out
    assert rc == 0 and "de_L20_test, L=20" in text and "RMSE per site" in text


def test_cli_errors_are_one_line(nets, tmp_path, capsys, three_spin_dir):
    assert cli.main(["evaluate", "--model", str(tmp_path / "nothing")]) == 2
    assert "neither a checkpoint" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "train",
                "--system",
                "double_exchange",
                "--train-dataset",
                "three_spin_binary_train",
                "--data-dir",
                str(three_spin_dir),
                "--out",
                str(tmp_path / "x"),
                "--quiet",
            ]
        )
        == 2
    )
    assert "pick a matching --system" in capsys.readouterr().err


# --------------------------------------------------------------------------- GPU
@pytest.mark.gpu
def test_training_and_inference_on_cuda(nets, de_small, tmp_path):
    from efnn_core import checkpoint

    train, test, T = de_small
    trainer = Trainer(
        tiny_lattice(nets),
        TrainConfig(epochs=3, batch_size=50, device="cuda"),
        train=train,
        test=test,
        temperature=T,
    )
    result = trainer.fit()
    assert trainer.device.type == "cuda" and next(trainer.model.parameters()).is_cuda
    cpu = metrics.evaluate(trainer.model, *test, device="cpu")
    assert cpu["rmse"] == pytest.approx(result["rmse"], rel=1e-4)
    checkpoint.save(tmp_path / "g", trainer.model.to("cuda"))
    model, _ = checkpoint.load(tmp_path / "g", device="cuda")
    assert next(model.parameters()).is_cuda
    assert metrics.evaluate(model, *test)["rmse"] == pytest.approx(result["rmse"], rel=1e-4)
