"""CLI commands ``train`` and ``evaluate`` (registered with ``efnn_core.cli.register``).

    python -m efnn_core train --system double_exchange --arch efnn --channels 3 --layers 2 \\
        --epochs 100 --out runs/de_efnn_c3_n2
    python -m efnn_core evaluate --model runs/de_efnn_c3_n2 --L 40

``train`` shows a progress bar over epochs with live test metrics, stops
cleanly on Ctrl-C (the best model so far is still saved), writes a
checkpoint pair ``<out>.safetensors`` + ``<out>.json`` and prints a metrics
table.  ``evaluate`` loads a checkpoint (a path stem or a pretrained name),
scores it on a test set and prints the same table plus timings.
"""

from __future__ import annotations

import math
import platform
import shlex
import sys
import time

from .cli import register
from .data import DEFAULT_SETS

# system -> (network family, TrainConfig overrides); SYSTEMS adds the default datasets
_FAMILY_OVERRIDES = {
    "double_exchange": ("lattice", dict(dtype="float32", weight_decay=1e-5)),
    "three_spin_binary": ("dense", dict(dtype="float64", weight_decay=1e-3)),
    "three_spin_continuous": ("dense", dict(dtype="float64", weight_decay=1e-3)),
}
SYSTEMS = {name: (fam, *DEFAULT_SETS[name], over) for name, (fam, over) in _FAMILY_OVERRIDES.items()}
METRIC_KEYS = ("rmse", "rmse_T", "rel_error", "rmse_per_site", "r2", "mae", "n", "label_mean", "label_std")


def _provenance(a, device: str) -> dict:
    """The exact command and the hardware, recorded in every checkpoint this CLI writes."""
    return {"command": "python -m efnn_core " + " ".join(shlex.quote(x) for x in a.argv),
            "hardware": f"{device}; {platform.processor() or platform.machine()}"}


def _fmt(v, spec=".4g") -> str:
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
    lines += [f"  {k:<{w}}  {_fmt(v, '.6g')}" for k, v in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- train
def cmd_train(a) -> int:
    from . import checkpoint, data
    from .device import describe
    from .nets import build
    from .training import TrainConfig, Trainer, seeded

    family, train_name, test_name, overrides = SYSTEMS[a.system]
    train_name = a.train_dataset or train_name
    test_name = a.test_dataset or test_name
    for name in (train_name, test_name):
        sysname = data.manifest(name, a.data_dir)["system"]
        if sysname != a.system:
            raise ValueError(f"dataset {name!r} is for {sysname}, not {a.system}; pick a matching --system")
    Xtr, Ytr = data.load(train_name, a.data_dir)
    Xte, Yte = data.load(test_name, a.data_dir)
    if a.train_count:
        if a.train_count > len(Xtr):
            raise ValueError(
                f"--train-count {a.train_count} exceeds the {len(Xtr)} configurations of {train_name}"
            )
        Xtr, Ytr = Xtr[: a.train_count], Ytr[: a.train_count]
    if a.test_count:
        Xte, Yte = Xte[: a.test_count], Yte[: a.test_count]
    # The best epoch is chosen on a validation set: the last --validation training
    # configurations (held out from training), or, with --validation 0, the test set itself.
    if a.validation:
        if not 0 < a.validation < len(Xtr):
            raise ValueError(f"--validation {a.validation} must be between 1 and {len(Xtr) - 1}")
        Xval, Yval = Xtr[-a.validation:], Ytr[-a.validation:]
        Xtr, Ytr = Xtr[: -a.validation], Ytr[: -a.validation]
    else:
        Xval, Yval = Xte, Yte
    params = data.manifest(train_name, a.data_dir)["params"]
    temperature = params.get("T") if a.system == "double_exchange" else None

    cfg_kw = dict(overrides)
    for key in (
        "epochs",
        "lr",
        "batch_size",
        "weight_decay",
        "schedule",
        "step_size",
        "gamma",
        "seed",
        "max_seconds",
        "device",
        "dtype",
        "optimizer",
        "threads",
        "eval_every",
    ):
        v = getattr(a, key)
        if v is not None:
            cfg_kw[key] = v
    if cfg_kw.get("optimizer") == "lbfgs" and a.lr is None:
        cfg_kw["lr"] = 1.0  # L-BFGS: initial step length of the line search
    cfg = TrainConfig(**cfg_kw)
    init = None
    if a.init:  # continue from a checkpoint: its architecture, weights and output standardization
        model, parent = _load_model(a.init, "cpu")
        if parent.get("system") != a.system or parent.get("kind") != "torch":
            raise ValueError(f"--init {a.init!r} is a {parent.get('kind')} model for {parent.get('system')}, "
                             f"not a network for {a.system}")
        a.arch, hp = parent["extra"]["arch"], dict(parent["extra"]["hp"])
        print(f"--init: continuing {a.arch} {hp} from {a.init} (architecture options ignored)", file=sys.stderr)
        ptrain = parent.get("training") or {}
        init = {"model": a.init, "weights_sha256": parent.get("weights_sha256"),
                "seconds_total": ptrain.get("seconds_total", ptrain.get("seconds")), "training": ptrain}
    else:
        hp = dict(layers=a.layers)
        if family == "lattice":
            hp["channels"] = a.channels
        else:
            hp["width"] = a.width
        with seeded(cfg.seed):
            model = build(a.arch, family, **hp)
    trainer = Trainer(model, cfg, train=(Xtr, Ytr), test=(Xval, Yval), temperature=temperature)
    out = a.out or f"runs/{a.system}_{a.arch}_s{cfg.seed}"
    print(
        f"training {a.arch} ({family}, {', '.join(f'{k}={v}' for k, v in hp.items())}; "
        f"{trainer.model.num_parameters()} parameters) on {train_name} ({len(Xtr)}), testing on "
        f"{test_name} ({len(Xte)}); {describe(trainer.device)}, {cfg.dtype}",
        file=sys.stderr,
    )

    from tqdm.auto import tqdm

    bar = tqdm(
        total=cfg.epochs,
        unit="epoch",
        disable=a.quiet,
        file=sys.stderr,
        bar_format="{l_bar}{bar}| {n:.1f}/{total_fmt} [{elapsed}<{remaining}{postfix}]",
    )

    def show(ev):
        if ev.kind != "final":
            bar.update(ev.progress - bar.n)
        post = {"loss": _fmt(ev.train_loss, ".3g"), "rmse": _fmt(ev.test_rmse, ".4g")}
        if ev.test_rmse_T is not None:
            post["rmse/T"] = _fmt(ev.test_rmse_T, ".3g")
        post["rel"] = _fmt(ev.rel_error, ".3g")
        post["lr"] = _fmt(ev.lr, ".2g")
        bar.set_postfix(post, refresh=True)

    try:
        result = trainer.fit(show)
    finally:
        bar.close()
    if result["reason"] != "completed":
        print(
            f"stopped early ({result['reason']}) after {result['steps']} steps; keeping the best model "
            f"(epoch {result['best_epoch']})",
            file=sys.stderr,
        )
    training = {
        **cfg.to_dict(),
        "train_count": int(len(Xtr)),
        "test_count": int(len(Xte)),
        "epochs_run": result["epochs"],
        "steps": result["steps"],
        "best_epoch": result["best_epoch"],
        "seconds": round(result["elapsed"], 2),
        "reason": result["reason"],
        "selection": "validation" if a.validation else "test",
        "validation_count": int(a.validation or 0),
        **_provenance(a, f"{describe(trainer.device)}, {__import__('torch').get_num_threads()} torch threads"),
    }
    if init:  # the whole budget: this run's seconds plus those of the checkpoint it started from
        training["init"] = init
        training["seconds_total"] = round(training["seconds"] + (init["seconds_total"] or 0.0), 2)
    if a.validation:  # report the held-out test set, not the set the best epoch was picked on
        from .metrics import evaluate

        training["validation_metrics"] = {k: result.get(k) for k in METRIC_KEYS}
        result = {**result, **evaluate(trainer.model, Xte, Yte, temperature=temperature)}
    metrics = {k: result.get(k) for k in METRIC_KEYS}
    checkpoint.save(
        out,
        trainer.model,
        system=a.system,
        system_params=params,
        dataset={
            "train": checkpoint.dataset_fingerprint(train_name, a.data_dir),
            "test": checkpoint.dataset_fingerprint(test_name, a.data_dir),
        },
        metrics=metrics,
        training=training,
        extra={"arch": a.arch, "family": family, "hp": hp},
    )
    w, j = checkpoint.paths(out)
    print(
        metrics_table(
            result,
            title=f"{a.arch} on {test_name} (best of {result['epochs']} epochs, {result['elapsed']:.1f} s)",
        )
    )
    print(f"saved {w} and {j}")
    return 0


# --------------------------------------------------------------------------- evaluate
def _load_model(spec: str, device):
    from . import checkpoint, pretrained

    w, j = checkpoint.paths(spec)
    if w.is_file() or j.is_file():
        return checkpoint.load(spec, device=device)
    if spec in pretrained.list():
        return pretrained.load(spec, device=device)
    raise ValueError(
        f"--model {spec!r} is neither a checkpoint ({w.name} + {j.name}) nor a pretrained model "
        f"(available: {', '.join(pretrained.list()) or 'none'})"
    )


def cmd_evaluate(a) -> int:
    import torch

    from . import data, metrics
    from .device import pick_device, set_threads

    set_threads(a.threads)
    device = pick_device(a.device)
    model, meta = _load_model(a.model, device)
    system = meta.get("system")
    if a.dataset:
        name = a.dataset
    elif a.L is not None:
        if system not in (None, "double_exchange"):
            raise ValueError(
                f"--L applies to double exchange models; this one is for {system}; use --dataset"
            )
        name = f"de_L{a.L}_test"
    else:
        test = (meta.get("dataset") or {}).get("test") or {}
        name = test.get("name") or (
            f"{system}_test" if system and system.startswith("three_spin") else "de_L10_test"
        )
    m = data.manifest(name, a.data_dir)
    if system and m["system"] != system:
        raise ValueError(f"model is for {system} but dataset {name!r} is {m['system']}")
    X, Y = data.load(name, a.data_dir)
    if a.count:
        X, Y = X[: a.count], Y[: a.count]
    T = (meta.get("system_params") or {}).get("T", m["params"].get("T"))
    if m["system"] != "double_exchange":
        T = None
    if meta.get("kind") == "effective":
        raise ValueError("evaluate on an EffectiveModel checkpoint: use EffectiveModel.predict in Python")
    first = next(iter(model.parameters()))
    res = metrics.evaluate(model, X, Y, temperature=T, batch_size=a.batch_size, device=device)
    # latency as the paper times it: batch size 1, a few configurations
    k = min(a.latency_samples, len(X))
    if k:
        xs = torch.as_tensor(X[:k], dtype=first.dtype, device=device)
        with torch.inference_mode():
            model(xs[:1])  # warm-up
            t0 = time.perf_counter()
            for i in range(k):
                model(xs[i : i + 1])
            if device.type == "cuda":
                torch.cuda.synchronize()
        res["latency_s"] = (time.perf_counter() - t0) / k
    label = meta.get("extra", {}) or {}
    desc = f"{label.get('arch', meta['model'].get('class'))} ({a.model})"
    L = f", L={m['L']}" if "L" in m else ""
    print(metrics_table(res, title=f"{desc} on {name}{L}"))
    return 0


# --------------------------------------------------------------------------- parsers
@register
def add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train an energy model (progress bar, Ctrl-C keeps the best model)",
        description="Train an EFNN or a baseline on a shipped dataset; writes a checkpoint "
        "(safetensors + JSON) and prints the test metrics of the best epoch.",
    )
    p.add_argument(
        "--system", default="double_exchange", choices=sorted(SYSTEMS), help="default double_exchange"
    )
    p.add_argument(
        "--arch", default="efnn", choices=["efnn", "dnn", "resnet", "densenet"], help="default efnn"
    )
    p.add_argument("--channels", type=int, default=3, help="lattice nets: channels C (default 3)")
    p.add_argument("--width", type=int, default=64, help="dense nets (3-spin): hidden width (default 64)")
    p.add_argument("--layers", type=int, default=2, help="layers (EFNN: n-1 field updates; default 2)")
    p.add_argument("--epochs", type=int, help="epochs (default 100)")
    p.add_argument("--lr", type=float, help="initial learning rate (default 1e-3)")
    p.add_argument("--batch-size", type=int, help="batch size (default 1000)")
    p.add_argument("--weight-decay", type=float, help="weight decay (default 1e-5 DE, 1e-3 3-spin)")
    p.add_argument("--optimizer", choices=["adam", "adamw", "lbfgs"],
                   help="default adam; lbfgs: full-batch L-BFGS, 10 iterations per epoch (lr default 1)")
    p.add_argument("--init", help="start from this checkpoint (path stem or pretrained name): its "
                   "architecture and weights; recorded with its own training record")
    p.add_argument("--schedule", choices=["step", "cosine", "constant"], help="default step (StepLR)")
    p.add_argument("--step-size", type=int, help="StepLR period in epochs (default epochs/20)")
    p.add_argument("--gamma", type=float, help="StepLR factor (default 0.891: lr/10 over 20 periods)")
    p.add_argument("--seed", type=int, help="seed of the initialization and shuffling (default 0)")
    p.add_argument("--train-count", type=int, help="use only the first N training configurations")
    p.add_argument("--test-count", type=int, help="use only the first N test configurations")
    p.add_argument("--validation", type=int, default=0,
                   help="hold out the last N training configurations to pick the best epoch on "
                   "(default 0: pick on the test set)")
    p.add_argument("--train-dataset", help="training set name (default: the system's shipped one)")
    p.add_argument("--test-dataset", help="test set name (default: the system's shipped one)")
    p.add_argument("--data-dir", help="data folder (default: data/)")
    p.add_argument("--max-seconds", type=float, help="wall-clock budget; stops cleanly when spent")
    p.add_argument("--eval-every", type=int, help="also evaluate every K steps (default: per epoch)")
    p.add_argument("--device", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N, mps (default auto)")
    p.add_argument("--dtype", choices=["float32", "float64"], help="default float32 DE, float64 3-spin")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: all usable cores)")
    p.add_argument("--out", help="checkpoint stem (default runs/<system>_<arch>_s<seed>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


@register
def add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a checkpoint on a test set",
        description="Load a checkpoint (path stem or pretrained name), evaluate it on a test "
        "set and print RMSE, RMSE/T, relative error, per-site RMSE, R^2 and timings.",
    )
    p.add_argument(
        "--model", required=True, help="checkpoint stem (runs/x for runs/x.json) or pretrained name"
    )
    p.add_argument("--L", type=int, help="double exchange: evaluate on de_L{L}_test (10, 20, 30, 40)")
    p.add_argument("--dataset", help="dataset name (overrides --L; default: the model's test set)")
    p.add_argument("--count", type=int, help="use only the first N configurations")
    p.add_argument("--data-dir", help="data folder (default: data/)")
    p.add_argument(
        "--batch-size", type=int, default=1000, help="configurations per forward pass (default 1000)"
    )
    p.add_argument(
        "--latency-samples",
        type=int,
        default=17,
        help="configurations timed one at a time (default 17, as the paper); 0 to skip",
    )
    p.add_argument(
        "--device", default="auto", help="auto (default: cuda > mps > cpu), cpu, cuda, cuda:N, mps"
    )
    p.add_argument("--threads", type=int, help="torch CPU threads (default: all usable cores)")
    p.set_defaults(func=cmd_evaluate)


# --------------------------------------------------------------------------- fit-effective
def cmd_fit_effective(a) -> int:
    from . import checkpoint, data
    from .metrics import scores
    from .nets.effective import EffectiveModel

    Xtr, Ytr = data.load(a.train_dataset, a.data_dir)
    Xte, Yte = data.load(a.test_dataset, a.data_dir)
    if a.validation:  # held out as for the networks, so both see the same training configurations
        Xtr, Ytr = Xtr[: -a.validation], Ytr[: -a.validation]
    kw = dict(kind=a.kind, ridge=a.ridge)
    if a.kind == "tiled":
        kw["tile"] = a.tile
    else:
        kw.update(max_range=a.max_range, window=a.window)
    model = EffectiveModel(**kw)
    print(f"fitting the {a.kind} effective model ({model.num_parameters(Xtr.shape[1])} coefficients) on "
          f"{len(Xtr)} configurations", file=sys.stderr)
    t0 = time.perf_counter()
    model.fit(Xtr, Ytr)
    seconds = time.perf_counter() - t0
    params = data.manifest(a.train_dataset, a.data_dir)["params"]
    m = scores(model.predict(Xte), Yte, sites=Xte.shape[1] * Xte.shape[2], temperature=params.get("T"))
    checkpoint.save(
        a.out, model, system="double_exchange", system_params=params,
        dataset={"train": checkpoint.dataset_fingerprint(a.train_dataset, a.data_dir),
                 "test": checkpoint.dataset_fingerprint(a.test_dataset, a.data_dir)},
        metrics={k: m.get(k) for k in METRIC_KEYS},
        training={"train_count": int(len(Xtr)), "seconds": round(seconds, 2), "epochs_run": 0,
                  "selection": "closed form (ridge)", "validation_count": int(a.validation or 0),
                  **_provenance(a, "cpu")},
        extra={"arch": "effective", "family": "effective", "hp": kw},
    )
    print(metrics_table(m, title=f"{a.kind} effective model on {a.test_dataset} (fit {seconds:.1f} s)"))
    return 0


@register
def add_fit_effective(sub) -> None:
    p = sub.add_parser("fit-effective", help="fit the linear effective-model baseline (paper Eq. 3)",
                       description="Fit the effective model of paper Eq. 3 (2- and 4-body spin dot "
                       "products) by ridge least squares and save it as a checkpoint.")
    p.add_argument("--kind", choices=["translation", "tiled"], default="translation")
    p.add_argument("--tile", type=int, default=2, help="tiled: tile size (default 2)")
    p.add_argument("--max-range", type=int, default=2, help="translation: 2-body range (default 2)")
    p.add_argument("--window", type=int, default=3, help="translation: 4-body window (default 3)")
    p.add_argument("--ridge", type=float, default=1e-6, help="relative ridge (default 1e-6)")
    p.add_argument("--train-dataset", default="de_L10_train")
    p.add_argument("--test-dataset", default="de_L10_test")
    p.add_argument("--validation", type=int, default=0,
                   help="drop the last N training configurations (to match the networks' training set)")
    p.add_argument("--data-dir", help="data folder (default: data/)")
    p.add_argument("--out", required=True, help="checkpoint stem")
    p.set_defaults(func=cmd_fit_effective)
