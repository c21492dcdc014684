"""Bad-input corpus of issue 15: every input gets a one-line ValueError (library) or ``error: ...`` + exit 2
(CLI), refused *before* allocating or working, never a traceback or a silent exit 0.

The corpus is the tables below (``LIBRARY``, ``CLI``); each row is one reproduced failure.
"""

import json
import struct
import time

import numpy as np
import pytest
import torch

from efnn_core import checkpoint, cli, data, nnft, safejson
from efnn_core.nets import EffectiveModel, build
from efnn_core.nets.effective import tile_blocks, tiled_feature_count
from efnn_core.systems import DoubleExchange, Heisenberg, Ising2D, ThreeSpin
from efnn_core.systems import _checks
from efnn_core.training import TrainConfig

DE = DoubleExchange()


def _spins(L=4, n=1):
    return DE.sample(L, n, 0)


# (id, call, text the message must contain); every call must raise ValueError fast
LIBRARY = [
    ("energy_L200", lambda: DE.energy(DE.sample(200, 1, 0)), "at most 64"),
    ("sample_10e10", lambda: DE.sample(10, 10**10, 0), "at most 50000000"),
    ("sample_L_inf", lambda: DE.sample(float("inf"), 1, 0), "integer"),
    ("sample_L_huge", lambda: DE.sample(10**6, 1, 0), "at most 256"),
    ("heisenberg_count", lambda: Heisenberg().sample(10, 10**9, 0), "at most"),
    ("ising_count", lambda: Ising2D().sample(10, 10**12, 0), "at most"),
    ("threespin_sites_3000", lambda: ThreeSpin(sites=3000), "at most 100"),
    ("threespin_seed_str", lambda: ThreeSpin(seed="x"), "seed must be an integer"),
    ("rng_abc", lambda: DE.sample(4, 1, rng="abc"), "rng must be"),
    ("rng_negative", lambda: DE.sample(4, 1, rng=-1), "rng seed must be >= 0"),
    ("complex_spins", lambda: DE.energy(_spins().astype(complex)), "must be real"),
    ("torch_grad", lambda: DE.energy(torch.tensor(_spins(), requires_grad=True)), "requires grad"),
    ("string_spins", lambda: DE.energy("spins"), "numeric"),
    ("object_spins", lambda: DE.energy(np.array([None] * 48).reshape(4, 4, 3)), "numeric"),
    ("mu_1e308", lambda: DoubleExchange(mu=1e308), "|mu| <= 1e+06"),
    ("T_tiny", lambda: DoubleExchange(T=1e-300), "temperature T"),
    ("T_str", lambda: DoubleExchange(T="hot"), "real number"),
    ("J_complex", lambda: Ising2D(J=1j), "real number"),
    ("hamiltonian_batch", lambda: DE.hamiltonian(DE.sample(20, 64, 0)), "bounded batches"),
    ("effective_window_60", lambda: EffectiveModel.from_dict({"kind": "translation", "window": 60}), "window"),
    ("effective_tiled_L1e6", lambda: EffectiveModel.from_dict({"kind": "tiled", "tile": 1, "L": 10**6}), "L must"),
    ("effective_max_features", lambda: EffectiveModel(max_features=10**12), "max_features"),
    ("effective_unknown_key", lambda: EffectiveModel.from_dict({"kind": "tiled", "evil": 1}), "unknown"),
    ("effective_ridge_str", lambda: EffectiveModel(ridge="x"), "ridge"),
    ("effective_coef_len", lambda: EffectiveModel.from_dict({"kind": "tiled", "L": 10, "coef": np.zeros(3)}),
     "needs 1626"),
    ("net_channels_1e5", lambda: build("efnn", "lattice", channels=100000, layers=2), "at most 256"),
    ("net_width_inf", lambda: build("efnn", "dense", width=float("inf"), layers=2), "positive integer"),
    ("trainconfig_wd_inf", lambda: TrainConfig(weight_decay=float("inf")), "weight_decay"),
    ("nnft_N_huge", lambda: nnft.NeuronFieldConfig(N=10**7), "between 1 and 100000"),
    ("nnft_NM", lambda: nnft.sample_fields(nnft.NeuronFieldConfig(N=50_000), 100_000, [0.0], 0), "neurons"),
    ("nnft_M_zero", lambda: nnft.sample_neurons(nnft.NeuronFieldConfig(N=5), 0, 0), "positive integer"),
    ("nnft_grid", lambda: nnft.NeuronFieldConfig(d=2, L=1e4, cutoff=1e3), "grid"),
    ("json_deep", lambda: safejson.loads("[" * 100_000 + "]" * 100_000), "nesting depth"),
    ("json_1e400", lambda: safejson.loads('{"a": 1e400}'), "overflows"),
    ("json_10pow400", lambda: safejson.loads('{"a": 1' + "0" * 400 + "}"), "digits"),
    ("json_nan", lambda: safejson.loads("[NaN]"), "NaN"),
    ("json_big", lambda: safejson.loads(b" " * (2 << 20)), "bytes"),
]


@pytest.mark.parametrize("call,message", [r[1:] for r in LIBRARY], ids=[r[0] for r in LIBRARY])
def test_library_refuses_with_a_value_error(call, message):
    t0 = time.perf_counter()
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value) and "\n" not in str(err.value)
    assert time.perf_counter() - t0 < 5.0  # refused before allocating or enumerating


def test_closed_form_tiled_count_matches_the_tiles():
    for L in range(3, 16):
        for tile in range(1, L + 1):
            brute = 1
            for sites in tile_blocks(L, tile):
                p = len(sites) * (len(sites) + 1) // 2
                brute += p + p * (p + 1) // 2
            assert tiled_feature_count(L, tile) == brute


def test_energy_in_batches_equals_one_at_a_time(monkeypatch):
    spins = DE.sample(4, 7, 3)
    one = np.array([DE.energy(s) for s in spins])
    monkeypatch.setattr(_checks, "ED_BATCH_BYTES", 16 * 32 ** 2 * 2)  # 2 matrices per batch
    np.testing.assert_allclose(DE.energy(spins), one, rtol=0, atol=1e-12)


def test_sample_fields_in_pieces_has_the_right_law(monkeypatch):
    cfg = nnft.NeuronFieldConfig(d=1, N=20, L=20.0, cutoff=5.0)
    monkeypatch.setattr(nnft.ensembles, "PIECE_NEURONS", 1000)  # 50 networks per piece
    phi = nnft.sample_fields(cfg, 4000, [0.0], 1)[:, 0]
    G0 = nnft.theory.G0(cfg)
    assert abs(phi.var() / G0 - 1) < 5 * np.sqrt(2 / 4000) * 2  # var(phi(0)) = G(0) at any N


# ----------------------------------------------------------------------------- checkpoints
def _effective_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    s = DE.sample(6, 30, 0)
    m = EffectiveModel("translation", max_range=1, window=2).fit(s, rng.normal(size=30))
    checkpoint.save(tmp_path / "eff", m)
    return checkpoint.paths(tmp_path / "eff")


@pytest.mark.parametrize("edit,message", [
    (lambda d: d["model"]["params"].update(window=60), "window"),
    (lambda d: d["model"]["params"].update(kind="tiled", tile=1, L=10**6), "L must"),
    (lambda d: d["model"]["params"].update(max_features=10**9), "max_features"),
    (lambda d: d["model"]["params"].update(ridge=[1]), "ridge"),
], ids=["window60", "tiled_L1e6", "max_features", "ridge_list"])
def test_hostile_effective_checkpoint_is_refused_fast(tmp_path, edit, message):
    w, j = _effective_checkpoint(tmp_path)
    d = json.loads(j.read_text())
    edit(d)
    j.write_text(json.dumps(d))
    t0 = time.perf_counter()
    with pytest.raises(checkpoint.CheckpointError, match=message):
        checkpoint.load(w.with_suffix(""))
    assert time.perf_counter() - t0 < 2.0


@pytest.mark.parametrize("text,message", [
    ("[" * 50_000 + "]" * 50_000, "nesting depth"),
    ('{"format": 1e400}', "overflows"),
    ('{"format": 1' + "0" * 400 + "}", "digits"),
], ids=["deep", "1e400", "10pow400"])
def test_hostile_metadata_json(tmp_path, text, message):
    w, _ = _effective_checkpoint(tmp_path)
    with pytest.raises(checkpoint.CheckpointError, match=message):
        checkpoint.load_bytes(w.read_bytes(), text.encode())


def test_safetensors_header_dtype_list_is_refused(tmp_path):
    w, j = _effective_checkpoint(tmp_path)
    blob = w.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name]["dtype"] = ["F32"]
    h = json.dumps(header).encode()
    with pytest.raises(checkpoint.CheckpointError, match="dtype"):
        checkpoint._parse_header(struct.pack("<Q", len(h)) + h + blob[8 + n:])


# ----------------------------------------------------------------------------- datasets
def _dataset_copy(tmp_path, name="ising_L10_test"):
    for suffix in (".json", ".npz"):
        src = data.DATA_DIR / f"{name}{suffix}"
        if src.exists():
            (tmp_path / src.name).write_bytes(src.read_bytes())
    return tmp_path


@pytest.mark.parametrize("drop", ["system", "params", "sha256_spins"])
def test_manifest_missing_keys(tmp_path, drop):
    d = _dataset_copy(tmp_path)
    m = json.loads((d / "ising_L10_test.json").read_text())
    del m[drop]
    (d / "ising_L10_test.json").write_text(json.dumps(m))
    with pytest.raises(data.DatasetError, match=drop):
        data.load("ising_L10_test", d)


def test_manifest_count_1e8_is_refused_before_sampling(tmp_path):
    d = _dataset_copy(tmp_path)
    m = json.loads((d / "ising_L10_test.json").read_text())
    m["count"] = 10**8
    (d / "ising_L10_test.json").write_text(json.dumps(m))
    with pytest.raises(data.DatasetError, match="at most"):
        data.load("ising_L10_test", d)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"], ids=["empty", "truncated"])
def test_broken_npz_is_a_dataset_error(tmp_path, content):
    d = _dataset_copy(tmp_path, "de_L40_test")
    (d / "de_L40_test.npz").write_bytes(content)
    with pytest.raises(data.DatasetError, match="cannot be read"):
        data.load("de_L40_test", d)


def test_truncated_real_npz(tmp_path):
    d = _dataset_copy(tmp_path, "de_L40_test")
    blob = (d / "de_L40_test.npz").read_bytes()
    (d / "de_L40_test.npz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(data.DatasetError):
        data.load("de_L40_test", d)


# ----------------------------------------------------------------------------- CLI
def _cli_cases(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    return [
        (["train", "--weight-decay", "inf", "--quiet"], "--weight-decay must be a finite number"),
        (["train", "--train-count", "-5", "--quiet"], "--train-count must be > 0"),
        (["train", "--lr", "nan", "--quiet"], "--lr must be a finite number"),
        (["train", "--channels", "100000", "--train-count", "20", "--epochs", "1", "--quiet",
          "--out", str(tmp_path / "c")], "at most 256"),
        (["train", "--epochs", "1", "--quiet", "--out", str(afile / "x")], "is a file"),
        (["train", "--epochs", "1", "--quiet", "--out", str(tmp_path)], "is a folder"),
        (["fit-effective", "--validation", "999999", "--out", str(tmp_path / "f")], "--validation 999999"),
        (["fit-effective", "--window", "40", "--out", str(tmp_path / "f")], "window must be between 1 and 4"),
        (["fit-effective", "--ridge", "-1", "--out", str(tmp_path / "f")], "--ridge must be >= 0"),
        (["fit-effective", "--out", str(afile / "x")], "is a file"),
        (["evaluate", "--model", "de_efnn_c3_n1", "--latency-samples", "-3"], "--latency-samples must be >= 0"),
        (["evaluate", "--model", "de_efnn_c3_n1", "--L", "200"], "L=200"),
        (["data", "generate", "--L", "200", "--count", "1", "--out", str(tmp_path / "d")], "at most"),
        (["data", "generate", "--L", "6", "--count", str(10**10), "--out", str(tmp_path / "d")], "at most"),
        (["data", "generate", "--shipped", "--name", "bogus", "--out", str(tmp_path / "d")], "bogus"),
        (["reproduce", "--out", str(afile)], "is a file"),
    ]


def test_cli_bad_input_corpus(tmp_path, capsys):
    for argv, message in _cli_cases(tmp_path):
        t0 = time.perf_counter()
        rc = cli.main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        last = err[-1] if err else ""
        assert rc == 2, (argv, rc, err[-3:])
        assert last.startswith("error: ") and message in last, (argv, last)
        assert not any("Traceback" in e for e in err), argv
        assert time.perf_counter() - t0 < 30, argv  # refused before its work


# ----------------------------------------------------------------------------- app: URL values are plain text
INJECTIONS = [("system", "[Click here](https://evil.example/login)"),
              ("preset", "![x](https://tracker.example/p.png)"),
              ("L", "[x](https://evil.example)"),
              ("seed", "<img src=https://tracker.example/p.png>")]


@pytest.mark.slow
@pytest.mark.parametrize("key,value", INJECTIONS, ids=[k for k, _ in INJECTIONS])
def test_url_values_render_as_plain_text(key, value):
    from streamlit.testing.v1 import AppTest

    app = __import__("pathlib").Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"
    at = AppTest.from_file(str(app), default_timeout=90).run()
    at.query_params[key] = value
    at.switch_page("app_pages/lattice_lab.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    bodies = [str(getattr(e, "value", "")) for kind in ("warning", "error", "info", "markdown", "caption", "success")
              for e in getattr(at, kind)]
    host = "evil.example" if "evil" in value else "tracker.example"
    echoed = [b for b in bodies if host.split(".")[0] in b]
    assert echoed, "the bad URL value should be reported"
    for b in echoed:
        bare = b.replace("\\<", "").replace("\\[", "").replace("\\]", "")  # escaped: shown literally
        assert value not in b and "](" not in bare and "<img" not in bare and "https://" not in b, b
