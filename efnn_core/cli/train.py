"""``python -m efnn_core train``: train an energy model on a system's datasets.

    python -m efnn_core train --system double_exchange --arch efnn --channels 3 --layers 2 \\
        --epochs 100 --out runs/de_efnn_c3_n2
    python -m efnn_core train --init runs/de_efnn_c3_n2 --optimizer lbfgs --out runs/continued

A progress bar over epochs with live test metrics; Ctrl-C stops cleanly (the
best model so far is still saved); writes ``<out>.safetensors`` + ``<out>.json``
and prints a metrics table.  The network family, dtype, weight decay and
default datasets come from the system's recipe (``efnn_core.systems.recipe``).
"""

from __future__ import annotations

import sys

from ._common import METRIC_KEYS, fmt, metrics_table, provenance


def cmd_train(a) -> int:
    from .. import checkpoint, data
    from ..systems import get
    from ..device import describe
    from ..nets import build
    from ..training import TrainConfig, Trainer, seeded

    from ..nets import ARCHITECTURES
    from ..systems import SYSTEMS, recipe

    from ._args import check_writable, require

    require(a, positive=("channels", "width", "layers", "epochs", "lr", "batch_size", "step_size", "gamma",
                         "train_count", "test_count", "max_seconds", "threads"),
            nonneg=("weight_decay", "seed", "validation", "eval_every"))
    if a.out:
        check_writable(a.out)
    parent = None
    if a.init:  # continue from a checkpoint: its system, architecture, weights and output standardization
        from ._common import load_model

        model, parent = load_model(a.init, "cpu", flag="--init")
        a.system = a.system or parent.get("system") or "double_exchange"
    a.system = a.system or "double_exchange"
    if a.system not in SYSTEMS:
        raise ValueError(f"unknown system {a.system!r}; choose one of {', '.join(SYSTEMS)}")
    rec = recipe(a.system)
    if rec.family is None or rec.train_set is None:
        raise ValueError(f"{a.system} has no network family or shipped training set to train on")
    family = rec.family
    train_name = a.train_dataset or rec.train_set
    test_name = a.test_dataset or rec.test_set
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
    temperature = get(a.system, **params).temperature

    cfg_kw = dict(dtype=rec.dtype, weight_decay=rec.weight_decay)
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
    if parent is not None:
        arch = checkpoint.architecture(parent)
        if parent.get("kind") != "torch" or parent.get("system") not in (None, a.system) \
                or arch["family"] != family:
            raise ValueError(f"--init {a.init!r} is a {parent.get('kind')} model for {parent.get('system')}, "
                             f"not a network for {a.system}")
        a.arch = arch.pop("arch")
        arch.pop("family")
        hp = arch
        print(f"--init: continuing {a.arch} {hp} from {a.init} (architecture options ignored)", file=sys.stderr)
        ptrain = parent.get("training") or {}
        init = {"model": a.init, "weights_sha256": parent.get("weights_sha256"),
                "seconds_total": ptrain.get("seconds_total", ptrain.get("seconds")), "training": ptrain}
    else:
        if a.arch not in ARCHITECTURES or family not in ARCHITECTURES[a.arch].families:
            raise ValueError(f"architecture {a.arch!r} has no {family} network")
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
        post = {"loss": fmt(ev.train_loss, ".3g"), "rmse": fmt(ev.test_rmse, ".4g")}
        if ev.test_rmse_T is not None:
            post["rmse/T"] = fmt(ev.test_rmse_T, ".3g")
        post["rel"] = fmt(ev.rel_error, ".3g")
        post["lr"] = fmt(ev.lr, ".2g")
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
        **provenance(a, f"{describe(trainer.device)}, {__import__('torch').get_num_threads()} torch threads"),
    }
    if init:  # the whole budget: this run's seconds plus those of the checkpoint it started from
        training["init"] = init
        training["seconds_total"] = round(training["seconds"] + (init["seconds_total"] or 0.0), 2)
    if a.validation:  # report the held-out test set, not the set the best epoch was picked on
        from ..metrics import evaluate

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


def add(sub) -> None:
    from ..nets import ARCHITECTURES
    from ..systems import SYSTEMS

    p = sub.add_parser(
        "train",
        help="train an energy model (progress bar, Ctrl-C keeps the best model)",
        description="Train an EFNN or a baseline on a shipped dataset; writes a checkpoint "
        "(safetensors + JSON) and prints the test metrics of the best epoch.",
    )
    p.add_argument("--system", choices=[n for n, c in SYSTEMS.items() if c.recipe.train_set],
                   help="default double_exchange (with --init: the checkpoint's)")
    p.add_argument("--arch", default="efnn", choices=list(ARCHITECTURES), help="default efnn")
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
