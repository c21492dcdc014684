"""``python -m efnn_core fit-effective``: the linear effective-model baseline (paper Eq. 3) by ridge."""

from __future__ import annotations

import sys
import time

from ._common import METRIC_KEYS, metrics_table, provenance


def cmd_fit_effective(a) -> int:
    from .. import checkpoint, data
    from ..metrics import scores
    from ..nets import EffectiveModel
    from ..systems import get

    from ._args import check_writable, require

    require(a, positive=("tile", "max_range", "window"), nonneg=("ridge", "validation"))
    check_writable(a.out)
    Xtr, Ytr = data.load(a.train_dataset, a.data_dir)
    Xte, Yte = data.load(a.test_dataset, a.data_dir)
    if a.validation:  # held out as for the networks, so both see the same training configurations
        if not 0 < a.validation < len(Xtr):
            raise ValueError(f"--validation {a.validation} must be between 0 and {len(Xtr) - 1}")
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
    manifest = data.manifest(a.train_dataset, a.data_dir)
    system = get(manifest["system"], **manifest["params"])
    m = scores(model.predict(Xte), Yte, sites=Xte.shape[1] * Xte.shape[2], temperature=system.temperature)
    checkpoint.save(
        a.out, model, system=system.name, system_params=system.params(),
        dataset={"train": checkpoint.dataset_fingerprint(a.train_dataset, a.data_dir),
                 "test": checkpoint.dataset_fingerprint(a.test_dataset, a.data_dir)},
        metrics={k: m.get(k) for k in METRIC_KEYS},
        training={"train_count": int(len(Xtr)), "seconds": round(seconds, 2), "epochs_run": 0,
                  "selection": "closed form (ridge)", "validation_count": int(a.validation or 0),
                  **provenance(a, "cpu")},
    )
    print(metrics_table(m, title=f"{a.kind} effective model on {a.test_dataset} (fit {seconds:.1f} s)"))
    return 0


def add(sub) -> None:
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
