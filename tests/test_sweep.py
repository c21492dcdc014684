"""Sweeps: grid files, one results row per job, resume, and the results-table validator."""

import csv
import io
from pathlib import Path

import pytest

from efnn_core import checkpoint, sweep

ROOT = Path(__file__).resolve().parent.parent
TINY = b"""
[train]
system = "three_spin_binary"
epochs = 1
train_count = 1000
validation = 200
batch_size = 256
[grid]
arch = ["efnn", "dnn"]
width = [6]
layers = [1]
[evaluate]
test_sets = ["three_spin_binary_test"]
"""


def test_the_shipped_fig4c_grid_is_the_papers_comparison():
    jobs = sweep.expand(sweep.read_grid(ROOT / "grids" / "fig4c.toml"))
    assert len(jobs) == 12 and len({j["job"] for j in jobs}) == 12
    assert {(j["options"]["arch"], j["options"]["layers"]) for j in jobs} == {
        (a, n) for a in ("efnn", "dnn", "resnet", "densenet") for n in (1, 2, 3)}
    assert all(j["test_sets"] == [f"de_L{L}_test" for L in (10, 20, 30, 40)] for j in jobs)


@pytest.mark.parametrize("text, message", [
    (b"[grid]\narch = 'efnn'\n", "must be a non-empty list"),
    (b"[grid]\nout = ['x']\n", "'out' is not a train option"),
    (b"[grid]\nbogus = [1]\n", "'bogus' is not a train option"),
    (b"[train]\narch='efnn'\n[grid]\narch = ['dnn']\n", "both"),
    (b"[train]\nepochs = 1\n", "needs a \\[grid\\]"),
    (b"[grid]\nseed = [1, 1]\n", "repeated combinations"),
    (b"[grid]\nseed = " + str(list(range(200))).encode() + b"\nlr = " + str([1e-3] * 60).encode(), "at most"),
    (b"[grid\n", "not valid TOML"),
    (b"[extra]\n[grid]\nseed=[0]\n", "unknown section"),
])
def test_bad_grids_are_refused_with_the_reason(text, message):
    with pytest.raises(sweep.SweepError, match=message):
        sweep.expand(sweep.read_grid(text))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished two-job sweep: (its folder, its results table)."""
    tmp = tmp_path_factory.mktemp("sweep")
    (tmp / "g.toml").write_bytes(TINY)
    return tmp, sweep.run(tmp / "g.toml", tmp / "out", workers=1, progress=False)


@pytest.mark.slow
def test_rows_checkpoints_and_resume(finished, monkeypatch):
    tmp, df = finished
    assert list(df["status"]) == ["ok", "ok"] and set(df["arch"]) == {"efnn", "dnn"}
    for _, r in df.iterrows():
        model, meta = checkpoint.load(tmp / "out" / r["checkpoint"])
        assert r["parameters"] == sum(p.numel() for p in model.parameters()) > 0
        # train_seconds is rounded to 10 ms by the train CLI, so a tiny job may record 0.0
        assert 0 < r["rel_error@three_spin_binary_test"] < 2 and r["seconds"] > 0 and r["seconds"] >= r["train_seconds"] >= 0
        assert r["lr"] == meta["training"]["lr"] and r["width"] == 6
    ran = []
    monkeypatch.setattr(sweep, "run_job", lambda job: ran.append(job) or {})
    again = sweep.run(tmp / "g.toml", tmp / "out", workers=1, progress=False)
    assert ran == [] and list(again["job"]) == list(df["job"])  # finished jobs are skipped


def test_a_failed_job_is_recorded_and_retried(tmp_path, monkeypatch):
    (tmp_path / "g.toml").write_bytes(TINY.replace(b"train_count = 1000", b"train_count = 999999"))
    df = sweep.run(tmp_path / "g.toml", tmp_path / "out", workers=1, progress=False)
    assert list(df["status"]) == ["failed", "failed"] and df["error"].str.contains("exceeds").all()
    assert len(sweep.load_results(tmp_path / "out" / "results.csv")) == 2
    real, ran = sweep.run_job, []
    monkeypatch.setattr(sweep, "run_job", lambda job: ran.append(job["job"]) or real(job))
    sweep.run(tmp_path / "g.toml", tmp_path / "out", workers=1, progress=False)
    assert sorted(ran) == sorted(df["job"])  # failures are run again


def _csv(header, rows) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    return out.getvalue().encode()


def test_load_results_refuses_malformed_tables(finished):
    good = (finished[0] / "out" / "results.csv").read_bytes()
    assert len(sweep.load_results(good)) == 2
    header, *rows = list(csv.reader(io.StringIO(good.decode())))
    col = {c: i for i, c in enumerate(header)}

    def edit(column, value):
        return [[value if i == col[column] else v for i, v in enumerate(r)] for r in rows]

    cases = {
        "lacks column": _csv([c.replace("parameters", "params") for c in header], rows),
        "no metric column": _csv([c for c in header if "@" not in c],
                                 [[v for c, v in zip(header, r) if "@" not in c] for r in rows]),
        "repeated job": _csv(header, [rows[0], rows[0]]),
        "'parameters' must hold numbers": _csv(header, edit("parameters", "many")),
        "'seconds' has negative": _csv(header, edit("seconds", "-1")),
        "status must be": _csv(header, edit("status", "done")),
        "not a CSV": b'"unterminated\n',
    }
    for message, blob in cases.items():
        with pytest.raises(sweep.SweepError, match=message):
            sweep.load_results(blob)
    with pytest.raises(sweep.SweepError, match="at most"):
        sweep.load_results(b"x" * (sweep.MAX_RESULTS_BYTES + 1))


def test_the_sweeps_page_plots_the_shipped_table():
    AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
    at = AppTest.from_file(str(ROOT / "app" / "app_pages" / "sweeps.py"), default_timeout=60).run()
    assert not at.exception and len(at.get("plotly_chart")) == 2
    assert len(sweep.load_results(ROOT / "docs" / "sweeps" / "three_spin_width.csv")) == 12
