"""Shipped datasets load, verify and are what their manifests say; generation resumes."""

import json
import shutil

import numpy as np
import pytest

from efnn_core import data
from efnn_core.solvers import ed
from efnn_core.systems import DoubleExchange


def test_shipped_sets_are_listed():
    assert set(data.SHIPPED) <= set(data.list())


@pytest.mark.parametrize("name", ["de_L10_test", "de_L20_test", "three_spin_binary_test"])
def test_load_verifies_and_labels_are_exact(name):
    spins, energies = data.load(name)
    m = data.manifest(name)
    assert len(spins) == len(energies) == m["count"]
    assert energies.mean() == pytest.approx(m["labels"]["mean"])
    if m["system"] == "double_exchange":
        assert spins.shape[1:] == (m["L"], m["L"], 3)
        # the stored labels are the exact E_MC of the regenerated spins
        np.testing.assert_allclose(DoubleExchange(**m["params"]).energy(spins[:3]), energies[:3], atol=1e-9)


def test_shipped_sizes_and_statistics():
    sizes = {n: data.manifest(n)["count"] for n in data.SHIPPED}
    assert sizes["de_L10_train"] >= 40000
    for L, least in [(10, 1000), (20, 500), (30, 200), (40, 100)]:
        assert sizes[f"de_L{L}_test"] >= least
    # E_MC per site is size independent for i.i.d. uniform spins (-0.511 at every L)
    per_site = [data.manifest(f"de_L{L}_test")["labels"]["mean_per_site"] for L in (10, 20, 30, 40)]
    assert np.ptp(per_site) < 2e-3 and per_site[0] == pytest.approx(-0.5114, abs=2e-3)
    err = data.manifest("de_L10_train")["single_precision_error"]
    assert err["max_abs"] < 1e-2 * 0.1  # complex64 labels are within 1% of T of the exact ones


def test_train_and_test_share_no_configuration():
    train, _ = data.load("de_L10_train")
    test, _ = data.load("de_L10_test")
    keys = {s.tobytes() for s in train[:, 0, 0]}
    assert not any(s.tobytes() in keys for s in test[:, 0, 0])


@pytest.fixture
def copy_of(tmp_path):
    def copy(name):
        for ext in (".json", ".npz"):
            if (data.DATA_DIR / f"{name}{ext}").exists():
                shutil.copy(data.DATA_DIR / f"{name}{ext}", tmp_path / f"{name}{ext}")
        return tmp_path
    return copy


def test_edited_label_is_detected(copy_of):
    d = copy_of("de_L20_test")
    _, e = data.load("de_L20_test", d)
    e[7] += 1e-6
    np.savez_compressed(d / "de_L20_test.npz", energies=e)
    with pytest.raises(data.DatasetError, match="energies do not match"):
        data.load("de_L20_test", d)


def test_edited_manifest_and_missing_files_are_detected(copy_of):
    d = copy_of("de_L20_test")
    m = json.loads((d / "de_L20_test.json").read_text())
    (d / "de_L20_test.json").write_text(json.dumps({**m, "seed": m["seed"] + 1}))
    with pytest.raises(data.DatasetError, match="spins do not match"):
        data.load("de_L20_test", d)
    (d / "de_L20_test.json").write_text("{not json")
    with pytest.raises(data.DatasetError, match="not valid JSON"):
        data.load("de_L20_test", d)
    with pytest.raises(data.DatasetError, match="no dataset 'nope'"):
        data.load("nope", d)
    (d / "de_L20_test.json").write_text(json.dumps(m))
    (d / "de_L20_test.npz").write_bytes(b"garbage")
    with pytest.raises(data.DatasetError, match="cannot be read"):
        data.load("de_L20_test", d)


def test_generation_resumes_after_an_interruption(tmp_path, monkeypatch):
    kw = dict(L=4, count=100, seed=3, out_dir=tmp_path, workers=1, chunk=20, progress=False)
    real = ed.solve_chunk
    calls = []

    def dies_after_two_shards(task):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(len(task[2]))
        return real(task)

    monkeypatch.setattr(ed, "solve_chunk", dies_after_two_shards)
    with pytest.raises(KeyboardInterrupt):
        data.generate("tiny", **kw)
    done = sorted(p.name for p in (tmp_path / ".partial" / "tiny").glob("*.npz"))
    assert done == ["00000000-00000020.npz", "00000020-00000040.npz"]
    calls.clear()
    monkeypatch.setattr(ed, "solve_chunk", lambda task: calls.append(len(task[2])) or real(task))
    m = data.generate("tiny", **kw)
    assert calls == [20, 20, 20]  # only the three missing shards were diagonalized
    spins, energies = data.load("tiny", tmp_path)
    np.testing.assert_allclose(energies, DoubleExchange().energy(spins), atol=1e-10)
    assert m["count"] == 100 and not (tmp_path / ".partial" / "tiny").exists()
