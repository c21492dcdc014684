"""Checks of parsed arguments, run first in a command: each raises ValueError (``error: ...``, exit 2).

    require(a, positive=("train_count", "epochs"), nonneg=("validation",), finite=("weight_decay",))

``positive``: > 0 (ints and floats), ``nonneg``: >= 0, both finite; ``finite``: any finite number.
Options left at None are skipped.  ``check_writable`` refuses an output path before any work.
"""

from __future__ import annotations

import math


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def require(a, *, positive=(), nonneg=(), finite=()) -> None:
    for kind, dests in (("positive", positive), ("nonneg", nonneg), ("finite", finite)):
        for dest in dests:
            v = getattr(a, dest, None)
            if v is None:
                continue
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{_flag(dest)} must be a finite number, got {v}")
            if kind == "positive" and not v > 0:
                raise ValueError(f"{_flag(dest)} must be > 0, got {v}")
            if kind == "nonneg" and v < 0:
                raise ValueError(f"{_flag(dest)} must be >= 0, got {v}")


def check_writable(path, flag: str = "--out", *, folder: bool = False) -> None:
    """Refuse an output path before any work: a file where a folder is needed (the path or one of
    its parents), or a nearest existing folder this user cannot write to (raises ValueError)."""
    import os
    from pathlib import Path

    p = Path(path)
    if folder and p.exists() and not p.is_dir():
        raise ValueError(f"{flag} {str(path)!r} is a file; give a folder")
    if not folder and p.is_dir():
        raise ValueError(f"{flag} {str(path)!r} is a folder; give a checkpoint stem such as runs/my_model")
    parent = p if folder else p.parent
    probe = parent.absolute()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{flag} {str(path)!r}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {str(path)!r}: folder {probe} is not writable")
