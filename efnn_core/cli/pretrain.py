"""``python -m efnn_core pretrain``: train the shipped pretrained models from their recipes (resumable)."""

from __future__ import annotations

from ._common import add_scheduler_option


def add(sub) -> None:
    p = sub.add_parser("pretrain", help="train the shipped pretrained models from their recipes (resumable)",
                       description="Train the shipped pretrained models from their recipes (resumable).")
    p.add_argument("--list", action="store_true", help="print the recipes and exit")
    p.add_argument("--only", help="only recipes whose name contains this text (comma-separated: any of them)")
    p.add_argument("--jobs", type=int, default=1, help="models trained side by side (one core each)")
    add_scheduler_option(p)

    def cmd(a) -> int:
        from ..parallel import executor_from
        from ..pretrain import PRETRAINED_DIR, _done, recipes, run

        if a.list:
            for name, args in recipes().items():
                mark = "done" if _done(name, PRETRAINED_DIR) else "    "
                print(f"{mark} {name:34s} python -m efnn_core {' '.join(args)} --out pretrained/{name}")
            return 0
        with executor_from(a.scheduler) as ex:
            return run(a.only, a.jobs, executor=ex)

    p.set_defaults(func=cmd)
