"""``python -m efnn_core sweep``: train a grid of architectures/hyperparameters as independent jobs (resumable)."""

from __future__ import annotations

from ._common import add_scheduler_option


def cmd_sweep(a) -> int:
    from ..parallel import executor_from
    from ..sweep import RESULTS, run

    with executor_from(a.scheduler) as ex:
        df = run(a.grid, a.out, executor=ex, workers=a.workers, progress=not a.quiet)
    ok = df[df["status"] == "ok"]
    metric = next((c for c in df.columns if c.startswith("rel_error@")), None)
    for _, r in ok.sort_values(metric).iterrows() if metric else []:
        print(f"{r['arch']:9s} {r['parameters']:>7.0f} parameters  {metric} {r[metric]:.3e}  {r['seconds']:.0f} s")
    failed = df[df["status"] == "failed"]
    for _, r in failed.iterrows():
        print(f"FAILED {r['job']} {r['options']}: {r['error']}")
    print(f"wrote {a.out}/{RESULTS}: {len(ok)} finished, {len(failed)} failed")
    return 1 if len(failed) else 0


def add(sub) -> None:
    p = sub.add_parser("sweep", help="train a grid of models as independent jobs; one results row each",
                       description="Train every combination of a grid file (TOML: [train] shared options, "
                                   "[grid] lists, [evaluate] test_sets) as one `train` job each, score it on "
                                   "every test set, and write OUT/results.csv and OUT/checkpoints/. A rerun "
                                   "skips finished jobs.")
    p.add_argument("--grid", required=True, help="grid file, e.g. grids/fig4c.toml")
    p.add_argument("--out", required=True, help="output folder (results.csv, checkpoints/)")
    p.add_argument("--workers", type=int, help="local processes (default: all cores; one torch thread each)")
    add_scheduler_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)
