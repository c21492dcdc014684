"""``python -m efnn_core reproduce``: evaluate the pretrained models and write docs/RESULTS.md."""

from __future__ import annotations

from pathlib import Path


def cmd_reproduce(a) -> int:
    from ..reproduce import run

    out = Path(a.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {a.out!r} is a file; give a folder for RESULTS.md and its plots")
    print(f"wrote {run(out, a.quick)}")
    return 0


def add(sub) -> None:
    p = sub.add_parser("reproduce", help="evaluate the pretrained models and write docs/RESULTS.md",
                       description="Evaluate the pretrained models, time ED and the networks, write docs/RESULTS.md.")
    p.add_argument("--out", default="docs", help="folder for RESULTS.md and its PNG plots (default docs/)")
    p.add_argument("--quick", action="store_true", help="200 test configurations per L, timing at L <= 20")
    p.set_defaults(func=cmd_reproduce)
