"""Checkpoints round-trip exactly and every malformed or hostile file is refused with a clear message."""

from __future__ import annotations

import json
import pickle
import sys
import types

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save
from test_training import _standin_module, nets, tiny_dense, tiny_lattice  # noqa: F401 - shared stand-in

import efnn_core
from efnn_core import checkpoint, pretrained
from efnn_core.checkpoint import CheckpointError
from efnn_core.systems import DoubleExchange
from efnn_core.training import Standardized


@pytest.fixture
def lattice_ckpt(nets, tmp_path):  # noqa: F811
    """A Standardized lattice model saved to tmp_path/m; returns (stem, model, spins (5, 4, 4, 3))."""
    torch.manual_seed(0)
    model = Standardized(tiny_lattice(nets), scale=0.88, offset_per_site=-0.5117)
    stem = tmp_path / "m"
    checkpoint.save(
        stem,
        model,
        system="double_exchange",
        system_params={"t": 1.0, "J": 16.0, "mu": -8.3, "T": 0.1},
        metrics={"rmse": 0.5, "r2": float("nan")},
        training={"epochs": 3},
        extra={"note": "test"},
    )
    spins = torch.nn.functional.normalize(torch.randn(5, 4, 4, 3), dim=-1)
    return stem, model, spins


def _edit_json(stem, fn):
    p = stem.with_name(stem.name + ".json")
    d = json.loads(p.read_text())
    fn(d)
    p.write_text(json.dumps(d))


def _weights(stem):
    return stem.with_name(stem.name + ".safetensors")


# --------------------------------------------------------------------------- round trips
def test_round_trip_gives_identical_outputs(lattice_ckpt):
    stem, model, spins = lattice_ckpt
    loaded, meta = checkpoint.load(stem)
    assert isinstance(loaded, Standardized) and not loaded.training
    assert (loaded.scale, loaded.offset_per_site) == (0.88, -0.5117)
    with torch.no_grad():
        assert torch.equal(loaded(spins), model(spins))
    assert meta["format"] == checkpoint.FORMAT and meta["library_version"] == efnn_core.__version__
    assert meta["system"] == "double_exchange" and meta["system_params"]["T"] == 0.1
    assert meta["model"]["config"]["family"] == "lattice"
    assert meta["model"]["num_parameters"] == model.num_parameters()
    assert meta["metrics"] == {"rmse": 0.5, "r2": None}  # NaN stored as null
    assert set(meta["tensors"]) == set(model.net.state_dict())
    # the same through load_bytes (files uploaded in the app), and the suffixed paths
    w, j = checkpoint.paths(str(stem) + ".json")
    again, _ = checkpoint.load_bytes(w.read_bytes(), j.read_text())
    with torch.no_grad():
        assert torch.equal(again(spins), model(spins))


def test_round_trip_dense_float64_and_dataset_fingerprint(nets, tmp_path):  # noqa: F811
    net = tiny_dense(nets).double()
    x = torch.rand(4, 15, dtype=torch.float64)
    fp = {"name": "three_spin_binary_train", "sha256_spins": "a" * 64, "sha256_energies": "b" * 64}
    checkpoint.save(tmp_path / "d", net, system="three_spin_binary", dataset={"train": fp})
    loaded, meta = checkpoint.load(tmp_path / "d")
    assert not isinstance(loaded, Standardized) and next(loaded.parameters()).dtype == torch.float64
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
    assert meta["dataset"]["train"]["sha256_spins"] == "a" * 64


@pytest.mark.skipif("de_L10_test" not in efnn_core.data.list(), reason="DE data not generated yet")
def test_dataset_names_are_fingerprinted_from_their_manifests(nets, tmp_path):  # noqa: F811
    meta = checkpoint.save(tmp_path / "f", tiny_lattice(nets), dataset="de_L10_test")
    m = efnn_core.data.manifest("de_L10_test")
    assert meta["dataset"]["train"]["sha256_energies"] == m["sha256_energies"]
    assert meta["system"] == "double_exchange" and meta["system_params"] == m["params"]


# --------------------------------------------------------------------------- refusals
def test_missing_files(lattice_ckpt):
    stem, _, _ = lattice_ckpt
    _weights(stem).unlink()
    with pytest.raises(CheckpointError, match="weights file .* not found"):
        checkpoint.load(stem)
    with pytest.raises(CheckpointError, match="metadata file .* not found"):
        checkpoint.load(stem.parent / "nothing")


def test_corrupted_weight_bytes(lattice_ckpt):
    stem, _, _ = lattice_ckpt
    b = bytearray(_weights(stem).read_bytes())
    b[-3] ^= 0xFF  # a flipped bit in the data
    _weights(stem).write_bytes(bytes(b))
    with pytest.raises(CheckpointError, match="weights_sha256"):
        checkpoint.load(stem)


def test_corrupted_header(lattice_ckpt):
    stem, _, _ = lattice_ckpt
    b = bytearray(_weights(stem).read_bytes())
    b[9] = ord("#")  # inside the JSON header
    _weights(stem).write_bytes(bytes(b))
    with pytest.raises(CheckpointError, match="header does not parse"):
        checkpoint.load(stem)


@pytest.mark.parametrize("keep", [0, 5, 8, 40, -4], ids=["empty", "5B", "8B", "header-cut", "data-cut"])
def test_truncated_weights(lattice_ckpt, keep):
    stem, _, _ = lattice_ckpt
    b = _weights(stem).read_bytes()
    _weights(stem).write_bytes(b[:keep] if keep >= 0 else b[:keep])
    with pytest.raises(CheckpointError, match="too short|truncated"):
        checkpoint.load(stem)


@pytest.mark.parametrize("payload", ["pickle", "torch.save"])
def test_pickle_renamed_safetensors_is_never_unpickled(lattice_ckpt, payload, tmp_path):
    stem, model, _ = lattice_ckpt

    class Boom:
        def __reduce__(self):
            return (pytest.fail, ("unpickled!",))

    if payload == "pickle":
        _weights(stem).write_bytes(pickle.dumps({"w": Boom()}))
    else:
        torch.save(model.net.state_dict(), _weights(stem))
    with pytest.raises(CheckpointError, match="nothing is ever unpickled"):
        checkpoint.load(stem)


def test_wrong_shapes(lattice_ckpt):
    stem, _, _ = lattice_ckpt
    _edit_json(stem, lambda d: d["model"]["config"].update(channels=d["model"]["config"]["channels"] + 1))
    with pytest.raises(CheckpointError, match="differ|shape"):
        checkpoint.load(stem)


def test_listing_disagrees_with_file(lattice_ckpt):
    stem, _, _ = lattice_ckpt

    def edit(d):
        name = next(iter(d["tensors"]))
        d["tensors"][name]["shape"] = [7, 7]

    _edit_json(stem, edit)
    with pytest.raises(CheckpointError, match="shape"):
        checkpoint.load(stem)


def test_weights_of_another_model(nets, lattice_ckpt, tmp_path):  # noqa: F811
    stem, _, _ = lattice_ckpt
    checkpoint.save(tmp_path / "other", tiny_dense(nets))
    _weights(stem).write_bytes(_weights(tmp_path / "other").read_bytes())
    with pytest.raises(CheckpointError, match="in the weights file but .* in the metadata|differ"):
        checkpoint.load(stem)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: d["model"]["config"].update(arch="transformer"), "unknown architecture 'transformer'"),
        (lambda d: d["model"]["config"].update(family="graph"), "family is 'graph'"),
        (lambda d: d["model"]["config"].update(channels=10**9), "channels = 1000000000 is outside"),
        (lambda d: d["model"]["config"].update(layers=-3), "layers = -3 is outside"),
        (lambda d: d.pop("tensors"), "missing key 'tensors'"),
        (lambda d: d["model"].pop("config"), "missing key model.'config'"),
        (lambda d: d.pop("weights_sha256"), "missing key 'weights_sha256'"),
        (lambda d: d.update(format="something-else"), "not an efnn_core checkpoint"),
        (lambda d: d.update(schema_version=99), "newer than this library"),
        (lambda d: d.update(schema_version="1"), "'schema_version' must be int"),
        (lambda d: d.update(kind="sklearn"), "unknown model kind"),
        (lambda d: d["model"].update(output={"scale": -1.0, "offset_per_site": 0.0}), "scale must be > 0"),
        (lambda d: d["model"].update(num_parameters=1), "parameters"),
        (lambda d: d.update(metrics=[1, 2]), "'metrics' must be an object"),
    ],
    ids=[
        "arch",
        "family",
        "huge-channels",
        "negative-layers",
        "no-tensors",
        "no-config",
        "no-sha",
        "format",
        "future-schema",
        "schema-type",
        "kind",
        "scale",
        "nparams",
        "metrics-type",
    ],
)
def test_bad_metadata_is_refused(lattice_ckpt, edit, match):
    stem, _, _ = lattice_ckpt
    _edit_json(stem, edit)
    with pytest.raises(CheckpointError, match=match):
        checkpoint.load(stem)


def test_metadata_not_json(lattice_ckpt):
    stem, _, _ = lattice_ckpt
    stem.with_name("m.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        checkpoint.load(stem)
    stem.with_name("m.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CheckpointError, match="not UTF-8"):
        checkpoint.load(stem)


def test_nan_weights_in_a_consistent_file(lattice_ckpt):
    """A hostile file with matching listing and sha256 still cannot smuggle NaN weights in."""
    stem, model, _ = lattice_ckpt
    sd = {k: v.clone() for k, v in model.net.state_dict().items()}
    k0 = next(iter(sd))
    sd[k0].view(-1)[0] = float("nan")
    blob = st_save(sd)
    _weights(stem).write_bytes(blob)
    _edit_json(stem, lambda d: d.update(weights_sha256=checkpoint._sha256(blob)))
    with pytest.raises(CheckpointError, match=f"tensor '{k0}' contains NaN"):
        checkpoint.load(stem)


def test_absurd_sizes_listed_are_refused_before_allocation(lattice_ckpt):
    stem, _, _ = lattice_ckpt

    def edit(d):
        d["tensors"]["huge"] = {"shape": [100_000, 100_000], "dtype": "F32"}

    _edit_json(stem, edit)
    with pytest.raises(CheckpointError, match="absurd"):
        checkpoint.load(stem)


def test_integer_tensor_where_float_expected(lattice_ckpt):
    stem, model, _ = lattice_ckpt
    sd = {k: v.clone() for k, v in model.net.state_dict().items()}
    k0 = next(iter(sd))
    sd[k0] = sd[k0].to(torch.int64)
    blob = st_save(sd)
    _weights(stem).write_bytes(blob)

    def edit(d):
        d["weights_sha256"] = checkpoint._sha256(blob)
        d["tensors"][k0]["dtype"] = "I64"

    _edit_json(stem, edit)
    with pytest.raises(CheckpointError, match="dtype I64 does not fit"):
        checkpoint.load(stem)


def test_save_refuses_models_without_config(tmp_path):
    with pytest.raises(CheckpointError, match="no dataclass `config`"):
        checkpoint.save(tmp_path / "x", torch.nn.Linear(2, 1))


# --------------------------------------------------------------------------- effective model
def test_effective_model_round_trip(tmp_path, monkeypatch):
    """Arrays go to safetensors, scalars to JSON; predictions are identical after loading."""
    spins = DoubleExchange().sample(4, 60, np.random.default_rng(0))
    try:
        from efnn_core.nets.effective import EffectiveModel

        model = EffectiveModel(kind="tiled", tile=2).fit(spins[:50], DoubleExchange().energy(spins[:50]))
    except ImportError:  # stand-in with the contract: one array "coef" + JSON-able params in to_dict

        class EffectiveModel:
            def __init__(self, coef, alpha):
                self.coef, self.alpha = coef, alpha

            def predict(self, x):
                return x.reshape(len(x), -1) @ self.coef

            def to_dict(self):
                return {"coef": self.coef, "alpha": self.alpha}

            @classmethod
            def from_dict(cls, d):
                return cls(np.asarray(d["coef"]), d["alpha"])

        mod = types.ModuleType("efnn_core.nets.effective")
        mod.EffectiveModel = EffectiveModel
        monkeypatch.setitem(sys.modules, "efnn_core.nets.effective", mod)
        model = EffectiveModel(np.arange(48.0), 0.1)
    checkpoint.save(tmp_path / "e", model, system="double_exchange")
    loaded, meta = checkpoint.load(tmp_path / "e")
    assert meta["kind"] == "effective" and "coef" in meta["tensors"]
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(spins[50:]), model.predict(spins[50:]))


# --------------------------------------------------------------------------- pretrained
def test_pretrained_list_load_and_dataset_check(lattice_ckpt, tmp_path):
    stem, _, _ = lattice_ckpt
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "ds.json").write_text(json.dumps({"sha256_spins": "s1", "sha256_energies": "e1"}))
    _edit_json(
        stem,
        lambda d: d.update(dataset={"train": {"name": "ds", "sha256_spins": "s1", "sha256_energies": "e1"}}),
    )
    assert pretrained.list(tmp_path) == ["m"]
    model, meta = pretrained.load("m", directory=tmp_path, data_dir=data_dir)
    assert meta["dataset"]["train"]["name"] == "ds"
    (data_dir / "ds.json").write_text(json.dumps({"sha256_spins": "s1", "sha256_energies": "CHANGED"}))
    with pytest.raises(CheckpointError, match="has changed since the model was trained"):
        pretrained.load("m", directory=tmp_path, data_dir=data_dir)
    with pytest.raises(CheckpointError, match="no pretrained model 'zzz'"):
        pretrained.load("zzz", directory=tmp_path)
    with pytest.raises(CheckpointError, match="plain file stem"):
        pretrained.load("../m", directory=tmp_path)


def test_shipped_pretrained_models_load():
    for name in pretrained.list():
        model, meta = pretrained.load(name)
        assert meta["model"]["num_parameters"] > 0
