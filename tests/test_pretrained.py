"""Every shipped pretrained model loads, matches the data it was trained on, and still
scores what its metadata says."""

from pathlib import Path

import numpy as np
import pytest

from efnn_core import data, metrics, pretrained
from efnn_core.pretrain import recipes

NAMES = pretrained.list()
ROOT = Path(__file__).resolve().parent.parent


def test_every_recipe_is_shipped():
    missing = sorted(set(recipes()) - set(NAMES))
    assert not missing, f"pretrained models missing (run `python -m efnn_core pretrain`): {missing}"


def test_repository_stays_lean():
    size = lambda d: sum(p.stat().st_size for p in (ROOT / d).rglob("*") if p.is_file())  # noqa: E731
    assert size("pretrained") < 20e6 and size("data") < 30e6


@pytest.mark.parametrize("name", NAMES)
def test_pretrained_model_reproduces_its_stored_metric(name):
    model, meta = pretrained.load(name)  # validates the checkpoint and the dataset fingerprints
    test = meta["dataset"]["test"]
    manifest = data.manifest(test["name"])
    assert test["sha256_spins"] == manifest["sha256_spins"]
    assert test["sha256_energies"] == manifest["sha256_energies"]
    spins, energies = data.load(test["name"])
    # The whole test set (at most a few thousand configurations, well under a second): a
    # sub-sample's RMSE scatters by several percent, the full set must reproduce the metric.
    got = metrics.evaluate(model, spins, energies, temperature=meta["system_params"].get("T"))
    stored = meta["metrics"]
    assert got["rmse"] == pytest.approx(stored["rmse"], rel=0.05)
    assert np.isfinite(got["r2"]) and got["r2"] > 0


def test_continued_models_record_where_they_started():
    """A model trained with --init names its parent checkpoint by hash, and the parent is shipped too."""
    from efnn_core.reproduce import _budget

    for name in NAMES:
        t = pretrained.metadata(name).get("training") or {}
        init = t.get("init")
        if not init:
            continue
        parent = pretrained.metadata(init["model"])
        assert init["weights_sha256"] == parent["weights_sha256"], name
        assert t["seconds_total"] >= t["seconds"] + parent["training"]["seconds"] - 0.02
        here = f"{t['steps']} L-BFGS iterations" if t.get("optimizer") == "lbfgs" else f"{t['epochs_run']} Adam epochs"
        assert _budget(t) == f"{_budget(parent['training'])} + {here}"


def test_continuous_3spin_efnn_meets_the_paper_scale_goal():
    best = min(pretrained.metadata(n)["metrics"]["rmse"] for n in NAMES
               if n.startswith("spin_continuous_efnn"))
    assert best <= 6e-2
