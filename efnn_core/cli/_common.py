"""Helpers shared by the command modules: metric tables, provenance, loading a model by name or path."""

from __future__ import annotations

import math
import platform
import shlex

METRIC_KEYS = ("rmse", "rmse_T", "rel_error", "rmse_per_site", "r2", "mae", "n", "label_mean", "label_std")


def provenance(a, device: str) -> dict:
    """The exact command and the hardware, recorded in every checkpoint this CLI writes."""
    return {"command": "python -m efnn_core " + " ".join(shlex.quote(x) for x in a.argv),
            "hardware": f"{device}; {platform.processor() or platform.machine()}"}


def fmt(v, spec=".4g") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def metrics_table(m: dict, *, title: str = "") -> str:
    """A two-column text table of the metrics of ``metrics.evaluate`` (missing entries shown as -)."""
    rows = [
        ("configurations", m.get("n")),
        ("RMSE", m.get("rmse")),
        ("RMSE / T", m.get("rmse_T")),
        ("relative error (RMSE/|mean E|)", m.get("rel_error")),
        ("RMSE per site", m.get("rmse_per_site")),
        ("MAE", m.get("mae")),
        ("R^2", m.get("r2")),
        ("label mean", m.get("label_mean")),
        ("label std", m.get("label_std")),
    ]
    if m.get("seconds_per_config") is not None:
        rows.append(("time per config, batched (s)", m.get("seconds_per_config")))
    if m.get("latency_s") is not None:
        rows.append(("time per config, batch 1 (s)", m.get("latency_s")))
    w = max(len(r[0]) for r in rows)
    lines = [title] if title else []
    lines += [f"  {k:<{w}}  {fmt(v, '.6g')}" for k, v in rows]
    return "\n".join(lines)


def load_model(spec: str, device, *, flag: str = "--model"):
    """(model, metadata) of a checkpoint path stem or a pretrained model name."""
    from .. import checkpoint, pretrained

    w, j = checkpoint.paths(spec)
    if w.is_file() or j.is_file():
        return checkpoint.load(spec, device=device)
    if spec in pretrained.list():
        return pretrained.load(spec, device=device)
    raise ValueError(
        f"{flag} {spec!r} is neither a checkpoint ({w.name} + {j.name}) nor a pretrained model "
        f"(available: {', '.join(pretrained.list()) or 'none'})"
    )


def add_scheduler_option(p) -> None:
    """``--scheduler``: where a command's tasks run (see ``efnn_core.parallel.executor_from``)."""
    p.add_argument("--scheduler", help="local:N (a Dask LocalCluster of N workers) or a Dask scheduler "
                   "address tcp://host:port; default $EFNN_SCHEDULER, else this machine's process pool")
