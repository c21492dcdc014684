"""Architecture sweeps: a grid of training runs as independent tasks, one results row per run.

A grid file (TOML) names the options every run shares, the axes whose every
combination is one job, and the test sets each trained model is scored on::

    [train]                       # `python -m efnn_core train` options (underscores), for every job
    system = "double_exchange"
    epochs = 40
    [grid]                        # every combination is one job
    arch = ["efnn", "dnn", "resnet", "densenet"]
    channels = [3]
    layers = [1, 2, 3]
    seed = [0]
    [evaluate]
    test_sets = ["de_L10_test", "de_L20_test", "de_L30_test", "de_L40_test"]

Each job is exactly one ``python -m efnn_core train ...`` (run in the worker's
process through ``cli.main``, one torch thread), then an evaluation of its
best checkpoint on every test set (``metrics.evaluate``).  The checkpoint
travels back to the caller as bytes, so workers need no shared file system;
the caller writes it under ``OUT/checkpoints/<job>`` and rewrites
``OUT/results.csv`` atomically after every job.  A job is named by the hash
of its options and test sets; a rerun skips the jobs already in the table.

    >>> jobs = expand(read_grid("grids/fig4c.toml"))   # 12 dicts: arch x layers
    >>> df = load_results("runs/fig4c/results.csv")    # pandas DataFrame, validated
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import math
import os
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from . import parallel
from .atomic import write_atomic

MAX_GRID_BYTES = 1 << 20
MAX_JOBS = 10_000
MAX_RESULTS_BYTES = 50 << 20
RESULTS = "results.csv"
METRICS = ("rel_error", "rmse", "rmse_T", "rmse_per_site", "r2")
# Leading columns of the results table; then the metric columns `<metric>@<test set>`.
COLUMNS = ("job", "status", "system", "arch", "channels", "width", "layers", "lr", "epochs", "seed",
           "options", "parameters", "train_seconds", "seconds", "best_epoch", "checkpoint", "error")
# Train options a grid may not set: the sweep decides them.
RESERVED = {"out", "init", "quiet", "threads", "device", "data_dir"}


class SweepError(ValueError):
    """A grid file or results table that cannot be used (the message says why)."""


def read_grid(source: str | os.PathLike | bytes) -> dict:
    """Parse and check a grid (a TOML path or its bytes); returns ``{"train", "grid", "test_sets", ...}``."""
    raw = source if isinstance(source, bytes) else _read(Path(source), MAX_GRID_BYTES, "grid file")
    if len(raw) > MAX_GRID_BYTES:
        raise SweepError(f"grid is {len(raw)} bytes; at most {MAX_GRID_BYTES}")
    try:
        g = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise SweepError(f"grid is not valid TOML: {err}") from None
    unknown = set(g) - {"name", "description", "train", "grid", "evaluate"}
    if unknown:
        raise SweepError(f"grid has unknown section(s) {sorted(unknown)}; use train, grid, evaluate")
    train, grid = g.get("train", {}), g.get("grid", {})
    if not isinstance(train, dict) or not isinstance(grid, dict) or not grid:
        raise SweepError("grid needs a [grid] table of lists (each combination is one job)")
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise SweepError(f"[grid] {k} must be a non-empty list, got {v!r:.60}")
    allowed = _train_options()
    for k in [*train, *grid]:
        if k in RESERVED or k not in allowed:
            raise SweepError(f"{k!r} is not a train option a grid can set; allowed: "
                             f"{', '.join(sorted(allowed - RESERVED))}")
    both = set(train) & set(grid)
    if both:
        raise SweepError(f"{sorted(both)} appear in both [train] and [grid]")
    n = math.prod(len(v) for v in grid.values())
    if n > MAX_JOBS:
        raise SweepError(f"grid has {n} jobs; at most {MAX_JOBS}")
    tests = (g.get("evaluate") or {}).get("test_sets", [])
    if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
        raise SweepError("[evaluate] test_sets must be a list of dataset names")
    return {"name": g.get("name", ""), "train": train, "grid": grid, "test_sets": tests}


def _read(path: Path, limit: int, what: str) -> bytes:
    if not path.is_file():
        raise SweepError(f"{what} {path} does not exist")
    if path.stat().st_size > limit:
        raise SweepError(f"{what} {path} is {path.stat().st_size} bytes; at most {limit}")
    return path.read_bytes()


def _train_parser():
    """The ``train`` command's own argparse parser: the one source of its options."""
    import argparse

    from .cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def _train_options() -> set[str]:
    return {a.dest for a in _train_parser()._actions if a.option_strings and a.dest != "help"}


def _argv(options: dict) -> list[str]:
    """``{"batch_size": 256, "quiet": True}`` -> ``["--batch-size", "256", "--quiet"]``."""
    out = []
    for k, v in options.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            out.append(flag)
        elif v is not False and v is not None:
            out += [flag, str(v)]
    return out


def expand(grid: dict) -> list[dict]:
    """Every job of a grid: ``{"job": id, "options": {...}, "test_sets": [...]}``, in grid order."""
    keys = list(grid["grid"])
    jobs = []
    for values in itertools.product(*(grid["grid"][k] for k in keys)):
        options = {**grid["train"], **dict(zip(keys, values))}
        key = json.dumps({"options": options, "test_sets": grid["test_sets"]}, sort_keys=True)
        jobs.append({"job": hashlib.sha256(key.encode()).hexdigest()[:12], "options": options,
                     "test_sets": list(grid["test_sets"])})
    ids = [j["job"] for j in jobs]
    if len(set(ids)) != len(ids):
        raise SweepError("grid has repeated combinations (a list with the same value twice)")
    return jobs


def run_job(job: dict) -> dict:
    """Worker task: train one job with the ``train`` command, score it; a results row + checkpoint bytes.

    Never raises for a failed training: the row says ``status = "failed"`` and why.
    """
    import torch

    from . import checkpoint, data
    from .cli import main
    from .metrics import evaluate

    t0 = time.perf_counter()
    opts = job["options"]
    row = {"job": job["job"], **{k: opts.get(k) for k in ("system", "arch", "channels", "width", "layers", "lr",
                                                         "epochs", "seed")},
           "options": json.dumps(opts, sort_keys=True)}
    with tempfile.TemporaryDirectory(prefix="efnn-sweep-") as tmp:
        stem = Path(tmp) / job["job"]
        log = io.StringIO()
        threads = torch.get_num_threads()  # `train --threads 1` sets it process-wide: put it back
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                code = main(["train", *_argv(opts), "--threads", "1", "--quiet", "--out", str(stem)])
        finally:
            torch.set_num_threads(threads)
        if code != 0:
            tail = [ln for ln in log.getvalue().splitlines() if ln.strip()][-1:] or [f"exit {code}"]
            return {**row, "status": "failed", "error": tail[0][:300], "seconds": time.perf_counter() - t0}
        model, meta = checkpoint.load(stem)
        training = meta.get("training") or {}
        extra = meta.get("extra") or {}
        row.update({k: training.get(k, row[k]) for k in ("lr", "epochs", "seed")},  # defaults filled in
                   **{k: v for k, v in (extra.get("hp") or {}).items() if k in row})
        row.update(status="ok", parameters=int(sum(p.numel() for p in model.parameters())),
                   train_seconds=training.get("seconds"), best_epoch=training.get("best_epoch"),
                   system=meta.get("system"), arch=extra.get("arch", row["arch"]))
        T = (meta.get("system_params") or {}).get("T")
        tests = job["test_sets"] or [((meta.get("dataset") or {}).get("test") or {}).get("name")]
        for name in tests:
            X, Y = data.load(name)
            m = evaluate(model, X, Y, temperature=T)
            row.update({f"{k}@{name}": m.get(k) for k in METRICS})
        files = {ext: (stem.with_suffix(ext)).read_bytes() for ext in (".safetensors", ".json")}
    row["seconds"] = time.perf_counter() - t0
    return {**row, "_files": files}


def run(grid_file: str | os.PathLike, out: str | os.PathLike, *, executor=None, workers: int | None = None,
        progress: bool = True) -> "pandas.DataFrame":  # noqa: F821
    """Run every job of ``grid_file`` not yet in ``out/results.csv``; return the whole table.

    Jobs go through ``parallel.map_tasks`` on ``executor`` (default: the local
    pool of ``workers`` processes, one torch thread each).  Finished rows and
    their checkpoints are written as each job lands, so an interruption costs
    only the jobs in flight.
    """
    grid = read_grid(grid_file)
    jobs = expand(grid)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SweepError(f"--out {out} is a file, not a folder")
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    table = out / RESULTS
    rows = load_results(table).to_dict("records") if table.is_file() else []
    finished = {r["job"] for r in rows if r["status"] == "ok"}
    rows = [r for r in rows if r["job"] in finished]  # failed rows are retried
    todo = [j for j in jobs if j["job"] not in finished]
    print(f"{len(jobs)} jobs in {grid_file}: {len(jobs) - len(todo)} done, {len(todo)} to run on "
          f"{parallel.describe(executor, workers)}", file=sys.stderr, flush=True)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), unit="job", desc="sweep", file=sys.stderr)
    try:
        for _, row in parallel.map_tasks(run_job, todo, executor=executor, workers=workers):
            files = row.pop("_files", None)
            if files:
                stem = out / "checkpoints" / row["job"]
                for ext, blob in files.items():
                    write_atomic(stem.with_suffix(ext), blob)
                row["checkpoint"] = str(Path("checkpoints") / row["job"])
            rows.append(row)
            _write_table(table, rows)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{row['arch']} {row['status']}")
    finally:
        if bar is not None:
            bar.close()
    return load_results(table) if table.is_file() else _frame([])


def _frame(rows: list[dict]):
    import pandas as pd

    df = pd.DataFrame(rows)
    metric_cols = sorted(c for c in df.columns if "@" in c)
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = None
    return df[[*COLUMNS, *metric_cols]]


def _write_table(path: Path, rows: list[dict]) -> None:
    write_atomic(path, _frame(rows).to_csv(index=False).encode())


def load_results(source: str | os.PathLike | bytes) -> "pandas.DataFrame":  # noqa: F821
    """A sweep's results table (a CSV path or its bytes) as a validated pandas DataFrame.

    Checks: at most ``MAX_RESULTS_BYTES``, every column of ``COLUMNS``, at least
    one ``<metric>@<test set>`` column where a job finished, job ids unique, numbers where numbers
    belong (non-negative parameters and seconds).  Anything else raises
    SweepError (a ValueError) naming the problem.  Nothing is evaluated or
    unpickled: it is parsed as plain CSV text.
    """
    import pandas as pd

    raw = source if isinstance(source, bytes) else _read(Path(source), MAX_RESULTS_BYTES, "results table")
    if len(raw) > MAX_RESULTS_BYTES:
        raise SweepError(f"results table is {len(raw)} bytes; at most {MAX_RESULTS_BYTES}")
    try:
        df = pd.read_csv(io.BytesIO(raw), dtype={"job": str, "status": str, "checkpoint": str, "error": str})
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise SweepError(f"results table is not a CSV file: {str(err).splitlines()[0]}") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise SweepError(f"results table lacks column(s) {missing}; is it a sweep's {RESULTS}?")
    metric_cols = [c for c in df.columns if "@" in c]
    if (df["status"] == "ok").any() and not any(c.split("@")[0] in METRICS for c in metric_cols):
        raise SweepError("results table has no metric column (like rel_error@de_L10_test)")
    if df["job"].isna().any() or df["job"].duplicated().any():
        raise SweepError("results table has empty or repeated job ids")
    if not set(df["status"].dropna()) <= {"ok", "failed"} or df["status"].isna().any():
        raise SweepError("results table: status must be 'ok' or 'failed' in every row")
    for c in ("parameters", "train_seconds", "seconds", "layers", "epochs", *metric_cols):
        try:
            df[c] = pd.to_numeric(df[c])
        except (ValueError, TypeError):
            raise SweepError(f"results table: column {c!r} must hold numbers") from None
    for c in ("parameters", "train_seconds", "seconds"):
        if (df[c] < 0).any():
            raise SweepError(f"results table: column {c!r} has negative values")
    return df
