"""``python -m efnn_core evaluate``: score a checkpoint (path stem or pretrained name) on a test set.

    python -m efnn_core evaluate --model de_efnn_c3_n3 --L 40

Prints RMSE, RMSE/T, relative error, per-site RMSE, R^2, the batched time per
configuration and the batch-1 latency (``timing.model_seconds``).
"""

from __future__ import annotations

from ._common import load_model, metrics_table


def _positive(flag: str, value, *, zero: bool = False) -> None:
    if value is not None and (value < 0 or (value == 0 and not zero)):
        raise ValueError(f"{flag} must be {'>= 0' if zero else '> 0'}, got {value}")


def cmd_evaluate(a) -> int:
    from .. import checkpoint, data, metrics, timing
    from ..device import pick_device, set_threads
    from ..systems import get, recipe

    _positive("--count", a.count)
    _positive("--batch-size", a.batch_size)
    _positive("--latency-samples", a.latency_samples, zero=True)
    set_threads(a.threads)
    device = pick_device(a.device)
    model, meta = load_model(a.model, device)
    system = meta.get("system") or "double_exchange"
    if a.dataset:
        name = a.dataset
    elif a.L is not None:
        sets = recipe(system).test_sets
        if a.L not in sets:
            raise ValueError(f"no shipped {system} test set at L={a.L}; available: "
                             f"{', '.join(map(str, sets)) or 'none'} (or use --dataset)")
        name = sets[a.L]
    else:
        test = (meta.get("dataset") or {}).get("test") or {}
        name = test.get("name") or recipe(system).test_set
    m = data.manifest(name, a.data_dir)
    if m["system"] != system:
        raise ValueError(f"model is for {system} but dataset {name!r} is {m['system']}")
    X, Y = data.load(name, a.data_dir)
    if a.count:
        X, Y = X[: a.count], Y[: a.count]
    T = get(system, **(meta.get("system_params") or m["params"])).temperature
    res = metrics.evaluate(model, X, Y, temperature=T, batch_size=a.batch_size, device=device)
    if a.latency_samples and meta.get("kind") == "torch":  # as the paper times it: batch size 1
        res["latency_s"] = timing.model_seconds(model, X, batch=1, repeats=a.latency_samples)
    arch = checkpoint.architecture(meta)["arch"]
    L = f", L={m['L']}" if "L" in m else ""
    print(metrics_table(res, title=f"{arch} ({a.model}) on {name}{L}"))
    return 0


def add(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a checkpoint on a test set",
        description="Load a checkpoint (path stem or pretrained name), evaluate it on a test "
        "set and print RMSE, RMSE/T, relative error, per-site RMSE, R^2 and timings.",
    )
    p.add_argument("--model", required=True, help="checkpoint stem (runs/x for runs/x.json) or pretrained name")
    p.add_argument("--L", type=int, help="evaluate on the system's shipped test set at this L (DE: 10, 20, 30, 40)")
    p.add_argument("--dataset", help="dataset name (overrides --L; default: the model's test set)")
    p.add_argument("--count", type=int, help="use only the first N configurations")
    p.add_argument("--data-dir", help="data folder (default: data/)")
    p.add_argument("--batch-size", type=int, default=1000, help="configurations per forward pass (default 1000)")
    p.add_argument("--latency-samples", type=int, default=17,
                   help="batch-1 calls timed (default 17, as the paper); 0 to skip")
    p.add_argument("--device", default="auto", help="auto (default: cuda > mps > cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: all usable cores)")
    p.set_defaults(func=cmd_evaluate)
